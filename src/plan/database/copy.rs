//! Throwaway copies (`copy`, `destroy`, `sweep`): the clone half of a refresh under new names.
//!
//! A copy of the source is built like a template tree (`--like`: its classes, ports, groups,
//! windows and tags; the snapshot path when the template's VPC differs), each resource named
//! with a prefix (`pr-42-` + `demo` = `pr-42-demo`) and marked as a copy (role `copy`, the
//! template resource as `original`, the prefix, the run, an expiry). Nothing is retired,
//! swapped or deleted, and the template is only read. The copy's master password is reset to a
//! new random one each run. `destroy` deletes a copy, only when every resource of it carries
//! these marks; `sweep` destroys the copies whose expiry has passed.

use super::builder::{accounts, accounts_note, in_account, Builder};
use super::cluster::{
    check_cluster_available, check_supported, cluster_path, names_a_cluster, ClusterNodes,
};
use super::handover::hand_over;
use super::instance::instance_path;
use crate::error::MitosisError;
use crate::observed::{tags, Observed};
use crate::plan::attributes::Tag;
use crate::plan::kind::{ClonePath, Kind};
use crate::plan::model::{Operation, Part, Plan};
use crate::plan::ops::{ClusterOp, InstanceOp, Op};
use crate::plan::request::{CopySpec, PlanRequest, SourceTime};
use crate::plan::step::{Phase, StepId, StepKind};
use crate::plan::tree::{Node, Resource};
use crate::plan::validate::{
    check_available, check_engines, check_not_protected, reject_cluster_member, run_of,
    validate_identifier,
};
use std::collections::BTreeSet;

/// Why `r` is not provably a copy made with `prefix` (by `run`, when the copy's run is
/// known): see `crate::plan::proof`. None when it is one.
pub(super) fn not_a_copy<R: Resource>(r: &R, prefix: &str, run: Option<&str>) -> Option<String> {
    crate::plan::proof::copy_refusal(r.found(), prefix, run)
}

/// A copy's resource name: the prefix and the template's name, checked as an identifier.
pub(super) fn copy_name(prefix: &str, name: &str) -> Result<String, MitosisError> {
    let id = format!("{prefix}{name}");
    validate_identifier("the copy's name", &id).map_err(|e| {
        MitosisError::bad_input(format!(
            "--prefix {prefix:?} does not make a valid name for {name:?} ({e}): use a prefix that starts with a letter and ends with a hyphen, short enough for the template's longest name"
        ))
    })?;
    Ok(id)
}

/// Refuses a name that exists but is not provably this copy's.
fn check_free<R: Resource>(
    existing: Option<&R>,
    name: &str,
    prefix: &str,
) -> Result<(), MitosisError> {
    match existing.and_then(|r| not_a_copy(r, prefix, None).map(|why| (r, why))) {
        Some((r, why)) => Err(MitosisError::bad_input(format!(
            "{:?} already exists and stack-mitosis did not make it as a copy of {name:?} with prefix {prefix:?} ({why}): pick another --prefix",
            r.id()
        ))),
        None => Ok(()),
    }
}

/// The policy of a copy allows deletes on every name that begins with the prefix
/// (`db:<prefix>*`, `cluster:<prefix>*`): refused when that reaches a resource that is not
/// one of the prefix's copies, or the source.
fn check_prefix_reaches_copies_only(
    obs: &Observed,
    req: &PlanRequest,
    prefix: &str,
) -> Result<(), MitosisError> {
    let instances = obs
        .instances
        .values()
        .filter(|i| i.id.starts_with(prefix))
        .filter_map(|i| not_a_copy(i, prefix, None).map(|why| format!("{} ({why})", i.id)));
    let clusters = obs
        .clusters
        .values()
        .filter(|c| c.id.starts_with(prefix))
        .filter_map(|c| not_a_copy(c, prefix, None).map(|why| format!("{} ({why})", c.id)));
    let mut reached: Vec<String> = instances.chain(clusters).collect();
    if obs.source_account.is_none() && req.source.starts_with(prefix) {
        reached.push(format!("{} (the source)", req.source));
    }
    reached.sort();
    reached.dedup();
    if reached.is_empty() {
        return Ok(());
    }
    Err(MitosisError::bad_input(format!(
        "--prefix {prefix:?} also begins {}, which {} not a copy made with it: the copy's policy allows deletes on every name that begins with the prefix, so pick a prefix that begins no other name (a pull request's number makes a good one, as in pr-42-)",
        reached.join(", "),
        if reached.len() == 1 { "is" } else { "are" }
    )))
}

/// The template's tree as nodes whose clones are the copy's instances.
fn copy_nodes(obs: &Observed, like: &str, prefix: &str) -> Result<Vec<Node>, MitosisError> {
    let template = obs.get(like).ok_or_else(|| {
        MitosisError::bad_input(format!(
            "template instance {like:?} was not found in {}: check --like and the region",
            obs.account.region
        ))
    })?;
    if template.replica_source.is_some() {
        return Err(MitosisError::bad_input(format!(
            "--like {like:?} is a read replica: give the root of the template tree ({:?})",
            obs.root_of(like)
        )));
    }
    let tree = obs.tree(like);
    let mut nodes = Vec::new();
    for id in &tree {
        let inst = obs.get(id).expect("the tree lists instances");
        if inst.mitosis_role().is_some() {
            return Err(MitosisError::bad_input(format!(
                "--like {like:?}: {id:?} is one of stack-mitosis's own (a clone, a retiree or a copy): name an environment's database as the template"
            )));
        }
        reject_cluster_member(inst, "template")?;
        check_not_protected(id, &inst.tags)?;
        let name = copy_name(prefix, id)?;
        check_free(obs.get(&name), id, prefix)?;
        let parent = obs.parent(id).filter(|p| tree.contains(p));
        nodes.push(Node {
            name: id.clone(),
            parent: if nodes.is_empty() { None } else { parent },
            children: obs
                .children(id)
                .into_iter()
                .filter(|c| tree.contains(c))
                .collect(),
            original: Some(inst.clone()),
            replacement: obs.get(&name).cloned(),
            clone_prefix: prefix.to_string(),
        });
    }
    Ok(nodes)
}

/// The template cluster and its members as nodes whose clones are the copy's.
fn cluster_copy_nodes(
    obs: &Observed,
    like: &str,
    prefix: &str,
) -> Result<ClusterNodes, MitosisError> {
    let template = obs.cluster(like).ok_or_else(|| {
        MitosisError::bad_input(format!(
            "template cluster {like:?} was not found in {}: check --like and the region",
            obs.account.region
        ))
    })?;
    if template.mitosis_role().is_some() {
        return Err(MitosisError::bad_input(format!(
            "--like {like:?} is one of stack-mitosis's own (a clone, a retiree or a copy): name an environment's cluster as the template"
        )));
    }
    check_not_protected(like, &template.tags)?;
    let name = copy_name(prefix, like)?;
    check_free(obs.cluster(&name), like, prefix)?;
    let copy = obs
        .cluster(&name)
        .filter(|c| not_a_copy(*c, prefix, None).is_none());
    let mut members: Vec<(bool, String)> = template
        .members
        .iter()
        .map(|m| (!m.writer, m.id.clone()))
        .collect();
    members.sort();
    let mut nodes = Vec::new();
    for (_, id) in members {
        let Some(inst) = obs.get(&id) else { continue };
        let member_name = copy_name(prefix, &id)?;
        check_free(obs.get(&member_name), &id, prefix)?;
        nodes.push(Node {
            name: id.clone(),
            parent: None,
            children: Vec::new(),
            original: Some(inst.clone()),
            replacement: obs.get(&member_name).cloned(),
            clone_prefix: prefix.to_string(),
        });
    }
    Ok(ClusterNodes {
        cluster: Node {
            name: like.to_string(),
            parent: None,
            children: Vec::new(),
            original: Some(template.clone()),
            replacement: copy.cloned(),
            clone_prefix: prefix.to_string(),
        },
        members: nodes,
        // Custom endpoints stay the template's: a copy is reached through its own endpoints.
        endpoints: Vec::new(),
    })
}

/// The run a copy belongs to: the one its resources carry, or a fresh one.
fn copy_run<'a>(
    obs: &'a Observed,
    clones: impl Iterator<Item = Option<&'a str>>,
    copy_root: &str,
    fresh: &str,
) -> Result<(String, bool), MitosisError> {
    let runs: BTreeSet<&str> = clones.flatten().collect();
    run_of(runs, obs.own_snapshots(), copy_root, fresh)
}

/// The flight plan of a copy (`req.copy` set; `req.target` is the template).
pub(in crate::plan) fn plan_copy(obs: &Observed, req: &PlanRequest) -> Result<Plan, MitosisError> {
    let spec = req.copy.clone().expect("a copy request");
    validate_identifier("--source", &req.source)?;
    validate_identifier("--like", &req.target)?;
    let copy_root = copy_name(&spec.prefix, &req.target)?;
    // The request as the builder sees it: the copy's root stands where a refresh's target
    // does (hooks, snapshot markers).
    let mut r = req.clone();
    r.target = copy_root.clone();
    r.master_password_secret = None;
    let copy_tags = {
        let mut t = vec![Tag::new(tags::COPY_PREFIX, &spec.prefix)];
        if let Some(at) = spec.expires {
            t.push(Tag::new(tags::EXPIRES, &SourceTime::rfc3339(at)));
        }
        t
    };
    let plan = if names_a_cluster(obs, req) {
        plan_cluster_copy(obs, req, &r, &spec, copy_tags)?
    } else {
        plan_instance_copy(obs, req, &r, &spec, copy_tags)?
    };
    // Once the copy's own names are known to be free or its own: what else the prefix reaches.
    check_prefix_reaches_copies_only(obs, req, &spec.prefix)?;
    Ok(plan)
}

fn plan_instance_copy(
    obs: &Observed,
    req: &PlanRequest,
    r: &PlanRequest,
    spec: &CopySpec,
    copy_tags: Vec<Tag>,
) -> Result<Plan, MitosisError> {
    // In a cross-account copy the source is read in its own account.
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
    let source_tree = src.tree(&src.root_of(&req.source));
    if obs.source_account.is_none() && source_tree.contains(&req.target) {
        return Err(MitosisError::bad_input(format!(
            "--like {:?} is in the source's own tree: name a downstream environment's database as the template (its attributes shape the copy)",
            req.target
        )));
    }
    let nodes = copy_nodes(obs, &req.target, &spec.prefix)?;
    let (run_id, resuming) = copy_run(
        obs,
        nodes
            .iter()
            .map(|n| n.replacement.as_ref().and_then(|c| c.tag(tags::RUN))),
        &r.target,
        &req.run_id,
    )?;
    let root = &nodes[0];
    check_engines(source, root.attributes())?;
    if !resuming {
        check_available(source, "source")?;
    }
    let hand_over = hand_over(
        obs,
        r,
        source.storage_encrypted,
        root.attributes().kms_key_id.as_deref(),
    )?;
    let path = instance_path(
        req,
        source,
        root.attributes(),
        hand_over.is_some(),
        resuming,
    )?;
    let mut b = Builder {
        steps: Vec::new(),
        req: r,
        run_id: run_id.clone(),
        snapshots_of: crate::plan::SnapshotOf::Instance,
        hand_over,
        clone_role: tags::ROLE_COPY,
        copy_tags,
    };
    let built = b.clone_phase(obs, &nodes, path, source)?;
    let prepared = root
        .replacement
        .as_ref()
        .is_some_and(|c| c.tag(tags::PREPARED) == Some(run_id.as_str()));
    b.copy_ready_steps(
        &root.temp(),
        prepared,
        Op::Instance(InstanceOp::SetPassword { secret: None }),
        |tags| Op::Instance(InstanceOp::AddTags { tags }),
        built,
    );
    Ok(copy_plan(
        obs,
        req,
        r,
        Kind::Instance,
        path,
        run_id,
        resuming,
        b,
    ))
}

fn plan_cluster_copy(
    obs: &Observed,
    req: &PlanRequest,
    r: &PlanRequest,
    spec: &CopySpec,
    copy_tags: Vec<Tag>,
) -> Result<Plan, MitosisError> {
    let src = obs.source_view();
    let source = src.cluster(&req.source).ok_or_else(|| {
        MitosisError::bad_input(format!(
            "source cluster {:?} was not found in {}{}: check --source and the region (the template {:?} is a cluster)",
            req.source,
            src.account.region,
            in_account(obs),
            req.target
        ))
    })?;
    if req.source == req.target && obs.source_account.is_none() {
        return Err(MitosisError::bad_input(
            "--like names the source itself: name a downstream environment's cluster as the template",
        ));
    }
    let nodes = cluster_copy_nodes(obs, &req.target, &spec.prefix)?;
    let template = nodes.cluster.attributes();
    check_supported(source, "source")?;
    check_supported(template, "template")?;
    if source.engine != template.engine {
        return Err(MitosisError::bad_input(format!(
            "source {:?} runs {} but template {:?} runs {}: pick a template of the source's engine",
            source.id, source.engine, template.id, template.engine
        )));
    }
    let clones = std::iter::once(
        nodes
            .cluster
            .replacement
            .as_ref()
            .and_then(|c| c.tag(tags::RUN)),
    )
    .chain(
        nodes
            .members
            .iter()
            .map(|n| n.replacement.as_ref().and_then(|c| c.tag(tags::RUN))),
    );
    let (run_id, resuming) = copy_run(obs, clones, &r.target, &req.run_id)?;
    if !resuming {
        check_cluster_available(source, "source")?;
    }
    let hand_over = hand_over(
        obs,
        r,
        source.storage_encrypted,
        template.kms_key_id.as_deref(),
    )?;
    let cloned = nodes.cluster.replacement.is_some();
    let path = cluster_path(req, source, hand_over.is_some(), resuming, cloned)?;
    let mut b = Builder {
        steps: Vec::new(),
        req: r,
        run_id: run_id.clone(),
        snapshots_of: crate::plan::SnapshotOf::Cluster,
        hand_over,
        clone_role: tags::ROLE_COPY,
        copy_tags,
    };
    let built = b.cluster_clone_phase(obs, &nodes, path, source)?;
    let prepared = nodes
        .cluster
        .replacement
        .as_ref()
        .is_some_and(|c| c.tag(tags::PREPARED) == Some(run_id.as_str()));
    b.copy_ready_steps(
        &nodes.cluster.temp(),
        prepared,
        Op::Cluster(ClusterOp::SetPassword { secret: None }),
        |tags| Op::Cluster(ClusterOp::AddTags { tags }),
        built,
    );
    Ok(copy_plan(
        obs,
        req,
        r,
        Kind::Cluster,
        path,
        run_id,
        resuming,
        b,
    ))
}

#[allow(clippy::too_many_arguments)]
fn copy_plan(
    obs: &Observed,
    req: &PlanRequest,
    r: &PlanRequest,
    kind: Kind,
    path: ClonePath,
    run_id: String,
    resuming: bool,
    b: Builder<'_>,
) -> Plan {
    Plan {
        resuming,
        notes: std::iter::once(format!(
            "a copy like {:?}: nothing is retired, swapped or deleted; its master password is reset to a new random one (given to you, never printed)",
            req.target
        ))
        .chain(accounts_note(obs))
        .collect(),
        accounts: accounts(obs),
        copy_prefix: req.copy.as_ref().map(|c| c.prefix.clone()),
        ..Plan::new(
            Operation::Copy,
            Part {
                source: req.source.clone(),
                target: r.target.clone(),
                kind,
                path,
            },
            run_id,
            b.steps,
        )
    }
}

impl Builder<'_> {
    /// Once a copy is built: a new master password (every run: it is handed out, so it must
    /// be known), the before-swap command on the copy (scrub) and its tag, then the restart
    /// command.
    fn copy_ready_steps(
        &mut self,
        root: &str,
        prepared: bool,
        set_password: Op,
        mark: impl FnOnce(Vec<Tag>) -> Op,
        built: Vec<StepId>,
    ) {
        let password = self.push(
            StepId::new(StepKind::Password, root),
            Phase::Prepare,
            root,
            set_password,
            built,
            None,
        );
        let ready = self.prepare_steps(root, false, prepared, mark, vec![password]);
        self.restart_step(false, ready);
    }
}
