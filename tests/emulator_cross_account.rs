//! Cross-account refreshes end to end against the emulator: production in account
//! 222222222222, staging in the default account, the source's role assumed through STS. The
//! target is refreshed; the source account keeps no transfer snapshot and no share, and none
//! of its instances or clusters is changed; the crash matrix over the hand-over; every bad
//! input refused before any change.

mod support;

use serde_json::{Map, Value};
use support::{apply, assert_refreshed, crash_matrix, stderr, stdout, Emulator};

const PROD: &str = "222222222222";
const STAGING: &str = "123456789012";
const ROLE: &str = "arn:aws:iam::222222222222:role/prod-refresh";

fn args<'a>(source: &'a str, target: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec![
        "--source",
        source,
        "--target",
        target,
        "--source-role-arn",
        ROLE,
        "--source-kms-key-id",
        "alias/refresh-share",
    ];
    a.extend_from_slice(extra);
    a
}

/// The source account as it is: instances, clusters, and manual snapshots.
fn prod(emu: &Emulator) -> (Map<String, Value>, Map<String, Value>, Map<String, Value>) {
    (
        emu.in_account(PROD, &[]),
        emu.in_account(PROD, &["--clusters"]),
        emu.in_account(PROD, &["--snapshots"]),
    )
}

/// What the source account may be asked to do: copy, share, unshare and delete the tool's own
/// snapshots (and take a fresh one of the source), nothing else, and nothing naming anything
/// but those snapshots.
fn assert_source_account_only_handed_over(emu: &Emulator) {
    let calls = emu.mutating_in(PROD);
    assert!(!calls.is_empty(), "nothing was made in the source account");
    for call in calls {
        let action = call["action"].as_str().unwrap();
        let allowed = [
            "CopyDBSnapshot",
            "CopyDBClusterSnapshot",
            "ModifyDBSnapshotAttribute",
            "ModifyDBClusterSnapshotAttribute",
            "DeleteDBSnapshot",
            "DeleteDBClusterSnapshot",
            "CreateDBSnapshot",
            "CreateDBClusterSnapshot",
        ];
        assert!(allowed.contains(&action), "source account: {call}");
        let names = call["params"].to_string();
        let made = call["params"]
            .as_object()
            .unwrap()
            .iter()
            .filter(|(k, _)| k.ends_with("SnapshotIdentifier") && !k.starts_with("Source"))
            .all(|(_, v)| v.as_str().unwrap_or("").starts_with("stack-mitosis-"));
        assert!(
            made,
            "source account: a snapshot not of the tool's: {names}"
        );
    }
}

#[test]
fn an_instance_tree_from_another_account() {
    let emu = Emulator::start();
    emu.seed("cross-account");
    let before = emu.describe();
    let prod_before = prod(&emu);
    let out = apply(&emu, &args("app", "app", &[]), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let after = emu.describe();
    assert_refreshed(&before, &after, &[], &["app", "app-replica"], true);
    // The data came from production: the target's copy of the shared snapshot, copied by ARN
    // with the target's own key, restored into the target's subnet group.
    let record = emu.record();
    let import = record
        .iter()
        .find(|r| r["action"] == "CopyDBSnapshot" && r["account"] == STAGING)
        .expect("the target account copied the shared snapshot");
    assert!(import["params"]["SourceDBSnapshotIdentifier"]
        .as_str()
        .unwrap()
        .starts_with(&format!(
            "arn:aws:rds:us-east-1:{PROD}:snapshot:stack-mitosis-transfer-app-"
        )));
    assert_eq!(import["params"]["KmsKeyId"], "alias/staging");
    let transfer = record
        .iter()
        .find(|r| r["action"] == "CopyDBSnapshot" && r["account"] == PROD)
        .expect("the source account made a transfer copy");
    assert_eq!(transfer["params"]["KmsKeyId"], "alias/refresh-share");
    let share = record
        .iter()
        .find(|r| {
            r["action"] == "ModifyDBSnapshotAttribute"
                && r["params"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .any(|(k, v)| k.starts_with("ValuesToAdd") && v == STAGING)
        })
        .expect("shared with the target account");
    assert_eq!(share["account"], PROD);
    let restore = record
        .iter()
        .find(|r| r["action"] == "RestoreDBInstanceFromDBSnapshot")
        .unwrap();
    assert_eq!(restore["account"], STAGING);
    assert_eq!(restore["params"]["DBSubnetGroupName"], "staging-subnets");
    assert_eq!(after["app"]["StorageEncrypted"], true);
    // The source account: instances and clusters as before, no snapshot of the tool's left,
    // nothing shared.
    let (instances, clusters, snapshots) = prod(&emu);
    assert_eq!(instances, prod_before.0);
    assert_eq!(clusters, prod_before.1);
    assert_eq!(
        snapshots, prod_before.2,
        "the source account's snapshots changed"
    );
    assert!(snapshots
        .values()
        .all(|s| s["SharedWith"] == serde_json::json!([])));
    assert_source_account_only_handed_over(&emu);
    // The target account keeps no copy either.
    assert!(
        emu.snapshots()
            .keys()
            .all(|k| !k.starts_with("stack-mitosis-")),
        "{:?}",
        emu.snapshots()
    );
}

#[test]
fn an_aurora_cluster_from_another_account() {
    let emu = Emulator::start();
    emu.seed("cross-account");
    let before = emu.clusters();
    let prod_before = prod(&emu);
    let out = apply(
        &emu,
        &args("pg-app", "pg-app", &["--kms-key-id", "alias/staging"]),
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let after = emu.clusters();
    assert_ne!(
        before["pg-app"]["DbClusterResourceId"],
        after["pg-app"]["DbClusterResourceId"]
    );
    assert_eq!(after["pg-app"]["Tags"]["env"], "staging");
    assert_eq!(
        after["pg-app"]["DBClusterMembers"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let restore = emu
        .record()
        .into_iter()
        .find(|r| r["action"] == "RestoreDBClusterFromSnapshot")
        .expect("restored from the target's copy");
    assert!(restore["params"]["SnapshotIdentifier"]
        .as_str()
        .unwrap()
        .starts_with("stack-mitosis-import-pg-app-"));
    let (instances, clusters, snapshots) = prod(&emu);
    assert_eq!(instances, prod_before.0);
    assert_eq!(clusters, prod_before.1);
    assert_eq!(snapshots, prod_before.2);
    assert_source_account_only_handed_over(&emu);
}

/// A run cut off after any mutating call, in either account, is finished by the rerun, and
/// leaves nothing of the hand-over in either account.
#[test]
fn crash_matrix_over_the_hand_over() {
    let emu = Emulator::start();
    let restart = emu.note_command("restart");
    let args = args(
        "app",
        "app",
        &[
            "--restart",
            &restart,
            "--lock-ttl",
            "2",
            "--snapshot",
            "fresh",
        ],
    );
    crash_matrix(&emu, "cross-account", &args, |emu, before, crash_after| {
        assert_refreshed(before, &emu.describe(), &[], &["app", "app-replica"], true);
        let left: Vec<String> = emu
            .in_account(PROD, &["--snapshots"])
            .into_iter()
            .chain(emu.snapshots())
            .filter(|(k, v)| {
                k.starts_with("stack-mitosis-") || v["SharedWith"] != serde_json::json!([])
            })
            .map(|(k, _)| k)
            .collect();
        assert!(left.is_empty(), "crash after {crash_after}: left {left:?}");
        assert_source_account_only_handed_over(emu);
    });
}

#[test]
fn the_plan_and_the_policies_name_both_accounts() {
    let emu = Emulator::start();
    emu.seed("cross-account");
    let mut plan_args = vec!["plan", "--format", "json"];
    plan_args.extend(args("app", "app", &[]));
    let out = emu.cli(&plan_args);
    assert!(out.status.success(), "{}", stderr(&out));
    let plan: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(plan["accounts"]["source"], PROD);
    assert_eq!(plan["accounts"]["target"], STAGING);
    let mut policy_args = vec!["iam-policy"];
    policy_args.extend(args("app", "app", &[]));
    let out = emu.cli(&policy_args);
    assert!(out.status.success(), "{}", stderr(&out));
    let policies: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert!(policies["source"].to_string().contains(&format!(
        "arn:aws:rds:us-east-1:{PROD}:snapshot:stack-mitosis-transfer-app-*"
    )));
    assert!(policies["target"]
        .to_string()
        .contains("rds:RestoreDBInstanceFromDBSnapshot"));
    assert_eq!(
        policies["source_key_policy_statement"]["Principal"]["AWS"],
        format!("arn:aws:iam::{STAGING}:root")
    );
    // Keys given by alias are named by their key ARNs (an alias ARN authorizes no use of a
    // key), and grants on them are for RDS's own use only.
    for side in ["source", "target"] {
        for statement in policies[side]["Statement"].as_array().unwrap() {
            let resources = statement["Resource"].to_string();
            assert!(!resources.contains(":alias/"), "{side}: {statement}");
            if statement["Action"].to_string().contains("kms:CreateGrant") {
                assert_eq!(
                    statement["Condition"]["Bool"]["kms:GrantIsForAWSResource"], "true",
                    "{statement}"
                );
            }
        }
    }
    assert!(
        policies["source"]
            .to_string()
            .contains(&format!(":{PROD}:key/")),
        "{}",
        policies["source"]
    );
    assert!(emu.mutating_actions().is_empty());
}

#[test]
fn bad_input_is_refused_before_any_change() {
    let emu = Emulator::start();
    emu.seed("cross-account");
    let refused = |args: &[&str], says: &str| {
        emu.forget_requests();
        let out = apply(&emu, args, &[]);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(says), "{args:?}: {}", stderr(&out));
        assert!(
            emu.mutating_actions().is_empty(),
            "{args:?} changed something"
        );
    };
    let base = [
        "--source",
        "app",
        "--target",
        "app",
        "--source-role-arn",
        ROLE,
    ];
    // Encrypted without a shareable key.
    refused(&base, "the default aws/rds key can never be shared");
    // An unencrypted target has no key of its own for the copy.
    refused(&args("app", "plain-demo", &[]), "give --kms-key-id");
    // A point in time is taken in the source's own account.
    refused(
        &args("app", "app", &["--source-time", "latest"]),
        "--source-time cannot reach a source in another account",
    );
    // Keys without another account.
    refused(
        &[
            "--source",
            "app",
            "--target",
            "plain-demo",
            "--kms-key-id",
            "alias/staging",
        ],
        "give --source-role-arn or --source-profile",
    );
    // The source is looked for in its own account.
    refused(&args("nope", "app", &[]), "(account 222222222222)");
    // A role whose trust policy refuses the caller.
    emu.control("/_emulator/deny-role", &format!("{{\"arn\": \"{ROLE}\"}}"));
    refused(&args("app", "app", &[]), "check that role's trust policy");
}

#[test]
fn a_source_role_in_the_targets_own_account_is_not_needed() {
    let emu = Emulator::start();
    emu.seed("cross-account");
    let out = emu.cli(&[
        "plan",
        "--format",
        "text",
        "--source",
        "plain-demo",
        "--target",
        "app",
        "--source-role-arn",
        "arn:aws:iam::123456789012:role/same-account",
        "--restore-snapshot",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("--source-role-arn is not needed"), "{text}");
    assert!(!text.contains("transfer-"), "{text}");
}

/// `--source-profile`: the source account's credentials from a profile (here one that assumes
/// the production role), even with the target's credentials in the environment.
#[test]
fn a_source_profile_reads_the_source_account() {
    let emu = Emulator::start();
    emu.seed("cross-account");
    let config = std::env::temp_dir().join(format!("mitosis-profile-{}", std::process::id()));
    std::fs::write(
        &config,
        format!(
            "[profile prod]\nrole_arn = {ROLE}\nsource_profile = base\nregion = us-east-1\n\n\
             [profile base]\naws_access_key_id = testing\naws_secret_access_key = testing\n"
        ),
    )
    .unwrap();
    let out = emu.cli_with(
        &[
            "plan",
            "--format",
            "json",
            "--source",
            "app",
            "--target",
            "app",
            "--source-profile",
            "prod",
            "--source-kms-key-id",
            "alias/refresh-share",
        ],
        &[("AWS_CONFIG_FILE", config.to_str().unwrap())],
    );
    std::fs::remove_file(&config).ok();
    assert!(out.status.success(), "{}", stderr(&out));
    let plan: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(plan["accounts"]["source"], PROD);
    assert_eq!(plan["accounts"]["target"], STAGING);
}

/// A failing before-swap command rolls the refresh back: the target keeps its instances, and
/// no snapshot of the hand-over is left in either account, nothing shared.
#[test]
fn a_rollback_leaves_nothing_in_either_account() {
    let emu = Emulator::start();
    emu.seed("cross-account");
    let before = emu.describe();
    let prod_before = prod(&emu);
    let out = apply(
        &emu,
        &args(
            "app",
            "app",
            &["--snapshot", "fresh", "--before-swap", "exit 3"],
        ),
        &[],
    );
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let after = emu.describe();
    for id in ["app", "app-replica"] {
        assert_eq!(
            before[id]["DbiResourceId"], after[id]["DbiResourceId"],
            "{id}"
        );
    }
    assert!(after.keys().all(|k| !k.starts_with("temp-")), "{after:?}");
    let (instances, clusters, snapshots) = prod(&emu);
    assert_eq!(instances, prod_before.0);
    assert_eq!(clusters, prod_before.1);
    assert_eq!(snapshots, prod_before.2);
    assert!(emu
        .snapshots()
        .keys()
        .all(|k| !k.starts_with("stack-mitosis-")));
    assert_source_account_only_handed_over(&emu);
}
