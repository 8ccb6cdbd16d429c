//! DB snapshots: the fresh snapshot of the source that `--snapshot fresh` takes, and its
//! delete once the clone restored from it exists (manual snapshots never expire: left
//! behind, a weekly refresh would keep 52 full copies of production a year).

use super::{GrantContext, Tag};
use crate::iam::Grants;
use crate::plan::LatencyModel;
use serde_json::{Map, Value};

/// Whose snapshot: a DB instance's (DB snapshot) or an Aurora cluster's (cluster snapshot).
/// The operations are the same; the API names and ARNs differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SnapshotOf {
    Instance,
    Cluster,
}

impl SnapshotOf {
    fn create(self) -> &'static str {
        match self {
            SnapshotOf::Instance => "CreateDBSnapshot",
            SnapshotOf::Cluster => "CreateDBClusterSnapshot",
        }
    }
    fn delete(self) -> &'static str {
        match self {
            SnapshotOf::Instance => "DeleteDBSnapshot",
            SnapshotOf::Cluster => "DeleteDBClusterSnapshot",
        }
    }
    fn id_key(self) -> &'static str {
        match self {
            SnapshotOf::Instance => "DBSnapshotIdentifier",
            SnapshotOf::Cluster => "DBClusterSnapshotIdentifier",
        }
    }
    fn source_key(self) -> &'static str {
        match self {
            SnapshotOf::Instance => "DBInstanceIdentifier",
            SnapshotOf::Cluster => "DBClusterIdentifier",
        }
    }
    /// The ARN resource types of the snapshot and of what it is taken of.
    pub fn arn_kinds(self) -> (&'static str, &'static str) {
        match self {
            SnapshotOf::Instance => ("snapshot", "db"),
            SnapshotOf::Cluster => ("cluster-snapshot", "cluster"),
        }
    }
}

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
    pub fn action(&self, of: SnapshotOf) -> &'static str {
        match self {
            SnapshotOp::Create { .. } => of.create(),
            SnapshotOp::Delete { .. } => of.delete(),
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

    pub fn params(&self, instance: &str, of: SnapshotOf) -> Map<String, Value> {
        let mut m = Map::new();
        match self {
            SnapshotOp::Create { snapshot_id, tags } => {
                m.insert(of.source_key().into(), instance.into());
                m.insert(of.id_key().into(), snapshot_id.clone().into());
                if !tags.is_empty() {
                    m.insert(
                        "Tags".into(),
                        serde_json::to_value(tags).unwrap_or_default(),
                    );
                }
            }
            SnapshotOp::Delete { snapshot_id } => {
                m.insert(of.id_key().into(), snapshot_id.clone().into());
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
    pub fn grants(&self, instance: &str, of: SnapshotOf, ctx: &GrantContext<'_>, g: &mut Grants) {
        let a = ctx.account;
        let (snapshot, source) = of.arn_kinds();
        let fresh = a.arn(&format!(
            "{snapshot}:{}",
            crate::plan::fresh_snapshot_pattern(ctx.source)
        ));
        match self {
            SnapshotOp::Create { tags, .. } => {
                g.allow(
                    of.create(),
                    [a.arn(&format!("{source}:{instance}")), fresh.clone()],
                );
                if !tags.is_empty() {
                    g.allow("AddTagsToResource", [fresh]);
                }
            }
            SnapshotOp::Delete { .. } => g.allow(of.delete(), [fresh]),
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
                let vpc_id = match state.get(instance) {
                    Some(inst) => inst.vpc_id.clone(),
                    None if state.cluster(instance).is_some() => None,
                    None => return Err(format!("{instance} does not exist")),
                };
                let snap = crate::observed::Snapshot {
                    id: snapshot_id.clone(),
                    arn: state.account.arn(&format!("snapshot:{snapshot_id}")),
                    instance_id: instance.to_string(),
                    status: "available".into(),
                    kind: "manual".into(),
                    created: Some(i64::MAX),
                    vpc_id,
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
