//! What each kind of step does: the call, then the wait until it has really taken effect.
//! `run_step` is one arm per kind; each kind's operations follow.

use super::wait::{cluster_settled, Watched};
use super::{hooks, settled, ExecError, Executor};
use crate::observed::{tags, Cluster, Instance};
use crate::plan::{
    expected, ClusterModify, ClusterOp, CommandOp, GuardOp, InstanceOp, Kind, LockOp, ModifyAttrs,
    Op, Pair, Plan, SnapshotOf, SnapshotOp, Step, StepKind,
};
use std::time::Duration;
use tokio::time::Instant;

fn aws(e: crate::error::MitosisError) -> ExecError {
    ExecError::Aws(e)
}

/// How many times a change RDS refuses as busy is tried again before the step fails.
const BUSY_RETRIES: u32 = 5;

/// RDS's refusal of a change because an operation is in progress on the resource or on its
/// cluster (a member renamed while its cluster is, a reboot under way), even when the resource
/// itself read `available` a moment before.
fn is_busy(e: &crate::error::MitosisError) -> bool {
    match e {
        crate::error::MitosisError::Aws { message, .. } => {
            message.starts_with("InvalidDBInstanceState")
                || message.starts_with("InvalidDBClusterStateFault")
                || message.contains("in-progress management operation")
        }
        _ => false,
    }
}

fn instance(id: &str) -> Vec<Watched> {
    vec![Watched::Instance(id.to_string())]
}

impl Executor<'_> {
    pub(super) async fn run_step(&self, plan: &Plan, step: &Step) -> Result<(), ExecError> {
        if !matches!(step.op, Op::Lock(_)) {
            self.fence().await?;
        }
        // Deletion protection comes off only what the delete after it would take: the
        // delete's own check, made first, on what AWS reports now.
        if step.id.kind == StepKind::Unprotect {
            self.check_still_deletable(plan, step).await?;
        }
        let expect = expected(step, &self.config.latency);
        let id = step.resource.as_str();
        match &step.op {
            Op::Instance(op) => self.run_instance_op(plan, id, op, expect).await,
            Op::Cluster(op) => self.run_cluster_op(plan, id, op, expect).await,
            Op::Snapshot(op) => {
                self.run_snapshot_op(plan, step, op, SnapshotOf::Instance)
                    .await
            }
            Op::ClusterSnapshot(op) => {
                self.run_snapshot_op(plan, step, op, SnapshotOf::Cluster)
                    .await
            }
            Op::Command(op) => self.run_command(plan, step, op).await,
            Op::Lock(op) => self.run_lock_op(plan.pair(step).kind, id, op).await,
            Op::Guard(op) => self.check_guardrails(plan.pair(step), op).await,
            Op::Wing(op) => {
                let ctx = WingContext {
                    executor: self,
                    step,
                    run_id: &plan.run_id,
                };
                crate::kinds::run(op, id, &ctx)
                    .await
                    .map_err(ExecError::from)
            }
        }
    }

    /// The checks before the first retire (see `crate::plan::ops::guard`).
    async fn check_guardrails(&self, pair: Pair<'_>, op: &GuardOp) -> Result<(), ExecError> {
        if pair.kind == Kind::Cluster {
            return self.check_cluster_guardrails(pair, op).await;
        }
        let all = self.api.describe_instances().await.map_err(aws)?;
        let now = crate::observed::Observed::new(
            all,
            Vec::new(),
            crate::observed::AccountInfo::unknown(None),
        );
        let tree: std::collections::BTreeSet<String> = now.tree(pair.target).into_iter().collect();
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

    /// A cluster plan's guardrails: the cluster and its members as planned (same identities,
    /// nothing pending), the clone and its members settled.
    async fn check_cluster_guardrails(
        &self,
        pair: Pair<'_>,
        op: &GuardOp,
    ) -> Result<(), ExecError> {
        let (cluster_name, cluster_rid) = &op.originals[0];
        let clusters = self
            .api
            .describe_some_clusters(&[cluster_name.clone(), pair.target.to_string()])
            .await
            .map_err(aws)?;
        let Some(target) = clusters.iter().find(|c| &c.id == cluster_name) else {
            return Err(ExecError::Guardrail(format!(
                "{cluster_name} no longer exists"
            )));
        };
        if cluster_rid.is_some() && &target.resource_id != cluster_rid {
            return Err(ExecError::Guardrail(format!(
                "{cluster_name} is not the cluster the plan was made for (it was replaced)"
            )));
        }
        let members: std::collections::BTreeSet<&str> =
            target.members.iter().map(|m| m.id.as_str()).collect();
        let planned: std::collections::BTreeSet<&str> =
            op.originals[1..].iter().map(|(n, _)| n.as_str()).collect();
        if members != planned {
            return Err(ExecError::Guardrail(format!(
                "the members of {cluster_name} changed since the plan: they are now [{}], the plan was made for [{}]",
                members.into_iter().collect::<Vec<_>>().join(", "),
                planned.into_iter().collect::<Vec<_>>().join(", ")
            )));
        }
        if !cluster_settled(target) {
            return Err(ExecError::Guardrail(format!(
                "{cluster_name} is {} with pending changes [{}]: wait until it is settled",
                target.status,
                target.pending_modifications.join(", ")
            )));
        }
        let names: Vec<String> = op.originals[1..]
            .iter()
            .map(|(n, _)| n.clone())
            .chain(op.clones[1..].iter().cloned())
            .collect();
        let instances = self.api.describe_some(&names).await.map_err(aws)?;
        for (name, planned_id) in &op.originals[1..] {
            let Some(inst) = instances.iter().find(|i| &i.id == name) else {
                return Err(ExecError::Guardrail(format!("{name} no longer exists")));
            };
            if planned_id.is_some() && &inst.resource_id != planned_id {
                return Err(ExecError::Guardrail(format!(
                    "{name} is not the instance the plan was made for (it was replaced)"
                )));
            }
            if !settled(inst) {
                return Err(ExecError::Guardrail(format!(
                    "{name} is {}, not settled: wait until it is",
                    inst.status
                )));
            }
        }
        let clone_clusters = self
            .api
            .describe_some_clusters(&op.clones[..1])
            .await
            .map_err(aws)?;
        if !clone_clusters.iter().any(cluster_settled) {
            return Err(ExecError::Guardrail(format!(
                "the clone {} is missing or not settled",
                op.clones[0]
            )));
        }
        for clone in &op.clones[1..] {
            if !instances.iter().any(|i| &i.id == clone && settled(i)) {
                return Err(ExecError::Guardrail(format!(
                    "the clone {clone} is missing or not settled"
                )));
            }
        }
        Ok(())
    }

    async fn run_lock_op(&self, kind: Kind, target: &str, op: &LockOp) -> Result<(), ExecError> {
        let mut held = self.held_lock.lock().await;
        match op {
            LockOp::Take { holder } => {
                let taken =
                    super::lock::acquire(self.api, kind, target, holder, &self.config.lock).await?;
                // A second target's lock: the run holds both, renewed together from now.
                let mut targets = held.take().map(|h| h.targets).unwrap_or_default();
                targets.push((kind, target.to_string()));
                *held = Some(super::HeldLock {
                    holder: holder.clone(),
                    targets,
                    until: Instant::now() + self.config.lock.ttl,
                });
                match taken {
                    super::lock::Taken::Free => Ok(()),
                    super::lock::Taken::AfterWaiting => Err(ExecError::Replan),
                }
            }
            LockOp::Move { holder } => {
                let names = [target.to_string()];
                super::lock::put_on(self.api, kind, &names, holder, &self.config.lock).await?;
                if let Some(held) = held.as_mut() {
                    held.until = Instant::now() + self.config.lock.ttl;
                }
                Ok(())
            }
            LockOp::Release { holder } => {
                if let Some(h) = held.as_mut() {
                    h.targets.retain(|(_, t)| t != target);
                    if h.targets.is_empty() {
                        *held = None;
                    }
                }
                // A lock that cannot be removed lapses within its TTL: never a failed run.
                if let Err(e) = super::lock::release(self.api, kind, target, holder).await {
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
                wait_snapshot(
                    &self.poller,
                    SnapshotOf::Instance,
                    snapshot_id,
                    Duration::ZERO,
                )
                .await?;
                self.note_change(&[id]);
                self.api
                    .restore_from_snapshot(id, snapshot_id, attrs)
                    .await
                    .map_err(aws)?;
                self.settled_after(id, expect).await.map(drop)
            }
            InstanceOp::RestoreToPointInTime {
                source,
                time,
                attrs,
            } => {
                self.note_change(&[id]);
                self.api
                    .restore_to_point_in_time(id, source, *time, attrs)
                    .await
                    .map_err(aws)?;
                self.settled_after(id, expect).await.map(drop)
            }
            InstanceOp::SetPassword { secret } => {
                self.set_password(false, id, secret.as_deref(), expect)
                    .await
            }
            InstanceOp::CreateMember { cluster, attrs } => {
                self.settle_cluster(cluster).await?;
                self.note_change(&[id]);
                self.while_busy(id, || self.api.create_member(id, cluster, attrs))
                    .await?;
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
        self.while_busy(id, || self.api.modify(id, m)).await?;
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
        check_deletable(&inst, plan)?;
        self.note_change(&[id]);
        self.while_busy(id, || self.api.delete(id, final_snapshot_id))
            .await?;
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
        step: &Step,
        op: &SnapshotOp,
        of: SnapshotOf,
    ) -> Result<(), ExecError> {
        let resource = step.resource.as_str();
        let (api, poller) = self.account(step.account);
        let expect = Duration::from_secs_f64(op.expected(&self.config.latency));
        match op {
            SnapshotOp::Create {
                snapshot_id,
                tags: marker_tags,
            } => {
                // Nothing is asked of a busy source (in its own account's view).
                let watched = match of {
                    SnapshotOf::Instance => Watched::Instance(resource.to_string()),
                    SnapshotOf::Cluster => Watched::Cluster(resource.to_string()),
                };
                poller
                    .wait(
                        &[watched],
                        Duration::ZERO,
                        &format!("{resource} to be available"),
                        &|seen| match of {
                            SnapshotOf::Instance => seen.instance(resource).is_some_and(settled),
                            SnapshotOf::Cluster => {
                                seen.cluster(resource).is_some_and(cluster_settled)
                            }
                        },
                    )
                    .await?;
                let make = api.create_snapshot(of, resource, snapshot_id, marker_tags);
                make_snapshot(api, poller, of, snapshot_id, expect, make).await
            }
            SnapshotOp::Copy {
                from,
                snapshot_id,
                kms_key_id,
                tags: marker_tags,
                ..
            } => {
                let make =
                    api.copy_snapshot(of, from, snapshot_id, kms_key_id.as_deref(), marker_tags);
                make_snapshot(api, poller, of, snapshot_id, expect, make).await
            }
            SnapshotOp::Share {
                snapshot_id,
                account,
                share,
            } => {
                // A snapshot is shared once it is complete (RDS refuses before).
                if *share {
                    wait_snapshot(poller, of, snapshot_id, Duration::ZERO).await?;
                }
                // Only the tool's own transfer snapshot is ever shared (or unshared).
                match own_snapshot(api, of, snapshot_id, &plan.run_id).await? {
                    Some(snap) => api
                        .share_snapshot(of, &snap.id, account, *share)
                        .await
                        .map_err(aws),
                    None if *share => Err(ExecError::Refused(format!(
                        "snapshot {snapshot_id} to share does not exist"
                    ))),
                    None => Ok(()),
                }
            }
            SnapshotOp::Delete { snapshot_id } => {
                let Some(snap) = own_snapshot(api, of, snapshot_id, &plan.run_id).await? else {
                    return Ok(());
                };
                api.delete_snapshot(of, &snap.id).await.map_err(aws)?;
                let watched = [Watched::Snapshot(of, snapshot_id.clone())];
                let what = format!("snapshot {snapshot_id} to be deleted");
                poller
                    .wait(&watched, Duration::ZERO, &what, &|seen| {
                        seen.snapshot(of, snapshot_id).is_none()
                    })
                    .await
                    .map(drop)
            }
            SnapshotOp::Unmark { snapshot_id, keys } => {
                match own_snapshot(api, of, snapshot_id, &plan.run_id).await? {
                    Some(snap) => api.remove_tags(&snap.arn, keys).await.map_err(aws),
                    None => Ok(()),
                }
            }
        }
    }

    async fn run_command(&self, plan: &Plan, step: &Step, op: &CommandOp) -> Result<(), ExecError> {
        let id = step.resource.as_str();
        let pair = plan.pair(step);
        // A cluster's hooks are given its writer endpoint.
        let (name, address, port) = match pair.kind {
            Kind::Instance => {
                let i = self.settle(id).await?;
                (i.id, i.address, i.port)
            }
            Kind::Cluster => {
                let c = self.settle_cluster(id).await?;
                (c.id, c.address, c.port)
            }
        };
        let mut env = vec![
            ("STACK_MITOSIS_SOURCE".to_string(), pair.source.to_string()),
            ("STACK_MITOSIS_TARGET".to_string(), pair.target.to_string()),
            // Every target of the run (an environment's databases), for the restart command.
            (
                "STACK_MITOSIS_TARGETS".to_string(),
                plan.pairs()
                    .iter()
                    .map(|p| p.target)
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
            ("STACK_MITOSIS_RUN_ID".to_string(), plan.run_id.clone()),
            ("STACK_MITOSIS_INSTANCE".to_string(), name),
            (
                "STACK_MITOSIS_ENDPOINT_ADDRESS".to_string(),
                address.unwrap_or_default(),
            ),
            (
                "STACK_MITOSIS_ENDPOINT_PORT".to_string(),
                port.map(|p| p.to_string()).unwrap_or_default(),
            ),
        ];
        // A copy's hooks log in with the password this run gave it.
        if let Some(password) = self.new_password.lock().ok().and_then(|p| p.clone()) {
            env.push(("STACK_MITOSIS_MASTER_PASSWORD".to_string(), password));
        }
        hooks::run_hook(
            op.hook.as_str(),
            &op.command,
            &op.shown(),
            &env,
            &self.config.hook_env,
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

    async fn run_cluster_op(
        &self,
        plan: &Plan,
        id: &str,
        op: &ClusterOp,
        expect: Duration,
    ) -> Result<(), ExecError> {
        match op {
            ClusterOp::Clone {
                source,
                time,
                attrs,
                ..
            } => {
                self.settle_cluster(source).await?;
                self.note_change(&[id]);
                self.api
                    .clone_cluster(id, source, *time, attrs)
                    .await
                    .map_err(aws)?;
                let clone = self.cluster_settled_after(id, expect).await?;
                // A clone that shares the source's CloneGroupId shares its pages.
                let sources = self
                    .api
                    .describe_some_clusters(std::slice::from_ref(source))
                    .await
                    .map_err(aws)?;
                let shared = clone.clone_group_id.is_some()
                    && sources
                        .iter()
                        .any(|s| s.clone_group_id == clone.clone_group_id);
                let kind = if shared {
                    crate::schema::CloneKind::CopyOnWrite
                } else {
                    crate::schema::CloneKind::FullCopy
                };
                self.emit(super::Event::Cloned { cluster: id, kind });
                Ok(())
            }
            ClusterOp::RestoreFromSnapshot {
                snapshot_id,
                engine,
                engine_version,
                attrs,
                ..
            } => {
                let snapshot_id = snapshot_id.as_deref().ok_or_else(|| {
                    ExecError::Refused(format!("the restore of {id} names no snapshot"))
                })?;
                wait_snapshot(
                    &self.poller,
                    SnapshotOf::Cluster,
                    snapshot_id,
                    Duration::ZERO,
                )
                .await?;
                self.note_change(&[id]);
                self.api
                    .restore_cluster_from_snapshot(id, snapshot_id, engine, engine_version, attrs)
                    .await
                    .map_err(aws)?;
                self.cluster_settled_after(id, expect).await.map(drop)
            }
            ClusterOp::Modify(m) => self.modify_cluster(id, m, expect).await,
            ClusterOp::SetPassword { secret } => {
                self.set_password(true, id, secret.as_deref(), expect).await
            }
            ClusterOp::CreateEndpoint { endpoint } => {
                self.settle_cluster(id).await?;
                let exists = !self
                    .api
                    .describe_endpoints(None, Some(&endpoint.id))
                    .await
                    .map_err(aws)?
                    .is_empty();
                if !exists {
                    self.api.create_endpoint(id, endpoint).await.map_err(aws)?;
                }
                let what = format!("endpoint {} to be available", endpoint.id);
                let name = endpoint.id.as_str();
                self.poller
                    .wait(
                        &[Watched::Endpoint(name.to_string())],
                        expect,
                        &what,
                        &|seen| {
                            seen.endpoint(name)
                                .is_some_and(|e| e.status == "available" && e.cluster == id)
                        },
                    )
                    .await
                    .map(drop)
            }
            ClusterOp::DeleteEndpoint { endpoint } => {
                let found = self
                    .api
                    .describe_endpoints(None, Some(endpoint))
                    .await
                    .map_err(aws)?;
                let Some(e) = found.into_iter().next() else {
                    return Ok(());
                };
                // Only an endpoint of the cluster this run retired (or, on rollback, created)
                // is deleted.
                let mut owner = self.cluster_now(&e.cluster).await?;
                owner.tags = self.api.list_tags(&owner.arn).await.map_err(aws)?;
                if e.cluster != id {
                    return Err(ExecError::Refused(format!(
                        "refusing to delete endpoint {endpoint}: it is on {}, not on {id}",
                        e.cluster
                    )));
                }
                // Retired (or created) by this run, whatever its name is at the moment.
                let ours = owner.tag(tags::RUN) == Some(plan.run_id.as_str())
                    && owner.mitosis_role().is_some();
                if !ours {
                    return Err(ExecError::Refused(format!(
                        "refusing to delete endpoint {endpoint}: the tags of {} do not show that run {} retired or created it",
                        owner.id, plan.run_id
                    )));
                }
                self.api.delete_endpoint(endpoint).await.map_err(aws)?;
                let what = format!("endpoint {endpoint} to be deleted");
                self.poller
                    .wait(
                        &[Watched::Endpoint(endpoint.clone())],
                        expect,
                        &what,
                        &|seen| seen.endpoint(endpoint).is_none(),
                    )
                    .await
                    .map(drop)
            }
            ClusterOp::AddTags { tags } => {
                let c = self.cluster_now(id).await?;
                self.api.add_tags(&c.arn, tags).await.map_err(aws)
            }
            ClusterOp::RemoveTags { keys } => {
                let c = self.cluster_now(id).await?;
                self.api.remove_tags(&c.arn, keys).await.map_err(aws)
            }
            ClusterOp::Delete { final_snapshot_id } => {
                let mut c = self.settle_cluster(id).await?;
                c.tags = self.api.list_tags(&c.arn).await.map_err(aws)?;
                check_cluster_deletable(&c, plan)?;
                self.note_change(&[id]);
                self.while_busy(id, || {
                    self.api.delete_cluster(id, final_snapshot_id.as_deref())
                })
                .await?;
                let what = format!("{id} to be deleted");
                self.poller
                    .wait(
                        &[Watched::Cluster(id.to_string())],
                        expect,
                        &what,
                        &|seen| seen.cluster(id).is_none(),
                    )
                    .await
                    .map(drop)
            }
        }
    }

    async fn modify_cluster(
        &self,
        id: &str,
        m: &ClusterModify,
        expect: Duration,
    ) -> Result<(), ExecError> {
        self.settle_cluster(id).await?;
        self.note_change(&[id]);
        if let Some(new_id) = &m.new_id {
            self.note_change(&[new_id.as_str()]);
        }
        self.while_busy(id, || self.api.modify_cluster(id, m))
            .await?;
        match &m.new_id {
            Some(new_id) => {
                let both = [
                    Watched::Cluster(id.to_string()),
                    Watched::Cluster(new_id.clone()),
                ];
                let what = format!("{id} to be renamed to {new_id}");
                self.poller
                    .wait(&both, expect, &what, &|seen| {
                        seen.cluster(id).is_none()
                            && seen.cluster(new_id).is_some_and(cluster_settled)
                    })
                    .await
                    .map(drop)
            }
            None => {
                let what = format!("{id} to apply its modification");
                self.poller
                    .wait(
                        &[Watched::Cluster(id.to_string())],
                        expect,
                        &what,
                        &|seen| {
                            seen.cluster(id)
                                .is_some_and(|c| m.already_applied(c) && cluster_settled(c))
                        },
                    )
                    .await
                    .map(drop)
            }
        }
    }

    /// The clone's master password from the secret: read now (it may have been rotated since
    /// the plan), announced for masking, set, and waited for until nothing is pending.
    async fn set_password(
        &self,
        cluster: bool,
        id: &str,
        secret: Option<&str>,
        expect: Duration,
    ) -> Result<(), ExecError> {
        let password = match secret {
            Some(secret) => {
                let value = self.api.secret_value(secret).await.map_err(aws)?;
                crate::aws::password_of(&value).map_err(ExecError::Refused)?
            }
            None => random_password()?,
        };
        self.emit(super::Event::Secret(&password));
        if cluster {
            self.settle_cluster(id).await?;
        } else {
            self.settle(id).await?;
        }
        self.note_change(&[id]);
        self.while_busy(id, || self.api.set_master_password(cluster, id, &password))
            .await?;
        let what = format!("{id} to take its new master password");
        if cluster {
            self.cluster_settled_after(id, expect).await.map(drop)?;
        } else {
            self.poller
                .wait(&instance(id), expect, &what, &|seen| {
                    seen.instance(id).is_some_and(settled)
                })
                .await
                .map(drop)?;
        }
        // A copy's new password is handed to whoever asked for the copy (never printed).
        if secret.is_none() {
            if let Ok(mut p) = self.new_password.lock() {
                *p = Some(password.clone());
            }
            self.emit(super::Event::NewPassword {
                resource: id,
                password: &password,
            });
        }
        Ok(())
    }

    /// Makes a change, waiting out and retrying RDS's "busy" refusals a few times (each wait
    /// longer, up to the poll's longest) before giving up: the step fails with the last one.
    async fn while_busy<F, Fut>(&self, what: &str, call: F) -> Result<(), ExecError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<(), crate::error::MitosisError>>,
    {
        let mut delay = self.config.poll.min_tick;
        let mut attempt = 0;
        loop {
            match call().await {
                Err(e) if attempt < BUSY_RETRIES && is_busy(&e) => {
                    tracing::info!("{what}: RDS is busy ({e}); trying again in {delay:?}");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(self.config.poll.max_tick.max(delay));
                    attempt += 1;
                }
                result => return result.map_err(aws),
            }
        }
    }

    /// The check a delete makes, for the step that switches deletion protection off first.
    async fn check_still_deletable(&self, plan: &Plan, step: &Step) -> Result<(), ExecError> {
        let id = step.resource.as_str();
        match &step.op {
            Op::Cluster(_) => {
                let mut c = self.settle_cluster(id).await?;
                c.tags = self.api.list_tags(&c.arn).await.map_err(aws)?;
                check_cluster_deletable(&c, plan)
            }
            _ => {
                let mut inst = self.settle(id).await?;
                inst.tags = self.api.list_tags(&inst.arn).await.map_err(aws)?;
                check_deletable(&inst, plan)
            }
        }
    }

    /// Waits until cluster `id` exists and is settled.
    async fn settle_cluster(&self, id: &str) -> Result<Cluster, ExecError> {
        let last_change = self.changed.lock().ok().and_then(|c| c.get(id).copied());
        if let Some((at, c)) = self.poller.last_seen_cluster(id) {
            if cluster_settled(&c) && last_change.is_none_or(|t| at > t) {
                return Ok(c);
            }
        }
        self.cluster_settled_after(id, Duration::ZERO).await
    }

    async fn cluster_settled_after(
        &self,
        id: &str,
        expect: Duration,
    ) -> Result<Cluster, ExecError> {
        let what = format!("{id} to be available");
        let seen = self
            .poller
            .wait(
                &[Watched::Cluster(id.to_string())],
                expect,
                &what,
                &|seen| seen.cluster(id).is_some_and(cluster_settled),
            )
            .await?;
        Ok(seen.cluster(id).cloned().expect("the wait saw it"))
    }

    /// The cluster as it is now (tags are set by ARN; tagging works in any status).
    async fn cluster_now(&self, id: &str) -> Result<Cluster, ExecError> {
        let what = format!("{id} to exist");
        let seen = self
            .poller
            .wait(
                &[Watched::Cluster(id.to_string())],
                Duration::ZERO,
                &what,
                &|seen| seen.cluster(id).is_some(),
            )
            .await?;
        Ok(seen.cluster(id).cloned().expect("the wait saw it"))
    }
}

/// What a wing's step is given to run (`crate::kinds::RunContext`): the executor's clients,
/// waits and reporters, for that one step.
struct WingContext<'e, 'a> {
    executor: &'e Executor<'a>,
    step: &'e Step,
    run_id: &'e str,
}

#[async_trait::async_trait]
impl crate::kinds::RunContext for WingContext<'_, '_> {
    fn clients(&self) -> Option<crate::kinds::Writes<'_>> {
        self.executor.wings
    }

    fn run_id(&self) -> &str {
        self.run_id
    }

    fn step_timeout(&self) -> Duration {
        self.executor.config.poll.step_timeout
    }

    async fn tick(&self) {
        tokio::time::sleep(self.executor.config.poll.min_tick).await;
    }

    fn progress(&self, message: String) {
        self.executor.emit(super::Event::Progress {
            step: self.step,
            message,
        });
    }
}

impl From<crate::kinds::RunError> for ExecError {
    fn from(e: crate::kinds::RunError) -> Self {
        match e {
            crate::kinds::RunError::Aws(e) => ExecError::Aws(e),
            crate::kinds::RunError::Refused(why) => ExecError::Refused(why),
            crate::kinds::RunError::Timeout { what, after, last } => ExecError::Timeout {
                what,
                after,
                last,
                flag: "--step-timeout",
            },
        }
    }
}

/// A new master password for a copy: 32 letters and digits (RDS refuses `/`, `@`, `"` and
/// spaces), from the operating system's random source.
fn random_password() -> Result<String, ExecError> {
    use std::io::Read;
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut bytes = [0u8; 64];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| ExecError::Refused(format!("no random source for a new password: {e}")))?;
    // 62 symbols: bytes below 248 (4 x 62) map without bias; the others are skipped (that 64
    // bytes leave fewer than 32 usable has odds below 10^-30).
    Ok(bytes
        .iter()
        .filter(|b| **b < 248)
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .take(32)
        .collect())
}

/// Makes the snapshot with `make` unless it exists (a rerun after the call), then waits
/// until it is available.
async fn make_snapshot(
    api: &dyn crate::aws::RdsWrite,
    poller: &super::Poller<'_>,
    of: SnapshotOf,
    snapshot_id: &str,
    expect: Duration,
    make: impl std::future::Future<Output = Result<(), crate::error::MitosisError>>,
) -> Result<(), ExecError> {
    if api
        .describe_snapshot(of, snapshot_id)
        .await
        .map_err(aws)?
        .is_none()
    {
        make.await.map_err(aws)?;
    }
    wait_snapshot(poller, of, snapshot_id, expect).await
}

/// Waits until the snapshot is available (a failed snapshot fails the wait).
async fn wait_snapshot(
    poller: &super::Poller<'_>,
    of: SnapshotOf,
    snapshot_id: &str,
    expect: Duration,
) -> Result<(), ExecError> {
    let watched = [Watched::Snapshot(of, snapshot_id.to_string())];
    let what = format!("snapshot {snapshot_id} to be available");
    poller
        .wait(&watched, expect, &what, &|seen| {
            seen.snapshot(of, snapshot_id)
                .is_some_and(|s| s.status == "available")
        })
        .await
        .map(drop)
}

/// The snapshot, if it still exists, once its tags show that this run took it: the last
/// guard before a snapshot of production is deleted, shared or changed.
async fn own_snapshot(
    api: &dyn crate::aws::RdsWrite,
    of: SnapshotOf,
    snapshot_id: &str,
    run_id: &str,
) -> Result<Option<crate::observed::Snapshot>, ExecError> {
    let Some(mut snap) = api.describe_snapshot(of, snapshot_id).await.map_err(aws)? else {
        return Ok(None);
    };
    snap.tags = api.list_tags(&snap.arn).await.map_err(aws)?;
    let ours =
        snap.tag(tags::ROLE) == Some(tags::ROLE_SNAPSHOT) && snap.tag(tags::RUN) == Some(run_id);
    if ours {
        Ok(Some(snap))
    } else {
        Err(ExecError::Refused(format!(
            "refusing to touch snapshot {snapshot_id}: its tags do not show that this run took it"
        )))
    }
}

/// The last guard before a delete (and before deletion protection comes off for it): the
/// instance's own tags, as AWS reports them right now, must say that this run retired it
/// (old-X) or, on rollback, created it (temp-X); for a destroy, that it is provably the copy
/// of the plan's run (`crate::plan::proof`). The plan says so too; this re-checks.
fn check_deletable(inst: &Instance, plan: &Plan) -> Result<(), ExecError> {
    deletable(plan, &inst.id, &inst.tags, inst.created)
}

/// The same guard for a cluster.
fn check_cluster_deletable(c: &Cluster, plan: &Plan) -> Result<(), ExecError> {
    deletable(plan, &c.id, &c.tags, c.created)
}

fn deletable(
    plan: &Plan,
    id: &str,
    resource_tags: &std::collections::BTreeMap<String, String>,
    created: Option<i64>,
) -> Result<(), ExecError> {
    let run_id = plan.run_id.as_str();
    if crate::plan::proof::is_protected(resource_tags) {
        return Err(ExecError::Refused(format!(
            "refusing to delete {id}: it is tagged {}=true",
            tags::PROTECTED
        )));
    }
    if plan.operation == crate::plan::Operation::Destroy {
        let prefix = plan.copy_prefix.as_deref().unwrap_or_default();
        let found = crate::plan::proof::Found {
            name: id,
            tags: resource_tags,
            created,
        };
        return match crate::plan::proof::copy_refusal(found, prefix, Some(run_id)) {
            None => Ok(()),
            Some(why) => Err(ExecError::Refused(format!(
                "refusing to delete {id}: it is not provably the copy run {run_id} made ({why})"
            ))),
        };
    }
    let tag = |key: &str| resource_tags.get(key).map(String::as_str);
    let marked_name = match tag(tags::ROLE) {
        Some(tags::ROLE_TEMP) => {
            tag(tags::ORIGINAL).map(|o| format!("{}{o}", crate::observed::TEMP_PREFIX))
        }
        Some(tags::ROLE_OLD) => {
            tag(tags::ORIGINAL).map(|o| format!("{}{o}", crate::observed::OLD_PREFIX))
        }
        _ => None,
    };
    if tag(tags::RUN) == Some(run_id) && marked_name.as_deref() == Some(id) {
        Ok(())
    } else {
        Err(ExecError::Refused(format!(
            "refusing to delete {id}: its tags do not show that run {run_id} retired or created it"
        )))
    }
}
