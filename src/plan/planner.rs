//! The planner: observed state + request -> plan. Pure: no AWS client, clock or environment.
//!
//! Resuming is planning again against what is observed. The tool tags what it creates
//! (`stack-mitosis:role=temp`) and what it retires (`role=old`), with the target-tree name each
//! belongs to; tags follow renames, so every step can tell whether it is already done.

use super::attributes::{CreateAttrs, ModifyAttrs};
use super::validate::validate_identifier;
use super::{ClonePath, Op, Phase, Plan, Step, Tag};
use crate::error::MitosisError;
use crate::model::{tags, Instance, Observed, Snapshot, OLD_PREFIX, TEMP_PREFIX};
use std::collections::BTreeSet;

/// Which snapshot the snapshot path restores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnapshotChoice {
    /// The source's newest snapshot whose status is `available`.
    Latest,
    /// A new snapshot of the source, taken first (current data, at the cost of its time).
    Fresh,
    /// This snapshot of the source.
    Id(String),
}

#[derive(Debug, Clone)]
pub struct PlanRequest {
    pub source: String,
    pub target: String,
    /// Shell command run after the swap, before anything is deleted.
    pub restart: Option<String>,
    /// Shell command run once the clone tree is built, before any rename: the place to scrub
    /// personal data or rotate passwords before anyone can reach the copy.
    pub before_swap: Option<String>,
    /// Keep a final snapshot of each old-* instance when deleting it.
    pub final_snapshot: bool,
    /// Clone through a snapshot even when source and target share a VPC.
    pub snapshot_path: bool,
    pub snapshot: SnapshotChoice,
    /// Identifier for a new run; ignored when the observed tags show a run in progress.
    pub run_id: String,
}

/// One instance of the target tree, by its original name, with what stands for it now.
#[derive(Debug)]
pub(super) struct Node {
    pub(super) name: String,
    pub(super) parent: Option<String>,
    pub(super) children: Vec<String>,
    /// The instance with the old data: `name` itself, or `old-name` once retired.
    pub(super) original: Option<Instance>,
    /// The clone: `temp-name`, or `name` itself once swapped in.
    pub(super) clone: Option<Instance>,
}

impl Node {
    pub(super) fn temp(&self) -> String {
        format!("{TEMP_PREFIX}{}", self.name)
    }
    pub(super) fn old(&self) -> String {
        format!("{OLD_PREFIX}{}", self.name)
    }
    /// Where the target's own attributes are read from: the original while it exists,
    /// otherwise the clone that was built with them.
    fn attributes(&self) -> &Instance {
        self.original
            .as_ref()
            .or(self.clone.as_ref())
            .expect("a node is built from an instance")
    }
    pub(super) fn swapped(&self) -> bool {
        self.clone.as_ref().is_some_and(|c| c.id == self.name)
    }
    fn retired(&self) -> bool {
        self.original.as_ref().is_none_or(|o| o.id != self.name)
    }
}

pub fn plan(obs: &Observed, req: &PlanRequest) -> Result<Plan, MitosisError> {
    validate_identifier("--source", &req.source)?;
    validate_identifier("--target", &req.target)?;
    if req.source == req.target {
        return Err(MitosisError::bad_input(format!(
            "--source and --target are both {:?}: the target must be a different instance",
            req.source
        )));
    }
    let source = obs.get(&req.source).ok_or_else(|| {
        MitosisError::bad_input(format!(
            "source instance {:?} was not found in {}: check --source and the region",
            req.source, obs.account.region
        ))
    })?;
    reject_cluster_member(source, "source")?;

    let source_root = obs.root_of(&req.source);
    let source_tree = obs.tree(&source_root);
    let target_is_clone = obs
        .get(&req.target)
        .is_some_and(|t| t.is_marked(tags::ROLE_TEMP, &req.target));
    if source_tree.contains(&req.target) && !target_is_clone {
        return Err(MitosisError::bad_input(format!(
            "source {:?} and target {:?} are in one replica tree (root {source_root:?}): the target tree is replaced and the source tree must stay untouched, so pick a target outside the source's tree",
            req.source, req.target
        )));
    }
    let nodes = target_nodes(obs, &req.target)?;
    for node in &nodes {
        reject_cluster_member(node.attributes(), "target-tree")?;
        check_names(obs, node)?;
    }
    let (run_id, resuming) = run_of(&nodes, &req.run_id)?;
    let root = &nodes[0];
    check_engines(source, root.attributes())?;
    if !resuming {
        check_available(source, "source")?;
        for node in &nodes {
            check_available(node.attributes(), "target-tree")?;
        }
    }

    let path = if req.snapshot_path || source.vpc_id != root.attributes().vpc_id {
        ClonePath::Snapshot
    } else {
        ClonePath::Replica
    };

    let mut b = Builder {
        steps: Vec::new(),
        req,
        run_id: run_id.clone(),
    };
    b.clone_phase(obs, &nodes, path, source)?;
    b.swap_phases(&nodes);
    b.cleanup_phase(&nodes);

    Ok(Plan {
        source: req.source.clone(),
        target: req.target.clone(),
        path,
        run_id,
        resuming,
        steps: b.steps,
        eta: None,
    })
}

struct Builder<'a> {
    steps: Vec<Step>,
    req: &'a PlanRequest,
    run_id: String,
}

impl Builder<'_> {
    fn push(
        &mut self,
        id: String,
        phase: Phase,
        instance: &str,
        op: Op,
        depends_on: Vec<String>,
        skip: Option<String>,
    ) -> String {
        self.steps.push(Step {
            id: id.clone(),
            phase,
            instance: instance.to_string(),
            op,
            depends_on,
            skip,
        });
        id
    }

    fn marker_tags(&self, role: &str, original: &str) -> Vec<Tag> {
        [
            (tags::ROLE, role),
            (tags::ORIGINAL, original),
            (tags::RUN, self.run_id.as_str()),
            (tags::SOURCE, self.req.source.as_str()),
        ]
        .into_iter()
        .map(|(k, v)| Tag {
            key: k.to_string(),
            value: v.to_string(),
        })
        .collect()
    }

    /// Create temp-X for every X, parents first, each with X's attributes.
    fn clone_phase(
        &mut self,
        obs: &Observed,
        nodes: &[Node],
        path: ClonePath,
        source: &Instance,
    ) -> Result<(), MitosisError> {
        for (i, node) in nodes.iter().enumerate() {
            let x = node.attributes();
            let is_root = i == 0;
            let restore = is_root && path == ClonePath::Snapshot;
            let mut tag_list: Vec<Tag> = x
                .user_tags()
                .into_iter()
                .map(|(key, value)| Tag { key, value })
                .collect();
            tag_list.extend(self.marker_tags(tags::ROLE_TEMP, &node.name));
            let attrs = CreateAttrs::from_instance(x, tag_list, restore);
            let built = node.clone.as_ref().map(|c| {
                if node.swapped() {
                    format!("already swapped in as {}", node.name)
                } else {
                    format!("{} exists (created by run {})", c.id, self.run_id)
                }
            });

            let (op, create_deps) = if restore {
                let (snapshot_id, snapshot_step) =
                    self.choose_snapshot(obs, source, built.is_some())?;
                let op = Op::RestoreDBInstanceFromDBSnapshot { snapshot_id, attrs };
                (op, snapshot_step.into_iter().collect())
            } else {
                // The root replicates the source; every other clone its parent's clone.
                let (parent, deps) = match &node.parent {
                    Some(p) => (
                        format!("{TEMP_PREFIX}{p}"),
                        vec![format!("configure-{TEMP_PREFIX}{p}")],
                    ),
                    None => (self.req.source.clone(), Vec::new()),
                };
                let op = Op::CreateDBInstanceReadReplica {
                    source: parent,
                    attrs,
                };
                (op, deps)
            };
            let create_id = self.push(
                format!("create-{}", node.temp()),
                Phase::Clone,
                &node.temp(),
                op,
                create_deps,
                built,
            );

            let mut configure_deps = vec![create_id.clone()];
            if is_root && path == ClonePath::Replica {
                // Detach from the source: a PostgreSQL replica cannot have replicas of its own,
                // and the clone must stop following production.
                let skip = match &node.clone {
                    Some(c) if node.swapped() => Some(format!("already swapped in as {}", c.id)),
                    Some(c) if c.replica_source.is_none() => {
                        Some(format!("{} is already a standalone primary", c.id))
                    }
                    _ => None,
                };
                let id = self.push(
                    format!("promote-{}", node.temp()),
                    Phase::Clone,
                    &node.temp(),
                    Op::PromoteReadReplica,
                    vec![create_id],
                    skip,
                );
                configure_deps = vec![id];
            }

            let modify = ModifyAttrs::post_create(x, is_root, !node.children.is_empty(), restore);
            let skip = match &node.clone {
                Some(c) if node.swapped() => Some(format!("already swapped in as {}", c.id)),
                Some(c) if modify.already_applied(c) => {
                    Some(format!("{} already has these attributes", c.id))
                }
                _ => None,
            };
            self.push(
                format!("configure-{}", node.temp()),
                Phase::Clone,
                &node.temp(),
                Op::ModifyDBInstance(modify),
                configure_deps,
                skip,
            );
        }
        Ok(())
    }

    /// Retire every X to old-X, then swap every temp-X in as X; children before parents, as
    /// the refresh procedure orders them.
    fn swap_phases(&mut self, nodes: &[Node]) {
        let mut clone_done: Vec<String> = nodes
            .iter()
            .map(|n| format!("configure-{}", n.temp()))
            .collect();
        if let Some(command) = &self.req.before_swap {
            let started = nodes.iter().any(|n| n.retired() || n.swapped());
            let skip = started.then(|| "the swap has already begun".to_string());
            let root = nodes[0].temp();
            clone_done = vec![self.push(
                "before-swap".into(),
                Phase::Prepare,
                &root,
                Op::RunCommand {
                    command: command.clone(),
                },
                clone_done,
                skip,
            )];
        }
        for node in nodes.iter().rev() {
            let marked = node
                .original
                .as_ref()
                .is_none_or(|o| o.is_marked(tags::ROLE_OLD, &node.name));
            let skip = marked.then(|| format!("{} already marked for retirement", node.name));
            let tags = self.marker_tags(tags::ROLE_OLD, &node.name);
            let mark = self.push(
                format!("mark-{}", node.name),
                Phase::Retire,
                &node.name,
                Op::AddTagsToResource { tags },
                clone_done.clone(),
                skip,
            );
            let skip = node
                .retired()
                .then(|| format!("{} already retired as {}", node.name, node.old()));
            self.push(
                format!("retire-{}", node.name),
                Phase::Retire,
                &node.name,
                Op::ModifyDBInstance(ModifyAttrs::rename(&node.old())),
                vec![mark],
                skip,
            );
        }
        for node in nodes.iter().rev() {
            let skip = node
                .swapped()
                .then(|| format!("{} already swapped in as {}", node.temp(), node.name));
            self.push(
                format!("swap-{}", node.name),
                Phase::Swap,
                &node.temp(),
                Op::ModifyDBInstance(ModifyAttrs::rename(&node.name)),
                vec![format!("retire-{}", node.name)],
                skip,
            );
        }
    }

    /// The restart command, then (only after it succeeded) the deletes of old-* and the
    /// removal of the tool's markers.
    fn cleanup_phase(&mut self, nodes: &[Node]) {
        let swaps: Vec<String> = nodes.iter().map(|n| format!("swap-{}", n.name)).collect();
        let cleanup_started = nodes.iter().any(|n| n.original.is_none());
        let gate = match &self.req.restart {
            Some(command) => {
                let skip =
                    cleanup_started.then(|| "old instances are already being deleted".to_string());
                vec![self.push(
                    "restart".into(),
                    Phase::Restart,
                    &self.req.target.clone(),
                    Op::RunCommand {
                        command: command.clone(),
                    },
                    swaps,
                    skip,
                )]
            }
            None => swaps,
        };

        for node in nodes.iter().rev() {
            let mut delete_deps = gate.clone();
            let original_protection = node
                .original
                .as_ref()
                .is_some_and(|o| o.deletion_protection)
                || node.clone.as_ref().is_some_and(|c| c.deletion_protection);
            if original_protection {
                // The new X ends with X's own protection; it is set before old-X loses it, so
                // the value survives in one of them whenever a run is interrupted.
                let skip = node
                    .clone
                    .as_ref()
                    .is_some_and(|c| c.deletion_protection)
                    .then(|| format!("{} is already protected", node.name));
                let protect = self.push(
                    format!("protect-{}", node.name),
                    Phase::Cleanup,
                    &node.name,
                    Op::ModifyDBInstance(ModifyAttrs::deletion_protection(true)),
                    gate.clone(),
                    skip,
                );
                let skip = match &node.original {
                    None => Some(format!("{} already deleted", node.old())),
                    Some(o) if !o.deletion_protection => {
                        Some(format!("{} is already unprotected", node.old()))
                    }
                    Some(_) => None,
                };
                delete_deps.push(self.push(
                    format!("unprotect-{}", node.old()),
                    Phase::Cleanup,
                    &node.old(),
                    Op::ModifyDBInstance(ModifyAttrs::deletion_protection(false)),
                    vec![protect],
                    skip,
                ));
            }
            // Replicas go first: deleting a primary promotes its replicas, which would then be
            // busy when their own delete arrives.
            delete_deps.extend(
                node.children
                    .iter()
                    .map(|c| format!("delete-{OLD_PREFIX}{c}")),
            );
            let skip = node
                .original
                .is_none()
                .then(|| format!("{} already deleted", node.old()));
            self.push(
                format!("delete-{}", node.old()),
                Phase::Cleanup,
                &node.old(),
                Op::DeleteDBInstance {
                    final_snapshot_id: self
                        .req
                        .final_snapshot
                        .then(|| final_snapshot_id(&node.old(), &self.run_id)),
                },
                delete_deps,
                skip,
            );
        }

        // The root's markers go last: while they remain, a rerun knows the whole tree is new.
        let mut unmarked = Vec::new();
        let all_deletes: Vec<String> = nodes
            .iter()
            .map(|n| format!("delete-{}", n.old()))
            .collect();
        for node in nodes.iter().rev() {
            let has_markers = node
                .clone
                .as_ref()
                .is_none_or(|c| c.tags.keys().any(|k| k.starts_with(tags::PREFIX)));
            let skip = (!has_markers).then(|| format!("{} has no markers left", node.name));
            let mut deps = all_deletes.clone();
            if node.parent.is_none() {
                deps.extend(unmarked.iter().cloned());
            }
            let keys = tags::MARKERS.iter().map(|k| k.to_string()).collect();
            unmarked.push(self.push(
                format!("unmark-{}", node.name),
                Phase::Cleanup,
                &node.name,
                Op::RemoveTagsFromResource { keys },
                deps,
                skip,
            ));
        }
    }

    /// The snapshot to restore, and the id of the step that takes it when it is fresh.
    fn choose_snapshot(
        &mut self,
        obs: &Observed,
        source: &Instance,
        restore_done: bool,
    ) -> Result<(String, Option<String>), MitosisError> {
        let available = |s: &&Snapshot| s.status == "available" && s.instance_id == source.id;
        match &self.req.snapshot {
            SnapshotChoice::Fresh => {
                let snapshot_id = fresh_snapshot_id(&source.id, &self.run_id);
                let exists = obs.snapshots.iter().any(|s| s.id == snapshot_id);
                let skip = if restore_done {
                    Some("the clone is already restored".to_string())
                } else {
                    exists.then(|| format!("snapshot {snapshot_id} already exists"))
                };
                let op = Op::CreateDBSnapshot {
                    snapshot_id: snapshot_id.clone(),
                    tags: self.marker_tags("snapshot", &self.req.target.clone()),
                };
                let id = self.push(
                    format!("snapshot-{}", source.id),
                    Phase::Clone,
                    &source.id,
                    op,
                    Vec::new(),
                    skip,
                );
                Ok((snapshot_id, Some(id)))
            }
            SnapshotChoice::Id(wanted) => {
                if restore_done {
                    return Ok((wanted.clone(), None));
                }
                match obs.snapshots.iter().find(|s| &s.id == wanted) {
                    Some(s) if available(&s) => Ok((wanted.clone(), None)),
                    Some(s) if s.instance_id != source.id => Err(MitosisError::bad_input(format!(
                        "snapshot {wanted:?} is of {:?}, not of the source {:?}: pick a snapshot of the source",
                        s.instance_id, source.id
                    ))),
                    Some(s) => Err(MitosisError::bad_input(format!(
                        "snapshot {wanted:?} is {:?}, not available: wait for it or pick another with --snapshot",
                        s.status
                    ))),
                    None => Err(MitosisError::bad_input(format!(
                        "snapshot {wanted:?} of {:?} was not found: list them with `aws rds describe-db-snapshots --db-instance-identifier {}`",
                        source.id, source.id
                    ))),
                }
            }
            SnapshotChoice::Latest => {
                let newest = obs
                    .snapshots
                    .iter()
                    .filter(available)
                    .max_by_key(|s| (s.created, s.id.clone()));
                match newest {
                    Some(s) => Ok((s.id.clone(), None)),
                    // Resuming after the restore: the snapshot no longer matters.
                    None if restore_done => Ok(("(already restored)".into(), None)),
                    None => Err(MitosisError::bad_input(format!(
                        "the source {:?} has no available snapshot to restore: use --snapshot fresh to take one first",
                        source.id
                    ))),
                }
            }
        }
    }
}

/// The snapshot `--snapshot fresh` takes of the source.
pub fn fresh_snapshot_id(source: &str, run_id: &str) -> String {
    snapshot_id(&format!("stack-mitosis-{source}-{run_id}"))
}

/// The snapshot `--final-snapshot` keeps of an old-* instance.
pub fn final_snapshot_id(old: &str, run_id: &str) -> String {
    snapshot_id(&format!("stack-mitosis-final-{old}-{run_id}"))
}

/// Snapshot identifiers follow the instance identifier rules (255 characters at most).
fn snapshot_id(raw: &str) -> String {
    let id: String = raw
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let mut id: String = id.chars().take(255).collect();
    while id.ends_with('-') || id.contains("--") {
        id = id.replace("--", "-").trim_end_matches('-').to_string();
    }
    id
}

/// The original target tree, as logical nodes, parents first.
///
/// Two trees may stand for it: the original one (rooted at the target, or at old-target once
/// retired) and the clone (rooted at temp-target, or at the target once swapped in). The
/// original is whole until cleanup starts, and the clone is whole by then, so the larger of
/// the two has the shape.
pub(super) fn target_nodes(obs: &Observed, target: &str) -> Result<Vec<Node>, MitosisError> {
    let old_target = format!("{OLD_PREFIX}{target}");
    let temp_target = format!("{TEMP_PREFIX}{target}");
    let target_inst = obs.get(target);
    let is_clone = |i: &Instance| i.is_marked(tags::ROLE_TEMP, target);

    let original_root = match target_inst {
        Some(t) if !is_clone(t) => Some(t),
        _ => obs
            .get(&old_target)
            .filter(|o| o.is_marked(tags::ROLE_OLD, target)),
    };
    let clone_root = match target_inst {
        Some(t) if is_clone(t) => Some(t),
        _ => obs.get(&temp_target).filter(|t| is_clone(t)),
    };
    if original_root.or(clone_root).is_none() {
        return Err(MitosisError::bad_input(format!(
            "target instance {target:?} was not found in {}: check --target and the region",
            obs.account.region
        )));
    };
    if let Some(t) = target_inst {
        if t.replica_source.is_some() && original_root.is_some_and(|o| o.id == t.id) {
            let root = obs.root_of(target);
            return Err(MitosisError::bad_input(format!(
                "target {target:?} is a read replica of {root:?}: give the root of the target tree as --target ({root:?})"
            )));
        }
    }

    let logical = |i: &Instance| -> String {
        match (i.mitosis_role(), i.tag(tags::ORIGINAL)) {
            (Some(_), Some(name)) => name.to_string(),
            _ => i.id.clone(),
        }
    };
    let index = |root: Option<&Instance>| -> Vec<(String, Instance)> {
        root.map(|r| obs.tree(&r.id))
            .unwrap_or_default()
            .into_iter()
            .filter_map(|id| obs.get(&id))
            .map(|i| (logical(i), i.clone()))
            .collect()
    };
    let originals = index(original_root);
    let clones = index(clone_root);
    // The original tree is whole until its first delete; by then the clone tree is whole.
    let shape = if clones.len() > originals.len() {
        clones.clone()
    } else {
        originals.clone()
    };

    let mut nodes = Vec::new();
    for (name, inst) in &shape {
        let parent = obs
            .parent(&inst.id)
            .and_then(|p| shape.iter().find(|(_, i)| i.id == p))
            .map(|(n, _)| n.clone());
        let children = obs
            .children(&inst.id)
            .iter()
            .filter_map(|c| shape.iter().find(|(_, i)| &i.id == c))
            .map(|(n, _)| n.clone())
            .collect();
        let find = |list: &[(String, Instance)]| {
            list.iter().find(|(n, _)| n == name).map(|(_, i)| i.clone())
        };
        nodes.push(Node {
            name: name.clone(),
            parent: if nodes.is_empty() { None } else { parent },
            children,
            original: find(&originals),
            clone: find(&clones),
        });
    }
    Ok(nodes)
}

/// temp-X and old-X must fit in 63 characters and must be the tool's own if they exist.
fn check_names(obs: &Observed, node: &Node) -> Result<(), MitosisError> {
    for (name, role, ours) in [
        (node.temp(), tags::ROLE_TEMP, node.clone.as_ref()),
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

fn reject_cluster_member(i: &Instance, what: &str) -> Result<(), MitosisError> {
    match &i.cluster {
        Some(cluster) => Err(MitosisError::bad_input(format!(
            "{what} instance {:?} is a member of Aurora cluster {cluster:?}: clusters are not supported yet; refresh standalone RDS instances only",
            i.id
        ))),
        None => Ok(()),
    }
}

fn check_available(i: &Instance, what: &str) -> Result<(), MitosisError> {
    if i.is_available() {
        Ok(())
    } else {
        Err(MitosisError::bad_input(format!(
            "{what} instance {:?} is {:?}, not available: wait until it is available and run again",
            i.id, i.status
        )))
    }
}

fn check_engines(source: &Instance, target: &Instance) -> Result<(), MitosisError> {
    if source.engine != target.engine {
        return Err(MitosisError::bad_input(format!(
            "source {:?} runs {} but target {:?} runs {}: the clone would not fit the target's parameter and option groups; pick a source of the same engine",
            source.id, source.engine, target.id, target.engine
        )));
    }
    Ok(())
}

/// The run in progress, read back from the tool's tags, or the new run id.
fn run_of(nodes: &[Node], fresh: &str) -> Result<(String, bool), MitosisError> {
    let runs: BTreeSet<&str> = nodes
        .iter()
        .flat_map(|n| [n.original.as_ref(), n.clone.as_ref()])
        .flatten()
        .filter(|i| i.mitosis_role().is_some())
        .filter_map(|i| i.tag(tags::RUN))
        .collect();
    match runs.len() {
        0 => Ok((fresh.to_string(), false)),
        1 => Ok((runs.into_iter().next().unwrap_or(fresh).to_string(), true)),
        _ => Err(MitosisError::bad_input(format!(
            "the target tree carries markers of several runs ({}): finish or clean up the older one by hand first",
            runs.into_iter().collect::<Vec<_>>().join(", ")
        ))),
    }
}
