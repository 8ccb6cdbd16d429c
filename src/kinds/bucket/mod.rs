//! S3 buckets of an environment (`--config`). A refresh makes each target bucket hold exactly
//! its source bucket's objects, server side, in two steps: the new and changed objects are
//! copied once the clones exist and before the first retire; what the source lacks is deleted
//! only once the restart command succeeded. A copy of an environment gets buckets of its own,
//! made with the copy's tags and filled the same way; `destroy` and `sweep` delete them, each
//! only when it is provably the copy's. The source bucket is only ever read, and every S3 call
//! names the account that must own the bucket.

mod diff;
mod names;
mod observe;
mod op;
mod run;
mod s3;
pub mod steps;

pub use names::{bucket_copy_refusal, copy_bucket_name, expired_bucket_copy};
pub use observe::observe;
pub use op::{BucketOp, SyncCounts, SYNC_CALLS};
pub use run::{human_bytes, run, sync, SyncPart, SYNC_CONCURRENCY};
pub use s3::{BucketRead, BucketWrite, ObjectEntry, ObjectHeaders, ObjectPage, OwnedBucket, SdkS3};

use std::collections::BTreeMap;

/// What the planner knows of an environment's buckets.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    /// The account that owns the target buckets (the target's), and the one that owns the
    /// source buckets (the source's: the same one unless the source is in another account).
    pub owner: String,
    pub source_owner: String,
    /// What each target bucket lacks or has too much of, by target bucket.
    pub syncs: BTreeMap<String, SyncCounts>,
    /// A copy's buckets: their tags, None for one that does not exist yet.
    pub copies: BTreeMap<String, Option<BTreeMap<String, String>>>,
    /// A copy's other buckets of the account whose names begin with its prefix, with their
    /// tags: each must be one of the prefix's copies.
    pub prefixed: BTreeMap<String, BTreeMap<String, String>>,
}
