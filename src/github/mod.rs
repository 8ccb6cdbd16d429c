//! The GitHub Action: a thin layer over the same plan and apply code as the CLI. It reads the
//! runner's environment once, validates the inputs before any AWS call, assumes the role
//! through OIDC, posts the flight plan (sticky PR comment, job summary), applies, and writes
//! the outputs.

pub mod commands;
pub mod comment;
pub mod inputs;
pub mod oidc;

use crate::aws::{AwsSettings, SdkRds};
use crate::cli::{ApplyArgs, RefreshArgs};
use crate::error::{exit, MitosisError};
use crate::exec::{Event, Reporter};
use crate::plan::Phase;
use crate::refresh::{execute, load_model, new_run_id, observe_and_plan};
use crate::render::{plan_json, plan_markdown, report_markdown};
use inputs::{read_inputs, ActionInputs, CommentMode, Mode};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;

/// The runner's environment, read once at the edge.
pub struct ActionEnv {
    pub vars: BTreeMap<String, String>,
}

impl ActionEnv {
    pub fn from_process() -> Self {
        ActionEnv {
            vars: std::env::vars().collect(),
        }
    }
    fn get(&self, key: &str) -> Option<&str> {
        self.vars
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
    fn path(&self, key: &str) -> Option<PathBuf> {
        self.get(key).map(PathBuf::from)
    }
    /// The pull request this run is about, from the event payload.
    fn pull_request(&self) -> Option<u64> {
        let event = self.get("GITHUB_EVENT_NAME")?;
        if !event.starts_with("pull_request") {
            return None;
        }
        let payload: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(self.get("GITHUB_EVENT_PATH")?).ok()?)
                .ok()?;
        payload["pull_request"]["number"]
            .as_u64()
            .or(payload["number"].as_u64())
    }
    fn summary_url(&self) -> Option<String> {
        Some(format!(
            "{}/{}/actions/runs/{}",
            self.get("GITHUB_SERVER_URL")?,
            self.get("GITHUB_REPOSITORY")?,
            self.get("GITHUB_RUN_ID")?
        ))
    }
}

fn mask(secret: &str) {
    if !secret.is_empty() {
        println!("{}", commands::add_mask(secret));
    }
}

fn fail(title: &str, message: &str, code: u8) -> u8 {
    println!("{}", commands::error(title, message));
    code
}

/// Log groups per phase of the refresh (steps of one phase run side by side).
struct ActionReporter {
    open: Mutex<Option<&'static str>>,
}

fn group_of(phase: Phase) -> &'static str {
    match phase {
        Phase::Clone => "Build the clone",
        Phase::Prepare => "Before-swap command",
        Phase::Retire | Phase::Swap => "Swap",
        Phase::Restart => "Restart command",
        Phase::Cleanup => "Clean up",
    }
}

impl Reporter for ActionReporter {
    fn event(&self, event: &Event<'_>) {
        let mut open = self.open.lock().expect("reporter lock");
        let mut enter = |title: &'static str| {
            if *open != Some(title) {
                if open.is_some() {
                    println!("{}", commands::END_GROUP);
                }
                println!("{}", commands::group(title));
                *open = Some(title);
            }
        };
        match event {
            Event::StepStarted { step } => {
                enter(group_of(step.phase));
                println!("-> {} ({} {})", step.id, step.op.action(), step.instance);
            }
            Event::StepDone { step, seconds } => println!("   done {} in {seconds:.0}s", step.id),
            Event::StepSkipped { step, reason } => println!("   skip {}: {reason}", step.id),
            Event::StepFailed { step, error } => {
                println!(
                    "{}",
                    commands::error(&format!("Step {} failed", step.id), error)
                )
            }
            Event::RollbackStarted { steps } => {
                enter("Rollback");
                println!("rolling back: {steps} steps to put the original names back");
            }
            Event::Note(text) => println!("   {text}"),
        }
    }
}

impl ActionReporter {
    fn close(&self) {
        if self.open.lock().expect("reporter lock").take().is_some() {
            println!("{}", commands::END_GROUP);
        }
    }
}

/// Runs the Action; returns the process exit code.
pub async fn run(env: ActionEnv) -> u8 {
    let inputs = match read_inputs(&env.vars) {
        Ok(i) => i,
        Err(e) => {
            return fail(
                &format!("Invalid input: {}", e.input),
                &e.to_string(),
                exit::BAD_INPUT,
            )
        }
    };
    if let Some(token) = &inputs.github_token {
        mask(token);
    }
    let pr = env.pull_request();
    let comment_on = match (inputs.comment, pr) {
        (CommentMode::Never, _) | (_, None) => None,
        (_, Some(n)) => Some(n),
    };
    if inputs.comment == CommentMode::Always && pr.is_none() {
        println!("{}", commands::warning("comment: always, but this run is not about a pull request: the plan goes to the job summary only"));
    }
    if comment_on.is_some() && inputs.github_token.is_none() {
        return fail(
            "Invalid input: github-token",
            "input 'github-token' is empty, but this pull_request run comments the plan: pass `github-token: ${{ github.token }}` (the default) or set `comment: never`",
            exit::BAD_INPUT,
        );
    }
    let region = inputs
        .aws_region
        .clone()
        .or_else(|| env.get("AWS_REGION").map(str::to_string));
    let credentials = match &inputs.role_to_assume {
        None => None,
        Some(role) => match oidc_role(&env, &inputs, role, region.clone()).await {
            Ok(p) => Some(aws_credential_types::provider::SharedCredentialsProvider::new(p)),
            Err(message) => return fail("Cannot assume the AWS role", &message, exit::BAD_INPUT),
        },
    };
    let mut settings = AwsSettings::new(region);
    settings.credentials = credentials;
    match run_mode(&env, &inputs, &settings, comment_on).await {
        Ok(()) => 0,
        Err(e) => fail("stack-mitosis", &e.to_string(), e.exit_code()),
    }
}

async fn oidc_role(
    env: &ActionEnv,
    inputs: &ActionInputs,
    role: &str,
    region: Option<String>,
) -> Result<oidc::OidcRole, String> {
    let (Some(url), Some(token)) = (
        env.get("ACTIONS_ID_TOKEN_REQUEST_URL"),
        env.get("ACTIONS_ID_TOKEN_REQUEST_TOKEN"),
    ) else {
        return Err(format!(
            "role-to-assume is {role}, but the runner offers no OIDC token: add `permissions: id-token: write` to the workflow (or the job)"
        ));
    };
    mask(token);
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest()).no_credentials();
    if let Some(region) = region {
        loader = loader.region(aws_config::Region::new(region));
    }
    let config = loader.load().await;
    Ok(oidc::OidcRole {
        request_url: url.to_string(),
        request_token: token.to_string(),
        role_arn: role.to_string(),
        session_name: inputs.role_session_name.clone(),
        duration_seconds: inputs.role_duration_seconds,
        sts: aws_sdk_sts::Client::new(&config),
        mask,
    })
}

/// The Action's inputs as the command line's refresh options, so both build the plan request
/// the same way.
fn refresh_args(inputs: &ActionInputs) -> RefreshArgs {
    RefreshArgs {
        source: inputs.source.clone(),
        target: inputs.target.clone(),
        restart: inputs.restart.clone(),
        before_swap: inputs.before_swap.clone(),
        restore_snapshot: inputs.restore_snapshot,
        final_snapshot: inputs.final_snapshot,
        snapshot: inputs.snapshot.clone(),
    }
}

async fn run_mode(
    env: &ActionEnv,
    inputs: &ActionInputs,
    settings: &AwsSettings,
    comment_on: Option<u64>,
) -> Result<(), MitosisError> {
    let started = std::time::Instant::now();
    let req = refresh_args(inputs).request(new_run_id());
    let model = load_model(env.path("STACK_MITOSIS_LATENCY_MODEL").as_deref())?;
    let api = SdkRds::connect(settings).await;
    let (observed, plan) = observe_and_plan(&api, &req, &model).await?;
    let plan_doc = plan_json(&plan);
    let mut outputs: Vec<(&str, String)> = vec![("plan", plan_doc.trim_end().to_string())];

    let markdown = plan_markdown(&plan);
    println!("{}", commands::group("Flight plan"));
    print!("{}", crate::render::plan_text(&plan));
    println!("{}", commands::END_GROUP);
    if let Some(path) = env.path("GITHUB_STEP_SUMMARY") {
        commands::append_summary(&path, &markdown).map_err(io_error("the job summary"))?;
    }
    if let Some(pr) = comment_on {
        post_comment(env, inputs, pr, &plan.target, &markdown).await?;
    }

    let result = match inputs.mode {
        Mode::Plan => {
            outputs.push(("result", "succeeded".into()));
            Ok(())
        }
        Mode::IamPolicy => {
            let policy = crate::iam::policy(&plan, &observed.account);
            let text = serde_json::to_string_pretty(&policy).unwrap_or_default();
            if let Some(path) = env.path("GITHUB_STEP_SUMMARY") {
                commands::append_summary(
                    &path,
                    &format!("\n#### IAM policy\n\n```json\n{text}\n```\n"),
                )
                .map_err(io_error("the job summary"))?;
            }
            outputs.push(("policy", text));
            outputs.push(("result", "succeeded".into()));
            Ok(())
        }
        Mode::Apply => {
            let mut args = ApplyArgs::new(refresh_args(inputs));
            args.step_timeout = inputs.step_timeout;
            args.on_failure = inputs.on_failure;
            let apply = with_test_overrides(env, args).settings(model);
            let reporter = ActionReporter {
                open: Mutex::new(None),
            };
            let (report, result) = execute(&api, &plan, &apply, &reporter).await;
            reporter.close();
            let outcome = match (&report, &result) {
                (_, Ok(())) => "succeeded",
                (_, Err(MitosisError::RolledBack(_))) => "rolled-back",
                _ => "failed",
            };
            outputs.push(("result", outcome.into()));
            if let Some(report) = &report {
                if let Some(path) = env.path("GITHUB_STEP_SUMMARY") {
                    commands::append_summary(&path, &format!("\n{}", report_markdown(report)))
                        .map_err(io_error("the job summary"))?;
                }
                if let Some(root) = report.endpoints.iter().find(|e| e.instance == plan.target) {
                    outputs.push((
                        "endpoint",
                        format!(
                            "{}:{}",
                            root.address.clone().unwrap_or_default(),
                            root.port.map(|p| p.to_string()).unwrap_or_default()
                        ),
                    ));
                }
                outputs.push(("report", serde_json::to_string(report).unwrap_or_default()));
            }
            result
        }
    };
    outputs.push((
        "duration-seconds",
        format!("{}", started.elapsed().as_secs()),
    ));
    if let Some(path) = env.path("GITHUB_OUTPUT") {
        let nonce = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(7);
        commands::write_outputs(&path, &outputs, nonce).map_err(io_error("the step outputs"))?;
    }
    result
}

/// Test hook for the polling cadence, so emulator tests of the Action run in seconds.
fn with_test_overrides(env: &ActionEnv, mut args: ApplyArgs) -> ApplyArgs {
    if let Some(tick) = env
        .get("STACK_MITOSIS_POLL_INTERVAL")
        .and_then(|v| v.parse::<f64>().ok())
    {
        args.poll_interval = tick;
        args.max_poll_interval = tick;
    }
    args
}

async fn post_comment(
    env: &ActionEnv,
    inputs: &ActionInputs,
    pr: u64,
    target: &str,
    markdown: &str,
) -> Result<(), MitosisError> {
    let repo = env.get("GITHUB_REPOSITORY").unwrap_or_default();
    let (owner, name) = repo.split_once('/').ok_or_else(|| {
        MitosisError::bad_input(
            "GITHUB_REPOSITORY is not owner/repo: is this running in GitHub Actions?",
        )
    })?;
    let api = env
        .get("GITHUB_API_URL")
        .unwrap_or("https://api.github.com");
    let github = octocrab::Octocrab::builder()
        .base_uri(api)
        .and_then(|b| {
            b.personal_token(inputs.github_token.clone().unwrap_or_default())
                .build()
        })
        .map_err(|e| MitosisError::bad_input(format!("cannot reach GitHub at {api}: {e}")))?;
    let body = comment::body(target, markdown, env.summary_url().as_deref());
    let id = comment::upsert(&github, owner, name, pr, target, &body)
        .await
        .map_err(|message| MitosisError::Aws {
            operation: "GitHub".into(),
            message,
        })?;
    tracing::info!(comment = id, "flight plan posted on pull request #{pr}");
    Ok(())
}

fn io_error(what: &'static str) -> impl Fn(std::io::Error) -> MitosisError {
    move |e| MitosisError::bad_input(format!("cannot write {what}: {e}"))
}
