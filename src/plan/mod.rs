//! The plan: typed steps with ids and dependencies, computed ahead of time by a pure planner.
//!
//! `plan` and `apply` build the plan through the same code; the flight plan is this structure
//! rendered, and the executor only executes it.

mod attributes;
mod eta;
mod planner;
mod predict;
mod rollback;
mod validate;

pub use attributes::{CreateAttrs, InsightsAttrs, ModifyAttrs, ProcessorFeature};
pub use eta::{estimate, expected, schedule, Eta, LatencyModel};
pub use planner::{final_snapshot_id, fresh_snapshot_id, plan, PlanRequest, SnapshotChoice};
pub use predict::{predict, predict_all};
pub use rollback::{rollback, OnFailure};
pub use validate::validate_identifier;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Version of the serialized plan format (`plan --format json`). Bump on breaking changes.
pub const PLAN_FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClonePath {
    /// Same VPC: a read replica of the source, promoted.
    Replica,
    /// Different VPCs, or asked for: a restore of a source snapshot into the target's subnet group.
    Snapshot,
}

impl ClonePath {
    pub fn as_str(self) -> &'static str {
        match self {
            ClonePath::Replica => "replica",
            ClonePath::Snapshot => "snapshot",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tag {
    #[serde(rename = "Key")]
    pub key: String,
    #[serde(rename = "Value")]
    pub value: String,
}

/// One AWS call (or the restart command) with its request parameters.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    CreateDBSnapshot {
        snapshot_id: String,
        tags: Vec<Tag>,
    },
    CreateDBInstanceReadReplica {
        source: String,
        attrs: CreateAttrs,
    },
    RestoreDBInstanceFromDBSnapshot {
        snapshot_id: String,
        attrs: CreateAttrs,
    },
    PromoteReadReplica,
    ModifyDBInstance(ModifyAttrs),
    AddTagsToResource {
        tags: Vec<Tag>,
    },
    RemoveTagsFromResource {
        keys: Vec<String>,
    },
    DeleteDBInstance {
        final_snapshot_id: Option<String>,
    },
    RunCommand {
        command: String,
    },
}

impl Op {
    /// The AWS API operation name (or `RunCommand` for the restart hook).
    pub fn action(&self) -> &'static str {
        match self {
            Op::CreateDBSnapshot { .. } => "CreateDBSnapshot",
            Op::CreateDBInstanceReadReplica { .. } => "CreateDBInstanceReadReplica",
            Op::RestoreDBInstanceFromDBSnapshot { .. } => "RestoreDBInstanceFromDBSnapshot",
            Op::PromoteReadReplica => "PromoteReadReplica",
            Op::ModifyDBInstance(_) => "ModifyDBInstance",
            Op::AddTagsToResource { .. } => "AddTagsToResource",
            Op::RemoveTagsFromResource { .. } => "RemoveTagsFromResource",
            Op::DeleteDBInstance { .. } => "DeleteDBInstance",
            Op::RunCommand { .. } => "RunCommand",
        }
    }

    /// Whether the step changes the instance it acts on. CreateDBSnapshot only reads its
    /// instance (the source), which is why it is the one call allowed on the source tree.
    pub fn mutates_instance(&self) -> bool {
        !matches!(self, Op::CreateDBSnapshot { .. } | Op::RunCommand { .. })
    }

    /// The request parameters under their AWS names, as the flight plan shows them.
    /// `instance` is the DBInstanceIdentifier the step acts on.
    pub fn params(&self, instance: &str) -> Map<String, Value> {
        let mut m = Map::new();
        let id = Value::String(instance.to_string());
        match self {
            Op::CreateDBSnapshot { snapshot_id, tags } => {
                m.insert("DBInstanceIdentifier".into(), id);
                m.insert("DBSnapshotIdentifier".into(), snapshot_id.clone().into());
                if !tags.is_empty() {
                    m.insert(
                        "Tags".into(),
                        serde_json::to_value(tags).unwrap_or_default(),
                    );
                }
            }
            Op::CreateDBInstanceReadReplica { source, attrs } => {
                m.insert("DBInstanceIdentifier".into(), id);
                m.insert("SourceDBInstanceIdentifier".into(), source.clone().into());
                m.extend(attrs.to_params());
            }
            Op::RestoreDBInstanceFromDBSnapshot { snapshot_id, attrs } => {
                m.insert("DBInstanceIdentifier".into(), id);
                m.insert("DBSnapshotIdentifier".into(), snapshot_id.clone().into());
                m.extend(attrs.to_params());
            }
            Op::PromoteReadReplica => {
                m.insert("DBInstanceIdentifier".into(), id);
            }
            Op::ModifyDBInstance(attrs) => {
                m.insert("DBInstanceIdentifier".into(), id);
                m.extend(attrs.to_params());
            }
            Op::AddTagsToResource { tags } => {
                m.insert("ResourceName".into(), id);
                m.insert(
                    "Tags".into(),
                    serde_json::to_value(tags).unwrap_or_default(),
                );
            }
            Op::RemoveTagsFromResource { keys } => {
                m.insert("ResourceName".into(), id);
                m.insert(
                    "TagKeys".into(),
                    serde_json::to_value(keys).unwrap_or_default(),
                );
            }
            Op::DeleteDBInstance { final_snapshot_id } => {
                m.insert("DBInstanceIdentifier".into(), id);
                match final_snapshot_id {
                    Some(s) => {
                        m.insert("FinalDBSnapshotIdentifier".into(), s.clone().into());
                    }
                    None => {
                        m.insert("SkipFinalSnapshot".into(), true.into());
                    }
                }
            }
            Op::RunCommand { command } => {
                m.insert("Command".into(), command.clone().into());
            }
        }
        m
    }
}

/// Which part of the refresh a step belongs to; used for grouping in reports and for the
/// safety rules (nothing in `Cleanup` runs before `Restart` succeeded).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    Clone,
    /// The before-swap hook: the clone is complete, nothing is renamed yet.
    Prepare,
    Retire,
    Swap,
    Restart,
    Cleanup,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub id: String,
    pub phase: Phase,
    /// The DBInstanceIdentifier acted on (for RunCommand: the target root).
    pub instance: String,
    pub op: Op,
    pub depends_on: Vec<String>,
    /// Why this step is already done, when it is.
    pub skip: Option<String>,
}

impl Step {
    pub fn is_pending(&self) -> bool {
        self.skip.is_none()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub source: String,
    pub target: String,
    pub path: ClonePath,
    /// The run this plan belongs to: fresh, or read back from the tags of an interrupted run.
    pub run_id: String,
    /// True when the observed state shows an earlier run of this refresh in progress.
    pub resuming: bool,
    pub steps: Vec<Step>,
    /// Expected duration and downtime, when a latency model was applied (`with_eta`).
    pub eta: Option<Eta>,
}

impl Plan {
    pub fn pending(&self) -> impl Iterator<Item = &Step> {
        self.steps.iter().filter(|s| s.is_pending())
    }

    pub fn step(&self, id: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.id == id)
    }

    /// The plan with its expected duration and downtime under `model`.
    pub fn with_eta(mut self, model: &LatencyModel) -> Self {
        self.eta = Some(estimate(&self, model));
        self
    }
}
