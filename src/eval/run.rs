//! The eval runner: every case of the selected suites against every target,
//! concurrently, with the cache, recordings, the structured-output guard, a
//! cost limit, and results streamed to the run file.
//!
//! Three levels, for three kinds of callers:
//! - [`run_suites`] / [`run_suites_async`]: what `promptctl eval` does,
//!   from options to a [`RunReport`] (run file included);
//! - [`plan`] then [`execute`]: the same in two steps, so a caller can
//!   inspect or combine plans (a base/head comparison plans the same suites
//!   at two [`Source`]s and executes both);
//! - [`run_pair`]: one prompt version's cases against one target, returning
//!   the aggregate and handing every case to a callback.
//!
//! **Concurrency.** At most `jobs` cases are in flight at once across all
//! suites and targets (a case's calls run one after another), and each
//! provider keeps to its own `[providers.<id>]` limits (built into the
//! provider by [`crate::provider::build`]). Cases run on tokio tasks, so
//! rendering and assertions use every core.
//!
//! **Cost limit.** Before each request that would be paid for (not cached,
//! not replayed), the run's spending so far is compared with
//! `max_cost_usd`; once reached, no new request starts. Requests already in
//! flight finish, so a run can overshoot by up to `jobs` calls. Cases not
//! started are `skipped`, fail their suite's gate, and a `--resume` runs them.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use serde::Serialize;
use tokio::sync::{Semaphore, mpsc};

use crate::catalog::{self, ModelInfo, TokenizerKind};
use crate::error::{Error, ErrorKind as ExitKind, Result};
use crate::eval::assert::{Assertion, AssertionResult, Observation};
use crate::eval::cache::Cache;
use crate::eval::guard::{self, Guard, GuardOutcome, GuardPath};
use crate::eval::key;
use crate::eval::record::{self, Entry, Recording, ReplayStore};
use crate::eval::result::{CaseError, CaseRecord, ErrorKind, Status};
use crate::eval::runfile::{self, Header, Line, PairHeader, RunWriter, Selection};
use crate::eval::stats::{Aggregate, CaseOutcome, Failure, Stats};
use crate::eval::suite::{self, Case, SuiteFile};
use crate::project::{Project, Source};
use crate::prompt::{OutputFormat, Prompt, render};
use crate::provider::{self, ChatRequest, ChatResponse, Provider, ProviderError, ProviderSettings, Usage};

/// Reads environment variables (API keys, base URLs).
pub type Env = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Makes the transport of a provider id instead of [`provider::build`]
/// (`None`: build as usual). For embedding and tools; the CLI never sets it.
pub type TransportFactory = Arc<dyn Fn(&str, &ProviderSettings) -> Option<Arc<dyn Provider>> + Send + Sync>;

/// Where answers come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Call the providers (through the cache).
    Live,
    /// Call them and store every response in the suite's recording.
    Record,
    /// Answer from the recordings only; no network, no keys.
    Offline,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Live => "live",
            Mode::Record => "record",
            Mode::Offline => "offline",
        }
    }

    fn parse(s: &str) -> Option<Mode> {
        match s {
            "live" => Some(Mode::Live),
            "record" => Some(Mode::Record),
            "offline" => Some(Mode::Offline),
            _ => None,
        }
    }
}

/// Told about progress; called from the runner's task.
pub trait Observer: Send + Sync {
    /// Before the first case: how many cases will run.
    fn start(&self, _cases: u64) {}
    /// A case finished (or was skipped).
    fn case_done(&self, _record: &CaseRecord) {}
}

/// What to run and how. [`RunOptions::new`] gives the defaults; `None`
/// fields fall back to promptctl.toml `[eval]`.
#[derive(Clone)]
pub struct RunOptions {
    /// Suite paths (project-relative), directories under the evals
    /// directory, or prompt names; empty: every suite.
    pub suites: Vec<String>,
    /// The prompt version under test.
    pub source: Source,
    /// Targets for every suite instead of its own `providers`.
    pub providers: Vec<String>,
    pub jobs: Option<usize>,
    pub max_cost_usd: Option<f64>,
    /// Per-attempt timeout for every provider (else `[providers.<id>] timeout`).
    pub timeout: Option<Duration>,
    /// Read and write the response cache.
    pub cache: bool,
    pub mode: Mode,
    /// Continue this run: call only its unfinished cases.
    pub resume: Option<String>,
    pub guard_retries: Option<u32>,
    pub env: Env,
    pub observer: Option<Arc<dyn Observer>>,
    pub transport: Option<TransportFactory>,
    /// Prompt to load instead of the one a suite names (a prompt renamed
    /// since `source`): suite prompt name → name at `source`.
    pub prompt_names: HashMap<String, String>,
}

impl RunOptions {
    pub fn new(env: Env) -> RunOptions {
        RunOptions {
            suites: Vec::new(),
            source: Source::WorkTree,
            providers: Vec::new(),
            jobs: None,
            max_cost_usd: None,
            timeout: None,
            cache: true,
            mode: Mode::Live,
            resume: None,
            guard_retries: None,
            env,
            observer: None,
            transport: None,
            prompt_names: HashMap::new(),
        }
    }
}

/// The process environment.
pub fn process_env() -> Env {
    Arc::new(|k: &str| std::env::var(k).ok())
}

/// A provider and model a suite runs against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Target {
    /// As shown and recorded: `openai:gpt-4o-mini`, `echo`.
    pub id: String,
    /// The provider id: `openai`, `anthropic`, `ollama`, `echo`.
    pub provider: String,
    /// The model sent in the request.
    pub model: String,
    /// Answers come from the suite's recording.
    pub replay: bool,
}

impl Target {
    /// Resolve a suite's provider entry; `prompt_model` is the prompt's
    /// `provider:model` (for `echo` and `replay`).
    pub fn resolve(entry: &str, prompt_model: &str, mode: Mode) -> Result<Target> {
        let (pp, pm) = catalog::split_id(prompt_model);
        let t = match entry {
            "echo" => Target {
                id: "echo".into(),
                provider: "echo".into(),
                model: pm.to_string(),
                replay: false,
            },
            "replay" => Target {
                id: prompt_model.to_string(),
                provider: pp.to_string(),
                model: pm.to_string(),
                replay: true,
            },
            id => {
                catalog::validate_id(id)?;
                let (p, m) = catalog::split_id(id);
                Target {
                    id: id.to_string(),
                    provider: p.to_string(),
                    model: m.to_string(),
                    replay: mode == Mode::Offline,
                }
            }
        };
        if t.provider != "echo" && !provider::KNOWN.contains(&t.provider.as_str()) {
            let err = Error::input(format!("unknown provider '{}' in '{entry}'", t.provider));
            return Err(err
                .with_hint_opt(crate::error::suggest(&t.provider, provider::KNOWN.iter().copied()))
                .hint(format!(
                    "providers: {}, echo, replay; an OpenAI-compatible server is `openai:MODEL` with base_url",
                    provider::KNOWN.join(", ")
                )));
        }
        Ok(t)
    }
}

/// How one target is called.
#[derive(Clone)]
pub struct Caller {
    pub target: Target,
    backend: Backend,
    /// The model id in the catalog, for prices and the tokenizer.
    pub price: Option<ModelInfo>,
    pub tokenizer: TokenizerKind,
    /// Read and write the response cache for this caller.
    cache: bool,
    /// Store responses in the suite's recording.
    record: bool,
    /// Its requests cost money: a live provider, not echo or replay.
    paid: bool,
    /// Set on the fallback caller: the model id recorded with its calls.
    fallback_id: Option<String>,
}

#[derive(Clone)]
enum Backend {
    Live(Arc<dyn Provider>),
    Replay(Arc<ReplayStore>),
}

/// One suite × target, ready to run.
pub struct Pair {
    pub suite: Arc<SuiteFile>,
    pub prompt: Arc<Prompt>,
    pub source: Source,
    pub primary: Caller,
    /// The front matter's `fallback_model`, for the structured-output guard.
    pub fallback: Option<Caller>,
    defaults: Vec<Assertion>,
    guard: Option<Guard>,
    fingerprint: String,
    recorder: Option<Arc<Recorder>>,
    /// The catalog date of the prices.
    prices_of: String,
}

impl Pair {
    pub fn target(&self) -> &Target {
        &self.primary.target
    }

    /// Requests a case can take beyond the first when its answers fail the
    /// structured-output guard: the corrective retries, then the fallback
    /// model.
    pub fn guard_extra_requests(&self) -> u32 {
        self.guard
            .as_ref()
            .map_or(0, |g| g.retries + u32::from(self.fallback.is_some()))
    }
}

/// Responses of a suite being recorded.
struct Recorder {
    suite: PathBuf,
    entries: Mutex<Vec<Entry>>,
    /// Cases (by target) that ran, so their old entries are replaced.
    ran: Mutex<HashSet<(String, String)>>,
}

/// Shared by every case of a run.
pub struct RunCtx {
    jobs: usize,
    slots: Arc<Semaphore>,
    cache: Option<Cache>,
    max_cost_usd: Option<f64>,
    spent: Mutex<f64>,
    stopped: std::sync::atomic::AtomicBool,
}

impl RunCtx {
    pub fn new(jobs: usize, cache: Option<Cache>, max_cost_usd: Option<f64>) -> RunCtx {
        let jobs = jobs.clamp(1, Semaphore::MAX_PERMITS);
        RunCtx {
            jobs,
            slots: Arc::new(Semaphore::new(jobs)),
            cache,
            max_cost_usd,
            spent: Mutex::new(0.0),
            stopped: std::sync::atomic::AtomicBool::new(false),
        }
    }

    fn spent(&self) -> f64 {
        *self.spent.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn add_spent(&self, usd: f64) {
        *self.spent.lock().unwrap_or_else(|e| e.into_inner()) += usd;
    }

    /// May another paid request start?
    fn may_spend(&self) -> bool {
        match self.max_cost_usd {
            Some(max) if self.spent() >= max => {
                self.stopped.store(true, std::sync::atomic::Ordering::Relaxed);
                false
            }
            _ => true,
        }
    }

    pub fn stopped_by_cost(&self) -> bool {
        self.stopped.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// A planned run.
pub struct Plan {
    pub pairs: Vec<Arc<Pair>>,
    pub ctx: Arc<RunCtx>,
    pub mode: Mode,
    pub selection: Selection,
    /// The run being resumed.
    resumed: Option<Resumed>,
}

struct Resumed {
    run_id: String,
}

// --- Reports ------------------------------------------------------------------

/// One suite × target, measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SuiteResult {
    /// Project-relative suite path.
    pub suite: PathBuf,
    pub prompt: String,
    /// `worktree` or the revision the prompt was read at.
    pub source: String,
    pub target: String,
    pub provider: String,
    pub model: String,
    /// Answers came from the recording.
    pub replayed: bool,
    pub threshold: f64,
    /// The gate: every case ran and the pass rate reached the threshold.
    pub passed: bool,
    pub stats: Stats,
    /// Cases that did not pass, in case order (the first
    /// [`crate::eval::stats::MAX_FAILURES`]).
    pub failures: Vec<Failure>,
    pub failures_not_listed: u64,
    /// Every case's outcome, in case order.
    pub cases: Vec<CaseOutcome>,
    /// Catalog date of the prices, when the target has a price.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prices_of: Option<String>,
}

impl SuiteResult {
    fn new(pair: &Pair, agg: Aggregate) -> SuiteResult {
        let (stats, failures, dropped, cases) = agg.finish();
        let threshold = pair.suite.suite.threshold();
        let passed = stats.skipped == 0 && stats.pass_rate + 1e-12 >= threshold;
        let t = pair.target();
        SuiteResult {
            suite: pair.suite.path.clone(),
            prompt: pair.prompt.name.clone(),
            source: source_label(&pair.source),
            target: t.id.clone(),
            provider: t.provider.clone(),
            model: t.model.clone(),
            replayed: t.replay,
            threshold,
            passed,
            stats,
            failures,
            failures_not_listed: dropped,
            cases,
            prices_of: pair.primary.price.as_ref().map(|_| pair.prices_of.clone()),
        }
    }
}

/// The whole run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunReport {
    pub run_id: String,
    /// Project-relative path of the run file.
    pub run_file: PathBuf,
    pub mode: Mode,
    pub source: String,
    pub resumed: bool,
    pub results: Vec<SuiteResult>,
    pub totals: Totals,
    /// The cost limit stopped the run before every case ran.
    pub stopped_by_cost: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_cost_usd: Option<f64>,
    /// Recording files written (`--record`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub recorded: Vec<PathBuf>,
    pub elapsed_ms: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Totals {
    pub suites: u64,
    pub cases: u64,
    pub passed: u64,
    pub failed: u64,
    pub errored: u64,
    pub skipped: u64,
    pub cost_usd: f64,
    pub spent_usd: f64,
    pub tokens_exact: bool,
    pub calls: u64,
    pub cache_hits: u64,
    pub gates_failed: u64,
}

/// How the run ends: the exit code's reason.
#[derive(Debug)]
pub enum Verdict {
    Pass,
    /// A suite is below its threshold or incomplete (exit 1).
    GateFailed,
    /// Exit 2 or 3, with the message.
    Error(Error),
}

impl RunReport {
    /// Providers unreachable after retries → exit 3; cases without a
    /// recording, rejected requests, unrenderable cases → exit 2; a suite
    /// below its threshold → exit 1.
    pub fn verdict(&self) -> Verdict {
        let mut unreachable: BTreeMap<String, BTreeMap<ErrorKind, u64>> = BTreeMap::new();
        let mut input: Vec<String> = Vec::new();
        for r in &self.results {
            for (kind, n) in &r.stats.errors {
                if kind.is_unreachable() {
                    *unreachable
                        .entry(r.target.clone())
                        .or_default()
                        .entry(*kind)
                        .or_default() += n;
                }
            }
            let bad: Vec<&Failure> = r
                .failures
                .iter()
                .filter(|f| {
                    f.error.is_some_and(|k| {
                        matches!(
                            k,
                            ErrorKind::Offline | ErrorKind::Client | ErrorKind::Input | ErrorKind::MissingKey
                        )
                    })
                })
                .collect();
            if !bad.is_empty() {
                let mut s = format!(
                    "{} × {}: {} case{} could not run:",
                    r.suite.display(),
                    r.target,
                    bad.len(),
                    if bad.len() == 1 { "" } else { "s" }
                );
                for f in bad {
                    s.push_str(&format!("\n  - '{}': {}", f.case, f.reasons.join("; ")));
                }
                input.push(s);
            }
        }
        if !unreachable.is_empty() {
            let parts: Vec<String> = unreachable
                .iter()
                .map(|(t, kinds)| {
                    let total: u64 = kinds.values().sum();
                    let ks: Vec<String> = kinds.iter().map(|(k, n)| format!("{}: {n}", k.as_str())).collect();
                    format!(
                        "{t}: {total} case{} failed after retries ({})",
                        if total == 1 { "" } else { "s" },
                        ks.join(", ")
                    )
                })
                .collect();
            let first_kind = unreachable.values().flat_map(|k| k.keys()).next().copied();
            let mut err = Error::new(
                ExitKind::External,
                format!("provider unreachable: {}", parts.join("; ")),
            );
            err = match first_kind {
                Some(ErrorKind::RateLimited) => err.hint(
                    "lower requests_per_minute, tokens_per_minute or concurrency in the provider's table of promptctl.toml, or -j",
                ),
                Some(ErrorKind::Timeout) => err.hint("raise timeout in the provider's table of promptctl.toml, or --timeout"),
                Some(ErrorKind::Connection) => err.hint("check the network and the provider's base URL"),
                _ => err,
            };
            return Verdict::Error(err.hint(format!(
                "`promptctl eval --resume {}` re-runs only the cases that did not finish",
                self.run_id
            )));
        }
        if !input.is_empty() {
            let offline = self.mode == Mode::Offline
                || self
                    .results
                    .iter()
                    .any(|r| r.stats.errors.contains_key(&ErrorKind::Offline));
            let mut err = Error::input(input.join("\n"));
            if offline {
                err = err.hint(
                    "a recording answers only the exact request it was made for; re-record with `promptctl eval --record SUITE` (calls the provider)",
                );
            }
            return Verdict::Error(err);
        }
        if self.totals.gates_failed > 0 {
            Verdict::GateFailed
        } else {
            Verdict::Pass
        }
    }
}

pub fn source_label(s: &Source) -> String {
    match s {
        Source::WorkTree => "worktree".to_string(),
        Source::Rev(r) => r.clone(),
    }
}

// --- Planning -----------------------------------------------------------------

/// Pick the suites named by `args`: suite paths, directories, prompt names.
pub fn select(all: Vec<SuiteFile>, args: &[String]) -> Result<Vec<SuiteFile>> {
    if args.is_empty() {
        return Ok(all);
    }
    let mut picked = vec![false; all.len()];
    for arg in args {
        let a = arg.trim_start_matches("./").trim_end_matches('/');
        let name = crate::project::normalize_name(a);
        let mut hit = false;
        for (i, s) in all.iter().enumerate() {
            let p = s.path.to_string_lossy().replace('\\', "/");
            if p == a || p.starts_with(&format!("{a}/")) || crate::project::normalize_name(&s.suite.prompt) == name {
                picked[i] = true;
                hit = true;
            }
        }
        if !hit {
            let err = Error::input(format!("no eval suite matches '{arg}'"));
            let names: Vec<String> = all.iter().map(|s| s.path.display().to_string()).collect();
            let hint = crate::error::suggest(a, names.iter().map(String::as_str));
            return Err(err.with_hint_opt(hint).hint(if names.is_empty() {
                "there are no suites; write one under evals/ (see `promptctl init`)".to_string()
            } else {
                format!("suites: {}", names.join(", "))
            }));
        }
    }
    Ok(all
        .into_iter()
        .zip(picked)
        .filter_map(|(s, p)| p.then_some(s))
        .collect())
}

/// Load suites and prompts, resolve targets, build providers (a missing key
/// fails here, before any request), open recordings. Nothing is called.
pub fn plan(project: &Project, opts: &RunOptions) -> Result<Plan> {
    let mut opts = opts.clone();
    let mut resumed_header = None;
    if let Some(id) = &opts.resume {
        if !opts.suites.is_empty() || !opts.providers.is_empty() {
            return Err(
                Error::input("--resume continues a run as it was started; it takes no suites or providers")
                    .hint(format!("run `promptctl eval --resume {id}` alone")),
            );
        }
        let header = runfile::read_header(&project.root, id)?;
        let sel = &header.selection;
        let mode = Mode::parse(&sel.mode).unwrap_or(Mode::Live);
        if mode == Mode::Record {
            return Err(Error::input(format!(
                "run {id} was recording responses; a recording run cannot be resumed"
            ))
            .hint("start it again: `promptctl eval --record ...`"));
        }
        opts.suites = sel.suites.clone();
        opts.providers = sel.providers.clone();
        opts.mode = mode;
        opts.cache = sel.cache;
        opts.source = if sel.source == "worktree" {
            Source::WorkTree
        } else {
            Source::Rev(sel.source.clone())
        };
        resumed_header = Some(header);
    }
    let cfg = &project.config;
    let jobs = opts.jobs.unwrap_or(cfg.eval.concurrency).max(1);
    let max_cost = opts.max_cost_usd.or(cfg.eval.max_cost_usd);
    let guard_retries = opts.guard_retries.unwrap_or(cfg.eval.guard_retries);

    let suites = select(suite::load_all(project)?, &opts.suites)?;
    if suites.is_empty() {
        return Err(
            Error::input(format!("no eval suites under {}/", project.evals_dir().display()))
                .hint("write a suite (evals/NAME.yaml with `prompt:` and `cases:`), or run `promptctl init`"),
        );
    }

    let mut providers: HashMap<String, Arc<dyn Provider>> = HashMap::new();
    let mut get_provider = |id: &str| -> Result<Arc<dyn Provider>> {
        if let Some(p) = providers.get(id) {
            return Ok(p.clone());
        }
        let mut settings = cfg.providers.get(id).cloned().unwrap_or_default();
        if let Some(t) = opts.timeout {
            settings.timeout = t;
        }
        let p = match opts.transport.as_ref().and_then(|f| f(id, &settings)) {
            Some(p) => p,
            None => provider::build(id, &settings, &*opts.env)?,
        };
        providers.insert(id.to_string(), p.clone());
        Ok(p)
    };

    let mut pairs = Vec::new();
    for sf in suites {
        let prompt_name = opts.prompt_names.get(&sf.suite.prompt).unwrap_or(&sf.suite.prompt);
        let prompt = project.load(prompt_name, &opts.source).map_err(|e| {
            if e.message.starts_with("no prompt named") {
                e.context(sf.path.display())
            } else {
                e
            }
        })?;
        sf.suite.check_against(&prompt, &sf.path)?;
        let prompt_model = prompt.model(&cfg.project.default_model).to_string();
        let entries: Vec<String> = if !opts.providers.is_empty() {
            opts.providers.clone()
        } else if !sf.suite.providers.is_empty() {
            sf.suite.providers.clone()
        } else {
            vec![prompt_model.clone()]
        };
        let replay = if opts.mode == Mode::Offline || entries.iter().any(|e| e == "replay") {
            let rel = record::path_for(&sf.path);
            let rec = Recording::load(&project.root, &rel)?;
            Some(Arc::new(ReplayStore::new(rel, rec)))
        } else {
            None
        };
        if let Some(store) = &replay
            && !store.exists()
            && entries.iter().any(|e| e != "echo")
        {
            return Err(Error::input(format!(
                "{}: no recorded responses ({} does not exist)",
                sf.path.display(),
                store.path.display()
            ))
            .hint(format!(
                "record them with `promptctl eval --record {}` (calls the provider), or run without --offline",
                sf.path.display()
            )));
        }
        let recorder = (opts.mode == Mode::Record).then(|| {
            Arc::new(Recorder {
                suite: sf.path.clone(),
                entries: Mutex::new(Vec::new()),
                ran: Mutex::new(HashSet::new()),
            })
        });
        let fingerprint = {
            let mut h = blake3::Hasher::new();
            h.update(
                std::fs::read(project.root.join(&sf.path))
                    .unwrap_or_default()
                    .as_slice(),
            );
            h.update(&[0]);
            h.update(prompt.source.as_bytes());
            h.finalize().to_hex()[..16].to_string()
        };
        let suite = Arc::new(sf);
        let prompt = Arc::new(prompt);
        let json = prompt.output_format() == OutputFormat::Json;
        let mut seen_targets = HashSet::new();
        for entry in &entries {
            let target = Target::resolve(entry, &prompt_model, opts.mode)?;
            if !seen_targets.insert(target.id.clone()) {
                continue;
            }
            let make = |target: Target,
                        fallback_id: Option<String>,
                        get: &mut dyn FnMut(&str) -> Result<Arc<dyn Provider>>|
             -> Result<Caller> {
                let price_id = if target.provider == "echo" {
                    prompt_model.clone()
                } else {
                    target.id.clone()
                };
                let price = project.catalog.get(&price_id).cloned();
                let tokenizer = price.as_ref().map_or(TokenizerKind::Approx, |p| p.tokenizer);
                let backend = if target.replay {
                    // Checked above: every replayed suite has a store.
                    match &replay {
                        Some(s) => Backend::Replay(s.clone()),
                        None => return Err(Error::input("internal: replay without a recording")),
                    }
                } else if target.provider == "echo" {
                    Backend::Live(Arc::new(provider::echo::Echo))
                } else {
                    Backend::Live(get(&target.provider)?)
                };
                let live = !target.replay && target.provider != "echo";
                Ok(Caller {
                    paid: live,
                    cache: live && opts.cache,
                    record: live && opts.mode == Mode::Record,
                    target,
                    backend,
                    price,
                    tokenizer,
                    fallback_id,
                })
            };
            let primary = make(target.clone(), None, &mut get_provider)?;
            let fallback = match (&prompt.front.fallback_model, json, target.provider.as_str()) {
                (Some(fb), true, p) if p != "echo" => {
                    let line = prompt.front_line("fallback_model");
                    let ft = Target::resolve(fb, &prompt_model, opts.mode)
                        .map_err(|e| Error::at(&prompt.path, line, None, e.message))?;
                    let ft = Target {
                        replay: target.replay,
                        ..ft
                    };
                    Some(make(ft.clone(), Some(ft.id.clone()), &mut get_provider)?)
                }
                _ => None,
            };
            let guard = (json && target.provider != "echo").then(|| Guard::new(prompt.output_schema(), guard_retries));
            pairs.push(Arc::new(Pair {
                defaults: suite.suite.bound_defaults(&prompt),
                suite: suite.clone(),
                prompt: prompt.clone(),
                source: opts.source.clone(),
                primary,
                fallback,
                guard,
                fingerprint: fingerprint.clone(),
                recorder: recorder.clone(),
                prices_of: project.catalog.date.clone(),
            }));
        }
    }

    let cache = opts.cache.then(|| Cache::new(&project.root));
    let ctx = Arc::new(RunCtx::new(jobs, cache, max_cost));
    let selection = Selection {
        suites: opts.suites.clone(),
        providers: opts.providers.clone(),
        mode: opts.mode.as_str().to_string(),
        cache: opts.cache,
        source: source_label(&opts.source),
    };
    let resumed = match resumed_header {
        None => None,
        Some(header) => {
            let id = header.run_id.clone();
            let now: Vec<(String, String, String)> = pairs
                .iter()
                .map(|p| {
                    (
                        p.suite.path.display().to_string(),
                        p.target().id.clone(),
                        p.fingerprint.clone(),
                    )
                })
                .collect();
            let then: Vec<(String, String, String)> = header
                .pairs
                .iter()
                .map(|p| (p.suite.clone(), p.target.clone(), p.fingerprint.clone()))
                .collect();
            if now != then {
                let changed: Vec<String> = then
                    .iter()
                    .filter(|t| !now.contains(t))
                    .map(|(s, t, _)| format!("{s} × {t}"))
                    .collect();
                return Err(Error::input(format!(
                    "cannot resume run {id}: its suites, prompts or targets changed since it started ({})",
                    if changed.is_empty() {
                        "new suites".to_string()
                    } else {
                        changed.join(", ")
                    }
                ))
                .hint("results of two versions must not be mixed; start a new run"));
            }
            Some(Resumed { run_id: id })
        }
    };
    Ok(Plan {
        pairs,
        ctx,
        mode: opts.mode,
        selection,
        resumed,
    })
}

// --- Running ------------------------------------------------------------------

/// Run every case of `pairs`, at most `ctx`'s jobs at once. `skip` names
/// cases (pair index, case name) not to run; `each` gets every finished
/// case with its pair index, in completion order.
pub async fn execute(
    pairs: &[Arc<Pair>],
    ctx: &Arc<RunCtx>,
    skip: &HashSet<(usize, String)>,
    each: &mut (dyn FnMut(usize, CaseRecord) -> Result<()> + Send),
) -> Result<()> {
    let (tx, mut rx) = mpsc::channel::<(usize, CaseRecord)>(ctx.jobs.saturating_mul(2).max(16));
    let producer = {
        let pairs: Vec<Arc<Pair>> = pairs.to_vec();
        let ctx = ctx.clone();
        let skip = skip.clone();
        tokio::spawn(async move {
            for (pi, pair) in pairs.iter().enumerate() {
                for item in pair.suite.suite.iter_cases()? {
                    let (index, case) = item?;
                    let name = case.name_or(index);
                    if skip.contains(&(pi, name)) {
                        continue;
                    }
                    // The semaphore is never closed: acquiring cannot fail.
                    let Ok(permit) = ctx.slots.clone().acquire_owned().await else {
                        break;
                    };
                    let (pair, ctx, tx) = (pair.clone(), ctx.clone(), tx.clone());
                    tokio::spawn(async move {
                        let fallback = CaseRecord::new(
                            &pair.suite.path.display().to_string(),
                            &pair.target().id,
                            index,
                            &case.name_or(index),
                            case.weight(),
                        );
                        let rec = std::panic::AssertUnwindSafe(run_case(&pair, &ctx, index, case))
                            .catch_unwind()
                            .await
                            .unwrap_or_else(|_| {
                                let mut r = fallback;
                                r.error = Some(CaseError {
                                    kind: ErrorKind::Input,
                                    message: "internal error: the case panicked".into(),
                                    status: None,
                                });
                                r
                            });
                        drop(permit);
                        let _ = tx.send((pi, rec)).await;
                    });
                }
            }
            drop(tx);
            Ok::<(), Error>(())
        })
    };
    let mut first_err = None;
    while let Some((pi, rec)) = rx.recv().await {
        if let Err(e) = each(pi, rec)
            && first_err.is_none()
        {
            first_err = Some(e);
        }
    }
    match producer.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(e),
        Err(e) => return Err(Error::external(format!("the eval runner failed: {e}"))),
    }
    first_err.map_or(Ok(()), Err)
}

/// One prompt version's cases against one target: the aggregate, with every
/// case handed to `each` as it finishes. No run file, no recording merge.
pub async fn run_pair(
    pair: Arc<Pair>,
    ctx: &Arc<RunCtx>,
    each: &mut (dyn FnMut(&CaseRecord) + Send),
) -> Result<SuiteResult> {
    let mut agg = Aggregate::new(pair.suite.suite.case_count());
    let pairs = [pair.clone()];
    execute(&pairs, ctx, &HashSet::new(), &mut |_, rec| {
        agg.add(&rec);
        each(&rec);
        Ok(())
    })
    .await?;
    Ok(SuiteResult::new(&pair, agg))
}

/// [`plan`], then [`execute`] with a run file, then the recordings and the report.
pub async fn run_suites_async(project: &Project, opts: &RunOptions) -> Result<RunReport> {
    let plan = plan(project, opts)?;
    run_plan(project, plan, opts.observer.clone()).await
}

/// [`run_suites_async`] on a runtime of its own.
pub fn run_suites(project: &Project, opts: &RunOptions) -> Result<RunReport> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::external(format!("cannot start the async runtime: {e}")))?;
    rt.block_on(run_suites_async(project, opts))
}

/// Execute a plan: run file, aggregates, recordings, report.
pub async fn run_plan(project: &Project, plan: Plan, observer: Option<Arc<dyn Observer>>) -> Result<RunReport> {
    let started = Instant::now();
    let Plan {
        pairs,
        ctx,
        mode,
        selection,
        resumed,
    } = plan;
    let source = selection.source.clone();
    let header_pairs: Vec<PairHeader> = pairs
        .iter()
        .map(|p| PairHeader {
            suite: p.suite.path.display().to_string(),
            target: p.target().id.clone(),
            prompt: p.prompt.name.clone(),
            fingerprint: p.fingerprint.clone(),
        })
        .collect();
    let mut aggs: Vec<Aggregate> = pairs
        .iter()
        .map(|p| Aggregate::new(p.suite.suite.case_count()))
        .collect();
    let (run_id, mut writer, skip) = match &resumed {
        Some(r) => {
            // Fold the finished cases in and skip them; the rest run again.
            let index: HashMap<(String, String), usize> = header_pairs
                .iter()
                .enumerate()
                .map(|(i, p)| ((p.suite.clone(), p.target.clone()), i))
                .collect();
            let mut done = HashSet::new();
            runfile::read(&project.root, &r.run_id, &mut |rec| {
                if rec.status.is_final()
                    && let Some(&i) = index.get(&(rec.suite.clone(), rec.target.clone()))
                    && done.insert((i, rec.case.clone()))
                {
                    aggs[i].add(&rec);
                }
            })?;
            (r.run_id.clone(), RunWriter::append(&project.root, &r.run_id)?, done)
        }
        None => {
            let id = runfile::new_run_id();
            let header = Header {
                run_id: id.clone(),
                started: runfile::now(),
                promptctl: env!("CARGO_PKG_VERSION").to_string(),
                selection,
                pairs: header_pairs,
            };
            (id.clone(), RunWriter::create(&project.root, &header)?, HashSet::new())
        }
    };
    if let Some(o) = &observer {
        let total: usize = pairs.iter().map(|p| p.suite.suite.case_count()).sum();
        o.start(total.saturating_sub(skip.len()) as u64);
    }
    let obs = observer.clone();
    execute(&pairs, &ctx, &skip, &mut |pi, rec| {
        writer.write(&Line::Case(Box::new(rec.clone())))?;
        if let Some(o) = &obs {
            o.case_done(&rec);
        }
        aggs[pi].add(&rec);
        Ok(())
    })
    .await?;
    writer.write(&Line::End { at: runfile::now() })?;

    let recorded = write_recordings(project, &pairs)?;
    let results: Vec<SuiteResult> = pairs.iter().zip(aggs).map(|(p, a)| SuiteResult::new(p, a)).collect();
    let mut totals = Totals {
        tokens_exact: true,
        ..Totals::default()
    };
    let mut suites = HashSet::new();
    for r in &results {
        suites.insert(r.suite.clone());
        let s = &r.stats;
        totals.cases += s.cases;
        totals.passed += s.passed;
        totals.failed += s.failed;
        totals.errored += s.errored;
        totals.skipped += s.skipped;
        totals.cost_usd += s.cost_usd;
        totals.spent_usd += s.spent_usd;
        totals.tokens_exact &= s.tokens_exact;
        totals.calls += s.calls;
        totals.cache_hits += s.cache_hits;
        totals.gates_failed += u64::from(!r.passed);
    }
    totals.suites = suites.len() as u64;
    Ok(RunReport {
        run_file: runfile::rel_path(&run_id),
        run_id,
        mode,
        source,
        resumed: resumed.is_some(),
        results,
        totals,
        stopped_by_cost: ctx.stopped_by_cost(),
        max_cost_usd: ctx.max_cost_usd,
        recorded,
        elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    })
}

/// Merge what each recorder collected into its suite's recording file.
fn write_recordings(project: &Project, pairs: &[Arc<Pair>]) -> Result<Vec<PathBuf>> {
    let mut done: Vec<PathBuf> = Vec::new();
    for pair in pairs {
        let Some(rec) = &pair.recorder else { continue };
        if done.contains(&rec.suite) {
            continue;
        }
        let rel = record::path_for(&rec.suite);
        let mut recording = Recording::load(&project.root, &rel)?.unwrap_or_else(|| Recording {
            source: String::new(),
            prompt: pair.prompt.name.clone(),
            entries: Vec::new(),
        });
        recording.source = record::recorded_source(&runfile::now()[..10]);
        recording.prompt = pair.prompt.name.clone();
        let mut order: HashMap<String, usize> = HashMap::new();
        for item in pair.suite.suite.iter_cases()? {
            let (i, c) = item?;
            order.insert(c.name_or(i), i);
        }
        let entries = std::mem::take(&mut *rec.entries.lock().unwrap_or_else(|e| e.into_inner()));
        let ran = rec.ran.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let targets: Vec<String> = pairs
            .iter()
            .filter(|p| p.suite.path == rec.suite && p.recorder.is_some())
            .map(|p| p.target().id.clone())
            .collect();
        let mut by_target: HashMap<String, Vec<Entry>> = HashMap::new();
        for e in entries {
            by_target.entry(e.target.clone()).or_default().push(e);
        }
        for t in targets {
            let fresh = by_target.remove(&t).unwrap_or_default();
            recording.merge(&t, &|c| ran.contains(&(t.clone(), c.to_string())), fresh, &|c| {
                order.get(c).copied()
            });
        }
        crate::eval::cache::write_atomic(&project.root.join(&rel), recording.to_yaml(&rec.suite).as_bytes())?;
        done.push(rec.suite.clone());
    }
    Ok(done.into_iter().map(|s| record::path_for(&s)).collect())
}

/// What a call returned.
struct Answer {
    resp: ChatResponse,
    usage: Usage,
    cost: Option<f64>,
    latency: Option<u64>,
}

enum CallError {
    /// The cost limit was reached before the request started.
    Skipped,
    Failed(CaseError),
}

/// Figures summed over a case's calls.
struct Tally<'a> {
    rec: &'a mut CaseRecord,
    cost: Option<f64>,
    latency: Option<u64>,
    input: u64,
    output: u64,
}

impl Tally<'_> {
    fn add(&mut self, a: &Answer) {
        self.input += a.usage.input_tokens;
        self.output += a.usage.output_tokens;
        self.rec.tokens_reported &= a.usage.reported;
        self.cost = match (self.cost, a.cost) {
            (Some(x), Some(y)) => Some(x + y),
            _ => None,
        };
        self.latency = match (self.latency, a.latency) {
            (Some(x), Some(y)) => Some(x + y),
            _ => None,
        };
    }
}

async fn run_case(pair: &Pair, ctx: &RunCtx, index: usize, case: Case) -> CaseRecord {
    let name = case.name_or(index);
    let mut rec = CaseRecord::new(
        &pair.suite.path.display().to_string(),
        &pair.target().id,
        index,
        &name,
        case.weight(),
    );
    rec.tags = case.tags.clone();
    let mut vars = pair.suite.suite.defaults.vars.clone();
    vars.extend(case.vars);
    let messages = match render::render(&pair.prompt, &vars) {
        Ok(m) => m,
        Err(e) => {
            rec.error = Some(CaseError {
                kind: ErrorKind::Input,
                message: e.message,
                status: None,
            });
            return rec;
        }
    };
    let prompt = &pair.prompt;
    let req = ChatRequest {
        model: pair.primary.target.model.clone(),
        messages,
        config: prompt.front.config.clone(),
        response_schema: prompt.output_schema().cloned(),
        json: prompt.output_format() == OutputFormat::Json,
    };

    let mut tally = Tally {
        rec: &mut rec,
        cost: Some(0.0),
        latency: Some(0),
        input: 0,
        output: 0,
    };
    let first = match call(pair, &pair.primary, ctx, &name, "answer", &req, &mut tally).await {
        Ok(a) => a,
        Err(CallError::Skipped) => {
            rec.status = Status::Skipped;
            return rec;
        }
        Err(CallError::Failed(e)) => {
            rec.error = Some(e);
            return rec;
        }
    };
    let mut last = first;
    let mut guard_note = None;
    if let Some(g) = &pair.guard {
        let mut outcome = GuardOutcome {
            path: GuardPath::First,
            corrections: 0,
            first_error: None,
        };
        if let Err(reason) = g.validate(&last.resp.text) {
            outcome.first_error = Some(reason.clone());
            outcome.path = GuardPath::Invalid;
            let mut reason = reason;
            let mut cur = req.clone();
            let mut fixed = false;
            for i in 1..=g.retries {
                let next = guard::corrective_request(&cur, &last.resp.text, &reason);
                match call(
                    pair,
                    &pair.primary,
                    ctx,
                    &name,
                    &format!("correction {i}"),
                    &next,
                    &mut tally,
                )
                .await
                {
                    Ok(a) => {
                        outcome.corrections = i;
                        last = a;
                        match g.validate(&last.resp.text) {
                            Ok(()) => {
                                outcome.path = GuardPath::Corrected;
                                fixed = true;
                                break;
                            }
                            Err(r) => reason = r,
                        }
                        cur = next;
                    }
                    Err(CallError::Skipped) => break,
                    Err(CallError::Failed(e)) => {
                        tally.rec.error = Some(e);
                        break;
                    }
                }
            }
            if !fixed
                && tally.rec.error.is_none()
                && let Some(fb) = &pair.fallback
            {
                let mut freq = req.clone();
                freq.model = fb.target.model.clone();
                match call(pair, fb, ctx, &name, "fallback", &freq, &mut tally).await {
                    Ok(a) => {
                        last = a;
                        if g.validate(&last.resp.text).is_ok() {
                            outcome.path = GuardPath::Fallback;
                        }
                    }
                    Err(CallError::Skipped) => {}
                    Err(CallError::Failed(e)) => tally.rec.error = Some(e),
                }
            }
            if outcome.path == GuardPath::Invalid {
                guard_note = Some(reason);
            }
        }
        tally.rec.guard = Some(outcome);
    }
    let (cost, latency, input, output) = (tally.cost, tally.latency, tally.input, tally.output);
    if rec.error.is_some() {
        // A call after the first failed: no final answer to judge.
        rec.input_tokens = Some(input);
        rec.output_tokens = Some(output);
        rec.cost_usd = cost;
        rec.latency_ms = latency;
        return rec;
    }

    let output_tokens_reported = last.usage.reported.then_some(last.usage.output_tokens);
    let obs = Observation {
        output: &last.resp.text,
        vars: &vars,
        output_tokens: output_tokens_reported,
        finish_reason_length: last.resp.finish_reason == provider::FinishReason::Length,
        latency_ms: latency,
        cost_usd: cost,
        output_schema: prompt.output_schema(),
        tokenizer: pair.primary.tokenizer,
    };
    let mut results: Vec<AssertionResult> = Vec::new();
    let mut pass = true;
    let (mut total_w, mut passed_w) = (0.0, 0.0);
    for a in pair.defaults.iter().chain(case.asserts.iter()) {
        let r = a.evaluate(&obs);
        pass &= r.pass || a.weight == 0.0;
        total_w += a.weight;
        if r.pass {
            passed_w += a.weight;
        }
        results.push(r);
    }
    if let Some(reason) = guard_note {
        // A JSON prompt whose every answer failed validation fails the case.
        pass = false;
        results.push(AssertionResult {
            kind: "guard".into(),
            pass: false,
            score: None,
            reason: Some(format!("no answer passed the structured-output guard: {reason}")),
        });
    }
    rec.status = if pass { Status::Pass } else { Status::Fail };
    rec.score = (total_w > 0.0).then(|| passed_w / total_w);
    rec.asserts = results;
    rec.finish_reason = Some(last.resp.finish_reason.clone());
    rec.output = Some(last.resp.text);
    rec.input_tokens = Some(input);
    rec.output_tokens = Some(output);
    rec.cost_usd = cost;
    rec.latency_ms = latency;
    rec
}

/// One call: replay, cache, or the provider; then usage, cost, recording.
async fn call(
    pair: &Pair,
    caller: &Caller,
    ctx: &RunCtx,
    case: &str,
    step: &str,
    req: &ChatRequest,
    tally: &mut Tally<'_>,
) -> std::result::Result<Answer, CallError> {
    let provider_id = caller.target.provider.as_str();
    let key = key::request_key(provider_id, req);
    let mut spent = false;
    let (resp, latency) = match &caller.backend {
        Backend::Replay(store) => match store.get(&key) {
            Some(e) => {
                tally.rec.replayed += 1;
                (e.response(), e.latency_ms)
            }
            None => {
                let why = store.explain(&pair.target().id, case, step, &key::parts(provider_id, req));
                return Err(CallError::Failed(CaseError {
                    kind: ErrorKind::Offline,
                    message: if step == "answer" {
                        why
                    } else {
                        format!("{step}: {why}")
                    },
                    status: None,
                }));
            }
        },
        Backend::Live(p) => {
            let cached = match (&ctx.cache, caller.cache) {
                (Some(c), true) => c.get(&key),
                _ => None,
            };
            let r = match cached {
                Some(r) => {
                    tally.rec.cache_hits += 1;
                    r
                }
                None => {
                    if caller.paid && !ctx.may_spend() {
                        return Err(CallError::Skipped);
                    }
                    let r = p.complete(req).await.map_err(|e| CallError::Failed(case_error(&e)))?;
                    tally.rec.retries += r.attempts.saturating_sub(1);
                    spent = caller.paid;
                    if let (Some(c), true) = (&ctx.cache, caller.cache)
                        && let Err(e) = c.put(&key, provider_id, &r)
                    {
                        // A cache that cannot be written costs speed, not correctness.
                        eprintln!("warning: response cache: {}", e.message);
                    }
                    r
                }
            };
            let ms = p.measures_latency().then_some(r.latency_ms);
            (r, ms)
        }
    };
    tally.rec.calls += 1;
    let usage = match resp.usage {
        Some(u) => u,
        None => Usage {
            input_tokens: crate::tokens::count_messages(caller.tokenizer, &req.messages).total,
            output_tokens: crate::tokens::count_text(caller.tokenizer, &resp.text),
            cached_input_tokens: None,
            reported: false,
        },
    };
    // Recorded with the usage as counted when the provider reported none.
    if caller.record
        && let Some(rec) = &pair.recorder
    {
        let mut entry = Entry::new(
            case,
            &pair.target().id,
            step,
            provider_id,
            caller.fallback_id.as_deref(),
            req,
            &ChatResponse {
                usage: Some(usage),
                ..resp.clone()
            },
        );
        // Not measured stays not measured when replayed.
        entry.latency_ms = latency;
        rec.entries.lock().unwrap_or_else(|e| e.into_inner()).push(entry);
        rec.ran
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert((pair.target().id.clone(), case.to_string()));
    }
    let cost = caller.price.as_ref().map(|info| price(info, &usage));
    if spent && let Some(c) = cost {
        ctx.add_spent(c);
        tally.rec.spent_usd += c;
    }
    let answer = Answer {
        resp,
        usage,
        cost,
        latency,
    };
    tally.add(&answer);
    Ok(answer)
}

/// USD of one call; cached input at the cached price where there is one.
pub fn price(info: &ModelInfo, u: &Usage) -> f64 {
    let cached = u.cached_input_tokens.unwrap_or(0).min(u.input_tokens);
    let fresh = u.input_tokens - cached;
    let cached_rate = info.cached_input.unwrap_or(info.input);
    (fresh as f64 * info.input + cached as f64 * cached_rate + u.output_tokens as f64 * info.output) / 1_000_000.0
}

fn case_error(e: &ProviderError) -> CaseError {
    CaseError {
        kind: e.kind.into(),
        message: e.message.clone(),
        status: e.status,
    }
}

#[cfg(test)]
mod tests;
