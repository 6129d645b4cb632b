//! The clap tree: global options, the subcommands, dispatch.

use std::path::PathBuf;

use std::ffi::OsString;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

use crate::commands;
use crate::error::{Error, Result};
use crate::project::Project;
use crate::ui::{ColorChoice, Ui};

/// Prompts as versioned, budgeted, tested code in git
#[derive(Parser, Debug)]
#[command(name = "promptctl", version, about, propagate_version = true)]
pub struct Cli {
    /// Run as if started in DIR
    #[arg(short = 'C', global = true, value_name = "DIR")]
    pub dir: Option<PathBuf>,

    /// Output format
    #[arg(long, global = true, value_enum, default_value_t = Format::Text)]
    pub format: Format,

    /// When to colour the output
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,

    /// Print no status lines on stderr
    #[arg(short, long, global = true)]
    pub quiet: bool,

    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// Parse the process's arguments (exits on `--help`, `--version` or an
    /// error, as `Cli::parse` does).
    pub fn from_env() -> Cli {
        Cli::from_args(std::env::args_os().collect())
    }

    /// Parse `args` (the program name first). Only the subcommand that runs
    /// is built; help, version and errors are rendered from the whole tree,
    /// built for them, so the listing shows every subcommand's summary.
    pub fn from_args(args: Vec<OsString>) -> Cli {
        let fast = Cli::command()
            .try_get_matches_from(&args)
            .and_then(|m| Cli::from_arg_matches(&m));
        match fast {
            Ok(cli) => cli,
            Err(_) => {
                let mut cmd = Cli::command();
                cmd.build();
                let m = cmd.get_matches_from(&args);
                Cli::from_arg_matches(&m).unwrap_or_else(|e| e.exit())
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
    Markdown,
    Github,
    Junit,
    Html,
    Stat,
    Sarif,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Text => "text",
            Format::Json => "json",
            Format::Markdown => "markdown",
            Format::Github => "github",
            Format::Junit => "junit",
            Format::Html => "html",
            Format::Stat => "stat",
            Format::Sarif => "sarif",
        }
    }
}

/// Each subcommand is built only when it is the one run (see
/// [`Cli::from_env`]): building all of them cost ~0.5 ms at every start.
#[derive(Subcommand, Debug)]
#[command(defer = true)]
pub enum Command {
    Init(commands::init::InitArgs),
    Check(commands::check::CheckArgs),
    List(commands::list::ListArgs),
    Render(commands::render::RenderArgs),
    Tokens(commands::tokens::TokensArgs),
    Diff(commands::diff::DiffArgs),
    Eval(commands::eval::EvalArgs),
    Cache(commands::cache::CacheArgs),
    Release(commands::release::ReleaseArgs),
    Promote(commands::promote::PromoteArgs),
    Rollback(commands::rollback::RollbackArgs),
    Canary(commands::canary::CanaryArgs),
    Status(commands::status::StatusArgs),
    History(commands::history::HistoryArgs),
    Resolve(commands::resolve::ResolveArgs),
    Export(commands::export::ExportArgs),
    Completions(commands::completions::CompletionsArgs),
}

/// What every command gets: where it runs, how it prints.
pub struct Ctx {
    pub dir: PathBuf,
    pub format: Format,
    pub ui: Ui,
}

impl Ctx {
    pub fn project(&self) -> Result<Project> {
        let project = Project::discover(&self.dir)?;
        crate::tokens::cache::enable(&project.root.join(".promptctl/cache/token-counts"));
        crate::diff::enable_index(&project.root.join(".promptctl/cache/suite-prompts"));
        Ok(project)
    }

    /// Refuse formats a command does not render.
    pub fn require_format(&self, command: &str, allowed: &[Format]) -> Result<()> {
        if allowed.contains(&self.format) {
            return Ok(());
        }
        let names: Vec<&str> = allowed.iter().map(|f| f.name()).collect();
        Err(
            Error::input(format!("`{command}` has no {} output", self.format.name()))
                .hint(format!("use --format {}", names.join(" | "))),
        )
    }
}

/// Outcome of a command that ran to the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    Success,
    /// A gate failed: exit 1.
    GateFailed,
}

pub fn run(cli: Cli) -> Result<ExitStatus> {
    let ctx = Ctx {
        dir: cli.dir.clone().unwrap_or_else(|| PathBuf::from(".")),
        format: cli.format,
        ui: Ui::new(cli.color, cli.quiet),
    };
    let result = match &cli.command {
        Command::Init(a) => commands::init::run(&ctx, a),
        Command::Check(a) => commands::check::run(&ctx, a),
        Command::List(a) => commands::list::run(&ctx, a),
        Command::Render(a) => commands::render::run(&ctx, a),
        Command::Tokens(a) => commands::tokens::run(&ctx, a),
        Command::Release(a) => commands::release::run(&ctx, a),
        Command::Promote(a) => commands::promote::run(&ctx, a),
        Command::Rollback(a) => commands::rollback::run(&ctx, a),
        Command::Canary(a) => commands::canary::run(&ctx, a),
        Command::Status(a) => commands::status::run(&ctx, a),
        Command::History(a) => commands::history::run(&ctx, a),
        Command::Resolve(a) => commands::resolve::run(&ctx, a),
        Command::Export(a) => commands::export::run(&ctx, a),
        Command::Diff(a) => commands::diff::run(&ctx, a),
        Command::Eval(a) => commands::eval::run(&ctx, a),
        Command::Cache(a) => commands::cache::run(&ctx, a),
        Command::Completions(a) => commands::completions::run(&ctx, a),
    };
    crate::tokens::cache::flush();
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_definition_is_valid() {
        Cli::command().debug_assert();
    }

    #[test]
    fn the_subcommand_built_alone_takes_its_own_and_the_global_options() {
        let args = |a: &[&str]| a.iter().map(OsString::from).collect::<Vec<_>>();
        let cli = Cli::from_args(args(&[
            "promptctl",
            "diff",
            "main...HEAD",
            "--format",
            "json",
            "-C",
            "sub",
            "--exit-code",
            "--",
            "a/b",
        ]));
        assert_eq!(cli.format, Format::Json);
        assert_eq!(cli.dir, Some(PathBuf::from("sub")));
        let Command::Diff(d) = &cli.command else {
            panic!("{:?}", cli.command)
        };
        assert_eq!(d.base.as_deref(), Some("main...HEAD"));
        assert!(d.exit_code);
        assert_eq!(d.limits, vec!["a/b".to_string()]);
        let cli = Cli::from_args(args(&["promptctl", "-q", "tokens", "support/triage"]));
        assert!(cli.quiet);
        assert!(matches!(cli.command, Command::Tokens(_)));
    }
}
