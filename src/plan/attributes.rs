//! Which attributes of a target-tree instance X are carried to its clone temp-X, and how.
//!
//! The lists follow the refresh procedure: some attributes can only be given at creation, some
//! only afterwards with ModifyDBInstance. Empty or absent values are left out of the request,
//! never sent as empty.

use crate::observed::Instance;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Creation-time attributes for CreateDBInstanceReadReplica / RestoreDBInstanceFromDBSnapshot.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct CreateAttrs {
    #[serde(rename = "DBInstanceClass")]
    pub class: String,
    #[serde(rename = "Port", skip_serializing_if = "Option::is_none")]
    pub port: Option<i32>,
    #[serde(rename = "StorageType", skip_serializing_if = "Option::is_none")]
    pub storage_type: Option<String>,
    #[serde(rename = "Iops", skip_serializing_if = "Option::is_none")]
    pub iops: Option<i32>,
    #[serde(rename = "MultiAZ")]
    pub multi_az: bool,
    #[serde(rename = "PubliclyAccessible")]
    pub publicly_accessible: bool,
    #[serde(rename = "AutoMinorVersionUpgrade")]
    pub auto_minor_version_upgrade: bool,
    #[serde(rename = "CopyTagsToSnapshot")]
    pub copy_tags_to_snapshot: bool,
    #[serde(rename = "ProcessorFeatures", skip_serializing_if = "Vec::is_empty")]
    pub processor_features: Vec<ProcessorFeature>,
    #[serde(rename = "VpcSecurityGroupIds", skip_serializing_if = "Vec::is_empty")]
    pub vpc_security_group_ids: Vec<String>,
    #[serde(rename = "OptionGroupName", skip_serializing_if = "Option::is_none")]
    pub option_group: Option<String>,
    #[serde(rename = "EnableIAMDatabaseAuthentication")]
    pub iam_auth: bool,
    #[serde(
        rename = "EnableCloudwatchLogsExports",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub cloudwatch_logs_exports: Vec<String>,
    #[serde(flatten)]
    pub insights: Option<InsightsAttrs>,
    #[serde(rename = "DBSubnetGroupName", skip_serializing_if = "Option::is_none")]
    pub subnet_group: Option<String>,
    /// Always false while building: a protected temp-* could not be cleaned up after a failure.
    #[serde(rename = "DeletionProtection")]
    pub deletion_protection: bool,
    #[serde(rename = "Tags", skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProcessorFeature {
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "Value")]
    pub value: String,
}

/// Performance Insights and Enhanced Monitoring settings. Given at creation on the replica path;
/// RestoreDBInstanceFromDBSnapshot does not accept them, so there they move to the modify step.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct InsightsAttrs {
    #[serde(
        rename = "EnablePerformanceInsights",
        skip_serializing_if = "Option::is_none"
    )]
    pub performance_insights: Option<bool>,
    #[serde(
        rename = "PerformanceInsightsKMSKeyId",
        skip_serializing_if = "Option::is_none"
    )]
    pub performance_insights_kms_key_id: Option<String>,
    #[serde(
        rename = "PerformanceInsightsRetentionPeriod",
        skip_serializing_if = "Option::is_none"
    )]
    pub performance_insights_retention: Option<i32>,
    #[serde(rename = "MonitoringInterval", skip_serializing_if = "Option::is_none")]
    pub monitoring_interval: Option<i32>,
    #[serde(rename = "MonitoringRoleArn", skip_serializing_if = "Option::is_none")]
    pub monitoring_role_arn: Option<String>,
}

impl InsightsAttrs {
    pub fn from_instance(x: &Instance) -> Option<Self> {
        let mut a = InsightsAttrs::default();
        if x.performance_insights {
            a.performance_insights = Some(true);
            a.performance_insights_kms_key_id = non_empty(&x.performance_insights_kms_key_id);
            a.performance_insights_retention = x.performance_insights_retention.filter(|v| *v > 0);
        }
        // Interval 0 is "off", the default; a role without an interval is rejected by AWS.
        if let Some(interval) = x.monitoring_interval.filter(|v| *v > 0) {
            a.monitoring_interval = Some(interval);
            a.monitoring_role_arn = non_empty(&x.monitoring_role_arn);
        }
        (a != InsightsAttrs::default()).then_some(a)
    }
}

impl CreateAttrs {
    /// What temp-X is created with, taken from target-tree instance X.
    /// `subnet_group` is only for the restore path: a same-region read replica cannot change it.
    pub fn from_instance(x: &Instance, tags: Vec<Tag>, restore: bool) -> Self {
        CreateAttrs {
            class: x.class.clone(),
            port: x.port,
            storage_type: non_empty(&x.storage_type),
            iops: x.iops.filter(|v| *v > 0),
            multi_az: x.multi_az,
            publicly_accessible: x.publicly_accessible,
            auto_minor_version_upgrade: x.auto_minor_version_upgrade,
            copy_tags_to_snapshot: x.copy_tags_to_snapshot,
            processor_features: x
                .processor_features
                .iter()
                .map(|(n, v)| ProcessorFeature {
                    name: n.clone(),
                    value: v.clone(),
                })
                .collect(),
            vpc_security_group_ids: x.active_security_groups(),
            option_group: x.option_group().map(str::to_string),
            iam_auth: x.iam_auth,
            cloudwatch_logs_exports: x.cloudwatch_logs_exports.clone(),
            insights: if restore {
                None
            } else {
                InsightsAttrs::from_instance(x)
            },
            subnet_group: if restore {
                non_empty(&x.subnet_group)
            } else {
                None
            },
            deletion_protection: false,
            tags,
        }
    }

    pub fn to_params(&self) -> Map<String, Value> {
        to_map(self)
    }
}

/// ModifyDBInstance parameters. ApplyImmediately is always true: a refresh must not wait for a
/// maintenance window.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct ModifyAttrs {
    #[serde(
        rename = "NewDBInstanceIdentifier",
        skip_serializing_if = "Option::is_none"
    )]
    pub new_id: Option<String>,
    #[serde(
        rename = "DBParameterGroupName",
        skip_serializing_if = "Option::is_none"
    )]
    pub parameter_group: Option<String>,
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
    #[serde(
        rename = "BackupRetentionPeriod",
        skip_serializing_if = "Option::is_none"
    )]
    pub backup_retention: Option<i32>,
    #[serde(rename = "DeletionProtection", skip_serializing_if = "Option::is_none")]
    pub deletion_protection: Option<bool>,
    #[serde(flatten)]
    pub insights: Option<InsightsAttrs>,
    #[serde(rename = "ApplyImmediately")]
    pub apply_immediately: bool,
}

impl ModifyAttrs {
    pub fn rename(new_id: &str) -> Self {
        ModifyAttrs {
            new_id: Some(new_id.to_string()),
            apply_immediately: true,
            ..Default::default()
        }
    }

    pub fn deletion_protection(on: bool) -> Self {
        ModifyAttrs {
            deletion_protection: Some(on),
            apply_immediately: true,
            ..Default::default()
        }
    }

    /// Attributes that can only be set after creation, taken from X. `needs_backups`: temp-X
    /// will be the source of replicas, which requires automated backups.
    pub fn post_create(x: &Instance, is_root: bool, needs_backups: bool, restore: bool) -> Self {
        let retention = if needs_backups {
            Some(x.backup_retention.max(1))
        } else if is_root || x.backup_retention > 0 {
            // A promoted root gets X's value whatever it is; a replica only when X has backups
            // (PostgreSQL replicas reject the setting).
            Some(x.backup_retention)
        } else {
            None
        };
        ModifyAttrs {
            new_id: None,
            parameter_group: x.parameter_group().map(str::to_string),
            backup_window: non_empty(&x.backup_window),
            maintenance_window: non_empty(&x.maintenance_window),
            backup_retention: retention,
            deletion_protection: None,
            insights: if restore {
                InsightsAttrs::from_instance(x)
            } else {
                None
            },
            apply_immediately: true,
        }
    }

    /// True when `inst` already shows every value this modify would set, so it can be skipped.
    pub fn already_applied(&self, inst: &Instance) -> bool {
        let eq = |want: &Option<String>, have: Option<&str>| {
            want.as_deref().is_none_or(|w| Some(w) == have)
        };
        self.new_id.is_none()
            && eq(&self.parameter_group, inst.parameter_group())
            && eq(&self.backup_window, inst.backup_window.as_deref())
            && eq(
                &self.maintenance_window.as_ref().map(|w| w.to_lowercase()),
                inst.maintenance_window
                    .as_ref()
                    .map(|w| w.to_lowercase())
                    .as_deref(),
            )
            && self
                .backup_retention
                .is_none_or(|r| r == inst.backup_retention)
            && self
                .deletion_protection
                .is_none_or(|d| d == inst.deletion_protection)
            && self.insights.as_ref().is_none_or(|i| {
                i.performance_insights
                    .is_none_or(|p| p == inst.performance_insights)
                    && i.monitoring_interval
                        .is_none_or(|m| Some(m) == inst.monitoring_interval)
            })
    }

    pub fn to_params(&self) -> Map<String, Value> {
        to_map(self)
    }
}

pub(super) fn to_map<T: Serialize>(value: &T) -> Map<String, Value> {
    match serde_json::to_value(value) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

pub(super) fn non_empty(v: &Option<String>) -> Option<String> {
    v.as_ref().filter(|s| !s.is_empty()).cloned()
}

/// A resource tag, as the AWS APIs spell it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tag {
    #[serde(rename = "Key")]
    pub key: String,
    #[serde(rename = "Value")]
    pub value: String,
}

impl Tag {
    pub fn new(key: &str, value: &str) -> Self {
        Tag {
            key: key.to_string(),
            value: value.to_string(),
        }
    }
}
