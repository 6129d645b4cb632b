//! Recorded responses: `<suite>.responses.yaml` next to a suite, committed
//! with it, so CI and demos run the suite without a network or a key
//! (`promptctl eval --offline`, or `providers: [replay]`).
//!
//! The file is YAML written for people: a header saying where the responses
//! came from (`source:`), then one entry per provider call: the case, the
//! target it was run for, the step (`answer`, `correction 1`, `fallback`…),
//! the request's key and the short hashes of its parts (to say what changed
//! when a request no longer matches), and the response (text as a block,
//! finish reason, usage, latency).
//!
//! Replay looks a request up by its key only; the case name and the parts
//! serve the message when nothing matches.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::key::{self, Parts};
use crate::error::{Error, Result};
use crate::provider::{ChatRequest, ChatResponse, FinishReason, Usage};

/// `evals/support/triage.yaml` → `evals/support/triage.responses.yaml`.
pub fn path_for(suite: &Path) -> PathBuf {
    let stem = suite
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_default();
    suite.with_file_name(format!("{stem}.responses.yaml"))
}

/// The `source:` written by `--record`.
pub fn recorded_source(date: &str) -> String {
    format!("recorded with promptctl eval --record on {date}")
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recording {
    /// Where the responses came from (a model, by hand, a local server).
    pub source: String,
    /// The prompt the suite tests.
    pub prompt: String,
    #[serde(default)]
    pub entries: Vec<Entry>,
}

/// One call and its response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub case: String,
    /// The target the suite ran against (`openai:gpt-4o-mini`).
    pub target: String,
    /// `answer`, `correction N` (structured-output guard), `fallback`.
    pub step: String,
    /// The model called, when not the target's (the fallback model).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The request key (blake3, 64 hex digits).
    pub request: String,
    pub parts: Parts,
    pub text: String,
    pub finish_reason: FinishReason,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// Absent for responses that were not timed (hand-written ones).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
}

impl Entry {
    pub fn new(
        case: &str,
        target: &str,
        step: &str,
        provider: &str,
        model: Option<&str>,
        req: &ChatRequest,
        resp: &ChatResponse,
    ) -> Entry {
        Entry {
            case: case.to_string(),
            target: target.to_string(),
            step: step.to_string(),
            model: model.map(str::to_string),
            request: key::request_key(provider, req),
            parts: key::parts(provider, req),
            text: resp.text.clone(),
            finish_reason: resp.finish_reason.clone(),
            usage: resp.usage,
            latency_ms: Some(resp.latency_ms),
        }
    }

    /// The response as a provider would have given it.
    pub fn response(&self) -> ChatResponse {
        ChatResponse {
            text: self.text.clone(),
            finish_reason: self.finish_reason.clone(),
            usage: self.usage,
            model: None,
            latency_ms: self.latency_ms.unwrap_or(0),
            attempts: 1,
        }
    }
}

impl Recording {
    /// Read a recording file; `Ok(None)` when it does not exist.
    pub fn load(root: &Path, rel: &Path) -> Result<Option<Recording>> {
        let abs = root.join(rel);
        let text = match std::fs::read_to_string(&abs) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(rel, &e)),
        };
        let rec: Recording = crate::yaml::from_str(&text, rel, 0)?;
        Ok(Some(rec))
    }

    /// The recording as YAML (see the module docs).
    pub fn to_yaml(&self, suite: &Path) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# Recorded responses of {}, replayed by `promptctl eval --offline`.",
            suite.display()
        );
        out.push_str("# One entry per provider call: the request's blake3 key (and short hashes of its\n");
        out.push_str("# parts, to tell what changed) and the response. `promptctl eval --record` rewrites it.\n");
        let _ = writeln!(out, "source: {}", scalar(&self.source));
        let _ = writeln!(out, "prompt: {}", scalar(&self.prompt));
        if self.entries.is_empty() {
            out.push_str("entries: []\n");
            return out;
        }
        out.push_str("entries:\n");
        for e in &self.entries {
            let _ = writeln!(out, "  - case: {}", scalar(&e.case));
            let _ = writeln!(out, "    target: {}", scalar(&e.target));
            let _ = writeln!(out, "    step: {}", scalar(&e.step));
            if let Some(m) = &e.model {
                let _ = writeln!(out, "    model: {}", scalar(m));
            }
            let _ = writeln!(out, "    request: {}", scalar(&e.request));
            out.push_str("    parts:\n");
            let _ = writeln!(out, "      model: {}", scalar(&e.parts.model));
            let _ = writeln!(out, "      params: {}", scalar(&e.parts.params));
            let msgs: Vec<String> = e.parts.messages.iter().map(|m| scalar(m)).collect();
            let _ = writeln!(out, "      messages: [{}]", msgs.join(", "));
            let _ = writeln!(out, "    text: {}", block(&e.text, 6));
            let _ = writeln!(out, "    finish_reason: {}", scalar(e.finish_reason.as_str()));
            if let Some(u) = &e.usage {
                let cached = u
                    .cached_input_tokens
                    .map(|c| format!(", cached_input_tokens: {c}"))
                    .unwrap_or_default();
                let _ = writeln!(
                    out,
                    "    usage: {{input_tokens: {}, output_tokens: {}{cached}, reported: {}}}",
                    u.input_tokens, u.output_tokens, u.reported
                );
            }
            if let Some(ms) = e.latency_ms {
                let _ = writeln!(out, "    latency_ms: {ms}");
            }
        }
        out
    }

    /// Replace the entries of `target` for the cases in `ran` with `fresh`,
    /// keep everything else; drop entries of cases the suite no longer has.
    /// `order` gives each current case its position, for sorting.
    pub fn merge(
        &mut self,
        target: &str,
        ran: &dyn Fn(&str) -> bool,
        fresh: Vec<Entry>,
        order: &dyn Fn(&str) -> Option<usize>,
    ) {
        self.entries
            .retain(|e| !(e.target == target && ran(&e.case)) && order(&e.case).is_some());
        self.entries.extend(fresh);
        let step_rank = |s: &str| match s {
            "answer" => (0, 0),
            "fallback" => (2, 0),
            other => (
                1,
                other
                    .strip_prefix("correction ")
                    .and_then(|n| n.parse::<u32>().ok())
                    .unwrap_or(u32::MAX),
            ),
        };
        // Stable: entries of other targets keep their relative order.
        self.entries.sort_by(|a, b| {
            (a.target.as_str(), order(&a.case), step_rank(&a.step)).cmp(&(
                b.target.as_str(),
                order(&b.case),
                step_rank(&b.step),
            ))
        });
    }
}

/// A recording indexed for replay.
#[derive(Debug, Default)]
pub struct ReplayStore {
    /// Project-relative path of the file, for messages.
    pub path: PathBuf,
    by_key: HashMap<String, usize>,
    recording: Option<Recording>,
}

impl ReplayStore {
    pub fn new(path: PathBuf, recording: Option<Recording>) -> ReplayStore {
        let mut by_key = HashMap::new();
        if let Some(r) = &recording {
            for (i, e) in r.entries.iter().enumerate() {
                by_key.entry(e.request.clone()).or_insert(i);
            }
        }
        ReplayStore {
            path,
            by_key,
            recording,
        }
    }

    pub fn exists(&self) -> bool {
        self.recording.is_some()
    }

    /// The recorded entry answering the request with `key`.
    pub fn get(&self, key: &str) -> Option<&Entry> {
        let r = self.recording.as_ref()?;
        self.by_key.get(key).map(|&i| &r.entries[i])
    }

    /// Why the request of `case`'s `step` (with `parts`) has no recording.
    pub fn explain(&self, target: &str, case: &str, step: &str, parts: &Parts) -> String {
        let Some(r) = &self.recording else {
            return format!("{} does not exist", self.path.display());
        };
        let mine: Vec<&Entry> = r
            .entries
            .iter()
            .filter(|e| e.case == case && e.target == target)
            .collect();
        if mine.is_empty() {
            return if r.entries.iter().any(|e| e.case == case) {
                format!("recorded for other targets, not {target}")
            } else {
                "the case has no recording".to_string()
            };
        }
        match mine.iter().find(|e| e.step == step) {
            Some(e) => {
                let changes = key::changes(&e.parts, parts);
                if changes.is_empty() {
                    "the request changed since the recording".to_string()
                } else {
                    format!("{} since the recording", changes.join(", "))
                }
            }
            None => format!("the recording has no `{step}` call for it"),
        }
    }
}

// --- YAML writing -------------------------------------------------------------

/// A one-line scalar: plain when YAML reads it back as the same string,
/// else double-quoted (JSON string syntax is valid YAML).
fn scalar(s: &str) -> String {
    if plain_ok(s) {
        s.to_string()
    } else {
        serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
    }
}

fn plain_ok(s: &str) -> bool {
    const KEYWORDS: &[&str] = &["y", "n", "yes", "no", "true", "false", "on", "off", "null"];
    let Some(first) = s.chars().next() else {
        return false;
    };
    let chars_ok = s
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, ' ' | '_' | '-' | '.' | ',' | '/' | ':' | '(' | ')' | '+'));
    first.is_alphanumeric()
        && chars_ok
        && !s.ends_with([' ', ':'])
        && !s.contains(": ")
        && !KEYWORDS.contains(&s.to_ascii_lowercase().as_str())
        && s.parse::<f64>().is_err()
        // Hex keys that happen to be all digits would read as numbers.
        && !s.chars().all(|c| c.is_ascii_digit() || c == '_' || c == '.' || c == ':')
}

/// Text as a literal block (`|`, `|-`, `|+`) indented by `indent`, when a
/// block keeps it exactly and it is not plain; else one scalar. Model
/// answers (JSON, several lines) read best as blocks: no escapes.
fn block(s: &str, indent: usize) -> String {
    let blockable = !plain_ok(s)
        && !s.is_empty()
        && !s.starts_with([' ', '\t', '\n'])
        && !s.chars().any(|c| c.is_control() && c != '\n')
        && !s.contains('\u{feff}');
    if !blockable {
        return scalar(s);
    }
    let body = s.trim_end_matches('\n');
    let trailing = s.len() - body.len();
    let chomp = match trailing {
        0 => "-",
        1 => "",
        _ => "+",
    };
    let pad = " ".repeat(indent);
    let mut out = format!("|{chomp}");
    for line in body.split('\n') {
        out.push('\n');
        if !line.is_empty() {
            out.push_str(&pad);
            out.push_str(line);
        }
    }
    // Keep-chomping: the extra newlines are part of the value.
    for _ in 1..trailing {
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prompt::ModelConfig;
    use crate::prompt::message::{Message, Role};

    fn req(user: &str) -> ChatRequest {
        ChatRequest {
            model: "gpt-4o-mini".into(),
            messages: vec![Message::new(Role::System, "sys"), Message::new(Role::User, user)],
            config: ModelConfig::default(),
            response_schema: None,
            json: false,
        }
    }

    fn resp(text: &str) -> ChatResponse {
        ChatResponse {
            text: text.into(),
            finish_reason: FinishReason::Stop,
            usage: Some(Usage {
                input_tokens: 20,
                output_tokens: 5,
                cached_input_tokens: None,
                reported: false,
            }),
            model: None,
            latency_ms: 0,
            attempts: 1,
        }
    }

    #[test]
    fn yaml_round_trips_awkward_text() {
        let texts = [
            "plain",
            "{\"category\": \"billing\", \"priority\": \"high\"}",
            "two\nlines",
            "ends with newline\n",
            "ends with two\n\n",
            "```json\n{\"a\": 1}\n```",
            " leading space\nsecond",
            "tab\there",
            "a, b",
            "trailing comma,",
            "[1, 2]",
            "{a: 1}",
            "yes",
            "123",
            "null",
            "# not a comment",
            "- not a list",
            "colon: inside",
            "trailing space \nnext line ",
            "",
            "line\n\n\nwith blank lines\n  indented\nend",
            "unicode — “quotes” ✓\nsecond",
            "carriage\r\nreturn",
        ];
        let mut rec = Recording {
            source: "hand-written: tests".into(),
            prompt: "support/triage".into(),
            entries: Vec::new(),
        };
        for (i, t) in texts.iter().enumerate() {
            let mut e = Entry::new(
                &format!("case {i}"),
                "openai:gpt-4o-mini",
                "answer",
                "openai",
                None,
                &req(t),
                &resp(t),
            );
            e.latency_ms = (i % 2 == 0).then_some(i as u64);
            rec.entries.push(e);
        }
        rec.entries[0].model = Some("openai:gpt-4o".into());
        let yaml = rec.to_yaml(Path::new("evals/a.yaml"));
        let back: Recording = crate::yaml::from_str(&yaml, Path::new("x.responses.yaml"), 0)
            .unwrap_or_else(|e| panic!("{}\n{yaml}", e.message));
        assert_eq!(back, rec, "{yaml}");
        assert!(yaml.contains("    text: |-\n      two\n      lines\n"), "{yaml}");
        assert!(
            yaml.contains("    text: |-\n      {\"category\": \"billing\", \"priority\": \"high\"}\n"),
            "{yaml}"
        );
    }

    #[test]
    fn replay_finds_by_key_and_explains_misses() {
        let entry = Entry::new(
            "double charge",
            "openai:gpt-4o-mini",
            "answer",
            "openai",
            None,
            &req("refund"),
            &resp("ok"),
        );
        let rec = Recording {
            source: "test".into(),
            prompt: "p".into(),
            entries: vec![entry],
        };
        let store = ReplayStore::new(PathBuf::from("evals/a.responses.yaml"), Some(rec));
        let k = key::request_key("openai", &req("refund"));
        assert_eq!(store.get(&k).unwrap().response().text, "ok");
        let changed = req("refund now");
        assert!(store.get(&key::request_key("openai", &changed)).is_none());
        let why = store.explain(
            "openai:gpt-4o-mini",
            "double charge",
            "answer",
            &key::parts("openai", &changed),
        );
        assert_eq!(why, "the user message changed since the recording");
        let why = store.explain(
            "openai:gpt-4o-mini",
            "new case",
            "answer",
            &key::parts("openai", &changed),
        );
        assert_eq!(why, "the case has no recording");
        let why = store.explain(
            "openai:gpt-4o",
            "double charge",
            "answer",
            &key::parts("openai", &changed),
        );
        assert_eq!(why, "recorded for other targets, not openai:gpt-4o");
        let why = store.explain(
            "openai:gpt-4o-mini",
            "double charge",
            "correction 1",
            &key::parts("openai", &changed),
        );
        assert_eq!(why, "the recording has no `correction 1` call for it");
        let none = ReplayStore::new(PathBuf::from("evals/b.responses.yaml"), None);
        assert_eq!(
            none.explain("t", "c", "answer", &key::parts("openai", &changed)),
            "evals/b.responses.yaml does not exist"
        );
    }

    #[test]
    fn merge_replaces_what_ran_and_keeps_the_rest() {
        let e = |case: &str, target: &str, step: &str, text: &str| {
            Entry::new(case, target, step, "openai", None, &req(case), &resp(text))
        };
        let mut rec = Recording {
            source: "s".into(),
            prompt: "p".into(),
            entries: vec![
                e("b", "t1", "answer", "old b"),
                e("a", "t1", "answer", "old a"),
                e("a", "t2", "answer", "other target"),
                e("gone", "t1", "answer", "removed case"),
            ],
        };
        let order = |c: &str| ["a", "b"].iter().position(|x| *x == c);
        rec.merge(
            "t1",
            &|c| c == "a",
            vec![e("a", "t1", "correction 1", "new a2"), e("a", "t1", "answer", "new a")],
            &order,
        );
        let got: Vec<(&str, &str, &str)> = rec
            .entries
            .iter()
            .map(|e| (e.target.as_str(), e.case.as_str(), e.text.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("t1", "a", "new a"),
                ("t1", "a", "new a2"),
                ("t1", "b", "old b"),
                ("t2", "a", "other target"),
            ]
        );
    }

    #[test]
    fn path_sits_next_to_the_suite() {
        assert_eq!(
            path_for(Path::new("evals/support/triage.yaml")),
            Path::new("evals/support/triage.responses.yaml")
        );
        assert_eq!(path_for(Path::new("evals/x.yml")), Path::new("evals/x.responses.yaml"));
    }
}
