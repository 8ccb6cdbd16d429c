//! Whole environments (`--config`) against the emulator: the database tree, the S3 bucket
//! and the Auto Scaling groups of `tests/scenarios/environment*.json` with the environments of
//! `tests/scenarios/environment.toml`.

mod support;

use serde_json::{Map, Value};
use support::*;

fn config() -> String {
    repo()
        .join("tests/scenarios/environment.toml")
        .display()
        .to_string()
}

/// A shell command that saves the Auto Scaling groups as they are now to `file`, then notes
/// `note` in the record (what the restart command saw).
fn groups_then_note(emu: &Emulator, file: &std::path::Path, note: &str) -> String {
    format!(
        "{} {} --endpoint {} --groups > {} && {}",
        repo().join(".venv/bin/python").display(),
        repo().join("tests/emulator/describe.py").display(),
        emu.endpoint,
        file.display(),
        emu.note_command(note)
    )
}

fn temp_file(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("stack-mitosis-{}-{name}", std::process::id()))
}

/// The record's index of the first entry `pick` accepts.
fn first(record: &[Value], pick: impl Fn(&Value) -> bool) -> usize {
    record
        .iter()
        .position(pick)
        .expect("the record has such an entry")
}

fn is_retire(r: &Value) -> bool {
    r["action"] == "ModifyDBInstance"
        && r["params"]["NewDBInstanceIdentifier"]
            .as_str()
            .is_some_and(|n| n.starts_with("old-"))
        && r.get("fault").is_none()
}

fn names_group(r: &Value, group: &str) -> bool {
    r["params"]
        .as_object()
        .is_some_and(|p| p.values().any(|v| v == group))
}

/// The source's bucket and groups took no write: every changing S3 call was on the target
/// bucket, and no changing Auto Scaling call named a production group.
fn assert_source_untouched(record: &[Value]) {
    for r in record.iter().filter(|r| r.get("fault").is_none()) {
        let action = r["action"].as_str().unwrap_or("");
        if changes(action) && action != "HeadObject" && action != "HeadBucket" {
            assert_ne!(r["params"]["Bucket"], "acme-prod-uploads", "{r}");
            assert!(!names_group(r, "prod-web"), "{r}");
        }
    }
}

/// `apply --config` refreshes the whole environment: the database tree, the bucket (exactly
/// the source's objects, with their bytes, content types, metadata and tags; stale objects
/// gone; the multipart object part for part), the groups in standby from before the first
/// retire until after the restart command, and the target's own master password.
#[test]
fn an_environment_is_refreshed_whole() {
    let emu = Emulator::start();
    emu.seed("environment");
    let (before, buckets_before, groups_before) = (emu.describe(), emu.buckets(), emu.groups());
    let during = temp_file("groups-during-restart.json");
    let restart = groups_then_note(&emu, &during, "restart");
    let config = config();
    let out = apply(
        &emu,
        &[
            "--config",
            &config,
            "--source",
            "production",
            "--target",
            "demo",
            "--restart",
            &restart,
        ],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));

    assert_refreshed(
        &before,
        &emu.describe(),
        &["mitosis-prod", "mitosis-prod-ro"],
        &["mitosis-demo", "mitosis-demo-ro"],
        true,
    );
    let buckets = emu.buckets();
    assert_eq!(
        buckets["acme-prod-uploads"],
        buckets_before["acme-prod-uploads"]
    );
    assert_eq!(
        buckets["acme-demo-uploads"], buckets_before["acme-prod-uploads"],
        "the target bucket does not hold exactly the source's objects"
    );
    let video = &buckets["acme-demo-uploads"]["videos/intro.mp4"];
    assert!(video["etag"].as_str().unwrap().ends_with("-2\""), "{video}");
    assert_eq!(video["content_type"], "video/mp4");
    assert_eq!(video["tags"]["kind"], "video");

    // During the restart command the target's groups were in standby; now they are back.
    let seen: Map<String, Value> =
        serde_json::from_str(&std::fs::read_to_string(&during).unwrap()).unwrap();
    let _ = std::fs::remove_file(&during);
    for group in ["demo-web", "demo-worker"] {
        assert!(
            seen[group]["states"]
                .as_array()
                .unwrap()
                .iter()
                .all(|s| s == "Standby"),
            "{group} during the restart: {}",
            seen[group]
        );
        assert_eq!(seen[group]["desired"], 0);
        assert!(seen[group]["suspended"]
            .as_array()
            .unwrap()
            .contains(&"Launch".into()));
    }
    assert_eq!(seen["prod-web"], groups_before["prod-web"]);
    assert_eq!(
        emu.groups(),
        groups_before,
        "the groups are not as they were"
    );

    let record = emu.record();
    let standby = first(&record, |r| r["action"] == "EnterStandby");
    let retire = first(&record, is_retire);
    let restarted = first(&record, |r| r["note"] == "restart");
    let back = record
        .iter()
        .rposition(|r| r["action"] == "ExitStandby")
        .unwrap();
    assert!(standby < retire, "standby after the first retire");
    assert!(
        restarted < back,
        "in service before the restart command ran"
    );
    let copied = first(&record, |r| r["action"] == "CopyObject");
    assert!(copied < retire, "the bucket was copied after the retire");
    let deleted = first(&record, |r| r["action"] == "DeleteObjects");
    assert!(
        restarted < deleted,
        "objects deleted before the restart command ran"
    );
    assert_source_untouched(&record);
    assert_eq!(emu.password("mitosis-demo"), "demo-password-42");
}

/// The flight plan shows what the bucket sync will copy and delete, and the standby steps;
/// the IAM policy reads the source bucket only and writes the target's.
#[test]
fn the_plan_counts_the_bucket_and_the_policy_reads_the_source_only() {
    let emu = Emulator::start();
    emu.seed("environment");
    let buckets = emu.buckets();
    let config = config();
    let args = [
        "--config",
        &config,
        "--source",
        "production",
        "--target",
        "demo",
    ];
    let mut plan_args = vec!["plan", "--format", "json"];
    plan_args.extend_from_slice(&args);
    let out = emu.cli(&plan_args);
    assert!(out.status.success(), "{}", stderr(&out));
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    let step = |id: &str| {
        plan["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == id)
            .unwrap_or_else(|| panic!("no step {id} in {plan}"))
            .clone()
    };
    let sync = step("sync-bucket-acme-demo-uploads");
    let source = buckets["acme-prod-uploads"].as_object().unwrap();
    let bytes: u64 = source.values().map(|o| o["size"].as_u64().unwrap()).sum();
    assert_eq!(sync["params"]["ObjectsToCopy"], source.len() as u64);
    assert_eq!(sync["params"]["BytesToCopy"], bytes);
    let prune = step("prune-bucket-acme-demo-uploads");
    assert_eq!(prune["params"]["ObjectsToDelete"], 25);
    assert_eq!(prune["phase"], "cleanup");
    for id in [
        "standby-demo-web",
        "in-service-demo-web",
        "standby-demo-worker",
    ] {
        step(id);
    }
    assert!(plan.to_string().find("prod-web").is_none(), "{plan}");

    let mut policy_args = vec!["iam-policy"];
    policy_args.extend_from_slice(&args);
    let out = emu.cli(&policy_args);
    assert!(out.status.success(), "{}", stderr(&out));
    let policy: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut source_actions = Vec::new();
    for statement in policy["Statement"].as_array().unwrap() {
        let resources = statement["Resource"].to_string();
        if resources.contains("acme-prod-uploads") {
            source_actions.push(statement["Action"].to_string());
        }
        assert!(!resources.contains("prod-web"), "{statement}");
    }
    let text = source_actions.join(" ");
    assert!(
        text.contains("s3:GetObject") && text.contains("s3:ListBucket"),
        "{text}"
    );
    assert!(!text.contains("Put") && !text.contains("Delete"), "{text}");
    assert!(policy.to_string().contains("autoscaling:EnterStandby"));
    assert!(emu.mutating_actions().is_empty());
}

/// A restart command that fails rolls the databases back, and the groups come back in
/// service with their capacity all the same; the bucket keeps the source's objects it was
/// given (a copy is not undone: it is documented so), and loses nothing: deletions wait for
/// a restart that succeeded.
#[test]
fn a_rollback_brings_the_groups_back() {
    let emu = Emulator::start();
    emu.seed("environment-small");
    let (before, buckets_before, groups_before) = (emu.describe(), emu.buckets(), emu.groups());
    let config = config_small();
    let out = apply(
        &emu,
        &[
            "--config",
            &config,
            "--source",
            "production",
            "--target",
            "demo",
            "--restart",
            "exit 3",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let after = emu.describe();
    assert_eq!(
        before["mitosis-demo"]["DbiResourceId"],
        after["mitosis-demo"]["DbiResourceId"]
    );
    assert!(after
        .keys()
        .all(|k| !k.starts_with("temp-") && !k.starts_with("old-")));
    assert_eq!(emu.groups(), groups_before);
    let buckets = emu.buckets();
    let target = buckets["acme-demo-uploads"].as_object().unwrap();
    for (key, object) in buckets_before["acme-prod-uploads"].as_object().unwrap() {
        assert_eq!(&target[key], object, "{key}");
    }
    for key in buckets_before["acme-demo-uploads"]
        .as_object()
        .unwrap()
        .keys()
    {
        assert!(
            target.contains_key(key),
            "{key} was deleted before the restart succeeded"
        );
    }
    assert!(!emu.actions().iter().any(|a| a == "DeleteObjects"));
    assert_source_untouched(&emu.record());
}

fn config_small() -> String {
    repo()
        .join("tests/scenarios/environment-small.toml")
        .display()
        .to_string()
}

/// A run cut off after any mutating call (databases, objects, groups) is finished by the
/// rerun: the bucket holds the source's objects, the group is back with its capacity and
/// without the tool's tags, the target has its password.
#[test]
fn crash_matrix_of_an_environment_refresh() {
    let emu = Emulator::start();
    let restart = emu.note_command("restart");
    let config = config_small();
    let args = [
        "--config",
        &config,
        "--source",
        "production",
        "--target",
        "demo",
        "--restart",
        &restart,
        "--lock-ttl",
        "2",
    ];
    emu.seed("environment-small");
    let groups_before = emu.groups();
    crash_matrix(
        &emu,
        "environment-small",
        &args,
        |emu, before, crash_after| {
            assert_refreshed(
                before,
                &emu.describe(),
                &["mitosis-prod"],
                &["mitosis-demo"],
                true,
            );
            let buckets = emu.buckets();
            assert_eq!(
                buckets["acme-demo-uploads"], buckets["acme-prod-uploads"],
                "crash after {crash_after}"
            );
            assert_eq!(emu.groups(), groups_before, "crash after {crash_after}");
            assert_eq!(emu.password("mitosis-demo"), "demo-password-42");
            let record = emu.record();
            assert_source_untouched(&record);
            // After a restart command that succeeded (a rerun may run it again after that).
            let restarted = record.iter().position(|r| r["note"] == "restart");
            for (i, r) in record.iter().enumerate() {
                if r["action"] == "DeleteObjects" && r.get("fault").is_none() {
                    assert!(
                        restarted.is_some_and(|at| i > at),
                        "crash after {crash_after}: objects deleted before the restart"
                    );
                }
            }
        },
    );
}

/// Bad input: exit 2, a message that says what to do, and no mutating call.
#[test]
fn bad_environments_are_refused_before_any_change() {
    let emu = Emulator::start();
    emu.seed("environment-small");
    let write = |name: &str, text: &str| {
        let path = temp_file(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    };
    let env = |name: &str, body: &str| format!("[environments.{name}]\n{body}\n");
    let prod = env(
        "production",
        "databases = [\"mitosis-prod\"]\nbuckets = [\"acme-prod-uploads\"]\nauto-scaling-groups = [\"prod-web\"]",
    );
    let good = config_small();
    let unparsable = write(
        "unparsable.toml",
        "[environments.demo]\ndatabases = [\"x\"\n",
    );
    let unknown_key = write(
        "unknown-key.toml",
        "[environments.demo]\ndatabases = [\"mitosis-demo\"]\nbukets = []\n",
    );
    let counts = write(
        "counts.toml",
        &(prod.clone()
            + &env(
                "demo",
                "databases = [\"mitosis-demo\"]\nbuckets = [\"acme-demo-uploads\", \"more\"]",
            )),
    );
    let missing_bucket = write(
        "missing-bucket.toml",
        &(prod.clone()
            + &env(
                "demo",
                "databases = [\"mitosis-demo\"]\nbuckets = [\"acme-nowhere\"]",
            )),
    );
    let same_bucket = write(
        "same-bucket.toml",
        &(prod.clone()
            + &env(
                "demo",
                "databases = [\"mitosis-demo\"]\nbuckets = [\"acme-prod-uploads\"]",
            )),
    );
    let missing_group = write(
        "missing-group.toml",
        &(prod.clone()
            + &env(
                "demo",
                "databases = [\"mitosis-demo\"]\nbuckets = [\"acme-demo-uploads\"]\nauto-scaling-groups = [\"demo-nowhere\"]",
            )),
    );
    let bad_secret = write(
        "bad-secret.toml",
        &(prod.clone()
            + &env(
                "demo",
                "databases = [\"mitosis-demo\"]\nbuckets = [\"acme-demo-uploads\"]\nmaster-password-secrets = [\"no-such-secret\"]",
            )),
    );
    let protected_db = write(
        "protected.toml",
        &(env(
            "production",
            "protected = true\ndatabases = [\"mitosis-prod\"]",
        ) + &env("demo", "databases = [\"mitosis-demo\"]")),
    );
    let missing = temp_file("no-such-file.toml").display().to_string();
    let run = |config: &str, source: &str, target: &str| -> Vec<String> {
        ["--config", config, "--source", source, "--target", target]
            .iter()
            .map(|s| s.to_string())
            .collect()
    };
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            run(&good, "production", "staging"),
            "no environment \"staging\"",
        ),
        (run(&good, "demo", "production"), "is protected"),
        (run(&protected_db, "demo", "production"), "is protected"),
        (run(&unparsable, "production", "demo"), "line 2"),
        (run(&unknown_key, "production", "demo"), "line 3"),
        (
            run(&missing, "production", "demo"),
            "cannot read the config",
        ),
        (run(&counts, "production", "demo"), "pair by position"),
        (
            run(&missing_bucket, "production", "demo"),
            "acme-nowhere does not exist",
        ),
        (run(&same_bucket, "production", "demo"), "acme-prod-uploads"),
        (
            run(&missing_group, "production", "demo"),
            "demo-nowhere does not exist",
        ),
        (
            run(&bad_secret, "production", "demo"),
            "no-such-secret cannot be read",
        ),
        (
            [
                run(&good, "production", "demo"),
                vec!["--quiesce-source".into()],
            ]
            .concat(),
            "--snapshot fresh",
        ),
    ];
    let cases: Vec<(Vec<&str>, &str)> = cases
        .iter()
        .map(|(args, says)| (args.iter().map(String::as_str).collect(), *says))
        .collect();
    let cases: Vec<(&[&str], &str)> = cases.iter().map(|(a, s)| (a.as_slice(), *s)).collect();
    assert_refused(&emu, &cases);
}

/// `--quiesce-source`: the source's groups are in standby while its fresh snapshot is taken
/// (and only then), and come back as they were.
#[test]
fn quiesce_source_puts_production_in_standby_for_its_snapshot() {
    let emu = Emulator::start();
    emu.seed("environment-small");
    let groups_before = emu.groups();
    let config = config_small();
    let restart = emu.note_command("restart");
    let out = apply(
        &emu,
        &[
            "--config",
            &config,
            "--source",
            "production",
            "--target",
            "demo",
            "--restart",
            &restart,
            "--snapshot",
            "fresh",
            "--quiesce-source",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let record = emu.record();
    let on =
        |action: &'static str| move |r: &Value| r["action"] == action && names_group(r, "prod-web");
    let standby = first(&record, on("EnterStandby"));
    let snapshot = first(&record, |r| r["action"] == "CreateDBSnapshot");
    let back = first(&record, on("ExitStandby"));
    let retire = first(&record, is_retire);
    assert!(standby < snapshot && snapshot < back && back < retire);
    assert_eq!(emu.groups(), groups_before);
}

/// The copy commands' fast waits.
const WAIT: &[&str] = &["--poll-interval", "0.02", "--max-poll-interval", "0.05"];

fn run(emu: &Emulator, args: &[&str]) -> std::process::Output {
    let mut all = args.to_vec();
    all.extend_from_slice(WAIT);
    emu.cli(&all)
}

/// `copy --config`: the copy's bucket is `P<bucket>`, tagged like its database, holding the
/// source's objects; a rerun reuses it; `destroy --config` deletes it with the database (and a
/// second destroy does nothing); a bucket of the copy's name that the tool did not make is
/// refused by copy and by destroy; `sweep` deletes an expired bucket copy.
#[test]
fn a_copy_of_an_environment_has_buckets_of_its_own() {
    let emu = Emulator::start();
    emu.seed("environment-small");
    let (buckets_before, groups_before) = (emu.buckets(), emu.groups());
    let config = config_small();
    let copy = |prefix: &str, expires: &str| {
        run(
            &emu,
            &[
                "copy",
                "--config",
                &config,
                "--source",
                "production",
                "--like",
                "demo",
                "--prefix",
                prefix,
                "--expires",
                expires,
            ],
        )
    };
    let out = copy("pr-7-", "7d");
    assert!(out.status.success(), "{}", stderr(&out));
    let buckets = emu.buckets();
    assert_eq!(
        buckets["pr-7-acme-demo-uploads"],
        buckets_before["acme-prod-uploads"]
    );
    assert_eq!(
        buckets["acme-demo-uploads"],
        buckets_before["acme-demo-uploads"]
    );
    assert_source_untouched(&emu.record());
    assert_eq!(
        emu.groups(),
        groups_before,
        "a copy puts nothing in standby"
    );
    let tags = bucket_tags(&emu, "pr-7-acme-demo-uploads");
    assert_eq!(tags["stack-mitosis:role"], "copy");
    assert_eq!(tags["stack-mitosis:original"], "acme-demo-uploads");
    assert_eq!(tags["stack-mitosis:prefix"], "pr-7-");
    assert!(tags.contains_key("stack-mitosis:expires"));
    assert!(emu.describe().contains_key("pr-7-mitosis-demo"));

    // A rerun reuses the bucket: no CreateBucket, no copy.
    emu.forget_requests();
    let out = copy("pr-7-", "7d");
    assert!(out.status.success(), "{}", stderr(&out));
    let actions = emu.mutating_actions();
    assert!(
        !actions
            .iter()
            .any(|a| a == "CreateBucket" || a == "CopyObject"),
        "{actions:?}"
    );

    // Destroy with the config: the database and the bucket; again: nothing to do.
    let destroy = |prefix: &str| {
        run(
            &emu,
            &[
                "destroy", "--config", &config, "--like", "demo", "--prefix", prefix,
            ],
        )
    };
    let out = destroy("pr-7-");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!emu.buckets().contains_key("pr-7-acme-demo-uploads"));
    assert!(!emu.describe().contains_key("pr-7-mitosis-demo"));
    emu.forget_requests();
    let out = destroy("pr-7-");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("nothing to destroy"),
        "{}",
        stderr(&out)
    );
    assert!(emu.mutating_actions().is_empty());

    // Someone else's bucket with the copy's name: copy and destroy refuse, nothing changes.
    make_bucket(&emu, "pr-8-acme-demo-uploads");
    emu.forget_requests();
    let out = copy("pr-8-", "7d");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("pick another --prefix"),
        "{}",
        stderr(&out)
    );
    let out = destroy("pr-8-");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(emu.mutating_actions().is_empty());
    assert!(emu.buckets().contains_key("pr-8-acme-demo-uploads"));

    // Sweep: an expired copy's bucket goes, the unexpired one stays.
    for (prefix, expires) in [("pr-9-", "1s"), ("pr-10-", "7d")] {
        let out = copy(prefix, expires);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let out = run(&emu, &["sweep"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("pr-9-acme-demo-uploads"),
        "{}",
        stdout(&out)
    );
    let buckets = emu.buckets();
    assert!(!buckets.contains_key("pr-9-acme-demo-uploads"));
    assert!(buckets.contains_key("pr-10-acme-demo-uploads"));
    assert!(buckets.contains_key("pr-8-acme-demo-uploads"));
    assert!(!emu.describe().contains_key("pr-9-mitosis-demo"));
}

/// A bucket's tags, through the emulator.
fn bucket_tags(emu: &Emulator, bucket: &str) -> Map<String, Value> {
    let out = std::process::Command::new(repo().join(".venv/bin/python"))
        .args([
            "-c",
            "import boto3, json, sys; s3 = boto3.client('s3', endpoint_url=sys.argv[1], region_name='us-east-1', aws_access_key_id='t', aws_secret_access_key='t'); print(json.dumps({t['Key']: t['Value'] for t in s3.get_bucket_tagging(Bucket=sys.argv[2])['TagSet']}))",
            &emu.endpoint,
            bucket,
        ])
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{out:?}"))
}

fn make_bucket(emu: &Emulator, bucket: &str) {
    let status = std::process::Command::new(repo().join(".venv/bin/python"))
        .args([
            "-c",
            "import boto3, sys; s3 = boto3.client('s3', endpoint_url=sys.argv[1], region_name='us-east-1', aws_access_key_id='t', aws_secret_access_key='t'); s3.create_bucket(Bucket=sys.argv[2]); s3.put_object(Bucket=sys.argv[2], Key='mine.txt', Body=b'mine')",
            &emu.endpoint,
            bucket,
        ])
        .status()
        .unwrap();
    assert!(status.success());
}

/// A copy of an environment and its destroy, cut off after any mutating call (database,
/// CreateBucket, the objects, DeleteObjects, DeleteBucket), are finished by the rerun: the
/// copy's bucket holds the source's objects; after the destroy nothing of the copy is left.
#[test]
fn crash_matrix_of_an_environment_copy_and_its_destroy() {
    let emu = Emulator::start();
    let config = config_small();
    let copy = [
        "copy",
        "--config",
        &config,
        "--source",
        "production",
        "--like",
        "demo",
        "--prefix",
        "pr-6-",
    ];
    let destroy = [
        "destroy", "--config", &config, "--like", "demo", "--prefix", "pr-6-",
    ];
    let with_wait = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend_from_slice(WAIT);
        all.iter().map(|s| s.to_string()).collect::<Vec<String>>()
    };
    let (copy, destroy) = (with_wait(&copy), with_wait(&destroy));
    for (name, setup, crashed) in [
        ("copy", None, strs(&copy)),
        ("destroy", Some(strs(&copy)), strs(&destroy)),
    ] {
        let calls = support::crash_each(
            &emu,
            "environment-small",
            setup.as_deref(),
            &crashed,
            |emu, _before, crash_after, _| {
                let buckets = emu.buckets();
                let instances = emu.describe();
                if setup.is_none() {
                    assert_eq!(
                        buckets["pr-6-acme-demo-uploads"], buckets["acme-prod-uploads"],
                        "{name}: crash after {crash_after}"
                    );
                    assert!(instances.contains_key("pr-6-mitosis-demo"));
                } else {
                    assert!(
                        !buckets.contains_key("pr-6-acme-demo-uploads")
                            && !instances.contains_key("pr-6-mitosis-demo"),
                        "{name}: crash after {crash_after}"
                    );
                }
            },
        );
        assert!(calls >= 3, "{name}: only {calls} calls");
    }
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn config_two() -> String {
    repo()
        .join("tests/scenarios/environment-two.toml")
        .display()
        .to_string()
}

/// An environment of two databases (an instance tree and an Aurora cluster) is refreshed in
/// one run: both cloned before anything is retired, both swapped before the one restart
/// command (which sees every target), each with its own secret's password, the bucket and the
/// group as with one database.
#[test]
fn an_environment_of_two_databases_is_refreshed_in_one_run() {
    let emu = Emulator::start();
    emu.seed("environment-two");
    let (before, clusters_before, groups_before) = (emu.describe(), emu.clusters(), emu.groups());
    let seen = temp_file("targets-seen-by-restart");
    let restart = format!(
        "echo \"$STACK_MITOSIS_TARGETS\" > {} && {}",
        seen.display(),
        emu.note_command("restart")
    );
    let config = config_two();
    let args = [
        "--config",
        config.as_str(),
        "--source",
        "production",
        "--target",
        "demo",
        "--restart",
        restart.as_str(),
    ];
    let out = emu.cli(&[&["plan"], &args[..]].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        doc["databases"],
        serde_json::json!([
            {"source": "mitosis-prod", "target": "mitosis-demo", "kind": "instance"},
            {"source": "orders-prod", "target": "orders-demo", "kind": "cluster"}
        ])
    );
    let out = apply(&emu, &args, &[]);
    assert!(out.status.success(), "{}", stderr(&out));

    assert_refreshed(
        &before,
        &emu.describe(),
        &["mitosis-prod", "orders-prod-1"],
        &["mitosis-demo", "mitosis-demo-ro", "orders-demo-1"],
        true,
    );
    let clusters = emu.clusters();
    assert_ne!(
        clusters["orders-demo"]["DbClusterResourceId"],
        clusters_before["orders-demo"]["DbClusterResourceId"],
        "the cluster was not replaced"
    );
    assert_eq!(
        clusters["orders-prod"]["DbClusterResourceId"],
        clusters_before["orders-prod"]["DbClusterResourceId"]
    );
    assert!(clusters
        .keys()
        .all(|k| !k.starts_with("temp-") && !k.starts_with("old-")));
    assert_eq!(emu.password("mitosis-demo"), "demo-password-42");
    assert_eq!(emu.password("orders-demo"), "orders-password-7");
    let targets = std::fs::read_to_string(&seen).unwrap();
    let _ = std::fs::remove_file(&seen);
    assert_eq!(targets.trim(), "mitosis-demo orders-demo");
    assert_eq!(emu.groups(), groups_before);

    // Both clones exist before the first retire; every swap comes before the one restart
    // command; no old database is deleted before it.
    let record = emu.record();
    let created = |r: &Value| {
        r.get("fault").is_none()
            && (r["params"]["DBInstanceIdentifier"] == "temp-mitosis-demo"
                && r["action"] == "CreateDBInstanceReadReplica"
                || r["params"]["DBClusterIdentifier"] == "temp-orders-demo"
                    && r["action"] == "RestoreDBClusterToPointInTime")
    };
    let retired = |r: &Value| {
        r.get("fault").is_none()
            && ["NewDBInstanceIdentifier", "NewDBClusterIdentifier"]
                .iter()
                .any(|k| {
                    r["params"][*k]
                        .as_str()
                        .is_some_and(|n| n.starts_with("old-"))
                })
    };
    let first_retire = first(&record, retired);
    assert_eq!(
        record[..first_retire].iter().filter(|r| created(r)).count(),
        2,
        "a database retired before both clones existed"
    );
    let restarts: Vec<usize> = record
        .iter()
        .enumerate()
        .filter(|(_, r)| r["note"] == "restart")
        .map(|(i, _)| i)
        .collect();
    assert_eq!(restarts.len(), 1, "the restart command runs once");
    let swapped_in = |r: &Value| {
        r.get("fault").is_none()
            && ["NewDBInstanceIdentifier", "NewDBClusterIdentifier"]
                .iter()
                .any(|k| {
                    r["params"][*k]
                        .as_str()
                        .is_some_and(|n| ["mitosis-demo", "orders-demo"].contains(&n))
                })
    };
    let last_swap = record.iter().rposition(swapped_in).unwrap();
    assert!(last_swap < restarts[0], "the restart ran before every swap");
    let first_delete = first(&record, |r| {
        matches!(
            r["action"].as_str(),
            Some("DeleteDBInstance" | "DeleteDBCluster")
        )
    });
    assert!(restarts[0] < first_delete);
    assert_source_untouched(&record);
}

/// A failing restart command rolls both databases back: each has its own instance again.
#[test]
fn a_rollback_puts_both_databases_back() {
    let emu = Emulator::start();
    emu.seed("environment-two");
    let (before, clusters_before, groups_before) = (emu.describe(), emu.clusters(), emu.groups());
    let config = config_two();
    let out = apply(
        &emu,
        &[
            "--config",
            &config,
            "--source",
            "production",
            "--target",
            "demo",
            "--restart",
            "exit 3",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    // Each database has its own instances and cluster again; no clone is left; the group
    // is back in service.
    let assert_both_back = || {
        let (after, clusters) = (emu.describe(), emu.clusters());
        for id in ["mitosis-demo", "mitosis-demo-ro", "orders-demo-1"] {
            assert_eq!(
                before[id]["DbiResourceId"], after[id]["DbiResourceId"],
                "{id}"
            );
        }
        assert_eq!(
            clusters["orders-demo"]["DbClusterResourceId"],
            clusters_before["orders-demo"]["DbClusterResourceId"]
        );
        assert!(after
            .keys()
            .chain(clusters.keys())
            .all(|k| !k.starts_with("temp-") && !k.starts_with("old-")));
        assert_eq!(emu.groups(), groups_before);
    };
    assert_both_back();

    // `rollback` after `apply --until swap` (both swapped in) puts both back too.
    let args = [
        "--config",
        config.as_str(),
        "--source",
        "production",
        "--target",
        "demo",
    ];
    let out = apply(&emu, &[&args[..], &["--until", "swap"]].concat(), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let swapped = emu.clusters();
    assert_ne!(
        swapped["orders-demo"]["DbClusterResourceId"],
        clusters_before["orders-demo"]["DbClusterResourceId"]
    );
    let mut full = vec!["rollback"];
    full.extend_from_slice(&args);
    full.extend_from_slice(FAST);
    let out = emu.cli_with(&full, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_both_back();
}

/// A run over two databases cut off after any mutating call is finished by the rerun, which
/// joins the interrupted run: neither database is cloned twice (a database the run finished
/// is not refreshed again).
#[test]
fn crash_matrix_of_a_refresh_of_two_databases() {
    let emu = Emulator::start();
    let restart = emu.note_command("restart");
    let config = config_two();
    let args = [
        "--config",
        &config,
        "--source",
        "prod-pair",
        "--target",
        "demo-pair",
        "--restart",
        &restart,
        "--lock-ttl",
        "2",
    ];
    crash_matrix(
        &emu,
        "environment-two",
        &args,
        |emu, before, crash_after| {
            assert_refreshed(
                before,
                &emu.describe(),
                &["ledger-prod", "billing-prod"],
                &["ledger-demo", "billing-demo"],
                true,
            );
            let record = emu.record();
            for clone in ["temp-ledger-demo", "temp-billing-demo"] {
                let made = record
                    .iter()
                    .filter(|r| r.get("fault").is_none())
                    .filter(|r| {
                        r["action"] == "CreateDBInstanceReadReplica"
                            && r["params"]["DBInstanceIdentifier"] == clone
                    })
                    .count();
                assert_eq!(
                    made, 1,
                    "crash after {crash_after}: {clone} made {made} times"
                );
            }
        },
    );
}

/// What cannot apply to several databases is refused before any change: one database's
/// secret or snapshot given for all, a copy of the environment, a database given twice.
#[test]
fn choices_for_one_database_are_refused_for_several() {
    let emu = Emulator::start();
    emu.seed("environment-two");
    let config = config_two();
    let base = [
        "--config",
        config.as_str(),
        "--source",
        "production",
        "--target",
        "demo",
    ];
    let with = |extra: &[&'static str]| -> Vec<&str> { [&base[..], extra].concat() };
    let pairs = [
        "--config",
        config.as_str(),
        "--source",
        "prod-pair",
        "--target",
        "demo-pair",
    ];
    let secret = [&pairs[..], &["--master-password-secret", "demo-db-master"]].concat();
    let snapshot = with(&["--snapshot", "rds:mitosis-prod-2026-11-30"]);
    let twice = temp_file("twice.toml");
    std::fs::write(
        &twice,
        "[environments.p]\ndatabases = [\"mitosis-prod\", \"ledger-prod\"]\n[environments.d]\ndatabases = [\"mitosis-demo\", \"mitosis-demo\"]\n",
    )
    .unwrap();
    let twice = twice.display().to_string();
    let twice_args = ["--config", twice.as_str(), "--source", "p", "--target", "d"];
    assert_refused(
        &emu,
        &[
            (
                &secret,
                "list each database's under master-password-secrets",
            ),
            (&snapshot, "names one database's snapshot"),
            (&twice_args, "mitosis-demo is listed twice"),
        ],
    );
    let out = emu.cli(&[
        "copy",
        "--config",
        &config,
        "--source",
        "production",
        "--like",
        "demo",
        "--prefix",
        "pr1-",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("databases"), "{}", stderr(&out));
    assert!(emu.mutating_actions().is_empty());
}
