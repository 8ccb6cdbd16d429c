//! What each kind of step does: the call, then the wait until it has really taken effect.
//! `run_step` is one arm per kind; each kind's operations follow.

use super::wait::Watched;
use super::{hooks, settled, ExecError, Executor};
use crate::observed::{tags, Instance};
use crate::plan::{
    expected, CommandOp, GuardOp, InstanceOp, LockOp, ModifyAttrs, Op, Plan, SnapshotOp, Step,
};
use std::time::Duration;
use tokio::time::Instant;

fn aws(e: crate::error::MitosisError) -> ExecError {
    ExecError::Aws(e)
}

fn instance(id: &str) -> Vec<Watched> {
    vec![Watched::Instance(id.to_string())]
}

impl Executor<'_> {
    pub(super) async fn run_step(&self, plan: &Plan, step: &Step) -> Result<(), ExecError> {
        let expect = expected(step, &self.config.latency);
        let id = step.resource.as_str();
        match &step.op {
            Op::Instance(op) => self.run_instance_op(plan, id, op, expect).await,
            Op::Snapshot(op) => self.run_snapshot_op(plan, id, op).await,
            Op::Command(op) => self.run_command(plan, id, op).await,
            Op::Lock(op) => self.run_lock_op(id, op).await,
            Op::Guard(op) => self.check_guardrails(plan, op).await,
        }
    }

    /// The checks before the first retire (see `crate::plan::ops::guard`).
    async fn check_guardrails(&self, plan: &Plan, op: &GuardOp) -> Result<(), ExecError> {
        let all = self.api.describe_instances().await.map_err(aws)?;
        let now = crate::observed::Observed::new(
            all,
            Vec::new(),
            crate::observed::AccountInfo::unknown(None),
        );
        let tree: std::collections::BTreeSet<String> = now.tree(&plan.target).into_iter().collect();
        let planned: std::collections::BTreeSet<String> =
            op.originals.iter().map(|(n, _)| n.clone()).collect();
        if tree != planned {
            return Err(ExecError::Guardrail(format!(
                "the target tree changed since the plan: it is now [{}], the plan was made for [{}]",
                tree.into_iter().collect::<Vec<_>>().join(", "),
                planned.into_iter().collect::<Vec<_>>().join(", ")
            )));
        }
        for (name, planned_id) in &op.originals {
            let inst = now.get(name).expect("in the tree");
            if planned_id.is_some() && &inst.resource_id != planned_id {
                return Err(ExecError::Guardrail(format!(
                    "{name} is not the instance the plan was made for (it was replaced)"
                )));
            }
            if !settled(inst) {
                return Err(ExecError::Guardrail(format!(
                    "{name} is {} with pending changes [{}]: wait until it is settled",
                    inst.status,
                    inst.pending_modifications.join(", ")
                )));
            }
        }
        for clone in &op.clones {
            match now.get(clone) {
                Some(c) if settled(c) => {}
                Some(c) => {
                    return Err(ExecError::Guardrail(format!(
                        "the clone {clone} is {}, not settled",
                        c.status
                    )))
                }
                None => {
                    return Err(ExecError::Guardrail(format!(
                        "the clone {clone} does not exist"
                    )))
                }
            }
        }
        let max = self.config.max_replica_lag;
        for replica in &op.replicas {
            if let Some(lag) = self.api.replica_lag(replica).await.map_err(aws)? {
                if lag > max {
                    return Err(ExecError::Guardrail(format!(
                        "the clone {replica} lags {lag:.0}s behind its source, over --max-replica-lag {max:.0}: wait and rerun"
                    )));
                }
            }
        }
        Ok(())
    }

    async fn run_lock_op(&self, target: &str, op: &LockOp) -> Result<(), ExecError> {
        let mut held = self.held_lock.lock().await;
        match op {
            LockOp::Take { holder } => {
                let taken =
                    super::lock::acquire(self.api, target, holder, &self.config.lock).await?;
                *held = Some(holder.clone());
                match taken {
                    super::lock::Taken::Free => Ok(()),
                    super::lock::Taken::AfterWaiting => Err(ExecError::Replan),
                }
            }
            LockOp::Move { holder } => {
                let names = [target.to_string()];
                super::lock::put_on(self.api, &names, holder, &self.config.lock).await
            }
            LockOp::Release { holder } => {
                *held = None;
                // A lock that cannot be removed lapses within its TTL: never a failed run.
                if let Err(e) = super::lock::release(self.api, target, holder).await {
                    tracing::warn!("could not release the lock on {target}: {e}");
                }
                Ok(())
            }
        }
    }

    async fn run_instance_op(
        &self,
        plan: &Plan,
        id: &str,
        op: &InstanceOp,
        expect: Duration,
    ) -> Result<(), ExecError> {
        match op {
            InstanceOp::CreateReadReplica { source, attrs } => {
                self.settle(source).await?;
                self.note_change(&[id]);
                self.api
                    .create_read_replica(id, source, attrs)
                    .await
                    .map_err(aws)?;
                self.settled_after(id, expect).await.map(drop)
            }
            InstanceOp::RestoreFromSnapshot { snapshot_id, attrs } => {
                let snapshot_id = snapshot_id.as_deref().ok_or_else(|| {
                    ExecError::Refused(format!("the restore of {id} names no snapshot"))
                })?;
                self.wait_snapshot(snapshot_id, Duration::ZERO).await?;
                self.note_change(&[id]);
                self.api
                    .restore_from_snapshot(id, snapshot_id, attrs)
                    .await
                    .map_err(aws)?;
                self.settled_after(id, expect).await.map(drop)
            }
            InstanceOp::PromoteReadReplica => {
                self.settle(id).await?;
                self.note_change(&[id]);
                self.api.promote(id).await.map_err(aws)?;
                let what = format!("{id} to be promoted");
                self.poller
                    .wait(&instance(id), expect, &what, &|seen| {
                        seen.instance(id)
                            .is_some_and(|i| i.replica_source.is_none() && settled(i))
                    })
                    .await
                    .map(drop)
            }
            InstanceOp::Modify(m) => self.modify(id, m, expect).await,
            InstanceOp::AddTags { tags } => {
                let arn = self.arn(id).await?;
                self.api.add_tags(&arn, tags).await.map_err(aws)
            }
            InstanceOp::RemoveTags { keys } => {
                let arn = self.arn(id).await?;
                self.api.remove_tags(&arn, keys).await.map_err(aws)
            }
            InstanceOp::Delete { final_snapshot_id } => {
                self.delete(plan, id, final_snapshot_id.as_deref(), expect)
                    .await
            }
        }
    }

    async fn modify(&self, id: &str, m: &ModifyAttrs, expect: Duration) -> Result<(), ExecError> {
        self.settle(id).await?;
        self.note_change(&[id]);
        if let Some(new_id) = &m.new_id {
            self.note_change(&[new_id.as_str()]);
        }
        self.api.modify(id, m).await.map_err(aws)?;
        match &m.new_id {
            // A rename is done when the old name is gone and the new one is settled.
            Some(new_id) => {
                let both = [
                    Watched::Instance(id.to_string()),
                    Watched::Instance(new_id.clone()),
                ];
                let what = format!("{id} to be renamed to {new_id}");
                self.poller
                    .wait(&both, expect, &what, &|seen| {
                        seen.instance(id).is_none() && seen.instance(new_id).is_some_and(settled)
                    })
                    .await
                    .map(drop)
            }
            // Right after a modify the old values can still read `available`: wait until the
            // new values show and the instance is settled.
            None => {
                let what = format!("{id} to apply its modification");
                self.poller
                    .wait(&instance(id), expect, &what, &|seen| {
                        seen.instance(id)
                            .is_some_and(|i| m.already_applied(i) && settled(i))
                    })
                    .await
                    .map(drop)
            }
        }
    }

    async fn delete(
        &self,
        plan: &Plan,
        id: &str,
        final_snapshot_id: Option<&str>,
        expect: Duration,
    ) -> Result<(), ExecError> {
        let mut inst = self.settle(id).await?;
        inst.tags = self.api.list_tags(&inst.arn).await.map_err(aws)?;
        check_deletable(&inst, &plan.run_id)?;
        self.note_change(&[id]);
        self.api.delete(id, final_snapshot_id).await.map_err(aws)?;
        let what = format!("{id} to be deleted");
        self.poller
            .wait(&instance(id), expect, &what, &|seen| {
                seen.instance(id).is_none()
            })
            .await
            .map(drop)
    }

    async fn run_snapshot_op(
        &self,
        plan: &Plan,
        instance_id: &str,
        op: &SnapshotOp,
    ) -> Result<(), ExecError> {
        match op {
            SnapshotOp::Create {
                snapshot_id,
                tags: marker_tags,
            } => {
                self.settle(instance_id).await?;
                let exists = self
                    .api
                    .describe_snapshot(snapshot_id)
                    .await
                    .map_err(aws)?
                    .is_some();
                if !exists {
                    self.api
                        .create_snapshot(instance_id, snapshot_id, marker_tags)
                        .await
                        .map_err(aws)?;
                }
                let expect = Duration::from_secs_f64(op.expected(&self.config.latency));
                self.wait_snapshot(snapshot_id, expect).await
            }
            SnapshotOp::Delete { snapshot_id } => {
                let Some(snap) = self.own_snapshot(snapshot_id, &plan.run_id).await? else {
                    return Ok(());
                };
                self.api.delete_snapshot(&snap.id).await.map_err(aws)?;
                let watched = [Watched::Snapshot(snapshot_id.clone())];
                let what = format!("snapshot {snapshot_id} to be deleted");
                self.poller
                    .wait(&watched, Duration::ZERO, &what, &|seen| {
                        seen.snapshot(snapshot_id).is_none()
                    })
                    .await
                    .map(drop)
            }
            SnapshotOp::Unmark { snapshot_id, keys } => {
                match self.own_snapshot(snapshot_id, &plan.run_id).await? {
                    Some(snap) => self.api.remove_tags(&snap.arn, keys).await.map_err(aws),
                    None => Ok(()),
                }
            }
        }
    }

    /// The snapshot, if it still exists, once its tags show that this run took it: the last
    /// guard before a snapshot of production is deleted or changed.
    async fn own_snapshot(
        &self,
        snapshot_id: &str,
        run_id: &str,
    ) -> Result<Option<crate::observed::Snapshot>, ExecError> {
        let Some(mut snap) = self.api.describe_snapshot(snapshot_id).await.map_err(aws)? else {
            return Ok(None);
        };
        snap.tags = self.api.list_tags(&snap.arn).await.map_err(aws)?;
        let ours = snap.tag(tags::ROLE) == Some(tags::ROLE_SNAPSHOT)
            && snap.tag(tags::RUN) == Some(run_id);
        if ours {
            Ok(Some(snap))
        } else {
            Err(ExecError::Refused(format!(
                "refusing to touch snapshot {snapshot_id}: its tags do not show that this run took it"
            )))
        }
    }

    async fn run_command(&self, plan: &Plan, id: &str, op: &CommandOp) -> Result<(), ExecError> {
        let inst = self.settle(id).await?;
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
        hooks::run_hook(
            op.hook.as_str(),
            &op.command,
            &env,
            self.config.hook_timeout,
        )
        .await
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

    /// Waits until `id` exists and is settled, looking first after `expect`.
    async fn settled_after(&self, id: &str, expect: Duration) -> Result<Instance, ExecError> {
        let what = format!("{id} to be available");
        let seen = self
            .poller
            .wait(&instance(id), expect, &what, &|seen| {
                seen.instance(id).is_some_and(settled)
            })
            .await?;
        Ok(seen.instance(id).cloned().expect("the wait saw it"))
    }

    /// The instance's ARN (tags are set by ARN): from a look less than one tick old, else
    /// from a look now. Tagging works in any status, so this does not wait for settling.
    async fn arn(&self, id: &str) -> Result<String, ExecError> {
        if let Some((at, i)) = self.poller.last_seen(id) {
            if at.elapsed() < self.config.poll.min_tick {
                return Ok(i.arn);
            }
        }
        let what = format!("{id} to exist");
        let seen = self
            .poller
            .wait(&instance(id), Duration::ZERO, &what, &|seen| {
                seen.instance(id).is_some()
            })
            .await?;
        Ok(seen.instance(id).map(|i| i.arn.clone()).unwrap_or_default())
    }

    /// Waits until the snapshot is available (a failed snapshot fails the wait).
    async fn wait_snapshot(&self, snapshot_id: &str, expect: Duration) -> Result<(), ExecError> {
        let watched = [Watched::Snapshot(snapshot_id.to_string())];
        let what = format!("snapshot {snapshot_id} to be available");
        self.poller
            .wait(&watched, expect, &what, &|seen| {
                seen.snapshot(snapshot_id)
                    .is_some_and(|s| s.status == "available")
            })
            .await
            .map(drop)
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
