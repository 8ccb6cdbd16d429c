//! Rollback before the point of no return: put the original names back, and either discard the
//! clones this run built or keep them for inspection. Pure, like the planner: it plans from
//! what is observed after the failure.

use super::builder::accounts;
use super::cluster::cluster_nodes;
use crate::error::MitosisError;
use crate::observed::{tags, Cluster, Instance, Observed};
use crate::plan::attributes::ModifyAttrs;
use crate::plan::cluster_attributes::ClusterModify;
use crate::plan::kind::{ClonePath, Kind};
use crate::plan::model::{Operation, Part, Plan};
use crate::plan::ops::{ClusterOp, InstanceOp, Op, SnapshotOp};
use crate::plan::step::{push, Phase, StepId, StepKind};
use crate::plan::tree::target_nodes;

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
        return rollback_cluster(obs, source, target, run_id, on_failure);
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
        resuming: true,
        accounts: accounts(obs),
        ..Plan::new(
            Operation::Refresh,
            Part {
                source: source.to_string(),
                target: target.to_string(),
                kind: Kind::Instance,
                path: ClonePath::Replica,
            },
            run_id.to_string(),
            steps,
        )
    })
}

/// The fresh snapshot this run took goes too (a kept clone keeps it: a rerun resumes with
/// both). `op` wraps the delete for the snapshot's kind.
pub(in crate::plan) fn discard_fresh_snapshots(
    steps: &mut Vec<crate::plan::Step>,
    obs: &Observed,
    target: &str,
    run_id: &str,
    op: fn(SnapshotOp) -> Op,
) {
    // In a cross-account refresh the source account holds the fresh and transfer snapshots
    // (deleting a shared snapshot ends its sharing too), the target account its import.
    let accounts = [(&obs.snapshots, crate::plan::Account::Target)]
        .into_iter()
        .chain(
            obs.source_account
                .as_ref()
                .map(|src| (&src.snapshots, crate::plan::Account::Source)),
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

/// Rollback of a cluster refresh before the point of no return, as for instances: swapped-in
/// clones (cluster and members) go back to temp-*, retired originals back to their names, the
/// retirement markers come off; with `OnFailure::Rollback`, this run's clone members and then
/// its cluster are deleted, and its fresh cluster snapshot.
pub(in crate::plan) fn rollback_cluster(
    obs: &Observed,
    source: &str,
    target: &str,
    run_id: &str,
    on_failure: crate::plan::OnFailure,
) -> Result<Plan, MitosisError> {
    use crate::plan::step::push;
    let nodes = cluster_nodes(obs, target)?;
    let mut steps = Vec::new();
    let keys: Vec<String> = tags::MARKERS.iter().map(|k| k.to_string()).collect();
    let ours_cluster = |c: &Cluster| c.tag(tags::RUN) == Some(run_id);
    let ours = |i: &Instance| i.tag(tags::RUN) == Some(run_id);
    let add = |steps: &mut Vec<_>, id: StepId, resource: &str, op: Op, deps: Vec<StepId>| {
        push(steps, id, Phase::Rollback, resource, op, deps, None)
    };

    // Endpoints moved to this run's clone leave it first (their names are unique).
    let mut dropped = Vec::new();
    if let Some(r) = nodes
        .cluster
        .replacement
        .as_ref()
        .filter(|r| ours_cluster(r))
    {
        for e in &r.endpoints {
            dropped.push(add(
                &mut steps,
                StepId::new(StepKind::DropEndpoint, &e.id),
                &r.id,
                Op::Cluster(ClusterOp::DeleteEndpoint {
                    endpoint: e.id.clone(),
                }),
                Vec::new(),
            ));
        }
    }
    // The cluster.
    let mut unswapped = Vec::new();
    if nodes.cluster.swapped() && nodes.cluster.replacement.as_ref().is_some_and(ours_cluster) {
        unswapped.push(add(
            &mut steps,
            StepId::new(StepKind::Unswap, &nodes.cluster.name),
            &nodes.cluster.name,
            Op::Cluster(ClusterOp::Modify(ClusterModify::rename(
                &nodes.cluster.temp(),
            ))),
            dropped.clone(),
        ));
    }
    if let Some(o) = nodes
        .cluster
        .original
        .as_ref()
        .filter(|o| o.is_marked(tags::ROLE_OLD, &nodes.cluster.name) && ours_cluster(o))
    {
        let mut deps = unswapped.clone();
        if o.id == nodes.cluster.old() {
            deps = vec![add(
                &mut steps,
                StepId::new(StepKind::Unretire, &nodes.cluster.name),
                &nodes.cluster.old(),
                Op::Cluster(ClusterOp::Modify(ClusterModify::rename(
                    &nodes.cluster.name,
                ))),
                deps,
            )];
        }
        // Endpoints that left the original come back to it, from the recorded definitions.
        let mut back = Vec::new();
        for e in nodes
            .endpoints
            .iter()
            .filter(|e| !o.endpoints.iter().any(|x| x.id == e.id))
        {
            let mut endpoint = e.clone();
            endpoint.cluster = String::new();
            endpoint.status = String::new();
            back.push(add(
                &mut steps,
                StepId::new(StepKind::Endpoint, &e.id),
                &nodes.cluster.name,
                Op::Cluster(ClusterOp::CreateEndpoint { endpoint }),
                deps.iter().chain(dropped.iter()).cloned().collect(),
            ));
        }
        let mut unmark = keys.clone();
        unmark.extend(
            o.tags
                .keys()
                .filter(|k| k.starts_with(tags::ENDPOINT_PREFIX))
                .cloned(),
        );
        deps.extend(back);
        add(
            &mut steps,
            StepId::new(StepKind::UnmarkOld, &nodes.cluster.name),
            &nodes.cluster.name,
            Op::Cluster(ClusterOp::RemoveTags { keys: unmark }),
            deps,
        );
    }
    // Each member.
    let mut member_unswaps = Vec::new();
    for m in &nodes.members {
        let mut deps = Vec::new();
        if m.swapped() && m.replacement.as_ref().is_some_and(ours) {
            deps.push(add(
                &mut steps,
                StepId::new(StepKind::Unswap, &m.name),
                &m.name,
                Op::Instance(InstanceOp::Modify(crate::plan::ModifyAttrs::rename(
                    &m.temp(),
                ))),
                Vec::new(),
            ));
            member_unswaps.extend(deps.clone());
        }
        let Some(o) = m
            .original
            .as_ref()
            .filter(|o| o.is_marked(tags::ROLE_OLD, &m.name) && ours(o))
        else {
            continue;
        };
        if o.id == m.old() {
            deps = vec![add(
                &mut steps,
                StepId::new(StepKind::Unretire, &m.name),
                &m.old(),
                Op::Instance(InstanceOp::Modify(crate::plan::ModifyAttrs::rename(
                    &m.name,
                ))),
                deps,
            )];
        }
        add(
            &mut steps,
            StepId::new(StepKind::UnmarkOld, &m.name),
            &m.name,
            Op::Instance(InstanceOp::RemoveTags { keys: keys.clone() }),
            deps,
        );
    }
    if on_failure == crate::plan::OnFailure::Rollback {
        let mut discarded: Vec<StepId> = Vec::new();
        for m in &nodes.members {
            let is_ours = m
                .replacement
                .as_ref()
                .is_some_and(|c| c.is_marked(tags::ROLE_TEMP, &m.name) && ours(c));
            if !is_ours {
                continue;
            }
            discarded.push(add(
                &mut steps,
                StepId::new(StepKind::Discard, &m.temp()),
                &m.temp(),
                Op::Instance(InstanceOp::Delete {
                    final_snapshot_id: None,
                }),
                member_unswaps.clone(),
            ));
        }
        let clone_is_ours =
            nodes.cluster.replacement.as_ref().is_some_and(|c| {
                c.is_marked(tags::ROLE_TEMP, &nodes.cluster.name) && ours_cluster(c)
            });
        if clone_is_ours {
            // Aurora deletes a cluster only once its members are gone.
            discarded.extend(unswapped.iter().cloned());
            add(
                &mut steps,
                StepId::new(StepKind::Discard, &nodes.cluster.temp()),
                &nodes.cluster.temp(),
                Op::Cluster(ClusterOp::Delete {
                    final_snapshot_id: None,
                }),
                discarded,
            );
        }
        super::rollback::discard_fresh_snapshots(
            &mut steps,
            obs,
            target,
            run_id,
            Op::ClusterSnapshot,
        );
    }
    Ok(Plan {
        resuming: true,
        accounts: accounts(obs),
        ..Plan::new(
            Operation::Refresh,
            Part {
                source: source.to_string(),
                target: target.to_string(),
                kind: Kind::Cluster,
                path: ClonePath::Clone,
            },
            run_id.to_string(),
            steps,
        )
    })
}
