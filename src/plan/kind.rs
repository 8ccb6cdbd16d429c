//! What a plan refreshes (a tree of instances or an Aurora cluster) and how its clone is made.

use serde::{Deserialize, Serialize};

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
