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
