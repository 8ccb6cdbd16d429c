//! The failures callers branch on, each with a documented exit code (see the README).

use thiserror::Error;

/// Exit codes. 0 is success; clap's own usage errors also exit with 2.
pub mod exit {
    pub const INTERNAL: u8 = 1;
    pub const BAD_INPUT: u8 = 2;
    pub const AWS: u8 = 3;
    pub const ROLLED_BACK: u8 = 4;
    pub const STOPPED: u8 = 5;
    pub const LOCKED: u8 = 6;
    pub const GITHUB: u8 = 7;
    pub const RUNNER_FILES: u8 = 8;
}

#[derive(Debug, Error)]
pub enum MitosisError {
    /// The request cannot be carried out as asked; nothing was changed. The message says what
    /// to do instead.
    #[error("{0}")]
    BadInput(String),
    /// AWS answered with an error (or could not be reached) while reading or acting.
    #[error("AWS {operation} failed: {message}")]
    Aws { operation: String, message: String },
    /// A step failed; the target tree has its original names again.
    #[error("the refresh failed and was rolled back: {0}")]
    RolledBack(String),
    /// A step failed and the refresh stopped where it was; rerunning resumes it.
    #[error("the refresh stopped: {0}")]
    Stopped(String),
    /// Another run holds the target's lock.
    #[error("{0}")]
    Locked(String),
    /// The GitHub API failed (the pull request comment).
    #[error("GitHub {operation} failed: {message}")]
    GitHub { operation: String, message: String },
    /// A file the runner reads could not be written (`$GITHUB_OUTPUT`, `$GITHUB_STEP_SUMMARY`).
    #[error("cannot write {what}: {message}")]
    RunnerFile { what: String, message: String },
}

impl MitosisError {
    pub fn bad_input(message: impl Into<String>) -> Self {
        MitosisError::BadInput(message.into())
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            MitosisError::BadInput(_) => exit::BAD_INPUT,
            MitosisError::Aws { .. } => exit::AWS,
            MitosisError::RolledBack(_) => exit::ROLLED_BACK,
            MitosisError::Stopped(_) => exit::STOPPED,
            MitosisError::Locked(_) => exit::LOCKED,
            MitosisError::GitHub { .. } => exit::GITHUB,
            MitosisError::RunnerFile { .. } => exit::RUNNER_FILES,
        }
    }
}

pub type Result<T, E = MitosisError> = std::result::Result<T, E>;
