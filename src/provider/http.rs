//! The HTTP exchange the network transports share: one `reqwest::Client` per
//! provider, a JSON POST, and the classification of every way it can fail
//! into a [`ProviderError`]. Request and response *shapes* belong to the
//! transports, not here.

use std::time::{Duration, Instant, SystemTime};

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;

use super::{ChatResponse, ProviderError, ProviderErrorKind as K, ProviderSettings};
use crate::error::Error;

/// Longest piece of a server's body quoted in an error message.
const QUOTE_MAX: usize = 300;

/// Connecting must not eat the whole per-attempt timeout: an unreachable
/// host is better found fast and retried.
const CONNECT_TIMEOUT_MAX: Duration = Duration::from_secs(10);

pub(crate) struct Http {
    client: reqwest::Client,
    /// Provider id, the prefix of every error message.
    provider: &'static str,
}

/// A successful exchange: the parsed body and how long it took.
pub(crate) struct Reply {
    pub body: Value,
    pub latency_ms: u64,
}

impl Http {
    /// A client with the settings' timeout and extra headers, and `auth`
    /// (already marked sensitive) on every request.
    pub fn new(provider: &'static str, settings: &ProviderSettings, auth: HeaderMap) -> Result<Http, Error> {
        let mut headers = HeaderMap::new();
        for (name, value) in &settings.headers {
            // validate() has checked both; a failure here is still an input error, not a panic.
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| Error::input(format!("[providers.{provider}] headers: invalid header name '{name}'")))?;
            let value = HeaderValue::from_str(value)
                .map_err(|_| Error::input(format!("[providers.{provider}] headers: invalid value for '{name}'")))?;
            headers.insert(name, value);
        }
        // The key wins over a same-named extra header.
        headers.extend(auth);
        let client = reqwest::Client::builder()
            .user_agent(concat!("promptctl/", env!("CARGO_PKG_VERSION")))
            .default_headers(headers)
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout.min(CONNECT_TIMEOUT_MAX))
            .build()
            .map_err(|e| Error::external(format!("{provider}: cannot set up the HTTP client: {}", chain(&e))))?;
        Ok(Http { client, provider })
    }

    /// POST `body` as JSON to `url` and parse the JSON answer. Any non-2xx
    /// status is an error carrying the server's own message.
    /// One chat call: POST the request body, parse the answer with the
    /// provider's `parse`, and time it.
    pub async fn chat(
        &self,
        url: &str,
        body: &Value,
        parse: fn(&Value) -> Result<ChatResponse, ProviderError>,
    ) -> Result<ChatResponse, ProviderError> {
        let reply = self.post_json(url, body).await?;
        let mut resp = parse(&reply.body)?;
        resp.latency_ms = reply.latency_ms;
        Ok(resp)
    }

    pub async fn post_json(&self, url: &str, body: &Value) -> Result<Reply, ProviderError> {
        let p = self.provider;
        let start = Instant::now();
        let resp = self
            .client
            .post(url)
            .json(body)
            .send()
            .await
            .map_err(|e| self.transport_error(&e, url, false))?;
        let status = resp.status();
        let retry_after = retry_after(resp.headers(), SystemTime::now());
        let bytes = resp.bytes().await.map_err(|e| self.transport_error(&e, url, true))?;
        let latency_ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
        if !status.is_success() {
            let mut err = status_error(p, status, &bytes);
            err.retry_after = retry_after;
            return Err(err);
        }
        let body: Value = serde_json::from_slice(&bytes).map_err(|e| {
            ProviderError::new(
                K::BadResponse,
                format!("{p}: the response is not valid JSON ({e}): {}", quote(&bytes)),
            )
        })?;
        Ok(Reply { body, latency_ms })
    }

    fn transport_error(&self, e: &reqwest::Error, url: &str, reading_body: bool) -> ProviderError {
        let p = self.provider;
        let detail = chain(e);
        if e.is_timeout() {
            return ProviderError::new(
                K::Timeout,
                format!("{p}: no complete answer from {url} in time ({detail})"),
            );
        }
        if e.is_connect() {
            return ProviderError::new(K::Connection, format!("{p}: cannot connect to {url} ({detail})"));
        }
        if reading_body {
            return ProviderError::new(
                K::Connection,
                format!("{p}: the response from {url} was cut short ({detail})"),
            );
        }
        ProviderError::new(K::Connection, format!("{p}: the connection to {url} failed ({detail})"))
    }
}

/// One header carrying a key, marked sensitive so it never shows in debug
/// output. The key itself never appears in an error.
pub(crate) fn key_header(provider: &str, name: &'static str, value: &str, var: &str) -> Result<HeaderMap, Error> {
    let mut v = HeaderValue::from_str(value).map_err(|_| {
        Error::input(format!(
            "{provider}: the API key in {var} has characters an HTTP header cannot carry"
        ))
        .hint(format!("check {var} for stray quotes or line breaks"))
    })?;
    v.set_sensitive(true);
    let mut map = HeaderMap::new();
    map.insert(HeaderName::from_static(name), v);
    Ok(map)
}

/// The error for a non-2xx answer, with the provider's message where the body
/// has one.
pub(crate) fn status_error(provider: &str, status: StatusCode, body: &[u8]) -> ProviderError {
    let code = status.as_u16();
    let kind = match code {
        429 => K::RateLimited,
        408 => K::Timeout,
        // Not implemented / version not supported: no retry will change that.
        501 | 505 => K::Client,
        500..=599 => K::Server,
        _ => K::Client,
    };
    let reason = status.canonical_reason().unwrap_or(match code {
        529 => "Overloaded",
        _ => "",
    });
    let what = server_message(body).unwrap_or_else(|| quote(body));
    let mut message = format!("{provider}: HTTP {code}");
    if !reason.is_empty() {
        message.push(' ');
        message.push_str(reason);
    }
    if !what.is_empty() {
        message.push_str(": ");
        message.push_str(&what);
    }
    ProviderError {
        kind,
        message,
        status: Some(code),
        retry_after: None,
    }
}

/// The message in an error body: `{"error": {"message": …}}` (OpenAI,
/// Anthropic, most compatible servers), `{"error": "…"}` (Ollama) or
/// `{"message": …}`.
pub(crate) fn server_message(body: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let msg = match v.get("error") {
        Some(Value::Object(o)) => o.get("message").and_then(Value::as_str),
        Some(Value::String(s)) => Some(s.as_str()),
        _ => None,
    }
    .or_else(|| v.get("message").and_then(Value::as_str))?;
    Some(truncate(msg.trim(), QUOTE_MAX * 2))
}

/// How long the server asks us to wait: `retry-after-ms` (OpenAI), else
/// `Retry-After` as delta-seconds or an HTTP-date (RFC 9110 §10.2.3).
pub(crate) fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    if let Some(ms) = header_str(headers, "retry-after-ms").and_then(|v| v.trim().parse::<f64>().ok())
        && let Ok(d) = Duration::try_from_secs_f64(ms / 1000.0)
    {
        return Some(d);
    }
    parse_retry_after(header_str(headers, "retry-after")?, now)
}

fn header_str<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name)?.to_str().ok()
}

/// `Retry-After`: delta-seconds (decimals tolerated) or an HTTP-date; a date
/// in the past means no wait.
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<f64>() {
        return Duration::try_from_secs_f64(secs).ok();
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// An error and its sources, `a: b: c`, for messages that say what broke.
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        let s_text = s.to_string();
        if !out.contains(&s_text) {
            out.push_str(": ");
            out.push_str(&s_text);
        }
        src = s.source();
    }
    out
}

/// A short, printable quote of a body.
fn quote(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return String::new();
    }
    truncate(text, QUOTE_MAX)
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_dates_and_milliseconds() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480); // Wed, 21 Oct 2015 07:28:00 GMT
        assert_eq!(parse_retry_after("2", now), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after(" 1.5 ", now), Some(Duration::from_millis(1500)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        // The obsolete RFC 850 form is still an HTTP-date.
        assert_eq!(
            parse_retry_after("Wednesday, 21-Oct-15 07:29:00 GMT", now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("-3", now), None);
        assert_eq!(parse_retry_after("soon", now), None);

        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("7"));
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(7)));
        h.insert("retry-after-ms", HeaderValue::from_static("250"));
        assert_eq!(retry_after(&h, now), Some(Duration::from_millis(250)));
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }

    #[test]
    fn statuses_map_to_kinds() {
        let kind = |c: u16| status_error("x", StatusCode::from_u16(c).unwrap(), b"").kind;
        assert_eq!(kind(429), K::RateLimited);
        for c in [500, 502, 503, 504, 529] {
            assert_eq!(kind(c), K::Server, "{c}");
        }
        assert_eq!(kind(408), K::Timeout);
        for c in [400, 401, 403, 404, 409, 422, 501] {
            assert_eq!(kind(c), K::Client, "{c}");
        }
    }

    #[test]
    fn error_messages_quote_the_server() {
        let openai = br#"{"error":{"message":"Invalid model 'gpt-9'","type":"invalid_request_error"}}"#;
        let e = status_error("openai", StatusCode::BAD_REQUEST, openai);
        assert_eq!(e.message, "openai: HTTP 400 Bad Request: Invalid model 'gpt-9'");
        assert_eq!(e.status, Some(400));

        let ollama = br#"{"error":"model 'llama9' not found"}"#;
        let e = status_error("ollama", StatusCode::NOT_FOUND, ollama);
        assert_eq!(e.message, "ollama: HTTP 404 Not Found: model 'llama9' not found");

        let e = status_error("anthropic", StatusCode::from_u16(529).unwrap(), b"");
        assert_eq!(e.message, "anthropic: HTTP 529 Overloaded");

        let html = "<html>".to_string() + &"x".repeat(1000);
        let e = status_error("openai", StatusCode::BAD_GATEWAY, html.as_bytes());
        assert!(
            e.message.starts_with("openai: HTTP 502 Bad Gateway: <html>xxx"),
            "{}",
            e.message
        );
        assert!(e.message.chars().count() < 400, "long bodies are cut: {}", e.message);
    }
}
