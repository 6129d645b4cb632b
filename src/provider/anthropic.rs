//! Anthropic Messages API (`POST {base}/v1/messages`). Owns the request body,
//! the response parsing and the key rules.
//!
//! - Base URL: `base_url` in settings, else `ANTHROPIC_BASE_URL`, else
//!   `https://api.anthropic.com`. Key: `x-api-key` from `ANTHROPIC_API_KEY`
//!   (or `api_key_env`), with the same rules as OpenAI's (see `openai`).
//!   Every request carries `anthropic-version: 2023-06-01`.
//! - System messages are joined (blank line between) into the top-level
//!   `system` field; the others go to `messages` in order.
//! - `max_tokens` is required by the API: the prompt's cap, else
//!   [`DEFAULT_MAX_TOKENS`].
//! - `seed`, the penalties and `reasoning_effort` have no Messages API
//!   counterpart and are not sent. Nor is a JSON mode: the API has none
//!   outside a beta, so JSON prompts rely on their instructions and the
//!   runner's structured-output guard.
//! - Usage: `input_tokens` reported here is the total, i.e. Anthropic's
//!   `input_tokens` plus its cache reads and writes, so it means the same as
//!   OpenAI's `prompt_tokens`; `cached_input_tokens` is the cache reads.

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{Map, Value, json};

use super::http::{self, Http};
use super::{
    BoxFuture, ChatRequest, ChatResponse, FinishReason, Provider, ProviderError, ProviderErrorKind, ProviderSettings,
    Usage,
};
use crate::error::Error;
use crate::prompt::message::Role;

pub const DEFAULT_BASE_URL: &str = "https://api.anthropic.com";
pub const KEY_VAR: &str = "ANTHROPIC_API_KEY";
pub const BASE_URL_VAR: &str = "ANTHROPIC_BASE_URL";
pub const API_VERSION: &str = "2023-06-01";
/// The output cap when the prompt sets none. High enough not to cut off
/// ordinary answers (a silent cut would skew output-length metrics), within
/// every current model's limit.
pub const DEFAULT_MAX_TOKENS: u64 = 4096;

pub struct Anthropic {
    http: Http,
    url: String,
}

impl Anthropic {
    pub fn new(settings: &ProviderSettings, env: &dyn Fn(&str) -> Option<String>) -> Result<Anthropic, Error> {
        let (base, source) = super::resolve_base("anthropic", settings, env, BASE_URL_VAR, DEFAULT_BASE_URL)?;
        let mut headers = match super::resolve_key("anthropic", settings, env, KEY_VAR, source)? {
            Some(key) => http::key_header("anthropic", "x-api-key", &key.value, &key.var)?,
            None => HeaderMap::new(),
        };
        headers.insert(
            HeaderName::from_static("anthropic-version"),
            HeaderValue::from_static(API_VERSION),
        );
        Ok(Anthropic {
            http: Http::new("anthropic", settings, headers)?,
            url: format!("{base}/v1/messages"),
        })
    }
}

impl Provider for Anthropic {
    fn id(&self) -> &str {
        "anthropic"
    }

    fn complete<'a>(&'a self, req: &'a ChatRequest) -> BoxFuture<'a, Result<ChatResponse, ProviderError>> {
        Box::pin(async move { self.http.chat(&self.url, &request_body(req), parse_response).await })
    }
}

/// The JSON body of a Messages API request.
pub fn request_body(req: &ChatRequest) -> Value {
    let c = &req.config;
    let mut b = Map::new();
    b.insert("model".into(), json!(req.model));
    b.insert("max_tokens".into(), json!(c.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS)));
    let system: Vec<&str> = req
        .messages
        .iter()
        .filter(|m| m.role == Role::System)
        .map(|m| m.content.as_str())
        .collect();
    if !system.is_empty() {
        b.insert("system".into(), json!(system.join("\n\n")));
    }
    let messages: Vec<Value> = req
        .messages
        .iter()
        .filter(|m| m.role != Role::System)
        .map(|m| json!({"role": m.role.as_str(), "content": m.content}))
        .collect();
    b.insert("messages".into(), Value::Array(messages));
    if let Some(t) = c.temperature {
        b.insert("temperature".into(), json!(t));
    }
    if let Some(p) = c.top_p {
        b.insert("top_p".into(), json!(p));
    }
    if let Some(k) = c.top_k {
        b.insert("top_k".into(), json!(k));
    }
    if let Some(stop) = c.stop.as_ref().filter(|s| !s.is_empty()) {
        b.insert("stop_sequences".into(), json!(stop));
    }
    Value::Object(b)
}

/// Parse a Messages API response: text blocks joined, other blocks skipped.
pub fn parse_response(body: &Value) -> Result<ChatResponse, ProviderError> {
    let bad = |what: &str| ProviderError::new(ProviderErrorKind::BadResponse, format!("anthropic: {what}"));
    let blocks = match body.get("content").and_then(Value::as_array) {
        Some(blocks) => blocks,
        None => {
            return Err(match http::server_message(body.to_string().as_bytes()) {
                Some(msg) => bad(&format!("the response has no `content` but an error: {msg}")),
                None => bad("the response has no `content` list"),
            });
        }
    };
    let text: String = blocks
        .iter()
        .filter(|b| b.get("type").and_then(Value::as_str) == Some("text"))
        .filter_map(|b| b.get("text").and_then(Value::as_str))
        .collect();
    let finish_reason = match body.get("stop_reason").and_then(Value::as_str) {
        Some("end_turn" | "stop_sequence") => FinishReason::Stop,
        Some("max_tokens" | "model_context_window_exceeded") => FinishReason::Length,
        Some("tool_use") => FinishReason::ToolCalls,
        Some("refusal") => FinishReason::ContentFilter,
        Some(other) => FinishReason::Other(other.to_string()),
        None => FinishReason::Other("unknown".to_string()),
    };
    let usage = body.get("usage").and_then(|u| {
        let count = |k: &str| u.get(k).and_then(Value::as_u64);
        let cache_read = count("cache_read_input_tokens");
        let cache_write = count("cache_creation_input_tokens").unwrap_or(0);
        Some(Usage {
            input_tokens: count("input_tokens")? + cache_read.unwrap_or(0) + cache_write,
            output_tokens: count("output_tokens")?,
            cached_input_tokens: cache_read,
            reported: true,
        })
    });
    Ok(ChatResponse::from_body(text, finish_reason, usage, body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prompt::ModelConfig;
    use crate::prompt::message::Message;

    #[test]
    fn system_messages_move_to_the_top_and_the_cap_is_required() {
        let req = ChatRequest {
            model: "claude-haiku-4-5".into(),
            messages: vec![
                Message::new(Role::System, "be brief"),
                Message::new(Role::User, "hi"),
                Message::new(Role::System, "answer in French"),
                Message::new(Role::Assistant, "salut"),
                Message::new(Role::User, "again"),
            ],
            config: ModelConfig {
                temperature: Some(0.0),
                top_k: Some(5),
                stop: Some(vec!["###".into()]),
                seed: Some(1),
                frequency_penalty: Some(0.5),
                ..ModelConfig::default()
            },
            response_schema: None,
            json: true,
        };
        assert_eq!(
            request_body(&req),
            json!({
                "model": "claude-haiku-4-5",
                "max_tokens": DEFAULT_MAX_TOKENS,
                "system": "be brief\n\nanswer in French",
                "messages": [
                    {"role": "user", "content": "hi"},
                    {"role": "assistant", "content": "salut"},
                    {"role": "user", "content": "again"},
                ],
                "temperature": 0.0,
                "top_k": 5,
                "stop_sequences": ["###"],
            })
        );
        let capped = ChatRequest {
            config: ModelConfig {
                max_tokens: Some(50),
                ..ModelConfig::default()
            },
            messages: vec![Message::new(Role::User, "hi")],
            ..req
        };
        let b = request_body(&capped);
        assert_eq!(b["max_tokens"], json!(50));
        assert!(b.get("system").is_none());
    }

    #[test]
    fn parses_text_blocks_stop_reasons_and_cache_usage() {
        let body = json!({
            "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-haiku-4-5-20251001",
            "content": [{"type": "thinking", "thinking": "hmm"}, {"type": "text", "text": "Hello "}, {"type": "text", "text": "there"}],
            "stop_reason": "max_tokens",
            "usage": {"input_tokens": 10, "output_tokens": 3, "cache_read_input_tokens": 100, "cache_creation_input_tokens": 5},
        });
        let r = parse_response(&body).unwrap();
        assert_eq!(r.text, "Hello there");
        assert_eq!(r.finish_reason, FinishReason::Length);
        assert_eq!(r.model.as_deref(), Some("claude-haiku-4-5-20251001"));
        assert_eq!(
            r.usage,
            Some(Usage {
                input_tokens: 115,
                output_tokens: 3,
                cached_input_tokens: Some(100),
                reported: true
            })
        );
        let reason = |s: &str| {
            parse_response(&json!({"content": [], "stop_reason": s}))
                .unwrap()
                .finish_reason
        };
        assert_eq!(reason("end_turn"), FinishReason::Stop);
        assert_eq!(reason("stop_sequence"), FinishReason::Stop);
        assert_eq!(reason("tool_use"), FinishReason::ToolCalls);
        assert_eq!(reason("refusal"), FinishReason::ContentFilter);
        assert_eq!(reason("pause_turn"), FinishReason::Other("pause_turn".into()));
    }

    #[test]
    fn malformed_shapes_are_bad_responses() {
        for body in [json!({}), json!({"content": "x"}), json!(null)] {
            assert_eq!(parse_response(&body).unwrap_err().kind, ProviderErrorKind::BadResponse);
        }
        let e =
            parse_response(&json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}))
                .unwrap_err();
        assert!(e.message.contains("Overloaded"), "{}", e.message);
    }
}
