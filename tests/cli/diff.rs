//! `promptctl diff` as a user runs it: real repositories, every format,
//! exit codes and the error cases.

use crate::env::*;

/// The example repository committed, then a realistic change: the triage
/// system prompt grows, its output cap goes up, a prompt is added and one
/// is renamed.
fn example_with_changes() -> TestEnv {
    let env = TestEnv::with_example();
    env.git_init();
    env.commit_all("example");
    let triage = env.read("prompts/support/triage.prompt");
    let triage = triage
        .replace(
            "You are the triage step of a customer-support pipeline. Classify each ticket.\n",
            "You are the triage step of a customer-support pipeline. Classify each ticket\n\
             carefully: read the whole message, including quoted replies, before you decide.\n",
        )
        .replace(
            "- summary: at most 140 characters, neutral tone, no customer names.\n",
            "- summary: at most 140 characters, neutral tone, no customer names.\n\n\
             If a ticket reports several problems, classify it by the one that blocks the\n\
             customer most and mention the others in the summary.\n",
        )
        .replace("max_tokens: 200", "max_tokens: 250");
    env.write("prompts/support/triage.prompt", &triage);
    env.git(&[
        "mv",
        "prompts/content/summarize.prompt",
        "prompts/content/digest.prompt",
    ]);
    env.write(
        "prompts/support/escalate.prompt",
        "---\nmodel: openai:gpt-4.1-mini\nconfig:\n  max_tokens: 120\n---\nsystem:\nDecide whether a support ticket needs a human. Answer yes or no.\n\nuser:\n{{ ticket }}\n",
    );
    env
}

/// Replace `(1a2b3c4)` commit ids, which change with the example's content.
fn filtered(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'(' && i + 8 < b.len() && b[i + 8] == b')' && b[i + 1..i + 8].iter().all(|c| c.is_ascii_hexdigit())
        {
            out.push_str("([commit])");
            i += 9;
        } else {
            let ch = s[i..].chars().next().unwrap();
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

#[test]
fn text_output_of_the_example() {
    let env = example_with_changes();
    let out = env.run(&["diff"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    insta::assert_snapshot!("diff_text", filtered(&stdout(&out)));
}

#[test]
fn markdown_output_of_the_example() {
    let env = example_with_changes();
    let out = env.run(&["diff", "--format", "markdown"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    insta::assert_snapshot!("diff_markdown", filtered(&stdout(&out)));
}

#[test]
fn stat_output_of_the_example() {
    let env = example_with_changes();
    let out = env.run(&["diff", "--format", "stat"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    insta::assert_snapshot!("diff_stat", stdout(&out));
}

#[test]
fn json_output_parses_back_with_every_documented_field() {
    let env = example_with_changes();
    let out = env.run(&["diff", "--format", "json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let j = json(&out);
    // The shipped schema documents it (the unit tests check every report
    // they make against it too, keys in order).
    assert_matches_schema(&j, "schema/diff.schema.json");
    let keys: Vec<&str> = j.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "base",
            "head",
            "catalog_date",
            "summary",
            "prompts",
            "skipped",
            "warnings"
        ]
    );
    assert_eq!(j["base"]["spec"], "HEAD");
    assert_eq!(j["base"]["kind"], "commit");
    assert_eq!(j["base"]["commit"].as_str().unwrap().len(), 40);
    assert_eq!(j["head"]["kind"], "work_tree");
    assert_eq!(j["summary"]["prompts_changed"], 3);
    assert_eq!(j["summary"]["added"], 1);
    assert_eq!(j["summary"]["renamed"], 1);
    assert_eq!(j["summary"]["modified"], 1);

    let prompts = j["prompts"].as_array().unwrap();
    let names: Vec<&str> = prompts.iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["content/digest", "support/escalate", "support/triage"]);

    let renamed = &prompts[0];
    assert_eq!(renamed["status"], "renamed");
    assert_eq!(renamed["old_name"], "content/summarize");
    assert_eq!(renamed["similarity_pct"], 100);

    let added = &prompts[1];
    assert_eq!(added["status"], "added");
    assert!(added["base"].is_null());
    assert_eq!(added["head"]["model"], "openai:gpt-4.1-mini");
    assert_eq!(added["tokens"]["before"], 0.0);
    assert!(added["tokens"]["pct"].is_null());

    let t = &prompts[2];
    let pkeys: Vec<&str> = t.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        pkeys,
        [
            "name",
            "status",
            "old_name",
            "old_path",
            "new_name",
            "new_path",
            "similarity_pct",
            "base",
            "head",
            "errors",
            "tokens",
            "cost_per_call_usd",
            "cost_per_1k_calls_usd",
            "projection",
            "fields",
            "messages"
        ]
    );
    assert_eq!(t["head"]["samples"]["kind"], "eval_cases");
    assert_eq!(t["head"]["samples"]["cases"], 4);
    assert_eq!(t["head"]["renderings"], 4);
    assert_eq!(t["head"]["exact"], true);
    let tokens = &t["tokens"];
    let (before, after) = (tokens["before"].as_f64().unwrap(), tokens["after"].as_f64().unwrap());
    assert!(after > before);
    assert_eq!(tokens["delta"].as_f64().unwrap(), after - before);
    assert_eq!(t["fields"][0]["field"], "config.max_tokens");
    assert_eq!(t["fields"][0]["kind"], "output_cap");
    assert_eq!(
        (t["fields"][0]["before"].clone(), t["fields"][0]["after"].clone()),
        (200.into(), 250.into())
    );
    assert_eq!(t["projection"]["requests_per_day"], 40000.0);
    let monthly = t["projection"]["monthly_usd"]["delta"].as_f64().unwrap();
    let per_call = t["cost_per_call_usd"]["delta"].as_f64().unwrap();
    assert!((monthly - per_call * 40000.0 * 30.0).abs() < 1e-9);

    let system = &t["messages"][0];
    assert_eq!(system["role"], "system");
    assert_eq!(system["status"], "modified");
    let hunks = system["hunks"].as_array().unwrap();
    assert_eq!(hunks.len(), 2);
    let sum: i64 = hunks.iter().map(|h| h["tokens_delta"].as_i64().unwrap()).sum();
    assert_eq!(sum, system["template_tokens"]["delta"].as_i64().unwrap());
    // The rendered system message has no variables: it moves exactly as its text.
    assert_eq!(sum as f64, system["content_tokens"]["delta"].as_f64().unwrap());
    assert_eq!(sum as f64, tokens["delta"].as_f64().unwrap());
    let line = &hunks[0]["lines"][0];
    assert_eq!(line["op"], "delete");
    assert_eq!(hunks[0]["lines"][1]["op"], "insert");
    assert!(line.get("words").is_none(), "word runs are not part of the schema");
    assert_eq!(t["messages"][1]["status"], "unchanged");
}

#[test]
fn exit_code_reports_whether_prompts_differ() {
    let env = example_with_changes();
    let out = env.run(&["diff", "--exit-code", "--format", "stat"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    env.commit_all("changes");
    let out = env.run(&["diff", "--exit-code"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with("no prompt changes between HEAD ("),
        "{}",
        stdout(&out)
    );
    // Between the two commits: they differ.
    let out = env.run(&["diff", "--exit-code", "HEAD~1", "HEAD", "--format", "json"]);
    assert_eq!(code(&out), 1);
    assert_eq!(json(&out)["summary"]["prompts_changed"], 3);
}

#[test]
fn strict_fails_on_a_head_prompt_that_does_not_parse() {
    let env = TestEnv::with_example();
    env.git_init();
    env.commit_all("example");
    let chat = env
        .read("prompts/support/chat.prompt")
        .replace("max_tokens: 350", "max_token: 350");
    env.write("prompts/support/chat.prompt", &chat);
    let out = env.run(&["diff"]);
    assert_eq!(code(&out), 0, "shown, not fatal: {}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("error (head): prompts/support/chat.prompt:6:3: unknown field `max_token`"),
        "{text}"
    );
    assert!(text.contains("hint: did you mean 'max_tokens'?"), "{text}");
    assert!(text.contains("+  max_token: 350"), "raw file diff shown: {text}");
    let out = env.run(&["diff", "--strict"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("1 prompt at working tree cannot be read or measured (--strict)"));
    assert!(stdout(&out).contains("support/chat"), "the report is still printed");
}

#[test]
fn unknown_revision_exits_2_and_names_it() {
    let env = TestEnv::with_example();
    env.git_init();
    env.commit_all("example");
    let out = env.run(&["diff", "no-such-branch"]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("error: unknown revision 'no-such-branch'"),
        "{}",
        stderr(&out)
    );
    let out = env.run(&["diff", "support/triage"]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("hint: 'support/triage' is a prompt: to limit the diff to it, list it after `--`"),
        "{}",
        stderr(&out)
    );
    let out = env.run(&["diff", "--", "support/triag"]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("did you mean 'support/triage'?"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn limits_after_double_dash() {
    let env = example_with_changes();
    let out = env.run(&["diff", "--format", "json", "--", "support"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let names: Vec<String> = json(&out)["prompts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["support/escalate", "support/triage"]);
    let out = env.run(&["diff", "HEAD", "--format", "json", "--", "content/*"]);
    assert_eq!(json(&out)["summary"]["prompts_changed"], 1);
}

#[test]
fn empty_repository_says_so() {
    let env = TestEnv::with_example();
    env.git_init();
    let out = env.run(&["diff"]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("the repository has no commits yet"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("hint: commit the prompts first"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn outside_a_repository_is_bad_input() {
    let env = TestEnv::with_example();
    let out = env.run(&["diff"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("not a git repository"), "{}", stderr(&out));
}

#[test]
fn shallow_clone_missing_the_base_says_how_to_fetch_it() {
    let origin = TestEnv::with_example();
    origin.git_init();
    origin.commit_all("one");
    origin.git(&["checkout", "-q", "-b", "feature"]);
    origin.write("prompts/support/new.prompt", "user:\nHello {{ name }}\n");
    origin.commit_all("feature");
    origin.git(&["checkout", "-q", "main"]);
    origin.write("prompts/support/other.prompt", "user:\nBye\n");
    origin.commit_all("two");
    let url = format!("file://{}", origin.path().display());

    let clone = TestEnv::new();
    clone.git(&["clone", "-q", "--depth", "1", "--no-single-branch", &url, "."]);
    let out = clone.run(&["diff", "HEAD~1"]);
    assert_eq!(code(&out), 2);
    let err = stderr(&out);
    assert!(err.contains("unknown revision 'HEAD~1'"), "{err}");
    assert!(err.contains("git fetch --unshallow"), "{err}");
    assert!(err.contains("fetch-depth: 0"), "{err}");

    let out = clone.run(&["diff", "origin/main...origin/feature"]);
    assert_eq!(code(&out), 2);
    let err = stderr(&out);
    assert!(err.contains("have no common ancestor"), "{err}");
    assert!(err.contains("git fetch --unshallow"), "{err}");
    // What is there still works.
    let out = clone.run(&["diff", "origin/main", "origin/feature", "--format", "json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

#[test]
fn non_utf8_prompt_is_reported_and_skipped() {
    let env = TestEnv::with_example();
    env.git_init();
    env.commit_all("example");
    std::fs::write(env.path().join("prompts/latin1.prompt"), b"user:\nCaf\xe9\n").unwrap();
    let out = env.run(&["diff"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stdout(&out).contains("skipped prompts/latin1.prompt (head): not valid UTF-8 (line 2); not compared"),
        "{}",
        stdout(&out)
    );
    let out = env.run(&["diff", "--strict"]);
    assert_eq!(code(&out), 2);
}

#[test]
fn cached_shows_staged_changes_only() {
    let env = TestEnv::with_example();
    env.git_init();
    env.commit_all("example");
    env.write("prompts/staged.prompt", "user:\nStaged.\n");
    env.git(&["add", "prompts/staged.prompt"]);
    env.write("prompts/unstaged.prompt", "user:\nNot staged.\n");
    let out = env.run(&["diff", "--cached", "--format", "stat"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let s = stdout(&out);
    assert!(s.contains("staged") && !s.contains("unstaged"), "{s}");
    let out = env.run(&["diff", "--staged", "--format", "json"]);
    assert_eq!(json(&out)["head"]["kind"], "index");
}

#[test]
fn colour_highlights_changed_words_on_request() {
    let env = example_with_changes();
    let out = env.run(&["diff", "--color", "always", "--", "support/triage"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let s = stdout(&out);
    // Changed words inside a changed line: bold + reverse green.
    assert!(s.contains("\u{1b}[1m\u{1b}[7m\u{1b}[32mcarefully: read"), "{s:?}");
    let plain = env.run(&["diff", "--", "support/triage"]);
    assert!(!stdout(&plain).contains('\u{1b}'));
}

#[test]
fn formats_it_cannot_render_are_refused() {
    let env = example_with_changes();
    let out = env.run(&["diff", "--format", "junit"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("`diff` has no junit output"), "{}", stderr(&out));
}

#[test]
fn a_comment_only_change_says_so() {
    let env = TestEnv::with_example();
    env.git_init();
    env.commit_all("example");
    let triage = env
        .read("prompts/support/triage.prompt")
        .replace("  max_tokens: 200", "  max_tokens: 200  # the cap");
    env.write("prompts/support/triage.prompt", &triage);
    let out = env.run(&["diff"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stdout(&out).contains("no change to the messages or settings (formatting or comments only)"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn text_output_of_a_model_change_a_schema_change_and_a_broken_prompt() {
    let env = TestEnv::with_example();
    env.git_init();
    env.commit_all("example");
    let answer = env
        .read("prompts/rag/answer.prompt")
        .replace("model: openai:gpt-4.1-mini", "model: openai:gpt-4o")
        .replace("temperature: 0.2", "temperature: 0");
    env.write("prompts/rag/answer.prompt", &answer);
    let triage = env
        .read("prompts/support/triage.prompt")
        .replace(
            "required: [category, priority, summary]",
            "required: [category, priority, summary, confidence]",
        )
        .replace(
            "      summary: { type: string, maxLength: 140 }",
            "      summary: { type: string, maxLength: 140 }\n      confidence: { type: number }",
        );
    env.write("prompts/support/triage.prompt", &triage);
    let chat = env
        .read("prompts/support/chat.prompt")
        .replace("max_tokens: 350", "max_token: 350");
    env.write("prompts/support/chat.prompt", &chat);
    let out = env.run(&["diff"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    insta::assert_snapshot!("diff_text_settings_and_errors", filtered(&stdout(&out)));
    let out = env.run(&["diff", "--format", "markdown"]);
    insta::assert_snapshot!("diff_markdown_settings_and_errors", filtered(&stdout(&out)));
}

#[test]
fn the_suite_index_is_kept_and_a_second_diff_reads_the_same() {
    let env = example_with_changes();
    env.commit_all("changes");
    let diff = || {
        env.cmd()
            .args(["diff", "HEAD~1", "HEAD", "--format", "json"])
            .output()
            .unwrap()
    };
    let first = diff();
    assert_eq!(code(&first), 0, "{}", stderr(&first));
    let index = env.read(".promptctl/cache/suite-prompts");
    let mut lines = index.lines();
    let header = format!(
        "promptctl suite-prompts index v2 (promptctl {})",
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(lines.next(), Some(header.as_str()));
    // One entry per committed suite the scan could read, naming its prompt,
    // then the suite files of the evals tree (the same at both revisions).
    let rest: Vec<&str> = lines.collect();
    let named: Vec<&str> = rest
        .iter()
        .take_while(|l| !l.starts_with("samples ") && !l.starts_with("tree "))
        .map(|l| l.split_once(' ').unwrap().1)
        .collect();
    assert!(named.contains(&"support/triage"), "{named:?}");
    let trees = rest.iter().filter(|l| l.starts_with("tree ")).count();
    assert_eq!(trees, 1, "{index}");
    // The second run skips the suites of unchanged prompts by the index and
    // must measure exactly what the first did.
    let second = diff();
    assert_eq!(stdout(&first), stdout(&second));
    let j = json(&second);
    let triage = j["prompts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "support/triage")
        .unwrap();
    assert_eq!(triage["head"]["suites_from"], "revision", "{triage}");
}
