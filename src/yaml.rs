//! YAML reading with errors that point at the file, line and column.
//!
//! promptctl reads YAML with serde-saphyr (serde_yaml is archived upstream).
//! Every YAML document promptctl reads goes through [`from_str`], so every
//! YAML error looks the same: `file:line:col: message` plus a hint where one
//! helps (an unknown key gets the closest known key).

use std::path::Path;

use serde::de::DeserializeOwned;

use crate::error::{Error, suggest};

/// Parse `src` (which starts at line `line_offset + 1` of `path`).
pub fn from_str<T: DeserializeOwned>(src: &str, path: &Path, line_offset: usize) -> Result<T, Error> {
    serde_saphyr::from_str::<T>(src).map_err(|e| located(&e, path, line_offset))
}

fn located(e: &serde_saphyr::Error, path: &Path, line_offset: usize) -> Error {
    let loc = e.location();
    let line = loc.map(|l| l.line() as usize + line_offset);
    let col = loc.map(|l| l.column() as usize);
    let raw = e.without_snippet().to_string();
    let msg = clean_message(&raw);
    if let Some(key) = duplicate_key(&msg) {
        // serde-saphyr's message ends with advice for its API's callers.
        return Error::at(path, line, col, format!("duplicate key `{key}`")).hint(format!(
            "a key appears once in a mapping: merge the two `{key}` entries or remove one"
        ));
    }
    let mut err = Error::at(path, line, col, &msg);
    if let Some((what, name, expected)) = unknown_name(&msg) {
        let hint = suggest(&name, expected.iter().map(String::as_str));
        err = err.with_hint_opt(hint);
        // A variant list is already in the message and can be long; a key
        // list is short and worth repeating next to the suggestion.
        if what == "field" && !expected.is_empty() {
            err = err.hint(format!("known keys here: {}", expected.join(", ")));
        }
    }
    err
}

/// serde-saphyr appends its own ` at line X column Y`; the location is
/// already in front of the message, so drop it.
fn clean_message(raw: &str) -> String {
    let first = raw.lines().next().unwrap_or(raw).trim();
    let cut = first.find(" at line ").map(|i| &first[..i]).unwrap_or(first);
    cut.trim_end_matches('.').to_string()
}

/// `duplicate mapping key: cases, set DuplicateKeyPolicy in Options if
/// acceptable` → `cases`.
fn duplicate_key(msg: &str) -> Option<&str> {
    let rest = msg.strip_prefix("duplicate mapping key: ")?;
    Some(rest.split(", set ").next().unwrap_or(rest).trim())
}

/// `unknown field `x`, expected one of a, b` → ("field", "x", ["a", "b"]);
/// the same for `unknown variant`. serde-saphyr lists the names bare, serde's
/// own messages quote them in backticks (`one of `a`, `b``, `` `a` or `b` ``);
/// both are read.
fn unknown_name(msg: &str) -> Option<(&'static str, String, Vec<String>)> {
    let (what, rest) = ["field", "variant"]
        .into_iter()
        .find_map(|w| Some((w, msg.split(&format!("unknown {w} `")).nth(1)?)))?;
    let (name, tail) = rest.split_once('`')?;
    let list = tail.split_once("expected ").map(|(_, l)| l).unwrap_or("");
    let list = list.strip_prefix("one of ").unwrap_or(list);
    let expected = list
        .split(", ")
        .flat_map(|s| s.split(" or "))
        .map(|s| s.trim().trim_matches('`').to_string())
        .filter(|s| !s.is_empty())
        .collect();
    Some((what, name.to_string(), expected))
}

/// The unknown field and the expected names, for other readers (TOML).
pub(crate) fn unknown_field(msg: &str) -> Option<(String, Vec<String>)> {
    unknown_name(msg).map(|(_, name, expected)| (name, expected))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Doc {
        max_tokens: Option<u64>,
        temperature: Option<f64>,
    }

    #[test]
    fn unknown_key_names_line_and_suggests() {
        let err = from_str::<Doc>("temperature: 0\nmax_token: 3\n", Path::new("a.prompt"), 1).unwrap_err();
        assert!(err.message.starts_with("a.prompt:3:"), "{}", err.message);
        assert!(err.message.contains("max_token"), "{}", err.message);
        assert_eq!(err.hints[0], "did you mean 'max_tokens'?");
    }

    #[test]
    fn unknown_name_reads_bare_and_quoted_lists() {
        let bare = unknown_name("unknown field `max_token`, expected one of max_tokens, top_p");
        assert_eq!(
            bare,
            Some(("field", "max_token".into(), vec!["max_tokens".into(), "top_p".into()]))
        );
        let quoted = unknown_name("unknown variant `jsn`, expected `text` or `json`");
        assert_eq!(
            quoted,
            Some(("variant", "jsn".into(), vec!["text".into(), "json".into()]))
        );
        assert_eq!(unknown_name("missing field `x`"), None);
    }

    #[test]
    fn unknown_variant_suggests_without_repeating_the_list() {
        #[derive(Debug, Deserialize)]
        #[serde(rename_all = "lowercase")]
        enum Format {
            Text,
            Json,
        }
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Out {
            format: Format,
        }
        let err = from_str::<Out>("format: jsn\n", Path::new("a.prompt"), 0).unwrap_err();
        assert!(err.message.starts_with("a.prompt:1:"), "{}", err.message);
        assert_eq!(err.hints, vec!["did you mean 'json'?".to_string()]);
    }

    #[test]
    fn wrong_type_names_line() {
        let err = from_str::<Doc>("max_tokens: lots\n", Path::new("a.prompt"), 1).unwrap_err();
        assert!(err.message.starts_with("a.prompt:2:"), "{}", err.message);
    }

    #[test]
    fn a_duplicate_key_names_it_and_line_without_the_parsers_api_advice() {
        let err = from_str::<Doc>("max_tokens: 1\nmax_tokens: 2\n", Path::new("a.yaml"), 0).unwrap_err();
        assert_eq!(err.message, "a.yaml:2:1: duplicate key `max_tokens`");
        assert!(
            err.hints[0].contains("merge the two `max_tokens` entries"),
            "{:?}",
            err.hints
        );
    }

    #[test]
    fn syntax_error_names_line() {
        let err = from_str::<Doc>("max_tokens: [1,\n", Path::new("a.yaml"), 0).unwrap_err();
        assert!(err.message.starts_with("a.yaml:"), "{}", err.message);
        assert_eq!(err.kind, crate::error::ErrorKind::Input);
    }
}
