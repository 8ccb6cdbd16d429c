//! The IAM actions a plan's steps need, each on the resources it is allowed on and, where a
//! name alone does not pin the resource down, under a condition (`crate::iam` writes them as
//! policy statements).

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// The mutating actions a plan needs, each with the resource ARNs it is allowed on and the
/// condition (if any) that must hold too.
#[derive(Debug, Default)]
pub struct Grants {
    /// By action and condition (its JSON text; empty for none).
    by_action: BTreeMap<(&'static str, String), BTreeSet<String>>,
}

impl Grants {
    /// Allows `action` on `resources`: an RDS action by its name (`CreateDBSnapshot`), another
    /// service's with its prefix (`cloudwatch:GetMetricStatistics`).
    pub fn allow(&mut self, action: &'static str, resources: impl IntoIterator<Item = String>) {
        self.by_action
            .entry((action, String::new()))
            .or_default()
            .extend(resources);
    }

    /// Allows `action` on `resources` only when `condition` (an IAM `Condition` block) holds.
    pub fn allow_when(
        &mut self,
        action: &'static str,
        resources: impl IntoIterator<Item = String>,
        condition: Value,
    ) {
        self.by_action
            .entry((action, condition.to_string()))
            .or_default()
            .extend(resources);
    }

    /// Every grant: the action, its condition (None for none) and its resources, by action.
    pub fn into_statements(self) -> Vec<(&'static str, Option<Value>, Vec<String>)> {
        self.by_action
            .into_iter()
            .map(|((action, condition), resources)| {
                let condition = (!condition.is_empty())
                    .then(|| serde_json::from_str(&condition).unwrap_or(Value::Null));
                (action, condition, resources.into_iter().collect())
            })
            .collect()
    }
}

/// `s3:ResourceAccount` = `account`: an S3 grant holds only for buckets that account owns (a
/// bucket name is global; anyone may own one of the name).
pub fn in_account(account: &str) -> Value {
    serde_json::json!({ "StringEquals": { "s3:ResourceAccount": account } })
}

/// `kms:GrantIsForAWSResource`: a grant on a key only as an AWS service (RDS) makes it for
/// its own use, never one the tool could hand to anyone.
pub fn for_aws_resource() -> Value {
    serde_json::json!({ "Bool": { "kms:GrantIsForAWSResource": "true" } })
}
