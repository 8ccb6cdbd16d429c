//! Planner tests for `--source-time` (point-in-time restore) over hand-built states: the root
//! clone restored from the source's backups with every carried attribute, replicas built from
//! it, on every tree shape and for clusters; resume; and every bad time.

use stack_mitosis::fixtures::{account, add_replica, cluster, primary, state, LATEST_RESTORABLE};
use stack_mitosis::observed::Observed;
use stack_mitosis::plan::{
    plan, predict, predict_all, ClonePath, ClusterOp, InstanceOp, Op, PlanRequest, SourceTime,
    StepKind,
};
use stack_mitosis::refresh::RefreshOptions;

fn request(time: SourceTime) -> PlanRequest {
    PlanRequest {
        restart: Some("systemctl restart app".into()),
        source_time: Some(time),
        ..PlanRequest::new("prod", "demo", "run1")
    }
}

/// The target trees: primary only, primary + 2 replicas, a MySQL cascade of depth 3; the
/// source in another VPC for the last (a point-in-time restore moves into the target's).
fn shapes() -> Vec<(&'static str, Observed)> {
    let single = state(vec![
        primary("prod", "postgres", "shared"),
        primary("demo", "postgres", "shared"),
    ]);
    let mut fan = single.clone();
    add_replica(&mut fan, "demo-r1", "demo");
    add_replica(&mut fan, "demo-r2", "demo");
    let mut cascade = state(vec![
        primary("prod", "mysql", "vpc-prod"),
        primary("demo", "mysql", "vpc-demo"),
    ]);
    add_replica(&mut cascade, "demo-r1", "demo");
    add_replica(&mut cascade, "demo-r2", "demo-r1");
    cascade
        .instances
        .get_mut("demo-r1")
        .unwrap()
        .backup_retention = 1;
    vec![
        ("primary only", single),
        ("primary + 2", fan),
        ("cascade", cascade),
    ]
}

#[test]
fn the_root_is_restored_to_the_moment_on_every_shape() {
    for time in [SourceTime::Latest, SourceTime::At(LATEST_RESTORABLE - 3600)] {
        for (name, obs) in shapes() {
            let p = plan(&obs, &request(time)).unwrap();
            assert_eq!(p.path, ClonePath::PointInTime, "{name}");
            let create = p.step("create-temp-demo").unwrap();
            match &create.op {
                Op::Instance(InstanceOp::RestoreToPointInTime { source, attrs, .. }) => {
                    assert_eq!(source, "prod");
                    // Every carried attribute, the subnet group included.
                    assert_eq!(attrs.subnet_group, obs.instances["demo"].subnet_group);
                    assert_eq!(attrs.class, obs.instances["demo"].class);
                    assert!(!attrs.vpc_security_group_ids.is_empty());
                    assert!(attrs.option_group.is_some());
                }
                other => panic!("{name}: {other:?}"),
            }
            let params = serde_json::Value::Object(create.op.params(&create.resource));
            match time {
                SourceTime::Latest => assert_eq!(params["UseLatestRestorableTime"], true),
                SourceTime::At(_) => {
                    assert_eq!(params["RestoreTime"], "2026-11-18T10:06:40Z", "{name}");
                    assert!(params.get("UseLatestRestorableTime").is_none());
                }
            }
            assert_eq!(params["TargetDBInstanceIdentifier"], "temp-demo");
            // No promote: the restore is standalone. The parameter group comes after.
            assert!(p.step("promote-temp-demo").is_none(), "{name}");
            assert!(p.step("configure-temp-demo").is_some());
            // The source is read only: it appears in no other step.
            for s in &p.steps {
                assert_ne!(s.resource, "prod", "{name}: {}", s.id);
            }
            let mut end = obs.clone();
            predict_all(&mut end, &p).unwrap();
            assert_eq!(end.instances["prod"], obs.instances["prod"]);
            let names: Vec<&String> = end.instances.keys().collect();
            let want: Vec<&String> = obs.instances.keys().collect();
            assert_eq!(names, want, "{name}");
            for (id, before) in obs.instances.iter().filter(|(k, _)| k.starts_with("demo")) {
                let after = &end.instances[id];
                assert_ne!(before.resource_id, after.resource_id, "{name}: {id}");
                assert_eq!(before.class, after.class);
                assert_eq!(before.parameter_group(), after.parameter_group());
                assert_eq!(before.replica_source, after.replica_source, "{name}: {id}");
                assert_eq!(before.subnet_group, after.subnet_group, "{name}: {id}");
            }
            // The policy allows the restore with the source only as its source.
            let policy = stack_mitosis::iam::policy(&p, &account()).to_string();
            assert!(policy.contains("rds:RestoreDBInstanceToPointInTime"));
        }
    }
}

#[test]
fn a_point_in_time_refresh_resumes_after_any_prefix() {
    for (name, obs) in shapes() {
        let req = request(SourceTime::At(LATEST_RESTORABLE - 60));
        let full = plan(&obs, &req).unwrap();
        let mut expected = obs.clone();
        predict_all(&mut expected, &full).unwrap();
        for done in 0..full.steps.len() {
            let mut mid = obs.clone();
            for s in &full.steps[..done] {
                predict(&mut mid, s).unwrap();
            }
            let resumed = plan(&mid, &req).unwrap();
            let mut end = mid.clone();
            predict_all(&mut end, &resumed).unwrap();
            assert_eq!(end, expected, "{name}: after {done} steps");
        }
    }
}

#[test]
fn a_cluster_is_restored_as_a_full_copy_of_the_moment() {
    let (prod, mut instances) = cluster("prod", "aurora-mysql", "v", &[("prod-1", "db.r6g.large")]);
    let (demo, members) = cluster("demo", "aurora-mysql", "v", &[("demo-1", "db.t4g.medium")]);
    instances.extend(members);
    let obs = Observed::new(instances, Vec::new(), account()).with_clusters(vec![prod, demo]);
    let p = plan(&obs, &request(SourceTime::At(LATEST_RESTORABLE - 86_400))).unwrap();
    assert_eq!(p.path, ClonePath::PointInTime);
    let create = p.step("create-temp-demo").unwrap();
    assert!(matches!(
        create.op,
        Op::Cluster(ClusterOp::Clone { time: Some(_), .. })
    ));
    let params = serde_json::Value::Object(create.op.params(&create.resource));
    assert_eq!(params["RestoreType"], "full-copy");
    assert_eq!(params["RestoreToTime"], "2026-11-17T11:06:40Z");
    let mut end = obs.clone();
    predict_all(&mut end, &p).unwrap();
    assert_ne!(
        end.clusters["demo"].resource_id,
        obs.clusters["demo"].resource_id
    );
    // Outside the cluster's window (a week of backups).
    let early = request(SourceTime::At(LATEST_RESTORABLE - 8 * 86_400));
    let err = plan(&obs, &early).unwrap_err().to_string();
    assert!(err.contains("before the earliest restorable time"), "{err}");
}

#[test]
fn bad_times_are_refused_with_the_window() {
    let obs = shapes().remove(0).1;
    let expect = |obs: &Observed, time: SourceTime, says: &str| {
        let err = plan(obs, &request(time)).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains(says), "{says}: {err}");
    };
    expect(
        &obs,
        SourceTime::At(LATEST_RESTORABLE + 60),
        "is after the latest restorable time of \"prod\": pick a moment from 2026-11-11T11:06:40Z to 2026-11-18T11:06:40Z",
    );
    // Seven days of backups (the fixture's retention is 7 for "prod").
    let retention = i64::from(obs.instances["prod"].backup_retention);
    expect(
        &obs,
        SourceTime::At(LATEST_RESTORABLE - retention * 86_400 - 60),
        "is before the earliest restorable time",
    );
    let mut no_backups = obs.clone();
    no_backups
        .instances
        .get_mut("prod")
        .unwrap()
        .backup_retention = 0;
    expect(&no_backups, SourceTime::Latest, "has no automated backups");
    // Unparsable, and together with a snapshot.
    let err = SourceTime::parse("monday 9am").unwrap_err();
    assert!(err.contains("RFC 3339"), "{err}");
    assert_eq!(
        SourceTime::parse("2026-11-30T10:00:00+01:00").unwrap(),
        SourceTime::At(1_796_029_200)
    );
    let options = RefreshOptions {
        source: "prod".into(),
        target: "demo".into(),
        snapshot: Some("latest".into()),
        source_time: Some(SourceTime::Latest),
        ..Default::default()
    };
    let err = options.request("run1").unwrap_err();
    assert_eq!(err.exit_code(), 2);
    assert!(err.to_string().contains("give one of them"), "{err}");
}

#[test]
fn the_flight_plan_says_the_moment() {
    let (_, obs) = shapes().remove(1);
    let p = plan(&obs, &request(SourceTime::At(LATEST_RESTORABLE - 3600))).unwrap();
    let text = stack_mitosis::render::plan_text(&p);
    assert!(text.contains("point-in-time path"), "{text}");
    assert!(text.contains("RestoreTime=2026-11-18T10:06:40Z"), "{text}");
    assert!(p.steps.iter().any(|s| s.id.kind == StepKind::Configure));
}

/// `--master-password-secret`: the clone root gets the target's password from the secret
/// before the before-swap command and the guardrails, on instance trees and clusters; the plan
/// names the secret, never a value; the policy may read that secret only.
#[test]
fn the_clone_gets_the_targets_password_before_anyone_uses_it() {
    let (_, fan) = shapes().remove(1);
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
        &[("demo-1", "db.t4g.medium")],
    );
    instances.extend(members);
    let clusters = Observed::new(instances, Vec::new(), account()).with_clusters(vec![prod, demo]);
    for obs in [fan, clusters] {
        let req = PlanRequest {
            master_password_secret: Some("demo-db-master".into()),
            before_swap: Some("scrub".into()),
            ..PlanRequest::new("prod", "demo", "run1")
        };
        let p = plan(&obs, &req).unwrap();
        let set = p
            .steps
            .iter()
            .position(|s| s.id == "password-temp-demo")
            .unwrap();
        let tagged = p
            .steps
            .iter()
            .position(|s| s.id == "password-set-temp-demo")
            .unwrap();
        let hook = p.steps.iter().position(|s| s.id == "before-swap").unwrap();
        assert!(p.steps[tagged].depends_on.contains(&p.steps[set].id));
        assert!(p.steps[hook].depends_on.contains(&p.steps[tagged].id));
        let params = serde_json::Value::Object(p.steps[set].op.params(&p.steps[set].resource));
        assert_eq!(
            params["MasterUserPassword"],
            "(the value of demo-db-master)"
        );
        let policy = stack_mitosis::iam::policy(&p, &account()).to_string();
        assert!(policy.contains(
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:demo-db-master-??????"
        ));
        // Done once: a rerun after it skips it.
        let mut mid = obs.clone();
        for s in &p.steps[..=tagged] {
            predict(&mut mid, s).unwrap();
        }
        let again = plan(&mid, &req).unwrap();
        assert!(again.step("password-temp-demo").unwrap().skip.is_some());
    }
}

#[test]
fn a_managed_master_password_is_explained_in_the_plan() {
    let (_, mut obs) = shapes().remove(0);
    obs.instances.get_mut("demo").unwrap().managed_secret =
        Some("arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!db-1".into());
    let p = plan(&obs, &PlanRequest::new("prod", "demo", "run1")).unwrap();
    assert_eq!(p.notes.len(), 1);
    assert!(p.notes[0].contains("manages its master password in Secrets Manager"));
    assert!(
        p.notes[0].contains("--master-password-secret"),
        "{}",
        p.notes[0]
    );
}
