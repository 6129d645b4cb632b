use crate::cli::{Ctx, ExitStatus, Format};
use crate::commands::release::{ApplyArgs, act, parse_weight};
use crate::error::Result;
use crate::release::ops;

/// Change the share of callers that get the canary version
#[derive(clap::Args, Debug)]
pub struct CanaryArgs {
    /// Prompt name (support/triage)
    pub name: String,
    /// Percentage of callers (0-100) that get the canary
    #[arg(long, value_name = "PCT", value_parser = parse_weight, required = true)]
    pub weight: u8,
    /// Why: recorded in the tags
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
    #[command(flatten)]
    pub apply: ApplyArgs,
}

pub fn run(ctx: &Ctx, args: &CanaryArgs) -> Result<ExitStatus> {
    ctx.require_format("canary", &[Format::Text, Format::Json])?;
    let project = ctx.project()?;
    let repo = project.repo()?;
    match ops::plan_canary_weight(&repo, &args.name, args.weight, args.reason.clone())? {
        Some(plan) => act(ctx, &project, &repo, &plan, &args.apply),
        None => {
            let name = crate::project::normalize_name(&args.name);
            if ctx.format == Format::Json {
                let v =
                    serde_json::json!({ "prompt": name, "executed": false, "changed": false, "weight": args.weight });
                ctx.ui.out(&crate::report::json(&v)?);
            }
            ctx.ui.note(format!(
                "the canary of {name} already has weight {}%: nothing to change",
                args.weight
            ));
            Ok(ExitStatus::Success)
        }
    }
}
