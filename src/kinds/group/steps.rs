//! Where the group steps go in a plan: the target's groups in standby from just before the
//! first retire until right after the restart command, `--quiesce-source`'s source groups in
//! standby while its fresh snapshot is taken, and a rollback's way back. Pure.

use super::op::GroupOp;
use super::record::Recorded;
use super::Observed;
use crate::config::EnvSpec;
use crate::error::MitosisError;
use crate::plan::milestones::{depend, ids, place, Milestones};
use crate::plan::ops::{LockOp, Wing};
use crate::plan::{push_step as push, Op, Phase, Plan, Step, StepId, StepKind};

fn recorded(env: &Observed, group: &str) -> Option<Recorded> {
    env.groups
        .get(group)
        .and_then(|g| Recorded::from_tags(&g.tags))
}

/// A refresh's groups. The target's go into standby after the guardrails (or, with none,
/// once the clones exist and the buckets `synced`), before every retire, and come back right
/// after the restart command; the source's (`--quiesce-source`) around its fresh snapshot.
pub fn refresh(
    plan: &mut Plan,
    spec: &EnvSpec,
    env: &Observed,
    at: &Milestones,
    synced: &[StepId],
) -> Result<(), MitosisError> {
    let before_standby = if at.guarded.is_empty() {
        [at.cloned.clone(), synced.to_vec()].concat()
    } else {
        at.guarded.clone()
    };
    let standbys = around(
        plan,
        &spec.target_groups,
        env,
        (before_standby, at.restarted.clone()),
        (Phase::Retire, Phase::Restart),
        (!at.retire_pending).then_some("the target was retired already"),
    );
    depend(plan, &standbys, |s| {
        matches!(s.id.kind, StepKind::Mark | StepKind::Retire)
    });

    // The source's groups: in standby while its fresh snapshot is taken.
    if !spec.source_groups.is_empty() {
        if at.snapshot.is_empty() {
            return Err(MitosisError::bad_input(
                "--quiesce-source puts the source's application in standby while a fresh snapshot is taken: give --snapshot fresh too",
            ));
        }
        let quiesced = around(
            plan,
            &spec.source_groups,
            env,
            (at.locked.clone(), at.snapshot.clone()),
            (Phase::Clone, Phase::Clone),
            at.snapshot_taken
                .then_some("the source's snapshot was taken already"),
        );
        depend(plan, &quiesced, |s| s.id.kind == StepKind::Snapshot);
    }

    // The flight plan reads in the order things happen: each new step where it runs.
    let is = |kind: StepKind, phase: Phase| move |s: &Step| s.id.kind == kind && s.phase == phase;
    place(
        plan,
        is(StepKind::Standby, Phase::Retire),
        |s| s.phase == Phase::Retire,
        false,
    );
    place(
        plan,
        is(StepKind::InService, Phase::Restart),
        |s| matches!(s.id.kind, StepKind::Restart | StepKind::Swap),
        true,
    );
    place(
        plan,
        is(StepKind::Standby, Phase::Clone),
        |s| s.id.kind == StepKind::Snapshot,
        false,
    );
    place(
        plan,
        is(StepKind::InService, Phase::Clone),
        |s| s.id.kind == StepKind::Snapshot,
        true,
    );
    Ok(())
}

/// What a refresh's groups go through, in the flight plan's note on the environment.
pub fn note(spec: &EnvSpec) -> Vec<String> {
    let mut parts = Vec::new();
    if !spec.target_groups.is_empty() {
        parts.push(format!(
            "Auto Scaling groups {} in standby from just before the first retire until the restart command has run",
            spec.target_groups.join(", ")
        ));
    }
    if !spec.source_groups.is_empty() {
        parts.push(format!(
            "the source's groups {} in standby while its snapshot is taken",
            spec.source_groups.join(", ")
        ));
    }
    parts
}

/// The group steps the lock waits for.
pub fn holds_lock(step: &Step) -> bool {
    step.id.kind == StepKind::InService
}

/// A standby step for each group (after `around.0`) and its way back (after `around.1` and
/// the standby); the standby ids. A group already in standby by the tool keeps its recorded
/// values; `done` says why standby is no longer needed.
fn around(
    plan: &mut Plan,
    groups: &[String],
    env: &Observed,
    around: (Vec<StepId>, Vec<StepId>),
    phases: (Phase, Phase),
    done: Option<&str>,
) -> Vec<StepId> {
    let mut standbys = Vec::new();
    for group in groups {
        let in_standby = recorded(env, group);
        let standby = push(
            &mut plan.steps,
            StepId::new(StepKind::Standby, group),
            phases.0,
            group,
            Op::Wing(Wing::new(GroupOp::Standby)),
            around.0.clone(),
            done.map(str::to_string),
        );
        let back_skip = match (&in_standby, done) {
            (None, Some(_)) => Some("the group is in service".to_string()),
            _ => None,
        };
        let mut deps = around.1.clone();
        deps.push(standby.clone());
        push(
            &mut plan.steps,
            StepId::new(StepKind::InService, group),
            phases.1,
            group,
            Op::Wing(Wing::new(GroupOp::InService)),
            deps,
            back_skip,
        );
        standbys.push(standby);
    }
    standbys
}

/// A rollback brings back every group the forward plan may have put in standby: after the
/// original names are back (a group the tool did not put in standby is left alone).
pub fn bring_back(mut rollback: Plan, forward: &Plan) -> Plan {
    let after: Vec<StepId> = ids(&rollback, |s| {
        !matches!(s.op, Op::Lock(LockOp::Release { .. }))
    });
    let groups: Vec<String> = forward
        .steps
        .iter()
        .filter(|s| s.id.kind == StepKind::Standby)
        .map(|s| s.resource.clone())
        .collect();
    let mut back = Vec::new();
    for group in groups {
        back.push(push(
            &mut rollback.steps,
            StepId::new(StepKind::InService, &group),
            Phase::Rollback,
            &group,
            Op::Wing(Wing::new(GroupOp::InService)),
            after.clone(),
            None,
        ));
    }
    crate::plan::milestones::hold_lock_until(&mut rollback, &back);
    rollback
}
