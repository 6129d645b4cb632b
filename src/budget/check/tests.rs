//! Each rule with a passing and a failing case, on small projects in temp dirs.

use std::path::Path;

use super::*;
use crate::budget::rules::Severity;

struct Fx {
    dir: tempfile::TempDir,
}

impl Fx {
    fn new(files: &[(&str, &str)]) -> Fx {
        let fx = Fx {
            dir: tempfile::tempdir().unwrap(),
        };
        for (rel, text) in files {
            fx.write(rel, text);
        }
        fx
    }

    fn write(&self, rel: &str, text: &str) {
        let p = self.dir.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    fn project(&self) -> Project {
        Project::open(self.dir.path()).unwrap()
    }

    fn check(&self) -> CheckReport {
        check(&self.project(), &Options::default()).unwrap()
    }

    fn check_base(&self, base: &str) -> CheckReport {
        let opts = Options {
            base: Some(base.to_string()),
            ..Options::default()
        };
        check(&self.project(), &opts).unwrap()
    }

    /// Commit the whole working tree (git2, fixed identity and time).
    fn commit_all(&self) {
        let dir = self.dir.path();
        let repo = git2::Repository::open(dir)
            .or_else(|_| git2::Repository::init(dir))
            .unwrap();
        let mut idx = repo.index().unwrap();
        idx.add_all(["*"], git2::IndexAddOption::DEFAULT, None).unwrap();
        idx.write().unwrap();
        let tree = repo.find_tree(idx.write_tree().unwrap()).unwrap();
        let sig = git2::Signature::new("T", "t@example.com", &git2::Time::new(1_767_225_600, 0)).unwrap();
        let parent = repo.head().ok().and_then(|h| h.peel_to_commit().ok());
        let parents: Vec<&git2::Commit> = parent.iter().collect();
        repo.commit(Some("HEAD"), &sig, &sig, "commit", &tree, &parents)
            .unwrap();
    }
}

/// A prompt for gpt-4o-mini with one variable, its default, and extra front matter.
fn prompt(extra: &str, body: &str) -> String {
    format!(
        "---\nmodel: openai:gpt-4o-mini\nconfig:\n  max_tokens: 100\ninput:\n  schema: [text]\n  default:\n    text: hello there\n{extra}---\nsystem:\nBe brief.\n\nuser:\n{body}\n"
    )
}

fn simple(extra: &str) -> String {
    prompt(extra, "{{ text }}")
}

fn codes(r: &CheckReport) -> Vec<&'static str> {
    r.findings.iter().map(|f| f.code).collect()
}

fn only<'a>(r: &'a CheckReport, code: &str) -> &'a Finding {
    let hits: Vec<&Finding> = r.findings.iter().filter(|f| f.code == code).collect();
    assert_eq!(hits.len(), 1, "expected one {code} in {:#?}", r.findings);
    hits[0]
}

fn absent(r: &CheckReport, code: &str) {
    assert!(!codes(r).contains(&code), "unexpected {code}: {:#?}", r.findings);
}

#[test]
fn a_clean_project_passes_with_figures() {
    let r = Fx::new(&[("prompts/a.prompt", &simple(""))]).check();
    assert!(r.passed, "{:#?}", r.findings);
    assert!(r.findings.is_empty());
    let p = &r.prompts[0];
    assert_eq!(p.model.as_deref(), Some("openai:gpt-4o-mini"));
    assert_eq!(p.exact, Some(true));
    assert_eq!(p.output_cap, Some(100));
    assert!(p.input_tokens.unwrap() > 10);
    assert!(p.cost_per_call_usd.unwrap() > 0.0);
    assert_eq!(r.summary.prompts, 1);
}

#[test]
fn parse_error_is_a_finding_and_the_rest_is_checked() {
    let fx = Fx::new(&[
        ("prompts/a.prompt", &simple("")),
        ("prompts/b.prompt", "---\nconfig:\n  max_token: 3\n---\nhi\n"),
    ]);
    let r = fx.check();
    assert!(!r.passed);
    let f = only(&r, rules::PARSE_ERROR);
    assert_eq!(f.prompt.as_deref(), Some("b"));
    assert_eq!(f.file, Path::new("prompts/b.prompt"));
    assert_eq!(f.line, Some(3));
    assert!(f.message.starts_with("unknown field `max_token`"), "{}", f.message);
    assert_eq!(f.hints[0], "did you mean 'max_tokens'?");
    assert!(r.prompts[0].input_tokens.is_some(), "a is still measured");
    assert!(!r.prompts[1].parsed);
}

#[test]
fn invalid_front_matter_budget_is_a_parse_finding_with_its_line() {
    let fx = Fx::new(&[("prompts/a.prompt", &simple("budget:\n  max_input_tokens: -5\n"))]);
    let f = fx.check().findings[0].clone();
    assert_eq!(f.code, rules::PARSE_ERROR);
    assert_eq!(f.line, Some(10));
    let fx = Fx::new(&[("prompts/a.prompt", &simple("budget:\n  max_cost_per_call_usd: -1\n"))]);
    let f = fx.check().findings[0].clone();
    assert!(f.message.contains("non-negative"), "{}", f.message);
    assert_eq!(f.line, Some(10));
}

#[test]
fn a_broken_eval_suite_is_a_finding() {
    let fx = Fx::new(&[
        ("prompts/a.prompt", &simple("")),
        ("evals/a.yaml", "prompt: a\ncasez: []\n"),
    ]);
    let r = fx.check();
    let f = only(&r, rules::PARSE_ERROR);
    assert_eq!(f.prompt, None);
    assert_eq!(f.file, Path::new("evals/a.yaml"));
    assert_eq!(f.line, Some(2));
}

#[test]
fn input_tokens_over_and_under_budget() {
    let fx = Fx::new(&[("prompts/a.prompt", &simple("budget:\n  max_input_tokens: 5\n"))]);
    let r = fx.check();
    let f = only(&r, rules::INPUT_TOKENS);
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(f.limit, Some(5.0));
    assert_eq!(f.measured, Some(r.prompts[0].input_tokens.unwrap() as f64));
    assert_eq!(f.unit, Some(Unit::Tokens));
    assert_eq!(f.exact, Some(true));
    assert_eq!(f.line, Some(10), "points at the front-matter key");
    assert_eq!(
        f.limit_source.as_deref(),
        Some("max_input_tokens in prompts/a.prompt front matter")
    );
    assert!(!r.passed);

    let r = Fx::new(&[("prompts/a.prompt", &simple("budget:\n  max_input_tokens: 5000\n"))]).check();
    absent(&r, rules::INPUT_TOKENS);
    assert!(r.passed);
}

#[test]
fn input_tokens_use_the_largest_eval_case() {
    let fx = Fx::new(&[
        ("promptctl.toml", "[budget]\nmax_input_tokens = 40\n"),
        ("prompts/a.prompt", &simple("")),
        (
            "evals/a.yaml",
            &format!(
                "prompt: a\ncases:\n  - vars: {{text: short}}\n  - vars: {{text: \"{}\"}}\n",
                "word ".repeat(60)
            ),
        ),
    ]);
    let r = fx.check();
    let f = only(&r, rules::INPUT_TOKENS);
    assert!(f.measured.unwrap() > 60.0);
    assert!(f.message.contains("largest of 2 eval cases"), "{}", f.message);
    assert_eq!(
        f.limit_source.as_deref(),
        Some("max_input_tokens in promptctl.toml [budget]")
    );
    // A project-level limit points at the body, where the tokens are.
    assert_eq!(f.line, Some(11));
}

#[test]
fn output_cap_required() {
    let no_cap = "---\nmodel: openai:gpt-4o-mini\n---\nhello\n";
    let fx = Fx::new(&[
        ("promptctl.toml", "[budget]\nrequire_output_cap = true\n"),
        ("prompts/a.prompt", no_cap),
    ]);
    let f = only(&fx.check(), rules::OUTPUT_CAP_MISSING).clone();
    assert_eq!(f.line, Some(1));
    assert_eq!(
        f.limit_source.as_deref(),
        Some("require_output_cap in promptctl.toml [budget]")
    );
    // Capped: passes. Not required: passes.
    fx.write("prompts/a.prompt", &simple(""));
    absent(&fx.check(), rules::OUTPUT_CAP_MISSING);
    let fx = Fx::new(&[("prompts/a.prompt", no_cap)]);
    absent(&fx.check(), rules::OUTPUT_CAP_MISSING);
}

#[test]
fn output_cap_over_budget_or_model_limit() {
    let fx = Fx::new(&[("prompts/a.prompt", &simple("budget:\n  max_output_tokens: 50\n"))]);
    let r = fx.check();
    let f = only(&r, rules::OUTPUT_TOKENS);
    assert_eq!((f.limit, f.measured), (Some(50.0), Some(100.0)));
    assert_eq!(f.line, Some(4), "the max_tokens line");

    let r = Fx::new(&[("prompts/a.prompt", &simple("budget:\n  max_output_tokens: 100\n"))]).check();
    absent(&r, rules::OUTPUT_TOKENS);

    let over_model = simple("").replace("max_tokens: 100", "max_tokens: 999999");
    let r = Fx::new(&[("prompts/a.prompt", &over_model)]).check();
    let f = only(&r, rules::OUTPUT_TOKENS);
    assert!(f.message.contains("openai:gpt-4o-mini's output limit"), "{}", f.message);
}

#[test]
fn cost_per_call() {
    // gpt-4o-mini: $0.60 per 1M output tokens, so the cap alone costs $0.00006.
    let fx = Fx::new(&[(
        "prompts/a.prompt",
        &simple("budget:\n  max_cost_per_call_usd: 0.00001\n"),
    )]);
    let r = fx.check();
    let f = only(&r, rules::COST_PER_CALL);
    assert_eq!(f.unit, Some(Unit::Usd));
    assert_eq!(f.measured, r.prompts[0].cost_per_call_usd);
    assert!(f.message.contains("output at the cap of 100 tokens"), "{}", f.message);

    let r = Fx::new(&[("prompts/a.prompt", &simple("budget:\n  max_cost_per_call_usd: 0.01\n"))]).check();
    absent(&r, rules::COST_PER_CALL);
}

const TINY_MODEL: &str = r#"
[models."local:tiny"]
context_window = 200
max_output_tokens = 150
input = 1.0
output = 1.0
"#;

#[test]
fn context_fit_with_and_without_margin() {
    let p = simple("").replace("openai:gpt-4o-mini", "local:tiny");
    // ~30 input + 100 cap fits 200 ...
    let fx = Fx::new(&[("promptctl.toml", TINY_MODEL), ("prompts/a.prompt", &p)]);
    let r = fx.check();
    absent(&r, rules::CONTEXT_FIT);
    assert_eq!(r.prompts[0].exact, Some(false));
    // ... but not 200 less a 50% margin (100).
    fx.write(
        "promptctl.toml",
        &format!("[budget]\ncontext_margin_pct = 50\n{TINY_MODEL}"),
    );
    let r = fx.check();
    let f = only(&r, rules::CONTEXT_FIT);
    assert_eq!(f.limit, Some(100.0));
    assert_eq!(f.exact, Some(false), "local:tiny has no public tokenizer");
    assert!(f.message.contains("less the 50% margin"), "{}", f.message);
}

const CHAT: &str = "---\nmodel: openai:gpt-4o-mini\nconfig:\n  max_tokens: 300\ninput:\n  schema: [message, history]\n  history: history\n{budget}---\nsystem:\nYou help.\n\nhistory:\n\nuser:\n{{ message }}\n";

const CHAT_SUITE: &str = "prompt: chat\ncases:\n  - vars:\n      message: hi\n      history:\n        - {role: user, content: where is my order}\n        - {role: assistant, content: Which order?}\n";

fn chat(budget: &str) -> Fx {
    Fx::new(&[
        ("prompts/chat.prompt", &CHAT.replace("{budget}", budget)),
        ("evals/chat.yaml", CHAT_SUITE),
    ])
}

#[test]
fn history_needs_a_budget() {
    let r = chat("").check();
    let f = only(&r, rules::HISTORY_UNDECLARED);
    assert!(f.message.contains("'history'"), "{}", f.message);
    assert_eq!(f.line, Some(7), "the input.history line");

    let r = chat("budget:\n  max_history_turns: 4\n").check();
    absent(&r, rules::HISTORY_UNDECLARED);
    assert!(r.passed, "{:#?}", r.findings);
}

#[test]
fn history_worst_case_follows_the_documented_method() {
    let r = chat("budget:\n  max_history_turns: 4\n").check();
    let h = r.prompts[0].history.as_ref().expect("history measured");
    // An assistant turn is bounded by the cap: 300 + 3 framing + 1 role token.
    assert_eq!(h.assistant_turn_tokens, Some(304));
    let user_turn = 3 + 1 + crate::tokens::count_text(crate::catalog::TokenizerKind::O200kBase, "where is my order");
    assert_eq!(h.user_turn_tokens, Some(user_turn));
    assert_eq!(h.history_tokens, 2 * 304 + 2 * user_turn);
    assert_eq!(h.worst_input_tokens, h.without_history_tokens + h.history_tokens);
    // The request with empty history is smaller than the sample with history.
    assert!(h.without_history_tokens < r.prompts[0].input_tokens.unwrap());
    // max_history_tokens below the turns bound wins.
    let r = chat("budget:\n  max_history_turns: 4\n  max_history_tokens: 100\n").check();
    let h = r.prompts[0].history.as_ref().unwrap();
    assert_eq!(h.history_tokens, 100);
    assert_eq!(h.method, "max_history_tokens = 100");
}

#[test]
fn history_fit_against_max_input_tokens_and_the_window() {
    let r = chat("budget:\n  max_history_turns: 10\n  max_input_tokens: 1000\n").check();
    let f = only(&r, rules::HISTORY_FIT);
    assert_eq!(f.limit, Some(1000.0));
    assert!(f.measured.unwrap() > 1500.0);
    assert!(
        f.message.starts_with("at 10 history turns the request is"),
        "{}",
        f.message
    );
    assert_eq!(f.line, Some(9), "the max_history_turns line");
    absent(&r, rules::INPUT_TOKENS);

    let r = chat("budget:\n  max_history_turns: 2\n  max_input_tokens: 1000\n").check();
    absent(&r, rules::HISTORY_FIT);

    // The window: 400 turns of 304 tokens do not fit 128k.
    let r = chat("budget:\n  max_history_turns: 1000\n").check();
    let f = only(&r, rules::HISTORY_FIT);
    assert_eq!(f.limit, Some(128_000.0));
}

#[test]
fn history_without_any_turn_length_is_unbounded() {
    let p = CHAT
        .replace("{budget}", "budget:\n  max_history_turns: 4\n")
        .replace("config:\n  max_tokens: 300\n", "");
    let fx = Fx::new(&[("prompts/chat.prompt", &p)]);
    let r = fx.check();
    let f = only(&r, rules::HISTORY_FIT);
    assert!(f.message.starts_with("cannot bound history variable"), "{}", f.message);
    // A token budget bounds it without turn lengths.
    let p = p.replace("max_history_turns: 4", "max_history_tokens: 500");
    fx.write("prompts/chat.prompt", &p);
    absent(&fx.check(), rules::HISTORY_FIT);
}

#[test]
fn undeclared_and_unused_variables() {
    let r = Fx::new(&[("prompts/a.prompt", &prompt("", "{{ text }} {{ txet }}"))]).check();
    let f = only(&r, rules::UNDECLARED_VARIABLE);
    assert!(f.message.contains("'txet'"));
    assert_eq!(f.line, Some(14));
    assert!(!r.passed);

    let p = "---\nconfig: {max_tokens: 10}\ninput:\n  schema:\n    type: object\n    properties:\n      text: {type: string}\n      tone: {type: string}\n  default: {text: a, tone: b}\n---\n{{ text }}\n";
    let r = Fx::new(&[("prompts/a.prompt", p)]).check();
    let f = only(&r, rules::UNUSED_VARIABLE);
    assert!(f.message.contains("'tone'"));
    assert_eq!(f.line, Some(8));
    assert_eq!(f.severity, Severity::Warning);
    assert!(r.passed, "a warning does not fail the gate");

    let r = Fx::new(&[("prompts/a.prompt", &simple(""))]).check();
    absent(&r, rules::UNDECLARED_VARIABLE);
    absent(&r, rules::UNUSED_VARIABLE);
}

#[test]
fn json_output_needs_a_schema() {
    let r = Fx::new(&[("prompts/a.prompt", &simple("output:\n  format: json\n"))]).check();
    let f = only(&r, rules::MISSING_OUTPUT_SCHEMA);
    assert_eq!(f.line, Some(10));
    let with = simple("output:\n  format: json\n  schema: {type: object}\n");
    absent(
        &Fx::new(&[("prompts/a.prompt", &with)]).check(),
        rules::MISSING_OUTPUT_SCHEMA,
    );
    let text = simple("output:\n  format: text\n");
    absent(
        &Fx::new(&[("prompts/a.prompt", &text)]).check(),
        rules::MISSING_OUTPUT_SCHEMA,
    );
}

#[test]
fn invalid_json_schemas() {
    let bad = simple("output:\n  format: json\n  schema:\n    type: objekt\n");
    let r = Fx::new(&[("prompts/a.prompt", &bad)]).check();
    let f = only(&r, rules::INVALID_JSON_SCHEMA);
    assert!(
        f.message.starts_with("output.schema is not a valid JSON Schema"),
        "{}",
        f.message
    );
    assert_eq!(f.line, Some(11));

    let bad_input = "---\nconfig: {max_tokens: 10}\ninput:\n  schema:\n    type: object\n    required: text\n---\nhi\n";
    let r = Fx::new(&[("prompts/a.prompt", bad_input)]).check();
    let f = only(&r, rules::INVALID_JSON_SCHEMA);
    assert!(f.message.starts_with("input.schema"), "{}", f.message);
    assert_eq!(f.line, Some(4));

    let bad_pattern = simple("output:\n  format: json\n  schema: {type: string, pattern: \"(\"}\n");
    let r = Fx::new(&[("prompts/a.prompt", &bad_pattern)]).check();
    only(&r, rules::INVALID_JSON_SCHEMA);

    let good = simple(
        "output:\n  format: json\n  schema:\n    type: object\n    required: [a]\n    properties: {a: {type: string, enum: [x, y]}}\n",
    );
    absent(
        &Fx::new(&[("prompts/a.prompt", &good)]).check(),
        rules::INVALID_JSON_SCHEMA,
    );
}

#[test]
fn unknown_model() {
    let p = simple("").replace("openai:gpt-4o-mini", "openai:gpt-4o-mimi");
    let r = Fx::new(&[("prompts/a.prompt", &p)]).check();
    let f = only(&r, rules::UNKNOWN_MODEL);
    assert_eq!(f.line, Some(2));
    assert!(f.hints.iter().any(|h| h.contains("gpt-4o-mini")), "{:?}", f.hints);
    assert!(r.prompts[0].input_tokens.is_none());

    // The project default names an unknown model.
    let fx = Fx::new(&[
        ("promptctl.toml", "[project]\ndefault_model = \"openai:nope\"\n"),
        ("prompts/a.prompt", "---\nconfig: {max_tokens: 10}\n---\nhi\n"),
    ]);
    let f = only(&fx.check(), rules::UNKNOWN_MODEL).clone();
    assert!(f.message.contains("default_model"), "{}", f.message);

    absent(
        &Fx::new(&[("prompts/a.prompt", &simple(""))]).check(),
        rules::UNKNOWN_MODEL,
    );
}

#[test]
fn temperature_on_a_model_that_ignores_it() {
    let p = simple("").replace("openai:gpt-4o-mini", "openai:o3").replace(
        "config:\n  max_tokens: 100\n",
        "config:\n  max_tokens: 100\n  temperature: 0.2\n",
    );
    let r = Fx::new(&[("prompts/a.prompt", &p)]).check();
    let f = only(&r, rules::TEMPERATURE_IGNORED);
    assert_eq!(f.severity, Severity::Warning);
    assert_eq!(f.line, Some(5));
    assert!(r.passed);

    let p = p.replace("  temperature: 0.2\n", "");
    absent(
        &Fx::new(&[("prompts/a.prompt", &p)]).check(),
        rules::TEMPERATURE_IGNORED,
    );
    let p = simple("").replace("max_tokens: 100\n", "max_tokens: 100\n  temperature: 0.2\n");
    absent(
        &Fx::new(&[("prompts/a.prompt", &p)]).check(),
        rules::TEMPERATURE_IGNORED,
    );
}

#[test]
fn duplicate_names() {
    let fx = Fx::new(&[
        ("prompts/support/triage.prompt", &simple("")),
        ("prompts/Support/Triage.prompt", &simple("")),
        ("prompts/other.prompt", &simple("")),
    ]);
    let r = fx.check();
    let dups: Vec<&Finding> = r.findings.iter().filter(|f| f.code == rules::DUPLICATE_NAME).collect();
    assert_eq!(dups.len(), 2);
    assert!(dups.iter().all(|f| f.message.contains("'support/triage'")));
    assert_eq!(r.prompts.len(), 3, "both files are still checked");
    absent(
        &Fx::new(&[("prompts/support/triage.prompt", &simple(""))]).check(),
        rules::DUPLICATE_NAME,
    );
}

#[test]
fn a_prompt_that_does_not_render_with_its_cases() {
    let fx = Fx::new(&[
        (
            "prompts/a.prompt",
            &prompt("", "{{ text }} {{ lang }}").replace("[text]", "[text, lang]"),
        ),
        ("evals/a.yaml", "prompt: a\ncases:\n  - vars: {text: hi}\n"),
    ]);
    let r = fx.check();
    let f = only(&r, rules::RENDER_ERROR);
    assert!(f.message.contains("missing variable 'lang'"), "{}", f.message);
    assert_eq!(f.line, Some(14));
    fx.write("evals/a.yaml", "prompt: a\ncases:\n  - vars: {text: hi, lang: en}\n");
    absent(&fx.check(), rules::RENDER_ERROR);
}

#[test]
fn directory_budgets_sit_between_project_and_front_matter() {
    let cfg = "[budget]\nmax_input_tokens = 5000\n\n[check.budgets.support]\nmax_input_tokens = 5\n";
    let fx = Fx::new(&[
        ("promptctl.toml", cfg),
        ("prompts/support/a.prompt", &simple("")),
        (
            "prompts/support/b.prompt",
            &simple("budget:\n  max_input_tokens: 6000\n"),
        ),
        ("prompts/other.prompt", &simple("")),
    ]);
    let r = fx.check();
    let hits: Vec<&str> = r
        .findings
        .iter()
        .filter(|f| f.code == rules::INPUT_TOKENS)
        .filter_map(|f| f.prompt.as_deref())
        .collect();
    assert_eq!(hits, ["support/a"]);
    let f = only(&r, rules::INPUT_TOKENS);
    assert_eq!(
        f.limit_source.as_deref(),
        Some("max_input_tokens in promptctl.toml [check.budgets.\"support\"]")
    );
    assert_eq!(r.prompts[2].prompt, "support/b");
    assert_eq!(r.prompts[2].budget.max_input_tokens, Some(6000));
}

#[test]
fn a_pattern_that_matches_nothing_is_a_warning() {
    let cfg = "[check.budgets.\"suport/**\"]\nmax_input_tokens = 5\n";
    let fx = Fx::new(&[("promptctl.toml", cfg), ("prompts/support/a.prompt", &simple(""))]);
    let r = fx.check();
    let f = only(&r, rules::UNMATCHED_PATTERN);
    assert_eq!(f.file, Path::new("promptctl.toml"));
    assert_eq!(f.line, Some(1));
    assert!(r.passed);
    fx.write(
        "promptctl.toml",
        "[check.budgets.\"support/**\"]\nmax_input_tokens = 5000\n",
    );
    absent(&fx.check(), rules::UNMATCHED_PATTERN);
}

#[test]
fn overrides_change_severity_with_their_reason() {
    let bad = simple("budget:\n  max_input_tokens: 5\n");
    let cfg = "[[check.override]]\ncode = \"budget/input-tokens\"\nprompts = \"legacy/**\"\nseverity = \"warning\"\nreason = \"legacy prompts are being rewritten\"\n";
    let fx = Fx::new(&[
        ("promptctl.toml", cfg),
        ("prompts/legacy/a.prompt", &bad),
        ("prompts/new.prompt", &bad),
    ]);
    let r = fx.check();
    let legacy = r
        .findings
        .iter()
        .find(|f| f.prompt.as_deref() == Some("legacy/a"))
        .unwrap();
    assert_eq!(legacy.severity, Severity::Warning);
    assert_eq!(legacy.default_severity, Severity::Error);
    assert_eq!(
        legacy.override_reason.as_deref(),
        Some("legacy prompts are being rewritten")
    );
    let new = r.findings.iter().find(|f| f.prompt.as_deref() == Some("new")).unwrap();
    assert_eq!(new.severity, Severity::Error);
    assert_eq!((r.summary.errors, r.summary.warnings), (1, 1));

    fx.write(
        "promptctl.toml",
        &cfg.replace("\"warning\"", "\"ignore\"").replace("legacy/**", "**"),
    );
    let r = fx.check();
    assert!(r.passed);
    assert_eq!(r.summary.ignored, 2);
    assert_eq!(r.findings.len(), 2, "ignored findings stay in the report");
}

#[test]
fn names_select_prompts_and_unknown_names_are_input_errors() {
    let fx = Fx::new(&[
        (
            "prompts/support/triage.prompt",
            &simple("budget:\n  max_input_tokens: 5\n"),
        ),
        ("prompts/other.prompt", &simple("")),
    ]);
    let opts = |names: &[&str]| Options {
        names: names.iter().map(|s| s.to_string()).collect(),
        base: None,
    };
    let r = check(&fx.project(), &opts(&["other"])).unwrap();
    assert_eq!(r.prompts.len(), 1);
    assert!(r.passed);
    let r = check(&fx.project(), &opts(&["prompts/support/triage.prompt"])).unwrap();
    assert_eq!(r.prompts[0].prompt, "support/triage");
    assert!(!r.passed);
    let err = check(&fx.project(), &opts(&["support/triag"])).err().unwrap();
    assert_eq!(err.kind, crate::ErrorKind::Input);
    assert_eq!(err.hints[0], "did you mean 'support/triage'?");
    let err = check(&Fx::new(&[]).project(), &Options::default()).err().unwrap();
    assert!(err.message.starts_with("no prompts found"), "{}", err.message);
}

/// The body of a prompt, grown from `words` words of filler.
fn grown(words: usize) -> String {
    simple("").replace(
        "Be brief.",
        &format!("Be brief. {}", "Mind the details. ".repeat(words)),
    )
}

#[test]
fn input_and_cost_growth_against_the_base() {
    let fx = Fx::new(&[
        (
            "promptctl.toml",
            "[budget]\nmax_input_growth_pct = 25\nmax_cost_growth_pct = 5\n",
        ),
        ("prompts/a.prompt", &grown(10)),
    ]);
    fx.commit_all();
    let base_input = fx.check().prompts[0].input_tokens.unwrap();

    // Unchanged: no growth.
    let r = fx.check_base("HEAD");
    absent(&r, rules::INPUT_GROWTH);
    absent(&r, rules::COST_GROWTH);
    assert!(matches!(
        r.prompts[0].base,
        Some(BaseState::Measured { input_growth_pct: Some(g), .. }) if g == 0.0
    ));
    assert_eq!(r.base.as_ref().unwrap().rev, "HEAD");
    assert_eq!(r.base.as_ref().unwrap().commit.len(), 40);

    // Grown well past 25%.
    fx.write("prompts/a.prompt", &grown(30));
    let r = fx.check_base("HEAD");
    let f = only(&r, rules::INPUT_GROWTH);
    let head_input = r.prompts[0].input_tokens.unwrap();
    let expected = (head_input as f64 - base_input as f64) / base_input as f64 * 100.0;
    assert!((f.measured.unwrap() - expected).abs() < 1e-9);
    assert_eq!(f.limit, Some(25.0));
    assert_eq!(f.unit, Some(Unit::Percent));
    assert!(
        f.message.contains(&format!("({base_input} → {head_input} tokens)")),
        "{}",
        f.message
    );
    let f = only(&r, rules::COST_GROWTH);
    assert_eq!(f.limit, Some(5.0));
    assert!(!r.passed);

    // Without --base, growth is not checked.
    absent(&fx.check(), rules::INPUT_GROWTH);
}

#[test]
fn a_prompt_new_at_head_has_no_growth_finding() {
    let fx = Fx::new(&[
        ("promptctl.toml", "[budget]\nmax_input_growth_pct = 1\n"),
        ("prompts/a.prompt", &simple("")),
    ]);
    fx.commit_all();
    fx.write("prompts/b.prompt", &grown(50));
    let r = fx.check_base("HEAD");
    absent(&r, rules::INPUT_GROWTH);
    assert_eq!(r.prompts[1].base, Some(BaseState::New));
}

#[test]
fn a_base_that_does_not_parse_is_unmeasured_not_fatal() {
    let fx = Fx::new(&[("prompts/a.prompt", "---\nbroken: [\n---\nhi\n")]);
    fx.commit_all();
    fx.write("prompts/a.prompt", &simple(""));
    let r = fx.check_base("HEAD");
    assert!(r.passed, "{:#?}", r.findings);
    assert!(matches!(r.prompts[0].base, Some(BaseState::Unmeasured { .. })));
}

#[test]
fn an_unknown_base_is_an_input_error() {
    let fx = Fx::new(&[("prompts/a.prompt", &simple(""))]);
    fx.commit_all();
    let err = check(
        &fx.project(),
        &Options {
            base: Some("nope".to_string()),
            ..Options::default()
        },
    )
    .err()
    .unwrap();
    assert_eq!(err.kind, crate::ErrorKind::Input);
    assert!(err.message.contains("unknown revision 'nope'"), "{}", err.message);
}

#[test]
fn findings_are_sorted_by_file_and_line() {
    let fx = Fx::new(&[
        (
            "prompts/b.prompt",
            &prompt("output:\n  format: json\n", "{{ text }} {{ x }}"),
        ),
        ("prompts/a.prompt", "---\nnope: 1\n---\nhi\n"),
    ]);
    let r = fx.check();
    let order: Vec<(String, Option<usize>)> = r
        .findings
        .iter()
        .map(|f| (f.file.display().to_string(), f.line))
        .collect();
    let mut sorted = order.clone();
    sorted.sort_by(|a, b| (&a.0, a.1.unwrap_or(0)).cmp(&(&b.0, b.1.unwrap_or(0))));
    assert_eq!(order, sorted);
    assert_eq!(r.prompts[0].errors, 1);
    assert_eq!(r.prompts[1].errors, 2);
}

#[test]
fn locations_split_from_error_messages() {
    let p = Path::new("prompts/a.prompt");
    assert_eq!(
        split_location("prompts/a.prompt:3:7: bad thing", p),
        (Some(3), "bad thing".to_string())
    );
    assert_eq!(
        split_location("prompts/a.prompt:3: bad: thing", p),
        (Some(3), "bad: thing".to_string())
    );
    assert_eq!(split_location("prompts/a.prompt: bad", p), (None, "bad".to_string()));
    assert_eq!(split_location("other: bad", p), (None, "other: bad".to_string()));
}

#[test]
fn nested_front_matter_lines() {
    let src = "---\ninput:\n  schema:\n    type: object\n    properties:\n      a: {type: string}\noutput:\n  format: json\n  schema: {type: object}\n---\nhi\n";
    assert_eq!(nested_line(src, &["input", "schema"]), Some(3));
    assert_eq!(nested_line(src, &["input", "schema", "properties", "a"]), Some(6));
    assert_eq!(nested_line(src, &["output", "schema"]), Some(9));
    assert_eq!(nested_line(src, &["output", "missing"]), None);
    // Direct children only: `history` under properties is not input.history.
    let chat = "---\ninput:\n  schema:\n    properties:\n      history: {type: array}\n  history: history\n---\nhi\n";
    assert_eq!(nested_line(chat, &["input", "history"]), Some(6));
    assert_eq!(
        nested_line(chat, &["input", "schema", "properties", "history", "type"]),
        Some(5)
    );
    assert_eq!(list_item_line("---\ninput:\n  schema: [a, b]\n---\n", "b"), Some(3));
    assert_eq!(
        list_item_line("---\ninput:\n  schema:\n    - a\n    - b\n---\n", "b"),
        Some(5)
    );
}

#[test]
fn growth_and_room_math() {
    assert_eq!(growth(100.0, 140.0), Some(40.0));
    assert_eq!(growth(0.0, 10.0), None);
    assert_eq!(context_room(128_000, 10.0), 115_200);
    assert_eq!(context_room(200, 0.0), 200);
}

#[test]
fn the_release_gate_runs_the_rules_on_one_prompt() {
    let fx = Fx::new(&[
        ("prompts/a.prompt", &simple("")),
        ("prompts/b.prompt", &prompt("output:\n  format: json\n", "{{ text }}")),
    ]);
    let project = fx.project();
    let a = project.load("a", &Source::WorkTree).unwrap();
    let g = release_gate(&project, &a).unwrap();
    assert!(g.passed);
    assert_eq!(g.name, "check");
    assert_eq!(g.summary, "no findings");
    let b = project.load("b", &Source::WorkTree).unwrap();
    let g = release_gate(&project, &b).unwrap();
    assert!(!g.passed);
    assert!(
        g.summary
            .starts_with("lint/missing-output-schema output.format is json"),
        "{}",
        g.summary
    );
    // An override that downgrades the rule lets the release through.
    fx.write(
        "promptctl.toml",
        "[[check.override]]\ncode = \"lint/missing-output-schema\"\nseverity = \"warning\"\nreason = \"free-form JSON for now\"\n",
    );
    let project = fx.project();
    let g = release_gate(&project, &b).unwrap();
    assert!(g.passed);
    assert_eq!(g.summary, "no errors, 1 warning");
}
