//! The least-privilege IAM policy for exactly one plan.
//!
//! Reads are allowed on all instances (the planner must see the whole account to derive
//! trees); each mutating action only on the ARNs the plan touches. The source tree appears in
//! a mutating statement only as the replication or snapshot source.

use crate::model::AccountInfo;
use crate::plan::{Op, Plan};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

/// Group wildcards that creating or modifying an instance is authorized against, by action.
const GROUPS_CREATE: &[&str] = &["og:*", "pg:*", "subgrp:*", "secgrp:*"];

pub fn policy(plan: &Plan, account: &AccountInfo) -> Value {
    let db = |id: &str| account.arn(&format!("db:{id}"));
    let snapshot = |id: &str| account.arn(&format!("snapshot:{id}"));
    let groups = || GROUPS_CREATE.iter().map(|g| account.arn(g));
    let mut by_action: BTreeMap<&'static str, BTreeSet<String>> = BTreeMap::new();
    let mut allow = |action: &'static str, resources: Vec<String>| {
        by_action.entry(action).or_default().extend(resources);
    };

    for step in &plan.steps {
        let inst = db(&step.instance);
        match &step.op {
            Op::CreateDBSnapshot { snapshot_id, tags } => {
                allow("CreateDBSnapshot", vec![inst, snapshot(snapshot_id)]);
                if !tags.is_empty() {
                    allow("AddTagsToResource", vec![snapshot(snapshot_id)]);
                }
            }
            Op::CreateDBInstanceReadReplica { source, attrs } => {
                let mut r = vec![inst.clone(), db(source)];
                r.extend(groups());
                allow("CreateDBInstanceReadReplica", r);
                if !attrs.tags.is_empty() {
                    allow("AddTagsToResource", vec![inst]);
                }
            }
            Op::RestoreDBInstanceFromDBSnapshot { snapshot_id, attrs } => {
                let mut r = vec![inst.clone(), snapshot(snapshot_id)];
                // Scheduled runs restore next week's automated snapshot, named rds:<source>-<date>.
                r.push(snapshot(&format!("rds:{}-*", plan.source)));
                r.extend(groups());
                allow("RestoreDBInstanceFromDBSnapshot", r);
                if !attrs.tags.is_empty() {
                    allow("AddTagsToResource", vec![inst]);
                }
            }
            Op::PromoteReadReplica => allow("PromoteReadReplica", vec![inst]),
            Op::ModifyDBInstance(m) => {
                let mut r = vec![inst.clone()];
                if let Some(new_id) = &m.new_id {
                    // A rename is authorized against both the old and the new ARN.
                    r.push(db(new_id));
                }
                if m.parameter_group.is_some() {
                    r.extend(groups());
                    // Applying a parameter group immediately may need a reboot of the clone.
                    allow("RebootDBInstance", vec![inst]);
                }
                allow("ModifyDBInstance", r);
            }
            Op::AddTagsToResource { .. } => allow("AddTagsToResource", vec![inst]),
            Op::RemoveTagsFromResource { .. } => allow("RemoveTagsFromResource", vec![inst]),
            Op::DeleteDBInstance { final_snapshot_id } => {
                allow("DeleteDBInstance", vec![inst]);
                if let Some(s) = final_snapshot_id {
                    allow("CreateDBSnapshot", vec![snapshot(s)]);
                }
            }
            Op::RunCommand { .. } => {}
        }
    }

    let mut statements = vec![
        json!({
            "Sid": "ReadInstances",
            "Effect": "Allow",
            "Action": ["rds:DescribeDBInstances", "rds:ListTagsForResource"],
            "Resource": [db("*")],
        }),
        json!({
            "Sid": "ReadSnapshots",
            "Effect": "Allow",
            "Action": ["rds:DescribeDBSnapshots"],
            "Resource": [db("*"), snapshot("*")],
        }),
    ];
    for (action, resources) in by_action {
        statements.push(json!({
            "Sid": action,
            "Effect": "Allow",
            "Action": [format!("rds:{action}")],
            "Resource": resources.into_iter().collect::<Vec<_>>(),
        }));
    }
    json!({ "Version": "2012-10-17", "Statement": statements })
}
