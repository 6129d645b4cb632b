//! Base/head comparison of eval runs: the same suites and cases against the
//! prompt at two revisions, with deltas and gates.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::config::Traffic;
use crate::eval::result::{CaseRecord, Status};
use crate::eval::run::{RunReport, SuiteResult};

/// Cases listed with their answers per comparison, the flipped ones first.
/// The rest are counted (`cases_not_listed`): a report for people to read,
/// and a bound on the answers held in memory.
pub const MAX_CASES: usize = 1000;

/// Limits a comparison must stay within (`[eval.gates]`, a suite's `gates:`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Gates {
    /// Head pass rate must reach this (0..=1).
    pub min_pass_rate: Option<f64>,
    /// Pass rate may fall by at most this many percentage points.
    pub max_pass_rate_drop_pp: Option<f64>,
    pub max_cost_increase_pct: Option<f64>,
    pub max_output_tokens_increase_pct: Option<f64>,
    pub max_latency_p95_increase_pct: Option<f64>,
    /// Share (0..=1) of head answers cut off at the output cap.
    pub max_truncated_share: Option<f64>,
}

impl Gates {
    /// `self` with the limits `over` sets replacing its own.
    pub fn merged(&self, over: &Gates) -> Gates {
        Gates {
            min_pass_rate: over.min_pass_rate.or(self.min_pass_rate),
            max_pass_rate_drop_pp: over.max_pass_rate_drop_pp.or(self.max_pass_rate_drop_pp),
            max_cost_increase_pct: over.max_cost_increase_pct.or(self.max_cost_increase_pct),
            max_output_tokens_increase_pct: over
                .max_output_tokens_increase_pct
                .or(self.max_output_tokens_increase_pct),
            max_latency_p95_increase_pct: over.max_latency_p95_increase_pct.or(self.max_latency_p95_increase_pct),
            max_truncated_share: over.max_truncated_share.or(self.max_truncated_share),
        }
    }
}

/// One side's figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Side {
    /// `worktree` or the revision.
    pub source: String,
    pub pass_rate: f64,
    pub cases: u64,
    pub input_tokens_mean: Option<f64>,
    pub input_tokens_p95: Option<u64>,
    pub output_tokens_mean: Option<f64>,
    pub output_tokens_p95: Option<u64>,
    pub tokens_exact: bool,
    pub cost_per_call_usd: Option<f64>,
    pub cost_per_1k_usd: Option<f64>,
    pub monthly_usd: Option<f64>,
    pub latency_p50_ms: Option<u64>,
    pub latency_p95_ms: Option<u64>,
    pub truncated_share: f64,
    /// Cases that failed because the provider could not be reached.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider_error: Option<String>,
}

/// A figure base → head.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Delta {
    pub metric: String,
    pub base: Option<f64>,
    pub head: Option<f64>,
    pub abs: Option<f64>,
    /// Percent change; none when the base is zero or missing.
    pub pct: Option<f64>,
}

impl Delta {
    fn new(metric: &str, base: Option<f64>, head: Option<f64>) -> Delta {
        let abs = base.zip(head).map(|(b, h)| h - b);
        let pct = base
            .zip(head)
            .and_then(|(b, h)| (b != 0.0).then(|| (h - b) / b * 100.0));
        Delta {
            metric: metric.to_string(),
            base,
            head,
            abs,
            pct,
        }
    }
}

/// A case whose outcome changed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Flip {
    pub case: String,
    pub base: Status,
    pub head: Status,
    /// Why it fails on the side where it fails.
    pub reasons: Vec<String>,
}

/// One side of a listed case: its outcome and answer, from the run file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaseSide {
    pub status: Status,
    /// The final answer; none when the case has none (an error) or its
    /// record is missing from the run file.
    pub output: Option<String>,
    pub output_tokens: Option<u64>,
    /// Cut off at the output cap.
    pub truncated: bool,
    /// Why it does not pass.
    pub reasons: Vec<String>,
}

impl CaseSide {
    fn of(status: Status) -> CaseSide {
        CaseSide {
            status,
            output: None,
            output_tokens: None,
            truncated: false,
            reasons: Vec::new(),
        }
    }

    fn fill(&mut self, r: &CaseRecord) {
        self.status = r.status;
        self.output = r.output.clone();
        self.output_tokens = r.output_tokens;
        self.truncated = r.truncated();
        self.reasons = r.reasons();
    }
}

/// A case on both sides, for reading the two answers side by side.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CasePair {
    pub case: String,
    /// The outcome changed.
    pub flipped: bool,
    /// None in a head-only report.
    pub base: Option<CaseSide>,
    pub head: CaseSide,
}

/// One gate's verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GateCheck {
    pub gate: String,
    pub limit: f64,
    /// None when the figure could not be measured (no base, no price).
    pub measured: Option<f64>,
    pub passed: bool,
    pub message: String,
}

/// One prompt × target, base → head.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    pub suite: String,
    pub prompt: String,
    /// The prompt's name at the base when it was renamed since.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_prompt: Option<String>,
    pub target: String,
    /// None: the suite or prompt does not exist at the base.
    pub base: Option<Side>,
    pub head: Side,
    pub deltas: Vec<Delta>,
    pub flipped: Vec<Flip>,
    pub notes: Vec<String>,
    pub gates: Vec<GateCheck>,
    /// The cases compared (every head case in a head-only report), flipped
    /// first, then in suite order; at most [`MAX_CASES`].
    pub cases: Vec<CasePair>,
    pub cases_not_listed: u64,
}

impl Comparison {
    pub fn passed(&self) -> bool {
        self.gates.iter().all(|g| g.passed)
    }
    pub fn provider_failed(&self) -> bool {
        self.head.provider_error.is_some() || self.base.as_ref().is_some_and(|b| b.provider_error.is_some())
    }
}

/// The whole comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CompareReport {
    pub base: String,
    pub head: String,
    pub comparisons: Vec<Comparison>,
    /// Suites not run because their prompt did not change.
    pub unchanged: Vec<String>,
    pub passed: bool,
    pub provider_failed: bool,
    /// The head run's id and results (for `--note`).
    #[serde(skip)]
    pub head_run: Option<(String, Vec<SuiteResult>)>,
}

impl CompareReport {
    pub fn new(base: String, head: String, comparisons: Vec<Comparison>, unchanged: Vec<String>) -> CompareReport {
        let passed = comparisons.iter().all(Comparison::passed);
        let provider_failed = comparisons.iter().any(Comparison::provider_failed);
        CompareReport {
            base,
            head,
            comparisons,
            unchanged,
            passed,
            provider_failed,
            head_run: None,
        }
    }
}

fn side(r: &SuiteResult, traffic: &Traffic, pass_rate: f64) -> Side {
    let s = &r.stats;
    let unreachable: Vec<String> = s
        .errors
        .iter()
        .filter(|(k, _)| k.is_unreachable())
        .map(|(k, n)| format!("{n} case{} {}", if *n == 1 { "" } else { "s" }, k.as_str()))
        .collect();
    Side {
        source: r.source.clone(),
        pass_rate,
        cases: s.cases,
        input_tokens_mean: s.input_tokens.as_ref().map(|t| t.mean),
        input_tokens_p95: s.input_tokens.as_ref().map(|t| t.p95),
        output_tokens_mean: s.output_tokens.as_ref().map(|t| t.mean),
        output_tokens_p95: s.output_tokens.as_ref().map(|t| t.p95),
        tokens_exact: s.tokens_exact,
        cost_per_call_usd: s.cost_per_call_usd,
        cost_per_1k_usd: s.cost_per_call_usd.map(|c| c * 1000.0),
        monthly_usd: s.cost_per_call_usd.and_then(|c| traffic.monthly_usd(&r.prompt, c)),
        latency_p50_ms: s.latency_ms.as_ref().map(|l| l.p50),
        latency_p95_ms: s.latency_ms.as_ref().map(|l| l.p95),
        truncated_share: s.truncated_share,
        provider_error: (!unreachable.is_empty()).then(|| unreachable.join(", ")),
    }
}

/// Unweighted pass share over the named cases.
fn pass_share(r: &SuiteResult, names: &[&str]) -> f64 {
    let ran: Vec<_> = r
        .cases
        .iter()
        .filter(|c| names.contains(&c.case.as_str()) && c.status != Status::Skipped)
        .collect();
    if ran.is_empty() {
        return 1.0;
    }
    ran.iter().filter(|c| c.status == Status::Pass).count() as f64 / ran.len() as f64
}

/// Compare one suite × target. `base` is None when the suite or prompt does
/// not exist at the base revision.
pub fn compare(base: Option<&SuiteResult>, head: &SuiteResult, gates: &Gates, traffic: &Traffic) -> Comparison {
    let mut notes = Vec::new();
    let mut flipped = Vec::new();
    let mut pairs = Vec::new();
    let (base_side, head_side) = match base {
        None => {
            pairs = head
                .cases
                .iter()
                .map(|c| CasePair {
                    case: c.case.clone(),
                    flipped: false,
                    base: None,
                    head: CaseSide::of(c.status),
                })
                .collect();
            notes.push(format!(
                "{} does not exist at the base revision: head-only report",
                head.prompt
            ));
            (None, side(head, traffic, head.stats.pass_rate))
        }
        Some(b) => {
            let base_names: HashMap<&str, &Status> = b.cases.iter().map(|c| (c.case.as_str(), &c.status)).collect();
            let common: Vec<&str> = head
                .cases
                .iter()
                .map(|c| c.case.as_str())
                .filter(|n| base_names.contains_key(n))
                .collect();
            let mismatched = common.len() != head.cases.len() || common.len() != b.cases.len();
            let (bp, hp) = if mismatched {
                notes.push(format!(
                    "cases differ between base ({}) and head ({}): only the {} common case{} compared",
                    b.cases.len(),
                    head.cases.len(),
                    common.len(),
                    if common.len() == 1 { "" } else { "s" }
                ));
                (pass_share(b, &common), pass_share(head, &common))
            } else {
                (b.stats.pass_rate, head.stats.pass_rate)
            };
            let reasons = |r: &SuiteResult, case: &str| -> Vec<String> {
                r.failures
                    .iter()
                    .find(|f| f.case == case)
                    .map(|f| f.reasons.clone())
                    .unwrap_or_default()
            };
            for c in &head.cases {
                let Some(&&bs) = base_names.get(c.case.as_str()) else {
                    continue;
                };
                let flip = bs != c.status;
                if flip {
                    let why = if c.status == Status::Pass {
                        reasons(b, &c.case)
                    } else {
                        reasons(head, &c.case)
                    };
                    flipped.push(Flip {
                        case: c.case.clone(),
                        base: bs,
                        head: c.status,
                        reasons: why,
                    });
                }
                pairs.push(CasePair {
                    case: c.case.clone(),
                    flipped: flip,
                    base: Some(CaseSide::of(bs)),
                    head: CaseSide::of(c.status),
                });
            }
            (Some(side(b, traffic, bp)), side(head, traffic, hp))
        }
    };
    let b = base_side.as_ref();
    let f = |x: Option<u64>| x.map(|v| v as f64);
    let deltas = vec![
        Delta::new("pass_rate", b.map(|s| s.pass_rate), Some(head_side.pass_rate)),
        Delta::new(
            "input_tokens_mean",
            b.and_then(|s| s.input_tokens_mean),
            head_side.input_tokens_mean,
        ),
        Delta::new(
            "input_tokens_p95",
            b.and_then(|s| f(s.input_tokens_p95)),
            f(head_side.input_tokens_p95),
        ),
        Delta::new(
            "output_tokens_mean",
            b.and_then(|s| s.output_tokens_mean),
            head_side.output_tokens_mean,
        ),
        Delta::new(
            "output_tokens_p95",
            b.and_then(|s| f(s.output_tokens_p95)),
            f(head_side.output_tokens_p95),
        ),
        Delta::new(
            "cost_per_call_usd",
            b.and_then(|s| s.cost_per_call_usd),
            head_side.cost_per_call_usd,
        ),
        Delta::new(
            "cost_per_1k_usd",
            b.and_then(|s| s.cost_per_1k_usd),
            head_side.cost_per_1k_usd,
        ),
        Delta::new("monthly_usd", b.and_then(|s| s.monthly_usd), head_side.monthly_usd),
        Delta::new(
            "latency_p50_ms",
            b.and_then(|s| f(s.latency_p50_ms)),
            f(head_side.latency_p50_ms),
        ),
        Delta::new(
            "latency_p95_ms",
            b.and_then(|s| f(s.latency_p95_ms)),
            f(head_side.latency_p95_ms),
        ),
        Delta::new(
            "truncated_share",
            b.map(|s| s.truncated_share),
            Some(head_side.truncated_share),
        ),
    ];
    let checks = check_gates(gates, &deltas);
    // Flipped first; the sort is stable, so each group keeps suite order.
    pairs.sort_by_key(|p| !p.flipped);
    let cases_not_listed = pairs.len().saturating_sub(MAX_CASES) as u64;
    pairs.truncate(MAX_CASES);
    Comparison {
        suite: head.suite.display().to_string(),
        prompt: head.prompt.clone(),
        base_prompt: base.filter(|b| b.prompt != head.prompt).map(|b| b.prompt.clone()),
        target: head.target.clone(),
        base: base_side,
        head: head_side,
        deltas,
        flipped,
        notes,
        gates: checks,
        cases: pairs,
        cases_not_listed,
    }
}

fn delta<'a>(deltas: &'a [Delta], metric: &str) -> Option<&'a Delta> {
    deltas.iter().find(|d| d.metric == metric)
}

/// Each set gate, checked against the deltas.
pub fn check_gates(g: &Gates, deltas: &[Delta]) -> Vec<GateCheck> {
    let mut out = Vec::new();
    let d = |m: &str| delta(deltas, m);
    let mut push =
        |gate: &str, limit: f64, measured: Option<f64>, ok: fn(f64, f64) -> bool, show: fn(f64) -> String| {
            let (passed, message) = match measured {
                Some(m) => {
                    let passed = ok(m, limit);
                    (
                        passed,
                        format!(
                            "{gate}: {} {} limit {}",
                            show(m),
                            if passed { "within" } else { "breaks" },
                            show(limit)
                        ),
                    )
                }
                None => (true, format!("{gate}: not measured (no base or no price)")),
            };
            out.push(GateCheck {
                gate: gate.to_string(),
                limit,
                measured,
                passed,
                message,
            });
        };
    let share = |x: f64| format!("{:.1}%", x * 100.0);
    let pct = |x: f64| format!("{x:+.1}%");
    let pp = |x: f64| format!("{x:.1}pp");
    if let Some(l) = g.min_pass_rate {
        push(
            "min_pass_rate",
            l,
            d("pass_rate").and_then(|x| x.head),
            |m, l| m + 1e-12 >= l,
            share,
        );
    }
    if let Some(l) = g.max_pass_rate_drop_pp {
        let drop = d("pass_rate").and_then(|x| x.abs).map(|a| -a * 100.0);
        push("max_pass_rate_drop_pp", l, drop, |m, l| m <= l + 1e-9, pp);
    }
    if let Some(l) = g.max_cost_increase_pct {
        push(
            "max_cost_increase_pct",
            l,
            d("cost_per_call_usd").and_then(|x| x.pct),
            |m, l| m <= l + 1e-9,
            pct,
        );
    }
    if let Some(l) = g.max_output_tokens_increase_pct {
        push(
            "max_output_tokens_increase_pct",
            l,
            d("output_tokens_mean").and_then(|x| x.pct),
            |m, l| m <= l + 1e-9,
            pct,
        );
    }
    if let Some(l) = g.max_latency_p95_increase_pct {
        push(
            "max_latency_p95_increase_pct",
            l,
            d("latency_p95_ms").and_then(|x| x.pct),
            |m, l| m <= l + 1e-9,
            pct,
        );
    }
    if let Some(l) = g.max_truncated_share {
        push(
            "max_truncated_share",
            l,
            d("truncated_share").and_then(|x| x.head),
            |m, l| m <= l + 1e-12,
            share,
        );
    }
    out
}

/// Pair the results of the base and head runs by suite and target.
/// `renamed` maps a head prompt name to its name at the base.
pub fn pair_reports(
    base: Option<&RunReport>,
    head: &RunReport,
    gates_for: &dyn Fn(&str) -> Gates,
    traffic: &Traffic,
) -> Vec<Comparison> {
    let mut by_key: BTreeMap<(String, String), &SuiteResult> = BTreeMap::new();
    if let Some(b) = base {
        for r in &b.results {
            by_key.insert((r.suite.display().to_string(), r.target.clone()), r);
        }
    }
    head.results
        .iter()
        .map(|h| {
            let suite = h.suite.display().to_string();
            let b = by_key.get(&(suite.clone(), h.target.clone())).copied();
            compare(b, h, &gates_for(&suite), traffic)
        })
        .collect()
}

/// Fill one side of the listed cases from that side's run file. A case's
/// first final record counts (as when a run is resumed), else its last one.
fn fill_answers(root: &Path, run_id: &str, base: bool, comparisons: &mut [Comparison]) -> crate::error::Result<()> {
    let mut at: HashMap<(String, String, String), (usize, usize)> = HashMap::new();
    for (i, c) in comparisons.iter().enumerate() {
        for (j, p) in c.cases.iter().enumerate() {
            at.insert((c.suite.clone(), c.target.clone(), p.case.clone()), (i, j));
        }
    }
    let mut done = HashSet::new();
    crate::eval::runfile::read(root, run_id, &mut |rec| {
        let Some(&(i, j)) = at.get(&(rec.suite.clone(), rec.target.clone(), rec.case.clone())) else {
            return;
        };
        if done.contains(&(i, j)) {
            return;
        }
        if rec.status.is_final() {
            done.insert((i, j));
        }
        let pair = &mut comparisons[i].cases[j];
        let side = if base { pair.base.as_mut() } else { Some(&mut pair.head) };
        if let Some(s) = side {
            s.fill(&rec);
        }
    })?;
    Ok(())
}

/// What `eval --base` runs.
pub struct CompareSpec {
    pub base: String,
    /// None: the working tree.
    pub head: Option<String>,
    /// Run every selected suite, changed or not.
    pub all: bool,
}

/// Run the affected suites at the base and at the head and compare them.
pub fn run(
    project: &crate::project::Project,
    opts: &crate::eval::run::RunOptions,
    spec: &CompareSpec,
) -> crate::error::Result<CompareReport> {
    use crate::eval::run::{run_suites, select};
    use crate::project::Source;
    let repo_check = Source::Rev(spec.base.clone());
    let head_src = Source::from_rev(spec.head.as_deref());
    let suites = select(crate::eval::suite::load_all(project)?, &opts.suites)?;
    let mut affected = Vec::new();
    let mut at_base = Vec::new();
    let mut unchanged = Vec::new();
    let mut renames = HashMap::new();
    let mut diff: Option<crate::diff::DiffReport> = None;
    // The prompt's name at the base, when rename detection pairs it with one.
    let mut renamed_from = |name: &str| -> crate::error::Result<Option<String>> {
        if diff.is_none() {
            let head = match &spec.head {
                Some(r) => crate::diff::Head::Rev(r.clone()),
                None => crate::diff::Head::WorkTree,
            };
            let ds = crate::diff::DiffSpec::new(crate::diff::Base::Rev(spec.base.clone()), head);
            diff = Some(crate::diff::compare(project, &ds)?);
        }
        Ok(diff.as_ref().and_then(|d| {
            d.prompts
                .iter()
                .find(|p| p.status == crate::diff::Status::Renamed && p.new_name.as_deref() == Some(name))
                .and_then(|p| p.old_name.clone())
        }))
    };
    for sf in &suites {
        let path = sf.path.display().to_string();
        let head = project.load(&sf.suite.prompt, &head_src)?;
        let base_name = match project.load(&sf.suite.prompt, &repo_check) {
            Ok(_) => Some(sf.suite.prompt.clone()),
            Err(e) if e.message.starts_with("no prompt named") => renamed_from(&sf.suite.prompt)?,
            Err(e) => return Err(e),
        };
        if let Some(name) = base_name {
            let b = project.load(&name, &repo_check)?;
            if b.source == head.source && !spec.all {
                unchanged.push(path);
                continue;
            }
            if name != sf.suite.prompt {
                renames.insert(sf.suite.prompt.clone(), name);
            }
            at_base.push(path.clone());
        }
        affected.push(path);
    }
    let head_label = crate::eval::run::source_label(&head_src);
    if affected.is_empty() {
        return Ok(CompareReport::new(spec.base.clone(), head_label, Vec::new(), unchanged));
    }
    let mut head_opts = opts.clone();
    head_opts.suites = affected;
    head_opts.source = head_src;
    let head_report = run_suites(project, &head_opts)?;
    let base_report = if at_base.is_empty() {
        None
    } else {
        let mut base_opts = opts.clone();
        base_opts.suites = at_base;
        base_opts.source = repo_check;
        base_opts.prompt_names = renames;
        Some(run_suites(project, &base_opts)?)
    };
    let defaults = project.config.eval.gates.clone();
    let per_suite: HashMap<String, Gates> = suites
        .iter()
        .map(|s| {
            (
                s.path.display().to_string(),
                s.suite
                    .gates
                    .as_ref()
                    .map_or_else(|| defaults.clone(), |g| defaults.merged(g)),
            )
        })
        .collect();
    let gates_for = |suite: &str| per_suite.get(suite).cloned().unwrap_or_else(|| defaults.clone());
    let mut comparisons = pair_reports(base_report.as_ref(), &head_report, &gates_for, &project.config.traffic);
    if let Some(b) = &base_report {
        fill_answers(&project.root, &b.run_id, true, &mut comparisons)?;
    }
    fill_answers(&project.root, &head_report.run_id, false, &mut comparisons)?;
    // Both sides run the working tree's suites (the current test set), so
    // the cases are the same; say so where the suite file is new since the base.
    let repo = project.repo()?;
    for c in comparisons.iter_mut().filter(|c| c.base.is_some()) {
        if repo.read_at(&spec.base, Path::new(&c.suite))?.is_none() {
            c.notes.push(format!(
                "{} does not exist at {}: both sides ran its current cases",
                c.suite, spec.base
            ));
        }
    }
    let mut report = CompareReport::new(spec.base.clone(), head_label, comparisons, unchanged);
    report.head_run = Some((head_report.run_id, head_report.results));
    Ok(report)
}

/// Suite results for tests of comparisons and their reports.
#[cfg(test)]
pub(crate) mod fixture {
    use crate::eval::result::Status;
    use crate::eval::run::SuiteResult;
    use crate::eval::stats::{CaseOutcome, Stats, Summary};

    pub(crate) fn result(cases: &[(&str, Status)], out_mean: f64) -> SuiteResult {
        let n = cases.len() as u64;
        let passed = cases.iter().filter(|c| c.1 == Status::Pass).count() as u64;
        let summary = |mean: f64| Summary {
            n,
            mean,
            p50: mean as u64,
            p95: mean as u64,
            max: mean as u64,
        };
        SuiteResult {
            suite: "evals/a.yaml".into(),
            prompt: "a".into(),
            source: "worktree".into(),
            target: "openai:gpt-4o-mini".into(),
            provider: "openai".into(),
            model: "gpt-4o-mini".into(),
            replayed: false,
            threshold: 1.0,
            passed: passed == n,
            stats: Stats {
                cases: n,
                passed,
                failed: n - passed,
                errored: 0,
                skipped: 0,
                pass_rate: passed as f64 / n as f64,
                input_tokens: Some(summary(10.0)),
                output_tokens: Some(summary(out_mean)),
                tokens_exact: true,
                cost_usd: 0.0,
                cost_per_call_usd: Some(out_mean / 1e6),
                unpriced: 0,
                spent_usd: 0.0,
                latency_ms: None,
                calls: n,
                retries: 0,
                cache_hits: 0,
                replayed: 0,
                truncated: 0,
                truncated_share: 0.0,
                guard: None,
                errors: Default::default(),
            },
            failures: Vec::new(),
            failures_not_listed: 0,
            cases: cases
                .iter()
                .map(|(c, s)| CaseOutcome {
                    case: c.to_string(),
                    status: *s,
                })
                .collect(),
            prices_of: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fixture::result;
    use super::*;

    #[test]
    fn suite_gates_override_project_gates_one_by_one() {
        let project = Gates {
            min_pass_rate: Some(0.9),
            max_cost_increase_pct: Some(10.0),
            ..Gates::default()
        };
        let suite = Gates {
            max_cost_increase_pct: Some(50.0),
            ..Gates::default()
        };
        let g = project.merged(&suite);
        assert_eq!(g.min_pass_rate, Some(0.9));
        assert_eq!(g.max_cost_increase_pct, Some(50.0));
        assert_eq!(g.max_truncated_share, None);
    }

    #[test]
    fn only_common_cases_are_compared_and_it_is_said() {
        let base = result(
            &[("a", Status::Pass), ("b", Status::Pass), ("gone", Status::Fail)],
            10.0,
        );
        let head = result(&[("a", Status::Pass), ("b", Status::Fail), ("new", Status::Pass)], 15.0);
        let g = Gates {
            max_pass_rate_drop_pp: Some(10.0),
            max_output_tokens_increase_pct: Some(60.0),
            ..Gates::default()
        };
        let c = compare(Some(&base), &head, &g, &Traffic::default());
        assert_eq!(
            c.notes,
            ["cases differ between base (3) and head (3): only the 2 common cases compared"]
        );
        assert_eq!(c.base.as_ref().unwrap().pass_rate, 1.0);
        assert_eq!(c.head.pass_rate, 0.5);
        assert_eq!(c.flipped.len(), 1);
        assert_eq!(c.flipped[0].case, "b");
        assert!(!c.gates[0].passed);
        assert_eq!(c.gates[0].measured, Some(50.0));
        assert_eq!(c.gates[0].message, "max_pass_rate_drop_pp: 50.0pp breaks limit 10.0pp");
        assert!(c.gates[1].passed, "{:?}", c.gates[1]);
        assert!(!c.passed());
    }

    #[test]
    fn a_gate_without_a_base_figure_is_not_measured_and_holds() {
        let head = result(&[("a", Status::Pass)], 10.0);
        let g = Gates {
            max_cost_increase_pct: Some(1.0),
            min_pass_rate: Some(1.0),
            ..Gates::default()
        };
        let c = compare(None, &head, &g, &Traffic::default());
        assert!(c.passed());
        assert_eq!(c.gates[1].measured, None);
        assert_eq!(
            c.gates[1].message,
            "max_cost_increase_pct: not measured (no base or no price)"
        );
        assert_eq!(c.gates[0].measured, Some(1.0));
    }

    #[test]
    fn cases_are_listed_flipped_first_then_in_suite_order_up_to_the_cap() {
        let names: Vec<String> = (0..MAX_CASES + 2).map(|i| format!("c{i}")).collect();
        let mut base_cases: Vec<(&str, Status)> = names.iter().map(|n| (n.as_str(), Status::Pass)).collect();
        base_cases.push(("base only", Status::Pass));
        let mut head_cases: Vec<(&str, Status)> = names.iter().map(|n| (n.as_str(), Status::Pass)).collect();
        head_cases[3].1 = Status::Fail;
        let last = head_cases.len() - 1;
        head_cases[last].1 = Status::Error;
        let c = compare(
            Some(&result(&base_cases, 10.0)),
            &result(&head_cases, 10.0),
            &Gates::default(),
            &Traffic::default(),
        );
        let listed: Vec<&str> = c.cases.iter().map(|p| p.case.as_str()).collect();
        assert_eq!(listed.len(), MAX_CASES);
        assert_eq!(&listed[..4], ["c3", &names[last], "c0", "c1"]);
        assert!(c.cases[0].flipped && c.cases[1].flipped && !c.cases[2].flipped);
        assert_eq!(c.cases[1].base.as_ref().unwrap().status, Status::Pass);
        assert_eq!(c.cases[1].head.status, Status::Error);
        // Common cases only: the base-only case is neither listed nor counted.
        assert_eq!(c.cases_not_listed, 2);
        assert!(!listed.contains(&"base only"));

        let head_only = compare(
            None,
            &result(&[("x", Status::Pass)], 1.0),
            &Gates::default(),
            &Traffic::default(),
        );
        assert_eq!(head_only.cases.len(), 1);
        assert!(head_only.cases[0].base.is_none());
    }

    #[test]
    fn answers_come_from_the_run_files_the_first_final_record_winning() {
        use crate::eval::runfile::{Line, RunWriter, test_header};
        let dir = tempfile::tempdir().unwrap();
        let write = |id: &str, records: &[(&str, Status, &str)]| {
            let mut w = RunWriter::create(dir.path(), &test_header(id)).unwrap();
            for (case, status, output) in records {
                let mut r = CaseRecord::new("evals/a.yaml", "openai:gpt-4o-mini", 0, case, 1.0);
                r.status = *status;
                r.output = Some(output.to_string());
                r.output_tokens = Some(output.len() as u64);
                w.write(&Line::Case(Box::new(r))).unwrap();
            }
        };
        write("base-1", &[("a", Status::Pass, "short"), ("b", Status::Pass, "fine")]);
        // A resumed head run: `a` errored, then ran again; `b` passed, then a
        // later record of it must not replace the first final one.
        write(
            "head-1",
            &[
                ("a", Status::Error, ""),
                ("b", Status::Pass, "fine"),
                ("a", Status::Fail, "a much longer answer"),
                ("b", Status::Fail, "ignored"),
            ],
        );
        let base = result(&[("a", Status::Pass), ("b", Status::Pass)], 1.0);
        let head = result(&[("a", Status::Fail), ("b", Status::Pass)], 4.0);
        let mut cs = vec![compare(Some(&base), &head, &Gates::default(), &Traffic::default())];
        fill_answers(dir.path(), "base-1", true, &mut cs).unwrap();
        fill_answers(dir.path(), "head-1", false, &mut cs).unwrap();
        let a = &cs[0].cases[0];
        assert_eq!(a.case, "a");
        assert_eq!(a.base.as_ref().unwrap().output.as_deref(), Some("short"));
        assert_eq!(a.head.output.as_deref(), Some("a much longer answer"));
        assert_eq!(a.head.output_tokens, Some(20));
        assert_eq!(a.head.status, Status::Fail);
        let b = &cs[0].cases[1];
        assert_eq!(b.head.output.as_deref(), Some("fine"));
        assert_eq!(b.head.status, Status::Pass);
    }
}
