//! The sticky PR comment: one per target, found again by a hidden marker on any page of the
//! PR's comments, and updated in place. Only a comment the token's own identity wrote is
//! ever updated: anyone can post the marker, and a comment of theirs must never be rewritten
//! (nor block the run). A comment that cannot be updated is written anew; one that cannot be
//! written at all is a warning, and the run goes on (the plan is in the job summary).

use super::commands::fit;

/// The hidden marker that identifies this target's comment.
pub fn marker(target: &str) -> String {
    format!("<!-- stack-mitosis:plan target={target} -->")
}

/// A comment body may hold 65,536 characters.
pub const COMMENT_LIMIT: usize = 65_536;

/// The comment: marker, then the plan; cut to the limit with a pointer to the job summary.
pub fn body(target: &str, markdown: &str, summary_url: Option<&str>) -> String {
    let head = format!("{}\n", marker(target));
    let note = match summary_url {
        Some(url) => {
            format!("\n\n*(cut to fit a comment: the whole plan is in the [job summary]({url}))*\n")
        }
        None => "\n\n*(cut to fit a comment: the whole plan is in the job summary)*\n".to_string(),
    };
    // Characters, not bytes, count for GitHub; staying under the byte count is safe.
    head.clone() + &fit(markdown, COMMENT_LIMIT - head.len(), &note)
}

/// The identity of the workflow's own token (`GITHUB_TOKEN`), which cannot read `/user`.
pub const ACTIONS_BOT: &str = "github-actions[bot]";

/// The login the token writes comments as: `/user` for a user's token; the workflow token's
/// bot for an installation token, which may not read `/user`.
pub async fn identity(github: &octocrab::Octocrab) -> String {
    let user: Result<serde_json::Value, _> = github.get("/user", None::<&()>).await;
    match user {
        Ok(user) => user["login"].as_str().unwrap_or(ACTIONS_BOT).to_string(),
        Err(_) => ACTIONS_BOT.to_string(),
    }
}

/// Creates or updates the comment; returns its id. The comment found is this target's, written
/// by `author`; when it cannot be updated (deleted meanwhile, locked), a new one is written.
pub async fn upsert(
    github: &octocrab::Octocrab,
    owner: &str,
    repo: &str,
    pr: u64,
    target: &str,
    author: &str,
    body: &str,
) -> Result<u64, String> {
    if let Some(id) = find(github, owner, repo, pr, target, author).await? {
        match update(github, owner, repo, id, body).await {
            Ok(id) => return Ok(id),
            Err(e) => tracing::warn!("{e}: writing a new comment instead"),
        }
    }
    create(github, owner, repo, pr, body).await
}

/// The id of this target's comment written by `author`, searching every page of the PR's
/// comments; comments of anyone else are passed over, marker or not.
pub async fn find(
    github: &octocrab::Octocrab,
    owner: &str,
    repo: &str,
    pr: u64,
    target: &str,
    author: &str,
) -> Result<Option<u64>, String> {
    let mark = marker(target);
    let route = format!("/repos/{owner}/{repo}/issues/{pr}/comments");
    for page in 1u32.. {
        let comments: Vec<serde_json::Value> = github
            .get(
                &route,
                Some(&[("per_page", "100"), ("page", &page.to_string())]),
            )
            .await
            .map_err(|e| explain(e, "list the PR's comments"))?;
        if let Some(c) = comments.iter().find(|c| {
            c["body"].as_str().is_some_and(|b| b.contains(&mark))
                && c["user"]["login"].as_str() == Some(author)
        }) {
            return Ok(c["id"].as_u64());
        }
        if comments.len() < 100 {
            break;
        }
    }
    Ok(None)
}

pub async fn create(
    github: &octocrab::Octocrab,
    owner: &str,
    repo: &str,
    pr: u64,
    body: &str,
) -> Result<u64, String> {
    let answer: serde_json::Value = github
        .post(
            format!("/repos/{owner}/{repo}/issues/{pr}/comments"),
            Some(&serde_json::json!({ "body": body })),
        )
        .await
        .map_err(|e| explain(e, "comment on the PR"))?;
    comment_id(&answer)
}

/// GitHub's description says PATCH for updates (octocrab's update_comment sends POST).
pub async fn update(
    github: &octocrab::Octocrab,
    owner: &str,
    repo: &str,
    id: u64,
    body: &str,
) -> Result<u64, String> {
    let answer: serde_json::Value = github
        .patch(
            format!("/repos/{owner}/{repo}/issues/comments/{id}"),
            Some(&serde_json::json!({ "body": body })),
        )
        .await
        .map_err(|e| explain(e, "update the plan comment"))?;
    comment_id(&answer)
}

fn comment_id(answer: &serde_json::Value) -> Result<u64, String> {
    answer["id"]
        .as_u64()
        .ok_or_else(|| "GitHub's answer has no comment id".to_string())
}

fn explain(e: octocrab::Error, what: &str) -> String {
    let text = e.to_string();
    let hint = if text.contains("403") || text.contains("Resource not accessible") {
        " (the token lacks `pull-requests: write`: add it to the workflow's permissions)"
    } else {
        ""
    };
    format!("cannot {what}: {text}{hint}")
}

/// Posts (or updates) the flight plan as the pull request's sticky comment. Only a runner
/// without a repository to post to is an error; GitHub refusing the comment is a warning.
pub async fn post(
    env: &super::ActionEnv,
    token: &str,
    pr: u64,
    target: &str,
    markdown: &str,
) -> Result<(), crate::error::MitosisError> {
    use crate::error::MitosisError;
    let repo = env.get("GITHUB_REPOSITORY").unwrap_or_default();
    let (owner, name) = repo.split_once('/').ok_or_else(|| {
        MitosisError::bad_input(
            "GITHUB_REPOSITORY is not owner/repo: is this running in GitHub Actions?",
        )
    })?;
    let api = env
        .get("GITHUB_API_URL")
        .unwrap_or("https://api.github.com");
    let github_error = |message: String| MitosisError::GitHub {
        operation: "comment".into(),
        message,
    };
    let github = octocrab::Octocrab::builder()
        .base_uri(api)
        .and_then(|b| b.personal_token(token.to_string()).build())
        .map_err(|e| github_error(format!("cannot reach GitHub at {api}: {e}")))?;
    let body = body(target, markdown, env.summary_url().as_deref());
    let author = identity(&github).await;
    match upsert(&github, owner, name, pr, target, &author, &body).await {
        Ok(id) => tracing::info!(comment = id, "flight plan posted on pull request #{pr}"),
        Err(e) => println!(
            "{}",
            super::commands::warning(&format!(
                "the flight plan was not posted on pull request #{pr} ({e}); it is in the job summary"
            ))
        ),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_plans_are_cut_to_fit_with_a_pointer() {
        let plan = "| step |\n".repeat(20_000);
        let b = body("demo", &plan, Some("https://github.example/run/1"));
        assert!(b.len() <= COMMENT_LIMIT);
        assert!(b.starts_with(&marker("demo")));
        assert!(b.contains("job summary](https://github.example/run/1)"));
        let short = body("demo", "small plan", None);
        assert!(short.ends_with("small plan"));
    }
}
