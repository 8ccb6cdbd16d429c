//! EC2 Auto Scaling groups of an environment (`--config`): the target's application servers
//! go into standby just before the first retire and come back right after the restart
//! command; `--quiesce-source` does the same for the source's while its snapshot is taken.
//! What a group had before (MinSize, desired capacity, the instances put in standby, the
//! processes suspended) is kept in tags on the group, so that a rerun or a rollback always
//! brings it back. See `super::run`.

use crate::plan::ops::{GrantContext, Grants, WingOp};
use crate::plan::LatencyModel;
use serde_json::{json, Map, Value};

/// The processes suspended while a group is in standby: nothing launches, terminates or
/// replaces its instances meanwhile.
pub const SUSPENDED_PROCESSES: [&str; 7] = [
    "Launch",
    "Terminate",
    "HealthCheck",
    "ReplaceUnhealthy",
    "AZRebalance",
    "ScheduledActions",
    "AlarmNotification",
];

#[derive(Debug, Clone, PartialEq)]
pub enum GroupOp {
    /// Record the group's values in tags, suspend its processes, lower MinSize if needed, put
    /// its in-service instances in standby (decrementing the desired capacity).
    Standby,
    /// The recorded instances back in service, MinSize and the processes restored, the tags
    /// removed. Does nothing to a group without the tool's standby tags.
    InService,
}

impl GroupOp {
    pub fn calls(&self) -> [&'static str; 4] {
        match self {
            GroupOp::Standby => [
                "CreateOrUpdateTags",
                "SuspendProcesses",
                "UpdateAutoScalingGroup",
                "EnterStandby",
            ],
            GroupOp::InService => [
                "ExitStandby",
                "UpdateAutoScalingGroup",
                "ResumeProcesses",
                "DeleteTags",
            ],
        }
    }
}

impl WingOp for GroupOp {
    fn action(&self) -> &'static str {
        match self {
            GroupOp::Standby => "EnterStandby",
            GroupOp::InService => "ExitStandby",
        }
    }

    fn params(&self, group: &str) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("AutoScalingGroupName".into(), group.into());
        match self {
            GroupOp::Standby => {
                m.insert("ShouldDecrementDesiredCapacity".into(), true.into());
                m.insert("ScalingProcesses".into(), json!(SUSPENDED_PROCESSES));
            }
            GroupOp::InService => {
                m.insert(
                    "Restores".into(),
                    "MinSize, desired capacity and processes as recorded in the group's tags"
                        .into(),
                );
            }
        }
        m.insert("Calls".into(), json!(self.calls()));
        m
    }

    /// Instances leave or rejoin the load balancer: deregistration delay, health checks.
    fn expected(&self, latency: &LatencyModel) -> f64 {
        latency.api_call * 4.0 + 30.0
    }

    fn grants(&self, group: &str, ctx: &GrantContext<'_>, g: &mut Grants) {
        let a = ctx.account;
        let arn = format!(
            "arn:{}:autoscaling:{}:{}:autoScalingGroup:*:autoScalingGroupName/{group}",
            a.partition, a.region, a.account
        );
        g.allow("autoscaling:DescribeAutoScalingGroups", ["*".to_string()]);
        let actions: &[&'static str] = match self {
            GroupOp::Standby => &[
                "autoscaling:CreateOrUpdateTags",
                "autoscaling:SuspendProcesses",
                "autoscaling:UpdateAutoScalingGroup",
                "autoscaling:EnterStandby",
                // A standby step that is resumed after its tags were written finishes the job
                // with what they say; a rollback may bring the group back.
                "autoscaling:ExitStandby",
                "autoscaling:ResumeProcesses",
                "autoscaling:DeleteTags",
            ],
            GroupOp::InService => &[
                "autoscaling:ExitStandby",
                "autoscaling:UpdateAutoScalingGroup",
                "autoscaling:ResumeProcesses",
                "autoscaling:DeleteTags",
            ],
        };
        for action in actions {
            g.allow(action, [arn.clone()]);
        }
    }
}
