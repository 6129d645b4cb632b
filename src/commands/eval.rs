use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::cli::{Ctx, ExitStatus, Format};
use crate::error::{Error, Result};
use crate::eval::result::{CaseRecord, Status};
use crate::eval::run::{self, Mode, Observer, RunOptions, Verdict};
use crate::eval::{compare, note};
use crate::project::{Project, Source};
use crate::report;

/// Run eval suites against LLM providers
#[derive(clap::Args, Debug)]
pub struct EvalArgs {
    /// Suites: files, directories under evals/, or prompt names (default: every suite)
    pub suites: Vec<String>,
    /// Cases in flight at once (default: [eval] concurrency in promptctl.toml, else 8)
    #[arg(short = 'j', long = "jobs", value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub jobs: Option<u32>,
    /// Run against this target instead of each suite's providers (repeatable):
    /// openai:MODEL, anthropic:MODEL, ollama:MODEL, echo, replay
    #[arg(long = "provider", value_name = "ID")]
    pub providers: Vec<String>,
    /// Answer from the recorded responses only: no network, no API keys
    #[arg(long, conflicts_with = "record")]
    pub offline: bool,
    /// Store every response in the suite's recording (SUITE.responses.yaml)
    #[arg(long)]
    pub record: bool,
    /// Neither read nor write the response cache (.promptctl/cache)
    #[arg(long)]
    pub no_cache: bool,
    /// Stop starting new requests once the run has spent this many US dollars
    #[arg(long, value_name = "USD")]
    pub max_cost_usd: Option<f64>,
    /// Per-attempt request timeout for every provider (30, 30s, 2m)
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<String>,
    /// Continue a stopped run: call only the cases it did not finish
    #[arg(long, value_name = "RUN_ID", conflicts_with_all = ["suites", "providers", "offline", "record", "rev"])]
    pub resume: Option<String>,
    /// Evaluate the prompts as of this git revision (suites come from the working tree)
    #[arg(long, value_name = "REV")]
    pub rev: Option<String>,
    /// Compare against the prompts at this revision: runs the suites whose
    /// prompt changed, at REV and at the head, and checks [eval.gates]
    #[arg(long, value_name = "REV", conflicts_with_all = ["rev", "resume", "record"])]
    pub base: Option<String>,
    /// The head of the comparison (default: the working tree)
    #[arg(long, value_name = "REV", requires = "base")]
    pub head: Option<String>,
    /// With --base: run every suite, not only those whose prompt changed
    #[arg(long, requires = "base")]
    pub all: bool,
    /// Store each prompt's results as a git note on the evaluated commit
    /// (refs/notes/promptctl; HEAD for the working tree), shown by `history`
    #[arg(long)]
    pub note: bool,
    /// Run each suite on these models (comma-separated; none: each suite's
    /// `models:`) and name the cheapest one that meets the suite's gate
    #[arg(long, value_name = "MODELS", value_delimiter = ',', num_args = 0.., conflicts_with_all = ["base", "providers", "resume"])]
    pub models: Option<Vec<String>>,
    /// Price the run without calling any provider: requests, input tokens
    /// of the rendered requests, output tokens from the recordings (else the cap)
    /// (With --base: also the change in cost per 1k calls.)
    #[arg(long, conflicts_with_all = ["models", "resume", "record", "note"])]
    pub estimate: bool,
}

pub fn run(ctx: &Ctx, args: &EvalArgs) -> Result<ExitStatus> {
    if args.base.is_some() {
        ctx.require_format(
            "eval --base",
            &[
                Format::Text,
                Format::Json,
                Format::Markdown,
                Format::Junit,
                Format::Html,
            ],
        )?;
    } else {
        ctx.require_format("eval", &[Format::Text, Format::Json, Format::Junit])?;
    }
    let project = ctx.project()?;
    let mut opts = RunOptions::new(run::process_env());
    opts.suites = args
        .suites
        .iter()
        .map(|s| project_relative(&project, &ctx.dir, s))
        .collect();
    opts.providers = args.providers.clone();
    opts.jobs = args.jobs.map(|j| j as usize);
    if let Some(usd) = args.max_cost_usd
        && !(usd.is_finite() && usd >= 0.0)
    {
        return Err(Error::input(format!(
            "--max-cost-usd must be a non-negative number, got {usd}"
        )));
    }
    opts.max_cost_usd = args.max_cost_usd;
    opts.timeout = args.timeout.as_deref().map(parse_duration).transpose()?;
    opts.cache = !args.no_cache;
    opts.mode = if args.offline {
        Mode::Offline
    } else if args.record {
        Mode::Record
    } else {
        Mode::Live
    };
    opts.resume = args.resume.clone();
    opts.source = Source::from_rev(args.rev.as_deref());
    if args.estimate {
        ctx.require_format("eval --estimate", &[Format::Text, Format::Json])?;
        if args.head.is_some() {
            opts.source = Source::from_rev(args.head.as_deref());
        }
        let e = match &args.base {
            Some(base) => crate::eval::estimate::estimate_change(&project, &opts, base)?,
            None => crate::eval::estimate::estimate(&project, &opts)?,
        };
        let out = match ctx.format {
            Format::Json => report::json(&e)?,
            _ => report::compare::estimate(&e),
        };
        ctx.ui.out(&out);
        return Ok(ExitStatus::Success);
    }
    if let Some(base) = &args.base {
        return compare(ctx, &project, opts, base, args);
    }
    if let Some(list) = &args.models {
        return models(ctx, &project, opts, list);
    }

    let plan = run::plan(&project, &opts)?;
    let progress = Arc::new(Progress::new(&ctx.ui.clone()));
    opts.observer = Some(progress.clone());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::external(format!("cannot start the async runtime: {e}")))?;
    let report = rt.block_on(run::run_plan(&project, plan, opts.observer.clone()))?;
    progress.finish();

    let ui = &ctx.ui;
    let t = &report.totals;
    let secs = report.elapsed_ms as f64 / 1000.0;
    ui.status(
        "Finished",
        format!(
            "{} case{} in {secs:.1}s: {} passed, {} failed{}{}",
            t.cases,
            if t.cases == 1 { "" } else { "s" },
            t.passed,
            t.failed,
            if t.errored > 0 {
                format!(", {} errors", t.errored)
            } else {
                String::new()
            },
            if t.skipped > 0 {
                format!(", {} not run", t.skipped)
            } else {
                String::new()
            },
        ),
    );
    for p in &report.recorded {
        ui.status("Recorded", p.display());
    }
    if args.note {
        let source = Source::from_rev(args.rev.as_deref());
        for w in note::write(&project, &source, &report.results, &report.run_id)? {
            ui.status("Noted", format!("{} on {}", w.prompt, &w.commit[..12]));
        }
    }
    ui.status("Results", report.run_file.display());

    let out = match ctx.format {
        Format::Json => report::json(&report)?,
        Format::Junit => report::eval::junit(&report),
        _ => report::eval::text(&report, ui),
    };
    ui.out(&out);
    match report.verdict() {
        Verdict::Pass => Ok(ExitStatus::Success),
        Verdict::GateFailed => Ok(ExitStatus::GateFailed),
        Verdict::Error(e) => Err(e),
    }
}

/// `eval --base`: both sides, deltas, gates. Provider failure → exit 3,
/// a broken gate → exit 1.
fn compare(ctx: &Ctx, project: &Project, opts: RunOptions, base: &str, args: &EvalArgs) -> Result<ExitStatus> {
    let spec = compare::CompareSpec {
        base: base.to_string(),
        head: args.head.clone(),
        all: args.all,
    };
    let report = compare::run(project, &opts, &spec)?;
    if args.note
        && let Some((run_id, results)) = &report.head_run
    {
        let source = Source::from_rev(args.head.as_deref());
        for w in note::write(project, &source, results, run_id)? {
            ctx.ui.status("Noted", format!("{} on {}", w.prompt, &w.commit[..12]));
        }
    }
    let out = match ctx.format {
        Format::Json => report::json(&report)?,
        Format::Markdown => report::compare::markdown(&report),
        Format::Junit => report::compare::junit(&report),
        Format::Html => report::html::compare(&report)?,
        _ => report::compare::text(&report),
    };
    ctx.ui.out(&out);
    if report.provider_failed {
        let failed: Vec<String> = report
            .comparisons
            .iter()
            .filter(|c| c.provider_failed())
            .map(|c| format!("{} × {}", c.prompt, c.target))
            .collect();
        return Err(Error::external(format!(
            "provider failed on one side of the comparison: {}",
            failed.join(", ")
        )));
    }
    if report.passed {
        Ok(ExitStatus::Success)
    } else {
        for c in &report.comparisons {
            for g in c.gates.iter().filter(|g| !g.passed) {
                ctx.ui
                    .status("Gate", format!("{} × {}: {}", c.prompt, c.target, g.message));
            }
        }
        Ok(ExitStatus::GateFailed)
    }
}

/// `eval --models`: the matrix and the cheapest passing model.
fn models(ctx: &Ctx, project: &Project, mut opts: RunOptions, list: &[String]) -> Result<ExitStatus> {
    ctx.require_format("eval --models", &[Format::Text, Format::Json])?;
    let mut results = Vec::new();
    if list.is_empty() {
        // Each suite on its own `models:`.
        let picked = run::select(crate::eval::suite::load_all(project)?, &opts.suites)?;
        let with: Vec<_> = picked.iter().filter(|s| !s.suite.models.is_empty()).collect();
        if with.is_empty() {
            return Err(
                Error::input("--models without a list needs suites with a `models:` key")
                    .hint("give the models: --models openai:gpt-4o,openai:gpt-4o-mini"),
            );
        }
        for sf in with {
            let mut o = opts.clone();
            o.suites = vec![sf.path.display().to_string()];
            o.providers = sf.suite.models.clone();
            let report = run::run_suites(project, &o)?;
            if let Verdict::Error(e) = report.verdict() {
                return Err(e);
            }
            results.extend(report.results);
        }
    } else {
        opts.providers = list.to_vec();
        let report = run::run_suites(project, &opts)?;
        if let Verdict::Error(e) = report.verdict() {
            return Err(e);
        }
        results = report.results;
    }
    let cfg = &project.config;
    let current = |prompt: &str| {
        project
            .load(prompt, &opts.source)
            .map(|p| p.model(&cfg.project.default_model).to_string())
            .unwrap_or_default()
    };
    let suites = crate::eval::suite::load_all(project)?;
    let min = |suite: &str| {
        let own = suites
            .iter()
            .find(|s| s.path.display().to_string() == suite)
            .and_then(|s| s.suite.gates.as_ref())
            .and_then(|g| g.min_pass_rate);
        own.or(cfg.eval.gates.min_pass_rate)
    };
    let ms = crate::eval::matrix::build(&results, &current, &min, &cfg.traffic);
    let out = match ctx.format {
        Format::Json => report::json(&ms)?,
        _ => report::compare::matrix(&ms),
    };
    ctx.ui.out(&out);
    Ok(ExitStatus::Success)
}

/// A suite path given relative to where promptctl runs, made relative to
/// the project root; other arguments (prompt names) unchanged.
fn project_relative(project: &Project, dir: &Path, arg: &str) -> String {
    let p = dir.join(arg);
    if !p.exists() {
        return arg.to_string();
    }
    match (p.canonicalize(), project.root.canonicalize()) {
        (Ok(abs), Ok(root)) => match abs.strip_prefix(&root) {
            Ok(rel) => rel.to_string_lossy().replace('\\', "/"),
            Err(_) => arg.to_string(),
        },
        _ => arg.to_string(),
    }
}

/// Seconds (`30`, `1.5`) or a span (`30s`, `2m`, `1m 30s`).
fn parse_duration(s: &str) -> Result<Duration> {
    let bad = || {
        Error::input(format!("--timeout '{s}' is not a duration")).hint("give seconds (30) or a span (30s, 2m, 500ms)")
    };
    let d = if let Ok(secs) = s.trim().parse::<f64>() {
        Duration::try_from_secs_f64(secs).map_err(|_| bad())?
    } else {
        let span: jiff::SignedDuration = s.trim().parse().map_err(|_| bad())?;
        Duration::try_from(span).map_err(|_| bad())?
    };
    if d.is_zero() {
        return Err(Error::input("--timeout must be more than zero"));
    }
    Ok(d)
}

/// A progress bar on stderr when it is a terminal (and not `--quiet`).
struct Progress {
    bar: Option<ProgressBar>,
    not_passing: AtomicU64,
}

impl Progress {
    fn new(ui: &crate::ui::Ui) -> Progress {
        let bar = (ui.stderr_is_terminal && !ui.quiet).then(|| {
            let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template("{spinner} {pos}/{len} cases {wide_bar} {elapsed} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Progress {
            bar,
            not_passing: AtomicU64::new(0),
        }
    }

    fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

impl Observer for Progress {
    fn start(&self, cases: u64) {
        if let Some(b) = &self.bar {
            b.set_length(cases);
        }
    }

    fn case_done(&self, r: &CaseRecord) {
        if let Some(b) = &self.bar {
            b.inc(1);
            if r.status == Status::Fail || r.status == Status::Error {
                let n = self.not_passing.fetch_add(1, Ordering::Relaxed) + 1;
                b.set_message(format!("{n} not passing"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_as_seconds_or_spans() {
        assert_eq!(parse_duration("30").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("1.5").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert!(parse_duration("0").is_err());
        assert!(parse_duration("soon").unwrap_err().hints[0].contains("30s"));
        assert!(parse_duration("-3").is_err());
    }
}
