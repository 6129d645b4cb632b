//! `eval --estimate`: what a run would cost, without calling anything.
//! Input tokens are counted on the rendered requests; output tokens come
//! from the suite's recorded answers where they exist, else the output cap.

use serde::Serialize;

use crate::error::Result;
use crate::eval::run::{self, RunOptions};
use crate::project::Project;
use crate::prompt::render;

/// One suite × target.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EstimateRow {
    pub suite: String,
    pub prompt: String,
    pub target: String,
    pub requests: u64,
    /// The most requests the run can make: each case's answer may fail the
    /// structured-output guard and be retried (not in the cost figures).
    pub requests_max: u64,
    /// Counted on the rendered requests.
    pub input_tokens: u64,
    pub input_tokens_mean: f64,
    pub output_tokens: u64,
    /// Cases whose output came from a recorded answer; the rest assume the cap.
    pub output_from_recordings: u64,
    pub output_from_cap: u64,
    /// False: some output figure is the cap (or the cap is unset: 0).
    pub output_exact: bool,
    pub cost_usd: Option<f64>,
    pub cost_per_1k_usd: Option<f64>,
    /// With `--base`: the same figure for the prompt at the base revision
    /// (output tokens from the same recordings, else the cap).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_cost_per_1k_usd: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost_per_1k_delta_usd: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Estimate {
    pub rows: Vec<EstimateRow>,
    pub requests: u64,
    pub requests_max: u64,
    pub cost_usd: f64,
}

/// Plan the run (no request is sent) and price it.
pub fn estimate(project: &Project, opts: &RunOptions) -> Result<Estimate> {
    // Nothing is sent, so no provider is built: no API key is needed.
    let mut opts = opts.clone();
    opts.transport = Some(std::sync::Arc::new(|id: &str, _: &_| {
        Some(std::sync::Arc::new(NotCalled(id.to_string())) as std::sync::Arc<dyn crate::provider::Provider>)
    }));
    let plan = run::plan(project, &opts)?;
    let mut rows = Vec::new();
    for pair in &plan.pairs {
        let target = pair.target();
        let rec =
            crate::eval::record::Recording::load(&project.root, &crate::eval::record::path_for(&pair.suite.path))?;
        let cap = pair.prompt.front.config.max_tokens.unwrap_or(0);
        let mut row = EstimateRow {
            suite: pair.suite.path.display().to_string(),
            prompt: pair.prompt.name.clone(),
            target: target.id.clone(),
            requests: 0,
            requests_max: 0,
            input_tokens: 0,
            input_tokens_mean: 0.0,
            output_tokens: 0,
            output_from_recordings: 0,
            output_from_cap: 0,
            output_exact: true,
            cost_usd: pair.primary.price.as_ref().map(|_| 0.0),
            cost_per_1k_usd: None,
            base_cost_per_1k_usd: None,
            cost_per_1k_delta_usd: None,
        };
        for case in pair.suite.suite.iter_cases()? {
            let (i, case) = case?;
            let name = case.name_or(i);
            let mut vars = pair.suite.suite.defaults.vars.clone();
            vars.extend(case.vars);
            let messages = render::render(&pair.prompt, &vars)?;
            let input = crate::tokens::count_messages(pair.primary.tokenizer, &messages).total;
            let recorded = rec.as_ref().and_then(|r| {
                r.entries
                    .iter()
                    .find(|e| e.case == name && e.step == "answer" && e.target == target.id)
                    .and_then(|e| e.usage.as_ref().map(|u| u.output_tokens))
            });
            let output = match recorded {
                Some(o) => {
                    row.output_from_recordings += 1;
                    o
                }
                None => {
                    row.output_from_cap += 1;
                    row.output_exact = false;
                    cap
                }
            };
            row.requests += 1;
            row.input_tokens += input;
            row.output_tokens += output;
            if let (Some(c), Some(info)) = (row.cost_usd.as_mut(), pair.primary.price.as_ref()) {
                *c += run::price(
                    info,
                    &crate::provider::Usage {
                        input_tokens: input,
                        output_tokens: output,
                        cached_input_tokens: None,
                        reported: false,
                    },
                );
            }
        }
        row.requests_max = row.requests * (1 + u64::from(pair.guard_extra_requests()));
        if row.requests > 0 {
            row.input_tokens_mean = row.input_tokens as f64 / row.requests as f64;
            row.cost_per_1k_usd = row.cost_usd.map(|c| c / row.requests as f64 * 1000.0);
        }
        rows.push(row);
    }
    Ok(Estimate {
        requests: rows.iter().map(|r| r.requests).sum(),
        requests_max: rows.iter().map(|r| r.requests_max).sum(),
        cost_usd: rows.iter().filter_map(|r| r.cost_usd).sum(),
        rows,
    })
}

/// [`estimate`] at the head, with each row's cost per 1k calls against the
/// prompt at `base` (suites whose prompt is absent there have none).
pub fn estimate_change(project: &Project, opts: &RunOptions, base: &str) -> Result<Estimate> {
    let mut head = estimate(project, opts)?;
    let mut base_opts = opts.clone();
    base_opts.source = crate::project::Source::Rev(base.to_string());
    let mut base_rows = Vec::new();
    for r in &head.rows {
        base_opts.suites = vec![r.suite.clone()];
        match estimate(project, &base_opts) {
            Ok(e) => base_rows.extend(e.rows),
            Err(e) if e.message.contains("no prompt named") => {}
            Err(e) => return Err(e),
        }
    }
    for r in &mut head.rows {
        if let Some(b) = base_rows.iter().find(|b| b.suite == r.suite && b.target == r.target) {
            r.base_cost_per_1k_usd = b.cost_per_1k_usd;
            r.cost_per_1k_delta_usd = b.cost_per_1k_usd.zip(r.cost_per_1k_usd).map(|(b, h)| h - b);
        }
    }
    Ok(head)
}

/// Stands in for a provider while estimating: planning needs one per target,
/// and an estimate must never send anything.
struct NotCalled(String);

impl crate::provider::Provider for NotCalled {
    fn id(&self) -> &str {
        &self.0
    }

    fn complete<'a>(
        &'a self,
        _: &'a crate::provider::ChatRequest,
    ) -> crate::provider::BoxFuture<
        'a,
        std::result::Result<crate::provider::ChatResponse, crate::provider::ProviderError>,
    > {
        Box::pin(std::future::ready(Err(crate::provider::ProviderError::new(
            crate::provider::ProviderErrorKind::Connection,
            "an estimate sends no requests".to_string(),
        ))))
    }
}
