use crate::cli::{Ctx, ExitStatus, Format};
use crate::commands::release::{ApplyArgs, act};
use crate::error::Result;
use crate::release::ops;

/// Make the canary version stable and clear the canary
#[derive(clap::Args, Debug)]
pub struct PromoteArgs {
    /// Prompt name (support/triage)
    pub name: String,
    /// Why: recorded in the tags
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
    #[command(flatten)]
    pub apply: ApplyArgs,
}

pub fn run(ctx: &Ctx, args: &PromoteArgs) -> Result<ExitStatus> {
    ctx.require_format("promote", &[Format::Text, Format::Json])?;
    let project = ctx.project()?;
    let repo = project.repo()?;
    let plan = ops::plan_promote(&repo, &args.name, args.reason.clone())?;
    act(ctx, &project, &repo, &plan, &args.apply)
}
