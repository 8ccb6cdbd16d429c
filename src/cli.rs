//! The command line: argument parsing (clap), environment read once, dispatch to the library.
//! Logs go to stderr; results (plan, policy) go to stdout.

use crate::aws::{observe, AwsSettings, SdkRds};
use crate::error::{exit, MitosisError};
use crate::plan::{plan, PlanRequest, SnapshotChoice};
use crate::render::{render_plan, Format};
use clap::{Args, Parser, Subcommand};
use std::io::IsTerminal;
use std::process::ExitCode;

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
    /// More logging on stderr (-v: debug, -vv: trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show the flight plan: every step the refresh would take, and which are already done.
    Plan(PlanArgs),
    /// Print the least-privilege IAM policy for exactly this refresh.
    IamPolicy(RefreshArgs),
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
    /// Clone through a snapshot even when source and target share a VPC.
    #[arg(long)]
    pub restore_snapshot: bool,
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
            snapshot_path: self.restore_snapshot || self.snapshot.is_some(),
            snapshot,
            run_id,
        }
    }
}

/// A new run id from the clock: sortable and readable in tags (`20261121T224300Z`).
pub fn new_run_id() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
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
        .with_target(false)
        .try_init();
}

async fn run(cli: Cli) -> Result<(), MitosisError> {
    let settings = AwsSettings {
        region: cli.region.clone(),
        profile: cli.profile.clone(),
    };
    let stdout_is_terminal = std::io::stdout().is_terminal();
    match cli.command {
        Command::Plan(args) => {
            let request = args.refresh.request(new_run_id());
            let api = SdkRds::connect(&settings).await;
            let observed = observe(&api, &request.source, &request.target).await?;
            let plan = plan(&observed, &request)?;
            let format = args.format.unwrap_or(if stdout_is_terminal {
                Format::Text
            } else {
                Format::Json
            });
            print!("{}", render_plan(&plan, format));
            Ok(())
        }
        Command::IamPolicy(args) => {
            let request = args.request(new_run_id());
            let api = SdkRds::connect(&settings).await;
            let observed = observe(&api, &request.source, &request.target).await?;
            let plan = plan(&observed, &request)?;
            let policy = crate::iam::policy(&plan, &observed.account);
            println!(
                "{}",
                serde_json::to_string_pretty(&policy).unwrap_or_default()
            );
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::civil_from_days;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_413), (2025, 11, 21));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }
}
