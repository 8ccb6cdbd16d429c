//! Expected duration and downtime of a plan, from a latency model: the critical path through
//! the step graph, and the longest time any endpoint is without an instance (from its retire
//! rename to its swap-in rename).

use super::{Plan, Step, StepId, StepKind};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// How long RDS operations take, in seconds. The defaults are rough figures for small
/// instances (tens of GB); real times grow with storage size and write load. Override them
/// with a JSON file of the same fields (`--latency-model FILE`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LatencyModel {
    /// CreateDBInstanceReadReplica until the replica is available.
    pub create_replica: f64,
    /// RestoreDBInstanceFromDBSnapshot until available (including its first backup).
    pub restore_snapshot: f64,
    /// CreateDBSnapshot until the snapshot is available.
    pub create_snapshot: f64,
    /// CopyDBSnapshot until the copy is available: a full copy of the data (cross-account
    /// refreshes copy twice, once in each account).
    pub copy_snapshot: f64,
    /// PromoteReadReplica until the instance is a standalone primary again.
    pub promote: f64,
    /// ModifyDBInstance of parameter group / windows until applied.
    pub modify: f64,
    /// The backup RDS takes when automated backups are switched on.
    pub backup_after_enabling: f64,
    /// A rename, including the reboot it causes.
    pub rename: f64,
    /// DeleteDBInstance until the instance is gone.
    pub delete: f64,
    /// How long the status can still read `available`, unchanged, right after a modify.
    pub modify_lag: f64,
    /// One API call's round trip.
    pub api_call: f64,
    /// An Aurora copy-on-write clone (RestoreDBClusterToPointInTime) until the cluster is
    /// available: independent of the data size.
    pub clone_cluster: f64,
    /// CreateDBInstance of an Aurora cluster member until it is available.
    pub create_cluster_instance: f64,
    /// A point-in-time restore (instance or full-copy cluster) until available: a restore of
    /// the last backup plus the log since.
    pub restore_point_in_time: f64,
    /// A hook command (before-swap, restart); unknown, so 0 unless given.
    pub hook: f64,
}

impl Default for LatencyModel {
    fn default() -> Self {
        LatencyModel {
            create_replica: 900.0,
            restore_snapshot: 1200.0,
            create_snapshot: 600.0,
            copy_snapshot: 900.0,
            promote: 300.0,
            modify: 120.0,
            backup_after_enabling: 300.0,
            rename: 90.0,
            delete: 300.0,
            modify_lag: 15.0,
            api_call: 0.3,
            hook: 0.0,
            clone_cluster: 420.0,
            create_cluster_instance: 600.0,
            restore_point_in_time: 1500.0,
        }
    }
}

impl LatencyModel {
    /// Every figure a number of seconds a clock can wait: finite and not negative (JSON
    /// itself has no infinity, but `1e999` parses as one).
    pub fn check(&self) -> Result<(), String> {
        let fields = serde_json::to_value(self).map_err(|e| e.to_string())?;
        for (name, value) in fields.as_object().into_iter().flatten() {
            let seconds = value.as_f64();
            if !seconds.is_some_and(|s| s.is_finite() && s >= 0.0) {
                return Err(format!(
                    "{name} is {value}: give a finite number of seconds, 0 or more"
                ));
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Eta {
    /// Critical path through the pending steps, in seconds.
    pub duration_seconds: f64,
    /// Longest time one endpoint has no instance behind it, in seconds.
    pub downtime_seconds: f64,
}

/// Earliest start and finish of every pending step with unlimited concurrency (skipped steps
/// take no time).
pub fn schedule(plan: &Plan, latency: &LatencyModel) -> BTreeMap<StepId, (f64, f64)> {
    let mut times: BTreeMap<StepId, (f64, f64)> = BTreeMap::new();
    // Steps are listed after their dependencies, so one pass suffices.
    for step in &plan.steps {
        let start = step
            .depends_on
            .iter()
            .filter_map(|d| times.get(d).map(|t| t.1))
            .fold(0.0, f64::max);
        let length = if step.skip.is_some() {
            0.0
        } else {
            step.op.expected(latency)
        };
        times.insert(step.id.clone(), (start, start + length));
    }
    times
}

pub fn estimate(plan: &Plan, latency: &LatencyModel) -> Eta {
    let times = schedule(plan, latency);
    let duration = times.values().map(|t| t.1).fold(0.0, f64::max);
    // An endpoint is down from its retire rename to its swap-in rename; an Aurora custom
    // endpoint from its delete on the retired cluster to its creation on the new one.
    let pairs = [
        (StepKind::Retire, StepKind::Swap),
        (StepKind::DropEndpoint, StepKind::Endpoint),
    ];
    let downtime = plan
        .pending()
        .filter_map(|first| {
            let (_, last) = pairs.iter().find(|(k, _)| *k == first.id.kind)?;
            let last = StepId {
                kind: *last,
                subject: first.id.subject.clone(),
            };
            Some(times.get(&last)?.1 - times[&first.id].0)
        })
        .fold(0.0, f64::max);
    Eta {
        duration_seconds: duration,
        downtime_seconds: downtime,
    }
}

/// For the poller: how long a step is expected to take.
pub fn expected(step: &Step, latency: &LatencyModel) -> Duration {
    Duration::from_secs_f64(step.op.expected(latency).max(0.0))
}
