//! AWS access behind narrow traits in the project's own types: `RdsRead` for observing (all
//! that `plan` and `iam-policy` are given, so they cannot change anything by type) and
//! `RdsWrite` for the executor. The real adapter over aws-sdk-rds lives in `sdk`; tests use the
//! emulator through it, or fakes of the traits.

pub mod credentials;
mod observe;
mod sdk;

pub use observe::observe;
pub(crate) use sdk::aws_error;
pub use sdk::{load_config, AwsSettings, SdkRds, DEFAULT_MAX_ATTEMPTS};

use crate::error::MitosisError;
use crate::observed::{Cluster, CustomEndpoint, Instance, Snapshot};
use crate::plan::{
    ClusterAttrs, ClusterModify, CreateAttrs, MemberAttrs, ModifyAttrs, SnapshotOf, SourceTime, Tag,
};
use async_trait::async_trait;
use std::collections::BTreeMap;

/// The password a secret holds: the `password` key of its JSON (as RDS and most rotation
/// templates write it), or the whole string. The error never quotes the value.
pub fn password_of(value: &str) -> Result<String, String> {
    let trimmed = value.trim();
    if trimmed.starts_with('{') {
        let json: serde_json::Value = serde_json::from_str(trimmed)
            .map_err(|_| "the secret looks like JSON but does not parse".to_string())?;
        return match json.get("password").and_then(|p| p.as_str()) {
            Some(p) if !p.is_empty() => Ok(p.to_string()),
            _ => Err("the secret's JSON has no non-empty \"password\" key".to_string()),
        };
    }
    if value.is_empty() {
        return Err("the secret is empty".to_string());
    }
    Ok(value.to_string())
}

/// Reading RDS: nothing here changes the account.
#[async_trait]
pub trait RdsRead: Send + Sync {
    /// Every DB instance of the region (all pages).
    async fn describe_instances(&self) -> Result<Vec<Instance>, MitosisError>;
    /// The tags of one resource, by ARN.
    async fn list_tags(&self, arn: &str) -> Result<BTreeMap<String, String>, MitosisError>;
    /// Automated and manual snapshots of one instance, or of one cluster (all pages).
    async fn describe_snapshots(
        &self,
        of: SnapshotOf,
        source: &str,
    ) -> Result<Vec<Snapshot>, MitosisError>;
    /// Every Aurora DB cluster of the region (all pages), without tags.
    async fn describe_clusters(&self) -> Result<Vec<Cluster>, MitosisError>;
    /// The clusters among `ids` that exist, in one DescribeDBClusters call.
    async fn describe_some_clusters(&self, ids: &[String]) -> Result<Vec<Cluster>, MitosisError>;
    /// The custom endpoints of one cluster, or the one custom endpoint of that name.
    async fn describe_endpoints(
        &self,
        cluster: Option<&str>,
        endpoint: Option<&str>,
    ) -> Result<Vec<CustomEndpoint>, MitosisError>;
    /// The region the client talks to, when known.
    fn region(&self) -> Option<String>;
    /// A KMS key's ARN, from its id, alias or ARN (DescribeKey).
    async fn key_arn(&self, key: &str) -> Result<String, MitosisError>;

    /// The instances among `ids` that exist, in one DescribeDBInstances call (a filter on
    /// db-instance-id): the poller's one request per tick, however many are in flight.
    async fn describe_some(&self, ids: &[String]) -> Result<Vec<Instance>, MitosisError>;
    /// One snapshot (a DB snapshot, or a cluster snapshot) by identifier, if it exists.
    async fn describe_snapshot(
        &self,
        of: SnapshotOf,
        snapshot_id: &str,
    ) -> Result<Option<Snapshot>, MitosisError>;
    /// The value of a Secrets Manager secret (`SecretString`). Never logged or shown.
    async fn secret_value(&self, arn: &str) -> Result<String, MitosisError>;
    /// The highest `ReplicaLag` (seconds) a replica reported over the last five minutes, from
    /// CloudWatch (RDS publishes it nowhere else); None without datapoints.
    async fn replica_lag(&self, id: &str) -> Result<Option<f64>, MitosisError>;
}

/// Changing RDS: the executor's calls, one per kind of step.
#[async_trait]
pub trait RdsWrite: RdsRead {
    async fn create_read_replica(
        &self,
        id: &str,
        source: &str,
        attrs: &CreateAttrs,
    ) -> Result<(), MitosisError>;
    async fn restore_from_snapshot(
        &self,
        id: &str,
        snapshot_id: &str,
        attrs: &CreateAttrs,
    ) -> Result<(), MitosisError>;
    /// CreateDBSnapshot of an instance, or CreateDBClusterSnapshot of a cluster.
    async fn create_snapshot(
        &self,
        of: SnapshotOf,
        source: &str,
        snapshot_id: &str,
        tags: &[Tag],
    ) -> Result<(), MitosisError>;
    async fn delete_snapshot(&self, of: SnapshotOf, snapshot_id: &str) -> Result<(), MitosisError>;
    /// CopyDBSnapshot (or CopyDBClusterSnapshot) of `from`, an identifier or a shared
    /// snapshot's ARN, to `snapshot_id`, encrypted with `kms_key_id` when given.
    async fn copy_snapshot(
        &self,
        of: SnapshotOf,
        from: &str,
        snapshot_id: &str,
        kms_key_id: Option<&str>,
        tags: &[Tag],
    ) -> Result<(), MitosisError>;
    /// ModifyDBSnapshotAttribute `restore`: shares the snapshot with `account`, or stops.
    async fn share_snapshot(
        &self,
        of: SnapshotOf,
        snapshot_id: &str,
        account: &str,
        share: bool,
    ) -> Result<(), MitosisError>;
    /// RestoreDBInstanceToPointInTime of `source` into `id`.
    async fn restore_to_point_in_time(
        &self,
        id: &str,
        source: &str,
        time: SourceTime,
        attrs: &CreateAttrs,
    ) -> Result<(), MitosisError>;
    /// RestoreDBClusterToPointInTime: copy-on-write at the latest restorable time, or with
    /// `time` a full copy as of that moment.
    async fn clone_cluster(
        &self,
        id: &str,
        source: &str,
        time: Option<SourceTime>,
        attrs: &ClusterAttrs,
    ) -> Result<(), MitosisError>;
    async fn restore_cluster_from_snapshot(
        &self,
        id: &str,
        snapshot_id: &str,
        engine: &str,
        engine_version: &str,
        attrs: &ClusterAttrs,
    ) -> Result<(), MitosisError>;
    async fn modify_cluster(&self, id: &str, attrs: &ClusterModify) -> Result<(), MitosisError>;
    async fn delete_cluster(
        &self,
        id: &str,
        final_snapshot_id: Option<&str>,
    ) -> Result<(), MitosisError>;
    /// CreateDBClusterEndpoint on `cluster`, as `endpoint` defines it.
    async fn create_endpoint(
        &self,
        cluster: &str,
        endpoint: &CustomEndpoint,
    ) -> Result<(), MitosisError>;
    async fn delete_endpoint(&self, endpoint: &str) -> Result<(), MitosisError>;
    /// CreateDBInstance of a member of `cluster`.
    async fn create_member(
        &self,
        id: &str,
        cluster: &str,
        attrs: &MemberAttrs,
    ) -> Result<(), MitosisError>;
    async fn promote(&self, id: &str) -> Result<(), MitosisError>;
    async fn modify(&self, id: &str, attrs: &ModifyAttrs) -> Result<(), MitosisError>;
    /// ModifyDBInstance (or, for a cluster, ModifyDBCluster) `MasterUserPassword`, applied
    /// immediately.
    async fn set_master_password(
        &self,
        cluster: bool,
        id: &str,
        password: &str,
    ) -> Result<(), MitosisError>;
    async fn add_tags(&self, arn: &str, tags: &[Tag]) -> Result<(), MitosisError>;
    async fn remove_tags(&self, arn: &str, keys: &[String]) -> Result<(), MitosisError>;
    async fn delete(&self, id: &str, final_snapshot_id: Option<&str>) -> Result<(), MitosisError>;
}
