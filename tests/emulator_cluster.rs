//! Aurora cluster refreshes end to end against the emulator: a copy-on-write clone of an
//! aurora-postgresql cluster, a cluster-snapshot restore of an aurora-mysql one, the crash
//! matrix, rollback, and bad input refused before any change.

mod support;

use serde_json::{Map, Value};
use support::{
    apply, assert_refused, crash_matrix, one_of_two_concurrent_applies, stderr, Emulator,
};

/// What a refresh must keep of the target cluster.
fn kept_cluster(c: &Value) -> Value {
    let mut tags = c["Tags"].as_object().cloned().unwrap_or_default();
    tags.retain(|k, _| !k.starts_with("stack-mitosis:"));
    serde_json::json!({
        "engine": c["Engine"], "port": c["Port"], "pg": c["DBClusterParameterGroup"],
        "subnets": c["DBSubnetGroup"], "sg": c["VpcSecurityGroups"],
        "retention": c["BackupRetentionPeriod"], "backup": c["PreferredBackupWindow"],
        "maint": c["PreferredMaintenanceWindow"], "protected": c["DeletionProtection"],
        "iam": c["IAMDatabaseAuthenticationEnabled"], "tags": tags,
        "custom_endpoints": c["CustomEndpoints"],
        "logs": c["EnabledCloudwatchLogsExports"], "backtrack": c["BacktrackWindow"],
        "serverless_v2": c["ServerlessV2ScalingConfiguration"],
    })
}

/// What a refresh must keep of each member.
fn kept_member(d: &Value) -> Value {
    let mut tags = d["Tags"].as_object().cloned().unwrap_or_default();
    tags.retain(|k, _| !k.starts_with("stack-mitosis:"));
    serde_json::json!({
        "class": d["DBInstanceClass"], "tier": d["PromotionTier"], "tags": tags,
        "cluster": d["DBClusterIdentifier"], "az": d["AvailabilityZone"],
    })
}

/// A tag the tool writes during a run (not `stack-mitosis:protected`, which users set).
fn is_marker(key: &str) -> bool {
    key.starts_with("stack-mitosis:") && key != "stack-mitosis:protected"
}

fn members(c: &Value) -> Vec<(String, bool)> {
    let mut m: Vec<(String, bool)> = c["DBClusterMembers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["DBInstanceIdentifier"].as_str().unwrap().to_string(),
                m["IsClusterWriter"].as_bool().unwrap(),
            )
        })
        .collect();
    m.sort();
    m
}

struct State {
    clusters: Map<String, Value>,
    instances: Map<String, Value>,
}

fn state(emu: &Emulator) -> State {
    State {
        clusters: emu.clusters(),
        instances: emu.describe(),
    }
}

/// After a refresh of `target` from `source`: the target cluster and its members have their
/// names, writer, classes, tiers, settings and tags, and new identities; nothing temp-/old- is
/// left; the source cluster and its members are as before (but for the CloneGroupId AWS gives
/// a cloned cluster).
fn assert_cluster_refreshed(before: &State, after: &State, source: &str, target: &str) {
    let mut src_before = before.clusters[source].clone();
    let mut src_after = after.clusters[source].clone();
    src_before["CloneGroupId"] = Value::Null;
    src_after["CloneGroupId"] = Value::Null;
    assert_eq!(src_before, src_after, "the source cluster changed");
    for (m, _) in members(&before.clusters[source]) {
        assert_eq!(
            before.instances[&m], after.instances[&m],
            "source member {m} changed"
        );
    }
    let (was, now) = (&before.clusters[target], &after.clusters[target]);
    assert_eq!(
        kept_cluster(was),
        kept_cluster(now),
        "the target cluster lost settings"
    );
    assert_ne!(
        was["DbClusterResourceId"], now["DbClusterResourceId"],
        "not replaced"
    );
    assert_eq!(now["Status"], "available");
    assert_eq!(members(was), members(now), "members or writer differ");
    for (m, _) in members(was) {
        let (b, a) = (&before.instances[&m], &after.instances[&m]);
        assert_eq!(kept_member(b), kept_member(a), "member {m} lost attributes");
        assert_ne!(
            b["DbiResourceId"], a["DbiResourceId"],
            "{m} was not replaced"
        );
        assert_eq!(a["DBInstanceStatus"], "available");
    }
    for d in [&after.clusters, &after.instances] {
        let left: Vec<&String> = d
            .keys()
            .filter(|k| k.starts_with("temp-") || k.starts_with("old-"))
            .filter(|k| *k != "temp-taken-demo")
            .collect();
        assert!(left.is_empty(), "left behind: {left:?}");
        for (id, v) in d.iter() {
            let markers = v["Tags"].as_object().unwrap().keys().any(|k| is_marker(k));
            assert!(!markers, "{id} kept markers");
        }
    }
    assert_eq!(before.clusters.len(), after.clusters.len());
    assert_eq!(before.instances.len(), after.instances.len());
}

/// No mutating call names the source cluster or its members, except as the clone's or the
/// snapshot's source.
fn assert_source_only_read(emu: &Emulator, source: &[&str]) {
    for r in emu.record() {
        let action = r["action"].as_str().unwrap_or("");
        if action.starts_with("Describe") || action.starts_with("List") || action == "Note" {
            continue;
        }
        let params = r["params"].as_object().cloned().unwrap_or_default();
        for (key, value) in params {
            // Tag values (the `source` marker) name it without touching it.
            if key == "SourceDBClusterIdentifier"
                || key.starts_with("Tags.")
                || (action == "CreateDBClusterSnapshot" && key == "DBClusterIdentifier")
            {
                continue;
            }
            let value = value.as_str().unwrap_or("");
            assert!(
                !source
                    .iter()
                    .any(|s| value == *s || value.ends_with(&format!(":{s}"))),
                "{action} {key}={value} touches the source"
            );
        }
    }
}

#[test]
fn aurora_postgresql_cluster_refreshed_from_a_copy_on_write_clone() {
    let emu = Emulator::start();
    emu.seed("aurora");
    let before = state(&emu);
    let restart = emu.note_command("restart");
    let scrub = emu.note_command("before-swap");
    let report = std::env::temp_dir().join(format!("mitosis-cluster-{}.json", std::process::id()));
    let out = apply(
        &emu,
        &[
            "--source",
            "pg-prod",
            "--target",
            "pg-demo",
            // The target has deletion protection on: replaced on purpose.
            "--allow-protected-target",
            "--restart",
            &restart,
            "--before-swap",
            &scrub,
            "--report-json",
            report.to_str().unwrap(),
        ],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let after = state(&emu);
    assert_cluster_refreshed(&before, &after, "pg-prod", "pg-demo");
    assert_source_only_read(&emu, &["pg-prod", "pg-prod-1", "pg-prod-2"]);
    // A copy-on-write clone of the source, and the report says so.
    let record = emu.record();
    let clone = record
        .iter()
        .find(|r| r["action"] == "RestoreDBClusterToPointInTime")
        .expect("cloned");
    assert_eq!(clone["params"]["RestoreType"], "copy-on-write");
    assert_eq!(clone["params"]["UseLatestRestorableTime"], "true");
    assert_eq!(
        after.clusters["pg-demo"]["CloneGroupId"],
        after.clusters["pg-prod"]["CloneGroupId"]
    );
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(report["result"], "succeeded");
    assert_eq!(report["clone"], "copy-on-write");
    // The writer is created first; the old members are deleted before the old cluster, and
    // nothing is deleted before the restart command ran.
    let position = |pred: &dyn Fn(&Value) -> bool| record.iter().position(pred).unwrap();
    let writer = position(&|r| {
        r["action"] == "CreateDBInstance"
            && r["params"]["DBInstanceIdentifier"] == "temp-pg-demo-writer"
    });
    let first_reader = position(&|r| {
        r["action"] == "CreateDBInstance"
            && r["params"]["DBInstanceIdentifier"] != "temp-pg-demo-writer"
    });
    assert!(writer < first_reader);
    let restart_at = position(&|r| r["note"] == "restart");
    let scrub_at = position(&|r| r["note"] == "before-swap");
    let first_retire = position(&|r| {
        r["action"] == "ModifyDBCluster" && r["params"]["NewDBClusterIdentifier"] == "old-pg-demo"
    });
    assert!(
        scrub_at < first_retire,
        "the before-swap hook ran after a retire"
    );
    let cluster_delete = position(&|r| r["action"] == "DeleteDBCluster");
    for (i, r) in record.iter().enumerate() {
        if r["action"] == "DeleteDBInstance" {
            assert!(i > restart_at && i < cluster_delete);
        }
    }
}

#[test]
fn aurora_mysql_cluster_refreshed_from_a_cluster_snapshot() {
    let emu = Emulator::start();
    emu.seed("aurora");
    let before = state(&emu);
    let out = apply(
        &emu,
        &[
            "--source",
            "my-prod",
            "--target",
            "my-demo",
            // The target has deletion protection on: replaced on purpose.
            "--allow-protected-target",
            "--snapshot",
            "my-prod-nightly",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let after = state(&emu);
    assert_cluster_refreshed(&before, &after, "my-prod", "my-demo");
    let restore = emu
        .record()
        .into_iter()
        .find(|r| r["action"] == "RestoreDBClusterFromSnapshot")
        .expect("restored from a snapshot");
    assert_eq!(restore["params"]["SnapshotIdentifier"], "my-prod-nightly");
    assert_eq!(restore["params"]["Engine"], "aurora-mysql");
    assert!(after.clusters["my-demo"]["CloneGroupId"].is_null());
}

/// A run cut off after any mutating call of a cluster refresh (the custom endpoint's move and
/// the target's password included) is finished by the rerun, with the same end state.
#[test]
fn crash_matrix_of_a_cluster_refresh() {
    let emu = Emulator::start();
    let restart = emu.note_command("restart");
    let args = [
        "--source",
        "my-prod",
        "--target",
        "my-demo",
        // The target has deletion protection on: replaced on purpose.
        "--allow-protected-target",
        "--restart",
        &restart,
        "--master-password-secret",
        "demo-db-master",
        "--lock-ttl",
        "2",
    ];
    crash_matrix(&emu, "aurora", &args, |emu, _before, crash_after| {
        assert_eq!(
            emu.password("my-demo"),
            "demo-s3cret-Pw",
            "crash after {crash_after}: the target's password"
        );
        let after = state(emu);
        let demo = &after.clusters["my-demo"];
        assert_eq!(
            members(demo),
            vec![("my-demo-1".to_string(), true)],
            "crash after {crash_after}"
        );
        assert_eq!(
            demo["DeletionProtection"], true,
            "crash after {crash_after}"
        );
        assert_eq!(
            demo["CloneGroupId"],
            after.clusters["my-prod"]["CloneGroupId"]
        );
        let left: Vec<&String> = after
            .clusters
            .keys()
            .chain(after.instances.keys())
            .filter(|k| {
                (k.starts_with("temp-") || k.starts_with("old-")) && *k != "temp-taken-demo"
            })
            .collect();
        assert!(left.is_empty(), "crash after {crash_after}: left {left:?}");
    });
}

#[test]
fn a_failing_restart_puts_the_cluster_and_its_members_back() {
    let emu = Emulator::start();
    emu.seed("aurora");
    let before = state(&emu);
    let out = apply(
        &emu,
        &[
            "--source",
            "pg-prod",
            "--target",
            "pg-demo",
            // The target has deletion protection on: replaced on purpose.
            "--allow-protected-target",
            "--restart",
            "false",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let after = state(&emu);
    let (was, now) = (&before.clusters["pg-demo"], &after.clusters["pg-demo"]);
    assert_eq!(was["DbClusterResourceId"], now["DbClusterResourceId"]);
    assert_eq!(members(was), members(now));
    for (m, _) in members(was) {
        assert_eq!(
            before.instances[&m]["DbiResourceId"],
            after.instances[&m]["DbiResourceId"]
        );
    }
    // The custom endpoint moved to the clone before the restart failed: it is back.
    assert_eq!(
        was["CustomEndpoints"], now["CustomEndpoints"],
        "the custom endpoint did not come back"
    );
    assert!(was["CustomEndpoints"]
        .as_object()
        .unwrap()
        .contains_key("pg-demo-analytics"));
    // The clone and its members are gone, and the originals carry no markers.
    assert_cluster_markers_gone(&after);
    assert!(!after.clusters.contains_key("temp-pg-demo"));
    assert!(!after.instances.keys().any(|k| k.starts_with("temp-")));
}

fn assert_cluster_markers_gone(s: &State) {
    for (id, v) in s.clusters.iter().chain(s.instances.iter()) {
        assert!(
            !v["Tags"].as_object().unwrap().keys().any(|k| is_marker(k)),
            "{id} kept markers"
        );
    }
}

#[test]
fn bad_cluster_input_is_refused_before_any_change() {
    let emu = Emulator::start();
    emu.seed("aurora");
    let cases: &[(&[&str], &str)] = &[
        (
            &["--source", "standalone-demo", "--target", "guarded-demo"],
            "\"guarded-demo\" is tagged stack-mitosis:protected=true and may never be refreshed",
        ),
        (
            &["--source", "no-such-prod", "--target", "pg-demo"],
            "source cluster \"no-such-prod\" was not found",
        ),
        (
            &["--source", "pg-prod", "--target", "no-such-demo"],
            "target cluster \"no-such-demo\" was not found",
        ),
        (
            &["--source", "pg-prod", "--target", "standalone-demo"],
            "is a DB instance but the other side is an Aurora cluster",
        ),
        (
            &["--source", "pg-prod", "--target", "pg-demo-writer"],
            "member of Aurora cluster \"pg-demo\": name the cluster (--target pg-demo)",
        ),
        (
            &["--source", "pg-prod-1", "--target", "pg-demo"],
            "member of Aurora cluster \"pg-prod\": name the cluster (--source pg-prod)",
        ),
        (
            &["--source", "pg-prod", "--target", "my-demo"],
            "runs aurora-postgresql but target \"my-demo\" runs aurora-mysql",
        ),
        (
            &["--source", "empty-prod", "--target", "pg-demo"],
            "has no instances, and Aurora cannot clone",
        ),
        (
            &["--source", "pg-prod", "--target", "v1-demo"],
            "Aurora Serverless v1",
        ),
        (
            &["--source", "pg-prod", "--target", "taken-demo"],
            "\"temp-taken-demo\" already exists and stack-mitosis did not create it",
        ),
        (
            &[
                "--source",
                "my-prod",
                "--target",
                "my-demo",
                // The target has deletion protection on: replaced on purpose.
                "--allow-protected-target",
                "--snapshot",
                "nope",
            ],
            "snapshot \"nope\" of \"my-prod\" was not found",
        ),
    ];
    assert_refused(&emu, cases);
}

/// The correction layer itself: what these tests stand on behaves as RDS does.
#[test]
fn the_emulator_treats_clusters_as_rds_does() {
    let emu = Emulator::start();
    let out = emu.python_check("check_clusters.py");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `--snapshot fresh` takes a cluster snapshot and deletes it once the clone exists;
/// `--final-snapshot` keeps one of the old cluster.
#[test]
fn fresh_and_final_cluster_snapshots() {
    let emu = Emulator::start();
    emu.seed("aurora");
    let before = state(&emu);
    let out = apply(
        &emu,
        &[
            "--source",
            "my-prod",
            "--target",
            "my-demo",
            // The target has deletion protection on: replaced on purpose.
            "--allow-protected-target",
            "--snapshot",
            "fresh",
            "--final-snapshot",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_cluster_refreshed(&before, &state(&emu), "my-prod", "my-demo");
    let record = emu.record();
    let taken = record
        .iter()
        .find(|r| r["action"] == "CreateDBClusterSnapshot")
        .expect("a fresh cluster snapshot");
    let fresh = taken["params"]["DBClusterSnapshotIdentifier"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(fresh.starts_with("stack-mitosis-my-prod-"), "{fresh}");
    let snapshots = emu.snapshots();
    assert!(
        !snapshots.contains_key(&fresh),
        "the fresh snapshot was kept"
    );
    let finals: Vec<&String> = snapshots
        .keys()
        .filter(|k| k.starts_with("stack-mitosis-final-old-my-demo-"))
        .collect();
    assert_eq!(finals.len(), 1, "{snapshots:?}");
    let delete = record
        .iter()
        .find(|r| r["action"] == "DeleteDBCluster")
        .unwrap();
    assert_eq!(delete["params"]["DBClusterIdentifier"], "old-my-demo");
}

/// `--until clone` builds the clone and its members and stops; the same command without it
/// finishes the refresh.
#[test]
fn a_cluster_refresh_until_the_clone_then_to_the_end() {
    let emu = Emulator::start();
    emu.seed("aurora");
    let before = state(&emu);
    let args = [
        "--source",
        "pg-prod",
        "--target",
        "pg-demo",
        "--allow-protected-target",
    ];
    let mut first = args.to_vec();
    first.extend(["--until", "clone"]);
    let out = apply(&emu, &first, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let mid = state(&emu);
    assert!(mid.clusters.contains_key("temp-pg-demo"));
    assert_eq!(
        mid.clusters["pg-demo"]["DbClusterResourceId"],
        before.clusters["pg-demo"]["DbClusterResourceId"]
    );
    assert!(mid.instances.contains_key("temp-pg-demo-writer"));
    let out = apply(&emu, &args, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_cluster_refreshed(&before, &state(&emu), "pg-prod", "pg-demo");
}

/// The lock sits on the cluster: of two applies started together, one refreshes and the other
/// is refused once its --lock-wait is over.
#[test]
fn two_concurrent_cluster_applies_one_refuses() {
    let emu = Emulator::start();
    emu.seed("aurora");
    let args = [
        "--source",
        "my-prod",
        "--target",
        "my-demo",
        // The target has deletion protection on: replaced on purpose.
        "--allow-protected-target",
        "--lock-wait",
        "1",
        "--restart",
        "sleep 2",
    ];
    one_of_two_concurrent_applies(&emu, &args);
    // The lock was written on the cluster.
    assert!(emu
        .record()
        .iter()
        .any(|r| r["action"] == "AddTagsToResource"
            && r["params"]["ResourceName"]
                .as_str()
                .is_some_and(|n| n.ends_with(":cluster:my-demo"))
            && r.to_string().contains("stack-mitosis:lock:")));
}

/// A member of a global database is refused.
#[test]
fn a_global_database_member_is_refused() {
    let emu = Emulator::start();
    emu.seed("aurora");
    emu.control(
        "/_emulator/global",
        r#"{"cluster": "my-demo", "global": "world"}"#,
    );
    let out = apply(
        &emu,
        &[
            "--source",
            "my-prod",
            "--target",
            "my-demo",
            "--allow-protected-target",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("global database \"world\""),
        "{}",
        stderr(&out)
    );
    assert!(emu.mutating_actions().is_empty());
}

/// RDS refuses a change while an operation is in progress on the resource or its cluster
/// (a member renamed while its cluster is): such refusals are waited out and the call made
/// again, and the refresh goes through.
#[test]
fn busy_refusals_are_waited_out() {
    let emu = Emulator::start();
    emu.seed("aurora");
    let before = state(&emu);
    emu.control(
        "/_emulator/faults",
        r#"{"action": "ModifyDBInstance", "count": 2, "code": "InvalidDBClusterStateFault", "status": 400}"#,
    );
    emu.control(
        "/_emulator/faults",
        r#"{"action": "DeleteDBCluster", "count": 1, "code": "InvalidDBClusterStateFault", "status": 400}"#,
    );
    let out = apply(
        &emu,
        &[
            "--source",
            "my-prod",
            "--target",
            "my-demo",
            "--allow-protected-target",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_cluster_refreshed(&before, &state(&emu), "my-prod", "my-demo");
    let refused = emu
        .record()
        .iter()
        .filter(|r| r["fault"] == "InvalidDBClusterStateFault")
        .count();
    assert_eq!(refused, 3);
}
