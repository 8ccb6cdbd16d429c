//! Throwaway copies end to end against the emulator: `copy` of an instance tree and of an
//! Aurora cluster (the template's attributes and shape, new identities, the copy's marks and
//! expiry, a new master password given only to the caller), the source and the template
//! untouched, a rerun that reuses the copy, `destroy` (again: nothing to do; a look-alike:
//! refused), `sweep` of the expired copy only, and every interruption of copy and destroy
//! finished by the rerun.

mod support;

use serde_json::{Map, Value};
use support::{kept, stderr, stdout, Emulator};

const WAIT: &[&str] = &[
    "--poll-interval",
    "0.02",
    "--max-poll-interval",
    "0.05",
    "--step-timeout",
    "60",
];

fn run(emu: &Emulator, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut all: Vec<&str> = args.to_vec();
    all.extend_from_slice(WAIT);
    emu.cli_with(&all, env)
}

fn copy_args<'a>(prefix: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec![
        "copy",
        "--source",
        "app-prod",
        "--like",
        "app-staging",
        "--prefix",
        prefix,
    ];
    a.extend_from_slice(extra);
    a
}

const TEMPLATE: [&str; 3] = ["app-staging", "app-staging-ro1", "app-staging-ro2"];

/// Identifier parameters of the changing calls: no call may name the source or the template
/// but as the copy's replication source.
fn assert_untouched(emu: &Emulator) {
    for r in emu.record() {
        let action = r["action"].as_str().unwrap_or("");
        if !support::changes(action) {
            continue;
        }
        for (k, v) in r["params"].as_object().unwrap() {
            let named = v.as_str().unwrap_or("");
            // By name, or (tags) by ARN.
            let name = named.rsplit(':').next().unwrap_or(named);
            let ours = name.starts_with("pr-");
            let identifies = k.ends_with("DBInstanceIdentifier") || k == "ResourceName";
            if identifies && !ours {
                assert!(
                    k == "SourceDBInstanceIdentifier" && named == "app-prod",
                    "{action} names {named} ({k})"
                );
            }
        }
    }
}

/// The copy of each template instance: its attributes (deletion protection aside: copies can
/// always be destroyed), a new identity, the copy's marks.
fn assert_copy(before: &Map<String, Value>, after: &Map<String, Value>, prefix: &str) {
    for id in TEMPLATE {
        let copy = &after[&format!("{prefix}{id}")];
        let (mut want, mut got) = (kept(&before[id]), kept(copy));
        want["protected"] = Value::Null;
        got["protected"] = Value::Null;
        // Replica links among the copy's own instances.
        if let Some(parent) = want["replica_of"].as_str() {
            want["replica_of"] = format!("{prefix}{parent}").into();
        }
        assert_eq!(want, got, "{id}");
        assert_ne!(copy["DbiResourceId"], before[id]["DbiResourceId"]);
        assert_eq!(copy["DeletionProtection"], false);
        let tags = &copy["Tags"];
        assert_eq!(tags["stack-mitosis:role"], "copy");
        assert_eq!(tags["stack-mitosis:original"], id);
        assert_eq!(tags["stack-mitosis:prefix"], prefix);
        assert!(tags["stack-mitosis:expires"]
            .as_str()
            .unwrap()
            .ends_with('Z'));
        assert_eq!(copy["DBInstanceStatus"], "available");
    }
}

#[test]
fn copy_rerun_destroy_of_an_instance_tree() {
    let emu = Emulator::start();
    emu.seed("pg-two-replicas");
    let before = emu.describe();
    let password_file =
        std::env::temp_dir().join(format!("mitosis-copy-password-{}", std::process::id()));
    let scrub = emu.note_command("scrub");
    let out = run(
        &emu,
        &copy_args(
            "pr-42-",
            &[
                "--before-swap",
                &format!("test -n \"$STACK_MITOSIS_MASTER_PASSWORD\" && {scrub}"),
                "--password-file",
                password_file.to_str().unwrap(),
            ],
        ),
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("copy pr-42-app-staging: created"));
    let after = emu.describe();
    assert_copy(&before, &after, "pr-42-");
    // The source and the template as they were, and never named but as the source.
    for id in ["app-prod", "app-prod-ro"].into_iter().chain(TEMPLATE) {
        assert_eq!(before[id], after[id], "{id} changed");
    }
    assert_untouched(&emu);
    // The scrub ran on the copy, with its password in the environment.
    assert!(emu.record().iter().any(|r| r["note"] == "scrub"));
    // A new password: in the file (owner only), on the copy, in no output.
    let password = std::fs::read_to_string(&password_file).unwrap();
    std::fs::remove_file(&password_file).ok();
    assert_eq!(password.len(), 32);
    assert_eq!(emu.password("pr-42-app-staging"), password);
    assert_ne!(emu.password("app-prod"), password);
    assert!(!stdout(&out).contains(&password) && !stderr(&out).contains(&password));
    // The report's endpoints are the copy's, never the source's.
    assert!(stdout(&out).contains("Endpoint pr-42-app-staging:"));
    assert!(!stdout(&out).contains("Endpoint app-prod"));

    // A rerun reuses the copy: nothing created, a new password.
    emu.forget_requests();
    let out = run(&emu, &copy_args("pr-42-", &[]), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("reused"), "{}", stderr(&out));
    let mutating = emu.mutating_actions();
    assert!(
        !mutating
            .iter()
            .any(|a| a.starts_with("Create") || a.starts_with("Restore")),
        "{mutating:?}"
    );
    assert_ne!(emu.password("pr-42-app-staging"), password);

    // Reset: the copy is destroyed and made anew (new identities, current data).
    let reused_id = emu.describe()["pr-42-app-staging"]["DbiResourceId"].clone();
    let out = run(&emu, &copy_args("pr-42-", &["--reset"]), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("copy pr-42-app-staging: created"),
        "{}",
        stderr(&out)
    );
    let reset = emu.describe();
    assert_ne!(reset["pr-42-app-staging"]["DbiResourceId"], reused_id);
    assert_copy(&before, &reset, "pr-42-");

    // Destroy: the copy goes, nothing else; again: nothing to do.
    emu.forget_requests();
    let out = run(
        &emu,
        &["destroy", "--like", "app-staging", "--prefix", "pr-42-"],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(emu.describe(), before);
    assert_untouched(&emu);
    emu.forget_requests();
    let out = run(
        &emu,
        &["destroy", "--like", "app-staging", "--prefix", "pr-42-"],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("already gone"));
    assert!(emu.mutating_actions().is_empty());
}

#[test]
fn destroy_refuses_a_look_alike_and_sweep_takes_only_the_expired() {
    let emu = Emulator::start();
    emu.seed("pg-two-replicas");
    // A hand-made instance named like a copy.
    let tamper = emu.tamper_command("replica app-prod pr-5-app-staging");
    assert!(std::process::Command::new("sh")
        .args(["-c", &tamper])
        .status()
        .unwrap()
        .success());
    emu.control("/_emulator/settle", "{}");
    emu.forget_requests();
    let out = run(
        &emu,
        &["destroy", "--like", "app-staging", "--prefix", "pr-5-"],
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("did not make it"), "{}", stderr(&out));
    assert!(emu.mutating_actions().is_empty());
    assert!(emu.describe().contains_key("pr-5-app-staging"));
    // And copy refuses to take its name.
    let out = run(&emu, &copy_args("pr-5-", &[]), &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(emu.mutating_actions().is_empty());

    // Two copies: one expires in a second, one in a week.
    for (prefix, expires) in [("pr-1-", "1s"), ("pr-2-", "7d")] {
        let out = run(&emu, &copy_args(prefix, &["--expires", expires]), &[]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    std::thread::sleep(std::time::Duration::from_millis(1500));
    emu.forget_requests();
    let out = run(&emu, &["sweep", "--dry-run"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("expired: pr-1-app-staging"));
    assert!(!stdout(&out).contains("pr-2-"));
    assert!(
        emu.mutating_actions().is_empty(),
        "a dry run changed something"
    );
    let out = run(&emu, &["sweep"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let after = emu.describe();
    assert!(
        after.keys().all(|k| !k.starts_with("pr-1-")),
        "{:?}",
        after.keys()
    );
    for id in TEMPLATE {
        assert!(after.contains_key(&format!("pr-2-{id}")));
    }
    assert!(
        after.contains_key("pr-5-app-staging"),
        "sweep deleted the look-alike"
    );
    // Bad expiry and prefix: refused before any call.
    emu.forget_requests();
    for (args, says) in [
        (
            copy_args("pr-3-", &["--expires", "soon"]),
            "is not a duration",
        ),
        (copy_args("3pr-", &[]), "--prefix"),
        (
            vec![
                "copy", "--source", "app-prod", "--like", "app-prod", "--prefix", "pr-3-",
            ],
            "in the source's own tree",
        ),
    ] {
        let out = run(&emu, &args, &[]);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(says), "{args:?}: {}", stderr(&out));
    }
    assert!(emu.mutating_actions().is_empty());
}

#[test]
fn a_cluster_copy_and_its_destroy() {
    let emu = Emulator::start();
    emu.seed("aurora");
    let before = emu.clusters();
    let out = run(
        &emu,
        &[
            "copy", "--source", "pg-prod", "--like", "pg-demo", "--prefix", "pr-8-",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let after = emu.clusters();
    let copy = &after["pr-8-pg-demo"];
    let template = &before["pg-demo"];
    for key in [
        "Port",
        "DBClusterParameterGroup",
        "BackupRetentionPeriod",
        "EngineVersion",
    ] {
        assert_eq!(copy[key], template[key], "{key}");
    }
    assert_eq!(copy["Tags"]["stack-mitosis:role"], "copy");
    assert_eq!(copy["DeletionProtection"], false);
    assert_eq!(
        copy["DBClusterMembers"].as_array().unwrap().len(),
        template["DBClusterMembers"].as_array().unwrap().len()
    );
    assert_eq!(after["pg-demo"], before["pg-demo"]);
    // The source is as it was, but for the clone group it now shares with its copy.
    let mut source = after["pg-prod"].clone();
    source.as_object_mut().unwrap().remove("CloneGroupId");
    assert_eq!(source, before["pg-prod"]);
    assert_ne!(emu.password("pr-8-pg-demo"), emu.password("pg-prod"));
    let out = run(
        &emu,
        &["destroy", "--like", "pg-demo", "--prefix", "pr-8-"],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let gone = emu.clusters();
    assert_eq!(
        gone.keys().collect::<Vec<_>>(),
        before.keys().collect::<Vec<_>>()
    );
    assert_eq!(gone["pg-demo"], before["pg-demo"]);
    assert!(emu.describe().keys().all(|k| !k.starts_with("pr-8-")));
}

/// A copy and a destroy cut off after any mutating call are finished by the rerun.
#[test]
fn crash_matrix_of_copy_and_destroy() {
    let emu = Emulator::start();
    let with_wait = |args: &[&'static str]| {
        let mut all = args.to_vec();
        all.extend_from_slice(WAIT);
        all
    };
    let copy = with_wait(&copy_args("pr-6-", &[]));
    let destroy = with_wait(&["destroy", "--like", "app-staging", "--prefix", "pr-6-"]);
    for (name, setup, crashed) in [
        ("copy", None, &copy),
        ("destroy", Some(&copy[..]), &destroy),
    ] {
        let calls = support::crash_each(
            &emu,
            "pg-two-replicas",
            setup,
            crashed,
            |emu, before, crash_after, _| {
                let after = emu.describe();
                for id in ["app-prod", "app-prod-ro"].into_iter().chain(TEMPLATE) {
                    assert_eq!(
                        before[id], after[id],
                        "{name}: crash after {crash_after}: {id}"
                    );
                }
                if setup.is_none() {
                    assert_copy(before, &after, "pr-6-");
                } else {
                    // Everything but the copy, as it was.
                    let mut kept = before.clone();
                    kept.retain(|id, _| !id.starts_with("pr-6-"));
                    assert_eq!(after, kept, "{name}: crash after {crash_after}");
                }
            },
        );
        assert!(calls >= 3, "{name}: only {calls} calls");
    }
}
