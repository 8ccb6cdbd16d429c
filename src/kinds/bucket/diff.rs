//! The differences between two buckets, found by walking both listings side by side.

use super::s3::{BucketRead, ObjectEntry, OwnedBucket};
use super::SyncCounts;
use crate::error::MitosisError;

/// One difference between two buckets' listings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The source's object, missing from the target or different there (size or ETag).
    Copy(ObjectEntry),
    /// A key the target has and the source does not.
    Delete(String),
}

/// The differences between two buckets, found by walking both listings side by side (S3 lists
/// keys in UTF-8 binary order, which is `String`'s order): at most one page of each bucket is
/// held, however large the buckets are.
pub struct Diff<'a> {
    api: &'a dyn BucketRead,
    source: Listing,
    target: Listing,
}

struct Listing {
    bucket: OwnedBucket,
    page: std::collections::VecDeque<ObjectEntry>,
    token: Option<String>,
    done: bool,
}

impl Listing {
    fn new(bucket: &OwnedBucket) -> Self {
        Listing {
            bucket: bucket.clone(),
            page: Default::default(),
            token: None,
            done: false,
        }
    }

    /// The next key, reading the next page when this one is used up.
    async fn front(&mut self, api: &dyn BucketRead) -> Result<Option<&ObjectEntry>, MitosisError> {
        while self.page.is_empty() && !self.done {
            let page = api.list_objects(&self.bucket, self.token.take()).await?;
            self.page = page.objects.into();
            self.done = page.next.is_none();
            self.token = page.next;
        }
        Ok(self.page.front())
    }
}

impl<'a> Diff<'a> {
    /// The difference of two buckets; `target_exists: false` for a bucket yet to be made
    /// (everything is to be copied).
    pub fn new(
        api: &'a dyn BucketRead,
        source: &OwnedBucket,
        target: &OwnedBucket,
        target_exists: bool,
    ) -> Self {
        let mut target = Listing::new(target);
        target.done = !target_exists;
        Diff {
            api,
            source: Listing::new(source),
            target,
        }
    }

    /// The next difference, or None when the target holds what the source holds.
    pub async fn next(&mut self) -> Result<Option<Change>, MitosisError> {
        loop {
            let s = self.source.front(self.api).await?.cloned();
            let t = self.target.front(self.api).await?;
            let order = match (&s, t) {
                (None, None) => return Ok(None),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (Some(s), Some(t)) => s.key.cmp(&t.key),
            };
            match order {
                std::cmp::Ordering::Less => {
                    self.source.page.pop_front();
                    return Ok(s.map(Change::Copy));
                }
                std::cmp::Ordering::Greater => {
                    let gone = self.target.page.pop_front().map(|t| t.key);
                    return Ok(gone.map(Change::Delete));
                }
                std::cmp::Ordering::Equal => {
                    let t = self.target.page.pop_front();
                    self.source.page.pop_front();
                    let (s, t) = (s.expect("compared"), t.expect("compared"));
                    // A multipart object is copied part for part, so that its ETag is the
                    // source's too and a rerun finds nothing to do.
                    if s.size != t.size || s.etag != t.etag {
                        return Ok(Some(Change::Copy(s)));
                    }
                }
            }
        }
    }

    /// Walks the whole difference: what a sync would copy and delete now.
    pub async fn count(mut self) -> Result<SyncCounts, MitosisError> {
        let mut counts = SyncCounts::default();
        while let Some(change) = self.next().await? {
            match change {
                Change::Copy(o) => {
                    counts.copy += 1;
                    counts.copy_bytes += o.size;
                }
                Change::Delete(_) => counts.delete += 1,
            }
        }
        Ok(counts)
    }
}
