//! Changed files between a commit and another commit, the index or the
//! working tree, restricted to one directory, with rename detection.
//!
//! This is the diff `promptctl diff` stands on. Between two commits it walks
//! both trees together and never descends into a subtree whose id is the same
//! on both sides (as git's own tree diff does; libgit2's tree-to-tree diff
//! expands every subtree), so the work grows with the number of changed
//! files, not with the size of the repository. Against the index or the
//! working tree it uses libgit2's diff (stat-ing the files is inherent
//! there). Paths in and out are project-relative (see [`Repo::prefix`]).
//!
//! Renames are found the same way for every target: an added and a deleted
//! file with the same content, else the most similar pairs of at least
//! [`RENAME_THRESHOLD`]% (line-based, close to git's default score).

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use git2::{Delta, DiffOptions, ObjectType, Oid};

use super::Repo;
use crate::error::{Error, Result};

/// Minimum similarity, in percent, for an added and a deleted file to be
/// reported as a rename (git's default).
pub const RENAME_THRESHOLD: u32 = 50;

/// Inexact rename detection compares every added file with every deleted
/// one; above this many pairs only exact renames are detected (git has the
/// same kind of limit, `diff.renameLimit`).
pub const RENAME_PAIR_LIMIT: usize = 10_000;

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
    /// Renames: how alike the two files are, 0–100.
    pub similarity: Option<u32>,
}

impl Change {
    fn one(kind: ChangeKind, old: Option<FileVersion>, new: Option<FileVersion>) -> Change {
        Change {
            kind,
            old,
            new,
            similarity: None,
        }
    }
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
    /// the tree `base` and `target`, sorted by path, renames detected.
    pub fn changes(&self, base: &git2::Tree<'_>, target: &Target<'_>, dir: &Path) -> Result<Vec<Change>> {
        let raw = match target {
            Target::Tree(head) => {
                // The same directory on both sides: nothing changed, and
                // its tree object (often deep in a delta chain) is not read.
                if let (Some(x), Some(y)) = (self.subtree_id(base, dir), self.subtree_id(head, dir))
                    && x == y
                {
                    return Ok(Vec::new());
                }
                let scope = self.repo_path(dir);
                let a = self.subtree(base, &scope)?;
                let b = self.subtree(head, &scope)?;
                let mut out = Vec::new();
                self.walk_pair(a.as_ref(), b.as_ref(), dir, &mut out)?;
                out
            }
            Target::Index | Target::WorkTree => self.libgit2_changes(base, target, dir)?,
        };
        let mut out = self.detect_renames(raw)?;
        out.sort_by(|a, b| sort_key(a).cmp(sort_key(b)));
        Ok(out)
    }

    /// The tree at repository path `path` inside `tree`, if there is one.
    fn subtree(&self, tree: &git2::Tree<'_>, path: &Path) -> Result<Option<git2::Tree<'_>>> {
        if path.as_os_str().is_empty() {
            return Ok(Some(self.repo.find_tree(tree.id())?));
        }
        match tree.get_path(path) {
            Ok(e) if e.kind() == Some(ObjectType::Tree) => Ok(Some(self.repo.find_tree(e.id())?)),
            Ok(_) => Ok(None),
            Err(e) if e.code() == git2::ErrorCode::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Compare two (optional) trees at project-relative `rel`, descending
    /// only where the ids differ. The entries are merged in git's tree order
    /// (as `git diff-tree` does); a tree whose entries are out of that order
    /// (a damaged or hand-made object) is compared by name instead.
    fn walk_pair(
        &self,
        a: Option<&git2::Tree<'_>>,
        b: Option<&git2::Tree<'_>>,
        rel: &Path,
        out: &mut Vec<Change>,
    ) -> Result<()> {
        if let (Some(x), Some(y)) = (a, b)
            && x.id() == y.id()
        {
            return Ok(());
        }
        let ea: Vec<Entry<'_>> = a.map(|t| t.iter().map(Entry).collect()).unwrap_or_default();
        let eb: Vec<Entry<'_>> = b.map(|t| t.iter().map(Entry).collect()).unwrap_or_default();
        let sorted = |v: &[Entry<'_>]| v.windows(2).all(|w| git_order(&w[0], &w[1]) == Ordering::Less);
        let pairs = if sorted(&ea) && sorted(&eb) {
            merge_in_git_order(&ea, &eb)
        } else {
            pair_by_name(&ea, &eb)
        };
        for (x, y) in pairs {
            if let (Some(x), Some(y)) = (x, y)
                && (x.kind(), x.id()) == (y.kind(), y.id())
            {
                continue;
            }
            // Names that are not UTF-8 are not prompt files.
            let Some(name) = x.or(y).and_then(|e| std::str::from_utf8(e.name()).ok()) else {
                continue;
            };
            let path = rel.join(name);
            let tree_of = |e: Option<&Entry<'_>>| -> Result<Option<git2::Tree<'_>>> {
                match e {
                    Some(e) if e.kind() == Some(ObjectType::Tree) => Ok(Some(self.repo.find_tree(e.id())?)),
                    _ => Ok(None),
                }
            };
            let blob_of = |e: Option<&Entry<'_>>| e.filter(|e| e.kind() == Some(ObjectType::Blob)).map(|e| e.id());
            let blob = |id: Oid| FileVersion {
                path: path.clone(),
                id: Some(id),
            };
            let (ta, tb) = (tree_of(x)?, tree_of(y)?);
            if ta.is_some() || tb.is_some() {
                self.walk_pair(ta.as_ref(), tb.as_ref(), &path, out)?;
            }
            match (blob_of(x), blob_of(y)) {
                (Some(i), Some(j)) => out.push(Change::one(ChangeKind::Modified, Some(blob(i)), Some(blob(j)))),
                (Some(i), None) => out.push(Change::one(ChangeKind::Deleted, Some(blob(i)), None)),
                (None, Some(j)) => out.push(Change::one(ChangeKind::Added, None, Some(blob(j)))),
                (None, None) => {}
            }
        }
        Ok(())
    }

    /// Index and working-tree changes from libgit2, without renames.
    fn libgit2_changes(&self, base: &git2::Tree<'_>, target: &Target<'_>, dir: &Path) -> Result<Vec<Change>> {
        let scope = self.repo_path(dir);
        let mut opts = DiffOptions::new();
        // An exact prefix, not a glob: directory names may hold `*` or `[`.
        let spec = format!("{}/", scope.to_string_lossy().trim_end_matches('/'));
        if spec != "/" {
            opts.pathspec(spec).disable_pathspec_match(true);
        }
        opts.include_typechange(true);
        let diff = match target {
            Target::Index => {
                let index = self.repo.index()?;
                self.repo
                    .diff_tree_to_index(Some(base), Some(&index), Some(&mut opts))?
            }
            _ => {
                opts.include_untracked(true).recurse_untracked_dirs(true);
                self.repo.diff_tree_to_workdir_with_index(Some(base), Some(&mut opts))?
            }
        };
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
            let old = version(d.old_file(), false);
            let new = version(d.new_file(), on_disk);
            let kind = match d.status() {
                Delta::Added | Delta::Untracked => ChangeKind::Added,
                Delta::Deleted => ChangeKind::Deleted,
                Delta::Modified | Delta::Typechange | Delta::Conflicted => ChangeKind::Modified,
                // Not produced without find_similar; kept for completeness.
                Delta::Renamed | Delta::Copied => ChangeKind::Renamed,
                Delta::Unmodified | Delta::Ignored | Delta::Unreadable => continue,
            };
            let change = match kind {
                ChangeKind::Added => new.map(|n| Change::one(kind, None, Some(n))),
                ChangeKind::Deleted => old.map(|o| Change::one(kind, Some(o), None)),
                _ => match (old, new) {
                    (Some(o), Some(n)) => Some(Change::one(kind, Some(o), Some(n))),
                    (Some(o), None) => Some(Change::one(ChangeKind::Deleted, Some(o), None)),
                    (None, Some(n)) => Some(Change::one(ChangeKind::Added, None, Some(n))),
                    (None, None) => None,
                },
            };
            out.extend(change);
        }
        Ok(out)
    }

    /// Pair deleted and added files into renames: same content first, then
    /// the most similar pairs at or above the threshold.
    fn detect_renames(&self, changes: Vec<Change>) -> Result<Vec<Change>> {
        let (mut gone, rest): (Vec<Change>, Vec<Change>) =
            changes.into_iter().partition(|c| c.kind == ChangeKind::Deleted);
        let (mut new, mut out): (Vec<Change>, Vec<Change>) =
            rest.into_iter().partition(|c| c.kind == ChangeKind::Added);
        if gone.is_empty() || new.is_empty() {
            out.extend(gone);
            out.extend(new);
            return Ok(out);
        }
        let read = |v: &Option<FileVersion>| -> Result<Vec<u8>> {
            match v {
                Some(v) => self.read_version(v),
                None => Ok(Vec::new()),
            }
        };
        let gone_bytes: Vec<Vec<u8>> = gone.iter().map(|c| read(&c.old)).collect::<Result<_>>()?;
        let new_bytes: Vec<Vec<u8>> = new.iter().map(|c| read(&c.new)).collect::<Result<_>>()?;
        let mut pairs: Vec<(u32, usize, usize)> = Vec::new();
        let mut used_g = vec![false; gone.len()];
        let mut used_n = vec![false; new.len()];
        // Exact: identical bytes.
        let mut by_content: HashMap<&[u8], Vec<usize>> = HashMap::new();
        for (i, b) in gone_bytes.iter().enumerate() {
            by_content.entry(b.as_slice()).or_default().push(i);
        }
        for (j, b) in new_bytes.iter().enumerate() {
            if let Some(list) = by_content.get_mut(b.as_slice())
                && let Some(i) = list.iter().position(|i| !used_g[*i]).map(|k| list.remove(k))
            {
                used_g[i] = true;
                used_n[j] = true;
                pairs.push((100, i, j));
            }
        }
        // Inexact: score the remaining pairs, best first.
        let left_g: Vec<usize> = (0..gone.len()).filter(|i| !used_g[*i]).collect();
        let left_n: Vec<usize> = (0..new.len()).filter(|j| !used_n[*j]).collect();
        if left_g.len() * left_n.len() <= RENAME_PAIR_LIMIT {
            let mut scored = Vec::new();
            for &i in &left_g {
                for &j in &left_n {
                    if let Some(s) = rename_score(&gone_bytes[i], &new_bytes[j]) {
                        scored.push((s, i, j));
                    }
                }
            }
            scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
            for (s, i, j) in scored {
                if !used_g[i] && !used_n[j] {
                    used_g[i] = true;
                    used_n[j] = true;
                    pairs.push((s, i, j));
                }
            }
        }
        for (s, i, j) in &pairs {
            out.push(Change {
                kind: ChangeKind::Renamed,
                old: gone[*i].old.take(),
                new: new[*j].new.take(),
                similarity: Some(*s),
            });
        }
        out.extend(gone.into_iter().zip(used_g).filter(|(_, u)| !u).map(|(c, _)| c));
        out.extend(new.into_iter().zip(used_n).filter(|(_, u)| !u).map(|(c, _)| c));
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

fn sort_key(c: &Change) -> &Path {
    c.new
        .as_ref()
        .or(c.old.as_ref())
        .map(|v| v.path.as_path())
        .unwrap_or(Path::new(""))
}

/// How alike two texts are, 0–100, by lines (as git's rename score).
pub fn similarity(old: &str, new: &str) -> u32 {
    (similar::TextDiff::from_lines(old, new).ratio() * 100.0).round() as u32
}

/// The similarity of two files when it can reach the threshold: binary or
/// very large files, and sizes too far apart to be 50% alike, are not scored.
fn rename_score(a: &[u8], b: &[u8]) -> Option<u32> {
    const MAX: usize = 1 << 20;
    let (sa, sb) = (a.len().max(1), b.len().max(1));
    if sa > MAX || sb > MAX || sa.min(sb) * 3 < sa.max(sb) || a.contains(&0) || b.contains(&0) {
        return None;
    }
    let s = similarity(&String::from_utf8_lossy(a), &String::from_utf8_lossy(b));
    (s >= RENAME_THRESHOLD).then_some(s)
}

/// A tree entry of one of the trees being compared.
struct Entry<'t>(git2::TreeEntry<'t>);

impl Entry<'_> {
    fn name(&self) -> &[u8] {
        self.0.name_bytes()
    }

    fn kind(&self) -> Option<ObjectType> {
        self.0.kind()
    }

    fn id(&self) -> Oid {
        self.0.id()
    }
}

/// git's tree order: by name, a tree's name compared as if it ended in `/`.
fn git_order(a: &Entry<'_>, b: &Entry<'_>) -> Ordering {
    let (x, y) = (a.name(), b.name());
    let n = x.len().min(y.len());
    let end = |e: &Entry<'_>| if e.kind() == Some(ObjectType::Tree) { b'/' } else { 0 };
    x[..n].cmp(&y[..n]).then_with(|| {
        let p = x.get(n).copied().unwrap_or_else(|| end(a));
        let q = y.get(n).copied().unwrap_or_else(|| end(b));
        p.cmp(&q)
    })
}

type Pair<'e, 't> = (Option<&'e Entry<'t>>, Option<&'e Entry<'t>>);

/// Entries of two trees in git's order, paired where they are the same
/// entry name and kind of entry (a file and a directory of one name are
/// two entries, as in git).
fn merge_in_git_order<'e, 't>(a: &'e [Entry<'t>], b: &'e [Entry<'t>]) -> Vec<Pair<'e, 't>> {
    let mut out = Vec::with_capacity(a.len().max(b.len()));
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        let ord = match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) => git_order(x, y),
            (Some(_), None) => Ordering::Less,
            _ => Ordering::Greater,
        };
        match ord {
            Ordering::Less => {
                out.push((a.get(i), None));
                i += 1;
            }
            Ordering::Greater => {
                out.push((None, b.get(j)));
                j += 1;
            }
            Ordering::Equal => {
                out.push((a.get(i), b.get(j)));
                i += 1;
                j += 1;
            }
        }
    }
    out
}

/// The same pairing for entries in no particular order.
fn pair_by_name<'e, 't>(a: &'e [Entry<'t>], b: &'e [Entry<'t>]) -> Vec<Pair<'e, 't>> {
    let by_key = |v: &'e [Entry<'t>]| -> BTreeMap<(&'e [u8], bool), &'e Entry<'t>> {
        v.iter()
            .map(|e| ((e.name(), e.kind() == Some(ObjectType::Tree)), e))
            .collect()
    };
    let (ma, mb) = (by_key(a), by_key(b));
    let mut keys: Vec<&(&[u8], bool)> = ma.keys().chain(mb.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .map(|k| (ma.get(k).copied(), mb.get(k).copied()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn similarity_is_a_percentage() {
        assert_eq!(similarity("a\nb\nc\nd\n", "a\nb\nc\nd\n"), 100);
        assert_eq!(similarity("a\nb\n", "x\ny\n"), 0);
        assert_eq!(similarity("a\nb\nc\nd\n", "a\nb\nc\nx\n"), 75);
    }

    #[test]
    fn rename_scores_skip_what_cannot_match() {
        assert_eq!(rename_score(b"a\nb\nc\nd\n", b"a\nb\nc\nx\n"), Some(75));
        assert_eq!(rename_score(b"a\nb\n", b"x\ny\n"), None);
        assert_eq!(
            rename_score(b"a\n", b"a\nb\nc\nd\ne\nf\ng\n"),
            None,
            "sizes too far apart"
        );
        assert_eq!(rename_score(b"a\0b\n", b"a\0b\n"), None, "binary");
    }
}
