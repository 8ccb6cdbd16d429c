//! What the planner needs to know of an environment's buckets: what each target bucket lacks
//! or has too much of, and for a copy the tags of its buckets and of the account's other
//! buckets of its prefix. Read-only by type (`BucketRead`).

use super::diff::Diff;
use super::s3::{BucketRead, OwnedBucket};
use super::Observed;
use crate::config::EnvSpec;
use crate::error::MitosisError;

/// The buckets of `spec` as they are. Target buckets must be `owner`'s, source buckets
/// `source_owner`'s (S3 checks both on every call); a bucket that does not exist is bad input:
/// nothing has been changed yet. For a copy (`copying`: its prefix), the target buckets are
/// the copy's: they may not exist yet, and every bucket of the account that begins with the
/// prefix must be one of its copies (the copy's policy allows deletes on those names).
pub async fn observe(
    api: &dyn BucketRead,
    spec: &EnvSpec,
    copying: Option<&str>,
    owner: &str,
    source_owner: &str,
) -> Result<Observed, MitosisError> {
    let mut observed = Observed {
        owner: owner.to_string(),
        source_owner: source_owner.to_string(),
        ..Default::default()
    };
    for (source, target) in &spec.buckets {
        let source = OwnedBucket::new(source, source_owner);
        let target = OwnedBucket::new(target, owner);
        let mut must_exist = vec![&source];
        let mut target_exists = true;
        if copying.is_some() {
            let tags = api.bucket_tags(&target).await.map_err(|e| {
                MitosisError::bad_input(format!(
                    "the bucket {} cannot be read as this account's ({e}): bucket names are global, and another account may own one of this name; pick another --prefix (or let this role s3:GetBucketTagging it)",
                    target.name
                ))
            })?;
            target_exists = tags.is_some();
            observed.copies.insert(target.name.clone(), tags);
        } else {
            must_exist.push(&target);
        }
        for bucket in must_exist {
            if !api.bucket_exists(bucket).await? {
                return Err(MitosisError::bad_input(format!(
                    "the bucket {} does not exist in account {} (or this role may not list it): check the environment's `buckets` in the config",
                    bucket.name, bucket.owner
                )));
            }
        }
        let counts = Diff::new(api, &source, &target, target_exists)
            .count()
            .await?;
        observed.syncs.insert(target.name.clone(), counts);
    }
    if let (Some(prefix), false) = (copying, spec.buckets.is_empty()) {
        for bucket in api.list_buckets().await? {
            if bucket.starts_with(prefix) && !observed.copies.contains_key(&bucket) {
                let tags = api
                    .bucket_tags(&OwnedBucket::new(&bucket, owner))
                    .await?
                    .unwrap_or_default();
                observed.prefixed.insert(bucket, tags);
            }
        }
    }
    Ok(observed)
}
