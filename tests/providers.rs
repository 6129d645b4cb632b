//! The provider transports against local HTTP servers on 127.0.0.1: the
//! request each API documents, the parsing of its answers, and every fault a
//! real provider produces (rate limits, 5xx bursts, timeouts, resets, bodies
//! cut short or malformed). Never the internet.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use promptctl::ErrorKind;
use promptctl::prompt::ModelConfig;
use promptctl::prompt::message::{Message, Role};
use promptctl::provider::{
    self, ChatRequest, FinishReason, Provider, ProviderErrorKind as K, ProviderSettings, Retry, RetryPolicy, Usage,
};

fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let map: BTreeMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    move |k| map.get(k).cloned()
}

fn request(model: &str) -> ChatRequest {
    ChatRequest {
        model: model.into(),
        messages: vec![
            Message::new(Role::System, "You classify tickets."),
            Message::new(Role::User, "Ticket: refund please"),
        ],
        config: ModelConfig {
            temperature: Some(0.0),
            max_tokens: Some(300),
            ..ModelConfig::default()
        },
        response_schema: None,
        json: false,
    }
}

/// Retries with millisecond backoff, so fault tests stay fast.
fn fast(inner: Arc<dyn Provider>, max_attempts: u32) -> Retry {
    Retry::new(
        inner,
        RetryPolicy {
            max_attempts,
            max_total_wait: Duration::from_secs(10),
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(5),
        },
    )
}

/// A bare OpenAI transport at `base` (no key: a server named in settings).
fn openai_at(base: &str, timeout: Duration) -> Arc<dyn Provider> {
    let settings = ProviderSettings {
        base_url: Some(format!("{base}/v1")),
        timeout,
        ..ProviderSettings::default()
    };
    provider::transport("openai", &settings, &env_of(&[])).unwrap()
}

fn completion(content: &str) -> Value {
    json!({
        "id": "chatcmpl-1", "object": "chat.completion", "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 21, "completion_tokens": 3, "total_tokens": 24,
                  "prompt_tokens_details": {"cached_tokens": 0}},
    })
}

async fn requests_to(server: &MockServer) -> usize {
    server.received_requests().await.unwrap().len()
}

// ---------------------------------------------------------------- shapes

#[tokio::test]
async fn openai_sends_the_documented_request_and_parses_the_answer() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(header("authorization", "Bearer sk-test"))
        .and(header("content-type", "application/json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion("{\"label\":\"refund\"}")))
        .expect(1)
        .mount(&server)
        .await;
    let env = env_of(&[
        ("OPENAI_API_KEY", "sk-test"),
        ("OPENAI_BASE_URL", &format!("{}/v1/", server.uri())),
    ]);
    let p = provider::build("openai", &ProviderSettings::default(), &env).unwrap();
    assert_eq!(p.id(), "openai");
    let mut req = request("gpt-4o-mini");
    req.json = true;
    req.response_schema = Some(json!({"type": "object", "required": ["label"]}));
    let r = p.complete(&req).await.unwrap();

    assert_eq!(r.text, "{\"label\":\"refund\"}");
    assert_eq!(r.finish_reason, FinishReason::Stop);
    assert_eq!(r.model.as_deref(), Some("gpt-4o-mini-2024-07-18"));
    assert_eq!(r.attempts, 1);
    assert_eq!(
        r.usage,
        Some(Usage {
            input_tokens: 21,
            output_tokens: 3,
            cached_input_tokens: Some(0),
            reported: true
        })
    );
    let sent = &server.received_requests().await.unwrap()[0];
    assert_eq!(
        sent.body_json::<Value>().unwrap(),
        json!({
            "model": "gpt-4o-mini",
            "messages": [
                {"role": "system", "content": "You classify tickets."},
                {"role": "user", "content": "Ticket: refund please"},
            ],
            "max_tokens": 300,
            "temperature": 0.0,
            "response_format": {"type": "json_schema", "json_schema": {
                "name": "output", "schema": {"type": "object", "required": ["label"]}, "strict": false}},
        })
    );
}

#[tokio::test]
async fn openai_compatible_servers_get_no_key_unless_configured_and_extra_headers() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion("ok")))
        .mount(&server)
        .await;
    let settings = ProviderSettings {
        base_url: Some(format!("{}/v1", server.uri())),
        headers: [("HTTP-Referer".to_string(), "https://example.com".to_string())].into(),
        ..ProviderSettings::default()
    };
    // The user's OpenAI key is in the environment, but the server is the repository's choice.
    let env = env_of(&[("OPENAI_API_KEY", "sk-secret")]);
    let p = provider::build("openai", &settings, &env).unwrap();
    p.complete(&request("llama-3.1-8b")).await.unwrap();

    let named = ProviderSettings {
        api_key_env: Some("VLLM_API_KEY".into()),
        ..settings.clone()
    };
    let env = env_of(&[("OPENAI_API_KEY", "sk-secret"), ("VLLM_API_KEY", "local-key")]);
    let p = provider::build("openai", &named, &env).unwrap();
    p.complete(&request("llama-3.1-8b")).await.unwrap();

    let sent = server.received_requests().await.unwrap();
    assert_eq!(sent.len(), 2);
    assert!(!sent[0].headers.contains_key("authorization"));
    assert_eq!(sent[0].headers["http-referer"], "https://example.com");
    assert_eq!(sent[1].headers["authorization"], "Bearer local-key");
}

#[tokio::test]
async fn anthropic_sends_the_documented_request_and_parses_the_answer() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/messages"))
        .and(header("x-api-key", "sk-ant-test"))
        .and(header("anthropic-version", "2023-06-01"))
        .and(header("content-type", "application/json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "msg_01", "type": "message", "role": "assistant", "model": "claude-haiku-4-5-20251001",
            "content": [{"type": "text", "text": "refund"}],
            "stop_reason": "max_tokens", "stop_sequence": null,
            "usage": {"input_tokens": 30, "output_tokens": 300, "cache_read_input_tokens": 12},
        })))
        .expect(1)
        .mount(&server)
        .await;
    let env = env_of(&[
        ("ANTHROPIC_API_KEY", "sk-ant-test"),
        ("ANTHROPIC_BASE_URL", &server.uri()),
    ]);
    let p = provider::build("anthropic", &ProviderSettings::default(), &env).unwrap();
    let r = p.complete(&request("claude-haiku-4-5")).await.unwrap();

    assert_eq!(r.text, "refund");
    assert_eq!(r.finish_reason, FinishReason::Length);
    assert_eq!(
        r.usage,
        Some(Usage {
            input_tokens: 42,
            output_tokens: 300,
            cached_input_tokens: Some(12),
            reported: true
        })
    );
    let sent = &server.received_requests().await.unwrap()[0];
    assert!(!sent.headers.contains_key("authorization"));
    assert_eq!(
        sent.body_json::<Value>().unwrap(),
        json!({
            "model": "claude-haiku-4-5",
            "max_tokens": 300,
            "system": "You classify tickets.",
            "messages": [{"role": "user", "content": "Ticket: refund please"}],
            "temperature": 0.0,
        })
    );
}

#[tokio::test]
async fn ollama_sends_the_documented_request_and_parses_the_answer() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/chat"))
        .and(header("content-type", "application/json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "model": "llama3.1:8b", "created_at": "2025-01-01T00:00:00Z",
            "message": {"role": "assistant", "content": "{\"label\": \"refund\"}"},
            "done": true, "done_reason": "stop", "prompt_eval_count": 26, "eval_count": 9,
        })))
        .expect(1)
        .mount(&server)
        .await;
    // OLLAMA_HOST as people set it: host and port, no scheme.
    let host = server.uri().trim_start_matches("http://").to_string();
    let env = env_of(&[("OLLAMA_HOST", &host)]);
    let p = provider::build("ollama", &ProviderSettings::default(), &env).unwrap();
    let mut req = request("llama3.1:8b");
    req.json = true;
    let r = p.complete(&req).await.unwrap();

    assert_eq!(r.text, "{\"label\": \"refund\"}");
    assert_eq!(r.finish_reason, FinishReason::Stop);
    assert_eq!(r.usage.map(|u| (u.input_tokens, u.output_tokens)), Some((26, 9)));
    let sent = &server.received_requests().await.unwrap()[0];
    assert!(!sent.headers.contains_key("authorization"));
    assert_eq!(
        sent.body_json::<Value>().unwrap(),
        json!({
            "model": "llama3.1:8b",
            "messages": [
                {"role": "system", "content": "You classify tickets."},
                {"role": "user", "content": "Ticket: refund please"},
            ],
            "stream": false,
            "options": {"temperature": 0.0, "num_predict": 300},
            "format": "json",
        })
    );
}

#[tokio::test]
async fn echo_answers_offline() {
    let p = provider::build("echo", &ProviderSettings::default(), &env_of(&[])).unwrap();
    let r = p.complete(&request("anything")).await.unwrap();
    assert_eq!(r.text, "Ticket: refund please");
    assert_eq!(r.usage, None);
    assert_eq!(r.attempts, 1);
}

// ---------------------------------------------------------------- keys

#[tokio::test]
async fn a_missing_key_fails_before_any_request() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion("x")))
        .mount(&server)
        .await;
    let settings = ProviderSettings {
        base_url: Some(format!("{}/v1", server.uri())),
        api_key_env: Some("OPENAI_API_KEY".into()),
        ..ProviderSettings::default()
    };
    let err = provider::build("openai", &settings, &env_of(&[])).err().unwrap();
    assert_eq!(err.kind, ErrorKind::Input);
    assert_eq!(err.kind.exit_code(), 2);
    assert!(err.message.contains("OPENAI_API_KEY"), "{}", err.message);
    assert_eq!(requests_to(&server).await, 0);
}

// ---------------------------------------------------------------- faults

#[tokio::test]
async fn rate_limit_waits_retry_after_then_succeeds() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "1")
                .set_body_json(json!({"error": {"message": "Rate limit reached", "type": "requests"}})),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion("ok")))
        .mount(&server)
        .await;
    let p = fast(openai_at(&server.uri(), Duration::from_secs(5)), 3);
    let start = Instant::now();
    let r = p.complete(&request("gpt-4o-mini")).await.unwrap();
    assert_eq!(r.attempts, 2);
    assert!(start.elapsed() >= Duration::from_secs(1), "{:?}", start.elapsed());
    assert_eq!(requests_to(&server).await, 2);
}

#[tokio::test]
async fn a_burst_of_503s_is_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(2)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion("ok")))
        .mount(&server)
        .await;
    let r = fast(openai_at(&server.uri(), Duration::from_secs(5)), 5)
        .complete(&request("gpt-4o-mini"))
        .await
        .unwrap();
    assert_eq!(r.attempts, 3);
    assert_eq!(r.text, "ok");
}

#[tokio::test]
async fn persistent_5xx_fails_after_max_attempts_with_the_count() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(500).set_body_json(json!({"error": {"message": "The server had an error"}})),
        )
        .mount(&server)
        .await;
    let err = fast(openai_at(&server.uri(), Duration::from_secs(5)), 3)
        .complete(&request("gpt-4o-mini"))
        .await
        .unwrap_err();
    assert_eq!(err.kind, K::Server);
    assert_eq!(err.status, Some(500));
    assert_eq!(
        err.message,
        "openai: HTTP 500 Internal Server Error: The server had an error (gave up after 3 attempts)"
    );
    assert_eq!(requests_to(&server).await, 3);
    let as_cli: promptctl::Error = err.into();
    assert_eq!(as_cli.kind.exit_code(), 3);
}

#[tokio::test]
async fn anthropic_overloaded_529_is_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(529).set_body_json(
                json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
            ),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "content": [{"type": "text", "text": "fine"}], "stop_reason": "end_turn",
            "usage": {"input_tokens": 1, "output_tokens": 1},
        })))
        .mount(&server)
        .await;
    let env = env_of(&[("ANTHROPIC_API_KEY", "k"), ("ANTHROPIC_BASE_URL", &server.uri())]);
    let bare = provider::transport("anthropic", &ProviderSettings::default(), &env).unwrap();
    let r = fast(bare, 3).complete(&request("claude-haiku-4-5")).await.unwrap();
    assert_eq!((r.text.as_str(), r.attempts), ("fine", 2));
}

#[tokio::test]
async fn a_400_is_not_retried_and_carries_the_providers_message() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": {
            "message": "Unsupported parameter: 'max_tokens' is not supported with this model.",
            "type": "invalid_request_error", "param": "max_tokens", "code": "unsupported_parameter"}})))
        .mount(&server)
        .await;
    let err = fast(openai_at(&server.uri(), Duration::from_secs(5)), 5)
        .complete(&request("gpt-4o-mini"))
        .await
        .unwrap_err();
    assert_eq!(err.kind, K::Client);
    assert_eq!(err.status, Some(400));
    assert!(
        err.message
            .contains("Unsupported parameter: 'max_tokens' is not supported with this model."),
        "{}",
        err.message
    );
    assert_eq!(requests_to(&server).await, 1);
    let as_cli: promptctl::Error = err.into();
    assert_eq!(as_cli.kind, ErrorKind::Input);
}

#[tokio::test]
async fn ollama_unknown_model_carries_ollamas_message() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(404)
                .set_body_json(json!({"error": "model \"llama9\" not found, try pulling it first"})),
        )
        .mount(&server)
        .await;
    let settings = ProviderSettings {
        base_url: Some(server.uri()),
        ..ProviderSettings::default()
    };
    let err = provider::build("ollama", &settings, &env_of(&[]))
        .unwrap()
        .complete(&request("llama9"))
        .await
        .unwrap_err();
    assert_eq!(err.kind, K::Client);
    assert!(err.message.contains("model \"llama9\" not found"), "{}", err.message);
    assert_eq!(requests_to(&server).await, 1);
}

#[tokio::test]
async fn a_slow_server_times_out_and_is_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(completion("late"))
                .set_delay(Duration::from_secs(3)),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion("on time")))
        .mount(&server)
        .await;
    let p = fast(openai_at(&server.uri(), Duration::from_millis(500)), 3);
    let r = p.complete(&request("gpt-4o-mini")).await.unwrap();
    assert_eq!((r.text.as_str(), r.attempts), ("on time", 2));
}

#[tokio::test]
async fn a_server_that_never_answers_in_time_is_a_timeout_error() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(completion("late"))
                .set_delay(Duration::from_secs(3)),
        )
        .mount(&server)
        .await;
    let err = fast(openai_at(&server.uri(), Duration::from_millis(300)), 2)
        .complete(&request("gpt-4o-mini"))
        .await
        .unwrap_err();
    assert_eq!(err.kind, K::Timeout);
    assert!(err.message.contains("gave up after 2 attempts"), "{}", err.message);
    assert_eq!(requests_to(&server).await, 2);
}

#[tokio::test]
async fn malformed_and_truncated_json_are_bad_responses_not_retried() {
    for body in [
        "<html>502 Bad Gateway</html>",
        "{\"choices\": [{\"message\": {\"content\": \"hel",
        "",
    ] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200).set_body_raw(body, "application/json"))
            .mount(&server)
            .await;
        let err = fast(openai_at(&server.uri(), Duration::from_secs(5)), 3)
            .complete(&request("gpt-4o-mini"))
            .await
            .unwrap_err();
        assert_eq!(err.kind, K::BadResponse, "{body:?}");
        assert!(err.message.contains("not valid JSON"), "{}", err.message);
        assert_eq!(requests_to(&server).await, 1, "{body:?}");
    }
}

#[tokio::test]
async fn empty_choices_is_a_bad_response() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "x", "choices": []})))
        .mount(&server)
        .await;
    let err = fast(openai_at(&server.uri(), Duration::from_secs(5)), 3)
        .complete(&request("gpt-4o-mini"))
        .await
        .unwrap_err();
    assert_eq!(err.kind, K::BadResponse);
    assert!(err.message.contains("empty `choices`"), "{}", err.message);
    assert_eq!(requests_to(&server).await, 1);
}

/// What a raw server does with each connection, in order (the last repeats).
#[derive(Clone, Copy)]
enum Conn {
    /// Read the request, then reset the connection (RST).
    Reset,
    /// Promise a body longer than the one sent, then close.
    CutBody,
    /// Answer with a valid completion.
    Answer,
}

/// A hand-written HTTP/1.1 server on 127.0.0.1 for faults wiremock cannot
/// make. Returns its base URL and a count of the connections it accepted.
async fn raw_server(script: Vec<Conn>) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let n = seen.fetch_add(1, Ordering::SeqCst);
            let what = script[n.min(script.len() - 1)];
            read_request(&mut stream).await;
            match what {
                Conn::Reset => {
                    // SO_LINGER 0 turns the close into a reset; it cannot block here.
                    #[allow(deprecated)]
                    stream.set_linger(Some(Duration::ZERO)).unwrap();
                    drop(stream);
                }
                Conn::CutBody => {
                    let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 500\r\n\r\n";
                    let _ = stream.write_all(head.as_bytes()).await;
                    let _ = stream.write_all(b"{\"choices\": [{\"mess").await;
                    let _ = stream.shutdown().await;
                }
                Conn::Answer => {
                    let body = completion("after the fault").to_string();
                    let reply = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = stream.write_all(reply.as_bytes()).await;
                    let _ = stream.shutdown().await;
                }
            }
        }
    });
    (url, count)
}

/// Read one request: headers, then `content-length` bytes of body.
async fn read_request(stream: &mut tokio::net::TcpStream) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let Ok(n) = stream.read(&mut chunk).await else {
            return;
        };
        if n == 0 {
            return;
        }
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf);
        if let Some(end) = text.find("\r\n\r\n") {
            let len = text[..end]
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                return;
            }
        }
    }
}

#[tokio::test]
async fn a_connection_reset_is_retried() {
    let (url, conns) = raw_server(vec![Conn::Reset, Conn::Answer]).await;
    let r = fast(openai_at(&url, Duration::from_secs(5)), 3)
        .complete(&request("gpt-4o-mini"))
        .await
        .unwrap();
    assert_eq!((r.text.as_str(), r.attempts), ("after the fault", 2));
    assert_eq!(conns.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn resets_every_time_end_in_a_connection_error() {
    let (url, conns) = raw_server(vec![Conn::Reset]).await;
    let err = fast(openai_at(&url, Duration::from_secs(5)), 3)
        .complete(&request("gpt-4o-mini"))
        .await
        .unwrap_err();
    assert_eq!(err.kind, K::Connection);
    assert!(err.message.contains("gave up after 3 attempts"), "{}", err.message);
    assert_eq!(conns.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_body_cut_short_is_a_connection_error_and_retried() {
    let (url, conns) = raw_server(vec![Conn::CutBody, Conn::Answer]).await;
    let r = fast(openai_at(&url, Duration::from_secs(5)), 3)
        .complete(&request("gpt-4o-mini"))
        .await
        .unwrap();
    assert_eq!(r.attempts, 2);
    assert_eq!(conns.load(Ordering::SeqCst), 2);

    let (url, _) = raw_server(vec![Conn::CutBody]).await;
    let err = openai_at(&url, Duration::from_secs(5))
        .complete(&request("gpt-4o-mini"))
        .await
        .unwrap_err();
    assert_eq!(err.kind, K::Connection);
    assert!(err.message.contains("cut short"), "{}", err.message);
}

#[tokio::test]
async fn nothing_listening_is_a_connection_error() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let err = openai_at(&url, Duration::from_secs(5))
        .complete(&request("gpt-4o-mini"))
        .await
        .unwrap_err();
    assert_eq!(err.kind, K::Connection);
    assert!(err.message.contains("cannot connect"), "{}", err.message);
}

// ---------------------------------------------------------------- wiring

#[tokio::test]
async fn build_applies_retries_from_the_settings() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(502))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion("ok")))
        .mount(&server)
        .await;
    let settings = ProviderSettings {
        base_url: Some(format!("{}/v1", server.uri())),
        max_attempts: 2,
        concurrency: Some(1),
        requests_per_minute: Some(6000),
        ..ProviderSettings::default()
    };
    let p = provider::build("openai", &settings, &env_of(&[])).unwrap();
    let r = p.complete(&request("gpt-4o-mini")).await.unwrap();
    assert_eq!(r.attempts, 2);

    let once = ProviderSettings {
        max_attempts: 1,
        ..settings
    };
    server.reset().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    let err = provider::build("openai", &once, &env_of(&[]))
        .unwrap()
        .complete(&request("gpt-4o-mini"))
        .await
        .unwrap_err();
    assert_eq!(err.kind, K::Server);
    assert_eq!(requests_to(&server).await, 1, "max_attempts = 1 never retries");
}
