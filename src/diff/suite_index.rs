//! Which prompt each committed suite file tests, by blob id, so a diff does
//! not read every suite at a revision to find the few that test a changed
//! prompt (`.promptctl/cache/suite-prompts`).
//!
//! A blob's content never changes, so an entry never goes stale. The prompt
//! is read off the file's top-level `prompt:` line by a strict scan; a file
//! the scan is not sure about (no such line, several, a value with quoting
//! or characters a prompt name does not have) gets no entry and is read every
//! time, as without the index. When a suite is parsed anyway and its prompt
//! differs from the scan, the entry is dropped. Like the token-count cache,
//! the file is an optimisation: unreadable means empty, unwritable means not
//! written, and it is rewritten atomically.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

const HEADER: &str = "promptctl suite-prompts index v1";
/// Entries kept at most; the oldest beyond this are dropped on write.
const MAX_ENTRIES: usize = 100_000;

pub struct SuiteIndex {
    path: Option<PathBuf>,
    entries: HashMap<git2::Oid, String>,
    order: Vec<git2::Oid>,
    dirty: bool,
}

impl SuiteIndex {
    /// The project's index; `None` path: in memory only (tests).
    pub fn open(path: Option<&Path>) -> SuiteIndex {
        let mut idx = SuiteIndex {
            path: path.map(Path::to_path_buf),
            entries: HashMap::new(),
            order: Vec::new(),
            dirty: false,
        };
        let Some(text) = path.and_then(|p| std::fs::read_to_string(p).ok()) else {
            return idx;
        };
        let mut lines = text.lines();
        if lines.next() != Some(HEADER) {
            return idx;
        }
        for line in lines {
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
}
