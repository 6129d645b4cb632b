use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::budget::check::{self, CheckReport, Options};
use crate::cli::{Ctx, ExitStatus, Format};
use crate::error::{Error, Result};
use crate::git::Repo;
use crate::report;

/// Check prompts against their budgets and lint rules (the CI gate)
///
/// Exits 1 when any error-level finding exists, 0 otherwise.
#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    /// Prompts to check (default: every prompt)
    pub names: Vec<String>,
    /// Measure growth against this revision (e.g. origin/main)
    #[arg(long, value_name = "REV")]
    pub base: Option<String>,
}

pub fn run(ctx: &Ctx, args: &CheckArgs) -> Result<ExitStatus> {
    ctx.require_format(
        "check",
        &[
            Format::Text,
            Format::Json,
            Format::Github,
            Format::Markdown,
            Format::Sarif,
        ],
    )?;
    let project = ctx.project()?;
    let report = check::check(
        &project,
        &Options {
            names: args.names.clone(),
            base: args.base.clone(),
        },
    )?;
    // GitHub and SARIF paths are relative to the repository root.
    let prefix = match Repo::discover(&project.root) {
        Ok(Some(repo)) => repo.prefix,
        _ => PathBuf::new(),
    };
    match ctx.format {
        Format::Json => ctx.ui.out(&report::json(&report)?),
        Format::Markdown => ctx.ui.out(&report::check::markdown(&report, &prefix)),
        Format::Sarif => ctx.ui.out(&report::json(&report::check::sarif(&report, &prefix))?),
        Format::Github => {
            ctx.ui.out(&report::check::github(&report, &prefix));
            if let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty())
                && let Err(e) = append_summary(Path::new(&path), &report, &prefix)
            {
                ctx.ui.warn(format!("could not write the job summary: {}", e.message));
            }
        }
        _ => ctx.ui.out(&report::check::text(&report, &ctx.ui)),
    }
    Ok(if report.passed {
        ExitStatus::Success
    } else {
        ExitStatus::GateFailed
    })
}

/// Append (never truncate: other steps write there too) the markdown report
/// to GitHub's job summary file.
fn append_summary(path: &Path, report: &CheckReport, prefix: &Path) -> Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| Error::io(path, &e))?;
    // A leading blank line keeps the heading a heading after another step's text.
    let text = format!("\n{}\n", report::check::markdown(report, prefix));
    f.write_all(text.as_bytes()).map_err(|e| Error::io(path, &e))
}
