//! EC2 Auto Scaling groups of an environment (`--config`): the target's application servers
//! go into standby just before the first retire and come back right after the restart
//! command; `--quiesce-source` does the same for the source's while its snapshot is taken.
//! What a group had before (MinSize, desired capacity, the instances put in standby, the
//! processes suspended) is kept in tags on the group, so that a rerun or a rollback always
//! brings it back.

mod autoscaling;
mod observe;
mod op;
mod record;
mod run;
pub mod steps;

pub use autoscaling::{GroupRead, GroupState, GroupWrite, SdkAutoScaling};
pub use observe::observe;
pub use op::{GroupOp, SUSPENDED_PROCESSES};
pub use record::{group_tags, Recorded};
pub use run::run;

use std::collections::BTreeMap;

/// What the planner knows of an environment's groups: each by name.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    pub groups: BTreeMap<String, GroupState>,
}
