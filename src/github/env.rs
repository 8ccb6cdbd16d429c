//! The runner's environment, read once at the edge and passed down as plain values.

use std::collections::BTreeMap;
use std::path::PathBuf;

pub struct ActionEnv {
    pub vars: BTreeMap<String, String>,
}

impl ActionEnv {
    pub fn from_process() -> Self {
        ActionEnv {
            vars: std::env::vars().collect(),
        }
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.vars
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    pub fn path(&self, key: &str) -> Option<PathBuf> {
        self.get(key).map(PathBuf::from)
    }

    /// The pull request this run is about, from the event payload.
    pub fn pull_request(&self) -> Option<u64> {
        let event = self.get("GITHUB_EVENT_NAME")?;
        if !event.starts_with("pull_request") {
            return None;
        }
        let payload: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(self.get("GITHUB_EVENT_PATH")?).ok()?)
                .ok()?;
        payload["pull_request"]["number"]
            .as_u64()
            .or(payload["number"].as_u64())
    }

    /// The workflow run's page, where the job summary is.
    pub fn summary_url(&self) -> Option<String> {
        Some(format!(
            "{}/{}/actions/runs/{}",
            self.get("GITHUB_SERVER_URL")?,
            self.get("GITHUB_REPOSITORY")?,
            self.get("GITHUB_RUN_ID")?
        ))
    }
}
