//! After a failure before the point of no return: wait for the target's trees to be quiet,
//! plan the rollback from what is observed (`crate::plan::rollback`), and run it.

use super::wait::cluster_settled;
use super::wait::Watched;
use super::{settled, Event, ExecError, Executor};
use crate::observed::{tags, Observed, OLD_PREFIX, TEMP_PREFIX};
use crate::plan::{OnFailure, Plan, StepKind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

impl Executor<'_> {
    pub(super) async fn roll_back(&self, plan: &Plan) -> Result<(), ExecError> {
        self.poller
            .set_timeout(self.config.rollback_timeout, "--rollback-timeout");
        if let Some((_, poller)) = &self.source {
            poller.set_timeout(self.config.rollback_timeout, "--rollback-timeout");
        }
        // Renames and creates may still be in flight: plan from a quiet state, each database
        // pair from its own.
        let states = self.quiet_state(plan).await?;
        let mut rollbacks = Vec::new();
        for (pair, observed) in plan.pairs().into_iter().zip(&states) {
            rollbacks.push(
                crate::plan::rollback(
                    observed,
                    pair.source,
                    pair.target,
                    &plan.run_id,
                    self.config.on_failure,
                )
                .map_err(ExecError::Plan)?,
            );
        }
        let rollback = crate::plan::combine(rollbacks).map_err(ExecError::Plan)?;
        let rollback = crate::kinds::bring_back(rollback, plan);
        self.emit(Event::RollbackStarted { plan: &rollback });
        if let Some((e, _)) = self.run_graph(&rollback).await {
            return Err(e);
        }
        if self.config.on_failure == OnFailure::Keep {
            let kept = states
                .iter()
                .flat_map(|o| o.instances.values())
                .filter(|i| {
                    i.tag(tags::ROLE) == Some(tags::ROLE_TEMP)
                        && i.tag(tags::RUN) == Some(&plan.run_id)
                })
                .map(|i| TEMP_PREFIX.to_string() + i.tag(tags::ORIGINAL).unwrap_or(&i.id));
            // Each pair's state holds every instance: a name once.
            let kept: std::collections::BTreeSet<String> = kept.collect();
            for name in kept {
                self.emit(Event::Left(format!(
                    "{name} kept for inspection (--on-failure keep): a rerun resumes with it; delete it when done"
                )));
            }
        }
        Ok(())
    }

    /// Waits (through the poller) until no instance of the target's trees is in flight: every
    /// original is visible (as X or old-X), nothing is busy, and the same instances were seen
    /// on three looks in a row (a rename hides an instance under both names for a while).
    /// Then reads the account with tags (once per database pair: its state), and waits again
    /// if one of ours is mid-rename.
    async fn quiet_state(&self, plan: &Plan) -> Result<Vec<Observed>, ExecError> {
        let retires: Vec<&crate::plan::Step> = plan
            .steps
            .iter()
            .filter(|s| s.id.kind == StepKind::Retire)
            .collect();
        let originals: Vec<String> = retires.iter().map(|s| s.resource.clone()).collect();
        let watched: Vec<Watched> = retires
            .iter()
            .flat_map(|s| {
                let n = &s.resource;
                let names = [
                    n.clone(),
                    format!("{OLD_PREFIX}{n}"),
                    format!("{TEMP_PREFIX}{n}"),
                ];
                let cluster = matches!(s.op, crate::plan::Op::Cluster(_));
                names.map(|n| {
                    if cluster {
                        Watched::Cluster(n)
                    } else {
                        Watched::Instance(n)
                    }
                })
            })
            .collect();
        loop {
            let stable = AtomicUsize::new(0);
            let last: Mutex<Vec<String>> = Mutex::new(Vec::new());
            self.poller
                .wait(
                    &watched,
                    Duration::ZERO,
                    "the target tree to settle before rolling back",
                    &|looks| {
                        // (name, settled) of every watched resource that exists.
                        let present: Vec<(String, bool)> = watched
                            .iter()
                            .filter_map(|w| match w {
                                Watched::Instance(id) => {
                                    looks.instance(id).map(|i| (i.id.clone(), settled(i)))
                                }
                                Watched::Cluster(id) => looks
                                    .cluster(id)
                                    .map(|c| (c.id.clone(), cluster_settled(c))),
                                Watched::Snapshot(..) | Watched::Endpoint(_) => None,
                            })
                            .collect();
                        let quiet = present.iter().all(|(_, s)| *s);
                        let ids: Vec<String> = present.into_iter().map(|(id, _)| id).collect();
                        let visible = originals
                            .iter()
                            .all(|n| ids.contains(n) || ids.contains(&format!("{OLD_PREFIX}{n}")));
                        let mut last = last.lock().expect("quiet-state lock");
                        let same = *last == ids;
                        *last = ids;
                        let count = if same {
                            stable.fetch_add(1, Ordering::SeqCst) + 1
                        } else {
                            stable.store(0, Ordering::SeqCst);
                            0
                        };
                        quiet && visible && count >= 2
                    },
                )
                .await?;
            let source_api = self
                .source
                .as_ref()
                .map(|(api, _)| *api as &dyn crate::aws::RdsRead);
            let mut states = Vec::new();
            for pair in plan.pairs() {
                states.push(
                    crate::aws::observe(self.api, source_api, pair.source, pair.target)
                        .await
                        .map_err(ExecError::Aws)?,
                );
            }
            // One of ours under neither its marked name nor its original one is mid-rename.
            let mid_rename =
                |id: &str, run: Option<&str>, marked: Option<String>, original: Option<&str>| {
                    run == Some(plan.run_id.as_str())
                        && marked.is_some_and(|name| id != name)
                        && original != Some(id)
                };
            let renaming = states.iter().any(|observed| {
                observed.instances.values().any(|i| {
                    mid_rename(
                        &i.id,
                        i.tag(tags::RUN),
                        i.marked_name(),
                        i.tag(tags::ORIGINAL),
                    )
                }) || observed.clusters.values().any(|c| {
                    mid_rename(
                        &c.id,
                        c.tag(tags::RUN),
                        c.marked_name(),
                        c.tag(tags::ORIGINAL),
                    )
                })
            });
            if !renaming {
                return Ok(states);
            }
        }
    }
}
