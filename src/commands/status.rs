use serde::Serialize;

use crate::cli::{Ctx, ExitStatus, Format};
use crate::error::Result;
use crate::release::status::{self, PromptStatus};
use crate::report;

/// Show stable and canary versions and unreleased changes
#[derive(clap::Args, Debug)]
pub struct StatusArgs {
    /// Prompt name (default: every prompt)
    pub name: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct StatusReport {
    pub prompts: Vec<PromptStatus>,
}

pub fn run(ctx: &Ctx, args: &StatusArgs) -> Result<ExitStatus> {
    ctx.require_format("status", &[Format::Text, Format::Json])?;
    let project = ctx.project()?;
    let repo = project.repo()?;
    let prompts = status::status(&project, &repo, args.name.as_deref())?;
    match ctx.format {
        Format::Json => ctx.ui.out(&report::json(&StatusReport { prompts })?),
        _ => ctx.ui.out(&report::release::status(&ctx.ui, &prompts)),
    }
    Ok(ExitStatus::Success)
}
