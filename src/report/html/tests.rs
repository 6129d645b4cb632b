use super::*;
use crate::config::Traffic;
use crate::eval::compare::fixture::result;
use crate::eval::compare::{self, Gates};
use crate::eval::result::Status;

/// `a` passes on both sides; `b` flips to fail with a hostile answer.
fn report() -> CompareReport {
    let base = result(&[("a", Status::Pass), ("b", Status::Pass)], 10.0);
    let head = result(&[("a", Status::Pass), ("b", Status::Fail)], 15.0);
    let gates = Gates {
        max_output_tokens_increase_pct: Some(10.0),
        ..Gates::default()
    };
    let mut c = compare::compare(Some(&base), &head, &gates, &Traffic::default());
    let b = &mut c.cases[0];
    assert_eq!(b.case, "b", "flipped first");
    b.base.as_mut().unwrap().output = Some("The cat sat.".into());
    b.head.output = Some("The dog sat. </script><script>alert(1)</script> <!--<script>".into());
    b.head.reasons = vec!["contains: \"cat\" not found".into()];
    let a = &mut c.cases[1];
    a.base.as_mut().unwrap().output = Some("same".into());
    a.head.output = Some("same".into());
    CompareReport::new("main".into(), "worktree".into(), vec![c], vec!["evals/z.yaml".into()])
}

fn between<'a>(page: &'a str, from: &str, to: &str) -> &'a str {
    let i = page.find(from).unwrap_or_else(|| panic!("{from} not in the page"));
    let j = page[i..].find(to).unwrap_or_else(|| panic!("{to} not after {from}")) + i;
    &page[i + from.len()..j]
}

#[test]
fn text_is_escaped_everywhere() {
    assert_eq!(
        escape(r#"<a href="x">'&'</a>"#),
        "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
    );
    let mut r = report();
    r.comparisons[0].prompt = "p\"><b>x</b>".into();
    let page = compare(&r).unwrap();
    // The page's own two scripts and nothing else.
    assert_eq!(page.matches("<script").count(), 2, "{page}");
    assert_eq!(page.matches("</script>").count(), 2);
    assert!(!page.contains("<!--"));
    assert!(!page.contains("<b>x</b>"));
    assert!(page.contains("data-prompt=\"p&quot;&gt;&lt;b&gt;x&lt;/b&gt;\""));
    assert!(page.contains("&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;"));
}

#[test]
fn the_embedded_data_is_the_json_report() {
    let r = report();
    let page = compare(&r).unwrap();
    let embedded = between(
        &page,
        "<script type=\"application/json\" id=\"promptctl-data\">",
        "</script>",
    );
    let data: serde_json::Value = serde_json::from_str(embedded).unwrap();
    let json: serde_json::Value = serde_json::from_str(&crate::report::json(&r).unwrap()).unwrap();
    assert_eq!(data, json);
    assert_eq!(
        data["comparisons"][0]["cases"][0]["head"]["output"],
        "The dog sat. </script><script>alert(1)</script> <!--<script>"
    );
}

#[test]
fn bars_carry_their_values_and_scale_to_the_larger_side() {
    let page = compare(&report()).unwrap();
    // Output tokens mean 10 → 15: the head bar is the full width.
    assert!(page.contains(
        "<rect class=\"bar base\" data-metric=\"output_tokens_mean\" data-side=\"base\" data-value=\"10\" x=\"52\" y=\"106\" width=\"280.0\""
    ), "{page}");
    assert!(page.contains(
        "<rect class=\"bar head\" data-metric=\"output_tokens_mean\" data-side=\"head\" data-value=\"15\" x=\"52\" y=\"130\" width=\"420.0\""
    ));
    // Cost per 1k: out_mean / 1e6 per call.
    assert!(page.contains("data-metric=\"cost_per_1k_usd\" data-side=\"base\" data-value=\"0.01\""));
    assert_eq!(page.matches("<rect class=\"bar").count(), 4);
    // Table rows carry the exact figures.
    assert!(page.contains(
        "<tr data-metric=\"output_tokens_mean\" data-base=\"10\" data-head=\"15\" data-abs=\"5\" data-pct=\"50\">"
    ));
}

#[test]
fn missing_values_are_said_not_drawn_as_zero() {
    let mut head = result(&[("a", Status::Pass)], 15.0);
    head.stats.cost_per_call_usd = None;
    let c = compare::compare(None, &head, &Gates::default(), &Traffic::default());
    let page = compare(&CompareReport::new("main".into(), "worktree".into(), vec![c], vec![])).unwrap();
    assert_eq!(
        page.matches("<rect class=\"bar").count(),
        1,
        "only the head's output tokens"
    );
    assert!(page.contains(
        "<text class=\"missing\" data-metric=\"cost_per_1k_usd\" data-side=\"base\" x=\"52\" y=\"37\">not at the base revision</text>"
    ));
    assert!(
        page.contains(
            "data-metric=\"output_tokens_mean\" data-side=\"base\" x=\"52\" y=\"119\">not at the base revision"
        )
    );
    assert!(
        page.contains("data-metric=\"cost_per_1k_usd\" data-side=\"head\" x=\"52\" y=\"61\">no price for this model")
    );
    // A head-only case: one answer, no diff.
    assert!(page.contains("<h3>Cases: 1, head only</h3>"));
    assert!(page.contains("<div class=\"answers single\">"));
    // No cost row: measured on neither side.
    assert!(!page.contains("data-metric=\"cost_per_call_usd\""));
}

#[test]
fn answers_are_diffed_by_word() {
    assert_eq!(
        word_diff("the cat sat on <mat>", "the dog sat on <mat> today"),
        (
            "the <del>cat</del> sat on &lt;mat&gt;".to_string(),
            "the <ins>dog</ins> sat on &lt;mat&gt;<ins> today</ins>".to_string()
        )
    );
    // Long answers: by line.
    let long = "word ".repeat(WORD_DIFF_MAX / 5);
    let (b, h) = word_diff(&format!("{long}\nold\n"), &format!("{long}\nnew\n"));
    assert!(b.ends_with("<del>old\n</del>"), "{}", &b[b.len() - 30..]);
    assert!(h.ends_with("<ins>new\n</ins>"));
}

#[test]
fn flipped_cases_come_first_open_and_marked() {
    let page = compare(&report()).unwrap();
    let b = page.find("data-case=\"b\"").unwrap();
    let a = page.find("data-case=\"a\"").unwrap();
    assert!(b < a);
    assert!(page.contains("<details class=\"case flipped\" data-case=\"b\" data-flipped=\"true\" open>"));
    assert!(page.contains("<details class=\"case\" data-case=\"a\" data-flipped=\"false\">"));
    assert!(page.contains("<pre>The <del>cat</del> sat.</pre>"));
}

/// The visible part of the page, for review; styles and the script are constants.
#[test]
fn page_body() {
    let page = compare(&report()).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none';"));
    assert_eq!(compare(&report()).unwrap(), page, "deterministic");
    insta::assert_snapshot!(between(&page, "<body>\n", "<script type=\"application/json\""));
}
