//! Aurora DB clusters: clone (copy-on-write) or restore from a cluster snapshot, modify
//! (settings, renames, deletion protection), tag, delete. Members are DB instances
//! (`InstanceOp::CreateMember` and the instance renames and deletes).

use super::Grants;
use super::{GrantContext, Tag};
use crate::observed::CustomEndpoint;
use crate::plan::cluster_attributes::{ClusterAttrs, ClusterModify};
use crate::plan::{LatencyModel, SourceTime};
use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq)]
pub enum ClusterOp {
    /// RestoreDBClusterToPointInTime with `RestoreType=copy-on-write` and
    /// `UseLatestRestorableTime=true`: a clone sharing the source's pages. `source_key` is the
    /// source's KMS key, which the clone is encrypted with (not a request parameter: it is
    /// what the policy must grant).
    /// With `time` (`--source-time`), a full copy as of that moment instead.
    Clone {
        source: String,
        source_key: Option<String>,
        time: Option<SourceTime>,
        attrs: ClusterAttrs,
    },
    /// RestoreDBClusterFromSnapshot. `snapshot_id` is None only on a resumed plan whose
    /// restore is done and whose snapshot is no longer listed: the step is skipped.
    RestoreFromSnapshot {
        snapshot_id: Option<String>,
        engine: String,
        engine_version: String,
        source_key: Option<String>,
        attrs: ClusterAttrs,
    },
    Modify(ClusterModify),
    AddTags {
        tags: Vec<Tag>,
    },
    RemoveTags {
        keys: Vec<String>,
    },
    /// DeleteDBCluster, once its members are gone.
    Delete {
        final_snapshot_id: Option<String>,
    },
    /// ModifyDBCluster `MasterUserPassword` from this secret (read when the step runs).
    SetPassword {
        secret: Option<String>,
    },
    /// CreateDBClusterEndpoint: a custom endpoint on the step's cluster.
    CreateEndpoint {
        endpoint: CustomEndpoint,
    },
    /// DeleteDBClusterEndpoint of the step's cluster's custom endpoint `endpoint`.
    DeleteEndpoint {
        endpoint: String,
    },
}

/// The `RestoreType` of a clone and the moment it restores: copy-on-write at the latest
/// restorable time, or with `--source-time` a full copy as of that moment.
pub fn restore_type(time: Option<SourceTime>) -> (&'static str, SourceTime) {
    match time {
        None => ("copy-on-write", SourceTime::Latest),
        Some(t) => ("full-copy", t),
    }
}

/// Group wildcards a clone or restore is authorized against.
const GROUPS: &[&str] = &["cluster-pg:*", "subgrp:*", "secgrp:*", "og:*"];

impl ClusterOp {
    pub fn action(&self) -> &'static str {
        match self {
            ClusterOp::Clone { .. } => "RestoreDBClusterToPointInTime",
            ClusterOp::RestoreFromSnapshot { .. } => "RestoreDBClusterFromSnapshot",
            ClusterOp::Modify(_) | ClusterOp::SetPassword { .. } => "ModifyDBCluster",
            ClusterOp::AddTags { .. } => "AddTagsToResource",
            ClusterOp::RemoveTags { .. } => "RemoveTagsFromResource",
            ClusterOp::Delete { .. } => "DeleteDBCluster",
            ClusterOp::CreateEndpoint { .. } => "CreateDBClusterEndpoint",
            ClusterOp::DeleteEndpoint { .. } => "DeleteDBClusterEndpoint",
        }
    }

    pub fn params(&self, id: &str) -> Map<String, Value> {
        let mut m = Map::new();
        let name_key = match self {
            ClusterOp::AddTags { .. } | ClusterOp::RemoveTags { .. } => Some("ResourceName"),
            // The endpoint's name is all the call takes.
            ClusterOp::DeleteEndpoint { .. } => None,
            _ => Some("DBClusterIdentifier"),
        };
        if let Some(key) = name_key {
            m.insert(key.into(), id.into());
        }
        match self {
            ClusterOp::Clone {
                source,
                time,
                attrs,
                ..
            } => {
                m.insert("SourceDBClusterIdentifier".into(), source.clone().into());
                let (restore_type, time) = restore_type(*time);
                m.insert("RestoreType".into(), restore_type.into());
                m.extend(super::instance::time_params(time, "RestoreToTime"));
                m.extend(attrs.to_params());
            }
            ClusterOp::RestoreFromSnapshot {
                snapshot_id,
                engine,
                engine_version,
                attrs,
                ..
            } => {
                if let Some(s) = snapshot_id {
                    m.insert("SnapshotIdentifier".into(), s.clone().into());
                }
                m.insert("Engine".into(), engine.clone().into());
                m.insert("EngineVersion".into(), engine_version.clone().into());
                m.extend(attrs.to_params());
            }
            ClusterOp::Modify(attrs) => m.extend(attrs.to_params()),
            ClusterOp::SetPassword { secret } => {
                m.extend(super::instance::password_params(secret.as_deref()))
            }
            ClusterOp::AddTags { tags } => {
                m.insert(
                    "Tags".into(),
                    serde_json::to_value(tags).unwrap_or_default(),
                );
            }
            ClusterOp::RemoveTags { keys } => {
                m.insert(
                    "TagKeys".into(),
                    serde_json::to_value(keys).unwrap_or_default(),
                );
            }
            ClusterOp::Delete { final_snapshot_id } => m.extend(
                super::instance::final_snapshot_params(final_snapshot_id.as_deref()),
            ),
            ClusterOp::CreateEndpoint { endpoint } => {
                m.insert(
                    "DBClusterEndpointIdentifier".into(),
                    endpoint.id.clone().into(),
                );
                m.insert("EndpointType".into(), endpoint.kind.clone().into());
                if !endpoint.static_members.is_empty() {
                    m.insert(
                        "StaticMembers".into(),
                        endpoint.static_members.clone().into(),
                    );
                }
                if !endpoint.excluded_members.is_empty() {
                    m.insert(
                        "ExcludedMembers".into(),
                        endpoint.excluded_members.clone().into(),
                    );
                }
            }
            ClusterOp::DeleteEndpoint { endpoint } => {
                m.insert(
                    "DBClusterEndpointIdentifier".into(),
                    endpoint.clone().into(),
                );
            }
        }
        m
    }

    pub fn expected(&self, l: &LatencyModel) -> f64 {
        match self {
            ClusterOp::Clone { time: None, .. } => l.clone_cluster,
            ClusterOp::Clone { time: Some(_), .. } => l.restore_point_in_time,
            ClusterOp::RestoreFromSnapshot { .. } => l.restore_snapshot,
            ClusterOp::Modify(m) if m.new_id.is_some() => l.rename,
            ClusterOp::Modify(_) | ClusterOp::SetPassword { .. } => l.modify,
            ClusterOp::AddTags { .. } | ClusterOp::RemoveTags { .. } => l.api_call,
            ClusterOp::Delete { .. } => l.delete,
            ClusterOp::CreateEndpoint { .. } | ClusterOp::DeleteEndpoint { .. } => l.modify,
        }
    }

    pub fn grants(&self, id: &str, ctx: &GrantContext<'_>, g: &mut Grants) {
        let a = ctx.account;
        let cluster = |id: &str| a.arn(&format!("cluster:{id}"));
        let groups = || GROUPS.iter().map(|p| a.arn(p));
        let this = cluster(id);
        let created = |g: &mut Grants, attrs: &ClusterAttrs, key: &Option<String>| {
            if !attrs.tags.is_empty() {
                g.allow("AddTagsToResource", [cluster(id)]);
            }
            // A cluster encrypted with a customer-managed key is restored through grants on
            // that key (for the AWS-managed key the statement is harmless).
            if let Some(key) = key {
                let key = ctx.key_arn(key);
                g.allow_when(
                    "kms:CreateGrant",
                    [key.clone()],
                    super::grants::for_aws_resource(),
                );
                g.allow("kms:DescribeKey", [key]);
            }
        };
        match self {
            ClusterOp::Clone {
                source,
                source_key,
                attrs,
                ..
            } => {
                // The source cluster appears only as the clone's source.
                g.allow(
                    "RestoreDBClusterToPointInTime",
                    [this, cluster(source)].into_iter().chain(groups()),
                );
                created(g, attrs, source_key);
            }
            ClusterOp::RestoreFromSnapshot {
                snapshot_id,
                source_key,
                attrs,
                ..
            } => {
                let snapshot = |s: &str| a.arn(&format!("cluster-snapshot:{s}"));
                let mut r = vec![this];
                r.extend(snapshot_id.as_deref().map(snapshot));
                // Scheduled runs restore next week's automated snapshot.
                r.push(snapshot(&format!("rds:{}-*", ctx.source)));
                r.extend(groups());
                g.allow("RestoreDBClusterFromSnapshot", r);
                created(g, attrs, source_key);
            }
            ClusterOp::Modify(m) => {
                let mut r = vec![this];
                if let Some(new_id) = &m.new_id {
                    // A rename is authorized against both the old and the new ARN.
                    r.push(cluster(new_id));
                }
                g.allow("ModifyDBCluster", r);
            }
            ClusterOp::SetPassword { secret } => {
                g.allow("ModifyDBCluster", [this]);
                if let Some(secret) = secret {
                    g.allow("secretsmanager:GetSecretValue", [a.secret_arn(secret)]);
                }
            }
            ClusterOp::AddTags { .. } => g.allow("AddTagsToResource", [this]),
            ClusterOp::RemoveTags { .. } => g.allow("RemoveTagsFromResource", [this]),
            ClusterOp::Delete { final_snapshot_id } => {
                g.allow("DeleteDBCluster", [this]);
                if let Some(s) = final_snapshot_id {
                    g.allow(
                        "CreateDBClusterSnapshot",
                        [a.arn(&format!("cluster-snapshot:{s}"))],
                    );
                }
            }
            ClusterOp::CreateEndpoint { endpoint } => {
                let e = a.arn(&format!("cluster-endpoint:{}", endpoint.id));
                g.allow("CreateDBClusterEndpoint", [this, e]);
            }
            ClusterOp::DeleteEndpoint { endpoint } => {
                g.allow(
                    "DeleteDBClusterEndpoint",
                    [a.arn(&format!("cluster-endpoint:{endpoint}"))],
                );
            }
        }
    }

    /// The rename this step makes, if it is one.
    pub fn new_name(&self) -> Option<&str> {
        match self {
            ClusterOp::Modify(m) => m.new_id.as_deref(),
            _ => None,
        }
    }
}

impl ClusterOp {
    /// The state after the step, for the planner's tests and the simulator.
    #[cfg(any(test, feature = "test-support"))]
    pub fn predict(&self, state: &mut crate::observed::Observed, id: &str) -> Result<(), String> {
        effect::predict(self, state, id)
    }
}

#[cfg(any(test, feature = "test-support"))]
mod effect {
    use super::ClusterOp;
    use crate::observed::{Cluster, Membership, Observed};
    use crate::plan::cluster_attributes::ClusterAttrs;

    pub fn predict(op: &ClusterOp, state: &mut Observed, id: &str) -> Result<(), String> {
        match op {
            ClusterOp::Clone { source, attrs, .. } => {
                let from = state
                    .cluster(source)
                    .ok_or_else(|| format!("clone source {source} missing"))?
                    .clone();
                if from.members.is_empty() {
                    return Err(format!("{source} has no instances to clone"));
                }
                let group = from.clone_group_id.clone().or(from.resource_id.clone());
                create(state, id, from, attrs, group)
            }
            ClusterOp::RestoreFromSnapshot {
                snapshot_id, attrs, ..
            } => {
                let snapshot_id = snapshot_id
                    .as_deref()
                    .ok_or("a restore without a snapshot")?;
                let snap = state
                    .snapshots
                    .iter()
                    .find(|s| s.id == snapshot_id)
                    .ok_or_else(|| format!("snapshot {snapshot_id} missing"))?;
                let from = state
                    .cluster(&snap.instance_id)
                    .ok_or("the snapshot's cluster is missing")?
                    .clone();
                create(state, id, from, attrs, None)
            }
            ClusterOp::Modify(m) => {
                let mut c = state
                    .clusters
                    .remove(id)
                    .ok_or_else(|| format!("cluster {id} does not exist"))?;
                if let Some(r) = m.backup_retention {
                    c.backup_retention = r;
                }
                if let Some(w) = &m.backup_window {
                    c.backup_window = Some(w.clone());
                }
                if let Some(w) = &m.maintenance_window {
                    c.maintenance_window = Some(w.clone());
                }
                if let Some(d) = m.deletion_protection {
                    c.deletion_protection = d;
                }
                if let Some(new_id) = &m.new_id {
                    if state.clusters.contains_key(new_id) {
                        state.clusters.insert(id.to_string(), c);
                        return Err(format!("{new_id} already exists"));
                    }
                    c.id = new_id.clone();
                    for e in c.endpoints.iter_mut() {
                        e.cluster = new_id.clone();
                    }
                    // Members follow the cluster.
                    for inst in state.instances.values_mut() {
                        if inst.cluster.as_deref() == Some(id) {
                            inst.cluster = Some(new_id.clone());
                        }
                    }
                }
                state.clusters.insert(c.id.clone(), c);
                Ok(())
            }
            ClusterOp::SetPassword { .. } => existing(state, id).map(drop),
            ClusterOp::AddTags { tags } => {
                let c = existing(state, id)?;
                for t in tags {
                    c.tags.insert(t.key.clone(), t.value.clone());
                }
                Ok(())
            }
            ClusterOp::RemoveTags { keys } => {
                let c = existing(state, id)?;
                c.tags.retain(|k, _| !keys.contains(k));
                Ok(())
            }
            ClusterOp::CreateEndpoint { endpoint } => {
                let taken = state
                    .clusters
                    .values()
                    .any(|c| c.endpoints.iter().any(|e| e.id == endpoint.id));
                if taken {
                    return Err(format!("endpoint {} already exists", endpoint.id));
                }
                let mut e = endpoint.clone();
                e.cluster = id.to_string();
                e.status = "available".into();
                existing(state, id)?.endpoints.push(e);
                Ok(())
            }
            ClusterOp::DeleteEndpoint { endpoint } => {
                let c = existing(state, id)?;
                if !c.endpoints.iter().any(|e| &e.id == endpoint) {
                    return Err(format!("{id} has no endpoint {endpoint}"));
                }
                c.endpoints.retain(|e| &e.id != endpoint);
                Ok(())
            }
            ClusterOp::Delete { .. } => {
                let c = existing(state, id)?;
                if !c.members.is_empty() {
                    return Err(format!("{id} still has members"));
                }
                if c.deletion_protection {
                    return Err(format!("{id} is protected"));
                }
                state.clusters.remove(id);
                Ok(())
            }
        }
    }

    fn existing<'s>(state: &'s mut Observed, id: &str) -> Result<&'s mut Cluster, String> {
        state
            .clusters
            .get_mut(id)
            .ok_or_else(|| format!("cluster {id} does not exist"))
    }

    fn create(
        state: &mut Observed,
        id: &str,
        from: Cluster,
        attrs: &ClusterAttrs,
        clone_group: Option<String>,
    ) -> Result<(), String> {
        if state.clusters.contains_key(id) {
            return Err(format!("{id} already exists"));
        }
        let mut c = from;
        c.id = id.to_string();
        c.arn = state.account.arn(&format!("cluster:{id}"));
        c.resource_id = Some(format!("cluster-{id}-{}", state.clusters.len()));
        c.members = Vec::new();
        c.endpoints = Vec::new();
        // Made now (a moment the model does not know): not its origin's creation time.
        c.created = None;
        c.clone_group_id = clone_group;
        c.subnet_group = attrs.subnet_group.clone();
        c.vpc_security_groups = attrs
            .vpc_security_group_ids
            .iter()
            .map(|g| Membership::new(g, "active"))
            .collect();
        c.parameter_group = attrs.parameter_group.clone();
        c.port = attrs.port;
        c.iam_auth = attrs.iam_auth;
        c.cloudwatch_logs_exports = attrs.cloudwatch_logs_exports.clone();
        c.backtrack_window = attrs.backtrack_window;
        c.serverless_v2 = attrs.serverless_v2.as_ref().map(|s| (s.min, s.max));
        c.copy_tags_to_snapshot = attrs.copy_tags_to_snapshot;
        c.deletion_protection = attrs.deletion_protection;
        // Restores take the default backup settings until the configure step.
        c.backup_retention = 1;
        c.backup_window = None;
        c.maintenance_window = None;
        c.tags = attrs
            .tags
            .iter()
            .map(|t| (t.key.clone(), t.value.clone()))
            .collect();
        state.clusters.insert(id.to_string(), c);
        Ok(())
    }
}
