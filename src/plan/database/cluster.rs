//! Refreshing an Aurora cluster: the cluster is cloned (copy-on-write, or restored from a
//! cluster snapshot), the target's members are created in the clone (writer first), then the
//! cluster and each member are retired and swapped by name as instances are, and the old
//! members are deleted before the old cluster.
//!
//! Resuming reads the same markers as for instances: on the clusters (`role`, `original`) and
//! on their members, which follow renames.

use super::builder::{accounts, accounts_note, in_account, managed_password_note, Builder};
use super::handover::hand_over;
use crate::error::MitosisError;
use crate::observed::{tags, Cluster, CustomEndpoint, Instance, Observed, OLD_PREFIX, TEMP_PREFIX};
use crate::plan::attributes::Tag;
use crate::plan::cluster_attributes::{ClusterAttrs, ClusterModify, MemberAttrs};
use crate::plan::kind::{ClonePath, Kind};
use crate::plan::lock::with_lock;
use crate::plan::model::{Operation, Part, Plan};
use crate::plan::names::final_snapshot_id;
use crate::plan::ops::{ClusterOp, GuardOp, InstanceOp, LockOp, Op, SnapshotOf};
use crate::plan::request::PlanRequest;
use crate::plan::step::{Phase, StepId, StepKind};
use crate::plan::tree::{stand_ins, Node};
use crate::plan::validate::{
    check_available, check_not_protected, check_window, run_of, runs_of, validate_identifier,
};
use std::collections::BTreeSet;

/// The target cluster, with what stands for it now, and its members (writer first).
#[derive(Debug)]
pub(in crate::plan) struct ClusterNodes {
    pub cluster: Node<Cluster>,
    /// The target's members as nodes without replica links.
    pub members: Vec<Node>,
    /// The target's custom endpoints: on the original cluster, recorded in its tags while
    /// one moves, or already moved to the clone.
    pub endpoints: Vec<CustomEndpoint>,
}

impl ClusterNodes {
    /// True once any rename of the swap has happened.
    fn swap_started(&self) -> bool {
        std::iter::once(self.cluster.retired() || self.cluster.swapped())
            .chain(self.members.iter().map(|m| m.retired() || m.swapped()))
            .any(|started| started)
    }
}

/// True when the request names clusters (or one of them does: the planner then says what is
/// wrong with the mix).
pub(in crate::plan) fn names_a_cluster(obs: &Observed, req: &PlanRequest) -> bool {
    obs.source_view().cluster(&req.source).is_some() || is_cluster_target(obs, &req.target)
}

/// True when a cluster goes by the target's name, or by its old-/temp- names.
pub(in crate::plan) fn is_cluster_target(obs: &Observed, target: &str) -> bool {
    ["", OLD_PREFIX, TEMP_PREFIX]
        .iter()
        .any(|p| obs.cluster(&format!("{p}{target}")).is_some())
}

/// The target cluster and its members, whatever point an earlier run reached.
pub(in crate::plan) fn cluster_nodes(
    obs: &Observed,
    target: &str,
) -> Result<ClusterNodes, MitosisError> {
    let (original, replacement) = stand_ins(target, |id| obs.cluster(id));
    if original.or(replacement).is_none() {
        return Err(match obs.get(target) {
            Some(i) => instance_named(i, "--target"),
            None => MitosisError::bad_input(format!(
                "target cluster {target:?} was not found in {}: check --target and the region",
                obs.account.region
            )),
        });
    }
    let members_of = |c: Option<&Cluster>| -> Vec<(String, Instance, bool)> {
        c.map(|c| {
            c.members
                .iter()
                .filter_map(|m| {
                    obs.get(&m.id)
                        .map(|i| (i.logical_name(), i.clone(), m.writer))
                })
                .collect()
        })
        .unwrap_or_default()
    };
    let originals = members_of(original);
    let clones = members_of(replacement);
    // The original members are all there until the first delete; by then the clone's are.
    let shape = if clones.len() > originals.len() {
        &clones
    } else {
        &originals
    };
    let mut names: Vec<(bool, String)> = shape
        .iter()
        .map(|(name, _, writer)| (!writer, name.clone()))
        .collect();
    // The writer first, then the readers by name.
    names.sort();
    let find = |list: &[(String, Instance, bool)], name: &str| {
        list.iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, i, _)| i.clone())
    };
    let members: Vec<Node> = names
        .into_iter()
        .map(|(_, name)| Node {
            original: find(&originals, &name),
            replacement: find(&clones, &name),
            name,
            parent: None,
            children: Vec::new(),
            clone_prefix: TEMP_PREFIX.to_string(),
        })
        .collect();
    // Endpoint members are instance names, which follow renames: a live endpoint seen mid-run
    // names old-X or temp-X. Each is put back to the target's name X.
    let logical = |id: &str| -> String {
        members
            .iter()
            .find(|m: &&Node| {
                m.original.as_ref().is_some_and(|o| o.id == id)
                    || m.replacement.as_ref().is_some_and(|r| r.id == id)
            })
            .map_or_else(|| id.to_string(), |m| m.name.clone())
    };
    let mut endpoints: Vec<CustomEndpoint> = Vec::new();
    let mut add = |mut e: CustomEndpoint| {
        e.static_members = e.static_members.iter().map(|m| logical(m)).collect();
        e.excluded_members = e.excluded_members.iter().map(|m| logical(m)).collect();
        if !endpoints.iter().any(|x| x.id == e.id) {
            endpoints.push(e);
        }
    };
    // The definition recorded at retirement first: it was read before any rename.
    if let Some(o) = original {
        o.tags
            .iter()
            .filter_map(|(k, v)| CustomEndpoint::decode(k.strip_prefix(tags::ENDPOINT_PREFIX)?, v))
            .for_each(&mut add);
        o.endpoints.iter().cloned().for_each(&mut add);
    }
    if let Some(r) = replacement {
        r.endpoints.iter().cloned().for_each(&mut add);
    }
    Ok(ClusterNodes {
        cluster: Node {
            name: target.to_string(),
            parent: None,
            children: Vec::new(),
            original: original.cloned(),
            replacement: replacement.cloned(),
            clone_prefix: TEMP_PREFIX.to_string(),
        },
        members,
        endpoints,
    })
}

/// The error for an instance given where a cluster is expected.
fn instance_named(i: &Instance, flag: &str) -> MitosisError {
    match &i.cluster {
        Some(cluster) => MitosisError::bad_input(format!(
            "{flag} {:?} is a member of Aurora cluster {cluster:?}: name the cluster ({flag} {cluster})",
            i.id
        )),
        None => MitosisError::bad_input(format!(
            "{flag} {:?} is a DB instance but the other side is an Aurora cluster: refresh a cluster from a cluster, or an instance from an instance",
            i.id
        )),
    }
}

/// What this tool cannot refresh, with the reason.
/// How a cluster's clone is made for a refresh or a copy: restored from a cluster snapshot
/// (asked for, or handed over from another account), restored to a moment (`--source-time`,
/// checked against the source's window unless resuming: a full copy), or a copy-on-write
/// clone, which Aurora cannot make of a cluster without instances (unless `cloned`: it exists).
pub(in crate::plan) fn cluster_path(
    req: &PlanRequest,
    source: &Cluster,
    handed_over: bool,
    resuming: bool,
    cloned: bool,
) -> Result<ClonePath, MitosisError> {
    if req.snapshot_path || handed_over {
        return Ok(ClonePath::Snapshot);
    }
    if let Some(time) = req.source_time {
        if !resuming {
            check_window(
                &source.id,
                time,
                source.earliest_restorable,
                source.latest_restorable,
            )?;
        }
        return Ok(ClonePath::PointInTime);
    }
    if source.members.is_empty() && !cloned {
        return Err(MitosisError::bad_input(format!(
            "source cluster {:?} has no instances, and Aurora cannot clone a cluster without one: add an instance to it, or use --snapshot latest",
            source.id
        )));
    }
    Ok(ClonePath::Clone)
}

pub(in crate::plan) fn check_supported(c: &Cluster, what: &str) -> Result<(), MitosisError> {
    if c.engine_mode.as_deref() == Some("serverless") {
        return Err(MitosisError::bad_input(format!(
            "{what} cluster {:?} is Aurora Serverless v1 (EngineMode=serverless), which is not supported: upgrade it to a provisioned cluster with Serverless v2 instances",
            c.id
        )));
    }
    if let Some(global) = &c.global_cluster {
        return Err(MitosisError::bad_input(format!(
            "{what} cluster {:?} is a member of global database {global:?}, which is not supported: refresh a regional cluster",
            c.id
        )));
    }
    Ok(())
}

/// temp-/old- names of the cluster and of each member: at most 63 characters, and the tool's
/// own when they exist.
fn check_cluster_names(obs: &Observed, nodes: &ClusterNodes) -> Result<(), MitosisError> {
    let taken = |name: &str, role: &str, original: &str, ours: Option<&str>| {
        if name.len() > 63 {
            return Err(MitosisError::bad_input(format!(
                "{original:?} would be named {name:?}, longer than the 63 characters AWS allows: rename it to at most {} characters",
                63 - (name.len() - original.len())
            )));
        }
        if ours == Some(name) {
            return Ok(());
        }
        let existing = obs
            .cluster(name)
            .map(|c| (c.is_marked(role, original), c.tag(tags::RUN)))
            .or_else(|| {
                obs.get(name)
                    .map(|i| (i.is_marked(role, original), i.tag(tags::RUN)))
            });
        match existing {
            None => Ok(()),
            Some((marked, run)) => {
                let whose = if marked {
                    format!(
                        "it was left by an earlier run ({}) that is not part of this refresh",
                        run.unwrap_or("unknown")
                    )
                } else {
                    "stack-mitosis did not create it".to_string()
                };
                Err(MitosisError::bad_input(format!(
                    "{name:?} already exists and {whose}: rename or delete it (after checking what it is) before refreshing {:?}",
                    nodes.cluster.name
                )))
            }
        }
    };
    let id = |c: Option<&Cluster>| c.map(|c| c.id.clone());
    let (temp, old) = (nodes.cluster.temp(), nodes.cluster.old());
    taken(
        &temp,
        tags::ROLE_TEMP,
        &nodes.cluster.name,
        id(nodes.cluster.replacement.as_ref()).as_deref(),
    )?;
    taken(
        &old,
        tags::ROLE_OLD,
        &nodes.cluster.name,
        id(nodes.cluster.original.as_ref()).as_deref(),
    )?;
    for m in &nodes.members {
        let inst_id = |i: Option<&Instance>| i.map(|i| i.id.clone());
        taken(
            &m.temp(),
            tags::ROLE_TEMP,
            &m.name,
            inst_id(m.replacement.as_ref()).as_deref(),
        )?;
        taken(
            &m.old(),
            tags::ROLE_OLD,
            &m.name,
            inst_id(m.original.as_ref()).as_deref(),
        )?;
    }
    Ok(())
}

/// The KMS key the source's data is encrypted with, which the clone inherits.
fn source_key(source: &Cluster) -> Option<String> {
    source
        .storage_encrypted
        .then(|| source.kms_key_id.clone())
        .flatten()
}

pub(in crate::plan) fn check_cluster_available(
    c: &Cluster,
    what: &str,
) -> Result<(), MitosisError> {
    if c.is_available() {
        Ok(())
    } else {
        Err(MitosisError::bad_input(format!(
            "{what} cluster {:?} is {:?}, not available: wait until it is available and run again",
            c.id, c.status
        )))
    }
}

pub(in crate::plan) fn plan_cluster(
    obs: &Observed,
    req: &PlanRequest,
) -> Result<Plan, MitosisError> {
    validate_identifier("--source", &req.source)?;
    validate_identifier("--target", &req.target)?;
    let src = obs.source_view();
    let source = match (src.cluster(&req.source), src.get(&req.source)) {
        (Some(c), _) => c,
        (None, Some(i)) => return Err(instance_named(i, "--source")),
        (None, None) => {
            return Err(MitosisError::bad_input(format!(
                "source cluster {:?} was not found in {}{}: check --source and the region",
                req.source,
                src.account.region,
                in_account(obs)
            )))
        }
    };
    if req.source == req.target && obs.source_account.is_none() {
        return Err(MitosisError::bad_input(format!(
            "--source and --target are both {:?}: the target must be a different cluster",
            req.source
        )));
    }
    let nodes = cluster_nodes(obs, &req.target)?;
    if let Some(o) = &nodes.cluster.original {
        check_not_protected(&o.id, &o.tags)?;
    }
    let target = nodes.cluster.attributes();
    check_supported(source, "source")?;
    check_supported(target, "target")?;
    if source.engine != target.engine {
        return Err(MitosisError::bad_input(format!(
            "source {:?} runs {} but target {:?} runs {}: the clone would not fit the target's parameter groups; pick a source of the same engine",
            source.id, source.engine, target.id, target.engine
        )));
    }
    if nodes.members.is_empty() {
        return Err(MitosisError::bad_input(format!(
            "target cluster {:?} has no instances: there is nothing for the application to connect to; add a writer instance first",
            req.target
        )));
    }
    check_cluster_names(obs, &nodes)?;
    let mut runs: BTreeSet<&str> = runs_of(&nodes.members);
    runs.extend(
        [
            nodes.cluster.original.as_ref(),
            nodes.cluster.replacement.as_ref(),
        ]
        .into_iter()
        .flatten()
        .filter(|c| c.mitosis_role().is_some())
        .filter_map(|c| c.tag(tags::RUN)),
    );
    let (run_id, resuming) = run_of(runs, obs.own_snapshots(), &req.target, &req.run_id)?;
    let hand_over = hand_over(
        obs,
        req,
        source.storage_encrypted,
        target.kms_key_id.as_deref(),
    )?;
    let cloned = nodes.cluster.replacement.is_some();
    let path = cluster_path(req, source, hand_over.is_some(), resuming, cloned)?;
    if !resuming {
        check_cluster_available(source, "source")?;
        check_cluster_available(target, "target")?;
        for m in &nodes.members {
            check_available(m.attributes(), "target member")?;
        }
    }
    let mut notes = managed_password_note(&req.target, target.managed_secret.as_deref(), req);
    notes.extend(accounts_note(obs));
    if source.engine_version != target.engine_version {
        notes.push(format!(
            "the clone runs {} {} (the source's version); {} runs {}: after the refresh {} runs {}",
            source.engine,
            source.engine_version,
            req.target,
            target.engine_version,
            req.target,
            source.engine_version
        ));
    }

    let mut b = Builder {
        steps: Vec::new(),
        req,
        run_id: run_id.clone(),
        snapshots_of: SnapshotOf::Cluster,
        hand_over,
        clone_role: tags::ROLE_TEMP,
        copy_tags: Vec::new(),
    };
    let built = b.cluster_clone_phase(obs, &nodes, path, source)?;
    let swaps = b.cluster_swap_phases(&nodes, built);
    let ready = b.endpoint_steps(&nodes, swaps);
    b.cluster_cleanup_phase(&nodes, ready);
    let plan = Plan {
        resuming,
        notes,
        accounts: accounts(obs),
        ..Plan::new(
            Operation::Refresh,
            Part {
                source: req.source.clone(),
                target: req.target.clone(),
                kind: Kind::Cluster,
                path,
            },
            run_id,
            b.steps,
        )
    };
    Ok(with_lock(plan, &req.run_id))
}

impl Builder<'_> {
    /// temp-T (clone or restore), its post-restore settings, then temp-<member> for each
    /// member, the writer first. Returns the steps after which the clone is complete.
    pub(in crate::plan) fn cluster_clone_phase(
        &mut self,
        obs: &Observed,
        nodes: &ClusterNodes,
        path: ClonePath,
        source: &Cluster,
    ) -> Result<Vec<StepId>, MitosisError> {
        let t = nodes.cluster.attributes();
        let temp = nodes.cluster.temp();
        let attrs =
            ClusterAttrs::from_cluster(t, self.clone_tags(t.user_tags(), &nodes.cluster.name));
        let skip = match &nodes.cluster.replacement {
            Some(c) if nodes.cluster.swapped() => Some(format!("already swapped in as {}", c.id)),
            Some(c) => Some(format!("{} exists (created by run {})", c.id, self.run_id)),
            None => None,
        };
        let restore_done = skip.is_some();
        let created = if path == ClonePath::Snapshot {
            let restorable = self.snapshot_to_restore(obs, &source.id, restore_done)?;
            // A handed-over snapshot is encrypted with the target account's key.
            let key = match &self.hand_over {
                Some(h) => h
                    .target_key
                    .as_deref()
                    .map(|k| crate::plan::ops::kms_arn(k, &obs.account)),
                None => source_key(source),
            };
            let op = ClusterOp::RestoreFromSnapshot {
                snapshot_id: restorable.snapshot_id.clone(),
                engine: source.engine.clone(),
                engine_version: source.engine_version.clone(),
                source_key: key,
                attrs,
            };
            let restored = self.push(
                StepId::new(StepKind::Create, &temp),
                Phase::Clone,
                &temp,
                Op::Cluster(op),
                restorable.after.clone().into_iter().collect(),
                skip.clone(),
            );
            self.release_restored(obs, restorable, restored.clone(), restore_done);
            restored
        } else {
            let op = ClusterOp::Clone {
                source: source.id.clone(),
                source_key: source_key(source),
                time: self.req.source_time,
                attrs,
            };
            self.push(
                StepId::new(StepKind::Create, &temp),
                Phase::Clone,
                &temp,
                Op::Cluster(op),
                Vec::new(),
                skip,
            )
        };
        let modify = ClusterModify::post_create(t);
        let skip = match &nodes.cluster.replacement {
            Some(c) if nodes.cluster.swapped() => Some(format!("already swapped in as {}", c.id)),
            Some(c) if modify.already_applied(c) => {
                Some(format!("{} already has these settings", c.id))
            }
            _ => None,
        };
        let configured = self.push(
            StepId::new(StepKind::Configure, &temp),
            Phase::Clone,
            &temp,
            Op::Cluster(ClusterOp::Modify(modify)),
            vec![created],
            skip,
        );
        let mut done = Vec::new();
        let mut writer: Option<StepId> = None;
        for m in &nodes.members {
            let x = m.attributes();
            let attrs = MemberAttrs::from_instance(x, self.clone_tags(x.user_tags(), &m.name));
            let skip = match &m.replacement {
                Some(c) if m.swapped() => Some(format!("already swapped in as {}", c.id)),
                Some(c) => Some(format!("{} exists (created by run {})", c.id, self.run_id)),
                None => None,
            };
            // The first member to become available is the writer: the readers wait for it.
            let deps = match &writer {
                Some(w) => vec![w.clone()],
                None => vec![configured.clone()],
            };
            let op = InstanceOp::CreateMember {
                cluster: temp.clone(),
                attrs,
            };
            let id = self.push(
                StepId::new(StepKind::Create, &m.temp()),
                Phase::Clone,
                &m.temp(),
                Op::Instance(op),
                deps,
                skip,
            );
            writer.get_or_insert(id.clone());
            done.push(id);
        }
        Ok(done)
    }

    /// The before-swap command and the guardrails; then the cluster and every member are
    /// marked and renamed to old-*, and each clone takes its name as soon as it is free.
    fn cluster_swap_phases(&mut self, nodes: &ClusterNodes, built: Vec<StepId>) -> Vec<StepId> {
        let started = nodes.swap_started();
        let prepared = nodes
            .cluster
            .replacement
            .as_ref()
            .is_some_and(|c| c.tag(tags::PREPARED) == Some(self.run_id.as_str()));
        let password_set = nodes
            .cluster
            .replacement
            .as_ref()
            .is_some_and(|c| c.tag(tags::PASSWORD) == Some(self.run_id.as_str()));
        let built = self.password_steps(
            &nodes.cluster.temp(),
            started || password_set,
            |secret| {
                Op::Cluster(ClusterOp::SetPassword {
                    secret: Some(secret),
                })
            },
            |tags| Op::Cluster(ClusterOp::AddTags { tags }),
            built,
        );
        let mark_prepared = |tags| Op::Cluster(ClusterOp::AddTags { tags });
        let ready = self.prepare_steps(
            &nodes.cluster.temp(),
            started,
            prepared,
            mark_prepared,
            built,
        );
        let mut originals = vec![(
            nodes.cluster.name.clone(),
            nodes
                .cluster
                .original
                .as_ref()
                .and_then(|o| o.resource_id.clone()),
        )];
        originals.extend(nodes.members.iter().map(|m| {
            let rid = m.original.as_ref().and_then(|o| o.resource_id.clone());
            (m.name.clone(), rid)
        }));
        let mut clones = vec![nodes.cluster.temp()];
        clones.extend(nodes.members.iter().map(Node::temp));
        let guard = GuardOp {
            originals,
            clones,
            replicas: Vec::new(),
        };
        let target = self.req.target.clone();
        let guarded = vec![self.push(
            StepId::new(StepKind::Guard, &target),
            Phase::Prepare,
            &target,
            Op::Guard(guard),
            ready,
            started.then(|| "the swap has already begun".to_string()),
        )];

        let mut swaps = Vec::new();
        // The cluster: mark, retire, swap.
        let marked = nodes
            .cluster
            .original
            .as_ref()
            .is_none_or(|o| o.is_marked(tags::ROLE_OLD, &nodes.cluster.name));
        // The custom endpoints' definitions ride on the retired cluster while they move.
        let mut tags = self.marker_tags(tags::ROLE_OLD, &nodes.cluster.name);
        tags.extend(
            nodes
                .endpoints
                .iter()
                .map(|e| Tag::new(&format!("{}{}", tags::ENDPOINT_PREFIX, e.id), &e.encode())),
        );
        let mark = self.push(
            StepId::new(StepKind::Mark, &nodes.cluster.name),
            Phase::Retire,
            &nodes.cluster.name,
            Op::Cluster(ClusterOp::AddTags { tags }),
            guarded.clone(),
            marked.then(|| format!("{} already marked for retirement", nodes.cluster.name)),
        );
        let retire = self.push(
            StepId::new(StepKind::Retire, &nodes.cluster.name),
            Phase::Retire,
            &nodes.cluster.name,
            Op::Cluster(ClusterOp::Modify(ClusterModify::rename(
                &nodes.cluster.old(),
            ))),
            vec![mark],
            nodes.cluster.retired().then(|| {
                format!(
                    "{} already retired as {}",
                    nodes.cluster.name,
                    nodes.cluster.old()
                )
            }),
        );
        swaps.push(self.push(
            StepId::new(StepKind::Swap, &nodes.cluster.name),
            Phase::Swap,
            &nodes.cluster.temp(),
            Op::Cluster(ClusterOp::Modify(ClusterModify::rename(
                &nodes.cluster.name,
            ))),
            vec![retire],
            nodes.cluster.swapped().then(|| {
                format!(
                    "{} already swapped in as {}",
                    nodes.cluster.temp(),
                    nodes.cluster.name
                )
            }),
        ));
        // Each member, in parallel with the cluster: instance renames are independent of it.
        for m in &nodes.members {
            let retire = self.retire_steps(m, guarded.clone());
            let skip = m
                .swapped()
                .then(|| format!("{} already swapped in as {}", m.temp(), m.name));
            swaps.push(self.push(
                StepId::new(StepKind::Swap, &m.name),
                Phase::Swap,
                &m.temp(),
                Op::Instance(InstanceOp::Modify(crate::plan::ModifyAttrs::rename(
                    &m.name,
                ))),
                vec![retire],
                skip,
            ));
        }
        swaps
    }

    /// Each custom endpoint moves to the new cluster once every swap is done (its name is
    /// unique in the region, so it is deleted from the retired cluster first). Returns what
    /// the restart waits for: the swaps and the endpoints.
    fn endpoint_steps(&mut self, nodes: &ClusterNodes, swaps: Vec<StepId>) -> Vec<StepId> {
        let mut ready = swaps.clone();
        for e in &nodes.endpoints {
            let on = |c: &Option<Cluster>| {
                c.as_ref()
                    .is_some_and(|c| c.endpoints.iter().any(|x| x.id == e.id))
            };
            let dropped = self.push(
                StepId::new(StepKind::DropEndpoint, &e.id),
                Phase::Swap,
                &nodes.cluster.old(),
                Op::Cluster(ClusterOp::DeleteEndpoint {
                    endpoint: e.id.clone(),
                }),
                swaps.clone(),
                (!on(&nodes.cluster.original))
                    .then(|| format!("{} is no longer on the retired cluster", e.id)),
            );
            let mut endpoint = e.clone();
            endpoint.cluster = String::new();
            endpoint.status = String::new();
            ready.push(
                self.push(
                    StepId::new(StepKind::Endpoint, &e.id),
                    Phase::Swap,
                    &nodes.cluster.name,
                    Op::Cluster(ClusterOp::CreateEndpoint { endpoint }),
                    vec![dropped],
                    on(&nodes.cluster.replacement)
                        .then(|| format!("{} is already on {}", e.id, nodes.cluster.name)),
                ),
            );
        }
        ready
    }

    /// The restart command; then the old members are deleted, the old cluster after them,
    /// and the markers come off (the cluster's last).
    fn cluster_cleanup_phase(&mut self, nodes: &ClusterNodes, swaps: Vec<StepId>) {
        let cleanup_started =
            nodes.cluster.original.is_none() || nodes.members.iter().any(|m| m.original.is_none());
        let gate = self.restart_step(cleanup_started, swaps);
        let mut delete_deps = gate.clone();
        let old_gone = nodes.cluster.original.is_none();
        if !old_gone {
            // The old cluster carries the lock: the new one takes it over first.
            let op = Op::Lock(LockOp::Move {
                holder: self.req.run_id.clone(),
            });
            delete_deps.push(self.push(
                StepId::new(StepKind::MoveLock, &nodes.cluster.name),
                Phase::Cleanup,
                &nodes.cluster.name,
                op,
                gate.clone(),
                None,
            ));
        }
        let protected = nodes.cluster.attributes().deletion_protection
            || nodes
                .cluster
                .replacement
                .as_ref()
                .is_some_and(|c| c.deletion_protection);
        if protected {
            let skip = nodes
                .cluster
                .replacement
                .as_ref()
                .is_some_and(|c| c.deletion_protection)
                .then(|| format!("{} is already protected", nodes.cluster.name));
            let protect = self.push(
                StepId::new(StepKind::Protect, &nodes.cluster.name),
                Phase::Cleanup,
                &nodes.cluster.name,
                Op::Cluster(ClusterOp::Modify(ClusterModify::deletion_protection(true))),
                gate.clone(),
                skip,
            );
            let skip = match &nodes.cluster.original {
                None => Some(format!("{} already deleted", nodes.cluster.old())),
                Some(o) if !o.deletion_protection => {
                    Some(format!("{} is already unprotected", nodes.cluster.old()))
                }
                Some(_) => None,
            };
            delete_deps.push(self.push(
                StepId::new(StepKind::Unprotect, &nodes.cluster.old()),
                Phase::Cleanup,
                &nodes.cluster.old(),
                Op::Cluster(ClusterOp::Modify(ClusterModify::deletion_protection(false))),
                vec![protect],
                skip,
            ));
        }
        for m in &nodes.members {
            let skip = m
                .original
                .is_none()
                .then(|| format!("{} already deleted", m.old()));
            delete_deps.push(self.push(
                StepId::new(StepKind::Delete, &m.old()),
                Phase::Cleanup,
                &m.old(),
                // Aurora members keep no snapshot of their own: the cluster's is the backup.
                Op::Instance(InstanceOp::Delete {
                    final_snapshot_id: None,
                }),
                gate.clone(),
                skip,
            ));
        }
        let op = ClusterOp::Delete {
            final_snapshot_id: self
                .req
                .final_snapshot
                .then(|| final_snapshot_id(&nodes.cluster.old(), &self.run_id)),
        };
        let deleted = self.push(
            StepId::new(StepKind::Delete, &nodes.cluster.old()),
            Phase::Cleanup,
            &nodes.cluster.old(),
            Op::Cluster(op),
            delete_deps,
            old_gone.then(|| format!("{} already deleted", nodes.cluster.old())),
        );
        let keys: Vec<String> = tags::MARKERS.iter().map(|k| k.to_string()).collect();
        let mut unmarked = Vec::new();
        for m in &nodes.members {
            let has_markers = m
                .replacement
                .as_ref()
                .is_none_or(|c| c.tags.keys().any(|k| k.starts_with(tags::PREFIX)));
            unmarked.push(self.push(
                StepId::new(StepKind::Unmark, &m.name),
                Phase::Cleanup,
                &m.name,
                Op::Instance(InstanceOp::RemoveTags { keys: keys.clone() }),
                vec![deleted.clone()],
                (!has_markers).then(|| format!("{} has no markers left", m.name)),
            ));
        }
        // The cluster's markers go last: while they remain, a rerun knows the clone is new.
        let has_markers = nodes
            .cluster
            .replacement
            .as_ref()
            .is_none_or(|c| c.tags.keys().any(|k| k.starts_with(tags::PREFIX)));
        unmarked.push(deleted);
        self.push(
            StepId::new(StepKind::Unmark, &nodes.cluster.name),
            Phase::Cleanup,
            &nodes.cluster.name,
            Op::Cluster(ClusterOp::RemoveTags { keys }),
            unmarked,
            (!has_markers).then(|| format!("{} has no markers left", nodes.cluster.name)),
        );
    }
}
