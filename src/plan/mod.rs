//! The plan: typed steps with ids and dependencies, computed ahead of time by a pure planner.
//!
//! `plan` and `apply` build the plan through the same code; the flight plan is this structure
//! rendered, and the executor only executes it. The files, from the bottom up: the plan's
//! model, steps and operations (`ops/`), what is asked (`request`), what was found (`tree`,
//! `proof`, `validate`), the database planners over one shared builder (`database/`), and the
//! dispatcher (`planner`). No file here imports one that imports it back
//! (`scripts/check-imports`); this file only declares and re-exports.

mod attributes;
mod cluster_attributes;
mod database;
mod eta;
mod kind;
mod latency;
mod lock;
pub mod milestones;
mod model;
mod names;
pub mod ops;
mod parts;
mod planner;
#[cfg(any(test, feature = "test-support"))]
mod predict;
pub mod proof;
mod request;
mod step;
pub mod time;
mod tree;
mod validate;

pub use attributes::{CreateAttrs, InsightsAttrs, ModifyAttrs, ProcessorFeature, Tag};
pub use cluster_attributes::{ClusterAttrs, ClusterModify, MemberAttrs, ServerlessV2Scaling};
pub use database::{destroy_plan, expired_copies, plan_destroy, rollback, OnFailure, Removal};
pub use eta::{estimate, expected, schedule};
pub use kind::{ClonePath, Kind};
pub use latency::LatencyModel;
pub use lock::with_lock;
pub use model::{Accounts, Eta, Operation, Pair, Part, Plan, PLAN_FORMAT_VERSION};
pub use names::{
    final_snapshot_id, fresh_snapshot_id, fresh_snapshot_pattern, import_snapshot_id,
    import_snapshot_pattern, transfer_snapshot_id, transfer_snapshot_pattern,
    FRESH_SNAPSHOT_PREFIX,
};
pub use ops::{
    ClusterOp, CommandOp, CopyFor, GuardOp, Hook, InstanceOp, LockOp, Op, SnapshotOf, SnapshotOp,
    Wing, WingOp,
};
pub use parts::{combine, merge, plan_pairs};
pub use planner::plan;
#[cfg(any(test, feature = "test-support"))]
pub use predict::{predict, predict_all};
pub use request::{CopySpec, PlanRequest, SnapshotChoice, SourceTime};
pub use step::{push as push_step, Account, Phase, Step, StepId, StepKind, Until};
pub use validate::validate_identifier;
