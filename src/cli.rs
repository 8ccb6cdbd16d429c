//! The command line: argument parsing (clap), environment read once, dispatch to the library.
//! Logs go to stderr; results (plan, policy) go to stdout.

use crate::aws::{AwsSettings, SdkRds};
use crate::error::{exit, MitosisError};
use crate::exec::{ApplyOptions, LockSettings, PollSettings, TextReporter};
use crate::plan::{LatencyModel, OnFailure, PlanRequest, SnapshotChoice};
use crate::refresh::{execute, load_model, new_run_id, now_epoch, observe_and_plan, ApplySettings};
use crate::render::{plan_text, report_text};
use crate::render::{render_plan, Format};
use clap::{Args, Parser, Subcommand};
use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(
    name = "stack-mitosis",
    version,
    about = "Refresh a downstream RDS environment with a copy of a source's data, keeping the downstream's own configuration."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// AWS region (default: the SDK's chain: AWS_REGION, the profile, ...).
    #[arg(long, global = true, env = "AWS_REGION")]
    pub region: Option<String>,
    /// AWS profile from ~/.aws/config (default: AWS_PROFILE or `default`).
    #[arg(long, global = true, env = "AWS_PROFILE")]
    pub profile: Option<String>,
    /// Assume this IAM role for the run (with --mfa-serial: using an MFA code).
    #[arg(long, global = true, value_name = "ARN")]
    pub role_arn: Option<String>,
    /// MFA device of the user assuming --role-arn; the code is asked on the terminal.
    #[arg(long, global = true, value_name = "ARN")]
    pub mfa_serial: Option<String>,
    /// The MFA code, for scripts (else asked on the terminal).
    #[arg(
        long,
        global = true,
        env = "STACK_MITOSIS_MFA_CODE",
        value_name = "CODE",
        hide_env_values = true
    )]
    pub mfa_code: Option<String>,
    /// Lifetime of the assumed role's session (an MFA session cannot be renewed unattended).
    #[arg(long, global = true, default_value_t = 3600, value_name = "SECONDS")]
    pub role_duration_seconds: i32,
    /// Attempts per AWS call, retries included (throttling and transient errors back off).
    #[arg(
        long,
        global = true,
        env = "AWS_MAX_ATTEMPTS",
        default_value_t = 8,
        hide = true
    )]
    pub max_attempts: u32,
    /// More logging on stderr (-v: debug, -vv: trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show the flight plan: every step the refresh would take, and which are already done.
    Plan(PlanArgs),
    /// Show the flight plan, then carry it out; rerun the same command to resume.
    Apply(ApplyArgs),
    /// Print the least-privilege IAM policy for exactly this refresh.
    IamPolicy(RefreshArgs),
    /// Run as a GitHub Action: inputs from INPUT_* variables (see action.yml).
    Action,
}

/// Defaults of `apply`, shared by its flags and by the Action (which runs with them).
pub mod defaults {
    pub const STEP_TIMEOUT: u64 = 4 * 3600;
    pub const HOOK_TIMEOUT: u64 = 1800;
    pub const POLL_INTERVAL: f64 = 5.0;
    pub const MAX_POLL_INTERVAL: f64 = 60.0;
    pub const CONCURRENCY: usize = 8;
    pub const LOCK_TTL: u64 = 12 * 3600;
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub refresh: RefreshArgs,
    /// What a failure before the deletes does: put the original names back and delete this
    /// run's clones (rollback), or put the names back and keep the clones (keep).
    #[arg(long, value_enum, default_value = "rollback")]
    pub on_failure: OnFailure,
    /// Longest wait for one step (seconds).
    #[arg(long, default_value_t = defaults::STEP_TIMEOUT, value_name = "SECONDS")]
    pub step_timeout: u64,
    /// Longest run of a hook command (seconds).
    #[arg(long, default_value_t = defaults::HOOK_TIMEOUT, value_name = "SECONDS")]
    pub hook_timeout: u64,
    /// Shortest time between two looks at AWS while waiting (one look covers every instance
    /// in flight).
    #[arg(long, default_value_t = defaults::POLL_INTERVAL, value_name = "SECONDS")]
    pub poll_interval: f64,
    /// Longest time between two looks, while a long step is far from its expected end.
    #[arg(long, default_value_t = defaults::MAX_POLL_INTERVAL, value_name = "SECONDS")]
    pub max_poll_interval: f64,
    /// How many steps may run at once (sibling replicas are built in parallel).
    #[arg(long, default_value_t = defaults::CONCURRENCY, value_name = "N")]
    pub concurrency: usize,
    /// Remove the lock a dead run left on the target (its run id is in the lock message).
    #[arg(long, value_name = "RUN_ID")]
    pub force_unlock: Option<String>,
    /// How long the target's lock holds if the run dies (seconds).
    #[arg(long, default_value_t = defaults::LOCK_TTL, value_name = "SECONDS")]
    pub lock_ttl: u64,
    /// Expected RDS timings (JSON, fields as in the README) for the ETA and for polling.
    #[arg(long, value_name = "FILE")]
    pub latency_model: Option<std::path::PathBuf>,
    /// Write the run report as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub report_json: Option<std::path::PathBuf>,
}

#[derive(Debug, Args, Clone)]
pub struct RefreshArgs {
    /// Root instance of the tree whose data is copied (read only).
    #[arg(long)]
    pub source: String,
    /// Root instance of the tree that is replaced.
    #[arg(long)]
    pub target: String,
    /// Command run (bash -c) after the swap, before old instances are deleted.
    #[arg(long)]
    pub restart: Option<String>,
    /// Command run (bash -c) once the clone is built, before any rename (scrub data, rotate
    /// passwords). The temp root's endpoint is in its environment.
    #[arg(long)]
    pub before_swap: Option<String>,
    /// Clone through a snapshot even when source and target share a VPC.
    #[arg(long)]
    pub restore_snapshot: bool,
    /// Keep a final snapshot of each old-* instance when deleting it.
    #[arg(long)]
    pub final_snapshot: bool,
    /// Which snapshot the snapshot path restores: latest, fresh, or a snapshot identifier.
    /// Giving it selects the snapshot path.
    #[arg(long, value_name = "latest|fresh|ID")]
    pub snapshot: Option<String>,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub refresh: RefreshArgs,
    /// Output format (default: text on a terminal, json otherwise).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Expected RDS timings (JSON, fields as in the README) for the ETA.
    #[arg(long, value_name = "FILE")]
    pub latency_model: Option<std::path::PathBuf>,
}

impl RefreshArgs {
    pub fn request(&self, run_id: String) -> PlanRequest {
        let snapshot = match self.snapshot.as_deref() {
            None | Some("latest") => SnapshotChoice::Latest,
            Some("fresh") => SnapshotChoice::Fresh,
            Some(id) => SnapshotChoice::Id(id.to_string()),
        };
        PlanRequest {
            source: self.source.trim().to_ascii_lowercase(),
            target: self.target.trim().to_ascii_lowercase(),
            restart: self.restart.clone().filter(|c| !c.trim().is_empty()),
            before_swap: self.before_swap.clone().filter(|c| !c.trim().is_empty()),
            final_snapshot: self.final_snapshot,
            snapshot_path: self.restore_snapshot || self.snapshot.is_some(),
            snapshot,
            run_id,
        }
    }
}

pub fn main() -> ExitCode {
    // In a container Action started without arguments, act as the Action.
    let in_actions = std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true");
    let cli = if std::env::args_os().len() == 1 && in_actions {
        Cli::parse_from(["stack-mitosis", "action"])
    } else {
        Cli::parse()
    };
    init_logging(cli.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(exit::INTERNAL);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "stack_mitosis=info",
        1 => "stack_mitosis=debug",
        _ => "stack_mitosis=trace,aws_smithy_runtime=debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("STACK_MITOSIS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .try_init();
}

async fn run(cli: Cli) -> Result<(), MitosisError> {
    let mut settings = AwsSettings {
        region: cli.region.clone(),
        profile: cli.profile.clone(),
        max_attempts: cli.max_attempts.max(1),
        credentials: None,
    };
    if !matches!(cli.command, Command::Action) {
        settings.credentials = role_credentials(&cli, &settings).await?;
    }
    let stdout_is_terminal = std::io::stdout().is_terminal();
    match cli.command {
        Command::Plan(args) => {
            let model = load_model(args.latency_model.as_deref())?;
            let request = args.refresh.request(new_run_id());
            let api = SdkRds::connect(&settings).await;
            let (_, plan) = observe_and_plan(&api, &request, &model).await?;
            let format = args.format.unwrap_or(if stdout_is_terminal {
                Format::Text
            } else {
                Format::Json
            });
            print!("{}", render_plan(&plan, format));
            Ok(())
        }
        Command::Apply(args) => apply(&settings, args).await,
        Command::Action => {
            let code = crate::github::run(crate::github::ActionEnv::from_process()).await;
            use std::io::Write as _;
            let _ = std::io::stdout().flush();
            std::process::exit(i32::from(code));
        }
        Command::IamPolicy(args) => {
            let request = args.request(new_run_id());
            let api = SdkRds::connect(&settings).await;
            let (observed, plan) =
                observe_and_plan(&api, &request, &LatencyModel::default()).await?;
            let policy = crate::iam::policy(&plan, &observed.account);
            println!(
                "{}",
                serde_json::to_string_pretty(&policy).unwrap_or_default()
            );
            Ok(())
        }
    }
}

/// `--role-arn` (with `--mfa-serial`), or a profile naming `role_arn` and `mfa_serial`: the
/// role is assumed here, asking for the MFA code on the terminal when it is not given.
async fn role_credentials(
    cli: &Cli,
    settings: &AwsSettings,
) -> Result<Option<aws_credential_types::provider::SharedCredentialsProvider>, MitosisError> {
    use crate::aws::credentials::{assume_role, check_mfa_code, profile_role, RoleRequest};
    let role = match (&cli.role_arn, &cli.profile) {
        (Some(arn), _) => RoleRequest {
            role_arn: arn.clone(),
            mfa_serial: cli.mfa_serial.clone(),
            session_name: "stack-mitosis".into(),
            duration_seconds: cli.role_duration_seconds,
            source_profile: None,
        },
        (None, Some(profile)) => match profile_role(profile).await {
            Some(role) => role,
            None => return Ok(None),
        },
        (None, None) => {
            if cli.mfa_serial.is_some() {
                return Err(MitosisError::bad_input(
                    "--mfa-serial needs --role-arn: the role to assume with the MFA code",
                ));
            }
            return Ok(None);
        }
    };
    let code = match (&role.mfa_serial, &cli.mfa_code) {
        (None, _) => None,
        (Some(_), Some(code)) => Some(check_mfa_code(code)?),
        (Some(serial), None) => {
            if !std::io::stdin().is_terminal() {
                return Err(MitosisError::bad_input(format!(
                    "assuming {} needs an MFA code from {serial}: give --mfa-code or STACK_MITOSIS_MFA_CODE (stdin is not a terminal to ask on)",
                    role.role_arn
                )));
            }
            eprint!("MFA code for {serial}: ");
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .map_err(|e| MitosisError::bad_input(format!("cannot read the MFA code: {e}")))?;
            Some(check_mfa_code(&line)?)
        }
    };
    assume_role(settings, &role, code.as_deref())
        .await
        .map(Some)
}

impl ApplyArgs {
    /// `apply` of `refresh` with every other flag at its default.
    pub fn new(refresh: RefreshArgs) -> Self {
        ApplyArgs {
            refresh,
            on_failure: OnFailure::Rollback,
            step_timeout: defaults::STEP_TIMEOUT,
            hook_timeout: defaults::HOOK_TIMEOUT,
            poll_interval: defaults::POLL_INTERVAL,
            max_poll_interval: defaults::MAX_POLL_INTERVAL,
            concurrency: defaults::CONCURRENCY,
            force_unlock: None,
            lock_ttl: defaults::LOCK_TTL,
            latency_model: None,
            report_json: None,
        }
    }

    pub fn settings(&self, model: LatencyModel) -> ApplySettings {
        let min_tick = Duration::from_secs_f64(self.poll_interval.max(0.01));
        ApplySettings {
            options: ApplyOptions {
                poll: PollSettings {
                    min_tick,
                    max_tick: Duration::from_secs_f64(self.max_poll_interval.max(0.01))
                        .max(min_tick),
                    step_timeout: Duration::from_secs(self.step_timeout),
                },
                hook_timeout: Duration::from_secs(self.hook_timeout),
                on_failure: self.on_failure,
                concurrency: self.concurrency.max(1),
                model,
            },
            lock: LockSettings {
                now_epoch: now_epoch(),
                ttl: Duration::from_secs(self.lock_ttl),
                settle: Duration::from_secs_f64((self.poll_interval / 3.0).clamp(0.05, 5.0)),
                force_unlock: self.force_unlock.clone(),
            },
        }
    }
}

async fn apply(settings: &AwsSettings, args: ApplyArgs) -> Result<(), MitosisError> {
    let model = load_model(args.latency_model.as_deref())?;
    let request = args.refresh.request(new_run_id());
    let api = SdkRds::connect(settings).await;
    let (_, plan) = observe_and_plan(&api, &request, &model).await?;
    eprint!("{}", plan_text(&plan));
    if plan.pending().next().is_none() {
        eprintln!("nothing to do");
    }
    let (report, result) = execute(&api, &plan, &args.settings(model), &TextReporter).await;
    if let Some(report) = &report {
        if let Some(path) = &args.report_json {
            let json = serde_json::to_string_pretty(report).unwrap_or_default();
            if let Err(e) = std::fs::write(path, json + "\n") {
                tracing::error!("cannot write the report to {}: {e}", path.display());
            }
        }
        print!("{}", report_text(report));
    }
    result
}
