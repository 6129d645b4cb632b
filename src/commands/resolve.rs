use std::path::PathBuf;

use serde::Serialize;

use crate::cli::{Ctx, ExitStatus, Format};
use crate::error::Result;
use crate::project::normalize_name;
use crate::prompt::message::Message;
use crate::prompt::render;
use crate::release::resolve::{self, Request, Resolution};
use crate::release::tags::Channel;
use crate::release::{state, tags, version_prompt};
use crate::report;

/// Show which version a caller gets (sticky canary assignment with --key)
#[derive(clap::Args, Debug)]
pub struct ResolveArgs {
    /// Prompt name (support/triage)
    pub name: String,
    /// Channel to resolve
    #[arg(long, value_enum, conflicts_with = "key", default_value_t = ChannelArg::Stable)]
    pub channel: ChannelArg,
    /// Caller key (user id, session id): canary when its bucket < weight
    #[arg(long, value_name = "K")]
    pub key: Option<String>,
    /// Also print the rendered prompt of that version
    #[arg(long)]
    pub render: bool,
    /// Set a variable for --render (repeatable)
    #[arg(long = "var", value_name = "NAME=VALUE", requires = "render")]
    pub vars: Vec<String>,
    /// Read variables for --render from a YAML or JSON file
    #[arg(long = "vars", value_name = "FILE", requires = "render")]
    pub vars_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ChannelArg {
    Stable,
    Canary,
}

#[derive(Debug, Serialize)]
struct Out {
    #[serde(flatten)]
    resolution: Resolution,
    #[serde(skip_serializing_if = "Option::is_none")]
    messages: Option<Vec<Message>>,
}

pub fn run(ctx: &Ctx, args: &ResolveArgs) -> Result<ExitStatus> {
    ctx.require_format("resolve", &[Format::Text, Format::Json])?;
    let project = ctx.project()?;
    let repo = project.repo()?;
    let name = normalize_name(&args.name);
    tags::validate_name(&name)?;
    let rel = state::load(&repo.repo, &name)?;
    let req = match (&args.key, args.channel) {
        (Some(k), _) => Request::Key(k.clone()),
        (None, ChannelArg::Stable) => Request::Channel(Channel::Stable),
        (None, ChannelArg::Canary) => Request::Channel(Channel::Canary),
    };
    let resolution = resolve::resolve(&rel, &req)?;
    let messages = if args.render {
        let v = rel.require_version(resolution.version)?;
        let (_, prompt) = version_prompt(&repo, &name, v)?;
        let vars = crate::commands::parse_vars(&args.vars, args.vars_file.as_deref())?;
        Some(render::render(&prompt, &vars)?)
    } else {
        None
    };
    match ctx.format {
        Format::Json => ctx.ui.out(&report::json(&Out { resolution, messages })?),
        _ => {
            let mut out = report::release::resolution(&resolution);
            if let Some(m) = messages.as_ref().filter(|m| !m.is_empty()) {
                out.push('\n');
                out.push_str(&report::text::messages(&ctx.ui, m));
            }
            ctx.ui.out(&out);
        }
    }
    Ok(ExitStatus::Success)
}
