//! Eval results as git notes under `refs/notes/promptctl`: one JSON document
//! per commit, with an entry per prompt, so every version carries its
//! measured cost and quality.
//!
//! ```json
//! {"schema":1,"prompts":{"support/triage":{"content_hash":"…","runs":[{"run_id":"…","pass_rate":0.95,…}]}}}
//! ```
//!
//! Reading is lenient: unknown keys are ignored, a field of the wrong type
//! reads as absent, a note that is not JSON reads as no note. Writing merges
//! per prompt and never drops another prompt's entry (it is kept verbatim).

use std::collections::BTreeMap;

use git2::{Oid, Repository, Signature};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// The notes ref promptctl reads and writes. Not fetched by default:
/// `git fetch origin refs/notes/promptctl:refs/notes/promptctl`.
pub const NOTES_REF: &str = "refs/notes/promptctl";
pub const SCHEMA: u64 = 1;

/// One eval run of one prompt at one commit.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EvalRun {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pass_rate: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cases: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean_input_tokens: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean_output_tokens: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_per_call_usd: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_p50_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_p95_ms: Option<f64>,
}

impl EvalRun {
    /// Field by field: a bad field is absent, the rest still reads.
    fn from_value(v: &Value) -> Option<EvalRun> {
        let o = v.as_object()?;
        let s = |k: &str| o.get(k).and_then(Value::as_str).map(str::to_string);
        let f = |k: &str| o.get(k).and_then(Value::as_f64).filter(|x| x.is_finite());
        Some(EvalRun {
            run_id: s("run_id"),
            date: s("date"),
            provider: s("provider"),
            pass_rate: f("pass_rate"),
            cases: o.get("cases").and_then(Value::as_u64),
            mean_input_tokens: f("mean_input_tokens"),
            mean_output_tokens: f("mean_output_tokens"),
            cost_per_call_usd: f("cost_per_call_usd"),
            latency_p50_ms: f("latency_p50_ms"),
            latency_p95_ms: f("latency_p95_ms"),
        })
    }
}

/// A prompt's entry in a note.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PromptEntry {
    /// BLAKE3 hex of the prompt file the runs evaluated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_hash: Option<String>,
    #[serde(default)]
    pub runs: Vec<EvalRun>,
}

impl PromptEntry {
    fn from_value(v: &Value) -> Option<PromptEntry> {
        let o = v.as_object()?;
        Some(PromptEntry {
            content_hash: o.get("content_hash").and_then(Value::as_str).map(str::to_string),
            runs: o
                .get("runs")
                .and_then(Value::as_array)
                .map(|rs| rs.iter().filter_map(EvalRun::from_value).collect())
                .unwrap_or_default(),
        })
    }

    /// The most recent run (by date, then position).
    pub fn latest(&self) -> Option<&EvalRun> {
        self.runs
            .iter()
            .enumerate()
            .max_by(|(i, a), (j, b)| a.date.cmp(&b.date).then(i.cmp(j)))
            .map(|(_, r)| r)
    }
}

/// A whole note. Entries are kept as JSON so that fields this version does
/// not know survive a merge.
#[derive(Debug, Clone, PartialEq)]
pub struct Note {
    pub schema: u64,
    pub prompts: BTreeMap<String, Value>,
}

impl Default for Note {
    fn default() -> Self {
        Note {
            schema: SCHEMA,
            prompts: BTreeMap::new(),
        }
    }
}

impl Note {
    /// `None` when the text is not a JSON object with a `prompts` map.
    pub fn parse(text: &str) -> Option<Note> {
        let v: Value = serde_json::from_str(text).ok()?;
        let o = v.as_object()?;
        let prompts = o.get("prompts")?.as_object()?;
        Some(Note {
            schema: o.get("schema").and_then(Value::as_u64).unwrap_or(SCHEMA),
            prompts: prompts.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        })
    }

    pub fn entry(&self, prompt: &str) -> Option<PromptEntry> {
        self.prompts.get(prompt).and_then(PromptEntry::from_value)
    }

    /// Compact JSON with sorted prompt names (stable bytes for the same data).
    pub fn to_json(&self) -> String {
        let mut prompts = Map::new();
        for (k, v) in &self.prompts {
            prompts.insert(k.clone(), v.clone());
        }
        let mut o = Map::new();
        o.insert("schema".into(), Value::from(self.schema));
        o.insert("prompts".into(), Value::Object(prompts));
        Value::Object(o).to_string()
    }

    /// Merge `entry` for `prompt` into this note. Other prompts are left as
    /// they are. For the same prompt and content, runs are added (a run with
    /// the same `run_id` is replaced); for different content the entry is
    /// replaced, since the old runs measured a file that is not at this commit.
    pub fn merge(&mut self, prompt: &str, entry: PromptEntry) {
        let merged = match self.entry(prompt) {
            Some(mut old) if old.content_hash == entry.content_hash => {
                for run in entry.runs {
                    match old
                        .runs
                        .iter_mut()
                        .find(|r| r.run_id.is_some() && r.run_id == run.run_id)
                    {
                        Some(slot) => *slot = run,
                        None => old.runs.push(run),
                    }
                }
                old
            }
            _ => entry,
        };
        // Serializing our own plain structs cannot fail.
        let v = serde_json::to_value(&merged).unwrap_or(Value::Null);
        self.prompts.insert(prompt.to_string(), v);
    }
}

/// The note on `commit`, if any (and if it reads as a note).
pub fn read(repo: &Repository, commit: Oid) -> Result<Option<Note>> {
    match repo.find_note(Some(NOTES_REF), commit) {
        Ok(n) => Ok(n.message().ok().and_then(Note::parse)),
        Err(e) if e.code() == git2::ErrorCode::NotFound => Ok(None),
        Err(e) => Err(Error::external(format!(
            "git: reading note on {commit}: {}",
            e.message()
        ))),
    }
}

/// Whether the repository has any promptctl notes (a clone without them
/// says so instead of showing no metrics silently).
pub fn present(repo: &Repository) -> bool {
    repo.find_reference(NOTES_REF).is_ok()
}

/// Read, merge `entry` for `prompt`, write back.
pub fn write(repo: &Repository, commit: Oid, prompt: &str, entry: PromptEntry, sig: &Signature<'_>) -> Result<()> {
    let mut note = read(repo, commit)?.unwrap_or_default();
    note.merge(prompt, entry);
    repo.note(sig, sig, Some(NOTES_REF), commit, &note.to_json(), true)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(id: &str, pass: f64) -> EvalRun {
        EvalRun {
            run_id: Some(id.into()),
            pass_rate: Some(pass),
            ..Default::default()
        }
    }

    #[test]
    fn reads_leniently() {
        let n = Note::parse(
            r#"{"schema":1,"extra":true,"prompts":{"a":{"content_hash":"h","runs":[
                {"run_id":"r1","pass_rate":"high","cases":20,"latency_p50_ms":300,"new_field":1},
                "garbage"
            ]},"b":42}}"#,
        )
        .unwrap();
        let a = n.entry("a").unwrap();
        assert_eq!(a.content_hash.as_deref(), Some("h"));
        assert_eq!(a.runs.len(), 1);
        assert_eq!(a.runs[0].pass_rate, None);
        assert_eq!(a.runs[0].cases, Some(20));
        assert_eq!(a.runs[0].latency_p50_ms, Some(300.0));
        assert_eq!(n.entry("b"), None);
        assert_eq!(Note::parse("not json"), None);
        assert_eq!(Note::parse("[1]"), None);
    }

    #[test]
    fn merge_keeps_other_prompts_verbatim() {
        let mut n =
            Note::parse(r#"{"schema":1,"prompts":{"other":{"content_hash":"x","runs":[],"future":[1,2]}}}"#).unwrap();
        n.merge(
            "mine",
            PromptEntry {
                content_hash: Some("h".into()),
                runs: vec![run("r1", 0.9)],
            },
        );
        assert_eq!(n.prompts["other"]["future"], serde_json::json!([1, 2]));
        assert_eq!(n.entry("mine").unwrap().runs, vec![run("r1", 0.9)]);
    }

    #[test]
    fn merge_adds_runs_for_the_same_content_and_replaces_for_new_content() {
        let mut n = Note::default();
        let e = |h: &str, runs| PromptEntry {
            content_hash: Some(h.into()),
            runs,
        };
        n.merge("a", e("h1", vec![run("r1", 0.5)]));
        n.merge("a", e("h1", vec![run("r2", 0.7), run("r1", 0.6)]));
        let got = n.entry("a").unwrap();
        assert_eq!(got.runs, vec![run("r1", 0.6), run("r2", 0.7)]);
        n.merge("a", e("h2", vec![run("r3", 1.0)]));
        assert_eq!(n.entry("a").unwrap().runs, vec![run("r3", 1.0)]);
        // Stable bytes: sorted prompt names.
        n.merge("0first", e("z", vec![]));
        assert!(
            n.to_json().starts_with(r#"{"schema":1,"prompts":{"0first""#),
            "{}",
            n.to_json()
        );
    }

    #[test]
    fn write_then_read_on_a_repository() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init(dir.path()).unwrap();
        let sig = Signature::now("T", "t@example.com").unwrap();
        let tree = repo.treebuilder(None).unwrap().write().unwrap();
        let tree = repo.find_tree(tree).unwrap();
        let c = repo.commit(Some("HEAD"), &sig, &sig, "c", &tree, &[]).unwrap();
        assert!(!present(&repo));
        assert_eq!(read(&repo, c).unwrap(), None);
        write(
            &repo,
            c,
            "a",
            PromptEntry {
                content_hash: Some("h".into()),
                runs: vec![run("r1", 0.9)],
            },
            &sig,
        )
        .unwrap();
        write(
            &repo,
            c,
            "b",
            PromptEntry {
                content_hash: Some("k".into()),
                runs: vec![run("r2", 0.8)],
            },
            &sig,
        )
        .unwrap();
        let n = read(&repo, c).unwrap().unwrap();
        assert!(present(&repo));
        assert_eq!(n.entry("a").unwrap().runs[0].pass_rate, Some(0.9));
        assert_eq!(n.entry("b").unwrap().runs[0].pass_rate, Some(0.8));
    }
}
