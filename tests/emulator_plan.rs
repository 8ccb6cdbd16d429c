//! `plan` and `iam-policy` against the emulator, for each environment shape and every bad
//! input; every test also checks that no mutating request reached the emulated AWS.

mod support;

use serde_json::Value;
use support::{stderr, stdout, Emulator};

fn plan_json(emu: &Emulator, args: &[&str]) -> Value {
    let mut full = vec!["plan", "--format", "json"];
    full.extend_from_slice(args);
    let out = emu.cli(&full);
    assert!(out.status.success(), "plan failed: {}", stderr(&out));
    serde_json::from_str(&stdout(&out)).expect("plan JSON")
}

fn steps(plan: &Value) -> Vec<(String, String)> {
    plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["action"].as_str().unwrap().to_string(),
                s["instance"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn step<'a>(plan: &'a Value, id: &str) -> &'a Value {
    plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .unwrap_or_else(|| panic!("no step {id}"))
}

#[test]
fn same_vpc_postgres_primary_and_replica() {
    let emu = Emulator::start();
    emu.seed("same-vpc");
    let plan = plan_json(
        &emu,
        &[
            "--source",
            "mitosis-prod",
            "--target",
            "mitosis-demo",
            "--restart",
            "true",
        ],
    );
    assert_eq!(plan["version"], 1);
    assert_eq!(plan["path"], "replica");
    let actions: Vec<(String, String)> = steps(&plan)
        .into_iter()
        // Tags (markers, the lock) and the guardrails' reads aside: the documented sequence.
        .filter(|(a, _)| {
            a != "AddTagsToResource" && a != "RemoveTagsFromResource" && a != "CheckGuardrails"
        })
        .collect();
    let expected = [
        ("CreateDBInstanceReadReplica", "temp-mitosis-demo"),
        ("PromoteReadReplica", "temp-mitosis-demo"),
        ("ModifyDBInstance", "temp-mitosis-demo"),
        ("CreateDBInstanceReadReplica", "temp-mitosis-demo-replica"),
        ("ModifyDBInstance", "temp-mitosis-demo-replica"),
        ("ModifyDBInstance", "mitosis-demo-replica"),
        ("ModifyDBInstance", "mitosis-demo"),
        ("ModifyDBInstance", "temp-mitosis-demo-replica"),
        ("ModifyDBInstance", "temp-mitosis-demo"),
        ("RunCommand", "mitosis-demo"),
        ("DeleteDBInstance", "old-mitosis-demo-replica"),
        ("DeleteDBInstance", "old-mitosis-demo"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(actions, expected);
    // The target's own attributes, as the emulator reports them, not the source's.
    let create = &step(&plan, "create-temp-mitosis-demo")["params"];
    assert_eq!(create["Port"], 6432);
    assert_eq!(create["DBInstanceClass"], "db.t3.medium");
    assert!(create["Tags"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["Key"] == "owner" && t["Value"] == "sales-engineering"));
    let configure = &step(&plan, "configure-temp-mitosis-demo")["params"];
    assert_eq!(configure["DBParameterGroupName"], "demo-pg16");
    assert_eq!(
        configure["PreferredMaintenanceWindow"],
        "sat:08:00-sat:08:30"
    );
    assert_eq!(
        step(&plan, "create-temp-mitosis-demo-replica")["params"]["Port"],
        6433
    );
    assert_eq!(emu.mutating_actions(), Vec::<String>::new());
    assert!(emu.actions().contains(&"DescribeDBInstances".to_string()));
    assert!(emu.actions().contains(&"ListTagsForResource".to_string()));
}

#[test]
fn cross_vpc_restores_the_newest_snapshot_into_the_target_subnet_group() {
    let emu = Emulator::start();
    emu.seed("cross-vpc");
    let plan = plan_json(
        &emu,
        &["--source", "mitosis-prod", "--target", "mitosis-demo"],
    );
    assert_eq!(plan["path"], "snapshot");
    let restore = step(&plan, "create-temp-mitosis-demo");
    assert_eq!(restore["action"], "RestoreDBInstanceFromDBSnapshot");
    assert_eq!(restore["params"]["DBSubnetGroupName"], "demo-subnets");
    // moto also keeps an automated snapshot taken at creation; any available one of the
    // source's will do, and an explicit one is taken as given.
    let snapshot = restore["params"]["DBSnapshotIdentifier"].as_str().unwrap();
    assert!(snapshot.contains("mitosis-prod"), "{snapshot}");
    let chosen = plan_json(
        &emu,
        &[
            "--source",
            "mitosis-prod",
            "--target",
            "mitosis-demo",
            "--snapshot",
            "mitosis-prod-weekly-1",
        ],
    );
    assert_eq!(
        step(&chosen, "create-temp-mitosis-demo")["params"]["DBSnapshotIdentifier"],
        "mitosis-prod-weekly-1"
    );
    assert!(plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["action"] != "PromoteReadReplica"));

    let fresh = plan_json(
        &emu,
        &[
            "--source",
            "mitosis-prod",
            "--target",
            "mitosis-demo",
            "--snapshot",
            "fresh",
        ],
    );
    // The first step takes the target's lock; the fresh snapshot comes right after.
    assert_eq!(fresh["steps"][0]["id"], "lock-mitosis-demo");
    assert_eq!(fresh["steps"][1]["action"], "CreateDBSnapshot");
    assert_eq!(fresh["steps"][1]["instance"], "mitosis-prod");
    assert_eq!(emu.mutating_actions(), Vec::<String>::new());
}

#[test]
fn mysql_cascade_of_depth_three() {
    let emu = Emulator::start();
    emu.seed("mysql-cascade");
    let plan = plan_json(&emu, &["--source", "shop-prod", "--target", "shop-qa"]);
    let creates: Vec<(String, String)> = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["action"] == "CreateDBInstanceReadReplica")
        .map(|s| {
            (
                s["instance"].as_str().unwrap().into(),
                s["params"]["SourceDBInstanceIdentifier"]
                    .as_str()
                    .unwrap()
                    .into(),
            )
        })
        .collect();
    let want = [
        ("temp-shop-qa", "shop-prod"),
        ("temp-shop-qa-r1", "temp-shop-qa"),
        ("temp-shop-qa-r2", "temp-shop-qa-r1"),
        ("temp-shop-qa-r3", "temp-shop-qa-r2"),
    ];
    assert_eq!(
        creates,
        want.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect::<Vec<_>>()
    );
    assert_eq!(
        step(&plan, "create-temp-shop-qa-r2")["params"]["Port"],
        3309
    );
    assert_eq!(emu.mutating_actions(), Vec::<String>::new());
}

#[test]
fn iam_policy_is_scoped_to_the_plan() {
    let emu = Emulator::start();
    emu.seed("same-vpc");
    let out = emu.cli(&[
        "iam-policy",
        "--source",
        "mitosis-prod",
        "--target",
        "mitosis-demo",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let policy: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let statements = policy["Statement"].as_array().unwrap();
    let resources = |sid: &str| -> Vec<String> {
        statements.iter().find(|s| s["Sid"] == sid).unwrap()["Resource"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap().to_string())
            .collect()
    };
    // Moto's account and region, read from the instances' ARNs.
    assert_eq!(
        resources("DeleteDBInstance"),
        [
            "arn:aws:rds:us-east-1:123456789012:db:old-mitosis-demo",
            "arn:aws:rds:us-east-1:123456789012:db:old-mitosis-demo-replica"
        ]
    );
    for st in statements {
        let action = st["Action"][0].as_str().unwrap();
        for r in st["Resource"].as_array().unwrap() {
            let r = r.as_str().unwrap();
            if r.ends_with(":db:mitosis-prod") || r.ends_with(":db:mitosis-prod-replica") {
                assert_eq!(action, "rds:CreateDBInstanceReadReplica", "{r}");
            }
        }
    }
    assert_eq!(emu.mutating_actions(), Vec::<String>::new());
}

#[test]
fn bad_inputs_exit_2_with_a_clear_message_and_no_mutation() {
    let emu = Emulator::start();
    emu.seed("bad-inputs");
    let long = "a-target-whose-name-is-far-too-long-for-a-temp-prefix-xxxxxxxxx";
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["--source", "nope", "--target", "mitosis-demo"],
            "source instance \"nope\" was not found",
        ),
        (
            vec!["--source", "mitosis-prod", "--target", "nope"],
            "target instance \"nope\" was not found",
        ),
        (
            vec!["--source", "mitosis-prod", "--target", "mitosis-prod"],
            "must be a different instance",
        ),
        (
            vec![
                "--source",
                "mitosis-prod",
                "--target",
                "mitosis-prod-replica",
            ],
            "are in one replica tree",
        ),
        (
            vec![
                "--source",
                "mitosis-prod-replica",
                "--target",
                "mitosis-prod",
            ],
            "are in one replica tree",
        ),
        (
            vec!["--source", "mitosis-prod", "--target", "demo_1"],
            "not a valid DB instance identifier",
        ),
        (
            vec!["--source", "mitosis-prod", "--target", "busy-demo"],
            "is \"modifying\", not available",
        ),
        (
            vec!["--source", "mitosis-prod", "--target", "aurora-demo-1"],
            "is a member of Aurora cluster \"aurora-demo\": name the cluster instead",
        ),
        (
            vec!["--source", "mitosis-prod", "--target", long],
            "longer than the 63 characters",
        ),
        (
            vec!["--source", "mitosis-prod", "--target", "taken-demo"],
            "\"temp-taken-demo\" already exists and stack-mitosis did not create it",
        ),
        (
            vec!["--source", "mitosis-prod", "--target", "mysql-demo"],
            "pick a source of the same engine",
        ),
        (
            vec![
                "--source",
                "mitosis-prod",
                "--target",
                "mitosis-demo",
                "--restore-snapshot",
            ],
            "has no available snapshot",
        ),
        (
            vec![
                "--source",
                "mitosis-prod",
                "--target",
                "mitosis-demo",
                "--snapshot",
                "missing",
            ],
            "\"missing\" of \"mitosis-prod\" was not found",
        ),
    ];
    for (args, says) in cases {
        for command in ["plan", "iam-policy"] {
            let mut full = vec![command];
            full.extend(args.iter().copied());
            let out = emu.cli(&full);
            assert_eq!(out.status.code(), Some(2), "{full:?}: {}", stderr(&out));
            assert!(
                stderr(&out).contains(says),
                "{full:?}: expected {says:?} in {}",
                stderr(&out)
            );
            assert!(stdout(&out).is_empty(), "{full:?} printed a result");
        }
    }
    // Clap's own usage errors share the exit code.
    let out = emu.cli(&["plan", "--source", "mitosis-prod"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(emu.mutating_actions(), Vec::<String>::new());
}

#[test]
fn aws_errors_exit_3() {
    let emu = Emulator::start();
    emu.seed("same-vpc");
    emu.control(
        "/_emulator/faults",
        r#"{"action": "DescribeDBInstances", "count": 100, "code": "AccessDenied", "status": 403}"#,
    );
    let out = emu.cli(&[
        "plan",
        "--source",
        "mitosis-prod",
        "--target",
        "mitosis-demo",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("DescribeDBInstances failed: AccessDenied"),
        "{}",
        stderr(&out)
    );
}

fn assume_role_params(emu: &Emulator) -> Vec<Value> {
    emu.record()
        .into_iter()
        .filter(|r| r["action"] == "AssumeRole")
        .map(|r| r["params"].clone())
        .collect()
}

#[test]
fn cli_assumes_a_role_with_an_mfa_code() {
    let emu = Emulator::start();
    emu.seed("same-vpc");
    let args = [
        "plan",
        "--source",
        "mitosis-prod",
        "--target",
        "mitosis-demo",
        "--role-arn",
        "arn:aws:iam::123456789012:role/refresh",
        "--mfa-serial",
        "arn:aws:iam::123456789012:mfa/alice",
    ];
    // Not a terminal and no code: refused before any AWS call.
    let out = emu.cli(&args);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("give --mfa-code"), "{}", stderr(&out));
    let mut bad = args.to_vec();
    bad.extend(["--mfa-code", "12ab56"]);
    let out = emu.cli(&bad);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("6 digits"));
    assert_eq!(emu.actions(), Vec::<String>::new());

    let mut good = args.to_vec();
    good.extend(["--mfa-code", "123456"]);
    let out = emu.cli(&good);
    assert!(out.status.success(), "{}", stderr(&out));
    let calls = assume_role_params(&emu);
    assert_eq!(calls.len(), 1);
    assert_eq!(
        calls[0]["SerialNumber"],
        "arn:aws:iam::123456789012:mfa/alice"
    );
    assert_eq!(calls[0]["TokenCode"], "123456");
    assert_eq!(
        calls[0]["RoleArn"],
        "arn:aws:iam::123456789012:role/refresh"
    );
}

#[test]
fn cli_reads_role_and_mfa_device_from_the_profile() {
    let emu = Emulator::start();
    emu.seed("same-vpc");
    let dir = std::env::temp_dir().join(format!("mitosis-profile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("config");
    let credentials = dir.join("credentials");
    std::fs::write(
        &config,
        "[profile refresh]\nrole_arn = arn:aws:iam::123456789012:role/from-profile\nmfa_serial = arn:aws:iam::123456789012:mfa/bob\nsource_profile = base\nregion = us-east-1\n",
    )
    .unwrap();
    std::fs::write(
        &credentials,
        "[base]\naws_access_key_id = AKIABASE\naws_secret_access_key = base-secret\n",
    )
    .unwrap();
    let out = emu.cli_with(
        &[
            "plan",
            "--source",
            "mitosis-prod",
            "--target",
            "mitosis-demo",
            "--profile",
            "refresh",
        ],
        &[
            ("AWS_CONFIG_FILE", config.to_str().unwrap()),
            ("AWS_SHARED_CREDENTIALS_FILE", credentials.to_str().unwrap()),
            ("STACK_MITOSIS_MFA_CODE", "654321"),
            ("AWS_ACCESS_KEY_ID", ""),
            ("AWS_SECRET_ACCESS_KEY", ""),
        ],
    );
    let _ = std::fs::remove_dir_all(&dir);
    assert!(out.status.success(), "{}", stderr(&out));
    let calls = assume_role_params(&emu);
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(
        calls[0]["RoleArn"],
        "arn:aws:iam::123456789012:role/from-profile"
    );
    assert_eq!(
        calls[0]["SerialNumber"],
        "arn:aws:iam::123456789012:mfa/bob"
    );
    assert_eq!(calls[0]["TokenCode"], "654321");
}
