//! Runs a plan as a dependency graph: a step starts as soon as the steps it depends on are
//! done, with at most `concurrency` in flight. After a failure no new step starts; the ones in
//! flight finish.

use super::{Event, ExecError, Executor};
use crate::plan::{Phase, Plan, StepId, StepKind};
use futures_util::stream::{FuturesUnordered, StreamExt};
use std::collections::BTreeSet;
use tokio::time::Instant;

impl Executor<'_> {
    /// Runs every pending step of `plan`; returns the first failure and the phase it was in.
    pub(super) async fn run_graph<'p>(&self, plan: &'p Plan) -> Option<(ExecError, Phase)> {
        let mut done: BTreeSet<&'p StepId> = BTreeSet::new();
        for step in &plan.steps {
            if let Some(reason) = &step.skip {
                self.emit(Event::StepSkipped { step, reason });
            }
        }
        // A skipped step counts as done once the steps it depends on are: the order the plan
        // sets (the lock first of all) holds through steps that are already done.
        let settle_skipped = |done: &mut BTreeSet<&'p StepId>| loop {
            let newly: Vec<&StepId> = plan
                .steps
                .iter()
                .filter(|s| !s.is_pending() && !done.contains(&s.id))
                .filter(|s| s.depends_on.iter().all(|d| done.contains(d)))
                .map(|s| &s.id)
                .collect();
            if newly.is_empty() {
                break;
            }
            done.extend(newly);
        };
        let mut started = vec![false; plan.steps.len()];
        let mut running = FuturesUnordered::new();
        let mut failure: Option<(ExecError, Phase)> = None;
        // The outage: from the first retire until every swap is done, bounded by
        // --swap-timeout (past it no new step starts, and the run rolls back).
        let mut swaps_left = plan
            .pending()
            .filter(|s| s.id.kind == StepKind::Swap)
            .count();
        let mut outage_began: Option<Instant> = None;
        loop {
            settle_skipped(&mut done);
            if failure.is_none() {
                for (i, step) in plan.steps.iter().enumerate() {
                    if running.len() >= self.config.concurrency.max(1) {
                        break;
                    }
                    let ready = !started[i]
                        && step.is_pending()
                        && self
                            .config
                            .until
                            .is_none_or(|u| step.phase <= u.last_phase())
                        && step.depends_on.iter().all(|d| done.contains(d));
                    if ready {
                        started[i] = true;
                        if step.id.kind == StepKind::Retire && outage_began.is_none() {
                            outage_began = Some(Instant::now());
                            self.emit(Event::OutageStarted);
                        }
                        self.emit(Event::StepStarted { step });
                        running.push(async move {
                            let t = Instant::now();
                            let result = self.run_step(plan, step).await;
                            (i, t.elapsed().as_secs_f64(), result)
                        });
                    }
                }
            }
            let deadline = outage_began
                .filter(|_| swaps_left > 0)
                .map(|t| t + self.config.swap_timeout);
            let next = match deadline {
                Some(deadline) => match tokio::time::timeout_at(deadline, running.next()).await {
                    Ok(next) => next,
                    Err(_) => {
                        // The outage goes on into the rollback: it has no end to report here.
                        swaps_left = 0;
                        if failure.is_none() {
                            let limit = self.config.swap_timeout.as_secs();
                            failure = Some((
                                ExecError::Refused(format!(
                                    "the swap took longer than --swap-timeout ({limit}s)"
                                )),
                                Phase::Swap,
                            ));
                        }
                        continue;
                    }
                },
                None => running.next().await,
            };
            let Some((i, seconds, result)) = next else {
                break;
            };
            let step = &plan.steps[i];
            match result {
                Ok(()) => {
                    self.emit(Event::StepDone { step, seconds });
                    done.insert(&step.id);
                    if step.id.kind == StepKind::Swap && swaps_left > 0 {
                        swaps_left -= 1;
                        if let (0, Some(t)) = (swaps_left, outage_began) {
                            let seconds = t.elapsed().as_secs_f64();
                            self.emit(Event::OutageEnded { seconds });
                        }
                    }
                }
                Err(e) => {
                    self.emit(Event::StepFailed {
                        step,
                        error: e.to_string(),
                        seconds,
                    });
                    if failure.is_none() {
                        failure = Some((e, step.phase));
                    }
                }
            }
        }
        failure
    }
}
