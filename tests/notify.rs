//! Notifications against a local webhook (wiremock): the run's milestones arrive in order with
//! their fields; a dead webhook is a warning, never a failed refresh.

mod support;

use support::{stderr, Emulator, FAST};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

fn apply(emu: &Emulator, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "apply",
        "--source",
        "mitosis-prod",
        "--target",
        "mitosis-demo",
    ];
    args.extend_from_slice(extra);
    args.extend_from_slice(FAST);
    emu.cli(&args)
}

async fn received(hook: &MockServer) -> Vec<serde_json::Value> {
    hook.received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .map(|r| serde_json::from_slice(&r.body).expect("JSON body"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn milestones_arrive_in_order_with_their_fields() {
    let hook = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&hook)
        .await;
    let emu = Emulator::start();
    emu.seed("same-vpc");
    let url = format!("{}/hooks/refresh", hook.uri());
    let out = apply(&emu, &["--notify", &url]);
    assert!(out.status.success(), "{}", stderr(&out));
    let messages = received(&hook).await;
    let events: Vec<&str> = messages
        .iter()
        .map(|m| m["event"].as_str().unwrap())
        .collect();
    assert_eq!(events, ["start", "outage-start", "outage-end", "done"]);
    for m in &messages {
        assert!(
            m["text"].as_str().unwrap().starts_with("stack-mitosis:"),
            "{m}"
        );
        assert_eq!(m["source"], "mitosis-prod");
        assert_eq!(m["target"], "mitosis-demo");
        assert!(m["run_id"].as_str().is_some_and(|r| !r.is_empty()), "{m}");
    }
    let outage = messages[2]["outage_seconds"].as_f64().unwrap();
    assert!(outage > 0.0 && outage < 60.0, "{outage}");
    assert_eq!(messages[3]["result"], "succeeded");
    assert_eq!(messages[3]["phase"], "complete");

    // A failing restart: the last word is the rollback.
    hook.reset().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&hook)
        .await;
    emu.reset();
    emu.seed("same-vpc");
    let out = apply(&emu, &["--notify", &url, "--restart", "exit 3"]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let messages = received(&hook).await;
    let last = messages.last().unwrap();
    assert_eq!(
        (last["event"].as_str(), last["result"].as_str()),
        (Some("rolled-back"), Some("rolled-back"))
    );
    assert!(last["text"].as_str().unwrap().contains("restart"), "{last}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_webhook_does_not_fail_the_run() {
    // A loopback port nobody listens on: every post is refused, retried, then given up.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", dead.local_addr().unwrap());
    drop(dead);
    let emu = Emulator::start();
    emu.seed("same-vpc");
    let out = apply(&emu, &["--notify", &url]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("could not deliver"),
        "{}",
        stderr(&out)
    );
}

/// A copy's milestones say what it is: no outage (nothing is taken out of service), and texts
/// about a copy, not a refresh.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_is_announced_as_a_copy() {
    let hook = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&hook)
        .await;
    let emu = Emulator::start();
    emu.seed("same-vpc");
    let url = format!("{}/hooks/copy", hook.uri());
    let mut args = vec![
        "copy",
        "--source",
        "mitosis-prod",
        "--like",
        "mitosis-demo",
        "--prefix",
        "pr-3-",
        "--notify",
        &url,
    ];
    args.extend_from_slice(FAST);
    let out = emu.cli(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    let messages = received(&hook).await;
    let texts: Vec<&str> = messages
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        texts,
        [
            "stack-mitosis: copying mitosis-prod as pr-3-mitosis-demo",
            "stack-mitosis: pr-3-mitosis-demo copy ready (complete)"
        ]
    );
}
