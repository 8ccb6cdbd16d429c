//! One refresh per target at a time: a lock tag on the target's root instance.
//!
//! Tags offer no compare-and-swap, so each run writes its own key
//! (`stack-mitosis:lock:<run id>` = expiry, epoch seconds), waits, and reads the tags again:
//! when two runs raced, both see both keys and the lower run id wins; the other withdraws.
//! Tags follow renames, so the lock stays with the original root while it is retired.

use super::ExecError;
use crate::aws::RdsWrite;
use crate::observed::{Instance, OLD_PREFIX, TEMP_PREFIX};
use crate::plan::Tag;
use std::time::Duration;

pub const LOCK_PREFIX: &str = "stack-mitosis:lock:";

#[derive(Debug, Clone)]
pub struct LockSettings {
    pub now_epoch: i64,
    pub ttl: Duration,
    /// How long to wait between writing the lock and checking for a competing run.
    pub settle: Duration,
    pub force_unlock: Option<String>,
}

fn candidates(target: &str) -> Vec<String> {
    vec![
        target.to_string(),
        format!("{OLD_PREFIX}{target}"),
        format!("{TEMP_PREFIX}{target}"),
    ]
}

/// Lock keys of other runs that have not expired, as (run id, expiry).
fn foreign_locks(instances: &[Instance], run_id: &str, now: i64) -> Vec<(String, i64)> {
    let mut out: Vec<(String, i64)> = instances
        .iter()
        .flat_map(|i| i.tags.iter())
        .filter_map(|(k, v)| Some((k.strip_prefix(LOCK_PREFIX)?.to_string(), v.parse().ok()?)))
        .filter(|(run, expiry)| run != run_id && *expiry > now)
        .collect();
    out.sort();
    out.dedup();
    out
}

async fn with_tags(api: &dyn RdsWrite, target: &str) -> Result<Vec<Instance>, ExecError> {
    let mut found = api
        .describe_some(&candidates(target))
        .await
        .map_err(ExecError::Aws)?;
    for i in found.iter_mut() {
        i.tags = api.list_tags(&i.arn).await.map_err(ExecError::Aws)?;
    }
    Ok(found)
}

pub async fn acquire(
    api: &dyn RdsWrite,
    target: &str,
    run_id: &str,
    settings: &LockSettings,
) -> Result<(), ExecError> {
    let mut found = with_tags(api, target).await?;
    if let Some(stale) = &settings.force_unlock {
        let key = format!("{LOCK_PREFIX}{stale}");
        for i in found.iter().filter(|i| i.tags.contains_key(&key)) {
            api.remove_tags(&i.arn, std::slice::from_ref(&key))
                .await
                .map_err(ExecError::Aws)?;
            tracing::warn!(instance = %i.id, "removed the lock of run {stale} (--force-unlock)");
        }
        found = with_tags(api, target).await?;
    }
    let refuse = |locks: Vec<(String, i64)>| {
        let (run, expiry) = &locks[0];
        ExecError::Locked(format!(
            "{target} is being refreshed by run {run} (lock expires at epoch {expiry}): wait for it to finish, or if that run is dead, rerun with --force-unlock {run}"
        ))
    };
    let locks = foreign_locks(&found, run_id, settings.now_epoch);
    if !locks.is_empty() {
        return Err(refuse(locks));
    }
    let Some(holder) = candidates(target)
        .into_iter()
        .find_map(|c| found.iter().find(|i| i.id == c))
    else {
        return Ok(());
    };
    let key = format!("{LOCK_PREFIX}{run_id}");
    let expiry = settings.now_epoch + settings.ttl.as_secs() as i64;
    api.add_tags(
        &holder.arn,
        &[Tag {
            key: key.clone(),
            value: expiry.to_string(),
        }],
    )
    .await
    .map_err(ExecError::Aws)?;
    tokio::time::sleep(settings.settle).await;
    let found = with_tags(api, target).await?;
    let locks = foreign_locks(&found, run_id, settings.now_epoch);
    if locks.iter().any(|(run, _)| run.as_str() < run_id) {
        api.remove_tags(&holder.arn, &[key])
            .await
            .map_err(ExecError::Aws)?;
        return Err(refuse(locks));
    }
    Ok(())
}

/// Removes this run's lock wherever it is now (the holder may have been renamed).
pub async fn release(api: &dyn RdsWrite, target: &str, run_id: &str) -> Result<(), ExecError> {
    let key = format!("{LOCK_PREFIX}{run_id}");
    for i in with_tags(api, target).await? {
        if i.tags.contains_key(&key) {
            api.remove_tags(&i.arn, std::slice::from_ref(&key))
                .await
                .map_err(ExecError::Aws)?;
        }
    }
    Ok(())
}
