//! The planner's preconditions: identifier syntax, names the clone and the retiree will take,
//! engines, statuses, and which run a target tree belongs to. Each failure is bad input with
//! what to do about it.

use super::request::SourceTime;
use super::tree::Node;
use crate::error::MitosisError;
use crate::observed::{tags, Instance, Observed, Snapshot};
use std::collections::BTreeSet;

/// RDS DB instance identifiers: 1-63 letters, digits or hyphens; first a letter; no trailing
/// hyphen and no two consecutive hyphens. AWS stores them lower-case.
pub fn validate_identifier(what: &str, id: &str) -> Result<(), MitosisError> {
    let problem = if id.is_empty() {
        Some("is empty".to_string())
    } else if id.len() > 63 {
        Some(format!("is {} characters long (63 at most)", id.len()))
    } else if !id.starts_with(|c: char| c.is_ascii_alphabetic()) {
        Some("must begin with a letter".to_string())
    } else if let Some(c) = id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
    {
        Some(format!(
            "contains {c:?}: only letters, digits and hyphens are allowed"
        ))
    } else if id.ends_with('-') {
        Some("must not end with a hyphen".to_string())
    } else if id.contains("--") {
        Some("must not contain two consecutive hyphens".to_string())
    } else {
        None
    };
    match problem {
        Some(p) => Err(MitosisError::bad_input(format!(
            "{what} {id:?} is not a valid DB instance identifier: it {p}"
        ))),
        None => Ok(()),
    }
}

/// temp-X and old-X must fit in 63 characters and must be the tool's own if they exist.
pub fn check_names(obs: &Observed, node: &Node) -> Result<(), MitosisError> {
    for (name, role, ours) in [
        (node.temp(), tags::ROLE_TEMP, node.replacement.as_ref()),
        (node.old(), tags::ROLE_OLD, node.original.as_ref()),
    ] {
        if name.len() > 63 {
            return Err(MitosisError::bad_input(format!(
                "{:?} would be named {name:?}, longer than the 63 characters AWS allows: use a target whose instance names are at most {} characters",
                node.name,
                63 - (name.len() - node.name.len())
            )));
        }
        if let Some(existing) = obs.get(&name) {
            if ours.is_some_and(|o| o.id == name) {
                continue;
            }
            let whose = if existing.is_marked(role, &node.name) {
                format!(
                    "it was left by an earlier run ({}) that is not part of this refresh",
                    existing.tag(tags::RUN).unwrap_or("unknown")
                )
            } else {
                "stack-mitosis did not create it".to_string()
            };
            return Err(MitosisError::bad_input(format!(
                "{name:?} already exists and {whose}: rename or delete it (after checking what it is) before refreshing {:?}",
                node.name
            )));
        }
    }
    Ok(())
}

pub fn reject_cluster_member(i: &Instance, what: &str) -> Result<(), MitosisError> {
    match &i.cluster {
        Some(cluster) => Err(MitosisError::bad_input(format!(
            "{what} instance {:?} is a member of Aurora cluster {cluster:?}: name the cluster instead ({cluster}) to refresh it with its members",
            i.id
        ))),
        None => Ok(()),
    }
}

/// `--source-time` needs automated backups, and a moment inside the source's restorable window:
/// from its earliest restorable time (the start of its backup retention, or its creation) to
/// its latest restorable time (minutes ago).
pub fn check_restorable(source: &Instance, time: SourceTime) -> Result<(), MitosisError> {
    if source.backup_retention == 0 {
        return Err(MitosisError::bad_input(format!(
            "source {:?} has no automated backups (BackupRetentionPeriod 0), which a point-in-time restore needs: enable them, or use --snapshot instead of --source-time",
            source.id
        )));
    }
    let latest = source.latest_restorable;
    let earliest = latest.map(|l| {
        let retention = l - i64::from(source.backup_retention) * 86_400;
        source.created.map_or(retention, |c| c.max(retention))
    });
    check_window(&source.id, time, earliest, latest)
}

/// `time` against the window [earliest, latest] where they are known.
pub fn check_window(
    source: &str,
    time: SourceTime,
    earliest: Option<i64>,
    latest: Option<i64>,
) -> Result<(), MitosisError> {
    let SourceTime::At(t) = time else {
        return Ok(());
    };
    let show = |t: Option<i64>| t.map_or("?".to_string(), SourceTime::rfc3339);
    let window = format!("{} to {}", show(earliest), show(latest));
    if latest.is_some_and(|l| t > l) {
        return Err(MitosisError::bad_input(format!(
            "--source-time {} is after the latest restorable time of {source:?}: pick a moment from {window}, or `latest`",
            SourceTime::rfc3339(t)
        )));
    }
    if earliest.is_some_and(|e| t < e) {
        return Err(MitosisError::bad_input(format!(
            "--source-time {} is before the earliest restorable time of {source:?} (its backups go back to {}): pick a moment from {window}",
            SourceTime::rfc3339(t),
            show(earliest)
        )));
    }
    Ok(())
}

/// A database tagged `stack-mitosis:protected=true` is never a target: it is what the tag
/// protects from an accidental refresh (production named as the target).
pub fn check_not_protected(
    id: &str,
    resource_tags: &std::collections::BTreeMap<String, String>,
) -> Result<(), MitosisError> {
    match resource_tags
        .get(tags::PROTECTED)
        .map(|v| v.to_ascii_lowercase())
    {
        Some(v) if v == "true" => Err(MitosisError::bad_input(format!(
            "{id:?} is tagged {}=true and may never be refreshed: check --target (did you mean the source?), or remove the tag if it no longer holds",
            tags::PROTECTED
        ))),
        _ => Ok(()),
    }
}

/// Why the target `name` (an instance tree, or a cluster and its members) looks like
/// production: deletion protection on, or a tag `env`, `environment` or `stage` saying `prod`
/// or `production` (any case). Resources the tool made or retired are its own, not the user's
/// target, and are passed over. Empty: nothing looks like production.
pub fn looks_like_production(obs: &Observed, name: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut check = |id: &str,
                     protection: bool,
                     tags: &std::collections::BTreeMap<String, String>| {
        if protection {
            found.push(format!("{id:?} has deletion protection on"));
        }
        for (key, value) in tags {
            let key_says = matches!(
                key.to_ascii_lowercase().as_str(),
                "env" | "environment" | "stage"
            );
            let value_says = matches!(value.to_ascii_lowercase().as_str(), "prod" | "production");
            if key_says && value_says {
                found.push(format!("{id:?} is tagged {key}={value}"));
            }
        }
    };
    if let Some(c) = obs.cluster(name).filter(|c| c.mitosis_role().is_none()) {
        check(&c.id, c.deletion_protection, &c.tags);
        for m in &c.members {
            if let Some(i) = obs.get(&m.id).filter(|i| i.mitosis_role().is_none()) {
                check(&i.id, i.deletion_protection, &i.tags);
            }
        }
    } else if obs.get(name).is_some_and(|i| i.mitosis_role().is_none()) {
        for id in obs.tree(name) {
            if let Some(i) = obs.get(&id).filter(|i| i.mitosis_role().is_none()) {
                check(&i.id, i.deletion_protection, &i.tags);
            }
        }
    }
    found
}

pub fn check_available(i: &Instance, what: &str) -> Result<(), MitosisError> {
    if i.is_available() {
        Ok(())
    } else {
        Err(MitosisError::bad_input(format!(
            "{what} instance {:?} is {:?}, not available: wait until it is available and run again",
            i.id, i.status
        )))
    }
}

pub fn check_engines(source: &Instance, target: &Instance) -> Result<(), MitosisError> {
    if source.engine != target.engine {
        return Err(MitosisError::bad_input(format!(
            "source {:?} runs {} but target {:?} runs {}: the clone would not fit the target's parameter and option groups; pick a source of the same engine",
            source.id, source.engine, target.id, target.engine
        )));
    }
    Ok(())
}

/// The runs whose markers the instances of `nodes` carry.
pub fn runs_of(nodes: &[Node]) -> BTreeSet<&str> {
    nodes
        .iter()
        .flat_map(|n| [n.original.as_ref(), n.replacement.as_ref()])
        .flatten()
        .filter(|i| i.mitosis_role().is_some())
        .filter_map(|i| i.tag(tags::RUN))
        .collect()
}

/// The run in progress, read back from the tool's tags (`runs`, from the target's resources),
/// or the new run id. Before any clone exists, a fresh snapshot this tool took for the target
/// (and still marks) tells the run.
pub fn run_of<'s>(
    runs: BTreeSet<&str>,
    snapshots: impl Iterator<Item = &'s Snapshot>,
    target: &str,
    fresh: &str,
) -> Result<(String, bool), MitosisError> {
    match runs.len() {
        0 => {
            let snapshot_run = snapshots
                .filter(|s| s.is_fresh_for(target))
                .max_by_key(|s| s.created)
                .and_then(|s| s.tag(tags::RUN));
            match snapshot_run {
                Some(run) => Ok((run.to_string(), true)),
                None => Ok((fresh.to_string(), false)),
            }
        }
        1 => Ok((runs.into_iter().next().unwrap_or(fresh).to_string(), true)),
        _ => Err(MitosisError::bad_input(format!(
            "the target tree carries markers of several runs ({}): finish or clean up the older one by hand first",
            runs.into_iter().collect::<Vec<_>>().join(", ")
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_names() {
        for ok in ["demo", "mitosis-prod", "a", &"a".repeat(63), "qa-1-replica"] {
            assert!(validate_identifier("target", ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn rejects_each_rule_with_a_reason() {
        let cases = [
            ("", "is empty"),
            ("1demo", "begin with a letter"),
            ("demo_1", "only letters, digits and hyphens"),
            ("demo-", "end with a hyphen"),
            ("de--mo", "two consecutive hyphens"),
        ];
        for (id, reason) in cases {
            let err = validate_identifier("target", id).unwrap_err().to_string();
            assert!(err.contains(reason), "{id}: {err}");
        }
        let long = "a".repeat(64);
        assert!(validate_identifier("target", &long)
            .unwrap_err()
            .to_string()
            .contains("64 characters"));
    }
}
