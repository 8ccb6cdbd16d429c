//! Where the data and the credentials come from, end to end against the emulator:
//! `--source-time` (point-in-time refreshes of an instance tree in the source's VPC and in
//! another, of an Aurora cluster, bad times refused before any change) and
//! `--master-password-secret` (the target keeps its own master password).

mod support;

use serde_json::Value;
use support::{apply, assert_refreshed, assert_refused, stderr, Emulator};

fn restore_call(emu: &Emulator) -> Value {
    emu.record()
        .into_iter()
        .find(|r| r["action"] == "RestoreDBInstanceToPointInTime")
        .expect("a point-in-time restore")
}

#[test]
fn the_latest_moment_in_the_sources_vpc() {
    let emu = Emulator::start();
    emu.seed("pg-two-replicas");
    let before = emu.describe();
    let out = apply(
        &emu,
        &[
            "--source",
            "app-prod",
            "--target",
            "app-staging",
            // app-staging has deletion protection on: replaced on purpose.
            "--allow-protected-target",
            "--source-time",
            "latest",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let after = emu.describe();
    assert_refreshed(
        &before,
        &after,
        &["app-prod", "app-prod-ro"],
        &["app-staging", "app-staging-ro1", "app-staging-ro2"],
        true,
    );
    let call = restore_call(&emu);
    assert_eq!(call["params"]["SourceDBInstanceIdentifier"], "app-prod");
    assert_eq!(call["params"]["UseLatestRestorableTime"], "true");
    // Not a replica of the source (moto's restore would say so), with the target's groups.
    assert!(after["app-staging"]["ReadReplicaSourceDBInstanceIdentifier"].is_null());
    assert_eq!(
        after["app-staging"]["DBParameterGroups"][0]["DBParameterGroupName"],
        "staging-pg16"
    );
    assert_eq!(after["app-staging"]["BackupRetentionPeriod"], 3);
    // No snapshot was taken or restored, and nothing promoted.
    let actions = emu.mutating_actions();
    assert!(!actions
        .iter()
        .any(|a| a.contains("Snapshot") || a == "PromoteReadReplica"));
}

#[test]
fn a_given_moment_into_another_vpc() {
    let emu = Emulator::start();
    emu.seed("cross-vpc");
    // A moment after the source was created (a whole second after the seed) and before now.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let moment = {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let out = std::process::Command::new("date")
            .args(["-u", "-d", &format!("@{secs}"), "+%Y-%m-%dT%H:%M:%SZ"])
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let before = emu.describe();
    let out = apply(
        &emu,
        &[
            "--source",
            "mitosis-prod",
            "--target",
            "mitosis-demo",
            "--source-time",
            &moment,
        ],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let after = emu.describe();
    assert_refreshed(
        &before,
        &after,
        &["mitosis-prod"],
        &["mitosis-demo", "mitosis-demo-replica"],
        true,
    );
    let call = restore_call(&emu);
    assert_eq!(call["params"]["RestoreTime"], moment);
    assert_eq!(call["params"]["DBSubnetGroupName"], "demo-subnets");
    assert!(call["params"].get("UseLatestRestorableTime").is_none());
}

#[test]
fn a_cluster_restored_as_a_full_copy() {
    let emu = Emulator::start();
    emu.seed("aurora");
    let report = std::env::temp_dir().join(format!("mitosis-pitr-{}.json", std::process::id()));
    let out = apply(
        &emu,
        &[
            "--source",
            "my-prod",
            "--target",
            "my-demo",
            // my-demo has deletion protection on: replaced on purpose.
            "--allow-protected-target",
            "--source-time",
            "latest",
            "--report-json",
            report.to_str().unwrap(),
        ],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let call = emu
        .record()
        .into_iter()
        .find(|r| r["action"] == "RestoreDBClusterToPointInTime")
        .unwrap();
    assert_eq!(call["params"]["RestoreType"], "full-copy");
    let clusters = emu.clusters();
    assert!(clusters["my-demo"]["CloneGroupId"].is_null());
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(report["clone"], "full-copy");
}

#[test]
fn bad_times_are_refused_before_any_change() {
    let emu = Emulator::start();
    emu.seed("aurora");
    let cases: &[(&[&str], &str)] = &[
        (
            &[
                "--source",
                "pg-prod",
                "--target",
                "pg-demo",
                "--source-time",
                "2999-01-01T00:00:00Z",
            ],
            "is after the latest restorable time of \"pg-prod\"",
        ),
        (
            &[
                "--source",
                "pg-prod",
                "--target",
                "pg-demo",
                "--source-time",
                "2001-01-01T00:00:00Z",
            ],
            "is before the earliest restorable time",
        ),
        (
            &[
                "--source",
                "pg-prod",
                "--target",
                "pg-demo",
                "--source-time",
                "yesterday",
            ],
            "neither `latest` nor an RFC 3339 date and time",
        ),
        (
            &[
                "--source",
                "my-prod",
                "--target",
                "my-demo",
                "--source-time",
                "latest",
                "--snapshot",
                "latest",
            ],
            "give one of them",
        ),
        (
            &[
                "--source",
                "nobackup-prod",
                "--target",
                "standalone-demo",
                "--source-time",
                "latest",
            ],
            "has no automated backups",
        ),
    ];
    assert_refused(&emu, cases);
}

/// `--master-password-secret`: the refreshed target (instance root or cluster) has the
/// password of the secret, not the source's, before the swap; the password is in no output.
#[test]
fn the_target_keeps_its_own_master_password() {
    let emu = Emulator::start();
    emu.seed("aurora");
    for (source, target, resource) in [
        ("nobackup-prod", "standalone-demo", "standalone-demo"),
        ("pg-prod", "pg-demo", "pg-demo"),
    ] {
        let scrub = emu.note_command("before-swap");
        let out = apply(
            &emu,
            &[
                "--source",
                source,
                "--target",
                target,
                // pg-demo has deletion protection on: replaced on purpose.
                "--allow-protected-target",
                "--master-password-secret",
                "demo-db-master",
                "--before-swap",
                &scrub,
                "--report-json",
                "/dev/stdout",
            ],
            &[],
        );
        assert!(out.status.success(), "{target}: {}", stderr(&out));
        assert_eq!(emu.password(resource), "demo-s3cret-Pw", "{target}");
        let all = format!("{}{}", support::stdout(&out), stderr(&out));
        assert!(
            !all.contains("demo-s3cret-Pw"),
            "{target}: the password was shown"
        );
        // Set on the clone before the before-swap command and before any retire.
        let record = emu.record();
        let set = record
            .iter()
            .position(|r| {
                r["params"]["MasterUserPassword"] == "demo-s3cret-Pw"
                    && r["params"]
                        .as_object()
                        .unwrap()
                        .values()
                        .any(|v| v.as_str().is_some_and(|s| s.starts_with("temp-")))
            })
            .unwrap_or_else(|| panic!("{target}: no password set on the clone"));
        let hook = record
            .iter()
            .rposition(|r| r["note"] == "before-swap")
            .unwrap();
        let retire = record
            .iter()
            .position(|r| {
                r.to_string().contains(&format!("\"old-{target}\""))
                    && r["action"].as_str().unwrap().starts_with("Modify")
            })
            .unwrap();
        assert!(
            set < hook && hook < retire,
            "{target}: {set} {hook} {retire}"
        );
    }
    // A secret that cannot be read, or holds no password: refused before any change.
    emu.forget_requests();
    assert_refused(
        &emu,
        &[
            (
                &[
                    "--source",
                    "pg-prod",
                    "--target",
                    "pg-demo",
                    "--master-password-secret",
                    "no-such-secret",
                ],
                "the secret no-such-secret cannot be read",
            ),
            (
                &[
                    "--source",
                    "pg-prod",
                    "--target",
                    "pg-demo",
                    "--master-password-secret",
                    "not-a-password",
                ],
                "has no non-empty \"password\" key",
            ),
        ],
    );
}
