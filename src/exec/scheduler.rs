//! Runs a plan as a dependency graph: a step starts as soon as the steps it depends on are
//! done, with at most `concurrency` in flight. After a failure no new step starts; the ones in
//! flight finish.

use super::{Event, ExecError, Executor};
use crate::plan::{Phase, Plan, StepId};
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
                        self.emit(Event::StepStarted { step });
                        running.push(async move {
                            let t = Instant::now();
                            let result = self.run_step(plan, step).await;
                            (i, t.elapsed().as_secs_f64(), result)
                        });
                    }
                }
            }
            let Some((i, seconds, result)) = running.next().await else {
                break;
            };
            let step = &plan.steps[i];
            match result {
                Ok(()) => {
                    self.emit(Event::StepDone { step, seconds });
                    done.insert(&step.id);
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
