//! The binary: parse the command line, run the command, map the outcome to an exit code.

mod cli;

use stack_mitosis::error::exit;
use std::io::Write as _;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = cli::parse();
    cli::init_logging(cli.verbose);
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
    runtime.spawn(stop_on_signal());
    let code = match runtime.block_on(cli::run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            e.exit_code()
        }
    };
    let _ = std::io::stdout().flush();
    ExitCode::from(code)
}

/// SIGINT, SIGTERM or SIGHUP: the hooks' process groups are ended with the tool (they run in
/// groups of their own, which a terminal's Ctrl-C does not reach), and the tool exits as a
/// shell reports a process ended by that signal (128 + its number). The lock lapses; a rerun
/// resumes.
async fn stop_on_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut int), Ok(mut term), Ok(mut hup)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) else {
        return;
    };
    let (name, number) = tokio::select! {
        _ = int.recv() => ("SIGINT", 2),
        _ = term.recv() => ("SIGTERM", 15),
        _ = hup.recv() => ("SIGHUP", 1),
    };
    stack_mitosis::exec::hooks::end_all();
    eprintln!("stopped by {name}: rerun the same command to resume");
    std::process::exit(128 + number);
}
