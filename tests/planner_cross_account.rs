//! Planner tests for a cross-account refresh (`--source-role-arn`): the source read in its own
//! account, its snapshot handed over (transfer copy, share, import copy), each step in the
//! account that makes it; every tree shape and a cluster; resume after any prefix; the IAM
//! policies of both accounts; and every bad input.

use stack_mitosis::fixtures::{add_replica, cluster, primary, state};
use stack_mitosis::observed::{AccountInfo, Instance, Observed, Snapshot};
use stack_mitosis::plan::{
    plan, predict, predict_all, Account, ClonePath, Op, PlanRequest, SnapshotChoice, SnapshotOp,
    StepKind,
};
use stack_mitosis::render::{render_plan, Format};

const SOURCE_ACCOUNT: &str = "222222222222";
const TARGET_ACCOUNT: &str = "123456789012";

fn source_account() -> AccountInfo {
    AccountInfo {
        partition: "aws".into(),
        region: "us-east-1".into(),
        account: SOURCE_ACCOUNT.into(),
    }
}

/// `id` as it lives in the source account.
fn in_source(mut i: Instance) -> Instance {
    i.arn = source_account().arn(&format!("db:{}", i.id));
    i.kms_key_id = Some(format!(
        "arn:aws:kms:us-east-1:{SOURCE_ACCOUNT}:key/prod-default"
    ));
    i
}

fn automated(of: &str, id: &str, created: i64) -> Snapshot {
    Snapshot {
        id: id.into(),
        arn: source_account().arn(&format!("snapshot:{id}")),
        instance_id: of.into(),
        status: "available".into(),
        kind: "automated".into(),
        created: Some(created),
        vpc_id: Some("vpc-prodvpc".into()),
        tags: Default::default(),
    }
}

/// The source account: `app` (PostgreSQL, encrypted) with two automated snapshots, and a
/// replica of its own.
fn source_side(engine: &str) -> Observed {
    let mut src = Observed::new(
        vec![in_source(primary("app", engine, "prodvpc"))],
        vec![
            automated("app", "rds:app-2026-11-16", 100),
            automated("app", "rds:app-2026-11-17", 200),
        ],
        source_account(),
    );
    add_replica(&mut src, "app-replica", "app");
    src
}

/// The target trees (in the target account, named like the source: allowed across accounts).
fn shapes() -> Vec<(&'static str, Observed)> {
    let single = state(vec![primary("app", "postgres", "stagingvpc")]);
    let mut fan = single.clone();
    add_replica(&mut fan, "app-r1", "app");
    add_replica(&mut fan, "app-r2", "app");
    let mut cascade = state(vec![primary("app", "mysql", "stagingvpc")]);
    add_replica(&mut cascade, "app-r1", "app");
    add_replica(&mut cascade, "app-r2", "app-r1");
    cascade
        .instances
        .get_mut("app-r1")
        .unwrap()
        .backup_retention = 1;
    vec![
        (
            "primary only",
            single.with_source_account(source_side("postgres")),
        ),
        (
            "primary + 2",
            fan.with_source_account(source_side("postgres")),
        ),
        ("cascade", cascade.with_source_account(source_side("mysql"))),
    ]
}

fn request() -> PlanRequest {
    PlanRequest {
        source_kms_key_id: Some("alias/refresh-share".into()),
        // The fixtures' clusters may have deletion protection on: replaced on purpose.
        allow_protected_target: true,
        ..PlanRequest::new("app", "app", "run1")
    }
}

fn params(p: &stack_mitosis::plan::Plan, id: &str) -> serde_json::Value {
    let s = p.step(id).unwrap_or_else(|| panic!("no step {id}"));
    serde_json::Value::Object(s.op.params(&s.resource))
}

#[test]
fn the_snapshot_is_handed_over_on_every_shape() {
    for (name, obs) in shapes() {
        let p = plan(&obs, &request()).unwrap();
        assert_eq!(p.path, ClonePath::Snapshot, "{name}");
        let accounts = p.accounts.clone().expect("a cross-account plan");
        assert_eq!(
            (accounts.source.as_str(), accounts.target.as_str()),
            (SOURCE_ACCOUNT, TARGET_ACCOUNT)
        );
        let transfer = "stack-mitosis-transfer-app-run1";
        let import = "stack-mitosis-import-app-run1";
        // The newest automated snapshot, copied in the source account with the shared key.
        let t = params(&p, "transfer-app");
        assert_eq!(t["SourceDBSnapshotIdentifier"], "rds:app-2026-11-17");
        assert_eq!(t["TargetDBSnapshotIdentifier"], transfer);
        assert_eq!(t["KmsKeyId"], "alias/refresh-share");
        let s = params(&p, "share-app");
        assert_eq!(s["AttributeName"], "restore");
        assert_eq!(s["ValuesToAdd"], serde_json::json!([TARGET_ACCOUNT]));
        // The target account copies it by ARN, with the target's own key.
        let i = params(&p, "import-app");
        assert_eq!(
            i["SourceDBSnapshotIdentifier"],
            format!("arn:aws:rds:us-east-1:{SOURCE_ACCOUNT}:snapshot:{transfer}")
        );
        assert_eq!(
            i["KmsKeyId"],
            obs.instances["app"].kms_key_id.clone().unwrap()
        );
        let create = params(&p, "create-temp-app");
        assert_eq!(create["DBSnapshotIdentifier"], import, "{name}");
        let u = params(&p, "unshare-app");
        assert_eq!(u["ValuesToRemove"], serde_json::json!([TARGET_ACCOUNT]));
        // Each step in its account; the source account does nothing but the hand-over.
        let account_of = |id: &str| p.step(id).unwrap().account;
        for id in [
            "transfer-app".to_string(),
            "share-app".to_string(),
            "unshare-app".to_string(),
            format!("delete-snapshot-{transfer}"),
        ] {
            assert_eq!(account_of(&id), Account::Source, "{name}: {id}");
        }
        for id in [
            "import-app".to_string(),
            format!("delete-snapshot-{import}"),
        ] {
            assert_eq!(account_of(&id), Account::Target, "{name}: {id}");
        }
        for s in p.steps.iter().filter(|s| s.account == Account::Source) {
            assert!(
                matches!(s.op, Op::Snapshot(_)),
                "{name}: {} is not a snapshot step",
                s.id
            );
        }
        // Order: share after the transfer, import after the share, unshare after the import,
        // the transfer deleted after the unshare, the import after the clone exists.
        let deps = |id: &str| p.step(id).unwrap().depends_on.clone();
        assert!(deps("share-app")
            .iter()
            .any(|d| d.kind == StepKind::Transfer));
        assert!(deps("import-app").iter().any(|d| d.kind == StepKind::Share));
        assert!(deps("unshare-app")
            .iter()
            .any(|d| d.kind == StepKind::Import));
        assert!(deps(&format!("delete-snapshot-{transfer}"))
            .iter()
            .any(|d| d.kind == StepKind::Unshare));
        assert!(deps(&format!("delete-snapshot-{import}"))
            .iter()
            .any(|d| *d == "create-temp-app"));

        // The end state: the target tree refreshed, no copy left in either account, the
        // source account's instances unchanged.
        let mut end = obs.clone();
        predict_all(&mut end, &p).unwrap();
        let src_before = obs.source_account.as_ref().unwrap();
        let src_after = end.source_account.as_ref().unwrap();
        assert_eq!(src_after.instances, src_before.instances, "{name}");
        assert_eq!(src_after.snapshots, src_before.snapshots, "{name}");
        assert!(end.snapshots.is_empty(), "{name}: {:?}", end.snapshots);
        let names: Vec<&String> = end.instances.keys().collect();
        let want: Vec<&String> = obs.instances.keys().collect();
        assert_eq!(names, want, "{name}");
        for (id, before) in &obs.instances {
            let after = &end.instances[id];
            assert_ne!(before.resource_id, after.resource_id, "{name}: {id}");
            assert_eq!(before.subnet_group, after.subnet_group, "{name}: {id}");
            assert_eq!(before.replica_source, after.replica_source, "{name}: {id}");
        }
    }
}

#[test]
fn a_cross_account_refresh_resumes_after_any_prefix() {
    for choice in [SnapshotChoice::Latest, SnapshotChoice::Fresh] {
        for (name, obs) in shapes() {
            let req = PlanRequest {
                snapshot: choice.clone(),
                ..request()
            };
            let full = plan(&obs, &req).unwrap();
            let mut expected = obs.clone();
            predict_all(&mut expected, &full).unwrap();
            for done in 0..full.steps.len() {
                let mut mid = obs.clone();
                for s in &full.steps[..done] {
                    predict(&mut mid, s).unwrap();
                }
                let resumed = plan(&mid, &req).unwrap();
                assert_eq!(
                    resumed.run_id, "run1",
                    "{name} {choice:?}: after {done} steps"
                );
                let mut end = mid.clone();
                predict_all(&mut end, &resumed).unwrap();
                assert_eq!(end, expected, "{name} {choice:?}: after {done} steps");
            }
        }
    }
}

#[test]
fn a_fresh_snapshot_is_taken_and_deleted_in_the_source_account() {
    let obs = shapes().remove(0).1;
    let req = PlanRequest {
        snapshot: SnapshotChoice::Fresh,
        ..request()
    };
    let p = plan(&obs, &req).unwrap();
    let fresh = stack_mitosis::plan::fresh_snapshot_id("app", "run1");
    let take = p.step("snapshot-app").unwrap();
    assert_eq!(take.account, Account::Source);
    let transfer = params(&p, "transfer-app");
    assert_eq!(transfer["SourceDBSnapshotIdentifier"], fresh.as_str());
    let delete = p.step(&format!("delete-snapshot-{fresh}")).unwrap();
    assert_eq!(delete.account, Account::Source);
    assert!(delete
        .depends_on
        .iter()
        .any(|d| d.kind == StepKind::Transfer));
}

#[test]
fn an_unencrypted_source_needs_no_keys() {
    let mut obs = shapes().remove(0).1;
    let src = obs.source_account.as_mut().unwrap();
    src.instances.get_mut("app").unwrap().storage_encrypted = false;
    let p = plan(&obs, &PlanRequest::new("app", "app", "run1")).unwrap();
    for s in &p.steps {
        if let Op::Snapshot(SnapshotOp::Copy { kms_key_id, .. }) = &s.op {
            assert_eq!(kms_key_id, &None, "{}", s.id);
        }
    }
}

#[test]
fn a_cluster_is_handed_over_with_cluster_snapshots() {
    let (mut prod, prod_members) = cluster(
        "app",
        "aurora-postgresql",
        "p",
        &[("app-1", "db.r6g.large")],
    );
    prod.arn = source_account().arn("cluster:app");
    let mut snap = automated("app", "rds:app-2026-11-17", 200);
    snap.arn = source_account().arn("cluster-snapshot:rds:app-2026-11-17");
    let src = Observed::new(prod_members, vec![snap], source_account()).with_clusters(vec![prod]);
    let (demo, members) = cluster(
        "app",
        "aurora-postgresql",
        "s",
        &[("app-1", "db.t4g.medium")],
    );
    let obs = state(members)
        .with_clusters(vec![demo])
        .with_source_account(src);
    let p = plan(&obs, &request()).unwrap();
    assert_eq!(p.path, ClonePath::Snapshot);
    let t = p.step("transfer-app").unwrap();
    assert_eq!(t.op.action(), "CopyDBClusterSnapshot");
    assert_eq!(t.account, Account::Source);
    let s = p.step("share-app").unwrap();
    assert_eq!(s.op.action(), "ModifyDBClusterSnapshotAttribute");
    let i = params(&p, "import-app");
    assert_eq!(
        i["SourceDBClusterSnapshotIdentifier"],
        format!("arn:aws:rds:us-east-1:{SOURCE_ACCOUNT}:cluster-snapshot:stack-mitosis-transfer-app-run1")
    );
    let create = params(&p, "create-temp-app");
    assert_eq!(
        create["SnapshotIdentifier"],
        "stack-mitosis-import-app-run1"
    );
    let mut end = obs.clone();
    predict_all(&mut end, &p).unwrap();
    assert!(end.snapshots.is_empty());
    assert_ne!(
        end.clusters["app"].resource_id,
        obs.clusters["app"].resource_id
    );
}

#[test]
fn both_policies_are_least_privilege() {
    let obs = shapes().remove(1).1;
    let p = plan(&obs, &request()).unwrap();
    let doc = stack_mitosis::iam::policies(&p, &obs);
    let target = doc["target"].to_string();
    let source = doc["source"].to_string();
    // The source account hands over; it restores, renames and deletes nothing else.
    assert!(source.contains("rds:CopyDBSnapshot"));
    assert!(source.contains("rds:ModifyDBSnapshotAttribute"));
    assert!(source.contains(&format!(
        "arn:aws:rds:us-east-1:{SOURCE_ACCOUNT}:snapshot:stack-mitosis-transfer-app-*"
    )));
    assert!(source.contains(&format!(
        "arn:aws:kms:us-east-1:{SOURCE_ACCOUNT}:alias/refresh-share"
    )));
    for absent in [
        "RestoreDBInstanceFromDBSnapshot",
        "ModifyDBInstance",
        "DeleteDBInstance",
        "CreateDBInstanceReadReplica",
        TARGET_ACCOUNT,
    ] {
        assert!(!source.contains(absent), "source policy has {absent}");
    }
    let statements = doc["source"]["Statement"].as_array().unwrap();
    let deletes: Vec<&serde_json::Value> = statements
        .iter()
        .filter(|s| s["Action"][0] == "rds:DeleteDBSnapshot")
        .collect();
    assert_eq!(
        deletes[0]["Resource"],
        serde_json::json!([format!(
            "arn:aws:rds:us-east-1:{SOURCE_ACCOUNT}:snapshot:stack-mitosis-transfer-app-*"
        )])
    );
    // The target account copies the shared snapshot (source ARN) into its own, restores it.
    assert!(target.contains("rds:RestoreDBInstanceFromDBSnapshot"));
    assert!(target.contains(&format!(
        "arn:aws:rds:us-east-1:{SOURCE_ACCOUNT}:snapshot:stack-mitosis-transfer-app-*"
    )));
    assert!(target.contains(&format!(
        "arn:aws:rds:us-east-1:{TARGET_ACCOUNT}:snapshot:stack-mitosis-import-app-*"
    )));
    assert!(!target.contains("ModifyDBSnapshotAttribute"));
    // Decrypting the shared copy uses the source key from the target account.
    assert!(target.contains(&format!(
        "arn:aws:kms:us-east-1:{SOURCE_ACCOUNT}:alias/refresh-share"
    )));
    let key = &doc["source_key_policy_statement"];
    assert_eq!(
        key["Principal"]["AWS"],
        format!("arn:aws:iam::{TARGET_ACCOUNT}:root")
    );
    assert!(key["Action"].to_string().contains("kms:Decrypt"));
}

#[test]
fn the_flight_plan_shows_each_steps_account() {
    let obs = shapes().remove(0).1;
    let p = plan(&obs, &request()).unwrap();
    let text = render_plan(&p, Format::Text);
    assert!(text.contains(&format!(
        "Source account {SOURCE_ACCOUNT}, target account {TARGET_ACCOUNT}"
    )));
    assert!(text.contains(&format!("{SOURCE_ACCOUNT}:stack-mitosis-transfer-app-run1")));
    assert!(text.contains(&format!("{TARGET_ACCOUNT}:temp-app")));
    assert!(text.contains("full copies"), "{text}");
    let json: serde_json::Value = serde_json::from_str(&render_plan(&p, Format::Json)).unwrap();
    assert_eq!(json["accounts"]["source"], SOURCE_ACCOUNT);
    let transfer = json["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["action"] == "CopyDBSnapshot")
        .unwrap();
    assert_eq!(transfer["account"], "source");
    let markdown = render_plan(&p, Format::Markdown);
    assert!(markdown.contains(&format!(
        "`{SOURCE_ACCOUNT}:stack-mitosis-transfer-app-run1`"
    )));
}

#[test]
fn bad_input_is_refused_before_anything_runs() {
    let obs = shapes().remove(0).1;
    let expect = |obs: &Observed, req: &PlanRequest, says: &str| {
        let err = plan(obs, req).unwrap_err();
        assert_eq!(err.exit_code(), 2, "{err}");
        assert!(err.to_string().contains(says), "{says}: {err}");
    };
    // Encrypted without a key the target account may use.
    expect(
        &obs,
        &PlanRequest::new("app", "app", "run1"),
        "the default aws/rds key can never be shared",
    );
    // An unencrypted target has no key for its copy.
    let mut plain = obs.clone();
    plain.instances.get_mut("app").unwrap().storage_encrypted = false;
    plain.instances.get_mut("app").unwrap().kms_key_id = None;
    expect(&plain, &request(), "give --kms-key-id");
    let with_key = PlanRequest {
        kms_key_id: Some("alias/staging".into()),
        ..request()
    };
    let p = plan(&plain, &with_key).unwrap();
    assert_eq!(params(&p, "import-app")["KmsKeyId"], "alias/staging");
    // A point in time happens in the source's own account.
    let pitr = PlanRequest {
        source_time: Some(stack_mitosis::plan::SourceTime::Latest),
        ..request()
    };
    expect(
        &obs,
        &pitr,
        "--source-time cannot reach a source in another account",
    );
    // The source is looked for in its own account.
    expect(
        &obs,
        &PlanRequest::new("nope", "app", "run1"),
        &format!("(account {SOURCE_ACCOUNT})"),
    );
}

/// A throwaway copy of production in another account: the same hand-over, named for the copy,
/// and nothing of the template touched.
#[test]
fn a_copy_from_another_account_is_handed_over_too() {
    let obs = shapes().remove(1).1;
    let req = PlanRequest {
        copy: Some(stack_mitosis::plan::CopySpec {
            prefix: "pr-5-".into(),
            expires: None,
        }),
        ..request()
    };
    let p = plan(&obs, &req).unwrap();
    assert_eq!(p.operation, stack_mitosis::plan::Operation::Copy);
    assert_eq!(p.path, ClonePath::Snapshot);
    let t = p.step("transfer-pr-5-app").unwrap();
    assert_eq!(t.account, Account::Source);
    assert_eq!(t.resource, "stack-mitosis-transfer-pr-5-app-run1");
    assert_eq!(
        params(&p, "create-pr-5-app")["DBSnapshotIdentifier"],
        "stack-mitosis-import-pr-5-app-run1"
    );
    let mut end = obs.clone();
    predict_all(&mut end, &p).unwrap();
    for id in ["app", "app-r1", "app-r2"] {
        assert_eq!(
            end.instances[id], obs.instances[id],
            "the template {id} changed"
        );
        assert!(end.instances.contains_key(&format!("pr-5-{id}")));
    }
    assert!(end.snapshots.is_empty());
    let src = end.source_account.as_ref().unwrap();
    assert_eq!(
        src.snapshots,
        obs.source_account.as_ref().unwrap().snapshots
    );
    let doc = stack_mitosis::iam::policies(&p, &obs);
    assert!(doc["target"].to_string().contains("DestroyCopies"));
    assert!(!doc["source"].to_string().contains("DestroyCopies"));
}
