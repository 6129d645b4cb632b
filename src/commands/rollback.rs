use crate::cli::{Ctx, ExitStatus, Format};
use crate::commands::release::{ApplyArgs, act};
use crate::error::Result;
use crate::release::{ops, tags};

/// Move stable back to the previous version (or --to vN) and clear the canary
#[derive(clap::Args, Debug)]
pub struct RollbackArgs {
    /// Prompt name (support/triage)
    pub name: String,
    /// Version to make stable (default: the stable version before the current one)
    #[arg(long, value_name = "vN", value_parser = parse_version)]
    pub to: Option<u32>,
    /// Why: recorded in the tags
    #[arg(long, value_name = "TEXT", required = true)]
    pub reason: String,
    #[command(flatten)]
    pub apply: ApplyArgs,
}

fn parse_version(s: &str) -> std::result::Result<u32, String> {
    let with_v = if s.starts_with('v') {
        s.to_string()
    } else {
        format!("v{s}")
    };
    tags::parse_version(&with_v).ok_or_else(|| format!("'{s}' is not a version: use vN, e.g. v3"))
}

pub fn run(ctx: &Ctx, args: &RollbackArgs) -> Result<ExitStatus> {
    ctx.require_format("rollback", &[Format::Text, Format::Json])?;
    let project = ctx.project()?;
    let repo = project.repo()?;
    let plan = ops::plan_rollback(&repo, &args.name, args.to, args.reason.clone())?;
    act(ctx, &project, &repo, &plan, &args.apply)
}
