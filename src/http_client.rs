//! One HTTP client for absolute URLs outside the AWS SDK (the runner's OIDC token endpoint,
//! notification webhooks): octocrab's, which the Action already carries for GitHub, pointed
//! at the URL's own scheme and host.

/// The URL parsed, and a client for its host; `bearer` is sent as `Authorization: Bearer`.
pub fn client_for(
    url: &str,
    bearer: Option<&str>,
) -> Result<(octocrab::Octocrab, http::Uri), String> {
    let uri: http::Uri = url.parse().map_err(|e| format!("not a URL: {e}"))?;
    let base = format!(
        "{}://{}",
        uri.scheme_str().unwrap_or("https"),
        uri.authority().map(|a| a.as_str()).unwrap_or_default()
    );
    let mut builder = octocrab::Octocrab::builder()
        .base_uri(base)
        .map_err(|e| e.to_string())?
        .add_header(http::header::ACCEPT, "application/json".into());
    if let Some(token) = bearer {
        builder = builder.personal_token(token.to_string());
    }
    let client = builder.build().map_err(|e| e.to_string())?;
    Ok((client, uri))
}
