//! What the executor hands a wing's step to run it: the wings' AWS clients, the run, how long
//! a step may wait and how often it looks, and a way to say how far it has come. A wing never
//! reaches into the executor: this is all it gets.

use super::Writes;
use crate::error::MitosisError;
use async_trait::async_trait;
use std::time::Duration;

/// One step's view of the run that carries it out.
#[async_trait]
pub trait RunContext: Send + Sync {
    /// The wings' AWS clients; None when the command refreshes no environment.
    fn clients(&self) -> Option<Writes<'_>>;
    /// The run the step belongs to (what a wing records on what it changes).
    fn run_id(&self) -> &str;
    /// The longest the step may wait for what it changed to take effect (`--step-timeout`).
    fn step_timeout(&self) -> Duration;
    /// The pause between two looks at what the step waits for (`--poll-interval`).
    async fn tick(&self);
    /// How far the step has come, for the reporters (a few lines a minute at most).
    fn progress(&self, message: String);
}

/// How a wing's step failed.
#[derive(Debug)]
pub enum RunError {
    /// An AWS call failed.
    Aws(MitosisError),
    /// The step refuses to go on: what it found is not what it may change.
    Refused(String),
    /// What the step waited for did not happen within the step timeout.
    Timeout {
        what: String,
        after: Duration,
        last: String,
    },
}
