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
use super::{with_lock, Part, Plan, PlanRequest};
use crate::error::MitosisError;
use crate::observed::Observed;
use std::collections::BTreeSet;

/// What becomes of one pair's plan when the pairs share a run.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Fate {
    /// Kept as planned: it resumes the interrupted run, or no run was interrupted.
    Keep,
    /// Planned again with the interrupted run's id: that run had not begun this pair.
    Join(String),
    /// Finished by the interrupted run: another pair was being retired, so every pair had
    /// its clone (no retire comes before every pair's guardrails), and a pair loses its
    /// markers only at its very end (after the restart command, after every swap).
    Finished(String),
}

/// The fate of each pair's plan (planned with this invocation's run id): the pairs share the
/// run an interrupted run left on some of them. Two interrupted runs cannot be resumed as one.
fn fates(plans: &[Plan]) -> Result<Vec<Fate>, MitosisError> {
    let resumed: Vec<&Plan> = plans.iter().filter(|p| p.resuming).collect();
    let runs: BTreeSet<&str> = resumed.iter().map(|p| p.run_id.as_str()).collect();
    if runs.len() > 1 {
        let found: Vec<String> = resumed
            .iter()
            .map(|p| format!("{} (run {})", p.target, p.run_id))
            .collect();
        return Err(MitosisError::bad_input(format!(
            "the environment's databases are in the middle of different runs: {}; finish or roll back each with its own database as --target (without --config), then refresh the environment",
            found.join(", ")
        )));
    }
    let Some(run) = runs.into_iter().next() else {
        return Ok(vec![Fate::Keep; plans.len()]);
    };
    let retiring = resumed.iter().any(|p| {
        p.steps
            .iter()
            .any(|s| matches!(s.id.kind, StepKind::Mark | StepKind::Retire) && !s.is_pending())
    });
    Ok(plans
        .iter()
        .map(|p| match (p.resuming, retiring) {
            (true, _) => Fate::Keep,
            (false, true) => Fate::Finished(run.to_string()),
            (false, false) => Fate::Join(run.to_string()),
        })
        .collect())
}

/// The plan of several database pairs (an environment's, in the config's order), each
/// request planned from its own pair's state, all with the first request's run id (a new run,
/// or the run an interrupted one left: see `Fate`), locked by this invocation. With one pair,
/// its plan.
pub fn plan_pairs(pairs: &[(Observed, PlanRequest)]) -> Result<Plan, MitosisError> {
    let mut plans = pairs
        .iter()
        .map(|(observed, request)| super::plan(observed, request))
        .collect::<Result<Vec<_>, _>>()?;
    let Some((_, first)) = pairs.first() else {
        return Err(MitosisError::bad_input("no database to refresh"));
    };
    let mut notes = Vec::new();
    for (i, fate) in fates(&plans)?.into_iter().enumerate() {
        match fate {
            Fate::Keep => {}
            Fate::Finished(run) => {
                notes.push(format!(
                    "{} was refreshed by run {run} already (the other databases' refresh is finished)",
                    plans[i].target
                ));
                plans[i].steps.clear();
                plans[i].run_id = run;
            }
            Fate::Join(run) => {
                let (observed, request) = &pairs[i];
                let joined = PlanRequest {
                    run_id: run,
                    ..request.clone()
                };
                plans[i] = super::plan(observed, &joined)?;
            }
        }
    }
    let mut plan = merge(plans, &first.run_id)?;
    plan.notes.extend(notes);
    Ok(plan)
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
        if part > 0 {
            merged
                .protected_targets
                .extend(plan.protected_targets.iter().cloned());
        }
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
