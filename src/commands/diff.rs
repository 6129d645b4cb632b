use crate::cli::{Ctx, ExitStatus, Format};
use crate::diff::{self, DiffSpec};
use crate::error::{Error, Result};
use crate::report;

/// Show the token-aware diff of prompts between revisions
///
/// With no revision: the working tree (untracked prompt files included)
/// against HEAD. One: the working tree against REV. Two: BASE against HEAD.
/// `A...B` compares the merge base of A and B with B (the form CI uses:
/// origin/main...HEAD); `A..B` compares A with B.
#[derive(clap::Args, Debug)]
pub struct DiffArgs {
    /// Base revision, or a range A...B / A..B (default: HEAD)
    #[arg(value_name = "BASE")]
    pub base: Option<String>,
    /// Head revision (default: the working tree)
    #[arg(value_name = "HEAD")]
    pub head: Option<String>,
    /// Compare the index (staged changes) instead of the working tree
    #[arg(long, visible_alias = "staged")]
    pub cached: bool,
    /// Exit with 1 when prompts differ
    #[arg(long)]
    pub exit_code: bool,
    /// Exit with 2 when a prompt at the head side does not parse or render
    #[arg(long)]
    pub strict: bool,
    /// Unchanged lines around each hunk
    #[arg(short = 'U', long = "unified", value_name = "N", default_value_t = 3)]
    pub context: usize,
    /// Limit to prompts: names (support/triage), directories (support) or globs ('support/*')
    #[arg(last = true, value_name = "PROMPT")]
    pub limits: Vec<String>,
}

pub fn run(ctx: &Ctx, args: &DiffArgs) -> Result<ExitStatus> {
    ctx.require_format("diff", &[Format::Text, Format::Json, Format::Markdown, Format::Stat])?;
    let project = ctx.project()?;
    let revs: Vec<String> = args.base.iter().chain(args.head.iter()).cloned().collect();
    let mut spec = DiffSpec::parse(&revs, args.cached)?;
    spec.limits = args.limits.clone();
    spec.context = args.context;
    let report = diff::compare(&project, &spec)?;
    let out = match ctx.format {
        Format::Json => report::json(&report)?,
        Format::Markdown => report::diff::render_markdown(&report),
        Format::Stat => report::diff::render_stat(&report, ctx.ui.color),
        _ => report::diff::render_text(&report, ctx.ui.color),
    };
    ctx.ui.out(&out);
    for w in &report.warnings {
        ctx.ui.warn(w);
    }
    let failures = report.head_failures();
    if args.strict && failures > 0 {
        return Err(Error::input(format!(
            "{failures} prompt{} at {} cannot be read or measured (--strict)",
            if failures == 1 { "" } else { "s" },
            report.head.label()
        ))
        .hint("the errors are listed in the report above"));
    }
    if args.exit_code && report.differs() {
        return Ok(ExitStatus::GateFailed);
    }
    Ok(ExitStatus::Success)
}
