//! One refresh per target at a time: a lock tag on the target's root instance, held while the
//! run lives and lapsing soon after it dies.
//!
//! Tags offer no compare-and-swap, so each invocation writes its own key
//! (`stack-mitosis:lock:<holder>` = expiry, epoch seconds; the holder is the invocation's own
//! id, even when it resumes an earlier run), waits, and reads the tags again: when two raced,
//! both see both keys and the lower holder wins; the other withdraws.
//!
//! The key goes on every root that exists (X, old-X, temp-X) and is renewed there every third
//! of the TTL, so that it stays visible while one of them is mid-rename (a renamed instance
//! answers under neither name for a while). A live run's lock never lapses; a dead run's
//! lapses within the TTL, and a run that finds it waits for that and takes over. A waiting run
//! counts a lock it has seen as held until it lapses, unless an instance that carried it (known
//! by its DbiResourceId, which survives renames) is seen without it: then it was released.

use super::ExecError;
use crate::aws::RdsWrite;
use crate::observed::{OLD_PREFIX, TEMP_PREFIX};
use crate::plan::{Kind, Tag};
use std::time::Duration;

pub const LOCK_PREFIX: &str = "stack-mitosis:lock:";

#[derive(Debug, Clone)]
pub struct LockSettings {
    /// How long the lock holds after its last renewal.
    pub ttl: Duration,
    /// How long to wait for another run's lock to be released or to lapse.
    pub wait: Duration,
    /// How long to wait between writing the lock and checking for a competing run.
    pub settle: Duration,
    pub force_unlock: Option<String>,
    /// The clock, in epoch seconds (tests move it).
    pub clock: fn() -> i64,
}

impl LockSettings {
    /// How often a live run renews its lock.
    pub fn renew_every(&self) -> Duration {
        (self.ttl / 3).max(Duration::from_millis(100))
    }
}

/// How the lock was taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Taken {
    /// Nobody held it.
    Free,
    /// Another run held it; this run waited until it was released or lapsed. What that run
    /// did in the meantime is not in the plan made before: plan again.
    AfterWaiting,
}

/// A resource that can carry the lock: the target's root instance, or its cluster.
#[derive(Debug, Clone)]
struct Carrier {
    id: String,
    arn: String,
    /// `DbiResourceId` or `DbClusterResourceId`: survives renames.
    resource_id: Option<String>,
    tags: std::collections::BTreeMap<String, String>,
}

/// Those of `names` that exist, as instances or clusters by the plan's kind (tags unread).
async fn describe(
    api: &dyn RdsWrite,
    kind: Kind,
    names: &[String],
) -> Result<Vec<Carrier>, ExecError> {
    Ok(match kind {
        Kind::Instance => api
            .describe_some(names)
            .await
            .map_err(ExecError::Aws)?
            .into_iter()
            .map(|i| Carrier {
                id: i.id,
                arn: i.arn,
                resource_id: i.resource_id,
                tags: i.tags,
            })
            .collect(),
        Kind::Cluster => api
            .describe_some_clusters(names)
            .await
            .map_err(ExecError::Aws)?
            .into_iter()
            .map(|c| Carrier {
                id: c.id,
                arn: c.arn,
                resource_id: c.resource_id,
                tags: c.tags,
            })
            .collect(),
    })
}

fn candidates(target: &str) -> Vec<String> {
    vec![
        target.to_string(),
        format!("{OLD_PREFIX}{target}"),
        format!("{TEMP_PREFIX}{target}"),
    ]
}

/// Lock keys of other holders that have not lapsed, as (holder, expiry), latest expiry last.
fn foreign_locks(instances: &[Carrier], holder: &str, now: i64) -> Vec<(String, i64)> {
    let mut out: Vec<(String, i64)> = instances
        .iter()
        .flat_map(|i| i.tags.iter())
        .filter_map(|(k, v)| Some((k.strip_prefix(LOCK_PREFIX)?.to_string(), v.parse().ok()?)))
        .filter(|(other, expiry)| other != holder && *expiry > now)
        .collect();
    out.sort_by_key(|(other, expiry)| (*expiry, other.clone()));
    out.dedup();
    out
}

async fn with_tags(
    api: &dyn RdsWrite,
    kind: Kind,
    target: &str,
) -> Result<Vec<Carrier>, ExecError> {
    let mut found = describe(api, kind, &candidates(target)).await?;
    for i in found.iter_mut() {
        i.tags = api.list_tags(&i.arn).await.map_err(ExecError::Aws)?;
    }
    Ok(found)
}

fn lock_tag(holder: &str, expiry: i64) -> Tag {
    Tag::new(&format!("{LOCK_PREFIX}{holder}"), &expiry.to_string())
}

/// Writes the lock with a new expiry on every root that exists.
async fn write(
    api: &dyn RdsWrite,
    found: &[Carrier],
    holder: &str,
    settings: &LockSettings,
) -> Result<(), ExecError> {
    let expiry = (settings.clock)() + settings.ttl.as_secs() as i64;
    for i in found {
        api.add_tags(&i.arn, &[lock_tag(holder, expiry)])
            .await
            .map_err(ExecError::Aws)?;
    }
    Ok(())
}

/// Takes the lock for `holder`, waiting up to `settings.wait` for another run's lock to be
/// released or to lapse. Refuses (`ExecError::Locked`) when it is still held after that, or
/// when a competing run that started at the same moment wins.
pub async fn acquire(
    api: &dyn RdsWrite,
    kind: Kind,
    target: &str,
    holder: &str,
    settings: &LockSettings,
) -> Result<Taken, ExecError> {
    if let Some(stale) = &settings.force_unlock {
        force_unlock(api, kind, target, stale).await?;
    }
    let waited = wait_for_others(api, kind, target, holder, settings).await?;
    let found = with_tags(api, kind, target).await?;
    remove_lapsed(api, &found, holder, (settings.clock)()).await?;
    write(api, &found, holder, settings).await?;
    tokio::time::sleep(settings.settle).await;
    let found = with_tags(api, kind, target).await?;
    let locks = foreign_locks(&found, holder, (settings.clock)());
    if let Some((other, expiry)) = locks.iter().find(|(other, _)| other.as_str() < holder) {
        release(api, kind, target, holder).await?;
        return Err(locked(target, other, *expiry, settings));
    }
    Ok(if waited {
        Taken::AfterWaiting
    } else {
        Taken::Free
    })
}

/// A lock another holder was seen with: until when, and on which instances (by resource id).
struct Seen {
    expiry: i64,
    carriers: Vec<String>,
}

/// Waits while another holder's lock is held; true when there was one to wait for.
async fn wait_for_others(
    api: &dyn RdsWrite,
    kind: Kind,
    target: &str,
    holder: &str,
    settings: &LockSettings,
) -> Result<bool, ExecError> {
    let start = tokio::time::Instant::now();
    let mut waited = false;
    let mut seen: std::collections::BTreeMap<String, Seen> = Default::default();
    loop {
        let found = with_tags(api, kind, target).await?;
        let now = (settings.clock)();
        for i in &found {
            for (other, expiry) in foreign_locks(std::slice::from_ref(i), holder, now) {
                let entry = seen.entry(other).or_insert(Seen {
                    expiry,
                    carriers: Vec::new(),
                });
                entry.expiry = entry.expiry.max(expiry);
                entry.carriers.extend(i.resource_id.clone());
            }
        }
        // Held: visible and unlapsed; or out of sight (mid-rename) but not lapsed and not seen
        // removed from an instance that carried it.
        seen.retain(|other, lock| {
            let key = format!("{LOCK_PREFIX}{other}");
            let removed = found.iter().any(|i| {
                i.resource_id
                    .as_ref()
                    .is_some_and(|r| lock.carriers.contains(r))
                    && !i.tags.contains_key(&key)
            });
            lock.expiry > now && !removed
        });
        let Some((other, lock)) = seen.iter().max_by_key(|(_, l)| l.expiry) else {
            return Ok(waited);
        };
        let (other, expiry) = (other.clone(), lock.expiry);
        let left = settings.wait.saturating_sub(start.elapsed());
        if left.is_zero() {
            return Err(locked(target, &other, expiry, settings));
        }
        tracing::warn!(
            "{target} is locked by run {other} until epoch {expiry} (in {}s): waiting up to {}s more (--lock-wait) for it to finish or lapse",
            expiry - now,
            left.as_secs()
        );
        // Look again when it would lapse, or sooner: a finishing run releases it early.
        let until_lapse = Duration::from_secs((expiry - now).max(0) as u64 + 1);
        let step = until_lapse
            .min(settings.renew_every())
            .min(left)
            .max(settings.settle);
        waited = true;
        tokio::time::sleep(step).await;
    }
}

/// Takes a dead run's lapsed lock off, so that it is not left behind.
async fn remove_lapsed(
    api: &dyn RdsWrite,
    found: &[Carrier],
    holder: &str,
    now: i64,
) -> Result<(), ExecError> {
    let own = format!("{LOCK_PREFIX}{holder}");
    for i in found {
        let lapsed: Vec<String> = i
            .tags
            .iter()
            .filter(|(k, v)| {
                k.starts_with(LOCK_PREFIX)
                    && **k != own
                    && v.parse::<i64>().map_or(true, |expiry| expiry <= now)
            })
            .map(|(k, _)| k.clone())
            .collect();
        if !lapsed.is_empty() {
            tracing::info!(instance = %i.id, "taking over the lapsed lock {}", lapsed.join(", "));
            api.remove_tags(&i.arn, &lapsed)
                .await
                .map_err(ExecError::Aws)?;
        }
    }
    Ok(())
}

fn locked(target: &str, run: &str, expiry: i64, settings: &LockSettings) -> ExecError {
    ExecError::Locked(format!(
        "{target} is being refreshed by run {run} (its lock lapses at epoch {expiry}, {}s from now, unless that run renews it): wait for it to finish, or if that run is dead, rerun with --force-unlock {run}",
        (expiry - (settings.clock)()).max(0)
    ))
}

async fn force_unlock(
    api: &dyn RdsWrite,
    kind: Kind,
    target: &str,
    stale: &str,
) -> Result<(), ExecError> {
    for instance in remove_key(api, kind, target, stale).await? {
        tracing::warn!(%instance, "removed the lock of run {stale} (--force-unlock)");
    }
    Ok(())
}

/// Moves this run's lock expiry forward, on every root that exists now (the roots are renamed
/// and replaced during a refresh).
/// The other runs' locks on the target that have not lapsed (run id, expiry).
pub async fn others(
    api: &dyn RdsWrite,
    kind: Kind,
    target: &str,
    holder: &str,
    settings: &LockSettings,
) -> Result<Vec<(String, i64)>, ExecError> {
    let found = with_tags(api, kind, target).await?;
    Ok(foreign_locks(&found, holder, (settings.clock)()))
}

pub async fn renew(
    api: &dyn RdsWrite,
    kind: Kind,
    target: &str,
    holder: &str,
    settings: &LockSettings,
) -> Result<(), ExecError> {
    put_on(api, kind, &candidates(target), holder, settings).await
}

/// Writes the lock with a new expiry on those of `names` that exist (the new root takes it
/// before the old one that carried it is deleted). Writing needs no tags: one look.
pub async fn put_on(
    api: &dyn RdsWrite,
    kind: Kind,
    names: &[String],
    holder: &str,
    settings: &LockSettings,
) -> Result<(), ExecError> {
    let found = describe(api, kind, names).await?;
    write(api, &found, holder, settings).await
}

/// Removes this run's lock wherever it is now (the holder may have been renamed).
pub async fn release(
    api: &dyn RdsWrite,
    kind: Kind,
    target: &str,
    holder: &str,
) -> Result<(), ExecError> {
    remove_key(api, kind, target, holder).await.map(drop)
}

/// Removes `holder`'s lock key from every root that carries it; returns those instances.
async fn remove_key(
    api: &dyn RdsWrite,
    kind: Kind,
    target: &str,
    holder: &str,
) -> Result<Vec<String>, ExecError> {
    let key = format!("{LOCK_PREFIX}{holder}");
    let mut removed = Vec::new();
    for i in with_tags(api, kind, target).await? {
        if i.tags.contains_key(&key) {
            api.remove_tags(&i.arn, std::slice::from_ref(&key))
                .await
                .map_err(ExecError::Aws)?;
            removed.push(i.id);
        }
    }
    Ok(removed)
}
