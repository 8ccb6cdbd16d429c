//! `destroy` and `sweep`: a copy deleted, only when every resource of it is provably one
//! (see `crate::plan::proof`); `sweep` finds the copies whose expiry has passed.

use super::copy::{copy_name, not_a_copy};
use crate::error::MitosisError;
use crate::observed::{tags, Cluster, Instance, Observed};
use crate::plan::attributes::ModifyAttrs;
use crate::plan::kind::{ClonePath, Kind};
use crate::plan::model::{Operation, Part, Plan};
use crate::plan::ops::{ClusterOp, InstanceOp, Op};
use crate::plan::request::SourceTime;
use crate::plan::step::{Phase, StepId, StepKind};
use crate::plan::tree::Resource;
use crate::plan::validate::validate_identifier;

/// Who removes a copy: `destroy` (named by the user) or `sweep` (found by its expiry, with
/// nobody to ask). A sweep also passes over a copy with deletion protection on: copies are
/// made without it, so someone switched it on to keep it (or it is no copy at all).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    Destroy,
    Sweep,
}

/// The flight plan of `destroy --like T --prefix P` (or a sweep's of an expired copy): None
/// when no such copy exists (already gone). Replicas go before their primary, members before
/// their cluster, deletion protection off first; every resource must be provably the copy's
/// (`crate::plan::proof`), all of one run, or nothing is planned at all.
pub fn plan_destroy(
    obs: &Observed,
    like: &str,
    prefix: &str,
    removal: Removal,
) -> Result<Option<Plan>, MitosisError> {
    validate_identifier("--like", like)?;
    let root = copy_name(prefix, like)?;
    let not_ours = |id: &str, why: String| {
        MitosisError::bad_input(match removal {
            Removal::Destroy => format!(
                "{id:?} is named like a copy of {like:?} with prefix {prefix:?}, but stack-mitosis did not make it as one ({why}): nothing was deleted"
            ),
            Removal::Sweep => format!(
                "sweep skips {id:?}: it is not provably a copy with prefix {prefix:?} ({why}); nothing of it was touched"
            ),
        })
    };
    let check = |r: &dyn ProvedResource, run: Option<&str>| -> Result<(), MitosisError> {
        if let Some(why) = r.refusal(prefix, run) {
            return Err(not_ours(r.name(), why));
        }
        if removal == Removal::Sweep && r.protection() {
            return Err(not_ours(
                r.name(),
                "deletion protection is on, and copies are made without it; destroy it by name if it should go".into(),
            ));
        }
        Ok(())
    };
    let mut steps = Vec::new();
    // Every resource of the copy, found by name, must be provably the copy's, of one run.
    let ours = |id: &str, run: &str| -> Result<&Instance, MitosisError> {
        let inst = obs
            .get(id)
            .ok_or_else(|| not_ours(id, "it is gone".into()))?;
        check(inst, Some(run))?;
        Ok(inst)
    };
    let (kind, run_id, source) = if let Some(c) = obs.cluster(&root) {
        check(c, None)?;
        let run = run_tag(c.tag(tags::RUN));
        let mut deleted = Vec::new();
        for m in &c.members {
            deleted.push(delete_instance_steps(
                &mut steps,
                ours(&m.id, &run)?,
                Vec::new(),
            ));
        }
        delete_cluster_steps(&mut steps, c, deleted);
        (Kind::Cluster, run, c.tag(tags::SOURCE))
    } else if let Some(i) = obs.get(&root) {
        check(i, None)?;
        let run = run_tag(i.tag(tags::RUN));
        // Children first: each delete waits for its replicas' deletes.
        let mut deleted: Vec<(String, StepId)> = Vec::new();
        for id in obs.tree(&root).iter().rev() {
            let inst = ours(id, &run)?;
            let deps = obs
                .children(id)
                .iter()
                .filter_map(|c| deleted.iter().find(|(d, _)| d == c).map(|(_, s)| s.clone()))
                .collect();
            let step = delete_instance_steps(&mut steps, inst, deps);
            deleted.push((id.clone(), step));
        }
        (Kind::Instance, run, i.tag(tags::SOURCE))
    } else {
        return Ok(None);
    };
    Ok(Some(destroy_plan(
        source.unwrap_or_default(),
        &root,
        kind,
        run_id,
        steps,
        prefix,
    )))
}

/// An instance or a cluster as the destroy's checks see it.
trait ProvedResource {
    fn name(&self) -> &str;
    fn refusal(&self, prefix: &str, run: Option<&str>) -> Option<String>;
    fn protection(&self) -> bool;
}

impl ProvedResource for Instance {
    fn name(&self) -> &str {
        &self.id
    }
    fn refusal(&self, prefix: &str, run: Option<&str>) -> Option<String> {
        not_a_copy(self, prefix, run)
    }
    fn protection(&self) -> bool {
        self.deletion_protection
    }
}

impl ProvedResource for Cluster {
    fn name(&self) -> &str {
        &self.id
    }
    fn refusal(&self, prefix: &str, run: Option<&str>) -> Option<String> {
        not_a_copy(self, prefix, run)
    }
    fn protection(&self) -> bool {
        self.deletion_protection
    }
}

/// The plan of a destroy: its steps, named for the copy (`target`) and its prefix.
pub fn destroy_plan(
    source: &str,
    target: &str,
    kind: Kind,
    run_id: String,
    steps: Vec<crate::plan::Step>,
    prefix: &str,
) -> Plan {
    Plan {
        copy_prefix: Some(prefix.to_string()),
        ..Plan::new(
            Operation::Destroy,
            Part {
                source: source.to_string(),
                target: target.to_string(),
                kind,
                path: ClonePath::Replica,
            },
            run_id,
            steps,
        )
    }
}

fn run_tag(run: Option<&str>) -> String {
    run.unwrap_or_default().to_string()
}

/// Deletion protection off when it is on, then the delete.
fn delete_instance_steps(
    steps: &mut Vec<crate::plan::Step>,
    inst: &Instance,
    deps: Vec<StepId>,
) -> StepId {
    let unprotect = Op::Instance(InstanceOp::Modify(ModifyAttrs::deletion_protection(false)));
    let delete = Op::Instance(InstanceOp::Delete {
        final_snapshot_id: None,
    });
    let protected = inst.deletion_protection.then_some(unprotect);
    unprotect_then_delete(steps, &inst.id, protected, delete, deps)
}

fn delete_cluster_steps(steps: &mut Vec<crate::plan::Step>, c: &Cluster, members: Vec<StepId>) {
    let unprotect = Op::Cluster(ClusterOp::Modify(
        crate::plan::cluster_attributes::ClusterModify::deletion_protection(false),
    ));
    let delete = Op::Cluster(ClusterOp::Delete {
        final_snapshot_id: None,
    });
    let protected = c.deletion_protection.then_some(unprotect);
    unprotect_then_delete(steps, &c.id, protected, delete, members);
}

/// `unprotect` (when the resource is protected), then `delete` after it and `deps`.
fn unprotect_then_delete(
    steps: &mut Vec<crate::plan::Step>,
    id: &str,
    unprotect: Option<Op>,
    delete: Op,
    mut deps: Vec<StepId>,
) -> StepId {
    if let Some(op) = unprotect {
        let step = StepId::new(StepKind::Unprotect, id);
        deps.push(crate::plan::step::push(
            steps,
            step,
            Phase::Cleanup,
            id,
            op,
            Vec::new(),
            None,
        ));
    }
    let step = StepId::new(StepKind::Delete, id);
    crate::plan::step::push(steps, step, Phase::Cleanup, id, delete, deps, None)
}

/// The copies (template name, prefix) whose expiry is before `now` (epoch seconds): roots of
/// copy trees and copy clusters, never a cluster's member or a replica on its own.
pub fn expired_copies(obs: &Observed, now: i64) -> Vec<(String, String)> {
    let roots = obs
        .instances
        .values()
        .filter(|i| i.replica_source.is_none() && i.cluster.is_none());
    obs.clusters
        .values()
        .filter_map(|c| expired_copy(c, now))
        .chain(roots.filter_map(|i| expired_copy(i, now)))
        .collect()
}

/// The template and prefix of a copy whose expiry is before `now`.
fn expired_copy<R: Resource>(r: &R, now: i64) -> Option<(String, String)> {
    let expired = r
        .tag(tags::EXPIRES)
        .and_then(|e| SourceTime::parse(e).ok())
        .is_some_and(|t| matches!(t, SourceTime::At(at) if at < now));
    if r.tag(tags::ROLE) != Some(tags::ROLE_COPY) || !expired {
        return None;
    }
    Some((
        r.tag(tags::ORIGINAL)?.to_string(),
        r.tag(tags::COPY_PREFIX)?.to_string(),
    ))
}
