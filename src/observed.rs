//! The observed state of an RDS account, in the project's own types.
//!
//! Everything the planner knows about AWS arrives through these structs, so the planner never
//! sees an SDK type and tests can build states by hand.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Tag keys the tool writes. They follow an instance through renames, which is what lets a
/// rerun tell a half-swapped tree from a fresh one.
pub mod tags {
    pub const PREFIX: &str = "stack-mitosis:";
    /// `temp` on clones the tool created, `old` on target instances it retired.
    pub const ROLE: &str = "stack-mitosis:role";
    /// The target-tree identifier this clone or retiree belongs to.
    pub const ORIGINAL: &str = "stack-mitosis:original";
    pub const RUN: &str = "stack-mitosis:run";
    pub const SOURCE: &str = "stack-mitosis:source";
    /// On the clone root once the before-swap command succeeded for that run, so that a
    /// continued or resumed run does not run it again.
    pub const PREPARED: &str = "stack-mitosis:prepared";
    /// On the clone root once its master password was set from the target's secret for that
    /// run (`--master-password-secret`).
    pub const PASSWORD: &str = "stack-mitosis:password";
    /// The markers a run puts on its clones and retirees (and takes off the new instances).
    pub const MARKERS: [&str; 6] = [ROLE, ORIGINAL, RUN, SOURCE, PREPARED, PASSWORD];
    pub const ROLE_TEMP: &str = "temp";
    pub const ROLE_OLD: &str = "old";
    /// On the snapshot `--snapshot fresh` takes of the source (original: the target).
    pub const ROLE_SNAPSHOT: &str = "snapshot";
    /// On a throwaway copy (`copy`): its name is `COPY_PREFIX` + `ORIGINAL` (the template's
    /// resource it is made like), and it stays marked for `destroy` and `sweep`.
    pub const ROLE_COPY: &str = "copy";
    /// The prefix a copy was made with.
    pub const COPY_PREFIX: &str = "stack-mitosis:prefix";
    /// When a copy expires (RFC 3339, UTC): `sweep` deletes it after.
    pub const EXPIRES: &str = "stack-mitosis:expires";
    /// `true` on a database that may never be refreshed (production): refused as a target.
    pub const PROTECTED: &str = "stack-mitosis:protected";
    /// `stack-mitosis:endpoint:<name>` on a retired cluster: the definition of its custom
    /// endpoint `name`, which moves to the new cluster (see `CustomEndpoint::encode`).
    pub const ENDPOINT_PREFIX: &str = "stack-mitosis:endpoint:";
}

pub const TEMP_PREFIX: &str = "temp-";
pub const OLD_PREFIX: &str = "old-";

/// A named membership with a status, e.g. a VPC security group (`active`) or a parameter group
/// (`in-sync`, `applying`, `pending-reboot`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    pub name: String,
    pub status: String,
}

impl Membership {
    pub fn new(name: &str, status: &str) -> Self {
        Membership {
            name: name.to_string(),
            status: status.to_string(),
        }
    }
}

/// One DB instance as DescribeDBInstances shows it, plus its tags.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Instance {
    pub id: String,
    pub arn: String,
    /// `DbiResourceId`: the instance's identity, which survives renames.
    #[serde(default)]
    pub resource_id: Option<String>,
    pub status: String,
    pub engine: String,
    pub engine_version: String,
    pub class: String,
    pub address: Option<String>,
    pub port: Option<i32>,
    pub storage_type: Option<String>,
    pub iops: Option<i32>,
    pub multi_az: bool,
    pub publicly_accessible: bool,
    pub auto_minor_version_upgrade: bool,
    pub copy_tags_to_snapshot: bool,
    pub processor_features: Vec<(String, String)>,
    pub vpc_security_groups: Vec<Membership>,
    pub option_groups: Vec<Membership>,
    pub parameter_groups: Vec<Membership>,
    pub iam_auth: bool,
    pub cloudwatch_logs_exports: Vec<String>,
    pub performance_insights: bool,
    pub performance_insights_kms_key_id: Option<String>,
    pub performance_insights_retention: Option<i32>,
    pub monitoring_interval: Option<i32>,
    pub monitoring_role_arn: Option<String>,
    pub subnet_group: Option<String>,
    pub vpc_id: Option<String>,
    pub backup_retention: i32,
    pub backup_window: Option<String>,
    pub maintenance_window: Option<String>,
    pub deletion_protection: bool,
    pub storage_encrypted: bool,
    pub kms_key_id: Option<String>,
    /// `ReadReplicaSourceDBInstanceIdentifier`: the parent in the replica tree.
    pub replica_source: Option<String>,
    /// `ReadReplicaDBInstanceIdentifiers`: the children, as AWS reports them.
    pub replicas: Vec<String>,
    /// Set for Aurora cluster members: the cluster's identifier.
    pub cluster: Option<String>,
    /// `LatestRestorableTime` (epoch seconds): the newest moment a point-in-time restore reaches.
    #[serde(default)]
    pub latest_restorable: Option<i64>,
    /// `InstanceCreateTime` (epoch seconds).
    #[serde(default)]
    pub created: Option<i64>,
    /// `MasterUserSecret`: the Secrets Manager secret RDS manages for the master password.
    #[serde(default)]
    pub managed_secret: Option<String>,
    /// `PromotionTier`, for Aurora cluster members.
    #[serde(default)]
    pub promotion_tier: Option<i32>,
    /// `AvailabilityZone`.
    #[serde(default)]
    pub availability_zone: Option<String>,
    #[serde(default)]
    pub ca_certificate: Option<String>,
    /// Names of the fields in PendingModifiedValues; empty when nothing is pending.
    pub pending_modifications: Vec<String>,
    pub tags: BTreeMap<String, String>,
}

/// What the tool reads from the tags of the resources it creates and retires (instances and
/// clusters alike): the markers of `tags`.
macro_rules! tagged {
    ($t:ty) => {
        impl $t {
            pub fn tag(&self, key: &str) -> Option<&str> {
                self.tags.get(key).map(String::as_str)
            }

            /// The role the tool gave this resource (`temp` or `old`), if it did.
            pub fn mitosis_role(&self) -> Option<&str> {
                self.tag(tags::ROLE)
            }

            /// True when the tool created or retired this resource on behalf of `original`.
            pub fn is_marked(&self, role: &str, original: &str) -> bool {
                self.tag(tags::ROLE) == Some(role) && self.tag(tags::ORIGINAL) == Some(original)
            }

            /// The name the tool's markers give this resource: `temp-X` for a clone of X,
            /// `old-X` for X retired; None when it carries no (or no valid) markers.
            pub fn marked_name(&self) -> Option<String> {
                let prefix = match self.mitosis_role()? {
                    tags::ROLE_TEMP => TEMP_PREFIX,
                    tags::ROLE_OLD => OLD_PREFIX,
                    tags::ROLE_COPY => self.tag(tags::COPY_PREFIX)?,
                    _ => return None,
                };
                Some(format!("{prefix}{}", self.tag(tags::ORIGINAL)?))
            }

            /// The name of the target resource this one stands for: its `original` marker when
            /// the tool made or retired it, else its own identifier.
            pub fn logical_name(&self) -> String {
                match (self.mitosis_role(), self.tag(tags::ORIGINAL)) {
                    (Some(_), Some(name)) => name.to_string(),
                    _ => self.id.clone(),
                }
            }

            /// The user's own tags: everything but the tool's markers and AWS-reserved keys.
            pub fn user_tags(&self) -> BTreeMap<String, String> {
                self.tags
                    .iter()
                    .filter(|(k, _)| !k.starts_with(tags::PREFIX) && !k.starts_with("aws:"))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            }
        }
    };
}

tagged!(Instance);
tagged!(Cluster);

impl Instance {
    /// The parameter group AWS applies (the `in-sync` one, else the first listed).
    pub fn parameter_group(&self) -> Option<&str> {
        in_sync_or_first(&self.parameter_groups)
    }

    pub fn option_group(&self) -> Option<&str> {
        in_sync_or_first(&self.option_groups)
    }

    /// Only `active` security groups are carried: others are being removed or are not usable.
    pub fn active_security_groups(&self) -> Vec<String> {
        self.vpc_security_groups
            .iter()
            .filter(|m| m.status == "active")
            .map(|m| m.name.clone())
            .collect()
    }

    pub fn is_available(&self) -> bool {
        self.status == "available"
    }
}

fn in_sync_or_first(list: &[Membership]) -> Option<&str> {
    list.iter()
        .find(|m| m.status == "in-sync")
        .or_else(|| list.first())
        .map(|m| m.name.as_str())
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Snapshot {
    pub id: String,
    pub arn: String,
    pub instance_id: String,
    pub status: String,
    /// `automated` or `manual`.
    pub kind: String,
    /// Creation time as epoch seconds, for picking the newest.
    pub created: Option<i64>,
    pub vpc_id: Option<String>,
    /// Read for the snapshots the tool may have taken (`stack-mitosis-*`), empty otherwise.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

impl Snapshot {
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags.get(key).map(String::as_str)
    }

    /// True when a run of the tool took this snapshot to refresh `target`.
    pub fn is_fresh_for(&self, target: &str) -> bool {
        self.tag(tags::ROLE) == Some(tags::ROLE_SNAPSHOT)
            && self.tag(tags::ORIGINAL) == Some(target)
    }
}

/// One member of an Aurora cluster, as `DBClusterMembers` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterMember {
    pub id: String,
    pub writer: bool,
}

/// A custom endpoint of an Aurora cluster (`DescribeDBClusterEndpoints`, type CUSTOM). Its
/// name is unique in the account and region, and so is its DNS name, which applications use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct CustomEndpoint {
    pub id: String,
    /// `READER`, `WRITER` or `ANY`.
    pub kind: String,
    pub static_members: Vec<String>,
    pub excluded_members: Vec<String>,
    /// The cluster it belongs to, as read.
    #[serde(default)]
    pub cluster: String,
    #[serde(default)]
    pub status: String,
}

impl CustomEndpoint {
    /// The definition as one tag value (`KIND|static,members|excluded,members`): the retired
    /// cluster keeps it while the endpoint moves, so a rerun can finish the move.
    pub fn encode(&self) -> String {
        format!(
            "{}|{}|{}",
            self.kind,
            self.static_members.join(","),
            self.excluded_members.join(",")
        )
    }

    pub fn decode(id: &str, value: &str) -> Option<Self> {
        let mut parts = value.split('|');
        let list = |s: Option<&str>| -> Vec<String> {
            s.unwrap_or("")
                .split(',')
                .filter(|m| !m.is_empty())
                .map(str::to_string)
                .collect()
        };
        let kind = parts.next().filter(|k| !k.is_empty())?.to_string();
        Some(CustomEndpoint {
            id: id.to_string(),
            kind,
            static_members: list(parts.next()),
            excluded_members: list(parts.next()),
            cluster: String::new(),
            status: String::new(),
        })
    }
}

/// One Aurora DB cluster as DescribeDBClusters shows it, plus its tags and custom endpoints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Cluster {
    pub id: String,
    pub arn: String,
    /// `DbClusterResourceId`: the cluster's identity, which survives renames.
    pub resource_id: Option<String>,
    pub status: String,
    pub engine: String,
    pub engine_version: String,
    /// `provisioned`, `serverless` (v1, not supported), ...
    pub engine_mode: Option<String>,
    pub members: Vec<ClusterMember>,
    /// The writer endpoint's address.
    pub address: Option<String>,
    pub port: Option<i32>,
    pub subnet_group: Option<String>,
    pub vpc_security_groups: Vec<Membership>,
    pub parameter_group: Option<String>,
    pub backup_retention: i32,
    pub backup_window: Option<String>,
    pub maintenance_window: Option<String>,
    pub iam_auth: bool,
    pub cloudwatch_logs_exports: Vec<String>,
    pub deletion_protection: bool,
    pub copy_tags_to_snapshot: bool,
    /// Backtrack window in seconds (aurora-mysql); 0 or None when off.
    pub backtrack_window: Option<i64>,
    /// Serverless v2 capacity range (min, max ACUs).
    pub serverless_v2: Option<(f64, f64)>,
    pub storage_encrypted: bool,
    pub kms_key_id: Option<String>,
    /// Set for members of a global database, which this tool does not refresh.
    pub global_cluster: Option<String>,
    /// `CloneGroupId`: shared by a copy-on-write clone and its source.
    pub clone_group_id: Option<String>,
    /// `MasterUserSecret`: the Secrets Manager secret RDS manages for the master password.
    pub managed_secret: Option<String>,
    /// `EarliestRestorableTime` and `LatestRestorableTime` (epoch seconds).
    pub earliest_restorable: Option<i64>,
    pub latest_restorable: Option<i64>,
    pub pending_modifications: Vec<String>,
    pub endpoints: Vec<CustomEndpoint>,
    /// `ClusterCreateTime` (epoch seconds).
    #[serde(default)]
    pub created: Option<i64>,
    pub tags: BTreeMap<String, String>,
}

impl Cluster {
    /// The writer among the members, if one is known.
    pub fn writer(&self) -> Option<&str> {
        self.members
            .iter()
            .find(|m| m.writer)
            .map(|m| m.id.as_str())
    }

    pub fn is_available(&self) -> bool {
        self.status == "available"
    }

    /// Only `active` security groups are carried.
    pub fn active_security_groups(&self) -> Vec<String> {
        self.vpc_security_groups
            .iter()
            .filter(|m| m.status == "active")
            .map(|m| m.name.clone())
            .collect()
    }
}

/// Where the account lives, for building ARNs in the IAM policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountInfo {
    pub partition: String,
    pub region: String,
    pub account: String,
}

impl AccountInfo {
    /// Reads partition, region and account from any RDS ARN
    /// (`arn:aws:rds:eu-west-1:123456789012:db:name`).
    pub fn from_arn(arn: &str) -> Option<Self> {
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        if parts.len() < 6 || parts[0] != "arn" || parts[3].is_empty() || parts[4].is_empty() {
            return None;
        }
        Some(AccountInfo {
            partition: parts[1].to_string(),
            region: parts[3].to_string(),
            account: parts[4].to_string(),
        })
    }

    /// Wildcards for what is not known, so the policy is still usable.
    pub fn unknown(region: Option<&str>) -> Self {
        AccountInfo {
            partition: "aws".into(),
            region: region.unwrap_or("*").into(),
            account: "*".into(),
        }
    }

    /// A Secrets Manager secret's ARN: as given, or for a name the secret of that name
    /// (Secrets Manager adds a hyphen and six random characters to a secret's ARN: `name-*`
    /// would also match `name-other-xyz123`).
    pub fn secret_arn(&self, secret: &str) -> String {
        if secret.starts_with("arn:") {
            secret.to_string()
        } else {
            format!(
                "arn:{}:secretsmanager:{}:{}:secret:{secret}-??????",
                self.partition, self.region, self.account
            )
        }
    }

    pub fn arn(&self, resource: &str) -> String {
        format!(
            "arn:{}:rds:{}:{}:{}",
            self.partition, self.region, self.account, resource
        )
    }
}

/// Everything the planner needs to know, read once before planning.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Observed {
    pub instances: BTreeMap<String, Instance>,
    /// Aurora clusters of the region.
    #[serde(default)]
    pub clusters: BTreeMap<String, Cluster>,
    /// Snapshots of the source (all pages, automated and manual): DB snapshots of a source
    /// instance, cluster snapshots of a source cluster (`instance_id` is then the cluster).
    pub snapshots: Vec<Snapshot>,
    pub account: AccountInfo,
    /// A cross-account refresh: the source's account as its own credentials see it (the
    /// source, and its snapshots including the tool's transfer copies). `snapshots` above then
    /// holds the target account's copies of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_account: Option<Box<Observed>>,
    /// The KMS keys the request names by alias or id, resolved to their ARNs (DescribeKey):
    /// by the account they are in and the key as given (and as its alias ARN).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub key_arns: BTreeMap<(String, String), String>,
}

impl Observed {
    pub fn new(instances: Vec<Instance>, snapshots: Vec<Snapshot>, account: AccountInfo) -> Self {
        Observed {
            instances: instances.into_iter().map(|i| (i.id.clone(), i)).collect(),
            clusters: BTreeMap::new(),
            snapshots,
            account,
            source_account: None,
            key_arns: BTreeMap::new(),
        }
    }

    /// The same state with the source in another account, observed there.
    pub fn with_source_account(mut self, source: Observed) -> Self {
        self.source_account = Some(Box::new(source));
        self
    }

    /// The snapshots of both accounts (the target's own copies, and the source's).
    pub fn own_snapshots(&self) -> impl Iterator<Item = &Snapshot> {
        let source = self.source_account.as_ref().map(|s| &s.snapshots);
        self.snapshots.iter().chain(source.into_iter().flatten())
    }

    /// Where the source lives: its own account's state in a cross-account refresh, else this.
    pub fn source_view(&self) -> &Observed {
        self.source_account.as_deref().unwrap_or(self)
    }

    /// The same state with these clusters.
    pub fn with_clusters(mut self, clusters: Vec<Cluster>) -> Self {
        self.clusters = clusters.into_iter().map(|c| (c.id.clone(), c)).collect();
        self
    }

    pub fn cluster(&self, id: &str) -> Option<&Cluster> {
        self.clusters.get(id)
    }

    pub fn get(&self, id: &str) -> Option<&Instance> {
        self.instances.get(id)
    }

    /// Direct replicas of `id`, from the children's `ReadReplicaSourceDBInstanceIdentifier`
    /// (the authoritative link) merged with the parent's `ReadReplicaDBInstanceIdentifiers`.
    pub fn children(&self, id: &str) -> Vec<String> {
        let mut out: Vec<String> = self
            .instances
            .values()
            .filter(|i| i.replica_source.as_deref() == Some(id))
            .map(|i| i.id.clone())
            .collect();
        if let Some(parent) = self.instances.get(id) {
            for r in &parent.replicas {
                // Cross-region replicas are listed by ARN; they are not part of this region's tree.
                if self.instances.contains_key(r) && !out.contains(r) {
                    out.push(r.clone());
                }
            }
        }
        out.sort();
        out
    }

    /// `id` and all its replicas, recursively, parents before children (pre-order).
    pub fn tree(&self, id: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut stack = vec![id.to_string()];
        while let Some(next) = stack.pop() {
            if out.contains(&next) || !self.instances.contains_key(&next) {
                continue;
            }
            let mut kids = self.children(&next);
            kids.reverse();
            out.push(next);
            stack.extend(kids);
        }
        out
    }

    /// The parent of `id` in its replica tree, if any.
    pub fn parent(&self, id: &str) -> Option<String> {
        let inst = self.instances.get(id)?;
        if let Some(p) = &inst.replica_source {
            return Some(p.clone());
        }
        self.instances
            .values()
            .find(|i| i.replicas.iter().any(|r| r == id))
            .map(|i| i.id.clone())
    }

    /// Walks up the replica links to the primary.
    pub fn root_of(&self, id: &str) -> String {
        let mut current = id.to_string();
        let mut seen = vec![current.clone()];
        while let Some(p) = self.parent(&current) {
            if seen.contains(&p) || !self.instances.contains_key(&p) {
                break;
            }
            seen.push(p.clone());
            current = p;
        }
        current
    }
}
