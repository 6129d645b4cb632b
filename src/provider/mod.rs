//! LLM providers: the [`Provider`] trait, its request and response types, and
//! the transports behind it (OpenAI-compatible chat completions, Anthropic
//! messages, Ollama, the offline `echo`).
//!
//! This module owns one call to one model: shaping the request for the
//! provider's API, the HTTP exchange, parsing the answer, classifying failures,
//! retrying the transient ones ([`retry`]) and pacing calls ([`limit`]). It
//! must not know about prompt files, eval suites, caching or reports: the
//! runner hands it a rendered [`ChatRequest`] and gets a [`ChatResponse`] or a
//! [`ProviderError`] back.
//!
//! API keys come only from the environment, through the `env` function given
//! to [`build`], and are never logged, stored or put in an error message.

pub mod anthropic;
pub mod echo;
mod http;
pub mod limit;
pub mod ollama;
pub mod openai;
pub mod retry;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, ErrorKind};
use crate::prompt::ModelConfig;
use crate::prompt::message::Message;

pub use futures_util::future::BoxFuture;
pub use limit::{Limited, Limits};
pub use retry::{Retry, RetryPolicy};

/// The provider ids [`build`] knows.
pub const KNOWN: &[&str] = &["anthropic", "echo", "ollama", "openai"];

/// One rendered chat request for one model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    /// The model part of the id only (`gpt-4o-mini` for `openai:gpt-4o-mini`).
    pub model: String,
    pub messages: Vec<Message>,
    pub config: ModelConfig,
    /// The JSON Schema the output must satisfy, when the prompt declares one.
    pub response_schema: Option<serde_json::Value>,
    /// The prompt's output format is JSON.
    pub json: bool,
}

/// Why the model stopped. Serialized as a snake_case string (`"length"`); a
/// reason promptctl does not know keeps the provider's own word.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FinishReason {
    /// A natural stop or a stop sequence.
    Stop,
    /// The output cap was reached: the answer is cut off.
    Length,
    ContentFilter,
    ToolCalls,
    Other(String),
}

impl FinishReason {
    pub fn as_str(&self) -> &str {
        match self {
            FinishReason::Stop => "stop",
            FinishReason::Length => "length",
            FinishReason::ContentFilter => "content_filter",
            FinishReason::ToolCalls => "tool_calls",
            FinishReason::Other(s) => s,
        }
    }

    /// The inverse of [`FinishReason::as_str`].
    pub fn parse(s: &str) -> FinishReason {
        match s {
            "stop" => FinishReason::Stop,
            "length" => FinishReason::Length,
            "content_filter" => FinishReason::ContentFilter,
            "tool_calls" => FinishReason::ToolCalls,
            other => FinishReason::Other(other.to_string()),
        }
    }
}

impl fmt::Display for FinishReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for FinishReason {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for FinishReason {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(FinishReason::parse(&s))
    }
}

/// Token usage of one response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// All input tokens, cached ones included.
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// The part of `input_tokens` served from the provider's prompt cache.
    pub cached_input_tokens: Option<u64>,
    /// True when the server reported these numbers; false when promptctl
    /// counted them.
    pub reported: bool,
}

/// A model's answer to a [`ChatRequest`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatResponse {
    pub text: String,
    pub finish_reason: FinishReason,
    /// None when the provider did not report usage; the runner counts then.
    pub usage: Option<Usage>,
    /// The model as the server reported it (often a dated snapshot).
    pub model: Option<String>,
    /// Wall time of the successful attempt: request sent to body read.
    /// Waits between retries and for rate limits are not included.
    pub latency_ms: u64,
    /// HTTP attempts it took, retries included (1 without a retry).
    pub attempts: u32,
}

impl ChatResponse {
    /// A parsed HTTP answer: the reported model is read off the body; the
    /// latency is filled in by the transport.
    pub fn from_body(
        text: String,
        finish_reason: FinishReason,
        usage: Option<Usage>,
        body: &serde_json::Value,
    ) -> ChatResponse {
        ChatResponse {
            text,
            finish_reason,
            usage,
            model: body
                .get("model")
                .and_then(serde_json::Value::as_str)
                .map(str::to_string),
            latency_ms: 0,
            attempts: 1,
        }
    }
}

/// What went wrong with a provider call; decides retrying and the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderErrorKind {
    /// The API key variable is not set (found before any request).
    MissingKey,
    /// HTTP 429.
    RateLimited,
    /// HTTP 500, 502, 503, 504, 529 (Anthropic's "overloaded") and other
    /// transient 5xx.
    Server,
    /// No complete answer within the timeout (or HTTP 408).
    Timeout,
    /// Could not connect, or the connection broke before the answer was
    /// complete (reset, closed, a body cut short).
    Connection,
    /// A complete answer that is not what the API documents: not JSON, no
    /// choices, no content.
    BadResponse,
    /// The provider rejected the request (4xx other than 408 and 429): bad
    /// key, unknown model, unsupported parameter. Retrying cannot help.
    Client,
    /// The call needs the network but promptctl was told to stay offline
    /// (raised by offline layers such as replay, not by these transports).
    Offline,
}

impl ProviderErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderErrorKind::MissingKey => "missing key",
            ProviderErrorKind::RateLimited => "rate limited",
            ProviderErrorKind::Server => "server error",
            ProviderErrorKind::Timeout => "timeout",
            ProviderErrorKind::Connection => "connection error",
            ProviderErrorKind::BadResponse => "bad response",
            ProviderErrorKind::Client => "request rejected",
            ProviderErrorKind::Offline => "offline",
        }
    }
}

/// A failed provider call. The message names the provider and carries the
/// provider's own error text where it sent one; it never contains a key.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderError {
    pub kind: ProviderErrorKind,
    pub message: String,
    /// The HTTP status, when there was a response.
    pub status: Option<u16>,
    /// How long the server asked us to wait (`Retry-After`, `retry-after-ms`).
    pub retry_after: Option<Duration>,
}

impl ProviderError {
    pub fn new(kind: ProviderErrorKind, message: impl Into<String>) -> Self {
        ProviderError {
            kind,
            message: message.into(),
            status: None,
            retry_after: None,
        }
    }

    /// Worth another attempt: rate limits, server errors, timeouts and broken
    /// connections.
    ///
    /// A complete response that is malformed (`BadResponse`) is *not* retried:
    /// a server that answers garbage tends to do it again, and a 200 may
    /// already have been billed. A body cut short by the transport is a
    /// `Connection` error and is retried.
    pub fn retryable(&self) -> bool {
        matches!(
            self.kind,
            ProviderErrorKind::RateLimited
                | ProviderErrorKind::Server
                | ProviderErrorKind::Timeout
                | ProviderErrorKind::Connection
        )
    }

    /// The API key variable `var` is not set.
    pub fn missing_key(provider: &str, var: &str) -> Self {
        Self::new(
            ProviderErrorKind::MissingKey,
            format!("{var} is not set: the {provider} provider needs an API key"),
        )
    }
}

impl fmt::Display for ProviderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ProviderError {}

impl From<ProviderError> for Error {
    /// A missing key, a rejected request and an offline miss are the user's
    /// to fix (exit 2); an unreachable or failing provider is external (exit 3).
    fn from(e: ProviderError) -> Self {
        use ProviderErrorKind as K;
        let kind = match e.kind {
            K::MissingKey | K::Client | K::Offline => ErrorKind::Input,
            K::RateLimited | K::Server | K::Timeout | K::Connection | K::BadResponse => ErrorKind::External,
        };
        let hint = match (e.kind, e.status) {
            (K::MissingKey, _) => Some("set it in the environment; promptctl reads keys from nowhere else"),
            (K::Client, Some(401 | 403)) => Some("check the API key in the environment"),
            (K::Client, Some(404)) => Some("check the model name and the provider's base URL"),
            (K::RateLimited, _) => Some(
                "lower requests_per_minute, tokens_per_minute or concurrency in the provider's table of promptctl.toml",
            ),
            (K::Timeout, _) => Some("raise timeout in the provider's table of promptctl.toml"),
            (K::Connection, _) => Some("check the network and the provider's base URL"),
            (K::Offline, _) => Some("record the responses first, or run without offline mode"),
            _ => None,
        };
        Error::new(kind, e.message).with_hint_opt(hint.map(str::to_string))
    }
}

/// A chat model behind some API. Implementations are cheap to share: the
/// runner holds one `Arc<dyn Provider>` per provider and calls it from many
/// tasks at once.
pub trait Provider: Send + Sync {
    /// The provider id: `openai`, `anthropic`, `ollama`, `echo`.
    fn id(&self) -> &str;

    /// Send one request. Transports make exactly one attempt; [`Retry`] and
    /// [`Limited`] add retries and pacing around them.
    fn complete<'a>(&'a self, req: &'a ChatRequest) -> BoxFuture<'a, Result<ChatResponse, ProviderError>>;

    /// Whether `latency_ms` is a provider's answer time worth reporting. An
    /// offline provider answers in no time: its latency is not measured.
    fn measures_latency(&self) -> bool {
        true
    }
}

/// Settings of one provider: a `[providers.<id>]` table in promptctl.toml.
///
/// Durations are seconds (`timeout = 30`) or a span (`timeout = "1m 30s"`,
/// `"500ms"`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProviderSettings {
    /// The API's base URL; overrides the provider's `*_BASE_URL`/`OLLAMA_HOST`
    /// variable and default.
    pub base_url: Option<String>,
    /// The environment variable holding the API key, instead of the
    /// provider's default (`OPENAI_API_KEY`, `ANTHROPIC_API_KEY`). When set,
    /// the variable must be set.
    pub api_key_env: Option<String>,
    /// Per-attempt timeout, connection to last byte.
    #[serde(deserialize_with = "de_duration")]
    pub timeout: Duration,
    /// Attempts per request, the first included (1 = never retry).
    pub max_attempts: u32,
    /// Retrying stops when the next wait would take the total past this.
    #[serde(deserialize_with = "de_duration")]
    pub max_total_wait: Duration,
    pub requests_per_minute: Option<u32>,
    /// Paced on an estimate of each request's tokens (see [`limit`]).
    pub tokens_per_minute: Option<u32>,
    /// Requests in flight at once to this provider.
    pub concurrency: Option<usize>,
    /// Extra HTTP headers sent with every request (e.g. OpenRouter's
    /// `HTTP-Referer`). Not for keys: a file must not hold a secret.
    pub headers: BTreeMap<String, String>,
}

impl Default for ProviderSettings {
    fn default() -> Self {
        ProviderSettings {
            base_url: None,
            api_key_env: None,
            timeout: Duration::from_secs(60),
            max_attempts: 5,
            max_total_wait: Duration::from_secs(120),
            requests_per_minute: None,
            tokens_per_minute: None,
            concurrency: None,
            headers: BTreeMap::new(),
        }
    }
}

impl ProviderSettings {
    /// Reject settings that cannot work, naming the key.
    pub fn validate(&self, provider_id: &str) -> Result<(), Error> {
        let bad = |key: &str, why: &str| Err(Error::input(format!("[providers.{provider_id}] {key}: {why}")));
        if self.timeout.is_zero() {
            return bad("timeout", "must be more than zero");
        }
        if self.max_attempts == 0 {
            return bad("max_attempts", "must be at least 1 (1 = no retries)");
        }
        if self.requests_per_minute == Some(0) {
            return bad("requests_per_minute", "must be at least 1");
        }
        if self.tokens_per_minute == Some(0) {
            return bad("tokens_per_minute", "must be at least 1");
        }
        if self.concurrency == Some(0) {
            return bad("concurrency", "must be at least 1");
        }
        if let Some(var) = &self.api_key_env
            && var.trim().is_empty()
        {
            return bad("api_key_env", "must name an environment variable");
        }
        for (name, value) in &self.headers {
            if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
                return bad("headers", &format!("'{name}' is not a valid HTTP header name"));
            }
            if reqwest::header::HeaderValue::from_str(value).is_err() {
                return bad(
                    "headers",
                    &format!("the value of '{name}' is not a valid HTTP header value"),
                );
            }
        }
        Ok(())
    }
}

/// Seconds as a number, or a span string that jiff understands.
fn de_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    use serde::de::Error as _;
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Int(u64),
        Float(f64),
        Text(String),
    }
    match Raw::deserialize(d)? {
        Raw::Int(s) => Ok(Duration::from_secs(s)),
        Raw::Float(s) => {
            Duration::try_from_secs_f64(s).map_err(|_| D::Error::custom("a duration must be zero or more seconds"))
        }
        Raw::Text(t) => {
            let span: jiff::SignedDuration = t
                .parse()
                .map_err(|e| D::Error::custom(format!("'{t}' is not a duration (try \"30s\" or \"2m\"): {e}")))?;
            Duration::try_from(span).map_err(|_| D::Error::custom(format!("'{t}' is negative")))
        }
    }
}

/// The provider `provider_id`, configured by `settings`, with retries
/// ([`Retry`]) and, where the settings ask for them, rate and concurrency
/// limits ([`Limited`]) already applied: hand it requests, do not wrap it
/// again. Every check that can fail without the network (unknown provider,
/// bad settings, a missing API key) fails here, before any request.
pub fn build(
    provider_id: &str,
    settings: &ProviderSettings,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Arc<dyn Provider>, Error> {
    let bare = transport(provider_id, settings, env)?;
    let limits = Limits::from(settings);
    let inner: Arc<dyn Provider> = if limits.is_unlimited() {
        bare
    } else {
        Arc::new(Limited::new(bare, limits))
    };
    Ok(Arc::new(Retry::new(inner, RetryPolicy::from(settings))))
}

/// The bare transport of `provider_id`: one attempt per call, no retries, no
/// limits. [`build`] is what the runner wants; this is for composing the
/// wrappers differently.
pub fn transport(
    provider_id: &str,
    settings: &ProviderSettings,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Arc<dyn Provider>, Error> {
    settings.validate(provider_id)?;
    let p: Arc<dyn Provider> = match provider_id {
        "openai" => Arc::new(openai::OpenAi::new(settings, env)?),
        "anthropic" => Arc::new(anthropic::Anthropic::new(settings, env)?),
        "ollama" => Arc::new(ollama::Ollama::new(settings, env)?),
        "echo" => Arc::new(echo::Echo),
        other => {
            let known = KNOWN.join(", ");
            let err = Error::input(format!("unknown provider '{other}'"));
            let err = err.with_hint_opt(crate::error::suggest(other, KNOWN.iter().copied()));
            return Err(err.hint(format!(
                "known providers: {known}; an OpenAI-compatible server (vLLM, llama.cpp, LiteLLM, OpenRouter) is `openai` with base_url"
            )));
        }
    };
    Ok(p)
}

/// The value of `var` when it is set and not blank.
fn env_nonempty(env: &dyn Fn(&str) -> Option<String>, var: &str) -> Option<String> {
    env(var).filter(|v| !v.trim().is_empty())
}

/// Where a base URL came from; decides whether the default key goes to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BaseSource {
    /// The provider's own API.
    Default,
    /// The provider's `*_BASE_URL` variable: the user's environment chose it.
    Env,
    /// `base_url` in promptctl.toml: the repository chose it.
    Settings,
}

/// The base URL of a keyed provider: settings, else `base_env`, else
/// `default`; without a trailing `/`.
fn resolve_base(
    provider: &str,
    settings: &ProviderSettings,
    env: &dyn Fn(&str) -> Option<String>,
    base_env: &str,
    default: &str,
) -> Result<(String, BaseSource), Error> {
    let (url, source, origin) = if let Some(b) = settings.base_url.as_deref().filter(|b| !b.trim().is_empty()) {
        (b, BaseSource::Settings, format!("[providers.{provider}] base_url"))
    } else if let Some(b) = env_nonempty(env, base_env) {
        return finish_base(provider, &b, BaseSource::Env, base_env, default);
    } else {
        (default, BaseSource::Default, "the default".to_string())
    };
    finish_base(provider, url, source, &origin, default)
}

fn finish_base(
    provider: &str,
    url: &str,
    source: BaseSource,
    origin: &str,
    default: &str,
) -> Result<(String, BaseSource), Error> {
    let url = url.trim().trim_end_matches('/').to_string();
    check_url(provider, &url, origin)?;
    // Naming the provider's own API explicitly is still the provider's own API.
    let source = if url == default { BaseSource::Default } else { source };
    Ok((url, source))
}

/// An http(s) URL, or an input error that says where the bad one came from.
fn check_url(provider: &str, url: &str, origin: &str) -> Result<reqwest::Url, Error> {
    let parsed = reqwest::Url::parse(url)
        .map_err(|e| Error::input(format!("{provider}: base URL '{url}' from {origin} is not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(Error::input(format!(
            "{provider}: base URL '{url}' from {origin} is not http or https"
        )));
    }
    Ok(parsed)
}

/// An API key and the variable it came from.
struct Key {
    value: String,
    var: String,
}

/// The API key to send, if any.
///
/// - `api_key_env` set in the settings: that variable, required.
/// - the provider's own host: `default_var`, required.
/// - a base URL from the provider's `*_BASE_URL` variable: `default_var` if
///   set (the OpenAI SDK convention, used by OpenRouter and LiteLLM).
/// - a base URL from promptctl.toml: no key. A repository must not be able to
///   send the user's OpenAI key to a host of its choosing; a server that needs
///   one names its variable with `api_key_env`.
fn resolve_key(
    provider: &str,
    settings: &ProviderSettings,
    env: &dyn Fn(&str) -> Option<String>,
    default_var: &str,
    source: BaseSource,
) -> Result<Option<Key>, Error> {
    let get = |var: &str| {
        env_nonempty(env, var).map(|value| Key {
            value,
            var: var.to_string(),
        })
    };
    let missing = |var: &str| {
        Error::input(ProviderError::missing_key(provider, var).message).hint(format!(
            "export {var}=<your key> (promptctl reads keys from the environment only)"
        ))
    };
    if let Some(var) = &settings.api_key_env {
        return get(var).map(Some).ok_or_else(|| missing(var));
    }
    match source {
        BaseSource::Default => get(default_var).map(Some).ok_or_else(|| missing(default_var)),
        BaseSource::Env => Ok(get(default_var)),
        BaseSource::Settings => Ok(None),
    }
}

#[cfg(test)]
mod tests;
