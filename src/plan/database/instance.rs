//! Refreshing a tree of DB instances: the clone tree built (replica, snapshot restore or
//! point in time), each instance retired and swapped by name, the old tree deleted.
//!
//! Resuming is planning again against what is observed. The tool tags what it creates
//! (`stack-mitosis:role=temp`) and what it retires (`role=old`), with the target-tree name each
//! belongs to; tags follow renames, so every step can tell whether it is already done.

use super::builder::{accounts, accounts_note, in_account, managed_password_note, Builder};
use super::handover::hand_over;
use crate::error::MitosisError;
use crate::observed::{tags, Instance, Observed};
use crate::plan::attributes::{CreateAttrs, ModifyAttrs};
use crate::plan::kind::{ClonePath, Kind};
use crate::plan::lock::with_lock;
use crate::plan::model::{Operation, Part, Plan};
use crate::plan::names::final_snapshot_id;
use crate::plan::ops::{GuardOp, InstanceOp, LockOp, Op, SnapshotOf};
use crate::plan::request::{PlanRequest, SourceTime};
use crate::plan::step::{Phase, StepId, StepKind};
use crate::plan::tree::{target_nodes, Node};
use crate::plan::validate::{
    check_available, check_engines, check_names, check_not_protected, check_restorable,
    reject_cluster_member, run_of, runs_of, validate_identifier,
};

/// The refresh of an instance tree.
pub(in crate::plan) fn plan_instances(
    obs: &Observed,
    req: &PlanRequest,
) -> Result<Plan, MitosisError> {
    validate_identifier("--source", &req.source)?;
    validate_identifier("--target", &req.target)?;
    let cross = obs.source_account.is_some();
    if req.source == req.target && !cross {
        return Err(MitosisError::bad_input(format!(
            "--source and --target are both {:?}: the target must be a different instance",
            req.source
        )));
    }
    let src = obs.source_view();
    let source = src.get(&req.source).ok_or_else(|| {
        MitosisError::bad_input(format!(
            "source instance {:?} was not found in {}{}: check --source and the region",
            req.source,
            src.account.region,
            in_account(obs)
        ))
    })?;
    reject_cluster_member(source, "source")?;

    let source_root = src.root_of(&req.source);
    let source_tree = src.tree(&source_root);
    let target_is_clone = obs
        .get(&req.target)
        .is_some_and(|t| t.is_marked(tags::ROLE_TEMP, &req.target));
    if !cross && source_tree.contains(&req.target) && !target_is_clone {
        return Err(MitosisError::bad_input(format!(
            "source {:?} and target {:?} are in one replica tree (root {source_root:?}): the target tree is replaced and the source tree must stay untouched, so pick a target outside the source's tree",
            req.source, req.target
        )));
    }
    let nodes = target_nodes(obs, &req.target)?;
    for node in &nodes {
        reject_cluster_member(node.attributes(), "target-tree")?;
        check_names(obs, node)?;
        if let Some(o) = &node.original {
            check_not_protected(&o.id, &o.tags)?;
        }
    }
    let (run_id, resuming) = run_of(
        runs_of(&nodes),
        obs.own_snapshots(),
        &req.target,
        &req.run_id,
    )?;
    let root = &nodes[0];
    check_engines(source, root.attributes())?;
    let hand_over = hand_over(
        obs,
        req,
        source.storage_encrypted,
        root.attributes().kms_key_id.as_deref(),
    )?;
    if !resuming {
        check_available(source, "source")?;
        for node in &nodes {
            check_available(node.attributes(), "target-tree")?;
        }
    }

    let path = instance_path(req, source, root.attributes(), cross, resuming)?;

    let mut b = Builder {
        steps: Vec::new(),
        req,
        run_id: run_id.clone(),
        snapshots_of: SnapshotOf::Instance,
        hand_over,
        clone_role: tags::ROLE_TEMP,
        copy_tags: Vec::new(),
    };
    let built = b.clone_phase(obs, &nodes, path, source)?;
    let swapped = b.swap_phases(&nodes, built);
    b.cleanup_phase(&nodes, swapped);

    let mut notes = managed_password_note(
        &req.target,
        root.attributes().managed_secret.as_deref(),
        req,
    );
    notes.extend(accounts_note(obs));
    let plan = Plan {
        resuming,
        notes,
        accounts: accounts(obs),
        ..Plan::new(
            Operation::Refresh,
            Part {
                source: req.source.clone(),
                target: req.target.clone(),
                kind: Kind::Instance,
                path,
            },
            run_id,
            b.steps,
        )
    };
    // The lock is the invocation's own, even when it resumes an earlier run (see `LockOp`).
    Ok(with_lock(plan, &req.run_id))
}

/// How the root clone is made for a refresh or a copy: restored to a moment
/// (`--source-time`, the moment checked against the source's window unless resuming), restored
/// from a snapshot (handed over from another account, asked for, or into the target's other
/// VPC), or as a read replica of the source, promoted.
pub(in crate::plan) fn instance_path(
    req: &PlanRequest,
    source: &Instance,
    target: &Instance,
    handed_over: bool,
    resuming: bool,
) -> Result<ClonePath, MitosisError> {
    Ok(if let Some(time) = req.source_time {
        if !resuming {
            check_restorable(source, time)?;
        }
        ClonePath::PointInTime
    } else if handed_over || req.snapshot_path || source.vpc_id != target.vpc_id {
        ClonePath::Snapshot
    } else {
        ClonePath::Replica
    })
}

/// Why a step on a clone is already done: it has been swapped in, or `done` says so.
fn clone_skip(node: &Node, done: impl FnOnce(&Instance) -> Option<String>) -> Option<String> {
    match &node.replacement {
        Some(c) if node.swapped() => Some(format!("already swapped in as {}", c.id)),
        Some(c) => done(c),
        None => None,
    }
}

impl Builder<'_> {
    /// Create temp-X for every X, parents first, each with X's attributes. Returns, by node,
    /// the step after which each clone is complete.
    pub(in crate::plan) fn clone_phase(
        &mut self,
        obs: &Observed,
        nodes: &[Node],
        path: ClonePath,
        source: &Instance,
    ) -> Result<Vec<StepId>, MitosisError> {
        let mut configured: Vec<StepId> = Vec::new();
        for (i, node) in nodes.iter().enumerate() {
            let is_root = i == 0;
            // A restore (from a snapshot or to a point in time) takes the attributes a replica
            // cannot be given, and those only a modify can set afterwards.
            let restore = is_root && matches!(path, ClonePath::Snapshot | ClonePath::PointInTime);
            // The root's data comes from the source; every other clone's from its parent's.
            let parent_clone = node
                .parent
                .as_ref()
                .and_then(|p| nodes.iter().position(|n| &n.name == p))
                .map(|p| (nodes[p].temp(), configured[p].clone()));
            let created = match (restore, self.req.source_time) {
                (true, Some(time)) => self.point_in_time_step(node, source, time),
                (true, None) => self.restore_step(obs, node, source)?,
                (false, _) => self.replica_step(node, parent_clone),
            };
            let ready = if is_root && path == ClonePath::Replica {
                self.promote_step(node, created)
            } else {
                created
            };
            configured.push(self.configure_step(node, is_root, restore, ready));
        }
        Ok(configured)
    }

    fn clone_attrs(&self, node: &Node, restore: bool) -> CreateAttrs {
        let x = node.attributes();
        CreateAttrs::from_instance(x, self.clone_tags(x.user_tags(), &node.name), restore)
    }

    fn create_skip(&self, node: &Node) -> Option<String> {
        clone_skip(node, |c| {
            Some(format!("{} exists (created by run {})", c.id, self.run_id))
        })
    }

    /// temp-X as a read replica of the source (the root) or of its parent's clone.
    fn replica_step(&mut self, node: &Node, parent_clone: Option<(String, StepId)>) -> StepId {
        let (source, deps) = match parent_clone {
            Some((temp_parent, configured)) => (temp_parent, vec![configured]),
            None => (self.req.source.clone(), Vec::new()),
        };
        let op = InstanceOp::CreateReadReplica {
            source,
            attrs: self.clone_attrs(node, false),
        };
        let skip = self.create_skip(node);
        let temp = node.temp();
        self.push(
            StepId::new(StepKind::Create, &temp),
            Phase::Clone,
            &temp,
            Op::Instance(op),
            deps,
            skip,
        )
    }

    /// The root clone restored from the source's automated backups as of `time`.
    fn point_in_time_step(&mut self, node: &Node, source: &Instance, time: SourceTime) -> StepId {
        let op = InstanceOp::RestoreToPointInTime {
            source: source.id.clone(),
            time,
            attrs: self.clone_attrs(node, true),
        };
        let skip = self.create_skip(node);
        let temp = node.temp();
        self.push(
            StepId::new(StepKind::Create, &temp),
            Phase::Clone,
            &temp,
            Op::Instance(op),
            Vec::new(),
            skip,
        )
    }

    /// The root clone restored from a snapshot of the source (taken first when fresh).
    fn restore_step(
        &mut self,
        obs: &Observed,
        node: &Node,
        source: &Instance,
    ) -> Result<StepId, MitosisError> {
        let skip = self.create_skip(node);
        let restore_done = skip.is_some();
        let restorable = self.snapshot_to_restore(obs, &source.id, restore_done)?;
        let op = InstanceOp::RestoreFromSnapshot {
            snapshot_id: restorable.snapshot_id.clone(),
            attrs: self.clone_attrs(node, true),
        };
        let temp = node.temp();
        let restored = self.push(
            StepId::new(StepKind::Create, &temp),
            Phase::Clone,
            &temp,
            Op::Instance(op),
            restorable.after.clone().into_iter().collect(),
            skip,
        );
        self.release_restored(obs, restorable, restored.clone(), restore_done);
        Ok(restored)
    }

    /// Detach the root clone from the source: a PostgreSQL replica cannot have replicas of
    /// its own, and the clone must stop following production.
    fn promote_step(&mut self, node: &Node, created: StepId) -> StepId {
        let skip = clone_skip(node, |c| {
            c.replica_source
                .is_none()
                .then(|| format!("{} is already a standalone primary", c.id))
        });
        let temp = node.temp();
        self.push(
            StepId::new(StepKind::Promote, &temp),
            Phase::Clone,
            &temp,
            Op::Instance(InstanceOp::PromoteReadReplica),
            vec![created],
            skip,
        )
    }

    /// X's attributes that can only be set after creation.
    fn configure_step(
        &mut self,
        node: &Node,
        is_root: bool,
        restore: bool,
        ready: StepId,
    ) -> StepId {
        let modify = ModifyAttrs::post_create(
            node.attributes(),
            is_root,
            !node.children.is_empty(),
            restore,
        );
        let skip = clone_skip(node, |c| {
            modify
                .already_applied(c)
                .then(|| format!("{} already has these attributes", c.id))
        });
        let temp = node.temp();
        self.push(
            StepId::new(StepKind::Configure, &temp),
            Phase::Clone,
            &temp,
            Op::Instance(InstanceOp::Modify(modify)),
            vec![ready],
            skip,
        )
    }

    /// Retire every X to old-X, then swap every temp-X in as X; children before parents, as
    /// the refresh procedure orders them. Returns the swap steps.
    fn swap_phases(&mut self, nodes: &[Node], built: Vec<StepId>) -> Vec<StepId> {
        let started = nodes.iter().any(|n| n.retired() || n.swapped());
        let prepared = nodes[0]
            .replacement
            .as_ref()
            .is_some_and(|c| c.tag(tags::PREPARED) == Some(self.run_id.as_str()));
        let root = &nodes[0];
        let password_set = root
            .replacement
            .as_ref()
            .is_some_and(|c| c.tag(tags::PASSWORD) == Some(self.run_id.as_str()));
        let built = self.password_steps(
            &root.temp(),
            started || password_set,
            |secret| {
                Op::Instance(InstanceOp::SetPassword {
                    secret: Some(secret),
                })
            },
            |tags| Op::Instance(InstanceOp::AddTags { tags }),
            built,
        );
        let mark_prepared = |tags| Op::Instance(InstanceOp::AddTags { tags });
        let clone_done =
            self.prepare_steps(&nodes[0].temp(), started, prepared, mark_prepared, built);
        let guard = GuardOp {
            originals: nodes
                .iter()
                .map(|n| {
                    let rid = n.original.as_ref().and_then(|o| o.resource_id.clone());
                    (n.name.clone(), rid)
                })
                .collect(),
            clones: nodes.iter().map(Node::temp).collect(),
            replicas: nodes
                .iter()
                .filter(|n| n.parent.is_some())
                .map(Node::temp)
                .collect(),
        };
        let clone_done = vec![self.push(
            StepId::new(StepKind::Guard, &self.req.target.clone()),
            Phase::Prepare,
            &self.req.target.clone(),
            Op::Guard(guard),
            clone_done,
            started.then(|| "the swap has already begun".to_string()),
        )];
        let retired: Vec<StepId> = nodes
            .iter()
            .rev()
            .map(|node| self.retire_steps(node, clone_done.clone()))
            .collect();
        let mut swaps: Vec<StepId> = nodes
            .iter()
            .rev()
            .zip(retired)
            .map(|(node, retire)| {
                let skip = node
                    .swapped()
                    .then(|| format!("{} already swapped in as {}", node.temp(), node.name));
                self.push(
                    StepId::new(StepKind::Swap, &node.name),
                    Phase::Swap,
                    &node.temp(),
                    Op::Instance(InstanceOp::Modify(ModifyAttrs::rename(&node.name))),
                    vec![retire],
                    skip,
                )
            })
            .collect();
        // Parents first, like the nodes.
        swaps.reverse();
        swaps
    }

    /// The restart command, then (only after it succeeded) the deletes of old-* and the
    /// removal of the tool's markers.
    fn cleanup_phase(&mut self, nodes: &[Node], swaps: Vec<StepId>) {
        let cleanup_started = nodes.iter().any(|n| n.original.is_none());
        let gate = self.restart_step(cleanup_started, swaps);
        let mut deleted: Vec<(String, StepId)> = Vec::new();
        for node in nodes.iter().rev() {
            let id = self.delete_steps(node, gate.clone(), &deleted);
            deleted.push((node.name.clone(), id));
        }
        let all_deletes: Vec<StepId> = nodes
            .iter()
            .filter_map(|n| deleted.iter().find(|(name, _)| name == &n.name))
            .map(|(_, id)| id.clone())
            .collect();
        // The root's markers go last: while they remain, a rerun knows the whole tree is new.
        let mut unmarked = Vec::new();
        for node in nodes.iter().rev() {
            let has_markers = node
                .replacement
                .as_ref()
                .is_none_or(|c| c.tags.keys().any(|k| k.starts_with(tags::PREFIX)));
            let skip = (!has_markers).then(|| format!("{} has no markers left", node.name));
            let mut deps = all_deletes.clone();
            if node.parent.is_none() {
                deps.extend(unmarked.iter().cloned());
            }
            let keys = tags::MARKERS.iter().map(|k| k.to_string()).collect();
            unmarked.push(self.push(
                StepId::new(StepKind::Unmark, &node.name),
                Phase::Cleanup,
                &node.name,
                Op::Instance(InstanceOp::RemoveTags { keys }),
                deps,
                skip,
            ));
        }
    }

    /// Deletes old-X after `gate`, and after the deletes of its replicas (`deleted`, by
    /// target-tree name); with deletion protection, the new X takes it over first.
    fn delete_steps(
        &mut self,
        node: &Node,
        gate: Vec<StepId>,
        deleted: &[(String, StepId)],
    ) -> StepId {
        let mut delete_deps = gate.clone();
        if node.parent.is_none() && node.original.is_some() {
            // The old root carries the lock: the new root takes it over first.
            let op = Op::Lock(LockOp::Move {
                holder: self.req.run_id.clone(),
            });
            delete_deps.push(self.push(
                StepId::new(StepKind::MoveLock, &node.name),
                Phase::Cleanup,
                &node.name,
                op,
                gate.clone(),
                None,
            ));
        }
        let protected = node
            .original
            .as_ref()
            .is_some_and(|o| o.deletion_protection)
            || node
                .replacement
                .as_ref()
                .is_some_and(|c| c.deletion_protection);
        if protected {
            delete_deps.push(self.protection_steps(node, gate));
        }
        // Replicas go first: deleting a primary promotes its replicas, which would then be
        // busy when their own delete arrives.
        delete_deps.extend(node.children.iter().filter_map(|child| {
            deleted
                .iter()
                .find(|(name, _)| name == child)
                .map(|(_, id)| id.clone())
        }));
        let skip = node
            .original
            .is_none()
            .then(|| format!("{} already deleted", node.old()));
        let op = InstanceOp::Delete {
            final_snapshot_id: self
                .req
                .final_snapshot
                .then(|| final_snapshot_id(&node.old(), &self.run_id)),
        };
        self.push(
            StepId::new(StepKind::Delete, &node.old()),
            Phase::Cleanup,
            &node.old(),
            Op::Instance(op),
            delete_deps,
            skip,
        )
    }

    /// The new X ends with X's own protection; it is set before old-X loses it, so the value
    /// survives in one of them whenever a run is interrupted. Returns the unprotect step.
    fn protection_steps(&mut self, node: &Node, gate: Vec<StepId>) -> StepId {
        let skip = node
            .replacement
            .as_ref()
            .is_some_and(|c| c.deletion_protection)
            .then(|| format!("{} is already protected", node.name));
        let protect = self.push(
            StepId::new(StepKind::Protect, &node.name),
            Phase::Cleanup,
            &node.name,
            Op::Instance(InstanceOp::Modify(ModifyAttrs::deletion_protection(true))),
            gate,
            skip,
        );
        let skip = match &node.original {
            None => Some(format!("{} already deleted", node.old())),
            Some(o) if !o.deletion_protection => {
                Some(format!("{} is already unprotected", node.old()))
            }
            Some(_) => None,
        };
        self.push(
            StepId::new(StepKind::Unprotect, &node.old()),
            Phase::Cleanup,
            &node.old(),
            Op::Instance(InstanceOp::Modify(ModifyAttrs::deletion_protection(false))),
            vec![protect],
            skip,
        )
    }
}
