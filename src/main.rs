use std::process::ExitCode;

fn main() -> ExitCode {
    stack_mitosis::cli::main()
}
