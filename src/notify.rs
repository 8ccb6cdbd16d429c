//! Notifications: the run's milestones POSTed as JSON to a webhook (Slack-compatible `text`
//! plus structured fields) — start, outage start, outage end, done, failed, rolled back.
//!
//! The notifier is an event sink like the other renderings: it turns events into messages
//! and hands them to a background task that posts them in order, each retried with backoff.
//! A notification that cannot be delivered is a warning, never a failed refresh.

use crate::exec::{Event, EventSink};
use crate::plan::{Operation, Phase};
use crate::schema::RunResult;
use serde_json::{json, Value};
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::mpsc;

/// Attempts per message, and the first pause between them (doubled each time).
const ATTEMPTS: u32 = 4;
const FIRST_BACKOFF: Duration = Duration::from_millis(500);

/// Where to post, and what every message says about the run.
#[derive(Clone)]
pub struct NotifySettings {
    /// A secret: whoever has a webhook's URL may post to the channel behind it.
    pub url: String,
    /// The workflow run's page, when running as an Action.
    pub link: Option<String>,
}

/// Never the URL, even at trace level.
impl std::fmt::Debug for NotifySettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotifySettings")
            .field("url", &"<redacted>")
            .field("link", &self.link)
            .finish()
    }
}

/// A webhook URL the tool will post to: https, or http to this machine only (a local relay,
/// a test); no user name or password in it (they would be sent to whoever the host is and
/// printed by any tool that shows URLs). Checked before any AWS call.
pub fn check_url(flag: &str, url: &str) -> Result<(), crate::error::MitosisError> {
    let bad = |why: &str| {
        crate::error::MitosisError::bad_input(format!(
            "{flag} is not a webhook URL this tool posts to: {why}"
        ))
    };
    let uri: http::Uri = url
        .parse()
        .map_err(|_| bad("it does not parse as a URL (https://HOST/PATH)"))?;
    let authority = uri
        .authority()
        .ok_or_else(|| bad("it has no host (https://HOST/PATH)"))?;
    if authority.as_str().contains('@') {
        return Err(bad(
            "it carries a user name or password before the host: put the credential in the path or a header the service documents",
        ));
    }
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']');
    let loopback = host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match uri.scheme_str() {
        Some("https") => Ok(()),
        Some("http") if loopback => Ok(()),
        Some("http") => Err(bad(
            "plain http is only for this machine (localhost, 127.0.0.1, ::1): use https",
        )),
        _ => Err(bad("give an https:// URL")),
    }
}

/// Sends the run's milestones; see the module's header.
pub struct Notifier {
    settings: NotifySettings,
    sender: mpsc::UnboundedSender<Value>,
    state: Mutex<RunState>,
}

/// What every message repeats: the run, and the outage once measured.
#[derive(Default)]
struct RunState {
    run: Option<(String, String, String)>,
    seconds: Option<f64>,
    /// What the run does: a refresh, a copy or a destroy.
    operation: crate::plan::Operation,
}

impl Notifier {
    /// The notifier and the task that delivers its messages (await it to flush).
    pub fn start(settings: NotifySettings) -> (Self, tokio::task::JoinHandle<()>) {
        let (sender, mut receiver) = mpsc::unbounded_channel::<Value>();
        let url = settings.url.clone();
        let task = tokio::spawn(async move {
            while let Some(message) = receiver.recv().await {
                deliver(&url, &message).await;
            }
        });
        let notifier = Notifier {
            settings,
            sender,
            state: Mutex::default(),
        };
        (notifier, task)
    }

    fn target(&self) -> String {
        let state = self.state.lock().expect("notifier state");
        state.run.as_ref().map(|r| r.2.clone()).unwrap_or_default()
    }

    fn send(&self, event: &str, text: String, result: Option<RunResult>, phase: Option<&str>) {
        let state = self.state.lock().expect("notifier state");
        let (run_id, source, target) = state.run.clone().unwrap_or_default();
        let message = json!({
            "text": text,
            "event": event,
            "run_id": run_id,
            "source": source,
            "target": target,
            "phase": phase,
            "outage_seconds": state.seconds,
            "result": result.map(RunResult::as_str),
            "link": self.settings.link,
        });
        let _ = self.sender.send(message);
    }
}

impl EventSink for Notifier {
    fn event(&self, event: &Event<'_>) {
        match event {
            Event::RunStarted { plan } => {
                {
                    let mut state = self.state.lock().expect("notifier state");
                    state.run = Some((
                        plan.run_id.clone(),
                        plan.source.clone(),
                        plan.target.clone(),
                    ));
                    state.operation = plan.operation;
                }
                let (s, t) = (&plan.source, &plan.target);
                let text = match plan.operation {
                    Operation::Refresh => format!("stack-mitosis: refreshing {t} from {s}"),
                    Operation::Copy => format!("stack-mitosis: copying {s} as {t}"),
                    Operation::Destroy => format!("stack-mitosis: destroying the copy {t}"),
                };
                self.send("start", text, None, None);
            }
            Event::OutageStarted => {
                let target = self.target();
                self.send(
                    "outage-start",
                    format!("stack-mitosis: {target} is being swapped: its endpoints are unavailable until the swap ends"),
                    None,
                    Some(Phase::Retire.as_str()),
                );
            }
            Event::OutageEnded { seconds } => {
                self.state.lock().expect("notifier state").seconds = Some(*seconds);
                self.send(
                    "outage-end",
                    format!(
                        "stack-mitosis: swap done, endpoints answer again after {seconds:.0} s"
                    ),
                    None,
                    Some(Phase::Swap.as_str()),
                );
            }
            Event::RunFinished {
                result,
                phase,
                error,
                ..
            } => {
                let target = self.target();
                let operation = self.state.lock().expect("notifier state").operation;
                let done = match operation {
                    Operation::Refresh => "refreshed",
                    Operation::Copy => "copy ready",
                    Operation::Destroy => "destroyed",
                };
                let what = operation.as_str();
                let (event, text) = match result {
                    RunResult::Succeeded => (
                        "done",
                        format!("stack-mitosis: {target} {done} ({})", phase.as_str()),
                    ),
                    RunResult::RolledBack => (
                        "rolled-back",
                        format!(
                            "stack-mitosis: the {what} of {target} failed and was rolled back: {}",
                            error.as_deref().unwrap_or("")
                        ),
                    ),
                    RunResult::Failed => (
                        "failed",
                        format!(
                            "stack-mitosis: the {what} of {target} stopped: {}",
                            error.as_deref().unwrap_or("")
                        ),
                    ),
                };
                self.send(event, text, Some(*result), Some(phase.as_str()));
            }
            _ => {}
        }
    }
}

/// Posts one message, retrying with backoff; gives up with a warning.
async fn deliver(url: &str, message: &Value) {
    let mut pause = FIRST_BACKOFF;
    for attempt in 1..=ATTEMPTS {
        match post(url, message).await {
            Ok(()) => return,
            Err(e) if attempt == ATTEMPTS => {
                tracing::warn!(
                    "could not deliver the {} notification: {e}",
                    message["event"]
                );
            }
            Err(_) => {
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
        }
    }
}

async fn post(url: &str, message: &Value) -> Result<(), String> {
    let (client, uri) = crate::http_client::client_for(url, None)?;
    let response = client
        ._post(uri, Some(message))
        .await
        .map_err(|e| e.to_string())?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(format!("the webhook answered {}", response.status()))
    }
}

/// Runs `work` with `sink` and, when a webhook is given, the notifier beside it; waits (30 s at
/// most) for the last notifications to go out.
pub async fn with_notifier<T>(
    settings: Option<NotifySettings>,
    sink: &dyn EventSink,
    work: impl AsyncFnOnce(&dyn EventSink) -> T,
) -> T {
    let Some(settings) = settings else {
        return work(sink).await;
    };
    let (notifier, task) = Notifier::start(settings);
    let out = work(&crate::exec::Both(sink, &notifier)).await;
    drop(notifier);
    if tokio::time::timeout(Duration::from_secs(30), task)
        .await
        .is_err()
    {
        tracing::warn!("notifications still pending after 30 s: given up");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::check_url;

    #[test]
    fn webhooks_are_https_or_this_machine_without_credentials() {
        for ok in [
            "https://hooks.example.com/services/T0/B0/x",
            "http://127.0.0.1:8080/hook",
            "http://localhost/hook",
            "http://[::1]:9/hook",
        ] {
            assert!(check_url("--notify", ok).is_ok(), "{ok}");
        }
        for (bad, says) in [
            ("http://hooks.example.com/x", "plain http"),
            (
                "https://user:pass@hooks.example.com/x",
                "user name or password",
            ),
            ("ftp://hooks.example.com/x", "https://"),
            ("hooks.example.com/x", "https://HOST/PATH"),
            ("not a url", "does not parse"),
        ] {
            let e = check_url("--notify", bad).unwrap_err().to_string();
            assert!(e.contains(says), "{bad}: {e}");
            assert!(!e.contains("pass@"), "the message repeats the URL: {e}");
        }
    }
}
