//! The planner: observed state + request -> plan. Pure: no AWS client, clock or environment.
//!
//! Resuming is planning again against what is observed. The tool tags what it creates
//! (`stack-mitosis:role=temp`) and what it retires (`role=old`), with the target-tree name each
//! belongs to; tags follow renames, so every step can tell whether it is already done.

use super::attributes::{CreateAttrs, ModifyAttrs};
use super::ops::{
    CommandOp, CopyFor, GuardOp, Hook, InstanceOp, LockOp, Op, SnapshotOf, SnapshotOp, Tag,
};
use super::tree::{target_nodes, Node};
use super::validate::{
    check_available, check_engines, check_names, check_not_protected, check_restorable,
    reject_cluster_member, run_of, runs_of, validate_identifier,
};
use super::{ClonePath, Kind, Phase, Plan, Step, StepId, StepKind};
use crate::error::MitosisError;
use crate::observed::{tags, Instance, Observed, Snapshot};

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

/// `--source-time`: the moment the clone's data is taken from, by a point-in-time restore of
/// the source's automated backups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceTime {
    /// The source's latest restorable time (minutes ago).
    Latest,
    /// This moment, in epoch seconds.
    At(i64),
}

impl SourceTime {
    /// `latest`, or an RFC 3339 date and time (`2026-11-30T09:00:00Z`, offsets allowed).
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.trim() == "latest" {
            return Ok(SourceTime::Latest);
        }
        super::time::parse_rfc3339(s.trim())
            .map(SourceTime::At)
            .ok_or_else(|| {
                format!("--source-time {s:?} is neither `latest` nor an RFC 3339 date and time such as 2026-11-30T09:00:00Z")
            })
    }

    /// The moment as RFC 3339 (UTC), for requests and messages.
    pub fn rfc3339(secs: i64) -> String {
        super::time::rfc3339(secs)
    }
}

impl std::fmt::Display for SourceTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SourceTime::Latest => f.write_str("latest"),
            SourceTime::At(t) => f.write_str(&SourceTime::rfc3339(*t)),
        }
    }
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
    /// Show the commands redacted in the plan and the log (`--redact-commands`).
    pub redact_commands: bool,
    /// Keep a final snapshot of each old-* instance when deleting it.
    pub final_snapshot: bool,
    /// Clone through a snapshot even when source and target share a VPC.
    pub snapshot_path: bool,
    pub snapshot: SnapshotChoice,
    /// Identifier for a new run; ignored when the observed tags show a run in progress.
    pub run_id: String,
    /// Keep the snapshot `--snapshot fresh` takes (it is deleted once the clone exists).
    pub keep_snapshot: bool,
    /// Restore the source as of this moment instead of cloning or restoring a snapshot.
    pub source_time: Option<SourceTime>,
    /// The Secrets Manager secret holding the target's master password: the clone gets it
    /// before anyone uses it, so the application logs in as before.
    pub master_password_secret: Option<String>,
    /// Cross-account: the customer-managed key (shared with the target account) the source
    /// account's transfer copy is encrypted with.
    pub source_kms_key_id: Option<String>,
    /// Cross-account: the key the target account's copy is encrypted with (default: the
    /// target's own key).
    pub kms_key_id: Option<String>,
    /// A throwaway copy instead of a refresh: `target` is then the template (`--like`).
    pub copy: Option<super::copy::CopySpec>,
    /// `--config`: the environment's buckets and groups (`crate::kinds::extend` adds their
    /// steps to the database plan).
    pub environment: Option<crate::config::EnvSpec>,
    /// An environment's further databases (`--config`), each planned like `source` and
    /// `target` with the same choices, then merged into one plan (`super::merge`).
    pub more: Vec<crate::config::DatabasePair>,
    /// `--allow-protected-target`: replace a target that looks like production (deletion
    /// protection on, a production tag) all the same.
    pub allow_protected_target: bool,
}

impl PlanRequest {
    /// A refresh of `target` from `source` with no hooks, on the path the VPCs decide, from
    /// the latest snapshot if a snapshot is needed.
    pub fn new(source: &str, target: &str, run_id: &str) -> Self {
        PlanRequest {
            source: source.to_string(),
            target: target.to_string(),
            restart: None,
            before_swap: None,
            redact_commands: false,
            final_snapshot: false,
            snapshot_path: false,
            snapshot: SnapshotChoice::Latest,
            run_id: run_id.to_string(),
            keep_snapshot: false,
            source_time: None,
            master_password_secret: None,
            source_kms_key_id: None,
            kms_key_id: None,
            copy: None,
            environment: None,
            more: Vec::new(),
            allow_protected_target: false,
        }
    }

    /// One request per database pair, the plan's own first: each with this request's
    /// choices and run id, without the environment's buckets and groups (added to the merged
    /// plan).
    pub fn pairs(&self) -> Vec<PlanRequest> {
        let one = PlanRequest {
            environment: None,
            more: Vec::new(),
            ..self.clone()
        };
        let mut out = vec![one.clone()];
        for pair in &self.more {
            out.push(PlanRequest {
                source: pair.source.clone(),
                target: pair.target.clone(),
                master_password_secret: pair.master_password_secret.clone(),
                ..one.clone()
            });
        }
        out
    }
}

pub fn plan(obs: &Observed, req: &PlanRequest) -> Result<Plan, MitosisError> {
    if req.copy.is_some() {
        return super::copy::plan_copy(obs, req);
    }
    let mut plan = if super::cluster::names_a_cluster(obs, req) {
        super::cluster::plan_cluster(obs, req)?
    } else {
        plan_instances(obs, req)?
    };
    // Checked once the request is known to be sound otherwise: its own mistakes come first.
    let protected = super::validate::looks_like_production(obs, &req.target);
    if !protected.is_empty() && !req.allow_protected_target {
        return Err(MitosisError::bad_input(format!(
            "{}: a refresh retires and deletes the target. If {:?} really is the environment to replace, give --allow-protected-target; otherwise check --target (did you mean the source?)",
            protected.join("; "),
            req.target
        )));
    }
    plan.protected_targets = protected;
    Ok(plan)
}

/// The refresh of an instance tree.
fn plan_instances(obs: &Observed, req: &PlanRequest) -> Result<Plan, MitosisError> {
    validate_identifier("--source", &req.source)?;
    validate_identifier("--target", &req.target)?;
    let cross = obs.source_account.is_some();
    if req.source == req.target && !cross {
        return Err(MitosisError::bad_input(format!(
            "--source and --target are both {:?}: the target must be a different instance",
            req.source
        )));
    }
    let src = obs.source_view();
    let source = src.get(&req.source).ok_or_else(|| {
        MitosisError::bad_input(format!(
            "source instance {:?} was not found in {}{}: check --source and the region",
            req.source,
            src.account.region,
            in_account(obs)
        ))
    })?;
    reject_cluster_member(source, "source")?;

    let source_root = src.root_of(&req.source);
    let source_tree = src.tree(&source_root);
    let target_is_clone = obs
        .get(&req.target)
        .is_some_and(|t| t.is_marked(tags::ROLE_TEMP, &req.target));
    if !cross && source_tree.contains(&req.target) && !target_is_clone {
        return Err(MitosisError::bad_input(format!(
            "source {:?} and target {:?} are in one replica tree (root {source_root:?}): the target tree is replaced and the source tree must stay untouched, so pick a target outside the source's tree",
            req.source, req.target
        )));
    }
    let nodes = target_nodes(obs, &req.target)?;
    for node in &nodes {
        reject_cluster_member(node.attributes(), "target-tree")?;
        check_names(obs, node)?;
        if let Some(o) = &node.original {
            check_not_protected(&o.id, &o.tags)?;
        }
    }
    let (run_id, resuming) = run_of(
        runs_of(&nodes),
        obs.own_snapshots(),
        &req.target,
        &req.run_id,
    )?;
    let root = &nodes[0];
    check_engines(source, root.attributes())?;
    let hand_over = hand_over(
        obs,
        req,
        source.storage_encrypted,
        root.attributes().kms_key_id.as_deref(),
    )?;
    if !resuming {
        check_available(source, "source")?;
        for node in &nodes {
            check_available(node.attributes(), "target-tree")?;
        }
    }

    let path = instance_path(req, source, root.attributes(), cross, resuming)?;

    let mut b = Builder {
        steps: Vec::new(),
        req,
        run_id: run_id.clone(),
        snapshots_of: SnapshotOf::Instance,
        hand_over,
        clone_role: tags::ROLE_TEMP,
        copy_tags: Vec::new(),
    };
    let built = b.clone_phase(obs, &nodes, path, source)?;
    let swapped = b.swap_phases(&nodes, built);
    b.cleanup_phase(&nodes, swapped);

    let mut notes = managed_password_note(
        &req.target,
        root.attributes().managed_secret.as_deref(),
        req,
    );
    notes.extend(accounts_note(obs));
    let plan = Plan {
        source: req.source.clone(),
        target: req.target.clone(),
        kind: Kind::Instance,
        path,
        run_id,
        resuming,
        steps: b.steps,
        eta: None,
        notes,
        accounts: accounts(obs),
        operation: super::Operation::Refresh,
        copy_prefix: None,
        more: Vec::new(),
        protected_targets: Vec::new(),
    };
    // The lock is the invocation's own, even when it resumes an earlier run (see `LockOp`).
    Ok(with_lock(plan, &req.run_id))
}

/// How the root clone is made for a refresh or a copy: restored to a moment
/// (`--source-time`, the moment checked against the source's window unless resuming), restored
/// from a snapshot (handed over from another account, asked for, or into the target's other
/// VPC), or as a read replica of the source, promoted.
pub(super) fn instance_path(
    req: &PlanRequest,
    source: &Instance,
    target: &Instance,
    handed_over: bool,
    resuming: bool,
) -> Result<ClonePath, MitosisError> {
    Ok(if let Some(time) = req.source_time {
        if !resuming {
            check_restorable(source, time)?;
        }
        ClonePath::PointInTime
    } else if handed_over || req.snapshot_path || source.vpc_id != target.vpc_id {
        ClonePath::Snapshot
    } else {
        ClonePath::Replica
    })
}

/// The plan with the target's lock taken before anything else and released after everything:
/// the first step comes before every step that has no other dependency, the last after every
/// step that nothing depends on. A plan of several databases locks each target, one after
/// another in the order of their names (two runs that share databases cannot each hold one
/// and wait for the other).
pub fn with_lock(mut plan: Plan, holder: &str) -> Plan {
    let depended: std::collections::BTreeSet<StepId> = plan
        .steps
        .iter()
        .flat_map(|s| s.depends_on.iter().cloned())
        .collect();
    let unlock_after: Vec<StepId> = plan
        .steps
        .iter()
        .map(|s| s.id.clone())
        .filter(|id| !depended.contains(id))
        .collect();
    let mut targets: Vec<(usize, String)> = plan
        .pairs()
        .iter()
        .enumerate()
        .map(|(part, p)| (part, p.target.to_string()))
        .collect();
    targets.sort_by(|a, b| a.1.cmp(&b.1));
    let mut locks: Vec<Step> = Vec::new();
    let mut unlocks: Vec<Step> = Vec::new();
    let mut previous: Option<StepId> = None;
    for (part, target) in &targets {
        let lock = StepId::new(StepKind::Lock, target);
        let take = LockOp::Take {
            holder: holder.to_string(),
        };
        super::step::push(
            &mut locks,
            lock.clone(),
            Phase::Lock,
            target,
            Op::Lock(take),
            previous.iter().cloned().collect(),
            None,
        );
        let release = LockOp::Release {
            holder: holder.to_string(),
        };
        super::step::push(
            &mut unlocks,
            StepId::new(StepKind::Unlock, target),
            Phase::Lock,
            target,
            Op::Lock(release),
            unlock_after.clone(),
            None,
        );
        locks.last_mut().expect("pushed").part = *part;
        unlocks.last_mut().expect("pushed").part = *part;
        previous = Some(lock);
    }
    let last_lock = previous.expect("a plan has a target");
    for step in plan.steps.iter_mut().filter(|s| s.depends_on.is_empty()) {
        step.depends_on.push(last_lock.clone());
    }
    // The flight plan reads in the order things happen: the locks first, the unlocks last.
    locks.append(&mut plan.steps);
    locks.append(&mut unlocks);
    plan.steps = locks;
    plan
}

/// Emits the steps of one plan: the instance tree's here, the cluster's in `cluster.rs`.
pub(super) struct Builder<'a> {
    pub(super) steps: Vec<Step>,
    pub(super) req: &'a PlanRequest,
    pub(super) run_id: String,
    /// Whose snapshots the snapshot path takes and restores.
    pub(super) snapshots_of: SnapshotOf,
    /// A cross-account refresh: how the snapshot travels.
    pub(super) hand_over: Option<HandOver>,
    /// The role a clone is marked with: `temp` (a refresh) or `copy`.
    pub(super) clone_role: &'static str,
    /// More markers on every clone (a copy's prefix and expiry).
    pub(super) copy_tags: Vec<Tag>,
}

/// How a cross-account refresh hands the source's snapshot over to the target account.
#[derive(Debug, Clone)]
pub(super) struct HandOver {
    /// The target account, which the transfer snapshot is shared with.
    pub(super) target_account: String,
    /// The source account's transfer copy is encrypted with this key (encrypted sources).
    pub(super) source_key: Option<String>,
    /// The target account's copy is encrypted with this key (encrypted sources).
    pub(super) target_key: Option<String>,
}

/// What the snapshot path restores: the snapshot, the step after which it is available, and
/// the tool's own snapshot to let go of once the restore exists.
pub(super) struct Restorable {
    pub(super) snapshot_id: Option<String>,
    pub(super) after: Option<StepId>,
    release: Release,
}

enum Release {
    Nothing,
    /// The fresh snapshot (`--keep-snapshot` keeps it, unmarked).
    Fresh(String),
    /// The target account's copy of a shared snapshot: always deleted.
    Import(String),
}

/// The hand-over's keys, checked before anything runs (None in a single account).
pub(super) fn hand_over(
    obs: &Observed,
    req: &PlanRequest,
    source_encrypted: bool,
    target_key: Option<&str>,
) -> Result<Option<HandOver>, MitosisError> {
    let Some(src) = obs.source_account.as_deref() else {
        return Ok(None);
    };
    if req.source_time.is_some() {
        return Err(MitosisError::bad_input(format!(
            "--source-time cannot reach a source in another account ({}): a point-in-time restore happens in the source's own account; use --snapshot fresh for current data",
            src.account.account
        )));
    }
    let (source_key, target_key) = if source_encrypted {
        let Some(source_key) = req.source_kms_key_id.clone() else {
            return Err(MitosisError::bad_input(format!(
                "source {:?} is encrypted: give --source-kms-key-id, a customer-managed KMS key in account {} whose key policy allows account {} (a snapshot encrypted with the default aws/rds key can never be shared); `iam-policy` prints the key-policy statement",
                req.source, src.account.account, obs.account.account
            )));
        };
        let Some(target_key) = req.kms_key_id.clone().or(target_key.map(str::to_string)) else {
            return Err(MitosisError::bad_input(format!(
                "source {:?} is encrypted but target {:?} is not: give --kms-key-id, a KMS key of account {} for the target's copy of the shared snapshot",
                req.source, req.target, obs.account.account
            )));
        };
        (Some(source_key), Some(target_key))
    } else {
        (None, None)
    };
    Ok(Some(HandOver {
        target_account: obs.account.account.clone(),
        source_key,
        target_key,
    }))
}

/// " (account N)" when the source lives in another account.
pub(super) fn in_account(obs: &Observed) -> String {
    match &obs.source_account {
        Some(src) => format!(" (account {})", src.account.account),
        None => String::new(),
    }
}

/// The two accounts of a cross-account plan.
pub(super) fn accounts(obs: &Observed) -> Option<super::Accounts> {
    obs.source_account.as_ref().map(|src| super::Accounts {
        source: src.account.account.clone(),
        target: obs.account.account.clone(),
    })
}

/// What a cross-account plan should say up front.
pub(super) fn accounts_note(obs: &Observed) -> Option<String> {
    let src = obs.source_account.as_ref()?;
    Some(format!(
        "the source is in account {} and the target in account {}: the snapshot is copied in each account (full copies of the data, which take longer than a restore in one account), shared in between, and both copies are deleted once the clone exists",
        src.account.account, obs.account.account
    ))
}

/// Why a step on a clone is already done: it has been swapped in, or `done` says so.
fn clone_skip(node: &Node, done: impl FnOnce(&Instance) -> Option<String>) -> Option<String> {
    match &node.replacement {
        Some(c) if node.swapped() => Some(format!("already swapped in as {}", c.id)),
        Some(c) => done(c),
        None => None,
    }
}

impl Builder<'_> {
    pub(super) fn push(
        &mut self,
        id: StepId,
        phase: Phase,
        resource: &str,
        op: Op,
        depends_on: Vec<StepId>,
        skip: Option<String>,
    ) -> StepId {
        super::step::push(&mut self.steps, id, phase, resource, op, depends_on, skip)
    }

    pub(super) fn marker_tags(&self, role: &str, original: &str) -> Vec<Tag> {
        [
            (tags::ROLE, role),
            (tags::ORIGINAL, original),
            (tags::RUN, self.run_id.as_str()),
            (tags::SOURCE, self.req.source.as_str()),
        ]
        .into_iter()
        .map(|(k, v)| Tag::new(k, v))
        .collect()
    }

    /// Create temp-X for every X, parents first, each with X's attributes. Returns, by node,
    /// the step after which each clone is complete.
    pub(super) fn clone_phase(
        &mut self,
        obs: &Observed,
        nodes: &[Node],
        path: ClonePath,
        source: &Instance,
    ) -> Result<Vec<StepId>, MitosisError> {
        let mut configured: Vec<StepId> = Vec::new();
        for (i, node) in nodes.iter().enumerate() {
            let is_root = i == 0;
            // A restore (from a snapshot or to a point in time) takes the attributes a replica
            // cannot be given, and those only a modify can set afterwards.
            let restore = is_root && matches!(path, ClonePath::Snapshot | ClonePath::PointInTime);
            // The root's data comes from the source; every other clone's from its parent's.
            let parent_clone = node
                .parent
                .as_ref()
                .and_then(|p| nodes.iter().position(|n| &n.name == p))
                .map(|p| (nodes[p].temp(), configured[p].clone()));
            let created = match (restore, self.req.source_time) {
                (true, Some(time)) => self.point_in_time_step(node, source, time),
                (true, None) => self.restore_step(obs, node, source)?,
                (false, _) => self.replica_step(node, parent_clone),
            };
            let ready = if is_root && path == ClonePath::Replica {
                self.promote_step(node, created)
            } else {
                created
            };
            configured.push(self.configure_step(node, is_root, restore, ready));
        }
        Ok(configured)
    }

    fn clone_attrs(&self, node: &Node, restore: bool) -> CreateAttrs {
        let x = node.attributes();
        CreateAttrs::from_instance(x, self.clone_tags(x.user_tags(), &node.name), restore)
    }

    /// A clone's tags: the user's own tags of what it stands for (`original`), and the run's
    /// markers.
    pub(super) fn clone_tags(
        &self,
        user: std::collections::BTreeMap<String, String>,
        original: &str,
    ) -> Vec<Tag> {
        let mut list: Vec<Tag> = user
            .into_iter()
            .map(|(key, value)| Tag { key, value })
            .collect();
        list.extend(self.marker_tags(self.clone_role, original));
        list.extend(self.copy_tags.iter().cloned());
        list
    }

    fn create_skip(&self, node: &Node) -> Option<String> {
        clone_skip(node, |c| {
            Some(format!("{} exists (created by run {})", c.id, self.run_id))
        })
    }

    /// temp-X as a read replica of the source (the root) or of its parent's clone.
    fn replica_step(&mut self, node: &Node, parent_clone: Option<(String, StepId)>) -> StepId {
        let (source, deps) = match parent_clone {
            Some((temp_parent, configured)) => (temp_parent, vec![configured]),
            None => (self.req.source.clone(), Vec::new()),
        };
        let op = InstanceOp::CreateReadReplica {
            source,
            attrs: self.clone_attrs(node, false),
        };
        let skip = self.create_skip(node);
        let temp = node.temp();
        self.push(
            StepId::new(StepKind::Create, &temp),
            Phase::Clone,
            &temp,
            Op::Instance(op),
            deps,
            skip,
        )
    }

    /// The root clone restored from the source's automated backups as of `time`.
    fn point_in_time_step(&mut self, node: &Node, source: &Instance, time: SourceTime) -> StepId {
        let op = InstanceOp::RestoreToPointInTime {
            source: source.id.clone(),
            time,
            attrs: self.clone_attrs(node, true),
        };
        let skip = self.create_skip(node);
        let temp = node.temp();
        self.push(
            StepId::new(StepKind::Create, &temp),
            Phase::Clone,
            &temp,
            Op::Instance(op),
            Vec::new(),
            skip,
        )
    }

    /// The root clone restored from a snapshot of the source (taken first when fresh).
    fn restore_step(
        &mut self,
        obs: &Observed,
        node: &Node,
        source: &Instance,
    ) -> Result<StepId, MitosisError> {
        let skip = self.create_skip(node);
        let restore_done = skip.is_some();
        let restorable = self.snapshot_to_restore(obs, &source.id, restore_done)?;
        let op = InstanceOp::RestoreFromSnapshot {
            snapshot_id: restorable.snapshot_id.clone(),
            attrs: self.clone_attrs(node, true),
        };
        let temp = node.temp();
        let restored = self.push(
            StepId::new(StepKind::Create, &temp),
            Phase::Clone,
            &temp,
            Op::Instance(op),
            restorable.after.clone().into_iter().collect(),
            skip,
        );
        self.release_restored(obs, restorable, restored.clone(), restore_done);
        Ok(restored)
    }

    /// The snapshot the restore starts from: the source's (taken first when fresh), or in a
    /// cross-account refresh the target account's copy of it.
    pub(super) fn snapshot_to_restore(
        &mut self,
        obs: &Observed,
        source: &str,
        restore_done: bool,
    ) -> Result<Restorable, MitosisError> {
        if let Some(h) = self.hand_over.clone() {
            return self.hand_over_steps(obs, source, restore_done, h);
        }
        let (snapshot_id, after) = self.choose_snapshot(obs, source, restore_done)?;
        // A snapshot taken by this run (`--snapshot fresh`) goes once the clone exists.
        let release = match (&after, &snapshot_id) {
            (Some(_), Some(id)) => Release::Fresh(id.clone()),
            _ => Release::Nothing,
        };
        Ok(Restorable {
            snapshot_id,
            after,
            release,
        })
    }

    /// Once the restore exists, the tool's own snapshot it started from goes.
    pub(super) fn release_restored(
        &mut self,
        obs: &Observed,
        restorable: Restorable,
        restored: StepId,
        restore_done: bool,
    ) {
        match restorable.release {
            Release::Nothing => {}
            Release::Fresh(id) => {
                let keep = self.req.keep_snapshot;
                self.release_snapshot_step(obs, &id, restored, restore_done, keep);
            }
            Release::Import(id) => {
                self.release_snapshot_step(obs, &id, restored, restore_done, false);
            }
        }
    }

    /// Cross-account: the chosen snapshot of the source is copied in the source account (a
    /// manual copy, shareable, with a key the target account may use), shared with the target
    /// account, and copied there; the source account's copy is then unshared and deleted.
    fn hand_over_steps(
        &mut self,
        obs: &Observed,
        source: &str,
        restore_done: bool,
        h: HandOver,
    ) -> Result<Restorable, MitosisError> {
        let src = obs.source_view();
        let target = self.req.target.clone();
        let transfer_id = transfer_snapshot_id(&target, &self.run_id);
        let import_id = import_snapshot_id(&target, &self.run_id);
        let transfer = src.snapshots.iter().find(|s| s.id == transfer_id);
        let import = obs.snapshots.iter().find(|s| s.id == import_id);
        // The import exists, or has served its restore and been deleted.
        let imported = import.is_some() || restore_done;
        let transferred = transfer.is_some() || imported;
        let in_source = self.steps.len();
        let (chosen, chosen_step) = self.choose_snapshot(src, source, transferred)?;
        let fresh = chosen_step.as_ref().and(chosen.clone());
        let tags = self.marker_tags(tags::ROLE_SNAPSHOT, &target);
        let copy = SnapshotOp::Copy {
            from: chosen.clone().unwrap_or_default(),
            snapshot_id: transfer_id.clone(),
            kms_key_id: h.source_key.clone(),
            tags: tags.clone(),
            purpose: CopyFor::Transfer,
        };
        let transfer_skip = if imported {
            Some(format!("{import_id} is already in the target account"))
        } else {
            transfer.map(|_| format!("{transfer_id} already exists"))
        };
        let op = self.snapshot_op(copy);
        let transferred_step = self.push(
            StepId::new(StepKind::Transfer, &target),
            Phase::Clone,
            &transfer_id,
            op,
            chosen_step.into_iter().collect(),
            transfer_skip,
        );
        if let Some(id) = fresh {
            let keep = self.req.keep_snapshot;
            self.release_snapshot_step(src, &id, transferred_step.clone(), transferred, keep);
        }
        let share = |share: bool| SnapshotOp::Share {
            snapshot_id: transfer_id.clone(),
            account: h.target_account.clone(),
            share,
        };
        let op = self.snapshot_op(share(true));
        let shared = self.push(
            StepId::new(StepKind::Share, &target),
            Phase::Clone,
            &transfer_id,
            op,
            vec![transferred_step],
            imported.then(|| format!("{import_id} is already in the target account")),
        );
        let in_target = self.steps.len();
        let snapshot = self.snapshots_of.arn_kinds().0;
        let transfer_arn = transfer
            .map(|t| t.arn.clone())
            .unwrap_or_else(|| src.account.arn(&format!("{snapshot}:{transfer_id}")));
        let copy = SnapshotOp::Copy {
            from: transfer_arn,
            snapshot_id: import_id.clone(),
            kms_key_id: h.target_key.clone(),
            tags,
            purpose: CopyFor::Import,
        };
        let import_skip = if restore_done {
            Some("the clone is already restored".to_string())
        } else {
            import.map(|_| format!("{import_id} already exists"))
        };
        let op = self.snapshot_op(copy);
        let imported_step = self.push(
            StepId::new(StepKind::Import, &target),
            Phase::Clone,
            &import_id,
            op,
            vec![shared],
            import_skip,
        );
        let after_target = self.steps.len();
        let gone =
            (transfer.is_none() && imported).then(|| format!("{transfer_id} already deleted"));
        let op = self.snapshot_op(share(false));
        let unshared = self.push(
            StepId::new(StepKind::Unshare, &target),
            Phase::Clone,
            &transfer_id,
            op,
            vec![imported_step.clone()],
            gone,
        );
        self.release_snapshot_step(src, &transfer_id, unshared, imported, false);
        for (i, step) in self.steps.iter_mut().enumerate().skip(in_source) {
            if !(in_target..after_target).contains(&i) {
                step.account = super::Account::Source;
            }
        }
        Ok(Restorable {
            snapshot_id: Some(import_id.clone()),
            after: Some(imported_step),
            release: Release::Import(import_id),
        })
    }

    /// Once what was made from one of the tool's snapshots exists (`made`; `made_done` when
    /// a plan made before saw it), the snapshot goes, or with `keep` (`--keep-snapshot`, for
    /// the fresh snapshot) loses the markers that would make a later run adopt it.
    pub(super) fn release_snapshot_step(
        &mut self,
        obs: &Observed,
        snapshot_id: &str,
        made: StepId,
        made_done: bool,
        keep: bool,
    ) -> StepId {
        let exists = obs.snapshots.iter().find(|s| s.id == snapshot_id);
        let (kind, op, skip) = if keep {
            let keys: Vec<String> = tags::MARKERS.iter().map(|k| k.to_string()).collect();
            let skip = match exists {
                Some(s) if !s.tags.contains_key(tags::ROLE) => {
                    Some(format!("{snapshot_id} is kept without markers"))
                }
                None if made_done => Some(format!("{snapshot_id} no longer exists")),
                _ => None,
            };
            let op = SnapshotOp::Unmark {
                snapshot_id: snapshot_id.to_string(),
                keys,
            };
            (StepKind::KeepSnapshot, op, skip)
        } else {
            let skip =
                (exists.is_none() && made_done).then(|| format!("{snapshot_id} already deleted"));
            let op = SnapshotOp::Delete {
                snapshot_id: snapshot_id.to_string(),
            };
            (StepKind::DeleteSnapshot, op, skip)
        };
        let op = self.snapshot_op(op);
        self.push(
            StepId::new(kind, snapshot_id),
            Phase::Clone,
            snapshot_id,
            op,
            vec![made],
            skip,
        )
    }

    /// A snapshot operation on the source's kind of snapshot.
    pub(super) fn snapshot_op(&self, op: SnapshotOp) -> Op {
        match self.snapshots_of {
            SnapshotOf::Instance => Op::Snapshot(op),
            SnapshotOf::Cluster => Op::ClusterSnapshot(op),
        }
    }

    /// Detach the root clone from the source: a PostgreSQL replica cannot have replicas of
    /// its own, and the clone must stop following production.
    fn promote_step(&mut self, node: &Node, created: StepId) -> StepId {
        let skip = clone_skip(node, |c| {
            c.replica_source
                .is_none()
                .then(|| format!("{} is already a standalone primary", c.id))
        });
        let temp = node.temp();
        self.push(
            StepId::new(StepKind::Promote, &temp),
            Phase::Clone,
            &temp,
            Op::Instance(InstanceOp::PromoteReadReplica),
            vec![created],
            skip,
        )
    }

    /// X's attributes that can only be set after creation.
    fn configure_step(
        &mut self,
        node: &Node,
        is_root: bool,
        restore: bool,
        ready: StepId,
    ) -> StepId {
        let modify = ModifyAttrs::post_create(
            node.attributes(),
            is_root,
            !node.children.is_empty(),
            restore,
        );
        let skip = clone_skip(node, |c| {
            modify
                .already_applied(c)
                .then(|| format!("{} already has these attributes", c.id))
        });
        let temp = node.temp();
        self.push(
            StepId::new(StepKind::Configure, &temp),
            Phase::Clone,
            &temp,
            Op::Instance(InstanceOp::Modify(modify)),
            vec![ready],
            skip,
        )
    }

    /// Retire every X to old-X, then swap every temp-X in as X; children before parents, as
    /// the refresh procedure orders them. Returns the swap steps.
    fn swap_phases(&mut self, nodes: &[Node], built: Vec<StepId>) -> Vec<StepId> {
        let started = nodes.iter().any(|n| n.retired() || n.swapped());
        let prepared = nodes[0]
            .replacement
            .as_ref()
            .is_some_and(|c| c.tag(tags::PREPARED) == Some(self.run_id.as_str()));
        let root = &nodes[0];
        let password_set = root
            .replacement
            .as_ref()
            .is_some_and(|c| c.tag(tags::PASSWORD) == Some(self.run_id.as_str()));
        let built = self.password_steps(
            &root.temp(),
            started || password_set,
            |secret| {
                Op::Instance(InstanceOp::SetPassword {
                    secret: Some(secret),
                })
            },
            |tags| Op::Instance(InstanceOp::AddTags { tags }),
            built,
        );
        let mark_prepared = |tags| Op::Instance(InstanceOp::AddTags { tags });
        let clone_done =
            self.prepare_steps(&nodes[0].temp(), started, prepared, mark_prepared, built);
        let guard = GuardOp {
            originals: nodes
                .iter()
                .map(|n| {
                    let rid = n.original.as_ref().and_then(|o| o.resource_id.clone());
                    (n.name.clone(), rid)
                })
                .collect(),
            clones: nodes.iter().map(Node::temp).collect(),
            replicas: nodes
                .iter()
                .filter(|n| n.parent.is_some())
                .map(Node::temp)
                .collect(),
        };
        let clone_done = vec![self.push(
            StepId::new(StepKind::Guard, &self.req.target.clone()),
            Phase::Prepare,
            &self.req.target.clone(),
            Op::Guard(guard),
            clone_done,
            started.then(|| "the swap has already begun".to_string()),
        )];
        let retired: Vec<StepId> = nodes
            .iter()
            .rev()
            .map(|node| self.retire_steps(node, clone_done.clone()))
            .collect();
        let mut swaps: Vec<StepId> = nodes
            .iter()
            .rev()
            .zip(retired)
            .map(|(node, retire)| {
                let skip = node
                    .swapped()
                    .then(|| format!("{} already swapped in as {}", node.temp(), node.name));
                self.push(
                    StepId::new(StepKind::Swap, &node.name),
                    Phase::Swap,
                    &node.temp(),
                    Op::Instance(InstanceOp::Modify(ModifyAttrs::rename(&node.name))),
                    vec![retire],
                    skip,
                )
            })
            .collect();
        // Parents first, like the nodes.
        swaps.reverse();
        swaps
    }

    /// `--master-password-secret`: the clone root (`temp_root`) gets the target's master
    /// password from the secret, then a tag that says so; `done` when an earlier attempt of
    /// this run did it or the swap has begun. Before the before-swap command, which may log in
    /// with it. Returns what comes next waits for.
    pub(super) fn password_steps(
        &mut self,
        temp_root: &str,
        done: bool,
        set: impl FnOnce(String) -> Op,
        mark: impl FnOnce(Vec<Tag>) -> Op,
        after: Vec<StepId>,
    ) -> Vec<StepId> {
        let Some(secret) = self.req.master_password_secret.clone() else {
            return after;
        };
        let skip = done.then(|| format!("{temp_root} already has the target's password"));
        let set = self.push(
            StepId::new(StepKind::Password, temp_root),
            Phase::Prepare,
            temp_root,
            set(secret),
            after,
            skip.clone(),
        );
        let tags = vec![Tag::new(tags::PASSWORD, &self.run_id)];
        vec![self.push(
            StepId::new(StepKind::PasswordSet, temp_root),
            Phase::Prepare,
            temp_root,
            mark(tags),
            vec![set],
            skip,
        )]
    }

    /// The before-swap command on the complete clone (whose root is `temp_root`), then the
    /// root's `prepared` tag (`mark` makes the tagging step for the root's kind). Returns what
    /// the guardrails wait for.
    pub(super) fn prepare_steps(
        &mut self,
        temp_root: &str,
        started: bool,
        prepared: bool,
        mark: impl FnOnce(Vec<Tag>) -> Op,
        clone_done: Vec<StepId>,
    ) -> Vec<StepId> {
        let Some(command) = &self.req.before_swap else {
            return clone_done;
        };
        let skip = if started {
            Some("the swap has already begun".to_string())
        } else {
            prepared.then(|| "the before-swap command already succeeded".to_string())
        };
        let op = CommandOp {
            hook: Hook::BeforeSwap,
            command: command.clone(),
            redacted: self.req.redact_commands,
        };
        let hook = self.push(
            StepId::once(StepKind::BeforeSwap),
            Phase::Prepare,
            temp_root,
            Op::Command(op),
            clone_done,
            skip.clone(),
        );
        let tags = vec![Tag::new(tags::PREPARED, &self.run_id)];
        vec![self.push(
            StepId::new(StepKind::Prepared, temp_root),
            Phase::Prepare,
            temp_root,
            mark(tags),
            vec![hook],
            skip,
        )]
    }

    /// Mark X as retired by this run, then rename it to old-X.
    pub(super) fn retire_steps(&mut self, node: &Node, clone_done: Vec<StepId>) -> StepId {
        let marked = node
            .original
            .as_ref()
            .is_none_or(|o| o.is_marked(tags::ROLE_OLD, &node.name));
        let skip = marked.then(|| format!("{} already marked for retirement", node.name));
        let tags = self.marker_tags(tags::ROLE_OLD, &node.name);
        let mark = self.push(
            StepId::new(StepKind::Mark, &node.name),
            Phase::Retire,
            &node.name,
            Op::Instance(InstanceOp::AddTags { tags }),
            clone_done,
            skip,
        );
        let skip = node
            .retired()
            .then(|| format!("{} already retired as {}", node.name, node.old()));
        self.push(
            StepId::new(StepKind::Retire, &node.name),
            Phase::Retire,
            &node.name,
            Op::Instance(InstanceOp::Modify(ModifyAttrs::rename(&node.old()))),
            vec![mark],
            skip,
        )
    }

    /// The restart command, then (only after it succeeded) the deletes of old-* and the
    /// removal of the tool's markers.
    fn cleanup_phase(&mut self, nodes: &[Node], swaps: Vec<StepId>) {
        let cleanup_started = nodes.iter().any(|n| n.original.is_none());
        let gate = self.restart_step(cleanup_started, swaps);
        let mut deleted: Vec<(String, StepId)> = Vec::new();
        for node in nodes.iter().rev() {
            let id = self.delete_steps(node, gate.clone(), &deleted);
            deleted.push((node.name.clone(), id));
        }
        let all_deletes: Vec<StepId> = nodes
            .iter()
            .filter_map(|n| deleted.iter().find(|(name, _)| name == &n.name))
            .map(|(_, id)| id.clone())
            .collect();
        // The root's markers go last: while they remain, a rerun knows the whole tree is new.
        let mut unmarked = Vec::new();
        for node in nodes.iter().rev() {
            let has_markers = node
                .replacement
                .as_ref()
                .is_none_or(|c| c.tags.keys().any(|k| k.starts_with(tags::PREFIX)));
            let skip = (!has_markers).then(|| format!("{} has no markers left", node.name));
            let mut deps = all_deletes.clone();
            if node.parent.is_none() {
                deps.extend(unmarked.iter().cloned());
            }
            let keys = tags::MARKERS.iter().map(|k| k.to_string()).collect();
            unmarked.push(self.push(
                StepId::new(StepKind::Unmark, &node.name),
                Phase::Cleanup,
                &node.name,
                Op::Instance(InstanceOp::RemoveTags { keys }),
                deps,
                skip,
            ));
        }
    }

    /// The restart command, when given: what every delete waits for.
    pub(super) fn restart_step(
        &mut self,
        cleanup_started: bool,
        swaps: Vec<StepId>,
    ) -> Vec<StepId> {
        let Some(command) = &self.req.restart else {
            return swaps;
        };
        let skip = cleanup_started.then(|| "old instances are already being deleted".to_string());
        let op = CommandOp {
            hook: Hook::Restart,
            command: command.clone(),
            redacted: self.req.redact_commands,
        };
        let target = self.req.target.clone();
        vec![self.push(
            StepId::once(StepKind::Restart),
            Phase::Restart,
            &target,
            Op::Command(op),
            swaps,
            skip,
        )]
    }

    /// Deletes old-X after `gate`, and after the deletes of its replicas (`deleted`, by
    /// target-tree name); with deletion protection, the new X takes it over first.
    fn delete_steps(
        &mut self,
        node: &Node,
        gate: Vec<StepId>,
        deleted: &[(String, StepId)],
    ) -> StepId {
        let mut delete_deps = gate.clone();
        if node.parent.is_none() && node.original.is_some() {
            // The old root carries the lock: the new root takes it over first.
            let op = Op::Lock(LockOp::Move {
                holder: self.req.run_id.clone(),
            });
            delete_deps.push(self.push(
                StepId::new(StepKind::MoveLock, &node.name),
                Phase::Cleanup,
                &node.name,
                op,
                gate.clone(),
                None,
            ));
        }
        let protected = node
            .original
            .as_ref()
            .is_some_and(|o| o.deletion_protection)
            || node
                .replacement
                .as_ref()
                .is_some_and(|c| c.deletion_protection);
        if protected {
            delete_deps.push(self.protection_steps(node, gate));
        }
        // Replicas go first: deleting a primary promotes its replicas, which would then be
        // busy when their own delete arrives.
        delete_deps.extend(node.children.iter().filter_map(|child| {
            deleted
                .iter()
                .find(|(name, _)| name == child)
                .map(|(_, id)| id.clone())
        }));
        let skip = node
            .original
            .is_none()
            .then(|| format!("{} already deleted", node.old()));
        let op = InstanceOp::Delete {
            final_snapshot_id: self
                .req
                .final_snapshot
                .then(|| final_snapshot_id(&node.old(), &self.run_id)),
        };
        self.push(
            StepId::new(StepKind::Delete, &node.old()),
            Phase::Cleanup,
            &node.old(),
            Op::Instance(op),
            delete_deps,
            skip,
        )
    }

    /// The new X ends with X's own protection; it is set before old-X loses it, so the value
    /// survives in one of them whenever a run is interrupted. Returns the unprotect step.
    fn protection_steps(&mut self, node: &Node, gate: Vec<StepId>) -> StepId {
        let skip = node
            .replacement
            .as_ref()
            .is_some_and(|c| c.deletion_protection)
            .then(|| format!("{} is already protected", node.name));
        let protect = self.push(
            StepId::new(StepKind::Protect, &node.name),
            Phase::Cleanup,
            &node.name,
            Op::Instance(InstanceOp::Modify(ModifyAttrs::deletion_protection(true))),
            gate,
            skip,
        );
        let skip = match &node.original {
            None => Some(format!("{} already deleted", node.old())),
            Some(o) if !o.deletion_protection => {
                Some(format!("{} is already unprotected", node.old()))
            }
            Some(_) => None,
        };
        self.push(
            StepId::new(StepKind::Unprotect, &node.old()),
            Phase::Cleanup,
            &node.old(),
            Op::Instance(InstanceOp::Modify(ModifyAttrs::deletion_protection(false))),
            vec![protect],
            skip,
        )
    }

    /// The snapshot to restore (None only when the restore is done and its snapshot is no
    /// longer listed), and the step that takes it when it is fresh.
    pub(super) fn choose_snapshot(
        &mut self,
        obs: &Observed,
        source: &str,
        restore_done: bool,
    ) -> Result<(Option<String>, Option<StepId>), MitosisError> {
        let available = |s: &&Snapshot| s.status == "available" && s.instance_id == source;
        match &self.req.snapshot {
            SnapshotChoice::Fresh => {
                let snapshot_id = fresh_snapshot_id(source, &self.run_id);
                let exists = obs.snapshots.iter().any(|s| s.id == snapshot_id);
                // Resuming after the delete: nothing left to take.
                let skip = if restore_done {
                    Some("the clone is already restored".to_string())
                } else {
                    exists.then(|| format!("snapshot {snapshot_id} already exists"))
                };
                let op = SnapshotOp::Create {
                    snapshot_id: snapshot_id.clone(),
                    tags: self.marker_tags(tags::ROLE_SNAPSHOT, &self.req.target.clone()),
                };
                let id = self.push(
                    StepId::new(StepKind::Snapshot, source),
                    Phase::Clone,
                    source,
                    self.snapshot_op(op),
                    Vec::new(),
                    skip,
                );
                Ok((Some(snapshot_id), Some(id)))
            }
            SnapshotChoice::Id(wanted) => {
                if restore_done {
                    return Ok((Some(wanted.clone()), None));
                }
                match obs.snapshots.iter().find(|s| &s.id == wanted) {
                    Some(s) if available(&s) => Ok((Some(wanted.clone()), None)),
                    Some(s) if s.instance_id != source => Err(MitosisError::bad_input(format!(
                        "snapshot {wanted:?} is of {:?}, not of the source {source:?}: pick a snapshot of the source",
                        s.instance_id
                    ))),
                    Some(s) => Err(MitosisError::bad_input(format!(
                        "snapshot {wanted:?} is {:?}, not available: wait for it or pick another with --snapshot",
                        s.status
                    ))),
                    None => Err(MitosisError::bad_input(format!(
                        "snapshot {wanted:?} of {source:?} was not found: list them with `{}`",
                        match self.snapshots_of {
                            SnapshotOf::Instance => format!("aws rds describe-db-snapshots --db-instance-identifier {source}"),
                            SnapshotOf::Cluster => format!("aws rds describe-db-cluster-snapshots --db-cluster-identifier {source}"),
                        }
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
                    Some(s) => Ok((Some(s.id.clone()), None)),
                    // Resuming after the restore: the snapshot no longer matters.
                    None if restore_done => Ok((None, None)),
                    None => Err(MitosisError::bad_input(format!(
                        "the source {source:?} has no available snapshot to restore: use --snapshot fresh to take one first"
                    ))),
                }
            }
        }
    }
}

/// What happens to a target's RDS-managed master password (`ManageMasterUserPassword`): the
/// clone has the source's password, and the managed secret belongs to the retired original.
pub(super) fn managed_password_note(
    target: &str,
    managed_secret: Option<&str>,
    req: &PlanRequest,
) -> Vec<String> {
    let Some(secret) = managed_secret else {
        return Vec::new();
    };
    let then = match &req.master_password_secret {
        Some(own) => format!("the clone's master password is set from {own} instead"),
        None => "the clone keeps the source's master password: give --master-password-secret with a secret of your own, or turn managed passwords on again after the refresh".to_string(),
    };
    vec![format!(
        "{target} manages its master password in Secrets Manager ({secret}); that secret belongs to the retired {target} and is deleted with it: {then}"
    )]
}

/// How the tool's own snapshots begin.
pub const FRESH_SNAPSHOT_PREFIX: &str = "stack-mitosis-";

/// One of the tool's own snapshots: `stack-mitosis-<kind><name>-<run>`.
fn own_snapshot_id(kind: &str, name: &str, run_id: &str) -> String {
    snapshot_id(&format!("{FRESH_SNAPSHOT_PREFIX}{kind}{name}-{run_id}"))
}

/// Every snapshot of that kind and name, whatever the run (the IAM policy grants by it).
fn own_snapshot_pattern(kind: &str, name: &str) -> String {
    format!(
        "{}-*",
        snapshot_id(&format!("{FRESH_SNAPSHOT_PREFIX}{kind}{name}"))
    )
}

/// The snapshot `--snapshot fresh` takes of the source.
pub fn fresh_snapshot_id(source: &str, run_id: &str) -> String {
    own_snapshot_id("", source, run_id)
}

/// Every fresh snapshot of `source`, whatever the run.
pub fn fresh_snapshot_pattern(source: &str) -> String {
    own_snapshot_pattern("", source)
}

/// The source account's shareable copy in a cross-account refresh of `target`.
pub fn transfer_snapshot_id(target: &str, run_id: &str) -> String {
    own_snapshot_id("transfer-", target, run_id)
}

/// Every transfer snapshot for `target`, whatever the run.
pub fn transfer_snapshot_pattern(target: &str) -> String {
    own_snapshot_pattern("transfer-", target)
}

/// The target account's copy of the shared transfer snapshot.
pub fn import_snapshot_id(target: &str, run_id: &str) -> String {
    own_snapshot_id("import-", target, run_id)
}

/// Every import snapshot for `target`, whatever the run.
pub fn import_snapshot_pattern(target: &str) -> String {
    own_snapshot_pattern("import-", target)
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
