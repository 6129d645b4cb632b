//! OpenAI Chat Completions (`POST {base}/chat/completions`), which is also the
//! API of every OpenAI-compatible server: vLLM, llama.cpp, LiteLLM,
//! OpenRouter. Owns the request body, the response parsing and the key rules.
//!
//! - Base URL: `base_url` in settings, else `OPENAI_BASE_URL`, else
//!   `https://api.openai.com/v1`.
//! - Key: `Authorization: Bearer` from `OPENAI_API_KEY` (or `api_key_env`).
//!   Required for api.openai.com; a server named in promptctl.toml gets no key
//!   unless `api_key_env` names one (a local vLLM needs none, and a
//!   repository must not route the user's key elsewhere).
//! - Output cap: `max_tokens`, which every compatible server understands;
//!   OpenAI's reasoning models (o1, o3, o4-mini, gpt-5…) reject it and get
//!   `max_completion_tokens`, and do not get `temperature`, `top_p` or the
//!   penalties, which they reject too (a prompt tuned at temperature 0 must
//!   still run against them in a model comparison).
//! - `top_k` is not an OpenAI parameter: it is sent only to other servers
//!   (vLLM and llama.cpp accept it).
//! - JSON output: `response_format` `json_schema` (non-strict: strict mode
//!   rejects many ordinary schemas) when the prompt has an output schema,
//!   `json_object` otherwise.

use reqwest::header::HeaderMap;
use serde_json::{Map, Value, json};

use super::http::{self, Http};
use super::{
    BaseSource, BoxFuture, ChatRequest, ChatResponse, FinishReason, Provider, ProviderError, ProviderErrorKind,
    ProviderSettings, Usage,
};
use crate::error::Error;

pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";
pub const KEY_VAR: &str = "OPENAI_API_KEY";
pub const BASE_URL_VAR: &str = "OPENAI_BASE_URL";
const OFFICIAL_HOST: &str = "api.openai.com";

pub struct OpenAi {
    http: Http,
    url: String,
    /// The server is OpenAI's own (decides `top_k`).
    official: bool,
}

impl OpenAi {
    pub fn new(settings: &ProviderSettings, env: &dyn Fn(&str) -> Option<String>) -> Result<OpenAi, Error> {
        let (base, source) = super::resolve_base("openai", settings, env, BASE_URL_VAR, DEFAULT_BASE_URL)?;
        let official = source == BaseSource::Default
            || reqwest::Url::parse(&base).is_ok_and(|u| u.host_str() == Some(OFFICIAL_HOST));
        // An explicit OpenAI host still needs the key, wherever it was named.
        let source = if official { BaseSource::Default } else { source };
        let auth = match super::resolve_key("openai", settings, env, KEY_VAR, source)? {
            Some(key) => http::key_header("openai", "authorization", &format!("Bearer {}", key.value), &key.var)?,
            None => HeaderMap::new(),
        };
        Ok(OpenAi {
            http: Http::new("openai", settings, auth)?,
            url: format!("{base}/chat/completions"),
            official,
        })
    }
}

impl Provider for OpenAi {
    fn id(&self) -> &str {
        "openai"
    }

    fn complete<'a>(&'a self, req: &'a ChatRequest) -> BoxFuture<'a, Result<ChatResponse, ProviderError>> {
        Box::pin(async move {
            self.http
                .chat(&self.url, &request_body(req, self.official), parse_response)
                .await
        })
    }
}

/// OpenAI's reasoning models, which take `max_completion_tokens` and reject
/// sampling parameters. `gpt-5-chat*` is a chat model. A router prefix
/// (`openai/o3-mini`) is looked through.
pub fn is_reasoning_model(model: &str) -> bool {
    let name = model.rsplit('/').next().unwrap_or(model);
    let o_series = name.len() >= 2 && name.starts_with('o') && name.as_bytes()[1].is_ascii_digit();
    let gpt5 = name.starts_with("gpt-5") && !name.starts_with("gpt-5-chat");
    o_series || gpt5
}

/// The JSON body of a chat completion request.
pub fn request_body(req: &ChatRequest, official: bool) -> Value {
    let c = &req.config;
    let reasoning = is_reasoning_model(&req.model);
    let mut b = Map::new();
    b.insert("model".into(), json!(req.model));
    let messages: Vec<Value> = req
        .messages
        .iter()
        .map(|m| json!({"role": m.role.as_str(), "content": m.content}))
        .collect();
    b.insert("messages".into(), Value::Array(messages));
    if let Some(n) = c.max_tokens {
        let key = if reasoning {
            "max_completion_tokens"
        } else {
            "max_tokens"
        };
        b.insert(key.into(), json!(n));
    }
    if !reasoning {
        put(&mut b, "temperature", c.temperature);
        put(&mut b, "top_p", c.top_p);
        put(&mut b, "presence_penalty", c.presence_penalty);
        put(&mut b, "frequency_penalty", c.frequency_penalty);
    }
    if !official {
        put(&mut b, "top_k", c.top_k);
    }
    if let Some(stop) = c.stop.as_ref().filter(|s| !s.is_empty()) {
        b.insert("stop".into(), json!(stop));
    }
    put(&mut b, "seed", c.seed);
    put(&mut b, "reasoning_effort", c.reasoning_effort.as_deref());
    if let Some(schema) = &req.response_schema {
        b.insert(
            "response_format".into(),
            json!({"type": "json_schema", "json_schema": {"name": "output", "schema": schema, "strict": false}}),
        );
    } else if req.json {
        b.insert("response_format".into(), json!({"type": "json_object"}));
    }
    Value::Object(b)
}

fn put<T: serde::Serialize>(b: &mut Map<String, Value>, key: &str, v: Option<T>) {
    if let Some(v) = v {
        b.insert(key.into(), json!(v));
    }
}

/// Parse a chat completion. `latency_ms` and `attempts` are left for the
/// caller to fill in.
///
/// The text is `choices[0].message.content`; content given as a list of
/// parts has its text parts joined; a refusal (`message.refusal`) with no
/// content becomes the text, since it is what the model answered.
pub fn parse_response(body: &Value) -> Result<ChatResponse, ProviderError> {
    let bad = |what: &str| ProviderError::new(ProviderErrorKind::BadResponse, format!("openai: {what}"));
    let choice = match body.get("choices").and_then(Value::as_array) {
        Some(choices) => choices
            .first()
            .ok_or_else(|| bad("the response has an empty `choices` list"))?,
        None => {
            return Err(match http::server_message(body.to_string().as_bytes()) {
                Some(msg) => bad(&format!("the response has no `choices` but an error: {msg}")),
                None => bad("the response has no `choices`"),
            });
        }
    };
    let message = choice
        .get("message")
        .filter(|m| m.is_object())
        .ok_or_else(|| bad("`choices[0]` has no `message`"))?;
    let text = match message.get("content") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(""),
        Some(Value::Null) | None => message
            .get("refusal")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        Some(other) => return Err(bad(&format!("`message.content` is not text: {other}"))),
    };
    let finish_reason = match choice.get("finish_reason").and_then(Value::as_str) {
        Some("stop") => FinishReason::Stop,
        Some("length") => FinishReason::Length,
        Some("content_filter") => FinishReason::ContentFilter,
        Some("tool_calls" | "function_call") => FinishReason::ToolCalls,
        Some(other) => FinishReason::Other(other.to_string()),
        None => FinishReason::Other("unknown".to_string()),
    };
    let usage = body.get("usage").and_then(|u| {
        Some(Usage {
            input_tokens: u.get("prompt_tokens")?.as_u64()?,
            output_tokens: u.get("completion_tokens")?.as_u64()?,
            cached_input_tokens: u
                .pointer("/prompt_tokens_details/cached_tokens")
                .and_then(Value::as_u64),
            reported: true,
        })
    });
    Ok(ChatResponse::from_body(text, finish_reason, usage, body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prompt::ModelConfig;
    use crate::prompt::message::{Message, Role};

    fn req(model: &str, config: ModelConfig) -> ChatRequest {
        ChatRequest {
            model: model.into(),
            messages: vec![Message::new(Role::System, "sys"), Message::new(Role::User, "hi")],
            config,
            response_schema: None,
            json: false,
        }
    }

    fn full_config() -> ModelConfig {
        ModelConfig {
            temperature: Some(0.0),
            max_tokens: Some(300),
            top_p: Some(0.9),
            top_k: Some(40),
            stop: Some(vec!["END".into()]),
            seed: Some(7),
            presence_penalty: Some(0.1),
            frequency_penalty: Some(0.2),
            reasoning_effort: None,
        }
    }

    #[test]
    fn chat_models_get_max_tokens_and_sampling() {
        let b = request_body(&req("gpt-4o-mini", full_config()), true);
        assert_eq!(
            b,
            json!({
                "model": "gpt-4o-mini",
                "messages": [{"role": "system", "content": "sys"}, {"role": "user", "content": "hi"}],
                "max_tokens": 300,
                "temperature": 0.0,
                "top_p": 0.9,
                "presence_penalty": 0.1,
                "frequency_penalty": 0.2,
                "stop": ["END"],
                "seed": 7,
            })
        );
    }

    #[test]
    fn compatible_servers_also_get_top_k() {
        let b = request_body(&req("llama-3.1-8b", full_config()), false);
        assert_eq!(b["top_k"], json!(40));
        assert_eq!(b["max_tokens"], json!(300));
    }

    #[test]
    fn reasoning_models_get_max_completion_tokens_and_no_sampling() {
        let mut c = full_config();
        c.reasoning_effort = Some("low".into());
        for model in ["o3-mini", "o1", "o4-mini", "gpt-5", "gpt-5-nano", "openai/o3"] {
            let b = request_body(&req(model, c.clone()), true);
            assert_eq!(b["max_completion_tokens"], json!(300), "{model}");
            assert_eq!(b["reasoning_effort"], json!("low"), "{model}");
            for absent in [
                "max_tokens",
                "temperature",
                "top_p",
                "presence_penalty",
                "frequency_penalty",
                "top_k",
            ] {
                assert!(b.get(absent).is_none(), "{model} must not get {absent}");
            }
        }
        for model in ["gpt-4o", "gpt-5-chat-latest", "omni-moderation", "gpt-4.1"] {
            assert!(!is_reasoning_model(model), "{model}");
        }
    }

    #[test]
    fn json_output_sets_response_format() {
        let mut r = req("gpt-4o-mini", ModelConfig::default());
        r.json = true;
        assert_eq!(
            request_body(&r, true)["response_format"],
            json!({"type": "json_object"})
        );
        let schema = json!({"type": "object", "properties": {"label": {"type": "string"}}});
        r.response_schema = Some(schema.clone());
        assert_eq!(
            request_body(&r, true)["response_format"],
            json!({"type": "json_schema", "json_schema": {"name": "output", "schema": schema, "strict": false}})
        );
        r.json = false;
        r.response_schema = None;
        assert!(request_body(&r, true).get("response_format").is_none());
    }

    #[test]
    fn parses_content_finish_usage_and_model() {
        let body = json!({
            "model": "gpt-4o-mini-2024-07-18",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "hello"}, "finish_reason": "length"}],
            "usage": {"prompt_tokens": 12, "completion_tokens": 5, "prompt_tokens_details": {"cached_tokens": 8}},
        });
        let r = parse_response(&body).unwrap();
        assert_eq!(r.text, "hello");
        assert_eq!(r.finish_reason, FinishReason::Length);
        assert_eq!(r.model.as_deref(), Some("gpt-4o-mini-2024-07-18"));
        assert_eq!(
            r.usage,
            Some(Usage {
                input_tokens: 12,
                output_tokens: 5,
                cached_input_tokens: Some(8),
                reported: true
            })
        );
    }

    #[test]
    fn finish_reasons_map() {
        let with = |reason: Value| {
            let body = json!({"choices": [{"message": {"content": "x"}, "finish_reason": reason}]});
            parse_response(&body).unwrap().finish_reason
        };
        assert_eq!(with(json!("stop")), FinishReason::Stop);
        assert_eq!(with(json!("content_filter")), FinishReason::ContentFilter);
        assert_eq!(with(json!("tool_calls")), FinishReason::ToolCalls);
        assert_eq!(with(json!("eos")), FinishReason::Other("eos".into()));
        assert_eq!(with(Value::Null), FinishReason::Other("unknown".into()));
    }

    #[test]
    fn refusals_parts_and_missing_usage() {
        let body =
            json!({"choices": [{"message": {"content": null, "refusal": "I can't help"}, "finish_reason": "stop"}]});
        let r = parse_response(&body).unwrap();
        assert_eq!(r.text, "I can't help");
        assert_eq!(r.usage, None);
        let body = json!({"choices": [{"message": {"content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}}]});
        assert_eq!(parse_response(&body).unwrap().text, "ab");
    }

    #[test]
    fn malformed_shapes_are_bad_responses_not_panics() {
        for body in [
            json!({"choices": []}),
            json!({}),
            json!([]),
            json!({"choices": "x"}),
            json!({"choices": [{}]}),
            json!({"choices": [{"message": "x"}]}),
            json!({"choices": [{"message": {"content": 5}}]}),
            json!({"error": {"message": "upstream failed"}}),
        ] {
            let e = parse_response(&body).unwrap_err();
            assert_eq!(e.kind, ProviderErrorKind::BadResponse, "{body}");
        }
        let e = parse_response(&json!({"error": {"message": "upstream failed"}})).unwrap_err();
        assert!(e.message.contains("upstream failed"), "{}", e.message);
    }
}
