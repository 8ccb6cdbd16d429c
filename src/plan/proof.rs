//! When a resource counts as a copy the tool made (`copy`, `destroy`, `sweep`, `--reset`).
//!
//! Tags are written by anyone with tagging rights, so no single tag is trusted. A resource is
//! a copy only when every one of these holds:
//! - its name is exactly the prefix and the template's name (`pr-42-` + `demo`), as its marks
//!   say (role `copy`, the template as `original`, the prefix);
//! - its marks name the run that made it, a run id of the tool's own form, and the resource
//!   was not created before that run began (a tag added later to an older resource names a
//!   run that cannot have made it);
//! - nothing says it must never go: not tagged `stack-mitosis:protected=true`;
//! - (buckets) it belongs to the account the tool works in: every S3 call passes the expected
//!   owner, so a bucket of the same name in another account is refused by S3 itself.
//!
//! What tags cannot prove, the IAM policy contains: its deletes on a copy prefix's names also
//! require the copy's tags, and `plan` refuses a prefix whose names would reach a resource
//! that is not a copy (see `crate::iam`).

use crate::observed::tags;
use std::collections::BTreeMap;

/// How much earlier than its run's id a resource may read as created: the clocks of the
/// machine that named the run and of AWS may differ a little.
const CLOCK_SKEW_SECONDS: i64 = 15 * 60;

/// When the run `run` began (epoch seconds), from its id (`20261121T224300Z-1a2b`); None
/// when it is not a run id of the tool's form.
pub fn run_started(run: &str) -> Option<i64> {
    let stamp = run.get(..16)?;
    let rest = &run[16..];
    if !(rest.is_empty() || rest.starts_with('-')) {
        return None;
    }
    let b = stamp.as_bytes();
    let digits = |r: std::ops::Range<usize>| -> Option<&str> {
        let s = stamp.get(r)?;
        s.bytes().all(|c| c.is_ascii_digit()).then_some(s)
    };
    if b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let rfc = format!(
        "{}-{}-{}T{}:{}:{}Z",
        digits(0..4)?,
        digits(4..6)?,
        digits(6..8)?,
        digits(9..11)?,
        digits(11..13)?,
        digits(13..15)?
    );
    super::time::parse_rfc3339(&rfc)
}

/// Whether the tags say the resource must never be deleted or replaced.
pub fn is_protected(resource_tags: &BTreeMap<String, String>) -> bool {
    resource_tags
        .get(tags::PROTECTED)
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

/// A resource as the proof reads it: its name, tags and creation time (epoch seconds).
#[derive(Debug, Clone, Copy)]
pub struct Found<'a> {
    pub name: &'a str,
    pub tags: &'a BTreeMap<String, String>,
    pub created: Option<i64>,
}

/// Why `found` is not provably a copy made with `prefix` (by the run `run`, when the copy's
/// run is known from its other resources); None when it is one.
pub fn copy_refusal(found: Found<'_>, prefix: &str, run: Option<&str>) -> Option<String> {
    let tag = |key: &str| found.tags.get(key).map(String::as_str);
    if tag(tags::ROLE) != Some(tags::ROLE_COPY) {
        return Some("it does not carry the tags of a copy".into());
    }
    if tag(tags::COPY_PREFIX) != Some(prefix) {
        return Some(format!(
            "its tags do not say it was made with prefix {prefix:?}"
        ));
    }
    let named = tag(tags::ORIGINAL).map(|original| format!("{prefix}{original}"));
    if named.as_deref() != Some(found.name) {
        return Some("its name is not the prefix and the template its tags name".into());
    }
    let Some(made_by) = tag(tags::RUN).filter(|r| !r.is_empty()) else {
        return Some("its tags name no run that made it".into());
    };
    let Some(started) = run_started(made_by) else {
        return Some(format!("its run {made_by:?} is not a run id of this tool"));
    };
    if let Some(run) = run.filter(|r| *r != made_by) {
        return Some(format!(
            "its tags name run {made_by}, the rest of the copy run {run}"
        ));
    }
    if found
        .created
        .is_some_and(|created| created + CLOCK_SKEW_SECONDS < started)
    {
        return Some(format!(
            "it was created before run {made_by} began, so that run cannot have made it"
        ));
    }
    if is_protected(found.tags) {
        return Some(format!("it is tagged {}=true", tags::PROTECTED));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const RUN: &str = "20261121T224300Z-1a2b";

    fn marks(extra: &[(&str, &str)]) -> BTreeMap<String, String> {
        let mut t: BTreeMap<String, String> = [
            (tags::ROLE, tags::ROLE_COPY),
            (tags::ORIGINAL, "demo"),
            (tags::COPY_PREFIX, "pr-1-"),
            (tags::RUN, RUN),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        for (k, v) in extra {
            t.insert(k.to_string(), v.to_string());
        }
        t
    }

    #[test]
    fn run_ids_tell_when_their_run_began() {
        assert_eq!(run_started("19700101T000100Z-0000"), Some(60));
        assert_eq!(run_started("19700101T000100Z"), Some(60));
        assert_eq!(run_started("run1"), None);
        assert_eq!(run_started("19700101T000100Zx"), None);
        assert_eq!(run_started("1970010aT000100Z"), None);
    }

    #[test]
    fn a_copy_is_proven_by_its_name_its_whole_marks_and_its_age() {
        let started = run_started(RUN).unwrap();
        let t = marks(&[]);
        let found = |name, tags, created| Found {
            name,
            tags,
            created,
        };
        assert_eq!(
            copy_refusal(found("pr-1-demo", &t, Some(started + 60)), "pr-1-", None),
            None
        );
        assert_eq!(
            copy_refusal(found("pr-1-demo", &t, None), "pr-1-", Some(RUN)),
            None
        );
        let refused = |f: Found<'_>, run: Option<&str>| copy_refusal(f, "pr-1-", run).unwrap();
        assert!(refused(found("prod", &t, None), None).contains("name"));
        assert!(
            refused(found("pr-1-demo", &t, Some(started - 86_400)), None)
                .contains("created before")
        );
        assert!(
            refused(found("pr-1-demo", &t, None), Some("20261121T224400Z-0000"))
                .contains("the rest of the copy")
        );
        let protected = marks(&[(tags::PROTECTED, "TRUE")]);
        assert!(refused(found("pr-1-demo", &protected, None), None).contains("protected"));
        let forged = marks(&[(tags::RUN, "run1")]);
        assert!(refused(found("pr-1-demo", &forged, None), None).contains("not a run id"));
        let mut no_run = marks(&[]);
        no_run.remove(tags::RUN);
        assert!(refused(found("pr-1-demo", &no_run, None), None).contains("no run"));
        let other = marks(&[(tags::COPY_PREFIX, "pr-2-")]);
        assert!(refused(found("pr-1-demo", &other, None), None).contains("prefix"));
    }
}
