//! DB snapshots: the fresh snapshot of the source that `--snapshot fresh` takes.

use super::{GrantContext, Tag};
use crate::iam::Grants;
use crate::plan::LatencyModel;
use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq)]
pub enum SnapshotOp {
    /// CreateDBSnapshot of the step's resource (the source instance, read only).
    Create { snapshot_id: String, tags: Vec<Tag> },
}

impl SnapshotOp {
    pub fn action(&self) -> &'static str {
        match self {
            SnapshotOp::Create { .. } => "CreateDBSnapshot",
        }
    }

    /// The snapshot this step makes (the poller waits on it).
    pub fn snapshot_id(&self) -> &str {
        match self {
            SnapshotOp::Create { snapshot_id, .. } => snapshot_id,
        }
    }

    pub fn params(&self, instance: &str) -> Map<String, Value> {
        let mut m = Map::new();
        match self {
            SnapshotOp::Create { snapshot_id, tags } => {
                m.insert("DBInstanceIdentifier".into(), instance.into());
                m.insert("DBSnapshotIdentifier".into(), snapshot_id.clone().into());
                if !tags.is_empty() {
                    m.insert(
                        "Tags".into(),
                        serde_json::to_value(tags).unwrap_or_default(),
                    );
                }
            }
        }
        m
    }

    pub fn expected(&self, latency: &LatencyModel) -> f64 {
        match self {
            SnapshotOp::Create { .. } => latency.create_snapshot,
        }
    }

    pub fn grants(&self, instance: &str, ctx: &GrantContext<'_>, g: &mut Grants) {
        let a = ctx.account;
        match self {
            SnapshotOp::Create { snapshot_id, tags } => {
                let snapshot = a.arn(&format!("snapshot:{snapshot_id}"));
                g.allow(
                    "CreateDBSnapshot",
                    [a.arn(&format!("db:{instance}")), snapshot.clone()],
                );
                if !tags.is_empty() {
                    g.allow("AddTagsToResource", [snapshot]);
                }
            }
        }
    }

    /// The state after the step, for the planner's tests and the simulator.
    #[cfg(any(test, feature = "test-support"))]
    pub fn predict(
        &self,
        state: &mut crate::observed::Observed,
        instance: &str,
    ) -> Result<(), String> {
        match self {
            SnapshotOp::Create { snapshot_id, .. } => {
                let inst = state
                    .get(instance)
                    .ok_or_else(|| format!("instance {instance} does not exist"))?;
                let snap = crate::observed::Snapshot {
                    id: snapshot_id.clone(),
                    arn: state.account.arn(&format!("snapshot:{snapshot_id}")),
                    instance_id: instance.to_string(),
                    status: "available".into(),
                    kind: "manual".into(),
                    created: Some(i64::MAX),
                    vpc_id: inst.vpc_id.clone(),
                };
                state.snapshots.push(snap);
                Ok(())
            }
        }
    }
}
