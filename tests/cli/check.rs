//! `promptctl check`: the CI gate as a user and GitHub Actions see it.

use crate::env::*;

const TRIAGE: &str = "prompts/support/triage.prompt";

/// Grow the triage prompt's system message: `extra` sentences of about 11 tokens
/// after one of 14 (the base renders at 170 tokens).
fn grow_triage(env: &TestEnv, extra: usize) {
    let text = env.read(TRIAGE).replace(
        "Classify each ticket.",
        &format!(
            "Classify each ticket.\nRead the whole ticket, including any quoted earlier messages, before you answer. {}",
            "Check the customer's tier and the product area they mention. ".repeat(extra)
        ),
    );
    env.write(TRIAGE, &text);
}

/// The example repository committed on main, then a PR branch with `change` applied.
fn pr(change: impl FnOnce(&TestEnv)) -> TestEnv {
    let env = TestEnv::with_example();
    env.git_init();
    env.commit_all("base");
    env.git(&["checkout", "-q", "-b", "pr"]);
    change(&env);
    env.commit_all("pr");
    env
}

fn finding<'a>(report: &'a serde_json::Value, code: &str) -> Option<&'a serde_json::Value> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == code)
}

#[test]
fn the_example_repository_passes() {
    let env = TestEnv::with_example();
    let out = env.run(&["check"]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    assert!(
        stdout(&out).ends_with("check passed: 4 prompts, 0 errors, 0 warnings\n"),
        "{}",
        stdout(&out)
    );
    let out = env.run(&["check", "--format", "json"]);
    let r = json(&out);
    assert_eq!(r["passed"], true);
    assert_eq!(r["findings"].as_array().unwrap().len(), 0);
    let chat = r["prompts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["prompt"] == "support/chat")
        .unwrap();
    assert_eq!(chat["history"]["max_turns"], 10);
    assert!(chat["history"]["worst_input_tokens"].as_u64().unwrap() < 3500);
}

#[test]
fn a_pr_that_grows_a_prompt_by_40_percent_fails_the_gate() {
    let env = pr(|env| grow_triage(env, 5));

    let out = env.run(&["check", "--base", "main", "--format", "json"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let r = json(&out);
    assert_eq!(r["passed"], false);
    assert_eq!(r["base"]["rev"], "main");
    let f = finding(&r, "budget/input-growth").expect("an input-growth finding");
    assert_eq!(f["severity"], "error");
    assert_eq!(f["prompt"], "support/triage");
    assert_eq!(f["file"], TRIAGE);
    assert_eq!(f["limit"], 25.0);
    let grew = f["measured"].as_f64().unwrap();
    assert!((38.0..45.0).contains(&grew), "grew {grew}%");
    let triage = r["prompts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["prompt"] == "support/triage")
        .unwrap();
    assert_eq!(triage["base"]["status"], "measured");
    assert_eq!(triage["base"]["input_tokens"], 170);

    let out = env.run(&["check", "--base", "main", "--format", "github"]);
    assert_eq!(code(&out), 1);
    let text = stdout(&out);
    let line = text
        .lines()
        .find(|l| l.contains("budget/input-growth"))
        .unwrap_or_else(|| panic!("no annotation in:\n{text}"));
    let head = triage["input_tokens"].as_u64().unwrap();
    assert!(
        line.starts_with(&format!(
            "::error file={TRIAGE},line=31,title=promptctl budget/input-growth (support/triage)::input grew {grew:.1}%25 against main (170 → {head} tokens), over the limit of 25%25"
        )),
        "{line}"
    );
    assert!(
        text.ends_with("promptctl check failed: 4 prompts, 1 error, 0 warnings\n"),
        "{text}"
    );
}

#[test]
fn a_pr_within_budget_passes() {
    let env = pr(|env| grow_triage(env, 0));
    let out = env.run(&["check", "--base", "main"]);
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    assert!(stdout(&out).contains("170 → 186 (+9.4%)"), "{}", stdout(&out));
}

#[test]
fn the_github_format_appends_to_the_job_summary() {
    let env = pr(|env| grow_triage(env, 5));
    env.write("summary.md", "## Earlier step\n");
    let out = env
        .cmd()
        .args(["check", "--base", "main", "--format", "github"])
        .env("GITHUB_STEP_SUMMARY", env.path().join("summary.md"))
        .output()
        .unwrap();
    assert_eq!(code(&out), 1);
    let summary = env.read("summary.md");
    assert!(
        summary.starts_with("## Earlier step\n\n### promptctl check: ❌ failed"),
        "{summary}"
    );
    assert!(
        summary.contains("| ❌ error | `budget/input-growth` | `prompts/support/triage.prompt:31` |"),
        "{summary}"
    );
    assert!(
        summary.contains("#### Tokens and cost per call (`main` → head)"),
        "{summary}"
    );
    assert!(
        summary.contains("| `support/triage` | openai:gpt-4o-mini | 170 → "),
        "{summary}"
    );
    // A second run appends again.
    env.cmd()
        .args(["check", "--base", "main", "--format", "github"])
        .env("GITHUB_STEP_SUMMARY", env.path().join("summary.md"))
        .output()
        .unwrap();
    assert_eq!(env.read("summary.md").matches("### promptctl check").count(), 2);
    // Other formats leave it alone.
    env.cmd()
        .args(["check", "--base", "main"])
        .env("GITHUB_STEP_SUMMARY", env.path().join("summary.md"))
        .output()
        .unwrap();
    assert_eq!(env.read("summary.md").matches("### promptctl check").count(), 2);
}

#[test]
fn a_shallow_clone_without_the_base_explains_the_fix() {
    let env = pr(|env| grow_triage(env, 0));
    let src = format!("file://{}", env.path().display());
    let clone = TestEnv::new();
    clone.git(&["clone", "-q", "--depth", "1", "--branch", "pr", &src, "repo"]);
    let out = clone
        .cmd()
        .args(["-C", "repo", "check", "--base", "HEAD~1"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("error: unknown revision 'HEAD~1'"), "{err}");
    assert!(err.contains("hint: this is a shallow clone"), "{err}");
    assert!(err.contains("git fetch --unshallow"), "{err}");
    assert!(err.contains("fetch-depth: 0"), "{err}");
}

#[test]
fn invalid_budgets_in_promptctl_toml_are_input_errors_with_a_line() {
    let env = TestEnv::with_example();
    let cfg = env.read("promptctl.toml");
    for (bad, line, needle) in [
        (
            "max_input_tokens = 4000",
            "max_input_tokens = -4000",
            "promptctl.toml:11:",
        ),
        (
            "max_input_tokens = 4000",
            "max_input_tokens = \"many\"",
            "promptctl.toml:11:",
        ),
        (
            "max_input_tokens = 4000",
            "max_input_tokenz = 4000",
            "promptctl.toml:11:",
        ),
        (
            "max_cost_per_call_usd = 0.005",
            "max_cost_per_call_usd = -0.005",
            "promptctl.toml:12:",
        ),
    ] {
        env.write("promptctl.toml", &cfg.replace(bad, line));
        let out = env.run(&["check"]);
        assert_eq!(code(&out), 2, "{line}: {}", stderr(&out));
        assert!(
            stderr(&out).starts_with(&format!("error: {needle}")),
            "{line}: {}",
            stderr(&out)
        );
    }
    env.write(
        "promptctl.toml",
        &cfg.replace("max_input_tokens = 4000", "max_input_tokenz = 4000"),
    );
    assert!(stderr(&env.run(&["check"])).contains("hint: did you mean 'max_input_tokens'?"));
}

#[test]
fn an_override_without_a_reason_is_an_input_error() {
    let env = TestEnv::with_example();
    let cfg = env.read("promptctl.toml");
    env.write(
        "promptctl.toml",
        &format!("{cfg}\n[[check.override]]\ncode = \"lint/unused-variable\"\nseverity = \"ignore\"\nreason = \"\"\n"),
    );
    let out = env.run(&["check"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("needs a non-empty reason"), "{}", stderr(&out));
}

#[test]
fn a_prompt_that_fails_to_parse_is_a_finding() {
    let env = TestEnv::with_example();
    env.write(
        "prompts/broken.prompt",
        "---\nmodel: openai:gpt-4o-mini\nconfig:\n  max_token: 10\n---\nhi\n",
    );
    let out = env.run(&["check"]);
    assert_eq!(code(&out), 1);
    let text = stdout(&out);
    assert!(
        text.starts_with("error[parse/error]: broken: unknown field `max_token`"),
        "{text}"
    );
    assert!(text.contains("  --> prompts/broken.prompt:4\n"), "{text}");
    assert!(
        text.contains("support/triage     openai:gpt-4o-mini"),
        "the others are checked:\n{text}"
    );
    assert!(
        text.ends_with("check failed: 5 prompts, 1 error, 0 warnings\n"),
        "{text}"
    );
}

#[test]
fn text_output_of_a_failing_check() {
    let env = pr(|env| {
        grow_triage(env, 5);
        env.write(
            "prompts/reason/plan.prompt",
            "---\nmodel: openai:o3\nconfig:\n  max_tokens: 2000\n  temperature: 0.2\n---\nPlan the migration.\n",
        );
    });
    let out = env.run(&["check", "--base", "main"]);
    assert_eq!(code(&out), 1);
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(r"\(main \([0-9a-f]{12}\)\)", "(main ([commit]))");
    settings.add_filter(r"base: main \([0-9a-f]{12}\)", "base: main ([commit])");
    settings.bind(|| insta::assert_snapshot!(stdout(&out)));
}

#[test]
fn names_limit_the_check() {
    let env = TestEnv::with_example();
    let out = env.run(&[
        "check",
        "support/triage",
        "prompts/rag/answer.prompt",
        "--format",
        "json",
    ]);
    assert_eq!(code(&out), 0);
    let names: Vec<String> = json(&out)["prompts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["prompt"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["rag/answer", "support/triage"]);
    let out = env.run(&["check", "support/triag"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("hint: did you mean 'support/triage'?"));
}

#[test]
fn sarif_and_markdown_formats() {
    let env = TestEnv::with_example();
    env.write("prompts/broken.prompt", "---\nnope: 1\n---\nhi\n");
    let out = env.run(&["check", "--format", "sarif"]);
    assert_eq!(code(&out), 1);
    let log = json(&out);
    assert_eq!(log["version"], "2.1.0");
    let result = &log["runs"][0]["results"][0];
    assert_eq!(result["ruleId"], "parse/error");
    assert_eq!(
        result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "prompts/broken.prompt"
    );
    assert_eq!(result["locations"][0]["physicalLocation"]["region"]["startLine"], 2);

    let out = env.run(&["check", "--format", "markdown"]);
    assert_eq!(code(&out), 1);
    assert!(stdout(&out).starts_with("### promptctl check: ❌ failed — 1 error, 0 warnings in 5 prompts"));
}

#[test]
fn formats_check_does_not_render_are_refused() {
    let env = TestEnv::with_example();
    let out = env.run(&["check", "--format", "junit"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("hint: use --format text | json | github | markdown | sarif"));
}

#[test]
fn init_ci_github_writes_a_valid_workflow_once() {
    let env = TestEnv::new();
    env.git_init();
    let out = env.run(&["init", "--ci", "github"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let wf: serde_json::Value = serde_saphyr::from_str(&env.read(".github/workflows/promptctl.yml")).unwrap();
    assert_eq!(wf["on"]["pull_request"]["paths"][0], "prompts/**");
    let steps = wf["jobs"]["gate"]["steps"].as_array().unwrap();
    assert_eq!(steps[0]["with"]["fetch-depth"], 0);
    assert!(
        steps
            .iter()
            .any(|s| s["run"] == "promptctl check --base \"origin/$BASE_REF\" --format github")
    );
    assert!(
        env.path().join("promptctl.toml").is_file(),
        "a new project is scaffolded too"
    );
    // The scaffold passes its own gate.
    assert_eq!(code(&env.run(&["check"])), 0);

    // Never overwritten without --force.
    env.write(".github/workflows/promptctl.yml", "# mine\n");
    let out = env.run(&["init", "--ci", "github"]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("refusing to overwrite .github/workflows/promptctl.yml"),
        "{}",
        stderr(&out)
    );
    assert_eq!(env.read(".github/workflows/promptctl.yml"), "# mine\n");
    let out = env.run(&["init", "--ci", "github", "--force"]);
    assert_eq!(code(&out), 0);
    assert!(
        env.read(".github/workflows/promptctl.yml")
            .contains("promptctl check --base")
    );
}

#[test]
fn init_ci_github_in_an_existing_project_writes_only_the_workflow() {
    let env = TestEnv::with_example();
    env.write(
        "promptctl.toml",
        &env.read("promptctl.toml")
            .replace("prompts_dir = \"prompts\"", "prompts_dir = \"llm\""),
    );
    std::fs::rename(env.path().join("prompts"), env.path().join("llm")).unwrap();
    let before = env.read("promptctl.toml");
    let out = env.run(&["init", "--ci", "github"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stderr(&out), "     Created .github/workflows/promptctl.yml\n");
    assert_eq!(env.read("promptctl.toml"), before);
    assert!(!env.path().join("prompts").exists());
    let wf: serde_json::Value = serde_saphyr::from_str(&env.read(".github/workflows/promptctl.yml")).unwrap();
    assert_eq!(wf["on"]["pull_request"]["paths"][0], "llm/**");
}

fn repo_yaml(rel: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(example_root().join(rel)).unwrap();
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

#[test]
fn the_projects_own_gate_builds_from_source_and_checks_the_example() {
    let wf = repo_yaml(".github/workflows/promptctl.yml");
    let paths = wf["on"]["pull_request"]["paths"].as_array().unwrap();
    for p in ["prompts/**", "evals/**", "promptctl.toml"] {
        assert!(paths.iter().any(|x| x == p), "{p}");
    }
    let steps = wf["jobs"]["gate"]["steps"].as_array().unwrap();
    assert_eq!(steps[0]["uses"], "actions/checkout@v4");
    assert_eq!(steps[0]["with"]["fetch-depth"], 0);
    let runs: Vec<&str> = steps.iter().filter_map(|s| s["run"].as_str()).collect();
    let pos = |needle: &str| {
        runs.iter()
            .position(|r| r.starts_with(needle))
            .unwrap_or_else(|| panic!("no step runs {needle}: {runs:?}"))
    };
    assert!(pos("cargo build --release --locked") < pos("promptctl check --base \"origin/$BASE_REF\" --format github"));
    assert!(pos("promptctl check") < pos("promptctl eval --offline"));
}

#[test]
fn pre_commit_hooks_run_check_on_prompt_changes() {
    let hooks = repo_yaml(".pre-commit-hooks.yaml");
    let hooks = hooks.as_array().unwrap();
    let ids: Vec<&str> = hooks.iter().map(|h| h["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["promptctl-check", "promptctl-check-system"]);
    for h in hooks {
        assert_eq!(h["entry"], "promptctl check");
        assert_eq!(h["pass_filenames"], false);
        let files = h["files"].as_str().unwrap();
        assert!(files.contains(r"\.prompt$") && files.contains("promptctl"), "{files}");
    }
    assert_eq!(hooks[0]["language"], "rust");
    assert_eq!(hooks[1]["language"], "system");
}

#[test]
fn an_unwritable_job_summary_is_a_warning_not_a_failure() {
    let env = TestEnv::with_example();
    let out = env
        .cmd()
        .args(["check", "--format", "github"])
        .env("GITHUB_STEP_SUMMARY", env.path().join("no/such/dir/summary.md"))
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stderr(&out).starts_with("warning: could not write the job summary: "),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        stdout(&out),
        "promptctl check passed: 4 prompts, 0 errors, 0 warnings\n"
    );
}
