//! A model of what each step does to the observed state, so that a plan can be checked against
//! the state it will produce (and replanned from any intermediate state, as a resume would).

use super::{Op, Plan, Step};
use crate::model::{Membership, Observed, Snapshot};

/// The state after `step` succeeded. Steps whose preconditions do not hold (an instance that
/// does not exist) are a planning bug; they leave the state unchanged and return an error.
pub fn predict(state: &mut Observed, step: &Step) -> Result<(), String> {
    let id = step.instance.as_str();
    let missing = || format!("step {}: instance {id} does not exist", step.id);
    match &step.op {
        Op::CreateDBSnapshot { snapshot_id, .. } => {
            let inst = state.get(id).ok_or_else(missing)?;
            let snap = Snapshot {
                id: snapshot_id.clone(),
                arn: state.account.arn(&format!("snapshot:{snapshot_id}")),
                instance_id: id.to_string(),
                status: "available".into(),
                kind: "manual".into(),
                created: Some(i64::MAX),
                vpc_id: inst.vpc_id.clone(),
            };
            state.snapshots.push(snap);
        }
        Op::CreateDBInstanceReadReplica { source, attrs } => {
            if state.instances.contains_key(id) {
                return Err(format!("step {}: {id} already exists", step.id));
            }
            let parent = state
                .get(source)
                .ok_or_else(|| format!("step {}: replication source {source} missing", step.id))?;
            let mut inst = parent.clone();
            inst.replica_source = Some(source.clone());
            inst.replicas.clear();
            inst.backup_retention = 0;
            inst.deletion_protection = attrs.deletion_protection;
            inst.performance_insights = false;
            inst.monitoring_interval = None;
            inst.monitoring_role_arn = None;
            apply_create(&mut inst, id, attrs, state);
            if let Some(p) = state.instances.get_mut(source) {
                p.replicas.push(id.to_string());
            }
            state.instances.insert(id.to_string(), inst);
        }
        Op::RestoreDBInstanceFromDBSnapshot { snapshot_id, attrs } => {
            if state.instances.contains_key(id) {
                return Err(format!("step {}: {id} already exists", step.id));
            }
            let snap = state
                .snapshots
                .iter()
                .find(|s| &s.id == snapshot_id)
                .ok_or_else(|| format!("step {}: snapshot {snapshot_id} missing", step.id))?;
            let from = state
                .get(&snap.instance_id)
                .ok_or_else(|| format!("step {}: snapshot's instance missing", step.id))?;
            let mut inst = from.clone();
            inst.replica_source = None;
            inst.replicas.clear();
            inst.deletion_protection = attrs.deletion_protection;
            inst.performance_insights = false;
            inst.monitoring_interval = None;
            inst.monitoring_role_arn = None;
            apply_create(&mut inst, id, attrs, state);
            state.instances.insert(id.to_string(), inst);
        }
        Op::PromoteReadReplica => {
            let parent = state.get(id).ok_or_else(missing)?.replica_source.clone();
            if let Some(p) = parent.and_then(|p| state.instances.get_mut(&p)) {
                p.replicas.retain(|r| r != id);
            }
            if let Some(i) = state.instances.get_mut(id) {
                i.replica_source = None;
            }
        }
        Op::ModifyDBInstance(m) => {
            let inst = state.instances.get_mut(id).ok_or_else(missing)?;
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
                    inst.performance_insights_kms_key_id =
                        ins.performance_insights_kms_key_id.clone();
                    inst.performance_insights_retention = ins.performance_insights_retention;
                }
                if ins.monitoring_interval.is_some() {
                    inst.monitoring_interval = ins.monitoring_interval;
                    inst.monitoring_role_arn = ins.monitoring_role_arn.clone();
                }
            }
            if let Some(new_id) = &m.new_id {
                rename(state, id, new_id).map_err(|e| format!("step {}: {e}", step.id))?;
            }
        }
        Op::AddTagsToResource { tags } => {
            let inst = state.instances.get_mut(id).ok_or_else(missing)?;
            for t in tags {
                inst.tags.insert(t.key.clone(), t.value.clone());
            }
        }
        Op::RemoveTagsFromResource { keys } => {
            let inst = state.instances.get_mut(id).ok_or_else(missing)?;
            for k in keys {
                inst.tags.remove(k);
            }
        }
        Op::DeleteDBInstance { final_snapshot_id } => {
            let inst = state.instances.remove(id).ok_or_else(missing)?;
            if inst.deletion_protection {
                state.instances.insert(id.to_string(), inst);
                return Err(format!("step {}: {id} is deletion-protected", step.id));
            }
            if let Some(p) = &inst.replica_source {
                if let Some(p) = state.instances.get_mut(p) {
                    p.replicas.retain(|r| r != id);
                }
            }
            // Deleting a primary promotes its replicas.
            for other in state.instances.values_mut() {
                if other.replica_source.as_deref() == Some(id) {
                    other.replica_source = None;
                }
            }
            if let Some(s) = final_snapshot_id {
                state.snapshots.push(Snapshot {
                    id: s.clone(),
                    arn: state.account.arn(&format!("snapshot:{s}")),
                    instance_id: id.to_string(),
                    status: "available".into(),
                    kind: "manual".into(),
                    created: None,
                    vpc_id: inst.vpc_id.clone(),
                });
            }
        }
        Op::RunCommand { .. } => {}
    }
    Ok(())
}

/// Applies every pending step of `plan` in order.
pub fn predict_all(state: &mut Observed, plan: &Plan) -> Result<(), String> {
    for step in plan.pending() {
        predict(state, step)?;
    }
    Ok(())
}

fn apply_create(
    inst: &mut crate::model::Instance,
    id: &str,
    attrs: &super::CreateAttrs,
    state: &Observed,
) {
    inst.id = id.to_string();
    inst.arn = state.account.arn(&format!("db:{id}"));
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

/// A rename as AWS does it: the instance changes name; the replica links of its parent and
/// children follow.
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
