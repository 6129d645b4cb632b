//! `promptctl eval --base`: comparing prompt versions on real git repositories
//! against a local mock of an OpenAI-compatible server.

use wiremock::matchers::{body_string_contains, method};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::env::*;

const PROMPT_V1: &str = "---\nmodel: openai:gpt-4o-mini\nconfig:\n  max_tokens: 200\n---\nsystem:\nAnswer the customer briefly.\n\nuser:\n{{ message }}\n";
const PROMPT_V2: &str = "---\nmodel: openai:gpt-4o-mini\nconfig:\n  max_tokens: 200\n---\nsystem:\nAnswer the customer in full detail.\n\nuser:\n{{ message }}\n";

fn answer(text: &str, out_tokens: u64) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(serde_json::json!({
        "choices": [{"message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 20, "completion_tokens": out_tokens},
    }))
}

/// A mock that answers at length when the request carries the new wording.
fn server(rt: &tokio::runtime::Runtime) -> MockServer {
    rt.block_on(async {
        let s = MockServer::start().await;
        Mock::given(method("POST"))
            .and(body_string_contains("in full detail"))
            .respond_with(answer("A long answer with every detail spelled out.", 60))
            .with_priority(1)
            .mount(&s)
            .await;
        Mock::given(method("POST"))
            .respond_with(answer("A short answer.", 20))
            .with_priority(2)
            .mount(&s)
            .await;
        s
    })
}

/// What the server received, a line per request, for assertion messages.
fn received(rt: &tokio::runtime::Runtime, server: &MockServer) -> Vec<String> {
    let requests = rt.block_on(server.received_requests()).unwrap();
    requests
        .iter()
        .map(|r| {
            let body = String::from_utf8_lossy(&r.body);
            format!(
                "{} {} {}",
                r.method,
                r.url.path(),
                body.chars().take(160).collect::<String>()
            )
        })
        .collect()
}

/// A repository with one prompt and its suite committed at v1; returns the base commit.
fn repo(env: &TestEnv, uri: &str, gates: &str) -> String {
    env.git_init();
    env.write(
        "promptctl.toml",
        &format!(
            "[traffic.requests_per_day]\n\"support/reply\" = 1000\n\n[providers.openai]\nbase_url = \"{uri}/v1\"\n\n[eval.gates]\n{gates}\n"
        ),
    );
    env.write("prompts/support/reply.prompt", PROMPT_V1);
    env.write(
        "evals/support/reply.yaml",
        "prompt: support/reply\ncases:\n  - name: billing\n    vars: {message: Where is my invoice?}\n    assert:\n      - {type: contains, value: answer}\n  - name: login\n    vars: {message: I cannot log in.}\n",
    );
    env.write(".gitignore", ".promptctl/\n");
    env.commit_all("v1")
}

fn compare(env: &TestEnv, args: &[&str]) -> std::process::Output {
    env.cmd()
        .env("OPENAI_API_KEY", "test-key")
        .args(["eval", "--base", "HEAD"])
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn longer_answers_show_in_the_deltas_and_break_the_output_gate() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = server(&rt);
    let env = TestEnv::new();
    repo(
        &env,
        &server.uri(),
        "max_output_tokens_increase_pct = 50\nmin_pass_rate = 1.0",
    );
    env.write("prompts/support/reply.prompt", PROMPT_V2);

    let out = compare(&env, &["--format", "json"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let j = json(&out);
    let c = &j["comparisons"][0];
    assert_eq!(c["prompt"], "support/reply");
    assert_eq!(c["target"], "openai:gpt-4o-mini");
    let d = |m: &str| {
        c["deltas"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["metric"] == m)
            .unwrap()
            .clone()
    };
    assert_eq!(d("output_tokens_mean")["base"], 20.0);
    assert_eq!(d("output_tokens_mean")["head"], 60.0);
    assert_eq!(d("output_tokens_mean")["pct"], 200.0);
    // gpt-4o-mini: $0.15/M in, $0.60/M out → 20 in + 20 out vs 20 in + 60 out.
    let base_cost = d("cost_per_call_usd")["base"].as_f64().unwrap();
    let head_cost = d("cost_per_call_usd")["head"].as_f64().unwrap();
    assert!(
        (base_cost - (20.0 * 0.15 + 20.0 * 0.60) / 1e6).abs() < 1e-12,
        "{base_cost}"
    );
    assert!(
        (head_cost - (20.0 * 0.15 + 60.0 * 0.60) / 1e6).abs() < 1e-12,
        "{head_cost}"
    );
    let monthly = d("monthly_usd");
    assert!((monthly["head"].as_f64().unwrap() - head_cost * 1000.0 * 30.0).abs() < 1e-9);
    let gates = c["gates"].as_array().unwrap();
    let out_gate = gates
        .iter()
        .find(|g| g["gate"] == "max_output_tokens_increase_pct")
        .unwrap();
    assert_eq!(out_gate["passed"], false);
    assert_eq!(out_gate["measured"], 200.0);
    assert_eq!(out_gate["limit"], 50.0);
    assert_eq!(j["passed"], false);

    let text = compare(&env, &[]);
    assert_eq!(code(&text), 1);
    let err = stderr(&text);
    assert!(
        err.contains("max_output_tokens_increase_pct: +200.0% breaks limit +50.0%"),
        "{err}"
    );
    let s = stdout(&text);
    assert!(s.starts_with("HEAD → worktree: FAIL: 1 gate broken\n"), "{s}");
    assert!(s.contains("output tokens (mean)"), "{s}");

    let md = compare(&env, &["--format", "markdown"]);
    let m = stdout(&md);
    assert!(m.starts_with("### promptctl eval: FAIL: 1 gate broken"), "{m}");
    assert!(
        m.contains("| output tokens (mean) | 20.0 | 60.0 | +40.0 | +200.0% |"),
        "{m}"
    );
}

#[test]
fn a_change_within_the_gates_passes_and_unchanged_suites_are_skipped() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = server(&rt);
    let env = TestEnv::new();
    repo(&env, &server.uri(), "max_output_tokens_increase_pct = 50");
    // Unchanged: nothing runs.
    let out = compare(&env, &["--format", "json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let j = json(&out);
    assert_eq!(j["comparisons"].as_array().unwrap().len(), 0);
    assert_eq!(j["unchanged"][0], "evals/support/reply.yaml");
    assert_eq!(received(&rt, &server), Vec::<String>::new());

    // A wording change that keeps answers the same length.
    env.write(
        "prompts/support/reply.prompt",
        &PROMPT_V1.replace("briefly", "briefly and kindly"),
    );
    let out = compare(&env, &["--format", "json"]);
    let seen = received(&rt, &server);
    assert_eq!(code(&out), 0, "{}\nrequests: {seen:#?}", stderr(&out));
    let j = json(&out);
    let c = &j["comparisons"][0];
    assert_eq!(c["gates"][0]["passed"], true, "{c:#}");
    assert_eq!(c["gates"][0]["measured"], 0.0, "{c:#}");
    assert_eq!(j["passed"], true);
    // Two cases on each side.
    assert_eq!(seen.len(), 4, "{}\nrequests: {seen:#?}", stderr(&out));
}

#[test]
fn a_failing_case_is_listed_as_flipped_and_breaks_the_pass_rate_gates() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = server(&rt);
    let env = TestEnv::new();
    repo(&env, &server.uri(), "max_pass_rate_drop_pp = 10\nmin_pass_rate = 0.9");
    env.write(
        "evals/support/reply.yaml",
        &env.read("evals/support/reply.yaml").replace(
            "assert:\n      - {type: contains, value: answer}",
            "assert:\n      - {type: contains, value: short}",
        ),
    );
    env.commit_all("assert short answers");
    env.write("prompts/support/reply.prompt", PROMPT_V2);
    let out = compare(&env, &["--format", "json"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let j = json(&out);
    let c = &j["comparisons"][0];
    assert_eq!(c["flipped"][0]["case"], "billing");
    assert_eq!(c["flipped"][0]["base"], "pass");
    assert_eq!(c["flipped"][0]["head"], "fail");
    assert!(!c["flipped"][0]["reasons"].as_array().unwrap().is_empty());
    let failed: Vec<&str> = c["gates"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["passed"] == false)
        .map(|g| g["gate"].as_str().unwrap())
        .collect();
    assert_eq!(failed, ["min_pass_rate", "max_pass_rate_drop_pp"]);
}

#[test]
fn a_prompt_absent_at_the_base_gets_a_head_only_report() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = server(&rt);
    let env = TestEnv::new();
    let base = repo(&env, &server.uri(), "");
    env.write("prompts/support/new.prompt", PROMPT_V1);
    env.write(
        "evals/support/new.yaml",
        "prompt: support/new\ncases:\n  - name: one\n    vars: {message: hi}\n",
    );
    let out = env
        .cmd()
        .env("OPENAI_API_KEY", "k")
        .args(["eval", "--base", &base, "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let j = json(&out);
    let c = &j["comparisons"][0];
    assert_eq!(c["prompt"], "support/new");
    assert!(c["base"].is_null());
    assert_eq!(
        c["notes"][0],
        "support/new does not exist at the base revision: head-only report"
    );
}

#[test]
fn a_provider_failing_on_one_side_exits_3_and_keeps_the_other_side() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(async {
        let s = MockServer::start().await;
        Mock::given(method("POST"))
            .and(body_string_contains("in full detail"))
            .respond_with(ResponseTemplate::new(503))
            .with_priority(1)
            .mount(&s)
            .await;
        Mock::given(method("POST"))
            .respond_with(answer("A short answer.", 20))
            .with_priority(2)
            .mount(&s)
            .await;
        s
    });
    let env = TestEnv::new();
    repo(&env, &server.uri(), "");
    let cfg = env.read("promptctl.toml");
    env.write("promptctl.toml", &cfg.replace("/v1\"\n", "/v1\"\nmax_attempts = 1\n"));
    env.commit_all("no retries");
    env.write("prompts/support/reply.prompt", PROMPT_V2);
    let out = compare(&env, &["--format", "json"]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    let j = json(&out);
    let c = &j["comparisons"][0];
    assert_eq!(c["base"]["output_tokens_mean"], 20.0);
    assert!(c["head"]["provider_error"].is_string(), "{c}");
    assert!(stderr(&out).contains("provider failed on one side of the comparison: support/reply"));
}

#[test]
fn a_renamed_prompt_is_followed_to_its_base_name() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = server(&rt);
    let env = TestEnv::new();
    repo(&env, &server.uri(), "");
    env.git(&["mv", "prompts/support/reply.prompt", "prompts/support/answer.prompt"]);
    env.write("prompts/support/answer.prompt", PROMPT_V2);
    env.write(
        "evals/support/reply.yaml",
        &env.read("evals/support/reply.yaml")
            .replace("prompt: support/reply", "prompt: support/answer"),
    );
    let out = compare(&env, &["--format", "json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let j = json(&out);
    let c = &j["comparisons"][0];
    assert_eq!(c["prompt"], "support/answer");
    assert_eq!(c["base_prompt"], "support/reply");
    assert_eq!(c["base"]["output_tokens_mean"], 20.0);
    assert_eq!(c["head"]["output_tokens_mean"], 60.0);
    let text = stdout(&compare(&env, &[]));
    assert!(
        text.contains("support/answer (was support/reply) × openai:gpt-4o-mini"),
        "{text}"
    );
}

#[test]
fn a_suite_gates_key_overrides_the_project_gate() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = server(&rt);
    let env = TestEnv::new();
    repo(&env, &server.uri(), "max_output_tokens_increase_pct = 50");
    env.write(
        "evals/support/reply.yaml",
        &format!(
            "gates:\n  max_output_tokens_increase_pct: 300\n{}",
            env.read("evals/support/reply.yaml")
        ),
    );
    env.commit_all("looser gate for this suite");
    env.write("prompts/support/reply.prompt", PROMPT_V2);
    let out = compare(&env, &["--format", "json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let g = &json(&out)["comparisons"][0]["gates"][0];
    assert_eq!(g["limit"], 300.0);
    assert_eq!(g["passed"], true);
}

#[test]
fn eval_note_round_trips_merges_and_shows_in_history() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = server(&rt);
    let env = TestEnv::new();
    repo(&env, &server.uri(), "");
    // Another prompt's entry already on the commit: kept.
    env.git(&[
        "notes",
        "--ref=promptctl",
        "add",
        "-m",
        r#"{"schema":1,"prompts":{"other/p":{"content_hash":"h","runs":[{"run_id":"x"}]}}}"#,
        "HEAD",
    ]);
    let out = env
        .cmd()
        .env("OPENAI_API_KEY", "k")
        .args(["eval", "--note"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stderr(&out).contains("Noted support/reply on "), "{}", stderr(&out));
    let note: serde_json::Value =
        serde_json::from_str(&env.git(&["notes", "--ref=promptctl", "show", "HEAD"])).unwrap();
    assert_eq!(note["prompts"]["other/p"]["runs"][0]["run_id"], "x");
    let entry = &note["prompts"]["support/reply"];
    assert_eq!(
        entry["content_hash"],
        promptctl::prompt::content_hash(PROMPT_V1.as_bytes())
    );
    let run = &entry["runs"][0];
    assert_eq!(run["provider"], "openai:gpt-4o-mini");
    assert_eq!(run["pass_rate"], 1.0);
    assert_eq!(run["cases"], 2);
    assert_eq!(run["mean_output_tokens"], 20.0);
    assert!(run["run_id"].is_string() && run["date"].is_string());

    // No recordings in this repo, so the offline eval gate cannot run: force it.
    let out = env.run(&[
        "release",
        "support/reply",
        "--execute",
        "--force",
        "--reason",
        "evaluated live above",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let h = stdout(&env.run(&["history", "support/reply"]));
    assert!(
        h.contains("eval: openai:gpt-4o-mini, 100.0% of 2 cases pass, mean in 20 / out 20 tokens"),
        "{h}"
    );
}

#[test]
fn eval_base_note_writes_the_head_side_on_the_head_commit() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = server(&rt);
    let env = TestEnv::new();
    let base = repo(&env, &server.uri(), "");
    env.write("prompts/support/reply.prompt", PROMPT_V2);
    let head = env.commit_all("v2");
    let out = env
        .cmd()
        .env("OPENAI_API_KEY", "k")
        .args(["eval", "--base", &base, "--head", &head, "--note"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("Noted support/reply on "),
        "{}{}",
        stderr(&out),
        stdout(&out)
    );
    let note: serde_json::Value = serde_json::from_str(&env.git(&["notes", "--ref=promptctl", "show", &head])).unwrap();
    let entry = &note["prompts"]["support/reply"];
    assert_eq!(
        entry["content_hash"],
        promptctl::prompt::content_hash(PROMPT_V2.as_bytes())
    );
    assert_eq!(entry["runs"][0]["mean_output_tokens"], 60.0);
    assert_eq!(env.git(&["notes", "--ref=promptctl", "list"]).lines().count(), 1);
}

#[test]
fn the_model_matrix_names_the_cheapest_passing_model() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(async {
        let s = MockServer::start().await;
        // The cheapest model gives a wrong answer; the others a right one.
        Mock::given(method("POST"))
            .and(body_string_contains("gpt-4.1-nano"))
            .respond_with(answer("No idea.", 5))
            .with_priority(1)
            .mount(&s)
            .await;
        Mock::given(method("POST"))
            .respond_with(answer("Here is the answer.", 20))
            .with_priority(2)
            .mount(&s)
            .await;
        s
    });
    let env = TestEnv::new();
    repo(&env, &server.uri(), "");
    env.write(
        "prompts/support/reply.prompt",
        &PROMPT_V1.replace("openai:gpt-4o-mini", "openai:gpt-4o"),
    );
    let out = env
        .cmd()
        .env("OPENAI_API_KEY", "k")
        .args([
            "eval",
            "--models",
            "openai:gpt-4o,openai:gpt-4o-mini,openai:gpt-4.1-nano",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let j = json(&out);
    let m = &j[0];
    assert_eq!(m["current_model"], "openai:gpt-4o");
    let rows = m["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    let nano = rows.iter().find(|r| r["model"] == "openai:gpt-4.1-nano").unwrap();
    assert_eq!(nano["passed"], false);
    assert_eq!(m["cheapest_passing"], "openai:gpt-4o-mini");
    // 20 in + 20 out per call: gpt-4o $2.50/$10 vs gpt-4o-mini $0.15/$0.60 per M.
    let saving = m["saving_per_1k_usd"].as_f64().unwrap();
    let expect = ((20.0 * 2.5 + 20.0 * 10.0) - (20.0 * 0.15 + 20.0 * 0.60)) / 1000.0;
    assert!((saving - expect).abs() < 1e-9, "{saving} vs {expect}");
    assert!((m["saving_monthly_usd"].as_f64().unwrap() - expect / 1000.0 * 1000.0 * 30.0).abs() < 1e-9);

    let text = stdout(
        &env.cmd()
            .env("OPENAI_API_KEY", "k")
            .args([
                "eval",
                "--models",
                "openai:gpt-4o,openai:gpt-4o-mini,openai:gpt-4.1-nano",
            ])
            .output()
            .unwrap(),
    );
    assert!(
        text.contains("cheapest model meeting the gate: openai:gpt-4o-mini, saves $0.2350 per 1k calls"),
        "{text}"
    );
    assert!(text.contains("openai:gpt-4o (current)"), "{text}");
}

#[test]
fn estimate_calls_nothing_and_its_input_tokens_match_a_measured_run() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = server(&rt);
    let env = TestEnv::new();
    repo(&env, &server.uri(), "");
    let out = env
        .cmd()
        .env("OPENAI_API_KEY", "k")
        .args(["eval", "--estimate", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(rt.block_on(server.received_requests()).unwrap().len(), 0);
    let e = json(&out);
    let row = &e["rows"][0];
    assert_eq!(e["requests"], 2);
    assert_eq!(row["output_from_cap"], 2);
    assert_eq!(row["output_tokens"], 400, "no recording: the 200-token cap per case");
    assert_eq!(row["output_exact"], false);

    // The echo provider's usage is counted the same way a measured run counts it.
    let measured = json(&env.run(&["eval", "--provider", "echo", "--format", "json"]));
    assert_eq!(
        row["input_tokens_mean"],
        measured["results"][0]["stats"]["input_tokens"]["mean"]
    );
    let text = stdout(
        &env.cmd()
            .env("OPENAI_API_KEY", "k")
            .args(["eval", "--estimate"])
            .output()
            .unwrap(),
    );
    assert!(text.contains("2 requests, "), "{text}");
    assert!(text.contains("no provider was called"), "{text}");
    assert!(text.contains("else the output cap (max_tokens)"), "{text}");
}

#[test]
fn estimate_takes_output_tokens_from_the_recordings() {
    let env = TestEnv::with_example();
    let out = env.run(&["eval", "--estimate", "--offline", "--format", "json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let e = json(&out);
    assert_eq!(e["requests"], 11);
    for r in e["rows"].as_array().unwrap() {
        assert_eq!(r["output_from_cap"], 0, "{r}");
        assert_eq!(r["output_exact"], true, "{r}");
    }
}

#[test]
fn without_gates_the_verdict_says_none_are_set() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = server(&rt);
    let env = TestEnv::new();
    repo(&env, &server.uri(), "");
    env.write("prompts/support/reply.prompt", PROMPT_V2);
    let out = compare(&env, &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with("HEAD → worktree: no gates set ([eval.gates] in promptctl.toml)\n"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn estimate_with_base_prices_the_change_per_1k_calls() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = server(&rt);
    let env = TestEnv::new();
    repo(&env, &server.uri(), "");
    // A longer system section: more input tokens per call at the head.
    env.write(
        "prompts/support/reply.prompt",
        &PROMPT_V1.replace("briefly.", "briefly, politely, and always in plain English."),
    );
    let out = env
        .cmd()
        .env("OPENAI_API_KEY", "k")
        .args(["eval", "--estimate", "--base", "HEAD", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(rt.block_on(server.received_requests()).unwrap().len(), 0);
    let row = &json(&out)["rows"][0];
    let base = row["base_cost_per_1k_usd"].as_f64().unwrap();
    let head = row["cost_per_1k_usd"].as_f64().unwrap();
    let delta = row["cost_per_1k_delta_usd"].as_f64().unwrap();
    assert!(delta > 0.0, "{row}");
    assert!((head - base - delta).abs() < 1e-12);
}

#[test]
fn models_without_a_list_take_the_suites_models_key() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = server(&rt);
    let env = TestEnv::new();
    repo(&env, &server.uri(), "");
    let out = env
        .cmd()
        .env("OPENAI_API_KEY", "k")
        .args(["eval", "--models"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("--models without a list needs suites with a `models:` key"));
    env.write(
        "evals/support/reply.yaml",
        &format!(
            "models: [openai:gpt-4o, openai:gpt-4o-mini]\n{}",
            env.read("evals/support/reply.yaml")
        ),
    );
    let out = env
        .cmd()
        .env("OPENAI_API_KEY", "k")
        .args(["eval", "--models", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let m = &json(&out)[0];
    assert_eq!(m["rows"].as_array().unwrap().len(), 2);
    assert_eq!(m["cheapest_passing"], "openai:gpt-4o-mini");
}

#[test]
fn a_suite_new_since_the_base_runs_its_cases_on_both_sides_and_says_so() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = server(&rt);
    let env = TestEnv::new();
    repo(&env, &server.uri(), "max_output_tokens_increase_pct = 50");
    // A second prompt, committed without a suite; the suite comes with the change.
    env.write(
        "prompts/faq.prompt",
        "---\nmodel: openai:gpt-4o-mini\n---\nuser:\nAnswer: {{ q }}\n",
    );
    env.commit_all("faq without a suite");
    env.write(
        "prompts/faq.prompt",
        "---\nmodel: openai:gpt-4o-mini\n---\nuser:\nAnswer briefly: {{ q }}\n",
    );
    env.write(
        "evals/faq.yaml",
        "prompt: faq\ncases:\n  - vars: {q: hours}\n  - vars: {q: refunds}\n",
    );
    let out = compare(&env, &["--format", "json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let j = json(&out);
    let c = &j["comparisons"][0];
    assert_eq!(c["suite"], "evals/faq.yaml");
    assert_eq!(c["base"]["cases"], 2, "{c}");
    assert_eq!(c["head"]["cases"], 2);
    let notes: Vec<&str> = c["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    assert!(
        notes.contains(&"evals/faq.yaml does not exist at HEAD: both sides ran its current cases"),
        "{notes:?}"
    );
    // Two cases on each side.
    let seen = received(&rt, &server);
    assert_eq!(seen.len(), 4, "{}\nrequests: {seen:#?}", stderr(&out));
}

#[test]
fn estimate_bounds_the_requests_the_structured_output_guard_can_add() {
    let env = TestEnv::with_example();
    let out = env
        .cmd()
        .args(["eval", "--estimate", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let j = json(&out);
    let rows = j["rows"].as_array().unwrap();
    // support/triage answers JSON: each case may take the two corrective
    // retries of promptctl.toml's default guard_retries (no fallback model).
    let triage = rows.iter().find(|r| r["prompt"] == "support/triage").unwrap();
    let n = triage["requests"].as_u64().unwrap();
    assert!(n > 0);
    assert_eq!(triage["requests_max"], n * 3, "{triage}");
    // A prompt answering text has no guard.
    let text = rows.iter().find(|r| r["prompt"] == "rag/answer").unwrap();
    assert_eq!(text["requests_max"], text["requests"], "{text}");
    let total: u64 = rows.iter().map(|r| r["requests_max"].as_u64().unwrap()).sum();
    assert_eq!(j["requests_max"], total);
    let out = env.cmd().args(["eval", "--estimate"]).output().unwrap();
    assert!(
        stdout(&out).contains(&format!(
            "up to {total} requests if answers fail the structured-output guard"
        )),
        "{}",
        stdout(&out)
    );
}

/// The example with the triage prompt reworded, compared with the offline
/// echo provider: every figure is deterministic (echo answers in no time).
fn example_compare(format: &str) -> String {
    let env = TestEnv::with_example();
    env.git_init();
    env.commit_all("example");
    let triage = env.read("prompts/support/triage.prompt").replace(
        "Classify each ticket.",
        "Classify each ticket, and explain the reasoning behind the category in full.",
    );
    env.write("prompts/support/triage.prompt", &triage);
    let out = env
        .cmd()
        .args(["eval", "--base", "HEAD", "--provider", "echo", "--format", format])
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    stdout(&out)
}

#[test]
fn compare_text_and_markdown_of_the_example() {
    insta::assert_snapshot!("compare_text", example_compare("text"));
    insta::assert_snapshot!("compare_markdown", example_compare("markdown"));
}
