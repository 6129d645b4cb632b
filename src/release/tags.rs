//! The tag scheme: which git refs hold a prompt's versions, channels and
//! audit events, and how their names are built and read back.
//!
//! ```text
//! refs/tags/prompt/<name>@v<N>        immutable version (annotated, on the released commit)
//! refs/tags/prompt/<name>@stable      channel, moves (annotated)
//! refs/tags/prompt/<name>@canary      channel, moves (annotated); `Version: none` when cleared
//! refs/tags/prompt/<name>@event/<N>   immutable audit record of one release/promote/rollback/weight change
//! ```
//!
//! The `@` keeps `a` and `a/b` apart as refs; prompt names therefore may not
//! contain `@`, nor anything git refuses in a ref name.

use serde::Serialize;

use crate::error::{Error, Result};

/// Namespace of every promptctl tag.
pub const TAG_PREFIX: &str = "prompt/";
pub const REF_PREFIX: &str = "refs/tags/prompt/";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Stable,
    Canary,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Stable => "stable",
            Channel::Canary => "canary",
        }
    }
}

impl std::fmt::Display for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagKind {
    Version(u32),
    Channel(Channel),
    Event(u32),
}

/// `prompt/<name>@<suffix>`: the short tag name.
pub fn tag_name(name: &str, kind: TagKind) -> String {
    let suffix = match kind {
        TagKind::Version(n) => format!("v{n}"),
        TagKind::Channel(c) => c.as_str().to_string(),
        TagKind::Event(n) => format!("event/{n}"),
    };
    format!("{TAG_PREFIX}{name}@{suffix}")
}

/// `refs/tags/prompt/<name>@<suffix>`.
pub fn ref_name(name: &str, kind: TagKind) -> String {
    format!("refs/tags/{}", tag_name(name, kind))
}

/// Read a tag name (`prompt/a/b@v3`) or ref name back. `None` for tags
/// outside the scheme (other namespaces, unknown suffixes).
pub fn parse(tag_or_ref: &str) -> Option<(String, TagKind)> {
    let short = tag_or_ref.strip_prefix("refs/tags/").unwrap_or(tag_or_ref);
    let rest = short.strip_prefix(TAG_PREFIX)?;
    let (name, suffix) = rest.rsplit_once('@')?;
    if name.is_empty() {
        return None;
    }
    let kind = match suffix {
        "stable" => TagKind::Channel(Channel::Stable),
        "canary" => TagKind::Channel(Channel::Canary),
        s => {
            if let Some(n) = s.strip_prefix("event/") {
                TagKind::Event(parse_number(n)?)
            } else {
                TagKind::Version(parse_number(s.strip_prefix('v')?)?)
            }
        }
    };
    Some((name.to_string(), kind))
}

/// `v3` → 3. Strict: digits only, no leading zero, at least 1.
pub fn parse_version(s: &str) -> Option<u32> {
    parse_number(s.strip_prefix('v')?)
}

fn parse_number(s: &str) -> Option<u32> {
    if s.is_empty() || s.starts_with('0') || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok().filter(|n| *n > 0)
}

/// Refuse prompt names that cannot be part of the tag scheme, saying why.
pub fn validate_name(name: &str) -> Result<()> {
    let problem = name_problem(name);
    match problem {
        None => Ok(()),
        Some(why) => Err(Error::input(format!(
            "prompt name '{name}' cannot be used in a git tag name: {why}"
        ))
        .hint("rename the prompt file: tag names may not contain spaces, control characters, ~ ^ : ? * [ \\ @, '..', '//', or parts that start with '.' or end in '.lock'")),
    }
}

fn name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("it is empty".to_string());
    }
    if let Some(c) = name
        .chars()
        .find(|c| c.is_control() || c.is_whitespace() || "~^:?*[\\@".contains(*c))
    {
        let shown = match c {
            ' ' => "a space".to_string(),
            c if c.is_control() || c.is_whitespace() => format!("the character U+{:04X}", c as u32),
            c => format!("'{c}'"),
        };
        return Some(format!("it contains {shown}"));
    }
    if name.contains("..") {
        return Some("it contains '..'".to_string());
    }
    for part in name.split('/') {
        if part.is_empty() {
            return Some("it has an empty path part ('//' or a leading or trailing '/')".to_string());
        }
        if part.starts_with('.') {
            return Some(format!("the part '{part}' starts with '.'"));
        }
        if part.ends_with(".lock") {
            return Some(format!("the part '{part}' ends in '.lock'"));
        }
    }
    // Whatever else git's rules say (checked for every kind of tag we make).
    let all_valid = [
        TagKind::Version(1),
        TagKind::Channel(Channel::Stable),
        TagKind::Event(1),
    ]
    .iter()
    .all(|k| git2::Reference::is_valid_name(&ref_name(name, *k)));
    (!all_valid).then(|| "git refuses it as a ref name".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for kind in [
            TagKind::Version(3),
            TagKind::Channel(Channel::Stable),
            TagKind::Channel(Channel::Canary),
            TagKind::Event(12),
        ] {
            let t = tag_name("support/triage", kind);
            assert_eq!(parse(&t), Some(("support/triage".to_string(), kind)));
            assert_eq!(
                parse(&ref_name("support/triage", kind)),
                Some(("support/triage".to_string(), kind))
            );
        }
        assert_eq!(
            tag_name("support/triage", TagKind::Version(3)),
            "prompt/support/triage@v3"
        );
        assert_eq!(ref_name("a", TagKind::Event(1)), "refs/tags/prompt/a@event/1");
    }

    #[test]
    fn foreign_and_malformed_tags_are_not_ours() {
        for t in [
            "v1.0",
            "prompt/a",
            "prompt/@v1",
            "prompt/a@v0",
            "prompt/a@v01",
            "prompt/a@vx",
            "prompt/a@latest",
            "prompt/a@event/",
            "other/a@v1",
        ] {
            assert_eq!(parse(t), None, "{t}");
        }
    }

    #[test]
    fn nested_names_do_not_collide() {
        assert_eq!(parse("prompt/a@v1").unwrap().0, "a");
        assert_eq!(parse("prompt/a/b@v1").unwrap().0, "a/b");
    }

    #[test]
    fn bad_names_are_refused_with_the_reason() {
        validate_name("support/triage").unwrap();
        validate_name("rag/answer-v2_final").unwrap();
        let cases = [
            ("my prompt", "a space"),
            ("a@b", "'@'"),
            ("a:b", "':'"),
            ("a..b", "'..'"),
            ("a/.hidden", "starts with '.'"),
            ("a/b.lock", "'.lock'"),
            ("a\tb", "U+0009"),
        ];
        for (name, why) in cases {
            let e = validate_name(name).unwrap_err();
            assert_eq!(e.kind, crate::ErrorKind::Input);
            assert!(e.message.contains(why), "{name}: {}", e.message);
            assert!(!e.hints.is_empty());
        }
    }
}
