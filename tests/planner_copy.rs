//! Planner tests for throwaway copies (`copy`, `destroy`, `sweep`): a copy is the clone half
//! of a refresh under a prefix, shaped like a template, and touches neither the source nor
//! the template; resume after any prefix; destroy deletes only what carries the copy's marks,
//! replicas and members first; sweep finds only expired copies; every bad input.

use stack_mitosis::fixtures::{account, add_replica, cluster, primary, state};
use stack_mitosis::observed::{tags, Observed};
use stack_mitosis::plan::{
    expired_copies, plan, plan_destroy, predict, predict_all, ClonePath, CopySpec, Operation,
    Phase, PlanRequest, Removal, StepKind,
};

const EXPIRES: i64 = 1_800_000_000;
/// The copy's run: a run id of the tool's own form (a copy is proven by it).
const RUN: &str = "20261121T030000Z-0001";

fn request(source: &str, like: &str, prefix: &str) -> PlanRequest {
    PlanRequest {
        before_swap: Some("./scrub.sh".into()),
        restart: Some("./deploy-preview.sh".into()),
        copy: Some(CopySpec {
            prefix: prefix.into(),
            expires: Some(EXPIRES),
        }),
        ..PlanRequest::new(source, like, RUN)
    }
}

/// prod -> prod-replica, and the template demo -> demo-r1, demo-r2 (in another VPC for the
/// snapshot path when `vpc` differs).
fn environment(vpc: &str) -> Observed {
    let mut obs = state(vec![
        primary("prod", "postgres", "shared"),
        primary("demo", "postgres", vpc),
    ]);
    add_replica(&mut obs, "prod-replica", "prod");
    add_replica(&mut obs, "demo-r1", "demo");
    add_replica(&mut obs, "demo-r2", "demo");
    obs.instances.get_mut("demo").unwrap().deletion_protection = true;
    obs
}

#[test]
fn a_copy_is_the_template_tree_under_the_prefix() {
    for (vpc, path) in [
        ("shared", ClonePath::Replica),
        ("other", ClonePath::Snapshot),
    ] {
        let mut obs = environment(vpc);
        if path == ClonePath::Snapshot {
            obs.snapshots.push(stack_mitosis::observed::Snapshot {
                id: "rds:prod-1".into(),
                arn: account().arn("snapshot:rds:prod-1"),
                instance_id: "prod".into(),
                status: "available".into(),
                kind: "automated".into(),
                created: Some(1),
                vpc_id: Some("vpc-shared".into()),
                tags: Default::default(),
            });
        }
        let p = plan(&obs, &request("prod", "demo", "pr-42-")).unwrap();
        assert_eq!(p.operation, Operation::Copy);
        assert_eq!(p.path, path, "{vpc}");
        assert_eq!(p.target, "pr-42-demo");
        // No lock, nothing retired, swapped or deleted: only the clone half and the hooks.
        for s in &p.steps {
            assert!(
                matches!(s.phase, Phase::Clone | Phase::Prepare | Phase::Restart),
                "{}",
                s.id
            );
            assert!(
                s.resource.starts_with("pr-42-")
                    || s.resource == "prod" && s.id.kind == StepKind::Snapshot,
                "{} acts on {}",
                s.id,
                s.resource
            );
        }
        let password = p.step("password-pr-42-demo").unwrap();
        let params = serde_json::Value::Object(password.op.params(&password.resource));
        assert_eq!(params["MasterUserPassword"], "(a new random password)");
        let mut end = obs.clone();
        predict_all(&mut end, &p).unwrap();
        // The source and the template are as they were.
        for id in ["prod", "prod-replica", "demo", "demo-r1", "demo-r2"] {
            assert_eq!(end.instances[id], obs.instances[id], "{id}");
        }
        // The copy: the template's shape and attributes, marked as a copy with its expiry.
        for id in ["demo", "demo-r1", "demo-r2"] {
            let copy = &end.instances[&format!("pr-42-{id}")];
            let template = &obs.instances[id];
            assert_eq!(copy.class, template.class, "{id}");
            assert_eq!(copy.parameter_group(), template.parameter_group(), "{id}");
            assert_eq!(copy.subnet_group, template.subnet_group, "{id}");
            assert_eq!(copy.tag("env"), Some(id), "{id}: the template's own tags");
            assert_eq!(copy.tag(tags::ROLE), Some(tags::ROLE_COPY));
            assert_eq!(copy.tag(tags::ORIGINAL), Some(id));
            assert_eq!(copy.tag(tags::COPY_PREFIX), Some("pr-42-"));
            assert_eq!(copy.tag(tags::EXPIRES), Some("2027-01-15T08:00:00Z"));
            assert!(!copy.deletion_protection, "a copy can be destroyed");
        }
        assert_eq!(
            end.instances["pr-42-demo-r1"].replica_source.as_deref(),
            Some("pr-42-demo")
        );
        assert!(end.instances["pr-42-demo"].replica_source.is_none());
        // A rerun reuses it: only the new password and the restart remain.
        let again = plan(&end, &request("prod", "demo", "pr-42-")).unwrap();
        assert_eq!(again.run_id, RUN);
        let pending: Vec<String> = again.pending().map(|s| s.id.to_string()).collect();
        assert_eq!(pending, ["password-pr-42-demo", "restart"], "{vpc}");
    }
}

#[test]
fn a_copy_resumes_after_any_prefix() {
    let obs = environment("shared");
    let req = request("prod", "demo", "pr-42-");
    let full = plan(&obs, &req).unwrap();
    let mut expected = obs.clone();
    predict_all(&mut expected, &full).unwrap();
    for done in 0..full.steps.len() {
        let mut mid = obs.clone();
        for s in &full.steps[..done] {
            predict(&mut mid, s).unwrap();
        }
        let resumed = plan(&mid, &req).unwrap();
        assert_eq!(resumed.run_id, RUN, "after {done} steps");
        let mut end = mid.clone();
        predict_all(&mut end, &resumed).unwrap();
        assert_eq!(end, expected, "after {done} steps");
    }
}

#[test]
fn a_cluster_copy_is_a_clone_with_its_members() {
    let (prod, mut instances) = cluster(
        "prod",
        "aurora-postgresql",
        "v",
        &[("prod-1", "db.r6g.large")],
    );
    let (demo, members) = cluster(
        "demo",
        "aurora-postgresql",
        "v",
        &[("demo-w", "db.t4g.medium"), ("demo-r", "db.t4g.small")],
    );
    instances.extend(members);
    let obs = Observed::new(instances, Vec::new(), account()).with_clusters(vec![prod, demo]);
    let p = plan(&obs, &request("prod", "demo", "pr-7-")).unwrap();
    assert_eq!(p.path, ClonePath::Clone);
    // A moment outside the source's window is refused, as for a refresh.
    let early = PlanRequest {
        source_time: Some(stack_mitosis::plan::SourceTime::At(
            stack_mitosis::fixtures::LATEST_RESTORABLE - 8 * 86_400,
        )),
        ..request("prod", "demo", "pr-7-")
    };
    let err = plan(&obs, &early).unwrap_err().to_string();
    assert!(err.contains("before the earliest restorable time"), "{err}");
    assert_eq!(p.target, "pr-7-demo");
    let creates: Vec<String> = p
        .steps
        .iter()
        .filter(|s| s.id.kind == StepKind::Create)
        .map(|s| s.resource.clone())
        .collect();
    assert_eq!(creates, ["pr-7-demo", "pr-7-demo-w", "pr-7-demo-r"]);
    assert_eq!(
        p.step("password-pr-7-demo").unwrap().op.action(),
        "ModifyDBCluster"
    );
    let mut end = obs.clone();
    predict_all(&mut end, &p).unwrap();
    assert_eq!(end.clusters["demo"], obs.clusters["demo"]);
    assert_eq!(end.clusters["prod"], obs.clusters["prod"]);
    let copy = &end.clusters["pr-7-demo"];
    assert_eq!(copy.tag(tags::ROLE), Some(tags::ROLE_COPY));
    assert_eq!(copy.members.len(), 2);
    // Destroy: members before the cluster.
    let d = plan_destroy(&end, "demo", "pr-7-", Removal::Destroy)
        .unwrap()
        .unwrap();
    let order: Vec<String> = d.steps.iter().map(|s| s.id.to_string()).collect();
    assert_eq!(order.last().unwrap(), "delete-pr-7-demo");
    let last = d.steps.last().unwrap();
    assert_eq!(last.depends_on.len(), 2, "{order:?}");
    let mut gone = end.clone();
    predict_all(&mut gone, &d).unwrap();
    assert!(gone.clusters.keys().all(|k| !k.starts_with("pr-7-")));
    assert!(gone.instances.keys().all(|k| !k.starts_with("pr-7-")));
    assert_eq!(gone.clusters.len(), obs.clusters.len());
}

#[test]
fn destroy_deletes_only_the_copy_replicas_first() {
    let obs = environment("shared");
    let p = plan(&obs, &request("prod", "demo", "pr-42-")).unwrap();
    let mut made = obs.clone();
    predict_all(&mut made, &p).unwrap();
    let d = plan_destroy(&made, "demo", "pr-42-", Removal::Destroy)
        .unwrap()
        .unwrap();
    assert_eq!(d.operation, Operation::Destroy);
    assert_eq!(d.run_id, RUN);
    let root = d.step("delete-pr-42-demo").unwrap();
    assert!(root.depends_on.iter().any(|s| *s == "delete-pr-42-demo-r1"));
    assert!(root.depends_on.iter().any(|s| *s == "delete-pr-42-demo-r2"));
    for s in &d.steps {
        assert!(s.resource.starts_with("pr-42-"), "{}", s.id);
    }
    let mut gone = made.clone();
    predict_all(&mut gone, &d).unwrap();
    assert_eq!(gone.instances, obs.instances);
    // Gone already: nothing to do.
    assert!(plan_destroy(&gone, "demo", "pr-42-", Removal::Destroy)
        .unwrap()
        .is_none());
    // A look-alike the tool did not make: refused, whichever of its instances is not ours.
    let mut fake = gone.clone();
    fake.instances.insert(
        "pr-42-demo".into(),
        primary("pr-42-demo", "postgres", "shared"),
    );
    let err = plan_destroy(&fake, "demo", "pr-42-", Removal::Destroy).unwrap_err();
    assert_eq!(err.exit_code(), 2);
    assert!(err.to_string().contains("did not make it"), "{err}");
    let mut mixed = made.clone();
    mixed
        .instances
        .get_mut("pr-42-demo-r2")
        .unwrap()
        .tags
        .remove(tags::ROLE);
    assert!(plan_destroy(&mixed, "demo", "pr-42-", Removal::Destroy).is_err());
}

/// Tags anyone may write are never enough: a resource named like a copy, with copy marks, is
/// destroyed only when every mark holds and nothing forbids it; a sweep also passes over one
/// with deletion protection on. Nothing of a refused copy is planned at all.
#[test]
fn a_copy_is_destroyed_only_when_it_is_provably_one() {
    let obs = environment("shared");
    let p = plan(&obs, &request("prod", "demo", "pr-42-")).unwrap();
    let mut made = obs.clone();
    predict_all(&mut made, &p).unwrap();
    let refused = |state: &Observed, removal: Removal, says: &str| {
        let e = plan_destroy(state, "demo", "pr-42-", removal).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains(says), "{says}: {e}");
    };
    let with = |id: &str, change: &dyn Fn(&mut stack_mitosis::observed::Instance)| {
        let mut state = made.clone();
        change(state.instances.get_mut(id).unwrap());
        state
    };
    let protected = with("pr-42-demo-r1", &|i| {
        i.tags.insert(tags::PROTECTED.into(), "True".into());
    });
    refused(&protected, Removal::Destroy, "protected");
    let no_run = with("pr-42-demo", &|i| {
        i.tags.remove(tags::RUN);
    });
    refused(&no_run, Removal::Destroy, "no run");
    let other_run = with("pr-42-demo-r2", &|i| {
        i.tags
            .insert(tags::RUN.into(), "20261121T040000Z-0002".into());
    });
    refused(&other_run, Removal::Destroy, "the rest of the copy");
    // Marks added to something older than the run they name.
    let older = with("pr-42-demo", &|i| i.created = Some(1_000_000_000));
    refused(&older, Removal::Destroy, "created before run");
    // A sweep leaves a copy with deletion protection on; a destroy by name takes it.
    let kept = with("pr-42-demo", &|i| i.deletion_protection = true);
    refused(&kept, Removal::Sweep, "sweep skips");
    let d = plan_destroy(&kept, "demo", "pr-42-", Removal::Destroy)
        .unwrap()
        .unwrap();
    let unprotect = d.step("unprotect-pr-42-demo").unwrap();
    assert!(d
        .step("delete-pr-42-demo")
        .unwrap()
        .depends_on
        .contains(&unprotect.id));
}

/// A copy's policy deletes on every name that begins with its prefix: a prefix that begins
/// the name of something that is not its copy, or the source, is refused.
#[test]
fn a_prefix_that_reaches_anything_but_copies_is_refused() {
    let obs = environment("shared");
    for (prefix, reached) in [("de-", None), ("d", Some("demo")), ("pro", Some("prod"))] {
        let result = plan(&obs, &request("prod", "demo", prefix));
        match reached {
            None => {
                result.unwrap();
            }
            Some(name) => {
                let e = result.unwrap_err().to_string();
                assert!(
                    e.contains(name) && e.contains("not a copy made with it"),
                    "{e}"
                );
            }
        }
    }
}

#[test]
fn sweep_finds_only_expired_copies() {
    let obs = environment("shared");
    let mut made = obs.clone();
    for (prefix, expires) in [("old-pr-", EXPIRES - 10), ("new-pr-", EXPIRES + 10)] {
        let mut req = request("prod", "demo", prefix);
        req.copy.as_mut().unwrap().expires = Some(expires);
        let p = plan(&made, &req).unwrap();
        predict_all(&mut made, &p).unwrap();
    }
    let expired = expired_copies(&made, EXPIRES);
    assert_eq!(expired, [("demo".to_string(), "old-pr-".to_string())]);
    // Never: a copy without an expiry is never swept.
    let mut req = request("prod", "demo", "keep-");
    req.copy.as_mut().unwrap().expires = None;
    let p = plan(&made, &req).unwrap();
    predict_all(&mut made, &p).unwrap();
    assert_eq!(expired_copies(&made, i64::MAX - 1).len(), 2);
}

#[test]
fn bad_input_is_refused() {
    let obs = environment("shared");
    let expect = |obs: &Observed, req: PlanRequest, says: &str| {
        let err = plan(obs, &req).unwrap_err();
        assert_eq!(err.exit_code(), 2, "{err}");
        assert!(err.to_string().contains(says), "{says}: {err}");
    };
    for prefix in ["1pr-", "pr--", &"p".repeat(60)] {
        expect(&obs, request("prod", "demo", prefix), "--prefix");
    }
    // The template in the source's own tree.
    expect(
        &obs,
        request("prod", "prod", "pr-1-"),
        "in the source's own tree",
    );
    // A protected template.
    let mut protected = obs.clone();
    protected
        .instances
        .get_mut("demo")
        .unwrap()
        .tags
        .insert(tags::PROTECTED.into(), "true".into());
    expect(&protected, request("prod", "demo", "pr-1-"), "protected");
    // A name already taken by something the tool did not make.
    let mut taken = obs.clone();
    taken.instances.insert(
        "pr-1-demo-r2".into(),
        primary("pr-1-demo-r2", "postgres", "shared"),
    );
    expect(
        &taken,
        request("prod", "demo", "pr-1-"),
        "did not make it as a copy",
    );
    // The policy of a copy lets destroy remove what the prefix names, nothing else.
    let p = plan(&obs, &request("prod", "demo", "pr-1-")).unwrap();
    let policy = stack_mitosis::iam::policy(&p, &account()).to_string();
    assert!(policy.contains("arn:aws:rds:us-east-1:123456789012:db:pr-1-*"));
    assert!(!policy.contains("db:demo\""), "{policy}");
    assert!(!policy.contains("db:prod\"") || policy.contains("CreateDBInstanceReadReplica"));
}
