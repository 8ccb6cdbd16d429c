//! Planner unit tests over hand-built states: step sequences for each tree shape and path,
//! carried attributes, skip detection when resuming, and every bad input.

mod support;

use stack_mitosis::fixtures::{add_replica, primary, state, two_pairs};
use stack_mitosis::observed::{tags, Observed, Snapshot};
use stack_mitosis::plan::{
    plan, predict_all, ClonePath, InstanceOp, Op, Plan, PlanRequest, SnapshotChoice,
};
use support::expect_bad_input;

fn request(source: &str, target: &str) -> PlanRequest {
    PlanRequest {
        restart: Some("systemctl restart app".into()),
        ..PlanRequest::new(source, target, "run1")
    }
}

fn sequence(plan: &Plan) -> Vec<(String, String)> {
    plan.steps
        .iter()
        .filter(|s| {
            !matches!(
                s.op,
                Op::Instance(InstanceOp::AddTags { .. } | InstanceOp::RemoveTags { .. })
                    | Op::Lock(_)
                    | Op::Guard(_)
            )
        })
        .map(|s| (s.op.action().to_string(), s.resource.clone()))
        .collect()
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[test]
fn replica_path_follows_the_documented_sequence() {
    let p = plan(&two_pairs(), &request("prod", "demo")).unwrap();
    assert_eq!(p.path, ClonePath::Replica);
    assert_eq!(
        sequence(&p),
        pairs(&[
            ("CreateDBInstanceReadReplica", "temp-demo"),
            ("PromoteReadReplica", "temp-demo"),
            ("ModifyDBInstance", "temp-demo"),
            ("CreateDBInstanceReadReplica", "temp-demo-replica"),
            ("ModifyDBInstance", "temp-demo-replica"),
            ("ModifyDBInstance", "demo-replica"),
            ("ModifyDBInstance", "demo"),
            ("ModifyDBInstance", "temp-demo-replica"),
            ("ModifyDBInstance", "temp-demo"),
            ("RunCommand", "demo"),
            ("DeleteDBInstance", "old-demo-replica"),
            ("DeleteDBInstance", "old-demo"),
        ])
    );
    let create = p.step("create-temp-demo").unwrap().op.params("temp-demo");
    assert_eq!(create["SourceDBInstanceIdentifier"], "prod");
    let replica = p.step("create-temp-demo-replica").unwrap();
    assert_eq!(replica.depends_on, vec!["configure-temp-demo".to_string()]);
    // Every delete waits for the restart command.
    for s in p
        .steps
        .iter()
        .filter(|s| s.op.action() == "DeleteDBInstance")
    {
        assert!(s.depends_on.iter().any(|d| d == "restart"), "{}", s.id);
    }
    assert!(p.steps.iter().all(|s| s.skip.is_none()));
}

#[test]
fn carried_attributes_follow_the_target_not_the_source() {
    let obs = two_pairs();
    let p = plan(&obs, &request("prod", "demo")).unwrap();
    let demo = obs.get("demo").unwrap();
    let params = p.step("create-temp-demo").unwrap().op.params("temp-demo");
    assert_eq!(params["DBInstanceClass"], demo.class.as_str());
    assert_eq!(params["Port"], demo.port.unwrap());
    assert_eq!(params["OptionGroupName"], "og-demo");
    assert_eq!(
        params["VpcSecurityGroupIds"],
        serde_json::json!(["sg-demo"]),
        "only active groups"
    );
    assert_eq!(params["DeletionProtection"], false);
    assert_eq!(params["MonitoringInterval"], 60);
    assert!(
        !params.contains_key("KmsKeyId"),
        "same-region replicas inherit the key"
    );
    assert!(
        !params.contains_key("DBSubnetGroupName"),
        "replicas cannot change subnet group"
    );
    assert!(!params.contains_key("Iops"), "absent values are left out");
    let tags = params["Tags"].as_array().unwrap();
    assert!(tags.contains(&serde_json::json!({"Key": "env", "Value": "demo"})));
    assert!(tags.contains(&serde_json::json!({"Key": tags::ROLE, "Value": "temp"})));
    let configure = p
        .step("configure-temp-demo")
        .unwrap()
        .op
        .params("temp-demo");
    assert_eq!(configure["DBParameterGroupName"], "pg-demo");
    assert_eq!(
        configure["PreferredMaintenanceWindow"],
        demo.maintenance_window.clone().unwrap().as_str()
    );
    assert_eq!(configure["BackupRetentionPeriod"], 7);
    assert_eq!(configure["ApplyImmediately"], true);
    // A PostgreSQL replica without replicas of its own gets no backup setting.
    let leaf = p
        .step("configure-temp-demo-replica")
        .unwrap()
        .op
        .params("x");
    assert!(!leaf.contains_key("BackupRetentionPeriod"));
}

fn cross_vpc() -> Observed {
    let mut obs = state(vec![
        primary("prod", "postgres", "prodvpc"),
        primary("demo", "postgres", "demovpc"),
    ]);
    add_replica(&mut obs, "demo-replica", "demo");
    let snap = |id: &str, status: &str, created: i64| Snapshot {
        id: id.into(),
        arn: format!("arn:aws:rds:us-east-1:123456789012:snapshot:{id}"),
        instance_id: "prod".into(),
        status: status.into(),
        kind: "automated".into(),
        created: Some(created),
        vpc_id: Some("vpc-prodvpc".into()),
        tags: Default::default(),
    };
    obs.snapshots = vec![
        snap("rds:prod-old", "available", 100),
        snap("rds:prod-newest", "available", 300),
        snap("rds:prod-creating", "creating", 400),
    ];
    obs
}

#[test]
fn different_vpcs_take_the_snapshot_path_with_the_newest_available_snapshot() {
    let p = plan(&cross_vpc(), &request("prod", "demo")).unwrap();
    assert_eq!(p.path, ClonePath::Snapshot);
    let restore = p.step("create-temp-demo").unwrap();
    assert_eq!(restore.op.action(), "RestoreDBInstanceFromDBSnapshot");
    let params = restore.op.params("temp-demo");
    assert_eq!(params["DBSnapshotIdentifier"], "rds:prod-newest");
    assert_eq!(params["DBSubnetGroupName"], "demovpc-subnets");
    assert!(
        !params.contains_key("MonitoringInterval"),
        "restore does not take monitoring"
    );
    assert!(
        p.step("promote-temp-demo").is_none(),
        "a restored instance is no replica"
    );
    let configure = p
        .step("configure-temp-demo")
        .unwrap()
        .op
        .params("temp-demo");
    assert_eq!(
        configure["MonitoringInterval"], 60,
        "monitoring moves to the modify"
    );
    let child = p.step("create-temp-demo-replica").unwrap();
    assert_eq!(child.op.action(), "CreateDBInstanceReadReplica");
}

#[test]
fn fresh_snapshot_is_taken_first_and_explicit_ids_are_checked() {
    let mut req = request("prod", "demo");
    req.snapshot = SnapshotChoice::Fresh;
    req.snapshot_path = true;
    let p = plan(&cross_vpc(), &req).unwrap();
    let snap = p.step("snapshot-prod").unwrap();
    assert_eq!(p.steps[1].id, snap.id, "first after taking the lock");
    assert_eq!(
        (snap.op.action(), snap.resource.as_str()),
        ("CreateDBSnapshot", "prod")
    );
    let restore = p.step("create-temp-demo").unwrap();
    assert_eq!(restore.depends_on, vec![snap.id.clone()]);
    assert_eq!(
        restore.op.params("temp-demo")["DBSnapshotIdentifier"],
        "stack-mitosis-prod-run1"
    );

    req.snapshot = SnapshotChoice::Id("rds:prod-old".into());
    let p = plan(&cross_vpc(), &req).unwrap();
    assert_eq!(
        p.step("create-temp-demo").unwrap().op.params("t")["DBSnapshotIdentifier"],
        "rds:prod-old"
    );
    for (id, says) in [
        ("rds:prod-creating", "not available"),
        ("nope", "was not found"),
    ] {
        req.snapshot = SnapshotChoice::Id(id.into());
        let err = plan(&cross_vpc(), &req).unwrap_err().to_string();
        assert!(err.contains(says), "{err}");
    }
}

#[test]
fn mysql_cascade_builds_parents_before_children_with_backups_where_needed() {
    let mut obs = state(vec![
        primary("prod", "mysql", "v"),
        primary("qa", "mysql", "v"),
    ]);
    add_replica(&mut obs, "qa-r1", "qa");
    add_replica(&mut obs, "qa-r2", "qa-r1");
    add_replica(&mut obs, "qa-r3", "qa-r2");
    let p = plan(&obs, &request("prod", "qa")).unwrap();
    let creates: Vec<&str> = p
        .steps
        .iter()
        .filter(|s| s.op.action() == "CreateDBInstanceReadReplica")
        .map(|s| s.resource.as_str())
        .collect();
    assert_eq!(
        creates,
        ["temp-qa", "temp-qa-r1", "temp-qa-r2", "temp-qa-r3"]
    );
    let r2 = p.step("create-temp-qa-r2").unwrap();
    assert_eq!(
        r2.op.params("temp-qa-r2")["SourceDBInstanceIdentifier"],
        "temp-qa-r1"
    );
    for (id, backups) in [("qa-r1", Some(1)), ("qa-r2", Some(1)), ("qa-r3", None)] {
        let params = p
            .step(&format!("configure-temp-{id}"))
            .unwrap()
            .op
            .params("x");
        assert_eq!(
            params.get("BackupRetentionPeriod").and_then(|v| v.as_i64()),
            backups,
            "{id}"
        );
    }
    let deletes: Vec<&str> = p
        .steps
        .iter()
        .filter(|s| s.op.action() == "DeleteDBInstance")
        .map(|s| s.resource.as_str())
        .collect();
    assert_eq!(
        deletes,
        ["old-qa-r3", "old-qa-r2", "old-qa-r1", "old-qa"],
        "leaves first"
    );
}

#[test]
fn single_instance_and_several_replicas() {
    let obs = state(vec![
        primary("prod", "postgres", "v"),
        primary("demo", "postgres", "v"),
    ]);
    let p = plan(&obs, &request("prod", "demo")).unwrap();
    assert_eq!(
        p.steps
            .iter()
            .filter(|s| s.op.action() == "CreateDBInstanceReadReplica")
            .count(),
        1
    );

    let mut obs = obs;
    for r in ["demo-a", "demo-b", "demo-c"] {
        add_replica(&mut obs, r, "demo");
    }
    let p = plan(&obs, &request("prod", "demo")).unwrap();
    for r in ["demo-a", "demo-b", "demo-c"] {
        let s = p.step(&format!("create-temp-{r}")).unwrap();
        assert_eq!(s.depends_on, vec!["configure-temp-demo".to_string()]);
    }
}

#[test]
fn deletion_protection_ends_on_the_new_target_and_comes_off_the_old_just_before_delete() {
    let mut obs = two_pairs();
    obs.instances.get_mut("demo").unwrap().deletion_protection = true;
    let p = plan(
        &obs,
        &PlanRequest {
            allow_protected_target: true,
            ..request("prod", "demo")
        },
    )
    .unwrap();
    let protect = p.step("protect-demo").unwrap();
    assert_eq!(protect.op.params("demo")["DeletionProtection"], true);
    let unprotect = p.step("unprotect-old-demo").unwrap();
    assert_eq!(unprotect.depends_on, vec!["protect-demo".to_string()]);
    assert!(p
        .step("delete-old-demo")
        .unwrap()
        .depends_on
        .contains(&unprotect.id));
    let mut end = obs.clone();
    predict_all(&mut end, &p).unwrap();
    assert!(end.get("demo").unwrap().deletion_protection);
    assert!(!end.get("demo-replica").unwrap().deletion_protection);
}

/// Resuming is planning again: after any prefix of the plan has run, the new plan skips exactly
/// what is done (with a reason) and finishes in the same state.
#[test]
fn an_interrupted_run_plans_only_what_remains() {
    let obs = two_pairs();
    let full = plan(&obs, &request("prod", "demo")).unwrap();
    let mut expected = obs.clone();
    predict_all(&mut expected, &full).unwrap();
    // Step 0 takes the lock and the last releases it; they belong to a run, not to the
    // state: interrupt between them.
    for done in 2..full.steps.len() - 1 {
        let mut mid = obs.clone();
        for step in &full.steps[..done] {
            stack_mitosis::plan::predict(&mut mid, step).unwrap();
        }
        let mut req = request("prod", "demo");
        req.run_id = "run2".into();
        let resumed = plan(&mid, &req).unwrap_or_else(|e| panic!("after {done} steps: {e}"));
        assert!(resumed.resuming);
        assert_eq!(
            resumed.run_id, "run1",
            "the run id is read back from the tags"
        );
        let skipped: Vec<String> = resumed
            .steps
            .iter()
            .filter(|s| s.skip.is_some())
            .map(|s| s.id.to_string())
            .collect();
        let want: Vec<String> = full.steps[..done]
            .iter()
            // The lock is the run's, and the guardrails are checked again before retiring.
            .filter(|s| !matches!(s.op, Op::Lock(_) | Op::Guard(_)))
            .map(|s| s.id.to_string())
            .collect();
        // Steps that are done are skipped; a restart is re-run unless cleanup has started.
        for id in &want {
            if *id != "restart" {
                assert!(
                    skipped.contains(id),
                    "after {done} steps, {id} should be skipped: {skipped:?}"
                );
            }
        }
        for s in resumed.steps.iter().filter(|s| s.skip.is_some()) {
            assert!(!s.skip.as_deref().unwrap().is_empty());
        }
        let mut end = mid.clone();
        predict_all(&mut end, &resumed).unwrap();
        assert_eq!(end, expected, "after {done} steps");
    }
}

#[test]
fn bad_inputs_are_refused_with_a_reason() {
    let obs = two_pairs();
    expect_bad_input(
        &obs,
        &request("nope", "demo"),
        "source instance \"nope\" was not found",
    );
    expect_bad_input(
        &obs,
        &request("prod", "nope"),
        "target instance \"nope\" was not found",
    );
    expect_bad_input(
        &obs,
        &request("prod", "prod"),
        "must be a different instance",
    );
    expect_bad_input(
        &obs,
        &request("prod", "prod-replica"),
        "are in one replica tree (root \"prod\")",
    );
    expect_bad_input(
        &obs,
        &request("Bad_Name", "demo"),
        "not a valid DB instance identifier",
    );
    expect_bad_input(
        &obs,
        &request("demo-replica", "demo"),
        "are in one replica tree (root \"demo\")",
    );
    let mut cascade = two_pairs();
    add_replica(&mut cascade, "prod-replica-2", "prod-replica");
    expect_bad_input(
        &cascade,
        &request("prod-replica-2", "prod"),
        "are in one replica tree",
    );
    // A target that is itself a replica elsewhere: the root must be given.
    let mut other = two_pairs();
    add_replica(&mut other, "demo-replica-2", "demo-replica");
    expect_bad_input(
        &other,
        &request("prod", "demo-replica"),
        "give the root of the target tree",
    );

    let long = "a".repeat(60);
    let long_obs = state(vec![
        primary("prod", "postgres", "v"),
        primary(&long, "postgres", "v"),
    ]);
    expect_bad_input(
        &long_obs,
        &request("prod", &long),
        "longer than the 63 characters",
    );

    let mut taken = two_pairs();
    taken.instances.insert(
        "temp-demo".into(),
        primary("temp-demo", "postgres", "shared"),
    );
    expect_bad_input(
        &taken,
        &request("prod", "demo"),
        "stack-mitosis did not create it",
    );

    let mut stale = two_pairs();
    let mut old = primary("old-demo", "postgres", "shared");
    old.tags.insert(tags::ROLE.into(), "old".into());
    old.tags.insert(tags::ORIGINAL.into(), "demo".into());
    old.tags.insert(tags::RUN.into(), "run0".into());
    stale.instances.insert("old-demo".into(), old);
    expect_bad_input(
        &stale,
        &request("prod", "demo"),
        "left by an earlier run (run0)",
    );

    let mut busy = two_pairs();
    busy.instances.get_mut("demo-replica").unwrap().status = "modifying".into();
    expect_bad_input(
        &busy,
        &request("prod", "demo"),
        "is \"modifying\", not available",
    );
    let mut busy = two_pairs();
    busy.instances.get_mut("prod").unwrap().status = "storage-full".into();
    expect_bad_input(
        &busy,
        &request("prod", "demo"),
        "source instance \"prod\" is \"storage-full\"",
    );

    let mut guarded = two_pairs();
    guarded
        .instances
        .get_mut("demo-replica")
        .unwrap()
        .tags
        .insert(tags::PROTECTED.into(), "true".into());
    expect_bad_input(
        &guarded,
        &request("prod", "demo"),
        "\"demo-replica\" is tagged stack-mitosis:protected=true",
    );

    let mut cluster = two_pairs();
    cluster.instances.get_mut("demo").unwrap().cluster = Some("aurora-demo".into());
    expect_bad_input(
        &cluster,
        &request("prod", "demo"),
        "name the cluster instead (aurora-demo)",
    );

    let mut engines = two_pairs();
    engines.instances.get_mut("demo").unwrap().engine = "mysql".into();
    expect_bad_input(
        &engines,
        &request("prod", "demo"),
        "pick a source of the same engine",
    );

    let mut no_snap = cross_vpc();
    no_snap.snapshots.retain(|s| s.status != "available");
    expect_bad_input(&no_snap, &request("prod", "demo"), "no available snapshot");
}

/// Rollback from every point before cleanup puts the original instances back under their
/// names, with their own tags, and (in rollback mode) leaves no clone behind.
#[test]
fn rollback_from_any_point_before_cleanup_restores_the_originals() {
    use stack_mitosis::plan::{predict, rollback, OnFailure, Phase};
    let obs = two_pairs();
    let full = plan(&obs, &request("prod", "demo")).unwrap();
    let before_cleanup = full
        .steps
        .iter()
        .take_while(|s| s.phase < Phase::Cleanup)
        .count();
    for done in 0..=before_cleanup {
        for mode in [OnFailure::Rollback, OnFailure::Keep] {
            let mut state = obs.clone();
            for step in &full.steps[..done] {
                predict(&mut state, step).unwrap();
            }
            let back = rollback(&state, "prod", "demo", "run1", mode).unwrap();
            for step in &back.steps {
                predict(&mut state, step).unwrap_or_else(|e| panic!("after {done}: {e}"));
            }
            for id in ["demo", "demo-replica"] {
                assert_eq!(
                    state.get(id).map(|i| &i.tags),
                    obs.get(id).map(|i| &i.tags),
                    "after {done}: {id}"
                );
                assert_eq!(state.get(id).unwrap().class, obs.get(id).unwrap().class);
            }
            assert_eq!(state.parent("demo-replica").as_deref(), Some("demo"));
            let temps = state
                .instances
                .keys()
                .filter(|k| k.starts_with("temp-"))
                .count();
            match mode {
                OnFailure::Rollback => assert_eq!(temps, 0, "after {done}"),
                OnFailure::Keep => assert!(state.instances.keys().all(|k| !k.starts_with("old-"))),
            }
            assert!(back
                .steps
                .iter()
                .all(|s| s.op.action() != "DeleteDBInstance" || s.resource.starts_with("temp-")));
        }
    }
}

/// A run resumed after its restore, when the snapshot it restored is no longer listed (an
/// expired automated snapshot), still plans; its IAM policy names no made-up snapshot (the
/// plan once carried a sentinel "(already restored)" as the snapshot id).
#[test]
fn a_resumed_snapshot_plan_names_no_made_up_snapshot_in_its_policy() {
    let obs = cross_vpc();
    let full = plan(&obs, &request("prod", "demo")).unwrap();
    let mut state = obs.clone();
    let restore = full.step("create-temp-demo").unwrap();
    stack_mitosis::plan::predict(&mut state, restore).unwrap();
    state.snapshots.clear();
    let resumed = plan(&state, &request("prod", "demo")).unwrap();
    assert!(resumed.resuming);
    let restore = resumed.step("create-temp-demo").unwrap();
    assert!(restore.skip.is_some(), "the restore is done");
    assert!(!restore
        .op
        .params("temp-demo")
        .contains_key("DBSnapshotIdentifier"));
    let policy = stack_mitosis::iam::policy(&resumed, &stack_mitosis::fixtures::account());
    let text = policy.to_string();
    assert!(!text.contains("already restored"), "{text}");
    let restore_grant = policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Sid"] == "RestoreDBInstanceFromDBSnapshot")
        .expect("the restore is still granted, for the automated snapshots");
    for arn in restore_grant["Resource"].as_array().unwrap() {
        let arn = arn.as_str().unwrap();
        assert!(
            !arn.contains(":snapshot:") || arn.ends_with(":snapshot:rds:prod-*"),
            "{arn}"
        );
    }
}

/// The snapshot `--snapshot fresh` takes is deleted once the clone restored from it exists
/// (or, kept, loses the markers); a run cut off right after taking it is adopted by the rerun.
#[test]
fn a_fresh_snapshot_is_deleted_after_the_restore_and_adopted_after_a_crash() {
    let mut req = request("prod", "demo");
    req.snapshot = SnapshotChoice::Fresh;
    let obs = cross_vpc();
    let p = plan(&obs, &req).unwrap();
    let delete = p.step("delete-snapshot-stack-mitosis-prod-run1").unwrap();
    assert_eq!(delete.op.action(), "DeleteDBSnapshot");
    assert_eq!(delete.depends_on, vec!["create-temp-demo".to_string()]);
    let policy = stack_mitosis::iam::policy(&p, &stack_mitosis::fixtures::account()).to_string();
    assert!(policy.contains("rds:DeleteDBSnapshot"), "{policy}");
    assert!(
        policy.contains(":snapshot:stack-mitosis-prod-*"),
        "{policy}"
    );

    // Cut off right after the snapshot was taken: no instance is marked yet, but the
    // snapshot's tags tell the run, and the rerun waits for that snapshot instead of taking
    // another.
    let mut state = obs.clone();
    for step in p.steps.iter().take_while(|s| s.id != "create-temp-demo") {
        stack_mitosis::plan::predict(&mut state, step).unwrap();
    }
    let mut again = req.clone();
    again.run_id = "run2".into();
    let resumed = plan(&state, &again).unwrap();
    assert_eq!(resumed.run_id, "run1");
    assert!(resumed.step("snapshot-prod").unwrap().skip.is_some());
    assert_eq!(
        resumed
            .step("create-temp-demo")
            .unwrap()
            .op
            .params("temp-demo")["DBSnapshotIdentifier"],
        "stack-mitosis-prod-run1"
    );

    // After the whole refresh no snapshot of the tool's is left.
    let mut end = obs.clone();
    predict_all(&mut end, &p).unwrap();
    assert!(end
        .snapshots
        .iter()
        .all(|s| !s.id.starts_with("stack-mitosis-")));

    req.keep_snapshot = true;
    let kept = plan(&obs, &req).unwrap();
    assert!(kept
        .step("delete-snapshot-stack-mitosis-prod-run1")
        .is_none());
    let keep = kept.step("keep-snapshot-stack-mitosis-prod-run1").unwrap();
    assert_eq!(keep.op.action(), "RemoveTagsFromResource");
    let mut end = obs.clone();
    predict_all(&mut end, &kept).unwrap();
    let left = end
        .snapshots
        .iter()
        .find(|s| s.id == "stack-mitosis-prod-run1")
        .expect("kept");
    assert!(
        !left.is_fresh_for("demo"),
        "a kept snapshot is never adopted by a later run"
    );
}
