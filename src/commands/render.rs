use std::path::PathBuf;

use serde::Serialize;

use crate::cli::{Ctx, ExitStatus, Format};
use crate::error::Result;
use crate::project::Source;
use crate::prompt::message::Message;
use crate::prompt::{ModelConfig, render};
use crate::report;

/// Render a prompt's messages with variables
#[derive(clap::Args, Debug)]
pub struct RenderArgs {
    /// Prompt name (support/triage)
    pub name: String,
    /// Read the prompt at this git revision instead of the working tree
    #[arg(long, value_name = "REV")]
    pub rev: Option<String>,
    /// Set a variable (repeatable)
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,
    /// Read variables from a YAML or JSON file
    #[arg(long = "vars", value_name = "FILE")]
    pub vars_file: Option<PathBuf>,
}

/// The request as a provider would receive it.
#[derive(Debug, Serialize)]
pub struct RenderedRequest {
    pub prompt: String,
    pub model: String,
    pub config: ModelConfig,
    pub messages: Vec<Message>,
}

pub fn run(ctx: &Ctx, args: &RenderArgs) -> Result<ExitStatus> {
    ctx.require_format("render", &[Format::Text, Format::Json])?;
    let project = ctx.project()?;
    let source = Source::from_rev(args.rev.as_deref());
    let prompt = project.load(&args.name, &source)?;
    let vars = crate::commands::parse_vars(&args.vars, args.vars_file.as_deref())?;
    let messages = render::render(&prompt, &vars)?;
    let req = RenderedRequest {
        prompt: prompt.name.clone(),
        model: prompt.model(&project.config.project.default_model).to_string(),
        config: prompt.front.config.clone(),
        messages,
    };
    match ctx.format {
        Format::Json => ctx.ui.out(&report::json(&req)?),
        _ => ctx.ui.out(&report::text::messages(&ctx.ui, &req.messages)),
    }
    Ok(ExitStatus::Success)
}
