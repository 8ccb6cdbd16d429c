//! The executor: runs a plan's pending steps against AWS through `RdsWrite`, waits until each
//! has really taken effect, and rolls back before the point of no return.
//!
//! Its parts: `scheduler` (the dependency graph), `steps` (what each kind of step does),
//! `rollback` (after a failure), `wait` (the poller: one describe call per kind of RDS
//! resource per look, for every step in flight; the other kinds wait through
//! `crate::kinds::RunContext::tick`), `report` (the run report, from the events), `lock` and
//! `hooks`.
//!
//! Safety rules enforced here as well as in the plan: nothing is deleted unless its tags say
//! this run retired it (or, on rollback, that this run created it); no cleanup step runs
//! unless every earlier step succeeded.

mod events;
pub mod hooks;
pub mod lock;
mod report;
mod rollback;
mod scheduler;
mod steps;
mod wait;

pub use events::{Both, Event, EventSink, Silent};
pub use lock::LockSettings;
pub use report::ReportBuilder;
pub use wait::{classify, settled, Looks, PollSettings, Poller, StatusClass, Watched};

use crate::aws::RdsWrite;
use crate::error::MitosisError;
use crate::plan::{LatencyModel, OnFailure, Phase, Plan};
use crate::schema::{EndpointReport, RunReport, RunResult};
use std::time::Duration;
use thiserror::Error;
use tokio::time::Instant;

#[derive(Debug, Error)]
pub enum ExecError {
    #[error(transparent)]
    Aws(MitosisError),
    #[error("{resource} reached status {status:?}: see the RDS console or events for why")]
    FailedStatus { resource: String, status: String },
    #[error("timed out after {}s waiting for {what} ({last}): raise {flag} if AWS is just slow", after.as_secs())]
    Timeout {
        what: String,
        after: Duration,
        last: String,
        /// The flag that sets this bound.
        flag: &'static str,
    },
    #[error("the {name} command {message}")]
    Hook { name: String, message: String },
    /// The rollback could not be planned from what was observed after the failure.
    #[error("cannot plan the rollback: {0}")]
    Plan(MitosisError),
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Locked(String),
    /// A guardrail before the first retire failed: nothing was retired.
    #[error("guardrail: {0}")]
    Guardrail(String),
    /// The lock was taken after waiting for another run: what that run did is not in the
    /// plan, so nothing may run before planning again.
    #[error("the lock was taken after waiting for another run: plan again")]
    Replan,
}

/// How the executor runs: resolved from the user's apply options.
#[derive(Debug, Clone)]
pub struct ExecConfig {
    pub poll: PollSettings,
    pub hook_timeout: Duration,
    /// The withheld variables hooks get anyway (`--hook-env`, see `hooks`).
    pub hook_env: Vec<String>,
    pub on_failure: OnFailure,
    /// How many steps may be in flight at once (1: one step at a time).
    pub concurrency: usize,
    /// Expected step durations, for deciding when to look again.
    pub latency: LatencyModel,
    pub lock: LockSettings,
    /// The longest wait of a rollback step: its own bound, so that a short `--step-timeout`
    /// that failed the run cannot fail the rollback as well.
    pub rollback_timeout: Duration,
    /// Stop after this phase (`apply --until`), releasing the lock.
    pub until: Option<crate::plan::Until>,
    /// The most a cloned replica may lag (seconds) for the swap to go ahead.
    pub max_replica_lag: f64,
    /// The longest the retire and swap-in renames may take before the run rolls back.
    pub swap_timeout: Duration,
}

pub struct Executor<'a> {
    api: &'a dyn RdsWrite,
    /// A cross-account refresh: the source account, for the steps made there (its snapshot's
    /// preparation, sharing and removal), with a poller of its own.
    source: Option<(&'a dyn RdsWrite, Poller<'a>)>,
    /// The AWS access of an environment's buckets and groups (`--config`).
    wings: Option<crate::kinds::Writes<'a>>,
    config: ExecConfig,
    sink: &'a dyn EventSink,
    report: ReportBuilder,
    poller: Poller<'a>,
    /// When this run last asked AWS to change each instance (by name).
    changed: std::sync::Mutex<std::collections::BTreeMap<String, Instant>>,
    /// The lock this run holds, renewed by the heartbeat. Every lock call goes through this
    /// mutex: a renewal in flight must not write the lock back after the release removed it.
    held_lock: tokio::sync::Mutex<Option<HeldLock>>,
    /// A copy's new master password, once set: its hooks get it.
    new_password: std::sync::Mutex<Option<String>>,
}

/// The lock this run holds: its holder id, the targets it is on (one per database pair), and
/// until when it holds (its TTL from the last time this run wrote it).
struct HeldLock {
    holder: String,
    targets: Vec<(crate::plan::Kind, String)>,
    until: Instant,
}

/// The outcome of an apply: the report (built from the run's events), and the error that
/// stopped it, if any.
pub struct Outcome {
    pub report: RunReport,
    pub error: Option<ExecError>,
}

impl<'a> Executor<'a> {
    pub fn new(api: &'a dyn RdsWrite, config: ExecConfig, sink: &'a dyn EventSink) -> Self {
        let poller = Poller::new(api, config.poll);
        Executor {
            api,
            source: None,
            wings: None,
            config,
            sink,
            report: ReportBuilder::default(),
            poller,
            changed: Default::default(),
            held_lock: Default::default(),
            new_password: Default::default(),
        }
    }

    /// Writes the held lock again on every target (a new expiry); it then holds for its TTL
    /// from the first write.
    async fn renew(&self, held: &mut HeldLock) -> Result<(), ExecError> {
        let settings = &self.config.lock;
        let started = Instant::now();
        for (kind, target) in &held.targets {
            lock::renew(self.api, *kind, target, &held.holder, settings).await?;
        }
        held.until = started + settings.ttl;
        Ok(())
    }

    /// Before each change, the lock this run holds must still be its own (fencing). When
    /// renewals have failed for two thirds of its TTL it is renewed now; once it may have
    /// lapsed, another run's lock on the target stops this run too. Either way a run that
    /// cannot show it holds the lock changes nothing more and does not roll back (another run
    /// may be at work): rerun the same command to resume.
    async fn fence(&self) -> Result<(), ExecError> {
        let mut held = self.held_lock.lock().await;
        let Some(held) = held.as_mut() else {
            return Ok(());
        };
        let now = Instant::now();
        if now + self.config.lock.renew_every() < held.until {
            return Ok(());
        }
        let targets: Vec<String> = held.targets.iter().map(|(_, t)| t.clone()).collect();
        let lost = |why: String| {
            ExecError::Locked(format!(
                "this run's lock on {} {why}: stopped before its next change, without rolling back (another run may be at work); rerun the same command to resume",
                targets.join(", ")
            ))
        };
        if now >= held.until {
            for (kind, target) in &held.targets {
                let others = lock::others(self.api, *kind, target, &held.holder, &self.config.lock)
                    .await
                    .map_err(|e| lost(format!("lapsed and cannot be checked ({e})")))?;
                if let Some((other, _)) = others.first() {
                    return Err(lost(format!("lapsed and run {other} holds it now")));
                }
            }
        }
        self.renew(held)
            .await
            .map_err(|e| lost(format!("could not be renewed for most of its TTL ({e})")))
    }

    /// The executor of a cross-account refresh: steps in the source account go through `api`.
    pub fn with_source_account(mut self, api: &'a dyn RdsWrite) -> Self {
        self.source = Some((api, Poller::new(api, self.config.poll)));
        self
    }

    /// The executor of an environment refresh: the steps of its buckets and groups go
    /// through `wings`.
    pub fn with_environment(mut self, wings: crate::kinds::Writes<'a>) -> Self {
        self.wings = Some(wings);
        self
    }

    /// The API and poller of the account a step is made in.
    fn account(&self, account: crate::plan::Account) -> (&'a dyn RdsWrite, &Poller<'a>) {
        match (account, &self.source) {
            (crate::plan::Account::Source, Some((api, poller))) => (*api, poller),
            _ => (self.api, &self.poller),
        }
    }

    /// The source account's poll loop, when there is one.
    async fn run_source_poller(&self) {
        match &self.source {
            Some((_, poller)) => poller.run().await,
            None => std::future::pending().await,
        }
    }

    /// Every event goes to the caller's sink and to the run report.
    fn emit(&self, event: Event<'_>) {
        self.report.event(&event);
        self.sink.event(&event);
    }

    /// Runs the pending steps in order. On a failure before cleanup, puts the original names
    /// back (see `crate::plan::rollback`); on a failure during cleanup, stops: a rerun
    /// finishes the job.
    pub async fn apply(&self, plan: &Plan) -> Outcome {
        // The poll loop and the lock's heartbeat run beside the steps and stop with them.
        tokio::select! {
            outcome = self.apply_steps(plan) => outcome,
            _ = self.poller.run() => unreachable!("the poll loop never ends"),
            _ = self.run_source_poller() => unreachable!("the poll loop never ends"),
            _ = self.heartbeat() => unreachable!("the heartbeat never ends"),
        }
    }

    /// Renews the lock every third of its TTL while this run holds it.
    async fn heartbeat(&self) {
        loop {
            tokio::time::sleep(self.config.lock.renew_every()).await;
            let mut held = self.held_lock.lock().await;
            if let Some(held) = held.as_mut() {
                if let Err(e) = self.renew(held).await {
                    tracing::warn!("could not renew the lock: {e}");
                }
            }
        }
    }

    async fn apply_steps(&self, plan: &Plan) -> Outcome {
        let started = Instant::now();
        self.emit(Event::RunStarted { plan });
        let failure = self.run_graph(plan).await;
        let (result, error, message) = match failure {
            None => {
                if self.config.until.is_some() {
                    // The graph stopped at the phase asked for: the unlock did not run.
                    self.release_lock(plan).await;
                }
                (RunResult::Succeeded, None, None)
            }
            // Taking the lock failed: nothing was changed. The lock is held only when it was
            // taken after another run's (the plan must be made again): give it back.
            Some((e, Phase::Lock)) => {
                if let ExecError::Replan = e {
                    self.release_lock(plan).await;
                }
                let message = e.to_string();
                (RunResult::Failed, Some(e), Some(message))
            }
            Some((e, phase)) => {
                let (result, message) = self.after_failure(plan, &e, phase).await;
                self.release_lock(plan).await;
                (result, Some(e), Some(message))
            }
        };
        let endpoints = self.endpoints(plan).await;
        let phase = match (&error, self.config.until) {
            (None, Some(until)) => until.into(),
            _ => crate::schema::StoppedAt::Complete,
        };
        self.emit(Event::RunFinished {
            result,
            phase,
            error: message,
            endpoints: &endpoints,
            seconds: started.elapsed().as_secs_f64(),
        });
        let report = self.report.report().expect("the run started");
        Outcome { report, error }
    }

    /// Before cleanup, a failure rolls back; during cleanup the new environment is in place
    /// and the run stops. Returns the result and the error message for the report.
    async fn after_failure(&self, plan: &Plan, e: &ExecError, phase: Phase) -> (RunResult, String) {
        // A run that lost its lock leaves everything as it is: another run may be at work.
        if let ExecError::Locked(_) = e {
            self.emit(Event::Left(
                "this run stopped without rolling back: rerun the same command to resume".into(),
            ));
            return (RunResult::Failed, e.to_string());
        }
        // A copy or a destroy replaces nothing: there is nothing to put back.
        if plan.operation != crate::plan::Operation::Refresh {
            self.emit(Event::Left(format!(
                "the {} stopped part-way: rerun the same command to finish it",
                plan.operation.as_str()
            )));
            return (RunResult::Failed, e.to_string());
        }
        if let ExecError::Guardrail(_) = e {
            self.emit(Event::Left(
                "nothing was retired; the clones are kept: rerun to check again and swap, or run `stack-mitosis rollback` to discard them".into(),
            ));
            return (RunResult::Failed, e.to_string());
        }
        if phase == Phase::Rollback {
            self.emit(Event::Left(
                "the rollback stopped part-way: run rollback again to finish it".into(),
            ));
            return (RunResult::Failed, e.to_string());
        }
        if phase >= Phase::Cleanup {
            self.emit(Event::Left(
                "the new environment is in place; cleanup stopped: rerun the same command to finish it".into(),
            ));
            return (RunResult::Failed, e.to_string());
        }
        match self.roll_back(plan).await {
            Ok(()) => (RunResult::RolledBack, e.to_string()),
            Err(rollback_error) => {
                self.emit(Event::Left(
                    "the refresh stopped part-way: rerun the same command to finish it (or fix the cause first; run `stack-mitosis plan` to see what remains)".to_string(),
                ));
                (
                    RunResult::Failed,
                    format!("{e}; then the rollback failed: {rollback_error}"),
                )
            }
        }
    }

    /// Runs the plan's unlock steps when the graph did not (after a failure, `--until`, or a
    /// lock taken after waiting).
    async fn release_lock(&self, plan: &Plan) {
        let unlocks = plan.steps.iter().filter(|s| {
            matches!(
                s.op,
                crate::plan::Op::Lock(crate::plan::LockOp::Release { .. })
            )
        });
        for step in unlocks {
            self.emit(Event::StepStarted { step });
            let t = Instant::now();
            // Releasing never fails a run (see steps.rs): the lock lapses anyway.
            let _ = self.run_step(plan, step).await;
            self.emit(Event::StepDone {
                step,
                seconds: t.elapsed().as_secs_f64(),
            });
        }
    }

    /// Where the swapped-in instances answer now.
    async fn endpoints(&self, plan: &Plan) -> Vec<EndpointReport> {
        let names: Vec<String> = match plan.operation {
            crate::plan::Operation::Refresh => plan
                .steps
                .iter()
                .filter(|s| s.phase == Phase::Swap)
                .filter_map(|s| s.op.new_name().map(str::to_string))
                .collect(),
            // A copy's own instances, never anything else (its source above all).
            crate::plan::Operation::Copy => plan
                .steps
                .iter()
                .filter(|s| s.id.kind == crate::plan::StepKind::Create)
                .map(|s| s.resource.clone())
                .collect(),
            crate::plan::Operation::Destroy => return Vec::new(),
        };
        // A cluster's own (writer) endpoint comes first: it is what applications use.
        let clusters: Vec<String> = plan
            .pairs()
            .iter()
            .filter(|p| p.kind == crate::plan::Kind::Cluster)
            .map(|p| p.target.to_string())
            .collect();
        let mut out: Vec<EndpointReport> = if clusters.is_empty() {
            Vec::new()
        } else {
            self.api
                .describe_some_clusters(&clusters)
                .await
                .unwrap_or_default()
                .into_iter()
                .map(|c| EndpointReport {
                    instance: c.id,
                    address: c.address,
                    port: c.port,
                })
                .collect()
        };
        if let Ok(found) = self.api.describe_some(&names).await {
            out.extend(found.into_iter().map(|i| EndpointReport {
                instance: i.id,
                address: i.address,
                port: i.port,
            }));
        }
        out
    }
}
