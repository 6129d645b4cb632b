//! release, promote, rollback, canary, status, history, resolve, export:
//! on real repositories, with a bare repository as the `--push` remote.

use std::path::Path;

use promptctl::release::bucket;

use crate::env::*;

// gpt-3.5-turbo counts with cl100k_base, which loads faster than o200k in
// debug builds; nothing here depends on the model.
const PROMPT: &str = "---
description: Classify a support ticket
model: openai:gpt-3.5-turbo
config:
  temperature: 0
  max_tokens: 100
input:
  schema: [ticket]
---
system:
You triage support tickets. Answer with one word: billing, bug or other.

user:
{{ ticket }}
";

const SUITE: &str = "prompt: support/triage
providers: [echo]
cases:
  - vars: { ticket: I was charged twice }
  - vars: { ticket: The app crashes on login }
";

const CONFIG: &str = "[budget]\nmax_input_tokens = 200\n";

fn setup() -> TestEnv {
    let env = TestEnv::new();
    env.git_init();
    env.write("promptctl.toml", CONFIG);
    env.write("prompts/support/triage.prompt", PROMPT);
    env.write("evals/support/triage.yaml", SUITE);
    env.commit_all("triage prompt");
    env
}

/// Change the system line and commit.
fn edit(env: &TestEnv, words: &str) {
    env.write(
        "prompts/support/triage.prompt",
        &PROMPT.replace("You triage support tickets.", words),
    );
    env.commit_all(words);
}

/// A bare repository as `origin` of `env`, with main pushed.
fn remote_for(env: &TestEnv) -> TestEnv {
    let remote = TestEnv::new();
    remote.git(&["init", "-q", "--bare", "-b", "main"]);
    env.git(&["remote", "add", "origin", remote.path().to_str().unwrap()]);
    env.git(&["push", "-q", "origin", "main"]);
    remote
}

fn clone_of(remote: &TestEnv) -> TestEnv {
    let c = TestEnv::new();
    c.git(&["clone", "-q", remote.path().to_str().unwrap(), "."]);
    c
}

fn ok(env: &TestEnv, args: &[&str]) -> String {
    let out = env.run(args);
    assert_eq!(
        code(&out),
        0,
        "{args:?}\nstdout:\n{}\nstderr:\n{}",
        stdout(&out),
        stderr(&out)
    );
    stdout(&out)
}

fn fails(env: &TestEnv, args: &[&str], exit: i32) -> String {
    let out = env.run(args);
    assert_eq!(
        code(&out),
        exit,
        "{args:?}\nstdout:\n{}\nstderr:\n{}",
        stdout(&out),
        stderr(&out)
    );
    stderr(&out)
}

fn tags(env: &TestEnv) -> Vec<String> {
    env.git(&["tag", "-l", "prompt/*"]).lines().map(String::from).collect()
}

fn export_json(env: &TestEnv) -> serde_json::Value {
    let text = ok(env, &["export"]);
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_matches_schema(&v, "schema/export.schema.json");
    v
}

/// Hashes and commit ids vary with the fixture: runs of 7+ lowercase hex
/// characters with a digit among them become `[hash]`.
fn filtered(text: &str) -> String {
    let mut out = String::new();
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.len() >= 7 && run.chars().any(|c| c.is_ascii_digit()) {
            out.push_str("[hash]");
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in text.chars() {
        if c.is_ascii_digit() || ('a'..='f').contains(&c) {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

/// The binary as a plain process (for running two at once).
fn spawn(env: &TestEnv, args: &[&str]) -> std::process::Child {
    std::process::Command::new(assert_cmd::cargo::cargo_bin("promptctl"))
        .args(args)
        .current_dir(env.path())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", env.path())
        .env("NO_COLOR", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_COMMITTER_NAME", "Test Author")
        .env("GIT_COMMITTER_EMAIL", "author@example.com")
        .env("GIT_COMMITTER_DATE", "2026-01-01T00:00:00Z")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn full_life_cycle_with_a_remote_and_a_clone() {
    let env = setup();
    let remote = remote_for(&env);
    let name = "support/triage";

    // Dry run: shows the plan, changes nothing.
    let out = env.run(&["release", name]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stdout(&out).contains("create  prompt/support/triage@v1"),
        "{}",
        stdout(&out)
    );
    assert!(stderr(&out).contains("dry run: nothing changed"), "{}", stderr(&out));
    assert!(tags(&env).is_empty());

    // v1 to stable, pushed.
    let out = ok(
        &env,
        &["release", name, "--execute", "--push", "--reason", "first version"],
    );
    assert!(out.contains("stable    none → v1"), "{out}");
    assert!(out.contains("pushed    origin: 3 new"), "{out}");
    let v1 = export_json(&env);
    assert_eq!(v1["prompts"][name]["stable"]["version"], 1);
    assert!(v1["prompts"][name]["canary"].is_null());

    // v2 as a 10% canary.
    edit(&env, "You triage support tickets for the billing team.");
    ok(
        &env,
        &[
            "release",
            name,
            "--canary",
            "10",
            "--reason",
            "billing wording",
            "--execute",
            "--push",
        ],
    );
    let v2 = export_json(&env);
    assert_eq!(v2["prompts"][name]["stable"]["version"], 1);
    assert_eq!(v2["prompts"][name]["canary"]["version"], 2);
    assert_eq!(v2["prompts"][name]["canary"]["weight"], 10);

    // Sticky assignment: the documented function decides, every time.
    let mut seen = [0, 0];
    for i in 0..40 {
        let key = format!("user-{i}");
        let r = json(&env.run(&["--format", "json", "resolve", name, "--key", &key]));
        let again = json(&env.run(&["--format", "json", "resolve", name, "--key", &key]));
        assert_eq!(r, again);
        let b = bucket::bucket(name, &key);
        assert_eq!(r["bucket"], b);
        let expect = if b < 10 { 2 } else { 1 };
        assert_eq!(r["version"], expect, "{key} bucket {b}");
        seen[(expect - 1) as usize] += 1;
    }
    assert!(seen[0] > 0 && seen[1] > 0, "{seen:?}");
    let text = ok(&env, &["resolve", name, "--channel", "canary"]);
    assert_eq!(text, "support/triage v2  canary  (canary channel)\n");

    // Promote: stable v2, canary cleared.
    ok(
        &env,
        &[
            "promote",
            name,
            "--reason",
            "canary error rate flat",
            "--execute",
            "--push",
        ],
    );
    let p = export_json(&env);
    assert_eq!(p["prompts"][name]["stable"]["version"], 2);
    assert!(p["prompts"][name]["canary"].is_null());

    // v3, then roll back to v2.
    edit(&env, "You triage support tickets. Be brief.");
    ok(&env, &["release", name, "--execute", "--push"]);
    assert_eq!(export_json(&env)["prompts"][name]["stable"]["version"], 3);
    let out = ok(
        &env,
        &[
            "rollback",
            name,
            "--to",
            "v2",
            "--reason",
            "v3 misroutes refunds",
            "--execute",
            "--push",
        ],
    );
    assert!(out.contains("stable    v3 → v2"), "{out}");
    let rb = export_json(&env);
    assert_eq!(rb["prompts"][name]["stable"]["version"], 2);
    assert_eq!(
        rb["prompts"][name]["stable"]["messages"][0]["template"],
        "You triage support tickets for the billing team. Answer with one word: billing, bug or other."
    );

    // History: all of it, with reasons.
    let h = ok(&env, &["history", name]);
    insta::assert_snapshot!("history_after_life_cycle", filtered(&h));
    let hj = json(&env.run(&["--format", "json", "history", name]));
    let actions: Vec<&str> = hj["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"]["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["rollback", "release", "promote", "release", "release"]);
    assert_eq!(hj["entries"][0]["event"]["reason"], "v3 misroutes refunds");
    assert_eq!(hj["entries"][0]["event"]["actor"], "Test Author <author@example.com>");

    // git itself shows it to a person.
    let tag_n = env.git(&["tag", "-n"]);
    for line in [
        "prompt/support/triage@v1 support/triage v1: first version",
        "prompt/support/triage@v2 support/triage v2: billing wording",
        "prompt/support/triage@stable support/triage stable → v2 (was v3)",
        "prompt/support/triage@canary support/triage canary cleared (was v2 at 10%)",
        "prompt/support/triage@event/5 support/triage event 5: roll back stable v3 → v2",
    ] {
        assert!(tag_n.contains(line), "`git tag -n` lacks {line:?}:\n{tag_n}");
    }
    let show = env.git(&["show", "--no-patch", "prompt/support/triage@stable"]);
    for line in [
        "tag prompt/support/triage@stable",
        "Tagger: Test Author <author@example.com>",
        "Version: v2",
        "Previous: v3",
        "Action: rollback",
        "Reason: v3 misroutes refunds",
        "Actor: Test Author <author@example.com>",
        "Model: openai:gpt-3.5-turbo",
        "Gate: check passed",
    ] {
        assert!(show.contains(line), "`git show` lacks {line:?}:\n{show}");
    }
    // ... and reads the trailers back as trailers.
    let v = env.git(&[
        "for-each-ref",
        "--format=%(trailers:key=Version,valueonly,separator=)",
        "refs/tags/prompt/support/triage@stable",
    ]);
    assert_eq!(v.trim(), "v2");

    // The remote has exactly the local tags; a clone sees the same state.
    let local: Vec<String> = env
        .git(&["for-each-ref", "--format=%(refname) %(objectname)", "refs/tags/prompt/"])
        .lines()
        .map(String::from)
        .collect();
    let mut remote_refs: Vec<String> = remote
        .git(&["for-each-ref", "--format=%(refname) %(objectname)", "refs/tags/prompt/"])
        .lines()
        .map(String::from)
        .collect();
    remote_refs.sort();
    assert_eq!(local, remote_refs);
    let clone = clone_of(&remote);
    assert_eq!(ok(&clone, &["export"]), ok(&env, &["export"]), "same tags, same bytes");
    let st = json(&clone.run(&["--format", "json", "status"]));
    assert_eq!(st["prompts"][0]["stable"], 2);
    assert_eq!(st["prompts"][0]["working_tree"]["state"], "modified");
    assert_eq!(st["prompts"][0]["working_tree"]["uncommitted"], false);
    let ch = ok(&clone, &["history", name]);
    assert!(
        ch.contains("git fetch origin refs/notes/promptctl:refs/notes/promptctl"),
        "{ch}"
    );
}

#[test]
fn status_shows_unreleased_changes_with_the_token_delta() {
    let env = setup();
    env.write("prompts/support/other.prompt", "Say hi.\n");
    env.commit_all("other");
    ok(&env, &["release", "support/triage", "--execute"]);
    let same = ok(&env, &["status"]);
    insta::assert_snapshot!("status_released", same);
    env.write(
        "prompts/support/triage.prompt",
        &PROMPT.replace(
            "You triage support tickets.",
            "You triage support tickets for a large software company.",
        ),
    );
    let st = json(&env.run(&["--format", "json", "status", "support/triage"]));
    let wt = &st["prompts"][0]["working_tree"];
    assert_eq!(wt["state"], "modified");
    assert_eq!(wt["uncommitted"], true);
    assert_eq!(wt["exact"], true);
    let delta = wt["delta_tokens"].as_i64().unwrap();
    assert_eq!(
        delta,
        wt["input_tokens"].as_i64().unwrap() - wt["stable_input_tokens"].as_i64().unwrap()
    );
    assert!(delta > 0);
    insta::assert_snapshot!("status_modified", ok(&env, &["status", "support/triage"]));
}

#[test]
fn list_shows_the_release_column() {
    let env = setup();
    ok(&env, &["release", "support/triage", "--execute"]);
    edit(&env, "You triage tickets.");
    ok(&env, &["release", "support/triage", "--canary", "25", "--execute"]);
    let out = ok(&env, &["list"]);
    assert!(out.contains("RELEASE"), "{out}");
    assert!(out.contains("v1 · canary v2 25%"), "{out}");
    let j = json(&env.run(&["--format", "json", "list"]));
    assert_eq!(j["prompts"][0]["release"]["stable"], 1);
    assert_eq!(j["prompts"][0]["release"]["canary_weight"], 25);
    assert!(
        j["prompts"][0]["max_input_tokens"].is_u64(),
        "measurement fields stay flat"
    );
}

#[test]
fn config_can_make_execute_the_default_and_dry_run_overrides_it() {
    let env = setup();
    env.write("promptctl.toml", &format!("{CONFIG}\n[release]\nexecute = true\n"));
    env.commit_all("execute by default");
    let out = env.run(&["release", "support/triage", "--dry-run"]);
    assert_eq!(code(&out), 0);
    assert!(tags(&env).is_empty());
    ok(&env, &["release", "support/triage"]);
    assert_eq!(tags(&env).len(), 3);
}

#[test]
fn json_plan_is_machine_readable() {
    let env = setup();
    let j = json(&env.run(&["--format", "json", "release", "support/triage"]));
    assert_eq!(j["executed"], false);
    assert_eq!(j["action"], "release");
    assert_eq!(j["version"]["number"], 1);
    assert_eq!(j["stable"]["to"]["version"], 1);
    assert_eq!(j["blocked"], false);
    let gates: Vec<&str> = j["gates"]["gates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert_eq!(gates, ["parse", "model", "variables", "check", "eval"]);
    let refs: Vec<&str> = j["refs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["ref"].as_str().unwrap())
        .collect();
    assert_eq!(
        refs,
        [
            "refs/tags/prompt/support/triage@v1",
            "refs/tags/prompt/support/triage@stable",
            "refs/tags/prompt/support/triage@event/1"
        ]
    );
    assert!(j["refs"][0]["message"].as_str().unwrap().contains("\nPromptctl: 1\n"));
    let j = json(&env.run(&["--format", "json", "release", "support/triage", "--execute"]));
    assert_eq!(j["executed"], true);
}

#[test]
fn two_concurrent_releases_one_wins() {
    let env = setup();
    let args = ["release", "support/triage", "--execute"];
    let (a, b) = (spawn(&env, &args), spawn(&env, &args));
    let outs = [a.wait_with_output().unwrap(), b.wait_with_output().unwrap()];
    let winners = outs.iter().filter(|o| o.status.success()).count();
    assert_eq!(winners, 1, "{outs:?}");
    let loser = outs.iter().find(|o| !o.status.success()).unwrap();
    let err = stderr(loser);
    // Either it lost the race at the ref lock/check, or it started after the
    // winner finished and found nothing new to release. Both change nothing.
    assert!(
        (err.contains("at the same time") && code(loser) == 3)
            || (err.contains("identical to the stable version v1") && code(loser) == 2),
        "{err}"
    );
    assert_eq!(
        tags(&env),
        [
            "prompt/support/triage@event/1",
            "prompt/support/triage@stable",
            "prompt/support/triage@v1"
        ]
    );
}

#[test]
fn a_rejected_push_changes_nothing_and_says_what_to_do() {
    let env = setup();
    let remote = remote_for(&env);
    ok(&env, &["release", "support/triage", "--execute", "--push"]);
    let other = clone_of(&remote);
    // Upstream moves on.
    edit(&env, "You triage tickets, version A.");
    ok(&env, &["release", "support/triage", "--execute", "--push"]);
    let remote_before = remote.git(&["for-each-ref", "refs/tags/"]);
    // A stale clone releases its own v2 and pushes.
    edit(&other, "You triage tickets, version B.");
    let before = other.git(&["for-each-ref", "refs/tags/"]);
    let err = fails(&other, &["release", "support/triage", "--execute", "--push"], 3);
    assert!(err.contains("origin rejected the push"), "{err}");
    assert!(err.contains("already exists"), "{err}");
    assert!(err.contains("git fetch origin --tags --force"), "{err}");
    assert!(err.contains("nothing changed"), "{err}");
    assert_eq!(
        other.git(&["for-each-ref", "refs/tags/"]),
        before,
        "local tags untouched"
    );
    assert_eq!(
        remote.git(&["for-each-ref", "refs/tags/"]),
        remote_before,
        "remote untouched"
    );
    // After fetching (moved tags need --force) the clone sees upstream's state.
    other.git(&["fetch", "-q", "origin", "--tags", "--force"]);
    let st = json(&other.run(&["--format", "json", "status", "support/triage"]));
    assert_eq!(st["prompts"][0]["stable"], 2);
    assert_eq!(st["prompts"][0]["stale"], false);
}

#[test]
fn a_fetch_without_force_leaves_stale_channels_and_status_says_so() {
    let env = setup();
    let remote = remote_for(&env);
    ok(&env, &["release", "support/triage", "--execute", "--push"]);
    let other = clone_of(&remote);
    edit(&env, "You triage tickets.");
    ok(&env, &["release", "support/triage", "--execute", "--push"]);
    // Plain `git fetch --tags` refuses to move the existing stable tag.
    let _ = std::process::Command::new("git")
        .args(["fetch", "-q", "origin", "--tags"])
        .current_dir(other.path())
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .unwrap();
    let st = json(&other.run(&["--format", "json", "status", "support/triage"]));
    assert_eq!(st["prompts"][0]["stable"], 1);
    assert_eq!(st["prompts"][0]["stale"], true);
    let text = ok(&other, &["status"]);
    assert!(text.contains("git fetch --tags --force"), "{text}");
}

#[test]
fn eval_notes_appear_in_history_and_are_pushed() {
    let env = setup();
    let remote = remote_for(&env);
    let hash = promptctl::prompt::content_hash(PROMPT.as_bytes());
    let note = format!(
        r#"{{"schema":1,"prompts":{{"support/triage":{{"content_hash":"{hash}","runs":[{{"run_id":"r1","date":"2026-01-01T00:00:00Z","provider":"replay","pass_rate":0.95,"cases":20,"mean_input_tokens":123.0,"mean_output_tokens":80.0,"cost_per_call_usd":0.0001,"latency_p50_ms":300,"latency_p95_ms":900}}]}}}}}}"#
    );
    env.git(&["notes", "--ref=promptctl", "add", "-m", &note, "HEAD"]);
    ok(&env, &["release", "support/triage", "--execute", "--push"]);
    let h = ok(&env, &["history", "support/triage"]);
    assert!(
        h.contains("eval: replay, 95.0% of 20 cases pass, mean in 123 / out 80 tokens, $0.000100/call, p50 300 ms, p95 900 ms, run r1 (2026-01-01T00:00:00Z)"),
        "{h}"
    );
    let show = env.git(&["show", "--no-patch", "prompt/support/triage@v1"]);
    assert!(show.contains("Eval: replay, 95.0% of 20 cases pass"), "{show}");
    let notes_on_remote = remote.git(&["for-each-ref", "refs/notes/"]);
    assert!(notes_on_remote.contains("refs/notes/promptctl"), "{notes_on_remote}");
}

#[test]
fn gates_block_a_release_unless_forced_with_a_reason() {
    let env = setup();
    env.write("promptctl.toml", "[budget]\nmax_input_tokens = 10\n");
    env.commit_all("tight");
    let out = env.run(&["release", "support/triage", "--execute"]);
    assert_eq!(code(&out), 1);
    assert!(stdout(&out).contains("FAIL check"), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("release gates failed for support/triage: check"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("--force --reason"), "{}", stderr(&out));
    assert!(tags(&env).is_empty());
    let err = fails(&env, &["release", "support/triage", "--force", "--execute"], 2);
    assert!(err.contains("--reason"), "{err}");
    ok(
        &env,
        &[
            "release",
            "support/triage",
            "--force",
            "--reason",
            "hotfix for outage",
            "--execute",
        ],
    );
    let show = env.git(&["show", "--no-patch", "prompt/support/triage@v1"]);
    assert!(show.contains("Override: check FAILED: budget/input-tokens"), "{show}");
    assert!(show.contains("Reason: hotfix for outage"), "{show}");
}

#[test]
fn bad_requests_are_clear_errors_with_exit_2() {
    let env = setup();
    let e = fails(&env, &["promote", "support/triage", "--execute"], 2);
    assert!(e.contains("error: support/triage has no canary to promote"), "{e}");
    let e = fails(&env, &["canary", "support/triage", "--weight", "150"], 2);
    assert!(
        e.contains("canary weight must be a whole percentage from 0 to 100, got '150'"),
        "{e}"
    );
    let e = fails(&env, &["release", "support/triage", "--canary=-3"], 2);
    assert!(e.contains("got '-3'"), "{e}");
    let e = fails(&env, &["release", "my prompt"], 2);
    assert!(
        e.contains("prompt name 'my prompt' cannot be used in a git tag name: it contains a space"),
        "{e}"
    );
    assert!(e.contains("hint: rename the prompt file"), "{e}");
    let e = fails(&env, &["release", "support/triag"], 2);
    assert!(e.contains("no prompt named 'support/triag'"), "{e}");
    assert!(e.contains("did you mean 'support/triage'"), "{e}");
    let e = fails(&env, &["resolve", "support/triage"], 2);
    assert!(e.contains("support/triage is not released"), "{e}");

    ok(&env, &["release", "support/triage", "--execute"]);
    let e = fails(&env, &["release", "support/triage"], 2);
    assert!(
        e.contains("nothing to release: support/triage at HEAD is identical to the stable version v1"),
        "{e}"
    );
    let e = fails(&env, &["rollback", "support/triage", "--reason", "x"], 2);
    assert!(
        e.contains("no earlier stable version to roll back to (stable is v1)"),
        "{e}"
    );
    let e = fails(&env, &["rollback", "support/triage", "--to", "v9", "--reason", "x"], 2);
    assert!(e.contains("support/triage has no version v9"), "{e}");
    assert!(e.contains("hint: versions: v1"), "{e}");
    let e = fails(
        &env,
        &["rollback", "support/triage", "--to", "latest", "--reason", "x"],
        2,
    );
    assert!(e.contains("'latest' is not a version"), "{e}");

    env.write("prompts/support/triage.prompt", "changed\n");
    let e = fails(&env, &["release", "support/triage"], 2);
    assert!(
        e.contains("prompts/support/triage.prompt has uncommitted changes"),
        "{e}"
    );

    env.git(&["tag", "-a", "-m", "hand made", "prompt/support/triage@v2"]);
    let e = fails(&env, &["status"], 2);
    assert!(
        e.contains(
            "tag prompt/support/triage@v2 exists but was not made by promptctl: its message has no Promptctl trailer"
        ),
        "{e}"
    );
    assert!(e.contains("git tag -d prompt/support/triage@v2"), "{e}");

    let outside = TestEnv::new();
    outside.write("prompts/a.prompt", "hi\n");
    let e = fails(&outside, &["status"], 2);
    assert!(e.contains("not a git repository"), "{e}");
}

#[test]
fn canary_weight_changes_and_resolve_renders() {
    let env = setup();
    ok(&env, &["release", "support/triage", "--execute"]);
    edit(&env, "You triage tickets.");
    ok(&env, &["release", "support/triage", "--canary", "10", "--execute"]);
    let out = ok(&env, &["canary", "support/triage", "--weight", "50%", "--execute"]);
    assert!(out.contains("canary    v2 at 10% → v2 at 50%"), "{out}");
    let out = env.run(&["canary", "support/triage", "--weight", "50", "--execute"]);
    assert_eq!(code(&out), 0);
    assert!(stderr(&out).contains("already has weight 50%"), "{}", stderr(&out));
    let j = json(&env.run(&["--format", "json", "canary", "support/triage", "--weight", "50"]));
    assert_eq!(j["changed"], false);
    let show = env.git(&["show", "--no-patch", "prompt/support/triage@canary"]);
    assert!(show.contains("Canary-Weight: 50\n"), "{show}");
    assert!(show.contains("Previous-Canary-Weight: 10\n"), "{show}");
    let r = ok(
        &env,
        &[
            "resolve",
            "support/triage",
            "--channel",
            "canary",
            "--render",
            "--var",
            "ticket=Refund please",
        ],
    );
    assert_eq!(
        r,
        "support/triage v2  canary  (canary channel)\n\nsystem:\nYou triage tickets. Answer with one word: billing, bug or other.\n\nuser:\nRefund please\n"
    );
}

#[test]
fn export_to_a_file_is_deterministic() {
    let env = setup();
    ok(&env, &["release", "support/triage", "--execute"]);
    let out = env.run(&["export", "--out", "bundle.json"]);
    assert_eq!(code(&out), 0);
    assert!(
        stderr(&out).contains("Exported 1 prompt to bundle.json"),
        "{}",
        stderr(&out)
    );
    let first = env.read("bundle.json");
    env.run(&["export", "--out", "bundle.json"]);
    assert_eq!(env.read("bundle.json"), first);
    assert_eq!(first, ok(&env, &["export"]));
    let v: serde_json::Value = serde_json::from_str(&first).unwrap();
    assert_matches_schema(&v, "schema/export.schema.json");
    assert_eq!(v["bucketing"]["example"]["bucket"], 83);
    assert_eq!(
        v["prompts"]["support/triage"]["stable"]["model"],
        "openai:gpt-3.5-turbo"
    );
    assert_eq!(v["prompts"]["support/triage"]["stable"]["config"]["max_tokens"], 100);
    assert!(!Path::new(&env.path().join(".bundle.json.tmp")).exists());
}

#[test]
fn a_push_to_a_missing_remote_fails_and_keeps_local_tags_unchanged() {
    let env = setup();
    let err = fails(
        &env,
        &[
            "release",
            "support/triage",
            "--execute",
            "--push",
            "--remote",
            "nowhere",
        ],
        3,
    );
    assert!(err.contains("git push to nowhere failed"), "{err}");
    assert!(err.contains("nothing changed, locally or on the remote"), "{err}");
    assert!(tags(&env).is_empty());
    // Without --push the same release goes through.
    ok(&env, &["release", "support/triage", "--execute"]);
}

#[test]
fn a_failing_eval_suite_blocks_the_release() {
    let env = setup();
    env.write(
        "evals/support/triage.yaml",
        &SUITE.replace(
            "cases:",
            "defaults:\n  assert:\n    - type: contains\n      value: refund\ncases:",
        ),
    );
    env.commit_all("suite that fails");
    let out = env.run(&["release", "support/triage", "--execute"]);
    assert_eq!(code(&out), 1, "{}{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("FAIL eval"), "{text}");
    assert!(text.contains("0/2 cases pass"), "{text}");
    assert!(stderr(&out).contains("release gates failed"), "{}", stderr(&out));
    assert!(env.git(&["tag", "-l"]).trim().is_empty(), "no tag was created");
}
