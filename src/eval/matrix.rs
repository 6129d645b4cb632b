//! `eval --models`: the suite's cases on each model, and the cheapest model
//! that meets the suite's gate.

use serde::Serialize;

use crate::config::Traffic;
use crate::eval::run::SuiteResult;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MatrixRow {
    pub model: String,
    pub pass_rate: f64,
    /// Meets the suite's gate: its threshold (and `min_pass_rate` when set).
    pub passed: bool,
    pub cost_per_1k_usd: Option<f64>,
    pub output_tokens_mean: Option<f64>,
    pub tokens_exact: bool,
    pub latency_p50_ms: Option<u64>,
    pub latency_p95_ms: Option<u64>,
    /// The prompt's own model.
    pub current: bool,
}

/// One suite across models.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Matrix {
    pub suite: String,
    pub prompt: String,
    pub current_model: String,
    pub rows: Vec<MatrixRow>,
    /// The cheapest priced model that meets the gate.
    pub cheapest_passing: Option<String>,
    /// Cost per 1k calls saved by it against the current model (when both
    /// have a price and the current model ran).
    pub saving_per_1k_usd: Option<f64>,
    pub saving_monthly_usd: Option<f64>,
}

/// Group `results` by suite. `current_model` gives a prompt's model;
/// `min_pass_rate` is the suite's gate on top of its threshold.
pub fn build(
    results: &[SuiteResult],
    current_model: &dyn Fn(&str) -> String,
    min_pass_rate: &dyn Fn(&str) -> Option<f64>,
    traffic: &Traffic,
) -> Vec<Matrix> {
    let mut out: Vec<Matrix> = Vec::new();
    for r in results {
        let suite = r.suite.display().to_string();
        let idx = match out.iter().position(|m| m.suite == suite) {
            Some(i) => i,
            None => {
                out.push(Matrix {
                    suite: suite.clone(),
                    prompt: r.prompt.clone(),
                    current_model: current_model(&r.prompt),
                    rows: Vec::new(),
                    cheapest_passing: None,
                    saving_per_1k_usd: None,
                    saving_monthly_usd: None,
                });
                out.len() - 1
            }
        };
        let m = &mut out[idx];
        let min = min_pass_rate(&suite);
        let s = &r.stats;
        m.rows.push(MatrixRow {
            model: r.target.clone(),
            pass_rate: s.pass_rate,
            passed: r.passed && min.is_none_or(|l| s.pass_rate + 1e-12 >= l),
            cost_per_1k_usd: s.cost_per_call_usd.map(|c| c * 1000.0),
            output_tokens_mean: s.output_tokens.as_ref().map(|t| t.mean),
            tokens_exact: s.tokens_exact,
            latency_p50_ms: s.latency_ms.as_ref().map(|l| l.p50),
            latency_p95_ms: s.latency_ms.as_ref().map(|l| l.p95),
            current: r.target == m.current_model,
        });
    }
    for m in &mut out {
        let best = m
            .rows
            .iter()
            .filter(|r| r.passed)
            .filter_map(|r| r.cost_per_1k_usd.map(|c| (c, r)))
            .min_by(|a, b| a.0.total_cmp(&b.0));
        if let Some((cost, row)) = best {
            m.cheapest_passing = Some(row.model.clone());
            let cur = m.rows.iter().find(|r| r.current).and_then(|r| r.cost_per_1k_usd);
            m.saving_per_1k_usd = cur.map(|c| c - cost);
            m.saving_monthly_usd = m
                .saving_per_1k_usd
                .and_then(|s| traffic.monthly_usd(&m.prompt, s / 1000.0));
        }
    }
    out
}
