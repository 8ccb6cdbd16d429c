//! The Action end to end: the binary in action mode against the emulator, a stateful GitHub
//! API stand-in (wiremock) and a loopback OIDC token endpoint; checks on the written outputs,
//! summary and log commands; bad inputs refused before any AWS call.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use support::Emulator;
use wiremock::matchers::{body_string_contains, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

struct Workspace {
    dir: PathBuf,
}

impl Workspace {
    fn new(name: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("mitosis-action-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Workspace { dir }
    }
    fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.file(name)).unwrap_or_default()
    }
}

impl Drop for Workspace {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn action(emu: &Emulator, ws: &Workspace, env: &[(&str, String)]) -> Output {
    action_with_args(emu, ws, env, &["action"])
}

fn action_with_args(
    emu: &Emulator,
    ws: &Workspace,
    env: &[(&str, String)],
    args: &[&str],
) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_stack-mitosis"));
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_ENDPOINT_URL", &emu.endpoint)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_OUTPUT", ws.file("output"))
        .env("GITHUB_STEP_SUMMARY", ws.file("summary"))
        .env("GITHUB_REPOSITORY", "acme/infra")
        .env("GITHUB_SERVER_URL", "https://github.example")
        .env("GITHUB_RUN_ID", "42")
        .env("INPUT_AWS-REGION", "us-east-1")
        .env("INPUT_COMMENT", "auto");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run the action")
}

fn pr_event(ws: &Workspace, number: u64) -> String {
    let p = ws.file("event.json");
    std::fs::write(
        &p,
        format!(
            r#"{{"action":"synchronize","number":{number},"pull_request":{{"number":{number}}}}}"#
        ),
    )
    .unwrap();
    p.display().to_string()
}

/// Parses `$GITHUB_OUTPUT` (both `name=value` and `name<<DELIM` forms).
fn outputs(text: &str) -> std::collections::BTreeMap<String, String> {
    let mut out = std::collections::BTreeMap::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if let Some((name, delim)) = line.split_once("<<") {
            let mut value = Vec::new();
            for l in lines.by_ref() {
                if l == delim {
                    break;
                }
                value.push(l);
            }
            out.insert(name.to_string(), value.join("\n"));
        } else if let Some((k, v)) = line.split_once('=') {
            out.insert(k.to_string(), v.to_string());
        }
    }
    out
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The log of a run that must have succeeded (exit 0).
fn succeeded(out: Output) -> String {
    let log = stdout(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{log}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    log
}

/// A `workflow_dispatch` run of `mode: apply` with `inputs` (and a token, fast polling) that
/// must succeed: its log.
fn dispatch_apply(emu: &Emulator, ws: &Workspace, inputs: &[(&'static str, String)]) -> String {
    let mut env = vec![("INPUT_MODE", "apply".to_string())];
    env.extend(inputs.iter().cloned());
    env.extend([
        ("INPUT_GITHUB-TOKEN", "ghs_unused".to_string()),
        ("GITHUB_EVENT_NAME", "workflow_dispatch".into()),
        ("STACK_MITOSIS_POLL_INTERVAL", "0.02".into()),
    ]);
    succeeded(action(emu, ws, &env))
}

async fn oidc_server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/idtoken"))
        .and(query_param("api-version", "2.0"))
        .and(query_param("audience", "sts.amazonaws.com"))
        .and(header("authorization", "Bearer request-token-123"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_string(r#"{"value":"header.jwt-payload-456.signature"}"#),
        )
        .expect(1..)
        .mount(&server)
        .await;
    server
}

fn rds_mutations(emu: &Emulator) -> Vec<String> {
    emu.mutating_actions()
        .into_iter()
        .filter(|a| a != "AssumeRoleWithWebIdentity")
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_request_plan_updates_the_sticky_comment_found_on_a_later_page() {
    let emu = Emulator::start();
    emu.seed("same-vpc");
    let ws = Workspace::new("pr");
    let oidc = oidc_server().await;
    let github = MockServer::start().await;
    // Page 1: 100 unrelated comments; page 2: the plan comment of this target.
    let page1: Vec<serde_json::Value> = (1..=100)
        .map(|i| serde_json::json!({"id": i, "body": "lgtm"}))
        .collect();
    Mock::given(method("GET"))
        .and(path("/repos/acme/infra/issues/7/comments"))
        .and(query_param("page", "1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page1))
        .mount(&github)
        .await;
    Mock::given(method("GET"))
        .and(path("/repos/acme/infra/issues/7/comments"))
        .and(query_param("page", "2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!([
            {"id": 9001, "body": "<!-- stack-mitosis:plan target=mitosis-demo -->\nold plan",
             "user": {"login": "github-actions[bot]"}}
        ])))
        .mount(&github)
        .await;
    Mock::given(method("PATCH"))
        .and(path("/repos/acme/infra/issues/comments/9001"))
        .and(body_string_contains(
            "stack-mitosis:plan target=mitosis-demo",
        ))
        .and(body_string_contains("Flight plan"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"id": 9001})))
        .expect(1)
        .mount(&github)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&github)
        .await;

    let env = vec![
        ("INPUT_MODE", "plan".to_string()),
        ("INPUT_SOURCE", "mitosis-prod".into()),
        ("INPUT_TARGET", "mitosis-demo".into()),
        (
            "INPUT_ROLE-TO-ASSUME",
            "arn:aws:iam::123456789012:role/refresh-demo".into(),
        ),
        ("INPUT_GITHUB-TOKEN", "ghs_secret_token_789".into()),
        ("GITHUB_EVENT_NAME", "pull_request".into()),
        ("GITHUB_EVENT_PATH", pr_event(&ws, 7)),
        ("GITHUB_API_URL", github.uri()),
        (
            "ACTIONS_ID_TOKEN_REQUEST_URL",
            format!("{}/idtoken?api-version=2.0", oidc.uri()),
        ),
        ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "request-token-123".into()),
    ];
    let mut traced = env.clone();
    traced.push(("STACK_MITOSIS_LOG", "trace".into()));
    let out = action(&emu, &ws, &traced);
    let trace = String::from_utf8_lossy(&out.stderr).into_owned();
    let log = succeeded(out);
    assert!(
        trace.len() > 10_000,
        "not a trace log: {} bytes",
        trace.len()
    );
    for secret in ["request-token-123", "ghs_secret_token_789"] {
        assert!(!trace.contains(secret), "{secret} in the trace log");
    }

    let o = outputs(&ws.read("output"));
    assert_eq!(o["result"], "succeeded");
    let plan: serde_json::Value = serde_json::from_str(&o["plan"]).unwrap();
    assert_eq!(plan["version"], 1);
    assert_eq!(plan["target"], "mitosis-demo");
    assert!(o.contains_key("duration-seconds"));
    assert!(ws.read("output").contains("plan<<ghadelimiter_"));
    let summary = ws.read("summary");
    assert!(summary.contains("### Flight plan: refresh `mitosis-demo` from `mitosis-prod`"));
    assert!(summary.len() <= 1024 * 1024);

    // Secrets appear only in mask commands.
    for secret in [
        "ghs_secret_token_789",
        "request-token-123",
        "header.jwt-payload-456.signature",
    ] {
        assert!(
            log.contains(&format!("::add-mask::{secret}")),
            "{secret} not masked"
        );
        assert_eq!(
            log.matches(secret).count(),
            1,
            "{secret} printed outside its mask command"
        );
    }
    assert!(emu
        .actions()
        .contains(&"AssumeRoleWithWebIdentity".to_string()));
    assert_eq!(
        rds_mutations(&emu),
        Vec::<String>::new(),
        "plan mode changed AWS"
    );
    drop(github);
    drop(oidc);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_plan_on_a_pull_request_creates_the_comment() {
    let emu = Emulator::start();
    emu.seed("same-vpc");
    let ws = Workspace::new("first");
    let github = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/repos/acme/infra/issues/8/comments"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(serde_json::json!([{"id": 1, "body": "hi"}])),
        )
        .mount(&github)
        .await;
    Mock::given(method("POST"))
        .and(path("/repos/acme/infra/issues/8/comments"))
        .and(body_string_contains(
            "<!-- stack-mitosis:plan target=mitosis-demo -->",
        ))
        .and(header("authorization", "Bearer ghs_token"))
        .respond_with(ResponseTemplate::new(201).set_body_json(serde_json::json!({"id": 77})))
        .expect(1)
        .mount(&github)
        .await;
    let env = vec![
        ("INPUT_SOURCE", "mitosis-prod".to_string()),
        ("INPUT_TARGET", "mitosis-demo".into()),
        ("INPUT_GITHUB-TOKEN", "ghs_token".into()),
        ("GITHUB_EVENT_NAME", "pull_request".into()),
        ("GITHUB_EVENT_PATH", pr_event(&ws, 8)),
        ("GITHUB_API_URL", github.uri()),
    ];
    let out = action(&emu, &ws, &env);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert_eq!(rds_mutations(&emu), Vec::<String>::new());
    drop(github);
}

/// The PR's comments: one by someone else that carries the marker, and, with `own`, the
/// tool's own (id 9002). Pull request 9.
async fn comments_with_a_planted_marker(own: bool) -> MockServer {
    let github = MockServer::start().await;
    let mut comments = vec![serde_json::json!({
        "id": 666, "user": {"login": "mallory"},
        "body": "<!-- stack-mitosis:plan target=mitosis-demo -->\nlooks like the plan"
    })];
    if own {
        comments.push(serde_json::json!({
            "id": 9002, "user": {"login": "github-actions[bot]"},
            "body": "<!-- stack-mitosis:plan target=mitosis-demo -->\nold plan"
        }));
    }
    Mock::given(method("GET"))
        .and(path("/repos/acme/infra/issues/9/comments"))
        .respond_with(ResponseTemplate::new(200).set_body_json(comments))
        .mount(&github)
        .await;
    // The workflow's token may not read /user (an installation token).
    Mock::given(method("GET"))
        .and(path("/user"))
        .respond_with(ResponseTemplate::new(403).set_body_json(
            serde_json::json!({"message": "Resource not accessible by integration"}),
        ))
        .mount(&github)
        .await;
    Mock::given(method("PATCH"))
        .and(path("/repos/acme/infra/issues/comments/666"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"id": 666})))
        .expect(0)
        .mount(&github)
        .await;
    github
}

fn plan_on_pr_9(emu: &Emulator, ws: &Workspace, github: &MockServer) -> Output {
    let env = vec![
        ("INPUT_SOURCE", "mitosis-prod".to_string()),
        ("INPUT_TARGET", "mitosis-demo".into()),
        ("INPUT_GITHUB-TOKEN", "ghs_token".into()),
        ("GITHUB_EVENT_NAME", "pull_request".into()),
        ("GITHUB_EVENT_PATH", pr_event(ws, 9)),
        ("GITHUB_API_URL", github.uri()),
    ];
    action(emu, ws, &env)
}

/// Someone else's comment with the marker is never rewritten: the tool writes its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_comment_of_someone_else_with_the_marker_is_left_alone() {
    let emu = Emulator::start();
    emu.seed("same-vpc");
    let ws = Workspace::new("planted");
    let github = comments_with_a_planted_marker(false).await;
    Mock::given(method("POST"))
        .and(path("/repos/acme/infra/issues/9/comments"))
        .respond_with(ResponseTemplate::new(201).set_body_json(serde_json::json!({"id": 78})))
        .expect(1)
        .mount(&github)
        .await;
    let out = plan_on_pr_9(&emu, &ws, &github);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    drop(github);
}

/// The tool's own comment is updated; when the update is refused, a new comment is written;
/// when no comment can be written, the run warns and goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_comment_that_cannot_be_updated_is_written_anew_and_one_that_cannot_be_written_warns() {
    let emu = Emulator::start();
    emu.seed("same-vpc");
    let ws = Workspace::new("refused");
    let github = comments_with_a_planted_marker(true).await;
    Mock::given(method("PATCH"))
        .and(path("/repos/acme/infra/issues/comments/9002"))
        .respond_with(
            ResponseTemplate::new(404).set_body_json(serde_json::json!({"message": "Not Found"})),
        )
        .expect(1)
        .mount(&github)
        .await;
    Mock::given(method("POST"))
        .and(path("/repos/acme/infra/issues/9/comments"))
        .respond_with(ResponseTemplate::new(201).set_body_json(serde_json::json!({"id": 79})))
        .expect(1)
        .mount(&github)
        .await;
    let out = plan_on_pr_9(&emu, &ws, &github);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    drop(github);

    // Nothing can be written: a warning, and the plan still succeeds.
    let github = comments_with_a_planted_marker(false).await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(403).set_body_json(
            serde_json::json!({"message": "Resource not accessible by integration"}),
        ))
        .mount(&github)
        .await;
    let out = plan_on_pr_9(&emu, &ws, &github);
    let log = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{log}");
    assert!(
        log.contains("::warning::the flight plan was not posted on pull request #9"),
        "{log}"
    );
    assert_eq!(outputs(&ws.read("output"))["result"], "succeeded");
    drop(github);
}

/// A hook command is shown as written in the log, inside a block the runner does not read
/// commands from, and in the summary without markup, links or mentions; `redact-commands`
/// shows its first word and a hash only.
#[test]
fn hook_commands_are_shown_never_obeyed() {
    let emu = Emulator::start();
    emu.seed("same-vpc");
    let ws = Workspace::new("verbatim");
    let command = "echo ok\n::add-mask::planted <img src=x> [link](https://x.example) @octocat";
    let env = vec![
        ("INPUT_MODE", "plan".to_string()),
        ("INPUT_SOURCE", "mitosis-prod".to_string()),
        ("INPUT_TARGET", "mitosis-demo".into()),
        ("INPUT_RESTART", command.into()),
        ("GITHUB_EVENT_NAME", "workflow_dispatch".into()),
    ];
    let log = succeeded(action(&emu, &ws, &env));
    let planted = log
        .find("\n::add-mask::planted")
        .expect("the command is shown");
    let stop = log
        .find("::stop-commands::")
        .expect("a stop-commands block");
    let token = log[stop + "::stop-commands::".len()..]
        .lines()
        .next()
        .unwrap();
    assert!(token.len() >= 32, "a guessable token: {token:?}");
    let resume = log.find(&format!("::{token}::")).expect("commands resumed");
    assert!(stop < planted && planted < resume, "{log}");
    let summary = ws.read("summary");
    for raw in ["<img", "[link]", "@octocat"] {
        assert!(!summary.contains(raw), "{raw} in the summary: {summary}");
    }
    assert!(summary.contains("&lt;img"), "{summary}");

    let mut env = env;
    env.push(("INPUT_REDACT-COMMANDS", "true".into()));
    let ws = Workspace::new("redacted");
    let log = succeeded(action(&emu, &ws, &env));
    let summary = ws.read("summary");
    for shown in [&log, &summary, &ws.read("output")] {
        assert!(!shown.contains("planted"), "{shown}");
        assert!(shown.contains("echo … (redacted, sha256 "), "{shown}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dispatch_apply_refreshes_and_writes_report_outputs() {
    let emu = Emulator::start();
    emu.seed("same-vpc");
    let ws = Workspace::new("apply");
    let log = dispatch_apply(
        &emu,
        &ws,
        &[
            ("INPUT_SOURCE", "mitosis-prod".into()),
            ("INPUT_TARGET", "mitosis-demo".into()),
            (
                "INPUT_RESTART",
                "echo restarted $STACK_MITOSIS_TARGET".into(),
            ),
        ],
    );
    assert!(
        log.contains("::group::Build the clone")
            && log.contains("::group::Swap")
            && log.contains("::endgroup::")
    );
    assert_eq!(
        log.matches("::group::").count(),
        log.matches("::endgroup::").count()
    );
    let o = outputs(&ws.read("output"));
    assert_eq!(o["result"], "succeeded");
    assert_eq!(
        o["endpoint"],
        "mitosis-demo.aaaaaaaaaa.us-east-1.rds.amazonaws.com:6432"
    );
    let report: serde_json::Value = serde_json::from_str(&o["report"]).unwrap();
    assert_eq!(report["result"], "succeeded");
    assert!(ws
        .read("summary")
        .contains("### Refresh of `mitosis-demo` from `mitosis-prod`: **succeeded**"));
    let after = emu.describe();
    assert!(after
        .keys()
        .all(|k| !k.starts_with("old-") && !k.starts_with("temp-")));
}

#[test]
fn without_arguments_in_actions_the_binary_is_the_action() {
    let emu = Emulator::start();
    emu.seed("same-vpc");
    let ws = Workspace::new("detect");
    let env = vec![
        ("INPUT_SOURCE", "mitosis-prod".to_string()),
        ("INPUT_TARGET", "mitosis-demo".into()),
        ("GITHUB_EVENT_NAME", "workflow_dispatch".into()),
    ];
    let out = action_with_args(&emu, &ws, &env, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert_eq!(outputs(&ws.read("output"))["result"], "succeeded");
}

#[test]
fn bad_inputs_fail_with_an_error_naming_the_input_and_no_aws_call() {
    let emu = Emulator::start();
    emu.seed("same-vpc");
    let ws = Workspace::new("bad");
    let event = pr_event(&ws, 3);
    let base = vec![
        ("INPUT_SOURCE", "mitosis-prod".to_string()),
        ("INPUT_TARGET", "mitosis-demo".to_string()),
        ("INPUT_GITHUB-TOKEN", "ghs_x".to_string()),
    ];
    let cases: Vec<(Vec<(&str, String)>, &str)> = vec![
        (
            vec![("INPUT_SOURCE", String::new())],
            "::error title=Invalid input%3A source::",
        ),
        (
            vec![("INPUT_MODE", "obliterate".into())],
            "::error title=Invalid input%3A mode::",
        ),
        (
            vec![("INPUT_RESTORE-SNAPSHOT", "yes".into())],
            "::error title=Invalid input%3A restore-snapshot::",
        ),
        (
            vec![(
                "INPUT_ROLE-TO-ASSUME",
                "arn:aws:iam::123456789012:role/r".into(),
            )],
            "add `permissions: id-token: write`",
        ),
        (
            vec![
                ("INPUT_GITHUB-TOKEN", String::new()),
                ("GITHUB_EVENT_NAME", "pull_request".into()),
                ("GITHUB_EVENT_PATH", event.clone()),
            ],
            "::error title=Invalid input%3A github-token::",
        ),
    ];
    for (overrides, says) in cases {
        let mut env = base.clone();
        for (k, v) in overrides {
            env.retain(|(key, _)| *key != k);
            env.push((k, v));
        }
        let out = action(&emu, &ws, &env);
        assert_eq!(out.status.code(), Some(2), "{env:?}: {}", stdout(&out));
        assert!(
            stdout(&out).contains(says),
            "{env:?}: expected {says} in {}",
            stdout(&out)
        );
        assert_eq!(emu.actions(), Vec::<String>::new(), "{env:?} reached AWS");
    }
    assert!(
        !Path::new(&ws.file("output")).exists(),
        "outputs written on bad input"
    );
}

/// Each renewal asks the runner for a new token (it lives minutes; the request token lasts the
/// job) and assumes the role again; the SDK's identity cache asks five minutes before expiry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_renewal_fetches_a_fresh_oidc_token() {
    use aws_credential_types::provider::ProvideCredentials;
    let emu = Emulator::start();
    let oidc = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/idtoken"))
        .and(query_param("audience", "sts.amazonaws.com"))
        .and(header("authorization", "Bearer request-token-123"))
        .respond_with(ResponseTemplate::new(200).set_body_string(r#"{"value":"jwt"}"#))
        .expect(2)
        .mount(&oidc)
        .await;
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .no_credentials()
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(&emu.endpoint)
        .load()
        .await;
    let role = stack_mitosis::github::oidc::OidcRole {
        request_url: format!("{}/idtoken?api-version=2.0", oidc.uri()),
        request_token: "request-token-123".into(),
        role_arn: "arn:aws:iam::123456789012:role/refresh".into(),
        session_name: "GitHubActions".into(),
        duration_seconds: 900,
        sts: aws_sdk_sts::Client::new(&config),
        mask: |_| {},
    };
    let first = role.provide_credentials().await.expect("credentials");
    let second = role.provide_credentials().await.expect("credentials");
    assert!(first.expiry().is_some());
    assert!(second.session_token().is_some());
    let assumed = emu
        .actions()
        .iter()
        .filter(|a| *a == "AssumeRoleWithWebIdentity")
        .count();
    assert_eq!(assumed, 2);
    drop(oidc);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trust_policy_mismatch_is_explained() {
    let emu = Emulator::start();
    emu.seed("same-vpc");
    let ws = Workspace::new("trust");
    let oidc = oidc_server().await;
    emu.control(
        "/_emulator/faults",
        r#"{"action": "AssumeRoleWithWebIdentity", "count": 10, "code": "AccessDenied", "status": 403}"#,
    );
    let env = vec![
        ("INPUT_SOURCE", "mitosis-prod".to_string()),
        ("INPUT_TARGET", "mitosis-demo".into()),
        (
            "INPUT_ROLE-TO-ASSUME",
            "arn:aws:iam::123456789012:role/refresh-demo".into(),
        ),
        ("GITHUB_EVENT_NAME", "workflow_dispatch".into()),
        (
            "ACTIONS_ID_TOKEN_REQUEST_URL",
            format!("{}/idtoken?api-version=2.0", oidc.uri()),
        ),
        ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "request-token-123".into()),
    ];
    let out = action(&emu, &ws, &env);
    let log = stdout(&out);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        log.contains("::error") && log.contains("trust policy"),
        "{log}"
    );
    assert_eq!(rds_mutations(&emu), Vec::<String>::new());
}

/// The Action runs with the process's AWS settings, as the command line does: the attempts
/// per call from `AWS_MAX_ATTEMPTS` and the region from `--region` (it used to retry 8 times
/// whatever was set, and to ignore `--region`).
#[test]
fn the_action_honours_the_aws_settings_of_the_command_line() {
    let emu = Emulator::start();
    emu.seed("same-vpc");
    let ws = Workspace::new("aws-settings");
    let env = vec![
        ("INPUT_SOURCE", "mitosis-prod".to_string()),
        ("INPUT_TARGET", "mitosis-demo".into()),
        ("GITHUB_EVENT_NAME", "workflow_dispatch".into()),
        ("AWS_MAX_ATTEMPTS", "1".into()),
    ];
    // One server error: with a single attempt per call it is not retried.
    emu.control(
        "/_emulator/faults",
        r#"{"action": "DescribeDBInstances", "count": 1, "code": "InternalFailure", "status": 500}"#,
    );
    let out = action(&emu, &ws, &env);
    assert_eq!(out.status.code(), Some(3), "{}", stdout(&out));
    assert!(stdout(&out).contains("::error"), "{}", stdout(&out));

    // No region input and no AWS_REGION: the global --region flag gives it.
    let ws = Workspace::new("aws-region-flag");
    let mut env = env;
    env.retain(|(k, _)| *k != "AWS_MAX_ATTEMPTS");
    env.push(("INPUT_AWS-REGION", String::new()));
    let out = action_with_args(&emu, &ws, &env, &["--region", "us-east-1", "action"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert_eq!(outputs(&ws.read("output"))["result"], "succeeded");
}

/// The three-step workflow: apply `until: swap`, (restart with the runner's own tools), then
/// either apply again to finish or `mode: rollback` on failure; `phase` says where it stopped.
#[test]
fn apply_until_swap_then_roll_back_in_action_mode() {
    let emu = Emulator::start();
    emu.seed("same-vpc");
    let before = emu.describe();
    let base = vec![
        ("INPUT_SOURCE", "mitosis-prod".to_string()),
        ("INPUT_TARGET", "mitosis-demo".into()),
        ("GITHUB_EVENT_NAME", "workflow_dispatch".into()),
        ("STACK_MITOSIS_POLL_INTERVAL", "0.02".into()),
    ];
    let ws = Workspace::new("until-swap");
    let mut env = base.clone();
    env.extend([
        ("INPUT_MODE", "apply".to_string()),
        ("INPUT_UNTIL", "swap".into()),
    ]);
    let out = action(&emu, &ws, &env);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let o = outputs(&ws.read("output"));
    assert_eq!(
        (o["result"].as_str(), o["phase"].as_str()),
        ("succeeded", "swap")
    );
    assert!(emu.describe().contains_key("old-mitosis-demo"));

    let ws = Workspace::new("rollback");
    let mut env = base;
    env.push(("INPUT_MODE", "rollback".to_string()));
    let out = action(&emu, &ws, &env);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert_eq!(outputs(&ws.read("output"))["result"], "succeeded");
    let after = emu.describe();
    assert_eq!(
        before["mitosis-demo"]["DbiResourceId"],
        after["mitosis-demo"]["DbiResourceId"]
    );
    assert!(after
        .keys()
        .all(|k| !k.starts_with("old-") && !k.starts_with("temp-")));
}

/// The Action refreshes an Aurora cluster like an instance tree: its outputs give the
/// cluster's writer endpoint, its summary says how the clone was made; the target's password
/// from `master-password-secret` is masked.
#[test]
fn dispatch_apply_refreshes_an_aurora_cluster() {
    let emu = Emulator::start();
    emu.seed("aurora");
    let ws = Workspace::new("apply-cluster");
    let log = dispatch_apply(
        &emu,
        &ws,
        &[
            ("INPUT_SOURCE", "pg-prod".into()),
            ("INPUT_TARGET", "pg-demo".into()),
            // pg-demo has deletion protection on: replaced on purpose.
            ("INPUT_ALLOW-PROTECTED-TARGET", "true".into()),
            ("INPUT_MASTER-PASSWORD-SECRET", "demo-db-master".into()),
            (
                "INPUT_RESTART",
                "echo restarted $STACK_MITOSIS_TARGET".into(),
            ),
        ],
    );
    let o = outputs(&ws.read("output"));
    assert_eq!(o["result"], "succeeded");
    assert!(
        o["endpoint"].starts_with("pg-demo.cluster-") && o["endpoint"].ends_with(":5433"),
        "{}",
        o["endpoint"]
    );
    assert!(ws
        .read("summary")
        .contains("The Aurora clone is a **copy-on-write** clone."));
    // The target's password is masked before anything could show it, and shown nowhere.
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("demo-s3cret-Pw"))
        .collect();
    assert_eq!(lines, vec!["::add-mask::demo-s3cret-Pw"], "{log}");
    for file in ["output", "summary"] {
        assert!(!ws.read(file).contains("demo-s3cret-Pw"), "{file}");
    }
    let clusters = emu.clusters();
    assert!(clusters
        .keys()
        .all(|k| !k.starts_with("old-") && !k.starts_with("temp-") || k == "temp-taken-demo"));
}

/// A cross-account refresh from a workflow: the source account's role is assumed with the same
/// OIDC token as the target's, the hand-over runs in the source account, and the Action's
/// policy output holds both accounts' policies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cross_account_refresh_assumes_both_roles_with_the_one_token() {
    let emu = Emulator::start();
    emu.seed("cross-account");
    let oidc = oidc_server().await;
    let base = vec![
        ("INPUT_SOURCE", "app".to_string()),
        ("INPUT_TARGET", "app".into()),
        (
            "INPUT_ROLE-TO-ASSUME",
            "arn:aws:iam::123456789012:role/staging-refresh".into(),
        ),
        (
            "INPUT_SOURCE-ROLE-TO-ASSUME",
            "arn:aws:iam::222222222222:role/prod-refresh".into(),
        ),
        ("INPUT_SOURCE-KMS-KEY-ID", "alias/refresh-share".into()),
        ("GITHUB_EVENT_NAME", "workflow_dispatch".into()),
        ("STACK_MITOSIS_POLL_INTERVAL", "0.02".into()),
        (
            "ACTIONS_ID_TOKEN_REQUEST_URL",
            format!("{}/idtoken?api-version=2.0", oidc.uri()),
        ),
        ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "request-token-123".into()),
    ];
    let ws = Workspace::new("cross-account-policy");
    let mut env = base.clone();
    env.push(("INPUT_MODE", "iam-policy".to_string()));
    let out = action(&emu, &ws, &env);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let policy: serde_json::Value =
        serde_json::from_str(&outputs(&ws.read("output"))["policy"]).unwrap();
    assert!(policy["source"]
        .to_string()
        .contains("arn:aws:rds:us-east-1:222222222222:snapshot:stack-mitosis-transfer-app-*"));
    assert!(policy["target"]
        .to_string()
        .contains("rds:RestoreDBInstanceFromDBSnapshot"));

    let before = emu.describe();
    let ws = Workspace::new("cross-account-apply");
    let mut env = base;
    env.push(("INPUT_MODE", "apply".to_string()));
    let out = action(&emu, &ws, &env);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let o = outputs(&ws.read("output"));
    assert_eq!(o["result"], "succeeded");
    let plan: serde_json::Value = serde_json::from_str(&o["plan"]).unwrap();
    assert_eq!(plan["accounts"]["source"], "222222222222");
    assert!(ws.read("summary").contains("Source account 222222222222"));
    let roles: Vec<String> = emu
        .record()
        .iter()
        .filter(|r| r["action"] == "AssumeRoleWithWebIdentity")
        .map(|r| r["params"]["RoleArn"].as_str().unwrap_or("").to_string())
        .collect();
    assert!(roles
        .iter()
        .any(|r| r.contains("222222222222:role/prod-refresh")));
    assert!(roles
        .iter()
        .any(|r| r.contains("123456789012:role/staging-refresh")));
    let transfer = emu
        .record()
        .into_iter()
        .find(|r| r["action"] == "CopyDBSnapshot" && r["account"] == "222222222222");
    assert!(transfer.is_some(), "no transfer copy in the source account");
    assert_ne!(
        before["app"]["DbiResourceId"],
        emu.describe()["app"]["DbiResourceId"]
    );
    drop(oidc);
}

/// The per-pull-request workflow's three modes: `copy` (outputs the copy's endpoint, address,
/// port, `created`, and its password only masked), `copy` again (`created=false`), `destroy`,
/// and `sweep`.
#[test]
fn copy_destroy_and_sweep_modes() {
    let emu = Emulator::start();
    emu.seed("pg-two-replicas");
    let base = vec![
        ("INPUT_SOURCE", "app-prod".to_string()),
        ("INPUT_LIKE", "app-staging".into()),
        ("INPUT_PREFIX", "pr-12-".into()),
        ("INPUT_EXPIRES", "3d".into()),
        ("GITHUB_EVENT_NAME", "pull_request".into()),
        ("INPUT_COMMENT", "never".into()),
        ("STACK_MITOSIS_POLL_INTERVAL", "0.02".into()),
    ];
    let ws = Workspace::new("copy");
    let mut env = base.clone();
    env.push(("INPUT_MODE", "copy".to_string()));
    let out = action(&emu, &ws, &env);
    let log = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{log}");
    let o = outputs(&ws.read("output"));
    assert_eq!(o["result"], "succeeded");
    assert_eq!(o["created"], "true");
    assert!(o["address"].starts_with("pr-12-app-staging."), "{o:?}");
    assert_eq!(o["port"], "6543");
    assert_eq!(o["endpoint"], format!("{}:6543", o["address"]));
    let password = &o["password"];
    assert_eq!(emu.password("pr-12-app-staging"), *password);
    assert!(log.contains(&format!("::add-mask::{password}")));
    assert_eq!(
        log.matches(password.as_str()).count(),
        1,
        "printed unmasked"
    );
    assert!(ws
        .read("summary")
        .contains("Copy of `app-prod` as `pr-12-app-staging`"));

    let ws = Workspace::new("copy-again");
    let out = action(&emu, &ws, &env);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert_eq!(outputs(&ws.read("output"))["created"], "false");

    // `reset: true`: destroyed, then made anew.
    let ws = Workspace::new("copy-reset");
    let before_reset = emu.describe()["pr-12-app-staging"]["DbiResourceId"].clone();
    let mut reset = env.clone();
    reset.push(("INPUT_RESET", "true".to_string()));
    let out = action(&emu, &ws, &reset);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert_eq!(outputs(&ws.read("output"))["created"], "true");
    assert_ne!(
        emu.describe()["pr-12-app-staging"]["DbiResourceId"],
        before_reset
    );

    let ws = Workspace::new("destroy");
    let mut env = base.clone();
    env.retain(|(k, _)| *k != "INPUT_SOURCE");
    env.push(("INPUT_MODE", "destroy".to_string()));
    let out = action(&emu, &ws, &env);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let o = outputs(&ws.read("output"));
    assert_eq!(o["destroyed"], "pr-12-app-staging");
    assert!(emu.describe().keys().all(|k| !k.starts_with("pr-12-")));

    let ws = Workspace::new("sweep");
    let env = vec![
        ("INPUT_MODE", "sweep".to_string()),
        ("GITHUB_EVENT_NAME", "schedule".into()),
    ];
    let out = action(&emu, &ws, &env);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert_eq!(outputs(&ws.read("output"))["destroyed"], "");

    // A copy that fails never hands out an endpoint (the source's least of all).
    let ws = Workspace::new("copy-fails");
    let mut env = base;
    env.push(("INPUT_MODE", "copy".to_string()));
    env.push(("INPUT_BEFORE-SWAP", "exit 7".to_string()));
    let out = action(&emu, &ws, &env);
    assert_ne!(out.status.code(), Some(0));
    let o = outputs(&ws.read("output"));
    assert_eq!(o["result"], "failed");
    assert!(
        !o.contains_key("endpoint") && !o.contains_key("address"),
        "{o:?}"
    );
}

/// The environments of the `environment-small` scenario.
fn small_environments() -> String {
    support::repo()
        .join("tests/scenarios/environment-small.toml")
        .display()
        .to_string()
}

/// `mode: copy` and `mode: destroy` with `config`: the copy's bucket is made with it and
/// deleted with it; the endpoint output is the copy's database's.
#[test]
fn copy_and_destroy_modes_with_an_environment() {
    let emu = Emulator::start();
    emu.seed("environment-small");
    let ws = Workspace::new("copy-environment");
    let base = vec![
        ("INPUT_CONFIG", small_environments()),
        ("INPUT_LIKE", "demo".to_string()),
        ("INPUT_PREFIX", "pr-5-".into()),
        ("GITHUB_EVENT_NAME", "workflow_dispatch".into()),
        ("INPUT_COMMENT", "never".into()),
        ("STACK_MITOSIS_POLL_INTERVAL", "0.02".into()),
    ];
    let mut env = base.clone();
    env.push(("INPUT_MODE", "copy".into()));
    env.push(("INPUT_SOURCE", "production".into()));
    let out = action(&emu, &ws, &env);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let o = outputs(&ws.read("output"));
    assert!(o["address"].starts_with("pr-5-mitosis-demo."), "{o:?}");
    let buckets = emu.buckets();
    assert_eq!(
        buckets["pr-5-acme-demo-uploads"],
        buckets["acme-prod-uploads"]
    );

    let mut env = base.clone();
    env.push(("INPUT_MODE", "destroy".into()));
    let out = action(&emu, &ws, &env);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(!emu.buckets().contains_key("pr-5-acme-demo-uploads"));
    assert!(!emu.describe().contains_key("pr-5-mitosis-demo"));
}

/// `config` from a workflow: the whole environment (database, bucket, groups) is refreshed,
/// and the target's password from its secret is masked before anything could show it.
#[test]
fn dispatch_apply_refreshes_an_environment() {
    let emu = Emulator::start();
    emu.seed("environment-small");
    let groups = emu.groups();
    let ws = Workspace::new("apply-environment");
    let log = dispatch_apply(
        &emu,
        &ws,
        &[
            ("INPUT_CONFIG", small_environments()),
            ("INPUT_SOURCE", "production".into()),
            ("INPUT_TARGET", "demo".into()),
            ("INPUT_RESTART", "echo restarted".into()),
        ],
    );
    assert_eq!(outputs(&ws.read("output"))["result"], "succeeded");
    assert!(ws.read("summary").contains("sync-bucket-acme-demo-uploads"));
    let buckets = emu.buckets();
    assert_eq!(buckets["acme-demo-uploads"], buckets["acme-prod-uploads"]);
    assert_eq!(emu.groups(), groups);
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("demo-password-42"))
        .collect();
    assert_eq!(lines, vec!["::add-mask::demo-password-42"], "{log}");
    assert_eq!(emu.password("mitosis-demo"), "demo-password-42");
}

/// `config` naming an environment of two databases: one run refreshes both, the summary's
/// flight plan lists them, and each target's password is masked.
#[test]
fn dispatch_apply_refreshes_an_environment_of_two_databases() {
    let emu = Emulator::start();
    emu.seed("environment-two");
    let clusters = emu.clusters();
    let ws = Workspace::new("apply-environment-two");
    let config = support::repo()
        .join("tests/scenarios/environment-two.toml")
        .display()
        .to_string();
    let log = dispatch_apply(
        &emu,
        &ws,
        &[
            ("INPUT_CONFIG", config),
            ("INPUT_SOURCE", "production".into()),
            ("INPUT_TARGET", "demo".into()),
            (
                "INPUT_RESTART",
                "echo restarted $STACK_MITOSIS_TARGETS".into(),
            ),
        ],
    );
    assert_eq!(outputs(&ws.read("output"))["result"], "succeeded");
    let summary = ws.read("summary");
    assert!(
        summary.contains("Databases: mitosis-demo from mitosis-prod (instance), orders-demo from orders-prod (cluster)"),
        "{summary}"
    );
    assert!(summary.contains("swap-orders-demo") && summary.contains("swap-mitosis-demo"));
    assert_ne!(
        emu.clusters()["orders-demo"]["DbClusterResourceId"],
        clusters["orders-demo"]["DbClusterResourceId"]
    );
    for password in ["demo-password-42", "orders-password-7"] {
        let lines: Vec<&str> = log.lines().filter(|l| l.contains(password)).collect();
        assert_eq!(lines, vec![format!("::add-mask::{password}")], "{log}");
    }
    assert_eq!(emu.password("orders-demo"), "orders-password-7");
}

/// The Action's before-swap command runs SQL against the clone (the image carries psql and
/// the MariaDB client): a dispatch refresh on an emulator with real databases leaves demo
/// with production's rows, scrubbed through the endpoint in the hook's environment, and
/// demo's own password, which the log only masks.
#[test]
fn dispatch_apply_scrubs_real_rows_with_psql() {
    let emu = Emulator::with_data();
    emu.seed("data");
    let ws = Workspace::new("apply-data");
    let scrub = "psql -X -q -v ON_ERROR_STOP=1 -h \"$STACK_MITOSIS_ENDPOINT_ADDRESS\" \
        -p \"$STACK_MITOSIS_ENDPOINT_PORT\" -U admin -d app \
        -c \"UPDATE customers SET name = 'Customer ' || id, email = NULL\"";
    let log = dispatch_apply(
        &emu,
        &ws,
        &[
            ("INPUT_SOURCE", "shop-prod".into()),
            ("INPUT_TARGET", "shop-demo".into()),
            ("INPUT_BEFORE-SWAP", scrub.into()),
            ("INPUT_MASTER-PASSWORD-SECRET", "shop-demo-master".into()),
            // A workflow's `env:` from a repository secret.
            ("PGPASSWORD", "demo-password-1".into()),
        ],
    );
    // The secret's value is masked, and shown nowhere else.
    let shown: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("demo-password-1"))
        .collect();
    assert_eq!(shown, ["::add-mask::demo-password-1"], "{log}");
    let customers = "SELECT id, name, email FROM customers ORDER BY id";
    let scrubbed = "1\tCustomer 1\t\n2\tCustomer 2\t\n3\tCustomer 3\t\n";
    for id in ["shop-demo", "shop-demo-ro"] {
        let rows = emu.sql(id, "demo-password-1", customers).unwrap();
        assert_eq!(rows, scrubbed, "{id}");
    }
    let prod = emu.sql("shop-prod", "prod-password-1", customers).unwrap();
    assert!(prod.contains("Ada Lovelace"), "{prod}");
}
