//! The executor reports what it does as events, to an `EventSink`. Everything that renders a
//! run (terminal progress, the Action's log groups, the run report) consumes them; the
//! executor itself never prints.

use crate::plan::{Plan, Step};
use crate::schema::{CloneKind, EndpointReport, RunResult, StoppedAt};

#[derive(Debug)]
pub enum Event<'a> {
    /// The run starts with this plan.
    RunStarted {
        plan: &'a Plan,
    },
    StepStarted {
        step: &'a Step,
    },
    StepDone {
        step: &'a Step,
        seconds: f64,
    },
    StepSkipped {
        step: &'a Step,
        reason: &'a str,
    },
    StepFailed {
        step: &'a Step,
        error: String,
        seconds: f64,
    },
    /// A failure before the point of no return: these steps put the original names back.
    /// Step events that follow belong to the rollback.
    RollbackStarted {
        plan: &'a Plan,
    },
    /// The first retire started: the target's endpoints are out of service.
    OutageStarted,
    /// The last swap-in is done: the endpoints answer again after `seconds`.
    OutageEnded {
        seconds: f64,
    },
    /// How far a long step has come (a bucket sync's counts).
    Progress {
        step: &'a Step,
        message: String,
    },
    /// Something the run leaves behind, and what to do about it.
    Left(String),
    /// A secret value the run now holds (a password read for `--master-password-secret`):
    /// never shown; a reporter that writes where logs are kept masks it (GitHub Actions).
    Secret(&'a str),
    /// A copy's master password was reset to this new random one (always after `Secret` with
    /// the same value): for whoever asked for the copy, never for a log.
    NewPassword {
        resource: &'a str,
        password: &'a str,
    },
    /// An Aurora clone exists, made this way (its CloneGroupId says so).
    Cloned {
        cluster: &'a str,
        kind: CloneKind,
    },
    /// Another run held the lock until now: the run goes on with this plan, made again from
    /// what that run left.
    Replanned {
        plan: &'a Plan,
    },
    /// The run is over.
    RunFinished {
        result: RunResult,
        /// Where the run stopped.
        phase: StoppedAt,
        error: Option<String>,
        endpoints: &'a [EndpointReport],
        seconds: f64,
    },
}

pub trait EventSink: Send + Sync {
    fn event(&self, event: &Event<'_>);
}

/// Discards events (tests that only look at results).
pub struct Silent;

impl EventSink for Silent {
    fn event(&self, _: &Event<'_>) {}
}

/// Two sinks as one: every event goes to both, in order.
pub struct Both<'a>(pub &'a dyn EventSink, pub &'a dyn EventSink);

impl EventSink for Both<'_> {
    fn event(&self, event: &Event<'_>) {
        self.0.event(event);
        self.1.event(event);
    }
}
