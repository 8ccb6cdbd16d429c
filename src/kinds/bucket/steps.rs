//! Where the bucket steps go in a plan: a refresh's syncs and prunes hung on the database
//! plan's milestones, a copy's buckets made and filled, a copy's buckets deleted. Pure.

use super::names::bucket_copy_refusal;
use super::op::BucketOp;
use super::Observed;
use crate::config::EnvSpec;
use crate::error::MitosisError;
use crate::observed::tags;
use crate::plan::milestones::{depend, ids, place, Milestones};
use crate::plan::ops::Wing;
use crate::plan::{
    push_step as push, CopySpec, Kind, Op, Phase, Plan, Removal, SourceTime, Step, StepId,
    StepKind, Tag,
};

/// A refresh's buckets: each target bucket gets the source's new and changed objects once the
/// clones exist (the data's moment is fixed) and before the guardrails; what the source lacks
/// is deleted only once the new environment is in place (after the restart command). The
/// sync steps, which the groups' standby may wait for.
pub fn refresh(plan: &mut Plan, spec: &EnvSpec, env: &Observed, at: &Milestones) -> Vec<StepId> {
    let mut syncs = Vec::new();
    for (source, target) in &spec.buckets {
        let counts = env.syncs.get(target).copied().unwrap_or_default();
        let skip = if !at.retire_pending {
            Some("the target was retired after its buckets were synced".to_string())
        } else if counts.copy == 0 {
            Some("the bucket already holds every object of the source bucket".to_string())
        } else {
            None
        };
        let op = Op::Wing(Wing::new(BucketOp::Sync {
            source: source.clone(),
            source_owner: env.source_owner.clone(),
            owner: env.owner.clone(),
            counts,
        }));
        let id = StepId::new(StepKind::SyncBucket, target);
        syncs.push(push(
            &mut plan.steps,
            id,
            Phase::Prepare,
            target,
            op,
            at.cloned.clone(),
            skip,
        ));
    }
    depend(plan, &syncs, |s| s.id.kind == StepKind::Guard);
    // What the source lacks goes once the restart succeeded, as the old databases do.
    for ((source, target), sync) in spec.buckets.iter().zip(&syncs) {
        let count = env.syncs.get(target).map(|c| c.delete).unwrap_or_default();
        let mut deps = at.restarted.clone();
        deps.push(sync.clone());
        push(
            &mut plan.steps,
            StepId::new(StepKind::PruneBucket, target),
            Phase::Cleanup,
            target,
            Op::Wing(Wing::new(BucketOp::Prune {
                source: source.clone(),
                source_owner: env.source_owner.clone(),
                owner: env.owner.clone(),
                count,
            })),
            deps,
            (count == 0).then(|| "the bucket has no object the source bucket lacks".to_string()),
        );
    }
    // The flight plan reads in the order things happen: each new step where it runs.
    place(
        plan,
        |s| s.id.kind == StepKind::SyncBucket && s.phase == Phase::Prepare,
        |s| s.id.kind == StepKind::Guard,
        false,
    );
    place(
        plan,
        |s| s.id.kind == StepKind::PruneBucket && s.phase == Phase::Cleanup,
        |s| {
            matches!(
                s.id.kind,
                StepKind::Restart | StepKind::Swap | StepKind::InService
            )
        },
        true,
    );
    syncs
}

/// What a refresh's buckets are, in the flight plan's note on the environment.
pub fn note(spec: &EnvSpec) -> Option<String> {
    if spec.buckets.is_empty() {
        return None;
    }
    let buckets: Vec<String> = spec
        .buckets
        .iter()
        .map(|(s, t)| format!("{t} made to hold {s}'s objects"))
        .collect();
    Some(format!(
        "{} (new and changed objects copied once the clones exist, before the first retire; what the source lacks deleted only after the restart command succeeded; a rollback keeps the copied objects and overwrites are not undone)",
        buckets.join(", ")
    ))
}

/// The bucket steps the lock waits for.
pub fn holds_lock(step: &Step) -> bool {
    matches!(step.id.kind, StepKind::SyncBucket | StepKind::PruneBucket)
}

/// A copy's buckets: each created with the copy's tags (or found from an earlier run), then
/// filled from the source bucket once the database's clones exist, before the copy's hooks.
pub fn copy(
    mut plan: Plan,
    copy: &CopySpec,
    spec: &EnvSpec,
    env: &Observed,
) -> Result<Plan, MitosisError> {
    let clones = ids(&plan, |s| s.phase == Phase::Clone);
    // The copy's root exists (with the run's marks) before its buckets are made: a rerun
    // finds the run there, and only a bucket of that run is ever taken as the copy's.
    let root_made = plan
        .steps
        .iter()
        .find(|s| s.phase == Phase::Clone && s.resource == plan.target)
        .map(|s| s.id.clone());
    // The copy's policy allows deletes on every bucket name that begins with the prefix.
    let strangers: Vec<String> = env
        .prefixed
        .iter()
        .filter_map(|(name, tags)| {
            bucket_copy_refusal(name, tags, &copy.prefix, None).map(|why| format!("{name} ({why})"))
        })
        .collect();
    if !strangers.is_empty() {
        return Err(MitosisError::bad_input(format!(
            "--prefix {:?} also begins the bucket names {}, which are not copies made with it: the copy's policy allows deletes on every bucket name that begins with the prefix, so pick a prefix that begins no other bucket's name",
            copy.prefix,
            strangers.join(", ")
        )));
    }
    let mut syncs = Vec::new();
    for (source, bucket) in &spec.buckets {
        let template = bucket.strip_prefix(&copy.prefix).unwrap_or(bucket);
        let existing = env.copies.get(bucket).cloned().flatten();
        if let Some(found) = &existing {
            if let Some(why) = bucket_copy_refusal(bucket, found, &copy.prefix, Some(&plan.run_id))
            {
                return Err(MitosisError::bad_input(format!(
                    "the bucket {bucket} already exists and stack-mitosis did not make it as this copy with prefix {:?} ({why}; bucket names are global): nothing was written to it; pick another --prefix, or destroy the copy first",
                    copy.prefix
                )));
            }
        }
        let mut bucket_tags = vec![
            Tag::new(tags::ROLE, tags::ROLE_COPY),
            Tag::new(tags::ORIGINAL, template),
            Tag::new(tags::COPY_PREFIX, &copy.prefix),
            Tag::new(tags::RUN, &plan.run_id),
        ];
        if let Some(at) = copy.expires {
            bucket_tags.push(Tag::new(tags::EXPIRES, &SourceTime::rfc3339(at)));
        }
        let create = push(
            &mut plan.steps,
            StepId::new(StepKind::CreateBucket, bucket),
            Phase::Clone,
            bucket,
            Op::Wing(Wing::new(BucketOp::Create {
                tags: bucket_tags,
                owner: env.owner.clone(),
            })),
            root_made.iter().cloned().collect(),
            existing
                .is_some()
                .then(|| format!("{bucket} exists (made by this copy's run)")),
        );
        let counts = env.syncs.get(bucket).copied().unwrap_or_default();
        let skip = (existing.is_some() && counts.copy == 0)
            .then(|| "the bucket already holds the source bucket's objects".to_string());
        let mut deps = clones.clone();
        deps.push(create);
        syncs.push(push(
            &mut plan.steps,
            StepId::new(StepKind::SyncBucket, bucket),
            Phase::Prepare,
            bucket,
            Op::Wing(Wing::new(BucketOp::Sync {
                source: source.clone(),
                source_owner: env.source_owner.clone(),
                owner: env.owner.clone(),
                counts,
            })),
            deps,
            skip,
        ));
    }
    // The copy is ready (scrubbed, deployed) only with its buckets filled.
    depend(&mut plan, &syncs, |s| {
        matches!(s.id.kind, StepKind::BeforeSwap | StepKind::Restart)
    });
    let is = |kind: StepKind| move |s: &Step| s.id.kind == kind;
    place(&mut plan, is(StepKind::CreateBucket), |_| true, false);
    place(
        &mut plan,
        is(StepKind::SyncBucket),
        |s| s.phase == Phase::Clone,
        true,
    );
    if !spec.buckets.is_empty() {
        let names: Vec<&str> = spec.buckets.iter().map(|(_, t)| t.as_str()).collect();
        plan.notes.push(format!(
            "the copy's buckets {} are made from the source's, tagged like its databases; destroy deletes them with the copy",
            names.join(", ")
        ));
    }
    Ok(plan)
}

/// A copy's buckets deleted (`destroy`, `sweep`), all `owner`'s: each that exists must be
/// provably a copy with this prefix (of the copy's `run`, when its databases name one), or
/// nothing is deleted. None when none exists.
pub fn destroy_buckets(
    found: &[(String, Option<std::collections::BTreeMap<String, String>>)],
    prefix: &str,
    run: Option<&str>,
    owner: &str,
    removal: Removal,
) -> Result<Vec<Step>, MitosisError> {
    let mut steps = Vec::new();
    for (bucket, tags) in found {
        let Some(tags) = tags else { continue };
        if let Some(why) = bucket_copy_refusal(bucket, tags, prefix, run) {
            return Err(MitosisError::bad_input(match removal {
                Removal::Destroy => format!(
                    "the bucket {bucket} is named like a copy with prefix {prefix:?}, but stack-mitosis did not make it as one ({why}): nothing was deleted"
                ),
                Removal::Sweep => format!(
                    "sweep skips the bucket {bucket}: it is not provably a copy with prefix {prefix:?} ({why}); nothing of it was touched"
                ),
            }));
        }
        let made_by = tags.get(tags::RUN).cloned().unwrap_or_default();
        push(
            &mut steps,
            StepId::new(StepKind::DeleteBucket, bucket),
            Phase::Cleanup,
            bucket,
            Op::Wing(Wing::new(BucketOp::Delete {
                prefix: prefix.to_string(),
                run: made_by,
                owner: owner.to_string(),
            })),
            Vec::new(),
            None,
        );
    }
    Ok(steps)
}

/// The destroy of a copy of which only buckets are left (or a bucket swept on its own).
pub fn buckets_plan(name: &str, prefix: &str, steps: Vec<Step>) -> Plan {
    crate::plan::destroy_plan("", name, Kind::Instance, String::new(), steps, prefix)
}
