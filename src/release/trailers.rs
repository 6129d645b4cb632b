//! Tag messages: a subject line, optional body paragraphs, then a block of
//! git trailers (`Key: value` lines) that machines read back.
//!
//! Git itself reads the same block (`git interpret-trailers --parse`,
//! `git for-each-ref --format='%(trailers)'`), so values are kept to one line.

/// A parsed or to-be-written tag message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Message {
    pub subject: String,
    pub body: Vec<String>,
    pub trailers: Vec<(String, String)>,
}

impl Message {
    pub fn new(subject: impl Into<String>) -> Message {
        Message {
            subject: one_line(&subject.into()),
            ..Message::default()
        }
    }

    /// Add a trailer; the value is folded onto one line.
    pub fn push(&mut self, key: &str, value: impl AsRef<str>) -> &mut Self {
        let v = one_line(value.as_ref());
        if !v.is_empty() {
            self.trailers.push((key.to_string(), v));
        }
        self
    }

    pub fn push_opt(&mut self, key: &str, value: Option<impl AsRef<str>>) -> &mut Self {
        if let Some(v) = value {
            self.push(key, v);
        }
        self
    }

    /// The first value of `key` (case-insensitive, as git compares keys).
    pub fn get<'a>(&'a self, key: &'a str) -> Option<&'a str> {
        self.get_all(key).next()
    }

    pub fn get_all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.trailers
            .iter()
            .filter(move |(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }

    /// The message text: subject, blank line, body paragraphs, trailers.
    pub fn format(&self) -> String {
        let mut out = String::new();
        out.push_str(&self.subject);
        out.push('\n');
        for p in &self.body {
            out.push('\n');
            out.push_str(p.trim_end());
            out.push('\n');
        }
        if !self.trailers.is_empty() {
            out.push('\n');
            for (k, v) in &self.trailers {
                out.push_str(&format!("{k}: {v}\n"));
            }
        }
        out
    }

    /// Read a message back. The trailer block is the last paragraph when
    /// every line of it is a `Key: value` line; otherwise there is none.
    pub fn parse(text: &str) -> Message {
        let text = text.replace("\r\n", "\n");
        let mut paragraphs: Vec<&str> = text.split("\n\n").map(|p| p.trim_matches('\n')).collect();
        paragraphs.retain(|p| !p.trim().is_empty());
        let mut msg = Message::default();
        if paragraphs.is_empty() {
            return msg;
        }
        let first = paragraphs.remove(0);
        let (subject, rest) = first.split_once('\n').unwrap_or((first, ""));
        msg.subject = subject.trim().to_string();
        if !rest.trim().is_empty() {
            paragraphs.insert(0, rest);
        }
        if let Some(last) = paragraphs.last()
            && let Some(trailers) = parse_block(last)
        {
            msg.trailers = trailers;
            paragraphs.pop();
        }
        msg.body = paragraphs.into_iter().map(str::to_string).collect();
        msg
    }
}

fn parse_block(p: &str) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    for line in p.lines() {
        let (k, v) = line.split_once(':')?;
        if k.is_empty() || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return None;
        }
        out.push((k.to_string(), v.trim().to_string()));
    }
    (!out.is_empty()).then_some(out)
}

/// Fold whitespace (newlines included) into single spaces.
pub fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_subject_body_and_trailers() {
        let mut m = Message::new("support/triage stable → v3");
        m.body.push("Promoted from canary.".to_string());
        m.push("Version", "v3")
            .push("Gate", "budget passed")
            .push("Gate", "model passed");
        m.push("Reason", "multi\nline   reason");
        let text = m.format();
        assert_eq!(
            text,
            "support/triage stable → v3\n\nPromoted from canary.\n\nVersion: v3\nGate: budget passed\nGate: model passed\nReason: multi line reason\n"
        );
        let back = Message::parse(&text);
        assert_eq!(back, m);
        assert_eq!(back.get("version"), Some("v3"));
        assert_eq!(back.get_all("Gate").count(), 2);
    }

    #[test]
    fn prose_last_paragraph_is_not_trailers() {
        let m = Message::parse("subject\n\nJust some words: here\nand more prose\n");
        assert!(m.trailers.is_empty());
        assert_eq!(m.body, vec!["Just some words: here\nand more prose"]);
    }

    #[test]
    fn empty_values_are_dropped_and_empty_text_parses() {
        let mut m = Message::new("s");
        m.push("Reason", "   ");
        assert!(m.trailers.is_empty());
        assert_eq!(Message::parse(""), Message::default());
    }
}
