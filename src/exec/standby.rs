//! Standby and back in service for an environment's Auto Scaling groups (see
//! `crate::plan::ops::group`). Both are idempotent: what the group had is written to its tags
//! before anything changes, and every later call reads them, so a rerun after a crash (or a
//! rollback) finishes the job with the values from before the first run.

use super::{ExecError, Executor};
use crate::aws::{EnvWrite, GroupState};
use crate::environment::Recorded;
use crate::plan::ops::group::SUSPENDED_PROCESSES;
use tokio::time::Instant;

/// EnterStandby and ExitStandby take at most this many instances a call.
const INSTANCES_PER_CALL: usize = 20;

fn in_state(group: &GroupState, ids: &[String], state: &str) -> Vec<String> {
    group
        .instances
        .iter()
        .filter(|(id, s)| s == state && ids.contains(id))
        .map(|(id, _)| id.clone())
        .collect()
}

impl Executor<'_> {
    async fn group(&self, api: &dyn EnvWrite, name: &str) -> Result<GroupState, ExecError> {
        api.describe_groups(&[name.to_string()])
            .await
            .map_err(ExecError::Aws)?
            .into_iter()
            .next()
            .ok_or_else(|| ExecError::Refused(format!("the Auto Scaling group {name} is gone")))
    }

    pub(super) async fn run_standby(&self, run: &str, name: &str) -> Result<(), ExecError> {
        let api = self.env()?;
        let aws = ExecError::Aws;
        let group = self.group(api, name).await?;
        let recorded = match Recorded::from_tags(&group.tags) {
            Some(recorded) => recorded,
            None => {
                let recorded = Recorded {
                    run: run.to_string(),
                    min_size: group.min_size,
                    instances: group
                        .instances
                        .iter()
                        .filter(|(_, s)| s == "InService")
                        .map(|(id, _)| id.clone())
                        .collect(),
                    suspended: SUSPENDED_PROCESSES
                        .iter()
                        .filter(|p| !group.suspended.iter().any(|s| s == *p))
                        .map(|p| p.to_string())
                        .collect(),
                };
                // Written first: whatever happens next, a rerun or a rollback knows what to
                // put back.
                api.tag_group(name, &recorded.to_tags())
                    .await
                    .map_err(aws)?;
                recorded
            }
        };
        if !recorded.suspended.is_empty() {
            api.suspend_processes(name, &recorded.suspended)
                .await
                .map_err(aws)?;
        }
        let entering = in_state(&group, &recorded.instances, "InService");
        // EnterStandby with decrement needs the desired capacity to stay at or above MinSize.
        let after = group.desired - entering.len() as i32;
        if group.min_size > after {
            api.set_min_size(name, after.max(0)).await.map_err(aws)?;
        }
        for chunk in entering.chunks(INSTANCES_PER_CALL) {
            api.enter_standby(name, chunk).await.map_err(aws)?;
        }
        self.wait_group(api, name, &recorded.instances, "Standby")
            .await
    }

    pub(super) async fn run_in_service(&self, name: &str) -> Result<(), ExecError> {
        let api = self.env()?;
        let aws = ExecError::Aws;
        let group = self.group(api, name).await?;
        // A group the tool did not put in standby is left as it is.
        let Some(recorded) = Recorded::from_tags(&group.tags) else {
            return Ok(());
        };
        let standby = in_state(&group, &recorded.instances, "Standby");
        for chunk in standby.chunks(INSTANCES_PER_CALL) {
            api.exit_standby(name, chunk).await.map_err(aws)?;
        }
        self.wait_group(api, name, &recorded.instances, "InService")
            .await?;
        if group.min_size != recorded.min_size {
            api.set_min_size(name, recorded.min_size)
                .await
                .map_err(aws)?;
        }
        if !recorded.suspended.is_empty() {
            api.resume_processes(name, &recorded.suspended)
                .await
                .map_err(aws)?;
        }
        let keys: Vec<String> = recorded.to_tags().into_iter().map(|(k, _)| k).collect();
        api.untag_group(name, &keys).await.map_err(aws)
    }

    /// Until every recorded instance that still exists is in `state` (standby takes it out of
    /// the load balancer first, which takes its deregistration delay).
    async fn wait_group(
        &self,
        api: &dyn EnvWrite,
        name: &str,
        ids: &[String],
        state: &str,
    ) -> Result<(), ExecError> {
        let started = Instant::now();
        let timeout = self.config.poll.step_timeout;
        loop {
            let group = self.group(api, name).await?;
            let pending: Vec<&(String, String)> = group
                .instances
                .iter()
                .filter(|(id, s)| ids.contains(id) && s != state)
                .collect();
            if pending.is_empty() {
                return Ok(());
            }
            if started.elapsed() >= timeout {
                return Err(ExecError::Timeout {
                    what: format!("the instances of {name} to be {state}"),
                    after: timeout,
                    last: format!("{} is {}", pending[0].0, pending[0].1),
                    flag: "--step-timeout",
                });
            }
            tokio::time::sleep(self.config.poll.min_tick).await;
        }
    }
}
