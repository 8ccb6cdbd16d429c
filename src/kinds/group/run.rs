//! How the group steps run: standby and back in service (see `super::op`). Both are
//! idempotent: what the group had is written to its tags before anything changes, and every
//! later call reads them, so a rerun after a crash (or a rollback) finishes the job with the
//! values from before the first run.

use super::autoscaling::{GroupState, GroupWrite};
use super::op::{GroupOp, SUSPENDED_PROCESSES};
use super::record::Recorded;
use crate::kinds::{RunContext, RunError};
use std::time::Instant;

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

/// Runs one group step on the group `resource`.
pub async fn run(op: &GroupOp, resource: &str, ctx: &dyn RunContext) -> Result<(), RunError> {
    let api = ctx
        .clients()
        .ok_or_else(|| {
            RunError::Refused("a group step needs the environment's clients: give --config".into())
        })?
        .groups;
    match op {
        GroupOp::Standby => standby(api, ctx, resource).await,
        GroupOp::InService => in_service(api, ctx, resource).await,
    }
}

async fn group(api: &dyn GroupWrite, name: &str) -> Result<GroupState, RunError> {
    api.describe_groups(&[name.to_string()])
        .await
        .map_err(RunError::Aws)?
        .into_iter()
        .next()
        .ok_or_else(|| RunError::Refused(format!("the Auto Scaling group {name} is gone")))
}

async fn standby(api: &dyn GroupWrite, ctx: &dyn RunContext, name: &str) -> Result<(), RunError> {
    let run = ctx.run_id();
    let aws = RunError::Aws;
    let group = group(api, name).await?;
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
    wait_group(api, ctx, name, &recorded.instances, "Standby").await
}

async fn in_service(
    api: &dyn GroupWrite,
    ctx: &dyn RunContext,
    name: &str,
) -> Result<(), RunError> {
    let aws = RunError::Aws;
    let group = group(api, name).await?;
    // A group the tool did not put in standby is left as it is.
    let Some(recorded) = Recorded::from_tags(&group.tags) else {
        return Ok(());
    };
    let standby = in_state(&group, &recorded.instances, "Standby");
    for chunk in standby.chunks(INSTANCES_PER_CALL) {
        api.exit_standby(name, chunk).await.map_err(aws)?;
    }
    wait_group(api, ctx, name, &recorded.instances, "InService").await?;
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
    api: &dyn GroupWrite,
    ctx: &dyn RunContext,
    name: &str,
    ids: &[String],
    state: &str,
) -> Result<(), RunError> {
    let started = Instant::now();
    let timeout = ctx.step_timeout();
    loop {
        let group = group(api, name).await?;
        let pending: Vec<&(String, String)> = group
            .instances
            .iter()
            .filter(|(id, s)| ids.contains(id) && s != state)
            .collect();
        if pending.is_empty() {
            return Ok(());
        }
        if started.elapsed() >= timeout {
            return Err(RunError::Timeout {
                what: format!("the instances of {name} to be {state}"),
                after: timeout,
                last: format!("{} is {}", pending[0].0, pending[0].1),
            });
        }
        ctx.tick().await;
    }
}
