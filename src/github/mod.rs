//! The GitHub Action: a thin layer over the same plan and apply code as the CLI. It reads the
//! runner's environment once (`env`), validates the inputs before any AWS call (`inputs`),
//! assumes the role through OIDC (`oidc`), posts the flight plan (`comment`, job summary),
//! applies with its progress in log groups (`progress`), and writes the outputs (`commands`).

pub mod commands;
pub mod comment;
mod env;
pub mod inputs;
pub mod oidc;
mod progress;

pub use env::ActionEnv;

use crate::aws::{AwsSettings, RdsWrite, SdkRds};
use crate::error::{exit, MitosisError};
use crate::kinds::Sdk;
use crate::notify::{with_notifier, NotifySettings};
use crate::observed::Observed;
use crate::plan::Plan;
use crate::refresh::{execute, load_latency, new_run_id, observe_and_plan, Apis, WriteApis};
use crate::render::{plan_json, plan_markdown, report_markdown};
use crate::schema::RunResult;
use inputs::{read_inputs, ActionInputs, CommentMode, Mode};
use progress::ActionProgress;

fn mask(secret: &str) {
    if !secret.is_empty() {
        println!("{}", commands::add_mask(secret));
    }
}

/// A plan in a log group of its own, shown as written (`commands::verbatim`).
pub(crate) fn print_plan(title: &str, plan: &Plan) {
    println!("{}", commands::group(title));
    print!("{}", commands::verbatim(&crate::render::plan_text(plan)));
    println!("{}", commands::END_GROUP);
}

fn fail(title: &str, message: &str, code: u8) -> u8 {
    println!("{}", commands::error(title, message));
    code
}

/// Runs the Action with the AWS settings the process was given (`--region`/`AWS_REGION`,
/// `AWS_MAX_ATTEMPTS`, a profile), the `aws-region` input taking precedence; returns the
/// process exit code.
pub async fn run(env: ActionEnv, aws: AwsSettings) -> u8 {
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
    if let Some(url) = notify_url(&env, &inputs) {
        mask(&url);
        let name = match inputs.notify_url {
            Some(_) => "input 'notify-url'",
            None => "STACK_MITOSIS_NOTIFY_URL",
        };
        if let Err(e) = crate::notify::check_url(name, &url) {
            return fail("Invalid input: notify-url", &e.to_string(), e.exit_code());
        }
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
    let mut settings = aws;
    if inputs.aws_region.is_some() {
        settings.region = inputs.aws_region.clone();
    }
    if let Some(role) = &inputs.role_to_assume {
        let session = &inputs.role_session_name;
        let duration = inputs.role_duration_seconds;
        match oidc::role(&env, role, session, duration, &settings, mask).await {
            Ok(p) => {
                settings.credentials =
                    Some(aws_credential_types::provider::SharedCredentialsProvider::new(p))
            }
            Err(message) => return fail("Cannot assume the AWS role", &message, exit::BAD_INPUT),
        }
    }
    // The source account's role (cross-account): the same token, the same renewal.
    let source_settings = match &inputs.source_role_to_assume {
        None => None,
        Some(role) => {
            let mut source = settings.clone();
            let (session, duration) = (&inputs.role_session_name, inputs.role_duration_seconds);
            match oidc::role(&env, role, session, duration, &source, mask).await {
                Ok(p) => {
                    source.credentials =
                        Some(aws_credential_types::provider::SharedCredentialsProvider::new(p));
                    Some(source)
                }
                Err(message) => {
                    return fail(
                        "Cannot assume the source AWS role",
                        &message,
                        exit::BAD_INPUT,
                    )
                }
            }
        }
    };
    let source_api = match &source_settings {
        Some(s) => Some(SdkRds::connect(s).await),
        None => None,
    };
    let accounts = Accounts {
        settings: &settings,
        source: source_api.as_ref(),
    };
    let result = match inputs.mode {
        Mode::Rollback => rollback_mode(&env, &inputs, accounts).await,
        Mode::Destroy | Mode::Sweep => destroy_mode(&env, &inputs, accounts).await,
        _ => run_mode(&env, &inputs, accounts, comment_on).await,
    };
    match result {
        Ok(()) => 0,
        Err(e) => fail("stack-mitosis", &e.to_string(), e.exit_code()),
    }
}

/// The target account's settings, and the source account's API in a cross-account refresh.
#[derive(Clone, Copy)]
struct Accounts<'a> {
    settings: &'a AwsSettings,
    source: Option<&'a SdkRds>,
}

impl<'a> Accounts<'a> {
    fn apis(self, api: &'a SdkRds, env: Option<&'a Sdk>) -> WriteApis<'a> {
        Apis {
            target: api,
            source: self.source.map(|s| s as &dyn RdsWrite),
            env: env.map(Sdk::writes),
        }
    }
}

/// Plans (shown in the log, the job summary and the PR comment), then does what the mode
/// asks, then writes the outputs.
async fn run_mode(
    env: &ActionEnv,
    inputs: &ActionInputs,
    accounts: Accounts<'_>,
    comment_on: Option<u64>,
) -> Result<(), MitosisError> {
    let started = std::time::Instant::now();
    let request = inputs.refresh.request(&new_run_id())?;
    let latency = load_latency(env.path("STACK_MITOSIS_LATENCY_MODEL").as_deref())?;
    let api = SdkRds::connect(accounts.settings).await;
    let env_api = Sdk::connect_if(accounts.settings, inputs.refresh.config.is_some()).await;
    let apis = accounts.apis(&api, env_api.as_ref());
    if inputs.mode == Mode::Copy && inputs.reset {
        reset_copy(env, inputs, &api, env_api.as_ref(), &latency).await?;
    }
    let (observed, plan) = observe_and_plan(apis.read(), &request, &latency).await?;
    let mut outputs: Vec<(&str, String)> = vec![("plan", plan_json(&plan).trim_end().to_string())];
    show_plan(env, inputs, &plan, comment_on).await?;

    let result = match inputs.mode {
        Mode::Plan => {
            outputs.push(("result", RunResult::Succeeded.as_str().into()));
            Ok(())
        }
        Mode::IamPolicy => iam_policy(env, &plan, &observed, &mut outputs),
        Mode::Apply | Mode::Copy => {
            apply(env, inputs, apis, &request, &plan, latency, &mut outputs).await
        }
        Mode::Rollback | Mode::Destroy | Mode::Sweep => unreachable!("their own modes"),
    };
    write_outputs(env, started, outputs)?;
    result
}

async fn show_plan(
    env: &ActionEnv,
    inputs: &ActionInputs,
    plan: &Plan,
    comment_on: Option<u64>,
) -> Result<(), MitosisError> {
    let markdown = plan_markdown(plan);
    print_plan("Flight plan", plan);
    summary(env, &markdown)?;
    if let Some(pr) = comment_on {
        let token = inputs.github_token.as_deref().unwrap_or_default();
        comment::post(env, token, pr, &plan.target, &markdown).await?;
    }
    Ok(())
}

fn iam_policy(
    env: &ActionEnv,
    plan: &Plan,
    observed: &Observed,
    outputs: &mut Vec<(&str, String)>,
) -> Result<(), MitosisError> {
    let policy = crate::iam::policies(plan, observed);
    let text = serde_json::to_string_pretty(&policy).unwrap_or_default();
    summary(env, &format!("\n#### IAM policy\n\n```json\n{text}\n```\n"))?;
    outputs.push(("policy", text));
    outputs.push(("result", RunResult::Succeeded.as_str().into()));
    Ok(())
}

/// `mode: apply`, and `mode: copy`: a copy's new master password goes to the masked
/// `password` output, and `created` says whether this run created the copy.
async fn apply(
    env: &ActionEnv,
    inputs: &ActionInputs,
    apis: WriteApis<'_>,
    request: &crate::plan::PlanRequest,
    plan: &Plan,
    latency: crate::plan::LatencyModel,
    outputs: &mut Vec<(&str, String)>,
) -> Result<(), MitosisError> {
    let options = apply_options(env, inputs);
    let progress = ActionProgress::default();
    let keep = crate::refresh::KeepPassword::new(&progress);
    let created = crate::refresh::creates_copy(plan);
    let (report, result) = with_notifier(notify(env, inputs), &keep, async |sink| {
        execute(apis, request, plan, &options, latency, sink).await
    })
    .await;
    progress.close();
    report_outputs(env, plan, report.as_ref(), &result, outputs)?;
    if plan.operation == crate::plan::Operation::Copy {
        outputs.push(("created", created.to_string()));
        if result.is_ok() {
            // Masked already: the executor announces every secret (`Event::Secret`) first.
            if let Some(password) = keep.password() {
                outputs.push(("password", password));
            }
        } else {
            // An unfinished copy (its scrub may not have run) is handed to nobody.
            outputs.retain(|(k, _)| !matches!(*k, "endpoint" | "address" | "port"));
        }
    }
    result
}

/// `reset: true` in copy mode: the existing copy is destroyed first.
async fn reset_copy(
    env: &ActionEnv,
    inputs: &ActionInputs,
    api: &SdkRds,
    env_api: Option<&Sdk>,
    latency: &crate::plan::LatencyModel,
) -> Result<(), MitosisError> {
    let copy = inputs.refresh.copy_to_destroy()?;
    let removal = crate::plan::Removal::Destroy;
    destroy_copy(env, inputs, api, env_api, &copy, removal, latency)
        .await
        .map(drop)
}

/// Destroys the copy `prefix` + `like` (its plan in a log group and the job summary, then its
/// report); the copy's name when there was one to destroy.
async fn destroy_copy(
    env: &ActionEnv,
    inputs: &ActionInputs,
    api: &SdkRds,
    env_api: Option<&Sdk>,
    copy: &crate::refresh::CopyRef,
    removal: crate::plan::Removal,
    latency: &crate::plan::LatencyModel,
) -> Result<Option<String>, MitosisError> {
    let read = env_api.map(Sdk::reads);
    let Some(plan) = crate::refresh::plan_destroy(api, read, copy, removal).await? else {
        println!(
            "nothing to destroy: no copy {} exists (already gone)",
            copy.name()
        );
        return Ok(None);
    };
    print_plan(&format!("Destroy {}", plan.target), &plan);
    summary(env, &plan_markdown(&plan))?;
    let progress = ActionProgress::default();
    let options = apply_options(env, inputs);
    let (report, result) = crate::refresh::execute_unlocked(
        api,
        env_api.map(Sdk::writes),
        &plan,
        &options,
        latency.clone(),
        &progress,
    )
    .await;
    progress.close();
    if let Some(report) = &report {
        summary(env, &format!("\n{}", report_markdown(report)))?;
    }
    result.map(|()| Some(plan.target))
}

/// `mode: destroy` (the copy `like` + `prefix`) and `mode: sweep` (every expired copy).
async fn destroy_mode(
    env: &ActionEnv,
    inputs: &ActionInputs,
    accounts: Accounts<'_>,
) -> Result<(), MitosisError> {
    let started = std::time::Instant::now();
    let latency = load_latency(env.path("STACK_MITOSIS_LATENCY_MODEL").as_deref())?;
    let api = SdkRds::connect(accounts.settings).await;
    // A sweep looks for expired bucket copies too; a destroy needs S3 with --config.
    let needs_s3 = inputs.mode == Mode::Sweep || inputs.refresh.config.is_some();
    let env_api = Sdk::connect_if(accounts.settings, needs_s3).await;
    let (copies, removal) = match inputs.mode {
        Mode::Destroy => (
            vec![inputs.refresh.copy_to_destroy()?],
            crate::plan::Removal::Destroy,
        ),
        _ => {
            let read = env_api.as_ref().map(Sdk::reads);
            let found = crate::refresh::expired_copies(&api, read).await?;
            (found, crate::plan::Removal::Sweep)
        }
    };
    let mut destroyed = Vec::new();
    let mut result = Ok(());
    for copy in copies {
        match destroy_copy(
            env,
            inputs,
            &api,
            env_api.as_ref(),
            &copy,
            removal,
            &latency,
        )
        .await
        {
            Ok(gone) => destroyed.extend(gone),
            // A sweep passes over what is not provably a copy, and says why; it goes on.
            Err(MitosisError::BadInput(why)) if removal == crate::plan::Removal::Sweep => {
                println!("{}", commands::notice(&why));
            }
            Err(e) if removal == crate::plan::Removal::Sweep => {
                println!("{}", commands::error("sweep", &e.to_string()));
                result = Err(e);
            }
            Err(e) => {
                result = Err(e);
                break;
            }
        }
    }
    let outcome = if result.is_ok() {
        RunResult::Succeeded
    } else {
        RunResult::Failed
    };
    let outputs = vec![
        ("result", outcome.as_str().into()),
        ("destroyed", destroyed.join(",")),
    ];
    write_outputs(env, started, outputs)?;
    result
}

/// `mode: rollback`: the rollback plan in the log and the job summary, then carried out.
async fn rollback_mode(
    env: &ActionEnv,
    inputs: &ActionInputs,
    accounts: Accounts<'_>,
) -> Result<(), MitosisError> {
    let started = std::time::Instant::now();
    let request = inputs.refresh.request(&new_run_id())?;
    let latency = load_latency(env.path("STACK_MITOSIS_LATENCY_MODEL").as_deref())?;
    let api = SdkRds::connect(accounts.settings).await;
    let env_api = Sdk::connect_if(accounts.settings, inputs.refresh.config.is_some()).await;
    let apis = accounts.apis(&api, env_api.as_ref());
    let mut outputs: Vec<(&str, String)> = Vec::new();
    let result = match crate::refresh::plan_rollback(apis.read(), &request, &latency).await? {
        None => {
            println!(
                "nothing to roll back: {} carries no unfinished refresh",
                request.target
            );
            outputs.push(("result", RunResult::Succeeded.as_str().into()));
            Ok(())
        }
        Some(plan) => {
            print_plan("Rollback plan", &plan);
            summary(env, &plan_markdown(&plan))?;
            outputs.push(("plan", plan_json(&plan).trim_end().to_string()));
            let progress = ActionProgress::default();
            let options = apply_options(env, inputs);
            let (report, result) = with_notifier(notify(env, inputs), &progress, async |sink| {
                crate::refresh::execute_rollback(apis, &plan, &options, latency, sink).await
            })
            .await;
            progress.close();
            report_outputs(env, &plan, report.as_ref(), &result, &mut outputs)?;
            result
        }
    };
    write_outputs(env, started, outputs)?;
    result
}

/// The webhook: the `notify-url` input, else `STACK_MITOSIS_NOTIFY_URL` (a secret kept out of
/// the workflow file).
fn notify_url(env: &ActionEnv, inputs: &ActionInputs) -> Option<String> {
    inputs
        .notify_url
        .clone()
        .or_else(|| env.get("STACK_MITOSIS_NOTIFY_URL").map(str::to_string))
}

fn notify(env: &ActionEnv, inputs: &ActionInputs) -> Option<NotifySettings> {
    notify_url(env, inputs).map(|url| NotifySettings {
        url,
        link: env.summary_url(),
    })
}

/// How to apply, from the inputs.
fn apply_options(env: &ActionEnv, inputs: &ActionInputs) -> crate::refresh::ApplyOptions {
    let mut options = inputs.apply.clone();
    // Test hook for the polling cadence, so emulator tests of the Action run in seconds.
    if let Some(tick) = env
        .get("STACK_MITOSIS_POLL_INTERVAL")
        .and_then(|v| v.parse::<f64>().ok())
    {
        options.poll_interval_seconds = tick;
        options.max_poll_interval_seconds = tick;
    }
    options
}

/// The outcome of a run as outputs and in the job summary.
fn report_outputs(
    env: &ActionEnv,
    plan: &Plan,
    report: Option<&crate::schema::RunReport>,
    result: &Result<(), MitosisError>,
    outputs: &mut Vec<(&str, String)>,
) -> Result<(), MitosisError> {
    let outcome = match result {
        Ok(()) => RunResult::Succeeded,
        Err(MitosisError::RolledBack(_)) => RunResult::RolledBack,
        Err(_) => RunResult::Failed,
    };
    outputs.push(("result", outcome.as_str().into()));
    if let Some(report) = report {
        outputs.push(("phase", report.phase.as_str().into()));
        summary(env, &format!("\n{}", report_markdown(report)))?;
        if let Some(root) = report.endpoints.iter().find(|e| e.instance == plan.target) {
            let address = root.address.clone().unwrap_or_default();
            let port = root.port.map(|p| p.to_string()).unwrap_or_default();
            outputs.push(("endpoint", format!("{address}:{port}")));
            outputs.push(("address", address));
            outputs.push(("port", port));
        }
        outputs.push(("report", serde_json::to_string(report).unwrap_or_default()));
    }
    Ok(())
}

/// Writes the step's outputs, with how long the step took.
fn write_outputs(
    env: &ActionEnv,
    started: std::time::Instant,
    mut outputs: Vec<(&str, String)>,
) -> Result<(), MitosisError> {
    outputs.push((
        "duration-seconds",
        format!("{}", started.elapsed().as_secs()),
    ));
    if let Some(path) = env.path("GITHUB_OUTPUT") {
        let nonce = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(7);
        commands::write_outputs(&path, &outputs, nonce).map_err(runner_file("the step outputs"))?;
    }
    Ok(())
}

/// Appends to the job summary, when the runner gives one.
fn summary(env: &ActionEnv, markdown: &str) -> Result<(), MitosisError> {
    match env.path("GITHUB_STEP_SUMMARY") {
        Some(path) => {
            commands::append_summary(&path, markdown).map_err(runner_file("the job summary"))
        }
        None => Ok(()),
    }
}

fn runner_file(what: &'static str) -> impl Fn(std::io::Error) -> MitosisError {
    move |e| MitosisError::RunnerFile {
        what: what.to_string(),
        message: e.to_string(),
    }
}
