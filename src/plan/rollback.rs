//! Rollback before the point of no return: put the original names back, and either discard the
//! clones this run built or keep them for inspection. Pure, like the planner: it plans from
//! what is observed after the failure.

use super::attributes::ModifyAttrs;
use super::planner::target_nodes;
use super::{ClonePath, Op, Phase, Plan, Step};
use crate::error::MitosisError;
use crate::model::{tags, Observed};

/// What a failed refresh does before the point of no return.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnFailure {
    /// Put the original names back and delete the clones this run built.
    Rollback,
    /// Put the original names back and keep the clones (temp-*) for inspection.
    Keep,
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
    let nodes = target_nodes(obs, target)?;
    let mut steps = Vec::new();
    let mut push = |id: String, instance: String, op: Op, depends_on: Vec<String>| {
        steps.push(Step {
            id: id.clone(),
            phase: Phase::Retire,
            instance,
            op,
            depends_on,
            skip: None,
        });
        id
    };
    let ours = |i: &crate::model::Instance| i.tag(tags::RUN) == Some(run_id);

    let mut unswapped = Vec::new();
    for node in nodes.iter().rev() {
        if node.swapped() && node.clone.as_ref().is_some_and(ours) {
            unswapped.push(push(
                format!("unswap-{}", node.name),
                node.name.clone(),
                Op::ModifyDBInstance(ModifyAttrs::rename(&node.temp())),
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
            deps = vec![push(
                format!("unretire-{}", node.name),
                node.old(),
                Op::ModifyDBInstance(ModifyAttrs::rename(&node.name)),
                deps,
            )];
        }
        push(
            format!("unmark-old-{}", node.name),
            node.name.clone(),
            Op::RemoveTagsFromResource {
                keys: tags::MARKERS.iter().map(|k| k.to_string()).collect(),
            },
            deps,
        );
    }
    if on_failure == OnFailure::Rollback {
        let mut discarded: Vec<String> = Vec::new();
        for node in nodes.iter().rev() {
            let Some(clone) = &node.clone else { continue };
            if !clone.is_marked(tags::ROLE_TEMP, &node.name) || !ours(clone) {
                continue;
            }
            let deps = node
                .children
                .iter()
                .map(|c| format!("discard-temp-{c}"))
                .filter(|id| discarded.contains(id))
                .chain(unswapped.iter().cloned())
                .collect();
            discarded.push(push(
                format!("discard-{}", node.temp()),
                node.temp(),
                Op::DeleteDBInstance {
                    final_snapshot_id: None,
                },
                deps,
            ));
        }
    }
    Ok(Plan {
        source: source.to_string(),
        target: target.to_string(),
        path: ClonePath::Replica,
        run_id: run_id.to_string(),
        resuming: true,
        steps,
        eta: None,
    })
}
