use crate::cli::{Ctx, ExitStatus, Format};
use crate::error::Result;
use crate::project::normalize_name;
use crate::release::{history, state, tags};
use crate::report;

/// Show every release, promotion and rollback of a prompt, with metrics
#[derive(clap::Args, Debug)]
pub struct HistoryArgs {
    /// Prompt name (support/triage)
    pub name: String,
}

pub fn run(ctx: &Ctx, args: &HistoryArgs) -> Result<ExitStatus> {
    ctx.require_format("history", &[Format::Text, Format::Json])?;
    let project = ctx.project()?;
    let repo = project.repo()?;
    let name = normalize_name(&args.name);
    tags::validate_name(&name)?;
    let rel = state::load(&repo.repo, &name)?;
    if !rel.is_released() && rel.events.is_empty() {
        // Unknown names deserve the same help as elsewhere.
        project.prompt_file(&name, &crate::project::Source::WorkTree)?;
    }
    let h = history::history(&repo.repo, &rel)?;
    match ctx.format {
        Format::Json => ctx.ui.out(&report::json(&h)?),
        _ => ctx.ui.out(&report::release::history(&ctx.ui, &h)),
    }
    Ok(ExitStatus::Success)
}
