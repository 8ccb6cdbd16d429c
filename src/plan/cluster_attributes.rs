//! Which settings of a target Aurora cluster T and of its members are carried to the clone.
//!
//! Settings live on the cluster or on the instance (see the README, "Aurora clusters"): the
//! cluster's go into the restore call where it takes them, the rest (backups and windows) into
//! one ModifyDBCluster afterwards; each member's go into its CreateDBInstance.

use super::attributes::{non_empty, to_map, InsightsAttrs};
use super::Tag;
use crate::observed::{Cluster, Instance};
use serde::Serialize;
use serde_json::{Map, Value};

/// Serverless v2 capacity range.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServerlessV2Scaling {
    #[serde(rename = "MinCapacity")]
    pub min: f64,
    #[serde(rename = "MaxCapacity")]
    pub max: f64,
}

/// What RestoreDBClusterToPointInTime and RestoreDBClusterFromSnapshot both take, from T.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct ClusterAttrs {
    #[serde(rename = "DBSubnetGroupName", skip_serializing_if = "Option::is_none")]
    pub subnet_group: Option<String>,
    #[serde(rename = "VpcSecurityGroupIds", skip_serializing_if = "Vec::is_empty")]
    pub vpc_security_group_ids: Vec<String>,
    #[serde(
        rename = "DBClusterParameterGroupName",
        skip_serializing_if = "Option::is_none"
    )]
    pub parameter_group: Option<String>,
    #[serde(rename = "Port", skip_serializing_if = "Option::is_none")]
    pub port: Option<i32>,
    #[serde(rename = "EnableIAMDatabaseAuthentication")]
    pub iam_auth: bool,
    #[serde(
        rename = "EnableCloudwatchLogsExports",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub cloudwatch_logs_exports: Vec<String>,
    /// aurora-mysql only; absent when T has none.
    #[serde(rename = "BacktrackWindow", skip_serializing_if = "Option::is_none")]
    pub backtrack_window: Option<i64>,
    #[serde(
        rename = "ServerlessV2ScalingConfiguration",
        skip_serializing_if = "Option::is_none"
    )]
    pub serverless_v2: Option<ServerlessV2Scaling>,
    #[serde(rename = "CopyTagsToSnapshot")]
    pub copy_tags_to_snapshot: bool,
    /// Always false while building: a protected temp-* could not be cleaned up after a failure.
    /// T's own value is set on the new T at the end.
    #[serde(rename = "DeletionProtection")]
    pub deletion_protection: bool,
    #[serde(rename = "Tags", skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}

impl ClusterAttrs {
    pub fn from_cluster(t: &Cluster, tags: Vec<Tag>) -> Self {
        ClusterAttrs {
            subnet_group: non_empty(&t.subnet_group),
            vpc_security_group_ids: t.active_security_groups(),
            parameter_group: non_empty(&t.parameter_group),
            port: t.port,
            iam_auth: t.iam_auth,
            cloudwatch_logs_exports: t.cloudwatch_logs_exports.clone(),
            backtrack_window: t.backtrack_window.filter(|w| *w > 0),
            serverless_v2: t
                .serverless_v2
                .map(|(min, max)| ServerlessV2Scaling { min, max }),
            copy_tags_to_snapshot: t.copy_tags_to_snapshot,
            deletion_protection: false,
            tags,
        }
    }

    pub fn to_params(&self) -> Map<String, Value> {
        to_map(self)
    }
}

/// ModifyDBCluster parameters, always applied immediately (a rename without it waits for the
/// maintenance window).
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct ClusterModify {
    #[serde(
        rename = "NewDBClusterIdentifier",
        skip_serializing_if = "Option::is_none"
    )]
    pub new_id: Option<String>,
    #[serde(
        rename = "BackupRetentionPeriod",
        skip_serializing_if = "Option::is_none"
    )]
    pub backup_retention: Option<i32>,
    #[serde(
        rename = "PreferredBackupWindow",
        skip_serializing_if = "Option::is_none"
    )]
    pub backup_window: Option<String>,
    #[serde(
        rename = "PreferredMaintenanceWindow",
        skip_serializing_if = "Option::is_none"
    )]
    pub maintenance_window: Option<String>,
    #[serde(rename = "DeletionProtection", skip_serializing_if = "Option::is_none")]
    pub deletion_protection: Option<bool>,
    #[serde(rename = "ApplyImmediately")]
    pub apply_immediately: bool,
}

impl ClusterModify {
    pub fn rename(new_id: &str) -> Self {
        ClusterModify {
            new_id: Some(new_id.to_string()),
            apply_immediately: true,
            ..Default::default()
        }
    }

    pub fn deletion_protection(on: bool) -> Self {
        ClusterModify {
            deletion_protection: Some(on),
            apply_immediately: true,
            ..Default::default()
        }
    }

    /// T's settings that neither restore call accepts.
    pub fn post_create(t: &Cluster) -> Self {
        ClusterModify {
            new_id: None,
            backup_retention: Some(t.backup_retention.max(1)),
            backup_window: non_empty(&t.backup_window),
            maintenance_window: non_empty(&t.maintenance_window),
            deletion_protection: None,
            apply_immediately: true,
        }
    }

    /// True when `c` already shows every value this modify would set.
    pub fn already_applied(&self, c: &Cluster) -> bool {
        let eq = |want: &Option<String>, have: &Option<String>| {
            want.as_ref()
                .is_none_or(|w| have.as_ref().is_some_and(|h| h.eq_ignore_ascii_case(w)))
        };
        self.new_id.is_none()
            && self
                .backup_retention
                .is_none_or(|r| r == c.backup_retention)
            && eq(&self.backup_window, &c.backup_window)
            && eq(&self.maintenance_window, &c.maintenance_window)
            && self
                .deletion_protection
                .is_none_or(|d| d == c.deletion_protection)
    }

    pub fn to_params(&self) -> Map<String, Value> {
        to_map(self)
    }
}

/// CreateDBInstance parameters of a cluster member, from T's member of the same name.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct MemberAttrs {
    #[serde(rename = "DBInstanceClass")]
    pub class: String,
    #[serde(rename = "Engine")]
    pub engine: String,
    #[serde(
        rename = "DBParameterGroupName",
        skip_serializing_if = "Option::is_none"
    )]
    pub parameter_group: Option<String>,
    #[serde(rename = "PromotionTier", skip_serializing_if = "Option::is_none")]
    pub promotion_tier: Option<i32>,
    #[serde(rename = "AvailabilityZone", skip_serializing_if = "Option::is_none")]
    pub availability_zone: Option<String>,
    #[serde(rename = "PubliclyAccessible")]
    pub publicly_accessible: bool,
    #[serde(rename = "AutoMinorVersionUpgrade")]
    pub auto_minor_version_upgrade: bool,
    #[serde(
        rename = "CACertificateIdentifier",
        skip_serializing_if = "Option::is_none"
    )]
    pub ca_certificate: Option<String>,
    #[serde(
        rename = "PreferredMaintenanceWindow",
        skip_serializing_if = "Option::is_none"
    )]
    pub maintenance_window: Option<String>,
    #[serde(flatten)]
    pub insights: Option<InsightsAttrs>,
    #[serde(rename = "Tags", skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}

impl MemberAttrs {
    pub fn from_instance(m: &Instance, tags: Vec<Tag>) -> Self {
        MemberAttrs {
            class: m.class.clone(),
            engine: m.engine.clone(),
            parameter_group: m.parameter_group().map(str::to_string),
            promotion_tier: m.promotion_tier,
            availability_zone: non_empty(&m.availability_zone),
            publicly_accessible: m.publicly_accessible,
            auto_minor_version_upgrade: m.auto_minor_version_upgrade,
            ca_certificate: non_empty(&m.ca_certificate),
            maintenance_window: non_empty(&m.maintenance_window),
            insights: InsightsAttrs::from_instance(m),
            tags,
        }
    }

    pub fn to_params(&self) -> Map<String, Value> {
        to_map(self)
    }
}
