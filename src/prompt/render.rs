//! Rendering a prompt's templates into chat messages.
//!
//! Jinja syntax (minijinja) with strict undefined: a missing variable is an
//! error naming the variable, the prompt and the line. Variable values are
//! data: they are inserted as text and never parsed as templates.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use minijinja::{Environment, UndefinedBehavior};
use serde_json::Value;

use super::message::{Message, Role};
use super::{Prompt, Section, SectionKind};
use crate::error::{Error, Result};

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env
}

fn template_error(path: &Path, section: &Section, e: &minijinja::Error) -> Error {
    let line = e.line().map(|l| section.line + l.saturating_sub(1));
    let detail = e.detail().map(|d| format!(": {d}")).unwrap_or_default();
    let what = match e.kind() {
        minijinja::ErrorKind::SyntaxError => "template syntax error",
        minijinja::ErrorKind::UndefinedError => "undefined value in template",
        _ => "template error",
    };
    Error::at(path, line, None, format!("{what}{detail}"))
}

/// A prompt's templates, compiled once when the prompt is parsed, and the
/// variables they read. Parsing, listing the variables and rendering any
/// number of eval cases share this one compilation.
#[derive(Clone)]
pub struct Compiled(Arc<CompiledInner>);

struct CompiledInner {
    /// Per section: its compiled template (`None`: the history section).
    sections: Vec<Option<Arc<SectionTemplate>>>,
    used: BTreeMap<String, usize>,
}

/// One section's template, compiled on its own, so that another version of
/// the prompt with the same section text (the other side of a diff) shares
/// it instead of compiling it again.
struct SectionTemplate {
    source: String,
    env: Environment<'static>,
    /// Top-level variables it reads, with the 0-based line of the first use.
    vars: Vec<(String, Option<usize>)>,
}

/// The template's name in its section's environment (no other template is
/// there: a section cannot include another).
const TEMPLATE: &str = "section";

impl PartialEq for Compiled {
    /// A function of the sections, which the prompt compares itself.
    fn eq(&self, _: &Compiled) -> bool {
        true
    }
}

impl std::fmt::Debug for Compiled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compiled")
            .field("used", &self.0.used)
            .finish_non_exhaustive()
    }
}

/// Compile every section; the first syntax error is reported with its file
/// line. `history_var` is the prompt's history variable, if any. A section
/// whose text is that of a section of `like` shares its compiled template.
pub(super) fn compile(
    path: &Path,
    sections: &[Section],
    history_var: Option<&str>,
    like: Option<&Compiled>,
) -> Result<Compiled> {
    let mut compiled = Vec::with_capacity(sections.len());
    for s in sections {
        compiled.push(match s.kind {
            SectionKind::Message(_) => {
                let same = like.and_then(|l| l.0.sections.iter().flatten().find(|t| t.source == s.template));
                Some(match same {
                    Some(t) => Arc::clone(t),
                    None => Arc::new(compile_section(path, s)?),
                })
            }
            SectionKind::History => None,
        });
    }
    let mut used = BTreeMap::new();
    for (s, t) in sections.iter().zip(&compiled) {
        for (var, first) in t.iter().flat_map(|t| &t.vars) {
            let line = first.map(|l| s.line + l).unwrap_or(s.line);
            used.entry(var.clone())
                .and_modify(|l: &mut usize| *l = (*l).min(line))
                .or_insert(line);
        }
    }
    if let Some(h) = history_var
        && let Some(s) = sections.iter().find(|s| s.kind == SectionKind::History)
    {
        used.entry(h.to_string()).or_insert(s.line.saturating_sub(1).max(1));
    }
    Ok(Compiled(Arc::new(CompiledInner {
        sections: compiled,
        used,
    })))
}

/// Whether section `i` of `a` and section `j` of `b` are one compiled
/// template.
#[cfg(test)]
pub(super) fn shared(a: &Compiled, i: usize, b: &Compiled, j: usize) -> bool {
    match (&a.0.sections[i], &b.0.sections[j]) {
        (Some(x), Some(y)) => Arc::ptr_eq(x, y),
        _ => false,
    }
}

fn compile_section(path: &Path, s: &Section) -> Result<SectionTemplate> {
    let mut env = environment();
    env.add_template_owned(TEMPLATE, s.template.clone())
        .map_err(|e| template_error(path, s, &e))?;
    let vars = env
        .get_template(TEMPLATE)
        .map_err(|e| template_error(path, s, &e))?
        .undeclared_variables(false)
        .into_iter()
        .map(|var| {
            let first = first_use_line(&s.template, &var);
            (var, first)
        })
        .collect();
    Ok(SectionTemplate {
        source: s.template.clone(),
        env,
        vars,
    })
}

/// Top-level variables each section's template reads, with the line of the
/// first use.
pub fn used_vars(prompt: &Prompt) -> &BTreeMap<String, usize> {
    &prompt.compiled.0.used
}

/// 0-based line of the first `{{ ... var ... }}` or `{% ... var ... %}` use.
fn first_use_line(src: &str, var: &str) -> Option<usize> {
    src.lines().position(|l| {
        let mut rest = l;
        while let Some(i) = rest.find(var) {
            let before = rest[..i].chars().last();
            let after = rest[i + var.len()..].chars().next();
            let boundary = |c: Option<char>| c.is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
            if boundary(before) && boundary(after) && (l.contains("{{") || l.contains("{%")) {
                return true;
            }
            rest = &rest[i + var.len()..];
        }
        false
    })
}

/// Render the prompt with `vars` (defaults from `input.default` fill gaps).
pub fn render(prompt: &Prompt, vars: &BTreeMap<String, Value>) -> Result<Vec<Message>> {
    Renderer::new(prompt).render(vars)
}

/// Renders a prompt's compiled templates with many variable sets (eval
/// cases); the defaults are merged once.
pub struct Renderer<'p> {
    prompt: &'p Prompt,
    defaults: BTreeMap<String, Value>,
}

impl<'p> Renderer<'p> {
    pub fn new(prompt: &'p Prompt) -> Renderer<'p> {
        Renderer {
            prompt,
            defaults: prompt.defaults(),
        }
    }

    /// See [`render`].
    pub fn render(&self, vars: &BTreeMap<String, Value>) -> Result<Vec<Message>> {
        let prompt = self.prompt;
        let compiled = &prompt.compiled.0;
        let mut ctx = self.defaults.clone();
        ctx.extend(vars.iter().map(|(k, v)| (k.clone(), v.clone())));

        let missing: Vec<(&String, &usize)> = compiled.used.iter().filter(|(v, _)| !ctx.contains_key(*v)).collect();
        if let Some((var, line)) = missing.first() {
            let others: Vec<&str> = missing.iter().skip(1).map(|(v, _)| v.as_str()).collect();
            let mut err = Error::at(
                &prompt.path,
                Some(**line),
                None,
                format!("missing variable '{var}' for prompt '{}'", prompt.name),
            );
            if !others.is_empty() {
                err = err.hint(format!("also missing: {}", others.join(", ")));
            }
            return Err(err.hint(format!("pass it with --var {var}=VALUE or --vars FILE (YAML or JSON)")));
        }

        let mut messages = Vec::with_capacity(prompt.sections.len());
        for (i, s) in prompt.sections.iter().enumerate() {
            match s.kind {
                SectionKind::Message(role) => {
                    let section = compiled.sections[i]
                        .as_ref()
                        .ok_or_else(|| Error::at(&prompt.path, Some(s.line), None, "section was not compiled"))?;
                    let t = section
                        .env
                        .get_template(TEMPLATE)
                        .map_err(|e| template_error(&prompt.path, s, &e))?;
                    let text = t
                        .render(minijinja::value::Serde(&ctx))
                        .map_err(|e| template_error(&prompt.path, s, &e))?;
                    messages.push(Message::new(role, text.trim()));
                }
                SectionKind::History => {
                    let var = prompt.history_var().unwrap_or("history");
                    let value = ctx.get(var).cloned().unwrap_or(Value::Null);
                    messages.extend(history_messages(prompt, s.line, var, &value)?);
                }
            }
        }
        Ok(messages)
    }
}

/// The bare template as messages: each section's source text, history empty.
/// Used for token counts when no sample variables exist.
pub fn bare(prompt: &Prompt) -> Vec<Message> {
    prompt
        .sections
        .iter()
        .filter_map(|s| match s.kind {
            SectionKind::Message(role) => Some(Message::new(role, s.template.clone())),
            SectionKind::History => None,
        })
        .collect()
}

fn history_messages(prompt: &Prompt, line: usize, var: &str, value: &Value) -> Result<Vec<Message>> {
    let bad = |what: String| {
        Error::at(
            &prompt.path,
            Some(line.saturating_sub(1).max(1)),
            None,
            format!("history variable '{var}': {what}"),
        )
        .hint("history is a list of {role: user|assistant|system, content: text}")
    };
    let Value::Array(items) = value else {
        return Err(bad(format!("expected a list, got {}", json_type(value))));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let role = item.get("role").and_then(Value::as_str).and_then(Role::parse);
            let content = item.get("content").and_then(Value::as_str);
            match (role, content) {
                (Some(r), Some(c)) => Ok(Message::new(r, c)),
                _ => Err(bad(format!(
                    "item {i} needs a role (user, assistant, system) and a text content"
                ))),
            }
        })
        .collect()
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

/// Declared-but-unused and used-but-undeclared variables (only when the
/// prompt declares its inputs).
pub fn variable_mismatches(prompt: &Prompt) -> (Vec<(String, usize)>, Vec<String>) {
    let Some(declared) = prompt.declared_vars() else {
        return (Vec::new(), Vec::new());
    };
    let used = used_vars(prompt);
    let undeclared = used
        .iter()
        .filter(|(v, _)| !declared.contains(*v))
        .map(|(v, l)| (v.clone(), *l))
        .collect();
    let used_names: BTreeSet<&String> = used.keys().collect();
    let unused = declared.iter().filter(|v| !used_names.contains(v)).cloned().collect();
    (undeclared, unused)
}
