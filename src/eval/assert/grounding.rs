//! Sources held in case variables, citations of them (`cites-sources`), and
//! the lexical grounding measure (`grounded`). The definitions users rely on
//! are in the parent module's docs; keep the two in step.

use std::collections::{BTreeMap, HashSet};
use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

use super::{Outcome, excerpt, kind_of};

/// A sentence is supported when at least this share of its distinct content
/// words occur in the context.
pub const SUPPORT_SHARE: f64 = 0.5;

/// Words that carry no fact, lowercased and sorted (binary search). Words
/// shorter than 3 letters are dropped before this list is consulted.
const STOPWORDS: &[&str] = &[
    "about",
    "above",
    "after",
    "again",
    "against",
    "all",
    "also",
    "and",
    "any",
    "are",
    "aren",
    "because",
    "been",
    "before",
    "being",
    "below",
    "between",
    "both",
    "but",
    "can",
    "cannot",
    "could",
    "couldn",
    "did",
    "didn",
    "does",
    "doesn",
    "doing",
    "don",
    "down",
    "during",
    "each",
    "either",
    "else",
    "etc",
    "ever",
    "every",
    "few",
    "for",
    "from",
    "further",
    "had",
    "hadn",
    "has",
    "hasn",
    "have",
    "haven",
    "having",
    "her",
    "here",
    "hers",
    "herself",
    "him",
    "himself",
    "his",
    "how",
    "however",
    "into",
    "isn",
    "its",
    "itself",
    "just",
    "let",
    "may",
    "might",
    "more",
    "most",
    "much",
    "must",
    "mustn",
    "nor",
    "not",
    "now",
    "off",
    "once",
    "only",
    "other",
    "our",
    "ours",
    "ourselves",
    "out",
    "over",
    "own",
    "per",
    "same",
    "shall",
    "she",
    "should",
    "shouldn",
    "since",
    "some",
    "such",
    "than",
    "that",
    "the",
    "their",
    "theirs",
    "them",
    "themselves",
    "then",
    "there",
    "these",
    "they",
    "this",
    "those",
    "through",
    "thus",
    "too",
    "under",
    "until",
    "upon",
    "very",
    "via",
    "was",
    "wasn",
    "were",
    "weren",
    "what",
    "when",
    "where",
    "whether",
    "which",
    "while",
    "who",
    "whom",
    "whose",
    "why",
    "will",
    "with",
    "within",
    "without",
    "won",
    "would",
    "wouldn",
    "yes",
    "yet",
    "you",
    "your",
    "yours",
    "yourself",
    "yourselves",
];

/// One source: an optional id and its text, borrowed from the variables.
struct Source<'v> {
    id: Option<String>,
    text: &'v str,
}

/// The sources in variable `var`: a list of strings or `{id?, text}`
/// mappings (`content` is accepted for `text`), or one string.
fn sources<'v>(vars: &'v BTreeMap<String, Value>, var: &str) -> Result<Vec<Source<'v>>, String> {
    let Some(value) = vars.get(var) else {
        return Err(format!(
            "variable `{var}` is not set in this case (it should hold the sources; name another with `sources:` or `context:`)"
        ));
    };
    match value {
        Value::String(s) => Ok(vec![Source { id: None, text: s }]),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::String(s) => Ok(Source { id: None, text: s }),
                Value::Object(m) => {
                    let id = match m.get("id") {
                        None | Some(Value::Null) => None,
                        Some(Value::String(s)) => Some(s.clone()),
                        Some(Value::Number(n)) => Some(n.to_string()),
                        Some(other) => {
                            return Err(format!(
                                "`{var}` item {}: `id` must be a string, got {}",
                                i + 1,
                                kind_of(other)
                            ));
                        }
                    };
                    let text = match m.get("text").or_else(|| m.get("content")) {
                        None | Some(Value::Null) => "",
                        Some(Value::String(s)) => s.as_str(),
                        Some(other) => {
                            return Err(format!(
                                "`{var}` item {}: `text` must be a string, got {}",
                                i + 1,
                                kind_of(other)
                            ));
                        }
                    };
                    Ok(Source { id, text })
                }
                other => Err(format!(
                    "`{var}` item {} must be a string or a mapping with `text`, got {}",
                    i + 1,
                    kind_of(other)
                )),
            })
            .collect(),
        other => Err(format!(
            "variable `{var}` must be a list of sources or a string, got {}",
            kind_of(other)
        )),
    }
}

// A bracket group, and whether a `(` follows (then it is a markdown link).
// The pattern is a literal that compiles; a test exercises it.
static BRACKETS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\[([^\[\]\n]{1,100})\](\()?").expect("literal regex compiles"));

/// A bracket group every part of which looks like a citation token.
struct Group<'t> {
    range: Range<usize>,
    parts: Vec<&'t str>,
}

fn is_token(p: &str) -> bool {
    let mut chars = p.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && p.len() <= 64
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.:#/-".contains(c))
}

fn is_number(p: &str) -> bool {
    !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())
}

fn citation_groups(text: &str) -> Vec<Group<'_>> {
    BRACKETS
        .captures_iter(text)
        .filter(|caps| caps.get(2).is_none())
        .filter_map(|caps| {
            let whole = caps.get(0)?;
            let inner = caps.get(1)?.as_str();
            let parts: Vec<&str> = inner
                .split([',', ';'])
                .map(|p| p.trim().trim_start_matches('^'))
                .collect();
            parts.iter().all(|p| is_token(p)).then_some(Group {
                range: whole.range(),
                parts,
            })
        })
        .collect()
}

pub(super) fn cites_sources(out: &str, vars: &BTreeMap<String, Value>, var: &str) -> Outcome {
    let srcs = match sources(vars, var) {
        Ok(s) => s,
        Err(e) => return Outcome::Unmeasured(e),
    };
    if srcs.is_empty() {
        return Outcome::Unmeasured(format!("`{var}` is an empty list: there is nothing to cite"));
    }
    let ids: Vec<&str> = srcs.iter().filter_map(|s| s.id.as_deref()).collect();
    let n = srcs.len();
    let mut total = 0usize;
    let mut bad: Vec<String> = Vec::new();
    for group in citation_groups(out) {
        // Without ids only numbers cite; `[note]` is then just prose.
        if ids.is_empty() && !group.parts.iter().all(|p| is_number(p)) {
            continue;
        }
        for part in group.parts {
            total += 1;
            if ids.contains(&part) {
                continue;
            }
            if is_number(part) {
                match part.parse::<usize>() {
                    Ok(k) if (1..=n).contains(&k) => continue,
                    Ok(0) => bad.push(format!(
                        "citation [{part}] is out of range: sources are numbered from 1"
                    )),
                    _ => bad.push(format!(
                        "citation [{part}] is out of range: `{var}` has {n} source{}",
                        if n == 1 { "" } else { "s" }
                    )),
                }
            } else {
                let known: Vec<&str> = ids.iter().take(5).copied().collect();
                let more = if ids.len() > 5 { ", …" } else { "" };
                bad.push(format!(
                    "citation [{part}] matches no source id in `{var}` (ids: {}{more})",
                    known.join(", ")
                ));
            }
        }
    }
    if total == 0 {
        let how = match ids.first() {
            Some(id) => format!("[1]..[{n}] or by id, e.g. [{id}]"),
            None => format!("[1]..[{n}]"),
        };
        return Outcome::Measured {
            pass: false,
            score: None,
            detail: format!("output cites no source; cite the sources in `{var}` as {how}"),
        };
    }
    let score = Some((total - bad.len()) as f64 / total as f64);
    match bad.split_first() {
        None => Outcome::Measured {
            pass: true,
            score,
            detail: format!(
                "all {total} citation{} refer to sources in `{var}`",
                if total == 1 { "" } else { "s" }
            ),
        },
        Some((first, rest)) => {
            let more = match rest.len() {
                0 => String::new(),
                1 => "; 1 more bad citation".to_string(),
                k => format!("; {k} more bad citations"),
            };
            Outcome::Measured {
                pass: false,
                score,
                detail: format!("{first}{more}"),
            }
        }
    }
}

/// Lowercased content words of `text`: no stopwords, no words under 3
/// letters unless they hold a digit, no plural `s`.
fn content_words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric()).filter_map(|w| {
        if w.is_empty() {
            return None;
        }
        let w = w.to_lowercase();
        let has_digit = w.chars().any(|c| c.is_ascii_digit());
        if !has_digit && (w.chars().count() < 3 || STOPWORDS.binary_search(&w.as_str()).is_ok()) {
            return None;
        }
        Some(singular(w))
    })
}

fn singular(mut w: String) -> String {
    if w.chars().count() > 3 && w.ends_with('s') && !w.ends_with("ss") {
        w.pop();
    }
    w
}

/// Sentences end at `.`, `!` or `?` before whitespace or the end, and at
/// line breaks (list items are claims of their own).
fn sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut it = text.char_indices().peekable();
    while let Some((i, c)) = it.next() {
        let end = match c {
            '\n' => Some(i),
            '.' | '!' | '?' if it.peek().is_none_or(|(_, next)| next.is_whitespace()) => Some(i + 1),
            _ => None,
        };
        if let Some(end) = end {
            out.push(&text[start..end]);
            start = i + c.len_utf8();
        }
    }
    out.push(&text[start..]);
    out.into_iter().map(str::trim).filter(|s| !s.is_empty()).collect()
}

/// Supported and counted sentences of `answer` against the context words,
/// and the first unsupported sentence.
fn measure<'a>(answer: &'a str, context: &HashSet<String>) -> (usize, usize, Option<&'a str>) {
    let (mut supported, mut total, mut first_unsupported) = (0, 0, None);
    for sentence in sentences(answer) {
        let mut words: Vec<String> = content_words(sentence).collect();
        words.sort_unstable();
        words.dedup();
        if words.is_empty() {
            continue;
        }
        total += 1;
        let found = words.iter().filter(|w| context.contains(*w)).count();
        if found as f64 >= SUPPORT_SHARE * words.len() as f64 {
            supported += 1;
        } else if first_unsupported.is_none() {
            first_unsupported = Some(sentence);
        }
    }
    (supported, total, first_unsupported)
}

/// `answer` without its citation brackets, which are no claims.
fn without_citations(answer: &str) -> String {
    let mut out = String::with_capacity(answer.len());
    let mut at = 0;
    for g in citation_groups(answer) {
        out.push_str(&answer[at..g.range.start]);
        at = g.range.end;
    }
    out.push_str(&answer[at..]);
    out
}

pub(super) fn grounded(out: &str, vars: &BTreeMap<String, Value>, var: &str, threshold: f64) -> Outcome {
    let srcs = match sources(vars, var) {
        Ok(s) => s,
        Err(e) => return Outcome::Unmeasured(e),
    };
    let context: HashSet<String> = srcs.iter().flat_map(|s| content_words(s.text)).collect();
    if context.is_empty() {
        return Outcome::Unmeasured(format!("`{var}` has no text to check the answer against"));
    }
    let answer = without_citations(out);
    let (supported, total, first_unsupported) = measure(&answer, &context);
    if total == 0 {
        return Outcome::Measured {
            pass: false,
            score: Some(0.0),
            detail: "lexical grounding: the answer has no sentence with content words to check".into(),
        };
    }
    let score = supported as f64 / total as f64;
    // Tolerance for shares like 3/5 against a threshold written as 0.6.
    let pass = score + 1e-9 >= threshold;
    let verdict = if pass { "meets" } else { "is below" };
    let mut detail = format!(
        "lexical grounding {score:.2} {verdict} threshold {threshold:.2}: {supported} of {total} sentences have at least half of their content words in `{var}`"
    );
    if !pass && let Some(s) = first_unsupported {
        detail.push_str(&format!("; first unsupported: {}", excerpt(s, 80)));
    }
    Outcome::Measured {
        pass,
        score: Some(score),
        detail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stopwords_are_sorted_for_binary_search() {
        assert!(STOPWORDS.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn sentences_split_at_terminators_and_lines_not_decimals() {
        assert_eq!(
            sentences("Refunds take 3.5 days. Really? Yes!\n- item one\nend"),
            vec!["Refunds take 3.5 days.", "Really?", "Yes!", "- item one", "end"]
        );
    }

    #[test]
    fn content_words_drop_stopwords_short_words_and_plurals() {
        let words: Vec<String> = content_words("The refunds are issued in 5 days, not 30.").collect();
        assert_eq!(words, vec!["refund", "issued", "5", "day", "30"]);
    }

    #[test]
    fn citation_groups_skip_links_and_prose() {
        let text = "See [1, 2] and [^3], not [a link](http://x) or [citation needed].";
        let groups: Vec<Vec<&str>> = citation_groups(text).into_iter().map(|g| g.parts).collect();
        assert_eq!(groups, vec![vec!["1", "2"], vec!["3"]]);
        assert_eq!(without_citations("Refunds take 5 days [1]."), "Refunds take 5 days .");
    }
}
