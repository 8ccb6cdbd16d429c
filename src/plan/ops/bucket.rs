//! S3 buckets of an environment (`--config`): the target bucket is made to hold exactly the
//! source bucket's objects, server side, in two steps: the new and changed objects are copied
//! before the first retire, and what the source lacks is deleted only once the restart
//! command succeeded (nothing is deleted before the new environment is in place). The source
//! bucket is only ever read. See `crate::exec::bucket` for how they run.

use super::GrantContext;
use crate::iam::Grants;
use crate::plan::{LatencyModel, Tag};
use serde_json::{json, Map, Value};

/// What a sync found to do when the plan was made (the run lists both buckets again).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SyncCounts {
    pub copy: u64,
    pub copy_bytes: u64,
    pub delete: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum BucketOp {
    /// The step's resource (the target bucket) gets the source bucket's new and changed
    /// objects, with their metadata, content type and tags. Deletes nothing.
    Sync { source: String, counts: SyncCounts },
    /// The target bucket loses the objects the source bucket lacks.
    Prune { source: String, count: u64 },
    /// A copy's bucket (`copy --config`): created in the target's region with the copy's
    /// tags (like its databases': made by the tool, the template bucket, prefix, expiry).
    Create { tags: Vec<Tag> },
    /// A copy's bucket deleted (`destroy`, `sweep`): its tags read again first (only a copy
    /// with this prefix is deleted), emptied, then deleted.
    Delete { prefix: String },
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

impl BucketOp {
    pub fn action(&self) -> &'static str {
        match self {
            BucketOp::Sync { .. } => "CopyObjects",
            BucketOp::Prune { .. } => "DeleteObjects",
            BucketOp::Create { .. } => "CreateBucket",
            BucketOp::Delete { .. } => "DeleteBucket",
        }
    }

    pub fn params(&self, target: &str) -> Map<String, Value> {
        let mut m = Map::new();
        match self {
            BucketOp::Sync { source, counts } => {
                m.insert("SourceBucket".into(), source.as_str().into());
                m.insert("TargetBucket".into(), target.into());
                m.insert("ObjectsToCopy".into(), counts.copy.into());
                m.insert("BytesToCopy".into(), counts.copy_bytes.into());
                m.insert("Calls".into(), json!(SYNC_CALLS));
            }
            BucketOp::Prune { source, count } => {
                m.insert("SourceBucket".into(), source.as_str().into());
                m.insert("TargetBucket".into(), target.into());
                m.insert("ObjectsToDelete".into(), (*count).into());
                m.insert("Calls".into(), json!(["ListObjectsV2", "DeleteObjects"]));
            }
            BucketOp::Create { tags } => {
                m.insert("Bucket".into(), target.into());
                m.insert("Tags".into(), json!(tags));
                m.insert("Calls".into(), json!(["CreateBucket", "PutBucketTagging"]));
            }
            BucketOp::Delete { prefix } => {
                m.insert("Bucket".into(), target.into());
                m.insert(
                    "OnlyIfTaggedAsCopyWithPrefix".into(),
                    prefix.as_str().into(),
                );
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
    pub fn expected(&self, latency: &LatencyModel) -> f64 {
        match self {
            BucketOp::Sync { counts, .. } => {
                let pages = (counts.copy + counts.delete) / 1000 + 2;
                latency.api_call * pages as f64 + counts.copy_bytes as f64 / 50e6
            }
            BucketOp::Prune { count, .. } => latency.api_call * (count / 1000 + 2) as f64,
            BucketOp::Create { .. } | BucketOp::Delete { .. } => latency.api_call * 2.0,
        }
    }

    /// Reads on the source bucket only; writes on the target bucket.
    pub fn grants(&self, target: &str, ctx: &GrantContext<'_>, g: &mut Grants) {
        let arn = |b: &str| format!("arn:{}:s3:::{b}", ctx.account.partition);
        match self {
            BucketOp::Sync { source, .. } => {
                g.allow("s3:ListBucket", [arn(source), arn(target)]);
                g.allow("s3:GetObject", [format!("{}/*", arn(source))]);
                g.allow("s3:GetObjectTagging", [format!("{}/*", arn(source))]);
                for action in [
                    "s3:PutObject",
                    "s3:PutObjectTagging",
                    "s3:AbortMultipartUpload",
                ] {
                    g.allow(action, [format!("{}/*", arn(target))]);
                }
            }
            BucketOp::Prune { source, .. } => {
                g.allow("s3:ListBucket", [arn(source), arn(target)]);
                g.allow("s3:DeleteObject", [format!("{}/*", arn(target))]);
            }
            BucketOp::Create { .. } => {
                g.allow("s3:CreateBucket", [arn(target)]);
                g.allow("s3:PutBucketTagging", [arn(target)]);
                g.allow("s3:GetBucketTagging", [arn(target)]);
            }
            BucketOp::Delete { .. } => {
                for action in ["s3:GetBucketTagging", "s3:ListBucket", "s3:DeleteBucket"] {
                    g.allow(action, [arn(target)]);
                }
                g.allow("s3:DeleteObject", [format!("{}/*", arn(target))]);
            }
        }
    }
}
