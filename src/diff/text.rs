//! Line diffs of template text, split into hunks, with the token delta of
//! each hunk.
//!
//! Attribution: hunk *i*'s delta is the change of the text's token count when
//! hunk *i* is applied after hunks 1..*i*−1. The deltas therefore sum to
//! `count(new) − count(old)` exactly, by construction; a BPE merge across a
//! hunk's edge (a token spanning changed and unchanged text) is charged to
//! the hunk that causes it. Cost: one count of the section per hunk.

use serde::Serialize;
use similar::{Algorithm, ChangeTag, DiffOp, DiffTag, TextDiff};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LineOp {
    Equal,
    Delete,
    Insert,
}

impl LineOp {
    /// The unified-diff prefix.
    pub fn sign(self) -> char {
        match self {
            LineOp::Equal => ' ',
            LineOp::Delete => '-',
            LineOp::Insert => '+',
        }
    }
}

/// One line of a hunk.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DiffLine {
    pub op: LineOp,
    /// The line without its newline.
    pub text: String,
    /// The line cut into runs, `true` where the words changed (the
    /// word-level highlight of a terminal). Not part of the JSON schema.
    #[serde(skip)]
    pub words: Vec<(bool, String)>,
}

/// A hunk of a unified diff, with its token delta.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hunk {
    /// 1-based file line of the first old line; for a hunk with no old
    /// lines, the line it inserts after (0 at the top), as unified diffs do.
    pub old_start: usize,
    pub old_lines: usize,
    pub new_start: usize,
    pub new_lines: usize,
    /// Token change this hunk causes (see the module docs).
    pub tokens_delta: i64,
    pub lines: Vec<DiffLine>,
}

/// Hunks turning `old` into `new`. `old_line`/`new_line` are the file lines
/// of each text's first line; `count` counts tokens (the head's tokenizer).
pub fn hunks(
    old: &str,
    new: &str,
    old_line: usize,
    new_line: usize,
    context: usize,
    count: &dyn Fn(&str) -> u64,
) -> Vec<Hunk> {
    if old == new {
        return Vec::new();
    }
    // Templates have no final newline: diff them newline-terminated, so that
    // appending after the last line does not show that line as changed, and
    // drop the added newline again before counting. Texts that have a final
    // newline on either side (raw files) are diffed as they are.
    let terminate = !old.ends_with('\n') && !new.ends_with('\n');
    let with_nl = |s: &str| {
        if terminate && !s.is_empty() {
            format!("{s}\n")
        } else {
            s.to_string()
        }
    };
    let (old_t, new_t) = (with_nl(old), with_nl(new));
    let diff = TextDiff::configure()
        .algorithm(Algorithm::Patience)
        .diff_lines(old_t.as_str(), new_t.as_str());
    let old_lines: Vec<&str> = diff.iter_old_slices().collect();
    let new_lines: Vec<&str> = diff.iter_new_slices().collect();
    let groups: Vec<Vec<DiffOp>> = diff
        .grouped_ops(context)
        .into_iter()
        .filter(|g| g.iter().any(|op| op.tag() != DiffTag::Equal))
        .collect();

    // Every changed op, in order, with the hunk it belongs to.
    let changed: Vec<(DiffOp, usize)> = groups
        .iter()
        .enumerate()
        .flat_map(|(h, g)| g.iter().filter(|op| op.tag() != DiffTag::Equal).map(move |op| (*op, h)))
        .collect();
    // The text with hunks 0..k applied.
    let applied = |k: usize| -> String {
        let mut s = String::with_capacity(old_t.len().max(new_t.len()));
        let mut cursor = 0;
        for (op, h) in &changed {
            let r = op.old_range();
            s.extend(old_lines[cursor..r.start].iter().copied());
            if *h < k {
                s.extend(new_lines[op.new_range()].iter().copied());
            } else {
                s.extend(old_lines[r.clone()].iter().copied());
            }
            cursor = r.end;
        }
        s.extend(old_lines[cursor..].iter().copied());
        if terminate && s.ends_with('\n') {
            s.pop();
        }
        s
    };
    let mut prev = count(old) as i64;
    let mut out = Vec::with_capacity(groups.len());
    for (h, group) in groups.iter().enumerate() {
        let now = if h + 1 == groups.len() {
            count(new) as i64
        } else {
            count(&applied(h + 1)) as i64
        };
        out.push(hunk(&diff, group, old_line, new_line, now - prev));
        prev = now;
    }
    out
}

fn hunk(diff: &TextDiff<'_, '_, str>, group: &[DiffOp], old_line: usize, new_line: usize, tokens_delta: i64) -> Hunk {
    let first = group[0];
    let last = group[group.len() - 1];
    let old_lines = last.old_range().end - first.old_range().start;
    let new_lines = last.new_range().end - first.new_range().start;
    let start = |idx: usize, len: usize, base: usize| if len == 0 { base + idx - 1 } else { base + idx };
    let mut lines = Vec::new();
    for op in group {
        for change in diff.iter_inline_changes(op) {
            let op = match change.tag() {
                ChangeTag::Equal => LineOp::Equal,
                ChangeTag::Delete => LineOp::Delete,
                ChangeTag::Insert => LineOp::Insert,
            };
            let mut words: Vec<(bool, String)> = Vec::new();
            for (emph, s) in change.iter_strings_lossy() {
                let s = s.trim_end_matches(['\n', '\r']);
                if s.is_empty() {
                    continue;
                }
                match words.last_mut() {
                    Some((e, prev)) if *e == emph => prev.push_str(s),
                    _ => words.push((emph, s.to_string())),
                }
            }
            let text: String = words.iter().map(|(_, s)| s.as_str()).collect();
            if !words.iter().any(|(e, _)| *e) {
                words = vec![(false, text.clone())];
            }
            lines.push(DiffLine { op, text, words });
        }
    }
    Hunk {
        old_start: start(first.old_range().start, old_lines, old_line.max(1)),
        old_lines,
        new_start: start(first.new_range().start, new_lines, new_line.max(1)),
        new_lines,
        tokens_delta,
        lines,
    }
}

/// Pair the sections of two prompts by role, in order (a diff of the role
/// sequences): `(Some(i), Some(j))` compares old section i with new section
/// j; one-sided pairs are removed or added sections.
pub fn align<T: AsRef<str>>(old: &[T], new: &[T]) -> Vec<(Option<usize>, Option<usize>)> {
    let a: Vec<&str> = old.iter().map(AsRef::as_ref).collect();
    let b: Vec<&str> = new.iter().map(AsRef::as_ref).collect();
    let mut out = Vec::new();
    for op in similar::capture_diff_slices(Algorithm::Myers, &a, &b) {
        match op {
            DiffOp::Equal {
                old_index,
                new_index,
                len,
            } => out.extend((0..len).map(|k| (Some(old_index + k), Some(new_index + k)))),
            other => {
                out.extend(other.old_range().map(|i| (Some(i), None)));
                out.extend(other.new_range().map(|j| (None, Some(j))));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::TokenizerKind;
    use crate::tokens::count_text;

    fn o200k(s: &str) -> u64 {
        count_text(TokenizerKind::O200kBase, s)
    }

    #[test]
    fn hunk_deltas_sum_to_the_total_delta() {
        let old = (1..=40)
            .map(|i| format!("Line {i} says something plain."))
            .collect::<Vec<_>>()
            .join("\n");
        let mut lines: Vec<String> = old.lines().map(String::from).collect();
        lines[2] = "Line 3 now says something much longer, with several extra clauses added.".into();
        lines.insert(20, "A brand new paragraph in the middle of the prompt.".into());
        lines.remove(35);
        lines[38] = "Line 40 says".into();
        let new = lines.join("\n");
        let hs = hunks(&old, &new, 10, 10, 3, &o200k);
        assert_eq!(hs.len(), 3, "{hs:#?}");
        let sum: i64 = hs.iter().map(|h| h.tokens_delta).sum();
        assert_eq!(sum, o200k(&new) as i64 - o200k(&old) as i64);
        assert!(hs[0].tokens_delta > 0 && hs[1].tokens_delta > 0);
    }

    #[test]
    fn sums_hold_for_many_random_edits() {
        // A tiny deterministic generator: many shapes of edits, including
        // ones where a BPE token spans a hunk's edge.
        let words = [
            "alpha",
            "beta",
            " gamma",
            "{{ x }}",
            "ünïcode",
            "",
            "  ",
            "end.",
            "JSON",
            "ok",
        ];
        let mut rng = fastrand::Rng::with_seed(7);
        let mk = |rng: &mut fastrand::Rng, len: usize| -> String {
            (0..len)
                .map(|_| {
                    (0..rng.usize(..4))
                        .map(|_| words[rng.usize(..words.len())])
                        .collect::<String>()
                })
                .collect::<Vec<_>>()
                .join("\n")
        };
        for _ in 0..200 {
            let n = rng.usize(..30);
            let old = mk(&mut rng, n);
            let new = if rng.bool() {
                let n = rng.usize(..30);
                mk(&mut rng, n)
            } else {
                old.lines()
                    .map(|l| {
                        if rng.usize(..5) == 0 {
                            format!("{l} extra")
                        } else {
                            l.to_string()
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            let hs = hunks(&old, &new, 1, 1, rng.usize(..4), &o200k);
            let sum: i64 = hs.iter().map(|h| h.tokens_delta).sum();
            assert_eq!(sum, o200k(&new) as i64 - o200k(&old) as i64, "{old:?} -> {new:?}");
        }
    }

    #[test]
    fn hunks_carry_file_line_numbers_and_word_highlights() {
        let old = "one\ntwo\nthree\nfour";
        let new = "one\ntwo, changed\nthree\nfour";
        let hs = hunks(old, new, 12, 12, 1, &o200k);
        assert_eq!(hs.len(), 1);
        let h = &hs[0];
        assert_eq!((h.old_start, h.old_lines, h.new_start, h.new_lines), (12, 3, 12, 3));
        let ops: Vec<(char, &str)> = h.lines.iter().map(|l| (l.op.sign(), l.text.as_str())).collect();
        assert_eq!(
            ops,
            vec![(' ', "one"), ('-', "two"), ('+', "two, changed"), (' ', "three")]
        );
        let ins = &h.lines[2];
        assert!(
            ins.words.iter().any(|(e, s)| *e && s.contains("changed")),
            "{:?}",
            ins.words
        );
        assert!(
            ins.words.iter().any(|(e, s)| !*e && s.contains("two")),
            "{:?}",
            ins.words
        );
    }

    #[test]
    fn appending_after_the_last_line_leaves_it_unchanged() {
        let hs = hunks("a\nb", "a\nb\n\nc", 1, 1, 3, &o200k);
        let ops: Vec<char> = hs[0].lines.iter().map(|l| l.op.sign()).collect();
        assert_eq!(ops, vec![' ', ' ', '+', '+']);
        assert_eq!(hs[0].tokens_delta, o200k("a\nb\n\nc") as i64 - o200k("a\nb") as i64);
        // Mixed endings (raw file text) still sum exactly.
        let hs = hunks("x\ny\n", "x\nz", 1, 1, 3, &o200k);
        let sum: i64 = hs.iter().map(|h| h.tokens_delta).sum();
        assert_eq!(sum, o200k("x\nz") as i64 - o200k("x\ny\n") as i64);
    }

    #[test]
    fn added_text_is_one_hunk_from_zero() {
        let hs = hunks("", "hello\nworld", 0, 5, 3, &o200k);
        assert_eq!(hs.len(), 1);
        assert_eq!(hs[0].tokens_delta, o200k("hello\nworld") as i64);
        assert_eq!((hs[0].old_start, hs[0].old_lines, hs[0].new_start), (0, 0, 5));
        assert!(hunks("same", "same", 1, 1, 3, &o200k).is_empty());
    }

    #[test]
    fn sections_align_by_role() {
        let pairs = align(&["system", "user"], &["system", "user", "assistant", "user"]);
        assert_eq!(
            pairs,
            vec![(Some(0), Some(0)), (Some(1), Some(1)), (None, Some(2)), (None, Some(3))]
        );
        let pairs = align(&["system", "user"], &["user"]);
        assert_eq!(pairs, vec![(Some(0), None), (Some(1), Some(0))]);
    }
}
