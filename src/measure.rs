//! Measuring a prompt: render it with its sample variables, count the
//! request's tokens and price it. Shared by `list`, `tokens`, `diff`, `check`.
//!
//! Samples, in order of preference: the variables of the prompt's eval cases;
//! the prompt's `input.default` values when they cover every variable; the
//! bare template text (said so in every output).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;
use serde_json::Value;

use crate::catalog::{Model, TokenizerKind};
use crate::error::Result;
use crate::eval::suite::SuiteFile;
use crate::prompt::message::Message;
use crate::prompt::{Prompt, render};
use crate::tokens::{self, CallCost, RequestTokens};

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SampleSource {
    /// Variables of eval cases.
    EvalCases { suites: Vec<PathBuf>, cases: usize },
    /// `input.default` of the front matter.
    Defaults,
    /// No variables: the template text itself was counted.
    BareTemplate,
}

impl SampleSource {
    pub fn describe(&self) -> String {
        match self {
            SampleSource::EvalCases { suites, cases } => {
                let names: Vec<String> = suites.iter().map(|p| p.display().to_string()).collect();
                format!(
                    "rendered with {cases} eval case{} ({})",
                    if *cases == 1 { "" } else { "s" },
                    names.join(", ")
                )
            }
            SampleSource::Defaults => "rendered with input.default".to_string(),
            SampleSource::BareTemplate => "bare template (no sample variables)".to_string(),
        }
    }
}

/// Sample variable sets for a prompt.
pub struct Samples {
    pub source: SampleSource,
    pub vars: Vec<BTreeMap<String, Value>>,
}

pub fn samples_for(prompt: &Prompt, suites: &[SuiteFile]) -> Samples {
    let mine = crate::eval::suite::for_prompt(suites, &prompt.name);
    let mut vars = Vec::new();
    let mut paths = Vec::new();
    for s in &mine {
        let cv = s.suite.case_vars();
        if !cv.is_empty() {
            paths.push(s.path.clone());
        }
        vars.extend(cv);
    }
    if !vars.is_empty() {
        return Samples {
            source: SampleSource::EvalCases {
                suites: paths,
                cases: vars.len(),
            },
            vars,
        };
    }
    let defaults = prompt.defaults();
    let used = render::used_vars(prompt);
    if !used.is_empty() && used.keys().all(|k| defaults.contains_key(k)) {
        return Samples {
            source: SampleSource::Defaults,
            vars: vec![BTreeMap::new()],
        };
    }
    if used.is_empty() {
        // Nothing to substitute: the template is the request.
        return Samples {
            source: SampleSource::Defaults,
            vars: vec![BTreeMap::new()],
        };
    }
    Samples {
        source: SampleSource::BareTemplate,
        vars: Vec::new(),
    }
}

/// A prompt's measured size and price.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Measurement {
    pub prompt: String,
    pub model: String,
    pub tokenizer: TokenizerKind,
    /// False: the counts are estimates (no public tokenizer).
    pub exact: bool,
    pub samples: SampleSource,
    /// The largest rendering, per message.
    pub worst: RequestTokens,
    pub max_input_tokens: u64,
    pub mean_input_tokens: f64,
    /// The declared `config.max_tokens`, if any.
    pub output_cap: Option<u64>,
    /// What the cost assumes for output: the declared cap, else the model's limit.
    pub output_tokens_priced: u64,
    pub context_window: u64,
    /// At the worst-case input and the priced output.
    pub cost: CallCost,
    /// Messages of the worst-case rendering.
    #[serde(skip)]
    pub messages: Vec<Message>,
    /// Each rendering's count, in the order of the renderings.
    #[serde(skip)]
    pub per_rendering: Vec<RequestTokens>,
}

pub fn measure(prompt: &Prompt, model: &Model, samples: &Samples) -> Result<Measurement> {
    Ok(measure_rendered(prompt, model, samples, &renderings(prompt, samples)?))
}

/// The requests the samples render to: one per eval case, or the bare
/// template when there are none. Templates are compiled once.
pub fn renderings(prompt: &Prompt, samples: &Samples) -> Result<Vec<Vec<Message>>> {
    if samples.source == SampleSource::BareTemplate {
        return Ok(vec![render::bare(prompt)]);
    }
    let r = render::Renderer::new(prompt);
    samples.vars.iter().map(|v| r.render(v)).collect()
}

/// [`measure`] over renderings made by [`renderings`].
pub fn measure_rendered(prompt: &Prompt, model: &Model, samples: &Samples, renderings: &[Vec<Message>]) -> Measurement {
    let kind = model.info.tokenizer;
    let per_rendering: Vec<RequestTokens> = renderings.iter().map(|m| tokens::count_messages(kind, m)).collect();
    let sum: u64 = per_rendering.iter().map(|t| t.total).sum();
    // The first of the largest.
    let mut worst: Option<usize> = None;
    for (i, t) in per_rendering.iter().enumerate() {
        if worst.is_none_or(|w| t.total > per_rendering[w].total) {
            worst = Some(i);
        }
    }
    let (worst, messages) = match worst {
        Some(i) => (per_rendering[i].clone(), renderings[i].clone()),
        None => (tokens::count_messages(kind, &[]), Vec::new()),
    };
    let n = renderings.len().max(1) as f64;
    let cap = prompt.front.config.max_tokens;
    let priced = cap.unwrap_or(model.info.max_output_tokens);
    Measurement {
        prompt: prompt.name.clone(),
        model: model.id.clone(),
        tokenizer: kind,
        exact: kind.is_exact(),
        samples: samples.source.clone(),
        max_input_tokens: worst.total,
        mean_input_tokens: sum as f64 / n,
        cost: tokens::call_cost(&model.info, worst.total, priced, None),
        worst,
        output_cap: cap,
        output_tokens_priced: priced,
        context_window: model.info.context_window,
        messages,
        per_rendering,
    }
}
