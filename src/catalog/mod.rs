//! The model catalog: tokenizer, context window, output limit and prices per
//! `provider:model`, from a dated data file compiled into the binary, plus the
//! additions and overrides of `promptctl.toml`.
//!
//! It owns lookups and prices; it must not count tokens (see `tokens`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, suggest};

/// The built-in catalog: `DATE` and `MODELS`, written by build.rs from
/// models.toml (which stays the source of truth).
mod builtin {
    use super::{ModelInfo, TokenizerKind};
    include!(concat!(env!("OUT_DIR"), "/models.rs"));
}

/// How tokens of a model are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenizerKind {
    /// OpenAI's o200k_base: exact.
    O200kBase,
    /// OpenAI's cl100k_base: exact.
    Cl100kBase,
    /// No public tokenizer: counted with o200k_base, reported as an estimate.
    Approx,
}

impl TokenizerKind {
    pub fn is_exact(self) -> bool {
        !matches!(self, TokenizerKind::Approx)
    }
}

/// One model's limits and list prices (USD per 1M tokens).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelInfo {
    pub tokenizer: TokenizerKind,
    pub context_window: u64,
    pub max_output_tokens: u64,
    /// USD per 1M input tokens.
    pub input: f64,
    /// USD per 1M cached input tokens, where the provider has a cache price.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_input: Option<f64>,
    /// USD per 1M output tokens.
    pub output: f64,
    /// Reasoning models that reject or ignore `temperature`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ignores_temperature: bool,
}

/// An override in promptctl.toml: every field optional, merged onto the
/// built-in entry (or a complete new entry for an unknown model).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelOverride {
    pub tokenizer: Option<TokenizerKind>,
    pub context_window: Option<u64>,
    pub max_output_tokens: Option<u64>,
    pub input: Option<f64>,
    pub cached_input: Option<f64>,
    pub output: Option<f64>,
    pub ignores_temperature: Option<bool>,
}

/// models.toml as serde reads it (the test that checks build.rs's table).
#[cfg(test)]
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    date: String,
    models: BTreeMap<String, ModelInfo>,
}

#[derive(Debug, Clone)]
pub struct Catalog {
    /// The date the built-in prices were read (shown next to every cost).
    pub date: String,
    models: BTreeMap<String, ModelInfo>,
    /// Models whose entry came from or was changed by promptctl.toml.
    overridden: Vec<String>,
}

/// A resolved model: its id and catalog entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    pub id: String,
    pub info: ModelInfo,
}

impl Catalog {
    /// The catalog compiled into the binary.
    pub fn builtin() -> Catalog {
        Catalog {
            date: builtin::DATE.to_string(),
            models: builtin::MODELS
                .iter()
                .map(|(id, info)| (id.to_string(), info.clone()))
                .collect(),
            overridden: Vec::new(),
        }
    }

    /// The built-in catalog with promptctl.toml's `[models]` merged in.
    pub fn with_overrides(overrides: &BTreeMap<String, ModelOverride>) -> Result<Catalog> {
        let mut cat = Catalog::builtin();
        for (id, o) in overrides {
            validate_id(id).map_err(|e| e.context("promptctl.toml [models]"))?;
            let merged = match cat.models.get(id) {
                Some(base) => ModelInfo {
                    tokenizer: o.tokenizer.unwrap_or(base.tokenizer),
                    context_window: o.context_window.unwrap_or(base.context_window),
                    max_output_tokens: o.max_output_tokens.unwrap_or(base.max_output_tokens),
                    input: o.input.unwrap_or(base.input),
                    cached_input: o.cached_input.or(base.cached_input),
                    output: o.output.unwrap_or(base.output),
                    ignores_temperature: o.ignores_temperature.unwrap_or(base.ignores_temperature),
                },
                None => {
                    let missing: Vec<&str> = [
                        ("context_window", o.context_window.is_none()),
                        ("max_output_tokens", o.max_output_tokens.is_none()),
                        ("input", o.input.is_none()),
                        ("output", o.output.is_none()),
                    ]
                    .into_iter()
                    .filter(|(_, m)| *m)
                    .map(|(k, _)| k)
                    .collect();
                    if !missing.is_empty() {
                        return Err(Error::input(format!(
                            "promptctl.toml: [models.\"{id}\"] is not in the built-in catalog and lacks {}",
                            missing.join(", ")
                        ))
                        .hint(
                            "a new model needs context_window, max_output_tokens, input and output (USD per 1M tokens)",
                        ));
                    }
                    ModelInfo {
                        tokenizer: o.tokenizer.unwrap_or(TokenizerKind::Approx),
                        context_window: o.context_window.unwrap_or_default(),
                        max_output_tokens: o.max_output_tokens.unwrap_or_default(),
                        input: o.input.unwrap_or_default(),
                        cached_input: o.cached_input,
                        output: o.output.unwrap_or_default(),
                        ignores_temperature: o.ignores_temperature.unwrap_or(false),
                    }
                }
            };
            for (field, v) in [("input", merged.input), ("output", merged.output)] {
                if !(v.is_finite() && v >= 0.0) {
                    return Err(Error::input(format!(
                        "promptctl.toml: [models.\"{id}\"] {field} must be a non-negative price, got {v}"
                    )));
                }
            }
            cat.models.insert(id.clone(), merged);
            cat.overridden.push(id.clone());
        }
        Ok(cat)
    }

    pub fn get(&self, id: &str) -> Option<&ModelInfo> {
        self.models.get(id)
    }

    /// Look up a model, with the closest known ids as a hint when unknown.
    pub fn resolve(&self, id: &str) -> Result<Model> {
        validate_id(id)?;
        match self.models.get(id) {
            Some(info) => Ok(Model {
                id: id.to_string(),
                info: info.clone(),
            }),
            None => {
                let err = Error::input(format!("unknown model '{id}'"));
                let hint = suggest(id, self.models.keys().map(String::as_str));
                Err(err.with_hint_opt(hint).hint(
                    "add it to promptctl.toml as [models.\"provider:model\"] with context_window, max_output_tokens, input and output prices",
                ))
            }
        }
    }

    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.models.keys().map(String::as_str)
    }

    pub fn is_overridden(&self, id: &str) -> bool {
        self.overridden.iter().any(|o| o == id)
    }
}

/// Model ids are `provider:model`.
pub fn validate_id(id: &str) -> Result<()> {
    match id.split_once(':') {
        Some((p, m)) if !p.is_empty() && !m.is_empty() => Ok(()),
        _ => Err(Error::input(format!("model '{id}' is not of the form provider:model"))
            .hint("for example openai:gpt-4o-mini, anthropic:claude-haiku-4-5, ollama:llama3.1:8b")),
    }
}

/// Split `provider:model` (the model part may itself contain ':').
pub fn split_id(id: &str) -> (&str, &str) {
    id.split_once(':').unwrap_or(("", id))
}

/// Dollar cost of a request: input at `input_tokens`, output at `output_tokens`.
pub fn cost_usd(info: &ModelInfo, input_tokens: u64, output_tokens: u64) -> f64 {
    (input_tokens as f64 * info.input + output_tokens as f64 * info.output) / 1_000_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_table_is_models_toml() {
        // build.rs translated the file; serde reads it here, strictly.
        let file: CatalogFile = toml::from_str(include_str!("models.toml")).unwrap();
        let cat = Catalog::builtin();
        assert_eq!(cat.date, file.date);
        assert_eq!(cat.models, file.models);
        assert_eq!(builtin::MODELS.len(), file.models.len(), "no id twice");
    }

    #[test]
    fn builtin_catalog_parses_and_covers_the_families() {
        let cat = Catalog::builtin();
        assert!(cat.date.len() == 10, "catalog date is YYYY-MM-DD");
        for id in [
            "openai:gpt-4o",
            "openai:gpt-4o-mini",
            "openai:gpt-4.1",
            "openai:o3",
            "openai:gpt-5",
            "anthropic:claude-haiku-4-5",
            "anthropic:claude-sonnet-4-5",
            "anthropic:claude-opus-4-1",
            "google:gemini-2.5-flash",
            "ollama:llama3.1:8b",
        ] {
            let m = cat.resolve(id).unwrap();
            assert!(m.info.context_window > 0 && m.info.max_output_tokens > 0, "{id}");
        }
        for (id, info) in &cat.models {
            assert!(
                info.max_output_tokens <= info.context_window.max(info.max_output_tokens),
                "{id}"
            );
            assert!(info.input >= 0.0 && info.output >= 0.0, "{id}");
            if id.starts_with("ollama:") {
                assert_eq!(info.input + info.output, 0.0, "local models are free: {id}");
            }
            if id.starts_with("anthropic:") || id.starts_with("google:") || id.starts_with("ollama:") {
                assert_eq!(info.tokenizer, TokenizerKind::Approx, "{id} has no public tokenizer");
            }
        }
    }

    #[test]
    fn unknown_model_suggests_the_closest() {
        let err = Catalog::builtin().resolve("openai:gpt-4o-mni").unwrap_err();
        assert_eq!(err.kind, crate::error::ErrorKind::Input);
        assert!(err.message.contains("unknown model 'openai:gpt-4o-mni'"));
        assert!(err.hints[0].contains("openai:gpt-4o-mini"), "{:?}", err.hints);
    }

    #[test]
    fn overrides_merge_and_new_models_need_prices() {
        let mut o = BTreeMap::new();
        o.insert(
            "openai:gpt-4o".to_string(),
            ModelOverride {
                input: Some(1.0),
                ..Default::default()
            },
        );
        let cat = Catalog::with_overrides(&o).unwrap();
        let m = cat.resolve("openai:gpt-4o").unwrap();
        assert_eq!(m.info.input, 1.0);
        assert_eq!(m.info.output, 10.0);
        assert!(cat.is_overridden("openai:gpt-4o"));

        let mut o = BTreeMap::new();
        o.insert(
            "vllm:my-model".to_string(),
            ModelOverride {
                input: Some(0.1),
                ..Default::default()
            },
        );
        let err = Catalog::with_overrides(&o).unwrap_err();
        assert!(
            err.message.contains("lacks context_window, max_output_tokens, output"),
            "{}",
            err.message
        );
    }

    #[test]
    fn cost_is_per_million() {
        let info = Catalog::builtin().resolve("openai:gpt-4o-mini").unwrap().info;
        let c = cost_usd(&info, 1_000_000, 1_000_000);
        assert!((c - 0.75).abs() < 1e-12);
    }

    #[test]
    fn ids_must_name_a_provider() {
        assert!(validate_id("gpt-4o").is_err());
        assert!(validate_id("ollama:llama3.1:8b").is_ok());
        assert_eq!(split_id("ollama:llama3.1:8b"), ("ollama", "llama3.1:8b"));
    }
}
