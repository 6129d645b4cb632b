//! A prompt's history: every release, promotion, rollback and weight change
//! (from the immutable event tags), the versions they created, and the eval
//! metrics recorded for those versions in git notes.

use std::collections::BTreeSet;

use git2::Oid;
use serde::Serialize;

use super::state::{Event, Releases, Slot, VersionTag};
use super::tags::Channel;
use crate::error::Result;
use crate::git::notes::{self, EvalRun};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct History {
    pub prompt: String,
    pub stable: Slot,
    pub canary: Slot,
    /// Whether `refs/notes/promptctl` exists here (a clone does not fetch it).
    pub notes_present: bool,
    pub stale: bool,
    /// Newest first.
    pub entries: Vec<Entry>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<Event>,
    /// The version this entry created.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<VersionTag>,
    /// Eval runs recorded on the version's commit for its content.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub eval_runs: Vec<EvalRun>,
}

pub fn history(repo: &git2::Repository, rel: &Releases) -> Result<History> {
    let mut entries = Vec::new();
    let mut shown: BTreeSet<u32> = BTreeSet::new();
    for e in rel.events.values().rev() {
        let version = e.version.and_then(|n| rel.versions.get(&n)).cloned();
        if let Some(v) = &version {
            shown.insert(v.number);
        }
        entries.push(Entry {
            event: Some(e.clone()),
            eval_runs: runs_for(repo, &rel.name, version.as_ref())?,
            version,
        });
    }
    // Versions without a release event (events not fetched, or removed).
    for v in rel.versions.values().rev().filter(|v| !shown.contains(&v.number)) {
        entries.push(Entry {
            event: None,
            eval_runs: runs_for(repo, &rel.name, Some(v))?,
            version: Some(v.clone()),
        });
    }
    Ok(History {
        prompt: rel.name.clone(),
        stable: rel.slot(Channel::Stable),
        canary: rel.slot(Channel::Canary),
        notes_present: notes::present(repo),
        stale: rel.stale_channels(),
        entries,
    })
}

fn runs_for(repo: &git2::Repository, name: &str, v: Option<&VersionTag>) -> Result<Vec<EvalRun>> {
    let Some(v) = v else { return Ok(Vec::new()) };
    let Ok(commit) = Oid::from_str(&v.commit) else {
        return Ok(Vec::new());
    };
    Ok(notes::read(repo, commit)?
        .and_then(|n| n.entry(name))
        .filter(|e| e.content_hash.as_deref().is_none_or(|h| h == v.content_hash))
        .map(|e| e.runs)
        .unwrap_or_default())
}
