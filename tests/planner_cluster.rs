//! Planner tests for Aurora clusters over hand-built states: the step sequence (writer first,
//! readers after it, old members deleted before the old cluster), what is carried, the IAM
//! policy, resume after any prefix (unit and property tests), rollback, and bad input.

mod support;

use proptest::prelude::*;
use stack_mitosis::fixtures::{account, cluster, primary};
use stack_mitosis::observed::{tags, CustomEndpoint, Observed};
use stack_mitosis::plan::{
    plan, predict_all, rollback, ClonePath, ClusterOp, InstanceOp, Kind, OnFailure, Op, Plan,
    PlanRequest, SnapshotChoice, StepKind,
};
use support::expect_bad_input;

const PG: &str = "aurora-postgresql";

/// A production cluster with two members and a demo cluster with `demo` members.
fn clusters(demo: &[(&str, &str)]) -> Observed {
    let (prod, mut instances) = cluster(
        "prod",
        PG,
        "vpc-1",
        &[("prod-1", "db.r6g.4xlarge"), ("prod-2", "db.r6g.4xlarge")],
    );
    let (demo, demo_members) = cluster("demo", PG, "vpc-1", demo);
    instances.extend(demo_members);
    Observed::new(instances, Vec::new(), account()).with_clusters(vec![prod, demo])
}

fn three_members() -> Observed {
    clusters(&[
        ("demo-w", "db.t4g.medium"),
        ("demo-r1", "db.t4g.large"),
        ("demo-r2", "db.r6g.large"),
    ])
}

/// Three members and a custom reader endpoint over the two readers.
fn with_endpoint() -> Observed {
    let mut obs = three_members();
    obs.clusters.get_mut("demo").unwrap().endpoints = vec![CustomEndpoint {
        id: "demo-analytics".into(),
        kind: "READER".into(),
        static_members: vec!["demo-r1".into(), "demo-r2".into()],
        excluded_members: Vec::new(),
        cluster: "demo".into(),
        status: "available".into(),
    }];
    obs
}

fn request() -> PlanRequest {
    PlanRequest {
        restart: Some("kubectl rollout restart deploy/app".into()),
        // The fixtures' clusters may have deletion protection on: replaced on purpose.
        allow_protected_target: true,
        ..PlanRequest::new("prod", "demo", "run1")
    }
}

fn id(p: &Plan, kind: StepKind, subject: &str) -> usize {
    p.steps
        .iter()
        .position(|s| s.id.kind == kind && s.id.subject.as_deref() == Some(subject))
        .unwrap_or_else(|| panic!("no {kind:?} {subject}"))
}

fn depends(p: &Plan, step: usize, on: usize) -> bool {
    p.steps[step].depends_on.contains(&p.steps[on].id)
}

/// The state after the plan: the target cluster is the clone, under the target's names.
fn assert_refreshed(before: &Observed, after: &Observed) {
    assert_eq!(
        before.clusters["prod"], after.clusters["prod"],
        "source changed"
    );
    for m in &before.clusters["prod"].members {
        let id = &m.id;
        assert_eq!(
            before.instances[id], after.instances[id],
            "source member changed"
        );
    }
    let (was, now) = (&before.clusters["demo"], &after.clusters["demo"]);
    assert_ne!(was.resource_id, now.resource_id, "not replaced");
    assert_eq!(was.members, now.members, "members or writer differ");
    for field in [
        (was.port, now.port),
        (Some(was.backup_retention), Some(now.backup_retention)),
    ] {
        assert_eq!(field.0, field.1);
    }
    assert_eq!(was.parameter_group, now.parameter_group);
    assert_eq!(was.backup_window, now.backup_window);
    assert_eq!(was.maintenance_window, now.maintenance_window);
    assert_eq!(was.deletion_protection, now.deletion_protection);
    assert_eq!(was.endpoints, now.endpoints, "custom endpoints differ");
    assert_eq!(was.user_tags(), now.user_tags());
    assert!(now.tags.keys().all(|k| !k.starts_with(tags::PREFIX)));
    for m in &was.members {
        let (b, a) = (&before.instances[&m.id], &after.instances[&m.id]);
        assert_eq!(b.class, a.class, "{} class", m.id);
        assert_eq!(b.promotion_tier, a.promotion_tier, "{} tier", m.id);
        assert_eq!(b.user_tags(), a.user_tags());
        assert_ne!(b.resource_id, a.resource_id);
        assert!(a.tags.keys().all(|k| !k.starts_with(tags::PREFIX)));
    }
    let left: Vec<&String> = after
        .clusters
        .keys()
        .chain(after.instances.keys())
        .filter(|k| k.starts_with("temp-") || k.starts_with("old-"))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn writer_first_then_readers_and_old_members_before_the_old_cluster() {
    let obs = three_members();
    let p = plan(&obs, &request()).unwrap();
    assert_eq!(p.kind, Kind::Cluster);
    assert_eq!(p.path, ClonePath::Clone);
    let create = id(&p, StepKind::Create, "temp-demo");
    let configure = id(&p, StepKind::Configure, "temp-demo");
    let writer = id(&p, StepKind::Create, "temp-demo-w");
    let r1 = id(&p, StepKind::Create, "temp-demo-r1");
    let r2 = id(&p, StepKind::Create, "temp-demo-r2");
    assert!(matches!(
        p.steps[create].op,
        Op::Cluster(ClusterOp::Clone { .. })
    ));
    assert!(depends(&p, configure, create));
    assert!(depends(&p, writer, configure));
    assert!(depends(&p, r1, writer) && depends(&p, r2, writer));
    // Each member's class goes into its own CreateDBInstance.
    match &p.steps[r2].op {
        Op::Instance(InstanceOp::CreateMember { cluster, attrs }) => {
            assert_eq!(cluster, "temp-demo");
            assert_eq!(attrs.class, "db.r6g.large");
            assert_eq!(attrs.promotion_tier, Some(2));
        }
        other => panic!("{other:?}"),
    }
    let delete_cluster = id(&p, StepKind::Delete, "old-demo");
    let restart = p
        .steps
        .iter()
        .position(|s| s.id.kind == StepKind::Restart)
        .unwrap();
    for m in ["old-demo-w", "old-demo-r1", "old-demo-r2"] {
        let d = id(&p, StepKind::Delete, m);
        assert!(depends(&p, delete_cluster, d), "{m} before the cluster");
        assert!(depends(&p, d, restart), "{m} after the restart");
    }
    let mut end = obs.clone();
    predict_all(&mut end, &p).unwrap();
    assert_refreshed(&obs, &end);
}

#[test]
fn a_writer_only_cluster_and_its_policy() {
    let obs = clusters(&[("demo-1", "db.t4g.medium")]);
    let p = plan(&obs, &request()).unwrap();
    let mut end = obs.clone();
    predict_all(&mut end, &p).unwrap();
    assert_refreshed(&obs, &end);
    let policy = stack_mitosis::iam::policy(&p, &account()).to_string();
    let arn = |r: &str| account().arn(r);
    for (action, resource) in [
        ("rds:RestoreDBClusterToPointInTime", arn("cluster:prod")),
        ("rds:CreateDBInstance", arn("db:temp-demo-1")),
        ("rds:DeleteDBCluster", arn("cluster:old-demo")),
        ("rds:DeleteDBInstance", arn("db:old-demo-1")),
        (
            "kms:CreateGrant",
            obs.clusters["prod"].kms_key_id.clone().unwrap(),
        ),
    ] {
        assert!(policy.contains(action), "{action} missing");
        assert!(policy.contains(&resource), "{resource} missing");
    }
    // The source cluster appears in one mutating statement only: as the clone's source.
    let v: serde_json::Value = serde_json::from_str(&policy).unwrap();
    for st in v["Statement"].as_array().unwrap() {
        let names_source = st["Resource"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r == &serde_json::json!(arn("cluster:prod")));
        let reads = st["Sid"].as_str().unwrap().starts_with("Read");
        if names_source && !reads {
            assert_eq!(st["Action"][0], "rds:RestoreDBClusterToPointInTime", "{st}");
        }
    }
    for st in v["Statement"].as_array().unwrap() {
        if st["Action"][0] == "rds:DeleteDBCluster" || st["Action"][0] == "rds:DeleteDBInstance" {
            for r in st["Resource"].as_array().unwrap() {
                let r = r.as_str().unwrap();
                assert!(r.rsplit(':').next().unwrap().starts_with("old-"), "{r}");
            }
        }
    }
}

#[test]
fn the_fresh_cluster_snapshot_path() {
    let obs = three_members();
    let req = PlanRequest {
        snapshot_path: true,
        snapshot: SnapshotChoice::Fresh,
        ..request()
    };
    let p = plan(&obs, &req).unwrap();
    assert_eq!(p.path, ClonePath::Snapshot);
    let actions: Vec<&str> = p.steps.iter().map(|s| s.op.action()).collect();
    assert!(actions.contains(&"CreateDBClusterSnapshot"));
    assert!(actions.contains(&"RestoreDBClusterFromSnapshot"));
    assert!(actions.contains(&"DeleteDBClusterSnapshot"));
    let mut end = obs.clone();
    predict_all(&mut end, &p).unwrap();
    assert_refreshed(&obs, &end);
    assert!(end.snapshots.is_empty(), "the fresh snapshot was kept");
}

#[test]
fn a_different_engine_version_is_noted_in_the_plan() {
    let mut obs = three_members();
    obs.clusters.get_mut("demo").unwrap().engine_version = "15.4".into();
    let p = plan(&obs, &request()).unwrap();
    assert_eq!(p.notes.len(), 1);
    assert!(p.notes[0].contains("demo runs 15.4"), "{}", p.notes[0]);
    assert!(stack_mitosis::render::plan_text(&p).contains("demo runs 15.4"));
}

#[test]
fn a_custom_endpoint_moves_after_the_swaps_and_before_the_restart() {
    let obs = with_endpoint();
    let p = plan(&obs, &request()).unwrap();
    let drop = id(&p, StepKind::DropEndpoint, "demo-analytics");
    let create = id(&p, StepKind::Endpoint, "demo-analytics");
    let restart = p
        .steps
        .iter()
        .position(|s| s.id.kind == StepKind::Restart)
        .unwrap();
    assert_eq!(p.steps[drop].resource, "old-demo");
    assert_eq!(p.steps[create].resource, "demo");
    assert!(depends(&p, create, drop) && depends(&p, restart, create));
    for swap in p.steps.iter().filter(|s| s.id.kind == StepKind::Swap) {
        assert!(p.steps[drop].depends_on.contains(&swap.id), "{}", swap.id);
    }
    // The retired cluster carries the definition while the endpoint moves.
    let mark = &p.steps[id(&p, StepKind::Mark, "demo")];
    let params = serde_json::Value::Object(mark.op.params(&mark.resource)).to_string();
    assert!(
        params.contains("stack-mitosis:endpoint:demo-analytics"),
        "{params}"
    );
    let mut end = obs.clone();
    predict_all(&mut end, &p).unwrap();
    assert_refreshed(&obs, &end);
    let e = &end.clusters["demo"].endpoints[0];
    assert_eq!(e.static_members, vec!["demo-r1", "demo-r2"]);
    let policy = stack_mitosis::iam::policy(&p, &account()).to_string();
    assert!(policy.contains(&account().arn("cluster-endpoint:demo-analytics")));
}

#[test]
fn resuming_after_any_prefix_reaches_the_same_state() {
    let obs = with_endpoint();
    let full = plan(&obs, &request()).unwrap();
    let mut expected = obs.clone();
    predict_all(&mut expected, &full).unwrap();
    for done in 0..full.steps.len() {
        let mut mid = obs.clone();
        for step in full.steps[..done].iter() {
            stack_mitosis::plan::predict(&mut mid, step).unwrap();
        }
        let resumed = plan(&mid, &request()).unwrap();
        assert_eq!(resumed.run_id, "run1");
        let mut end = mid.clone();
        predict_all(&mut end, &resumed).unwrap();
        assert_eq!(end, expected, "after {done} steps");
    }
}

#[test]
fn rollback_after_the_swap_puts_the_names_back_and_discards_the_clone() {
    let obs = with_endpoint();
    let full = plan(&obs, &request()).unwrap();
    let restart = full
        .steps
        .iter()
        .position(|s| s.id.kind == StepKind::Restart)
        .unwrap();
    let mut mid = obs.clone();
    for step in &full.steps[..restart] {
        stack_mitosis::plan::predict(&mut mid, step).unwrap();
    }
    let back = rollback(&mid, "prod", "demo", "run1", OnFailure::Rollback).unwrap();
    let mut end = mid.clone();
    predict_all(&mut end, &back).unwrap();
    assert_eq!(
        end.clusters["demo"].resource_id,
        obs.clusters["demo"].resource_id
    );
    assert_eq!(end.clusters["demo"].members, obs.clusters["demo"].members);
    assert_eq!(
        end.clusters.len(),
        obs.clusters.len(),
        "the clone was not discarded"
    );
    assert_eq!(end.instances.len(), obs.instances.len());
    assert!(end.clusters["demo"]
        .tags
        .keys()
        .all(|k| !k.starts_with(tags::PREFIX)));
}

#[test]
fn bad_cluster_input_says_what_to_do() {
    let obs = three_members();
    let with = |f: &dyn Fn(&mut Observed)| {
        let mut o = obs.clone();
        f(&mut o);
        o
    };
    let req = |s: &str, t: &str| PlanRequest::new(s, t, "run1");
    expect_bad_input(
        &obs,
        &req("prod", "demo-w"),
        "name the cluster (--target demo)",
    );
    expect_bad_input(
        &obs,
        &req("prod-1", "demo"),
        "name the cluster (--source prod)",
    );
    let mixed = with(&|o| {
        o.instances
            .insert("solo".into(), primary("solo", "postgres", "vpc-1"));
    });
    expect_bad_input(
        &mixed,
        &req("prod", "solo"),
        "is a DB instance but the other side",
    );
    expect_bad_input(
        &with(&|o| o.clusters.get_mut("demo").unwrap().engine = "aurora-mysql".into()),
        &req("prod", "demo"),
        "runs aurora-postgresql but target \"demo\" runs aurora-mysql",
    );
    expect_bad_input(
        &with(&|o| o.clusters.get_mut("prod").unwrap().engine_mode = Some("serverless".into())),
        &req("prod", "demo"),
        "Serverless v1",
    );
    expect_bad_input(
        &with(&|o| o.clusters.get_mut("demo").unwrap().global_cluster = Some("world".into())),
        &req("prod", "demo"),
        "global database \"world\"",
    );
    expect_bad_input(
        &with(&|o| o.clusters.get_mut("prod").unwrap().members.clear()),
        &req("prod", "demo"),
        "Aurora cannot clone a cluster without one",
    );
    expect_bad_input(
        &with(&|o| o.clusters.get_mut("demo").unwrap().status = "backing-up".into()),
        &req("prod", "demo"),
        "is \"backing-up\", not available",
    );
    let taken = with(&|o| {
        let (c, _) = cluster("temp-demo", PG, "vpc-1", &[]);
        o.clusters.insert(c.id.clone(), c);
    });
    expect_bad_input(&taken, &req("prod", "demo"), "\"temp-demo\" already exists");
    let long = "d".repeat(60);
    let (c, m) = cluster(&long, PG, "vpc-1", &[("demo-x", "db.t4g.medium")]);
    let mut long_obs = obs.clone();
    long_obs.clusters.insert(long.clone(), c);
    long_obs
        .instances
        .extend(m.into_iter().map(|i| (i.id.clone(), i)));
    expect_bad_input(
        &long_obs,
        &req("prod", &long),
        "longer than the 63 characters",
    );
}

fn shape() -> impl Strategy<Value = ((Vec<usize>, bool, bool, usize, bool), bool)> {
    (
        (
            proptest::collection::vec(0..3usize, 1..=4),
            any::<bool>(),
            any::<bool>(),
            0..48usize,
            any::<bool>(),
        ),
        any::<bool>(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any member count and classes, protection on or off, a custom endpoint or none, either
    /// path, interrupted anywhere:
    /// the rerun's plan reaches the same end state, and that state is the refreshed cluster.
    #[test]
    fn any_cluster_shape_resumes_to_the_refreshed_cluster(
        ((classes, protected, snapshot, cut, mysql), endpoint) in shape()
    ) {
        let engine = if mysql { "aurora-mysql" } else { PG };
        let names: Vec<String> = (0..classes.len()).map(|i| format!("demo-{i}")).collect();
        let class_names = ["db.t4g.medium", "db.r6g.large", "db.serverless"];
        let members: Vec<(&str, &str)> = names
            .iter()
            .zip(&classes)
            .map(|(n, c)| (n.as_str(), class_names[*c]))
            .collect();
        let (prod, mut instances) = cluster("prod", engine, "vpc-1", &[("prod-1", "db.r6g.xlarge")]);
        let (mut demo, demo_members) = cluster("demo", engine, "vpc-1", &members);
        demo.deletion_protection = protected;
        if endpoint {
            demo.endpoints = vec![CustomEndpoint {
                id: "demo-custom".into(),
                kind: "ANY".into(),
                static_members: vec![names[0].clone()],
                excluded_members: Vec::new(),
                cluster: "demo".into(),
                status: "available".into(),
            }];
        }
        instances.extend(demo_members);
        let obs = Observed::new(instances, Vec::new(), account()).with_clusters(vec![prod, demo]);
        let req = PlanRequest {
            snapshot_path: snapshot,
            snapshot: SnapshotChoice::Fresh,
            ..request()
        };
        let full = plan(&obs, &req).unwrap();
        let mut expected = obs.clone();
        predict_all(&mut expected, &full).unwrap();
        assert_refreshed(&obs, &expected);
        let cut = cut % full.steps.len();
        let mut mid = obs.clone();
        for step in full.steps[..cut].iter().filter(|s| s.is_pending()) {
            stack_mitosis::plan::predict(&mut mid, step).unwrap();
        }
        let resumed = plan(&mid, &req).unwrap();
        let mut end = mid;
        predict_all(&mut end, &resumed).unwrap();
        prop_assert_eq!(end, expected);
    }
}

#[test]
fn flight_plan_and_policy_of_a_cluster_refresh() {
    let mut obs = with_endpoint();
    obs.clusters.get_mut("demo").unwrap().engine_version = "15.4".into();
    let p = plan(&obs, &request())
        .unwrap()
        .with_eta(&stack_mitosis::plan::LatencyModel::default());
    insta::assert_snapshot!(stack_mitosis::render::plan_text(&p));
    insta::assert_snapshot!(stack_mitosis::render::plan_markdown(&p));
    let doc: stack_mitosis::schema::PlanDoc =
        serde_json::from_str(&stack_mitosis::render::plan_json(&p)).unwrap();
    assert_eq!(doc.kind, "cluster");
    insta::assert_json_snapshot!(doc);
    insta::assert_json_snapshot!(stack_mitosis::iam::policy(&p, &account()));
}
