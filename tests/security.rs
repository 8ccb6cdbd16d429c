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
