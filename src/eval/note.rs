//! `eval --note`: a run's summary per prompt as a git note on the evaluated
//! commit (`refs/notes/promptctl`), merged with what the note already holds.

use crate::error::Result;
use crate::eval::run::SuiteResult;
use crate::git::notes::{self, EvalRun, PromptEntry};
use crate::project::{Project, Source};

/// One note written: prompt, commit.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Written {
    pub prompt: String,
    pub commit: String,
}

/// The note entry of one suite × target result.
pub fn run_of(r: &SuiteResult, run_id: &str, date: &str) -> EvalRun {
    let s = &r.stats;
    EvalRun {
        run_id: Some(run_id.to_string()),
        date: Some(date.to_string()),
        provider: Some(r.target.clone()),
        pass_rate: Some(s.pass_rate),
        cases: Some(s.cases),
        mean_input_tokens: s.input_tokens.as_ref().map(|t| t.mean),
        mean_output_tokens: s.output_tokens.as_ref().map(|t| t.mean),
        cost_per_call_usd: s.cost_per_call_usd,
        latency_p50_ms: s.latency_ms.as_ref().map(|l| l.p50 as f64),
        latency_p95_ms: s.latency_ms.as_ref().map(|l| l.p95 as f64),
    }
}

/// Write each result's summary on the commit of `source` (HEAD for the
/// working tree). The content hash is of the prompt file as evaluated.
pub fn write(project: &Project, source: &Source, results: &[SuiteResult], run_id: &str) -> Result<Vec<Written>> {
    let repo = crate::git::Repo::open(&project.root)
        .map_err(|e| e.hint("--note stores results as git notes; run inside a git repository"))?;
    let rev = match source {
        Source::WorkTree => "HEAD",
        Source::Rev(r) => r.as_str(),
    };
    let commit = repo.commit(rev)?.id();
    let sig = crate::release::ops::actor(&repo.repo)?;
    let date = jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
    let mut out = Vec::new();
    for r in results {
        let prompt = project.load(&r.prompt, source)?;
        let entry = PromptEntry {
            content_hash: Some(crate::prompt::content_hash(prompt.source.as_bytes())),
            runs: vec![run_of(r, run_id, &date)],
        };
        notes::write(&repo.repo, commit, &r.prompt, entry, &sig)?;
        out.push(Written {
            prompt: r.prompt.clone(),
            commit: commit.to_string(),
        });
    }
    Ok(out)
}
