use std::process::ExitCode;

use promptctl::cli::{self, Cli, ExitStatus};

fn main() -> ExitCode {
    promptctl::git::keep_open_until_exit();
    let cli = Cli::from_env();
    match cli::run(cli) {
        Ok(ExitStatus::Success) => ExitCode::SUCCESS,
        Ok(ExitStatus::GateFailed) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {}", e.message);
            for h in &e.hints {
                eprintln!("hint: {h}");
            }
            ExitCode::from(e.kind.exit_code())
        }
    }
}
