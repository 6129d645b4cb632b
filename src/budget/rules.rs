//! The rules `check` applies (stable codes, default severities) and the
//! `[check]` section of promptctl.toml: per-directory budgets and per-prompt
//! severity overrides.
//!
//! ```toml
//! # Limits for every prompt under prompts/support/ (front matter still wins).
//! [check.budgets."support/**"]
//! max_input_tokens = 1500
//!
//! # Downgrade or ignore a rule for some prompts; a reason is required.
//! [[check.override]]
//! code = "lint/temperature-ignored"      # a code, or a glob such as "lint/*"
//! prompts = "legacy/**"                  # optional; default: every prompt
//! severity = "warning"                   # error | warning | ignore
//! reason = "kept for the fallback model, which honours temperature"
//! ```
//!
//! Patterns match prompt names (`support/triage`): `*` stays within one path
//! segment, `**` crosses them; a pattern without glob characters matches the
//! name itself and every prompt under it as a directory.

use std::collections::BTreeMap;
use std::path::Path;

use globset::{GlobBuilder, GlobMatcher};
use serde::{Deserialize, Serialize};

use super::Budget;
use crate::error::{Error, Result, suggest};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Fails the gate (exit 1).
    Error,
    /// Reported; does not fail the gate.
    Warning,
    /// Not reported as a problem; kept in JSON and SARIF with its reason.
    Ignore,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Ignore => "ignore",
        }
    }
}

/// One rule: a stable code, its default severity and what it means.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Rule {
    pub code: &'static str,
    pub severity: Severity,
    pub summary: &'static str,
}

const fn rule(code: &'static str, severity: Severity, summary: &'static str) -> Rule {
    Rule {
        code,
        severity,
        summary,
    }
}

pub const PARSE_ERROR: &str = "parse/error";
pub const INPUT_TOKENS: &str = "budget/input-tokens";
pub const OUTPUT_CAP_MISSING: &str = "budget/output-cap-missing";
pub const OUTPUT_TOKENS: &str = "budget/output-tokens";
pub const COST_PER_CALL: &str = "budget/cost-per-call";
pub const INPUT_GROWTH: &str = "budget/input-growth";
pub const COST_GROWTH: &str = "budget/cost-growth";
pub const CONTEXT_FIT: &str = "budget/context-fit";
pub const HISTORY_UNDECLARED: &str = "budget/history-undeclared";
pub const HISTORY_FIT: &str = "budget/history-fit";
pub const UNDECLARED_VARIABLE: &str = "lint/undeclared-variable";
pub const UNUSED_VARIABLE: &str = "lint/unused-variable";
pub const MISSING_OUTPUT_SCHEMA: &str = "lint/missing-output-schema";
pub const INVALID_JSON_SCHEMA: &str = "lint/invalid-json-schema";
pub const UNKNOWN_MODEL: &str = "lint/unknown-model";
pub const TEMPERATURE_IGNORED: &str = "lint/temperature-ignored";
pub const DUPLICATE_NAME: &str = "lint/duplicate-name";
pub const RENDER_ERROR: &str = "lint/render-error";
pub const UNMATCHED_PATTERN: &str = "config/unmatched-pattern";

/// Every rule, in the order they are documented.
pub const RULES: &[Rule] = &[
    rule(
        PARSE_ERROR,
        Severity::Error,
        "the prompt or eval suite file does not parse",
    ),
    rule(
        INPUT_TOKENS,
        Severity::Error,
        "the rendered request (worst case over the samples) exceeds max_input_tokens",
    ),
    rule(
        OUTPUT_CAP_MISSING,
        Severity::Error,
        "require_output_cap is set and the prompt declares no config.max_tokens",
    ),
    rule(
        OUTPUT_TOKENS,
        Severity::Error,
        "config.max_tokens exceeds max_output_tokens or the model's output limit",
    ),
    rule(
        COST_PER_CALL,
        Severity::Error,
        "input at the rendered size plus output at the cap costs more than max_cost_per_call_usd",
    ),
    rule(
        INPUT_GROWTH,
        Severity::Error,
        "input tokens grew more than max_input_growth_pct against the base revision",
    ),
    rule(
        COST_GROWTH,
        Severity::Error,
        "cost per call grew more than max_cost_growth_pct against the base revision",
    ),
    rule(
        CONTEXT_FIT,
        Severity::Error,
        "input plus the output cap exceed the context window less context_margin_pct",
    ),
    rule(
        HISTORY_UNDECLARED,
        Severity::Error,
        "the prompt has a history variable but no max_history_turns or max_history_tokens",
    ),
    rule(
        HISTORY_FIT,
        Severity::Error,
        "at the declared history budget the request exceeds max_input_tokens or the context window",
    ),
    rule(
        UNDECLARED_VARIABLE,
        Severity::Error,
        "the template uses a variable that input.schema does not declare",
    ),
    rule(
        UNUSED_VARIABLE,
        Severity::Warning,
        "input.schema declares a variable the template never uses",
    ),
    rule(
        MISSING_OUTPUT_SCHEMA,
        Severity::Error,
        "output.format is json but no output.schema is declared",
    ),
    rule(
        INVALID_JSON_SCHEMA,
        Severity::Error,
        "input.schema or output.schema is not a valid JSON Schema",
    ),
    rule(UNKNOWN_MODEL, Severity::Error, "the model is not in the catalog"),
    rule(
        TEMPERATURE_IGNORED,
        Severity::Warning,
        "config.temperature is set on a model that ignores it",
    ),
    rule(
        DUPLICATE_NAME,
        Severity::Error,
        "two prompt files map to the same name (names differ only in case)",
    ),
    rule(
        RENDER_ERROR,
        Severity::Error,
        "the prompt does not render with its eval cases or input.default",
    ),
    rule(
        UNMATCHED_PATTERN,
        Severity::Warning,
        "a [check] pattern in promptctl.toml matches no prompt",
    ),
];

pub fn rule_for(code: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.code == code)
}

/// `[check]` in promptctl.toml.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckConfig {
    /// Budgets for the prompts a pattern matches; they override `[budget]`
    /// and are overridden by a prompt's front matter.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub budgets: BTreeMap<String, Budget>,
    /// Severity overrides, applied in order (the last match wins).
    #[serde(default, rename = "override", skip_serializing_if = "Vec::is_empty")]
    pub overrides: Vec<Override>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Patterns {
    One(String),
    Many(Vec<String>),
}

impl Patterns {
    pub fn list(&self) -> Vec<&str> {
        match self {
            Patterns::One(p) => vec![p.as_str()],
            Patterns::Many(v) => v.iter().map(String::as_str).collect(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Override {
    /// A rule code, or a glob over codes (`lint/*`).
    pub code: String,
    /// Prompt name patterns; absent: every prompt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompts: Option<Patterns>,
    pub severity: Severity,
    /// Why: shown next to every finding the override changes.
    pub reason: String,
}

/// A compiled prompt-name pattern.
#[derive(Debug, Clone)]
pub struct NamePattern {
    pub source: String,
    matcher: Option<GlobMatcher>,
}

impl NamePattern {
    pub fn new(pat: &str) -> std::result::Result<NamePattern, String> {
        let pat = pat.trim_matches('/');
        let is_glob = pat.contains(['*', '?', '[', '{']);
        let matcher = if is_glob {
            let g = GlobBuilder::new(pat)
                .literal_separator(true)
                .build()
                .map_err(|e| format!("invalid pattern '{pat}': {}", e.kind()))?;
            Some(g.compile_matcher())
        } else {
            None
        };
        Ok(NamePattern {
            source: pat.to_string(),
            matcher,
        })
    }

    pub fn matches(&self, name: &str) -> bool {
        match &self.matcher {
            Some(m) => m.is_match(name),
            None => name == self.source || name.strip_prefix(&self.source).is_some_and(|r| r.starts_with('/')),
        }
    }
}

/// `[check]` compiled: patterns ready to match, each with its line in
/// promptctl.toml for messages.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// Most general first: a later (longer) pattern overrides an earlier one.
    pub budgets: Vec<(NamePattern, Budget, Option<usize>)>,
    pub overrides: Vec<CompiledOverride>,
}

#[derive(Debug, Clone)]
pub struct CompiledOverride {
    pub code: GlobMatcher,
    pub code_source: String,
    pub prompts: Option<Vec<NamePattern>>,
    pub severity: Severity,
    pub reason: String,
    pub line: Option<usize>,
}

impl CompiledOverride {
    pub fn applies(&self, code: &str, prompt: Option<&str>) -> bool {
        if !self.code.is_match(code) {
            return false;
        }
        match (&self.prompts, prompt) {
            (None, _) => true,
            (Some(pats), Some(name)) => pats.iter().any(|p| p.matches(name)),
            (Some(_), None) => false,
        }
    }
}

impl CheckConfig {
    /// Check values serde cannot and compile the patterns. `text` is the
    /// promptctl.toml source, for line numbers.
    pub fn compile(&self, path: &Path, text: &str) -> Result<Policy> {
        let mut budgets = Vec::new();
        for (pat, b) in &self.budgets {
            let line = line_of_table(text, pat);
            let np = NamePattern::new(pat).map_err(|m| Error::at(path, line, None, format!("[check.budgets]: {m}")))?;
            if let Err((key, msg)) = b.validate() {
                let line = line_after(text, line, key).or(line);
                return Err(Error::at(
                    path,
                    line,
                    None,
                    msg.replacen("budget.", &format!("check.budgets.\"{pat}\"."), 1),
                ));
            }
            budgets.push((np, b.clone(), line));
        }
        // Least specific first; ties in name order, so the result never
        // depends on how the file is laid out.
        budgets.sort_by(|a, b| {
            a.0.source
                .len()
                .cmp(&b.0.source.len())
                .then_with(|| a.0.source.cmp(&b.0.source))
        });

        let mut overrides = Vec::new();
        for (i, o) in self.overrides.iter().enumerate() {
            let line = nth_line_of(text, "[[check.override]]", i);
            let at = |msg: String| Error::at(path, line, None, msg);
            if o.reason.trim().is_empty() {
                return Err(at("[[check.override]] needs a non-empty reason".to_string())
                    .hint("say why the rule does not apply here; the reason is shown with every finding it changes"));
            }
            let code = GlobBuilder::new(&o.code)
                .literal_separator(true)
                .build()
                .map_err(|e| at(format!("invalid code pattern '{}': {}", o.code, e.kind())))?
                .compile_matcher();
            if !RULES.iter().any(|r| code.is_match(r.code)) {
                return Err(at(format!("[[check.override]] code '{}' matches no rule", o.code))
                    .with_hint_opt(suggest(&o.code, RULES.iter().map(|r| r.code)))
                    .hint(format!(
                        "rule codes: {}",
                        RULES.iter().map(|r| r.code).collect::<Vec<_>>().join(", ")
                    )));
            }
            let prompts = match &o.prompts {
                Some(p) => Some(
                    p.list()
                        .into_iter()
                        .map(|s| NamePattern::new(s).map_err(|m| at(format!("[[check.override]] prompts: {m}"))))
                        .collect::<Result<Vec<_>>>()?,
                ),
                None => None,
            };
            overrides.push(CompiledOverride {
                code,
                code_source: o.code.clone(),
                prompts,
                severity: o.severity,
                reason: o.reason.trim().to_string(),
                line,
            });
        }
        Ok(Policy { budgets, overrides })
    }
}

impl Policy {
    /// The last override that applies to a finding, if any.
    pub fn override_for(&self, code: &str, prompt: Option<&str>) -> Option<&CompiledOverride> {
        self.overrides.iter().rev().find(|o| o.applies(code, prompt))
    }
}

/// 1-based line of the `[check.budgets."pat"]` header (or an inline key).
fn line_of_table(text: &str, pat: &str) -> Option<usize> {
    let quoted = format!("\"{pat}\"");
    let single = format!("'{pat}'");
    text.lines()
        .position(|l| {
            let t = l.trim();
            (t.starts_with('[') || t.starts_with(&quoted) || t.starts_with(&single))
                && (t.contains(&quoted) || t.contains(&single) || t.contains(&format!(".{pat}]")))
        })
        .map(|i| i + 1)
}

/// 1-based line of `key` at or after line `from`.
fn line_after(text: &str, from: Option<usize>, key: &str) -> Option<usize> {
    let start = from.unwrap_or(1).saturating_sub(1);
    text.lines()
        .enumerate()
        .skip(start)
        .find(|(_, l)| {
            let t = l.trim_start();
            t.strip_prefix(key).is_some_and(|r| r.trim_start().starts_with('='))
        })
        .map(|(i, _)| i + 1)
}

/// 1-based line of the `n`th (0-based) line equal to `header`.
fn nth_line_of(text: &str, header: &str, n: usize) -> Option<usize> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| l.trim() == header)
        .nth(n)
        .map(|(i, _)| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Policy> {
        let cfg = crate::config::Config::parse(text, Path::new("promptctl.toml"))?;
        cfg.check.compile(Path::new("promptctl.toml"), text)
    }

    #[test]
    fn rule_codes_are_unique_and_namespaced() {
        let mut codes: Vec<&str> = RULES.iter().map(|r| r.code).collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), RULES.len());
        for c in codes {
            assert!(
                ["parse/", "budget/", "lint/", "config/"]
                    .iter()
                    .any(|p| c.starts_with(p)),
                "{c}"
            );
        }
    }

    #[test]
    fn name_patterns_match_directories_and_globs() {
        let dir = NamePattern::new("support").unwrap();
        assert!(dir.matches("support"));
        assert!(dir.matches("support/triage"));
        assert!(!dir.matches("supportive/x"));
        let one = NamePattern::new("support/*").unwrap();
        assert!(one.matches("support/triage"));
        assert!(!one.matches("support/deep/triage"));
        let deep = NamePattern::new("support/**").unwrap();
        assert!(deep.matches("support/deep/triage"));
        assert!(NamePattern::new("support/[").is_err());
    }

    #[test]
    fn directory_budgets_order_from_general_to_specific() {
        let p = parse(
            "[check.budgets.\"support/triage\"]\nmax_input_tokens = 10\n\n[check.budgets.\"**\"]\nmax_input_tokens = 99\n",
        )
        .unwrap();
        let order: Vec<&str> = p.budgets.iter().map(|b| b.0.source.as_str()).collect();
        assert_eq!(order, ["**", "support/triage"]);
        assert_eq!(p.budgets[1].2, Some(1));
    }

    #[test]
    fn directory_budget_values_are_validated_with_line() {
        let err = parse("[check.budgets.support]\nmax_input_tokens = 10\nmax_cost_per_call_usd = -1\n").unwrap_err();
        assert!(err.message.starts_with("promptctl.toml:3:"), "{}", err.message);
        assert!(
            err.message.contains("check.budgets.\"support\".max_cost_per_call_usd"),
            "{}",
            err.message
        );
        let err = parse("[check.budgets.support]\nmax_input_tokenz = 10\n").unwrap_err();
        assert!(err.message.starts_with("promptctl.toml:2:"), "{}", err.message);
        assert_eq!(err.hints[0], "did you mean 'max_input_tokens'?");
    }

    #[test]
    fn overrides_need_a_reason_and_a_known_code() {
        let err = parse("[[check.override]]\ncode = \"lint/unused-variable\"\nseverity = \"ignore\"\n").unwrap_err();
        assert!(err.message.contains("reason"), "{}", err.message);
        let err =
            parse("\n[[check.override]]\ncode = \"lint/unused-variable\"\nseverity = \"ignore\"\nreason = \"  \"\n")
                .unwrap_err();
        assert!(err.message.starts_with("promptctl.toml:2:"), "{}", err.message);
        let err =
            parse("[[check.override]]\ncode = \"lint/unused-variables\"\nseverity = \"ignore\"\nreason = \"x\"\n")
                .unwrap_err();
        assert!(err.message.contains("matches no rule"), "{}", err.message);
        assert_eq!(err.hints[0], "did you mean 'lint/unused-variable'?");
        let err = parse("[[check.override]]\ncode = \"lint/*\"\nseverity = \"fatal\"\nreason = \"x\"\n").unwrap_err();
        assert!(err.message.starts_with("promptctl.toml:3:"), "{}", err.message);
    }

    #[test]
    fn the_last_matching_override_wins() {
        let p = parse(
            r#"
[[check.override]]
code = "lint/*"
severity = "warning"
reason = "all lint is advisory"

[[check.override]]
code = "lint/temperature-ignored"
prompts = ["legacy/**", "old"]
severity = "ignore"
reason = "legacy prompts keep their settings"
"#,
        )
        .unwrap();
        let o = p.override_for("lint/temperature-ignored", Some("legacy/a")).unwrap();
        assert_eq!(o.severity, Severity::Ignore);
        assert_eq!(o.line, Some(7));
        let o = p.override_for("lint/temperature-ignored", Some("new/a")).unwrap();
        assert_eq!(o.severity, Severity::Warning);
        assert!(p.override_for("budget/input-tokens", Some("legacy/a")).is_none());
        // Findings without a prompt (a broken suite file) match only overrides without `prompts`.
        assert_eq!(
            p.override_for("lint/temperature-ignored", None).unwrap().severity,
            Severity::Warning
        );
    }
}
