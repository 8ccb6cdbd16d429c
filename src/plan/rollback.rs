//! Rollback before the point of no return: put the original names back, and either discard the
//! clones this run built or keep them for inspection. Pure, like the planner: it plans from
//! what is observed after the failure.

use super::attributes::ModifyAttrs;
use super::ops::{InstanceOp, Op, SnapshotOp};
use super::step::push;
use super::tree::target_nodes;
use super::{ClonePath, Kind, Phase, Plan, StepId, StepKind};
use crate::error::MitosisError;
use crate::observed::{tags, Instance, Observed};

/// What a failed refresh does before the point of no return.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnFailure {
    /// Put the original names back and delete the clones this run built.
    Rollback,
    /// Put the original names back and keep the clones (temp-*) for inspection.
    Keep,
}

impl OnFailure {
    pub const NAMES: [&'static str; 2] = ["rollback", "keep"];

    pub fn as_str(self) -> &'static str {
        match self {
            OnFailure::Rollback => "rollback",
            OnFailure::Keep => "keep",
        }
    }
}

impl std::str::FromStr for OnFailure {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "rollback" => Ok(OnFailure::Rollback),
            "keep" => Ok(OnFailure::Keep),
            other => Err(format!("{other:?} is not valid: use rollback or keep")),
        }
    }
}

/// Steps that restore the target tree's original names from the observed state: swapped-in
/// clones go back to temp-X, retired originals back to X, retirement markers come off; then,
/// with `OnFailure::Rollback`, the clones of this run are deleted (replicas first).
pub fn rollback(
    obs: &Observed,
    source: &str,
    target: &str,
    run_id: &str,
    on_failure: OnFailure,
) -> Result<Plan, MitosisError> {
    if super::cluster::is_cluster_target(obs, target) {
        return super::cluster::rollback_cluster(obs, source, target, run_id, on_failure);
    }
    let nodes = target_nodes(obs, target)?;
    let mut steps = Vec::new();
    let mut add = |id: StepId, resource: &str, op: InstanceOp, deps: Vec<StepId>| {
        push(
            &mut steps,
            id,
            Phase::Rollback,
            resource,
            Op::Instance(op),
            deps,
            None,
        )
    };
    let ours = |i: &Instance| i.tag(tags::RUN) == Some(run_id);

    let mut unswapped = Vec::new();
    for node in nodes.iter().rev() {
        if node.swapped() && node.replacement.as_ref().is_some_and(ours) {
            unswapped.push(add(
                StepId::new(StepKind::Unswap, &node.name),
                &node.name,
                InstanceOp::Modify(ModifyAttrs::rename(&node.temp())),
                Vec::new(),
            ));
        }
    }
    for node in nodes.iter().rev() {
        let Some(original) = &node.original else {
            continue;
        };
        if !original.is_marked(tags::ROLE_OLD, &node.name) || !ours(original) {
            continue;
        }
        let mut deps = unswapped.clone();
        if original.id == node.old() {
            deps = vec![add(
                StepId::new(StepKind::Unretire, &node.name),
                &node.old(),
                InstanceOp::Modify(ModifyAttrs::rename(&node.name)),
                deps,
            )];
        }
        add(
            StepId::new(StepKind::UnmarkOld, &node.name),
            &node.name,
            InstanceOp::RemoveTags {
                keys: tags::MARKERS.iter().map(|k| k.to_string()).collect(),
            },
            deps,
        );
    }
    if on_failure == OnFailure::Rollback {
        let mut discarded: Vec<(String, StepId)> = Vec::new();
        for node in nodes.iter().rev() {
            let Some(clone) = &node.replacement else {
                continue;
            };
            if !clone.is_marked(tags::ROLE_TEMP, &node.name) || !ours(clone) {
                continue;
            }
            // Replicas first: deleting a primary would promote them mid-rollback.
            let deps = node
                .children
                .iter()
                .filter_map(|c| discarded.iter().find(|(n, _)| n == c))
                .map(|(_, id)| id.clone())
                .chain(unswapped.iter().cloned())
                .collect();
            let id = add(
                StepId::new(StepKind::Discard, &node.temp()),
                &node.temp(),
                InstanceOp::Delete {
                    final_snapshot_id: None,
                },
                deps,
            );
            discarded.push((node.name.clone(), id));
        }
        discard_fresh_snapshots(&mut steps, obs, target, run_id, Op::Snapshot);
    }
    Ok(Plan {
        source: source.to_string(),
        target: target.to_string(),
        kind: Kind::Instance,
        path: ClonePath::Replica,
        run_id: run_id.to_string(),
        resuming: true,
        steps,
        eta: None,
        notes: Vec::new(),
        accounts: super::planner::accounts(obs),
        operation: super::Operation::Refresh,
        copy_prefix: None,
        more: Vec::new(),
        protected_targets: Vec::new(),
    })
}

/// The fresh snapshot this run took goes too (a kept clone keeps it: a rerun resumes with
/// both). `op` wraps the delete for the snapshot's kind.
pub(super) fn discard_fresh_snapshots(
    steps: &mut Vec<super::Step>,
    obs: &Observed,
    target: &str,
    run_id: &str,
    op: fn(SnapshotOp) -> Op,
) {
    // In a cross-account refresh the source account holds the fresh and transfer snapshots
    // (deleting a shared snapshot ends its sharing too), the target account its import.
    let accounts = [(&obs.snapshots, super::Account::Target)]
        .into_iter()
        .chain(
            obs.source_account
                .as_ref()
                .map(|src| (&src.snapshots, super::Account::Source)),
        );
    for (snapshots, account) in accounts {
        let fresh = snapshots
            .iter()
            .filter(|s| s.is_fresh_for(target) && s.tag(tags::RUN) == Some(run_id));
        for snap in fresh {
            push(
                steps,
                StepId::new(StepKind::DeleteSnapshot, &snap.id),
                Phase::Rollback,
                &snap.id,
                op(SnapshotOp::Delete {
                    snapshot_id: snap.id.clone(),
                }),
                Vec::new(),
                None,
            );
            if let Some(step) = steps.last_mut() {
                step.account = account;
            }
        }
    }
}
