//! `check`: every prompt against its budget and the lint rules — the CI gate.
//!
//! Owns the findings: their codes (see [`super::rules`]), where they point
//! (file and line), the limit and the measured value. Returns a plain
//! `Serialize` report; it prints nothing and knows no output format.
//!
//! A prompt that fails to parse or render is a finding, never an abort: the
//! other prompts are still checked. Only bad configuration, bad arguments and
//! an unreadable base revision stop the check (exit 2).
//!
//! Token counts are of the rendered request, worst case over the prompt's
//! samples (see [`crate::measure`]). With a base revision, both versions are
//! rendered with the same samples (the working tree's eval cases), so growth
//! is the prompt's own, not that of a changed test case.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use super::Budget;
use super::history::{self, History, HistoryWorst};
use super::rules::{self, Policy, Severity, rule_for};
use crate::error::{Error, Result};
use crate::eval::suite::{Suite, SuiteFile};
use crate::measure::{self, Measurement, SampleSource};
use crate::project::{Project, PromptFile, Source, normalize_name};
use crate::prompt::{InputSchema, OutputFormat, Prompt, render};

/// What a limit and a measured value count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Unit {
    Tokens,
    Usd,
    /// Percent growth against the base revision.
    Percent,
}

/// One problem found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// Stable rule code (`budget/input-tokens`).
    pub code: &'static str,
    /// In force: the rule's default or the override's.
    pub severity: Severity,
    pub default_severity: Severity,
    /// The prompt's name; `None` for findings about other files.
    pub prompt: Option<String>,
    /// Project-relative path.
    pub file: PathBuf,
    /// 1-based, where known.
    pub line: Option<usize>,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub measured: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<Unit>,
    /// Where the limit was set: `promptctl.toml [budget]`, `front matter`...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit_source: Option<String>,
    /// False when token counts are estimates (no public tokenizer).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exact: Option<bool>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hints: Vec<String>,
    /// The `[[check.override]]` reason, when one changed the severity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub override_reason: Option<String>,
}

impl Finding {
    pub fn new(code: &'static str, prompt: Option<&str>, file: &Path, line: Option<usize>, message: String) -> Self {
        let severity = rule_for(code).map(|r| r.severity).unwrap_or(Severity::Error);
        Finding {
            code,
            severity,
            default_severity: severity,
            prompt: prompt.map(str::to_string),
            file: file.to_path_buf(),
            line,
            message,
            limit: None,
            measured: None,
            unit: None,
            limit_source: None,
            exact: None,
            hints: Vec::new(),
            override_reason: None,
        }
    }

    fn measured(mut self, limit: f64, measured: f64, unit: Unit) -> Self {
        self.limit = Some(limit);
        self.measured = Some(measured);
        self.unit = Some(unit);
        self
    }

    fn exact(mut self, exact: bool) -> Self {
        self.exact = Some(exact);
        self
    }

    /// Record which key set the limit, and where.
    fn set_by(mut self, key: &str, eff: &Effective) -> Self {
        self.limit_source = eff.sources.get(key).map(|l| format!("{key} in {l}"));
        self
    }

    fn with_source(mut self, source: String) -> Self {
        self.limit_source = Some(source);
        self
    }

    fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hints.push(hint.into());
        self
    }

    /// A finding from an error whose message starts with `file:line[:col]: `.
    fn from_error(code: &'static str, prompt: Option<&str>, file: &Path, err: &Error) -> Self {
        let (line, message) = split_location(&err.message, file);
        let mut f = Finding::new(code, prompt, file, line, message);
        f.hints = err.hints.clone();
        f
    }
}

/// The base revision as given and the commit it resolved to.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BaseRev {
    pub rev: String,
    pub commit: String,
}

/// A prompt at the base revision.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum BaseState {
    Measured {
        input_tokens: u64,
        cost_per_call_usd: f64,
        exact: bool,
        /// `None` when the base is zero.
        input_growth_pct: Option<f64>,
        cost_growth_pct: Option<f64>,
    },
    /// The prompt does not exist at the base: no growth limits apply.
    New,
    /// The base version does not parse or render with today's samples.
    Unmeasured { reason: String },
}

/// One prompt's figures, for the per-prompt table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PromptCheck {
    pub prompt: String,
    pub file: PathBuf,
    /// False when the file did not parse; the figures below are then absent.
    pub parsed: bool,
    pub model: Option<String>,
    pub exact: Option<bool>,
    pub samples: Option<SampleSource>,
    /// Worst-case rendered input.
    pub input_tokens: Option<u64>,
    /// Declared `config.max_tokens`.
    pub output_cap: Option<u64>,
    /// Output tokens priced: the cap, else the model's limit.
    pub output_tokens_priced: Option<u64>,
    /// Input at the rendered size + output at the cap.
    pub cost_per_call_usd: Option<f64>,
    pub context_window: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<HistoryWorst>,
    /// Present with `--base`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base: Option<BaseState>,
    /// The budget in force: `[budget]`, then `[check.budgets]`, then front matter.
    pub budget: Budget,
    pub errors: usize,
    pub warnings: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub prompts: usize,
    pub errors: usize,
    pub warnings: usize,
    /// Findings an override set to `ignore`.
    pub ignored: usize,
}

/// The whole result; `--format json` prints it as is.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckReport {
    /// No error-level finding.
    pub passed: bool,
    pub summary: Summary,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base: Option<BaseRev>,
    pub catalog_date: String,
    /// Sorted by file, line, code.
    pub findings: Vec<Finding>,
    /// Sorted by name.
    pub prompts: Vec<PromptCheck>,
}

/// What to check.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Prompt names (as `normalize_name` accepts); empty: every prompt.
    pub names: Vec<String>,
    /// Base revision for growth limits.
    pub base: Option<String>,
}

/// The compiled `[check]` policy of a project (line numbers from its promptctl.toml).
pub fn policy(project: &Project) -> Result<Policy> {
    let text = match &project.config_path {
        Some(p) => std::fs::read_to_string(p).map_err(|e| Error::io(p, &e))?,
        None => String::new(),
    };
    project.config.check.compile(Path::new(crate::config::FILE_NAME), &text)
}

/// Run the check over the working tree.
pub fn check(project: &Project, opts: &Options) -> Result<CheckReport> {
    let policy = policy(project)?;
    let all = project.scan_prompt_files(&Source::WorkTree)?;
    let mut findings = duplicate_names(&all);

    let selected: Vec<&PromptFile> = if opts.names.is_empty() {
        all.iter().collect()
    } else {
        let mut out = Vec::new();
        let mut seen = BTreeSet::new();
        for raw in &opts.names {
            let name = normalize_name(raw);
            let Some(f) = all.iter().find(|f| f.name == name) else {
                let hint = crate::error::suggest(&name, all.iter().map(|f| f.name.as_str()));
                return Err(Error::input(format!("no prompt named '{name}'"))
                    .with_hint_opt(hint)
                    .hint("`promptctl list` shows the prompts"));
            };
            if seen.insert(name) {
                out.push(f);
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    };
    if selected.is_empty() {
        return Err(
            Error::input(format!("no prompts found under {}/", project.prompts_dir().display()))
                .hint("prompt files are prompts/**/*.prompt; `promptctl init` scaffolds one"),
        );
    }
    let names: BTreeSet<&str> = selected.iter().map(|f| f.name.as_str()).collect();
    findings.retain(|f| f.prompt.as_deref().is_some_and(|p| names.contains(p)));
    if opts.names.is_empty() {
        findings.extend(unmatched_patterns(&policy, &all));
    }

    let (suites, suite_findings) = load_suites(project)?;
    findings.extend(suite_findings);

    let (base, base_files) = match &opts.base {
        Some(rev) => {
            let repo = project.repo()?;
            let commit = repo.commit(rev)?.id().to_string();
            let files = project.scan_prompt_files(&Source::Rev(rev.clone()))?;
            let map: BTreeMap<String, PromptFile> = files.into_iter().map(|f| (f.name.clone(), f)).collect();
            (
                Some(BaseRev {
                    rev: rev.clone(),
                    commit,
                }),
                Some(map),
            )
        }
        None => (None, None),
    };

    let cx = Cx {
        project,
        policy: &policy,
        suites: &suites,
        base_rev: opts.base.as_deref(),
    };
    let jobs: Vec<(&PromptFile, Option<&PromptFile>)> = selected
        .iter()
        .map(|f| {
            let b = base_files.as_ref().map(|m| m.get(&f.name));
            (*f, b.flatten())
        })
        .collect();
    let base_given = base_files.is_some();
    let results = parallel_map(&jobs, |(file, base_file)| cx.check_prompt(file, *base_file, base_given));

    let mut prompts = Vec::with_capacity(results.len());
    for (pc, f) in results {
        prompts.push(pc);
        findings.extend(f);
    }
    apply_overrides(&policy, &mut findings);
    findings.sort_by(|a, b| {
        (&a.file, a.line.unwrap_or(0), a.code, &a.message).cmp(&(&b.file, b.line.unwrap_or(0), b.code, &b.message))
    });
    for pc in &mut prompts {
        let mine = findings
            .iter()
            .filter(|f| f.prompt.as_deref() == Some(pc.prompt.as_str()));
        for f in mine {
            match f.severity {
                Severity::Error => pc.errors += 1,
                Severity::Warning => pc.warnings += 1,
                Severity::Ignore => {}
            }
        }
    }
    let count = |s: Severity| findings.iter().filter(|f| f.severity == s).count();
    let summary = Summary {
        prompts: prompts.len(),
        errors: count(Severity::Error),
        warnings: count(Severity::Warning),
        ignored: count(Severity::Ignore),
    };
    Ok(CheckReport {
        passed: summary.errors == 0,
        summary,
        base,
        catalog_date: project.catalog.date.clone(),
        findings,
        prompts,
    })
}

/// The `check` release gate: the rules of `check` (without growth limits,
/// which need a base) on one prompt as read at a revision, with the
/// project's overrides. Passes when no error-level finding remains.
pub fn release_gate(project: &Project, prompt: &Prompt) -> Result<crate::release::gate::GateResult> {
    use crate::release::gate::GateResult;
    let policy = policy(project)?;
    let (suites, _) = load_suites(project)?;
    let cx = Cx {
        project,
        policy: &policy,
        suites: &suites,
        base_rev: None,
    };
    let file = PromptFile {
        name: prompt.name.clone(),
        path: prompt.path.clone(),
        bytes: prompt.source.clone().into_bytes(),
    };
    let (_, mut findings) = cx.check_prompt(&file, None, false);
    apply_overrides(&policy, &mut findings);
    let errors: Vec<&Finding> = findings.iter().filter(|f| f.severity == Severity::Error).collect();
    let warnings = findings.iter().filter(|f| f.severity == Severity::Warning).count();
    if errors.is_empty() {
        let summary = match warnings {
            0 => "no findings".to_string(),
            n => format!("no errors, {n} warning{}", if n == 1 { "" } else { "s" }),
        };
        return Ok(GateResult::new("check", true, summary));
    }
    let listed: Vec<String> = errors
        .iter()
        .take(3)
        .map(|f| format!("{} {}", f.code, f.message))
        .collect();
    let more = errors.len().saturating_sub(3);
    let mut summary = listed.join("; ");
    if more > 0 {
        summary.push_str(&format!("; and {more} more (promptctl check {})", prompt.name));
    }
    Ok(GateResult::new("check", false, summary))
}

/// Map over `items` on the machine's cores, keeping order. Measuring is
/// CPU-bound (templating, BPE), and prompts are independent.
fn parallel_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(items.len().max(1));
    if threads <= 1 || items.len() < 8 {
        return items.iter().map(f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|c| s.spawn(|| c.iter().map(&f).collect::<Vec<R>>()))
            .collect();
        handles
            .into_iter()
            // A panic in a worker is a bug; re-raise it rather than lose results.
            .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

/// Eval suites; a suite that does not parse is a finding, not an abort.
fn load_suites(project: &Project) -> Result<(Vec<SuiteFile>, Vec<Finding>)> {
    let mut suites = Vec::new();
    let mut findings = Vec::new();
    for path in project.suite_paths()? {
        let abs = project.root.join(&path);
        let parsed = std::fs::read_to_string(&abs)
            .map_err(|e| Error::io(&path, &e))
            .and_then(|text| Suite::parse(&text, &path));
        match parsed {
            Ok(suite) => suites.push(SuiteFile { path, suite }),
            Err(e) => findings.push(Finding::from_error(rules::PARSE_ERROR, None, &path, &e)),
        }
    }
    Ok((suites, findings))
}

fn duplicate_names(files: &[PromptFile]) -> Vec<Finding> {
    let mut groups: BTreeMap<String, Vec<&PromptFile>> = BTreeMap::new();
    for f in files {
        groups.entry(f.name.to_lowercase()).or_default().push(f);
    }
    let mut out = Vec::new();
    for (lower, group) in groups.into_iter().filter(|(_, g)| g.len() > 1) {
        for f in &group {
            let others: Vec<String> = group
                .iter()
                .filter(|o| o.path != f.path)
                .map(|o| o.path.display().to_string())
                .collect();
            out.push(
                Finding::new(
                    rules::DUPLICATE_NAME,
                    Some(&f.name),
                    &f.path,
                    None,
                    format!(
                        "{} and {} both map to the prompt name '{lower}'",
                        f.path.display(),
                        others.join(", ")
                    ),
                )
                .hint("names key tags and results and collide on case-insensitive file systems; rename one file"),
            );
        }
    }
    out
}

fn unmatched_patterns(policy: &Policy, files: &[PromptFile]) -> Vec<Finding> {
    let cfg = Path::new(crate::config::FILE_NAME);
    let matches_any = |p: &rules::NamePattern| files.iter().any(|f| p.matches(&f.name));
    let mut out = Vec::new();
    for (p, _, line) in &policy.budgets {
        if !matches_any(p) {
            out.push(Finding::new(
                rules::UNMATCHED_PATTERN,
                None,
                cfg,
                *line,
                format!(
                    "[check.budgets.\"{}\"] matches no prompt; its limits apply nowhere",
                    p.source
                ),
            ));
        }
    }
    for o in &policy.overrides {
        for p in o.prompts.iter().flatten() {
            if !matches_any(p) {
                out.push(Finding::new(
                    rules::UNMATCHED_PATTERN,
                    None,
                    cfg,
                    o.line,
                    format!(
                        "[[check.override]] for '{}': prompts pattern '{}' matches no prompt",
                        o.code_source, p.source
                    ),
                ));
            }
        }
    }
    out
}

fn apply_overrides(policy: &Policy, findings: &mut [Finding]) {
    for f in findings {
        if let Some(o) = policy.override_for(f.code, f.prompt.as_deref()) {
            f.severity = o.severity;
            f.override_reason = Some(o.reason.clone());
        }
    }
}

/// The budget in force for a prompt and, per key, where it was set.
pub struct Effective {
    pub budget: Budget,
    pub sources: BTreeMap<String, String>,
}

pub fn effective_budget(project: &Project, policy: &Policy, prompt: &Prompt) -> Effective {
    let mut layers: Vec<(String, &Budget)> = vec![("promptctl.toml [budget]".to_string(), &project.config.budget)];
    for (pat, b, _) in &policy.budgets {
        if pat.matches(&prompt.name) {
            layers.push((format!("promptctl.toml [check.budgets.\"{}\"]", pat.source), b));
        }
    }
    if let Some(b) = &prompt.front.budget {
        layers.push((format!("{} front matter", prompt.path.display()), b));
    }
    let mut budget = Budget::default();
    let mut sources = BTreeMap::new();
    for (label, b) in layers {
        budget = budget.merged(b);
        if let Ok(Value::Object(keys)) = serde_json::to_value(b) {
            for k in keys.keys() {
                sources.insert(k.clone(), label.clone());
            }
        }
    }
    Effective { budget, sources }
}

struct Cx<'a> {
    project: &'a Project,
    policy: &'a Policy,
    suites: &'a [SuiteFile],
    base_rev: Option<&'a str>,
}

impl Cx<'_> {
    fn check_prompt(
        &self,
        file: &PromptFile,
        base: Option<&PromptFile>,
        base_given: bool,
    ) -> (PromptCheck, Vec<Finding>) {
        let mut out = Vec::new();
        let mut pc = PromptCheck {
            prompt: file.name.clone(),
            file: file.path.clone(),
            parsed: false,
            model: None,
            exact: None,
            samples: None,
            input_tokens: None,
            output_cap: None,
            output_tokens_priced: None,
            cost_per_call_usd: None,
            context_window: None,
            history: None,
            base: None,
            budget: Budget::default(),
            errors: 0,
            warnings: 0,
        };
        let p = match file.parse() {
            Ok(p) => p,
            Err(e) => {
                out.push(Finding::from_error(
                    rules::PARSE_ERROR,
                    Some(&file.name),
                    &file.path,
                    &e,
                ));
                return (pc, out);
            }
        };
        pc.parsed = true;
        pc.output_cap = p.front.config.max_tokens;
        let eff = effective_budget(self.project, self.policy, &p);
        pc.budget = eff.budget.clone();
        let name = Some(p.name.as_str());
        let at = |code, line, msg: String| Finding::new(code, name, &p.path, line, msg);
        // Budget findings point at the key that set the limit when the
        // prompt sets it, else at the start of the body.
        let body_line = p.sections.first().map(|s| s.line);
        let limit_line = |key: &str| {
            let here = eff.sources.get(key).is_some_and(|s| s.ends_with("front matter"));
            if here {
                p.front_line(key).or(body_line)
            } else {
                body_line
            }
        };

        lint_variables(&p, &mut out);
        lint_output(&p, &mut out);

        let b = &eff.budget;
        let cap = p.front.config.max_tokens;
        if b.require_output_cap == Some(true) && cap.is_none() {
            out.push(
                at(
                    rules::OUTPUT_CAP_MISSING,
                    p.front_line("config").or(Some(1)),
                    "no output cap: config.max_tokens is not set and the budget requires one".to_string(),
                )
                .set_by("require_output_cap", &eff)
                .hint(
                    "set config.max_tokens to the longest answer you accept; uncapped output is the costliest failure",
                ),
            );
        }
        if let (Some(c), Some(max)) = (cap, b.max_output_tokens)
            && c > max
        {
            out.push(
                at(
                    rules::OUTPUT_TOKENS,
                    p.front_line("max_tokens"),
                    format!("output cap config.max_tokens = {c} is over the budget's max_output_tokens = {max}"),
                )
                .measured(max as f64, c as f64, Unit::Tokens)
                .set_by("max_output_tokens", &eff),
            );
        }

        let model = match self.project.model_of(&p) {
            Ok(m) => m,
            Err(e) => {
                let mut f = Finding::from_error(rules::UNKNOWN_MODEL, name, &p.path, &e);
                if p.front.model.is_none() {
                    f.message = format!("{} (the default_model of promptctl.toml)", f.message);
                }
                f.hints
                    .push("budgets that need the model's prices and window were not checked".to_string());
                out.push(f);
                return (pc, out);
            }
        };
        pc.model = Some(model.id.clone());
        pc.exact = Some(model.info.tokenizer.is_exact());
        pc.context_window = Some(model.info.context_window);
        if let Some(c) = cap
            && c > model.info.max_output_tokens
        {
            out.push(
                at(
                    rules::OUTPUT_TOKENS,
                    p.front_line("max_tokens"),
                    format!(
                        "output cap config.max_tokens = {c} is over {}'s output limit of {}",
                        model.id, model.info.max_output_tokens
                    ),
                )
                .measured(model.info.max_output_tokens as f64, c as f64, Unit::Tokens)
                .with_source(format!("the model catalog entry of {}", model.id)),
            );
        }
        if model.info.ignores_temperature
            && let Some(t) = p.front.config.temperature
        {
            out.push(
                at(
                    rules::TEMPERATURE_IGNORED,
                    p.front_line("temperature"),
                    format!(
                        "{} ignores temperature; config.temperature = {t} has no effect",
                        model.id
                    ),
                )
                .hint("remove config.temperature, or use a model that honours it"),
            );
        }

        let samples = measure::samples_for(&p, self.suites);
        let m = match measure::measure(&p, &model, &samples) {
            Ok(m) => m,
            Err(e) => {
                let mut f = Finding::from_error(rules::RENDER_ERROR, name, &p.path, &e);
                f.hints.push(format!(
                    "token budgets were not checked: the prompt must render with {}",
                    samples.source.describe()
                ));
                out.push(f);
                return (pc, out);
            }
        };
        pc.samples = Some(m.samples.clone());
        pc.input_tokens = Some(m.max_input_tokens);
        pc.output_tokens_priced = Some(m.output_tokens_priced);
        pc.cost_per_call_usd = Some(m.cost.per_call_max_usd);
        let exact = m.exact;
        let tok = |n: u64| crate::report::tokens(n, exact);
        let basis = match &m.samples {
            SampleSource::BareTemplate => " (bare template: no eval case or input.default to render with)".to_string(),
            SampleSource::EvalCases { cases, .. } if *cases > 1 => format!(" (largest of {cases} eval cases)"),
            _ => String::new(),
        };

        if let Some(max) = b.max_input_tokens
            && m.max_input_tokens > max
        {
            out.push(
                at(
                    rules::INPUT_TOKENS,
                    limit_line("max_input_tokens"),
                    format!(
                        "input is {} tokens{basis}, over the budget of {max}",
                        tok(m.max_input_tokens)
                    ),
                )
                .measured(max as f64, m.max_input_tokens as f64, Unit::Tokens)
                .exact(exact)
                .set_by("max_input_tokens", &eff),
            );
        }
        if let Some(max) = b.max_cost_per_call_usd
            && m.cost.per_call_max_usd > max
        {
            let priced = match m.output_cap {
                Some(c) => format!("the cap of {c} tokens"),
                None => format!(
                    "{}'s limit of {} tokens, as no max_tokens is declared",
                    model.id, m.output_tokens_priced
                ),
            };
            out.push(
                at(
                    rules::COST_PER_CALL,
                    limit_line("max_cost_per_call_usd"),
                    format!(
                        "cost per call is {} ({} input + {} output at {priced}), over the budget of {}",
                        crate::report::usd(m.cost.per_call_max_usd),
                        crate::report::usd(m.cost.input_usd),
                        crate::report::usd(m.cost.output_at_cap_usd),
                        crate::report::usd(max)
                    ),
                )
                .measured(max, m.cost.per_call_max_usd, Unit::Usd)
                .exact(exact)
                .set_by("max_cost_per_call_usd", &eff),
            );
        }
        let margin = b.context_margin_pct.unwrap_or(0.0);
        let room = context_room(m.context_window, margin);
        let needed = m.max_input_tokens + m.output_tokens_priced;
        if needed > room {
            out.push(
                at(
                    rules::CONTEXT_FIT,
                    limit_line("context_margin_pct"),
                    format!(
                        "input {} + output cap {} = {} tokens does not fit {}",
                        tok(m.max_input_tokens),
                        m.output_tokens_priced,
                        tok(needed),
                        room_words(&model.id, m.context_window, margin, room)
                    ),
                )
                .measured(room as f64, needed as f64, Unit::Tokens)
                .exact(exact)
                .set_by("context_margin_pct", &eff),
            );
        }

        match history::worst_case(&p, &model, &samples, b) {
            Ok(History::None) => {}
            Ok(History::Undeclared { variable }) => out.push(
                at(
                    rules::HISTORY_UNDECLARED,
                    nested_line(&p.source, &["input", "history"]).or(body_line),
                    format!(
                        "history variable '{variable}' has no budget: the request grows with every turn of the conversation"
                    ),
                )
                .hint("declare budget.max_history_turns or budget.max_history_tokens, and trim the history to it in the application"),
            ),
            Ok(History::Unbounded { variable, reason }) => out.push(
                at(
                    rules::HISTORY_FIT,
                    limit_line("max_history_turns"),
                    format!("cannot bound history variable '{variable}': {reason}"),
                )
                .hint("set config.max_tokens, declare budget.max_history_tokens, or add an eval case with history"),
            ),
            Ok(History::Bounded(h)) => {
                let by_tokens = h.method.starts_with("max_history_tokens");
                let (key, what) = match (by_tokens, h.max_turns) {
                    (false, Some(n)) => ("max_history_turns", format!("{n} history turns")),
                    _ => ("max_history_tokens", format!("{} history tokens", h.history_tokens)),
                };
                let worst = h.worst_input_tokens;
                let detail = format!(
                    "{} without history + {} of history: {}",
                    tok(h.without_history_tokens),
                    tok(h.history_tokens),
                    h.method
                );
                if let Some(max) = b.max_input_tokens
                    && worst > max
                {
                    out.push(
                        at(
                            rules::HISTORY_FIT,
                            limit_line(key),
                            format!(
                                "at {what} the request is {} tokens ({detail}), over max_input_tokens = {max}",
                                tok(worst)
                            ),
                        )
                        .measured(max as f64, worst as f64, Unit::Tokens)
                        .exact(exact)
                        .set_by("max_input_tokens", &eff),
                    );
                }
                let needed = worst + m.output_tokens_priced;
                if needed > room {
                    out.push(
                        at(
                            rules::HISTORY_FIT,
                            limit_line(key),
                            format!(
                                "at {what} the request plus output cap {} is {} tokens ({detail}) and does not fit {}",
                                m.output_tokens_priced,
                                tok(needed),
                                room_words(&model.id, m.context_window, margin, room)
                            ),
                        )
                        .measured(room as f64, needed as f64, Unit::Tokens)
                        .exact(exact)
                        .set_by(key, &eff),
                    );
                }
                pc.history = Some(h);
            }
            Err(e) => out.push(Finding::from_error(rules::RENDER_ERROR, name, &p.path, &e)),
        }

        if base_given {
            let state = match base {
                None => BaseState::New,
                Some(bf) => self.measure_base(bf, &m),
            };
            if let BaseState::Measured {
                input_tokens: base_in,
                cost_per_call_usd: base_cost,
                input_growth_pct,
                cost_growth_pct,
                ..
            } = &state
            {
                let rev = self.base_rev.unwrap_or("the base");
                if let (Some(max), Some(g)) = (b.max_input_growth_pct, input_growth_pct)
                    && *g > max
                {
                    out.push(
                        at(
                            rules::INPUT_GROWTH,
                            limit_line("max_input_growth_pct"),
                            format!(
                                "input grew {g:.1}% against {rev} ({} → {} tokens), over the limit of {max}%",
                                tok(*base_in),
                                tok(m.max_input_tokens)
                            ),
                        )
                        .measured(max, *g, Unit::Percent)
                        .exact(exact)
                        .set_by("max_input_growth_pct", &eff),
                    );
                }
                if let (Some(max), Some(g)) = (b.max_cost_growth_pct, cost_growth_pct)
                    && *g > max
                {
                    out.push(
                        at(
                            rules::COST_GROWTH,
                            limit_line("max_cost_growth_pct"),
                            format!(
                                "cost per call grew {g:.1}% against {rev} ({} → {}), over the limit of {max}%",
                                crate::report::usd(*base_cost),
                                crate::report::usd(m.cost.per_call_max_usd)
                            ),
                        )
                        .measured(max, *g, Unit::Percent)
                        .exact(exact)
                        .set_by("max_cost_growth_pct", &eff),
                    );
                }
            }
            pc.base = Some(state);
        }
        (pc, out)
    }

    /// The same prompt at the base revision, rendered with today's samples.
    fn measure_base(&self, file: &PromptFile, head: &Measurement) -> BaseState {
        let unmeasured = |what: &str, e: Error| BaseState::Unmeasured {
            reason: format!("{what} at the base revision: {}", e.message),
        };
        let p = match file.parse() {
            Ok(p) => p,
            Err(e) => return unmeasured("does not parse", e),
        };
        let model = match self.project.model_of(&p) {
            Ok(m) => m,
            Err(e) => return unmeasured("unknown model", e),
        };
        let samples = measure::samples_for(&p, self.suites);
        match measure::measure(&p, &model, &samples) {
            Ok(m) => BaseState::Measured {
                input_tokens: m.max_input_tokens,
                cost_per_call_usd: m.cost.per_call_max_usd,
                exact: m.exact,
                input_growth_pct: growth(m.max_input_tokens as f64, head.max_input_tokens as f64),
                cost_growth_pct: growth(m.cost.per_call_max_usd, head.cost.per_call_max_usd),
            },
            Err(e) => unmeasured("does not render with the eval cases of the working tree", e),
        }
    }
}

/// Percent change from `base` to `head`; `None` when the base is zero.
pub fn growth(base: f64, head: f64) -> Option<f64> {
    (base > 0.0).then(|| (head - base) / base * 100.0)
}

/// Tokens available for input + output: the window less the margin.
pub fn context_room(window: u64, margin_pct: f64) -> u64 {
    (window as f64 * (1.0 - margin_pct / 100.0)).floor() as u64
}

fn room_words(model: &str, window: u64, margin: f64, room: u64) -> String {
    if margin > 0.0 {
        format!("{model}'s context window of {window} less the {margin}% margin ({room})")
    } else {
        format!("{model}'s context window of {window}")
    }
}

fn lint_variables(p: &Prompt, out: &mut Vec<Finding>) {
    let (undeclared, unused) = render::variable_mismatches(p);
    for (var, line) in undeclared {
        out.push(
            Finding::new(
                rules::UNDECLARED_VARIABLE,
                Some(&p.name),
                &p.path,
                Some(line),
                format!("variable '{var}' is used but input.schema does not declare it"),
            )
            .hint(format!("add '{var}' to input.schema, or fix the name in the template")),
        );
    }
    let schema_line = nested_line(&p.source, &["input", "schema"]);
    for var in unused {
        let line = nested_line(&p.source, &["input", "schema", "properties", &var])
            .or_else(|| list_item_line(&p.source, &var))
            .or(schema_line);
        out.push(
            Finding::new(
                rules::UNUSED_VARIABLE,
                Some(&p.name),
                &p.path,
                line,
                format!("variable '{var}' is declared in input.schema but the template never uses it"),
            )
            .hint(format!(
                "use {{{{ {var} }}}} in the template, or remove it from input.schema"
            )),
        );
    }
}

fn lint_output(p: &Prompt, out: &mut Vec<Finding>) {
    if p.output_format() == OutputFormat::Json && p.output_schema().is_none() {
        out.push(
            Finding::new(
                rules::MISSING_OUTPUT_SCHEMA,
                Some(&p.name),
                &p.path,
                nested_line(&p.source, &["output", "format"]).or_else(|| p.front_line("output")),
                "output.format is json but no output.schema says what the JSON must look like".to_string(),
            )
            .hint("declare output.schema (JSON Schema); eval's json-schema assertion and the structured-output guard use it"),
        );
    }
    let mut schemas: Vec<(&str, &Value, Option<usize>)> = Vec::new();
    if let Some(s) = p.output_schema() {
        schemas.push(("output.schema", s, nested_line(&p.source, &["output", "schema"])));
    }
    if let Some(InputSchema::Schema(s)) = p.front.input.as_ref().and_then(|i| i.schema.as_ref()) {
        schemas.push(("input.schema", s, nested_line(&p.source, &["input", "schema"])));
    }
    for (what, schema, line) in schemas {
        if let Some(problem) = schema_problem(schema) {
            out.push(Finding::new(
                rules::INVALID_JSON_SCHEMA,
                Some(&p.name),
                &p.path,
                line,
                format!("{what} is not a valid JSON Schema: {problem}"),
            ));
        }
    }
}

/// Why `schema` is not a usable JSON Schema, if it is not.
pub fn schema_problem(schema: &Value) -> Option<String> {
    let at = |path: String| {
        if path.is_empty() {
            String::new()
        } else {
            format!(" (at {path})")
        }
    };
    if let Err(e) = jsonschema::meta::validate(schema) {
        return Some(format!("{e}{}", at(e.instance_path().to_string())));
    }
    if let Err(e) = jsonschema::validator_for(schema) {
        return Some(format!("{e}{}", at(e.schema_path().to_string())));
    }
    None
}

/// `file:line[:col]: rest` → (line, rest) when the message starts with `file`.
fn split_location(msg: &str, file: &Path) -> (Option<usize>, String) {
    let prefix = format!("{}:", file.display());
    let Some(rest) = msg.strip_prefix(&prefix) else {
        return (None, msg.to_string());
    };
    let mut parts = rest.splitn(3, ':');
    let line = parts.next().and_then(|l| l.parse::<usize>().ok());
    let Some(line) = line else {
        return (None, rest.trim_start().to_string());
    };
    let after_line = &rest[rest.find(':').map_or(rest.len(), |i| i + 1)..];
    // An optional column follows.
    let text = match after_line.split_once(':') {
        Some((col, text)) if col.parse::<usize>().is_ok() => text,
        _ => after_line,
    };
    (Some(line), text.trim_start().to_string())
}

/// 1-based line of a nested front-matter key (`["output", "schema"]`): each
/// key a direct child of the one before. A key inside a flow mapping
/// (`properties: { a: ... }`) resolves to the line of that mapping.
fn nested_line(source: &str, path: &[&str]) -> Option<usize> {
    let lines: Vec<&str> = source.lines().collect();
    if lines.first().map(|l| l.trim_end()) != Some("---") {
        return None;
    }
    let end = lines.iter().skip(1).position(|l| l.trim_end() == "---")? + 1;
    let indent = |i: usize| lines[i].len() - lines[i].trim_start().len();
    let blank = |i: usize| lines[i].trim().is_empty() || lines[i].trim_start().starts_with('#');
    let (mut from, mut to) = (1, end);
    let mut found = None;
    for key in path {
        // The block's children sit at the indentation of its first line.
        let Some(first) = (from..to).find(|&i| !blank(i)) else {
            return found;
        };
        let level = indent(first);
        let hit = (from..to).find(|&i| {
            !blank(i) && indent(i) == level && {
                let t = lines[i].trim_start();
                t.strip_prefix(key).is_some_and(|r| r.starts_with(':'))
                    || t.strip_prefix(&format!("\"{key}\""))
                        .is_some_and(|r| r.starts_with(':'))
            }
        })?;
        found = Some(hit + 1);
        from = hit + 1;
        to = (hit + 1..to).find(|&i| !blank(i) && indent(i) <= level).unwrap_or(to);
        if from == to {
            // A scalar or flow value on the key's own line.
            break;
        }
    }
    found
}

/// 1-based front-matter line of a list item `- name` or a flow list containing `name`.
fn list_item_line(source: &str, name: &str) -> Option<usize> {
    let lines: Vec<&str> = source.lines().collect();
    let end = lines.iter().skip(1).position(|l| l.trim_end() == "---")? + 1;
    (1..end)
        .find(|&i| {
            let t = lines[i].trim();
            t.strip_prefix("- ").is_some_and(|r| r.trim() == name)
                || (t.contains('[')
                    && t.split(['[', ']', ',', ' '])
                        .any(|w| w.trim_matches(|c| c == '"' || c == '\'') == name))
        })
        .map(|i| i + 1)
}

#[cfg(test)]
mod tests;
