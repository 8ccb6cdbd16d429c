//! How the bucket steps run. The target bucket is made to hold exactly the source bucket's
//! objects: both listings are walked side by side (`super::diff`: one page of each held at a
//! time); copies run server side, many at once (`SYNC_CONCURRENCY`), deletions go in batches
//! of 1,000. A refresh copies before the first retire and deletes after the restart
//! (`SyncPart`). Idempotent: a rerun copies only what still differs. A copy's bucket is made
//! with its tags, or taken only when provably this run's; it is deleted only once proven the
//! copy's again.

use super::diff::{Change, Diff};
use super::op::BucketOp;
use super::s3::{BucketWrite, ObjectEntry, OwnedBucket};
use super::SyncCounts;
use crate::error::MitosisError;
use crate::kinds::{RunContext, RunError};
use futures_util::stream::{FuturesUnordered, StreamExt};
use std::future::Future;
use std::pin::Pin;

/// Copies in flight at once: S3 takes thousands of requests per second per prefix; the
/// bound keeps memory and connections in check (`aws s3 sync` runs 10).
pub const SYNC_CONCURRENCY: usize = 64;
/// DeleteObjects takes at most this many keys.
const DELETE_BATCH: usize = 1000;
/// The largest object CopyObject copies in one request.
const MAX_SINGLE_COPY: u64 = 5 * 1024 * 1024 * 1024;
/// The part size of a multipart copy of an object that was not uploaded in parts.
const PART_SIZE: u64 = 1024 * 1024 * 1024;
/// How often a sync reports its progress.
const PROGRESS_EVERY_SECONDS: u64 = 3;

type Job<'a> = Pin<Box<dyn Future<Output = Result<SyncCounts, MitosisError>> + Send + 'a>>;

/// Which differences a sync acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncPart {
    /// New and changed objects are copied; nothing is deleted.
    Copy,
    /// What the source lacks is deleted; nothing is copied.
    Delete,
    /// Both: the target ends with exactly the source's objects.
    Both,
}

/// Makes `target` hold `source`'s objects (the `part` of the differences asked for); what it
/// copied and deleted. `progress` is called after each finished request with the totals so
/// far.
pub async fn sync(
    api: &dyn BucketWrite,
    source: &OwnedBucket,
    target: &OwnedBucket,
    part: SyncPart,
    concurrency: usize,
    progress: &(dyn Fn(SyncCounts) + Sync),
) -> Result<SyncCounts, MitosisError> {
    let copies = part != SyncPart::Delete;
    let deletes = part != SyncPart::Copy;
    let mut diff = Diff::new(api, source, target, true);
    let mut running: FuturesUnordered<Job<'_>> = FuturesUnordered::new();
    let mut batch: Vec<String> = Vec::new();
    let mut total = SyncCounts::default();
    let mut listed_all = false;
    loop {
        // Fill up to the bound from the listing; then wait for one request to finish.
        while !listed_all && running.len() < concurrency.max(1) {
            match diff.next().await? {
                Some(Change::Copy(object)) if copies => {
                    running.push(Box::pin(copy(api, source, target, object)));
                }
                Some(Change::Copy(_)) => {}
                Some(Change::Delete(_)) if !deletes => {}
                Some(Change::Delete(key)) => {
                    batch.push(key);
                    if batch.len() == DELETE_BATCH {
                        running.push(delete(api, target, std::mem::take(&mut batch)));
                    }
                }
                None => {
                    listed_all = true;
                    if !batch.is_empty() {
                        running.push(delete(api, target, std::mem::take(&mut batch)));
                    }
                }
            }
        }
        match running.next().await {
            Some(done) => {
                let done = done?;
                total.copy += done.copy;
                total.copy_bytes += done.copy_bytes;
                total.delete += done.delete;
                progress(total);
            }
            None if listed_all => return Ok(total),
            None => {}
        }
    }
}

fn delete<'a>(api: &'a dyn BucketWrite, bucket: &'a OwnedBucket, keys: Vec<String>) -> Job<'a> {
    Box::pin(async move {
        api.delete_objects(bucket, &keys).await?;
        Ok(SyncCounts {
            delete: keys.len() as u64,
            ..Default::default()
        })
    })
}

/// One object: CopyObject (metadata and tags copied by directive), or part for part when the
/// source was uploaded in parts (its ETag ends in `-N`) or is too large for one copy.
async fn copy(
    api: &dyn BucketWrite,
    source: &OwnedBucket,
    target: &OwnedBucket,
    object: ObjectEntry,
) -> Result<SyncCounts, MitosisError> {
    let parts = object
        .etag
        .rsplit_once('-')
        .and_then(|(_, n)| n.parse::<u64>().ok());
    if parts.is_none() && object.size <= MAX_SINGLE_COPY {
        api.copy_object(source, &object.key, target).await?;
    } else {
        let ranges = part_ranges(api, source, &object, parts).await?;
        copy_in_parts(api, source, target, &object.key, &ranges).await?;
    }
    Ok(SyncCounts {
        copy: 1,
        copy_bytes: object.size,
        delete: 0,
    })
}

/// The byte ranges (inclusive) of the source's parts: all the size of the first but the last,
/// as upload tools make them (checked; otherwise each part is asked for).
async fn part_ranges(
    api: &dyn BucketWrite,
    source: &OwnedBucket,
    object: &ObjectEntry,
    parts: Option<u64>,
) -> Result<Vec<(u64, u64)>, MitosisError> {
    let sizes: Vec<u64> = match parts {
        None => even_parts(object.size, PART_SIZE),
        Some(n) => {
            let first = api.part_size(source, &object.key, 1).await?;
            let even = even_parts(object.size, first.max(1));
            if even.len() as u64 == n {
                even
            } else {
                let mut sizes = Vec::with_capacity(n as usize);
                for part in 1..=n {
                    sizes.push(api.part_size(source, &object.key, part as i32).await?);
                }
                sizes
            }
        }
    };
    let mut start = 0;
    Ok(sizes
        .into_iter()
        .map(|size| {
            let range = (start, start + size - 1);
            start += size;
            range
        })
        .collect())
}

fn even_parts(size: u64, part: u64) -> Vec<u64> {
    let mut sizes = vec![part; (size / part) as usize];
    if !size.is_multiple_of(part) || sizes.is_empty() {
        sizes.push(size % part);
    }
    sizes
}

/// CreateMultipartUpload with the source's headers and tags, UploadPartCopy of each range,
/// CompleteMultipartUpload; aborted on failure so that no parts are left to pay for.
async fn copy_in_parts(
    api: &dyn BucketWrite,
    source: &OwnedBucket,
    target: &OwnedBucket,
    key: &str,
    ranges: &[(u64, u64)],
) -> Result<(), MitosisError> {
    let headers = api.object_headers(source, key).await?;
    let upload = api.create_multipart(target, key, &headers).await?;
    let result = async {
        let mut etags = Vec::with_capacity(ranges.len());
        for (i, range) in ranges.iter().enumerate() {
            etags.push(
                api.upload_part_copy(source, key, target, &upload, i as i32 + 1, *range)
                    .await?,
            );
        }
        api.complete_multipart(target, key, &upload, &etags).await
    }
    .await;
    if result.is_err() {
        if let Err(e) = api.abort_multipart(target, key, &upload).await {
            tracing::warn!(
                "could not abort the multipart upload of {}/{key}: {e}",
                target.name
            );
        }
    }
    result
}

/// Runs one bucket step on `resource` (the target bucket, or the copy's bucket).
pub async fn run(op: &BucketOp, resource: &str, ctx: &dyn RunContext) -> Result<(), RunError> {
    let api = ctx.clients().ok_or_else(no_environment)?.buckets;
    match op {
        BucketOp::Sync {
            source,
            source_owner,
            owner,
            ..
        } => {
            let (source, target) = (
                OwnedBucket::new(source, source_owner),
                OwnedBucket::new(resource, owner),
            );
            sync_step(api, ctx, &source, &target, SyncPart::Copy).await
        }
        BucketOp::Prune {
            source,
            source_owner,
            owner,
            ..
        } => {
            let (source, target) = (
                OwnedBucket::new(source, source_owner),
                OwnedBucket::new(resource, owner),
            );
            sync_step(api, ctx, &source, &target, SyncPart::Delete).await
        }
        BucketOp::Create { tags, owner } => create(api, resource, tags, owner).await,
        BucketOp::Delete { prefix, run, owner } => {
            delete_copy(api, resource, prefix, run, owner).await
        }
    }
}

fn no_environment() -> RunError {
    RunError::Refused("a bucket step needs the environment's clients: give --config".into())
}

/// A copy's bucket: created with its tags in one call, or, on a rerun, found provably made by
/// this run (`crate::plan::proof`). Any other bucket of the name is refused before anything is
/// written to it: one of another account (S3 refuses the expected owner), one without the
/// copy's whole marks, one of another run.
async fn create(
    api: &dyn BucketWrite,
    bucket: &str,
    tags: &[crate::plan::Tag],
    owner: &str,
) -> Result<(), RunError> {
    let tag = |key: &str| {
        tags.iter()
            .find(|t| t.key == key)
            .map(|t| t.value.as_str())
            .unwrap_or_default()
    };
    let (prefix, run) = (
        tag(crate::observed::tags::COPY_PREFIX),
        tag(crate::observed::tags::RUN),
    );
    let owned = OwnedBucket::new(bucket, owner);
    let found = api.bucket_tags(&owned).await.map_err(|e| {
        RunError::Refused(format!(
            "the bucket {bucket} cannot be read as account {owner}'s ({e}): another account may own it; nothing was written to it"
        ))
    })?;
    let Some(found) = found else {
        return api.create_bucket(bucket, tags).await.map_err(RunError::Aws);
    };
    match super::names::bucket_copy_refusal(bucket, &found, prefix, Some(run)) {
        None => Ok(()),
        Some(why) => Err(RunError::Refused(format!(
            "the bucket {bucket} exists and stack-mitosis did not make it as this copy ({why}): nothing was written to it; pick another --prefix"
        ))),
    }
}

/// A copy's bucket deleted: only when it is provably the copy with `prefix` made by `run`
/// (its tags read again right before), emptied a page at a time, then deleted. Gone already:
/// done.
async fn delete_copy(
    api: &dyn BucketWrite,
    bucket: &str,
    prefix: &str,
    run: &str,
    owner: &str,
) -> Result<(), RunError> {
    let aws = RunError::Aws;
    let owned = OwnedBucket::new(bucket, owner);
    let Some(found) = api.bucket_tags(&owned).await.map_err(aws)? else {
        return Ok(());
    };
    if let Some(why) = super::names::bucket_copy_refusal(bucket, &found, prefix, Some(run)) {
        return Err(RunError::Refused(format!(
            "{bucket} is not provably the copy with prefix {prefix:?} of run {run} ({why}): nothing of it was deleted"
        )));
    }
    loop {
        let page = api.list_objects(&owned, None).await.map_err(aws)?;
        if page.objects.is_empty() {
            break;
        }
        let keys: Vec<String> = page.objects.into_iter().map(|o| o.key).collect();
        api.delete_objects(&owned, &keys).await.map_err(aws)?;
    }
    api.delete_bucket(&owned).await.map_err(aws)
}

/// A sync as a step: its counts shown every few seconds, and once more at the end.
async fn sync_step(
    api: &dyn BucketWrite,
    ctx: &dyn RunContext,
    source: &OwnedBucket,
    target: &OwnedBucket,
    part: SyncPart,
) -> Result<(), RunError> {
    // A line every few seconds, not one per object: a log stays readable.
    // When the last line was shown, and what it said: the final counts are shown once.
    let last = std::sync::Mutex::new(None::<(std::time::Instant, SyncCounts)>);
    let report = |c: SyncCounts, force: bool| {
        let now = std::time::Instant::now();
        let mut last = last.lock().expect("progress lock");
        let recent =
            last.is_some_and(|(t, _)| now.duration_since(t).as_secs() < PROGRESS_EVERY_SECONDS);
        if (recent && !force) || last.is_some_and(|(_, shown)| shown == c) {
            return;
        }
        *last = Some((now, c));
        ctx.progress(format!(
            "{} copied ({}), {} deleted",
            c.copy,
            human_bytes(c.copy_bytes),
            c.delete
        ))
    };
    let done = sync(api, source, target, part, SYNC_CONCURRENCY, &|c| {
        report(c, false)
    })
    .await
    .map_err(RunError::Aws)?;
    report(done, true);
    Ok(())
}

pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::even_parts;

    #[test]
    fn parts_cover_the_object() {
        assert_eq!(even_parts(10, 4), vec![4, 4, 2]);
        assert_eq!(even_parts(8, 4), vec![4, 4]);
        assert_eq!(even_parts(0, 4), vec![0]);
    }
}
