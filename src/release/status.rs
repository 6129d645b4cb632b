//! Per prompt: what is released (stable, canary, weight) and whether the
//! working tree differs from stable, with the token delta.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::state::{self, Releases};
use super::version_prompt;
use crate::error::Result;
use crate::eval::suite::{self, SuiteFile};
use crate::git::Repo;
use crate::measure;
use crate::project::{self, Project, PromptFile, Source};
use crate::prompt::{Prompt, content_hash};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PromptStatus {
    pub prompt: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stable: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub canary: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub canary_weight: Option<u8>,
    pub working_tree: WorkingTree,
    /// Channel tags older than the newest event tag (fetch with --force).
    pub stale: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum WorkingTree {
    /// The prompt has never been released.
    NotReleased,
    /// Same content as the stable version.
    Unchanged,
    /// Differs from stable: unreleased changes.
    Modified {
        /// Also differs from HEAD (not committed yet).
        uncommitted: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        stable_input_tokens: Option<u64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        input_tokens: Option<u64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        delta_tokens: Option<i64>,
        /// False when the counts are estimates.
        exact: bool,
        /// Why the tokens could not be measured, when they could not.
        #[serde(skip_serializing_if = "Option::is_none")]
        unmeasured: Option<String>,
    },
    /// Released, but the file is gone from the working tree.
    Deleted,
}

/// Status of `name`, or of every prompt in the working tree or released.
pub fn status(project: &Project, repo: &Repo, name: Option<&str>) -> Result<Vec<PromptStatus>> {
    let mut releases = match name {
        Some(n) => {
            let n = project::normalize_name(n);
            super::tags::validate_name(&n)?;
            let mut m = BTreeMap::new();
            m.insert(n.clone(), state::load(&repo.repo, &n)?);
            m
        }
        None => state::load_all(&repo.repo)?,
    };
    let mut files: BTreeMap<String, PromptFile> = BTreeMap::new();
    match name {
        Some(n) => {
            let n = project::normalize_name(n);
            match project.prompt_file(&n, &Source::WorkTree) {
                Ok(f) => {
                    files.insert(n, f);
                }
                Err(e) if !releases.get(&n).is_some_and(Releases::is_released) => return Err(e),
                Err(_) => {}
            }
        }
        None => {
            for f in project.prompt_files(&Source::WorkTree)? {
                files.insert(f.name.clone(), f);
            }
        }
    }
    let names: BTreeSet<String> = files.keys().chain(releases.keys()).cloned().collect();
    let suites = suite::load_all(project).unwrap_or_default();
    let head = repo.commit("HEAD").ok().map(|c| c.id().to_string());
    let mut out = Vec::new();
    for n in names {
        let rel = releases.remove(&n).unwrap_or_else(|| Releases {
            name: n.clone(),
            ..Default::default()
        });
        let file = files.get(&n);
        let working_tree = match (rel.stable_version(), file) {
            (None, _) if !rel.is_released() => WorkingTree::NotReleased,
            (None, Some(_)) => WorkingTree::NotReleased,
            (_, None) => WorkingTree::Deleted,
            (Some(sv), Some(f)) => {
                let hash = content_hash(&f.bytes);
                if hash == sv.content_hash {
                    WorkingTree::Unchanged
                } else {
                    let uncommitted = match &head {
                        Some(h) => repo.read_at(h, &f.path)?.as_deref() != Some(&f.bytes[..]),
                        None => true,
                    };
                    modified(project, repo, &n, sv, f, &suites, uncommitted)
                }
            }
        };
        let canary = rel.canary_version();
        out.push(PromptStatus {
            prompt: n.clone(),
            stable: rel.stable_version().map(|v| v.number),
            canary: canary.map(|(c, _)| c.number),
            canary_weight: canary.map(|(_, w)| w),
            working_tree,
            stale: rel.stale_channels(),
        });
    }
    Ok(out)
}

fn modified(
    project: &Project,
    repo: &Repo,
    name: &str,
    stable: &state::VersionTag,
    file: &PromptFile,
    suites: &[SuiteFile],
    uncommitted: bool,
) -> WorkingTree {
    let measure_one = |p: &Prompt| -> Result<measure::Measurement> {
        let model = project.model_of(p)?;
        measure::measure(p, &model, &measure::samples_for(p, suites))
    };
    let both = version_prompt(repo, name, stable)
        .and_then(|(_, sp)| measure_one(&sp))
        .and_then(|before| Ok((before, measure_one(&file.parse()?)?)));
    match both {
        Ok((before, after)) => WorkingTree::Modified {
            uncommitted,
            stable_input_tokens: Some(before.max_input_tokens),
            input_tokens: Some(after.max_input_tokens),
            delta_tokens: Some(after.max_input_tokens as i64 - before.max_input_tokens as i64),
            exact: before.exact && after.exact,
            unmeasured: None,
        },
        Err(e) => WorkingTree::Modified {
            uncommitted,
            stable_input_tokens: None,
            input_tokens: None,
            delta_tokens: None,
            exact: true,
            unmeasured: Some(e.message),
        },
    }
}
