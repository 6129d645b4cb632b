//! Ollama's chat API (`POST {host}/api/chat`, `stream: false`). Owns the
//! request body, the response parsing and the host rules.
//!
//! - Host: `base_url` in settings, else `OLLAMA_HOST`, else
//!   `http://127.0.0.1:11434`. Like Ollama's own client, a host without a
//!   scheme is `http` and gets port 11434 unless it names one.
//! - No key by default; `api_key_env` sends one as a Bearer token (for an
//!   Ollama behind an authenticating proxy).
//! - Sampling goes in `options` (`num_predict` is the output cap); JSON
//!   output is `format: "json"`, or `format: <schema>` when the prompt has
//!   one.
//! - Usage is reported only when the server gives both `prompt_eval_count`
//!   and `eval_count` (Ollama omits the first when the prompt was cached);
//!   otherwise the runner counts.

use reqwest::header::HeaderMap;
use serde_json::{Map, Value, json};

use super::http::{self, Http};
use super::{
    BoxFuture, ChatRequest, ChatResponse, FinishReason, Provider, ProviderError, ProviderErrorKind, ProviderSettings,
    Usage,
};
use crate::error::Error;

pub const DEFAULT_HOST: &str = "http://127.0.0.1:11434";
pub const HOST_VAR: &str = "OLLAMA_HOST";
const DEFAULT_PORT: u16 = 11434;

pub struct Ollama {
    http: Http,
    url: String,
}

impl Ollama {
    pub fn new(settings: &ProviderSettings, env: &dyn Fn(&str) -> Option<String>) -> Result<Ollama, Error> {
        let (raw, origin) = match settings.base_url.as_deref().filter(|b| !b.trim().is_empty()) {
            Some(b) => (b.to_string(), "[providers.ollama] base_url".to_string()),
            None => match super::env_nonempty(env, HOST_VAR) {
                Some(h) => (h, HOST_VAR.to_string()),
                None => (DEFAULT_HOST.to_string(), "the default".to_string()),
            },
        };
        let base = normalize_host(&raw, &origin)?;
        let auth = match &settings.api_key_env {
            Some(var) => {
                let key = super::resolve_key("ollama", settings, env, var, super::BaseSource::Settings)?
                    .ok_or_else(|| Error::input(format!("{var} is not set")))?;
                http::key_header("ollama", "authorization", &format!("Bearer {}", key.value), &key.var)?
            }
            None => HeaderMap::new(),
        };
        Ok(Ollama {
            http: Http::new("ollama", settings, auth)?,
            url: format!("{base}/api/chat"),
        })
    }
}

/// `host`, `host:port` or a URL, as Ollama's own client reads `OLLAMA_HOST`;
/// returned without a trailing `/`.
pub fn normalize_host(raw: &str, origin: &str) -> Result<String, Error> {
    let has_scheme = raw.contains("://");
    let raw = raw.trim().trim_end_matches('/');
    let with_scheme = if has_scheme {
        raw.to_string()
    } else {
        format!("http://{raw}")
    };
    let mut url = super::check_url("ollama", &with_scheme, origin)?;
    if !has_scheme && !authority_has_port(raw) {
        // A host-only URL always accepts a port; keep the error path anyway.
        url.set_port(Some(DEFAULT_PORT))
            .map_err(|_| Error::input(format!("ollama: host '{raw}' from {origin} cannot take a port")))?;
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

/// Whether `host[:port][/path]` (no scheme) names a port; IPv6 literals are
/// bracketed.
fn authority_has_port(s: &str) -> bool {
    let authority = s.split('/').next().unwrap_or(s);
    let after_host = match authority.rfind(']') {
        Some(i) => &authority[i + 1..],
        None => authority,
    };
    after_host.contains(':')
}

impl Provider for Ollama {
    fn id(&self) -> &str {
        "ollama"
    }

    fn complete<'a>(&'a self, req: &'a ChatRequest) -> BoxFuture<'a, Result<ChatResponse, ProviderError>> {
        Box::pin(async move { self.http.chat(&self.url, &request_body(req), parse_response).await })
    }
}

/// The JSON body of an `/api/chat` request.
pub fn request_body(req: &ChatRequest) -> Value {
    let c = &req.config;
    let mut options = Map::new();
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            options.insert(k.into(), v);
        }
    };
    put("temperature", c.temperature.map(|v| json!(v)));
    put("num_predict", c.max_tokens.map(|v| json!(v)));
    put("top_p", c.top_p.map(|v| json!(v)));
    put("top_k", c.top_k.map(|v| json!(v)));
    put("seed", c.seed.map(|v| json!(v)));
    put("presence_penalty", c.presence_penalty.map(|v| json!(v)));
    put("frequency_penalty", c.frequency_penalty.map(|v| json!(v)));
    put("stop", c.stop.as_ref().filter(|s| !s.is_empty()).map(|v| json!(v)));
    let messages: Vec<Value> = req
        .messages
        .iter()
        .map(|m| json!({"role": m.role.as_str(), "content": m.content}))
        .collect();
    let mut b = Map::new();
    b.insert("model".into(), json!(req.model));
    b.insert("messages".into(), Value::Array(messages));
    b.insert("stream".into(), json!(false));
    if !options.is_empty() {
        b.insert("options".into(), Value::Object(options));
    }
    if let Some(schema) = &req.response_schema {
        b.insert("format".into(), schema.clone());
    } else if req.json {
        b.insert("format".into(), json!("json"));
    }
    Value::Object(b)
}

/// Parse an `/api/chat` response (non-streaming).
pub fn parse_response(body: &Value) -> Result<ChatResponse, ProviderError> {
    let bad = |what: &str| ProviderError::new(ProviderErrorKind::BadResponse, format!("ollama: {what}"));
    let Some(text) = body.pointer("/message/content").and_then(Value::as_str) else {
        return Err(match http::server_message(body.to_string().as_bytes()) {
            Some(msg) => bad(&format!("the response has no `message.content` but an error: {msg}")),
            None => bad("the response has no `message.content`"),
        });
    };
    let finish_reason = match body.get("done_reason").and_then(Value::as_str) {
        Some("stop") => FinishReason::Stop,
        Some("length") => FinishReason::Length,
        Some(other) => FinishReason::Other(other.to_string()),
        // Servers before `done_reason` existed: a finished answer stopped.
        None if body.get("done").and_then(Value::as_bool) == Some(true) => FinishReason::Stop,
        None => FinishReason::Other("unknown".to_string()),
    };
    let usage = match (
        body.get("prompt_eval_count").and_then(Value::as_u64),
        body.get("eval_count").and_then(Value::as_u64),
    ) {
        (Some(input), Some(output)) => Some(Usage {
            input_tokens: input,
            output_tokens: output,
            cached_input_tokens: None,
            reported: true,
        }),
        _ => None,
    };
    Ok(ChatResponse::from_body(text.to_string(), finish_reason, usage, body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prompt::ModelConfig;
    use crate::prompt::message::{Message, Role};

    #[test]
    fn hosts_are_read_like_ollama_does() {
        let n = |s: &str| normalize_host(s, "test").unwrap();
        assert_eq!(n("http://127.0.0.1:11434"), "http://127.0.0.1:11434");
        assert_eq!(n("127.0.0.1"), "http://127.0.0.1:11434");
        assert_eq!(n("gpu-box:8080"), "http://gpu-box:8080");
        assert_eq!(n("gpu-box/"), "http://gpu-box:11434");
        assert_eq!(n("[::1]"), "http://[::1]:11434");
        assert_eq!(n("[::1]:9000"), "http://[::1]:9000");
        assert_eq!(n("https://ollama.example.com"), "https://ollama.example.com");
        assert_eq!(
            n("https://ollama.example.com/proxy/"),
            "https://ollama.example.com/proxy"
        );
        assert!(normalize_host("ftp://x", "test").is_err());
        assert!(normalize_host("http://", "test").is_err());
    }

    #[test]
    fn options_carry_the_sampling_and_format_the_json_mode() {
        let mut req = ChatRequest {
            model: "llama3.1:8b".into(),
            messages: vec![Message::new(Role::System, "s"), Message::new(Role::User, "u")],
            config: ModelConfig {
                temperature: Some(0.2),
                max_tokens: Some(64),
                top_p: Some(0.5),
                top_k: Some(20),
                stop: Some(vec!["\n\n".into()]),
                seed: Some(42),
                ..ModelConfig::default()
            },
            response_schema: None,
            json: true,
        };
        assert_eq!(
            request_body(&req),
            json!({
                "model": "llama3.1:8b",
                "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}],
                "stream": false,
                "options": {"temperature": 0.2, "num_predict": 64, "top_p": 0.5, "top_k": 20, "seed": 42, "stop": ["\n\n"]},
                "format": "json",
            })
        );
        let schema = json!({"type": "object"});
        req.response_schema = Some(schema.clone());
        req.config = ModelConfig::default();
        let b = request_body(&req);
        assert_eq!(b["format"], schema);
        assert!(b.get("options").is_none());
    }

    #[test]
    fn parses_message_done_reason_and_counts() {
        let body = json!({
            "model": "llama3.1:8b", "message": {"role": "assistant", "content": "hi"},
            "done": true, "done_reason": "length", "prompt_eval_count": 26, "eval_count": 290,
        });
        let r = parse_response(&body).unwrap();
        assert_eq!(r.text, "hi");
        assert_eq!(r.finish_reason, FinishReason::Length);
        assert_eq!(r.usage.map(|u| (u.input_tokens, u.output_tokens)), Some((26, 290)));
        let cached = json!({"message": {"content": "x"}, "done": true, "eval_count": 3});
        let r = parse_response(&cached).unwrap();
        assert_eq!(r.finish_reason, FinishReason::Stop);
        assert_eq!(r.usage, None, "no prompt count: the runner counts");
        assert_eq!(
            parse_response(&json!({"error": "model 'x' not found"}))
                .unwrap_err()
                .kind,
            ProviderErrorKind::BadResponse
        );
    }
}
