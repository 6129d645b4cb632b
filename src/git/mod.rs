//! Everything git2: opening the repository, resolving revisions, reading
//! trees and blobs at a revision without a checkout.
//!
//! Errors here say which revision or path failed and what to do about it
//! (unknown revision, shallow clone, empty repository).

pub mod changes;

use std::path::{Path, PathBuf};

pub mod notes;

use git2::{ObjectType, Oid, Repository, TreeWalkMode, TreeWalkResult};

use crate::error::{Error, Result};

pub struct Repo {
    pub repo: Repository,
    /// The project root's path relative to the work tree ("" at the top).
    pub prefix: PathBuf,
}

/// See [`Repo::location`].
#[derive(Debug, Clone)]
pub struct RepoLocation {
    git_dir: PathBuf,
    prefix: PathBuf,
}

impl RepoLocation {
    pub fn open(self) -> Result<Repo> {
        Ok(Repo {
            repo: Repository::open(&self.git_dir)?,
            prefix: self.prefix,
        })
    }
}

/// Set by the command-line binary: see [`Repo::close`].
static KEEP_OPEN_UNTIL_EXIT: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// For a process that ends when its command does (the CLI): [`Repo::close`]
/// leaves the repository to the process exit instead of freeing it.
pub fn keep_open_until_exit() {
    KEEP_OPEN_UNTIL_EXIT.store(true, std::sync::atomic::Ordering::Relaxed);
}

impl Repo {
    /// Done with the repository. Freeing one that has read packs releases
    /// libgit2's object and delta-base caches block by block and unmaps each
    /// pack window (~0.5 M instructions, and a TLB shoot-down per unmap once
    /// a second thread has run: more than the rest of a diff's exit; see
    /// BENCHMARKS.md). When [`keep_open_until_exit`] was called, the exit
    /// releases it all at once instead, as clang's `-disable-free` does.
    /// Otherwise (the library, tests) this is a plain drop.
    pub fn close(self) {
        if KEEP_OPEN_UNTIL_EXIT.load(std::sync::atomic::Ordering::Relaxed) {
            std::mem::forget(self);
        }
    }

    /// Find the repository containing `dir`; `Ok(None)` outside one.
    pub fn discover(dir: &Path) -> Result<Option<Repo>> {
        // libgit2 re-hashes every object it reads by default; git does not,
        // and for a diff that reads hundreds of small blobs the SHA-1 is a
        // tenth of the run. Pack checksums and zlib still catch corruption.
        git2::opts::strict_hash_verification(false);
        match Repository::discover(dir) {
            Ok(repo) => {
                let prefix = match repo.workdir() {
                    Some(wd) => {
                        let wd = wd.canonicalize().unwrap_or_else(|_| wd.to_path_buf());
                        let d = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
                        d.strip_prefix(&wd).map(Path::to_path_buf).unwrap_or_default()
                    }
                    None => PathBuf::new(),
                };
                Ok(Some(Repo { repo, prefix }))
            }
            Err(e) if e.code() == git2::ErrorCode::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Like `discover` but outside a repository is an input error.
    pub fn open(dir: &Path) -> Result<Repo> {
        Repo::discover(dir)?.ok_or_else(|| {
            Error::input(format!("not a git repository: {}", dir.display()))
                .hint("this command reads git history; run it inside a git repository (git init)")
        })
    }

    /// Resolve a revision (`HEAD`, `main`, `v1~2`, a sha, a tag) to a commit.
    pub fn commit(&self, rev: &str) -> Result<git2::Commit<'_>> {
        if self.is_unborn() {
            return Err(
                Error::input(format!("cannot resolve '{rev}': the repository has no commits yet"))
                    .hint("commit the prompts first (git add prompts && git commit)"),
            );
        }
        let obj = self.repo.revparse_single(rev).map_err(|e| self.rev_error(rev, &e))?;
        obj.peel_to_commit()
            .map_err(|_| Error::input(format!("revision '{rev}' does not name a commit")))
    }

    /// True when HEAD points at a branch with no commits (a new repository).
    /// (libgit2's `is_empty` also wants HEAD on its own default branch name,
    /// so a fresh `git init -b main` would not count.)
    pub fn is_unborn(&self) -> bool {
        matches!(self.repo.head(), Err(e) if e.code() == git2::ErrorCode::UnbornBranch)
            || self.repo.is_empty().unwrap_or(false)
    }

    fn rev_error(&self, rev: &str, e: &git2::Error) -> Error {
        let mut err = Error::input(format!("unknown revision '{rev}'"));
        if self.repo.is_shallow() {
            err = err
                .hint("this is a shallow clone and the commit may not have been fetched: run `git fetch --unshallow`")
                .hint("in GitHub Actions, check out with `fetch-depth: 0`");
        } else if e.code() == git2::ErrorCode::NotFound || e.code() == git2::ErrorCode::InvalidSpec {
            err = err.hint("use a branch, tag or commit that exists (git log --oneline, git branch -a)");
        }
        err
    }

    /// The tree of `rev`, at the project root.
    pub fn tree_at(&self, rev: &str) -> Result<git2::Tree<'_>> {
        let commit = self.commit(rev)?;
        Ok(commit.tree()?)
    }

    /// Repository path of a project-relative path.
    pub fn repo_path(&self, rel: &Path) -> PathBuf {
        self.prefix.join(rel)
    }

    /// Bytes of a project-relative file at `rev`; `None` if absent there.
    pub fn read_at(&self, rev: &str, rel: &Path) -> Result<Option<Vec<u8>>> {
        let tree = self.tree_at(rev)?;
        self.read_in_tree(&tree, rel)
    }

    pub fn read_in_tree(&self, tree: &git2::Tree<'_>, rel: &Path) -> Result<Option<Vec<u8>>> {
        let entry = match tree.get_path(&self.repo_path(rel)) {
            Ok(e) => e,
            Err(e) if e.code() == git2::ErrorCode::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        if entry.kind() != Some(ObjectType::Blob) {
            return Ok(None);
        }
        let blob = self.repo.find_blob(entry.id())?;
        Ok(Some(blob.content().to_vec()))
    }

    /// Files under the project-relative directory `dir` at a tree, as
    /// project-relative paths with their blob ids, sorted.
    pub fn files_under(&self, tree: &git2::Tree<'_>, dir: &Path) -> Result<Vec<(PathBuf, Oid)>> {
        let full = self.repo_path(dir);
        let sub = match tree.get_path(&full) {
            Ok(e) if e.kind() == Some(ObjectType::Tree) => self.repo.find_tree(e.id())?,
            Ok(_) => return Ok(Vec::new()),
            Err(e) if e.code() == git2::ErrorCode::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        let mut out = Vec::new();
        sub.walk(TreeWalkMode::PreOrder, |root, entry| {
            if entry.kind() == Some(ObjectType::Blob)
                && let Ok(name) = entry.name()
            {
                out.push((dir.join(root).join(name), entry.id()));
            }
            TreeWalkResult::Ok
        })?;
        out.sort();
        Ok(out)
    }

    /// Where to open a second handle on the same repository, on another
    /// thread (a libgit2 repository handle is not shared between threads).
    pub fn location(&self) -> RepoLocation {
        RepoLocation {
            git_dir: self.repo.path().to_path_buf(),
            prefix: self.prefix.clone(),
        }
    }

    pub fn find_tree(&self, id: Oid) -> Result<git2::Tree<'_>> {
        Ok(self.repo.find_tree(id)?)
    }

    /// The id of the tree at `dir` (project-relative) in `tree`, if any
    /// (`tree` itself when `dir` is the repository's top). Reads no object
    /// but `tree`.
    pub fn subtree_id(&self, tree: &git2::Tree<'_>, dir: &Path) -> Option<Oid> {
        let path = self.repo_path(dir);
        if path.as_os_str().is_empty() {
            return Some(tree.id());
        }
        let e = tree.get_path(&path).ok()?;
        (e.kind() == Some(ObjectType::Tree)).then(|| e.id())
    }

    pub fn blob(&self, id: Oid) -> Result<Vec<u8>> {
        Ok(self.repo.find_blob(id)?.content().to_vec())
    }
}
