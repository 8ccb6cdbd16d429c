//! S3 behind the bucket wing's own narrow traits (`BucketRead` for planning, `BucketWrite` for
//! its steps) and the real adapter over aws-sdk-s3: conversions only, no decisions.

use crate::aws::{aws_error, load_config, AwsSettings};
use crate::error::MitosisError;
use crate::plan::Tag;
use async_trait::async_trait;
use aws_sdk_s3::error::ProvideErrorMetadata;
use std::collections::BTreeMap;

/// A bucket and the account that must own it. Every S3 call about it names that owner
/// (`ExpectedBucketOwner`, and `ExpectedSourceBucketOwner` for the source of a copy): bucket
/// names are global, anyone may make one of a given name, and S3 itself refuses a call about
/// a bucket another account owns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedBucket {
    pub name: String,
    /// The owner's account id.
    pub owner: String,
}

impl OwnedBucket {
    pub fn new(name: &str, owner: &str) -> Self {
        OwnedBucket {
            name: name.to_string(),
            owner: owner.to_string(),
        }
    }
}

/// One object as ListObjectsV2 shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectEntry {
    pub key: String,
    pub size: u64,
    /// Without quotes. A multipart upload's ends in `-<parts>`.
    pub etag: String,
}

/// One page of a listing (up to 1,000 keys, in UTF-8 binary order) and where the next starts.
#[derive(Debug, Clone, Default)]
pub struct ObjectPage {
    pub objects: Vec<ObjectEntry>,
    pub next: Option<String>,
}

/// The object's headers a multipart copy must set itself (CopyObject keeps them by
/// MetadataDirective=COPY).
#[derive(Debug, Clone, Default)]
pub struct ObjectHeaders {
    pub content_type: Option<String>,
    pub metadata: BTreeMap<String, String>,
    /// URL-encoded `k=v&k=v`, as the Tagging header takes them.
    pub tagging: Option<String>,
}

/// Reading buckets: nothing here changes the account.
#[async_trait]
pub trait BucketRead: Send + Sync {
    /// Whether the bucket exists, is its owner's and may be listed (HeadBucket).
    async fn bucket_exists(&self, bucket: &OwnedBucket) -> Result<bool, MitosisError>;
    /// One page of the bucket's objects, from `token`.
    async fn list_objects(
        &self,
        bucket: &OwnedBucket,
        token: Option<String>,
    ) -> Result<ObjectPage, MitosisError>;
    /// The size of each part of a multipart object (HeadObject with partNumber), from part 1.
    async fn part_size(
        &self,
        bucket: &OwnedBucket,
        key: &str,
        part: i32,
    ) -> Result<u64, MitosisError>;
    /// A bucket's tags (GetBucketTagging); None when the bucket does not exist. A bucket of
    /// the name that another account owns is an error (S3 refuses the call).
    async fn bucket_tags(
        &self,
        bucket: &OwnedBucket,
    ) -> Result<Option<BTreeMap<String, String>>, MitosisError>;
    /// Every bucket of the caller's account (ListBuckets lists no other account's).
    async fn list_buckets(&self) -> Result<Vec<String>, MitosisError>;
    /// The account these credentials act in (STS GetCallerIdentity): the owner every bucket
    /// of the target environment must have.
    async fn account(&self) -> Result<String, MitosisError>;
}

/// Changing buckets: the bucket steps' calls.
#[async_trait]
pub trait BucketWrite: BucketRead {
    /// CopyObject with its metadata, content type and tags.
    async fn copy_object(
        &self,
        from: &OwnedBucket,
        key: &str,
        to: &OwnedBucket,
    ) -> Result<(), MitosisError>;
    async fn object_headers(
        &self,
        bucket: &OwnedBucket,
        key: &str,
    ) -> Result<ObjectHeaders, MitosisError>;
    async fn create_multipart(
        &self,
        bucket: &OwnedBucket,
        key: &str,
        headers: &ObjectHeaders,
    ) -> Result<String, MitosisError>;
    /// UploadPartCopy of bytes `range` (inclusive) of `from/key`; the part's ETag.
    async fn upload_part_copy(
        &self,
        from: &OwnedBucket,
        key: &str,
        to: &OwnedBucket,
        upload_id: &str,
        part: i32,
        range: (u64, u64),
    ) -> Result<String, MitosisError>;
    async fn complete_multipart(
        &self,
        bucket: &OwnedBucket,
        key: &str,
        upload_id: &str,
        etags: &[String],
    ) -> Result<(), MitosisError>;
    async fn abort_multipart(
        &self,
        bucket: &OwnedBucket,
        key: &str,
        upload_id: &str,
    ) -> Result<(), MitosisError>;
    /// CreateBucket in the client's region with its tags in the same call, so that no moment
    /// exists when the bucket is there without them. A bucket of the name that exists already,
    /// this account's or another's, is an error.
    async fn create_bucket(&self, bucket: &str, tags: &[Tag]) -> Result<(), MitosisError>;
    async fn delete_bucket(&self, bucket: &OwnedBucket) -> Result<(), MitosisError>;
    /// DeleteObjects of up to 1,000 keys; fails when any key could not be deleted.
    async fn delete_objects(
        &self,
        bucket: &OwnedBucket,
        keys: &[String],
    ) -> Result<(), MitosisError>;
}

/// The S3 client (and STS, for the account the credentials act in).
pub struct SdkS3 {
    s3: aws_sdk_s3::Client,
    sts: aws_sdk_sts::Client,
    account: tokio::sync::OnceCell<String>,
}

impl SdkS3 {
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        let s3 = aws_sdk_s3::config::Builder::from(config)
            // Path-style requests work with every endpoint, an emulator's included.
            .force_path_style(std::env::var_os("AWS_ENDPOINT_URL").is_some())
            .build();
        SdkS3 {
            s3: aws_sdk_s3::Client::from_conf(s3),
            sts: aws_sdk_sts::Client::new(config),
            account: tokio::sync::OnceCell::new(),
        }
    }

    pub async fn connect(settings: &AwsSettings) -> Self {
        Self::new(&load_config(settings, true).await)
    }
}

fn unquote(etag: &str) -> String {
    etag.trim_matches('"').to_string()
}

#[async_trait]
impl BucketRead for SdkS3 {
    async fn bucket_exists(&self, bucket: &OwnedBucket) -> Result<bool, MitosisError> {
        let call = self
            .s3
            .head_bucket()
            .bucket(&bucket.name)
            .expected_bucket_owner(&bucket.owner);
        match call.send().await {
            Ok(_) => Ok(true),
            Err(e) if e.raw_response().map(|r| r.status().as_u16()) == Some(404) => Ok(false),
            Err(e) => Err(aws_error("HeadBucket", e)),
        }
    }

    async fn list_objects(
        &self,
        bucket: &OwnedBucket,
        token: Option<String>,
    ) -> Result<ObjectPage, MitosisError> {
        let out = self
            .s3
            .list_objects_v2()
            .bucket(&bucket.name)
            .expected_bucket_owner(&bucket.owner)
            .set_continuation_token(token)
            .send()
            .await
            .map_err(|e| aws_error("ListObjectsV2", e))?;
        Ok(ObjectPage {
            objects: out
                .contents()
                .iter()
                .filter_map(|o| {
                    Some(ObjectEntry {
                        key: o.key()?.to_string(),
                        size: o.size().unwrap_or(0).max(0) as u64,
                        etag: unquote(o.e_tag().unwrap_or("")),
                    })
                })
                .collect(),
            next: out
                .is_truncated()
                .unwrap_or(false)
                .then(|| out.next_continuation_token().map(str::to_string))
                .flatten(),
        })
    }

    async fn part_size(
        &self,
        bucket: &OwnedBucket,
        key: &str,
        part: i32,
    ) -> Result<u64, MitosisError> {
        let out = self
            .s3
            .head_object()
            .bucket(&bucket.name)
            .expected_bucket_owner(&bucket.owner)
            .key(key)
            .part_number(part)
            .send()
            .await
            .map_err(|e| aws_error("HeadObject", e))?;
        Ok(out.content_length().unwrap_or(0).max(0) as u64)
    }

    async fn bucket_tags(
        &self,
        bucket: &OwnedBucket,
    ) -> Result<Option<BTreeMap<String, String>>, MitosisError> {
        let call = self
            .s3
            .get_bucket_tagging()
            .bucket(&bucket.name)
            .expected_bucket_owner(&bucket.owner);
        match call.send().await {
            Ok(out) => Ok(Some(
                out.tag_set()
                    .iter()
                    .map(|t| (t.key().to_string(), t.value().to_string()))
                    .collect(),
            )),
            Err(e) if e.code() == Some("NoSuchTagSet") => Ok(Some(BTreeMap::new())),
            Err(e) if e.code() == Some("NoSuchBucket") => Ok(None),
            Err(e) => Err(aws_error("GetBucketTagging", e)),
        }
    }

    async fn list_buckets(&self) -> Result<Vec<String>, MitosisError> {
        let buckets: Vec<aws_sdk_s3::types::Bucket> = self
            .s3
            .list_buckets()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| aws_error("ListBuckets", e))?;
        Ok(buckets
            .iter()
            .filter_map(|b| b.name().map(str::to_string))
            .collect())
    }

    async fn account(&self) -> Result<String, MitosisError> {
        self.account
            .get_or_try_init(|| async {
                let out = self
                    .sts
                    .get_caller_identity()
                    .send()
                    .await
                    .map_err(|e| aws_error("GetCallerIdentity", e))?;
                out.account()
                    .map(str::to_string)
                    .ok_or_else(|| MitosisError::Aws {
                        operation: "GetCallerIdentity".into(),
                        message: "no account in the answer".into(),
                    })
            })
            .await
            .cloned()
    }
}

#[async_trait]
impl BucketWrite for SdkS3 {
    async fn copy_object(
        &self,
        from: &OwnedBucket,
        key: &str,
        to: &OwnedBucket,
    ) -> Result<(), MitosisError> {
        self.s3
            .copy_object()
            .copy_source(copy_source(&from.name, key))
            .expected_source_bucket_owner(&from.owner)
            .bucket(&to.name)
            .expected_bucket_owner(&to.owner)
            .key(key)
            .metadata_directive(aws_sdk_s3::types::MetadataDirective::Copy)
            .tagging_directive(aws_sdk_s3::types::TaggingDirective::Copy)
            .send()
            .await
            .map_err(|e| aws_error("CopyObject", e))?;
        Ok(())
    }

    async fn object_headers(
        &self,
        bucket: &OwnedBucket,
        key: &str,
    ) -> Result<ObjectHeaders, MitosisError> {
        let head = self
            .s3
            .head_object()
            .bucket(&bucket.name)
            .expected_bucket_owner(&bucket.owner)
            .key(key)
            .send()
            .await
            .map_err(|e| aws_error("HeadObject", e))?;
        let tags = self
            .s3
            .get_object_tagging()
            .bucket(&bucket.name)
            .expected_bucket_owner(&bucket.owner)
            .key(key)
            .send()
            .await
            .map_err(|e| aws_error("GetObjectTagging", e))?;
        let tagging: Vec<String> = tags
            .tag_set()
            .iter()
            .map(|t| format!("{}={}", url_encode(t.key()), url_encode(t.value())))
            .collect();
        Ok(ObjectHeaders {
            content_type: head.content_type().map(str::to_string),
            metadata: head
                .metadata()
                .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default(),
            tagging: (!tagging.is_empty()).then(|| tagging.join("&")),
        })
    }

    async fn create_multipart(
        &self,
        bucket: &OwnedBucket,
        key: &str,
        headers: &ObjectHeaders,
    ) -> Result<String, MitosisError> {
        let out = self
            .s3
            .create_multipart_upload()
            .bucket(&bucket.name)
            .expected_bucket_owner(&bucket.owner)
            .key(key)
            .set_content_type(headers.content_type.clone())
            .set_metadata(
                (!headers.metadata.is_empty())
                    .then(|| headers.metadata.clone().into_iter().collect()),
            )
            .set_tagging(headers.tagging.clone())
            .send()
            .await
            .map_err(|e| aws_error("CreateMultipartUpload", e))?;
        out.upload_id()
            .map(str::to_string)
            .ok_or_else(|| MitosisError::Aws {
                operation: "CreateMultipartUpload".into(),
                message: "no UploadId in the answer".into(),
            })
    }

    async fn upload_part_copy(
        &self,
        from: &OwnedBucket,
        key: &str,
        to: &OwnedBucket,
        upload_id: &str,
        part: i32,
        range: (u64, u64),
    ) -> Result<String, MitosisError> {
        let out = self
            .s3
            .upload_part_copy()
            .copy_source(copy_source(&from.name, key))
            .expected_source_bucket_owner(&from.owner)
            .copy_source_range(format!("bytes={}-{}", range.0, range.1))
            .bucket(&to.name)
            .expected_bucket_owner(&to.owner)
            .key(key)
            .upload_id(upload_id)
            .part_number(part)
            .send()
            .await
            .map_err(|e| aws_error("UploadPartCopy", e))?;
        Ok(out
            .copy_part_result()
            .and_then(|r| r.e_tag())
            .unwrap_or("")
            .to_string())
    }

    async fn complete_multipart(
        &self,
        bucket: &OwnedBucket,
        key: &str,
        upload_id: &str,
        etags: &[String],
    ) -> Result<(), MitosisError> {
        use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
        let parts = etags
            .iter()
            .enumerate()
            .map(|(i, etag)| {
                CompletedPart::builder()
                    .part_number(i as i32 + 1)
                    .e_tag(etag)
                    .build()
            })
            .collect();
        self.s3
            .complete_multipart_upload()
            .bucket(&bucket.name)
            .expected_bucket_owner(&bucket.owner)
            .key(key)
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| aws_error("CompleteMultipartUpload", e))?;
        Ok(())
    }

    async fn abort_multipart(
        &self,
        bucket: &OwnedBucket,
        key: &str,
        upload_id: &str,
    ) -> Result<(), MitosisError> {
        self.s3
            .abort_multipart_upload()
            .bucket(&bucket.name)
            .expected_bucket_owner(&bucket.owner)
            .key(key)
            .upload_id(upload_id)
            .send()
            .await
            .map_err(|e| aws_error("AbortMultipartUpload", e))?;
        Ok(())
    }

    async fn create_bucket(&self, bucket: &str, tags: &[Tag]) -> Result<(), MitosisError> {
        use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};
        let tag_set: Vec<aws_sdk_s3::types::Tag> = tags
            .iter()
            .filter_map(|t| {
                aws_sdk_s3::types::Tag::builder()
                    .key(&t.key)
                    .value(&t.value)
                    .build()
                    .ok()
            })
            .collect();
        // us-east-1 takes no location constraint; every other region needs its own.
        let region = self.s3.config().region().map(|r| r.as_ref().to_string());
        let configuration = CreateBucketConfiguration::builder()
            .set_location_constraint(
                region
                    .filter(|r| r != "us-east-1")
                    .map(|r| BucketLocationConstraint::from(r.as_str())),
            )
            .set_tags(Some(tag_set))
            .build();
        self.s3
            .create_bucket()
            .bucket(bucket)
            .create_bucket_configuration(configuration)
            .send()
            .await
            .map_err(|e| aws_error("CreateBucket", e))?;
        Ok(())
    }

    async fn delete_bucket(&self, bucket: &OwnedBucket) -> Result<(), MitosisError> {
        self.s3
            .delete_bucket()
            .bucket(&bucket.name)
            .expected_bucket_owner(&bucket.owner)
            .send()
            .await
            .map_err(|e| aws_error("DeleteBucket", e))?;
        Ok(())
    }

    async fn delete_objects(
        &self,
        bucket: &OwnedBucket,
        keys: &[String],
    ) -> Result<(), MitosisError> {
        use aws_sdk_s3::types::{Delete, ObjectIdentifier};
        let objects = keys
            .iter()
            .filter_map(|k| ObjectIdentifier::builder().key(k).build().ok())
            .collect();
        let delete = Delete::builder()
            .set_objects(Some(objects))
            .quiet(true)
            .build()
            .map_err(|e| MitosisError::Aws {
                operation: "DeleteObjects".into(),
                message: e.to_string(),
            })?;
        let out = self
            .s3
            .delete_objects()
            .bucket(&bucket.name)
            .expected_bucket_owner(&bucket.owner)
            .delete(delete)
            .send()
            .await
            .map_err(|e| aws_error("DeleteObjects", e))?;
        match out.errors().first() {
            None => Ok(()),
            Some(e) => Err(MitosisError::Aws {
                operation: "DeleteObjects".into(),
                message: format!(
                    "{} objects not deleted, first {:?}: {} {}",
                    out.errors().len(),
                    e.key().unwrap_or(""),
                    e.code().unwrap_or(""),
                    e.message().unwrap_or("")
                ),
            }),
        }
    }
}

/// `bucket/key` as CopySource takes it: the key URL-encoded, its slashes kept.
fn copy_source(bucket: &str, key: &str) -> String {
    let key: Vec<String> = key.split('/').map(url_encode).collect();
    format!("{bucket}/{}", key.join("/"))
}

/// Percent-encoding of everything but RFC 3986's unreserved characters.
fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::copy_source;

    #[test]
    fn copy_sources_encode_keys_but_keep_their_slashes() {
        assert_eq!(copy_source("b", "a b/c+d.txt"), "b/a%20b/c%2Bd.txt");
        assert_eq!(copy_source("b", "é"), "b/%C3%A9");
    }
}
