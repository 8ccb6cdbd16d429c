//! What a step does, by kind of resource. Each database kind is one module holding its
//! operations with everything the rest of the tool asks of them: the AWS action name and
//! request parameters (flight plan), the expected duration (ETA, poller), the IAM grants, and
//! (for tests) the effect on an observed state. The kinds that ride along with the databases
//! (buckets, groups: `crate::kinds`) keep their operations in their own folders and reach a
//! plan as `Op::Wing` (see `wing`): adding one touches nothing here.

pub mod cluster;
pub mod command;
pub mod grants;
pub mod guard;
pub mod instance;
pub mod lock;
pub mod snapshot;
mod wing;

pub use cluster::ClusterOp;
pub use command::{CommandOp, Hook};
pub use grants::Grants;
pub use guard::GuardOp;
pub use instance::InstanceOp;
pub use lock::LockOp;
pub use snapshot::{kms_arn, CopyFor, SnapshotOf, SnapshotOp, KMS_COPY_ACTIONS};
pub use wing::{Wing, WingOp};
// Tags are written by the operations; their type lives with the other attributes.
pub use crate::plan::attributes::Tag;

use super::latency::LatencyModel;

use serde_json::{Map, Value};

/// One AWS call (or a hook command) with its request parameters.
// A plan holds tens of steps, most of them instance operations: boxing saves nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    Instance(InstanceOp),
    Cluster(ClusterOp),
    Snapshot(SnapshotOp),
    ClusterSnapshot(SnapshotOp),
    Command(CommandOp),
    Lock(LockOp),
    Guard(GuardOp),
    /// A step of a kind that rides along with the databases (`crate::kinds`: an environment's
    /// buckets and groups).
    Wing(Wing),
}

/// Where a plan's grants are scoped: the account's ARNs and the source, whose tree is
/// read-only.
pub struct GrantContext<'a> {
    /// The account the step is made in.
    pub account: &'a crate::observed::AccountInfo,
    pub source: &'a str,
    pub target: &'a str,
    /// Cross-account: the source account's KMS key a shared snapshot is encrypted with,
    /// which the target account uses to copy it.
    pub shared_key: Option<&'a str>,
    /// What the plan refreshes: the lock's ARNs depend on it.
    pub kind: super::kind::Kind,
    /// The request's KMS keys resolved to their ARNs (`Observed::key_arns`).
    pub key_arns: &'a std::collections::BTreeMap<(String, String), String>,
}

impl GrantContext<'_> {
    /// A KMS key's ARN for the policy: its resolved ARN when the request named it by alias or
    /// id (an alias ARN does not authorize the key's use), else as `kms_arn` writes it.
    pub fn key_arn(&self, key: &str) -> String {
        self.key_arns
            .get(&(self.account.account.clone(), key.to_string()))
            .cloned()
            .unwrap_or_else(|| kms_arn(key, self.account))
    }
}

impl Op {
    /// The AWS API operation name (or `RunCommand` for a hook).
    pub fn action(&self) -> &'static str {
        match self {
            Op::Instance(op) => op.action(),
            Op::Cluster(op) => op.action(),
            Op::Snapshot(op) => op.action(SnapshotOf::Instance),
            Op::ClusterSnapshot(op) => op.action(SnapshotOf::Cluster),
            Op::Command(op) => op.action(),
            Op::Lock(op) => op.action(),
            Op::Guard(op) => op.action(),
            Op::Wing(op) => op.action(),
        }
    }

    /// Whether the step changes the resource it names. CreateDBSnapshot only reads its
    /// instance (the source), which is why it is the one call allowed on the source tree.
    pub fn mutates_resource(&self) -> bool {
        match self {
            Op::Instance(_) | Op::Cluster(_) | Op::Lock(_) | Op::Wing(_) => true,
            Op::Snapshot(_) | Op::ClusterSnapshot(_) | Op::Command(_) | Op::Guard(_) => false,
        }
    }

    /// The request parameters under their AWS names, as the flight plan shows them.
    pub fn params(&self, resource: &str) -> Map<String, Value> {
        match self {
            Op::Instance(op) => op.params(resource),
            Op::Cluster(op) => op.params(resource),
            Op::Snapshot(op) => op.params(resource, SnapshotOf::Instance),
            Op::ClusterSnapshot(op) => op.params(resource, SnapshotOf::Cluster),
            Op::Command(op) => op.params(),
            Op::Lock(op) => op.params(resource),
            Op::Guard(op) => op.params(),
            Op::Wing(op) => op.params(resource),
        }
    }

    /// Expected seconds from issuing the step until it has taken effect.
    pub fn expected(&self, latency: &LatencyModel) -> f64 {
        match self {
            Op::Instance(op) => op.expected(latency),
            Op::Cluster(op) => op.expected(latency),
            Op::Snapshot(op) | Op::ClusterSnapshot(op) => op.expected(latency),
            Op::Command(_) => latency.hook,
            Op::Lock(op) => op.expected(latency),
            Op::Guard(op) => op.expected(latency),
            Op::Wing(op) => op.expected(latency),
        }
    }

    /// The IAM actions and resource ARNs this step needs.
    pub fn grants(&self, resource: &str, ctx: &GrantContext<'_>, grants: &mut Grants) {
        match self {
            Op::Instance(op) => op.grants(resource, ctx, grants),
            Op::Cluster(op) => op.grants(resource, ctx, grants),
            Op::Snapshot(op) => op.grants(resource, SnapshotOf::Instance, ctx, grants),
            Op::ClusterSnapshot(op) => op.grants(resource, SnapshotOf::Cluster, ctx, grants),
            Op::Lock(op) => op.grants(resource, ctx, grants),
            Op::Guard(op) => op.grants(ctx, grants),
            Op::Wing(op) => op.grants(resource, ctx, grants),
            Op::Command(_) => {}
        }
    }

    /// The KMS keys this step names, as given (an id, an alias, an ARN): the policy must name
    /// each by its key ARN.
    pub fn kms_keys(&self) -> Vec<&str> {
        match self {
            Op::Snapshot(SnapshotOp::Copy { kms_key_id, .. })
            | Op::ClusterSnapshot(SnapshotOp::Copy { kms_key_id, .. }) => {
                kms_key_id.iter().map(String::as_str).collect()
            }
            Op::Cluster(
                ClusterOp::Clone { source_key, .. }
                | ClusterOp::RestoreFromSnapshot { source_key, .. },
            ) => source_key.iter().map(String::as_str).collect(),
            _ => Vec::new(),
        }
    }

    /// The rename this step makes, if it is one: (from, to) are given by the step's resource
    /// and this new name.
    pub fn new_name(&self) -> Option<&str> {
        match self {
            Op::Instance(InstanceOp::Modify(m)) => m.new_id.as_deref(),
            Op::Cluster(op) => op.new_name(),
            _ => None,
        }
    }
}
