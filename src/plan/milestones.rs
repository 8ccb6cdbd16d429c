//! A refresh's named milestones, read once off a database plan: where the steps of the kinds
//! that ride along with the databases (`crate::kinds`) hang. A wing asks for "once the clones
//! exist" or "after the restart command", never searches the graph for a kind of step itself;
//! and the few graph edits a wing makes (wait for, hold the lock until, read in this order)
//! are the ones below.

use super::ops::{LockOp, Op};
use super::step::{Phase, Step, StepId, StepKind};
use super::Plan;

/// Where a database plan stands, for the steps that hang on it.
#[derive(Debug, Clone, Default)]
pub struct Milestones {
    /// The locks taken: what a step that waits for nothing else waits for.
    pub locked: Vec<StepId>,
    /// Once the clones exist (the data's moment is fixed): every step of the clone phase, or
    /// the locks when there is none.
    pub cloned: Vec<StepId>,
    /// The guardrails checked before the first retire.
    pub guarded: Vec<StepId>,
    /// Whether a retire is still to run: the target is not retired yet.
    pub retire_pending: bool,
    /// The new environment is in place: the restart command, or without one every swap.
    pub restarted: Vec<StepId>,
    /// `--snapshot fresh`: the steps that take the source's snapshot.
    pub snapshot: Vec<StepId>,
    /// Whether that snapshot was taken already (by an earlier attempt of the run).
    pub snapshot_taken: bool,
}

impl Milestones {
    pub fn of(plan: &Plan) -> Self {
        let locked = ids(plan, |s| matches!(s.op, Op::Lock(LockOp::Take { .. })));
        let clones = ids(plan, |s| s.phase == Phase::Clone);
        let restart = ids(plan, |s| s.id.kind == StepKind::Restart);
        let snapshot = ids(plan, |s| s.id.kind == StepKind::Snapshot);
        Milestones {
            cloned: if clones.is_empty() {
                locked.clone()
            } else {
                clones
            },
            locked,
            guarded: ids(plan, |s| s.id.kind == StepKind::Guard),
            retire_pending: plan
                .steps
                .iter()
                .any(|s| s.id.kind == StepKind::Retire && s.is_pending()),
            restarted: if restart.is_empty() {
                ids(plan, |s| s.id.kind == StepKind::Swap)
            } else {
                restart
            },
            snapshot_taken: plan
                .steps
                .iter()
                .all(|s| s.id.kind != StepKind::Snapshot || !s.is_pending()),
            snapshot,
        }
    }
}

/// The ids of the steps `keep` picks, in the plan's order.
pub fn ids(plan: &Plan, keep: impl Fn(&Step) -> bool) -> Vec<StepId> {
    plan.steps
        .iter()
        .filter(|s| keep(s))
        .map(|s| s.id.clone())
        .collect()
}

/// The steps `which` picks wait for `on` too.
pub fn depend(plan: &mut Plan, on: &[StepId], which: impl Fn(&Step) -> bool) {
    for step in plan.steps.iter_mut().filter(|s| which(s)) {
        step.depends_on.extend(on.iter().cloned());
    }
}

/// The lock is released only after `steps`: what a wing adds is done under the lock.
pub fn hold_lock_until(plan: &mut Plan, steps: &[StepId]) {
    depend(plan, steps, |s| {
        matches!(s.op, Op::Lock(LockOp::Release { .. }))
    });
}

/// Moves the steps `which` picks before the first step that matches `at` (or, with `after`,
/// after the last one): where they run, for the flight plan's reader. Order only; the
/// dependencies decide what runs when.
pub fn place(
    plan: &mut Plan,
    which: impl Fn(&Step) -> bool,
    at: impl Fn(&Step) -> bool,
    after: bool,
) {
    let (moved, mut rest): (Vec<Step>, Vec<Step>) = plan.steps.drain(..).partition(|s| which(s));
    let found = if after {
        rest.iter().rposition(&at).map(|i| i + 1)
    } else {
        rest.iter().position(&at)
    };
    let i = found.unwrap_or(rest.len());
    rest.splice(i..i, moved);
    plan.steps = rest;
}
