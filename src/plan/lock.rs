//! The lock around a plan: taken before anything else, released after everything.

use super::model::Plan;
use super::ops::{LockOp, Op};
use super::step::{Phase, Step, StepId, StepKind};

/// The plan with the target's lock taken before anything else and released after everything:
/// the first step comes before every step that has no other dependency, the last after every
/// step that nothing depends on. A plan of several databases locks each target, one after
/// another in the order of their names (two runs that share databases cannot each hold one
/// and wait for the other).
pub fn with_lock(mut plan: Plan, holder: &str) -> Plan {
    let depended: std::collections::BTreeSet<StepId> = plan
        .steps
        .iter()
        .flat_map(|s| s.depends_on.iter().cloned())
        .collect();
    let unlock_after: Vec<StepId> = plan
        .steps
        .iter()
        .map(|s| s.id.clone())
        .filter(|id| !depended.contains(id))
        .collect();
    let mut targets: Vec<(usize, String)> = plan
        .pairs()
        .iter()
        .enumerate()
        .map(|(part, p)| (part, p.target.to_string()))
        .collect();
    targets.sort_by(|a, b| a.1.cmp(&b.1));
    let mut locks: Vec<Step> = Vec::new();
    let mut unlocks: Vec<Step> = Vec::new();
    let mut previous: Option<StepId> = None;
    for (part, target) in &targets {
        let lock = StepId::new(StepKind::Lock, target);
        let take = LockOp::Take {
            holder: holder.to_string(),
        };
        super::step::push(
            &mut locks,
            lock.clone(),
            Phase::Lock,
            target,
            Op::Lock(take),
            previous.iter().cloned().collect(),
            None,
        );
        let release = LockOp::Release {
            holder: holder.to_string(),
        };
        super::step::push(
            &mut unlocks,
            StepId::new(StepKind::Unlock, target),
            Phase::Lock,
            target,
            Op::Lock(release),
            unlock_after.clone(),
            None,
        );
        locks.last_mut().expect("pushed").part = *part;
        unlocks.last_mut().expect("pushed").part = *part;
        previous = Some(lock);
    }
    let last_lock = previous.expect("a plan has a target");
    for step in plan.steps.iter_mut().filter(|s| s.depends_on.is_empty()) {
        step.depends_on.push(last_lock.clone());
    }
    // The flight plan reads in the order things happen: the locks first, the unlocks last.
    locks.append(&mut plan.steps);
    locks.append(&mut unlocks);
    plan.steps = locks;
    plan
}
