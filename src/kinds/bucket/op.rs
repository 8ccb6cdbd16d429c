//! S3 buckets of an environment (`--config`): the target bucket is made to hold exactly the
//! source bucket's objects, server side, in two steps: the new and changed objects are copied
//! before the first retire, and what the source lacks is deleted only once the restart
//! command succeeded (nothing is deleted before the new environment is in place). The source
//! bucket is only ever read. See `super::run` for how they run.

use crate::plan::ops::grants::in_account;
use crate::plan::ops::{GrantContext, Grants, WingOp};
use crate::plan::{LatencyModel, Tag};
use serde_json::{json, Map, Value};

/// What a sync found to do when the plan was made (the run lists both buckets again).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SyncCounts {
    pub copy: u64,
    pub copy_bytes: u64,
    pub delete: u64,
}

/// Every bucket op names the account that must own the step's bucket (`owner`) and, for a
/// sync, the source bucket's (`source_owner`): every S3 call passes them, and S3 refuses a
/// call about a bucket of that name that another account owns.
#[derive(Debug, Clone, PartialEq)]
pub enum BucketOp {
    /// The step's resource (the target bucket) gets the source bucket's new and changed
    /// objects, with their metadata, content type and tags. Deletes nothing.
    Sync {
        source: String,
        source_owner: String,
        owner: String,
        counts: SyncCounts,
    },
    /// The target bucket loses the objects the source bucket lacks.
    Prune {
        source: String,
        source_owner: String,
        owner: String,
        count: u64,
    },
    /// A copy's bucket (`copy --config`): created in the target's region with the copy's
    /// tags in the same call (like its databases': made by the tool in this run, the template
    /// bucket, prefix, expiry). One that exists already is taken only when it is provably
    /// this copy's (`crate::plan::proof`); otherwise the run stops before writing to it.
    Create { tags: Vec<Tag>, owner: String },
    /// A copy's bucket deleted (`destroy`, `sweep`): its tags read again first (only a copy
    /// with this prefix, made by this run, is emptied and deleted), emptied, then deleted.
    Delete {
        prefix: String,
        run: String,
        owner: String,
    },
}

/// The calls a sync makes, as the flight plan lists them.
pub const SYNC_CALLS: [&str; 7] = [
    "ListObjectsV2",
    "CopyObject",
    "HeadObject",
    "GetObjectTagging",
    "CreateMultipartUpload",
    "UploadPartCopy",
    "CompleteMultipartUpload",
];

impl WingOp for BucketOp {
    fn action(&self) -> &'static str {
        match self {
            BucketOp::Sync { .. } => "CopyObjects",
            BucketOp::Prune { .. } => "DeleteObjects",
            BucketOp::Create { .. } => "CreateBucket",
            BucketOp::Delete { .. } => "DeleteBucket",
        }
    }

    fn params(&self, target: &str) -> Map<String, Value> {
        let mut m = Map::new();
        match self {
            BucketOp::Sync {
                source,
                source_owner,
                owner,
                counts,
            } => {
                m.insert("SourceBucket".into(), source.as_str().into());
                m.insert(
                    "ExpectedSourceBucketOwner".into(),
                    source_owner.as_str().into(),
                );
                m.insert("TargetBucket".into(), target.into());
                m.insert("ExpectedBucketOwner".into(), owner.as_str().into());
                m.insert("ObjectsToCopy".into(), counts.copy.into());
                m.insert("BytesToCopy".into(), counts.copy_bytes.into());
                m.insert("Calls".into(), json!(SYNC_CALLS));
            }
            BucketOp::Prune {
                source,
                source_owner,
                owner,
                count,
            } => {
                m.insert("SourceBucket".into(), source.as_str().into());
                m.insert(
                    "ExpectedSourceBucketOwner".into(),
                    source_owner.as_str().into(),
                );
                m.insert("TargetBucket".into(), target.into());
                m.insert("ExpectedBucketOwner".into(), owner.as_str().into());
                m.insert("ObjectsToDelete".into(), (*count).into());
                m.insert("Calls".into(), json!(["ListObjectsV2", "DeleteObjects"]));
            }
            BucketOp::Create { tags, owner } => {
                m.insert("Bucket".into(), target.into());
                m.insert("ExpectedBucketOwner".into(), owner.as_str().into());
                m.insert("Tags".into(), json!(tags));
                m.insert("Calls".into(), json!(["GetBucketTagging", "CreateBucket"]));
            }
            BucketOp::Delete { prefix, run, owner } => {
                m.insert("Bucket".into(), target.into());
                m.insert("ExpectedBucketOwner".into(), owner.as_str().into());
                m.insert(
                    "OnlyIfTaggedAsCopyWithPrefix".into(),
                    prefix.as_str().into(),
                );
                m.insert("OnlyIfMadeByRun".into(), run.as_str().into());
                m.insert(
                    "Calls".into(),
                    json!([
                        "GetBucketTagging",
                        "ListObjectsV2",
                        "DeleteObjects",
                        "DeleteBucket"
                    ]),
                );
            }
        }
        m
    }

    /// A few list pages, then the copies: about 50 MB/s of server-side copy.
    fn expected(&self, latency: &LatencyModel) -> f64 {
        match self {
            BucketOp::Sync { counts, .. } => {
                let pages = (counts.copy + counts.delete) / 1000 + 2;
                latency.api_call * pages as f64 + counts.copy_bytes as f64 / 50e6
            }
            BucketOp::Prune { count, .. } => latency.api_call * (count / 1000 + 2) as f64,
            BucketOp::Create { .. } | BucketOp::Delete { .. } => latency.api_call * 2.0,
        }
    }

    /// Reads on the source bucket only; writes on the target bucket; each only on the bucket
    /// of that name its expected owner owns (`s3:ResourceAccount`).
    fn grants(&self, target: &str, ctx: &GrantContext<'_>, g: &mut Grants) {
        let arn = |b: &str| format!("arn:{}:s3:::{b}", ctx.account.partition);
        let objects = |b: &str| format!("{}/*", arn(b));
        match self {
            BucketOp::Sync {
                source,
                source_owner,
                owner,
                ..
            } => {
                g.allow_when("s3:ListBucket", [arn(source)], in_account(source_owner));
                g.allow_when("s3:ListBucket", [arn(target)], in_account(owner));
                for action in ["s3:GetObject", "s3:GetObjectTagging"] {
                    g.allow_when(action, [objects(source)], in_account(source_owner));
                }
                for action in [
                    "s3:PutObject",
                    "s3:PutObjectTagging",
                    "s3:AbortMultipartUpload",
                ] {
                    g.allow_when(action, [objects(target)], in_account(owner));
                }
            }
            BucketOp::Prune {
                source,
                source_owner,
                owner,
                ..
            } => {
                g.allow_when("s3:ListBucket", [arn(source)], in_account(source_owner));
                g.allow_when("s3:ListBucket", [arn(target)], in_account(owner));
                g.allow_when("s3:DeleteObject", [objects(target)], in_account(owner));
            }
            BucketOp::Create { owner, .. } => {
                // A bucket that does not exist yet has no account to check: the name is exact.
                g.allow("s3:CreateBucket", [arn(target)]);
                // Tags given at creation are authorized as tagging.
                g.allow("s3:PutBucketTagging", [arn(target)]);
                g.allow("s3:TagResource", [arn(target)]);
                g.allow_when("s3:GetBucketTagging", [arn(target)], in_account(owner));
            }
            BucketOp::Delete { owner, .. } => {
                for action in ["s3:GetBucketTagging", "s3:ListBucket", "s3:DeleteBucket"] {
                    g.allow_when(action, [arn(target)], in_account(owner));
                }
                g.allow_when("s3:DeleteObject", [objects(target)], in_account(owner));
            }
        }
    }
}
