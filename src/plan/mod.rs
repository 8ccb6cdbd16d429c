//! The plan: typed steps with ids and dependencies, computed ahead of time by a pure planner.
//!
//! `plan` and `apply` build the plan through the same code; the flight plan is this structure
//! rendered, and the executor only executes it.

mod attributes;
mod cluster;
mod cluster_attributes;
mod copy;
mod eta;
pub mod milestones;
pub mod ops;
mod parts;
mod planner;
#[cfg(any(test, feature = "test-support"))]
mod predict;
pub mod proof;
mod rollback;
mod step;
pub mod time;
mod tree;
mod validate;

pub use attributes::{CreateAttrs, InsightsAttrs, ModifyAttrs, ProcessorFeature};
pub use cluster_attributes::{ClusterAttrs, ClusterModify, MemberAttrs, ServerlessV2Scaling};
pub use copy::{destroy_plan, expired_copies, plan_destroy, CopySpec, Removal};
pub use eta::{estimate, expected, schedule, Eta, LatencyModel};
pub use ops::{
    ClusterOp, CommandOp, CopyFor, GuardOp, Hook, InstanceOp, LockOp, Op, SnapshotOf, SnapshotOp,
    Tag, Wing, WingOp,
};
pub use parts::{combine, merge, plan_pairs};
pub use planner::{
    final_snapshot_id, fresh_snapshot_id, fresh_snapshot_pattern, import_snapshot_id,
    import_snapshot_pattern, plan, transfer_snapshot_id, transfer_snapshot_pattern, with_lock,
    PlanRequest, SnapshotChoice, SourceTime, FRESH_SNAPSHOT_PREFIX,
};
#[cfg(any(test, feature = "test-support"))]
pub use predict::{predict, predict_all};
pub use rollback::{rollback, OnFailure};
pub use step::{push as push_step, Account, Phase, Step, StepId, StepKind, Until};
pub use validate::validate_identifier;

use serde::{Deserialize, Serialize};

/// Version of the serialized plan format (`plan --format json`). Bump on breaking changes.
pub const PLAN_FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClonePath {
    /// Same VPC: a read replica of the source, promoted.
    Replica,
    /// Different VPCs, or asked for: a restore of a source snapshot into the target's subnet group.
    Snapshot,
    /// Aurora clusters: a copy-on-write clone of the source cluster.
    Clone,
    /// `--source-time`: the root clone (or the cluster) restored from the source's backups as
    /// of a moment.
    PointInTime,
}

impl ClonePath {
    pub fn as_str(self) -> &'static str {
        match self {
            ClonePath::Replica => "replica",
            ClonePath::Snapshot => "snapshot",
            ClonePath::Clone => "clone",
            ClonePath::PointInTime => "point-in-time",
        }
    }
}

/// What a plan refreshes: a tree of DB instances, or an Aurora cluster and its members.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    #[default]
    Instance,
    Cluster,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Instance => "instance",
            Kind::Cluster => "cluster",
        }
    }

    /// The resource type in the target's ARN (`db:NAME`, `cluster:NAME`).
    pub fn arn_type(self) -> &'static str {
        match self {
            Kind::Instance => "db",
            Kind::Cluster => "cluster",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub source: String,
    pub target: String,
    pub kind: Kind,
    pub path: ClonePath,
    /// The run this plan belongs to: fresh, or read back from the tags of an interrupted run.
    pub run_id: String,
    /// True when the observed state shows an earlier run of this refresh in progress.
    pub resuming: bool,
    pub steps: Vec<Step>,
    /// Expected duration and downtime, when a latency model was applied (`with_eta`).
    pub eta: Option<Eta>,
    /// What the user should know before applying (an engine version that will differ).
    pub notes: Vec<String>,
    /// A cross-account refresh: the source's and the target's accounts.
    pub accounts: Option<Accounts>,
    /// What the plan does: refresh a target, make a throwaway copy, or destroy copies.
    pub operation: Operation,
    /// A copy's or a destroy's prefix (what the copy's names begin with).
    pub copy_prefix: Option<String>,
    /// An environment's further database pairs (`--config` with several databases), in the
    /// config's order: a step whose `part` is i > 0 is about `more[i - 1]`; part 0 is the
    /// plan's own `source`, `target` and `kind`.
    pub more: Vec<Part>,
    /// Why a target looks like production (deletion protection, a production tag), when
    /// `--allow-protected-target` lets the refresh replace it anyway: the plan's first words.
    pub protected_targets: Vec<String>,
}

/// One database pair of a plan with several (see `Plan::more`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub source: String,
    pub target: String,
    pub kind: Kind,
    pub path: ClonePath,
}

/// The database pair a step is about, borrowed from its plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pair<'a> {
    pub source: &'a str,
    pub target: &'a str,
    pub kind: Kind,
}

/// What a plan does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Operation {
    /// Replace the target with a clone of the source (`apply`).
    #[default]
    Refresh,
    /// Build a clone of the source under new names, like the template (`copy`).
    Copy,
    /// Delete a copy (`destroy`, `sweep`).
    Destroy,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Refresh => "refresh",
            Operation::Copy => "copy",
            Operation::Destroy => "destroy",
        }
    }
}

/// The two AWS accounts of a cross-account refresh (their ids).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accounts {
    pub source: String,
    pub target: String,
}

impl Accounts {
    /// The id of the account a step is made in.
    pub fn of(&self, account: Account) -> &str {
        match account {
            Account::Source => &self.source,
            Account::Target => &self.target,
        }
    }
}

impl Plan {
    pub fn pending(&self) -> impl Iterator<Item = &Step> {
        self.steps.iter().filter(|s| s.is_pending())
    }

    /// True when something besides taking and releasing the lock remains to be done.
    pub fn has_work(&self) -> bool {
        self.pending().any(|s| s.phase != Phase::Lock)
    }

    /// The step with this id (as the flight plan shows it).
    pub fn step(&self, id: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.id == *id)
    }

    /// Every database pair of the plan, part 0 first.
    pub fn pairs(&self) -> Vec<Pair<'_>> {
        let first = Pair {
            source: &self.source,
            target: &self.target,
            kind: self.kind,
        };
        std::iter::once(first)
            .chain(self.more.iter().map(|p| Pair {
                source: &p.source,
                target: &p.target,
                kind: p.kind,
            }))
            .collect()
    }

    /// The database pair `step` is about.
    pub fn pair(&self, step: &Step) -> Pair<'_> {
        let pairs = self.pairs();
        pairs.get(step.part).copied().unwrap_or(pairs[0])
    }

    /// The plan with its expected duration and downtime under `latency`.
    pub fn with_eta(mut self, latency: &LatencyModel) -> Self {
        self.eta = Some(estimate(&self, latency));
        self
    }
}
