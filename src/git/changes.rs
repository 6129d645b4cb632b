//! Changed files between a commit and another commit, the index or the
//! working tree, restricted to one directory, with rename detection.
//!
//! This is the tree-to-tree diff `promptctl diff` stands on: libgit2 skips
//! subtrees whose ids are equal on both sides, so the work grows with the
//! number of changed files, not with the size of the repository. Paths in and
//! out are project-relative (see [`Repo::prefix`]).

use std::path::{Path, PathBuf};

use git2::{Delta, DiffFindOptions, DiffOptions, Oid};

use super::Repo;
use crate::error::{Error, Result};

/// The newer side of a comparison.
pub enum Target<'r> {
    Tree(git2::Tree<'r>),
    /// The staged content (`git diff --cached`).
    Index,
    /// Files on disk, untracked ones included (`git diff HEAD` plus new files).
    WorkTree,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Added,
    Deleted,
    Modified,
    Renamed,
}

/// One version of a changed file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileVersion {
    /// Project-relative path.
    pub path: PathBuf,
    /// The blob id; `None` for working-tree files, which are read from disk.
    pub id: Option<Oid>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub kind: ChangeKind,
    /// Absent for additions.
    pub old: Option<FileVersion>,
    /// Absent for deletions.
    pub new: Option<FileVersion>,
}

impl Repo {
    /// The best common ancestor of two revisions, as `git diff A...B` uses.
    pub fn merge_base(&self, a: &str, b: &str) -> Result<git2::Commit<'_>> {
        let ca = self.commit(a)?.id();
        let cb = self.commit(b)?.id();
        match self.repo.merge_base(ca, cb) {
            Ok(id) => Ok(self.repo.find_commit(id)?),
            Err(e) if e.code() == git2::ErrorCode::NotFound => {
                let mut err = Error::input(format!("'{a}' and '{b}' have no common ancestor"));
                if self.repo.is_shallow() {
                    err = err
                        .hint("this is a shallow clone and the merge base has not been fetched: run `git fetch --unshallow`")
                        .hint("in GitHub Actions, check out with `fetch-depth: 0`");
                } else {
                    err = err.hint(format!("compare the two revisions directly: promptctl diff {a} {b}"));
                }
                Err(err)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Files that differ under the project-relative directory `dir` between
    /// the tree `base` and `target`, renames detected as git does (same
    /// content, or at least 50% similar).
    pub fn changes(&self, base: &git2::Tree<'_>, target: &Target<'_>, dir: &Path) -> Result<Vec<Change>> {
        let scope = self.repo_path(dir);
        let mut opts = DiffOptions::new();
        // An exact prefix, not a glob: directory names may hold `*` or `[`.
        let spec = format!("{}/", scope.to_string_lossy().trim_end_matches('/'));
        if spec != "/" {
            opts.pathspec(spec).disable_pathspec_match(true);
        }
        opts.include_typechange(true);
        let mut diff = match target {
            Target::Tree(head) => self.repo.diff_tree_to_tree(Some(base), Some(head), Some(&mut opts))?,
            Target::Index => {
                let index = self.repo.index()?;
                self.repo
                    .diff_tree_to_index(Some(base), Some(&index), Some(&mut opts))?
            }
            Target::WorkTree => {
                opts.include_untracked(true).recurse_untracked_dirs(true);
                self.repo.diff_tree_to_workdir_with_index(Some(base), Some(&mut opts))?
            }
        };
        let mut find = DiffFindOptions::new();
        find.renames(true).for_untracked(true);
        diff.find_similar(Some(&mut find))?;

        let on_disk = matches!(target, Target::WorkTree);
        let mut out = Vec::new();
        for d in diff.deltas() {
            let version = |f: git2::DiffFile<'_>, disk: bool| -> Option<FileVersion> {
                let path = f.path()?;
                let rel = path.strip_prefix(&self.prefix).ok()?;
                rel.starts_with(dir).then(|| FileVersion {
                    path: rel.to_path_buf(),
                    id: (!disk).then(|| f.id()),
                })
            };
            let old = || version(d.old_file(), false);
            let new = || version(d.new_file(), on_disk);
            let change = match d.status() {
                Delta::Added | Delta::Untracked => new().map(|n| Change {
                    kind: ChangeKind::Added,
                    old: None,
                    new: Some(n),
                }),
                Delta::Deleted => old().map(|o| Change {
                    kind: ChangeKind::Deleted,
                    old: Some(o),
                    new: None,
                }),
                Delta::Modified | Delta::Typechange | Delta::Conflicted => match (old(), new()) {
                    (Some(o), Some(n)) => Some(Change {
                        kind: ChangeKind::Modified,
                        old: Some(o),
                        new: Some(n),
                    }),
                    _ => None,
                },
                Delta::Renamed | Delta::Copied => match (old(), new()) {
                    (Some(o), Some(n)) => Some(Change {
                        kind: ChangeKind::Renamed,
                        old: Some(o),
                        new: Some(n),
                    }),
                    (Some(o), None) => Some(Change {
                        kind: ChangeKind::Deleted,
                        old: Some(o),
                        new: None,
                    }),
                    (None, Some(n)) => Some(Change {
                        kind: ChangeKind::Added,
                        old: None,
                        new: Some(n),
                    }),
                    (None, None) => None,
                },
                Delta::Unmodified | Delta::Ignored | Delta::Unreadable => None,
            };
            out.extend(change);
        }
        Ok(out)
    }

    /// The bytes of one version: a blob, or the file on disk.
    pub fn read_version(&self, v: &FileVersion) -> Result<Vec<u8>> {
        match v.id {
            Some(id) => self.blob(id),
            None => {
                let root = self
                    .repo
                    .workdir()
                    .ok_or_else(|| Error::input("the repository has no working tree (bare repository)"))?;
                let abs = root.join(self.repo_path(&v.path));
                std::fs::read(&abs).map_err(|e| Error::io(&v.path, &e))
            }
        }
    }
}
