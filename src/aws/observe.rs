//! Reading the state the planner needs. Read-only by construction: it takes `RdsRead`, which
//! has no mutating method.

use super::RdsRead;
use crate::error::MitosisError;
use crate::observed::{AccountInfo, Observed, OLD_PREFIX, TEMP_PREFIX};
use crate::plan::FRESH_SNAPSHOT_PREFIX;
use std::collections::BTreeSet;

/// Every instance, the tags of those that matter (the source's tree, the target's tree and
/// every temp-/old- instance that may belong to it), and the source's snapshots.
pub async fn observe(
    api: &dyn RdsRead,
    source: &str,
    target: &str,
) -> Result<Observed, MitosisError> {
    let instances = api.describe_instances().await?;
    let account = instances
        .iter()
        .find_map(|i| AccountInfo::from_arn(&i.arn))
        .unwrap_or_else(|| AccountInfo::unknown(api.region().as_deref()));
    let mut obs = Observed::new(instances, Vec::new(), account);

    let mut relevant: BTreeSet<String> = BTreeSet::new();
    let seeds = [
        source.to_string(),
        target.to_string(),
        format!("{OLD_PREFIX}{target}"),
        format!("{TEMP_PREFIX}{target}"),
    ];
    for seed in seeds.iter().filter(|s| obs.instances.contains_key(*s)) {
        relevant.extend(obs.tree(&obs.root_of(seed)));
    }
    let names: Vec<String> = relevant.iter().cloned().collect();
    for id in obs.instances.keys() {
        let stripped = id
            .strip_prefix(TEMP_PREFIX)
            .or_else(|| id.strip_prefix(OLD_PREFIX));
        if stripped.is_some_and(|s| names.iter().any(|n| n == s)) {
            relevant.insert(id.clone());
        }
    }
    for id in &relevant {
        let arn = obs.instances[id].arn.clone();
        if arn.is_empty() {
            continue;
        }
        let tags = api.list_tags(&arn).await?;
        if let Some(inst) = obs.instances.get_mut(id) {
            inst.tags = tags;
        }
    }
    if obs.instances.contains_key(source) {
        obs.snapshots = api.describe_snapshots(source).await?;
        // The tool's own fresh snapshots say which run took them.
        for snap in obs.snapshots.iter_mut() {
            if snap.kind == "manual" && snap.id.starts_with(FRESH_SNAPSHOT_PREFIX) {
                snap.tags = api.list_tags(&snap.arn).await?;
            }
        }
    }
    Ok(obs)
}
