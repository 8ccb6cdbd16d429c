//! The real `Rds` over aws-sdk-rds: conversions only, no decisions.

use super::{RdsRead, RdsWrite};
use crate::error::MitosisError;
use crate::observed::{Cluster, ClusterMember, CustomEndpoint, Instance, Membership, Snapshot};
use crate::plan::{
    ClusterAttrs, ClusterModify, CreateAttrs, MemberAttrs, ModifyAttrs, SnapshotOf, SourceTime, Tag,
};
use async_trait::async_trait;
use aws_config::retry::RetryConfig;
use aws_config::BehaviorVersion;
use aws_sdk_rds::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_rds::types::{
    DbCluster, DbClusterSnapshot, DbInstance, DbSnapshot, Filter, ProcessorFeature,
    ServerlessV2ScalingConfiguration,
};
use std::collections::BTreeMap;

/// Where and as whom to talk to AWS. Everything else (credentials, AWS_ENDPOINT_URL) comes from
/// the SDK's standard chain.
#[derive(Debug, Clone)]
pub struct AwsSettings {
    pub region: Option<String>,
    pub profile: Option<String>,
    pub max_attempts: u32,
    /// Credentials from elsewhere than the standard chain (the Action's OIDC role, an MFA
    /// session); they are renewed five minutes before they expire.
    pub credentials: Option<aws_credential_types::provider::SharedCredentialsProvider>,
}

/// Attempts per AWS call, retries included, unless `AWS_MAX_ATTEMPTS` or the settings say
/// otherwise.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 8;

impl Default for AwsSettings {
    fn default() -> Self {
        AwsSettings {
            region: None,
            profile: None,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            credentials: None,
        }
    }
}

/// The one AWS configuration loader: the SDK's standard chain (environment, profiles, SSO,
/// instance roles, `AWS_ENDPOINT_URL`) with these settings on top. `with_credentials: false`
/// is for STS calls that carry their own proof (a web identity token).
pub async fn load_config(settings: &AwsSettings, with_credentials: bool) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        // Throttling and transient 5xx are retried with exponential backoff by the SDK.
        .retry_config(RetryConfig::standard().with_max_attempts(settings.max_attempts.max(1)));
    if let Some(region) = &settings.region {
        loader = loader.region(aws_config::Region::new(region.clone()));
    }
    if let Some(profile) = &settings.profile {
        loader = loader.profile_name(profile);
    }
    if !with_credentials {
        loader = loader.no_credentials();
    } else if let Some(credentials) = &settings.credentials {
        loader = loader
            .credentials_provider(credentials.clone())
            .identity_cache(
                // Renew five minutes before expiry, so no call runs on expiring credentials.
                aws_config::identity::IdentityCache::lazy()
                    .buffer_time(std::time::Duration::from_secs(300))
                    .build(),
            );
    }
    loader.load().await
}

/// The creation-time attributes both CreateDBInstanceReadReplica and
/// RestoreDBInstanceFromDBSnapshot take: their builders are distinct types with the same setters.
macro_rules! with_creation_attributes {
    ($builder:expr, $a:expr) => {
        $builder
            .db_instance_class(&$a.class)
            .set_port($a.port)
            .set_storage_type($a.storage_type.clone())
            .set_iops($a.iops)
            .multi_az($a.multi_az)
            .publicly_accessible($a.publicly_accessible)
            .auto_minor_version_upgrade($a.auto_minor_version_upgrade)
            .copy_tags_to_snapshot($a.copy_tags_to_snapshot)
            .set_processor_features(processor_features($a))
            .set_vpc_security_group_ids(non_empty_vec(&$a.vpc_security_group_ids))
            .set_option_group_name($a.option_group.clone())
            .enable_iam_database_authentication($a.iam_auth)
            .set_enable_cloudwatch_logs_exports(non_empty_vec(&$a.cloudwatch_logs_exports))
    };
}

/// What both instance restores (RestoreDBInstanceFromDBSnapshot, RestoreDBInstanceToPointInTime)
/// take: the creation attributes, the target's subnet group, no deletion protection, the tags.
/// Neither takes Performance Insights or monitoring settings: the configure step sets them.
macro_rules! with_restore_attributes {
    ($builder:expr, $a:expr) => {
        with_creation_attributes!($builder, $a)
            .set_db_subnet_group_name($a.subnet_group.clone())
            .deletion_protection($a.deletion_protection)
            .set_tags(sdk_tags(&$a.tags))
    };
}

/// The cluster settings both RestoreDBClusterToPointInTime and RestoreDBClusterFromSnapshot
/// take.
macro_rules! with_cluster_attributes {
    ($builder:expr, $a:expr) => {
        $builder
            .set_db_subnet_group_name($a.subnet_group.clone())
            .set_vpc_security_group_ids(non_empty_vec(&$a.vpc_security_group_ids))
            .set_db_cluster_parameter_group_name($a.parameter_group.clone())
            .set_port($a.port)
            .enable_iam_database_authentication($a.iam_auth)
            .set_enable_cloudwatch_logs_exports(non_empty_vec(&$a.cloudwatch_logs_exports))
            .set_backtrack_window($a.backtrack_window)
            .set_serverless_v2_scaling_configuration($a.serverless_v2.as_ref().map(|s| {
                ServerlessV2ScalingConfiguration::builder()
                    .min_capacity(s.min)
                    .max_capacity(s.max)
                    .build()
            }))
            .copy_tags_to_snapshot($a.copy_tags_to_snapshot)
            .deletion_protection($a.deletion_protection)
            .set_tags(sdk_tags(&$a.tags))
    };
}

pub struct SdkRds {
    client: aws_sdk_rds::Client,
    /// For `--master-password-secret`: the target's password, read when it is set.
    secrets: aws_sdk_secretsmanager::Client,
    /// For the replicas' lag, which RDS publishes only as a CloudWatch metric.
    cloudwatch: aws_sdk_cloudwatch::Client,
    /// For the ARNs of the KMS keys a request names by alias (for the IAM policy).
    kms: aws_sdk_kms::Client,
}

impl SdkRds {
    pub async fn connect(settings: &AwsSettings) -> Self {
        let config = load_config(settings, true).await;
        SdkRds {
            client: aws_sdk_rds::Client::new(&config),
            secrets: aws_sdk_secretsmanager::Client::new(&config),
            cloudwatch: aws_sdk_cloudwatch::Client::new(&config),
            kms: aws_sdk_kms::Client::new(&config),
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
impl RdsRead for SdkRds {
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

    async fn describe_snapshots(
        &self,
        of: SnapshotOf,
        source: &str,
    ) -> Result<Vec<Snapshot>, MitosisError> {
        match of {
            SnapshotOf::Instance => {
                let items = self
                    .client
                    .describe_db_snapshots()
                    .db_instance_identifier(source)
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
                    .await
                    .map_err(|e| aws_error("DescribeDBSnapshots", e))?;
                Ok(items.iter().map(snapshot_from_sdk).collect())
            }
            SnapshotOf::Cluster => {
                let items = self
                    .client
                    .describe_db_cluster_snapshots()
                    .db_cluster_identifier(source)
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
                    .await
                    .map_err(|e| aws_error("DescribeDBClusterSnapshots", e))?;
                Ok(items.iter().map(cluster_snapshot_from_sdk).collect())
            }
        }
    }

    async fn describe_clusters(&self) -> Result<Vec<Cluster>, MitosisError> {
        let items = self
            .client
            .describe_db_clusters()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| aws_error("DescribeDBClusters", e))?;
        Ok(items.iter().map(cluster_from_sdk).collect())
    }

    async fn describe_endpoints(
        &self,
        cluster: Option<&str>,
        endpoint: Option<&str>,
    ) -> Result<Vec<CustomEndpoint>, MitosisError> {
        let items = self
            .client
            .describe_db_cluster_endpoints()
            .set_db_cluster_identifier(cluster.map(str::to_string))
            .set_db_cluster_endpoint_identifier(endpoint.map(str::to_string))
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await;
        let items = match items {
            Ok(items) => items,
            Err(e) if e.code() == Some("DBClusterEndpointNotFoundFault") => Vec::new(),
            Err(e) => return Err(aws_error("DescribeDBClusterEndpoints", e)),
        };
        Ok(items
            .iter()
            .filter(|e| e.endpoint_type() == Some("CUSTOM"))
            .map(|e| CustomEndpoint {
                id: e
                    .db_cluster_endpoint_identifier()
                    .unwrap_or_default()
                    .to_string(),
                kind: e.custom_endpoint_type().unwrap_or("ANY").to_string(),
                static_members: e.static_members().to_vec(),
                excluded_members: e.excluded_members().to_vec(),
                cluster: e.db_cluster_identifier().unwrap_or_default().to_string(),
                status: e.status().unwrap_or("unknown").to_string(),
            })
            .collect())
    }

    async fn describe_some_clusters(&self, ids: &[String]) -> Result<Vec<Cluster>, MitosisError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let filter = Filter::builder()
            .name("db-cluster-id")
            .set_values(Some(ids.to_vec()))
            .build();
        let items = self
            .client
            .describe_db_clusters()
            .filters(filter)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| aws_error("DescribeDBClusters", e))?;
        Ok(items.iter().map(cluster_from_sdk).collect())
    }

    fn region(&self) -> Option<String> {
        self.client.config().region().map(|r| r.to_string())
    }

    async fn describe_some(&self, ids: &[String]) -> Result<Vec<Instance>, MitosisError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let filter = Filter::builder()
            .name("db-instance-id")
            .set_values(Some(ids.to_vec()))
            .build();
        let items = self
            .client
            .describe_db_instances()
            .filters(filter)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| aws_error("DescribeDBInstances", e))?;
        Ok(items.iter().map(instance_from_sdk).collect())
    }

    async fn describe_snapshot(
        &self,
        of: SnapshotOf,
        snapshot_id: &str,
    ) -> Result<Option<Snapshot>, MitosisError> {
        match of {
            SnapshotOf::Instance => match self
                .client
                .describe_db_snapshots()
                .db_snapshot_identifier(snapshot_id)
                .send()
                .await
            {
                Ok(out) => Ok(out.db_snapshots().first().map(snapshot_from_sdk)),
                Err(e) if e.code() == Some("DBSnapshotNotFound") => Ok(None),
                Err(e) => Err(aws_error("DescribeDBSnapshots", e)),
            },
            SnapshotOf::Cluster => match self
                .client
                .describe_db_cluster_snapshots()
                .db_cluster_snapshot_identifier(snapshot_id)
                .send()
                .await
            {
                Ok(out) => Ok(out
                    .db_cluster_snapshots()
                    .first()
                    .map(cluster_snapshot_from_sdk)),
                Err(e) if e.code() == Some("DBClusterSnapshotNotFoundFault") => Ok(None),
                Err(e) => Err(aws_error("DescribeDBClusterSnapshots", e)),
            },
        }
    }

    async fn key_arn(&self, key: &str) -> Result<String, MitosisError> {
        let out = self
            .kms
            .describe_key()
            .key_id(key)
            .send()
            .await
            .map_err(|e| MitosisError::Aws {
                operation: "DescribeKey".into(),
                message: match aws_sdk_kms::error::ProvideErrorMetadata::code(&e) {
                    Some(code) => format!(
                        "{code}: {}",
                        aws_sdk_kms::error::ProvideErrorMetadata::message(&e).unwrap_or("")
                    ),
                    None => aws_sdk_kms::error::DisplayErrorContext(&e).to_string(),
                },
            })?;
        out.key_metadata()
            .and_then(|m| m.arn())
            .map(str::to_string)
            .ok_or_else(|| MitosisError::Aws {
                operation: "DescribeKey".into(),
                message: format!("no ARN for the key {key}"),
            })
    }

    async fn secret_value(&self, arn: &str) -> Result<String, MitosisError> {
        let out = self
            .secrets
            .get_secret_value()
            .secret_id(arn)
            .send()
            .await
            .map_err(|e| {
                let message = match aws_sdk_secretsmanager::error::ProvideErrorMetadata::code(&e) {
                    Some(code) => format!(
                        "{code}: {}",
                        aws_sdk_secretsmanager::error::ProvideErrorMetadata::message(&e)
                            .unwrap_or("")
                    ),
                    None => aws_sdk_secretsmanager::error::DisplayErrorContext(&e).to_string(),
                };
                MitosisError::Aws {
                    operation: "GetSecretValue".into(),
                    message,
                }
            })?;
        out.secret_string()
            .map(str::to_string)
            .ok_or_else(|| MitosisError::Aws {
                operation: "GetSecretValue".into(),
                message: format!("{arn} holds binary data, not a password string"),
            })
    }

    async fn replica_lag(&self, id: &str) -> Result<Option<f64>, MitosisError> {
        use aws_sdk_cloudwatch::types::{Dimension, Statistic};
        let now = std::time::SystemTime::now();
        let out = self
            .cloudwatch
            .get_metric_statistics()
            .namespace("AWS/RDS")
            .metric_name("ReplicaLag")
            .dimensions(
                Dimension::builder()
                    .name("DBInstanceIdentifier")
                    .value(id)
                    .build(),
            )
            .start_time((now - std::time::Duration::from_secs(300)).into())
            .end_time(now.into())
            .period(60)
            .statistics(Statistic::Maximum)
            .send()
            .await
            .map_err(|e| {
                let message = match aws_sdk_cloudwatch::error::ProvideErrorMetadata::code(&e) {
                    Some(code) => format!(
                        "{code}: {}",
                        aws_sdk_cloudwatch::error::ProvideErrorMetadata::message(&e).unwrap_or("")
                    ),
                    None => aws_sdk_cloudwatch::error::DisplayErrorContext(&e).to_string(),
                };
                MitosisError::Aws {
                    operation: "GetMetricStatistics".into(),
                    message,
                }
            })?;
        Ok(out
            .datapoints()
            .iter()
            .filter_map(|d| d.maximum())
            .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v)))))
    }
}

#[async_trait]
impl RdsWrite for SdkRds {
    async fn create_read_replica(
        &self,
        id: &str,
        source: &str,
        a: &CreateAttrs,
    ) -> Result<(), MitosisError> {
        let insights = a.insights.clone().unwrap_or_default();
        let request = self
            .client
            .create_db_instance_read_replica()
            .db_instance_identifier(id)
            .source_db_instance_identifier(source);
        with_creation_attributes!(request, a)
            .set_enable_performance_insights(insights.performance_insights)
            .set_performance_insights_kms_key_id(insights.performance_insights_kms_key_id)
            .set_performance_insights_retention_period(insights.performance_insights_retention)
            .set_monitoring_interval(insights.monitoring_interval)
            .set_monitoring_role_arn(insights.monitoring_role_arn)
            .deletion_protection(a.deletion_protection)
            .set_tags(sdk_tags(&a.tags))
            .send()
            .await
            .map_err(|e| aws_error("CreateDBInstanceReadReplica", e))?;
        Ok(())
    }

    async fn restore_from_snapshot(
        &self,
        id: &str,
        snapshot_id: &str,
        a: &CreateAttrs,
    ) -> Result<(), MitosisError> {
        let request = self
            .client
            .restore_db_instance_from_db_snapshot()
            .db_instance_identifier(id)
            .db_snapshot_identifier(snapshot_id);
        with_restore_attributes!(request, a)
            .send()
            .await
            .map_err(|e| aws_error("RestoreDBInstanceFromDBSnapshot", e))?;
        Ok(())
    }

    async fn create_snapshot(
        &self,
        of: SnapshotOf,
        source: &str,
        snapshot_id: &str,
        tags: &[Tag],
    ) -> Result<(), MitosisError> {
        match of {
            SnapshotOf::Instance => self
                .client
                .create_db_snapshot()
                .db_instance_identifier(source)
                .db_snapshot_identifier(snapshot_id)
                .set_tags(sdk_tags(tags))
                .send()
                .await
                .map(drop)
                .map_err(|e| aws_error("CreateDBSnapshot", e)),
            SnapshotOf::Cluster => self
                .client
                .create_db_cluster_snapshot()
                .db_cluster_identifier(source)
                .db_cluster_snapshot_identifier(snapshot_id)
                .set_tags(sdk_tags(tags))
                .send()
                .await
                .map(drop)
                .map_err(|e| aws_error("CreateDBClusterSnapshot", e)),
        }
    }

    async fn delete_snapshot(&self, of: SnapshotOf, snapshot_id: &str) -> Result<(), MitosisError> {
        match of {
            SnapshotOf::Instance => self
                .client
                .delete_db_snapshot()
                .db_snapshot_identifier(snapshot_id)
                .send()
                .await
                .map(drop)
                .map_err(|e| aws_error("DeleteDBSnapshot", e)),
            SnapshotOf::Cluster => self
                .client
                .delete_db_cluster_snapshot()
                .db_cluster_snapshot_identifier(snapshot_id)
                .send()
                .await
                .map(drop)
                .map_err(|e| aws_error("DeleteDBClusterSnapshot", e)),
        }
    }

    async fn copy_snapshot(
        &self,
        of: SnapshotOf,
        from: &str,
        snapshot_id: &str,
        kms_key_id: Option<&str>,
        tags: &[Tag],
    ) -> Result<(), MitosisError> {
        let key = kms_key_id.map(str::to_string);
        match of {
            SnapshotOf::Instance => self
                .client
                .copy_db_snapshot()
                .source_db_snapshot_identifier(from)
                .target_db_snapshot_identifier(snapshot_id)
                .set_kms_key_id(key)
                .set_tags(sdk_tags(tags))
                .send()
                .await
                .map(drop)
                .map_err(|e| aws_error("CopyDBSnapshot", e)),
            SnapshotOf::Cluster => self
                .client
                .copy_db_cluster_snapshot()
                .source_db_cluster_snapshot_identifier(from)
                .target_db_cluster_snapshot_identifier(snapshot_id)
                .set_kms_key_id(key)
                .set_tags(sdk_tags(tags))
                .send()
                .await
                .map(drop)
                .map_err(|e| aws_error("CopyDBClusterSnapshot", e)),
        }
    }

    async fn share_snapshot(
        &self,
        of: SnapshotOf,
        snapshot_id: &str,
        account: &str,
        share: bool,
    ) -> Result<(), MitosisError> {
        let values = Some(vec![account.to_string()]);
        let (add, remove) = if share {
            (values, None)
        } else {
            (None, values)
        };
        match of {
            SnapshotOf::Instance => self
                .client
                .modify_db_snapshot_attribute()
                .db_snapshot_identifier(snapshot_id)
                .attribute_name("restore")
                .set_values_to_add(add)
                .set_values_to_remove(remove)
                .send()
                .await
                .map(drop)
                .map_err(|e| aws_error("ModifyDBSnapshotAttribute", e)),
            SnapshotOf::Cluster => self
                .client
                .modify_db_cluster_snapshot_attribute()
                .db_cluster_snapshot_identifier(snapshot_id)
                .attribute_name("restore")
                .set_values_to_add(add)
                .set_values_to_remove(remove)
                .send()
                .await
                .map(drop)
                .map_err(|e| aws_error("ModifyDBClusterSnapshotAttribute", e)),
        }
    }

    async fn restore_to_point_in_time(
        &self,
        id: &str,
        source: &str,
        time: SourceTime,
        a: &CreateAttrs,
    ) -> Result<(), MitosisError> {
        let request = self
            .client
            .restore_db_instance_to_point_in_time()
            .target_db_instance_identifier(id)
            .source_db_instance_identifier(source)
            .set_use_latest_restorable_time(matches!(time, SourceTime::Latest).then_some(true))
            .set_restore_time(at(time));
        with_restore_attributes!(request, a)
            .send()
            .await
            .map_err(|e| aws_error("RestoreDBInstanceToPointInTime", e))?;
        Ok(())
    }

    async fn clone_cluster(
        &self,
        id: &str,
        source: &str,
        time: Option<SourceTime>,
        a: &ClusterAttrs,
    ) -> Result<(), MitosisError> {
        let (restore_type, time) = crate::plan::ops::cluster::restore_type(time);
        let request = self
            .client
            .restore_db_cluster_to_point_in_time()
            .db_cluster_identifier(id)
            .source_db_cluster_identifier(source)
            .restore_type(restore_type)
            .set_use_latest_restorable_time(matches!(time, SourceTime::Latest).then_some(true))
            .set_restore_to_time(at(time));
        with_cluster_attributes!(request, a)
            .send()
            .await
            .map_err(|e| aws_error("RestoreDBClusterToPointInTime", e))?;
        Ok(())
    }

    async fn restore_cluster_from_snapshot(
        &self,
        id: &str,
        snapshot_id: &str,
        engine: &str,
        engine_version: &str,
        a: &ClusterAttrs,
    ) -> Result<(), MitosisError> {
        let request = self
            .client
            .restore_db_cluster_from_snapshot()
            .db_cluster_identifier(id)
            .snapshot_identifier(snapshot_id)
            .engine(engine)
            .engine_version(engine_version);
        with_cluster_attributes!(request, a)
            .send()
            .await
            .map_err(|e| aws_error("RestoreDBClusterFromSnapshot", e))?;
        Ok(())
    }

    async fn modify_cluster(&self, id: &str, m: &ClusterModify) -> Result<(), MitosisError> {
        self.client
            .modify_db_cluster()
            .db_cluster_identifier(id)
            .set_new_db_cluster_identifier(m.new_id.clone())
            .set_backup_retention_period(m.backup_retention)
            .set_preferred_backup_window(m.backup_window.clone())
            .set_preferred_maintenance_window(m.maintenance_window.clone())
            .set_deletion_protection(m.deletion_protection)
            .apply_immediately(m.apply_immediately)
            .send()
            .await
            .map_err(|e| aws_error("ModifyDBCluster", e))?;
        Ok(())
    }

    async fn delete_cluster(
        &self,
        id: &str,
        final_snapshot_id: Option<&str>,
    ) -> Result<(), MitosisError> {
        self.client
            .delete_db_cluster()
            .db_cluster_identifier(id)
            .set_final_db_snapshot_identifier(final_snapshot_id.map(str::to_string))
            .skip_final_snapshot(final_snapshot_id.is_none())
            .send()
            .await
            .map_err(|e| aws_error("DeleteDBCluster", e))?;
        Ok(())
    }

    async fn create_endpoint(&self, cluster: &str, e: &CustomEndpoint) -> Result<(), MitosisError> {
        self.client
            .create_db_cluster_endpoint()
            .db_cluster_identifier(cluster)
            .db_cluster_endpoint_identifier(&e.id)
            .endpoint_type(&e.kind)
            .set_static_members(non_empty_vec(&e.static_members))
            .set_excluded_members(non_empty_vec(&e.excluded_members))
            .send()
            .await
            .map_err(|e| aws_error("CreateDBClusterEndpoint", e))?;
        Ok(())
    }

    async fn delete_endpoint(&self, endpoint: &str) -> Result<(), MitosisError> {
        self.client
            .delete_db_cluster_endpoint()
            .db_cluster_endpoint_identifier(endpoint)
            .send()
            .await
            .map_err(|e| aws_error("DeleteDBClusterEndpoint", e))?;
        Ok(())
    }

    async fn create_member(
        &self,
        id: &str,
        cluster: &str,
        a: &MemberAttrs,
    ) -> Result<(), MitosisError> {
        let insights = a.insights.clone().unwrap_or_default();
        self.client
            .create_db_instance()
            .db_instance_identifier(id)
            .db_cluster_identifier(cluster)
            .engine(&a.engine)
            .db_instance_class(&a.class)
            .set_db_parameter_group_name(a.parameter_group.clone())
            .set_promotion_tier(a.promotion_tier)
            .set_availability_zone(a.availability_zone.clone())
            .publicly_accessible(a.publicly_accessible)
            .auto_minor_version_upgrade(a.auto_minor_version_upgrade)
            .set_ca_certificate_identifier(a.ca_certificate.clone())
            .set_preferred_maintenance_window(a.maintenance_window.clone())
            .set_enable_performance_insights(insights.performance_insights)
            .set_performance_insights_kms_key_id(insights.performance_insights_kms_key_id)
            .set_performance_insights_retention_period(insights.performance_insights_retention)
            .set_monitoring_interval(insights.monitoring_interval)
            .set_monitoring_role_arn(insights.monitoring_role_arn)
            .set_tags(sdk_tags(&a.tags))
            .send()
            .await
            .map_err(|e| aws_error("CreateDBInstance", e))?;
        Ok(())
    }

    async fn promote(&self, id: &str) -> Result<(), MitosisError> {
        self.client
            .promote_read_replica()
            .db_instance_identifier(id)
            .send()
            .await
            .map_err(|e| aws_error("PromoteReadReplica", e))?;
        Ok(())
    }

    async fn modify(&self, id: &str, m: &ModifyAttrs) -> Result<(), MitosisError> {
        let insights = m.insights.clone().unwrap_or_default();
        self.client
            .modify_db_instance()
            .db_instance_identifier(id)
            .set_new_db_instance_identifier(m.new_id.clone())
            .set_db_parameter_group_name(m.parameter_group.clone())
            .set_preferred_backup_window(m.backup_window.clone())
            .set_preferred_maintenance_window(m.maintenance_window.clone())
            .set_backup_retention_period(m.backup_retention)
            .set_deletion_protection(m.deletion_protection)
            .set_enable_performance_insights(insights.performance_insights)
            .set_performance_insights_kms_key_id(insights.performance_insights_kms_key_id)
            .set_performance_insights_retention_period(insights.performance_insights_retention)
            .set_monitoring_interval(insights.monitoring_interval)
            .set_monitoring_role_arn(insights.monitoring_role_arn)
            .apply_immediately(m.apply_immediately)
            .send()
            .await
            .map_err(|e| aws_error("ModifyDBInstance", e))?;
        Ok(())
    }

    async fn set_master_password(
        &self,
        cluster: bool,
        id: &str,
        password: &str,
    ) -> Result<(), MitosisError> {
        if cluster {
            self.client
                .modify_db_cluster()
                .db_cluster_identifier(id)
                .master_user_password(password)
                .apply_immediately(true)
                .send()
                .await
                .map_err(|e| aws_error("ModifyDBCluster", e))?;
        } else {
            self.client
                .modify_db_instance()
                .db_instance_identifier(id)
                .master_user_password(password)
                .apply_immediately(true)
                .send()
                .await
                .map_err(|e| aws_error("ModifyDBInstance", e))?;
        }
        Ok(())
    }

    async fn add_tags(&self, arn: &str, tags: &[Tag]) -> Result<(), MitosisError> {
        self.client
            .add_tags_to_resource()
            .resource_name(arn)
            .set_tags(sdk_tags(tags))
            .send()
            .await
            .map_err(|e| aws_error("AddTagsToResource", e))?;
        Ok(())
    }

    async fn remove_tags(&self, arn: &str, keys: &[String]) -> Result<(), MitosisError> {
        self.client
            .remove_tags_from_resource()
            .resource_name(arn)
            .set_tag_keys(Some(keys.to_vec()))
            .send()
            .await
            .map_err(|e| aws_error("RemoveTagsFromResource", e))?;
        Ok(())
    }

    async fn delete(&self, id: &str, final_snapshot_id: Option<&str>) -> Result<(), MitosisError> {
        self.client
            .delete_db_instance()
            .db_instance_identifier(id)
            .set_final_db_snapshot_identifier(final_snapshot_id.map(str::to_string))
            .skip_final_snapshot(final_snapshot_id.is_none())
            .send()
            .await
            .map_err(|e| aws_error("DeleteDBInstance", e))?;
        Ok(())
    }
}

/// The moment of a point-in-time restore, when it is not the latest.
fn at(time: SourceTime) -> Option<aws_sdk_rds::primitives::DateTime> {
    match time {
        SourceTime::Latest => None,
        SourceTime::At(t) => Some(aws_sdk_rds::primitives::DateTime::from_secs(t)),
    }
}

fn non_empty_vec(v: &[String]) -> Option<Vec<String>> {
    (!v.is_empty()).then(|| v.to_vec())
}

fn sdk_tags(tags: &[Tag]) -> Option<Vec<aws_sdk_rds::types::Tag>> {
    (!tags.is_empty()).then(|| {
        tags.iter()
            .map(|t| {
                aws_sdk_rds::types::Tag::builder()
                    .key(&t.key)
                    .value(&t.value)
                    .build()
            })
            .collect()
    })
}

fn processor_features(a: &CreateAttrs) -> Option<Vec<ProcessorFeature>> {
    (!a.processor_features.is_empty()).then(|| {
        a.processor_features
            .iter()
            .map(|p| {
                ProcessorFeature::builder()
                    .name(&p.name)
                    .value(&p.value)
                    .build()
            })
            .collect()
    })
}

fn non_empty_str(v: Option<&str>) -> Option<String> {
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
        address: d.endpoint().and_then(|e| non_empty_str(e.address())),
        port: d.endpoint().and_then(|e| e.port()).or(d.db_instance_port()),
        storage_type: non_empty_str(d.storage_type()),
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
        performance_insights_kms_key_id: non_empty_str(d.performance_insights_kms_key_id()),
        performance_insights_retention: d.performance_insights_retention_period(),
        monitoring_interval: d.monitoring_interval(),
        monitoring_role_arn: non_empty_str(d.monitoring_role_arn()),
        subnet_group: d
            .db_subnet_group()
            .and_then(|g| non_empty_str(g.db_subnet_group_name())),
        vpc_id: d.db_subnet_group().and_then(|g| non_empty_str(g.vpc_id())),
        backup_retention: d.backup_retention_period().unwrap_or(0),
        backup_window: non_empty_str(d.preferred_backup_window()),
        maintenance_window: non_empty_str(d.preferred_maintenance_window()),
        deletion_protection: d.deletion_protection().unwrap_or(false),
        storage_encrypted: d.storage_encrypted().unwrap_or(false),
        kms_key_id: non_empty_str(d.kms_key_id()),
        replica_source: non_empty_str(d.read_replica_source_db_instance_identifier()),
        replicas: d.read_replica_db_instance_identifiers().to_vec(),
        cluster: non_empty_str(d.db_cluster_identifier()),
        promotion_tier: d.promotion_tier(),
        latest_restorable: d.latest_restorable_time().map(|t| t.secs()),
        created: d.instance_create_time().map(|t| t.secs()),
        managed_secret: d
            .master_user_secret()
            .and_then(|s| non_empty_str(s.secret_arn())),
        availability_zone: non_empty_str(d.availability_zone()),
        ca_certificate: non_empty_str(d.ca_certificate_identifier()),
        pending_modifications: pending_fields(d),
        resource_id: non_empty_str(d.dbi_resource_id()),
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
        vpc_id: non_empty_str(d.vpc_id()),
        tags: Default::default(),
    }
}

fn cluster_snapshot_from_sdk(d: &DbClusterSnapshot) -> Snapshot {
    Snapshot {
        id: d
            .db_cluster_snapshot_identifier()
            .unwrap_or_default()
            .to_string(),
        arn: d.db_cluster_snapshot_arn().unwrap_or_default().to_string(),
        instance_id: d.db_cluster_identifier().unwrap_or_default().to_string(),
        status: d.status().unwrap_or("unknown").to_string(),
        kind: d.snapshot_type().unwrap_or_default().to_string(),
        created: d.snapshot_create_time().map(|t| t.secs()),
        vpc_id: non_empty_str(d.vpc_id()),
        tags: Default::default(),
    }
}

pub(crate) fn cluster_from_sdk(d: &DbCluster) -> Cluster {
    let pending = d.pending_modified_values().map(|p| {
        let mut out = Vec::new();
        if p.db_cluster_identifier().is_some() {
            out.push("DBClusterIdentifier".to_string());
        }
        if p.engine_version().is_some() {
            out.push("EngineVersion".to_string());
        }
        if p.backup_retention_period().is_some() {
            out.push("BackupRetentionPeriod".to_string());
        }
        if p.iam_database_authentication_enabled().is_some() {
            out.push("IAMDatabaseAuthenticationEnabled".to_string());
        }
        if p.pending_cloudwatch_logs_exports().is_some() {
            out.push("PendingCloudwatchLogsExports".to_string());
        }
        out
    });
    Cluster {
        id: d.db_cluster_identifier().unwrap_or_default().to_string(),
        arn: d.db_cluster_arn().unwrap_or_default().to_string(),
        resource_id: non_empty_str(d.db_cluster_resource_id()),
        status: d.status().unwrap_or("unknown").to_string(),
        engine: d.engine().unwrap_or_default().to_string(),
        engine_version: d.engine_version().unwrap_or_default().to_string(),
        engine_mode: non_empty_str(d.engine_mode()),
        members: d
            .db_cluster_members()
            .iter()
            .filter_map(|m| {
                Some(ClusterMember {
                    id: m.db_instance_identifier()?.to_string(),
                    writer: m.is_cluster_writer().unwrap_or(false),
                })
            })
            .collect(),
        address: non_empty_str(d.endpoint()),
        port: d.port(),
        subnet_group: non_empty_str(d.db_subnet_group()),
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
        parameter_group: non_empty_str(d.db_cluster_parameter_group()),
        backup_retention: d.backup_retention_period().unwrap_or(0),
        backup_window: non_empty_str(d.preferred_backup_window()),
        maintenance_window: non_empty_str(d.preferred_maintenance_window()),
        iam_auth: d.iam_database_authentication_enabled().unwrap_or(false),
        cloudwatch_logs_exports: d.enabled_cloudwatch_logs_exports().to_vec(),
        deletion_protection: d.deletion_protection().unwrap_or(false),
        copy_tags_to_snapshot: d.copy_tags_to_snapshot().unwrap_or(false),
        backtrack_window: d.backtrack_window().filter(|w| *w > 0),
        serverless_v2: d
            .serverless_v2_scaling_configuration()
            .and_then(|s| Some((s.min_capacity()?, s.max_capacity()?))),
        storage_encrypted: d.storage_encrypted().unwrap_or(false),
        kms_key_id: non_empty_str(d.kms_key_id()),
        global_cluster: non_empty_str(d.global_cluster_identifier()),
        clone_group_id: non_empty_str(d.clone_group_id()),
        managed_secret: d
            .master_user_secret()
            .and_then(|s| non_empty_str(s.secret_arn())),
        earliest_restorable: d.earliest_restorable_time().map(|t| t.secs()),
        latest_restorable: d.latest_restorable_time().map(|t| t.secs()),
        pending_modifications: pending.unwrap_or_default(),
        endpoints: Vec::new(),
        created: d.cluster_create_time().map(|t| t.secs()),
        tags: d
            .tag_list()
            .iter()
            .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or("").to_string())))
            .collect(),
    }
}
