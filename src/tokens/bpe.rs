//! Byte-pair encoding over prebuilt tables: counts exactly what tiktoken
//! counts for o200k_base and cl100k_base, with no table set-up at run time.
//!
//! `build.rs` writes each encoding's vocabulary (with its hash index) and its
//! pre-tokenization DFA into the binary; here both are read in place. The
//! first count in a process costs the DFA's validation (well under a
//! millisecond) instead of deserializing tens of megabytes of tables, which
//! is what dominated short commands (see BENCHMARKS.md, "Tokens").
//!
//! Counting a text: split it into pieces with the encoding's patterns, then
//! count each piece's tokens by repeatedly merging the adjacent pair of parts
//! whose concatenation has the lowest rank (leftmost on ties) until no pair
//! is a token — the definition of BPE encoding that tiktoken implements. A
//! heap keeps each merge O(log n), so a long piece is not quadratic.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::LazyLock;

use regex_automata::dfa::Automaton;
use regex_automata::dfa::dense::DFA;
use regex_automata::{Anchored, Input};

use super::table::Vocab;

/// `include_bytes!` with the 4-byte alignment `DFA::from_bytes` needs.
#[repr(C)]
struct Aligned<B: ?Sized> {
    _align: [u32; 0],
    bytes: B,
}

static O200K_VOCAB: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/o200k_base.vocab"));
static CL100K_VOCAB: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/cl100k_base.vocab"));
static O200K_DFA: &Aligned<[u8]> = &Aligned {
    _align: [],
    bytes: *include_bytes!(concat!(env!("OUT_DIR"), "/o200k_base.dfa")),
};
static CL100K_DFA: &Aligned<[u8]> = &Aligned {
    _align: [],
    bytes: *include_bytes!(concat!(env!("OUT_DIR"), "/cl100k_base.dfa")),
};

/// The pattern whose last character is a look-ahead to give back.
const LOOKAHEAD_PATTERN: usize = 1;

/// One encoding: its vocabulary and its pre-tokenizer.
pub struct Encoding {
    vocab: Vocab<'static>,
    dfa: DFA<&'static [u32]>,
}

fn load(vocab: &'static [u8], dfa: &'static [u8]) -> Encoding {
    // Both were written by build.rs for this target; failing here means a
    // corrupt build, not bad input.
    //
    // The DFA is read without validation: validating walks every transition
    // of the 1.6–2.8 MB table, which cost ~6 M instructions and a page fault
    // per 4 KiB on the first count of every process (BENCHMARKS.md, "Diff");
    // unvalidated, only the states a text visits are touched.
    //
    // SAFETY: build.rs serialized these bytes, in this build, from a DFA it
    // had just built, in the target's endianness (`to_bytes_little_endian` /
    // `to_bytes_big_endian`, chosen by CARGO_CFG_TARGET_ENDIAN), and
    // `Aligned` gives them the 4-byte alignment the format needs. The test
    // `embedded_dfas_pass_validation` runs the validating `DFA::from_bytes`
    // over both embedded tables.
    let dfa = unsafe { DFA::from_bytes_unchecked(dfa) };
    Encoding {
        vocab: Vocab::new(vocab).expect("prebuilt vocabulary is valid"),
        dfa: dfa.expect("prebuilt DFA is valid").0,
    }
}

static O200K: LazyLock<Encoding> = LazyLock::new(|| load(O200K_VOCAB, &O200K_DFA.bytes));
static CL100K: LazyLock<Encoding> = LazyLock::new(|| load(CL100K_VOCAB, &CL100K_DFA.bytes));

pub fn o200k_base() -> &'static Encoding {
    &O200K
}

pub fn cl100k_base() -> &'static Encoding {
    &CL100K
}

impl Encoding {
    /// Tokens of `text` as the encoding's tokenizer produces them (no special
    /// tokens are recognized: text is text).
    pub fn count(&self, text: &str) -> usize {
        let mut merger = Merger::default();
        self.split(text).map(|p| merger.count(&self.vocab, p.as_bytes())).sum()
    }

    /// The pre-tokenization pieces of `text`.
    pub fn split<'t>(&'t self, text: &'t str) -> impl Iterator<Item = &'t str> + 't {
        let mut at = 0;
        std::iter::from_fn(move || {
            if at >= text.len() {
                return None;
            }
            let input = Input::new(text).range(at..).anchored(Anchored::Yes);
            let m = self.dfa.try_search_fwd(&input).ok().flatten()?;
            let start = at;
            let mut end = m.offset();
            if m.pattern().as_usize() == LOOKAHEAD_PATTERN {
                let last = text[start..end].chars().next_back().map_or(0, char::len_utf8);
                // `\s+\s` matches at least two characters, so one remains.
                end -= last;
            }
            if end <= start {
                return None;
            }
            at = end;
            Some(&text[start..end])
        })
    }

    /// The vocabulary (tests compare it with the reference's).
    #[cfg(test)]
    pub fn vocab(&self) -> &Vocab<'static> {
        &self.vocab
    }
}

/// Scratch space for counting pieces, reused across the pieces of a text.
#[derive(Default)]
struct Merger {
    /// `next[i]`: where the part starting at byte `i` ends.
    next: Vec<usize>,
    /// `prev[i]`: where the part ending at byte `i` starts.
    prev: Vec<usize>,
    alive: Vec<bool>,
    /// Candidate merges: (rank, left part start, right part end).
    heap: BinaryHeap<Reverse<(u32, usize, usize)>>,
}

impl Merger {
    fn count(&mut self, vocab: &Vocab<'_>, piece: &[u8]) -> usize {
        let n = piece.len();
        if n <= 1 || vocab.rank(piece).is_some() {
            return n.min(1);
        }
        self.next.clear();
        self.next.extend(1..=n);
        self.prev.clear();
        self.prev.extend((0..=n).map(|i| i.saturating_sub(1)));
        self.alive.clear();
        self.alive.resize(n, true);
        self.heap.clear();
        for i in 0..n - 1 {
            if let Some(r) = vocab.rank(&piece[i..i + 2]) {
                self.heap.push(Reverse((r, i, i + 2)));
            }
        }
        let mut parts = n;
        while let Some(Reverse((_, left, end))) = self.heap.pop() {
            // Stale unless `left` still starts a part and the part after it
            // still ends at `end`.
            if !self.alive[left] {
                continue;
            }
            let mid = self.next[left];
            if mid >= n || !self.alive[mid] || self.next[mid] != end {
                continue;
            }
            self.alive[mid] = false;
            self.next[left] = end;
            if end < n {
                self.prev[end] = left;
            }
            parts -= 1;
            if left > 0 {
                let before = self.prev[left];
                if let Some(r) = vocab.rank(&piece[before..end]) {
                    self.heap.push(Reverse((r, before, end)));
                }
            }
            if end < n {
                let after = self.next[end];
                if let Some(r) = vocab.rank(&piece[left..after]) {
                    self.heap.push(Reverse((r, left, after)));
                }
            }
        }
        parts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_dfas_pass_validation() {
        // What `load` skips at run time, done once here.
        for bytes in [&O200K_DFA.bytes, &CL100K_DFA.bytes] {
            let (dfa, _) = DFA::from_bytes(bytes).expect("build.rs wrote a valid DFA");
            assert!(dfa.pattern_len() > LOOKAHEAD_PATTERN);
        }
    }

    #[test]
    fn every_token_is_one_token_and_tables_match_the_reference() {
        for (ours, theirs) in [
            (o200k_base(), bpe_openai::o200k_base()),
            (cl100k_base(), bpe_openai::cl100k_base()),
        ] {
            assert_eq!(ours.vocab().len(), theirs.bpe.num_tokens());
            for id in (0..theirs.bpe.num_tokens() as u32).step_by(97) {
                let bytes = theirs.bpe.token_bytes(id);
                assert_eq!(ours.vocab().token(id), bytes);
                assert_eq!(ours.vocab().rank(bytes), Some(id));
            }
        }
    }

    #[test]
    fn splits_like_the_reference_and_give_back_the_look_ahead_character() {
        let text = "a  b\n\n  c   ";
        let pieces: Vec<&str> = o200k_base().split(text).collect();
        // `\s+(?!\S)` leaves the last space to start " b" and " c".
        assert_eq!(pieces, ["a", " ", " b", "\n\n", " ", " c", "   "]);
        let reference: Vec<&str> = bpe_openai::o200k_base().split(text).collect();
        assert_eq!(pieces, reference);
    }

    /// A random string over characters from many Unicode classes: letters of
    /// several cases and scripts, marks, digits of several systems,
    /// punctuation, symbols, emoji, every kind of white space, contractions.
    fn random_text(rng: &mut fastrand::Rng, len: usize) -> String {
        const POOL: &[&str] = &[
            "a",
            "Z",
            "é",
            "É",
            "ß",
            "ǅ",
            "ʰ",
            "ﬁ",
            "ω",
            "Ω",
            "д",
            "Ж",
            "ש",
            "ع",
            "ह",
            "ि",
            "中",
            "日本",
            "한",
            "\u{301}",
            "\u{308}",
            "0",
            "7",
            "٣",
            "५",
            "²",
            "½",
            "Ⅻ",
            "!",
            "?",
            ".",
            ",",
            "'",
            "\"",
            "-",
            "—",
            "/",
            "\\",
            "(",
            "]",
            "{",
            "}",
            "<",
            ">",
            "$",
            "€",
            "+",
            "=",
            "~",
            "@",
            "#",
            "%",
            "&",
            "*",
            "😀",
            "🚀",
            "👩‍💻",
            "🇩🇪",
            " ",
            "  ",
            "\t",
            "\n",
            "\r\n",
            "\r",
            "\u{a0}",
            "\u{2003}",
            "\u{3000}",
            "'s",
            "'T",
            "'re",
            "'LL",
            "'d",
            "'m",
            "'ve",
            "the",
            " the",
            "Hello",
            "JSON",
            "camelCase",
            "x1",
            "<|endoftext|>",
        ];
        (0..len).map(|_| POOL[rng.usize(0..POOL.len())]).collect()
    }

    #[test]
    fn counts_and_splits_equal_the_reference_on_random_text() {
        let mut rng = fastrand::Rng::with_seed(20261127);
        for round in 0..4000 {
            let len = rng.usize(0..(if round % 10 == 0 { 400 } else { 40 }));
            let text = random_text(&mut rng, len);
            for (ours, theirs, name) in [
                (o200k_base(), bpe_openai::o200k_base(), "o200k_base"),
                (cl100k_base(), bpe_openai::cl100k_base(), "cl100k_base"),
            ] {
                let a: Vec<&str> = ours.split(&text).collect();
                let b: Vec<&str> = theirs.split(&text).collect();
                assert_eq!(a, b, "{name} split of {text:?}");
                assert_eq!(
                    ours.count(&text),
                    theirs.count(text.as_str()),
                    "{name} count of {text:?}"
                );
            }
        }
    }

    #[test]
    fn a_long_piece_is_counted_like_the_reference() {
        // One piece of 20,000 bytes: the heap keeps this fast; the count
        // must equal the reference's.
        let text = "x".repeat(20_000);
        assert_eq!(o200k_base().count(&text), bpe_openai::o200k_base().count(text.as_str()));
        let text = "=-".repeat(5_000);
        assert_eq!(
            cl100k_base().count(&text),
            bpe_openai::cl100k_base().count(text.as_str())
        );
    }
}
