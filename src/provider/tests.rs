use super::*;

fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: BTreeMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    move |k| map.get(k).cloned()
}

#[test]
fn settings_deserialize_with_defaults_and_durations() {
    let s: ProviderSettings = toml::from_str("").unwrap();
    assert_eq!(s, ProviderSettings::default());
    assert_eq!(s.timeout, Duration::from_secs(60));

    let s: ProviderSettings = toml::from_str(
        r#"
        base_url = "http://127.0.0.1:8000/v1"
        api_key_env = "VLLM_KEY"
        timeout = "1m 30s"
        max_attempts = 3
        max_total_wait = 45
        requests_per_minute = 500
        tokens_per_minute = 200000
        concurrency = 8
        headers = { "HTTP-Referer" = "https://example.com" }
        "#,
    )
    .unwrap();
    assert_eq!(s.timeout, Duration::from_secs(90));
    assert_eq!(s.max_total_wait, Duration::from_secs(45));
    assert_eq!(s.max_attempts, 3);
    assert_eq!(s.concurrency, Some(8));
    assert_eq!(s.headers["HTTP-Referer"], "https://example.com");

    let s: ProviderSettings = toml::from_str("timeout = 0.25").unwrap();
    assert_eq!(s.timeout, Duration::from_millis(250));
    let s: ProviderSettings = toml::from_str("timeout = \"500ms\"").unwrap();
    assert_eq!(s.timeout, Duration::from_millis(500));
}

#[test]
fn settings_reject_unknown_keys_and_bad_durations() {
    let e = toml::from_str::<ProviderSettings>("max_attempt = 3").unwrap_err();
    assert!(e.to_string().contains("max_attempt"), "{e}");
    let e = toml::from_str::<ProviderSettings>("timeout = \"soon\"").unwrap_err();
    assert!(e.to_string().contains("'soon' is not a duration"), "{e}");
    assert!(toml::from_str::<ProviderSettings>("timeout = \"-5s\"").is_err());
    assert!(toml::from_str::<ProviderSettings>("timeout = -1.0").is_err());
}

#[test]
fn settings_that_cannot_work_are_input_errors() {
    let cases = [
        (
            ProviderSettings {
                max_attempts: 0,
                ..Default::default()
            },
            "max_attempts",
        ),
        (
            ProviderSettings {
                timeout: Duration::ZERO,
                ..Default::default()
            },
            "timeout",
        ),
        (
            ProviderSettings {
                concurrency: Some(0),
                ..Default::default()
            },
            "concurrency",
        ),
        (
            ProviderSettings {
                requests_per_minute: Some(0),
                ..Default::default()
            },
            "requests_per_minute",
        ),
        (
            ProviderSettings {
                tokens_per_minute: Some(0),
                ..Default::default()
            },
            "tokens_per_minute",
        ),
        (
            ProviderSettings {
                headers: [("bad header".to_string(), "x".to_string())].into(),
                ..Default::default()
            },
            "headers",
        ),
    ];
    for (s, key) in cases {
        let e = build("echo", &s, &env_of(&[])).err().expect(key);
        assert_eq!(e.kind, ErrorKind::Input);
        assert!(e.message.contains(&format!("[providers.echo] {key}")), "{}", e.message);
    }
}

#[test]
fn unknown_providers_list_the_known_ones() {
    let e = build("opnai", &ProviderSettings::default(), &env_of(&[]))
        .err()
        .unwrap();
    assert_eq!(e.kind, ErrorKind::Input);
    assert_eq!(e.message, "unknown provider 'opnai'");
    assert_eq!(e.hints[0], "did you mean 'openai'?");
    assert!(e.hints[1].contains("anthropic, echo, ollama, openai"), "{:?}", e.hints);
}

#[test]
fn missing_keys_name_the_variable() {
    let none = env_of(&[]);
    let e = build("openai", &ProviderSettings::default(), &none).err().unwrap();
    assert_eq!(e.kind, ErrorKind::Input);
    assert!(e.message.contains("OPENAI_API_KEY"), "{}", e.message);
    assert!(
        e.hints.iter().any(|h| h.contains("export OPENAI_API_KEY=")),
        "{:?}",
        e.hints
    );

    let e = build("anthropic", &ProviderSettings::default(), &none).err().unwrap();
    assert!(e.message.contains("ANTHROPIC_API_KEY"), "{}", e.message);

    let blank = env_of(&[("OPENAI_API_KEY", "  ")]);
    assert!(
        build("openai", &ProviderSettings::default(), &blank).is_err(),
        "a blank key is no key"
    );

    let named = ProviderSettings {
        base_url: Some("http://127.0.0.1:9/v1".into()),
        api_key_env: Some("ROUTER_KEY".into()),
        ..Default::default()
    };
    let e = build("openai", &named, &none).err().unwrap();
    assert!(e.message.contains("ROUTER_KEY"), "{}", e.message);
    let e = build(
        "ollama",
        &ProviderSettings {
            api_key_env: Some("OLLAMA_KEY".into()),
            ..Default::default()
        },
        &none,
    )
    .err()
    .unwrap();
    assert!(e.message.contains("OLLAMA_KEY"), "{}", e.message);
}

#[test]
fn keys_go_only_where_the_user_sent_them() {
    let env = env_of(&[("OPENAI_API_KEY", "sk-test")]);
    let s = ProviderSettings::default();
    let key = |s: &ProviderSettings, env: &dyn Fn(&str) -> Option<String>| {
        let (_, source) = resolve_base("openai", s, env, "OPENAI_BASE_URL", openai::DEFAULT_BASE_URL).unwrap();
        resolve_key("openai", s, env, "OPENAI_API_KEY", source)
            .unwrap()
            .map(|k| k.var)
    };
    assert_eq!(key(&s, &env).as_deref(), Some("OPENAI_API_KEY"));

    // A local server named in the repository's config gets no key...
    let local = ProviderSettings {
        base_url: Some("http://127.0.0.1:8000/v1".into()),
        ..Default::default()
    };
    assert_eq!(key(&local, &env), None);
    assert!(build("openai", &local, &env_of(&[])).is_ok(), "and needs none");
    // ...unless the config names the variable.
    let named = ProviderSettings {
        api_key_env: Some("OPENAI_API_KEY".into()),
        ..local.clone()
    };
    assert_eq!(key(&named, &env).as_deref(), Some("OPENAI_API_KEY"));
    // A base URL from the user's environment gets the key if it is set.
    let routed = env_of(&[
        ("OPENAI_API_KEY", "sk-or"),
        ("OPENAI_BASE_URL", "https://openrouter.ai/api/v1"),
    ]);
    assert_eq!(key(&s, &routed).as_deref(), Some("OPENAI_API_KEY"));
    let routed_no_key = env_of(&[("OPENAI_BASE_URL", "http://127.0.0.1:8000/v1")]);
    assert_eq!(key(&s, &routed_no_key), None);
    // Spelling out the default URL is still the default, key required.
    let explicit = ProviderSettings {
        base_url: Some("https://api.openai.com/v1/".into()),
        ..Default::default()
    };
    assert!(build("openai", &explicit, &env_of(&[])).is_err());
}

#[test]
fn bad_base_urls_are_input_errors() {
    let s = ProviderSettings {
        base_url: Some("not a url".into()),
        ..Default::default()
    };
    let e = build("openai", &s, &env_of(&[])).err().unwrap();
    assert_eq!(e.kind, ErrorKind::Input);
    assert!(e.message.contains("base_url"), "{}", e.message);
    let e = build(
        "anthropic",
        &ProviderSettings::default(),
        &env_of(&[("ANTHROPIC_BASE_URL", "file:///x")]),
    )
    .err()
    .unwrap();
    assert!(e.message.contains("ANTHROPIC_BASE_URL"), "{}", e.message);
}

#[test]
fn echo_and_ollama_need_no_key() {
    let none = env_of(&[]);
    assert_eq!(build("echo", &ProviderSettings::default(), &none).unwrap().id(), "echo");
    assert_eq!(
        build("ollama", &ProviderSettings::default(), &none).unwrap().id(),
        "ollama"
    );
}

#[test]
fn provider_errors_map_to_exit_codes() {
    use ProviderErrorKind as K;
    let exit = |kind: K, status: Option<u16>| {
        let e: Error = ProviderError {
            kind,
            message: "m".into(),
            status,
            retry_after: None,
        }
        .into();
        (e.kind.exit_code(), e.hints)
    };
    for k in [K::RateLimited, K::Server, K::Timeout, K::Connection, K::BadResponse] {
        assert_eq!(exit(k, None).0, 3, "{k:?}");
    }
    for k in [K::MissingKey, K::Client, K::Offline] {
        assert_eq!(exit(k, None).0, 2, "{k:?}");
    }
    assert!(exit(K::Client, Some(401)).1[0].contains("API key"));
    assert!(exit(K::RateLimited, None).1[0].contains("requests_per_minute"));
}

#[test]
fn finish_reasons_serialize_as_snake_case_strings() {
    let all = [
        (FinishReason::Stop, "\"stop\""),
        (FinishReason::Length, "\"length\""),
        (FinishReason::ContentFilter, "\"content_filter\""),
        (FinishReason::ToolCalls, "\"tool_calls\""),
        (FinishReason::Other("pause_turn".into()), "\"pause_turn\""),
    ];
    for (reason, text) in all {
        assert_eq!(serde_json::to_string(&reason).unwrap(), text);
        assert_eq!(serde_json::from_str::<FinishReason>(text).unwrap(), reason);
    }
}

#[test]
fn retryable_kinds() {
    use ProviderErrorKind as K;
    let r = |k| ProviderError::new(k, "").retryable();
    assert!(r(K::RateLimited) && r(K::Server) && r(K::Timeout) && r(K::Connection));
    assert!(!r(K::BadResponse) && !r(K::Client) && !r(K::MissingKey) && !r(K::Offline));
}
