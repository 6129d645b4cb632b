//! Releases through git tags: versions, the stable and canary channels,
//! the audit trail, sticky canary assignment, and the export bundle.
//!
//! Everything is stored as annotated tags (see [`tags`] for the scheme), so
//! a clone that fetched the tags has the whole state; nothing else is needed
//! at run time. Eval metrics come from git notes when present ([`crate::git::notes`]).
//!
//! This module reads and plans; it never prints. Commands render its models.

pub mod bucket;
pub mod export;
pub mod gate;
pub mod history;
pub mod ops;
pub mod push;
pub mod resolve;
pub mod state;
pub mod status;
pub mod tags;
pub mod trailers;

use std::path::Path;

use crate::error::{Error, Result};
use crate::git::Repo;
use crate::prompt::Prompt;
use state::VersionTag;

/// The prompt file of a version: its bytes (checked against the tag's
/// content hash) and the parsed prompt.
pub fn version_prompt(repo: &Repo, name: &str, v: &VersionTag) -> Result<(Vec<u8>, Prompt)> {
    let path = Path::new(&v.path);
    let bytes = repo.read_at(&v.commit, path)?.ok_or_else(|| {
        Error::input(format!(
            "{}: {} is not in commit {}",
            v.tag,
            v.path,
            &v.commit[..v.commit.len().min(7)]
        ))
        .hint("the tag was edited by hand; recreate it with promptctl")
    })?;
    let hash = crate::prompt::content_hash(&bytes);
    if hash != v.content_hash {
        return Err(Error::input(format!(
            "{}: the content of {} does not match the tag's Content-Hash",
            v.tag, v.path
        ))
        .hint("the tag was edited by hand; recreate it with promptctl"));
    }
    let prompt = Prompt::parse(name, path, &bytes)?;
    Ok((bytes, prompt))
}

#[cfg(test)]
mod tests;
