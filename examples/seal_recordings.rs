//! Seal hand-written recordings: give each entry of a `*.responses.yaml`
//! the request key and part hashes of the request it answers, as promptctl
//! renders it now.
//!
//! ```text
//! cargo run --example seal_recordings -- [PROJECT_DIR]
//! ```
//!
//! For every suite with a recording, the entries' texts are replayed, in
//! order per case and target (`answer`, `correction 1`, …, `fallback`), by a
//! scripted transport while the suite runs in record mode; the file is then
//! rewritten with the keys, token counts made by promptctl (marked
//! `reported: false`), no latency (nothing was timed) and its own `source:`.
//!
//! This is for answers written by hand. Never use it to make a recording of
//! real model output match a prompt that changed since: re-record instead.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use promptctl::eval::record::{self, Recording};
use promptctl::eval::run::{self, Mode, RunOptions, TransportFactory};
use promptctl::eval::suite;
use promptctl::project::{Project, Source};
use promptctl::prompt::message::Message;
use promptctl::prompt::render;
use serde_json::Value;

use promptctl::provider::{
    BoxFuture, ChatRequest, ChatResponse, FinishReason, Provider, ProviderError, ProviderErrorKind,
};

/// Answers each case's calls in order; the case is found by the messages
/// its first request starts with.
struct Script {
    /// (first request's messages, case) for every case.
    cases: Vec<(Vec<Message>, String)>,
    /// Per case: the texts and finish reasons, in call order.
    answers: HashMap<String, Vec<(String, FinishReason)>>,
    calls: Mutex<HashMap<String, usize>>,
}

impl Provider for Script {
    fn id(&self) -> &str {
        "script"
    }

    fn complete<'a>(&'a self, req: &'a ChatRequest) -> BoxFuture<'a, Result<ChatResponse, ProviderError>> {
        let found = self
            .cases
            .iter()
            .filter(|(msgs, _)| req.messages.starts_with(msgs))
            .max_by_key(|(msgs, _)| msgs.len())
            .map(|(_, case)| case.clone());
        let result = match found {
            None => Err(ProviderError::new(
                ProviderErrorKind::Client,
                "no hand-written case matches this request",
            )),
            Some(case) => {
                let mut calls = self.calls.lock().unwrap();
                let n = calls.entry(case.clone()).or_default();
                let answer = self.answers.get(&case).and_then(|a| a.get(*n)).cloned();
                *n += 1;
                match answer {
                    Some((text, finish_reason)) => Ok(ChatResponse {
                        text,
                        finish_reason,
                        usage: None,
                        model: None,
                        latency_ms: 0,
                        attempts: 1,
                    }),
                    None => Err(ProviderError::new(
                        ProviderErrorKind::Client,
                        format!("case '{case}' has no hand-written answer for call {}", *n),
                    )),
                }
            }
        };
        Box::pin(std::future::ready(result))
    }
}

fn main() {
    let dir = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    if let Err(e) = seal(&dir) {
        eprintln!("error: {}", e.message);
        for h in e.hints {
            eprintln!("hint: {h}");
        }
        std::process::exit(2);
    }
}

fn seal(dir: &Path) -> promptctl::Result<()> {
    let project = Project::discover(dir)?;
    for sf in suite::load_all(&project)? {
        let rel = record::path_for(&sf.path);
        // Read leniently: hand-written entries have no keys yet.
        let Ok(text) = std::fs::read_to_string(project.root.join(&rel)) else {
            continue;
        };
        let old: Value = promptctl::yaml::from_str(&text, &rel, 0)?;
        let source = old["source"].as_str().unwrap_or("hand-written").to_string();
        let prompt = project.load(&sf.suite.prompt, &Source::WorkTree)?;
        let mut cases = Vec::new();
        for item in sf.suite.iter_cases()? {
            let (i, c) = item?;
            let mut vars = sf.suite.defaults.vars.clone();
            vars.extend(c.vars.clone());
            cases.push((render::render(&prompt, &vars)?, c.name_or(i)));
        }
        let mut by_target: BTreeMap<String, HashMap<String, Vec<(String, FinishReason)>>> = BTreeMap::new();
        for e in old["entries"].as_array().into_iter().flatten() {
            let s = |k: &str| e[k].as_str().unwrap_or_default().to_string();
            let finish = FinishReason::parse(e["finish_reason"].as_str().unwrap_or("stop"));
            by_target
                .entry(s("target"))
                .or_default()
                .entry(s("case"))
                .or_default()
                .push((s("text"), finish));
        }
        // Start from an empty recording; each target's run merges into it.
        let empty = Recording {
            source: source.clone(),
            prompt: prompt.name.clone(),
            entries: Vec::new(),
        };
        std::fs::write(project.root.join(&rel), empty.to_yaml(&sf.path)).map_err(|e| promptctl::Error::io(&rel, &e))?;
        for (target, answers) in by_target {
            let script = Arc::new(Script {
                cases: cases.clone(),
                answers,
                calls: Mutex::new(HashMap::new()),
            });
            let factory: TransportFactory = {
                let script = script.clone();
                Arc::new(move |_, _| Some(script.clone() as Arc<dyn Provider>))
            };
            let mut opts = RunOptions::new(Arc::new(|_: &str| None));
            opts.suites = vec![sf.path.display().to_string()];
            opts.providers = vec![target.clone()];
            opts.mode = Mode::Record;
            opts.cache = false;
            opts.jobs = Some(1);
            opts.transport = Some(factory);
            let report = run::run_suites(&project, &opts)?;
            for r in &report.results {
                for f in &r.failures {
                    eprintln!(
                        "note: {} × {}: '{}' does not pass: {}",
                        r.suite.display(),
                        r.target,
                        f.case,
                        f.reasons.join("; ")
                    );
                }
            }
        }
        let Some(mut sealed) = Recording::load(&project.root, &rel)? else {
            continue;
        };
        sealed.source = source;
        for e in &mut sealed.entries {
            e.latency_ms = None;
        }
        std::fs::write(project.root.join(&rel), sealed.to_yaml(&sf.path))
            .map_err(|e| promptctl::Error::io(&rel, &e))?;
        eprintln!("sealed {} ({} entries)", rel.display(), sealed.entries.len());
    }
    Ok(())
}
