use std::path::{Path, PathBuf};

use crate::cli::{Ctx, ExitStatus, Format};
use crate::error::{Error, Result};

/// Scaffold promptctl.toml, prompts/ and evals/
///
/// With --ci in a project that has a promptctl.toml, only the CI workflow is written.
#[derive(clap::Args, Debug)]
pub struct InitArgs {
    /// Overwrite files that already exist
    #[arg(long)]
    pub force: bool,
    /// Also write a CI workflow that gates pull requests
    #[arg(long, value_enum, value_name = "PROVIDER")]
    pub ci: Option<CiProvider>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CiProvider {
    /// GitHub Actions: .github/workflows/promptctl.yml
    Github,
}

const CONFIG: &str = r#"# promptctl project configuration. Every section is optional.

[project]
default_model = "openai:gpt-4o-mini"   # for prompts whose front matter names none
prompts_dir = "prompts"
evals_dir = "evals"

# Project-wide budgets; a prompt's `budget:` front matter overrides them.
[budget]
require_output_cap = true
max_input_tokens = 4000
max_cost_per_call_usd = 0.01

# Expected requests per day, for monthly cost projections ("*" = default).
[traffic.requests_per_day]
"*" = 1000

# Override or add model prices (USD per 1M tokens):
# [models."openai:gpt-4o-mini"]
# input = 0.15
# output = 0.60
"#;

const PROMPT: &str = r#"---
description: Summarise a text in one sentence
model: openai:gpt-4o-mini
config:
  temperature: 0
  max_tokens: 120
input:
  schema:
    type: object
    required: [text]
    properties:
      text: { type: string }
---
system:
You write one-sentence summaries. Never exceed 40 words.

user:
Summarise:
{{ text }}
"#;

const SUITE: &str = r#"prompt: example
description: The summary stays short and on topic
providers: [echo]          # offline; use openai:gpt-4o-mini to call the API
threshold: 1.0
cases:
  - name: short input
    vars:
      text: "promptctl keeps prompts in git and checks their token budgets."
    assert:
      - type: contains
        value: "promptctl"
"#;

pub fn run(ctx: &Ctx, args: &InitArgs) -> Result<ExitStatus> {
    ctx.require_format("init", &[Format::Text])?;
    let root = ctx.dir.clone();
    // An existing project only gets the workflow.
    let scaffold = !(args.ci.is_some() && root.join(crate::config::FILE_NAME).is_file());
    let mut files: Vec<(PathBuf, String)> = Vec::new();
    if scaffold {
        files.push((PathBuf::from("promptctl.toml"), CONFIG.to_string()));
        files.push((PathBuf::from("prompts/example.prompt"), PROMPT.to_string()));
        files.push((PathBuf::from("evals/example.yaml"), SUITE.to_string()));
    }
    if let Some(CiProvider::Github) = args.ci {
        files.push(github_workflow(&root)?);
    }
    let existing: Vec<&Path> = files
        .iter()
        .map(|(p, _)| p.as_path())
        .filter(|p| root.join(p).exists())
        .collect();
    if !existing.is_empty() && !args.force {
        let names: Vec<String> = existing.iter().map(|p| p.display().to_string()).collect();
        return Err(Error::input(format!("refusing to overwrite {}", names.join(", ")))
            .hint("pass --force to overwrite them; nothing was written"));
    }
    for (rel, contents) in &files {
        crate::commands::write_atomic(&root.join(rel), contents.as_bytes())?;
        ctx.ui.status("Created", rel.display());
    }
    if scaffold {
        ensure_gitignore(&root)?;
        ctx.ui.status("Updated", ".gitignore (.promptctl/ is local state)");
    }
    Ok(ExitStatus::Success)
}

/// The GitHub workflow for the project at `root`: at the repository's root
/// (GitHub reads workflows only there), with the project's directories.
fn github_workflow(root: &Path) -> Result<(PathBuf, String)> {
    let (config, _) = crate::config::Config::load(root)?;
    let (prefix, up) = match crate::git::Repo::discover(root)? {
        Some(repo) => {
            let up: PathBuf = repo.prefix.components().map(|_| "..").collect();
            (repo.prefix, up)
        }
        None => (PathBuf::new(), PathBuf::new()),
    };
    let spec = crate::ci::WorkflowSpec::new(&prefix, &config.project.prompts_dir, &config.project.evals_dir);
    Ok((
        up.join(crate::ci::GITHUB_WORKFLOW_PATH),
        crate::ci::github_workflow(&spec),
    ))
}

/// Add `.promptctl/` to .gitignore unless it is there already.
fn ensure_gitignore(root: &Path) -> Result<()> {
    let path = root.join(".gitignore");
    let current = match std::fs::read_to_string(&path) {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(Error::io(&path, &e)),
    };
    if current
        .lines()
        .any(|l| matches!(l.trim(), ".promptctl" | ".promptctl/" | "/.promptctl/" | "/.promptctl"))
    {
        return Ok(());
    }
    let mut next = current;
    if !next.is_empty() && !next.ends_with('\n') {
        next.push('\n');
    }
    next.push_str(".promptctl/\n");
    crate::commands::write_atomic(&path, next.as_bytes())
}
