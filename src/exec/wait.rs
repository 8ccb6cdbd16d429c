//! Waiting for AWS: status classification, "settled", and one poller that describes every
//! in-flight resource with a single call per kind per tick.
//!
//! A new kind of resource adds a `Watched`/`Seen` variant, its describe call in `Poller::poll`
//! and its status classes in `Seen::class`.

use super::ExecError;
use crate::aws::RdsRead;
use crate::observed::{Cluster, CustomEndpoint, Instance, Snapshot};
use crate::plan::SnapshotOf;
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

/// A cluster is settled when `available` with nothing pending.
pub fn cluster_settled(c: &Cluster) -> bool {
    c.status == "available"
        && c.pending_modifications.is_empty()
        && c.vpc_security_groups
            .iter()
            .all(|g| g.status == "active" || g.status == "removing")
}

/// Snapshot statuses: `available` is done, `failed`/`error` failed, anything else in progress.
pub fn classify_snapshot(status: &str) -> StatusClass {
    match status {
        "available" => StatusClass::Done,
        "failed" | "error" => StatusClass::Failed,
        _ => StatusClass::InProgress,
    }
}

/// What a waiter watches, by kind.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Watched {
    Instance(String),
    Cluster(String),
    Snapshot(SnapshotOf, String),
    /// An Aurora custom endpoint, by name.
    Endpoint(String),
}

/// A watched resource as one look saw it.
// Instances are the common case; boxing them would only add an allocation per look.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Seen {
    Instance(Instance),
    Cluster(Cluster),
    Snapshot(SnapshotOf, Snapshot),
    Endpoint(CustomEndpoint),
}

impl Seen {
    fn name(&self) -> &str {
        match self {
            Seen::Instance(i) => &i.id,
            Seen::Cluster(c) => &c.id,
            Seen::Snapshot(_, s) => &s.id,
            Seen::Endpoint(e) => &e.id,
        }
    }

    fn status(&self) -> &str {
        match self {
            Seen::Instance(i) => &i.status,
            Seen::Cluster(c) => &c.status,
            Seen::Snapshot(_, s) => &s.status,
            Seen::Endpoint(e) => &e.status,
        }
    }

    fn class(&self) -> StatusClass {
        match self {
            Seen::Instance(i) => classify(&i.status),
            Seen::Cluster(c) => classify(&c.status),
            Seen::Snapshot(_, s) => classify_snapshot(&s.status),
            Seen::Endpoint(e) => classify(&e.status),
        }
    }

    fn key(&self) -> Watched {
        match self {
            Seen::Instance(i) => Watched::Instance(i.id.clone()),
            Seen::Cluster(c) => Watched::Cluster(c.id.clone()),
            Seen::Snapshot(of, s) => Watched::Snapshot(*of, s.id.clone()),
            Seen::Endpoint(e) => Watched::Endpoint(e.id.clone()),
        }
    }
}

/// The watched resources that exist, as the last look saw them.
#[derive(Debug, Clone, Default)]
pub struct Looks(BTreeMap<Watched, Seen>);

impl Looks {
    pub fn instance(&self, id: &str) -> Option<&Instance> {
        match self.0.get(&Watched::Instance(id.to_string())) {
            Some(Seen::Instance(i)) => Some(i),
            _ => None,
        }
    }

    pub fn cluster(&self, id: &str) -> Option<&Cluster> {
        match self.0.get(&Watched::Cluster(id.to_string())) {
            Some(Seen::Cluster(c)) => Some(c),
            _ => None,
        }
    }

    pub fn endpoint(&self, id: &str) -> Option<&CustomEndpoint> {
        match self.0.get(&Watched::Endpoint(id.to_string())) {
            Some(Seen::Endpoint(e)) => Some(e),
            _ => None,
        }
    }

    pub fn snapshot(&self, of: SnapshotOf, id: &str) -> Option<&Snapshot> {
        match self.0.get(&Watched::Snapshot(of, id.to_string())) {
            Some(Seen::Snapshot(_, s)) => Some(s),
            _ => None,
        }
    }
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

/// What a wait is for, checked against the resources it watches (absent ones are missing).
pub type Condition<'a> = dyn Fn(&Looks) -> bool + Send + Sync + 'a;

/// One poll's result, shared with every waiter.
#[derive(Clone, Default)]
struct Published {
    generation: u64,
    found: Arc<BTreeMap<Watched, Seen>>,
    /// What this poll asked for: a waiter trusts only polls that covered its own.
    polled: Arc<Vec<Watched>>,
    error: Option<String>,
}

struct Waiter {
    watched: Vec<Watched>,
    /// How long this wait may last (the step timeout, or the rollback's own).
    timeout: Duration,
    started: Instant,
    expected: Duration,
    due: Instant,
}

#[derive(Default)]
struct Registry {
    next_key: u64,
    waiters: BTreeMap<u64, Waiter>,
    last_poll: Option<Instant>,
    /// Every resource as last seen, with when: absent ones are dropped.
    latest: BTreeMap<Watched, (Instant, Seen)>,
}

/// The one poller of a run: waiters register the resources they watch; `run` describes them
/// all, one call per kind per tick, and publishes the result.
pub struct Poller<'a> {
    api: &'a dyn RdsRead,
    pub settings: PollSettings,
    registry: Mutex<Registry>,
    /// The longest wait, and the flag that sets it: `settings.step_timeout` until a rollback
    /// gives its own.
    timeout: Mutex<(Duration, &'static str)>,
    wake: Notify,
    seen: watch::Sender<Published>,
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
    pub fn new(api: &'a dyn RdsRead, settings: PollSettings) -> Self {
        Poller {
            api,
            settings,
            registry: Mutex::new(Registry::default()),
            timeout: Mutex::new((settings.step_timeout, "--step-timeout")),
            wake: Notify::new(),
            seen: watch::channel(Published::default()).0,
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

    /// One look at everything watched: a DescribeDBInstances filtered to the instances, a
    /// DescribeDBClusters filtered to the clusters, one describe per snapshot.
    async fn describe(&self, watched: &[Watched]) -> Result<Vec<Seen>, String> {
        let mut instances = Vec::new();
        let mut clusters = Vec::new();
        let mut found = Vec::new();
        for w in watched {
            match w {
                Watched::Instance(id) => instances.push(id.clone()),
                Watched::Cluster(id) => clusters.push(id.clone()),
                Watched::Snapshot(of, id) => {
                    let snap = self
                        .api
                        .describe_snapshot(*of, id)
                        .await
                        .map_err(|e| e.to_string())?;
                    found.extend(snap.map(|s| Seen::Snapshot(*of, s)));
                }
                Watched::Endpoint(id) => {
                    let seen = self
                        .api
                        .describe_endpoints(None, Some(id))
                        .await
                        .map_err(|e| e.to_string())?;
                    found.extend(seen.into_iter().map(Seen::Endpoint));
                }
            }
        }
        if !clusters.is_empty() {
            let seen = self
                .api
                .describe_some_clusters(&clusters)
                .await
                .map_err(|e| e.to_string())?;
            found.extend(seen.into_iter().map(Seen::Cluster));
        }
        if !instances.is_empty() {
            let seen = self
                .api
                .describe_some(&instances)
                .await
                .map_err(|e| e.to_string())?;
            found.extend(seen.into_iter().map(Seen::Instance));
        }
        Ok(found)
    }

    async fn poll(&self) {
        let watched: Vec<Watched> = {
            let r = self.registry.lock().expect("poller registry");
            let mut all: Vec<Watched> =
                r.waiters.values().flat_map(|w| w.watched.clone()).collect();
            all.sort();
            all.dedup();
            all
        };
        if watched.is_empty() {
            return;
        }
        let result = self.describe(&watched).await.map(|found| {
            found
                .into_iter()
                .map(|seen| (seen.key(), seen))
                .collect::<BTreeMap<Watched, Seen>>()
        });
        let now = Instant::now();
        {
            let mut r = self.registry.lock().expect("poller registry");
            r.last_poll = Some(now);
            if let Ok(found) = &result {
                for w in &watched {
                    r.latest.remove(w);
                }
                for (w, seen) in found {
                    r.latest.insert(w.clone(), (now, seen.clone()));
                }
            }
            let settings = self.settings;
            for w in r.waiters.values_mut() {
                // Never look later than the step's deadline, so a timeout is noticed on time.
                let deadline = w.started + w.timeout;
                w.due = (now + settings.next_delay(w.expected, now - w.started)).min(deadline);
            }
        }
        let generation = self.seen.borrow().generation + 1;
        let published = match result {
            Ok(found) => Published {
                generation,
                found: Arc::new(found),
                polled: Arc::new(watched),
                error: None,
            },
            Err(e) => Published {
                generation,
                found: self.seen.borrow().found.clone(),
                polled: Arc::new(watched),
                error: Some(e),
            },
        };
        self.seen.send_replace(published);
    }

    /// From now on, waits last at most `timeout` (`flag` sets it, for the error message).
    pub fn set_timeout(&self, timeout: Duration, flag: &'static str) {
        *self.timeout.lock().expect("poller timeout") = (timeout, flag);
    }

    /// The instance as last seen and when, however long ago.
    pub fn last_seen_cluster(&self, id: &str) -> Option<(Instant, Cluster)> {
        let r = self.registry.lock().expect("poller registry");
        match r.latest.get(&Watched::Cluster(id.to_string())) {
            Some((at, Seen::Cluster(c))) => Some((*at, c.clone())),
            _ => None,
        }
    }

    pub fn last_seen(&self, id: &str) -> Option<(Instant, Instance)> {
        let r = self.registry.lock().expect("poller registry");
        match r.latest.get(&Watched::Instance(id.to_string())) {
            Some((at, Seen::Instance(i))) => Some((*at, i.clone())),
            _ => None,
        }
    }

    /// Waits until `done` holds for what is watched. `expected` (how long the step should
    /// take) sets how often to look. Fails at once when a watched resource reaches a failed
    /// status, and after the step timeout with the resources and their last statuses named.
    pub async fn wait(
        &self,
        watched: &[Watched],
        expected: Duration,
        what: &str,
        done: &Condition<'_>,
    ) -> Result<Looks, ExecError> {
        let mut rx = self.seen.subscribe();
        let started = Instant::now();
        let (timeout, flag) = *self.timeout.lock().expect("poller timeout");
        let key = {
            let mut r = self.registry.lock().expect("poller registry");
            r.next_key += 1;
            let key = r.next_key;
            let due = if expected.is_zero() {
                started
            } else {
                (started + self.settings.next_delay(expected, Duration::ZERO))
                    .min(started + timeout)
            };
            r.waiters.insert(
                key,
                Waiter {
                    watched: watched.to_vec(),
                    timeout,
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
            let published = rx.borrow_and_update().clone();
            // A poll that started before this waiter registered did not look for its resources
            // (an absent one would read as "deleted").
            if published.generation <= first
                || !watched.iter().all(|w| published.polled.contains(w))
            {
                continue;
            }
            if let Some(e) = published.error {
                return Err(ExecError::Aws(crate::error::MitosisError::Aws {
                    operation: "Describe".into(),
                    message: e,
                }));
            }
            let looks = Looks(
                watched
                    .iter()
                    .filter_map(|w| published.found.get(w).map(|s| (w.clone(), s.clone())))
                    .collect(),
            );
            if let Some(bad) = looks.0.values().find(|s| s.class() == StatusClass::Failed) {
                return Err(ExecError::FailedStatus {
                    resource: bad.name().to_string(),
                    status: bad.status().to_string(),
                });
            }
            if done(&looks) {
                return Ok(looks);
            }
            for s in looks.0.values() {
                if s.class() != StatusClass::Done && !known_in_progress(s.status()) {
                    tracing::warn!(resource = %s.name(), status = %s.status(), "unknown status, treated as in progress");
                }
            }
            if started.elapsed() >= timeout {
                let last = watched
                    .iter()
                    .map(|w| match (w, looks.0.get(w)) {
                        (_, Some(s)) => format!("{} is {}", s.name(), s.status()),
                        (
                            Watched::Instance(id)
                            | Watched::Cluster(id)
                            | Watched::Snapshot(_, id)
                            | Watched::Endpoint(id),
                            None,
                        ) => {
                            format!("{id} does not exist")
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(", ");
                return Err(ExecError::Timeout {
                    what: what.to_string(),
                    after: timeout,
                    last,
                    flag,
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
    use crate::observed::Membership;

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
