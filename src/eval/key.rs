//! The identity of a request: the key of the response cache and of recorded
//! responses.
//!
//! A request's key is the blake3 hash of everything that decides the answer:
//! the provider id, the model, the rendered messages, the sampling config,
//! the output schema and JSON mode (the canonical JSON of
//! [`ChatRequest`], field order fixed by the struct). Two requests with the
//! same key get the same answer from a cache or a recording, and any change
//! to one of those parts is a different request.
//!
//! [`Parts`] are short hashes of the pieces, stored next to a recording so a
//! changed request can be explained ("the system message changed") without
//! storing the prompt text again.

use serde::{Deserialize, Serialize};

use crate::prompt::message::Message;
use crate::provider::ChatRequest;

/// Bumped when the key's definition changes, so old caches miss cleanly.
const KEY_VERSION: &str = "promptctl-request-v1";

/// 64 hex digits.
pub fn request_key(provider: &str, req: &ChatRequest) -> String {
    let mut h = blake3::Hasher::new();
    h.update(KEY_VERSION.as_bytes());
    h.update(&[0]);
    h.update(provider.as_bytes());
    h.update(&[0]);
    // Serializing plain data to a Vec cannot fail: no maps with non-string keys.
    let body = serde_json::to_vec(req).unwrap_or_default();
    h.update(&body);
    h.finalize().to_hex().to_string()
}

/// Short hashes of a request's parts (8 hex digits each).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Parts {
    /// Provider and model.
    pub model: String,
    /// Sampling config, output schema and JSON mode.
    pub params: String,
    /// One per message: `"<role> <hash>"`.
    pub messages: Vec<String>,
}

pub fn parts(provider: &str, req: &ChatRequest) -> Parts {
    let params = serde_json::to_vec(&(&req.config, &req.response_schema, req.json)).unwrap_or_default();
    Parts {
        model: short(format!("{provider}\0{}", req.model).as_bytes()),
        params: short(&params),
        messages: req.messages.iter().map(message_part).collect(),
    }
}

fn message_part(m: &Message) -> String {
    format!("{} {}", m.role.as_str(), short(m.content.as_bytes()))
}

fn short(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex()[..8].to_string()
}

/// What differs between a recorded request's parts and the current one's,
/// as short phrases ("the system message changed").
pub fn changes(recorded: &Parts, now: &Parts) -> Vec<String> {
    let mut out = Vec::new();
    if recorded.model != now.model {
        out.push("the provider or model changed".to_string());
    }
    let role = |p: &str| p.split(' ').next().unwrap_or("").to_string();
    let (old, new) = (&recorded.messages, &now.messages);
    if old.len() != new.len() {
        out.push(format!(
            "the request has {} messages, the recording {}",
            new.len(),
            old.len()
        ));
    }
    for (i, (o, n)) in old.iter().zip(new).enumerate() {
        if o == n {
            continue;
        }
        let (ro, rn) = (role(o), role(n));
        if ro != rn {
            out.push(format!("message {} is now {rn}, was {ro}", i + 1));
        } else {
            // Number a role only when the request has more than one of it.
            let same_role = new.iter().filter(|m| role(m) == rn).count();
            let nth = new[..=i].iter().filter(|m| role(m) == rn).count();
            if same_role > 1 {
                out.push(format!("{rn} message {nth} changed"));
            } else {
                out.push(format!("the {rn} message changed"));
            }
        }
    }
    if recorded.params != now.params {
        out.push("the config, output schema or JSON mode changed".to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prompt::ModelConfig;
    use crate::prompt::message::Role;

    fn req(system: &str, user: &str, temperature: f64) -> ChatRequest {
        ChatRequest {
            model: "gpt-4o-mini".into(),
            messages: vec![Message::new(Role::System, system), Message::new(Role::User, user)],
            config: ModelConfig {
                temperature: Some(temperature),
                ..ModelConfig::default()
            },
            response_schema: None,
            json: false,
        }
    }

    #[test]
    fn key_covers_every_part_of_the_request() {
        let base = req("sys", "hi", 0.0);
        let k = request_key("openai", &base);
        assert_eq!(k.len(), 64);
        assert_eq!(k, request_key("openai", &base.clone()), "stable");
        assert_ne!(k, request_key("anthropic", &base));
        assert_ne!(k, request_key("openai", &req("sys!", "hi", 0.0)));
        assert_ne!(k, request_key("openai", &req("sys", "hi", 0.2)));
        let mut m = base.clone();
        m.model = "gpt-4o".into();
        assert_ne!(k, request_key("openai", &m));
        let mut j = base.clone();
        j.json = true;
        assert_ne!(k, request_key("openai", &j));
    }

    #[test]
    fn changes_name_the_part() {
        let p = |r: &ChatRequest| parts("openai", r);
        let base = p(&req("sys", "hi", 0.0));
        assert!(changes(&base, &base).is_empty());
        assert_eq!(
            changes(&base, &p(&req("sys 2", "hi", 0.0))),
            ["the system message changed"]
        );
        assert_eq!(
            changes(&base, &p(&req("sys", "hello", 0.0))),
            ["the user message changed"]
        );
        assert_eq!(
            changes(&base, &p(&req("sys", "hi", 1.0))),
            ["the config, output schema or JSON mode changed"]
        );
        let mut longer = req("sys", "hi", 0.0);
        longer.messages.push(Message::new(Role::Assistant, "a"));
        longer.messages.push(Message::new(Role::User, "more"));
        assert_eq!(
            changes(&base, &p(&longer)),
            ["the request has 4 messages, the recording 2"]
        );
        assert_eq!(
            changes(&base, &parts("anthropic", &req("sys", "hi", 0.0))),
            ["the provider or model changed"]
        );
    }
}
