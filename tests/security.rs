//! The tool's promises against someone who can write tags, guess a name or read a log: hooks
//! get no token they were not given, a stopped run ends its hooks' processes, numbers and files
//! are checked before any AWS call, and secrets stay out of even a trace log.

mod support;

use support::{stderr, Emulator, FAST};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

fn apply_args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "apply",
        "--source",
        "mitosis-prod",
        "--target",
        "mitosis-demo",
    ];
    args.extend_from_slice(extra);
    args.extend_from_slice(FAST);
    args
}

fn temp(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("mitosis-security-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A hook sees the user's variables, not the runner's tokens, the GitHub token input or the
/// MFA code; `--hook-env` passes one of those on purpose.
#[test]
fn hooks_get_the_users_variables_and_no_token_they_were_not_given() {
    let emu = Emulator::start();
    emu.seed("same-vpc");
    let note = emu.note_command("hook-env-ok");
    let check = format!(
        "test \"$MY_SETTING\" = kept \
         && test \"$ACTIONS_ID_TOKEN_REQUEST_TOKEN\" = passed-on-purpose \
         && ! env | grep -q -e '^ACTIONS_RUNTIME_TOKEN=' -e '^INPUT_GITHUB-TOKEN=' -e '^STACK_MITOSIS_MFA_CODE=' \
         && {note}"
    );
    let out = emu.cli_with(
        &apply_args(&[
            "--before-swap",
            &check,
            "--hook-env",
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
        ]),
        &[
            ("MY_SETTING", "kept"),
            ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "passed-on-purpose"),
            ("ACTIONS_RUNTIME_TOKEN", "runtime-token"),
            ("INPUT_GITHUB-TOKEN", "ghs_secret"),
            ("STACK_MITOSIS_MFA_CODE", "123456"),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        emu.record().iter().any(|r| r["note"] == "hook-env-ok"),
        "the hook's check did not pass"
    );
}

/// A run stopped by SIGTERM ends its hook with everything the hook started, and exits 143.
#[test]
fn a_stopped_run_leaves_no_hook_process_behind() {
    let emu = Emulator::start();
    emu.seed("same-vpc");
    let dir = temp("stop");
    let pid_file = dir.join("child");
    let hook = format!("sleep 120 & echo $! > {}; wait", pid_file.display());
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_stack-mitosis"));
    cmd.args(apply_args(&["--before-swap", &hook]))
        .env("AWS_ENDPOINT_URL", &emu.endpoint)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut tool = cmd.spawn().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let child: i32 = loop {
        if let Some(pid) = std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|s| s.trim().parse().ok())
        {
            break pid;
        }
        assert!(std::time::Instant::now() < deadline, "the hook never ran");
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    // SAFETY: a signal to the tool this test started.
    unsafe { libc::kill(tool.id() as i32, libc::SIGTERM) };
    let status = tool.wait().unwrap();
    assert_eq!(status.code(), Some(143));
    let running = (0..100).all(|_| {
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::read_to_string(format!("/proc/{child}/stat"))
            .ok()
            .and_then(|s| s.rsplit_once(')').map(|(_, r)| r.trim().to_string()))
            .is_some_and(|r| !r.starts_with('Z'))
    });
    std::fs::remove_dir_all(&dir).ok();
    assert!(
        !running,
        "the hook's child {child} outlived the stopped tool"
    );
}

/// Numbers and files are checked before any AWS call: exit 2, a message that says what to do,
/// and nothing asked of AWS at all.
#[test]
fn numbers_and_files_are_checked_before_any_aws_call() {
    let emu = Emulator::start();
    emu.seed("same-vpc");
    let dir = temp("inputs");
    let negative = dir.join("latency.json");
    std::fs::write(&negative, r#"{"rename": -5}"#).unwrap();
    let link = dir.join("password");
    std::os::unix::fs::symlink(dir.join("elsewhere"), &link).unwrap();
    let negative_arg = negative.to_str().unwrap().to_string();
    let link_arg = link.to_str().unwrap().to_string();
    let copy = |extra: &[&'static str]| -> Vec<String> {
        let mut a: Vec<String> = [
            "copy",
            "--source",
            "mitosis-prod",
            "--like",
            "mitosis-demo",
            "--prefix",
            "pr-1-",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let apply = |extra: &[&str]| -> Vec<String> {
        apply_args(extra).iter().map(|s| s.to_string()).collect()
    };
    type Case<'a> = (Vec<String>, Vec<(&'a str, &'a str)>, &'a str);
    let cases: Vec<Case> = vec![
        (
            apply(&["--latency-model", &negative_arg]),
            vec![],
            "rename is -5",
        ),
        (copy(&["--expires", "9999999999w"]), vec![], "--expires"),
        (
            copy(&["--expires", "400d"]),
            vec![],
            "longer than a copy may live",
        ),
        (apply(&[]), vec![("AWS_MAX_ATTEMPTS", "0")], "max-attempts"),
        (apply(&[]), vec![("AWS_MAX_ATTEMPTS", "21")], "max-attempts"),
        (
            apply(&["--notify", "http://hooks.example.com/x"]),
            vec![],
            "plain http",
        ),
        (
            apply(&["--notify", "https://user:pw@hooks.example.com/x"]),
            vec![],
            "user name or password",
        ),
        (
            apply(&["--report-json", "/no/such/dir/report.json"]),
            vec![],
            "--report-json",
        ),
        (
            {
                let mut a = copy(&[]);
                a.extend(["--password-file".to_string(), link_arg.clone()]);
                a
            },
            vec![],
            "symbolic link",
        ),
        (
            {
                let mut a = apply(&[]);
                a.extend(["--role-arn".to_string(), "refresh-role".to_string()]);
                a
            },
            vec![],
            "is not a role ARN",
        ),
        (
            {
                let mut a = apply(&[]);
                a.extend([
                    "--role-arn".to_string(),
                    "arn:aws:iam::123456789012:role/refresh".to_string(),
                    "--role-duration-seconds".to_string(),
                    "60".to_string(),
                ]);
                a
            },
            vec![],
            "a role session lasts 900 to 43200 seconds",
        ),
    ];
    for (args, env, says) in cases {
        emu.forget_requests();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = emu.cli_with(&args, &env);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(says), "{args:?}: {}", stderr(&out));
        assert_eq!(emu.actions(), Vec::<String>::new(), "{args:?} called AWS");
    }
    assert!(!dir.join("elsewhere").exists());
    std::fs::remove_dir_all(&dir).ok();
}

/// At trace level the log shows neither the webhook's URL nor its path (the secret part).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trace_log_never_shows_the_webhook() {
    let hook = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&hook)
        .await;
    let emu = Emulator::start();
    emu.seed("same-vpc");
    let url = format!("{}/services/T000/B000/webhook-secret-path", hook.uri());
    let out = emu.cli_with(
        &apply_args(&["--notify", &url]),
        &[("STACK_MITOSIS_LOG", "trace")],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!hook
        .received_requests()
        .await
        .unwrap_or_default()
        .is_empty());
    let log = stderr(&out);
    assert!(log.len() > 10_000, "not a trace log: {} bytes", log.len());
    assert!(
        !log.contains("webhook-secret-path"),
        "the webhook is in the log"
    );
}

fn tamper(emu: &Emulator, args: &str) {
    let status = std::process::Command::new("sh")
        .args(["-c", &emu.tamper_command(args)])
        .status()
        .unwrap();
    assert!(status.success(), "tamper {args}");
    emu.control("/_emulator/settle", "{}");
}

/// The marks of an expired copy with prefix `mitosis-`, as anyone with tagging rights can
/// write them on production.
fn forged_copy_marks(original: &str, run: &str, extra: &str) -> String {
    format!(
        "stack-mitosis:role=copy stack-mitosis:original={original} stack-mitosis:prefix=mitosis- stack-mitosis:expires=2020-01-01T00:00:00Z stack-mitosis:run={run} {extra}"
    )
}

/// Production dressed as an expired copy is not swept: tagged protected, it is passed over;
/// without a run its marks are refused; with deletion protection on, a sweep leaves it. In
/// each case nothing at all is changed (its deletion protection is never switched off), the
/// sweep says why in its own words, and it exits 0.
#[test]
fn sweep_passes_over_production_dressed_as_an_expired_copy() {
    let emu = Emulator::start();
    emu.seed("same-vpc");
    let run = "20200101T000000Z-0000";
    for (extra, says) in [
        (
            "stack-mitosis:protected=true",
            "stack-mitosis:protected=true",
        ),
        ("stack-mitosis:protected=false stack-mitosis:run=", "no run"),
        (
            &format!("stack-mitosis:run={run}") as &str,
            "deletion protection is on",
        ),
    ] {
        tamper(
            &emu,
            &format!("tag mitosis-prod {}", forged_copy_marks("prod", run, extra)),
        );
        tamper(
            &emu,
            &format!(
                "tag mitosis-prod-replica {}",
                forged_copy_marks("prod-replica", run, extra)
            ),
        );
        emu.forget_requests();
        let out = emu.cli(&["sweep"]);
        assert!(out.status.success(), "{extra}: {}", stderr(&out));
        let log = stderr(&out);
        assert!(
            log.contains("sweep skips \"mitosis-prod\""),
            "{extra}: {log}"
        );
        assert!(log.contains(says), "{extra}: {log}");
        assert_eq!(emu.mutating_actions(), Vec::<String>::new(), "{extra}");
        let prod = &emu.describe()["mitosis-prod"];
        assert_eq!(prod["DeletionProtection"], true);
        assert_eq!(prod["DBInstanceStatus"], "available");
    }
}

/// A production bucket tagged as an expired copy whose name is not its prefix and template
/// is not swept: no object of it is deleted.
#[test]
fn sweep_passes_over_a_bucket_dressed_as_an_expired_copy() {
    let emu = Emulator::start();
    emu.seed("environment-small");
    let before = emu.buckets()["acme-prod-uploads"].clone();
    tamper(
        &emu,
        "tag-bucket acme-prod-uploads stack-mitosis:role=copy stack-mitosis:original=uploads stack-mitosis:prefix=pr-9- stack-mitosis:expires=2020-01-01T00:00:00Z stack-mitosis:run=20200101T000000Z-0000",
    );
    emu.forget_requests();
    let out = emu.cli(&["sweep"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("sweep skips the bucket acme-prod-uploads"),
        "{}",
        stderr(&out)
    );
    assert_eq!(emu.mutating_actions(), Vec::<String>::new());
    assert_eq!(emu.buckets()["acme-prod-uploads"], before);
}

fn copy_of_small(emu: &Emulator, prefix: &str) -> std::process::Output {
    let config = support::repo().join("tests/scenarios/environment-small.toml");
    emu.cli(&[
        "copy",
        "--config",
        config.to_str().unwrap(),
        "--source",
        "production",
        "--like",
        "demo",
        "--prefix",
        prefix,
        "--poll-interval",
        "0.02",
        "--max-poll-interval",
        "0.05",
    ])
}

/// `copy --config` never takes a bucket it did not make in this run: one of the copy's name
/// with two of the copy's tags, an empty untagged one, or one another account made first
/// (names are global) is refused with nothing written; and a copy it does make passes the
/// expected owners on every S3 call.
#[test]
fn a_copy_takes_no_bucket_it_did_not_make() {
    let emu = Emulator::start();
    emu.seed("environment-small");
    let squat = [
        (
            "pr-1-",
            "tag-bucket pr-1-acme-demo-uploads stack-mitosis:role=copy stack-mitosis:prefix=pr-1-",
            "pick another --prefix",
        ),
        ("pr-2-", "tag-bucket pr-2-acme-demo-uploads", "pick another --prefix"),
        (
            "pr-3-",
            "bucket-in 222222222222 pr-3-acme-demo-uploads stack-mitosis:role=copy stack-mitosis:original=acme-demo-uploads stack-mitosis:prefix=pr-3-",
            "another account may own one of this name",
        ),
    ];
    for (prefix, made, says) in squat {
        tamper(&emu, made);
        emu.forget_requests();
        let out = copy_of_small(&emu, prefix);
        assert_eq!(out.status.code(), Some(2), "{prefix}: {}", stderr(&out));
        assert!(stderr(&out).contains(says), "{prefix}: {}", stderr(&out));
        assert_eq!(emu.mutating_actions(), Vec::<String>::new(), "{prefix}");
    }

    // A copy of its own: every S3 call names the account that must own the bucket.
    emu.forget_requests();
    let out = copy_of_small(&emu, "pr-4-");
    assert!(out.status.success(), "{}", stderr(&out));
    let s3_calls: Vec<serde_json::Value> = emu
        .record()
        .into_iter()
        .filter(|r| r["params"].get("Bucket").is_some())
        .collect();
    assert!(s3_calls.len() > 5, "{s3_calls:?}");
    for call in &s3_calls {
        let (action, params) = (call["action"].as_str().unwrap(), &call["params"]);
        if matches!(action, "CreateBucket" | "ListBuckets") {
            continue;
        }
        assert_eq!(params["ExpectedBucketOwner"], "123456789012", "{call}");
        if params.get("CopySource").is_some() {
            assert_eq!(
                params["ExpectedSourceBucketOwner"], "123456789012",
                "{call}"
            );
        }
    }
}

/// `iam-policy` and `plan` refuse a copy prefix whose names reach production; the policy of a
/// good prefix deletes only what carries the copy's tags.
#[test]
fn a_policy_cannot_reach_production() {
    let emu = Emulator::start();
    emu.seed("same-vpc");
    let policy = |prefix: &str| {
        emu.cli(&[
            "iam-policy",
            "--source",
            "mitosis-prod",
            "--like",
            "mitosis-demo",
            "--prefix",
            prefix,
        ])
    };
    let out = policy("mitosis-");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("mitosis-prod"), "{}", stderr(&out));
    let out = policy("pr-5-");
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let destroy = doc["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Sid"] == "DestroyCopies")
        .unwrap()
        .clone();
    let condition = &destroy["Condition"];
    assert_eq!(
        condition["StringEquals"]["aws:ResourceTag/stack-mitosis:role"],
        "copy"
    );
    assert_eq!(
        condition["StringLike"]["aws:ResourceTag/stack-mitosis:prefix"],
        "pr-5-"
    );
    assert_eq!(
        condition["StringNotEqualsIgnoreCase"]["aws:ResourceTag/stack-mitosis:protected"],
        "true"
    );
    assert_eq!(emu.mutating_actions(), Vec::<String>::new());
}

/// Production named as the target by mistake (deletion protection on, a production tag) is
/// refused before any change; `--allow-protected-target` replaces it, and the flight plan
/// says so first.
#[test]
fn production_named_as_the_target_is_refused_unless_allowed() {
    let emu = Emulator::start();
    emu.seed("same-vpc");
    tamper(&emu, "tag mitosis-demo environment=Production");
    emu.forget_requests();
    let out = emu.cli_with(&apply_args(&[]), &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("is tagged environment=Production")
            && stderr(&out).contains("--allow-protected-target"),
        "{}",
        stderr(&out)
    );
    assert_eq!(emu.mutating_actions(), Vec::<String>::new());
    let out = emu.cli(&[
        "plan",
        "--format",
        "text",
        "--source",
        "mitosis-prod",
        "--target",
        "mitosis-demo",
        "--allow-protected-target",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let first = support::stdout(&out)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string();
    assert!(
        first.contains("--allow-protected-target") && first.contains("environment=Production"),
        "{first}"
    );
    let out = emu.cli_with(&apply_args(&["--allow-protected-target"]), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
}
