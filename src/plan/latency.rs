//! How long each kind of AWS operation takes: the model the ETA, the poller's patience and
//! `--latency-model FILE` share.

use serde::{Deserialize, Serialize};

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
