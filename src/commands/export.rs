use std::path::PathBuf;

use crate::cli::{Ctx, ExitStatus, Format};
use crate::error::Result;
use crate::release::export;

/// Write a JSON bundle of every released prompt for applications
#[derive(clap::Args, Debug)]
pub struct ExportArgs {
    /// Write the bundle to FILE (atomically) instead of stdout
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

pub fn run(ctx: &Ctx, args: &ExportArgs) -> Result<ExitStatus> {
    // The bundle is JSON whatever --format says; text is accepted as the default.
    ctx.require_format("export", &[Format::Text, Format::Json])?;
    let project = ctx.project()?;
    let repo = project.repo()?;
    let bundle = export::bundle(&repo, &project.config.project.default_model)?;
    let json = export::to_json(&bundle)?;
    match &args.out {
        Some(path) => {
            let abs = if path.is_absolute() {
                path.clone()
            } else {
                ctx.dir.join(path)
            };
            crate::commands::write_atomic(&abs, json.as_bytes())?;
            ctx.ui.status(
                "Exported",
                format!(
                    "{} prompt{} to {}",
                    bundle.prompts.len(),
                    if bundle.prompts.len() == 1 { "" } else { "s" },
                    path.display()
                ),
            );
        }
        None => ctx.ui.out(&json),
    }
    Ok(ExitStatus::Success)
}
