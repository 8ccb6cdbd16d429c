//! Waiting for AWS: status classification, "settled", and one poller that describes every
//! in-flight instance in a single call per tick.

use super::ExecError;
use crate::aws::Rds;
use crate::model::Instance;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{watch, Notify};
use tokio::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusClass {
    InProgress,
    Failed,
    Done,
}

/// AWS status strings mapped to three outcomes. Unknown strings count as in progress (and are
/// logged by the caller), so a new AWS status never fails a refresh by itself.
pub fn classify(status: &str) -> StatusClass {
    match status {
        "available" | "stopped" => StatusClass::Done,
        "failed"
        | "inaccessible-encryption-credentials"
        | "incompatible-credentials"
        | "incompatible-network"
        | "incompatible-option-group"
        | "incompatible-parameters"
        | "incompatible-restore"
        | "restore-error"
        | "storage-full" => StatusClass::Failed,
        _ => StatusClass::InProgress,
    }
}

/// `available` alone is not settled: right after a modify the status can still read
/// `available` while changes are pending or a parameter group is being applied.
pub fn settled(i: &Instance) -> bool {
    i.status == "available"
        && i.pending_modifications.is_empty()
        && i.parameter_groups.iter().all(|g| g.status != "applying")
        && i.vpc_security_groups
            .iter()
            .all(|g| g.status == "active" || g.status == "removing")
}

/// How often to look. Each waiter asks for its next look from how long its step is expected
/// to take: rarely while a long create is far from done, every `min_tick` once it is due. One
/// DescribeDBInstances call per tick serves every waiter, and ticks are never closer than
/// `min_tick`, which bounds the calls per minute whatever the number of instances in flight.
#[derive(Debug, Clone, Copy)]
pub struct PollSettings {
    pub min_tick: Duration,
    pub max_tick: Duration,
    pub step_timeout: Duration,
}

impl PollSettings {
    /// The delay before a waiter's next look, `elapsed` into a step expected to take `expected`:
    /// half the remaining time while far from the end (at most `max_tick`), then right at the
    /// expected end, then every `min_tick` while overdue. Looks are never closer than
    /// `min_tick` overall (the poll loop enforces that).
    pub fn next_delay(&self, expected: Duration, elapsed: Duration) -> Duration {
        let remaining = expected.saturating_sub(elapsed);
        if remaining >= self.min_tick * 2 {
            (remaining / 2).clamp(self.min_tick, self.max_tick.max(self.min_tick))
        } else if !remaining.is_zero() {
            remaining
        } else {
            self.min_tick
        }
    }
}

/// What a wait is for, checked against the instances it watches (absent ones are missing from
/// the map).
pub type Condition<'a> = dyn Fn(&BTreeMap<String, Instance>) -> bool + Send + Sync + 'a;

/// One poll's result, shared with every waiter.
#[derive(Clone, Default)]
struct Seen {
    generation: u64,
    instances: Arc<BTreeMap<String, Instance>>,
    /// The identifiers this poll asked for: a waiter trusts only polls that covered its own.
    polled: Arc<Vec<String>>,
    error: Option<String>,
}

struct Waiter {
    ids: Vec<String>,
    started: Instant,
    expected: Duration,
    due: Instant,
}

#[derive(Default)]
struct Registry {
    next_key: u64,
    waiters: BTreeMap<u64, Waiter>,
    last_poll: Option<Instant>,
    /// Every instance as last seen, with when: absent ones are dropped.
    latest: BTreeMap<String, (Instant, Instance)>,
}

/// The one poller of a run: waiters register the instances they watch; `run` describes them
/// all in one call per tick and publishes the result.
pub struct Poller<'a> {
    api: &'a dyn Rds,
    pub settings: PollSettings,
    registry: Mutex<Registry>,
    wake: Notify,
    seen: watch::Sender<Seen>,
}

struct Deregister<'p, 'a>(&'p Poller<'a>, u64);

impl Drop for Deregister<'_, '_> {
    fn drop(&mut self) {
        if let Ok(mut r) = self.0.registry.lock() {
            r.waiters.remove(&self.1);
        }
    }
}

impl<'a> Poller<'a> {
    pub fn new(api: &'a dyn Rds, settings: PollSettings) -> Self {
        Poller {
            api,
            settings,
            registry: Mutex::new(Registry::default()),
            wake: Notify::new(),
            seen: watch::channel(Seen::default()).0,
        }
    }

    /// The poll loop; runs until dropped (the executor races it against the steps).
    pub async fn run(&self) {
        loop {
            let next = {
                let r = self.registry.lock().expect("poller registry");
                r.waiters.values().map(|w| w.due).min().map(|due| {
                    let earliest = r
                        .last_poll
                        .map(|t| t + self.settings.min_tick)
                        .unwrap_or(due);
                    due.max(earliest)
                })
            };
            match next {
                None => self.wake.notified().await,
                Some(at) => {
                    tokio::select! {
                        _ = tokio::time::sleep_until(at) => self.poll().await,
                        _ = self.wake.notified() => {}
                    }
                }
            }
        }
    }

    async fn poll(&self) {
        let ids: Vec<String> = {
            let r = self.registry.lock().expect("poller registry");
            let mut ids: Vec<String> = r.waiters.values().flat_map(|w| w.ids.clone()).collect();
            ids.sort();
            ids.dedup();
            ids
        };
        if ids.is_empty() {
            return;
        }
        let result = self.api.describe_some(&ids).await;
        let now = Instant::now();
        {
            let mut r = self.registry.lock().expect("poller registry");
            r.last_poll = Some(now);
            if let Ok(found) = &result {
                for id in &ids {
                    r.latest.remove(id);
                }
                for i in found {
                    r.latest.insert(i.id.clone(), (now, i.clone()));
                }
            }
            let settings = self.settings;
            for w in r.waiters.values_mut() {
                // Never look later than the step's deadline, so a timeout is noticed on time.
                let deadline = w.started + settings.step_timeout;
                w.due = (now + settings.next_delay(w.expected, now - w.started)).min(deadline);
            }
        }
        let generation = self.seen.borrow().generation + 1;
        let seen = match result {
            Ok(found) => Seen {
                generation,
                instances: Arc::new(found.into_iter().map(|i| (i.id.clone(), i)).collect()),
                polled: Arc::new(ids),
                error: None,
            },
            Err(e) => Seen {
                generation,
                instances: self.seen.borrow().instances.clone(),
                polled: Arc::new(ids),
                error: Some(e.to_string()),
            },
        };
        self.seen.send_replace(seen);
    }

    /// The instance as last seen and when, however long ago.
    pub fn last_seen(&self, id: &str) -> Option<(Instant, Instance)> {
        self.registry
            .lock()
            .expect("poller registry")
            .latest
            .get(id)
            .cloned()
    }

    /// Waits until `done` holds for `ids`. `expected` (how long the step should take) sets how
    /// often to look. Fails at once when a watched instance reaches a failed status, and after
    /// the step timeout with the instances and their last statuses named.
    pub async fn wait(
        &self,
        ids: &[String],
        expected: Duration,
        what: &str,
        done: &Condition<'_>,
    ) -> Result<BTreeMap<String, Instance>, ExecError> {
        let mut rx = self.seen.subscribe();
        let started = Instant::now();
        let key = {
            let mut r = self.registry.lock().expect("poller registry");
            r.next_key += 1;
            let key = r.next_key;
            let due = started + self.settings.next_delay(expected, Duration::ZERO);
            let due = if expected.is_zero() {
                started
            } else {
                due.min(started + self.settings.step_timeout)
            };
            r.waiters.insert(
                key,
                Waiter {
                    ids: ids.to_vec(),
                    started,
                    expected,
                    due,
                },
            );
            key
        };
        let _deregister = Deregister(self, key);
        self.wake.notify_one();
        let first = rx.borrow_and_update().generation;
        loop {
            if rx.changed().await.is_err() {
                return Err(ExecError::Refused("the poller stopped".into()));
            }
            let snapshot = rx.borrow_and_update().clone();
            // A poll that started before this waiter registered did not look for its instances
            // (an absent instance would read as "deleted").
            if snapshot.generation <= first || !ids.iter().all(|id| snapshot.polled.contains(id)) {
                continue;
            }
            if let Some(e) = snapshot.error {
                return Err(ExecError::Aws(crate::error::MitosisError::Aws {
                    operation: "DescribeDBInstances".into(),
                    message: e,
                }));
            }
            let seen: BTreeMap<String, Instance> = ids
                .iter()
                .filter_map(|id| snapshot.instances.get(id).map(|i| (id.clone(), i.clone())))
                .collect();
            if let Some(bad) = seen
                .values()
                .find(|i| classify(&i.status) == StatusClass::Failed)
            {
                return Err(ExecError::FailedStatus {
                    instance: bad.id.clone(),
                    status: bad.status.clone(),
                });
            }
            if done(&seen) {
                return Ok(seen);
            }
            for i in seen.values() {
                if classify(&i.status) != StatusClass::Done && !known_in_progress(&i.status) {
                    tracing::warn!(instance = %i.id, status = %i.status, "unknown RDS status, treated as in progress");
                }
            }
            if started.elapsed() >= self.settings.step_timeout {
                let last = ids
                    .iter()
                    .map(|id| match seen.get(id) {
                        Some(i) => format!("{id} is {}", i.status),
                        None => format!("{id} does not exist"),
                    })
                    .collect::<Vec<_>>()
                    .join(", ");
                return Err(ExecError::Timeout {
                    what: what.to_string(),
                    after: self.settings.step_timeout,
                    last,
                });
            }
        }
    }
}

fn known_in_progress(status: &str) -> bool {
    status.starts_with("configuring-")
        || matches!(
            status,
            "backing-up"
                | "converting-to-vpc"
                | "creating"
                | "deleting"
                | "maintenance"
                | "modifying"
                | "moving-to-vpc"
                | "rebooting"
                | "renaming"
                | "resetting-master-credentials"
                | "starting"
                | "stopping"
                | "storage-optimization"
                | "upgrading"
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::primary;
    use crate::model::Membership;

    #[test]
    fn statuses_map_to_three_outcomes() {
        assert_eq!(classify("available"), StatusClass::Done);
        assert_eq!(classify("incompatible-parameters"), StatusClass::Failed);
        assert_eq!(classify("storage-full"), StatusClass::Failed);
        assert_eq!(
            classify("configuring-enhanced-monitoring"),
            StatusClass::InProgress
        );
        assert_eq!(classify("some-new-status"), StatusClass::InProgress);
    }

    #[test]
    fn polls_rarely_while_far_from_done_and_every_tick_when_due() {
        let p = PollSettings {
            min_tick: Duration::from_secs(5),
            max_tick: Duration::from_secs(60),
            step_timeout: Duration::from_secs(3600),
        };
        let s = Duration::from_secs;
        assert_eq!(p.next_delay(s(900), s(0)), s(60));
        assert_eq!(p.next_delay(s(900), s(860)), s(20));
        assert_eq!(
            p.next_delay(s(900), s(893)),
            s(7),
            "right at the expected end"
        );
        assert_eq!(p.next_delay(s(900), s(2000)), s(5));
        assert_eq!(p.next_delay(s(0), s(0)), s(5));
    }

    #[test]
    fn available_with_pending_work_is_not_settled() {
        let mut i = primary("demo", "postgres", "v");
        assert!(settled(&i));
        i.pending_modifications = vec!["DBInstanceClass".into()];
        assert!(!settled(&i));
        i.pending_modifications.clear();
        i.parameter_groups = vec![Membership::new("pg", "applying")];
        assert!(!settled(&i));
        i.parameter_groups = vec![Membership::new("pg", "in-sync")];
        i.vpc_security_groups = vec![Membership::new("sg", "adding")];
        assert!(!settled(&i));
        i.vpc_security_groups = vec![Membership::new("sg", "active")];
        i.status = "modifying".into();
        assert!(!settled(&i));
    }
}
