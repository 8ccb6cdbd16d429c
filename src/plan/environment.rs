//! The rest of an environment in the step graph (`--config`): bucket copies after the clones
//! exist and before the guardrails, the objects the source lacks deleted after the restart
//! command (never before the new environment is in place), the target's Auto Scaling groups
//! in standby from just
//! before the first retire until right after the restart command, and with
//! `--quiesce-source` the source's groups in standby while its fresh snapshot is taken.
//! Pure: it adds steps to a database plan from what was observed.

use super::ops::{BucketOp, GroupOp, LockOp, Op};
use super::step::{push, Phase, Step, StepId, StepKind};
use super::{CopySpec, PlanRequest, SourceTime, Tag};
use super::{Operation, Plan};
use crate::environment::{bucket_copy_refusal, EnvSpec, ObservedEnv, Recorded};
use crate::error::MitosisError;
use crate::observed::tags;

fn ids(plan: &Plan, keep: impl Fn(&Step) -> bool) -> Vec<StepId> {
    plan.steps
        .iter()
        .filter(|s| keep(s))
        .map(|s| s.id.clone())
        .collect()
}

fn depend(plan: &mut Plan, on: &[StepId], which: impl Fn(&Step) -> bool) {
    for step in plan.steps.iter_mut().filter(|s| which(s)) {
        step.depends_on.extend(on.iter().cloned());
    }
}

fn recorded(env: &ObservedEnv, group: &str) -> Option<Recorded> {
    env.groups
        .get(group)
        .and_then(|g| Recorded::from_tags(&g.tags))
}

/// The database plan with the environment's steps (`request.environment`), from what was
/// observed of its buckets and groups.
pub fn extend(plan: Plan, request: &PlanRequest, env: &ObservedEnv) -> Result<Plan, MitosisError> {
    let Some(spec) = &request.environment else {
        return Ok(plan);
    };
    match (plan.operation, &request.copy) {
        (Operation::Refresh, _) => refresh_steps(plan, spec, env),
        (Operation::Copy, Some(copy)) => copy_steps(plan, copy, spec, env),
        _ => Ok(plan),
    }
}

/// A copy's buckets: each created with the copy's tags (or found from an earlier run), then
/// filled from the source bucket once the database's clones exist, before the copy's hooks.
fn copy_steps(
    mut plan: Plan,
    copy: &CopySpec,
    spec: &EnvSpec,
    env: &ObservedEnv,
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
            Op::Bucket(BucketOp::Create {
                tags: bucket_tags,
                owner: env.owner.clone(),
            }),
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
            Op::Bucket(BucketOp::Sync {
                source: source.clone(),
                source_owner: env.source_owner.clone(),
                owner: env.owner.clone(),
                counts,
            }),
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
    removal: super::Removal,
) -> Result<Vec<Step>, MitosisError> {
    let mut steps = Vec::new();
    for (bucket, tags) in found {
        let Some(tags) = tags else { continue };
        if let Some(why) = bucket_copy_refusal(bucket, tags, prefix, run) {
            return Err(MitosisError::bad_input(match removal {
                super::Removal::Destroy => format!(
                    "the bucket {bucket} is named like a copy with prefix {prefix:?}, but stack-mitosis did not make it as one ({why}): nothing was deleted"
                ),
                super::Removal::Sweep => format!(
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
            Op::Bucket(BucketOp::Delete {
                prefix: prefix.to_string(),
                run: made_by,
                owner: owner.to_string(),
            }),
            Vec::new(),
            None,
        );
    }
    Ok(steps)
}

/// The destroy of a copy of which only buckets are left (or a bucket swept on its own).
pub fn buckets_plan(name: &str, prefix: &str, steps: Vec<Step>) -> Plan {
    super::copy::destroy_plan(
        "",
        name,
        super::Kind::Instance,
        String::new(),
        steps,
        prefix,
    )
}

/// A refresh's buckets and groups.
fn refresh_steps(mut plan: Plan, spec: &EnvSpec, env: &ObservedEnv) -> Result<Plan, MitosisError> {
    let lock = ids(&plan, |s| matches!(s.op, Op::Lock(LockOp::Take { .. })));
    let retire_pending = plan
        .steps
        .iter()
        .any(|s| s.id.kind == StepKind::Retire && s.is_pending());

    // Buckets: once the clones exist (the data's moment is fixed), before the guardrails.
    let clones = ids(&plan, |s| s.phase == Phase::Clone);
    let after_clones = if clones.is_empty() {
        lock.clone()
    } else {
        clones
    };
    let mut syncs = Vec::new();
    for (source, target) in &spec.buckets {
        let counts = env.syncs.get(target).copied().unwrap_or_default();
        let skip = if !retire_pending {
            Some("the target was retired after its buckets were synced".to_string())
        } else if counts.copy == 0 {
            Some("the bucket already holds every object of the source bucket".to_string())
        } else {
            None
        };
        let op = Op::Bucket(BucketOp::Sync {
            source: source.clone(),
            source_owner: env.source_owner.clone(),
            owner: env.owner.clone(),
            counts,
        });
        let id = StepId::new(StepKind::SyncBucket, target);
        syncs.push(push(
            &mut plan.steps,
            id,
            Phase::Prepare,
            target,
            op,
            after_clones.clone(),
            skip,
        ));
    }
    depend(&mut plan, &syncs, |s| s.id.kind == StepKind::Guard);

    // The target's groups: in standby after the guardrails, before the first retire.
    let guard = ids(&plan, |s| s.id.kind == StepKind::Guard);
    let before_standby = if guard.is_empty() {
        [after_clones, syncs.clone()].concat()
    } else {
        guard
    };
    let restart = ids(&plan, |s| s.id.kind == StepKind::Restart);
    let after_restart = if restart.is_empty() {
        ids(&plan, |s| s.id.kind == StepKind::Swap)
    } else {
        restart
    };
    // What the source lacks goes once the restart succeeded, as the old databases do.
    for ((source, target), sync) in spec.buckets.iter().zip(&syncs) {
        let count = env.syncs.get(target).map(|c| c.delete).unwrap_or_default();
        let mut deps = after_restart.clone();
        deps.push(sync.clone());
        push(
            &mut plan.steps,
            StepId::new(StepKind::PruneBucket, target),
            Phase::Cleanup,
            target,
            Op::Bucket(BucketOp::Prune {
                source: source.clone(),
                source_owner: env.source_owner.clone(),
                owner: env.owner.clone(),
                count,
            }),
            deps,
            (count == 0).then(|| "the bucket has no object the source bucket lacks".to_string()),
        );
    }
    let standbys = groups_around(
        &mut plan,
        &spec.target_groups,
        env,
        (before_standby, after_restart),
        (Phase::Retire, Phase::Restart),
        (!retire_pending).then_some("the target was retired already"),
    );
    depend(&mut plan, &standbys, |s| {
        matches!(s.id.kind, StepKind::Mark | StepKind::Retire)
    });

    // The source's groups: in standby while its fresh snapshot is taken.
    if !spec.source_groups.is_empty() {
        let snapshot = ids(&plan, |s| s.id.kind == StepKind::Snapshot);
        if snapshot.is_empty() {
            return Err(MitosisError::bad_input(
                "--quiesce-source puts the source's application in standby while a fresh snapshot is taken: give --snapshot fresh too",
            ));
        }
        let taken = plan
            .steps
            .iter()
            .all(|s| s.id.kind != StepKind::Snapshot || !s.is_pending());
        let quiesced = groups_around(
            &mut plan,
            &spec.source_groups,
            env,
            (lock.clone(), snapshot),
            (Phase::Clone, Phase::Clone),
            taken.then_some("the source's snapshot was taken already"),
        );
        depend(&mut plan, &quiesced, |s| s.id.kind == StepKind::Snapshot);
    }

    // The flight plan reads in the order things happen: each new step where it runs.
    let is = |kind: StepKind, phase: Phase| move |s: &Step| s.id.kind == kind && s.phase == phase;
    place(
        &mut plan,
        is(StepKind::SyncBucket, Phase::Prepare),
        |s| s.id.kind == StepKind::Guard,
        false,
    );
    place(
        &mut plan,
        is(StepKind::Standby, Phase::Retire),
        |s| s.phase == Phase::Retire,
        false,
    );
    place(
        &mut plan,
        is(StepKind::InService, Phase::Restart),
        |s| matches!(s.id.kind, StepKind::Restart | StepKind::Swap),
        true,
    );
    place(
        &mut plan,
        is(StepKind::PruneBucket, Phase::Cleanup),
        |s| {
            matches!(
                s.id.kind,
                StepKind::Restart | StepKind::Swap | StepKind::InService
            )
        },
        true,
    );
    place(
        &mut plan,
        is(StepKind::Standby, Phase::Clone),
        |s| s.id.kind == StepKind::Snapshot,
        false,
    );
    place(
        &mut plan,
        is(StepKind::InService, Phase::Clone),
        |s| s.id.kind == StepKind::Snapshot,
        true,
    );
    if !spec.buckets.is_empty() || !spec.target_groups.is_empty() {
        plan.notes.push(environment_note(spec));
    }

    // Every step added is a leaf or leads to one: the unlock waits for them too.
    let leaves = ids(&plan, |s| {
        matches!(
            s.id.kind,
            StepKind::InService | StepKind::SyncBucket | StepKind::PruneBucket
        )
    });
    depend(&mut plan, &leaves, |s| {
        matches!(s.op, Op::Lock(LockOp::Release { .. }))
    });
    Ok(plan)
}

/// Moves the steps `which` picks before the first step that matches `at` (or, with `after`,
/// after the last one): where they run, for the flight plan's reader. Order only; the
/// dependencies decide what runs when.
fn place(plan: &mut Plan, which: impl Fn(&Step) -> bool, at: impl Fn(&Step) -> bool, after: bool) {
    let (moved, mut rest): (Vec<Step>, Vec<Step>) = plan.steps.drain(..).partition(|s| which(s));
    let found = if after {
        rest.iter().rposition(&at).map(|i| i + 1)
    } else {
        rest.iter().position(&at)
    };
    let i = found.unwrap_or(rest.len());
    rest.splice(i..i, moved);
    plan.steps = rest;
}

/// What the environment adds, in one line of the flight plan.
fn environment_note(spec: &EnvSpec) -> String {
    let buckets: Vec<String> = spec
        .buckets
        .iter()
        .map(|(s, t)| format!("{t} made to hold {s}'s objects"))
        .collect();
    let mut parts = vec![format!("environment {} from {}", spec.target, spec.source)];
    if !buckets.is_empty() {
        parts.push(format!(
            "{} (new and changed objects copied once the clones exist, before the first retire; what the source lacks deleted only after the restart command succeeded; a rollback keeps the copied objects and overwrites are not undone)",
            buckets.join(", ")
        ));
    }
    if !spec.target_groups.is_empty() {
        parts.push(format!(
            "Auto Scaling groups {} in standby from just before the first retire until the restart command has run",
            spec.target_groups.join(", ")
        ));
    }
    if !spec.source_groups.is_empty() {
        parts.push(format!(
            "the source's groups {} in standby while its snapshot is taken",
            spec.source_groups.join(", ")
        ));
    }
    parts.join("; ")
}

/// A standby step for each group (after `around.0`) and its way back (after `around.1` and
/// the standby); the standby ids. A group already in standby by the tool keeps its recorded
/// values; `done` says why standby is no longer needed.
fn groups_around(
    plan: &mut Plan,
    groups: &[String],
    env: &ObservedEnv,
    around: (Vec<StepId>, Vec<StepId>),
    phases: (Phase, Phase),
    done: Option<&str>,
) -> Vec<StepId> {
    let mut standbys = Vec::new();
    for group in groups {
        let in_standby = recorded(env, group);
        let standby = push(
            &mut plan.steps,
            StepId::new(StepKind::Standby, group),
            phases.0,
            group,
            Op::Group(GroupOp::Standby),
            around.0.clone(),
            done.map(str::to_string),
        );
        let back_skip = match (&in_standby, done) {
            (None, Some(_)) => Some("the group is in service".to_string()),
            _ => None,
        };
        let mut deps = around.1.clone();
        deps.push(standby.clone());
        push(
            &mut plan.steps,
            StepId::new(StepKind::InService, group),
            phases.1,
            group,
            Op::Group(GroupOp::InService),
            deps,
            back_skip,
        );
        standbys.push(standby);
    }
    standbys
}

/// A rollback brings back every group the forward plan may have put in standby: after the
/// original names are back (a group the tool did not put in standby is left alone).
pub fn bring_back(mut rollback: Plan, forward: &Plan) -> Plan {
    let after: Vec<StepId> = ids(&rollback, |s| {
        !matches!(s.op, Op::Lock(LockOp::Release { .. }))
    });
    let groups: Vec<String> = forward
        .steps
        .iter()
        .filter(|s| s.id.kind == StepKind::Standby)
        .map(|s| s.resource.clone())
        .collect();
    let mut back = Vec::new();
    for group in groups {
        back.push(push(
            &mut rollback.steps,
            StepId::new(StepKind::InService, &group),
            Phase::Rollback,
            &group,
            Op::Group(GroupOp::InService),
            after.clone(),
            None,
        ));
    }
    depend(&mut rollback, &back, |s| {
        matches!(s.op, Op::Lock(LockOp::Release { .. }))
    });
    rollback
}
