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
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Estimate {
    pub rows: Vec<EstimateRow>,
    pub requests: u64,
    pub cost_usd: f64,
}

/// Plan the run (no request is sent) and price it.
pub fn estimate(project: &Project, opts: &RunOptions) -> Result<Estimate> {
    let plan = run::plan(project, opts)?;
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
            input_tokens: 0,
            input_tokens_mean: 0.0,
            output_tokens: 0,
            output_from_recordings: 0,
            output_from_cap: 0,
            output_exact: true,
            cost_usd: pair.primary.price.as_ref().map(|_| 0.0),
            cost_per_1k_usd: None,
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
        if row.requests > 0 {
            row.input_tokens_mean = row.input_tokens as f64 / row.requests as f64;
            row.cost_per_1k_usd = row.cost_usd.map(|c| c / row.requests as f64 * 1000.0);
        }
        rows.push(row);
    }
    Ok(Estimate {
        requests: rows.iter().map(|r| r.requests).sum(),
        cost_usd: rows.iter().filter_map(|r| r.cost_usd).sum(),
        rows,
    })
}
