//! EC2 Auto Scaling behind the group wing's own narrow traits (`GroupRead` for planning,
//! `GroupWrite` for its steps) and the real adapter over aws-sdk-autoscaling: conversions only,
//! no decisions.

use crate::aws::{aws_error, load_config, AwsSettings};
use crate::error::MitosisError;
use async_trait::async_trait;
use std::collections::BTreeMap;

/// An Auto Scaling group as the standby steps need it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GroupState {
    pub name: String,
    pub min_size: i32,
    pub max_size: i32,
    pub desired: i32,
    /// Each instance's id and lifecycle state (`InService`, `Standby`, `EnteringStandby`...).
    pub instances: Vec<(String, String)>,
    /// The processes suspended now.
    pub suspended: Vec<String>,
    pub tags: BTreeMap<String, String>,
}

/// Reading groups: nothing here changes the account.
#[async_trait]
pub trait GroupRead: Send + Sync {
    /// The groups among `names` that exist.
    async fn describe_groups(&self, names: &[String]) -> Result<Vec<GroupState>, MitosisError>;
}

/// Changing groups: the standby steps' calls.
#[async_trait]
pub trait GroupWrite: GroupRead {
    async fn tag_group(&self, group: &str, tags: &[(String, String)]) -> Result<(), MitosisError>;
    async fn untag_group(&self, group: &str, keys: &[String]) -> Result<(), MitosisError>;
    async fn suspend_processes(
        &self,
        group: &str,
        processes: &[String],
    ) -> Result<(), MitosisError>;
    async fn resume_processes(&self, group: &str, processes: &[String])
        -> Result<(), MitosisError>;
    async fn set_min_size(&self, group: &str, min_size: i32) -> Result<(), MitosisError>;
    /// EnterStandby (at most 20 instances), decrementing the desired capacity.
    async fn enter_standby(&self, group: &str, instances: &[String]) -> Result<(), MitosisError>;
    /// ExitStandby (at most 20 instances).
    async fn exit_standby(&self, group: &str, instances: &[String]) -> Result<(), MitosisError>;
}

pub struct SdkAutoScaling {
    autoscaling: aws_sdk_autoscaling::Client,
}

impl SdkAutoScaling {
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        SdkAutoScaling {
            autoscaling: aws_sdk_autoscaling::Client::new(config),
        }
    }

    pub async fn connect(settings: &AwsSettings) -> Self {
        Self::new(&load_config(settings, true).await)
    }
}

#[async_trait]
impl GroupRead for SdkAutoScaling {
    async fn describe_groups(&self, names: &[String]) -> Result<Vec<GroupState>, MitosisError> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let groups: Vec<aws_sdk_autoscaling::types::AutoScalingGroup> = self
            .autoscaling
            .describe_auto_scaling_groups()
            .set_auto_scaling_group_names(Some(names.to_vec()))
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| aws_error("DescribeAutoScalingGroups", e))?;
        Ok(groups
            .iter()
            .map(|g| GroupState {
                name: g.auto_scaling_group_name().unwrap_or("").to_string(),
                min_size: g.min_size().unwrap_or(0),
                max_size: g.max_size().unwrap_or(0),
                desired: g.desired_capacity().unwrap_or(0),
                instances: g
                    .instances()
                    .iter()
                    .map(|i| {
                        (
                            i.instance_id().unwrap_or("").to_string(),
                            i.lifecycle_state()
                                .map(|s| s.as_str().to_string())
                                .unwrap_or_default(),
                        )
                    })
                    .collect(),
                suspended: g
                    .suspended_processes()
                    .iter()
                    .filter_map(|p| p.process_name().map(str::to_string))
                    .collect(),
                tags: g
                    .tags()
                    .iter()
                    .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
                    .collect(),
            })
            .collect())
    }
}

#[async_trait]
impl GroupWrite for SdkAutoScaling {
    async fn tag_group(&self, group: &str, tags: &[(String, String)]) -> Result<(), MitosisError> {
        use aws_sdk_autoscaling::types::Tag;
        let tags = tags
            .iter()
            .map(|(k, v)| {
                Tag::builder()
                    .resource_id(group)
                    .resource_type("auto-scaling-group")
                    .key(k)
                    .value(v)
                    .propagate_at_launch(false)
                    .build()
            })
            .collect();
        self.autoscaling
            .create_or_update_tags()
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(|e| aws_error("CreateOrUpdateTags", e))?;
        Ok(())
    }

    async fn untag_group(&self, group: &str, keys: &[String]) -> Result<(), MitosisError> {
        use aws_sdk_autoscaling::types::Tag;
        let tags = keys
            .iter()
            .map(|k| {
                Tag::builder()
                    .resource_id(group)
                    .resource_type("auto-scaling-group")
                    .key(k)
                    .build()
            })
            .collect();
        self.autoscaling
            .delete_tags()
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(|e| aws_error("DeleteTags", e))?;
        Ok(())
    }

    async fn suspend_processes(
        &self,
        group: &str,
        processes: &[String],
    ) -> Result<(), MitosisError> {
        self.autoscaling
            .suspend_processes()
            .auto_scaling_group_name(group)
            .set_scaling_processes(Some(processes.to_vec()))
            .send()
            .await
            .map_err(|e| aws_error("SuspendProcesses", e))?;
        Ok(())
    }

    async fn resume_processes(
        &self,
        group: &str,
        processes: &[String],
    ) -> Result<(), MitosisError> {
        self.autoscaling
            .resume_processes()
            .auto_scaling_group_name(group)
            .set_scaling_processes(Some(processes.to_vec()))
            .send()
            .await
            .map_err(|e| aws_error("ResumeProcesses", e))?;
        Ok(())
    }

    async fn set_min_size(&self, group: &str, min_size: i32) -> Result<(), MitosisError> {
        self.autoscaling
            .update_auto_scaling_group()
            .auto_scaling_group_name(group)
            .min_size(min_size)
            .send()
            .await
            .map_err(|e| aws_error("UpdateAutoScalingGroup", e))?;
        Ok(())
    }

    async fn enter_standby(&self, group: &str, instances: &[String]) -> Result<(), MitosisError> {
        self.autoscaling
            .enter_standby()
            .auto_scaling_group_name(group)
            .set_instance_ids(Some(instances.to_vec()))
            .should_decrement_desired_capacity(true)
            .send()
            .await
            .map_err(|e| aws_error("EnterStandby", e))?;
        Ok(())
    }

    async fn exit_standby(&self, group: &str, instances: &[String]) -> Result<(), MitosisError> {
        self.autoscaling
            .exit_standby()
            .auto_scaling_group_name(group)
            .set_instance_ids(Some(instances.to_vec()))
            .send()
            .await
            .map_err(|e| aws_error("ExitStandby", e))?;
        Ok(())
    }
}
