//! The prompt file format: YAML front matter, role sections, Jinja templates.
//!
//! Owns parsing (`parse`), variable analysis and rendering (`render`). It
//! reads no files itself: callers hand it the bytes and the path to report.

pub mod message;
pub mod render;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::budget::Budget;
use crate::error::{Error, Result};
use message::Role;

/// Prompt files end in this.
pub const EXTENSION: &str = "prompt";

/// Sampling and output settings sent with the request (Dotprompt `config`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// The output cap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_k: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presence_penalty: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequency_penalty: Option<f64>,
    /// For reasoning models: low | medium | high.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_effort: Option<String>,
}

/// `input.schema`: a JSON Schema object, or just a list of variable names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum InputSchema {
    Names(Vec<String>),
    Schema(Value),
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<InputSchema>,
    /// Default values, used when a variable is not given; also the sample
    /// variables for token counts when no eval case exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<BTreeMap<String, Value>>,
    /// The variable holding the conversation history (a list of
    /// `{role, content}`), inserted where the body has a `history:` line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputSpec {
    #[serde(default)]
    pub format: OutputFormat,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<Value>,
}

/// The front matter. Keys follow Dotprompt where they overlap; `budget` is
/// promptctl's. Unknown keys are errors: a typo must not drop a budget.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FrontMatter {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default)]
    pub config: ModelConfig,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<InputSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<OutputSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<Budget>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    /// Fallback model for the structured-output guard.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback_model: Option<String>,
}

/// What a body section becomes in the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SectionKind {
    Message(Role),
    /// The conversation history variable's messages go here.
    History,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Section {
    pub kind: SectionKind,
    /// The template source of the section.
    pub template: String,
    /// 1-based line in the file of the template's first line.
    pub line: usize,
}

/// A parsed prompt file.
#[derive(Debug, Clone, PartialEq)]
pub struct Prompt {
    /// `support/triage` for `prompts/support/triage.prompt`.
    pub name: String,
    /// Path as reported in messages (relative to the project root).
    pub path: PathBuf,
    pub front: FrontMatter,
    pub sections: Vec<Section>,
    /// The raw file text.
    pub source: String,
    /// The sections' templates, compiled once.
    pub(crate) compiled: render::Compiled,
}

/// The history variable: declared in `input.history`, else `history` when
/// the body has a `history:` section.
fn history_var<'a>(front: &'a FrontMatter, sections: &[Section]) -> Option<&'a str> {
    let declared = front.input.as_ref().and_then(|i| i.history.as_deref());
    match declared {
        Some(v) => Some(v),
        None if sections.iter().any(|s| s.kind == SectionKind::History) => Some("history"),
        None => None,
    }
}

/// Role-like markers that are not roles: an error with a hint rather than
/// silently becoming text of the previous message.
const NEAR_ROLES: &[(&str, &str)] = &[
    ("human", "user"),
    ("developer", "system"),
    ("ai", "assistant"),
    ("bot", "assistant"),
    ("model", "assistant"),
    ("tool", ""),
    ("function", ""),
];

impl Prompt {
    /// Parse a prompt file's bytes. `name` is derived by the caller from the path.
    pub fn parse(name: &str, path: &Path, bytes: &[u8]) -> Result<Prompt> {
        Prompt::parse_like(name, path, bytes, None)
    }

    /// [`Prompt::parse`], taking the front matter from `like` when its YAML
    /// text is the same: the two sides of a diff usually share it, and the
    /// YAML is most of a parse. The same text reads to the same value; the
    /// checks that depend on this file's name and path still run.
    pub fn parse_like(name: &str, path: &Path, bytes: &[u8], like: Option<&Prompt>) -> Result<Prompt> {
        let text = std::str::from_utf8(bytes).map_err(|e| {
            let line = bytes[..e.valid_up_to()].iter().filter(|b| **b == b'\n').count() + 1;
            Error::at(path, Some(line), None, "file is not valid UTF-8").hint("save the prompt file as UTF-8")
        })?;
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let (front, body_start) = split_front_matter(text, path)?;
        let fm: FrontMatter = match front {
            Some(src) if !src.trim().is_empty() => match like.filter(|l| l.front_source() == Some(src)) {
                Some(l) => l.front.clone(),
                None => crate::yaml::from_str(src, path, 1)?,
            },
            _ => FrontMatter::default(),
        };
        if let Some(b) = &fm.budget {
            b.validate()
                .map_err(|(key, msg)| crate::budget::validation_error(path, front.unwrap_or(""), 1, key, msg))?;
        }
        if let Some(n) = &fm.name
            && n != name
        {
            let line = find_key_line(front.unwrap_or(""), "name").map(|l| l + 2);
            return Err(Error::at(
                path,
                line,
                None,
                format!("front matter name '{n}' does not match the file's prompt name '{name}'"),
            )
            .hint(
                "a prompt's name is its path under prompts/ without the extension; remove `name:` or rename the file",
            ));
        }
        if let Some(model) = &fm.model {
            crate::catalog::validate_id(model).map_err(|e| {
                let line = find_key_line(front.unwrap_or(""), "model").map(|l| l + 2);
                Error::at(path, line, None, e.message).with_hint_opt(e.hints.into_iter().next())
            })?;
        }
        let body_lines: Vec<&str> = text.lines().skip(body_start).collect();
        let sections = split_sections(&body_lines, body_start + 1, path, &fm)?;
        // Compile every template now: syntax errors belong to parsing.
        let history = history_var(&fm, &sections).map(str::to_string);
        let compiled = render::compile(path, &sections, history.as_deref(), like.map(|l| &l.compiled))?;
        Ok(Prompt {
            name: name.to_string(),
            path: path.to_path_buf(),
            front: fm,
            sections,
            source: text.to_string(),
            compiled,
        })
    }

    /// The YAML text between the `---` lines, if any.
    fn front_source(&self) -> Option<&str> {
        split_front_matter(&self.source, &self.path)
            .ok()
            .and_then(|(front, _)| front)
    }

    /// The model id, falling back to the project default.
    pub fn model<'a>(&'a self, default: &'a str) -> &'a str {
        self.front.model.as_deref().unwrap_or(default)
    }

    pub fn output_format(&self) -> OutputFormat {
        self.front.output.as_ref().map(|o| o.format).unwrap_or_default()
    }

    pub fn output_schema(&self) -> Option<&Value> {
        self.front.output.as_ref().and_then(|o| o.schema.as_ref())
    }

    pub fn history_var(&self) -> Option<&str> {
        history_var(&self.front, &self.sections)
    }

    /// Variables declared in `input.schema` (properties or names), plus the
    /// history variable. `None` when the prompt declares no inputs.
    pub fn declared_vars(&self) -> Option<BTreeSet<String>> {
        let input = self.front.input.as_ref()?;
        let mut out = BTreeSet::new();
        match &input.schema {
            Some(InputSchema::Names(names)) => out.extend(names.iter().cloned()),
            Some(InputSchema::Schema(Value::Object(obj))) => {
                if let Some(Value::Object(props)) = obj.get("properties") {
                    out.extend(props.keys().cloned());
                }
            }
            Some(InputSchema::Schema(_)) | None => {}
        }
        if let Some(h) = self.history_var() {
            out.insert(h.to_string());
        }
        Some(out)
    }

    /// Variables the schema marks required (all listed names are required).
    pub fn required_vars(&self) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        match self.front.input.as_ref().and_then(|i| i.schema.as_ref()) {
            Some(InputSchema::Names(names)) => out.extend(names.iter().cloned()),
            Some(InputSchema::Schema(Value::Object(obj))) => {
                if let Some(Value::Array(req)) = obj.get("required") {
                    out.extend(req.iter().filter_map(|v| v.as_str().map(String::from)));
                }
            }
            _ => {}
        }
        out
    }

    pub fn defaults(&self) -> BTreeMap<String, Value> {
        self.front
            .input
            .as_ref()
            .and_then(|i| i.default.clone())
            .unwrap_or_default()
    }

    /// 1-based line of a front-matter key (top-level or nested), if present.
    pub fn front_line(&self, key: &str) -> Option<usize> {
        let (front, _) = split_front_matter(&self.source, &self.path).ok()?;
        find_key_line(front?, key).map(|l| l + 2)
    }
}

/// The identity of a prompt file's content: BLAKE3 of its bytes, lowercase
/// hex. Release tags, eval notes and the export bundle all carry it.
pub fn content_hash(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}

/// Derive a prompt name from a path relative to the prompts directory.
pub fn name_from_rel_path(rel: &Path) -> Option<String> {
    let s = rel.to_str()?;
    let s = s.strip_suffix(&format!(".{EXTENSION}"))?;
    Some(s.replace('\\', "/"))
}

/// Returns the front matter source (if any) and the 0-based index of the
/// first body line.
fn split_front_matter<'a>(text: &'a str, path: &Path) -> Result<(Option<&'a str>, usize)> {
    let mut lines = text.split_inclusive('\n');
    let first = lines.next().unwrap_or("");
    if first.trim_end() != "---" {
        return Ok((None, 0));
    }
    let start = first.len();
    let mut offset = start;
    for (i, line) in lines.enumerate() {
        if line.trim_end() == "---" {
            return Ok((Some(&text[start..offset]), i + 2));
        }
        offset += line.len();
    }
    Err(Error::at(
        path,
        Some(1),
        Some(1),
        "unterminated front matter: no closing '---' line",
    )
    .hint("end the YAML front matter with a line containing only ---"))
}

/// 0-based line within `src` where `key:` appears (first occurrence).
fn find_key_line(src: &str, key: &str) -> Option<usize> {
    src.lines().position(|l| {
        let t = l.trim_start();
        t.strip_prefix(key).is_some_and(|r| r.starts_with(':'))
    })
}

fn split_sections(lines: &[&str], first_line: usize, path: &Path, fm: &FrontMatter) -> Result<Vec<Section>> {
    let mut sections: Vec<Section> = Vec::new();
    let mut current: Option<(SectionKind, usize, Vec<&str>)> = None;
    let mut saw_marker = false;
    let mut preamble: Vec<&str> = Vec::new();
    let flush = |cur: Option<(SectionKind, usize, Vec<&str>)>, out: &mut Vec<Section>| -> Result<()> {
        if let Some((kind, line, body)) = cur {
            let (template, line) = trim_blank(&body, line);
            if kind == SectionKind::History {
                if !template.trim().is_empty() {
                    return Err(Error::at(
                        path,
                        Some(line),
                        None,
                        "text after `history:`; the history section takes no text",
                    )
                    .hint("put a `user:` or `system:` line before this text"));
                }
            } else if template.trim().is_empty() {
                return Err(
                    Error::at(path, Some(line), None, format!("empty `{}:` section", kind_name(kind)))
                        .hint("write the message text below the marker, or remove the marker"),
                );
            }
            out.push(Section { kind, template, line });
        }
        Ok(())
    };
    for (i, raw) in lines.iter().enumerate() {
        let lineno = first_line + i;
        let t = raw.trim_end();
        if let Some(word) = t
            .strip_suffix(':')
            .filter(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        {
            let kind = match word {
                "history" => Some(SectionKind::History),
                w => Role::parse(w).map(SectionKind::Message),
            };
            if let Some(kind) = kind {
                if !saw_marker && preamble.iter().any(|l| !l.trim().is_empty()) {
                    let first = preamble.iter().position(|l| !l.trim().is_empty()).unwrap_or(0) + first_line;
                    return Err(Error::at(path, Some(first), None, "text before the first role marker")
                        .hint("start the body with `system:` or `user:`, or use no markers at all for a single user message"));
                }
                saw_marker = true;
                flush(current.take(), &mut sections)?;
                current = Some((kind, lineno + 1, Vec::new()));
                continue;
            }
            if let Some((_, to)) = NEAR_ROLES.iter().find(|(w, _)| *w == word) {
                let mut err = Error::at(path, Some(lineno), Some(1), format!("unknown role marker '{word}:'"));
                if !to.is_empty() {
                    err = err.hint(format!("did you mean '{to}:'?"));
                }
                return Err(
                    err.hint("role markers are system:, user:, assistant: and history:, each on a line of its own")
                );
            }
        }
        match &mut current {
            Some((_, _, body)) => body.push(raw),
            None => preamble.push(raw),
        }
    }
    if saw_marker {
        flush(current.take(), &mut sections)?;
    } else {
        let (template, line) = trim_blank(&preamble, first_line);
        if template.trim().is_empty() {
            return Err(Error::at(path, Some(first_line.max(1)), None, "the prompt has no body")
                .hint("write the prompt text after the front matter"));
        }
        sections.push(Section {
            kind: SectionKind::Message(Role::User),
            template,
            line,
        });
    }
    if sections.iter().all(|s| s.kind == SectionKind::History) {
        return Err(
            Error::at(path, Some(first_line.max(1)), None, "the prompt has no message text")
                .hint("add a `user:` section"),
        );
    }
    let histories = sections.iter().filter(|s| s.kind == SectionKind::History).count();
    if histories > 1 {
        return Err(Error::at(path, None, None, "more than one `history:` section"));
    }
    if histories == 1 && fm.input.as_ref().and_then(|i| i.history.as_ref()).is_none() {
        // Implicit variable name `history`; declared_vars() accounts for it.
    }
    Ok(sections)
}

fn kind_name(k: SectionKind) -> &'static str {
    match k {
        SectionKind::Message(r) => r.as_str(),
        SectionKind::History => "history",
    }
}

/// Drop leading and trailing blank lines; returns the text and the line of its first line.
fn trim_blank(body: &[&str], first_line: usize) -> (String, usize) {
    let start = body.iter().position(|l| !l.trim().is_empty()).unwrap_or(body.len());
    let end = body
        .iter()
        .rposition(|l| !l.trim().is_empty())
        .map(|i| i + 1)
        .unwrap_or(start);
    (body[start..end].join("\n"), first_line + start)
}

#[cfg(test)]
mod tests;
