use std::collections::BTreeMap;

use serde::Serialize;

use crate::cli::{Ctx, ExitStatus, Format};
use crate::error::Result;
use crate::eval::suite;
use crate::measure::{self, Measurement};
use crate::project::{Project, Source};
use crate::release;
use crate::report;

/// List prompts with model, tokens and cost per call
#[derive(clap::Args, Debug)]
pub struct ListArgs {
    /// Read prompts at this git revision instead of the working tree
    #[arg(long, value_name = "REV")]
    pub rev: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ListReport {
    pub catalog_date: String,
    pub prompts: Vec<ListEntry>,
}

#[derive(Debug, Serialize)]
pub struct ListEntry {
    #[serde(flatten)]
    pub measurement: Measurement,
    /// Released stable/canary versions (absent outside git or when unreleased).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub release: Option<release::state::Summary>,
}

/// Release state by prompt name; empty outside a git repository. A tag
/// promptctl cannot read is a warning here, not a failure of `list`.
fn release_summaries(ctx: &Ctx, project: &Project) -> BTreeMap<String, release::state::Summary> {
    let Ok(Some(repo)) = crate::git::Repo::discover(&project.root) else {
        return BTreeMap::new();
    };
    match release::state::load_all(&repo.repo) {
        Ok(all) => all.into_iter().map(|(n, r)| (n, r.summary())).collect(),
        Err(e) => {
            ctx.ui.warn(format!("release state not shown: {}", e.message));
            BTreeMap::new()
        }
    }
}

/// Measure every prompt of the project at `source`.
pub fn measure_all(project: &Project, source: &Source) -> Result<Vec<Measurement>> {
    let suites = suite::load_all(project)?;
    let files = project.prompt_files(source)?;
    files
        .iter()
        .map(|f| {
            let p = f.parse()?;
            let model = project.model_of(&p)?;
            let samples = measure::samples_for(&p, &suites);
            measure::measure(&p, &model, &samples)
        })
        .collect()
}

pub fn run(ctx: &Ctx, args: &ListArgs) -> Result<ExitStatus> {
    ctx.require_format("list", &[Format::Text, Format::Json])?;
    let project = ctx.project()?;
    let source = Source::from_rev(args.rev.as_deref());
    let releases = release_summaries(ctx, &project);
    let report = ListReport {
        catalog_date: project.catalog.date.clone(),
        prompts: measure_all(&project, &source)?
            .into_iter()
            .map(|m| ListEntry {
                release: releases.get(&m.prompt).copied().filter(|s| s.stable.is_some()),
                measurement: m,
            })
            .collect(),
    };
    match ctx.format {
        Format::Json => ctx.ui.out(&report::json(&report)?),
        _ => ctx.ui.out(&render_text(&report)),
    }
    Ok(ExitStatus::Success)
}

pub fn render_text(r: &ListReport) -> String {
    if r.prompts.is_empty() {
        return "no prompts found (prompt files are prompts/**/*.prompt)\n".to_string();
    }
    let mut t = report::text::table(&[
        "NAME",
        "MODEL",
        "INPUT",
        "MAX OUT",
        "COST/CALL",
        "COST/1K",
        "SAMPLES",
        "RELEASE",
    ]);
    report::text::align_right(&mut t, &[2, 3, 4, 5]);
    let mut any_estimate = false;
    let mut any_uncapped = false;
    for e in &r.prompts {
        let m = &e.measurement;
        any_estimate |= !m.exact;
        let max_out = match m.output_cap {
            Some(c) => c.to_string(),
            None => {
                any_uncapped = true;
                format!("{}*", m.output_tokens_priced)
            }
        };
        let samples = match &m.samples {
            measure::SampleSource::EvalCases { cases, .. } => format!("{cases} cases"),
            measure::SampleSource::Defaults => "defaults".to_string(),
            measure::SampleSource::BareTemplate => "template".to_string(),
        };
        t.add_row(vec![
            m.prompt.clone(),
            m.model.clone(),
            report::tokens(m.max_input_tokens, m.exact),
            max_out,
            report::usd(m.cost.per_call_max_usd),
            report::usd(m.cost.per_1k_calls_max_usd),
            samples,
            e.release.map(|s| s.label()).unwrap_or_else(|| "-".to_string()),
        ]);
    }
    let mut out = report::text::render(&t);
    out.push_str(&format!(
        "\ninput: largest rendered request; cost: input + output at MAX OUT (worst case); prices: built-in catalog {}\n",
        r.catalog_date
    ));
    if any_uncapped {
        out.push_str("* no max_tokens declared: priced at the model's output limit\n");
    }
    if any_estimate {
        out.push_str("≈ estimate: the model has no public tokenizer (counted with o200k_base)\n");
    }
    out
}
