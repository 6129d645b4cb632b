use serde::Serialize;

use crate::cli::{Ctx, ExitStatus, Format};
use crate::error::{Error, Result};
use crate::eval::suite;
use crate::measure::{self, Measurement};
use crate::project::Source;
use crate::report;

/// Count tokens and cost per call, per message
#[derive(clap::Args, Debug)]
pub struct TokensArgs {
    /// Prompt names (support/triage)
    #[arg(required_unless_present = "all")]
    pub names: Vec<String>,
    /// Every prompt of the project
    #[arg(long, conflicts_with = "names")]
    pub all: bool,
    /// Read prompts at this git revision instead of the working tree
    #[arg(long, value_name = "REV")]
    pub rev: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct TokensReport {
    pub catalog_date: String,
    pub prompts: Vec<TokensEntry>,
}

/// A measurement plus the exact messages that were counted (the largest
/// rendering), so anyone can re-count them with another tokenizer.
#[derive(Debug, Serialize)]
pub struct TokensEntry {
    #[serde(flatten)]
    pub measurement: Measurement,
    pub messages: Vec<crate::prompt::message::Message>,
}

pub fn run(ctx: &Ctx, args: &TokensArgs) -> Result<ExitStatus> {
    ctx.require_format("tokens", &[Format::Text, Format::Json])?;
    let project = ctx.project()?;
    let source = Source::from_rev(args.rev.as_deref());
    let prompts = if args.all {
        crate::commands::list::measure_all(&project, &source)?
    } else {
        let suites = suite::load_all(&project)?;
        args.names
            .iter()
            .map(|n| {
                let p = project.load(n, &source)?;
                let model = project.model_of(&p)?;
                measure::measure(&p, &model, &measure::samples_for(&p, &suites))
            })
            .collect::<Result<Vec<_>>>()?
    };
    if prompts.is_empty() {
        return Err(Error::input("no prompts found").hint("prompt files are prompts/**/*.prompt"));
    }
    let report = TokensReport {
        catalog_date: project.catalog.date.clone(),
        prompts: prompts
            .into_iter()
            .map(|m| TokensEntry {
                messages: m.messages.clone(),
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

pub fn render_text(r: &TokensReport) -> String {
    let mut out = String::new();
    for (i, e) in r.prompts.iter().enumerate() {
        let m = &e.measurement;
        if i > 0 {
            out.push('\n');
        }
        let tok = match m.tokenizer {
            crate::catalog::TokenizerKind::O200kBase => "o200k_base, exact",
            crate::catalog::TokenizerKind::Cl100kBase => "cl100k_base, exact",
            crate::catalog::TokenizerKind::Approx => "estimate: no public tokenizer, counted with o200k_base",
        };
        out.push_str(&format!("{}  {}  ({tok})\n", m.prompt, m.model));
        let shown = match &m.samples {
            measure::SampleSource::EvalCases { cases, .. } if *cases > 1 => "; largest shown",
            _ => "",
        };
        out.push_str(&format!("{}{shown}\n", m.samples.describe()));
        let mut t = report::text::table(&["MESSAGE", "CONTENT", "TOKENS"]);
        report::text::align_right(&mut t, &[1, 2]);
        for msg in &m.worst.messages {
            t.add_row(vec![
                msg.role.clone(),
                report::tokens(msg.content, m.exact),
                report::tokens(msg.total, m.exact),
            ]);
        }
        t.add_row(vec![
            "reply priming".to_string(),
            String::new(),
            report::tokens(crate::tokens::REPLY_PRIMING_TOKENS, m.exact),
        ]);
        t.add_row(vec![
            "input total".to_string(),
            String::new(),
            report::tokens(m.max_input_tokens, m.exact),
        ]);
        out.push_str(&report::text::render(&t));
        if let measure::SampleSource::EvalCases { cases, .. } = &m.samples
            && *cases > 1
        {
            out.push_str(&format!("mean input over {cases} cases: {:.1}\n", m.mean_input_tokens));
        }
        let cap = match m.output_cap {
            Some(c) => format!("{c} (declared max_tokens)"),
            None => format!("{} (no max_tokens declared: the model's limit)", m.output_tokens_priced),
        };
        out.push_str(&format!("output cap: {cap}\n"));
        out.push_str(&format!(
            "cost/call: {} input + {} output at cap = {} max; per 1k calls {}\n",
            report::usd(m.cost.input_usd),
            report::usd(m.cost.output_at_cap_usd),
            report::usd(m.cost.per_call_max_usd),
            report::usd(m.cost.per_1k_calls_max_usd)
        ));
        out.push_str(&format!(
            "context: {} of {} tokens (input + cap)\n",
            m.max_input_tokens + m.output_tokens_priced,
            m.context_window
        ));
    }
    out.push_str(&format!("\nprices: built-in catalog {}\n", r.catalog_date));
    out
}
