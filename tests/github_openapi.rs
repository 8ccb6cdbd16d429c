//! Every GitHub request the tool makes, validated by Prism against GitHub's own OpenAPI
//! description (a subset generated from the npm package by scripts/setup-github-api): an
//! invalid path, parameter or body answers 422 and fails the test.

mod support;

use stack_mitosis::github::comment;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use support::{repo, Emulator};

struct Prism {
    child: Child,
    url: String,
}

impl Prism {
    fn start() -> Self {
        let dir = repo().join("tests/github-api");
        let bin = dir.join("node_modules/.bin/prism");
        let spec = dir.join(".subset.json");
        assert!(
            bin.exists() && spec.exists(),
            "Prism or the API subset is missing: run scripts/setup-github-api (scripts/test does)"
        );
        // A free loopback port: bind, read it, release it for Prism.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = Command::new(bin)
            .args([
                "mock",
                "-h",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "--errors",
            ])
            .arg(&spec)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start prism");
        let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
        for line in out.by_ref() {
            if line.expect("prism output").contains("Prism is listening") {
                break;
            }
        }
        // Keep reading its log: Prism dies when the pipe it writes to is closed.
        std::thread::spawn(move || out.for_each(drop));
        Prism {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for Prism {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn github(url: &str) -> octocrab::Octocrab {
    octocrab::Octocrab::builder()
        .base_uri(url)
        .unwrap()
        .personal_token("ghs_validation".to_string())
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn comment_requests_validate_against_githubs_description() {
    let prism = Prism::start();
    let gh = github(&prism.url);
    let body = comment::body(
        "mitosis-demo",
        "### Flight plan\n\n| # | Step |\n|---|---|\n",
        None,
    );
    // Who the token is, list (every page), create, update: the requests the sticky comment
    // makes. Prism answers /user with GitHub's example user.
    let author = comment::identity(&gh).await;
    assert_ne!(author, comment::ACTIONS_BOT, "/user was not valid");
    let found = comment::find(&gh, "acme", "infra", 7, "mitosis-demo", &author).await;
    assert_eq!(found, Ok(None), "the examples carry no marker");
    let created = comment::create(&gh, "acme", "infra", 7, &body).await;
    assert!(created.is_ok(), "{created:?}");
    let updated = comment::update(&gh, "acme", "infra", 42, &body).await;
    assert!(updated.is_ok(), "{updated:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prism_rejects_what_github_would() {
    // The check can fail: a body without the required field is refused.
    let prism = Prism::start();
    let gh = github(&prism.url);
    let wrong: Result<serde_json::Value, _> = gh
        .patch(
            "/repos/acme/infra/issues/comments/42",
            Some(&serde_json::json!({"text": "x"})),
        )
        .await;
    assert!(wrong.is_err());
}

#[test]
fn the_action_on_a_pull_request_makes_only_valid_requests() {
    let prism = Prism::start();
    let emu = Emulator::start();
    emu.seed("same-vpc");
    let dir = std::env::temp_dir().join(format!("mitosis-prism-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let event = dir.join("event.json");
    std::fs::write(&event, r#"{"number": 7, "pull_request": {"number": 7}}"#).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_stack-mitosis"))
        .arg("action")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_ENDPOINT_URL", &emu.endpoint)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_EVENT_NAME", "pull_request")
        .env("GITHUB_EVENT_PATH", &event)
        .env("GITHUB_REPOSITORY", "acme/infra")
        .env("GITHUB_API_URL", &prism.url)
        .env("GITHUB_STEP_SUMMARY", dir.join("summary"))
        .env("GITHUB_OUTPUT", dir.join("output"))
        .env("INPUT_SOURCE", "mitosis-prod")
        .env("INPUT_TARGET", "mitosis-demo")
        .env("INPUT_AWS-REGION", "us-east-1")
        .env("INPUT_GITHUB-TOKEN", "ghs_validation")
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let log = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{log}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A refused comment is only a warning: the run must not have needed one.
    assert!(!log.contains("::warning::"), "{log}");
}
