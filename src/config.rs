//! `promptctl.toml`: project defaults, model catalog overrides, budgets,
//! traffic assumptions. A missing file means defaults; a malformed one is an
//! input error with file:line:col.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::budget::Budget;
use crate::catalog::ModelOverride;
use crate::error::{Error, Result, suggest};

pub const FILE_NAME: &str = "promptctl.toml";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectSection {
    /// Model of prompts whose front matter names none.
    #[serde(default = "default_model")]
    pub default_model: String,
    #[serde(default = "default_prompts_dir")]
    pub prompts_dir: PathBuf,
    #[serde(default = "default_evals_dir")]
    pub evals_dir: PathBuf,
}

fn default_model() -> String {
    "openai:gpt-4o-mini".to_string()
}
fn default_prompts_dir() -> PathBuf {
    PathBuf::from("prompts")
}
fn default_evals_dir() -> PathBuf {
    PathBuf::from("evals")
}

impl Default for ProjectSection {
    fn default() -> Self {
        ProjectSection {
            default_model: default_model(),
            prompts_dir: default_prompts_dir(),
            evals_dir: default_evals_dir(),
        }
    }
}

/// Expected requests per day, for cost projections. Keys are prompt names;
/// `"*"` is the default for prompts not listed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Traffic {
    #[serde(default)]
    pub requests_per_day: BTreeMap<String, f64>,
}

impl Traffic {
    pub fn per_day(&self, prompt: &str) -> Option<f64> {
        self.requests_per_day
            .get(prompt)
            .or_else(|| self.requests_per_day.get("*"))
            .copied()
    }

    /// Projected USD per 30-day month at `cost_per_call`.
    pub fn monthly_usd(&self, prompt: &str, cost_per_call: f64) -> Option<f64> {
        self.per_day(prompt).map(|d| d * 30.0 * cost_per_call)
    }
}

/// The whole file. Later sections (eval gates, providers, release) are added
/// by the commands that own them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub project: ProjectSection,
    /// Additions and overrides of the built-in model catalog.
    #[serde(default)]
    pub models: BTreeMap<String, ModelOverride>,
    /// Project-wide budget; a prompt's `budget:` front matter overrides it.
    #[serde(default)]
    pub budget: Budget,
    #[serde(default)]
    pub traffic: Traffic,
    #[serde(default)]
    pub release: ReleaseConfig,
    /// `[providers.<id>]`: base URL, key variable, timeouts, retries, limits.
    #[serde(default, skip_serializing)]
    pub providers: BTreeMap<String, crate::provider::ProviderSettings>,
    #[serde(default)]
    pub eval: EvalSection,
    /// `check`: per-directory budgets and severity overrides.
    #[serde(default)]
    pub check: crate::budget::rules::CheckConfig,
}

/// `[release]`: how `release`, `promote`, `rollback` and `canary` act.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleaseConfig {
    /// Act without `--execute` (default: dry run).
    #[serde(default)]
    pub execute: bool,
    /// Remote that `--push` pushes to (default: origin).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<String>,
}

/// `[eval]`: defaults of `promptctl eval` (its flags override them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EvalSection {
    /// Cases in flight at once, across all suites and providers (`-j`).
    pub concurrency: usize,
    /// Corrective retries of the structured-output guard before the
    /// fallback model is tried.
    pub guard_retries: u32,
    /// Stop starting new requests once a run has spent this many US dollars.
    pub max_cost_usd: Option<f64>,
    /// `[eval.gates]`: limits of `eval --base` comparisons.
    pub gates: crate::eval::compare::Gates,
}

impl Default for EvalSection {
    fn default() -> Self {
        EvalSection {
            concurrency: 8,
            guard_retries: 2,
            max_cost_usd: None,
            gates: Default::default(),
        }
    }
}

impl Config {
    /// Parse promptctl.toml text; `path` is for messages.
    pub fn parse(text: &str, path: &Path) -> Result<Config> {
        let cfg: Config = toml::from_str(text).map_err(|e| toml_error(&e, text, path))?;
        if let Err((key, msg)) = cfg.budget.validate() {
            return Err(crate::budget::validation_error(path, text, 0, key, msg));
        }
        cfg.check.compile(path, text)?;
        for (name, v) in &cfg.traffic.requests_per_day {
            if !(v.is_finite() && *v >= 0.0) {
                return Err(crate::budget::validation_error(
                    path,
                    text,
                    0,
                    name,
                    format!("traffic.requests_per_day.{name} must be a non-negative number, got {v}"),
                ));
            }
        }
        for (id, settings) in &cfg.providers {
            settings.validate(id).map_err(|e| {
                let header = [format!("[providers.{id}]"), format!("[providers.\"{id}\"]")];
                let line = text
                    .lines()
                    .position(|l| header.iter().any(|h| l.trim() == h))
                    .map(|i| i + 1);
                Error::at(path, line, None, e.message)
            })?;
        }
        if cfg.eval.concurrency == 0 {
            return Err(crate::budget::validation_error(
                path,
                text,
                0,
                "concurrency",
                "eval.concurrency must be at least 1".into(),
            ));
        }
        if let Some(usd) = cfg.eval.max_cost_usd
            && !(usd.is_finite() && usd >= 0.0)
        {
            return Err(crate::budget::validation_error(
                path,
                text,
                0,
                "max_cost_usd",
                format!("eval.max_cost_usd must be a non-negative number, got {usd}"),
            ));
        }
        Ok(cfg)
    }

    /// Read `dir/promptctl.toml`; defaults when it does not exist.
    pub fn load(dir: &Path) -> Result<(Config, Option<PathBuf>)> {
        let path = dir.join(FILE_NAME);
        match std::fs::read(&path) {
            Ok(bytes) => {
                let text = String::from_utf8(bytes)
                    .map_err(|_| Error::at(Path::new(FILE_NAME), None, None, "file is not valid UTF-8"))?;
                Ok((Config::parse(&text, Path::new(FILE_NAME))?, Some(path)))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok((Config::default(), None)),
            Err(e) => Err(Error::io(&path, &e)),
        }
    }
}

fn toml_error(e: &toml::de::Error, text: &str, path: &Path) -> Error {
    let (line, col) = match e.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let col = before.rfind('\n').map(|i| before.len() - i).unwrap_or(before.len() + 1);
            (Some(line), Some(col))
        }
        None => (None, None),
    };
    let msg = e.message().trim().to_string();
    let mut err = Error::at(path, line, col, &msg);
    if let Some((field, expected)) = crate::yaml::unknown_field(&msg) {
        err = err.with_hint_opt(suggest(&field, expected.iter().map(String::as_str)));
    }
    err
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_is_defaults() {
        let c = Config::parse("", Path::new(FILE_NAME)).unwrap();
        assert_eq!(c, Config::default());
        assert_eq!(c.project.default_model, "openai:gpt-4o-mini");
    }

    #[test]
    fn full_file_parses() {
        let c = Config::parse(
            r#"
[project]
default_model = "openai:gpt-4.1-mini"

[models."openai:gpt-4o"]
input = 2.0

[budget]
max_input_tokens = 2000
require_output_cap = true

[traffic.requests_per_day]
"support/triage" = 50000
"*" = 100
"#,
            Path::new(FILE_NAME),
        )
        .unwrap();
        assert_eq!(c.budget.max_input_tokens, Some(2000));
        assert_eq!(c.traffic.per_day("support/triage"), Some(50000.0));
        assert_eq!(c.traffic.per_day("other"), Some(100.0));
        let m = c.traffic.monthly_usd("support/triage", 0.001).unwrap();
        assert!((m - 1500.0).abs() < 1e-9);
        assert_eq!(c.models["openai:gpt-4o"].input, Some(2.0));
    }

    #[test]
    fn unknown_key_has_line_and_hint() {
        let err = Config::parse("[budget]\nmax_input_token = 3\n", Path::new(FILE_NAME)).unwrap_err();
        assert!(err.message.starts_with("promptctl.toml:2:"), "{}", err.message);
        assert_eq!(
            err.hints.first().map(String::as_str),
            Some("did you mean 'max_input_tokens'?")
        );
    }

    #[test]
    fn negative_budget_is_rejected_with_line() {
        let err = Config::parse("[budget]\n\nmax_cost_per_call_usd = -0.5\n", Path::new(FILE_NAME)).unwrap_err();
        assert!(err.message.starts_with("promptctl.toml:3:"), "{}", err.message);
        assert!(err.message.contains("non-negative"));
    }

    #[test]
    fn wrong_type_is_rejected() {
        let err = Config::parse("[budget]\nmax_input_tokens = \"lots\"\n", Path::new(FILE_NAME)).unwrap_err();
        assert!(err.message.starts_with("promptctl.toml:2:"), "{}", err.message);
    }

    #[test]
    fn providers_and_eval_sections_parse_and_validate() {
        let c = Config::parse(
            "[eval]\nconcurrency = 4\nmax_cost_usd = 2.5\n\n[providers.openai]\nbase_url = \"http://127.0.0.1:9/v1\"\ntimeout = \"5s\"\nconcurrency = 2\n",
            Path::new(FILE_NAME),
        )
        .unwrap();
        assert_eq!(c.eval.concurrency, 4);
        assert_eq!(c.eval.guard_retries, 2);
        assert_eq!(c.eval.max_cost_usd, Some(2.5));
        let p = &c.providers["openai"];
        assert_eq!(p.timeout, std::time::Duration::from_secs(5));
        assert_eq!(p.concurrency, Some(2));

        let err = Config::parse("[providers.openai]\nmax_attempts = 0\n", Path::new(FILE_NAME)).unwrap_err();
        assert!(
            err.message
                .starts_with("promptctl.toml:1: [providers.openai] max_attempts"),
            "{}",
            err.message
        );
        let err = Config::parse("[eval]\n\nconcurrency = 0\n", Path::new(FILE_NAME)).unwrap_err();
        assert!(err.message.starts_with("promptctl.toml:3:"), "{}", err.message);
        let err = Config::parse("[eval]\njobs = 3\n", Path::new(FILE_NAME)).unwrap_err();
        assert!(err.message.starts_with("promptctl.toml:2:"), "{}", err.message);
    }
}
