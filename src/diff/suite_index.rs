//! Which prompt each committed suite file tests, by blob id, so a diff does
//! not read every suite at a revision to find the few that test a changed
//! prompt (`.promptctl/cache/suite-prompts`); and the suite files of the last
//! few evals trees, by tree id, so a diff does not walk the evals directory
//! of a revision it has seen before (reading its subtrees costs more than the
//! rest of listing the suites).
//!
//! A tree's content never changes either; a tree block that does not read
//! back exactly (a bad line, a short block) is not used.
//!
//! It also keeps, by blob id, what parsing a suite gave, reduced to what a
//! diff uses ([`Samples`]: the prompt and each case's variables), so a diff
//! does not read and parse the same suite file again. The
//! header names this build's version: another build starts afresh, as its
//! parser may read a file differently.
//!
//! A blob's content never changes, so an entry never goes stale. The prompt
//! is read off the file's top-level `prompt:` line by a strict scan; a file
//! the scan is not sure about (no such line, several, a value with quoting
//! or characters a prompt name does not have) gets no entry and is read every
//! time, as without the index. When a suite is parsed anyway and its prompt
//! differs from the scan, the entry is dropped. Like the token-count cache,
//! the file is an optimisation: unreadable means empty, unwritable means not
//! written, and it is rewritten atomically.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

const HEADER: &str = concat!(
    "promptctl suite-prompts index v2 (promptctl ",
    env!("CARGO_PKG_VERSION"),
    ")"
);
/// Entries kept at most; the oldest beyond this are dropped on write.
const MAX_ENTRIES: usize = 100_000;
/// Evals trees kept at most (a diff needs one or two); the oldest go first.
const MAX_TREES: usize = 8;
/// Parsed suites kept at most; the oldest go first.
const MAX_SAMPLES: usize = 10_000;

/// What parsing a suite file gave, reduced to what a diff uses: the prompt it
/// tests and each case's variables (suite defaults applied), in case order.
/// (A suite that does not parse is not kept: its error names the file.)
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Samples {
    pub prompt: String,
    pub vars: Vec<BTreeMap<String, serde_json::Value>>,
}

pub struct SuiteIndex {
    path: Option<PathBuf>,
    entries: HashMap<git2::Oid, String>,
    order: Vec<git2::Oid>,
    /// Evals trees' suite files, oldest first: the tree id and its block's
    /// lines (`<blob id> <path under the evals directory>`).
    trees: Vec<(git2::Oid, String)>,
    /// Parsed suites by blob id, as one line of JSON each (parsed when
    /// asked for), and the order they were learnt in.
    samples: HashMap<git2::Oid, String>,
    samples_order: Vec<git2::Oid>,
    dirty: bool,
}

impl SuiteIndex {
    /// The project's index; `None` path: in memory only (tests).
    pub fn open(path: Option<&Path>) -> SuiteIndex {
        let mut idx = SuiteIndex {
            path: path.map(Path::to_path_buf),
            entries: HashMap::new(),
            order: Vec::new(),
            trees: Vec::new(),
            samples: HashMap::new(),
            samples_order: Vec::new(),
            dirty: false,
        };
        let Some(text) = path.and_then(|p| std::fs::read_to_string(p).ok()) else {
            return idx;
        };
        let mut lines = text.lines();
        if lines.next() != Some(HEADER) {
            return idx;
        }
        while let Some(line) = lines.next() {
            if let Some(head) = line.strip_prefix("tree ") {
                let (hex, n) = head.split_once(' ').unwrap_or((head, ""));
                let n: usize = n.parse().unwrap_or(0);
                let block: Vec<&str> = lines.by_ref().take(n).collect();
                if let Ok(id) = git2::Oid::from_str(hex)
                    && block.len() == n
                {
                    let text = block.iter().flat_map(|l| [l, "\n"]).collect();
                    idx.trees.push((id, text));
                }
                continue;
            }
            if let Some(rest) = line.strip_prefix("samples ") {
                if let Some((hex, json)) = rest.split_once(' ')
                    && let Ok(id) = git2::Oid::from_str(hex)
                    && idx.samples.insert(id, json.to_string()).is_none()
                {
                    idx.samples_order.push(id);
                }
                continue;
            }
            let Some((hex, name)) = line.split_once(' ') else {
                continue;
            };
            let Ok(id) = git2::Oid::from_str(hex) else { continue };
            if hex.len() >= 40 && valid_name(name) && idx.entries.insert(id, name.to_string()).is_none() {
                idx.order.push(id);
            }
        }
        idx
    }

    /// The suite files of the evals tree `id`, when known: their paths
    /// joined to `dir` (where that tree is), and blob ids.
    pub fn tree(&self, id: git2::Oid, dir: &Path) -> Option<Vec<(PathBuf, git2::Oid)>> {
        let (_, text) = self.trees.iter().rev().find(|(t, _)| *t == id)?;
        text.lines()
            .map(|line| {
                let (hex, path) = line.split_once(' ')?;
                let blob = git2::Oid::from_str(hex).ok().filter(|_| hex.len() >= 40)?;
                (!path.is_empty()).then(|| (dir.join(path), blob))
            })
            .collect()
    }

    /// Record the suite files of the evals tree `id` (paths under the evals
    /// directory). Paths that are not UTF-8 or hold a line break are not
    /// recorded: that tree is walked every time.
    pub fn learn_tree(&mut self, id: git2::Oid, files: &[(PathBuf, git2::Oid)]) {
        let mut text = String::with_capacity(files.len() * 64);
        for (path, blob) in files {
            match path.to_str() {
                Some(p) if !p.is_empty() && !p.contains(['\n', '\r']) => {
                    text.push_str(&format!("{blob} {p}\n"));
                }
                _ => return,
            }
        }
        self.trees.retain(|(t, _)| *t != id);
        self.trees.push((id, text));
        self.dirty = true;
    }

    /// What parsing the suite blob `id` gave, when known.
    pub fn samples(&self, id: git2::Oid) -> Option<Samples> {
        serde_json::from_str(self.samples.get(&id)?).ok()
    }

    /// Record what parsing the suite blob `id` gave.
    pub fn learn_samples(&mut self, id: git2::Oid, samples: &Samples) {
        let Ok(json) = serde_json::to_string(samples) else {
            return;
        };
        if self.samples.insert(id, json).is_none() {
            self.samples_order.push(id);
        }
        self.dirty = true;
    }

    /// The prompt the blob tests, when known.
    pub fn get(&self, id: git2::Oid) -> Option<&str> {
        self.entries.get(&id).map(String::as_str)
    }

    /// Record what the scan of a newly read blob found.
    pub fn learn(&mut self, id: git2::Oid, text: &[u8]) {
        if let Some(name) = std::str::from_utf8(text).ok().and_then(scan)
            && self.entries.insert(id, name).is_none()
        {
            self.order.push(id);
            self.dirty = true;
        }
    }

    /// A parsed suite says which prompt it tests: drop an entry that
    /// disagrees (the scan was wrong; the file is read every time).
    pub fn confirm(&mut self, id: git2::Oid, prompt: &str) {
        if self.entries.get(&id).is_some_and(|n| n != prompt) {
            self.entries.remove(&id);
            self.order.retain(|o| *o != id);
            self.dirty = true;
        }
    }

    /// Write the index if it changed. Errors are ignored.
    pub fn save(&mut self) {
        let Some(path) = &self.path else { return };
        if !self.dirty {
            return;
        }
        let skip = self.order.len().saturating_sub(MAX_ENTRIES);
        let mut out = String::with_capacity(64 * (self.order.len() - skip) + HEADER.len() + 1);
        out.push_str(HEADER);
        out.push('\n');
        for id in &self.order[skip..] {
            out.push_str(&format!("{id} {}\n", self.entries[id]));
        }
        let skip = self.samples_order.len().saturating_sub(MAX_SAMPLES);
        for id in &self.samples_order[skip..] {
            out.push_str(&format!("samples {id} {}\n", self.samples[id]));
        }
        for (id, text) in &self.trees[self.trees.len().saturating_sub(MAX_TREES)..] {
            out.push_str(&format!("tree {id} {}\n{text}", text.lines().count()));
        }
        let _ = crate::fs::write_atomic(path, out.as_bytes());
        self.dirty = false;
    }
}

/// Characters of a prompt name as the scan accepts it.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'/'))
}

/// The prompt a suite file tests, read off its one top-level `prompt:` line,
/// normalized as suites' prompt names are. `None` when unsure.
pub fn scan(text: &str) -> Option<String> {
    let mut found = None;
    for line in text.lines() {
        // Top-level keys start at column 0; anything else at column 0 (a
        // flow collection, a quoted key, a multi-line scalar's continuation)
        // could hide another reading of the file: give up.
        let Some(first) = line.bytes().next() else { continue };
        match first {
            b'#' => continue,
            b' ' | b'\t' => continue,
            // A document start after the prompt line: a second document.
            b'-' if line.starts_with("---") && found.is_none() => continue,
            b'a'..=b'z' | b'A'..=b'Z' | b'_' => {}
            _ => return None,
        }
        let key_end = line.find(':')?;
        let key = &line[..key_end];
        if !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return None;
        }
        let value = line[key_end + 1..].trim();
        // A quoted value that does not close on its line may continue.
        if (value.starts_with('"') || value.starts_with('\'')) && !closes(value) {
            return None;
        }
        if key != "prompt" {
            continue;
        }
        if found.is_some() {
            return None;
        }
        let value = value.split(" #").next().unwrap_or("").trim();
        if !valid_name(value) {
            return None;
        }
        found = Some(crate::project::normalize_name(value));
    }
    found.filter(|n| valid_name(n))
}

/// A quoted scalar that ends on its line (then maybe a comment).
fn closes(value: &str) -> bool {
    let q = value.as_bytes()[0];
    let rest = &value[1..];
    match rest.find(q as char) {
        Some(i) => {
            let after = rest[i + 1..].trim();
            after.is_empty() || after.starts_with('#')
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scan_reads_plain_prompt_lines_and_gives_up_when_unsure() {
        assert_eq!(
            scan("prompt: support/triage\ncases: []\n").as_deref(),
            Some("support/triage")
        );
        assert_eq!(
            scan("# a suite\ndescription: \"x: y\"\nprompt: team01/p00100  # the prompt\ncases:\n  - vars: {a: 1}\n")
                .as_deref(),
            Some("team01/p00100")
        );
        assert_eq!(scan("cases: []\n"), None, "no prompt line");
        assert_eq!(scan("prompt: a\nprompt: b\n"), None, "two prompt lines");
        assert_eq!(scan("prompt: \"a\"\n"), None, "quoted values are not scanned");
        assert_eq!(scan("{prompt: a, cases: []}\n"), None, "flow mapping");
        assert_eq!(
            scan("description: \"starts here\nprompt: a\"\nprompt: b\n"),
            None,
            "open quote"
        );
        assert_eq!(scan("prompt: a\n---\nprompt: b\n"), None, "two documents");
        assert_eq!(scan("prompt: a b\n"), None, "not a name");
        assert_eq!(scan("\"prompt\": a\n"), None, "quoted key");
    }

    #[test]
    fn the_index_round_trips_and_drops_what_a_parse_contradicts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache/suite-prompts");
        let a = git2::Oid::hash_object(git2::ObjectType::Blob, b"prompt: a\n").unwrap();
        let b = git2::Oid::hash_object(git2::ObjectType::Blob, b"prompt: b\n").unwrap();
        let mut idx = SuiteIndex::open(Some(&path));
        idx.learn(a, b"prompt: a\n");
        idx.learn(b, b"prompt: b\n");
        idx.save();
        let mut idx = SuiteIndex::open(Some(&path));
        assert_eq!(idx.get(a), Some("a"));
        assert_eq!(idx.get(b), Some("b"));
        idx.confirm(a, "a");
        idx.confirm(b, "not-b");
        assert_eq!(idx.get(b), None);
        idx.save();
        let idx = SuiteIndex::open(Some(&path));
        assert_eq!((idx.get(a), idx.get(b)), (Some("a"), None));
        // A file that is not an index is ignored.
        std::fs::write(&path, "something else\nzz a\n").unwrap();
        assert_eq!(SuiteIndex::open(Some(&path)).get(a), None);
    }

    #[test]
    fn evals_tree_listings_round_trip_and_a_bad_block_is_not_used() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache/suite-prompts");
        let oid = |s: &str| git2::Oid::hash_object(git2::ObjectType::Blob, s.as_bytes()).unwrap();
        let (t1, t2, empty) = (oid("tree one"), oid("tree two"), oid("no suites"));
        let files = vec![
            (PathBuf::from("a.yaml"), oid("a")),
            (PathBuf::from("sub dir/b.yaml"), oid("b")),
        ];
        let mut idx = SuiteIndex::open(Some(&path));
        assert_eq!(idx.tree(t1, Path::new("")), None);
        idx.learn(oid("prompt: a\n"), b"prompt: a\n");
        idx.learn_tree(t1, &files);
        idx.learn_tree(empty, &[]);
        // A path with a line break cannot be written: not learnt.
        idx.learn_tree(t2, &[(PathBuf::from("x\ny.yaml"), oid("x"))]);
        idx.save();
        let idx = SuiteIndex::open(Some(&path));
        assert_eq!(idx.tree(t1, Path::new("")), Some(files.clone()));
        assert_eq!(idx.tree(empty, Path::new("")), Some(Vec::new()));
        assert_eq!(idx.tree(t2, Path::new("")), None);
        // The blob entries still read back next to the blocks.
        assert_eq!(idx.get(oid("prompt: a\n")), Some("a"));

        // A block with a bad line, or shorter than it says, is not used.
        let text = std::fs::read_to_string(&path).unwrap();
        let bad = text.replace(&format!("{} a.yaml", oid("a")), "zz a.yaml");
        std::fs::write(&path, &bad).unwrap();
        assert_eq!(SuiteIndex::open(Some(&path)).tree(t1, Path::new("")), None);
        let short = text.replace(&format!("tree {t1} 2"), &format!("tree {t1} 9"));
        std::fs::write(&path, &short).unwrap();
        assert_eq!(SuiteIndex::open(Some(&path)).tree(t1, Path::new("")), None);

        // Only the newest trees are kept.
        let mut idx = SuiteIndex::open(Some(&path));
        let many: Vec<git2::Oid> = (0..MAX_TREES + 2).map(|i| oid(&format!("t{i}"))).collect();
        for t in &many {
            idx.learn_tree(*t, &files);
        }
        idx.save();
        let idx = SuiteIndex::open(Some(&path));
        assert_eq!(idx.tree(many[0], Path::new("")), None);
        assert_eq!(idx.tree(many[1], Path::new("")), None);
        assert_eq!(idx.tree(many[MAX_TREES + 1], Path::new("")), Some(files));
    }

    #[test]
    fn parsed_suites_round_trip_by_blob_and_a_bad_line_is_not_used() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache/suite-prompts");
        let id = git2::Oid::hash_object(git2::ObjectType::Blob, b"a suite").unwrap();
        let other = git2::Oid::hash_object(git2::ObjectType::Blob, b"another").unwrap();
        let mut vars = BTreeMap::new();
        vars.insert("ticket".to_string(), serde_json::json!("line one\nline two"));
        vars.insert("n".to_string(), serde_json::json!(1.5));
        let samples = Samples {
            prompt: "support/triage".into(),
            vars: vec![vars, BTreeMap::new()],
        };
        let mut idx = SuiteIndex::open(Some(&path));
        assert_eq!(idx.samples(id), None);
        idx.learn_samples(id, &samples);
        idx.learn_samples(other, &samples);
        idx.save();
        let text = std::fs::read_to_string(&path).unwrap();
        // One line each, whatever the values hold.
        assert_eq!(text.lines().filter(|l| l.starts_with("samples ")).count(), 2, "{text}");
        let idx = SuiteIndex::open(Some(&path));
        assert_eq!(idx.samples(id), Some(samples.clone()));
        // A line that does not read back is not used; the others still are.
        let bad = text.replacen(&format!("samples {id} {{"), &format!("samples {id} {{\"x\":1,"), 1);
        std::fs::write(&path, bad).unwrap();
        let idx = SuiteIndex::open(Some(&path));
        assert_eq!(idx.samples(id), None);
        assert_eq!(idx.samples(other), Some(samples));
    }
}
