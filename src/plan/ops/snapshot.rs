//! DB snapshots: the fresh snapshot of the source that `--snapshot fresh` takes, and its
//! delete once the clone restored from it exists (manual snapshots never expire: left
//! behind, a weekly refresh would keep 52 full copies of production a year).

use super::{GrantContext, Tag};
use crate::iam::Grants;
use crate::plan::LatencyModel;
use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq)]
pub enum SnapshotOp {
    /// CreateDBSnapshot of the step's resource (the source instance, read only).
    Create { snapshot_id: String, tags: Vec<Tag> },
    /// DeleteDBSnapshot of a snapshot the tool took (the step's resource is the snapshot);
    /// the executor checks its tags first.
    Delete { snapshot_id: String },
    /// `--keep-snapshot`: the snapshot stays, without the markers that would make a later
    /// run adopt it as its own.
    Unmark {
        snapshot_id: String,
        keys: Vec<String>,
    },
}

impl SnapshotOp {
    pub fn action(&self) -> &'static str {
        match self {
            SnapshotOp::Create { .. } => "CreateDBSnapshot",
            SnapshotOp::Delete { .. } => "DeleteDBSnapshot",
            SnapshotOp::Unmark { .. } => "RemoveTagsFromResource",
        }
    }

    /// The snapshot this step makes (the poller waits on it).
    pub fn snapshot_id(&self) -> &str {
        match self {
            SnapshotOp::Create { snapshot_id, .. }
            | SnapshotOp::Delete { snapshot_id }
            | SnapshotOp::Unmark { snapshot_id, .. } => snapshot_id,
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
            SnapshotOp::Delete { snapshot_id } => {
                m.insert("DBSnapshotIdentifier".into(), snapshot_id.clone().into());
            }
            SnapshotOp::Unmark { snapshot_id, keys } => {
                m.insert("ResourceName".into(), snapshot_id.clone().into());
                m.insert(
                    "TagKeys".into(),
                    serde_json::to_value(keys).unwrap_or_default(),
                );
            }
        }
        m
    }

    pub fn expected(&self, latency: &LatencyModel) -> f64 {
        match self {
            SnapshotOp::Create { .. } => latency.create_snapshot,
            SnapshotOp::Delete { .. } | SnapshotOp::Unmark { .. } => latency.api_call,
        }
    }

    /// Fresh snapshots are granted by name pattern (`stack-mitosis-<source>-*`), so one
    /// policy serves every run of a scheduled refresh.
    pub fn grants(&self, instance: &str, ctx: &GrantContext<'_>, g: &mut Grants) {
        let a = ctx.account;
        let fresh = a.arn(&format!(
            "snapshot:{}",
            crate::plan::fresh_snapshot_pattern(ctx.source)
        ));
        match self {
            SnapshotOp::Create { tags, .. } => {
                g.allow(
                    "CreateDBSnapshot",
                    [a.arn(&format!("db:{instance}")), fresh.clone()],
                );
                if !tags.is_empty() {
                    g.allow("AddTagsToResource", [fresh]);
                }
            }
            SnapshotOp::Delete { .. } => g.allow("DeleteDBSnapshot", [fresh]),
            SnapshotOp::Unmark { .. } => g.allow("RemoveTagsFromResource", [fresh]),
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
            SnapshotOp::Create { snapshot_id, tags } => {
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
                    tags: tags
                        .iter()
                        .map(|t| (t.key.clone(), t.value.clone()))
                        .collect(),
                };
                state.snapshots.push(snap);
                Ok(())
            }
            SnapshotOp::Delete { snapshot_id } => {
                state.snapshots.retain(|s| &s.id != snapshot_id);
                Ok(())
            }
            SnapshotOp::Unmark { snapshot_id, keys } => {
                for s in state.snapshots.iter_mut().filter(|s| &s.id == snapshot_id) {
                    s.tags.retain(|k, _| !keys.contains(k));
                }
                Ok(())
            }
        }
    }
}
