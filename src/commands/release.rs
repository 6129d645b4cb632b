use crate::cli::{Ctx, ExitStatus, Format};
use crate::error::{Error, Result};
use crate::git::Repo;
use crate::project::Project;
use crate::release::ops::{self, Plan, ReleaseRequest};
use crate::release::push;
use crate::report;

/// Tag the next version of a prompt and move a channel to it
#[derive(clap::Args, Debug)]
pub struct ReleaseArgs {
    /// Prompt name (support/triage)
    pub name: String,
    /// Release the prompt as committed at this revision
    #[arg(long, value_name = "REV", default_value = "HEAD")]
    pub rev: String,
    /// Release as canary for PCT% of callers instead of moving stable
    #[arg(long, value_name = "PCT", value_parser = parse_weight)]
    pub canary: Option<u8>,
    /// Why: recorded in the tags
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
    /// Release even though gates failed (recorded with --reason)
    #[arg(long, requires = "reason")]
    pub force: bool,
    /// Let gates call model providers (default: offline)
    #[arg(long)]
    pub live: bool,
    #[command(flatten)]
    pub apply: ApplyArgs,
}

/// Flags shared by the commands that move tags.
#[derive(clap::Args, Debug)]
pub struct ApplyArgs {
    /// Make the change (default: show what would change)
    #[arg(long)]
    pub execute: bool,
    /// Only show what would change, even if promptctl.toml sets release.execute
    #[arg(long, conflicts_with = "execute")]
    pub dry_run: bool,
    /// Push the prompt's tags with `git push` (channel tags forced)
    #[arg(long)]
    pub push: bool,
    /// Remote for --push (default: release.remote, else origin)
    #[arg(long, value_name = "NAME", requires = "push")]
    pub remote: Option<String>,
}

/// A canary weight: `10` or `10%`, 0 to 100.
pub fn parse_weight(s: &str) -> std::result::Result<u8, String> {
    let n = s.trim().trim_end_matches('%');
    match n.parse::<u32>() {
        Ok(w) if w <= 100 => Ok(w as u8),
        _ => Err(format!(
            "canary weight must be a whole percentage from 0 to 100, got '{s}'"
        )),
    }
}

pub fn run(ctx: &Ctx, args: &ReleaseArgs) -> Result<ExitStatus> {
    ctx.require_format("release", &[Format::Text, Format::Json])?;
    let project = ctx.project()?;
    let repo = project.repo()?;
    let req = ReleaseRequest {
        name: args.name.clone(),
        rev: Some(args.rev.clone()),
        canary: args.canary,
        reason: args.reason.clone(),
        force: args.force,
        live: args.live,
    };
    let plan = ops::plan_release(&project, &repo, &req)?;
    if plan.blocked {
        show(ctx, &plan, None, false)?;
        let failed: Vec<&str> = plan
            .gates
            .iter()
            .flat_map(|g| g.failed())
            .map(|g| g.name.as_str())
            .collect();
        return Err(Error::gate(format!(
            "release gates failed for {}: {}; nothing was changed",
            plan.prompt,
            failed.join(", ")
        ))
        .hint("fix the prompt, or override with --force --reason TEXT (the override is recorded in the tag)"));
    }
    act(ctx, &project, &repo, &plan, &args.apply)
}

/// Show the plan; apply it when asked to (flag or config).
pub fn act(ctx: &Ctx, project: &Project, repo: &Repo, plan: &Plan, apply: &ApplyArgs) -> Result<ExitStatus> {
    let execute = !apply.dry_run && (apply.execute || project.config.release.execute);
    let remote = apply.push.then(|| {
        apply
            .remote
            .clone()
            .or_else(|| project.config.release.remote.clone())
            .unwrap_or_else(|| "origin".to_string())
    });
    if !execute {
        show(ctx, plan, None, false)?;
        let push_note = match &remote {
            Some(r) => format!(" and push to {r}"),
            None => String::new(),
        };
        ctx.ui.note(format!(
            "dry run: nothing changed; run again with --execute to tag{push_note}"
        ));
        return Ok(ExitStatus::Success);
    }
    if let Some(r) = &remote {
        ctx.ui.status("Pushing", format!("{} tags to {r}", plan.prompt));
    }
    let applied = ops::apply(repo, plan, remote.as_deref())?;
    for u in &plan.refs {
        let verb = if u.op == "create" { "Tagged" } else { "Moved" };
        ctx.ui.status(verb, &u.tag);
    }
    if let Some(p) = &applied.push {
        for r in &p.refs {
            if r.status != push::PushStatus::UpToDate {
                ctx.ui.status(
                    "Pushed",
                    format!("{} {}", r.refname.trim_start_matches("refs/tags/"), r.summary),
                );
            }
        }
        if let Some(n) = &p.notes
            && !n.pushed
        {
            ctx.ui.warn(&n.message);
        }
    }
    show(ctx, plan, Some(&applied), true)?;
    Ok(ExitStatus::Success)
}

fn show(ctx: &Ctx, plan: &Plan, applied: Option<&ops::Applied>, executed: bool) -> Result<()> {
    match ctx.format {
        Format::Json => {
            #[derive(serde::Serialize)]
            struct Out<'a> {
                executed: bool,
                #[serde(flatten)]
                plan: &'a Plan,
                #[serde(skip_serializing_if = "Option::is_none")]
                push: Option<&'a push::PushReport>,
            }
            ctx.ui.out(&report::json(&Out {
                executed,
                plan,
                push: applied.and_then(|a| a.push.as_ref()),
            })?);
        }
        _ => ctx.ui.out(&report::release::plan(&ctx.ui, plan, applied)),
    }
    Ok(())
}
