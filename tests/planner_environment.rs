//! Planner tests for whole environments: where the bucket syncs and the groups' standby go in
//! the step graph, what a resumed plan still does, what a rollback brings back, and the IAM
//! statements (reads on the source bucket only).

use stack_mitosis::config::{DatabasePair, EnvSpec};
use stack_mitosis::error::MitosisError;
use stack_mitosis::fixtures::{account, add_replica, primary, state};
use stack_mitosis::kinds::bucket::SyncCounts;
use stack_mitosis::kinds::group::{GroupState, Recorded};
use stack_mitosis::kinds::{bring_back, extend, ObservedEnv};
use stack_mitosis::observed::Observed;
use stack_mitosis::plan::{
    plan, plan_pairs, predict_all, rollback, OnFailure, Op, Plan, PlanRequest, Removal,
    SnapshotChoice, StepKind,
};

fn tree() -> Observed {
    let mut obs = state(vec![
        primary("prod", "postgres", "shared"),
        primary("demo", "postgres", "shared"),
    ]);
    add_replica(&mut obs, "demo-ro", "demo");
    obs
}

fn spec() -> EnvSpec {
    EnvSpec {
        source: "production".into(),
        target: "demo".into(),
        buckets: vec![("prod-uploads".into(), "demo-uploads".into())],
        target_groups: vec!["demo-web".into()],
        source_groups: Vec::new(),
    }
}

fn found(copy: u64) -> ObservedEnv {
    let mut env = ObservedEnv::default();
    env.buckets.owner = "123456789012".into();
    env.buckets.source_owner = "123456789012".into();
    env.buckets.syncs.insert(
        "demo-uploads".into(),
        SyncCounts {
            copy,
            copy_bytes: copy * 1000,
            delete: 3,
        },
    );
    env.groups.groups.insert(
        "demo-web".into(),
        GroupState {
            name: "demo-web".into(),
            min_size: 2,
            desired: 2,
            ..Default::default()
        },
    );
    env
}

fn request() -> PlanRequest {
    PlanRequest {
        restart: Some("./restart.sh".into()),
        ..PlanRequest::new("prod", "demo", "run1")
    }
}

fn env_request(req: &PlanRequest, spec: EnvSpec) -> PlanRequest {
    PlanRequest {
        environment: Some(spec),
        ..req.clone()
    }
}

/// The plan of `req` over `tree()` with the environment `spec` as `env` found it.
fn with_env(req: &PlanRequest, spec: EnvSpec, env: &ObservedEnv) -> Result<Plan, MitosisError> {
    let req = env_request(req, spec);
    extend(plan(&tree(), &req).unwrap(), &req, env)
}

fn position(plan: &Plan, id: &str) -> usize {
    plan.steps
        .iter()
        .position(|s| s.id == *id)
        .unwrap_or_else(|| panic!("no {id}"))
}

/// Whether `step` comes after `before` in the dependency graph (transitively).
fn after(plan: &Plan, step: &str, before: &str) -> bool {
    let mut todo = vec![plan.step(step).unwrap().id.clone()];
    let mut seen = std::collections::BTreeSet::new();
    while let Some(id) = todo.pop() {
        if id == *before {
            return true;
        }
        if seen.insert(id.clone()) {
            let s = plan.steps.iter().find(|s| s.id == id).unwrap();
            todo.extend(s.depends_on.iter().cloned());
        }
    }
    false
}

#[test]
fn the_sync_follows_the_clones_and_the_standby_spans_retire_to_restart() {
    let p = with_env(&request(), spec(), &found(10)).unwrap();
    let sync = "sync-bucket-demo-uploads";
    assert!(after(&p, sync, "create-temp-demo-ro"));
    assert!(after(&p, sync, "configure-temp-demo"));
    assert!(after(&p, "guardrails-demo", sync));
    assert!(after(&p, "standby-demo-web", "guardrails-demo"));
    for retire in ["mark-demo", "mark-demo-ro", "retire-demo", "retire-demo-ro"] {
        assert!(after(&p, retire, "standby-demo-web"), "{retire}");
    }
    assert!(after(&p, "in-service-demo-web", "restart"));
    assert!(after(&p, "unlock-demo", "in-service-demo-web"));
    assert!(after(&p, "unlock-demo", sync));
    // Nothing leaves the bucket before the new environment is in place.
    let prune = "prune-bucket-demo-uploads";
    assert!(after(&p, prune, "restart"));
    assert!(after(&p, prune, sync));
    assert!(after(&p, "unlock-demo", prune));
    assert_eq!(
        p.step(prune).unwrap().phase,
        stack_mitosis::plan::Phase::Cleanup
    );
    // The flight plan lists them where they run.
    assert!(position(&p, sync) < position(&p, "guardrails-demo"));
    assert!(position(&p, "standby-demo-web") < position(&p, "mark-demo-ro"));
    assert_eq!(
        position(&p, "in-service-demo-web"),
        position(&p, "restart") + 1
    );
    assert!(p
        .notes
        .iter()
        .any(|n| n.contains("deleted only after the restart command succeeded")));
}

#[test]
fn a_bucket_already_in_sync_skips_its_sync() {
    let p = with_env(&request(), spec(), &found(0)).unwrap();
    assert!(
        p.step("sync-bucket-demo-uploads").unwrap().skip.is_some(),
        "nothing to copy"
    );
    assert!(
        p.step("prune-bucket-demo-uploads").unwrap().skip.is_none(),
        "three to delete"
    );
    let mut nothing = found(0);
    nothing
        .buckets
        .syncs
        .get_mut("demo-uploads")
        .unwrap()
        .delete = 0;
    let p = with_env(&request(), spec(), &nothing).unwrap();
    assert!(p.step("sync-bucket-demo-uploads").unwrap().skip.is_some());
    assert!(p.step("prune-bucket-demo-uploads").unwrap().skip.is_some());
    assert!(p.step("standby-demo-web").unwrap().skip.is_none());
}

#[test]
fn a_group_left_in_standby_by_a_crashed_run_is_brought_back() {
    // The database part is done: nothing retires any more.
    let mut p = plan(&tree(), &request()).unwrap();
    for s in p.steps.iter_mut() {
        if s.id.kind != StepKind::Restart && s.id.kind != StepKind::Unlock {
            s.skip = Some("done".into());
        }
    }
    let mut env = found(5);
    let recorded = Recorded {
        run: "run0".into(),
        min_size: 2,
        instances: vec!["i-1".into(), "i-2".into()],
        suspended: vec!["Launch".into()],
    };
    env.groups.groups.get_mut("demo-web").unwrap().tags = recorded.to_tags().into_iter().collect();
    let p = extend(p, &env_request(&request(), spec()), &env).unwrap();
    assert!(p.step("standby-demo-web").unwrap().skip.is_some());
    assert!(p.step("in-service-demo-web").unwrap().skip.is_none());
    assert!(
        p.step("sync-bucket-demo-uploads").unwrap().skip.is_some(),
        "the bucket is synced before the retire, never after"
    );
    // Without the tool's tags the group is in service: nothing to bring back.
    let p = extend(
        {
            let mut p = plan(&tree(), &request()).unwrap();
            for s in p.steps.iter_mut() {
                s.skip = Some("done".into());
            }
            p
        },
        &env_request(&request(), spec()),
        &found(5),
    )
    .unwrap();
    assert!(p.step("in-service-demo-web").unwrap().skip.is_some());
}

#[test]
fn a_rollback_ends_with_the_groups_in_service() {
    let forward = with_env(&request(), spec(), &found(1)).unwrap();
    let back = rollback(&tree(), "prod", "demo", "run1", OnFailure::Rollback).unwrap();
    let back = bring_back(back, &forward);
    let last = back
        .step("in-service-demo-web")
        .expect("the group comes back");
    for s in back.steps.iter().filter(|s| s.id != last.id) {
        assert!(!s.depends_on.contains(&last.id) || s.id.kind == StepKind::Unlock);
    }
}

#[test]
fn quiesce_source_wraps_the_fresh_snapshot() {
    let mut spec = spec();
    spec.source_groups = vec!["prod-web".into()];
    let mut env = found(1);
    env.groups.groups.insert(
        "prod-web".into(),
        GroupState {
            name: "prod-web".into(),
            ..Default::default()
        },
    );
    let fresh = PlanRequest {
        snapshot_path: true,
        snapshot: SnapshotChoice::Fresh,
        ..request()
    };
    let p = with_env(&fresh, spec.clone(), &env).unwrap();
    assert!(after(&p, "snapshot-prod", "standby-prod-web"));
    assert!(after(&p, "in-service-prod-web", "snapshot-prod"));
    assert!(!after(&p, "create-temp-demo", "in-service-prod-web"));
    let e = with_env(&request(), spec, &env).unwrap_err();
    assert!(e.to_string().contains("--snapshot fresh"), "{e}");
}

#[test]
fn the_policy_reads_the_source_bucket_and_writes_the_target_bucket_only() {
    let p = with_env(&request(), spec(), &found(1)).unwrap();
    let policy = stack_mitosis::iam::policy(&p, &account());
    let statements = policy["Statement"].as_array().unwrap();
    let on = |action: &str| -> String {
        statements
            .iter()
            .filter(|s| s["Action"].to_string().contains(action))
            .map(|s| s["Resource"].to_string())
            .collect()
    };
    assert!(on("s3:GetObject").contains("prod-uploads/*"));
    assert!(!on("s3:GetObject").contains("demo-uploads"));
    for write in ["s3:PutObject", "s3:DeleteObject", "s3:PutObjectTagging"] {
        assert!(on(write).contains("demo-uploads/*"), "{write}");
        assert!(!on(write).contains("prod-uploads"), "{write}");
    }
    assert!(on("autoscaling:EnterStandby").contains("autoScalingGroupName/demo-web"));
    assert!(on("autoscaling:ExitStandby").contains("autoScalingGroupName/demo-web"));
}

/// A copy's run id, of the tool's own form (a copy's resources are proven by it).
const COPY_RUN: &str = "20261121T030000Z-0001";

fn copy_request() -> PlanRequest {
    PlanRequest {
        before_swap: Some("./scrub.sh".into()),
        copy: Some(stack_mitosis::plan::CopySpec {
            prefix: "pr-1-".into(),
            expires: Some(1_800_000_000),
        }),
        run_id: COPY_RUN.into(),
        ..request()
    }
}

fn copy_spec() -> EnvSpec {
    EnvSpec {
        buckets: vec![("prod-uploads".into(), "pr-1-demo-uploads".into())],
        target_groups: Vec::new(),
        ..spec()
    }
}

fn copy_found(existing: Option<&[(&str, &str)]>) -> ObservedEnv {
    let mut env = ObservedEnv::default();
    env.buckets.owner = "123456789012".into();
    env.buckets.source_owner = "123456789012".into();
    env.buckets.syncs.insert(
        "pr-1-demo-uploads".into(),
        SyncCounts {
            copy: 4,
            copy_bytes: 4000,
            delete: 0,
        },
    );
    env.buckets.copies.insert(
        "pr-1-demo-uploads".into(),
        existing.map(|tags| {
            tags.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        }),
    );
    env
}

#[test]
fn a_copy_of_an_environment_makes_and_fills_its_buckets() {
    let p = with_env(&copy_request(), copy_spec(), &copy_found(None)).unwrap();
    let create = p.step("create-bucket-pr-1-demo-uploads").unwrap();
    assert!(create.skip.is_none());
    let tags = create.op.params(&create.resource)["Tags"].to_string();
    for tag in [
        "\"stack-mitosis:role\",\"Value\":\"copy\"",
        "\"stack-mitosis:original\",\"Value\":\"demo-uploads\"",
        "\"stack-mitosis:prefix\",\"Value\":\"pr-1-\"",
        "\"stack-mitosis:expires\"",
    ] {
        assert!(tags.contains(tag), "{tag} in {tags}");
    }
    let sync = "sync-bucket-pr-1-demo-uploads";
    assert!(after(&p, sync, "create-bucket-pr-1-demo-uploads"));
    assert!(after(&p, sync, "create-pr-1-demo"));
    assert!(after(&p, "before-swap", sync));
    assert!(p
        .steps
        .iter()
        .all(|s| !matches!(s.id.kind, StepKind::Standby | StepKind::Retire)));
    let policy = stack_mitosis::iam::policy(&p, &account()).to_string();
    assert!(policy.contains("s3:CreateBucket"), "{policy}");
    assert!(policy.contains("DestroyCopyBuckets") && policy.contains("s3:::pr-1-*"));

    // The bucket is made once the copy's root exists (the run's own record).
    assert!(after(
        &p,
        "create-bucket-pr-1-demo-uploads",
        "create-pr-1-demo"
    ));
    // Every S3 statement holds only for buckets of the expected account.
    for statement in stack_mitosis::iam::policy(&p, &account())["Statement"]
        .as_array()
        .unwrap()
    {
        let action = statement["Action"].to_string();
        let exempt = [
            "s3:CreateBucket",
            "s3:PutBucketTagging",
            "s3:TagResource",
            "s3:ListAllMyBuckets",
        ];
        if action.contains("s3:") && !exempt.iter().any(|a| action.contains(a)) {
            assert_eq!(
                statement["Condition"]["StringEquals"]["s3:ResourceAccount"], "123456789012",
                "{statement}"
            );
        }
    }

    // A rerun finds its own bucket (every mark, this run); any other bucket of that name is
    // refused: someone else's, another run's, one without the run, a protected one.
    let ours = [
        ("stack-mitosis:role", "copy"),
        ("stack-mitosis:original", "demo-uploads"),
        ("stack-mitosis:prefix", "pr-1-"),
        ("stack-mitosis:run", COPY_RUN),
    ];
    let p = with_env(&copy_request(), copy_spec(), &copy_found(Some(&ours))).unwrap();
    assert!(p
        .step("create-bucket-pr-1-demo-uploads")
        .unwrap()
        .skip
        .is_some());
    let theirs = [("team", "web")];
    let other_run = [
        ("stack-mitosis:role", "copy"),
        ("stack-mitosis:original", "demo-uploads"),
        ("stack-mitosis:prefix", "pr-1-"),
        ("stack-mitosis:run", "20261120T030000Z-0002"),
    ];
    let no_run = &ours[..3];
    let protected = [&ours[..], &[("stack-mitosis:protected", "true")]].concat();
    for found in [&theirs[..], &other_run[..], no_run, &protected[..]] {
        let e = with_env(&copy_request(), copy_spec(), &copy_found(Some(found))).unwrap_err();
        assert!(
            e.to_string().contains("pick another --prefix"),
            "{found:?}: {e}"
        );
    }
    // Another bucket of the account that the prefix's pattern reaches.
    let mut strangers = copy_found(None);
    strangers
        .buckets
        .prefixed
        .insert("pr-1-payroll".into(), Default::default());
    let e = with_env(&copy_request(), copy_spec(), &strangers).unwrap_err();
    assert!(e.to_string().contains("pr-1-payroll"), "{e}");
}

#[test]
fn a_destroy_deletes_only_buckets_that_carry_the_copys_tags() {
    use stack_mitosis::kinds::bucket::steps::destroy_buckets;
    let tagged = |pairs: &[(&str, &str)]| {
        Some(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    };
    let marks = |name: &str, prefix: &str, run: &str| {
        tagged(&[
            ("stack-mitosis:role", "copy"),
            ("stack-mitosis:original", name),
            ("stack-mitosis:prefix", prefix),
            ("stack-mitosis:run", run),
        ])
    };
    let ours = marks("a", "pr-1-", COPY_RUN);
    let destroy = |found: &[(String, Option<std::collections::BTreeMap<String, String>>)]| {
        destroy_buckets(
            found,
            "pr-1-",
            Some(COPY_RUN),
            "123456789012",
            Removal::Destroy,
        )
    };
    let steps = destroy(&[("pr-1-a".into(), ours.clone()), ("pr-1-gone".into(), None)]).unwrap();
    let ids: Vec<String> = steps.iter().map(|s| s.id.to_string()).collect();
    assert_eq!(ids, vec!["delete-bucket-pr-1-a"]);
    assert_eq!(
        steps[0].op.params("pr-1-a")["ExpectedBucketOwner"],
        "123456789012"
    );
    let mut protected = marks("b", "pr-1-", COPY_RUN).unwrap();
    protected.insert("stack-mitosis:protected".into(), "true".into());
    for tags in [
        marks("b", "pr-2-", COPY_RUN),
        tagged(&[("team", "web")]),
        // Named otherwise than its marks say (pr-1-b is not pr-1- + prod-b).
        marks("prod-b", "pr-1-", COPY_RUN),
        marks("b", "pr-1-", "20261120T030000Z-0002"),
        Some(protected),
    ] {
        let e = destroy(&[("pr-1-a".into(), ours.clone()), ("pr-1-b".into(), tags)]).unwrap_err();
        assert!(e.to_string().contains("nothing was deleted"), "{e}");
    }
    // A sweep says so in its own words.
    let e = destroy_buckets(
        &[("pr-1-b".into(), tagged(&[("team", "web")]))],
        "pr-1-",
        None,
        "123456789012",
        Removal::Sweep,
    )
    .unwrap_err();
    assert!(
        e.to_string().starts_with("sweep skips the bucket pr-1-b"),
        "{e}"
    );
}

// An environment of several databases: each pair planned on its own, merged into one run.

fn two_databases() -> Observed {
    let mut obs = state(vec![
        primary("prod", "postgres", "shared"),
        primary("demo", "postgres", "shared"),
        primary("prod-orders", "mysql", "shared"),
        primary("demo-orders", "mysql", "shared"),
    ]);
    add_replica(&mut obs, "demo-ro", "demo");
    obs
}

fn two_requests(run: &str) -> Vec<PlanRequest> {
    PlanRequest {
        restart: Some("./restart.sh".into()),
        before_swap: Some("./scrub.sh".into()),
        more: vec![DatabasePair {
            source: "prod-orders".into(),
            target: "demo-orders".into(),
            master_password_secret: None,
        }],
        ..PlanRequest::new("prod", "demo", run)
    }
    .pairs()
}

fn plan_two(obs: &Observed, run: &str) -> Plan {
    let pairs: Vec<(Observed, PlanRequest)> = two_requests(run)
        .into_iter()
        .map(|r| (obs.clone(), r))
        .collect();
    plan_pairs(&pairs).unwrap()
}

#[test]
fn two_databases_are_cloned_side_by_side_and_swapped_together() {
    let obs = two_databases();
    let p = plan_two(&obs, "run1");
    assert_eq!(p.more.len(), 1);
    // Each target locked, one after the other in name order; released last.
    let ids: Vec<String> = p.steps.iter().map(|s| s.id.to_string()).collect();
    assert_eq!(ids[..2], ["lock-demo", "lock-demo-orders"]);
    assert_eq!(
        p.steps[1].depends_on,
        vec!["lock-demo".to_string()],
        "the second lock waits for the first"
    );
    assert_eq!(ids[ids.len() - 2..], ["unlock-demo", "unlock-demo-orders"]);
    for unlock in ["unlock-demo", "unlock-demo-orders"] {
        assert!(after(&p, unlock, "unmark-demo-orders"));
        assert!(after(&p, unlock, "unmark-demo"));
    }
    // Each step knows its pair.
    let orders = p.pair(p.step("create-temp-demo-orders").unwrap());
    assert_eq!(
        (orders.source, orders.target),
        ("prod-orders", "demo-orders")
    );
    assert_eq!(
        p.pair(p.step("create-temp-demo-ro").unwrap()).target,
        "demo"
    );
    // Nothing retires before every clone passed its guardrails.
    for mark in ["mark-demo", "mark-demo-ro", "mark-demo-orders"] {
        assert!(after(&p, mark, "guardrails-demo"), "{mark}");
        assert!(after(&p, mark, "guardrails-demo-orders"), "{mark}");
    }
    // The before-swap command runs on each clone; the restart command once, after every
    // swap, and nothing is deleted before it.
    assert_eq!(p.step("before-swap-demo").unwrap().resource, "temp-demo");
    assert_eq!(
        p.step("before-swap-demo-orders").unwrap().resource,
        "temp-demo-orders"
    );
    assert!(p.step("before-swap").is_none());
    let restarts = p.steps.iter().filter(|s| s.id.kind == StepKind::Restart);
    assert_eq!(restarts.count(), 1);
    for swap in ["swap-demo", "swap-demo-ro", "swap-demo-orders"] {
        assert!(after(&p, "restart", swap), "{swap}");
    }
    for delete in p.steps.iter().filter(|s| s.id.kind == StepKind::Delete) {
        assert!(
            after(&p, &delete.id.to_string(), "restart"),
            "{}",
            delete.id
        );
    }
    // The same end as refreshing one database after the other.
    let mut merged = obs.clone();
    predict_all(&mut merged, &p).unwrap();
    let mut one_by_one = obs.clone();
    for r in two_requests("run1") {
        let single = plan(&one_by_one.clone(), &r).unwrap();
        predict_all(&mut one_by_one, &single).unwrap();
    }
    assert_eq!(merged, one_by_one);
    assert!(merged
        .instances
        .keys()
        .all(|k| !k.starts_with("old-") && !k.starts_with("temp-")));
    // The flight plan and the policy cover both.
    let text = stack_mitosis::render::plan_text(&p);
    assert!(
        text.contains(
            "Databases: demo from prod (instance), demo-orders from prod-orders (instance)"
        ),
        "{text}"
    );
    let policy = stack_mitosis::iam::policy(&p, &account()).to_string();
    for arn in [
        "db:demo-orders",
        "db:temp-demo-orders",
        "db:old-demo-orders",
        "db:demo-ro",
    ] {
        assert!(policy.contains(arn), "{arn}: {policy}");
    }
}

#[test]
fn without_a_restart_command_nothing_is_deleted_before_every_swap() {
    let obs = two_databases();
    let pairs: Vec<(Observed, PlanRequest)> = two_requests("run1")
        .into_iter()
        .map(|r| (obs.clone(), PlanRequest { restart: None, ..r }))
        .collect();
    let p = plan_pairs(&pairs).unwrap();
    for delete in p.steps.iter().filter(|s| s.id.kind == StepKind::Delete) {
        for swap in ["swap-demo", "swap-demo-ro", "swap-demo-orders"] {
            assert!(
                after(&p, &delete.id.to_string(), swap),
                "{} {swap}",
                delete.id
            );
        }
    }
}

/// Resuming an environment is planning it again: after any prefix of the run, the new plan
/// joins the interrupted run, does only what remains (a database the run finished is not
/// refreshed again), and ends in the same state.
#[test]
fn an_interrupted_environment_run_plans_only_what_remains() {
    let obs = two_databases();
    let full = plan_two(&obs, "run1");
    let mut expected = obs.clone();
    predict_all(&mut expected, &full).unwrap();
    // The two locks first and the two unlocks last belong to a run, not to the state.
    for done in 3..full.steps.len() - 2 {
        let mut mid = obs.clone();
        for step in &full.steps[..done] {
            stack_mitosis::plan::predict(&mut mid, step).unwrap();
        }
        let resumed = plan_two(&mid, "run2");
        assert_eq!(resumed.run_id, "run1", "after {done} steps");
        let done_ids: Vec<String> = full.steps[..done]
            .iter()
            // The guardrails are checked again; a command runs again until its marker is
            // written (the restart: until cleanup has begun).
            .filter(|s| !matches!(s.op, Op::Lock(_) | Op::Guard(_) | Op::Command(_)))
            .map(|s| s.id.to_string())
            .collect();
        for s in resumed.pending() {
            assert!(
                !done_ids.contains(&s.id.to_string()),
                "after {done} steps, {} runs again",
                s.id
            );
        }
        let mut end = mid.clone();
        predict_all(&mut end, &resumed).unwrap();
        assert_eq!(end, expected, "after {done} steps");
    }
}

/// Databases caught in two different interrupted runs cannot be resumed as one: refused, with
/// what to do.
#[test]
fn databases_in_two_different_runs_are_refused() {
    let mut mid = two_databases();
    for (i, request) in two_requests("run-x").into_iter().enumerate() {
        let run = format!("run-{i}");
        let alone = plan(
            &mid,
            &PlanRequest {
                run_id: run,
                ..request
            },
        )
        .unwrap();
        // Each database's own run got as far as its first clone.
        let create = alone
            .steps
            .iter()
            .find(|s| s.id.kind == StepKind::Create)
            .unwrap();
        stack_mitosis::plan::predict(&mut mid, create).unwrap();
    }
    let pairs: Vec<(Observed, PlanRequest)> = two_requests("run2")
        .into_iter()
        .map(|r| (mid.clone(), r))
        .collect();
    let e = plan_pairs(&pairs).unwrap_err().to_string();
    assert!(e.contains("different runs"), "{e}");
    assert!(
        e.contains("demo (run run-0)") && e.contains("demo-orders (run run-1)"),
        "{e}"
    );
}
