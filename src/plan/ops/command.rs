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
}

impl CommandOp {
    pub fn action(&self) -> &'static str {
        "RunCommand"
    }

    pub fn params(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("Command".into(), self.command.clone().into());
        m
    }
}
