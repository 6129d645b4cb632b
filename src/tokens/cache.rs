//! A disk cache of token counts, so re-measuring unchanged text needs no
//! tokenizer tables (building them costs more than the rest of a `tokens` or
//! `list` run; see BENCHMARKS.md).
//!
//! Keyed by encoding and the blake3 hash of the exact text; the header names
//! the counting implementation, so a tokenizer change starts a fresh cache.
//! The file is rewritten atomically (temp file + rename). A cache that cannot
//! be read or written is ignored: it is an optimisation, never a source of
//! numbers that were not counted.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use crate::catalog::TokenizerKind;

const HEADER: &str = "promptctl token-count cache v1 prebuilt-bpe-1";
/// Entries kept at most; the oldest beyond this are dropped on write.
const MAX_ENTRIES: usize = 200_000;

pub(super) type Key = (u8, [u8; 16]);

struct Cache {
    path: PathBuf,
    entries: HashMap<Key, u64>,
    /// Insertion order of new entries (appended after the loaded ones).
    order: Vec<Key>,
    dirty: bool,
}

static CACHE: OnceLock<Mutex<Option<Cache>>> = OnceLock::new();

fn slot() -> &'static Mutex<Option<Cache>> {
    CACHE.get_or_init(|| Mutex::new(None))
}

/// Whether a cache is in use (then [`key`] is worth computing).
static ENABLED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

pub(super) fn enabled() -> bool {
    ENABLED.load(std::sync::atomic::Ordering::Relaxed)
}

pub(super) fn key(kind: TokenizerKind, text: &str) -> Key {
    let tag = match kind {
        TokenizerKind::O200kBase | TokenizerKind::Approx => 0,
        TokenizerKind::Cl100kBase => 1,
    };
    let h = blake3::hash(text.as_bytes());
    let mut k = [0u8; 16];
    k.copy_from_slice(&h.as_bytes()[..16]);
    (tag, k)
}

/// Use the cache file at `path` for this process.
pub fn enable(path: &Path) {
    let mut entries = HashMap::new();
    let mut order = Vec::new();
    if let Ok(text) = std::fs::read_to_string(path) {
        let mut lines = text.lines();
        if lines.next() == Some(HEADER) {
            for line in lines {
                if let Some((k, n)) = parse_line(line)
                    && entries.insert(k, n).is_none()
                {
                    order.push(k);
                }
            }
        }
    }
    if let Ok(mut g) = slot().lock() {
        *g = Some(Cache {
            path: path.to_path_buf(),
            entries,
            order,
            dirty: false,
        });
        ENABLED.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

fn parse_line(line: &str) -> Option<(Key, u64)> {
    let mut parts = line.split('\t');
    let tag: u8 = parts.next()?.parse().ok()?;
    let hex = parts.next()?;
    let n: u64 = parts.next()?.parse().ok()?;
    if hex.len() != 32 {
        return None;
    }
    let mut k = [0u8; 16];
    for (i, b) in k.iter_mut().enumerate() {
        *b = u8::from_str_radix(hex.get(i * 2..i * 2 + 2)?, 16).ok()?;
    }
    Some(((tag, k), n))
}

/// The count stored under `k` (a [`key`] computed outside the lock: threads
/// that count at once wait only for the lookup, not for each other's hashing).
pub(super) fn get(k: &Key) -> Option<u64> {
    let g = slot().lock().ok()?;
    g.as_ref()?.entries.get(k).copied()
}

pub(super) fn put(k: Key, n: u64) {
    if let Ok(mut g) = slot().lock()
        && let Some(c) = g.as_mut()
        && c.entries.insert(k, n).is_none()
    {
        c.order.push(k);
        c.dirty = true;
    }
}

/// Write new entries to disk (atomically). Errors are ignored.
pub fn flush() {
    let Ok(mut g) = slot().lock() else { return };
    let Some(c) = g.as_mut() else { return };
    if !c.dirty {
        return;
    }
    let skip = c.order.len().saturating_sub(MAX_ENTRIES);
    let mut out = String::with_capacity(c.order.len() * 48);
    out.push_str(HEADER);
    out.push('\n');
    for k in &c.order[skip..] {
        let n = c.entries[k];
        out.push_str(&format!("{}\t", k.0));
        for b in k.1 {
            out.push_str(&format!("{b:02x}"));
        }
        out.push_str(&format!("\t{n}\n"));
    }
    let _ = crate::fs::write_atomic(&c.path, out.as_bytes());
    c.dirty = false;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_round_trip_and_bad_lines_are_skipped() {
        let (tag, k) = key(TokenizerKind::Cl100kBase, "hello");
        let hex: String = k.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(parse_line(&format!("{tag}\t{hex}\t42")), Some(((1, k), 42)));
        assert_eq!(parse_line("x\tzz\t1"), None);
        assert_eq!(parse_line(&format!("0\t{}\t1", &hex[..30])), None);
    }

    #[test]
    fn encodings_do_not_share_keys() {
        assert_ne!(key(TokenizerKind::O200kBase, "a"), key(TokenizerKind::Cl100kBase, "a"));
        assert_eq!(key(TokenizerKind::O200kBase, "a"), key(TokenizerKind::Approx, "a"));
    }
}
