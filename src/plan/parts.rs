//! Several databases in one run (an environment that lists several). The planner knows one
//! database pair; each pair is planned on its own, with one run id, and the plans are merged
//! into one step graph that replaces the databases together:
//! - every target is locked (`with_lock`), by the invocation that runs the plan;
//! - no database is retired before every pair's guardrails passed (all clones are ready);
//! - the before-swap command runs once per database, on that database's clone;
//! - the restart command runs once, after every swap, and nothing of any pair is deleted
//!   before it succeeded (without a restart command: before every swap is done).
//!
//! Pure: plans in, a plan out.

use super::ops::{LockOp, Op};
use super::step::{Phase, Step, StepId, StepKind};
use super::{with_lock, Part, Plan};
use crate::error::MitosisError;
use std::collections::BTreeSet;

/// The run several pairs share: the one an interrupted run left on some of them, or None when
/// none was interrupted. Two interrupted runs cannot be resumed as one.
pub fn same_run(plans: &[Plan]) -> Result<Option<String>, MitosisError> {
    let runs: BTreeSet<&str> = plans
        .iter()
        .filter(|p| p.resuming)
        .map(|p| p.run_id.as_str())
        .collect();
    match runs.len() {
        0 => Ok(None),
        1 => Ok(runs.into_iter().next().map(str::to_string)),
        _ => {
            let found: Vec<String> = plans
                .iter()
                .filter(|p| p.resuming)
                .map(|p| format!("{} (run {})", p.target, p.run_id))
                .collect();
            Err(MitosisError::bad_input(format!(
                "the environment's databases are in the middle of different runs: {}; finish or roll back each with its own database as --target (without --config), then refresh the environment",
                found.join(", ")
            )))
        }
    }
}

/// Whether the run that a resumed plan continues is past its swaps: only cleanup is left.
/// A pair of that run without any of its markers was then finished by it (its markers come
/// off last), not left out: it is not refreshed again.
pub fn past_swaps(resumed: &Plan) -> bool {
    resumed.resuming
        && resumed
            .pending()
            .all(|s| matches!(s.phase, Phase::Cleanup | Phase::Lock))
}

/// One plan of several pairs' plans (in the config's order, one run id), locked by `holder`.
pub fn merge(plans: Vec<Plan>, holder: &str) -> Result<Plan, MitosisError> {
    if plans.len() < 2 {
        return combine(plans);
    }
    let mut merged = combine(plans)?;
    // The lock moves to each new root under this invocation's name.
    for step in &mut merged.steps {
        if let Op::Lock(LockOp::Move { holder: h }) = &mut step.op {
            *h = holder.to_string();
        }
    }
    Ok(with_lock(merged, holder))
}

/// One plan of several pairs' plans, without their locks (a rollback the executor runs under
/// the forward plan's locks, or a plan that `merge` locks).
pub fn combine(plans: Vec<Plan>) -> Result<Plan, MitosisError> {
    let mut plans = plans.into_iter();
    let Some(first) = plans.next() else {
        return Err(MitosisError::bad_input("no database to refresh"));
    };
    let rest: Vec<Plan> = plans.collect();
    if rest.is_empty() {
        return Ok(first);
    }
    let mut merged = Plan {
        steps: Vec::new(),
        more: Vec::new(),
        notes: Vec::new(),
        ..first.clone()
    };
    for (part, plan) in std::iter::once(first).chain(rest).enumerate() {
        debug_assert_eq!(plan.run_id, merged.run_id, "the caller gives one run id");
        if part > 0 {
            merged.more.push(Part {
                source: plan.source.clone(),
                target: plan.target.clone(),
                kind: plan.kind,
                path: plan.path,
            });
        }
        merged.resuming |= plan.resuming;
        for note in plan.notes {
            if !merged.notes.contains(&note) {
                merged.notes.push(note);
            }
        }
        let before_swap = StepId::new(StepKind::BeforeSwap, &plan.target);
        let locks: BTreeSet<StepId> = plan
            .steps
            .iter()
            .filter(|s| is_lock(s))
            .map(|s| s.id.clone())
            .collect();
        for mut step in plan.steps.into_iter().filter(|s| !is_lock(s)) {
            step.part = part;
            step.depends_on.retain(|d| !locks.contains(d));
            // The before-swap command runs for each database: its id names the database.
            let once = StepId::once(StepKind::BeforeSwap);
            if step.id == once {
                step.id = before_swap.clone();
            }
            for d in step.depends_on.iter_mut().filter(|d| **d == once) {
                *d = before_swap.clone();
            }
            merged.steps.push(step);
        }
    }
    one_restart(&mut merged.steps);
    barrier(&mut merged.steps, StepKind::Guard, |_| true);
    barrier(&mut merged.steps, StepKind::Swap, |s| {
        s.phase == Phase::Cleanup
    });
    let mut seen = BTreeSet::new();
    if let Some(twice) = merged.steps.iter().find(|s| !seen.insert(s.id.clone())) {
        return Err(MitosisError::bad_input(format!(
            "two databases of the environment would both need step {}: give each database of an environment once, and no database in both environments",
            twice.id
        )));
    }
    // Each pair's flight plan reads in order; the merged one groups the steps by phase (a
    // stable sort keeps each pair's order within a phase): clones, then retires, swaps...
    merged.steps.sort_by_key(|s| s.phase);
    Ok(merged)
}

fn is_lock(step: &Step) -> bool {
    matches!(
        step.op,
        Op::Lock(LockOp::Take { .. } | LockOp::Release { .. })
    )
}

/// The pairs' restart steps (one id, `restart`) become one: after every pair's swaps, done
/// when any pair saw it done (a pair whose old databases are being deleted proves it ran).
fn one_restart(steps: &mut Vec<Step>) {
    let restart = StepId::once(StepKind::Restart);
    let mut found = steps.iter().filter(|s| s.id == restart);
    let Some(first) = found.next().cloned() else {
        return;
    };
    let mut deps = first.depends_on.clone();
    let mut skip = first.skip.clone();
    for other in found {
        for d in &other.depends_on {
            if !deps.contains(d) {
                deps.push(d.clone());
            }
        }
        skip = skip.or_else(|| other.skip.clone());
    }
    let mut kept = false;
    steps.retain(|s| {
        if s.id != restart {
            return true;
        }
        let keep = !kept;
        kept = true;
        keep
    });
    if let Some(step) = steps.iter_mut().find(|s| s.id == restart) {
        step.depends_on = deps;
        step.skip = skip;
    }
}

/// Every step (that `which` picks) waiting for one step of `kind` waits for all of them: what
/// waited for its own pair's guardrails waits for every pair's.
fn barrier(steps: &mut [Step], kind: StepKind, which: impl Fn(&Step) -> bool) {
    let all: Vec<StepId> = steps
        .iter()
        .filter(|s| s.id.kind == kind)
        .map(|s| s.id.clone())
        .collect();
    for step in steps.iter_mut().filter(|s| which(s) && s.id.kind != kind) {
        if step.depends_on.iter().any(|d| d.kind == kind) {
            for id in &all {
                if !step.depends_on.contains(id) {
                    step.depends_on.push(id.clone());
                }
            }
        }
    }
}
