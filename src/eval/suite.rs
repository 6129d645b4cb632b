//! Eval suite files (`evals/**/*.yaml`): which prompt they test, with which
//! providers, and the cases (variables + assertions).
//!
//! ```yaml
//! prompt: support/triage          # the prompt under test, by name
//! description: ...
//! providers: [openai:gpt-4o-mini] # default: the prompt's model
//! threshold: 0.9                  # share of case weight that must pass (default 1)
//! defaults:                       # applied to every case
//!   vars: { customer_tier: pro }
//!   assert: [{ type: is-json }]
//! cases:                          # a list, or file://cases.jsonl | .csv | .yaml
//!   - name: double charge         # default: "case N"; names are unique
//!     vars: { ticket: ... }
//!     assert: [...]
//!     weight: 2                   # default 1
//!     tags: [billing]
//! ```
//!
//! **Cases from a file.** `cases: file://PATH` (relative to the suite file)
//! reads the cases from `PATH` instead, so a suite of thousands of cases stays
//! a short file:
//! - `.jsonl`: one case per line, a JSON object with the keys of an inline
//!   case (`name`, `vars`, `assert`, `weight`, `tags`); blank lines are skipped;
//! - `.csv`: a header row; every column is a variable (values are strings),
//!   except the reserved columns `__name`, `__weight` and `__tags`
//!   (`;`-separated);
//! - `.yaml` / `.yml`: a list of cases, as inline.
//!
//! The file is checked when the suite loads (unknown keys, bad assertions,
//! duplicate names, with file:line) and read again, one case at a time, when
//! the suite runs, so a large file is never held in memory by the runner.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::io::BufRead;
use std::path::{Path, PathBuf};

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result, suggest};
use crate::eval::assert::{Assertion, Check};
use crate::project::Project;
use crate::prompt::Prompt;

/// `file://` in front of a path names a file.
pub const FILE_SCHEME: &str = "file://";
/// Reserved CSV columns.
pub const CSV_NAME: &str = "__name";
pub const CSV_WEIGHT: &str = "__weight";
pub const CSV_TAGS: &str = "__tags";

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseDefaults {
    #[serde(default)]
    pub vars: BTreeMap<String, Value>,
    #[serde(default, rename = "assert")]
    pub asserts: Vec<Assertion>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub vars: BTreeMap<String, Value>,
    #[serde(default, rename = "assert")]
    pub asserts: Vec<Assertion>,
    #[serde(default)]
    pub weight: Option<f64>,
    #[serde(default)]
    pub tags: Vec<String>,
}

impl Case {
    /// The case's name: its own, else `case N` (1-based position).
    pub fn name_or(&self, index: usize) -> String {
        match &self.name {
            Some(n) => n.clone(),
            None => format!("case {}", index + 1),
        }
    }

    pub fn weight(&self) -> f64 {
        self.weight.unwrap_or(1.0)
    }
}

/// Where a suite's cases are.
#[derive(Debug, Clone)]
pub enum Cases {
    Inline(Vec<Case>),
    File(CasesFile),
}

impl Default for Cases {
    fn default() -> Self {
        Cases::Inline(Vec::new())
    }
}

/// `cases: file://PATH`.
#[derive(Debug, Clone, PartialEq)]
pub struct CasesFile {
    /// As written after `file://`.
    pub written: String,
    /// Project-relative, once the suite is loaded (else as written).
    pub path: PathBuf,
    /// Absolute, once the suite is loaded.
    pub abs: Option<PathBuf>,
    pub format: FileFormat,
    /// Number of cases, once the file has been checked.
    pub count: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FileFormat {
    Jsonl,
    Csv,
    Yaml,
}

impl<'de> Deserialize<'de> for Cases {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Cases;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of cases, or file://PATH (.jsonl, .csv or .yaml)")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> std::result::Result<Cases, E> {
                let Some(rest) = s.strip_prefix(FILE_SCHEME) else {
                    return Err(E::custom(format!(
                        "`cases` is a list of cases or a file://PATH, got the string {s:?}"
                    )));
                };
                let format = match Path::new(rest).extension().and_then(|e| e.to_str()) {
                    Some("jsonl") => FileFormat::Jsonl,
                    Some("csv") => FileFormat::Csv,
                    Some("yaml" | "yml") => FileFormat::Yaml,
                    _ => {
                        return Err(E::custom(format!(
                            "cases file {rest:?} must end in .jsonl, .csv, .yaml or .yml"
                        )));
                    }
                };
                if rest.is_empty() {
                    return Err(E::custom("`file://` names no file"));
                }
                Ok(Cases::File(CasesFile {
                    written: rest.to_string(),
                    path: PathBuf::from(rest),
                    abs: None,
                    format,
                    count: None,
                }))
            }
            fn visit_unit<E: de::Error>(self) -> std::result::Result<Cases, E> {
                Ok(Cases::Inline(Vec::new()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Cases, A::Error> {
                let mut out = Vec::new();
                while let Some(c) = seq.next_element::<Case>()? {
                    out.push(c);
                }
                Ok(Cases::Inline(out))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Suite {
    /// The prompt under test, by name.
    pub prompt: String,
    #[serde(default)]
    pub description: Option<String>,
    /// Providers to run (`openai:gpt-4o-mini`, `echo`, `replay`); default: the prompt's model.
    #[serde(default)]
    pub providers: Vec<String>,
    /// Fraction of weighted cases that must pass (default 1.0).
    #[serde(default)]
    pub threshold: Option<f64>,
    #[serde(default)]
    pub defaults: CaseDefaults,
    #[serde(default)]
    pub cases: Cases,
    /// Models `eval --models` compares when given none.
    #[serde(default)]
    pub models: Vec<String>,
    /// Overrides of `[eval.gates]` for `eval --base`.
    #[serde(default)]
    pub gates: Option<crate::eval::compare::Gates>,
}

/// A suite file read from disk.
#[derive(Debug, Clone)]
pub struct SuiteFile {
    /// Project-relative path.
    pub path: PathBuf,
    pub suite: Suite,
}

impl Suite {
    /// Parse the suite's YAML. A `file://` cases file is not read here; see
    /// [`SuiteFile::load`].
    pub fn parse(text: &str, path: &Path) -> Result<Suite> {
        let suite: Suite = crate::yaml::from_str(text, path, 0)?;
        if let Some(t) = suite.threshold
            && !(0.0..=1.0).contains(&t)
        {
            return Err(Error::at(
                path,
                line_of(text, "threshold"),
                None,
                format!("threshold must be between 0 and 1, got {t}"),
            ));
        }
        if let Cases::Inline(cases) = &suite.cases {
            let mut seen = HashSet::new();
            for (i, c) in cases.iter().enumerate() {
                check_weight(c, i).map_err(|m| Error::at(path, case_line(text, c, i), None, m))?;
                let name = c.name_or(i);
                if !seen.insert(name.clone()) {
                    return Err(duplicate(path, case_line(text, c, i), &name));
                }
            }
        }
        Ok(suite)
    }

    pub fn threshold(&self) -> f64 {
        self.threshold.unwrap_or(1.0)
    }

    /// Number of cases (for a file, as counted when it was checked).
    pub fn case_count(&self) -> usize {
        match &self.cases {
            Cases::Inline(c) => c.len(),
            Cases::File(f) => f.count.unwrap_or(0),
        }
    }

    /// Every case in order, read lazily from a cases file.
    pub fn iter_cases(&self) -> Result<CaseIter<'_>> {
        match &self.cases {
            Cases::Inline(c) => Ok(CaseIter::Inline(c.iter().enumerate())),
            Cases::File(f) => Ok(CaseIter::File(FileCases::open(f)?)),
        }
    }

    /// Each case's variables: suite defaults overlaid by the case's own.
    /// Cases that cannot be read (a file changed since loading) are left out.
    pub fn case_vars(&self) -> Vec<BTreeMap<String, Value>> {
        let Ok(iter) = self.iter_cases() else {
            return Vec::new();
        };
        iter.filter_map(|c| c.ok())
            .map(|(_, c)| {
                let mut v = self.defaults.vars.clone();
                v.extend(c.vars);
                v
            })
            .collect()
    }

    /// Check the suite against the prompt it tests: a `json-schema` without
    /// `value` needs the prompt's `output.schema`, which must compile.
    /// `path` is the suite file, for the message.
    pub fn check_against(&self, prompt: &Prompt, path: &Path) -> Result<()> {
        let unbound = |a: &Assertion| matches!(a.check, Check::JsonSchema(None));
        let mut needs_schema = self.defaults.asserts.iter().any(unbound);
        if !needs_schema && let Cases::Inline(cases) = &self.cases {
            needs_schema = cases.iter().any(|c| c.asserts.iter().any(unbound));
        }
        if !needs_schema {
            return Ok(());
        }
        match prompt.output_schema() {
            None => Err(Error::at(
                path,
                None,
                None,
                format!(
                    "a json-schema assertion has no `value`, and the prompt '{}' declares no output.schema",
                    prompt.name
                ),
            )
            .hint(format!(
                "give the assertion a `value`, or declare output.schema in {}",
                prompt.path.display()
            ))),
            Some(schema) => {
                let mut probe = Assertion::new(Check::JsonSchema(None));
                probe
                    .bind_output_schema(schema)
                    .map_err(|e| Error::at(&prompt.path, prompt.front_line("schema"), None, e))
            }
        }
    }

    /// The default assertions with `json-schema` bound to the prompt's
    /// output schema (compiled once for every case).
    pub fn bound_defaults(&self, prompt: &Prompt) -> Vec<Assertion> {
        let mut out = self.defaults.asserts.clone();
        if let Some(schema) = prompt.output_schema() {
            for a in &mut out {
                // check_against has compiled this schema already.
                let _ = a.bind_output_schema(schema);
            }
        }
        out
    }
}

impl SuiteFile {
    /// Read and check the suite at the project-relative `path`, including
    /// its cases file.
    pub fn load(root: &Path, path: &Path) -> Result<SuiteFile> {
        let abs = root.join(path);
        let text = std::fs::read_to_string(&abs).map_err(|e| Error::io(path, &e))?;
        let mut suite = Suite::parse(&text, path)?;
        if let Cases::File(f) = &mut suite.cases {
            let dir = path.parent().unwrap_or(Path::new(""));
            f.path = normalize(&dir.join(&f.written));
            f.abs = Some(root.join(&f.path));
            let count = check_file(f).map_err(|e| {
                if e.message.starts_with(&f.path.display().to_string()) {
                    e
                } else {
                    e.context(format!("{} (cases: file://{})", path.display(), f.written))
                }
            })?;
            f.count = Some(count);
        }
        Ok(SuiteFile {
            path: path.to_path_buf(),
            suite,
        })
    }
}

/// Cases in order, with their 0-based index.
pub enum CaseIter<'a> {
    Inline(std::iter::Enumerate<std::slice::Iter<'a, Case>>),
    File(FileCases),
}

impl Iterator for CaseIter<'_> {
    type Item = Result<(usize, Case)>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            CaseIter::Inline(it) => it.next().map(|(i, c)| Ok((i, c.clone()))),
            CaseIter::File(f) => f.next(),
        }
    }
}

/// Cases read one at a time from a cases file.
pub struct FileCases {
    path: PathBuf,
    index: usize,
    inner: FileInner,
}

enum FileInner {
    Lines {
        reader: std::io::BufReader<std::fs::File>,
        line: usize,
        buf: String,
    },
    Csv {
        reader: csv::Reader<std::fs::File>,
        header: Vec<String>,
    },
    Yaml(std::vec::IntoIter<Case>),
}

impl FileCases {
    fn open(f: &CasesFile) -> Result<FileCases> {
        let abs = f.abs.clone().unwrap_or_else(|| f.path.clone());
        let file = std::fs::File::open(&abs).map_err(|e| Error::io(&f.path, &e))?;
        let inner = match f.format {
            FileFormat::Jsonl => FileInner::Lines {
                reader: std::io::BufReader::new(file),
                line: 0,
                buf: String::new(),
            },
            FileFormat::Csv => {
                let mut reader = csv::ReaderBuilder::new().flexible(false).from_reader(file);
                let header: Vec<String> = reader
                    .headers()
                    .map_err(|e| csv_error(&f.path, &e))?
                    .iter()
                    .map(str::to_string)
                    .collect();
                if header.iter().all(|h| h.starts_with("__")) {
                    return Err(
                        Error::at(&f.path, Some(1), None, "the header names no variable column").hint(
                            "the first row names the columns: one per variable, plus optional __name, __weight, __tags",
                        ),
                    );
                }
                for h in &header {
                    if h.starts_with("__") && ![CSV_NAME, CSV_WEIGHT, CSV_TAGS].contains(&h.as_str()) {
                        let err = Error::at(&f.path, Some(1), None, format!("unknown reserved column '{h}'"));
                        return Err(err
                            .with_hint_opt(suggest(h, [CSV_NAME, CSV_WEIGHT, CSV_TAGS]))
                            .hint("columns starting with __ are reserved: __name, __weight, __tags"));
                    }
                }
                FileInner::Csv { reader, header }
            }
            FileFormat::Yaml => {
                let text = std::fs::read_to_string(&abs).map_err(|e| Error::io(&f.path, &e))?;
                let cases: Vec<Case> = crate::yaml::from_str(&text, &f.path, 0)?;
                FileInner::Yaml(cases.into_iter())
            }
        };
        Ok(FileCases {
            path: f.path.clone(),
            index: 0,
            inner,
        })
    }

    fn next_case(&mut self) -> Option<Result<(usize, Case)>> {
        let path = &self.path;
        let (case, line) = match &mut self.inner {
            FileInner::Lines { reader, line, buf } => loop {
                buf.clear();
                match reader.read_line(buf) {
                    Ok(0) => return None,
                    Ok(_) => {
                        *line += 1;
                        let t = buf.trim();
                        if t.is_empty() {
                            continue;
                        }
                        match serde_json::from_str::<Case>(t) {
                            Ok(c) => break (c, Some(*line)),
                            Err(e) => return Some(Err(json_error(path, *line, &e))),
                        }
                    }
                    Err(e) => return Some(Err(Error::io(path, &e))),
                }
            },
            FileInner::Csv { reader, header } => {
                let mut rec = csv::StringRecord::new();
                match reader.read_record(&mut rec) {
                    Ok(false) => return None,
                    Ok(true) => {}
                    Err(e) => return Some(Err(csv_error(path, &e))),
                }
                let line = rec.position().map(|p| p.line() as usize);
                match csv_case(header, &rec) {
                    Ok(c) => (c, line),
                    Err(m) => return Some(Err(Error::at(path, line, None, m))),
                }
            }
            FileInner::Yaml(it) => (it.next()?, None),
        };
        let index = self.index;
        self.index += 1;
        if let Err(m) = check_weight(&case, index) {
            return Some(Err(Error::at(path, line, None, m)));
        }
        Some(Ok((index, case)))
    }
}

impl Iterator for FileCases {
    type Item = Result<(usize, Case)>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_case()
    }
}

/// Read the whole cases file once: every case parses, names are unique.
/// Returns the number of cases. Keeps 8 bytes per case (a name hash).
fn check_file(f: &CasesFile) -> Result<usize> {
    let mut seen: HashSet<u64> = HashSet::new();
    let mut n = 0;
    for item in FileCases::open(f)? {
        let (i, case) = item?;
        let name = case.name_or(i);
        if !seen.insert(name_hash(&name)) {
            return Err(duplicate(&f.path, None, &name));
        }
        n += 1;
    }
    Ok(n)
}

fn name_hash(name: &str) -> u64 {
    let h = blake3::hash(name.as_bytes());
    let mut b = [0u8; 8];
    b.copy_from_slice(&h.as_bytes()[..8]);
    u64::from_le_bytes(b)
}

fn csv_case(header: &[String], rec: &csv::StringRecord) -> std::result::Result<Case, String> {
    let mut case = Case::default();
    for (h, v) in header.iter().zip(rec.iter()) {
        match h.as_str() {
            CSV_NAME => case.name = (!v.is_empty()).then(|| v.to_string()),
            CSV_WEIGHT => {
                if !v.trim().is_empty() {
                    case.weight = Some(
                        v.trim()
                            .parse::<f64>()
                            .map_err(|_| format!("__weight must be a number, got {v:?}"))?,
                    );
                }
            }
            CSV_TAGS => {
                case.tags = v
                    .split(';')
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(str::to_string)
                    .collect()
            }
            var => {
                case.vars.insert(var.to_string(), Value::String(v.to_string()));
            }
        }
    }
    Ok(case)
}

fn csv_error(path: &Path, e: &csv::Error) -> Error {
    let line = e.position().map(|p| p.line() as usize);
    let msg = match e.kind() {
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
            format!("row has {len} fields, the header has {expected_len}")
        }
        csv::ErrorKind::Utf8 { .. } => "not valid UTF-8".to_string(),
        _ => e.to_string(),
    };
    Error::at(path, line, None, format!("invalid CSV: {msg}"))
}

fn json_error(path: &Path, line: usize, e: &serde_json::Error) -> Error {
    let msg = e.to_string();
    let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
    let mut err = Error::at(path, Some(line), Some(e.column()), &msg);
    if let Some((field, expected)) = crate::yaml::unknown_field(&msg) {
        err = err.with_hint_opt(suggest(&field, expected.iter().map(String::as_str)));
    }
    err.hint("each line of a .jsonl cases file is one case: {\"name\": ..., \"vars\": {...}, \"assert\": [...]}")
}

fn check_weight(c: &Case, i: usize) -> std::result::Result<(), String> {
    match c.weight {
        Some(w) if !(w.is_finite() && w >= 0.0) => Err(format!(
            "case '{}': weight must be a non-negative number, got {w}",
            c.name_or(i)
        )),
        _ => Ok(()),
    }
}

fn duplicate(path: &Path, line: Option<usize>, name: &str) -> Error {
    Error::at(path, line, None, format!("two cases are named '{name}'"))
        .hint("case names key recordings and results; give each case its own name")
}

/// `a/./b/../c` → `a/c`, without touching the file system.
fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out
}

fn line_of(text: &str, key: &str) -> Option<usize> {
    text.lines()
        .position(|l| l.trim_start().strip_prefix(key).is_some_and(|r| r.starts_with(':')))
        .map(|i| i + 1)
}

/// The line of an inline case: its `name:` line when it has a name.
fn case_line(text: &str, c: &Case, _index: usize) -> Option<usize> {
    let name = c.name.as_deref()?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| {
            let t = l.trim_start().trim_start_matches("- ");
            t.strip_prefix("name:")
                .is_some_and(|r| r.trim().trim_matches(['"', '\'']) == name)
        })
        .map(|(i, _)| i + 1)
        .last()
}

/// Load every suite of the project. Unparseable suites are errors.
pub fn load_all(project: &Project) -> Result<Vec<SuiteFile>> {
    project
        .suite_paths()?
        .into_iter()
        .map(|path| SuiteFile::load(&project.root, &path))
        .collect()
}

/// Suites testing `prompt`.
pub fn for_prompt<'a>(suites: &'a [SuiteFile], prompt: &str) -> Vec<&'a SuiteFile> {
    suites
        .iter()
        .filter(|s| crate::project::normalize_name(&s.suite.prompt) == prompt)
        .collect()
}

#[cfg(test)]
mod tests;
