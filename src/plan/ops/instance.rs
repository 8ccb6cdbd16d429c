//! DB instances: create (as a replica or from a snapshot), promote, modify (attributes,
//! renames, deletion protection), tag, delete.

use super::Grants;
use super::{GrantContext, Tag};
use crate::plan::attributes::{CreateAttrs, ModifyAttrs};
use crate::plan::cluster_attributes::MemberAttrs;
use crate::plan::{LatencyModel, SourceTime};
use serde_json::{Map, Value};

/// Group wildcards that creating or modifying an instance is authorized against.
const GROUPS: &[&str] = &["og:*", "pg:*", "subgrp:*", "secgrp:*"];

#[derive(Debug, Clone, PartialEq)]
pub enum InstanceOp {
    /// CreateDBInstanceReadReplica of `source`.
    CreateReadReplica {
        source: String,
        attrs: CreateAttrs,
    },
    /// RestoreDBInstanceFromDBSnapshot. `snapshot_id` is None only on a resumed plan whose
    /// restore is already done and whose snapshot is no longer listed: the step is skipped.
    RestoreFromSnapshot {
        snapshot_id: Option<String>,
        attrs: CreateAttrs,
    },
    /// RestoreDBInstanceToPointInTime of `source`: a new standalone instance with the source's
    /// data as of `time`, given every carried attribute (it would otherwise get the default
    /// security group, subnet group and parameter group).
    RestoreToPointInTime {
        source: String,
        time: SourceTime,
        attrs: CreateAttrs,
    },
    /// CreateDBInstance of an Aurora cluster member: the first one to become available is the
    /// cluster's writer.
    CreateMember {
        cluster: String,
        attrs: MemberAttrs,
    },
    PromoteReadReplica,
    Modify(ModifyAttrs),
    /// ModifyDBInstance `MasterUserPassword`, the value read from this Secrets Manager secret
    /// when the step runs, or (None: a copy) a new random one made then (never part of the
    /// plan).
    SetPassword {
        secret: Option<String>,
    },
    AddTags {
        tags: Vec<Tag>,
    },
    RemoveTags {
        keys: Vec<String>,
    },
    Delete {
        final_snapshot_id: Option<String>,
    },
}

impl InstanceOp {
    pub fn action(&self) -> &'static str {
        match self {
            InstanceOp::CreateReadReplica { .. } => "CreateDBInstanceReadReplica",
            InstanceOp::RestoreFromSnapshot { .. } => "RestoreDBInstanceFromDBSnapshot",
            InstanceOp::CreateMember { .. } => "CreateDBInstance",
            InstanceOp::RestoreToPointInTime { .. } => "RestoreDBInstanceToPointInTime",
            InstanceOp::PromoteReadReplica => "PromoteReadReplica",
            InstanceOp::Modify(_) | InstanceOp::SetPassword { .. } => "ModifyDBInstance",
            InstanceOp::AddTags { .. } => "AddTagsToResource",
            InstanceOp::RemoveTags { .. } => "RemoveTagsFromResource",
            InstanceOp::Delete { .. } => "DeleteDBInstance",
        }
    }

    pub fn params(&self, id: &str) -> Map<String, Value> {
        let mut m = Map::new();
        let name_key = match self {
            InstanceOp::AddTags { .. } | InstanceOp::RemoveTags { .. } => "ResourceName",
            InstanceOp::RestoreToPointInTime { .. } => "TargetDBInstanceIdentifier",
            _ => "DBInstanceIdentifier",
        };
        m.insert(name_key.into(), id.into());
        match self {
            InstanceOp::CreateReadReplica { source, attrs } => {
                m.insert("SourceDBInstanceIdentifier".into(), source.clone().into());
                m.extend(attrs.to_params());
            }
            InstanceOp::RestoreFromSnapshot { snapshot_id, attrs } => {
                if let Some(s) = snapshot_id {
                    m.insert("DBSnapshotIdentifier".into(), s.clone().into());
                }
                m.extend(attrs.to_params());
            }
            InstanceOp::CreateMember { cluster, attrs } => {
                m.insert("DBClusterIdentifier".into(), cluster.clone().into());
                m.extend(attrs.to_params());
            }
            InstanceOp::RestoreToPointInTime {
                source,
                time,
                attrs,
            } => {
                m.insert("SourceDBInstanceIdentifier".into(), source.clone().into());
                m.extend(time_params(*time, "RestoreTime"));
                m.extend(attrs.to_params());
            }
            InstanceOp::PromoteReadReplica => {}
            InstanceOp::Modify(attrs) => m.extend(attrs.to_params()),
            InstanceOp::SetPassword { secret } => m.extend(password_params(secret.as_deref())),
            InstanceOp::AddTags { tags } => {
                m.insert(
                    "Tags".into(),
                    serde_json::to_value(tags).unwrap_or_default(),
                );
            }
            InstanceOp::RemoveTags { keys } => {
                m.insert(
                    "TagKeys".into(),
                    serde_json::to_value(keys).unwrap_or_default(),
                );
            }
            InstanceOp::Delete { final_snapshot_id } => {
                m.extend(final_snapshot_params(final_snapshot_id.as_deref()))
            }
        }
        m
    }

    pub fn expected(&self, l: &LatencyModel) -> f64 {
        match self {
            InstanceOp::CreateReadReplica { .. } => l.create_replica,
            InstanceOp::RestoreFromSnapshot { .. } => l.restore_snapshot,
            InstanceOp::CreateMember { .. } => l.create_cluster_instance,
            InstanceOp::RestoreToPointInTime { .. } => l.restore_point_in_time,
            InstanceOp::PromoteReadReplica => l.promote,
            InstanceOp::Modify(m) if m.new_id.is_some() => l.rename,
            InstanceOp::Modify(m) => {
                let backups = m.backup_retention.is_some_and(|r| r > 0);
                let takes_backup =
                    backups && (m.parameter_group.is_some() || m.backup_window.is_some());
                l.modify
                    + if takes_backup {
                        l.backup_after_enabling
                    } else {
                        0.0
                    }
            }
            InstanceOp::AddTags { .. } | InstanceOp::RemoveTags { .. } => l.api_call,
            InstanceOp::SetPassword { .. } => l.modify,
            InstanceOp::Delete { .. } => l.delete,
        }
    }

    pub fn grants(&self, id: &str, ctx: &GrantContext<'_>, g: &mut Grants) {
        let a = ctx.account;
        let db = |id: &str| a.arn(&format!("db:{id}"));
        let snapshot = |id: &str| a.arn(&format!("snapshot:{id}"));
        let groups = || GROUPS.iter().map(|p| a.arn(p));
        let inst = db(id);
        match self {
            InstanceOp::CreateReadReplica { source, attrs } => {
                g.allow(
                    "CreateDBInstanceReadReplica",
                    [inst.clone(), db(source)].into_iter().chain(groups()),
                );
                pass_monitoring_role(g, attrs.insights.as_ref());
                if !attrs.tags.is_empty() {
                    g.allow("AddTagsToResource", [inst]);
                }
            }
            InstanceOp::RestoreFromSnapshot { snapshot_id, attrs } => {
                let mut r = vec![inst.clone()];
                r.extend(snapshot_id.as_deref().map(snapshot));
                // Scheduled runs restore next week's automated snapshot, named rds:<source>-<date>.
                r.push(snapshot(&format!("rds:{}-*", ctx.source)));
                r.extend(groups());
                g.allow("RestoreDBInstanceFromDBSnapshot", r);
                pass_monitoring_role(g, attrs.insights.as_ref());
                if !attrs.tags.is_empty() {
                    g.allow("AddTagsToResource", [inst]);
                }
            }
            InstanceOp::RestoreToPointInTime { source, attrs, .. } => {
                g.allow(
                    "RestoreDBInstanceToPointInTime",
                    [inst.clone(), db(source)].into_iter().chain(groups()),
                );
                pass_monitoring_role(g, attrs.insights.as_ref());
                if !attrs.tags.is_empty() {
                    g.allow("AddTagsToResource", [inst]);
                }
            }
            InstanceOp::CreateMember { cluster, attrs } => {
                g.allow(
                    "CreateDBInstance",
                    [
                        inst.clone(),
                        a.arn(&format!("cluster:{cluster}")),
                        a.arn("pg:*"),
                        a.arn("subgrp:*"),
                    ],
                );
                pass_monitoring_role(g, attrs.insights.as_ref());
                if !attrs.tags.is_empty() {
                    g.allow("AddTagsToResource", [inst]);
                }
            }
            InstanceOp::PromoteReadReplica => g.allow("PromoteReadReplica", [inst]),
            InstanceOp::Modify(m) => {
                let mut r = vec![inst.clone()];
                if let Some(new_id) = &m.new_id {
                    // A rename is authorized against both the old and the new ARN.
                    r.push(db(new_id));
                }
                if m.parameter_group.is_some() {
                    r.extend(groups());
                    // Applying a parameter group immediately may need a reboot of the clone.
                    g.allow("RebootDBInstance", [inst]);
                }
                g.allow("ModifyDBInstance", r);
                pass_monitoring_role(g, m.insights.as_ref());
            }
            InstanceOp::SetPassword { secret } => {
                g.allow("ModifyDBInstance", [inst]);
                if let Some(secret) = secret {
                    g.allow("secretsmanager:GetSecretValue", [a.secret_arn(secret)]);
                }
            }
            InstanceOp::AddTags { .. } => g.allow("AddTagsToResource", [inst]),
            InstanceOp::RemoveTags { .. } => g.allow("RemoveTagsFromResource", [inst]),
            InstanceOp::Delete { final_snapshot_id } => {
                g.allow("DeleteDBInstance", [inst]);
                if let Some(s) = final_snapshot_id {
                    g.allow("CreateDBSnapshot", [snapshot(s)]);
                }
            }
        }
    }
}

/// Enhanced Monitoring's role, where a request gives it: RDS may be handed that role (and
/// only RDS's monitoring may be).
fn pass_monitoring_role(g: &mut Grants, insights: Option<&crate::plan::InsightsAttrs>) {
    if let Some(role) = insights.and_then(|i| i.monitoring_role_arn.clone()) {
        g.allow_when(
            "iam:PassRole",
            [role],
            serde_json::json!({
                "StringEquals": { "iam:PassedToService": "monitoring.rds.amazonaws.com" }
            }),
        );
    }
}

/// A password set from a secret as request parameters: the secret is named, its value never.
pub(crate) fn password_params(secret: Option<&str>) -> Map<String, Value> {
    let mut m = Map::new();
    let value = match secret {
        Some(secret) => format!("(the value of {secret})"),
        None => "(a new random password)".to_string(),
    };
    m.insert("MasterUserPassword".into(), value.into());
    m.insert("ApplyImmediately".into(), true.into());
    m
}

/// A delete's final snapshot as request parameters (instances and clusters alike).
pub(crate) fn final_snapshot_params(final_snapshot_id: Option<&str>) -> Map<String, Value> {
    let mut m = Map::new();
    match final_snapshot_id {
        Some(s) => m.insert("FinalDBSnapshotIdentifier".into(), s.into()),
        None => m.insert("SkipFinalSnapshot".into(), true.into()),
    };
    m
}

/// A point in time as request parameters: the latest restorable time, or `key` = the moment.
pub(crate) fn time_params(time: SourceTime, key: &str) -> Map<String, Value> {
    let mut m = Map::new();
    match time {
        SourceTime::Latest => {
            m.insert("UseLatestRestorableTime".into(), true.into());
        }
        SourceTime::At(t) => {
            m.insert(key.into(), SourceTime::rfc3339(t).into());
        }
    }
    m
}

impl InstanceOp {
    /// The state after the step, for the planner's tests and the simulator.
    #[cfg(any(test, feature = "test-support"))]
    pub fn predict(&self, state: &mut crate::observed::Observed, id: &str) -> Result<(), String> {
        effect::predict(self, state, id)
    }
}

/// The effect of each instance operation on an observed state: the oracle of the planner's
/// tests and the simulator's world.
#[cfg(any(test, feature = "test-support"))]
mod effect {
    use super::InstanceOp;
    use crate::observed::{ClusterMember, Instance, Membership, Observed, Snapshot};
    use crate::plan::attributes::{CreateAttrs, ModifyAttrs};
    use crate::plan::cluster_attributes::MemberAttrs;

    pub fn predict(op: &InstanceOp, state: &mut Observed, id: &str) -> Result<(), String> {
        match op {
            InstanceOp::CreateReadReplica { source, attrs } => {
                create_replica(state, id, source, attrs)
            }
            InstanceOp::RestoreFromSnapshot { snapshot_id, attrs } => {
                restore(state, id, snapshot_id.as_deref(), attrs)
            }
            InstanceOp::CreateMember { cluster, attrs } => create_member(state, id, cluster, attrs),
            InstanceOp::RestoreToPointInTime { source, attrs, .. } => {
                if state.instances.contains_key(id) {
                    return Err(format!("{id} already exists"));
                }
                let mut inst = state
                    .get(source)
                    .ok_or_else(|| format!("restore source {source} missing"))?
                    .clone();
                inst.replica_source = None;
                fresh_clone(&mut inst, id, attrs, state);
                state.instances.insert(id.to_string(), inst);
                Ok(())
            }
            InstanceOp::PromoteReadReplica => promote(state, id),
            InstanceOp::Modify(m) => modify(state, id, m),
            // Passwords are not part of the observed state.
            InstanceOp::SetPassword { .. } => existing(state, id).map(drop),
            InstanceOp::AddTags { tags } => {
                let inst = existing(state, id)?;
                for t in tags {
                    inst.tags.insert(t.key.clone(), t.value.clone());
                }
                Ok(())
            }
            InstanceOp::RemoveTags { keys } => {
                let inst = existing(state, id)?;
                for k in keys {
                    inst.tags.remove(k);
                }
                Ok(())
            }
            InstanceOp::Delete { final_snapshot_id } => {
                delete(state, id, final_snapshot_id.as_deref())
            }
        }
    }

    fn existing<'s>(state: &'s mut Observed, id: &str) -> Result<&'s mut Instance, String> {
        state
            .instances
            .get_mut(id)
            .ok_or_else(|| format!("instance {id} does not exist"))
    }

    fn create_replica(
        state: &mut Observed,
        id: &str,
        source: &str,
        attrs: &CreateAttrs,
    ) -> Result<(), String> {
        if state.instances.contains_key(id) {
            return Err(format!("{id} already exists"));
        }
        let parent = state
            .get(source)
            .ok_or_else(|| format!("replication source {source} missing"))?;
        let mut inst = parent.clone();
        inst.replica_source = Some(source.to_string());
        inst.backup_retention = 0;
        fresh_clone(&mut inst, id, attrs, state);
        if let Some(p) = state.instances.get_mut(source) {
            p.replicas.push(id.to_string());
        }
        state.instances.insert(id.to_string(), inst);
        Ok(())
    }

    fn restore(
        state: &mut Observed,
        id: &str,
        snapshot_id: Option<&str>,
        attrs: &CreateAttrs,
    ) -> Result<(), String> {
        if state.instances.contains_key(id) {
            return Err(format!("{id} already exists"));
        }
        let snapshot_id = snapshot_id.ok_or("a restore without a snapshot")?;
        let snap = state
            .snapshots
            .iter()
            .find(|s| s.id == snapshot_id)
            .ok_or_else(|| format!("snapshot {snapshot_id} missing"))?;
        let from = state
            .get(&snap.instance_id)
            .ok_or("the snapshot's instance is missing")?;
        let mut inst = from.clone();
        inst.replica_source = None;
        fresh_clone(&mut inst, id, attrs, state);
        state.instances.insert(id.to_string(), inst);
        Ok(())
    }

    fn promote(state: &mut Observed, id: &str) -> Result<(), String> {
        let parent = existing(state, id)?.replica_source.take();
        if let Some(p) = parent.and_then(|p| state.instances.get_mut(&p)) {
            p.replicas.retain(|r| r != id);
        }
        Ok(())
    }

    fn modify(state: &mut Observed, id: &str, m: &ModifyAttrs) -> Result<(), String> {
        let inst = existing(state, id)?;
        if let Some(pg) = &m.parameter_group {
            inst.parameter_groups = vec![Membership::new(pg, "in-sync")];
        }
        if let Some(w) = &m.backup_window {
            inst.backup_window = Some(w.clone());
        }
        if let Some(w) = &m.maintenance_window {
            inst.maintenance_window = Some(w.clone());
        }
        if let Some(r) = m.backup_retention {
            inst.backup_retention = r;
        }
        if let Some(d) = m.deletion_protection {
            inst.deletion_protection = d;
        }
        if let Some(ins) = &m.insights {
            if let Some(p) = ins.performance_insights {
                inst.performance_insights = p;
                inst.performance_insights_kms_key_id = ins.performance_insights_kms_key_id.clone();
                inst.performance_insights_retention = ins.performance_insights_retention;
            }
            if ins.monitoring_interval.is_some() {
                inst.monitoring_interval = ins.monitoring_interval;
                inst.monitoring_role_arn = ins.monitoring_role_arn.clone();
            }
        }
        match &m.new_id {
            Some(new_id) => rename(state, id, new_id),
            None => Ok(()),
        }
    }

    fn delete(
        state: &mut Observed,
        id: &str,
        final_snapshot_id: Option<&str>,
    ) -> Result<(), String> {
        if existing(state, id)?.deletion_protection {
            return Err(format!("{id} is deletion-protected"));
        }
        let inst = state.instances.remove(id).ok_or("gone")?;
        for c in state.clusters.values_mut() {
            c.members.retain(|m| m.id != id);
        }
        if let Some(p) = inst
            .replica_source
            .as_ref()
            .and_then(|p| state.instances.get_mut(p))
        {
            p.replicas.retain(|r| r != id);
        }
        // Deleting a primary promotes its replicas.
        for other in state.instances.values_mut() {
            if other.replica_source.as_deref() == Some(id) {
                other.replica_source = None;
            }
        }
        if let Some(s) = final_snapshot_id {
            state.snapshots.push(Snapshot {
                id: s.to_string(),
                arn: state.account.arn(&format!("snapshot:{s}")),
                instance_id: id.to_string(),
                status: "available".into(),
                kind: "manual".into(),
                created: None,
                vpc_id: inst.vpc_id.clone(),
                tags: Default::default(),
            });
        }
        Ok(())
    }

    /// A cluster member: the cluster's first member is its writer.
    fn create_member(
        state: &mut Observed,
        id: &str,
        cluster: &str,
        attrs: &MemberAttrs,
    ) -> Result<(), String> {
        if state.instances.contains_key(id) {
            return Err(format!("{id} already exists"));
        }
        let arn = state.account.arn(&format!("db:{id}"));
        let c = state
            .clusters
            .get_mut(cluster)
            .ok_or_else(|| format!("cluster {cluster} missing"))?;
        c.members.push(ClusterMember {
            id: id.to_string(),
            writer: c.members.is_empty(),
        });
        let inst = Instance {
            id: id.to_string(),
            arn,
            resource_id: Some(format!("db-{id}")),
            status: "available".into(),
            engine: attrs.engine.clone(),
            engine_version: c.engine_version.clone(),
            class: attrs.class.clone(),
            port: c.port,
            publicly_accessible: attrs.publicly_accessible,
            auto_minor_version_upgrade: attrs.auto_minor_version_upgrade,
            parameter_groups: attrs
                .parameter_group
                .iter()
                .map(|g| Membership::new(g, "in-sync"))
                .collect(),
            performance_insights: attrs
                .insights
                .as_ref()
                .and_then(|i| i.performance_insights)
                .unwrap_or(false),
            monitoring_interval: attrs.insights.as_ref().and_then(|i| i.monitoring_interval),
            monitoring_role_arn: attrs
                .insights
                .as_ref()
                .and_then(|i| i.monitoring_role_arn.clone()),
            subnet_group: c.subnet_group.clone(),
            cluster: Some(cluster.to_string()),
            promotion_tier: attrs.promotion_tier,
            availability_zone: attrs.availability_zone.clone(),
            ca_certificate: attrs.ca_certificate.clone(),
            maintenance_window: attrs.maintenance_window.clone(),
            tags: attrs
                .tags
                .iter()
                .map(|t| (t.key.clone(), t.value.clone()))
                .collect(),
            ..Default::default()
        };
        state.instances.insert(id.to_string(), inst);
        Ok(())
    }

    /// A new instance copied from its data's origin, with the creation attributes given.
    fn fresh_clone(inst: &mut Instance, id: &str, attrs: &CreateAttrs, state: &Observed) {
        inst.replicas.clear();
        // Made now (a moment the model does not know): not its origin's creation time.
        inst.created = None;
        inst.deletion_protection = attrs.deletion_protection;
        inst.performance_insights = false;
        inst.monitoring_interval = None;
        inst.monitoring_role_arn = None;
        inst.id = id.to_string();
        inst.arn = state.account.arn(&format!("db:{id}"));
        inst.resource_id = Some(format!("db-{id}"));
        inst.status = "available".into();
        inst.address = None;
        inst.class = attrs.class.clone();
        if attrs.port.is_some() {
            inst.port = attrs.port;
        }
        if attrs.storage_type.is_some() {
            inst.storage_type = attrs.storage_type.clone();
        }
        if attrs.iops.is_some() {
            inst.iops = attrs.iops;
        }
        inst.multi_az = attrs.multi_az;
        inst.publicly_accessible = attrs.publicly_accessible;
        inst.auto_minor_version_upgrade = attrs.auto_minor_version_upgrade;
        inst.copy_tags_to_snapshot = attrs.copy_tags_to_snapshot;
        inst.processor_features = attrs
            .processor_features
            .iter()
            .map(|p| (p.name.clone(), p.value.clone()))
            .collect();
        if !attrs.vpc_security_group_ids.is_empty() {
            inst.vpc_security_groups = attrs
                .vpc_security_group_ids
                .iter()
                .map(|g| Membership::new(g, "active"))
                .collect();
        }
        if let Some(og) = &attrs.option_group {
            inst.option_groups = vec![Membership::new(og, "in-sync")];
        }
        inst.iam_auth = attrs.iam_auth;
        inst.cloudwatch_logs_exports = attrs.cloudwatch_logs_exports.clone();
        if let Some(ins) = &attrs.insights {
            if let Some(p) = ins.performance_insights {
                inst.performance_insights = p;
                inst.performance_insights_kms_key_id = ins.performance_insights_kms_key_id.clone();
                inst.performance_insights_retention = ins.performance_insights_retention;
            }
            inst.monitoring_interval = ins.monitoring_interval;
            inst.monitoring_role_arn = ins.monitoring_role_arn.clone();
        }
        if let Some(sg) = &attrs.subnet_group {
            inst.subnet_group = Some(sg.clone());
            inst.vpc_id = state
                .instances
                .values()
                .find(|i| i.subnet_group.as_deref() == Some(sg))
                .and_then(|i| i.vpc_id.clone());
        }
        inst.tags = attrs
            .tags
            .iter()
            .map(|t| (t.key.clone(), t.value.clone()))
            .collect();
        inst.pending_modifications.clear();
    }

    /// A rename as AWS does it: the instance changes name; the replica links of its parent
    /// and children follow.
    fn rename(state: &mut Observed, from: &str, to: &str) -> Result<(), String> {
        if state.instances.contains_key(to) {
            return Err(format!("cannot rename {from} to {to}: {to} exists"));
        }
        let mut inst = state
            .instances
            .remove(from)
            .ok_or_else(|| format!("{from} does not exist"))?;
        inst.id = to.to_string();
        inst.arn = state.account.arn(&format!("db:{to}"));
        inst.address = None;
        for c in state.clusters.values_mut() {
            for m in c.members.iter_mut().filter(|m| m.id == from) {
                m.id = to.to_string();
            }
            // Custom endpoints name their members, and follow their renames.
            for e in c.endpoints.iter_mut() {
                for m in e
                    .static_members
                    .iter_mut()
                    .chain(e.excluded_members.iter_mut())
                    .filter(|m| *m == from)
                {
                    *m = to.to_string();
                }
            }
        }
        for other in state.instances.values_mut() {
            if other.replica_source.as_deref() == Some(from) {
                other.replica_source = Some(to.to_string());
            }
            for r in other.replicas.iter_mut() {
                if r == from {
                    *r = to.to_string();
                }
            }
        }
        state.instances.insert(to.to_string(), inst);
        Ok(())
    }
}
