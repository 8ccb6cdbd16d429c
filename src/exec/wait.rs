//! Waiting for AWS: status classification, "settled", and one poller that describes every
//! in-flight instance in a single call per tick.

use super::ExecError;
use crate::aws::Rds;
use crate::model::Instance;
use std::collections::BTreeMap;
use std::time::Duration;
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

/// How often to look. The first look comes quickly (many steps finish fast), later ones at the
/// full interval.
#[derive(Debug, Clone, Copy)]
pub struct PollSettings {
    pub interval: Duration,
    pub first: Duration,
    pub step_timeout: Duration,
}

/// What a wait is for, checked against the instances it watches (absent ones are missing from
/// the map).
pub type Condition<'a> = dyn Fn(&BTreeMap<String, Instance>) -> bool + Send + Sync + 'a;

/// Polls `ids` until `done` holds. Fails at once when a watched instance reaches a failed
/// status, and after the step timeout with the instance and its last status named.
pub async fn wait_until(
    api: &dyn Rds,
    poll: &PollSettings,
    ids: &[String],
    what: &str,
    done: &Condition<'_>,
) -> Result<BTreeMap<String, Instance>, ExecError> {
    let start = Instant::now();
    let mut delay = poll.first;
    loop {
        let seen: BTreeMap<String, Instance> = api
            .describe_some(ids)
            .await
            .map_err(ExecError::Aws)?
            .into_iter()
            .map(|i| (i.id.clone(), i))
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
            if !matches!(classify(&i.status), StatusClass::Done) && !known_in_progress(&i.status) {
                tracing::warn!(instance = %i.id, status = %i.status, "unknown RDS status, treated as in progress");
            }
        }
        if start.elapsed() >= poll.step_timeout {
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
                after: poll.step_timeout,
                last,
            });
        }
        tokio::time::sleep(delay.min(poll.step_timeout.saturating_sub(start.elapsed()))).await;
        delay = poll.interval;
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
