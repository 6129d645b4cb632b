//! Deterministic assertions on one model output.
//!
//! An eval case lists assertions under `assert:`; each is a mapping with a
//! `type`, the type's own keys, and optionally `not: true` (invert the result)
//! and `weight` (default 1; weight 0 reports the result but never fails the
//! case). Unknown types and keys are errors at load time, with the line and a
//! did-you-mean hint; so are invalid regexes, schemas and paths.
//!
//! | type | passes when |
//! |------|-------------|
//! | `contains` | the output contains `value` (case-sensitive) |
//! | `icontains` | the output contains `value`, ignoring case |
//! | `not-contains` | the output does not contain `value` |
//! | `contains-any` | the output contains at least one string of the list `value` |
//! | `contains-all` | the output contains every string of the list `value` |
//! | `equals` | a string `value`: the output, without surrounding whitespace, is exactly `value`; any other JSON `value` (number, list, mapping, true/false, null): the output parses as JSON equal to it (numbers compare by value). Quote text YAML would read otherwise: `"yes"`, `"01"` |
//! | `regex` | the regex `value` matches somewhere in the output (Rust `regex` syntax; `(?i)` for case-insensitive, `^`/`$` to anchor) |
//! | `not-regex` | the regex `value` matches nowhere in the output |
//! | `starts-with` | the output, after leading whitespace, starts with `value` |
//! | `is-json` | the whole output is one JSON document; JSON inside a markdown fence or surrounded by prose fails, and the reason says which |
//! | `json-schema` | the output is JSON (as for `is-json`) and valid against the JSON Schema `value`, or against the prompt's `output.schema` when `value` is omitted; `format` keywords are checked |
//! | `json-path` | the output is JSON and `path` exists in it; with `value`, the value there equals `value` |
//! | `max-chars` / `min-chars` | the output has at most / at least `value` characters (Unicode scalar values, whitespace included) |
//! | `max-output-tokens` | the output has at most `value` tokens: the provider's reported count, else counted with the model's tokenizer |
//! | `finish-not-length` | the output was not cut off by the output-token limit |
//! | `max-latency-ms` | the response took at most `value` milliseconds |
//! | `max-cost-usd` | the call cost at most `value` US dollars |
//! | `cites-sources` | the output cites at least one source and every citation refers to an existing source (see below) |
//! | `grounded` | at least `threshold` (default 0.6) of the answer's sentences are lexically supported by the context (see below) |
//! | `refusal` | the output is a refusal (see below); `not: true` requires that it is not |
//!
//! `json-path` accepts a subset of JSONPath: `$` followed by any number of
//! `.key` (letters, digits, `_`, `-`), `[n]` (0-based array index) and
//! `["key"]` or `['key']` (any key; `\"`, `\'` and `\\` escape). Wildcards,
//! recursive descent, slices and filters are not supported.
//!
//! **Sources.** `cites-sources` and `grounded` read the sources from a case
//! variable, named by `sources:` / `context:` (default `documents`): a list of
//! strings, or of mappings with `text` (or `content`) and an optional `id`; a
//! single string is one source.
//!
//! **Citations** (`cites-sources`) are bracketed: `[n]` is the n-th source
//! (1-based), `[id]` a source with that `id` (ids are tried before positions);
//! several may share brackets, `[1, 3]`, and footnote style `[^2]` is read as
//! `[2]`. Brackets holding anything else (`[citation needed]`, a markdown link
//! `[text](url)`) are not citations; when no source has an id, only numbers
//! are.
//!
//! **Grounding** (`grounded`) is a *lexical* measure, not a semantic one: it
//! tells an answer built from the context's words from one that brings in
//! words the context does not have, and cannot tell a faithful paraphrase
//! from a contradiction that reuses the context's words. The answer (with
//! its citation brackets removed) is split into sentences at `.`, `!` or `?`
//! followed by whitespace or the end, and at line breaks. A sentence's
//! content words are its words, lowercased, without stopwords (`the`,
//! `which`, …), without words shorter than 3 letters (numbers are always
//! kept: an invented figure is an invented fact), and without a plural `s`;
//! the context's words are read the same way. A sentence is *supported*
//! when at least half of its distinct content words occur in the context.
//! Sentences without content words are not counted. The score is supported ÷
//! counted sentences; the assertion passes when the score is at least
//! `threshold`. An answer with nothing to count fails.
//!
//! **Refusal** (`refusal`) matches, ignoring case and curly apostrophes, any of
//! [`REFUSAL_PATTERNS`]: "I can't help with", "I cannot assist", "I'm sorry,
//! but", "as an AI", "I am unable to", "I must decline", …. A bare "I cannot"
//! is deliberately not on the list: "I cannot find an order with that number"
//! is an answer, not a refusal.
//!
//! **Results.** Each assertion yields a kind (its type, `not-` prefixed when
//! negated), pass or fail, an optional score (the raw measure of `grounded`
//! and `cites-sources`, not inverted by `not`) and, on failure, a one-line
//! reason. A measurement the response lacks (no latency, no cost, no output
//! schema, a missing sources variable) fails the assertion whatever `not`
//! says: an unmeasured value proves nothing either way.
//!
//! This module evaluates; it does not call providers, read files or decide
//! suite pass rates.

mod grounding;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, LazyLock, Mutex, OnceLock};

use regex::Regex;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::catalog::TokenizerKind;
use crate::tokens::count_text;

/// The variable `cites-sources` and `grounded` read when none is named.
pub const DEFAULT_SOURCES_VAR: &str = "documents";
/// The share of supported sentences `grounded` requires when none is given.
pub const DEFAULT_GROUNDED_THRESHOLD: f64 = 0.6;

/// Phrases that mark a refusal, lowercased, with straight apostrophes.
pub const REFUSAL_PATTERNS: &[&str] = &[
    "i can't help with",
    "i cannot help with",
    "i can't help you with",
    "i cannot help you with",
    "i can't assist",
    "i cannot assist",
    "i can't provide",
    "i cannot provide",
    "i can't comply",
    "i cannot comply",
    "i can't fulfill",
    "i cannot fulfill",
    "i can't do that",
    "i cannot do that",
    "i'm sorry, but",
    "i am sorry, but",
    "i'm sorry, i can't",
    "i'm sorry, i cannot",
    "sorry, but i can't",
    "as an ai",
    "i am unable to",
    "i'm unable to",
    "i am not able to",
    "i'm not able to",
    "i must decline",
    "i won't be able to help",
    "i am not allowed to",
    "i'm not allowed to",
];

/// Every assertion type, as written in `type:`.
pub const TYPES: &[&str] = &[
    "contains",
    "icontains",
    "not-contains",
    "contains-any",
    "contains-all",
    "equals",
    "regex",
    "not-regex",
    "starts-with",
    "is-json",
    "json-schema",
    "json-path",
    "max-chars",
    "min-chars",
    "max-output-tokens",
    "finish-not-length",
    "max-latency-ms",
    "max-cost-usd",
    "cites-sources",
    "grounded",
    "refusal",
];

/// One check of an output; the module docs say when each passes. Build from
/// YAML, or directly and then [`Assertion::validate`].
#[derive(Debug, Clone)]
pub enum Check {
    Contains(String),
    Icontains(String),
    NotContains(String),
    ContainsAny(Vec<String>),
    ContainsAll(Vec<String>),
    Equals(Value),
    Regex(Pattern),
    NotRegex(Pattern),
    StartsWith(String),
    IsJson,
    /// `None`: the prompt's output schema (see [`Assertion::bind_output_schema`]).
    JsonSchema(Option<Schema>),
    JsonPath {
        path: JsonPath,
        value: Option<Value>,
    },
    MaxChars(u64),
    MinChars(u64),
    MaxOutputTokens(u64),
    FinishNotLength,
    MaxLatencyMs(u64),
    MaxCostUsd(f64),
    CitesSources {
        /// The variable holding the sources.
        sources: String,
    },
    Grounded {
        /// The variable holding the context.
        context: String,
        threshold: f64,
    },
    Refusal,
}

impl Check {
    /// The name used in `type:`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Check::Contains(_) => "contains",
            Check::Icontains(_) => "icontains",
            Check::NotContains(_) => "not-contains",
            Check::ContainsAny(_) => "contains-any",
            Check::ContainsAll(_) => "contains-all",
            Check::Equals(_) => "equals",
            Check::Regex(_) => "regex",
            Check::NotRegex(_) => "not-regex",
            Check::StartsWith(_) => "starts-with",
            Check::IsJson => "is-json",
            Check::JsonSchema(_) => "json-schema",
            Check::JsonPath { .. } => "json-path",
            Check::MaxChars(_) => "max-chars",
            Check::MinChars(_) => "min-chars",
            Check::MaxOutputTokens(_) => "max-output-tokens",
            Check::FinishNotLength => "finish-not-length",
            Check::MaxLatencyMs(_) => "max-latency-ms",
            Check::MaxCostUsd(_) => "max-cost-usd",
            Check::CitesSources { .. } => "cites-sources",
            Check::Grounded { .. } => "grounded",
            Check::Refusal => "refusal",
        }
    }
}

/// A check plus how it counts.
#[derive(Debug, Clone)]
pub struct Assertion {
    pub check: Check,
    /// Invert pass and fail.
    pub not: bool,
    /// Weight in the case score; 0 reports without gating.
    pub weight: f64,
}

impl Assertion {
    pub fn new(check: Check) -> Self {
        Assertion {
            check,
            not: false,
            weight: 1.0,
        }
    }

    /// The result's kind: the type, `not-` prefixed when negated.
    pub fn kind(&self) -> String {
        let name = self.check.type_name();
        if self.not {
            format!("not-{name}")
        } else {
            name.to_string()
        }
    }

    /// Everything that can be wrong before any output exists: bad regexes,
    /// schemas and paths (compiled here, once, and kept), empty values, out
    /// of range numbers, double negatives.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.weight.is_finite() && self.weight >= 0.0) {
            return Err(format!("`weight` must be a number ≥ 0, got {}", self.weight));
        }
        match &self.check {
            Check::NotContains(_) | Check::NotRegex(_) if self.not => {
                let positive = self.check.type_name().trim_start_matches("not-");
                return Err(format!(
                    "`not: true` on `{}` is a double negative; use `{positive}`",
                    self.check.type_name()
                ));
            }
            _ => {}
        }
        match &self.check {
            Check::Contains(v) | Check::Icontains(v) | Check::NotContains(v) | Check::StartsWith(v) if v.is_empty() => {
                Err("`value` is empty, so the check cannot fail".into())
            }
            Check::ContainsAny(list) | Check::ContainsAll(list) => {
                if list.is_empty() {
                    Err("`value` is an empty list".into())
                } else if list.iter().any(String::is_empty) {
                    Err("`value` has an empty string, which every output contains".into())
                } else {
                    Ok(())
                }
            }
            Check::Regex(p) | Check::NotRegex(p) => p.compiled().map(|_| ()),
            Check::JsonSchema(Some(s)) => s.compiled().map(|_| ()),
            Check::JsonPath { path, .. } => path.segments().map(|_| ()),
            Check::MaxCostUsd(usd) if !(usd.is_finite() && *usd >= 0.0) => {
                Err(format!("`value` must be a number of US dollars ≥ 0, got {usd}"))
            }
            Check::CitesSources { sources: var } | Check::Grounded { context: var, .. } if var.is_empty() => {
                Err("the sources variable name is empty".into())
            }
            Check::Grounded { threshold, .. } if !(0.0..=1.0).contains(threshold) => {
                Err(format!("`threshold` must be between 0 and 1, got {threshold}"))
            }
            _ => Ok(()),
        }
    }

    /// Resolve a `json-schema` without `value` to the prompt's output schema,
    /// compiling it now: an invalid prompt schema is then a load-time error,
    /// not a failure of every case. Other assertions are left alone.
    pub fn bind_output_schema(&mut self, schema: &Value) -> Result<(), String> {
        if let Check::JsonSchema(slot @ None) = &mut self.check {
            let bound = Schema::new(schema.clone());
            bound
                .compiled()
                .map_err(|e| format!("the prompt's output schema: {e}"))?;
            *slot = Some(bound);
        }
        Ok(())
    }

    pub fn evaluate(&self, obs: &Observation) -> AssertionResult {
        let kind = self.kind();
        match run(&self.check, obs) {
            Outcome::Unmeasured(reason) => AssertionResult {
                kind,
                pass: false,
                score: None,
                reason: Some(one_line(&reason)),
            },
            Outcome::Measured { pass, score, detail } => {
                let pass = pass != self.not;
                AssertionResult {
                    kind,
                    pass,
                    score,
                    reason: (!pass).then(|| one_line(&detail)),
                }
            }
        }
    }
}

/// Evaluate every assertion. The case passes when every assertion with a
/// weight above 0 passes.
pub fn evaluate_all(asserts: &[Assertion], obs: &Observation) -> (bool, Vec<AssertionResult>) {
    let results: Vec<AssertionResult> = asserts.iter().map(|a| a.evaluate(obs)).collect();
    let pass = asserts.iter().zip(&results).all(|(a, r)| r.pass || a.weight == 0.0);
    (pass, results)
}

/// The weighted share of passing assertions, in 0..=1; `None` when the
/// weights sum to 0 (nothing to score).
pub fn weighted_score(asserts: &[Assertion], results: &[AssertionResult]) -> Option<f64> {
    let total: f64 = asserts.iter().map(|a| a.weight).sum();
    let passed: f64 = asserts
        .iter()
        .zip(results)
        .filter(|(_, r)| r.pass)
        .map(|(a, _)| a.weight)
        .sum();
    (total > 0.0).then(|| passed / total)
}

/// What one response looked like: the output and what was measured of it.
#[derive(Debug, Clone, Copy)]
pub struct Observation<'a> {
    pub output: &'a str,
    /// The case's variables (sources for `cites-sources` / `grounded`).
    pub vars: &'a BTreeMap<String, Value>,
    /// Output tokens as the provider reported them.
    pub output_tokens: Option<u64>,
    /// The provider stopped because the output hit the token limit.
    pub finish_reason_length: bool,
    pub latency_ms: Option<u64>,
    pub cost_usd: Option<f64>,
    /// The prompt's `output.schema`, for `json-schema` without `value`.
    pub output_schema: Option<&'a Value>,
    /// Counts output tokens when the provider reported none.
    pub tokenizer: TokenizerKind,
}

/// The verdict of one assertion on one output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssertionResult {
    /// The assertion type, `not-` prefixed when negated.
    pub kind: String,
    pub pass: bool,
    /// The raw measure, for assertions that have one (`grounded`: share of
    /// supported sentences; `cites-sources`: share of valid citations).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// One line saying why, set on failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A regex, compiled on first use and kept.
#[derive(Clone)]
pub struct Pattern {
    source: String,
    compiled: OnceLock<Result<Regex, String>>,
}

impl Pattern {
    pub fn new(source: impl Into<String>) -> Self {
        Pattern {
            source: source.into(),
            compiled: OnceLock::new(),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }

    fn compiled(&self) -> Result<&Regex, String> {
        self.compiled
            .get_or_init(|| Regex::new(&self.source).map_err(|e| regex_error(&self.source, &e)))
            .as_ref()
            .map_err(Clone::clone)
    }
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pattern({:?})", self.source)
    }
}

/// The regex crate's syntax errors span several lines (pattern, caret,
/// message); keep the message.
fn regex_error(source: &str, e: &regex::Error) -> String {
    let text = e.to_string();
    let why = text
        .lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix("error: "))
        .unwrap_or_else(|| text.lines().next().unwrap_or("invalid"));
    format!("invalid regex {source:?}: {why}")
}

/// A JSON Schema, compiled on first use and kept.
#[derive(Clone)]
pub struct Schema {
    source: Value,
    compiled: OnceLock<Result<Arc<jsonschema::Validator>, String>>,
}

impl Schema {
    pub fn new(source: Value) -> Self {
        Schema {
            source,
            compiled: OnceLock::new(),
        }
    }

    pub fn source(&self) -> &Value {
        &self.source
    }

    fn compiled(&self) -> Result<&jsonschema::Validator, String> {
        self.compiled
            .get_or_init(|| compile_schema(&self.source))
            .as_deref()
            .map_err(Clone::clone)
    }
}

impl fmt::Debug for Schema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Schema({})", self.source)
    }
}

fn compile_schema(schema: &Value) -> Result<Arc<jsonschema::Validator>, String> {
    jsonschema::options()
        .should_validate_formats(true)
        .build(schema)
        .map(Arc::new)
        .map_err(|e| {
            let at = e.instance_path().as_str();
            let at = if at.is_empty() {
                String::new()
            } else {
                format!(" at {at}")
            };
            format!("invalid JSON Schema{at}: {}", excerpt_line(&e.to_string(), 160))
        })
}

/// Output schemas seen through [`Observation::output_schema`] (assertions
/// not bound with [`Assertion::bind_output_schema`]), compiled once each.
/// A suite tests one prompt, so a handful of entries is plenty.
static PROMPT_SCHEMAS: LazyLock<Mutex<Vec<Arc<Schema>>>> = LazyLock::new(|| Mutex::new(Vec::new()));
const PROMPT_SCHEMA_CACHE: usize = 8;

fn prompt_schema(source: &Value) -> Arc<Schema> {
    // A poisoned lock only means another thread panicked mid-push; the list
    // itself is still a valid cache.
    let mut cache = PROMPT_SCHEMAS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(s) = cache.iter().find(|s| &s.source == source) {
        return Arc::clone(s);
    }
    let schema = Arc::new(Schema::new(source.clone()));
    if cache.len() >= PROMPT_SCHEMA_CACHE {
        cache.remove(0);
    }
    cache.push(Arc::clone(&schema));
    schema
}

/// A JSONPath of the supported subset: `$`, `.key`, `[n]`, `["key"]`.
#[derive(Debug, Clone)]
pub struct JsonPath {
    source: String,
    parsed: Result<Vec<Segment>, String>,
}

#[derive(Debug, Clone, PartialEq)]
enum Segment {
    Key(String),
    Index(usize),
}

impl JsonPath {
    pub fn new(source: impl Into<String>) -> Self {
        let source = source.into();
        let parsed = parse_path(&source);
        JsonPath { source, parsed }
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }

    fn segments(&self) -> Result<&[Segment], String> {
        self.parsed.as_deref().map_err(Clone::clone)
    }

    fn lookup<'v>(&self, doc: &'v Value) -> Option<&'v Value> {
        let mut at = doc;
        for seg in self.segments().ok()? {
            at = match seg {
                Segment::Key(k) => at.as_object()?.get(k)?,
                Segment::Index(i) => at.as_array()?.get(*i)?,
            };
        }
        Some(at)
    }
}

fn parse_path(src: &str) -> Result<Vec<Segment>, String> {
    const SUBSET: &str = "supported: $.key, $[0], $[\"key\"]";
    let bad = |what: String| Err(format!("invalid json-path {src:?}: {what} ({SUBSET})"));
    let Some(rest) = src.strip_prefix('$') else {
        return bad("it must start with `$`".into());
    };
    let chars: Vec<char> = rest.chars().collect();
    let mut segs = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '.' => {
                let start = i + 1;
                let mut end = start;
                while end < chars.len() && (chars[end].is_alphanumeric() || chars[end] == '_' || chars[end] == '-') {
                    end += 1;
                }
                if end == start {
                    let what = match chars.get(start) {
                        Some('.') => "recursive descent `..` is not supported".to_string(),
                        Some('*') => "wildcards are not supported".to_string(),
                        Some(c) => format!("`{c}` cannot start a key after `.`; quote the key: [\"...\"]"),
                        None => "it ends with `.`".to_string(),
                    };
                    return bad(what);
                }
                segs.push(Segment::Key(chars[start..end].iter().collect()));
                i = end;
            }
            '[' => {
                let (seg, next) = match chars.get(i + 1) {
                    Some(q @ ('"' | '\'')) => {
                        let mut key = String::new();
                        let mut j = i + 2;
                        loop {
                            match chars.get(j) {
                                None => return bad("unclosed quoted key".into()),
                                Some('\\') => {
                                    match chars.get(j + 1) {
                                        Some(c @ ('"' | '\'' | '\\')) => key.push(*c),
                                        _ => return bad("only \\\", \\' and \\\\ escapes are supported".into()),
                                    }
                                    j += 2;
                                }
                                Some(c) if c == q => break,
                                Some(c) => {
                                    key.push(*c);
                                    j += 1;
                                }
                            }
                        }
                        (Segment::Key(key), j + 1)
                    }
                    Some(c) if c.is_ascii_digit() => {
                        let mut j = i + 1;
                        while chars.get(j).is_some_and(char::is_ascii_digit) {
                            j += 1;
                        }
                        let digits: String = chars[i + 1..j].iter().collect();
                        match digits.parse::<usize>() {
                            Ok(n) => (Segment::Index(n), j),
                            Err(_) => return bad(format!("index {digits} is too large")),
                        }
                    }
                    Some('*') => return bad("wildcards are not supported".into()),
                    Some('?') => return bad("filters are not supported".into()),
                    Some('-') => return bad("negative indexes are not supported".into()),
                    _ => return bad("expected an index or a quoted key after `[`".into()),
                };
                if chars.get(next) != Some(&']') {
                    return bad("expected `]`".into());
                }
                segs.push(seg);
                i = next + 1;
            }
            c => return bad(format!("unexpected `{c}`")),
        }
    }
    Ok(segs)
}

/// The result of running a check, before `not` applies.
enum Outcome {
    /// `detail` states the fact either way ("output contains \"x\""), so it
    /// reads as the reason whether the plain or the negated form failed.
    Measured {
        pass: bool,
        score: Option<f64>,
        detail: String,
    },
    /// The response lacks what the check needs; fails even under `not`.
    Unmeasured(String),
}

fn measured(pass: bool, detail: String) -> Outcome {
    Outcome::Measured {
        pass,
        score: None,
        detail,
    }
}

fn run(check: &Check, obs: &Observation) -> Outcome {
    let out = obs.output;
    match check {
        Check::Contains(v) | Check::NotContains(v) => {
            let found = out.contains(v.as_str());
            let detail = contains_detail(found, v);
            let wanted = matches!(check, Check::Contains(_));
            measured(found == wanted, detail)
        }
        Check::Icontains(v) => {
            let found = out.to_lowercase().contains(&v.to_lowercase());
            let detail = if found {
                format!("output contains {} (ignoring case)", excerpt(v, 60))
            } else {
                format!("output does not contain {} (ignoring case)", excerpt(v, 60))
            };
            measured(found, detail)
        }
        Check::ContainsAny(list) => match list.iter().find(|v| out.contains(v.as_str())) {
            Some(v) => measured(true, format!("output contains {}", excerpt(v, 60))),
            None => measured(false, format!("output contains none of {}", list_excerpt(list))),
        },
        Check::ContainsAll(list) => {
            let missing: Vec<String> = list.iter().filter(|v| !out.contains(v.as_str())).cloned().collect();
            if missing.is_empty() {
                measured(true, format!("output contains all of {}", list_excerpt(list)))
            } else {
                measured(false, format!("output is missing {}", list_excerpt(&missing)))
            }
        }
        Check::Equals(Value::String(v)) => {
            let got = out.trim();
            if got == v.trim() {
                measured(true, format!("output equals {}", excerpt(v, 60)))
            } else {
                measured(
                    false,
                    format!("output is {}, expected {}", excerpt(got, 60), excerpt(v, 60)),
                )
            }
        }
        Check::Equals(expected) => match parse_output_json(out) {
            Ok(doc) if json_eq(&doc, expected) => measured(true, format!("output equals {}", json_excerpt(expected))),
            Ok(doc) => measured(
                false,
                format!("output is {}, expected {}", json_excerpt(&doc), json_excerpt(expected)),
            ),
            Err(why) => measured(false, format!("{why}; expected {}", json_excerpt(expected))),
        },
        Check::Regex(p) | Check::NotRegex(p) => match p.compiled() {
            Err(e) => Outcome::Unmeasured(e),
            Ok(re) => {
                let wanted = matches!(check, Check::Regex(_));
                let found = re.find(out);
                let detail = match found {
                    Some(m) => format!("/{}/ matches {}", p.as_str(), excerpt(m.as_str(), 60)),
                    None => format!("/{}/ does not match the output", p.as_str()),
                };
                measured(found.is_some() == wanted, detail)
            }
        },
        Check::StartsWith(v) => {
            let head = out.trim_start();
            if head.starts_with(v.as_str()) {
                measured(true, format!("output starts with {}", excerpt(v, 60)))
            } else {
                let n = v.chars().count().max(20);
                let start: String = head.chars().take(n).collect();
                measured(
                    false,
                    format!("output starts with {}, not {}", excerpt(&start, n), excerpt(v, 60)),
                )
            }
        }
        Check::IsJson => match parse_output_json(out) {
            Ok(_) => measured(true, "output is JSON".into()),
            Err(why) => measured(false, why),
        },
        Check::JsonSchema(schema) => {
            let cached;
            let schema = match (schema, obs.output_schema) {
                (Some(s), _) => s,
                (None, Some(src)) => {
                    cached = prompt_schema(src);
                    &*cached
                }
                (None, None) => {
                    return Outcome::Unmeasured(
                        "json-schema has no `value` and the prompt declares no output.schema".into(),
                    );
                }
            };
            let validator = match schema.compiled() {
                Ok(v) => v,
                Err(e) => return Outcome::Unmeasured(e),
            };
            let doc = match parse_output_json(out) {
                Ok(doc) => doc,
                Err(why) => return measured(false, why),
            };
            let mut errors = validator.iter_errors(&doc);
            match errors.next() {
                None => measured(true, "output matches the schema".into()),
                Some(first) => {
                    let at = first.instance_path().as_str();
                    let at = if at.is_empty() { "the root" } else { at };
                    let first = format!("schema violation at {at}: {}", excerpt_line(&first.to_string(), 160));
                    let more = errors.count();
                    let detail = match more {
                        0 => first,
                        1 => format!("{first} (and 1 more error)"),
                        n => format!("{first} (and {n} more errors)"),
                    };
                    measured(false, detail)
                }
            }
        }
        Check::JsonPath { path, value } => {
            if let Err(e) = path.segments() {
                return Outcome::Unmeasured(e);
            }
            let doc = match parse_output_json(out) {
                Ok(doc) => doc,
                Err(why) => return measured(false, why),
            };
            let p = path.as_str();
            match (path.lookup(&doc), value) {
                (None, _) => measured(false, format!("{p} not found in the output")),
                (Some(got), None) => measured(true, format!("{p} is {}", json_excerpt(got))),
                (Some(got), Some(want)) if json_eq(got, want) => {
                    measured(true, format!("{p} is {}", json_excerpt(got)))
                }
                (Some(got), Some(want)) => measured(
                    false,
                    format!("{p} is {}, expected {}", json_excerpt(got), json_excerpt(want)),
                ),
            }
        }
        Check::MaxChars(max) => {
            let n = out.chars().count() as u64;
            measured(n <= *max, format!("output has {n} characters, limit {max}"))
        }
        Check::MinChars(min) => {
            let n = out.chars().count() as u64;
            measured(n >= *min, format!("output has {n} characters, minimum {min}"))
        }
        Check::MaxOutputTokens(max) => {
            let (n, how) = match obs.output_tokens {
                Some(n) => (n, String::new()),
                None => {
                    let n = count_text(obs.tokenizer, out);
                    let how = match obs.tokenizer {
                        TokenizerKind::O200kBase => " (counted with o200k_base)",
                        TokenizerKind::Cl100kBase => " (counted with cl100k_base)",
                        TokenizerKind::Approx => " (estimated with o200k_base)",
                    };
                    (n, how.to_string())
                }
            };
            let approx = if obs.output_tokens.is_none() && !obs.tokenizer.is_exact() {
                "≈"
            } else {
                ""
            };
            measured(n <= *max, format!("output has {approx}{n} tokens{how}, limit {max}"))
        }
        Check::FinishNotLength => {
            if obs.finish_reason_length {
                measured(
                    false,
                    "output was cut off at the output-token limit (finish reason: length)".into(),
                )
            } else {
                measured(true, "output was not cut off".into())
            }
        }
        Check::MaxLatencyMs(max) => match obs.latency_ms {
            Some(ms) => measured(ms <= *max, format!("latency {ms} ms, limit {max} ms")),
            None => Outcome::Unmeasured("no latency was measured for this response".into()),
        },
        Check::MaxCostUsd(max) => match obs.cost_usd {
            Some(usd) => measured(
                usd <= *max,
                format!("cost ${}, limit ${}", format_usd(usd), format_usd(*max)),
            ),
            None => Outcome::Unmeasured("the cost of this call is unknown (no price for the model?)".into()),
        },
        Check::CitesSources { sources } => grounding::cites_sources(out, obs.vars, sources),
        Check::Grounded { context, threshold } => grounding::grounded(out, obs.vars, context, *threshold),
        Check::Refusal => {
            let norm = out.to_lowercase().replace(['\u{2019}', '\u{2018}'], "'");
            match REFUSAL_PATTERNS.iter().find(|p| norm.contains(*p)) {
                Some(p) => measured(true, format!("output is a refusal (matched {p:?})")),
                None => measured(false, "output is not a refusal (no refusal phrase matched)".into()),
            }
        }
    }
}

fn contains_detail(found: bool, v: &str) -> String {
    if found {
        format!("output contains {}", excerpt(v, 60))
    } else {
        format!("output does not contain {}", excerpt(v, 60))
    }
}

/// Parse the whole output as one JSON document. The error says what the
/// output is instead: fenced JSON, JSON in prose, or not JSON at all.
fn parse_output_json(out: &str) -> Result<Value, String> {
    let t = out.trim();
    let err = match serde_json::from_str::<Value>(t) {
        Ok(v) => return Ok(v),
        Err(e) => e,
    };
    if t.is_empty() {
        return Err("output is empty, not JSON".into());
    }
    if let Some((before, inner, after)) = fenced(t)
        && serde_json::from_str::<Value>(inner).is_ok()
    {
        return Err(if before.is_empty() && after.is_empty() {
            "output is JSON wrapped in a markdown fence".into()
        } else {
            format!(
                "output is JSON in a markdown fence with prose around it (starts {})",
                excerpt(t, 30)
            )
        });
    }
    if let Some((start, end)) = embedded_json(t) {
        let before = &t[..start];
        let after = t[end..].trim();
        let detail = if before.is_empty() {
            format!("prose after it: {}", excerpt(after, 40))
        } else {
            format!("prose before it: {}", excerpt(before.trim(), 40))
        };
        return Err(format!("output is JSON wrapped in prose ({detail})"));
    }
    Err(format!("output is not JSON: {err}"))
}

/// The first ``` fence of `t`: (text before, fenced content, text after).
fn fenced(t: &str) -> Option<(&str, &str, &str)> {
    let open = t.find("```")?;
    let body_start = open + t[open..].find('\n')? + 1;
    let close = body_start + t[body_start..].find("```")?;
    Some((t[..open].trim(), &t[body_start..close], t[close + 3..].trim()))
}

/// A JSON object, or an array of objects, somewhere inside prose: its byte
/// range. Only the first few candidates are tried.
fn embedded_json(t: &str) -> Option<(usize, usize)> {
    t.match_indices(['{', '[']).take(8).find_map(|(start, _)| {
        let mut it = serde_json::Deserializer::from_str(&t[start..]).into_iter::<Value>();
        match it.next() {
            Some(Ok(v)) if v.is_object() || v.as_array().is_some_and(|a| a.iter().any(Value::is_object)) => {
                Some((start, start + it.byte_offset()))
            }
            _ => None,
        }
    })
}

/// JSON equality where numbers compare by value (`1` equals `1.0`).
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            x == y || matches!((x.as_f64(), y.as_f64()), (Some(p), Some(q)) if p == q)
        }
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_eq(p, q)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

/// `s` quoted, cut at `max` characters.
fn excerpt(s: &str, max: usize) -> String {
    let mut it = s.chars();
    let head: String = it.by_ref().take(max).collect();
    if it.next().is_some() {
        format!("{:?}", format!("{head}…"))
    } else {
        format!("{head:?}")
    }
}

fn list_excerpt(list: &[String]) -> String {
    let shown: Vec<String> = list.iter().take(5).map(|s| excerpt(s, 40)).collect();
    let more = list.len().saturating_sub(5);
    if more > 0 {
        format!("[{}, and {more} more]", shown.join(", "))
    } else {
        format!("[{}]", shown.join(", "))
    }
}

fn json_excerpt(v: &Value) -> String {
    let text = v.to_string();
    excerpt_line(&text, 80)
}

/// `s` on one line, cut at `max` characters (not quoted).
fn excerpt_line(s: &str, max: usize) -> String {
    let flat = s.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut it = flat.chars();
    let head: String = it.by_ref().take(max).collect();
    if it.next().is_some() {
        format!("{head}…")
    } else {
        head
    }
}

fn one_line(s: &str) -> String {
    excerpt_line(s, 400)
}

/// Dollars with enough decimals for per-call prices, without trailing zeros.
fn format_usd(x: f64) -> String {
    let s = format!("{x:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s.is_empty() { "0".into() } else { s.to_string() }
}

// --- Reading assertions from YAML -------------------------------------------

const ALL_KEYS: &[&str] = &[
    "type",
    "value",
    "path",
    "sources",
    "context",
    "threshold",
    "not",
    "weight",
];

/// Types whose `value` is one string.
const TEXT_TYPES: &[&str] = &[
    "contains",
    "icontains",
    "not-contains",
    "starts-with",
    "regex",
    "not-regex",
];

fn text_value(v: Option<String>) -> Value {
    v.map_or(Value::Null, Value::String)
}

/// The keys a type accepts, for unknown-key errors and hints.
fn keys_of(ty: &str) -> &'static [&'static str] {
    match ty {
        "is-json" | "finish-not-length" | "refusal" => &["type", "not", "weight"],
        "json-path" => &["type", "path", "value", "not", "weight"],
        "cites-sources" => &["type", "sources", "not", "weight"],
        "grounded" => &["type", "context", "threshold", "not", "weight"],
        _ => &["type", "value", "not", "weight"],
    }
}

impl<'de> Deserialize<'de> for Assertion {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(AssertionVisitor)
    }
}

struct AssertionVisitor;

impl<'de> Visitor<'de> for AssertionVisitor {
    type Value = Assertion;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an assertion: a mapping with `type`")
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Assertion, M::Error> {
        let mut ty: Option<&'static str> = None;
        let mut not = false;
        let mut weight = 1.0;
        let mut fields: Vec<(String, Value)> = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "type" => {
                    let name: String = map.next_value()?;
                    match TYPES.iter().find(|t| **t == name) {
                        Some(t) => ty = Some(t),
                        None => return Err(de::Error::unknown_variant(&name, TYPES)),
                    }
                }
                "not" => not = map.next_value()?,
                "weight" => weight = map.next_value()?,
                other => {
                    // Once the type is known, a key it does not take is
                    // reported right here, at its own line.
                    let allowed = ty.map_or(ALL_KEYS, keys_of);
                    if !allowed.contains(&other) {
                        return Err(de::Error::unknown_field(other, allowed));
                    }
                    // Text is read as written. Through a JSON value YAML's
                    // unquoted `yes` would become true and `01` the number 1.
                    let value = match (other, ty) {
                        ("value", Some(t)) if TEXT_TYPES.contains(&t) => text_value(map.next_value()?),
                        ("value", Some("contains-any" | "contains-all")) => Value::Array(
                            map.next_value::<Vec<String>>()?
                                .into_iter()
                                .map(Value::String)
                                .collect(),
                        ),
                        ("path" | "sources" | "context", _) => text_value(map.next_value()?),
                        _ => map.next_value()?,
                    };
                    fields.push((key, value));
                }
            }
        }
        let ty = ty.ok_or_else(|| de::Error::missing_field("type"))?;
        let allowed = keys_of(ty);
        if let Some((key, _)) = fields.iter().find(|(k, _)| !allowed.contains(&k.as_str())) {
            return Err(de::Error::unknown_field(key, allowed));
        }
        let check = build_check(ty, fields).map_err(|e| de::Error::custom(format!("`{ty}` assertion: {e}")))?;
        let assertion = Assertion { check, not, weight };
        assertion
            .validate()
            .map_err(|e| de::Error::custom(format!("`{ty}` assertion: {e}")))?;
        Ok(assertion)
    }
}

/// The keys other than type/not/weight, already checked against the type.
struct Fields(Vec<(String, Value)>);

impl Fields {
    fn take(&mut self, key: &str) -> Option<Value> {
        let i = self.0.iter().position(|(k, _)| k == key)?;
        Some(self.0.swap_remove(i).1)
    }

    fn require(&mut self, key: &str, what: &str) -> Result<Value, String> {
        self.take(key).ok_or_else(|| format!("missing `{key}` ({what})"))
    }
}

fn build_check(ty: &str, fields: Vec<(String, Value)>) -> Result<Check, String> {
    let mut f = Fields(fields);
    let check = match ty {
        "contains" => Check::Contains(text("value", f.require("value", "the text to find")?)?),
        "icontains" => Check::Icontains(text("value", f.require("value", "the text to find")?)?),
        "not-contains" => Check::NotContains(text("value", f.require("value", "the text that must not appear")?)?),
        "contains-any" => Check::ContainsAny(texts(f.require("value", "a list of strings")?)?),
        "contains-all" => Check::ContainsAll(texts(f.require("value", "a list of strings")?)?),
        "equals" => Check::Equals(f.require("value", "the expected output")?),
        "regex" => Check::Regex(Pattern::new(text("value", f.require("value", "a regex")?)?)),
        "not-regex" => Check::NotRegex(Pattern::new(text("value", f.require("value", "a regex")?)?)),
        "starts-with" => Check::StartsWith(text("value", f.require("value", "the expected start")?)?),
        "is-json" => Check::IsJson,
        "json-schema" => match f.take("value") {
            None => Check::JsonSchema(None),
            Some(Value::Null) => {
                return Err("`value` is empty; omit it to use the prompt's output schema".into());
            }
            Some(v @ (Value::Object(_) | Value::Bool(_))) => Check::JsonSchema(Some(Schema::new(v))),
            Some(other) => {
                return Err(format!(
                    "`value` must be a JSON Schema mapping, got {}",
                    kind_of(&other)
                ));
            }
        },
        "json-path" => Check::JsonPath {
            path: JsonPath::new(text("path", f.require("path", "e.g. $.category")?)?),
            value: f.take("value"),
        },
        "max-chars" => Check::MaxChars(count(f.require("value", "the most characters allowed")?)?),
        "min-chars" => Check::MinChars(count(f.require("value", "the fewest characters allowed")?)?),
        "max-output-tokens" => Check::MaxOutputTokens(count(f.require("value", "the most tokens allowed")?)?),
        "finish-not-length" => Check::FinishNotLength,
        "max-latency-ms" => Check::MaxLatencyMs(count(f.require("value", "the most milliseconds allowed")?)?),
        "max-cost-usd" => Check::MaxCostUsd(number(f.require("value", "the most US dollars per call")?)?),
        "cites-sources" => Check::CitesSources {
            sources: var_name(f.take("sources"))?,
        },
        "grounded" => Check::Grounded {
            context: var_name(f.take("context"))?,
            threshold: match f.take("threshold") {
                None => DEFAULT_GROUNDED_THRESHOLD,
                Some(v) => number(v).map_err(|e| e.replace("`value`", "`threshold`"))?,
            },
        },
        "refusal" => Check::Refusal,
        other => return Err(format!("unknown assertion type `{other}`")),
    };
    Ok(check)
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "true/false",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

/// A string. Scalars read before `type` went through a JSON value and lost
/// their written form, so they must be quoted.
fn text(key: &str, v: Value) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(s),
        Value::Null => Err(format!("`{key}` is empty")),
        other @ (Value::Bool(_) | Value::Number(_)) => Err(format!(
            "`{key}` must be a string, got {}; quote it (YAML reads unquoted yes, on, 01 as true/false or numbers), or write `type` first",
            kind_of(&other)
        )),
        other => Err(format!("`{key}` must be a string, got {}", kind_of(&other))),
    }
}

fn texts(v: Value) -> Result<Vec<String>, String> {
    match v {
        Value::Array(items) => items.into_iter().map(|i| text("value", i)).collect(),
        other => Err(format!("`value` must be a list of strings, got {}", kind_of(&other))),
    }
}

fn count(v: Value) -> Result<u64, String> {
    match &v {
        Value::Number(n) => n
            .as_u64()
            .ok_or_else(|| format!("`value` must be a whole number ≥ 0, got {n}")),
        other => Err(format!("`value` must be a whole number ≥ 0, got {}", kind_of(other))),
    }
}

fn number(v: Value) -> Result<f64, String> {
    match &v {
        Value::Number(n) => n.as_f64().ok_or_else(|| format!("`value` must be a number, got {n}")),
        other => Err(format!("`value` must be a number, got {}", kind_of(other))),
    }
}

fn var_name(v: Option<Value>) -> Result<String, String> {
    match v {
        None => Ok(DEFAULT_SOURCES_VAR.to_string()),
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(format!("the variable name must be a string, got {}", kind_of(&other))),
    }
}

#[cfg(test)]
mod tests;
