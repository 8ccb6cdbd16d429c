//! Reading the state the planner needs. Read-only by construction: it takes `RdsRead`, which
//! has no mutating method.

use super::RdsRead;
use crate::error::MitosisError;
use crate::observed::{AccountInfo, Observed, OLD_PREFIX, TEMP_PREFIX};
use crate::plan::{SnapshotOf, FRESH_SNAPSHOT_PREFIX};
use std::collections::BTreeSet;

/// Every instance and cluster, the tags of those that matter (the source's tree, the target's
/// tree and every temp-/old- instance that may belong to it; for clusters, the four clusters
/// and their members), and the source's snapshots.
///
/// With `source_api` (a cross-account refresh), the source is read in its own account, and
/// the target account's snapshots of the source (the tool's copies) in this one. When both
/// turn out to be one account, the state is that of one account.
pub async fn observe(
    api: &dyn RdsRead,
    source_api: Option<&dyn RdsRead>,
    source: &str,
    target: &str,
) -> Result<Observed, MitosisError> {
    let Some(source_api) = source_api else {
        return observe_account(api, source, target, None).await;
    };
    let src = observe_account(source_api, source, target, None).await?;
    let of = snapshots_of(&src, source).unwrap_or(SnapshotOf::Instance);
    let obs = observe_account(api, source, target, Some(of)).await?;
    if src.account.account == obs.account.account {
        return Ok(obs);
    }
    Ok(obs.with_source_account(src))
}

/// Whose snapshots the source has, when it exists in this state.
fn snapshots_of(obs: &Observed, source: &str) -> Option<SnapshotOf> {
    if obs.clusters.contains_key(source) {
        Some(SnapshotOf::Cluster)
    } else {
        obs.instances
            .contains_key(source)
            .then_some(SnapshotOf::Instance)
    }
}

/// How many times a state is read before it is taken as it is (see `observe_account`).
const READS: usize = 4;

/// One account's state; `of` says whose snapshots of `source` to read when the source is
/// not in this account.
///
/// A state is read in several calls (the instances, then each one's tags), and another run
/// may rename, create or delete between them: the tags of `temp-X` read after it became `X`
/// are missing, and the state would show a clone the tool seems not to have made. So the
/// identifiers are read again after the tags: a state whose instances or clusters changed
/// meanwhile is read again (a few times; then it is taken as read, and the lock decides).
async fn observe_account(
    api: &dyn RdsRead,
    source: &str,
    target: &str,
    of: Option<SnapshotOf>,
) -> Result<Observed, MitosisError> {
    let mut tries = 1;
    loop {
        let (read, tag_error) = read_account(api, source, target, of).await?;
        let instances = api.describe_instances().await?;
        let clusters = api.describe_clusters().await?;
        let now: BTreeSet<&String> = instances.iter().map(|i| &i.id).collect();
        let now_clusters: BTreeSet<&String> = clusters.iter().map(|c| &c.id).collect();
        let unchanged = read.instances.keys().eq(now.iter().copied())
            && read.clusters.keys().eq(now_clusters.iter().copied());
        if unchanged || tries == READS {
            return match tag_error {
                Some(e) => Err(e),
                None => Ok(read),
            };
        }
        tries += 1;
    }
}

/// One reading of an account's state (see `observe_account`), with the first error reading
/// an instance's or a cluster's tags (what vanished since it was listed has none to read).
async fn read_account(
    api: &dyn RdsRead,
    source: &str,
    target: &str,
    of: Option<SnapshotOf>,
) -> Result<(Observed, Option<MitosisError>), MitosisError> {
    let instances = api.describe_instances().await?;
    let account = instances
        .iter()
        .find_map(|i| AccountInfo::from_arn(&i.arn))
        .unwrap_or_else(|| AccountInfo::unknown(api.region().as_deref()));
    let clusters = api.describe_clusters().await?;
    let mut obs = Observed::new(instances, Vec::new(), account).with_clusters(clusters);

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
    let mut relevant_clusters = Vec::new();
    for seed in seeds.iter().filter(|s| obs.clusters.contains_key(*s)) {
        let cluster = &obs.clusters[seed];
        relevant.extend(cluster.members.iter().map(|m| m.id.clone()));
        relevant_clusters.push((seed.clone(), cluster.arn.clone()));
    }
    let mut tag_error = None;
    for (id, arn) in relevant_clusters {
        let tags = match api.list_tags(&arn).await {
            Ok(tags) => tags,
            Err(e) => {
                tag_error.get_or_insert(e);
                continue;
            }
        };
        let endpoints = api.describe_endpoints(Some(&id), None).await?;
        if let Some(c) = obs.clusters.get_mut(&id) {
            c.tags = tags;
            c.endpoints = endpoints;
        }
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
        let Some(arn) = obs.instances.get(id).map(|i| i.arn.clone()) else {
            continue;
        };
        if arn.is_empty() {
            continue;
        }
        let tags = match api.list_tags(&arn).await {
            Ok(tags) => tags,
            Err(e) => {
                tag_error.get_or_insert(e);
                continue;
            }
        };
        if let Some(inst) = obs.instances.get_mut(id) {
            inst.tags = tags;
        }
    }
    if let Some(of) = of.or_else(|| snapshots_of(&obs, source)) {
        obs.snapshots = api.describe_snapshots(of, source).await?;
        // The tool's own fresh snapshots say which run took them.
        for snap in obs.snapshots.iter_mut() {
            if snap.kind == "manual" && snap.id.starts_with(FRESH_SNAPSHOT_PREFIX) {
                snap.tags = api.list_tags(&snap.arn).await?;
            }
        }
    }
    Ok((obs, tag_error))
}
