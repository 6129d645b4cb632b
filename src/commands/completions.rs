use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::{Cli, Ctx, ExitStatus};
use crate::error::Result;

/// Print a shell completion script
#[derive(clap::Args, Debug)]
pub struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_enum)]
    pub shell: Shell,
}

pub fn run(ctx: &Ctx, args: &CompletionsArgs) -> Result<ExitStatus> {
    let mut cmd = Cli::command();
    let mut buf = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "promptctl", &mut buf);
    ctx.ui.out(&String::from_utf8_lossy(&buf));
    Ok(ExitStatus::Success)
}
