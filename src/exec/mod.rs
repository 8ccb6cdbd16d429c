//! The executor: runs a plan's pending steps against AWS through the `Rds` trait, waits until
//! each has really taken effect, and rolls back before the point of no return.
//!
//! Safety rules enforced here as well as in the plan: nothing is deleted unless its tags say
//! this run retired it (or, on rollback, that this run created it); no cleanup step runs
//! unless every earlier step succeeded.

mod events;
mod hooks;
pub mod lock;
mod wait;

pub use events::{Event, Reporter, Silent, TextReporter};
pub use lock::LockSettings;
pub use wait::{classify, settled, PollSettings, Poller, StatusClass};

use crate::aws::Rds;
use crate::error::MitosisError;
use crate::model::{tags, Instance};
use crate::plan::{expected, LatencyModel, OnFailure, Op, Phase, Plan, Step};
use crate::schema::{EndpointReport, RunReport, StepReport, REPORT_FORMAT_VERSION};
use futures_util::stream::{FuturesUnordered, StreamExt};
use std::time::Duration;
use thiserror::Error;
use tokio::time::Instant;

#[derive(Debug, Error)]
pub enum ExecError {
    #[error(transparent)]
    Aws(MitosisError),
    #[error("{instance} reached status {status:?}: see the RDS console or events for why")]
    FailedStatus { instance: String, status: String },
    #[error("timed out after {}s waiting for {what} ({last}): raise --step-timeout if AWS is just slow", after.as_secs())]
    Timeout {
        what: String,
        after: Duration,
        last: String,
    },
    #[error("the {name} command {message}")]
    Hook { name: String, message: String },
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Locked(String),
}

#[derive(Debug, Clone)]
pub struct ApplyOptions {
    pub poll: PollSettings,
    pub hook_timeout: Duration,
    pub on_failure: OnFailure,
    /// How many steps may be in flight at once (1: one step at a time).
    pub concurrency: usize,
    /// Expected step durations, for deciding when to look again.
    pub model: LatencyModel,
}

pub struct Executor<'a> {
    api: &'a dyn Rds,
    options: ApplyOptions,
    reporter: &'a dyn Reporter,
    poller: Poller<'a>,
    /// When this run last asked AWS to change each instance (by name).
    changed: std::sync::Mutex<std::collections::BTreeMap<String, Instant>>,
}

/// The outcome of an apply: the report, and the error that stopped it, if any.
pub struct Outcome {
    pub report: RunReport,
    pub error: Option<ExecError>,
}

impl<'a> Executor<'a> {
    pub fn new(api: &'a dyn Rds, options: ApplyOptions, reporter: &'a dyn Reporter) -> Self {
        let poller = Poller::new(api, options.poll);
        Executor {
            api,
            options,
            reporter,
            poller,
            changed: Default::default(),
        }
    }

    /// Runs the pending steps in order. On a failure before cleanup, puts the original names
    /// back (see `crate::plan::rollback`); on a failure during cleanup, stops: a rerun
    /// finishes the job.
    pub async fn apply(&self, plan: &Plan) -> Outcome {
        // The poll loop runs beside the steps and stops with them.
        tokio::select! {
            outcome = self.apply_steps(plan) => outcome,
            _ = self.poller.run() => unreachable!("the poll loop never ends"),
        }
    }

    async fn apply_steps(&self, plan: &Plan) -> Outcome {
        let started = Instant::now();
        let mut report = RunReport {
            version: REPORT_FORMAT_VERSION,
            run_id: plan.run_id.clone(),
            source: plan.source.clone(),
            target: plan.target.clone(),
            result: "succeeded".into(),
            duration_seconds: 0.0,
            steps: Vec::new(),
            rollback: Vec::new(),
            endpoints: Vec::new(),
            error: None,
            left: Vec::new(),
        };
        let (failure, failed_phase) = self.run_steps(plan, &mut report.steps).await;

        let mut error = None;
        if let Some(e) = failure {
            report.error = Some(e.to_string());
            report.result = "failed".into();
            if failed_phase.is_some_and(|p| p < Phase::Cleanup) {
                match self.roll_back(plan, &mut report).await {
                    Ok(()) => report.result = "rolled-back".into(),
                    Err(rollback_error) => {
                        report.error =
                            Some(format!("{e}; then the rollback failed: {rollback_error}"));
                        report.left.push(
                            "the refresh stopped part-way: rerun the same command to finish it (or fix the cause first; run `stack-mitosis plan` to see what remains)".to_string(),
                        );
                    }
                }
            } else {
                report.left.push(
                    "the new environment is in place; cleanup stopped: rerun the same command to finish it".into(),
                );
            }
            error = Some(e);
        }
        report.endpoints = self.endpoints(plan).await;
        report.duration_seconds = started.elapsed().as_secs_f64();
        Outcome { report, error }
    }

    /// Runs the plan as a dependency graph: a step starts as soon as the steps it depends on
    /// are done, with at most `concurrency` in flight. After a failure no new step starts; the
    /// ones in flight finish.
    async fn run_steps(
        &self,
        plan: &Plan,
        out: &mut Vec<StepReport>,
    ) -> (Option<ExecError>, Option<Phase>) {
        let mut entries: Vec<StepReport> = plan
            .steps
            .iter()
            .map(|step| StepReport {
                id: step.id.clone(),
                action: step.op.action().to_string(),
                instance: step.instance.clone(),
                status: "not-run".into(),
                seconds: None,
                detail: step.skip.clone(),
            })
            .collect();
        let mut done: std::collections::BTreeSet<&str> = std::collections::BTreeSet::new();
        for (i, step) in plan.steps.iter().enumerate() {
            if let Some(reason) = &step.skip {
                self.reporter.event(&Event::StepSkipped { step, reason });
                entries[i].status = "skipped".into();
                done.insert(step.id.as_str());
            }
        }
        let mut started = vec![false; plan.steps.len()];
        let mut running = FuturesUnordered::new();
        let mut failure: Option<(ExecError, Phase)> = None;
        loop {
            if failure.is_none() {
                for (i, step) in plan.steps.iter().enumerate() {
                    if running.len() >= self.options.concurrency.max(1) {
                        break;
                    }
                    let ready = !started[i]
                        && step.skip.is_none()
                        && step.depends_on.iter().all(|d| done.contains(d.as_str()));
                    if ready {
                        started[i] = true;
                        self.reporter.event(&Event::StepStarted { step });
                        running.push(async move {
                            let t = Instant::now();
                            let result = self.run_step(plan, step).await;
                            (i, t.elapsed().as_secs_f64(), result)
                        });
                    }
                }
            }
            let Some((i, seconds, result)) = running.next().await else {
                break;
            };
            let step = &plan.steps[i];
            entries[i].seconds = Some(seconds);
            match result {
                Ok(()) => {
                    self.reporter.event(&Event::StepDone { step, seconds });
                    entries[i].status = "done".into();
                    done.insert(step.id.as_str());
                }
                Err(e) => {
                    self.reporter.event(&Event::StepFailed {
                        step,
                        error: e.to_string(),
                    });
                    entries[i].status = "failed".into();
                    entries[i].detail = Some(e.to_string());
                    if failure.is_none() {
                        failure = Some((e, step.phase));
                    }
                }
            }
        }
        out.extend(entries);
        match failure {
            Some((e, phase)) => (Some(e), Some(phase)),
            None => (None, None),
        }
    }

    async fn roll_back(&self, plan: &Plan, report: &mut RunReport) -> Result<(), ExecError> {
        // Renames and creates may still be in flight: plan from a quiet state.
        let observed = self.quiet_state(plan).await?;
        let rollback = crate::plan::rollback(
            &observed,
            &plan.source,
            &plan.target,
            &plan.run_id,
            self.options.on_failure,
        )
        .map_err(ExecError::Aws)?;
        self.reporter.event(&Event::RollbackStarted {
            steps: rollback.steps.len(),
        });
        let (failure, _) = self.run_steps(&rollback, &mut report.rollback).await;
        if let Some(e) = failure {
            return Err(e);
        }
        if self.options.on_failure == OnFailure::Keep {
            let kept: Vec<String> = observed
                .instances
                .values()
                .filter(|i| {
                    i.tag(tags::ROLE) == Some(tags::ROLE_TEMP)
                        && i.tag(tags::RUN) == Some(&plan.run_id)
                })
                .map(|i| {
                    crate::model::TEMP_PREFIX.to_string() + i.tag(tags::ORIGINAL).unwrap_or(&i.id)
                })
                .collect();
            for k in kept {
                report.left.push(format!(
                    "{k} kept for inspection (--on-failure keep): a rerun resumes with it; delete it when done"
                ));
            }
        }
        Ok(())
    }

    /// Observes until no instance of the target's trees is in flight: every original is
    /// visible (as X or old-X), nothing is busy, and the same instances were seen on three
    /// polls in a row (a rename hides an instance under both names for a while).
    async fn quiet_state(&self, plan: &Plan) -> Result<crate::model::Observed, ExecError> {
        let start = Instant::now();
        let originals: Vec<&str> = plan
            .steps
            .iter()
            .filter(|s| s.id.starts_with("retire-"))
            .map(|s| s.instance.as_str())
            .collect();
        let mut stable = 0;
        let mut last_ids: Vec<String> = Vec::new();
        loop {
            let observed = crate::aws::observe(self.api, &plan.source, &plan.target)
                .await
                .map_err(ExecError::Aws)?;
            let busy: Vec<&Instance> = observed
                .instances
                .values()
                .filter(|i| i.mitosis_role().is_some() || i.id == plan.target)
                .filter(|i| !settled(i))
                .collect();
            // One of ours under neither its marked name nor its original one is mid-rename.
            let renaming = observed.instances.values().any(|i| {
                i.tag(tags::RUN) == Some(&plan.run_id)
                    && i.marked_name().is_some_and(|name| i.id != name)
                    && i.tag(tags::ORIGINAL) != Some(i.id.as_str())
            });
            let ids: Vec<String> = observed.instances.keys().cloned().collect();
            let all_visible = originals.iter().all(|n| {
                observed.instances.contains_key(*n)
                    || observed
                        .instances
                        .contains_key(&format!("{}{n}", crate::model::OLD_PREFIX))
            });
            stable = if ids == last_ids { stable + 1 } else { 0 };
            last_ids = ids;
            if busy.is_empty() && !renaming && all_visible && stable >= 2 {
                return Ok(observed);
            }
            if start.elapsed() > self.options.poll.step_timeout {
                return Err(ExecError::Timeout {
                    what: "the target tree to settle before rolling back".into(),
                    after: self.options.poll.step_timeout,
                    last: busy
                        .iter()
                        .map(|i| format!("{} is {}", i.id, i.status))
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
            tokio::time::sleep(self.options.poll.min_tick).await;
        }
    }

    async fn wait(
        &self,
        ids: &[String],
        expected: Duration,
        what: &str,
        done: &wait::Condition<'_>,
    ) -> Result<std::collections::BTreeMap<String, Instance>, ExecError> {
        self.poller.wait(ids, expected, what, done).await
    }

    /// Waits until `id` exists and is settled: nothing is changed on a busy instance. A look
    /// that saw it settled after this run's last change to it (usually the end of the
    /// previous step) is enough: nothing of ours is in flight there.
    async fn settle(&self, id: &str) -> Result<Instance, ExecError> {
        let last_change = self.changed.lock().ok().and_then(|c| c.get(id).copied());
        if let Some((at, i)) = self.poller.last_seen(id) {
            if settled(&i) && last_change.is_none_or(|t| at > t) {
                return Ok(i);
            }
        }
        self.settled_after(id, Duration::ZERO).await
    }

    fn note_change(&self, ids: &[&str]) {
        if let Ok(mut c) = self.changed.lock() {
            let now = Instant::now();
            for id in ids {
                c.insert(id.to_string(), now);
            }
        }
    }

    async fn run_step(&self, plan: &Plan, step: &Step) -> Result<(), ExecError> {
        let id = step.instance.as_str();
        let ids = [id.to_string()];
        let aws = ExecError::Aws;
        let expect = expected(step, &self.options.model);
        match &step.op {
            Op::CreateDBSnapshot { snapshot_id, tags } => {
                self.settle(id).await?;
                if self
                    .api
                    .describe_snapshot(snapshot_id)
                    .await
                    .map_err(aws)?
                    .is_none()
                {
                    self.api
                        .create_snapshot(id, snapshot_id, tags)
                        .await
                        .map_err(aws)?;
                }
                self.wait_snapshot(snapshot_id).await
            }
            Op::CreateDBInstanceReadReplica { source, attrs } => {
                self.settle(source).await?;
                self.note_change(&[id]);
                self.api
                    .create_read_replica(id, source, attrs)
                    .await
                    .map_err(aws)?;
                self.settled_after(id, expect).await.map(drop)
            }
            Op::RestoreDBInstanceFromDBSnapshot { snapshot_id, attrs } => {
                self.wait_snapshot(snapshot_id).await?;
                self.note_change(&[id]);
                self.api
                    .restore_from_snapshot(id, snapshot_id, attrs)
                    .await
                    .map_err(aws)?;
                self.settled_after(id, expect).await.map(drop)
            }
            Op::PromoteReadReplica => {
                self.settle(id).await?;
                self.note_change(&[id]);
                self.api.promote(id).await.map_err(aws)?;
                self.wait(&ids, expect, &format!("{id} to be promoted"), &|m| {
                    m.get(id)
                        .is_some_and(|i| i.replica_source.is_none() && settled(i))
                })
                .await
                .map(drop)
            }
            Op::ModifyDBInstance(m) => {
                self.settle(id).await?;
                self.note_change(&[id]);
                if let Some(new_id) = &m.new_id {
                    self.note_change(&[new_id.as_str()]);
                }
                self.api.modify(id, m).await.map_err(aws)?;
                match &m.new_id {
                    // A rename is done when the old name is gone and the new one is settled.
                    Some(new_id) => {
                        let both = [id.to_string(), new_id.clone()];
                        self.wait(
                            &both,
                            expect,
                            &format!("{id} to be renamed to {new_id}"),
                            &|seen| !seen.contains_key(id) && seen.get(new_id).is_some_and(settled),
                        )
                        .await
                        .map(drop)
                    }
                    // Right after a modify the old values can still read `available`: wait
                    // until the new values show and the instance is settled.
                    None => self
                        .wait(
                            &ids,
                            expect,
                            &format!("{id} to apply its modification"),
                            &|seen| {
                                seen.get(id)
                                    .is_some_and(|i| m.already_applied(i) && settled(i))
                            },
                        )
                        .await
                        .map(drop),
                }
            }
            Op::AddTagsToResource { tags } => {
                let arn = self.arn(id).await?;
                self.api.add_tags(&arn, tags).await.map_err(aws)
            }
            Op::RemoveTagsFromResource { keys } => {
                let arn = self.arn(id).await?;
                self.api.remove_tags(&arn, keys).await.map_err(aws)
            }
            Op::DeleteDBInstance { final_snapshot_id } => {
                let mut inst = self.settle(id).await?;
                inst.tags = self.api.list_tags(&inst.arn).await.map_err(aws)?;
                check_deletable(&inst, &plan.run_id)?;
                self.note_change(&[id]);
                self.api
                    .delete(id, final_snapshot_id.as_deref())
                    .await
                    .map_err(aws)?;
                self.wait(&ids, expect, &format!("{id} to be deleted"), &|m| {
                    !m.contains_key(id)
                })
                .await
                .map(drop)
            }
            Op::RunCommand { command } => {
                let inst = self.settle(id).await?;
                let name = if step.phase == Phase::Prepare {
                    "before-swap"
                } else {
                    "restart"
                };
                let env = vec![
                    ("STACK_MITOSIS_SOURCE".to_string(), plan.source.clone()),
                    ("STACK_MITOSIS_TARGET".to_string(), plan.target.clone()),
                    ("STACK_MITOSIS_RUN_ID".to_string(), plan.run_id.clone()),
                    ("STACK_MITOSIS_INSTANCE".to_string(), inst.id.clone()),
                    (
                        "STACK_MITOSIS_ENDPOINT_ADDRESS".to_string(),
                        inst.address.clone().unwrap_or_default(),
                    ),
                    (
                        "STACK_MITOSIS_ENDPOINT_PORT".to_string(),
                        inst.port.map(|p| p.to_string()).unwrap_or_default(),
                    ),
                ];
                hooks::run_hook(name, command, &env, self.options.hook_timeout).await
            }
        }
    }

    /// Waits until `id` exists and is settled, looking first after `expect`.
    async fn settled_after(&self, id: &str, expect: Duration) -> Result<Instance, ExecError> {
        let ids = [id.to_string()];
        let seen = self
            .wait(&ids, expect, &format!("{id} to be available"), &|m| {
                m.get(id).is_some_and(settled)
            })
            .await?;
        Ok(seen[id].clone())
    }

    /// The instance's ARN (tags are set by ARN): from a look less than one tick old, else
    /// from a look now. Tagging works in any status, so this does not wait for settling.
    async fn arn(&self, id: &str) -> Result<String, ExecError> {
        if let Some((at, i)) = self.poller.last_seen(id) {
            if at.elapsed() < self.options.poll.min_tick {
                return Ok(i.arn);
            }
        }
        let ids = [id.to_string()];
        let seen = self
            .wait(&ids, Duration::ZERO, &format!("{id} to exist"), &|m| {
                m.contains_key(id)
            })
            .await?;
        Ok(seen[id].arn.clone())
    }

    async fn wait_snapshot(&self, snapshot_id: &str) -> Result<(), ExecError> {
        let start = Instant::now();
        loop {
            let snap = self
                .api
                .describe_snapshot(snapshot_id)
                .await
                .map_err(ExecError::Aws)?;
            match snap.as_ref().map(|s| s.status.as_str()) {
                Some("available") => return Ok(()),
                Some("failed") | Some("error") => {
                    return Err(ExecError::FailedStatus {
                        instance: format!("snapshot {snapshot_id}"),
                        status: "failed".into(),
                    })
                }
                _ => {}
            }
            if start.elapsed() > self.options.poll.step_timeout {
                return Err(ExecError::Timeout {
                    what: format!("snapshot {snapshot_id} to be available"),
                    after: self.options.poll.step_timeout,
                    last: snap.map(|s| s.status).unwrap_or_else(|| "missing".into()),
                });
            }
            tokio::time::sleep(self.options.poll.min_tick).await;
        }
    }

    async fn endpoints(&self, plan: &Plan) -> Vec<EndpointReport> {
        let names: Vec<String> = plan
            .steps
            .iter()
            .filter(|s| s.phase == Phase::Swap)
            .filter_map(|s| match &s.op {
                Op::ModifyDBInstance(m) => m.new_id.clone(),
                _ => None,
            })
            .collect();
        match self.api.describe_some(&names).await {
            Ok(found) => found
                .into_iter()
                .map(|i| EndpointReport {
                    instance: i.id,
                    address: i.address,
                    port: i.port,
                })
                .collect(),
            Err(_) => Vec::new(),
        }
    }
}

/// The last guard before a delete: the instance's own tags must say that this run retired it
/// (old-X) or, on rollback, created it (temp-X). The plan says so too; this re-checks what AWS
/// reports right now.
fn check_deletable(inst: &Instance, run_id: &str) -> Result<(), ExecError> {
    let ok = inst.tag(tags::RUN) == Some(run_id)
        && inst.marked_name().is_some_and(|name| inst.id == name);
    if ok {
        Ok(())
    } else {
        Err(ExecError::Refused(format!(
            "refusing to delete {}: its tags do not show that run {run_id} retired or created it",
            inst.id
        )))
    }
}
