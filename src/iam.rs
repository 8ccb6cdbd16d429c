//! The least-privilege IAM policy for exactly one plan.
//!
//! Reads are allowed on all instances (the planner must see the whole account to derive
//! trees); each mutating action only on the ARNs the plan touches, as each kind of operation
//! says (`Op::grants`). The source tree appears in a mutating statement only as the
//! replication or snapshot source.

use crate::observed::AccountInfo;
use crate::plan::ops::GrantContext;
use crate::plan::Plan;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

/// The mutating actions a plan needs, each with the resource ARNs it is allowed on.
#[derive(Debug, Default)]
pub struct Grants {
    by_action: BTreeMap<&'static str, BTreeSet<String>>,
}

impl Grants {
    /// Allows `action` on `resources`: an RDS action by its name (`CreateDBSnapshot`), another
    /// service's with its prefix (`cloudwatch:GetMetricStatistics`).
    pub fn allow(&mut self, action: &'static str, resources: impl IntoIterator<Item = String>) {
        self.by_action.entry(action).or_default().extend(resources);
    }
}

/// The IAM action: `rds:` unless the name has its own service prefix.
fn qualified(action: &str) -> String {
    if action.contains(':') {
        action.to_string()
    } else {
        format!("rds:{action}")
    }
}

/// A statement id: letters and digits only.
fn sid(action: &str) -> String {
    action
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect()
}

pub fn policy(plan: &Plan, account: &AccountInfo) -> Value {
    let ctx = GrantContext {
        account,
        source: &plan.source,
        kind: plan.kind,
    };
    let mut grants = Grants::default();
    for step in &plan.steps {
        step.op.grants(&step.resource, &ctx, &mut grants);
    }
    let db = account.arn("db:*");
    let mut statements = vec![
        json!({
            "Sid": "ReadInstances",
            "Effect": "Allow",
            "Action": ["rds:DescribeDBInstances", "rds:ListTagsForResource"],
            "Resource": [db],
        }),
        json!({
            "Sid": "ReadSnapshots",
            "Effect": "Allow",
            "Action": ["rds:DescribeDBSnapshots"],
            "Resource": [db, account.arn("snapshot:*")],
        }),
        // Every run looks for clusters among the names it is given.
        json!({
            "Sid": "ReadClusters",
            "Effect": "Allow",
            "Action": ["rds:DescribeDBClusters", "rds:ListTagsForResource"],
            "Resource": [account.arn("cluster:*")],
        }),
    ];
    if plan.kind == crate::plan::Kind::Cluster {
        statements.push(json!({
            "Sid": "ReadClusterSnapshots",
            "Effect": "Allow",
            "Action": ["rds:DescribeDBClusterSnapshots"],
            "Resource": [account.arn("cluster:*"), account.arn("cluster-snapshot:*")],
        }));
        statements.push(json!({
            "Sid": "ReadClusterEndpoints",
            "Effect": "Allow",
            "Action": ["rds:DescribeDBClusterEndpoints"],
            "Resource": [account.arn("cluster:*"), account.arn("cluster-endpoint:*")],
        }));
    }
    for (action, resources) in grants.by_action {
        statements.push(json!({
            "Sid": sid(action.rsplit(':').next().unwrap_or(action)),
            "Effect": "Allow",
            "Action": [qualified(action)],
            "Resource": resources.into_iter().collect::<Vec<_>>(),
        }));
    }
    json!({ "Version": "2012-10-17", "Statement": statements })
}
