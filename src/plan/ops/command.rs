//! The user's commands: run by the tool, no AWS call.

use serde_json::{Map, Value};

/// Which hook a command is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hook {
    /// Once the clone tree is built, before any rename.
    BeforeSwap,
    /// After the swap, before anything is deleted.
    Restart,
}

impl Hook {
    pub fn as_str(self) -> &'static str {
        match self {
            Hook::BeforeSwap => "before-swap",
            Hook::Restart => "restart",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct CommandOp {
    pub hook: Hook,
    pub command: String,
    /// `--redact-commands`: the plan and the log show the command's first word and a hash,
    /// not the command (which may carry a connection string or a password).
    pub redacted: bool,
}

impl CommandOp {
    pub fn action(&self) -> &'static str {
        "RunCommand"
    }

    pub fn params(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("Command".into(), self.shown().into());
        m
    }

    /// The command as the plan and the log show it: as written, or redacted.
    pub fn shown(&self) -> String {
        if self.redacted {
            redact(&self.command)
        } else {
            self.command.clone()
        }
    }
}

/// A command's first word (past any `NAME=value` assignments, which may hold a secret) and
/// the start of its SHA-256: enough to tell which command runs and whether it changed.
pub fn redact(command: &str) -> String {
    use sha2::Digest;
    let word = command
        .split_whitespace()
        .find(|w| {
            let name = w.split_once('=').map(|(n, _)| n);
            !name.is_some_and(|n| {
                !n.is_empty() && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            })
        })
        .unwrap_or("");
    let digest = sha2::Sha256::digest(command.as_bytes());
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("{word} … (redacted, sha256 {hex})")
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn a_redacted_command_shows_its_program_and_a_hash_only() {
        let shown = redact("PGPASSWORD=hunter2 psql -h db -c 'select 1'");
        assert!(shown.starts_with("psql … (redacted, sha256 "), "{shown}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("select"),
            "{shown}"
        );
        assert_ne!(redact("./scrub.sh a"), redact("./scrub.sh b"));
        assert_eq!(redact("./scrub.sh a"), redact("./scrub.sh a"));
    }
}
