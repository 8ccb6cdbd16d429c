//! The command line (private to the binary): clap parses the flags into the core's option
//! structs (`RefreshOptions`, `ApplyOptions`, `AwsSettings`), the environment is read once
//! here, and each subcommand calls the library. Logs go to stderr; results (plan, policy) go
//! to stdout.

use clap::{Args, Parser, Subcommand, ValueEnum};
use stack_mitosis::aws::credentials::{CLI_SESSION_NAME, DEFAULT_ROLE_DURATION_SECONDS};
use stack_mitosis::aws::{AwsSettings, RdsWrite, SdkRds, DEFAULT_MAX_ATTEMPTS};
use stack_mitosis::error::MitosisError;
use stack_mitosis::kinds::Sdk;
use stack_mitosis::notify::{with_notifier, NotifySettings};
use stack_mitosis::plan::{LatencyModel, OnFailure, SourceTime};
use stack_mitosis::refresh::{
    defaults, execute, load_latency, new_run_id, observe_and_plan, Apis, ApplyOptions,
    RefreshOptions, WriteApis,
};
use stack_mitosis::render::{plan_text, render_plan, report_text, Format, TextProgress};
use std::io::IsTerminal;

/// The most attempts per AWS call `--max-attempts` / `AWS_MAX_ATTEMPTS` may ask for: beyond it
/// a throttled run waits for minutes on one call instead of failing and being resumed.
const MAX_ATTEMPTS_LIMIT: i64 = 20;

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
    #[arg(long, global = true, default_value_t = DEFAULT_ROLE_DURATION_SECONDS, value_name = "SECONDS")]
    pub role_duration_seconds: i32,
    /// Attempts per AWS call, retries included (throttling and transient errors back off).
    #[arg(
        long,
        global = true,
        env = "AWS_MAX_ATTEMPTS",
        default_value_t = DEFAULT_MAX_ATTEMPTS,
        value_parser = clap::value_parser!(u32).range(1..=MAX_ATTEMPTS_LIMIT),
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
    /// Put the target's original names back and delete this refresh's clones (after
    /// `apply --until`, a failure or a crash; not once old instances are being deleted).
    Rollback(ApplyArgs),
    /// Build a throwaway copy of the source shaped like a template (`--like T --prefix P`):
    /// nothing is replaced; rerun to finish or reuse it.
    Copy(CopyArgs),
    /// Delete a copy made by `copy` (only what carries its marks).
    Destroy(DestroyArgs),
    /// Delete every copy whose expiry has passed.
    Sweep(SweepArgs),
    /// Run as a GitHub Action: inputs from INPUT_* variables (see action.yml).
    Action,
}

/// `--on-failure`, as clap offers it.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum OnFailureArg {
    Rollback,
    Keep,
}

impl From<OnFailureArg> for OnFailure {
    fn from(a: OnFailureArg) -> Self {
        match a {
            OnFailureArg::Rollback => OnFailure::Rollback,
            OnFailureArg::Keep => OnFailure::Keep,
        }
    }
}

/// `--format`, as clap offers it.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum FormatArg {
    Text,
    Markdown,
    Json,
}

impl From<FormatArg> for Format {
    fn from(a: FormatArg) -> Self {
        match a {
            FormatArg::Text => Format::Text,
            FormatArg::Markdown => Format::Markdown,
            FormatArg::Json => Format::Json,
        }
    }
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub refresh: RefreshArgs,
    /// What a failure before the deletes does: put the original names back and delete this
    /// run's clones (rollback), or put the names back and keep the clones (keep).
    #[arg(long, value_enum, default_value = "rollback")]
    pub on_failure: OnFailureArg,
    #[command(flatten)]
    pub wait: WaitArgs,
    /// Longest wait for one step of a rollback (seconds): its own bound, so that a rollback
    /// outlives the step timeout that failed the run.
    #[arg(long, default_value_t = defaults::ROLLBACK_TIMEOUT_SECONDS, value_name = "SECONDS")]
    pub rollback_timeout: u64,
    /// The most a cloned replica may lag behind its source (seconds) for the swap to go
    /// ahead; over it, the run stops with nothing retired.
    #[arg(long, default_value_t = defaults::MAX_REPLICA_LAG_SECONDS, value_name = "SECONDS")]
    pub max_replica_lag: u64,
    /// The longest the retire and swap-in renames may take (seconds); past it, roll back.
    #[arg(long, default_value_t = defaults::SWAP_TIMEOUT_SECONDS, value_name = "SECONDS")]
    pub swap_timeout: u64,
    /// How many steps may run at once (sibling replicas are built in parallel).
    #[arg(long, default_value_t = defaults::CONCURRENCY, value_name = "N")]
    pub concurrency: usize,
    /// Remove the lock a dead run left on the target (its run id is in the lock message).
    #[arg(long, value_name = "RUN_ID")]
    pub force_unlock: Option<String>,
    /// How long the target's lock holds after its last renewal (seconds): a live run renews
    /// it every third of this, a dead run's lapses within it.
    #[arg(long, default_value_t = defaults::LOCK_TTL_SECONDS, value_name = "SECONDS")]
    pub lock_ttl: u64,
    /// How long to wait for another run's lock to be released or to lapse (seconds; default:
    /// the TTL plus a minute).
    #[arg(long, value_name = "SECONDS")]
    pub lock_wait: Option<u64>,
    /// Expected RDS timings (JSON, fields as in the README) for the ETA and for polling.
    #[arg(long, value_name = "FILE")]
    pub latency_model: Option<std::path::PathBuf>,
    /// Write the run report as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub report_json: Option<std::path::PathBuf>,
    /// Stop after this phase: `clone` (clones built, before-swap command run, nothing
    /// retired) or `swap` (right after the swap, before the restart command). Run apply again
    /// to continue.
    #[arg(long, value_name = "clone|swap", value_parser = parse_until)]
    pub until: Option<stack_mitosis::plan::Until>,
    /// POST the run's milestones as JSON to this webhook (Slack-compatible `text` plus
    /// fields): start, outage start and end, done, failed, rolled back.
    #[arg(
        long,
        env = "STACK_MITOSIS_NOTIFY_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub notify: Option<String>,
    /// Pass this variable to the hook commands although the tool withholds it (the runner's
    /// ACTIONS_* tokens, the GitHub token input, the webhook URL, the MFA code); repeatable.
    #[arg(long, value_name = "NAME")]
    pub hook_env: Vec<String>,
    /// Do not ask for confirmation (needed without a terminal: scripts, CI).
    #[arg(long, short = 'y')]
    pub yes: bool,
}

/// How long to wait and how often to look: every command that changes something.
#[derive(Debug, Args, Clone)]
pub struct WaitArgs {
    /// Longest wait for one step (seconds).
    #[arg(long, default_value_t = defaults::STEP_TIMEOUT_SECONDS, value_name = "SECONDS")]
    pub step_timeout: u64,
    /// Longest run of a hook command (seconds).
    #[arg(long, default_value_t = defaults::HOOK_TIMEOUT_SECONDS, value_name = "SECONDS")]
    pub hook_timeout: u64,
    /// Shortest time between two looks at AWS while waiting (one look covers every instance
    /// in flight).
    #[arg(long, default_value_t = defaults::POLL_INTERVAL_SECONDS, value_name = "SECONDS")]
    pub poll_interval: f64,
    /// Longest time between two looks, while a long step is far from its expected end.
    #[arg(long, default_value_t = defaults::MAX_POLL_INTERVAL_SECONDS, value_name = "SECONDS")]
    pub max_poll_interval: f64,
}

impl WaitArgs {
    /// These waits on top of `apply`'s defaults.
    fn options(&self) -> ApplyOptions {
        ApplyOptions {
            step_timeout_seconds: self.step_timeout,
            hook_timeout_seconds: self.hook_timeout,
            poll_interval_seconds: self.poll_interval,
            max_poll_interval_seconds: self.max_poll_interval,
            ..ApplyOptions::default()
        }
    }
}

#[derive(Debug, Args)]
pub struct CopyArgs {
    #[command(flatten)]
    pub apply: ApplyArgs,
    /// Write the copy's new master password to this file (mode 600); it is never printed.
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<std::path::PathBuf>,
    /// Reset an existing copy: destroy it first, then make it anew with current data.
    #[arg(long)]
    pub reset: bool,
}

#[derive(Debug, Args)]
pub struct DestroyArgs {
    /// The template the copy was made like (with --config, an environment).
    #[arg(long)]
    pub like: String,
    /// The prefix the copy was made with.
    #[arg(long)]
    pub prefix: String,
    /// The environments' TOML file: the copy's buckets are deleted too.
    #[arg(long, value_name = "FILE")]
    pub config: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub wait: WaitArgs,
}

#[derive(Debug, Args)]
pub struct SweepArgs {
    /// List the expired copies without deleting them.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub wait: WaitArgs,
}

#[derive(Debug, Args, Clone)]
pub struct RefreshArgs {
    /// Root instance of the tree whose data is copied (read only).
    #[arg(long)]
    pub source: String,
    /// Root instance (or cluster) of the tree that is replaced.
    #[arg(long, required_unless_present = "like")]
    pub target: Option<String>,
    /// A throwaway copy instead (`copy`, `plan`, `iam-policy`): the template whose tree the
    /// copy is shaped like (classes, ports, groups, windows, tags).
    #[arg(long, conflicts_with = "target", requires = "prefix")]
    pub like: Option<String>,
    /// What the copy's names begin with (`pr-42-` makes `pr-42-demo` of `demo`).
    #[arg(long, requires = "like")]
    pub prefix: Option<String>,
    /// How long the copy lives before `sweep` deletes it: 30m, 12h, 7d, 2w (default 7d), or
    /// `never`.
    #[arg(long, requires = "like", value_name = "DURATION")]
    pub expires: Option<String>,
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
    /// Keep the snapshot `--snapshot fresh` takes (by default it is deleted once the clone
    /// restored from it exists: manual snapshots never expire).
    #[arg(long)]
    pub keep_snapshot: bool,
    /// Restore the source as of a moment (its automated backups): `latest` (minutes ago) or an
    /// RFC 3339 date and time such as 2026-11-30T09:00:00Z.
    #[arg(long, value_name = "latest|RFC3339", value_parser = SourceTime::parse)]
    pub source_time: Option<SourceTime>,
    /// Secrets Manager secret (ARN or name) with the target's master password (its `password`
    /// key, or the plain string): the clone gets it before the swap, so the application logs
    /// in as before.
    #[arg(long, value_name = "ARN")]
    pub master_password_secret: Option<String>,
    /// The source is in another AWS account: it is read, and its snapshot prepared and shared,
    /// with this role (assumed with the credentials the target uses); everything else with
    /// the target account's credentials.
    #[arg(long, value_name = "ARN")]
    pub source_role_arn: Option<String>,
    /// The source account's credentials from this AWS profile (with --source-role-arn: the
    /// profile that assumes the role).
    #[arg(long, value_name = "NAME")]
    pub source_profile: Option<String>,
    /// Cross-account, encrypted source: the customer-managed KMS key (in the source account,
    /// its key policy allowing the target account) the shared copy is encrypted with.
    #[arg(long, value_name = "KEY")]
    pub source_kms_key_id: Option<String>,
    /// Cross-account, encrypted source: the target account's KMS key for its own copy
    /// (default: the target's key).
    #[arg(long, value_name = "KEY")]
    pub kms_key_id: Option<String>,
    /// A TOML file of environments: --source and --target (or --like) then name
    /// environments, and their S3 buckets and Auto Scaling groups are refreshed with the
    /// database (see the README, "Whole environments").
    #[arg(long, value_name = "FILE")]
    pub config: Option<std::path::PathBuf>,
    /// With --config and --snapshot fresh: the source environment's Auto Scaling groups in
    /// standby while the snapshot is taken (a clean snapshot, with announced downtime).
    #[arg(long, requires = "config")]
    pub quiesce_source: bool,
    /// Show the --before-swap and --restart commands in the plan and the log by their first
    /// word and a hash only (for commands that carry a connection string or a password).
    #[arg(long)]
    pub redact_commands: bool,
    /// Refresh a target that looks like production (deletion protection on, or a tag env,
    /// environment or stage = prod or production): refused without this flag.
    #[arg(long)]
    pub allow_protected_target: bool,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub refresh: RefreshArgs,
    /// Output format (default: text on a terminal, json otherwise).
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
    /// Expected RDS timings (JSON, fields as in the README) for the ETA.
    #[arg(long, value_name = "FILE")]
    pub latency_model: Option<std::path::PathBuf>,
}

impl RefreshArgs {
    fn options(&self) -> RefreshOptions {
        RefreshOptions {
            source: self.source.clone(),
            target: self
                .target
                .clone()
                .or(self.like.clone())
                .unwrap_or_default(),
            prefix: self.prefix.clone(),
            expires: self.expires.clone(),
            restart: self.restart.clone(),
            before_swap: self.before_swap.clone(),
            restore_snapshot: self.restore_snapshot,
            final_snapshot: self.final_snapshot,
            snapshot: self.snapshot.clone(),
            keep_snapshot: self.keep_snapshot,
            source_time: self.source_time,
            master_password_secret: self.master_password_secret.clone(),
            source_kms_key_id: self.source_kms_key_id.clone(),
            kms_key_id: self.kms_key_id.clone(),
            config: self.config.clone(),
            quiesce_source: self.quiesce_source,
            redact_commands: self.redact_commands,
            allow_protected_target: self.allow_protected_target,
        }
    }

    /// The source account's API, when the source is in another account: its profile, or its
    /// role assumed with the target's credentials (or the profile's).
    async fn source_api(&self, settings: &AwsSettings) -> Result<Option<SdkRds>, MitosisError> {
        use aws_credential_types::provider::SharedCredentialsProvider;
        use stack_mitosis::aws::credentials::{assume_role, RoleRequest};
        if self.source_role_arn.is_none() && self.source_profile.is_none() {
            return Ok(None);
        }
        let mut source = settings.clone();
        if let Some(profile) = &self.source_profile {
            // The profile's credentials explicitly: in the default chain, credentials in the
            // environment (the target account's) would come first.
            source.profile = Some(profile.clone());
            let mut config =
                aws_config::provider_config::ProviderConfig::with_default_region().await;
            if let Some(region) = &settings.region {
                config = config.with_region(Some(aws_config::Region::new(region.clone())));
            }
            source.credentials = Some(SharedCredentialsProvider::new(
                aws_config::profile::ProfileFileCredentialsProvider::builder()
                    .configure(&config)
                    .profile_name(profile)
                    .build(),
            ));
        }
        if let Some(arn) = &self.source_role_arn {
            stack_mitosis::aws::credentials::check_role_arn("--source-role-arn", arn)
                .map_err(MitosisError::bad_input)?;
            let role = RoleRequest {
                role_arn: arn.clone(),
                mfa_serial: None,
                session_name: format!("{CLI_SESSION_NAME}-source"),
                duration_seconds: DEFAULT_ROLE_DURATION_SECONDS,
                source_profile: None,
            };
            let credentials = assume_role(&source, &role, None).await.map_err(|e| {
                MitosisError::bad_input(format!(
                    "cannot assume --source-role-arn {arn}: {e}; check that role's trust policy allows the identity this run uses (the target account's, or --source-profile's) to sts:AssumeRole"
                ))
            })?;
            source.profile = None;
            source.credentials = Some(credentials);
        }
        Ok(Some(SdkRds::connect(&source).await))
    }
}

impl ApplyArgs {
    /// `--notify`: the webhook, with no workflow run to link to from a terminal.
    fn notify_settings(&self) -> Option<NotifySettings> {
        self.notify
            .clone()
            .map(|url| NotifySettings { url, link: None })
    }

    /// The options, checked before any AWS call: durations, the webhook, and the files the
    /// run will write (a report that cannot be written would be lost after the run).
    fn checked_options(&self) -> Result<ApplyOptions, MitosisError> {
        let options = self.options();
        options.validate()?;
        if let Some(url) = &self.notify {
            stack_mitosis::notify::check_url("--notify", url)?;
        }
        if let Some(path) = &self.report_json {
            stack_mitosis::files::check_writable("--report-json", path)?;
        }
        Ok(options)
    }

    fn options(&self) -> ApplyOptions {
        ApplyOptions {
            on_failure: self.on_failure.into(),
            rollback_timeout_seconds: self.rollback_timeout,
            concurrency: self.concurrency,
            force_unlock: self.force_unlock.clone(),
            lock_ttl_seconds: self.lock_ttl,
            lock_wait_seconds: self.lock_wait,
            until: self.until,
            max_replica_lag_seconds: self.max_replica_lag,
            swap_timeout_seconds: self.swap_timeout,
            hook_env: self.hook_env.clone(),
            ..self.wait.options()
        }
    }
}

/// Parses the command line. In a container Action started without arguments, it is the
/// Action.
pub fn parse() -> Cli {
    let in_actions = std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true");
    if std::env::args_os().len() == 1 && in_actions {
        Cli::parse_from(["stack-mitosis", "action"])
    } else {
        Cli::parse()
    }
}

pub fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "stack_mitosis=info",
        1 => "stack_mitosis=debug",
        _ => "stack_mitosis=trace,aws_smithy_runtime=debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("STACK_MITOSIS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default))
        // The HTTP client's spans carry whole URLs: a webhook's is a secret, and the runner's
        // token endpoint's is none of the log's business. Whatever level is asked for.
        .add_directive("octocrab=off".parse().expect("a valid directive"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .try_init();
}

/// Runs the command; returns the exit code of a run that ended as designed (the Action's own
/// failures included), or the error to report.
pub async fn run(cli: Cli) -> Result<u8, MitosisError> {
    let mut settings = AwsSettings {
        region: cli.region.clone(),
        profile: cli.profile.clone(),
        max_attempts: cli.max_attempts.max(1),
        credentials: None,
    };
    if let Command::Action = cli.command {
        // The Action assumes its own role (OIDC) and reports its own errors.
        let env = stack_mitosis::github::ActionEnv::from_process();
        return Ok(stack_mitosis::github::run(env, settings).await);
    }
    settings.credentials = role_credentials(&cli, &settings).await?;
    match cli.command {
        Command::Plan(args) => plan(&settings, args).await,
        Command::Apply(args) => apply(&settings, args).await,
        Command::IamPolicy(args) => iam_policy(&settings, args).await,
        Command::Rollback(args) => rollback(&settings, args).await,
        Command::Copy(args) => copy(&settings, args).await,
        Command::Destroy(args) => destroy(&settings, args).await,
        Command::Sweep(args) => sweep(&settings, args).await,
        Command::Action => unreachable!("handled above"),
    }
    .map(|()| 0)
}

async fn plan(settings: &AwsSettings, args: PlanArgs) -> Result<(), MitosisError> {
    let latency = load_latency(args.latency_model.as_deref())?;
    let request = args.refresh.options().request(&new_run_id())?;
    let clients = Clients::connect(settings, &args.refresh).await?;
    let (_, plan) = observe_and_plan(clients.apis().read(), &request, &latency).await?;
    let format = match args.format {
        Some(f) => f.into(),
        None if std::io::stdout().is_terminal() => Format::Text,
        None => Format::Json,
    };
    print!("{}", render_plan(&plan, format));
    Ok(())
}

async fn iam_policy(settings: &AwsSettings, args: RefreshArgs) -> Result<(), MitosisError> {
    let request = args.options().request(&new_run_id())?;
    let clients = Clients::connect(settings, &args).await?;
    let (observed, plan) =
        observe_and_plan(clients.apis().read(), &request, &LatencyModel::default()).await?;
    let policy = stack_mitosis::iam::policies(&plan, &observed);
    println!(
        "{}",
        serde_json::to_string_pretty(&policy).unwrap_or_default()
    );
    Ok(())
}

/// `--role-arn` (with `--mfa-serial`), or a profile naming `role_arn` and `mfa_serial`: the
/// role is assumed here, asking for the MFA code on the terminal when it is not given.
async fn role_credentials(
    cli: &Cli,
    settings: &AwsSettings,
) -> Result<Option<aws_credential_types::provider::SharedCredentialsProvider>, MitosisError> {
    use stack_mitosis::aws::credentials::{
        assume_role, check_mfa_code, check_role_arn, check_role_duration, profile_role, RoleRequest,
    };
    if let Some(arn) = &cli.role_arn {
        check_role_arn("--role-arn", arn).map_err(MitosisError::bad_input)?;
    }
    check_role_duration(
        "--role-duration-seconds",
        i64::from(cli.role_duration_seconds),
    )
    .map_err(MitosisError::bad_input)?;
    let role = match (&cli.role_arn, &cli.profile) {
        (Some(arn), _) => RoleRequest {
            role_arn: arn.clone(),
            mfa_serial: cli.mfa_serial.clone(),
            session_name: CLI_SESSION_NAME.into(),
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

async fn apply(settings: &AwsSettings, args: ApplyArgs) -> Result<(), MitosisError> {
    if args.refresh.like.is_some() {
        return Err(MitosisError::bad_input(
            "apply refreshes a target (--target): for a copy like a template use `stack-mitosis copy`",
        ));
    }
    let options = args.checked_options()?;
    let latency = load_latency(args.latency_model.as_deref())?;
    let request = args.refresh.options().request(&new_run_id())?;
    let clients = Clients::connect(settings, &args.refresh).await?;
    let (_, plan) = observe_and_plan(clients.apis().read(), &request, &latency).await?;
    eprint!("{}", plan_text(&plan));
    if !plan.has_work() {
        eprintln!("nothing to do");
    } else if !args.yes {
        confirm(&format!(
            "Refresh {} from {}: type yes to carry out the plan above: ",
            plan.target, plan.source
        ))?;
    }
    let (report, result) = with_notifier(args.notify_settings(), &TextProgress, async |sink| {
        execute(clients.apis(), &request, &plan, &options, latency, sink).await
    })
    .await;
    show_report(&args, report.as_ref());
    result
}

/// `copy`: the copy's flight plan, then built (or finished, or reused) with a new master
/// password, written to `--password-file` and never printed. Nothing is replaced: no question.
async fn copy(settings: &AwsSettings, args: CopyArgs) -> Result<(), MitosisError> {
    let a = &args.apply;
    if a.refresh.like.is_none() {
        return Err(MitosisError::bad_input(
            "copy needs --like T --prefix P: the template the copy is shaped like, and what its names begin with",
        ));
    }
    let options = a.checked_options()?;
    if let Some(path) = &args.password_file {
        stack_mitosis::files::check_secret_path("--password-file", path)?;
    }
    let latency = load_latency(a.latency_model.as_deref())?;
    let request = a.refresh.options().request(&new_run_id())?;
    let clients = Clients::connect(settings, &a.refresh).await?;
    let (api, apis) = (&clients.api, clients.apis());
    if args.reset {
        let copy = a.refresh.options().copy_to_destroy()?;
        let removal = stack_mitosis::plan::Removal::Destroy;
        destroy_one(api, clients.env.as_ref(), &copy, removal, &a.wait).await?;
    }
    let (_, plan) = observe_and_plan(apis.read(), &request, &latency).await?;
    eprint!("{}", plan_text(&plan));
    let created = stack_mitosis::refresh::creates_copy(&plan);
    let keep = stack_mitosis::refresh::KeepPassword::new(&TextProgress);
    let (report, result) = with_notifier(a.notify_settings(), &keep, async |sink| {
        execute(apis, &request, &plan, &options, latency, sink).await
    })
    .await;
    show_report(a, report.as_ref());
    // Only a finished copy (scrubbed, when asked) is handed over.
    if let (true, Some(path), Some(password)) =
        (result.is_ok(), &args.password_file, keep.password())
    {
        write_secret(path, &password)?;
    }
    if result.is_ok() {
        eprintln!(
            "copy {}: {}",
            plan.target,
            if created {
                "created".to_string()
            } else {
                format!(
                    "reused (made by run {}); its master password is new",
                    plan.run_id
                )
            }
        );
    }
    result
}

/// Writes a secret to a file only its owner may read (`stack_mitosis::files::write_secret`).
fn write_secret(path: &std::path::Path, secret: &str) -> Result<(), MitosisError> {
    stack_mitosis::files::write_secret("--password-file", path, secret)
}

/// `destroy`: the copy's delete plan, carried out; nothing there is no error.
async fn destroy(settings: &AwsSettings, args: DestroyArgs) -> Result<(), MitosisError> {
    let copy = RefreshOptions {
        target: args.like.clone(),
        prefix: Some(args.prefix.clone()),
        config: args.config.clone(),
        ..Default::default()
    }
    .copy_to_destroy()?;
    let api = SdkRds::connect(settings).await;
    let env = Sdk::connect_if(settings, !copy.buckets.is_empty()).await;
    let removal = stack_mitosis::plan::Removal::Destroy;
    destroy_one(&api, env.as_ref(), &copy, removal, &args.wait).await
}

async fn destroy_one(
    api: &SdkRds,
    env: Option<&Sdk>,
    copy: &stack_mitosis::refresh::CopyRef,
    removal: stack_mitosis::plan::Removal,
    wait: &WaitArgs,
) -> Result<(), MitosisError> {
    let options = wait.options();
    options.validate()?;
    let read = env.map(Sdk::reads);
    let Some(plan) = stack_mitosis::refresh::plan_destroy(api, read, copy, removal).await? else {
        eprintln!(
            "nothing to destroy: no copy {} exists (already gone)",
            copy.name()
        );
        return Ok(());
    };
    eprint!("{}", plan_text(&plan));
    let (report, result) = stack_mitosis::refresh::execute_unlocked(
        api,
        env.map(Sdk::writes),
        &plan,
        &options,
        LatencyModel::default(),
        &TextProgress,
    )
    .await;
    if let Some(report) = report {
        print!("{}", report_text(&report));
    }
    result
}

/// `sweep`: every expired copy destroyed (or, with `--dry-run`, listed).
async fn sweep(settings: &AwsSettings, args: SweepArgs) -> Result<(), MitosisError> {
    let api = SdkRds::connect(settings).await;
    // Expired bucket copies carry their own tags: the account's buckets are looked at too.
    let env = Sdk::connect(settings).await;
    let expired = stack_mitosis::refresh::expired_copies(&api, Some(env.reads())).await?;
    if expired.is_empty() {
        eprintln!("no expired copies");
    }
    for copy in &expired {
        match &copy.like {
            Some(like) => println!("expired: {} (a copy like {like})", copy.name()),
            None => println!("expired: bucket {} (a copy)", copy.name()),
        }
    }
    if args.dry_run {
        return Ok(());
    }
    let mut result = Ok(());
    for copy in &expired {
        let removal = stack_mitosis::plan::Removal::Sweep;
        match destroy_one(&api, Some(&env), copy, removal, &args.wait).await {
            Ok(()) => {}
            // Not provably a copy: passed over, with why; the sweep goes on.
            Err(MitosisError::BadInput(why)) => eprintln!("{why}"),
            Err(e) => {
                eprintln!("sweep: {} was not destroyed: {e}", copy.name());
                result = Err(e);
            }
        }
    }
    result
}

/// The AWS clients of a command: the target account's RDS, the source account's when it is
/// another, and the environment's S3 and Auto Scaling with `--config`.
struct Clients {
    api: SdkRds,
    source: Option<SdkRds>,
    env: Option<Sdk>,
}

impl Clients {
    async fn connect(settings: &AwsSettings, args: &RefreshArgs) -> Result<Self, MitosisError> {
        Ok(Clients {
            api: SdkRds::connect(settings).await,
            source: args.source_api(settings).await?,
            env: Sdk::connect_if(settings, args.config.is_some()).await,
        })
    }

    fn apis(&self) -> WriteApis<'_> {
        Apis {
            target: &self.api,
            source: self.source.as_ref().map(|s| s as &dyn RdsWrite),
            env: self.env.as_ref().map(Sdk::writes),
        }
    }
}

/// The run report on stdout, and in `--report-json FILE` when given.
fn show_report(args: &ApplyArgs, report: Option<&stack_mitosis::schema::RunReport>) {
    let Some(report) = report else { return };
    if let Some(path) = &args.report_json {
        let json = serde_json::to_string_pretty(report).unwrap_or_default();
        if let Err(e) = std::fs::write(path, json + "\n") {
            tracing::error!("cannot write the report to {}: {e}", path.display());
        }
    }
    print!("{}", report_text(report));
}

/// Asks on the terminal; anything but `yes` refuses. Without a terminal there is nobody to ask:
/// refuse, naming `--yes`. Either way nothing has been changed yet.
fn confirm(question: &str) -> Result<(), MitosisError> {
    if !std::io::stdin().is_terminal() {
        return Err(MitosisError::bad_input(
            "stdin is not a terminal to ask for confirmation: review the plan above and rerun with --yes",
        ));
    }
    eprint!("{question}");
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .map_err(|e| MitosisError::bad_input(format!("cannot read the answer: {e}")))?;
    if answer.trim() == "yes" {
        Ok(())
    } else {
        Err(MitosisError::bad_input(
            "not confirmed (the answer was not `yes`): nothing was changed",
        ))
    }
}

fn parse_until(s: &str) -> Result<stack_mitosis::plan::Until, String> {
    s.parse()
}

async fn rollback(settings: &AwsSettings, args: ApplyArgs) -> Result<(), MitosisError> {
    if args.refresh.like.is_some() {
        return Err(MitosisError::bad_input(
            "rollback undoes a refresh (--target): a copy is removed with `stack-mitosis destroy`",
        ));
    }
    let options = args.checked_options()?;
    let latency = load_latency(args.latency_model.as_deref())?;
    let request = args.refresh.options().request(&new_run_id())?;
    let clients = Clients::connect(settings, &args.refresh).await?;
    let accounts = clients.apis();
    let Some(plan) =
        stack_mitosis::refresh::plan_rollback(accounts.read(), &request, &latency).await?
    else {
        eprintln!(
            "nothing to roll back: {} carries no unfinished refresh",
            request.target
        );
        return Ok(());
    };
    eprint!("{}", plan_text(&plan));
    if !args.yes {
        confirm(&format!(
            "Roll back the refresh of {}: type yes to carry out the plan above: ",
            plan.target
        ))?;
    }
    let (report, result) = with_notifier(args.notify_settings(), &TextProgress, async |sink| {
        stack_mitosis::refresh::execute_rollback(accounts, &plan, &options, latency, sink).await
    })
    .await;
    show_report(&args, report.as_ref());
    result
}
