//! `promptctl eval` and `promptctl cache` as a user runs them.

use serde_json::Value;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::env::*;

/// The example repository with its recordings, offline.
#[test]
fn offline_eval_of_the_example_repository_passes() {
    let env = TestEnv::with_example();
    let out = env.run(&["eval", "--offline"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    insta::assert_snapshot!("eval_offline_example", stdout(&out));
    let err = stderr(&out);
    assert!(err.contains("    Finished 11 cases in "), "{err}");
    assert!(err.contains("     Results .promptctl/runs/"), "{err}");
    let runs: Vec<_> = std::fs::read_dir(env.path().join(".promptctl/runs")).unwrap().collect();
    assert_eq!(runs.len(), 1);
}

#[test]
fn offline_eval_as_json_parses_back() {
    let env = TestEnv::with_example();
    let out = env.run(&["eval", "--offline", "--format", "json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let j = json(&out);
    assert_eq!(j["mode"], "offline");
    assert_eq!(j["totals"]["cases"], 11);
    assert_eq!(j["totals"]["passed"], 11);
    assert_eq!(j["totals"]["spent_usd"], 0.0);
    assert_eq!(
        j["totals"]["tokens_exact"], false,
        "hand-written answers: tokens counted"
    );
    let results = j["results"].as_array().unwrap();
    assert_eq!(results.len(), 4);
    let triage = results
        .iter()
        .find(|r| r["suite"] == "evals/support/triage.yaml")
        .unwrap();
    assert_eq!(triage["target"], "openai:gpt-4o-mini");
    assert_eq!(triage["replayed"], true);
    assert_eq!(triage["passed"], true);
    assert_eq!(triage["threshold"], 0.9);
    let s = &triage["stats"];
    assert_eq!(s["pass_rate"], 1.0);
    assert_eq!(s["calls"], 5);
    assert_eq!(s["replayed"], 5);
    assert_eq!(s["guard"]["corrected"], 1);
    assert_eq!(s["guard"]["corrections"], 1);
    assert_eq!(s["truncated_share"], 0.0);
    assert!(s["latency_ms"].is_null(), "hand-written answers were not timed");
    assert!(s["input_tokens"]["p95"].as_u64().unwrap() >= s["input_tokens"]["p50"].as_u64().unwrap());
    assert!(s["cost_per_call_usd"].as_f64().unwrap() > 0.0);
    let cases: Vec<&str> = triage["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["case"].as_str().unwrap())
        .collect();
    assert_eq!(
        cases,
        [
            "double charge",
            "outage for an enterprise customer",
            "feature request",
            "password reset loop"
        ]
    );
    let run_file = env.path().join(j["run_file"].as_str().unwrap());
    let lines = std::fs::read_to_string(run_file).unwrap();
    assert_eq!(lines.lines().count(), 1 + 11 + 1, "header, a line per case, end");
    let first: Value = serde_json::from_str(lines.lines().nth(1).unwrap()).unwrap();
    assert_eq!(first["type"], "case");
}

#[test]
fn junit_has_a_testcase_per_case() {
    let env = TestEnv::with_example();
    let out = env.run(&["eval", "--offline", "--format", "junit", "support/triage"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let x = stdout(&out);
    assert!(
        x.starts_with(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"promptctl eval\" tests=\"4\" failures=\"0\""
        ),
        "{x}"
    );
    assert!(
        x.contains("<testsuite name=\"evals/support/triage.yaml × openai:gpt-4o-mini\" tests=\"4\""),
        "{x}"
    );
    assert_eq!(x.matches("<testcase ").count(), 4);
    assert!(x.contains("name=\"feature request\"/>"), "{x}");
}

#[test]
fn a_changed_prompt_no_longer_replays_and_says_which_case() {
    let env = TestEnv::with_example();
    let p = env
        .read("prompts/support/triage.prompt")
        .replace("Classify each ticket.", "Classify the ticket.");
    env.write("prompts/support/triage.prompt", &p);
    let out = env.run(&["eval", "--offline", "evals/support/triage.yaml"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("error: evals/support/triage.yaml × openai:gpt-4o-mini: 4 cases could not run:"),
        "{err}"
    );
    assert!(
        err.contains("  - 'double charge': not recorded: the system message changed since the recording"),
        "{err}"
    );
    assert!(
        err.contains("hint: a recording answers only the exact request it was made for"),
        "{err}"
    );
    // The report is still printed.
    assert!(stdout(&out).contains("errors   not recorded: 4"), "{}", stdout(&out));
}

#[test]
fn a_missing_key_is_exit_2_before_any_request() {
    let env = TestEnv::with_example();
    let out = env.run(&["eval", "support/triage"]);
    assert_eq!(code(&out), 2);
    let err = stderr(&out);
    assert!(
        err.contains("error: OPENAI_API_KEY is not set: the openai provider needs an API key"),
        "{err}"
    );
    assert!(err.contains("hint: export OPENAI_API_KEY=<your key>"), "{err}");
    assert!(!env.path().join(".promptctl/runs").exists());
}

#[test]
fn a_failing_suite_is_exit_1() {
    let env = TestEnv::with_example();
    let out = env.run(&["eval", "--provider", "echo", "evals/rag/answer.yaml"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("evals/rag/answer.yaml  rag/answer → echo\n  FAIL     0/3 passed, 0.0% (threshold 100.0%)"),
        "{text}"
    );
    assert!(text.contains("  failed   ✗ storage on pro\n"), "{text}");
    assert!(
        text.contains("icontains: output does not contain \"50 GB\" (ignoring case)"),
        "{text}"
    );

    let out = env.run(&[
        "eval",
        "--provider",
        "echo",
        "--format",
        "junit",
        "evals/rag/answer.yaml",
    ]);
    assert_eq!(code(&out), 1);
    let x = stdout(&out);
    assert!(x.contains("tests=\"3\" failures=\"3\" errors=\"0\""), "{x}");
    assert!(x.contains("<property name=\"gate\" value=\"fail\"/>"), "{x}");
    assert!(
        x.contains("<testcase classname=\"evals/rag/answer.yaml\" name=\"storage on pro\">\n      <failure message=\"cites-sources: output cites no source"),
        "{x}"
    );
    assert!(
        x.contains("&#10;icontains: output does not contain &quot;50 GB&quot; (ignoring case)</failure>"),
        "{x}"
    );
}

/// Echo answers in no time: its latency is "not measured", in the report and
/// in a recording, never a 0 or 1 ms that depends on the machine's load.
#[test]
fn echo_answers_are_not_timed() {
    let env = TestEnv::with_example();
    let args = ["eval", "--provider", "echo", "evals/rag/answer.yaml"];
    let out = env.run(&args);
    assert!(stdout(&out).contains("  latency  not measured\n"), "{}", stdout(&out));
    let out = env.run(&[&args[..], &["--format", "json", "--record"]].concat());
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let j = json(&out);
    let stats = &j["results"][0]["stats"];
    assert_eq!(stats["calls"], 3, "{j}");
    assert!(stats["latency_ms"].is_null(), "{stats}");
    let recording = env.read("evals/rag/answer.responses.yaml");
    assert!(recording.contains("storage on pro"), "{recording}");
    assert!(!recording.contains("latency_ms"), "{recording}");
}

/// A latency assertion cannot pass on an answer that was not timed: it
/// fails and says why, as it does on a hand-written recording.
#[test]
fn a_latency_assertion_on_echo_fails_as_not_measured() {
    let env = TestEnv::new();
    env.write("promptctl.toml", "");
    env.write("prompts/hello.prompt", "user:\nSay {{ word }}.\n");
    env.write(
        "evals/hello.yaml",
        "prompt: hello\ncases:\n  - name: quick\n    vars: {word: hi}\n    assert:\n      - {type: contains, value: hi}\n      - {type: max-latency-ms, value: 60000}\n",
    );
    let out = env.run(&["eval", "--provider", "echo"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("✗ quick"), "{text}");
    assert!(
        text.contains("max-latency-ms: no latency was measured for this response"),
        "{text}"
    );
}

#[test]
fn an_unreachable_provider_is_exit_3() {
    let env = TestEnv::with_example();
    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cfg = env.read("promptctl.toml");
    env.write(
        "promptctl.toml",
        &format!("{cfg}\n[providers.openai]\nbase_url = \"http://127.0.0.1:{port}/v1\"\nmax_attempts = 1\n"),
    );
    let out = env.run(&["eval", "support/chat"]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(
            "error: provider unreachable: openai:gpt-4o-mini: 2 cases failed after retries (connection error: 2)"
        ),
        "{err}"
    );
    assert!(err.contains("--resume"), "{err}");
}

#[test]
fn the_cache_serves_a_second_run_and_cache_clear_empties_it() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(async {
        let s = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
                "choices": [{"message": {"role": "assistant", "content": "Use Settings > Billing."}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 90, "completion_tokens": 7},
            })))
            .mount(&s)
            .await;
        s
    });
    let env = TestEnv::with_example();
    let cfg = env.read("promptctl.toml");
    env.write(
        "promptctl.toml",
        &format!("{cfg}\n[providers.openai]\nbase_url = \"{}/v1\"\n", server.uri()),
    );
    let run = |args: &[&str]| {
        let out = env.run(args);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        json(&out)
    };
    let first = run(&["eval", "support/chat", "--format", "json"]);
    assert_eq!(first["results"][0]["stats"]["cache_hits"], 0);
    assert_eq!(first["results"][0]["stats"]["tokens_exact"], true);
    let second = run(&["eval", "support/chat", "--format", "json"]);
    assert_eq!(second["results"][0]["stats"]["cache_hits"], 2);
    assert_eq!(second["totals"]["spent_usd"], 0.0);
    assert_eq!(rt.block_on(server.received_requests()).unwrap().len(), 2);

    let out = env.run(&["cache", "clear"]);
    assert_eq!(code(&out), 0);
    assert!(
        stdout(&out).starts_with("removed 2 cached responses ("),
        "{}",
        stdout(&out)
    );
    let third = run(&["eval", "support/chat", "--format", "json"]);
    assert_eq!(third["results"][0]["stats"]["cache_hits"], 0);
    assert_eq!(rt.block_on(server.received_requests()).unwrap().len(), 4);
    let out = env.run(&["cache", "clear", "--format", "json"]);
    assert_eq!(json(&out)["entries"], 2);
}

#[test]
fn bad_arguments_are_exit_2_with_hints() {
    let env = TestEnv::with_example();
    let out = env.run(&["eval", "--offline", "evals/support/triag.yaml"]);
    assert_eq!(code(&out), 2);
    let err = stderr(&out);
    assert!(
        err.contains("error: no eval suite matches 'evals/support/triag.yaml'"),
        "{err}"
    );
    assert!(err.contains("hint: did you mean 'evals/support/triage.yaml'?"), "{err}");

    let out = env.run(&["eval", "--resume", "20260101T000000Z-abcd"]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("error: no run '20260101T000000Z-abcd'"),
        "{}",
        stderr(&out)
    );

    let out = env.run(&["eval", "--offline", "--max-cost-usd", "-1"]);
    assert_eq!(code(&out), 2);

    let out = env.run(&["eval", "--provider", "opnai:gpt-4o", "--offline"]);
    assert_eq!(code(&out), 2);
    let err = stderr(&out);
    assert!(err.contains("unknown provider 'opnai'"), "{err}");
    assert!(err.contains("did you mean 'openai'?"), "{err}");

    let out = env.run(&["eval", "--offline", "--format", "markdown"]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("hint: use --format text | json | junit"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn rev_evaluates_the_committed_prompt() {
    let env = TestEnv::with_example();
    env.git_init();
    env.commit_all("prompts");
    let p = env
        .read("prompts/rag/answer.prompt")
        .replace("using only the numbered", "using the numbered");
    env.write("prompts/rag/answer.prompt", &p);
    let out = env.run(&["eval", "--offline", "rag/answer"]);
    assert_eq!(code(&out), 2, "the working tree's prompt has no recording");
    let out = env.run(&["eval", "--offline", "--rev", "HEAD", "rag/answer", "--format", "json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let j = json(&out);
    assert_eq!(j["source"], "HEAD");
    assert_eq!(j["results"][0]["source"], "HEAD");
    assert_eq!(j["results"][0]["stats"]["passed"], 3);
}
