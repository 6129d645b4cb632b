//! One side of a prompt diff: parse, resolve the model, pick sample
//! variables, measure (via `measure`) and break the request down per section.

use std::path::PathBuf;

use serde::Serialize;

use crate::catalog::{Model, TokenizerKind, cost_usd};
use crate::error::{Error, Result};
use crate::eval::suite::SuiteFile;
use crate::measure::{self, SampleSource};
use crate::project::{Project, PromptFile};
use crate::prompt::{Prompt, SectionKind};

/// Where a side's eval-case variables came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SuitesFrom {
    /// The suites at that side's revision.
    Revision,
    /// The working tree's suites (the side is the index or the working tree,
    /// or its revision has none for the prompt and the other side is the
    /// working tree).
    WorkingTree,
    /// The other revision's suites (this side has none for the prompt that
    /// parses; for the index or the working tree: the base revision's).
    OtherRevision,
}

/// The measured request of one side. Token figures are the mean over the
/// sample renderings; `input_tokens_max` is the largest (what `list` shows
/// and budgets check). Costs price the mean input plus output at the cap.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SideSummary {
    pub name: String,
    pub path: PathBuf,
    pub model: String,
    pub tokenizer: TokenizerKind,
    /// False: counts are estimates (no public tokenizer).
    pub exact: bool,
    pub samples: SampleSource,
    /// `samples` in words: "rendered with 4 eval cases (evals/a.yaml)".
    pub samples_note: String,
    /// Where the eval suites were read; `null` when no suite tests the prompt.
    pub suites_from: Option<SuitesFrom>,
    /// Renderings averaged (eval cases; 1 for defaults or the bare template).
    pub renderings: usize,
    pub input_tokens: f64,
    pub input_tokens_max: u64,
    /// The declared `config.max_tokens`.
    pub output_cap: Option<u64>,
    /// Output tokens priced: the cap, else the model's output limit.
    pub output_tokens_priced: u64,
    pub cost_per_call_usd: f64,
    pub cost_per_1k_calls_usd: f64,
    /// At `input_tokens_max`.
    pub cost_per_call_max_usd: f64,
}

/// Mean tokens of one section's messages.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SectionTokens {
    pub content: f64,
    /// With the per-message framing and role.
    pub total: f64,
}

pub struct Measured {
    pub prompt: Prompt,
    pub model: Model,
    pub summary: SideSummary,
    /// Per section of `prompt.sections`, in order.
    pub sections: Vec<SectionTokens>,
}

impl Measured {
    pub fn tokenizer(&self) -> TokenizerKind {
        self.model.info.tokenizer
    }
}

/// A rendering failure with eval-case variables is the suite's business:
/// say which suite, and drop the `--var` advice meant for `render`.
fn from_cases(mut e: Error, source: &SampleSource) -> Error {
    if let SampleSource::EvalCases { suites, .. } = source {
        let names: Vec<String> = suites.iter().map(|p| p.display().to_string()).collect();
        e.hints.retain(|h| !h.contains("--var"));
        e = e.hint(format!(
            "token counts render the prompt with the eval cases of {}: set the variable in each case or in defaults.vars",
            names.join(", ")
        ));
    }
    e
}

pub fn measure_side(
    project: &Project,
    file: &PromptFile,
    suites: &[SuiteFile],
    suites_from: Option<SuitesFrom>,
    other_side: Option<&Prompt>,
) -> Result<Measured> {
    let prompt = file.parse_like(other_side)?;
    let model = project.model_of(&prompt)?;
    let samples = measure::samples_for(&prompt, suites);
    let renderings = measure::renderings(&prompt, &samples).map_err(|e| from_cases(e, &samples.source))?;
    let m = measure::measure_rendered(&prompt, &model, &samples, &renderings);
    let kind = model.info.tokenizer;
    let mut sections = vec![
        SectionTokens {
            content: 0.0,
            total: 0.0
        };
        prompt.sections.len()
    ];
    let n_plain = prompt
        .sections
        .iter()
        .filter(|s| s.kind != SectionKind::History)
        .count();
    for counted in &m.per_rendering {
        // Each message section renders one message; the history section
        // (at most one) renders the rest.
        let history_len = counted.messages.len().saturating_sub(n_plain);
        let mut it = counted.messages.iter();
        for (i, s) in prompt.sections.iter().enumerate() {
            let take = if s.kind == SectionKind::History { history_len } else { 1 };
            for m in it.by_ref().take(take) {
                sections[i].content += m.content as f64;
                sections[i].total += m.total as f64;
            }
        }
    }
    let n = renderings.len().max(1) as f64;
    for s in &mut sections {
        s.content /= n;
        s.total /= n;
    }
    let input_usd = m.mean_input_tokens * model.info.input / 1_000_000.0;
    let per_call = input_usd + cost_usd(&model.info, 0, m.output_tokens_priced);
    let from_cases = matches!(samples.source, SampleSource::EvalCases { .. });
    let summary = SideSummary {
        name: prompt.name.clone(),
        path: prompt.path.clone(),
        model: model.id.clone(),
        tokenizer: kind,
        exact: m.exact,
        samples_note: samples.source.describe(),
        samples: samples.source,
        suites_from: suites_from.filter(|_| from_cases),
        renderings: renderings.len(),
        input_tokens: m.mean_input_tokens,
        input_tokens_max: m.max_input_tokens,
        output_cap: m.output_cap,
        output_tokens_priced: m.output_tokens_priced,
        cost_per_call_usd: per_call,
        cost_per_1k_calls_usd: per_call * 1000.0,
        cost_per_call_max_usd: m.cost.per_call_max_usd,
    };
    Ok(Measured {
        prompt,
        model,
        summary,
        sections,
    })
}
