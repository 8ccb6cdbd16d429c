//! The least-privilege IAM policy for exactly one plan.
//!
//! Reads are allowed on all instances (the planner must see the whole account to derive
//! trees); each mutating action only on the ARNs the plan touches, as each kind of operation
//! says (`Op::grants`). The source tree appears in a mutating statement only as the
//! replication or snapshot source.

use crate::observed::{tags, AccountInfo, Observed};
use crate::plan::ops::{kms_arn, GrantContext, Grants, KMS_COPY_ACTIONS};
use crate::plan::{Account, CopyFor, Op, Plan, SnapshotOp};
use serde_json::{json, Value};
use std::collections::BTreeMap;

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

/// The statement that lets `destroy` and `sweep` remove the copies made with this plan's
/// prefix (and only those: the ARNs are the prefix's).
fn destroy_statement(plan: &Plan, account: &AccountInfo) -> Option<Value> {
    let prefix = plan.copy_prefix.as_deref()?;
    let tag = |key: &str| format!("aws:ResourceTag/{key}");
    // The names are a pattern, so the resources must also carry the copy's tags with this
    // prefix, and not the tag that forbids any delete (`plan` refuses a prefix whose names
    // reach anything but its copies).
    Some(json!({
        "Sid": "DestroyCopies",
        "Effect": "Allow",
        "Action": ["rds:DeleteDBInstance", "rds:ModifyDBInstance", "rds:DeleteDBCluster", "rds:ModifyDBCluster"],
        "Resource": [account.arn(&format!("db:{prefix}*")), account.arn(&format!("cluster:{prefix}*"))],
        // StringLike for the prefix: a per-pull-request workflow writes `pr-*` in both places.
        "Condition": {
            "StringEquals": { tag(tags::ROLE): tags::ROLE_COPY },
            "StringLike": { tag(tags::COPY_PREFIX): prefix },
            "StringNotEqualsIgnoreCase": { tag(tags::PROTECTED): "true" },
        },
    }))
}

/// The statement that lets `destroy` and `sweep` remove the buckets of copies made with this
/// plan's prefix (a copy of an environment), and only those.
fn destroy_buckets_statement(plan: &Plan, account: &AccountInfo) -> Vec<Value> {
    let Some(prefix) = plan.copy_prefix.as_deref() else {
        return Vec::new();
    };
    let has_buckets = plan
        .steps
        .iter()
        .any(|s| s.id.kind == crate::plan::StepKind::CreateBucket);
    if !has_buckets {
        return Vec::new();
    }
    let bucket = format!("arn:{}:s3:::{prefix}*", account.partition);
    vec![
        // S3 checks bucket tags in a policy only where a bucket has ABAC switched on, so the
        // pattern is held to this account's buckets; the tool proves each one a copy first.
        json!({
            "Sid": "DestroyCopyBuckets",
            "Effect": "Allow",
            "Action": ["s3:GetBucketTagging", "s3:ListBucket", "s3:DeleteObject", "s3:DeleteBucket"],
            "Resource": [bucket.clone(), format!("{bucket}/*")],
            "Condition": { "StringEquals": { "s3:ResourceAccount": account.account } },
        }),
        // `sweep` finds expired bucket copies among the account's buckets (not scoped by ARN).
        json!({
            "Sid": "SweepListBuckets",
            "Effect": "Allow",
            "Action": ["s3:ListAllMyBuckets"],
            "Resource": ["*"],
        }),
    ]
}

/// What `iam-policy` prints: the policy of the one account, or for a cross-account plan
/// `{"target": policy, "source": policy, "source_key_policy_statement": statement}` (the last
/// one null when the source is not encrypted).
pub fn policies(plan: &Plan, observed: &Observed) -> Value {
    let Some(src) = observed.source_account.as_deref() else {
        return account_policy(
            plan,
            &observed.account,
            Account::Target,
            None,
            &observed.key_arns,
        );
    };
    let source_key = source_key(plan).map(|k| {
        observed
            .key_arns
            .get(&(src.account.account.clone(), k.clone()))
            .cloned()
            .unwrap_or_else(|| kms_arn(&k, &src.account))
    });
    json!({
        "target": account_policy(plan, &observed.account, Account::Target, source_key.as_deref(), &observed.key_arns),
        "source": account_policy(plan, &src.account, Account::Source, None, &observed.key_arns),
        "source_key_policy_statement": source_key.map(|_| key_policy_statement(&observed.account)),
    })
}

/// The key the source account's transfer copy is encrypted with, as the plan says.
fn source_key(plan: &Plan) -> Option<String> {
    plan.steps.iter().find_map(|s| match &s.op {
        Op::Snapshot(SnapshotOp::Copy {
            kms_key_id: Some(key),
            purpose: CopyFor::Transfer,
            ..
        })
        | Op::ClusterSnapshot(SnapshotOp::Copy {
            kms_key_id: Some(key),
            purpose: CopyFor::Transfer,
            ..
        }) => Some(key.clone()),
        _ => None,
    })
}

/// The statement the source account's customer-managed key needs in its key policy so that
/// the target account can copy a snapshot encrypted with it (`Resource: *` in a key policy
/// means this key).
fn key_policy_statement(target: &AccountInfo) -> Value {
    json!({
        "Sid": "AllowStackMitosisTargetAccount",
        "Effect": "Allow",
        "Principal": { "AWS": format!("arn:{}:iam::{}:root", target.partition, target.account) },
        "Action": KMS_COPY_ACTIONS,
        "Resource": "*",
        // Grants only for RDS's own use of the key (the other actions carry no such key).
        "Condition": { "BoolIfExists": { "kms:GrantIsForAWSResource": "true" } },
    })
}

/// The least-privilege policy for one account of the plan (its KMS keys as the plan names
/// them: `policies` resolves aliases).
pub fn policy(plan: &Plan, account: &AccountInfo) -> Value {
    account_policy(plan, account, Account::Target, None, &BTreeMap::new())
}

fn account_policy(
    plan: &Plan,
    account: &AccountInfo,
    side: Account,
    shared_key: Option<&str>,
    key_arns: &BTreeMap<(String, String), String>,
) -> Value {
    let mut grants = Grants::default();
    for step in plan.steps.iter().filter(|s| s.account == side) {
        // Each step's ARNs follow its own database pair (an environment has several).
        let pair = plan.pair(step);
        let ctx = GrantContext {
            account,
            source: pair.source,
            target: pair.target,
            kind: pair.kind,
            shared_key,
            key_arns,
        };
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
    if plan
        .pairs()
        .iter()
        .any(|p| p.kind == crate::plan::Kind::Cluster)
    {
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
    let mut sids: BTreeMap<String, usize> = BTreeMap::new();
    for (action, condition, resources) in grants.into_statements() {
        // One statement per action and condition; a second one of an action numbers its Sid.
        let base = sid(action.rsplit(':').next().unwrap_or(action));
        let n = sids.entry(base.clone()).or_insert(0);
        *n += 1;
        let mut statement = json!({
            "Sid": if *n == 1 { base } else { format!("{base}{n}") },
            "Effect": "Allow",
            "Action": [qualified(action)],
            "Resource": resources,
        });
        if let Some(condition) = condition {
            statement["Condition"] = condition;
        }
        statements.push(statement);
    }
    if side == Account::Target {
        statements.extend(destroy_statement(plan, account));
        statements.extend(destroy_buckets_statement(plan, account));
    }
    json!({ "Version": "2012-10-17", "Statement": statements })
}
