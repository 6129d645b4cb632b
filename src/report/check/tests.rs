use std::path::{Path, PathBuf};

use super::*;
use crate::budget::Budget;
use crate::budget::check::{BaseRev, Summary};
use crate::budget::rules;

fn prompt(name: &str, input: u64, cost: f64, base: Option<BaseState>) -> PromptCheck {
    PromptCheck {
        prompt: name.to_string(),
        file: PathBuf::from(format!("prompts/{name}.prompt")),
        parsed: true,
        model: Some("openai:gpt-4o-mini".to_string()),
        exact: Some(true),
        samples: None,
        input_tokens: Some(input),
        output_cap: Some(200),
        output_tokens_priced: Some(200),
        cost_per_call_usd: Some(cost),
        context_window: Some(128_000),
        history: None,
        base,
        budget: Budget::default(),
        errors: 0,
        warnings: 0,
    }
}

/// A failing report against a base: one growth error, one warning, one ignored.
fn report() -> CheckReport {
    let mut growth = Finding::new(
        rules::INPUT_GROWTH,
        Some("support/triage"),
        Path::new("prompts/support/triage.prompt"),
        Some(31),
        "input grew 40.6% against main (170 → 239 tokens), over the limit of 25%".to_string(),
    );
    growth.limit = Some(25.0);
    growth.measured = Some(40.588);
    growth.unit = Some(Unit::Percent);
    growth.exact = Some(true);
    growth.limit_source = Some("max_input_growth_pct in promptctl.toml [budget]".to_string());
    let mut temp = Finding::new(
        rules::TEMPERATURE_IGNORED,
        Some("reason/plan"),
        Path::new("prompts/reason/plan.prompt"),
        Some(5),
        "openai:o3 ignores temperature; config.temperature = 0.2 has no effect".to_string(),
    );
    temp.hints
        .push("remove config.temperature, or use a model that honours it".to_string());
    let mut ignored = Finding::new(
        rules::UNUSED_VARIABLE,
        Some("reason/plan"),
        Path::new("prompts/reason/plan.prompt"),
        Some(9),
        "variable 'tone' is declared in input.schema but the template never uses it".to_string(),
    );
    ignored.severity = Severity::Ignore;
    ignored.override_reason = Some("kept for the next version | soon".to_string());
    let mut triage = prompt(
        "support/triage",
        239,
        0.000156,
        Some(BaseState::Measured {
            input_tokens: 170,
            cost_per_call_usd: 0.000146,
            exact: true,
            input_growth_pct: Some(40.588),
            cost_growth_pct: Some(6.8),
        }),
    );
    triage.errors = 1;
    let mut plan = prompt("reason/plan", 90, 0.0123, Some(BaseState::New));
    plan.model = Some("openai:o3".to_string());
    plan.warnings = 1;
    CheckReport {
        passed: false,
        summary: Summary {
            prompts: 2,
            errors: 1,
            warnings: 1,
            ignored: 1,
        },
        base: Some(BaseRev {
            rev: "main".to_string(),
            commit: "0123456789abcdef0123456789abcdef01234567".to_string(),
        }),
        catalog_date: "2025-11-20".to_string(),
        findings: vec![temp, ignored, growth],
        prompts: vec![plan, triage],
    }
}

#[test]
fn workflow_command_escaping() {
    assert_eq!(escape_data("50% a\r\nb"), "50%25 a%0D%0Ab");
    assert_eq!(escape_property("a:b,c%\n"), "a%3Ab%2Cc%25%0A");
    assert_eq!(escape_data("a:b,c"), "a:b,c", "data keeps : and ,");
}

#[test]
fn github_annotations_per_finding() {
    let out = github(&report(), Path::new(""));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert_eq!(
        lines[0],
        "::warning file=prompts/reason/plan.prompt,line=5,title=promptctl lint/temperature-ignored (reason/plan)::openai:o3 ignores temperature; config.temperature = 0.2 has no effect%0Ahint: remove config.temperature, or use a model that honours it"
    );
    assert_eq!(
        lines[1],
        "::error file=prompts/support/triage.prompt,line=31,title=promptctl budget/input-growth (support/triage)::input grew 40.6%25 against main (170 → 239 tokens), over the limit of 25%25%0Alimit 25%25, measured 40.6%25 (max_input_growth_pct in promptctl.toml [budget])"
    );
    assert_eq!(
        lines[2],
        "promptctl check failed: 2 prompts, 1 error, 1 warning, 1 ignored"
    );
}

#[test]
fn github_paths_are_relative_to_the_repository() {
    let mut r = report();
    r.findings[2].line = None;
    r.findings[2].file = PathBuf::from("prompts/a b,c.prompt");
    let out = github(&r, Path::new("svc"));
    assert!(
        out.contains("::error file=svc/prompts/a b%2Cc.prompt,title=promptctl budget/input-growth"),
        "{out}"
    );
}

#[test]
fn markdown_summary_has_findings_and_the_base_table() {
    let md = markdown(&report(), Path::new(""));
    assert!(
        md.starts_with("### promptctl check: ❌ failed — 1 error, 1 warning in 2 prompts\n"),
        "{md}"
    );
    assert!(md.contains(
        "| ❌ error | `budget/input-growth` | `prompts/support/triage.prompt:31` | input grew 40.6% against main (170 → 239 tokens), over the limit of 25% | 25% | 40.6% |"
    ), "{md}");
    assert!(md.contains("#### Tokens and cost per call (`main` → head)"), "{md}");
    assert!(
        md.contains("| `support/triage` | openai:gpt-4o-mini | 170 → 239 (+40.6%) | 200 | $0.000146 → $0.000156 (+6.8%) | ❌ 1 error |"),
        "{md}"
    );
    assert!(md.contains("| `reason/plan` | openai:o3 | new → 90 |"), "{md}");
    // The ignored finding is folded away, its reason's pipe escaped.
    assert!(md.contains("<details><summary>1 finding ignored by promptctl.toml</summary>"));
    assert!(md.contains("kept for the next version \\| soon"), "{md}");
}

#[test]
fn markdown_cells_escape_table_syntax() {
    assert_eq!(cell("a|b\nc <x>"), "a\\|b c &lt;x&gt;");
}

#[test]
fn sarif_log_has_rules_results_and_suppressions() {
    let log = sarif(&report(), Path::new("svc"));
    assert_eq!(log["version"], "2.1.0");
    let run = &log["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "promptctl");
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    assert_eq!(rules.len(), RULES.len());
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), 3);
    let growth = &results[2];
    assert_eq!(growth["ruleId"], "budget/input-growth");
    assert_eq!(
        rules[growth["ruleIndex"].as_u64().unwrap() as usize]["id"],
        "budget/input-growth"
    );
    assert_eq!(growth["level"], "error");
    let loc = &growth["locations"][0]["physicalLocation"];
    assert_eq!(loc["artifactLocation"]["uri"], "svc/prompts/support/triage.prompt");
    assert_eq!(loc["region"]["startLine"], 31);
    assert_eq!(growth["properties"]["limit"], 25.0);
    assert_eq!(results[0]["level"], "warning");
    let ignored = &results[1];
    assert_eq!(
        ignored["level"], "warning",
        "a suppressed result keeps its rule's level"
    );
    assert_eq!(ignored["suppressions"][0]["kind"], "external");
    assert_eq!(
        ignored["suppressions"][0]["justification"],
        "kept for the next version | soon"
    );
    assert!(growth.get("suppressions").is_none());
}

#[test]
fn sarif_uris_are_percent_encoded() {
    assert_eq!(uri(Path::new("prompts/a b%.prompt")), "prompts/a%20b%25.prompt");
}

#[test]
fn values_in_their_units() {
    assert_eq!(value(1200.0, Unit::Tokens, true), "1200");
    assert_eq!(value(1200.0, Unit::Tokens, false), "≈1200");
    assert_eq!(value(0.0021, Unit::Usd, true), "$0.002100");
    assert_eq!(value(25.0, Unit::Percent, true), "25%");
    assert_eq!(value(40.588, Unit::Percent, true), "40.6%");
}

#[test]
fn text_report() {
    let out = text(&report(), &Ui::plain());
    insta::assert_snapshot!(out);
}

#[test]
fn text_report_when_everything_passes() {
    let mut r = report();
    r.findings.clear();
    r.base = None;
    r.passed = true;
    r.summary = Summary {
        prompts: 2,
        errors: 0,
        warnings: 0,
        ignored: 0,
    };
    for p in &mut r.prompts {
        p.errors = 0;
        p.warnings = 0;
        p.base = None;
    }
    r.prompts[1].exact = Some(false);
    insta::assert_snapshot!(text(&r, &Ui::plain()));
}
