//! The real `Rds` over aws-sdk-rds: conversions only, no decisions.

use super::Rds;
use crate::error::MitosisError;
use crate::model::{Instance, Membership, Snapshot};
use async_trait::async_trait;
use aws_config::retry::RetryConfig;
use aws_config::BehaviorVersion;
use aws_sdk_rds::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_rds::types::{DbInstance, DbSnapshot};
use std::collections::BTreeMap;

/// Where and as whom to talk to AWS. Everything else (credentials, AWS_ENDPOINT_URL) comes from
/// the SDK's standard chain.
#[derive(Debug, Clone, Default)]
pub struct AwsSettings {
    pub region: Option<String>,
    pub profile: Option<String>,
}

pub struct SdkRds {
    client: aws_sdk_rds::Client,
}

impl SdkRds {
    pub async fn connect(settings: &AwsSettings) -> Self {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            // Throttling and transient 5xx are retried with exponential backoff by the SDK.
            .retry_config(RetryConfig::standard().with_max_attempts(8));
        if let Some(region) = &settings.region {
            loader = loader.region(aws_config::Region::new(region.clone()));
        }
        if let Some(profile) = &settings.profile {
            loader = loader.profile_name(profile);
        }
        let config = loader.load().await;
        SdkRds {
            client: aws_sdk_rds::Client::new(&config),
        }
    }
}

pub(crate) fn aws_error<E>(operation: &str, err: aws_sdk_rds::error::SdkError<E>) -> MitosisError
where
    E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
{
    let message = match err.code() {
        Some(code) => format!("{code}: {}", err.message().unwrap_or("")),
        None => {
            let text = DisplayErrorContext(&err).to_string();
            if text.contains("credentials") {
                format!("{text} (configure AWS credentials: AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or a role)")
            } else {
                text
            }
        }
    };
    MitosisError::Aws {
        operation: operation.to_string(),
        message,
    }
}

#[async_trait]
impl Rds for SdkRds {
    async fn describe_instances(&self) -> Result<Vec<Instance>, MitosisError> {
        let items = self
            .client
            .describe_db_instances()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| aws_error("DescribeDBInstances", e))?;
        Ok(items.iter().map(instance_from_sdk).collect())
    }

    async fn list_tags(&self, arn: &str) -> Result<BTreeMap<String, String>, MitosisError> {
        let out = self
            .client
            .list_tags_for_resource()
            .resource_name(arn)
            .send()
            .await
            .map_err(|e| aws_error("ListTagsForResource", e))?;
        Ok(out
            .tag_list()
            .iter()
            .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or("").to_string())))
            .collect())
    }

    async fn describe_snapshots(&self, instance_id: &str) -> Result<Vec<Snapshot>, MitosisError> {
        let items = self
            .client
            .describe_db_snapshots()
            .db_instance_identifier(instance_id)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| aws_error("DescribeDBSnapshots", e))?;
        Ok(items.iter().map(snapshot_from_sdk).collect())
    }

    fn region(&self) -> Option<String> {
        self.client.config().region().map(|r| r.to_string())
    }
}

fn s(v: Option<&str>) -> Option<String> {
    v.filter(|x| !x.is_empty()).map(str::to_string)
}

pub(crate) fn instance_from_sdk(d: &DbInstance) -> Instance {
    Instance {
        id: d.db_instance_identifier().unwrap_or_default().to_string(),
        arn: d.db_instance_arn().unwrap_or_default().to_string(),
        status: d.db_instance_status().unwrap_or("unknown").to_string(),
        engine: d.engine().unwrap_or_default().to_string(),
        engine_version: d.engine_version().unwrap_or_default().to_string(),
        class: d.db_instance_class().unwrap_or_default().to_string(),
        address: d.endpoint().and_then(|e| s(e.address())),
        port: d.endpoint().and_then(|e| e.port()).or(d.db_instance_port()),
        storage_type: s(d.storage_type()),
        iops: d.iops(),
        multi_az: d.multi_az().unwrap_or(false),
        publicly_accessible: d.publicly_accessible().unwrap_or(false),
        auto_minor_version_upgrade: d.auto_minor_version_upgrade().unwrap_or(false),
        copy_tags_to_snapshot: d.copy_tags_to_snapshot().unwrap_or(false),
        processor_features: d
            .processor_features()
            .iter()
            .filter_map(|p| Some((p.name()?.to_string(), p.value()?.to_string())))
            .collect(),
        vpc_security_groups: d
            .vpc_security_groups()
            .iter()
            .filter_map(|g| {
                Some(Membership::new(
                    g.vpc_security_group_id()?,
                    g.status().unwrap_or(""),
                ))
            })
            .collect(),
        option_groups: d
            .option_group_memberships()
            .iter()
            .filter_map(|g| {
                Some(Membership::new(
                    g.option_group_name()?,
                    g.status().unwrap_or(""),
                ))
            })
            .collect(),
        parameter_groups: d
            .db_parameter_groups()
            .iter()
            .filter_map(|g| {
                Some(Membership::new(
                    g.db_parameter_group_name()?,
                    g.parameter_apply_status().unwrap_or(""),
                ))
            })
            .collect(),
        iam_auth: d.iam_database_authentication_enabled().unwrap_or(false),
        cloudwatch_logs_exports: d.enabled_cloudwatch_logs_exports().to_vec(),
        performance_insights: d.performance_insights_enabled().unwrap_or(false),
        performance_insights_kms_key_id: s(d.performance_insights_kms_key_id()),
        performance_insights_retention: d.performance_insights_retention_period(),
        monitoring_interval: d.monitoring_interval(),
        monitoring_role_arn: s(d.monitoring_role_arn()),
        subnet_group: d
            .db_subnet_group()
            .and_then(|g| s(g.db_subnet_group_name())),
        vpc_id: d.db_subnet_group().and_then(|g| s(g.vpc_id())),
        backup_retention: d.backup_retention_period().unwrap_or(0),
        backup_window: s(d.preferred_backup_window()),
        maintenance_window: s(d.preferred_maintenance_window()),
        deletion_protection: d.deletion_protection().unwrap_or(false),
        storage_encrypted: d.storage_encrypted().unwrap_or(false),
        kms_key_id: s(d.kms_key_id()),
        replica_source: s(d.read_replica_source_db_instance_identifier()),
        replicas: d.read_replica_db_instance_identifiers().to_vec(),
        cluster: s(d.db_cluster_identifier()),
        pending_modifications: pending_fields(d),
        tags: d
            .tag_list()
            .iter()
            .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or("").to_string())))
            .collect(),
    }
}

/// The names of the fields set in PendingModifiedValues (empty when nothing is pending).
fn pending_fields(d: &DbInstance) -> Vec<String> {
    let Some(p) = d.pending_modified_values() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut note = |set: bool, name: &str| {
        if set {
            out.push(name.to_string());
        }
    };
    note(p.db_instance_class().is_some(), "DBInstanceClass");
    note(p.allocated_storage().is_some(), "AllocatedStorage");
    note(p.port().is_some(), "Port");
    note(
        p.backup_retention_period().is_some(),
        "BackupRetentionPeriod",
    );
    note(p.multi_az().is_some(), "MultiAZ");
    note(p.engine_version().is_some(), "EngineVersion");
    note(p.iops().is_some(), "Iops");
    note(p.db_instance_identifier().is_some(), "DBInstanceIdentifier");
    note(p.storage_type().is_some(), "StorageType");
    note(p.db_subnet_group_name().is_some(), "DBSubnetGroupName");
    note(
        p.pending_cloudwatch_logs_exports().is_some(),
        "PendingCloudwatchLogsExports",
    );
    note(!p.processor_features().is_empty(), "ProcessorFeatures");
    note(p.master_user_password().is_some(), "MasterUserPassword");
    out
}

fn snapshot_from_sdk(d: &DbSnapshot) -> Snapshot {
    Snapshot {
        id: d.db_snapshot_identifier().unwrap_or_default().to_string(),
        arn: d.db_snapshot_arn().unwrap_or_default().to_string(),
        instance_id: d.db_instance_identifier().unwrap_or_default().to_string(),
        status: d.status().unwrap_or("unknown").to_string(),
        kind: d.snapshot_type().unwrap_or_default().to_string(),
        created: d.snapshot_create_time().map(|t| t.secs()),
        vpc_id: s(d.vpc_id()),
    }
}
