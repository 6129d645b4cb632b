//! The export bundle: every released prompt's stable and canary content,
//! versions, weights, model and config, plus the bucketing rule, as one JSON
//! document that applications load without git. Its schema is
//! `schema/export.schema.json`.
//!
//! Deterministic: the same tags give the same bytes (sorted prompt names,
//! no timestamps of the export itself).

use std::collections::BTreeMap;

use serde::Serialize;

use super::bucket;
use super::state::{self, VersionTag};
use super::version_prompt;
use crate::error::Result;
use crate::git::Repo;
use crate::prompt::{InputSpec, ModelConfig, OutputSpec, Prompt, SectionKind};

pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bundle {
    pub schema_version: u32,
    pub bucketing: bucket::Spec,
    pub prompts: BTreeMap<String, ExportedPrompt>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExportedPrompt {
    pub stable: ExportedVersion,
    /// `null` when no canary is set.
    pub canary: Option<ExportedCanary>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExportedCanary {
    /// Percentage of callers (by bucket) that get this version.
    pub weight: u8,
    #[serde(flatten)]
    pub version: ExportedVersion,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExportedVersion {
    pub version: u32,
    pub tag: String,
    pub commit: String,
    pub path: String,
    pub content_hash: String,
    pub model: String,
    pub config: ModelConfig,
    pub input: Option<InputSpec>,
    pub output: Option<OutputSpec>,
    /// Role sections in order; `role: "history"` marks where the
    /// conversation history variable's messages go.
    pub messages: Vec<ExportedMessage>,
    /// The prompt file as released.
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExportedMessage {
    pub role: String,
    /// Jinja template (strict undefined); for `history`, the variable name.
    pub template: String,
}

/// The bundle of every prompt that has a stable version. `default_model`
/// fills in for versions whose tag records none.
pub fn bundle(repo: &Repo, default_model: &str) -> Result<Bundle> {
    let mut prompts = BTreeMap::new();
    for (name, rel) in state::load_all(&repo.repo)? {
        let Some(stable) = rel.stable_version() else {
            continue;
        };
        let canary = match rel.canary_version() {
            Some((c, weight)) => Some(ExportedCanary {
                weight,
                version: exported(repo, &name, c, default_model)?,
            }),
            None => None,
        };
        prompts.insert(
            name.clone(),
            ExportedPrompt {
                stable: exported(repo, &name, stable, default_model)?,
                canary,
            },
        );
    }
    Ok(Bundle {
        schema_version: SCHEMA_VERSION,
        bucketing: bucket::spec(),
        prompts,
    })
}

fn exported(repo: &Repo, name: &str, v: &VersionTag, default_model: &str) -> Result<ExportedVersion> {
    let (_, p) = version_prompt(repo, name, v)?;
    Ok(ExportedVersion {
        version: v.number,
        tag: v.tag.clone(),
        commit: v.commit.clone(),
        path: v.path.clone(),
        content_hash: v.content_hash.clone(),
        model: v.model.clone().unwrap_or_else(|| p.model(default_model).to_string()),
        config: p.front.config.clone(),
        input: p.front.input.clone(),
        output: p.front.output.clone(),
        messages: messages(&p),
        source: p.source.clone(),
    })
}

fn messages(p: &Prompt) -> Vec<ExportedMessage> {
    p.sections
        .iter()
        .map(|s| match s.kind {
            SectionKind::Message(role) => ExportedMessage {
                role: role.as_str().to_string(),
                template: s.template.clone(),
            },
            SectionKind::History => ExportedMessage {
                role: "history".to_string(),
                template: p.history_var().unwrap_or("history").to_string(),
            },
        })
        .collect()
}

/// The bundle as pretty JSON with a trailing newline.
pub fn to_json(b: &Bundle) -> Result<String> {
    crate::report::json(b)
}
