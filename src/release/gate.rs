//! Release gates: the checks a version must pass before it is tagged.
//!
//! [`run_gates`] is the one seam. Today it runs the gates that need no other
//! command: the prompt parses at the revision, its model resolves, its
//! variables render with every eval case, and its budget holds on the
//! `measure` figures. `check` (budgets, lint) and `eval` (suites, replay or
//! live) add their results to the same [`GateReport`] where marked below.

use serde::Serialize;

use crate::budget::Budget;

use crate::error::Result;
use crate::eval::suite::{self, SuiteFile};
use crate::measure::Measurement;
use crate::project::Project;
use crate::prompt::{Prompt, render};
use crate::report;

/// One named gate's outcome.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GateResult {
    pub name: String,
    pub passed: bool,
    /// One line: what was checked and what was measured.
    pub summary: String,
}

impl GateResult {
    pub fn new(name: &str, passed: bool, summary: impl Into<String>) -> GateResult {
        GateResult {
            name: name.to_string(),
            passed,
            summary: summary.into(),
        }
    }

    /// The `Gate:` trailer value: `budget passed: input 412 ≤ 600 tokens`.
    pub fn trailer(&self) -> String {
        let verdict = if self.passed { "passed" } else { "FAILED" };
        format!("{} {verdict}: {}", self.name, self.summary)
    }

    /// Read a `Gate:` trailer value back.
    pub fn from_trailer(s: &str) -> Option<GateResult> {
        let (name, rest) = s.split_once(' ')?;
        let (passed, summary) = if let Some(r) = rest.strip_prefix("passed") {
            (true, r)
        } else {
            (false, rest.strip_prefix("FAILED")?)
        };
        let summary = summary.strip_prefix(':').unwrap_or(summary).trim();
        Some(GateResult::new(name, passed, summary))
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct GateReport {
    pub gates: Vec<GateResult>,
}

impl GateReport {
    pub fn passed(&self) -> bool {
        self.gates.iter().all(|g| g.passed)
    }

    pub fn failed(&self) -> impl Iterator<Item = &GateResult> {
        self.gates.iter().filter(|g| !g.passed)
    }

    pub fn push(&mut self, g: GateResult) {
        self.gates.push(g);
    }
}

/// Run every release gate for `prompt` as read at `commit` (`rev` is how it
/// is shown). `live` lets gates that call providers do so (eval);
/// offline/replay otherwise.
pub fn run_gates(project: &Project, prompt: &Prompt, rev: &str, commit: &str, live: bool) -> Result<GateReport> {
    let suites = suite::load_all(project)?;
    let mut report = GateReport::default();
    report.push(GateResult::new(
        "parse",
        true,
        format!("{} parses at {rev}", prompt.path.display()),
    ));
    let model = project.model_of(prompt);
    report.push(match &model {
        Ok(m) => GateResult::new("model", true, format!("{} is in the catalog", m.id)),
        Err(e) => GateResult::new("model", false, e.message.clone()),
    });
    report.push(variables_gate(prompt, &suites));
    report.push(crate::budget::check::release_gate(project, prompt)?);
    report.push(eval_gate(project, prompt, commit, live, &suites));
    Ok(report)
}

/// The prompt's eval suites pass at `rev`: replayed from the committed
/// recordings by default (no network, no keys), against the providers with
/// `live`.
fn eval_gate(project: &Project, prompt: &Prompt, commit: &str, live: bool, suites: &[SuiteFile]) -> GateResult {
    use crate::eval::run::{Mode, RunOptions, process_env, run_suites};
    let mine = suite::for_prompt(suites, &prompt.name);
    if mine.is_empty() {
        return GateResult::new("eval", true, "not run: no eval suite tests this prompt");
    }
    let mut opts = RunOptions::new(process_env());
    opts.suites = mine.iter().map(|s| s.path.display().to_string()).collect();
    opts.source = crate::project::Source::Rev(commit.to_string());
    opts.mode = if live { Mode::Live } else { Mode::Offline };
    let how = if live { "live" } else { "replayed" };
    match run_suites(project, &opts) {
        Ok(r) => {
            let failed: Vec<String> = r
                .results
                .iter()
                .filter(|s| !s.passed)
                .map(|s| format!("{} × {}", s.suite.display(), s.target))
                .collect();
            let summary = format!(
                "{}/{} cases pass in {} suite{} ({how})",
                r.totals.passed,
                r.totals.cases,
                r.results.len(),
                if r.results.len() == 1 { "" } else { "s" }
            );
            if failed.is_empty() && !r.stopped_by_cost {
                GateResult::new("eval", true, summary)
            } else {
                GateResult::new(
                    "eval",
                    false,
                    format!("{summary}; below threshold: {}", failed.join(", ")),
                )
            }
        }
        Err(e) => GateResult::new("eval", false, format!("{} ({how})", e.message)),
    }
}

/// Every eval case of the prompt renders (no missing variable, no bad history).
fn variables_gate(prompt: &Prompt, suites: &[SuiteFile]) -> GateResult {
    let mine = suite::for_prompt(suites, &prompt.name);
    let mut cases = 0usize;
    for s in &mine {
        let iter = match s.suite.iter_cases() {
            Ok(it) => it,
            Err(e) => return GateResult::new("variables", false, e.message),
        };
        for item in iter {
            let (i, case) = match item {
                Ok(c) => c,
                Err(e) => return GateResult::new("variables", false, e.message),
            };
            cases += 1;
            let mut vars = s.suite.defaults.vars.clone();
            vars.extend(case.vars.clone());
            if let Err(e) = render::render(prompt, &vars) {
                return GateResult::new(
                    "variables",
                    false,
                    format!("{} '{}': {}", s.path.display(), case.name_or(i), e.message),
                );
            }
        }
    }
    if cases > 0 {
        return GateResult::new(
            "variables",
            true,
            format!("{cases} eval case{} render", if cases == 1 { "" } else { "s" }),
        );
    }
    let used = render::used_vars(prompt);
    if used.is_empty() {
        return GateResult::new("variables", true, "the prompt has no variables");
    }
    match render::render(prompt, &Default::default()) {
        Ok(_) => GateResult::new("variables", true, "renders with input.default"),
        Err(_) => GateResult::new(
            "variables",
            true,
            "not checked: no eval cases or defaults to render with",
        ),
    }
}

/// Each limit as `measured ≤ limit` (or `>` when broken); whether all hold.
pub fn budget_findings(b: &Budget, m: &Measurement) -> (bool, Vec<String>) {
    let mut ok = true;
    let mut parts = Vec::new();
    let tok = |n: u64| report::tokens(n, m.exact);
    let mut cmp = |holds: bool, measured: String, limit: String, what: &str| {
        ok &= holds;
        let op = if holds { "≤" } else { ">" };
        parts.push(format!("{what} {measured} {op} {limit}"));
    };
    if let Some(max) = b.max_input_tokens {
        cmp(
            m.max_input_tokens <= max,
            tok(m.max_input_tokens),
            format!("{max} tokens"),
            "input",
        );
    }
    if let Some(max) = b.max_output_tokens {
        cmp(
            m.output_tokens_priced <= max,
            m.output_tokens_priced.to_string(),
            format!("{max} tokens"),
            "output cap",
        );
    }
    if let Some(max) = b.max_cost_per_call_usd {
        cmp(
            m.cost.per_call_max_usd <= max,
            report::usd(m.cost.per_call_max_usd),
            format!("{}/call", report::usd(max)),
            "cost",
        );
    }
    let margin = b.context_margin_pct.unwrap_or(0.0);
    let usable = (m.context_window as f64 * (1.0 - margin / 100.0)).floor() as u64;
    let used = m.max_input_tokens + m.output_tokens_priced;
    cmp(
        used <= usable,
        tok(used),
        format!("{usable} context tokens"),
        "input + cap",
    );
    if b.require_output_cap == Some(true) {
        let has = m.output_cap.is_some();
        ok &= has;
        parts.push(if has {
            "output cap declared".to_string()
        } else {
            "no output cap (config.max_tokens) but the budget requires one".to_string()
        });
    }
    (ok, parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gate_trailers_round_trip() {
        for g in [
            GateResult::new("budget", true, "input 412 ≤ 600 tokens"),
            GateResult::new("model", false, "unknown model 'x:y'"),
        ] {
            assert_eq!(GateResult::from_trailer(&g.trailer()), Some(g));
        }
        assert_eq!(GateResult::from_trailer("nonsense"), None);
    }
}
