//! The eval runner against local HTTP servers on 127.0.0.1 (wiremock, never
//! the internet): concurrency bounds, the cache, record/replay, the
//! structured-output guard, the cost limit, resume, fault classification and
//! the verdicts that become exit codes.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wiremock::matchers::{body_partial_json, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use promptctl::ErrorKind;
use promptctl::eval::guard::GuardPath;
use promptctl::eval::result::{ErrorKind as CaseErrorKind, Status};
use promptctl::eval::run::{self, Mode, RunOptions, RunReport, Verdict};
use promptctl::eval::runfile;
use promptctl::project::Project;

// ---------------------------------------------------------------- fixtures

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    /// A project whose `openai` provider is `server`, with fast retries.
    fn new(server: &str, extra_toml: &str) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let env = Env { dir };
        env.write(
            "promptctl.toml",
            &format!(
                "[providers.openai]\nbase_url = \"{server}/v1\"\nmax_attempts = 2\nmax_total_wait = 5\n{extra_toml}"
            ),
        );
        env.write(
            "prompts/classify.prompt",
            "---\nmodel: openai:gpt-4o-mini\nconfig:\n  max_tokens: 50\n---\nsystem:\nClassify the ticket.\n\nuser:\n{{ ticket }}\n",
        );
        env
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn write(&self, rel: &str, text: &str) {
        let p = self.root().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.root().join(rel)).unwrap()
    }

    /// A suite of `n` cases `t0`..`tN` for the classify prompt.
    fn suite(&self, n: usize, asserts: &str) {
        let mut s = String::from("prompt: classify\ncases:\n");
        for i in 0..n {
            s.push_str(&format!(
                "  - name: t{i}\n    vars: {{ticket: \"ticket number {i}\"}}\n"
            ));
            if !asserts.is_empty() {
                s.push_str(&format!("    assert:\n{asserts}"));
            }
        }
        self.write("evals/classify.yaml", &s);
    }

    fn project(&self) -> Project {
        Project::discover(self.root()).unwrap()
    }

    fn opts(&self) -> RunOptions {
        RunOptions::new(Arc::new(|_: &str| None))
    }

    async fn run(&self, opts: &RunOptions) -> RunReport {
        run::run_suites_async(&self.project(), opts)
            .await
            .unwrap_or_else(|e| panic!("run failed: {} {:?}", e.message, e.hints))
    }
}

fn completion(content: &str, prompt_tokens: u64) -> Value {
    json!({
        "id": "chatcmpl-1", "object": "chat.completion", "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": 4, "total_tokens": prompt_tokens + 4},
    })
}

async fn ok_server(content: &str) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion(content, 20)))
        .mount(&server)
        .await;
    server
}

async fn requests(server: &MockServer) -> Vec<Value> {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| r.body_json::<Value>().unwrap())
        .collect()
}

/// Answers after a fixed delay and notes when each request arrived.
#[derive(Clone)]
struct Timed {
    delay: Duration,
    arrivals: Arc<Mutex<Vec<Instant>>>,
}

impl Respond for Timed {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        self.arrivals.lock().unwrap().push(Instant::now());
        ResponseTemplate::new(200)
            .set_body_json(completion("ok", 20))
            .set_delay(self.delay)
    }
}

/// The most requests that were in flight at once. Every response takes at
/// least `delay`, so requests arriving within less than `delay` of each
/// other were all open at the same moment.
fn max_in_flight(arrivals: &[Instant], delay: Duration) -> usize {
    let mut a = arrivals.to_vec();
    a.sort();
    let window = delay.mul_f64(0.9);
    (0..a.len())
        .map(|i| a[i..].iter().take_while(|t| t.duration_since(a[i]) < window).count())
        .max()
        .unwrap_or(0)
}

fn result_of(r: &RunReport) -> &run::SuiteResult {
    assert_eq!(r.results.len(), 1);
    &r.results[0]
}

// ---------------------------------------------------------------- concurrency

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_never_exceeds_jobs() {
    let server = MockServer::start().await;
    let timed = Timed {
        delay: Duration::from_millis(150),
        arrivals: Arc::default(),
    };
    Mock::given(method("POST"))
        .respond_with(timed.clone())
        .mount(&server)
        .await;
    let env = Env::new(&server.uri(), "");
    env.suite(15, "");
    let mut opts = env.opts();
    opts.jobs = Some(3);
    opts.cache = false;
    let r = env.run(&opts).await;
    assert_eq!(result_of(&r).stats.passed, 15);
    let arrivals = timed.arrivals.lock().unwrap().clone();
    assert_eq!(arrivals.len(), 15);
    let max = max_in_flight(&arrivals, timed.delay);
    assert_eq!(max, 3, "at most -j requests in flight, and -j used");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_concurrency_limit_holds_under_a_larger_jobs() {
    let server = MockServer::start().await;
    let timed = Timed {
        delay: Duration::from_millis(150),
        arrivals: Arc::default(),
    };
    Mock::given(method("POST"))
        .respond_with(timed.clone())
        .mount(&server)
        .await;
    let env = Env::new(&server.uri(), "concurrency = 2\n");
    env.suite(8, "");
    let mut opts = env.opts();
    opts.jobs = Some(8);
    opts.cache = false;
    env.run(&opts).await;
    let max = max_in_flight(&timed.arrivals.lock().unwrap(), timed.delay);
    assert_eq!(max, 2, "[providers.openai] concurrency = 2");
}

// ---------------------------------------------------------------- cache

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_run_is_served_from_the_cache() {
    let server = ok_server("billing").await;
    let env = Env::new(&server.uri(), "");
    env.suite(5, "      - type: equals\n        value: billing\n");
    let first = env.run(&env.opts()).await;
    assert_eq!(requests(&server).await.len(), 5);
    assert_eq!(result_of(&first).stats.cache_hits, 0);
    assert!(result_of(&first).stats.spent_usd > 0.0);

    let second = env.run(&env.opts()).await;
    assert_eq!(requests(&server).await.len(), 5, "zero requests on the second run");
    let s = &result_of(&second).stats;
    assert_eq!((s.cache_hits, s.passed), (5, 5));
    assert_eq!(s.spent_usd, 0.0, "cached answers cost nothing now");
    assert!(s.cost_usd > 0.0, "but keep their price");

    let mut no_cache = env.opts();
    no_cache.cache = false;
    env.run(&no_cache).await;
    assert_eq!(requests(&server).await.len(), 10, "--no-cache calls again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_never_cached() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": {"message": "bad model"}})))
        .up_to_n_times(2)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion("ok", 20)))
        .mount(&server)
        .await;
    let env = Env::new(&server.uri(), "");
    env.suite(2, "");
    let r = env.run(&env.opts()).await;
    assert_eq!(result_of(&r).stats.errored, 2);
    let Verdict::Error(e) = r.verdict() else {
        panic!("a rejected request is an error")
    };
    assert_eq!(e.kind, ErrorKind::Input, "4xx other than 429: exit 2");
    assert!(e.message.contains("bad model"), "{}", e.message);

    let r = env.run(&env.opts()).await;
    assert_eq!(requests(&server).await.len(), 4, "the failed requests were sent again");
    assert_eq!(result_of(&r).stats.passed, 2);
}

// ---------------------------------------------------------------- record / replay

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_then_replay_round_trip() {
    let server = ok_server("billing").await;
    let env = Env::new(&server.uri(), "");
    env.suite(3, "      - type: equals\n        value: billing\n");
    let mut rec = env.opts();
    rec.mode = Mode::Record;
    let r = env.run(&rec).await;
    assert_eq!(r.recorded, [Path::new("evals/classify.responses.yaml")]);
    let file = env.read("evals/classify.responses.yaml");
    assert!(
        file.starts_with("# Recorded responses of evals/classify.yaml"),
        "{file}"
    );
    assert!(
        file.contains("source: recorded with promptctl eval --record on "),
        "{file}"
    );
    assert!(
        file.contains("  - case: t2\n    target: openai:gpt-4o-mini\n    step: answer\n"),
        "{file}"
    );
    assert!(
        file.contains("usage: {input_tokens: 20, output_tokens: 4, reported: true}"),
        "{file}"
    );

    // Offline, without the cache: every answer comes from the recording.
    std::fs::remove_dir_all(env.root().join(".promptctl/cache")).unwrap();
    let mut off = env.opts();
    off.mode = Mode::Offline;
    let r = env.run(&off).await;
    let res = result_of(&r);
    assert!(res.replayed);
    assert_eq!((res.stats.passed, res.stats.replayed, res.stats.calls), (3, 3, 3));
    assert!(res.stats.tokens_exact, "recorded usage was reported");
    assert_eq!(res.stats.input_tokens.unwrap().mean, 20.0);
    assert!(matches!(r.verdict(), Verdict::Pass));
    assert_eq!(requests(&server).await.len(), 3, "no request offline");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_mismatch_names_the_case_and_what_changed() {
    let server = ok_server("billing").await;
    let env = Env::new(&server.uri(), "");
    env.suite(3, "");
    let mut rec = env.opts();
    rec.mode = Mode::Record;
    env.run(&rec).await;

    // Change one case's variables and the prompt's system message.
    let suite = env
        .read("evals/classify.yaml")
        .replace("ticket number 1", "a changed ticket");
    env.write("evals/classify.yaml", &suite);
    let mut off = env.opts();
    off.mode = Mode::Offline;
    let r = env.run(&off).await;
    assert_eq!(result_of(&r).stats.errors[&CaseErrorKind::Offline], 1);
    let Verdict::Error(e) = r.verdict() else {
        panic!("a replay miss is an error")
    };
    assert_eq!(e.kind, ErrorKind::Input);
    assert!(
        e.message
            .contains("'t1': not recorded: the user message changed since the recording"),
        "{}",
        e.message
    );
    assert!(!e.message.contains("'t0'"), "{}", e.message);
    assert!(e.hints[0].contains("--record"), "{:?}", e.hints);

    env.write(
        "prompts/classify.prompt",
        &env.read("prompts/classify.prompt")
            .replace("Classify the ticket.", "Classify it."),
    );
    let r = env.run(&off).await;
    let Verdict::Error(e) = r.verdict() else { panic!() };
    assert!(e.message.contains("3 cases could not run"), "{}", e.message);
    assert!(
        e.message
            .contains("'t0': not recorded: the system message changed since the recording"),
        "{}",
        e.message
    );

    // A suite without a recording is refused before anything runs.
    std::fs::remove_file(env.root().join("evals/classify.responses.yaml")).unwrap();
    let e = run::plan(&env.project(), &off).err().unwrap();
    assert_eq!(e.kind, ErrorKind::Input);
    assert!(
        e.message.contains("evals/classify.responses.yaml does not exist"),
        "{}",
        e.message
    );
}

// ---------------------------------------------------------------- guard

/// Answers by model and conversation length: the small model wraps JSON in
/// a fence first, then answers with invalid JSON; the fallback is valid.
struct JsonScript;

impl Respond for JsonScript {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let body: Value = req.body_json().unwrap();
        let turns = body["messages"].as_array().unwrap().len();
        let user = body["messages"][1]["content"].as_str().unwrap_or("");
        let text = match (body["model"].as_str().unwrap(), turns) {
            ("gpt-4o", _) => "{\"label\": \"bug\"}".to_string(),
            (_, 2) => "```json\n{\"label\": \"bug\"}\n```".to_string(),
            // The corrected case gets it right on the first correction.
            (_, 4) if user.contains("fixable") => "{\"label\": \"bug\"}".to_string(),
            (_, _) => "{\"label\": \"refund\"}".to_string(),
        };
        ResponseTemplate::new(200).set_body_json(completion(&text, 30))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guard_corrects_then_falls_back() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(JsonScript)
        .mount(&server)
        .await;
    let env = Env::new(&server.uri(), "[eval]\nguard_retries = 2\n");
    env.write(
        "prompts/classify.prompt",
        "---\nmodel: openai:gpt-4o-mini\nfallback_model: openai:gpt-4o\noutput:\n  format: json\n  schema:\n    type: object\n    required: [label]\n    properties:\n      label: {enum: [bug, billing]}\n---\nsystem:\nAnswer with JSON.\n\nuser:\n{{ ticket }}\n",
    );
    env.write(
        "evals/classify.yaml",
        "prompt: classify\ndefaults:\n  assert:\n    - type: json-schema\ncases:\n  - name: fixable\n    vars: {ticket: fixable}\n  - name: stubborn\n    vars: {ticket: stubborn}\n",
    );
    let r = env.run(&env.opts()).await;
    let s = &result_of(&r).stats;
    assert_eq!(s.passed, 2, "{:?}", result_of(&r).failures);
    let g = s.guard.unwrap();
    assert_eq!(
        (g.first, g.corrected, g.fallback, g.invalid, g.corrections),
        (0, 1, 1, 0, 3)
    );
    assert_eq!(s.calls, 1 + 1 + 1 + 2 + 1);

    let sent = requests(&server).await;
    assert_eq!(sent.len(), 6);
    let correction = sent
        .iter()
        .find(|b| b["messages"].as_array().unwrap().len() == 4)
        .unwrap();
    assert_eq!(correction["messages"][2]["role"], "assistant");
    assert_eq!(
        correction["messages"][2]["content"],
        "```json\n{\"label\": \"bug\"}\n```"
    );
    let fix = correction["messages"][3]["content"].as_str().unwrap();
    assert!(fix.contains("output is JSON wrapped in a markdown fence"), "{fix}");
    let fallback: Vec<&Value> = sent.iter().filter(|b| b["model"] == "gpt-4o").collect();
    assert_eq!(fallback.len(), 1);
    assert_eq!(
        fallback[0]["messages"].as_array().unwrap().len(),
        2,
        "the fallback gets the original request"
    );

    // The run file says which path produced each answer.
    let mut paths = BTreeMap::new();
    runfile::read(env.root(), &r.run_id, &mut |c| {
        paths.insert(c.case.clone(), c.guard.unwrap().path);
    })
    .unwrap();
    assert_eq!(paths["fixable"], GuardPath::Corrected);
    assert_eq!(paths["stubborn"], GuardPath::Fallback);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_the_guard_cannot_repair_fails_the_case() {
    let server = ok_server("not json at all").await;
    let env = Env::new(&server.uri(), "[eval]\nguard_retries = 1\n");
    env.write(
        "prompts/classify.prompt",
        "---\nmodel: openai:gpt-4o-mini\noutput:\n  format: json\n---\n{{ ticket }}\n",
    );
    env.suite(1, "");
    let r = env.run(&env.opts()).await;
    let res = result_of(&r);
    assert_eq!(res.stats.failed, 1);
    assert_eq!(res.stats.guard.unwrap().invalid, 1);
    assert_eq!(
        requests(&server).await.len(),
        2,
        "one answer, one correction, no fallback declared"
    );
    assert!(
        res.failures[0].reasons[0]
            .starts_with("guard: no answer passed the structured-output guard: output is not JSON"),
        "{:?}",
        res.failures[0].reasons
    );
    assert!(matches!(r.verdict(), Verdict::GateFailed));
}

// ---------------------------------------------------------------- cost limit

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cost_limit_stops_starting_requests() {
    let server = MockServer::start().await;
    // 1M input tokens per call: $0.15 at gpt-4o-mini's list price.
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion("ok", 1_000_000)))
        .mount(&server)
        .await;
    let env = Env::new(&server.uri(), "");
    env.suite(10, "");
    let mut opts = env.opts();
    opts.jobs = Some(1);
    opts.max_cost_usd = Some(0.2);
    let r = env.run(&opts).await;
    assert_eq!(
        requests(&server).await.len(),
        2,
        "$0.15, then $0.30 ≥ $0.20: no third request"
    );
    let res = result_of(&r);
    assert_eq!((res.stats.passed, res.stats.skipped), (2, 8));
    assert!(r.stopped_by_cost);
    assert!(!res.passed, "an incomplete suite fails its gate");
    assert!((r.totals.spent_usd - 0.3).abs() < 1e-3, "{}", r.totals.spent_usd);
    assert!(matches!(r.verdict(), Verdict::GateFailed));

    // Resume with more budget: only the eight skipped cases are called.
    let mut more = env.opts();
    more.resume = Some(r.run_id.clone());
    more.max_cost_usd = Some(10.0);
    let r2 = env.run(&more).await;
    assert_eq!(requests(&server).await.len(), 10);
    assert_eq!(result_of(&r2).stats.passed, 10);
    assert!(r2.resumed);
}

// ---------------------------------------------------------------- resume

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_after_a_kill_calls_only_the_unfinished_cases() {
    let server = ok_server("ok").await;
    let env = Env::new(&server.uri(), "");
    env.suite(10, "");
    let mut opts = env.opts();
    opts.cache = false;
    let r = env.run(&opts).await;
    assert_eq!(requests(&server).await.len(), 10);

    // Simulate a kill after four cases: keep the header and four case
    // lines, then half a line.
    let file = env.root().join(runfile::rel_path(&r.run_id));
    let text = std::fs::read_to_string(&file).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let mut cut = lines[..5].join("\n");
    cut.push('\n');
    cut.push_str(&lines[5][..lines[5].len() / 2]);
    std::fs::write(&file, cut).unwrap();
    let finished: Vec<String> = lines[1..5]
        .iter()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["case"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();

    let mut resume = env.opts();
    resume.resume = Some(r.run_id.clone());
    let r2 = env.run(&resume).await;
    let sent = requests(&server).await;
    assert_eq!(sent.len(), 16, "six more requests, not ten");
    for body in &sent[10..] {
        let ticket = body["messages"][1]["content"].as_str().unwrap();
        let case = format!("t{}", ticket.trim_start_matches("ticket number "));
        assert!(!finished.contains(&case), "{case} was finished before the kill");
    }
    let res = result_of(&r2);
    assert_eq!(res.stats.passed, 10, "the report covers the whole run");
    assert_eq!(res.cases.len(), 10);
    assert_eq!(r2.run_id, r.run_id);

    // Nothing left: resuming again calls nothing.
    env.run(&resume).await;
    assert_eq!(requests(&server).await.len(), 16);

    // A changed suite cannot be resumed into the same run.
    env.suite(11, "");
    let e = run::plan(&env.project(), &resume).err().unwrap();
    assert!(e.message.contains("changed since it started"), "{}", e.message);
}

// ---------------------------------------------------------------- faults and exit codes

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_and_server_errors_are_classified() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(body_partial_json(
            json!({"messages": [{"role": "system"}, {"content": "ticket number 0"}]}),
        ))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "0")
                .set_body_json(json!({"error": {"message": "Rate limit reached"}})),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(body_partial_json(
            json!({"messages": [{"role": "system"}, {"content": "ticket number 1"}]}),
        ))
        .respond_with(ResponseTemplate::new(503).set_body_string("upstream overloaded"))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion("ok", 20)))
        .mount(&server)
        .await;
    let env = Env::new(&server.uri(), "");
    env.suite(3, "");
    let r = env.run(&env.opts()).await;
    let s = &result_of(&r).stats;
    assert_eq!((s.passed, s.errored), (1, 2));
    assert_eq!(s.errors[&CaseErrorKind::RateLimited], 1);
    assert_eq!(s.errors[&CaseErrorKind::Server], 1);
    assert_eq!(
        requests(&server).await.len(),
        5,
        "max_attempts = 2 for each failing case"
    );
    let f = &result_of(&r).failures;
    assert!(f[0].reasons[0].starts_with("rate limited: "), "{:?}", f[0].reasons);
    assert!(f[0].reasons[0].contains("Rate limit reached"), "{:?}", f[0].reasons);
    let Verdict::Error(e) = r.verdict() else {
        panic!("unreachable after retries is an error")
    };
    assert_eq!(e.kind, ErrorKind::External, "exit 3");
    assert!(
        e.message
            .contains("openai:gpt-4o-mini: 2 cases failed after retries (rate limited: 1, server error: 1)"),
        "{}",
        e.message
    );
    assert!(e.hints.iter().any(|h| h.contains("--resume")), "{:?}", e.hints);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_is_classified() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(completion("late", 20))
                .set_delay(Duration::from_secs(3)),
        )
        .mount(&server)
        .await;
    let env = Env::new(&server.uri(), "");
    env.suite(1, "");
    let mut opts = env.opts();
    opts.timeout = Some(Duration::from_millis(200));
    let started = Instant::now();
    let r = env.run(&opts).await;
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    assert_eq!(result_of(&r).stats.errors[&CaseErrorKind::Timeout], 1);
    assert!(matches!(r.verdict(), Verdict::Error(e) if e.kind == ErrorKind::External));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_key_fails_before_any_request() {
    let server = ok_server("ok").await;
    let env = Env::new(&server.uri(), "api_key_env = \"CLASSIFY_KEY\"\n");
    env.suite(2, "");
    let e = run::plan(&env.project(), &env.opts()).err().unwrap();
    assert_eq!(e.kind, ErrorKind::Input, "exit 2");
    assert!(e.message.contains("CLASSIFY_KEY is not set"), "{}", e.message);
    assert!(requests(&server).await.is_empty());
    assert!(!env.root().join(".promptctl/runs").exists(), "no run was started");

    let mut with_key = env.opts();
    with_key.env = Arc::new(|k: &str| (k == "CLASSIFY_KEY").then(|| "local-key".to_string()));
    let r = env.run(&with_key).await;
    assert_eq!(result_of(&r).stats.passed, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suite_below_its_threshold_fails_the_gate() {
    let server = ok_server("billing").await;
    let env = Env::new(&server.uri(), "");
    env.write(
        "evals/classify.yaml",
        "prompt: classify\nthreshold: 0.5\ncases:\n  - name: a\n    vars: {ticket: x}\n    assert: [{type: equals, value: billing}]\n  - name: b\n    vars: {ticket: y}\n    weight: 3\n    assert: [{type: equals, value: bug}]\n",
    );
    let r = env.run(&env.opts()).await;
    let res = result_of(&r);
    assert!((res.stats.pass_rate - 0.25).abs() < 1e-9, "weighted: 1 of 4");
    assert!(!res.passed);
    assert_eq!(
        res.failures[0].reasons,
        ["equals: output is \"billing\", expected \"bug\""]
    );
    assert!(matches!(r.verdict(), Verdict::GateFailed));
    let statuses: Vec<(String, Status)> = res.cases.iter().map(|c| (c.case.clone(), c.status)).collect();
    assert_eq!(
        statuses,
        [("a".to_string(), Status::Pass), ("b".to_string(), Status::Fail)]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cases_stream_from_a_jsonl_file() {
    let server = ok_server("ok").await;
    let env = Env::new(&server.uri(), "");
    let mut lines = String::new();
    for i in 0..50 {
        lines.push_str(&format!("{{\"name\": \"c{i}\", \"vars\": {{\"ticket\": \"t{i}\"}}}}\n"));
    }
    env.write("evals/data/cases.jsonl", &lines);
    env.write(
        "evals/classify.yaml",
        "prompt: classify\ndefaults:\n  assert: [{type: equals, value: ok}]\ncases: file://data/cases.jsonl\n",
    );
    let mut opts = env.opts();
    opts.jobs = Some(16);
    let r = env.run(&opts).await;
    let res = result_of(&r);
    assert_eq!((res.stats.cases, res.stats.passed), (50, 50));
    assert_eq!(res.cases[49].case, "c49");
    assert_eq!(requests(&server).await.len(), 50);
}
