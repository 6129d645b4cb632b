//! Error kinds and their exit codes.
//!
//! Every failure promptctl reports is an [`Error`]: a kind (which decides the
//! exit code), a message that says what and where, and optional hints that say
//! what to do. Domain modules build these; only `main.rs` prints them.

use std::fmt;
use std::path::Path;

/// Process exit codes (DESIGN.md): 0 ok, 1 gate failed, 2 bad input, 3 external.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorKind {
    /// A budget, assertion, pass rate or delta gate failed.
    Gate,
    /// Bad usage or bad input: malformed files, unknown names, bad revisions.
    Input,
    /// Something outside promptctl failed: a provider, git, the file system.
    External,
}

impl ErrorKind {
    pub fn exit_code(self) -> u8 {
        match self {
            ErrorKind::Gate => 1,
            ErrorKind::Input => 2,
            ErrorKind::External => 3,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
    pub hints: Vec<String>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            hints: Vec::new(),
        }
    }

    /// Bad usage or bad input (exit 2).
    pub fn input(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Input, message)
    }

    /// A failure outside promptctl (exit 3).
    pub fn external(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::External, message)
    }

    /// A gate failed (exit 1).
    pub fn gate(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Gate, message)
    }

    /// Bad input at a place in a file: `path:line:col: message`.
    pub fn at(path: &Path, line: Option<usize>, col: Option<usize>, msg: impl fmt::Display) -> Self {
        Self::input(format!("{}: {msg}", location(path, line, col)))
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hints.push(hint.into());
        self
    }

    pub fn with_hint_opt(self, hint: Option<String>) -> Self {
        match hint {
            Some(h) => self.hint(h),
            None => self,
        }
    }

    /// Prefix the message with context, keeping kind and hints.
    pub fn context(mut self, ctx: impl fmt::Display) -> Self {
        self.message = format!("{ctx}: {}", self.message);
        self
    }

    /// An I/O failure on a path. Not-found and not-permitted are the user's
    /// input (exit 2); anything else is the environment's (exit 3).
    pub fn io(path: &Path, err: &std::io::Error) -> Self {
        use std::io::ErrorKind as K;
        let kind = match err.kind() {
            K::NotFound | K::PermissionDenied | K::InvalidData | K::IsADirectory => ErrorKind::Input,
            _ => ErrorKind::External,
        };
        Self::new(kind, format!("{}: {err}", path.display()))
    }
}

/// `path:line:col` with the parts that are known.
pub fn location(path: &Path, line: Option<usize>, col: Option<usize>) -> String {
    match (line, col) {
        (Some(l), Some(c)) => format!("{}:{l}:{c}", path.display()),
        (Some(l), None) => format!("{}:{l}", path.display()),
        _ => path.display().to_string(),
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl From<git2::Error> for Error {
    fn from(e: git2::Error) -> Self {
        Error::external(format!("git: {}", e.message()))
    }
}

/// The closest candidates to `name` by edit distance, for `did you mean` hints.
pub fn suggest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let mut best: Vec<(f64, &str)> = candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(name, c), c))
        .filter(|(s, _)| *s >= 0.8)
        .collect();
    best.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
    best.dedup_by(|a, b| a.1 == b.1);
    // Offer the best match, and others only when they are as close.
    let top = best.first()?.0;
    let close: Vec<&str> = best
        .iter()
        .take_while(|(s, _)| top - s < 0.01)
        .map(|(_, n)| *n)
        .collect();
    match close.as_slice() {
        [one] => Some(format!("did you mean '{one}'?")),
        many => {
            let names: Vec<String> = many.iter().take(3).map(|n| format!("'{n}'")).collect();
            Some(format!("did you mean one of {}?", names.join(", ")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_design() {
        assert_eq!(ErrorKind::Gate.exit_code(), 1);
        assert_eq!(ErrorKind::Input.exit_code(), 2);
        assert_eq!(ErrorKind::External.exit_code(), 3);
    }

    #[test]
    fn suggest_finds_close_names() {
        let hint = suggest("max_token", ["max_tokens", "temperature", "top_p"]);
        assert_eq!(hint.as_deref(), Some("did you mean 'max_tokens'?"));
        assert_eq!(suggest("zzz", ["max_tokens"]), None);
    }

    #[test]
    fn location_formats_known_parts() {
        let p = Path::new("prompts/a.prompt");
        assert_eq!(location(p, Some(3), Some(7)), "prompts/a.prompt:3:7");
        assert_eq!(location(p, Some(3), None), "prompts/a.prompt:3");
        assert_eq!(location(p, None, None), "prompts/a.prompt");
    }
}
