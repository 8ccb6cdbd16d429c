//! `apply` end to end against the emulator (asynchronous statuses on a time scale): full
//! refreshes for each shape and path, the crash matrix, faults, hooks, rollback and the lock.

mod support;

use serde_json::{Map, Value};
use support::{
    apply, assert_refreshed, crash_matrix, kept, one_of_two_concurrent_applies, stderr, stdout,
    Emulator, FAST,
};

#[test]
fn same_vpc_postgres_primary_and_two_replicas() {
    let emu = Emulator::start();
    emu.seed("pg-two-replicas");
    let before = emu.describe();
    let restart = emu.note_command("restart");
    let report = std::env::temp_dir().join(format!("mitosis-report-{}.json", std::process::id()));
    let out = apply(
        &emu,
        &[
            "--source",
            "app-prod",
            "--target",
            "app-staging",
            // app-staging has deletion protection on: replaced on purpose.
            "--allow-protected-target",
            "--restart",
            &restart,
            "--report-json",
            report.to_str().unwrap(),
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
        false,
    );
    assert_eq!(after["app-staging"]["BackupRetentionPeriod"], 3);

    // Deletes only after the restart command ran, and only of old-*.
    let record = emu.record();
    let restart_at = record
        .iter()
        .position(|r| r["note"] == "restart")
        .expect("restart ran");
    for (i, r) in record
        .iter()
        .enumerate()
        .filter(|(_, r)| r["action"] == "DeleteDBInstance")
    {
        assert!(i > restart_at, "a delete came before the restart");
        assert!(r["params"]["DBInstanceIdentifier"]
            .as_str()
            .unwrap()
            .starts_with("old-"));
    }
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(report["version"], 1);
    assert_eq!(report["result"], "succeeded");
    assert!(report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["status"] == "done"));
    assert_eq!(report["endpoints"].as_array().unwrap().len(), 3);
    assert!(stdout(&out).contains("succeeded"));
}

#[test]
fn mysql_cascade_of_depth_three() {
    let emu = Emulator::start();
    emu.seed("mysql-cascade");
    let before = emu.describe();
    let out = apply(&emu, &["--source", "shop-prod", "--target", "shop-qa"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let after = emu.describe();
    assert_refreshed(
        &before,
        &after,
        &["shop-prod"],
        &["shop-qa", "shop-qa-r1", "shop-qa-r2", "shop-qa-r3"],
        false,
    );
    assert_eq!(
        after["shop-qa-r3"]["ReadReplicaSourceDBInstanceIdentifier"],
        "shop-qa-r2"
    );
}

#[test]
fn cross_vpc_goes_through_a_snapshot_into_the_target_vpc() {
    let emu = Emulator::start();
    emu.seed("cross-vpc");
    let before = emu.describe();
    let out = apply(
        &emu,
        &[
            "--source",
            "mitosis-prod",
            "--target",
            "mitosis-demo",
            "--snapshot",
            "fresh",
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
    assert_eq!(
        after["mitosis-demo"]["DBSubnetGroup"]["VpcId"],
        before["mitosis-demo"]["DBSubnetGroup"]["VpcId"]
    );
    assert!(emu
        .actions()
        .contains(&"RestoreDBInstanceFromDBSnapshot".to_string()));
}

/// A refresh of the demo target with a restart command and a short lock (so that a run cut off
/// right after taking it leaves a lock that lapses within seconds).
fn crash_args<'a>(restart: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "--source",
        "mitosis-prod",
        "--target",
        "mitosis-demo",
        "--restart",
        restart,
        "--lock-ttl",
        "2",
    ];
    args.extend_from_slice(extra);
    args
}

/// A run cut off after any mutating call of a refresh (replica path) is finished by the rerun.
/// A run cut off right after taking the lock leaves a lock that lapses (short TTL here): the
/// rerun waits for it, then finishes.
#[test]
fn crash_matrix_every_interruption_resumes_to_the_same_end_state() {
    let emu = Emulator::start();
    let restart = emu.note_command("restart");
    let args = crash_args(&restart, &[]);
    crash_matrix(&emu, "same-vpc", &args, |emu, before, _| {
        assert_refreshed(
            before,
            &emu.describe(),
            &["mitosis-prod", "mitosis-prod-replica"],
            &["mitosis-demo", "mitosis-demo-replica"],
            false,
        );
    });
}

/// The same on the snapshot path (another VPC: a restore of the newest snapshot).
#[test]
fn crash_matrix_on_the_snapshot_path() {
    let emu = Emulator::start();
    let restart = emu.note_command("restart");
    let args = crash_args(&restart, &[]);
    crash_matrix(&emu, "cross-vpc", &args, |emu, before, _| {
        assert_refreshed(
            before,
            &emu.describe(),
            &["mitosis-prod"],
            &["mitosis-demo", "mitosis-demo-replica"],
            true,
        );
    });
}

fn tool_snapshots(emu: &Emulator) -> Vec<String> {
    emu.snapshots()
        .keys()
        .filter(|k| k.starts_with("stack-mitosis-"))
        .cloned()
        .collect()
}

/// `--snapshot fresh` leaves no snapshot of production behind (manual snapshots never
/// expire), unless asked to keep it; a run cut off at any mutating call is finished by the
/// rerun, which adopts the snapshot the dead run took.
#[test]
fn a_fresh_snapshot_is_deleted_once_the_clone_exists_at_every_crash_point() {
    let emu = Emulator::start();
    let restart = emu.note_command("restart");
    let args = crash_args(&restart, &["--snapshot", "fresh"]);
    crash_matrix(&emu, "cross-vpc", &args, |emu, before, crash_after| {
        let creates = emu
            .record()
            .iter()
            .filter(|r| r["action"] == "CreateDBSnapshot" && r.get("fault").is_none())
            .count();
        assert_eq!(creates, 1, "crash after {crash_after}: one snapshot taken");
        assert_eq!(
            tool_snapshots(emu),
            Vec::<String>::new(),
            "crash after {crash_after}: a snapshot was left behind"
        );
        assert_refreshed(
            before,
            &emu.describe(),
            &["mitosis-prod"],
            &["mitosis-demo", "mitosis-demo-replica"],
            true,
        );
    });

    // Kept on request, without the markers that would make a later run adopt it.
    emu.reset();
    emu.seed("cross-vpc");
    let mut keep = args.to_vec();
    keep.push("--keep-snapshot");
    let out = apply(&emu, &keep, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(emu.actions().contains(&"CreateDBSnapshot".to_string()));
    let kept = emu.snapshots();
    let ours: Vec<&Value> = kept
        .iter()
        .filter(|(k, _)| k.starts_with("stack-mitosis-"))
        .map(|(_, v)| v)
        .collect();
    assert_eq!(ours.len(), 1, "{kept:?}");
    assert!(
        ours[0]["Tags"].get("stack-mitosis:role").is_none(),
        "{kept:?}"
    );
}

/// The flight plan shows every mutating call the run makes, the lock's included.
#[test]
fn the_mutating_calls_of_an_apply_are_the_plans_steps() {
    let emu = Emulator::start();
    emu.seed("same-vpc");
    let args = ["--source", "mitosis-prod", "--target", "mitosis-demo"];
    let mut plan_args = vec!["plan", "--format", "json"];
    plan_args.extend(args);
    let out = emu.cli(&plan_args);
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let mut planned: Vec<String> = doc["steps"]
        .as_array()
        .unwrap()
        .iter()
        // Hooks and the guardrails' reads are no AWS changes.
        .filter(|s| s["skip"].is_null() && s["action"] != "RunCommand")
        .filter(|s| s["action"] != "CheckGuardrails")
        .map(|s| s["action"].as_str().unwrap().to_string())
        .collect();
    let out = apply(&emu, &args, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let mut made = emu.mutating_actions();
    planned.sort();
    made.sort();
    assert_eq!(made, planned);
}

/// While a run lives it renews its lock, so another run waits for it to finish (and then
/// plans again) instead of taking over.
#[test]
fn a_live_run_is_never_taken_over() {
    let emu = Emulator::start();
    emu.seed("same-vpc");
    let slow_restart = format!("sleep 6; {}", emu.note_command("restart"));
    std::thread::scope(|s| {
        let a = s.spawn(|| {
            apply(
                &emu,
                &[
                    "--source",
                    "mitosis-prod",
                    "--target",
                    "mitosis-demo",
                    // Renewed every 1.3 s: short, with room for a loaded machine.
                    "--lock-ttl",
                    "4",
                    "--restart",
                    slow_restart.as_str(),
                ],
                &[],
            )
        });
        std::thread::sleep(std::time::Duration::from_millis(1500));
        let b = s.spawn(|| {
            apply(
                &emu,
                &[
                    "--source",
                    "mitosis-prod",
                    "--target",
                    "mitosis-demo",
                    "--lock-wait",
                    "60",
                ],
                &[],
            )
        });
        let (a, b) = (a.join().unwrap(), b.join().unwrap());
        assert!(a.status.success(), "a: {}", stderr(&a));
        assert!(b.status.success(), "b: {}", stderr(&b));
        assert!(stderr(&b).contains("waiting up to"), "{}", stderr(&b));
    });
    // The second refresh began only after the first one released its lock.
    let record = emu.record();
    let first_release = record
        .iter()
        .position(|r| {
            r["action"] == "RemoveTagsFromResource" && r.to_string().contains("stack-mitosis:lock:")
        })
        .expect("the first run released its lock");
    let creates: Vec<usize> = record
        .iter()
        .enumerate()
        .filter(|(_, r)| r["action"] == "CreateDBInstanceReadReplica" && r.get("fault").is_none())
        .map(|(i, _)| i)
        .collect();
    assert_eq!(creates.len(), 4, "two refreshes of a two-instance tree");
    assert!(creates[1] < first_release && creates[2] > first_release);
}

fn rollback(emu: &Emulator, args: &[&str]) -> std::process::Output {
    let mut full = vec!["rollback"];
    full.extend_from_slice(args);
    full.extend_from_slice(FAST);
    emu.cli_with(&full, &[])
}

fn notes(emu: &Emulator, note: &str) -> usize {
    emu.record().iter().filter(|r| r["note"] == note).count()
}

/// `--until swap` stops right after the swap (no restart, nothing deleted); `--until clone`
/// once the clones are built and the before-swap command ran (nothing retired). Each time a
/// later apply continues from there, without running the before-swap command again.
#[test]
fn apply_until_a_phase_then_finish() {
    let emu = Emulator::start();
    let restart = emu.note_command("restart");
    let scrub = emu.note_command("before-swap");
    let target = [
        "--source",
        "mitosis-prod",
        "--target",
        "mitosis-demo",
        "--restart",
        restart.as_str(),
        "--before-swap",
        scrub.as_str(),
    ];
    for until in ["swap", "clone"] {
        emu.reset();
        emu.seed("same-vpc");
        let before = emu.describe();
        let mut first: Vec<&str> = target.to_vec();
        first.extend(["--until", until, "--report-json", "/dev/stdout"]);
        let out = apply(&emu, &first, &[]);
        assert!(out.status.success(), "{until}: {}", stderr(&out));
        assert!(
            stdout(&out).contains(&format!("\"phase\": \"{until}\"")),
            "{}",
            stdout(&out)
        );
        let mid = emu.describe();
        assert_eq!(notes(&emu, "before-swap"), 1);
        assert_eq!(notes(&emu, "restart"), 0, "{until}: the restart waits");
        assert!(!emu.actions().contains(&"DeleteDBInstance".to_string()));
        assert!(!mid
            .values()
            .any(|d| d.to_string().contains("stack-mitosis:lock:")));
        match until {
            "swap" => {
                assert!(mid.contains_key("old-mitosis-demo"));
                assert_ne!(
                    mid["mitosis-demo"]["DbiResourceId"],
                    before["mitosis-demo"]["DbiResourceId"]
                );
            }
            _ => {
                assert!(mid.contains_key("temp-mitosis-demo") && !retired_anything(&emu));
            }
        }
        let out = apply(&emu, &target, &[]);
        assert!(out.status.success(), "{until}: {}", stderr(&out));
        assert_eq!(notes(&emu, "before-swap"), 1, "{until}: scrubbed once");
        assert_eq!(notes(&emu, "restart"), 1);
        assert_refreshed(
            &before,
            &emu.describe(),
            &["mitosis-prod", "mitosis-prod-replica"],
            &["mitosis-demo", "mitosis-demo-replica"],
            false,
        );
    }
}

/// `rollback` after `--until clone|swap` puts the original instances back under their names
/// and deletes the clones; with nothing to roll back it says so and changes nothing; once the
/// old instances are being deleted it refuses.
#[test]
fn rollback_after_a_phase_and_refused_once_cleanup_began() {
    let emu = Emulator::start();
    let target = ["--source", "mitosis-prod", "--target", "mitosis-demo"];
    for until in ["swap", "clone"] {
        emu.reset();
        emu.seed("same-vpc");
        let before = emu.describe();
        let mut first: Vec<&str> = target.to_vec();
        first.extend(["--until", until]);
        let out = apply(&emu, &first, &[]);
        assert!(out.status.success(), "{until}: {}", stderr(&out));
        let out = rollback(&emu, &target);
        assert!(out.status.success(), "{until}: {}", stderr(&out));
        let after = emu.describe();
        for id in [
            "mitosis-demo",
            "mitosis-demo-replica",
            "mitosis-prod",
            "mitosis-prod-replica",
        ] {
            assert_eq!(
                before[id]["DbiResourceId"], after[id]["DbiResourceId"],
                "{until}: {id} is the original again"
            );
            assert!(
                after[id]["Tags"]
                    .as_object()
                    .unwrap()
                    .keys()
                    .all(|k| !k.starts_with("stack-mitosis:")),
                "{until}: {id} keeps markers"
            );
        }
        assert!(
            after
                .keys()
                .all(|k| !k.starts_with("temp-") && !k.starts_with("old-")),
            "{until}: {:?}",
            after.keys()
        );
        let calls = emu.mutating_actions().len();
        let out = rollback(&emu, &target);
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(
            stderr(&out).contains("nothing to roll back"),
            "{}",
            stderr(&out)
        );
        assert_eq!(emu.mutating_actions().len(), calls, "nothing changed");
    }

    // Stopped after the swap with the first old instance deleted, as a cleanup cut off after
    // its first delete leaves it: too late to roll back.
    emu.reset();
    emu.seed("same-vpc");
    let mut first: Vec<&str> = target.to_vec();
    first.extend(["--until", "swap"]);
    let out = apply(&emu, &first, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let delete = emu.tamper_command("delete old-mitosis-demo-replica");
    let status = std::process::Command::new("bash")
        .args(["-c", &delete])
        .status()
        .unwrap();
    assert!(status.success());
    emu.control("/_emulator/settle", "{}");
    assert!(!emu.describe().contains_key("old-mitosis-demo-replica"));
    let calls = emu.mutating_actions().len();
    let out = rollback(&emu, &target);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("cleanup"), "{}", stderr(&out));
    assert_eq!(emu.mutating_actions().len(), calls, "nothing changed");
}

/// Before the first retire the run checks what Blue/Green checks: a cloned replica that lags
/// too far behind, or a target tree that changed since the plan, stops it with nothing
/// retired (exit 5, clones kept); a swap that outlasts --swap-timeout is rolled back.
#[test]
fn guardrails_refuse_the_swap() {
    let emu = Emulator::start();
    let target = ["--source", "mitosis-prod", "--target", "mitosis-demo"];

    emu.seed("same-vpc");
    let lag = emu.tamper_command("lag temp-mitosis-demo-replica 120");
    let status = std::process::Command::new("bash")
        .args(["-c", &lag])
        .status()
        .unwrap();
    assert!(status.success());
    let out = apply(&emu, &target, &[]);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert!(stderr(&out).contains("lags 120s"), "{}", stderr(&out));
    assert!(!retired_anything(&emu));
    assert!(
        emu.describe().contains_key("temp-mitosis-demo-replica"),
        "clones kept"
    );
    let mut relaxed: Vec<&str> = target.to_vec();
    relaxed.extend(["--max-replica-lag", "300"]);
    let out = apply(&emu, &relaxed, &[]);
    assert!(out.status.success(), "the rerun swaps: {}", stderr(&out));

    emu.reset();
    emu.seed("same-vpc");
    let change = emu.tamper_command("replica mitosis-demo mitosis-demo-extra");
    let mut changed: Vec<&str> = target.to_vec();
    changed.extend(["--before-swap", change.as_str()]);
    let out = apply(&emu, &changed, &[]);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("target tree changed"),
        "{}",
        stderr(&out)
    );
    assert!(!retired_anything(&emu));

    emu.reset();
    emu.seed("same-vpc");
    emu.control("/_emulator/scale", r#"{"seconds_per_unit": 1}"#);
    let before = emu.describe();
    let mut slow: Vec<&str> = target.to_vec();
    slow.extend(["--swap-timeout", "1", "--rollback-timeout", "600"]);
    let out = apply(&emu, &slow, &[]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(stderr(&out).contains("--swap-timeout"), "{}", stderr(&out));
    let after = emu.describe();
    assert_eq!(
        before["mitosis-demo"]["DbiResourceId"],
        after["mitosis-demo"]["DbiResourceId"]
    );
}

/// `apply` asks before it changes anything: without a terminal (and without `--yes`) it
/// refuses, naming `--yes`; on a terminal `yes` proceeds and anything else refuses.
#[test]
fn apply_asks_for_confirmation_on_a_terminal_and_refuses_without_one() {
    let emu = Emulator::start();
    emu.seed("same-vpc");
    let mut args = vec![
        "apply",
        "--source",
        "mitosis-prod",
        "--target",
        "mitosis-demo",
    ];
    args.extend_from_slice(&FAST[1..]);
    let out = emu.cli(&args);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--yes"), "{}", stderr(&out));
    assert_eq!(emu.mutating_actions(), Vec::<String>::new());

    let (shown, code) = emu.cli_on_terminal(&args, "type yes", "no");
    assert_eq!(code, 2, "{shown}");
    assert!(
        shown.contains("Flight plan") && shown.contains("not confirmed"),
        "{shown}"
    );
    assert_eq!(emu.mutating_actions(), Vec::<String>::new());

    let (shown, code) = emu.cli_on_terminal(&args, "type yes", "yes");
    assert_eq!(code, 0, "{shown}");
    assert!(shown.contains("succeeded"), "{shown}");
    assert!(emu
        .mutating_actions()
        .contains(&"CreateDBInstanceReadReplica".to_string()));
}

/// Durations that cannot work are refused before any AWS call, naming the flag.
#[test]
fn absurd_durations_are_refused_before_any_call() {
    let emu = Emulator::start();
    emu.seed("same-vpc");
    for (flag, value) in [
        ("--step-timeout", "0"),
        ("--hook-timeout", "0"),
        ("--lock-ttl", "0"),
        ("--lock-wait", "604801"),
        ("--poll-interval", "0"),
        ("--step-timeout", "999999999"),
    ] {
        let out = emu.cli(&[
            "apply",
            "--yes",
            "--source",
            "mitosis-prod",
            "--target",
            "mitosis-demo",
            flag,
            value,
        ]);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{flag} {value}: {}",
            stderr(&out)
        );
        assert!(stderr(&out).contains(flag), "{}", stderr(&out));
        assert!(
            emu.actions().is_empty(),
            "{flag} {value}: {:?}",
            emu.actions()
        );
    }
}

#[test]
fn throttling_and_server_errors_are_retried() {
    let emu = Emulator::start();
    emu.seed("same-vpc");
    emu.control("/_emulator/faults", r#"{"action": "CreateDBInstanceReadReplica", "count": 2, "code": "Throttling", "status": 400}"#);
    emu.control("/_emulator/faults", r#"{"action": "DescribeDBInstances", "count": 2, "code": "InternalFailure", "status": 500}"#);
    let out = apply(
        &emu,
        &["--source", "mitosis-prod", "--target", "mitosis-demo"],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let faults = emu
        .record()
        .iter()
        .filter(|r| r.get("fault").is_some())
        .count();
    assert_eq!(faults, 4);
}

fn assert_rolled_back(emu: &Emulator, before: &Map<String, Value>, out: &std::process::Output) {
    assert_eq!(out.status.code(), Some(4), "{}", stderr(out));
    let after = emu.describe();
    for id in [
        "mitosis-demo",
        "mitosis-demo-replica",
        "mitosis-prod",
        "mitosis-prod-replica",
    ] {
        // The originals are back under their names, with their own data (same resource id).
        assert_eq!(
            before[id]["DbiResourceId"], after[id]["DbiResourceId"],
            "{id}"
        );
        assert_eq!(kept(&before[id]), kept(&after[id]), "{id}");
    }
    assert!(
        after
            .keys()
            .all(|k| !k.starts_with("temp-") && !k.starts_with("old-")),
        "{:?}",
        after.keys()
    );
    assert!(!emu
        .record()
        .iter()
        .any(|r| r["action"] == "DeleteDBInstance"
            && !r["params"]["DBInstanceIdentifier"]
                .as_str()
                .unwrap()
                .starts_with("temp-")));
}

#[test]
fn a_failing_restart_puts_the_original_names_back() {
    let emu = Emulator::start();
    emu.seed("same-vpc");
    let before = emu.describe();
    let out = apply(
        &emu,
        &[
            "--source",
            "mitosis-prod",
            "--target",
            "mitosis-demo",
            "--restart",
            "exit 7",
        ],
        &[],
    );
    assert!(
        stderr(&out).contains("the restart command exited with status 7"),
        "{}",
        stderr(&out)
    );
    assert_rolled_back(&emu, &before, &out);
}

#[test]
fn a_failing_before_swap_hook_stops_before_anything_is_retired() {
    let emu = Emulator::start();
    emu.seed("same-vpc");
    let before = emu.describe();
    let out = apply(&emu, &["--source", "mitosis-prod", "--target", "mitosis-demo",
        "--before-swap", "test \"$STACK_MITOSIS_INSTANCE\" = temp-mitosis-demo && test -n \"$STACK_MITOSIS_ENDPOINT_PORT\" && exit 9"], &[]);
    assert!(
        stderr(&out).contains("the before-swap command exited with status 9"),
        "{}",
        stderr(&out)
    );
    assert!(!retired_anything(&emu), "something was retired");
    assert_rolled_back(&emu, &before, &out);
}

#[test]
fn on_failure_keep_leaves_the_clones_for_inspection() {
    let emu = Emulator::start();
    emu.seed("same-vpc");
    let out = apply(
        &emu,
        &[
            "--source",
            "mitosis-prod",
            "--target",
            "mitosis-demo",
            "--restart",
            "false",
            "--on-failure",
            "keep",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let after = emu.describe();
    assert!(
        after.contains_key("temp-mitosis-demo") && after.contains_key("temp-mitosis-demo-replica")
    );
    assert!(stdout(&out).contains("kept for inspection"));
    assert!(!emu.actions().iter().any(|a| a == "DeleteDBInstance"));
}

#[test]
fn a_step_timeout_names_the_instance_and_its_status() {
    let emu = Emulator::start();
    emu.seed("same-vpc");
    emu.control("/_emulator/scale", r#"{"seconds_per_unit": 5}"#);
    let out = std::thread::scope(|s| {
        let run = s.spawn(|| {
            emu.cli(&[
                "apply",
                "--yes",
                "--source",
                "mitosis-prod",
                "--target",
                "mitosis-demo",
                "--poll-interval",
                "0.05",
                "--max-poll-interval",
                "0.1",
                "--step-timeout",
                "1",
            ])
        });
        // The create outlasts the 1 s step timeout; the rollback that follows waits under its
        // own bound (--rollback-timeout), so it sees the clone finish and deletes it.
        std::thread::sleep(std::time::Duration::from_secs(3));
        emu.control("/_emulator/scale", r#"{"seconds_per_unit": 0.01}"#);
        emu.control("/_emulator/settle", "{}");
        run.join().unwrap()
    });
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("timed out after 1s waiting for temp-mitosis-demo")
            && err.contains("temp-mitosis-demo is creating")
            && err.contains("raise --step-timeout"),
        "{err}"
    );
    assert!(!retired_anything(&emu));
    let deleted: Vec<String> = emu
        .record()
        .iter()
        .filter(|r| r["action"] == "DeleteDBInstance" && r.get("fault").is_none())
        .map(|r| {
            r["params"]["DBInstanceIdentifier"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(deleted, vec!["temp-mitosis-demo".to_string()]);
    assert!(!emu.describe().contains_key("temp-mitosis-demo"));
}

/// Whether any target instance was marked for retirement or renamed.
fn retired_anything(emu: &Emulator) -> bool {
    emu.record().iter().any(|r| {
        (r["action"] == "ModifyDBInstance" && r["params"].get("NewDBInstanceIdentifier").is_some())
            || (r["action"] == "AddTagsToResource" && r.to_string().contains("\"old\""))
    })
}

#[test]
fn two_concurrent_applies_on_one_target_one_refuses() {
    let emu = Emulator::start();
    emu.seed("same-vpc");
    let args = [
        "--source",
        "mitosis-prod",
        "--target",
        "mitosis-demo",
        "--lock-wait",
        "1",
        // Long enough that the other run's wait ends first.
        "--restart",
        "sleep 2",
    ];
    one_of_two_concurrent_applies(&emu, &args);
}

/// A point-in-time refresh (`--source-time`) cut off after any of its mutating calls is
/// finished by the rerun.
#[test]
fn crash_matrix_of_a_point_in_time_refresh() {
    let emu = Emulator::start();
    let restart = emu.note_command("restart");
    let args = [
        "--source",
        "mitosis-prod",
        "--target",
        "mitosis-demo",
        "--source-time",
        "latest",
        "--restart",
        &restart,
        "--lock-ttl",
        "2",
    ];
    crash_matrix(&emu, "same-vpc", &args, |emu, before, crash_after| {
        assert_refreshed(
            before,
            &emu.describe(),
            &["mitosis-prod", "mitosis-prod-replica"],
            &["mitosis-demo", "mitosis-demo-replica"],
            false,
        );
        let restores = emu
            .record()
            .iter()
            .filter(|r| r["action"] == "RestoreDBInstanceToPointInTime" && r.get("fault").is_none())
            .count();
        assert!(
            restores <= 1,
            "crash after {crash_after}: {restores} restores"
        );
    });
}

/// Fencing: a run whose lock renewals fail for most of the lock's TTL stops before its next
/// change (exit 6), retiring nothing and rolling nothing back (another run may have taken the
/// lock); the rerun, once AWS answers again, finishes the refresh.
#[test]
fn a_run_that_cannot_renew_its_lock_stops_before_its_next_change() {
    let emu = Emulator::start();
    emu.seed("same-vpc");
    let before = emu.describe();
    // Slow RDS down: creating the clone takes seconds, longer than the lock's TTL.
    emu.control("/_emulator/scale", r#"{"seconds_per_unit": 1.0}"#);
    let args = [
        "--source",
        "mitosis-prod",
        "--target",
        "mitosis-demo",
        "--lock-ttl",
        "2",
    ];
    let out = std::thread::scope(|s| {
        let run = s.spawn(|| apply(&emu, &args, &[("AWS_MAX_ATTEMPTS", "1")]));
        // Once the clone is being created, every AddTagsToResource (the renewals) fails.
        let started = std::time::Instant::now();
        while !emu
            .actions()
            .iter()
            .any(|a| a == "CreateDBInstanceReadReplica")
        {
            assert!(started.elapsed().as_secs() < 60, "the clone never started");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        emu.control(
            "/_emulator/faults",
            r#"{"action": "AddTagsToResource", "count": 1000, "code": "Throttling", "status": 400}"#,
        );
        run.join().unwrap()
    });
    assert_eq!(out.status.code(), Some(6), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("could not be renewed")
            && stderr(&out).contains("without rolling back"),
        "{}",
        stderr(&out)
    );
    let after = emu.describe();
    assert_eq!(
        after["mitosis-demo"], before["mitosis-demo"],
        "retired or changed"
    );
    assert!(after.contains_key("temp-mitosis-demo"), "rolled back");
    assert!(
        !emu.actions().iter().any(|a| a == "PromoteReadReplica"),
        "a change after the lock was lost"
    );
    emu.clear_faults();
    emu.control("/_emulator/scale", r#"{"seconds_per_unit": 0.01}"#);
    let out = apply(&emu, &args, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_refreshed(
        &before,
        &emu.describe(),
        &["mitosis-prod", "mitosis-prod-replica"],
        &["mitosis-demo", "mitosis-demo-replica"],
        true,
    );
}
