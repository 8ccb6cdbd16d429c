//! A copy's bucket names, and whether a bucket is provably one of the tool's copies.

use crate::error::MitosisError;
use std::collections::BTreeMap;

/// A copy's bucket name: the prefix and the template bucket's, checked against S3's rules.
pub fn copy_bucket_name(prefix: &str, bucket: &str) -> Result<String, MitosisError> {
    let name = format!("{prefix}{bucket}");
    let valid = (3..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
        && !name.contains("..");
    if valid {
        Ok(name)
    } else {
        Err(MitosisError::bad_input(format!(
            "--prefix {prefix:?} does not make a valid bucket name of {bucket:?} ({name:?}: 3 to 63 lowercase letters, digits, hyphens and dots): use a shorter prefix of lowercase letters, digits and hyphens"
        )))
    }
}

/// Why the bucket `name` with `tags` is not provably a copy made with `prefix` (by `run`,
/// when known): see `crate::plan::proof`; its owner is checked by S3 on every call. None when
/// it is one.
pub fn bucket_copy_refusal(
    name: &str,
    tags: &BTreeMap<String, String>,
    prefix: &str,
    run: Option<&str>,
) -> Option<String> {
    crate::plan::proof::copy_refusal(
        crate::plan::proof::Found {
            name,
            tags,
            created: None,
        },
        prefix,
        run,
    )
}

/// The prefix a bucket's tags give, when they say it is a copy whose expiry is before `now`
/// (epoch seconds): a candidate for a sweep, which then proves it a copy or skips it.
pub fn expired_bucket_copy(tags: &BTreeMap<String, String>, now: i64) -> Option<String> {
    use crate::observed::tags as t;
    let expired = tags
        .get(t::EXPIRES)
        .and_then(|e| crate::plan::SourceTime::parse(e).ok())
        .is_some_and(|at| matches!(at, crate::plan::SourceTime::At(at) if at < now));
    let copy = tags.get(t::ROLE).map(String::as_str) == Some(t::ROLE_COPY);
    (expired && copy).then(|| tags.get(t::COPY_PREFIX).cloned().unwrap_or_default())
}
