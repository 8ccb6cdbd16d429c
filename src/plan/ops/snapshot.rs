//! DB snapshots: the fresh snapshot of the source that `--snapshot fresh` takes, and its
//! delete once the clone restored from it exists (manual snapshots never expire: left
//! behind, a weekly refresh would keep 52 full copies of production a year).

use super::Grants;
use super::{GrantContext, Tag};
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
    fn copy(self) -> &'static str {
        match self {
            SnapshotOf::Instance => "CopyDBSnapshot",
            SnapshotOf::Cluster => "CopyDBClusterSnapshot",
        }
    }
    fn modify_attribute(self) -> &'static str {
        match self {
            SnapshotOf::Instance => "ModifyDBSnapshotAttribute",
            SnapshotOf::Cluster => "ModifyDBClusterSnapshotAttribute",
        }
    }
    fn copy_keys(self) -> (&'static str, &'static str) {
        match self {
            SnapshotOf::Instance => ("SourceDBSnapshotIdentifier", "TargetDBSnapshotIdentifier"),
            SnapshotOf::Cluster => (
                "SourceDBClusterSnapshotIdentifier",
                "TargetDBClusterSnapshotIdentifier",
            ),
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

/// What copying an encrypted snapshot with a KMS key takes of that key.
pub const KMS_COPY_ACTIONS: [&str; 5] = [
    "kms:CreateGrant",
    "kms:DescribeKey",
    "kms:Decrypt",
    "kms:ReEncrypt*",
    "kms:GenerateDataKey*",
];

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
    /// CopyDBSnapshot of `from` (an identifier in this account, or a snapshot another account
    /// shares, by ARN) to `snapshot_id` (the step's resource), encrypted with `kms_key_id` when
    /// given.
    Copy {
        from: String,
        snapshot_id: String,
        kms_key_id: Option<String>,
        tags: Vec<Tag>,
        purpose: CopyFor,
    },
    /// ModifyDBSnapshotAttribute `restore`: `account` may (`share: true`) or may no longer
    /// copy and restore the snapshot.
    Share {
        snapshot_id: String,
        account: String,
        share: bool,
    },
}

/// Why a snapshot is copied: the two halves of a cross-account hand-over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyFor {
    /// In the source account: a manual copy that can be shared, with a shareable key.
    Transfer,
    /// In the target account: its own copy of the shared snapshot, with its own key.
    Import,
}

/// A KMS key's ARN for an IAM policy: as given when it is one, else in `account`'s `region`.
pub fn kms_arn(key: &str, account: &crate::observed::AccountInfo) -> String {
    if key.starts_with("arn:") {
        key.to_string()
    } else {
        let resource = if key.starts_with("alias/") {
            key.to_string()
        } else {
            format!("key/{key}")
        };
        format!(
            "arn:{}:kms:{}:{}:{resource}",
            account.partition, account.region, account.account
        )
    }
}

/// A snapshot the tool's tags mark as one it took (`stack-mitosis:role=snapshot`).
fn tool_snapshot() -> serde_json::Value {
    serde_json::json!({
        "StringEquals": { format!("aws:ResourceTag/{}", crate::observed::tags::ROLE): crate::observed::tags::ROLE_SNAPSHOT }
    })
}

/// What copying with `key` takes of it; grants only for RDS's own use.
fn key_grants(g: &mut Grants, key: String) {
    for action in KMS_COPY_ACTIONS {
        if action == "kms:CreateGrant" {
            g.allow_when(action, [key.clone()], super::grants::for_aws_resource());
        } else {
            g.allow(action, [key.clone()]);
        }
    }
}

impl SnapshotOp {
    pub fn action(&self, of: SnapshotOf) -> &'static str {
        match self {
            SnapshotOp::Create { .. } => of.create(),
            SnapshotOp::Delete { .. } => of.delete(),
            SnapshotOp::Unmark { .. } => "RemoveTagsFromResource",
            SnapshotOp::Copy { .. } => of.copy(),
            SnapshotOp::Share { .. } => of.modify_attribute(),
        }
    }

    /// The snapshot this step makes (the poller waits on it).
    pub fn snapshot_id(&self) -> &str {
        match self {
            SnapshotOp::Create { snapshot_id, .. }
            | SnapshotOp::Delete { snapshot_id }
            | SnapshotOp::Unmark { snapshot_id, .. }
            | SnapshotOp::Copy { snapshot_id, .. }
            | SnapshotOp::Share { snapshot_id, .. } => snapshot_id,
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
            SnapshotOp::Copy {
                from,
                snapshot_id,
                kms_key_id,
                tags,
                ..
            } => {
                let (source_key, target_key) = of.copy_keys();
                m.insert(source_key.into(), from.clone().into());
                m.insert(target_key.into(), snapshot_id.clone().into());
                if let Some(key) = kms_key_id {
                    m.insert("KmsKeyId".into(), key.clone().into());
                }
                if !tags.is_empty() {
                    m.insert(
                        "Tags".into(),
                        serde_json::to_value(tags).unwrap_or_default(),
                    );
                }
            }
            SnapshotOp::Share {
                snapshot_id,
                account,
                share,
            } => {
                m.insert(of.id_key().into(), snapshot_id.clone().into());
                m.insert("AttributeName".into(), "restore".into());
                let key = if *share {
                    "ValuesToAdd"
                } else {
                    "ValuesToRemove"
                };
                m.insert(key.into(), serde_json::json!([account]));
            }
        }
        m
    }

    pub fn expected(&self, latency: &LatencyModel) -> f64 {
        match self {
            SnapshotOp::Create { .. } => latency.create_snapshot,
            SnapshotOp::Copy { .. } => latency.copy_snapshot,
            SnapshotOp::Delete { .. } | SnapshotOp::Unmark { .. } | SnapshotOp::Share { .. } => {
                latency.api_call
            }
        }
    }

    /// The tool's own snapshots are granted by name pattern (`stack-mitosis-<source>-*` for
    /// fresh ones, `stack-mitosis-transfer-<target>-*` and `stack-mitosis-import-<target>-*`
    /// for a cross-account hand-over), so one policy serves every run of a scheduled refresh.
    pub fn grants(&self, instance: &str, of: SnapshotOf, ctx: &GrantContext<'_>, g: &mut Grants) {
        let a = ctx.account;
        let (snapshot, source) = of.arn_kinds();
        let own = |pattern: String| a.arn(&format!("{snapshot}:{pattern}"));
        let fresh = own(crate::plan::fresh_snapshot_pattern(ctx.source));
        // What a delete or an unmark may touch: the pattern of the snapshot's kind.
        let pattern_of = |id: &str| {
            [
                crate::plan::transfer_snapshot_pattern(ctx.target),
                crate::plan::import_snapshot_pattern(ctx.target),
            ]
            .into_iter()
            .find(|p| id.starts_with(p.trim_end_matches('*')))
            .map(&own)
            .unwrap_or_else(|| fresh.clone())
        };
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
            // A pattern of names: only the snapshots the tool's tags mark as its own.
            SnapshotOp::Delete { snapshot_id } => {
                g.allow_when(of.delete(), [pattern_of(snapshot_id)], tool_snapshot())
            }
            SnapshotOp::Unmark { snapshot_id, .. } => g.allow_when(
                "RemoveTagsFromResource",
                [pattern_of(snapshot_id)],
                tool_snapshot(),
            ),
            SnapshotOp::Copy {
                from,
                kms_key_id,
                tags,
                purpose,
                ..
            } => {
                let (origins, made) = match purpose {
                    // The chosen snapshot of the source: this one, next week's automated one,
                    // or a fresh one.
                    CopyFor::Transfer => (
                        vec![
                            own(from.clone()),
                            own(format!("rds:{}-*", ctx.source)),
                            fresh.clone(),
                        ],
                        own(crate::plan::transfer_snapshot_pattern(ctx.target)),
                    ),
                    // The shared transfer snapshot, in the source account.
                    CopyFor::Import => {
                        let shared = match crate::observed::AccountInfo::from_arn(from) {
                            Some(src) => src.arn(&format!(
                                "{snapshot}:{}",
                                crate::plan::transfer_snapshot_pattern(ctx.target)
                            )),
                            None => from.clone(),
                        };
                        (
                            vec![shared],
                            own(crate::plan::import_snapshot_pattern(ctx.target)),
                        )
                    }
                };
                g.allow(of.copy(), origins.into_iter().chain([made.clone()]));
                if !tags.is_empty() {
                    g.allow("AddTagsToResource", [made]);
                }
                if let Some(key) = kms_key_id {
                    key_grants(g, ctx.key_arn(key));
                }
                // Decrypting the shared snapshot uses the source account's key too.
                if let (CopyFor::Import, Some(key)) = (purpose, ctx.shared_key) {
                    key_grants(g, key.to_string());
                }
            }
            SnapshotOp::Share { .. } => g.allow_when(
                of.modify_attribute(),
                [own(crate::plan::transfer_snapshot_pattern(ctx.target))],
                tool_snapshot(),
            ),
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
            SnapshotOp::Copy {
                from,
                snapshot_id,
                tags,
                ..
            } => {
                let shared = state.source_account.as_ref().map(|s| &s.snapshots);
                let origin = state
                    .snapshots
                    .iter()
                    .chain(shared.into_iter().flatten())
                    .find(|s| &s.id == from || &s.arn == from)
                    .ok_or_else(|| format!("snapshot {from} does not exist"))?;
                // A copy is of its origin's kind (a DB or a cluster snapshot).
                let kind = if origin.arn.contains(":cluster-snapshot:") {
                    "cluster-snapshot"
                } else {
                    "snapshot"
                };
                let copy = crate::observed::Snapshot {
                    id: snapshot_id.clone(),
                    arn: state.account.arn(&format!("{kind}:{snapshot_id}")),
                    kind: "manual".into(),
                    created: Some(i64::MAX),
                    tags: tags
                        .iter()
                        .map(|t| (t.key.clone(), t.value.clone()))
                        .collect(),
                    ..origin.clone()
                };
                state.snapshots.push(copy);
                Ok(())
            }
            SnapshotOp::Share { snapshot_id, .. } => {
                if state.snapshots.iter().any(|s| &s.id == snapshot_id) {
                    Ok(())
                } else {
                    Err(format!("snapshot {snapshot_id} does not exist"))
                }
            }
        }
    }
}
