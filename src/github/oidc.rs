//! AWS credentials for a workflow: the runner's OIDC token, exchanged with STS
//! AssumeRoleWithWebIdentity. The SDK's identity cache asks again before the credentials
//! expire, and every ask fetches a new token (it lives about five minutes, the request token
//! the whole job), so a refresh can outlast one role session.

use aws_credential_types::provider::{error::CredentialsError, future, ProvideCredentials};
use aws_credential_types::Credentials;
use aws_sdk_sts::error::ProvideErrorMetadata;
use std::time::SystemTime;

#[derive(Clone)]
pub struct OidcRole {
    /// `ACTIONS_ID_TOKEN_REQUEST_URL` (it already has a query string).
    pub request_url: String,
    /// `ACTIONS_ID_TOKEN_REQUEST_TOKEN`.
    pub request_token: String,
    pub role_arn: String,
    pub session_name: String,
    pub duration_seconds: i32,
    pub sts: aws_sdk_sts::Client,
    /// Writes `::add-mask::` lines so later logs hide the token and credentials.
    pub mask: fn(&str),
}

/// The SDK shows its credential provider at debug level: never the request token (it mints
/// tokens for any role that trusts the workflow) nor the URL it is sent to.
impl std::fmt::Debug for OidcRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcRole")
            .field("request_url", &"<redacted>")
            .field("request_token", &"<redacted>")
            .field("role_arn", &self.role_arn)
            .field("session_name", &self.session_name)
            .field("duration_seconds", &self.duration_seconds)
            .finish_non_exhaustive()
    }
}

impl OidcRole {
    /// The runner's JWT for the STS audience.
    pub async fn id_token(&self) -> Result<String, String> {
        let url = format!("{}&audience=sts.amazonaws.com", self.request_url);
        let (client, uri) = crate::http_client::client_for(&url, Some(&self.request_token))
            .map_err(|e| format!("ACTIONS_ID_TOKEN_REQUEST_URL: {e}"))?;
        let response = client
            ._get(uri)
            .await
            .map_err(|e| format!("the runner's token endpoint failed: {e}"))?;
        let status = response.status();
        let body = client
            .body_to_string(response)
            .await
            .map_err(|e| format!("cannot read the token: {e}"))?;
        if !status.is_success() {
            return Err(format!(
                "the runner's token endpoint answered {status}: check that the workflow has `permissions: id-token: write`"
            ));
        }
        let json: serde_json::Value = serde_json::from_str(&body)
            .map_err(|e| format!("the token answer is not JSON: {e}"))?;
        let token = json["value"]
            .as_str()
            .ok_or("the token answer has no `value`")?
            .to_string();
        (self.mask)(&token);
        Ok(token)
    }

    pub async fn assume(&self) -> Result<Credentials, CredentialsError> {
        let token = self
            .id_token()
            .await
            .map_err(CredentialsError::provider_error)?;
        let out = self
            .sts
            .assume_role_with_web_identity()
            .role_arn(&self.role_arn)
            .role_session_name(&self.session_name)
            .duration_seconds(self.duration_seconds)
            .web_identity_token(token)
            .send()
            .await
            .map_err(|e| {
                let code = e.code().unwrap_or("").to_string();
                let message = e.message().unwrap_or("").to_string();
                let hint = if code == "AccessDenied" || message.contains("Not authorized") {
                    " (the role's trust policy does not accept this workflow's token: check its `token.actions.githubusercontent.com:sub` and `:aud` conditions)"
                } else {
                    ""
                };
                CredentialsError::provider_error(format!(
                    "AssumeRoleWithWebIdentity for {} failed: {code} {message}{hint}",
                    self.role_arn
                ))
            })?;
        let c = out
            .credentials()
            .ok_or_else(|| CredentialsError::provider_error("STS returned no credentials"))?;
        (self.mask)(c.secret_access_key());
        (self.mask)(c.session_token());
        let expiry = SystemTime::try_from(*c.expiration()).ok();
        tracing::info!(role = %self.role_arn, "assumed the role through the workflow's OIDC token");
        Ok(Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().to_string()),
            expiry,
            "github-oidc",
        ))
    }
}

impl ProvideCredentials for OidcRole {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(self.assume())
    }
}

/// The role the workflow's OIDC token assumes, ready to hand to the SDK as its credentials.
/// STS is reached with the run's own AWS settings (region, attempts, endpoint), without
/// credentials: the token is the proof.
pub async fn role(
    env: &super::ActionEnv,
    role_arn: &str,
    session_name: &str,
    duration_seconds: i32,
    settings: &crate::aws::AwsSettings,
    mask: fn(&str),
) -> Result<OidcRole, String> {
    let (Some(url), Some(token)) = (
        env.get("ACTIONS_ID_TOKEN_REQUEST_URL"),
        env.get("ACTIONS_ID_TOKEN_REQUEST_TOKEN"),
    ) else {
        return Err(format!(
            "role-to-assume is {role_arn}, but the runner offers no OIDC token: add `permissions: id-token: write` to the workflow (or the job)"
        ));
    };
    mask(token);
    let config = crate::aws::load_config(settings, false).await;
    Ok(OidcRole {
        request_url: url.to_string(),
        request_token: token.to_string(),
        role_arn: role_arn.to_string(),
        session_name: session_name.to_string(),
        duration_seconds,
        sts: aws_sdk_sts::Client::new(&config),
        mask,
    })
}
