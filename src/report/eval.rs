//! Renderers of an eval run ([`RunReport`]): human text and JUnit XML. JSON
//! is the report itself through [`super::json`].

use std::fmt::Write as _;

use crate::eval::result::Status;
use crate::eval::run::{Mode, RunReport, SuiteResult};
use crate::eval::stats::Summary;
use crate::ui::{self, Ui};

/// Failing cases listed per suite in text; the run file has them all.
const TEXT_FAILURES: usize = 10;

/// A block per suite × target, then a summary line.
pub fn text(r: &RunReport, ui: &Ui) -> String {
    let mut out = String::new();
    for (i, s) in r.results.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        suite_block(&mut out, s, ui);
    }
    if !r.results.is_empty() {
        out.push('\n');
    }
    let t = &r.totals;
    let approx = if t.tokens_exact { "" } else { "≈" };
    let mut line = format!(
        "{} suite{}, {} case{}: {} passed, {} failed",
        t.suites,
        plural(t.suites),
        t.cases,
        plural(t.cases),
        t.passed,
        t.failed
    );
    if t.errored > 0 {
        let _ = write!(line, ", {} errors", t.errored);
    }
    if t.skipped > 0 {
        let _ = write!(line, ", {} not run", t.skipped);
    }
    let _ = write!(line, "; cost {approx}{}", super::usd(t.cost_usd));
    match r.mode {
        Mode::Offline => line.push_str(" (replayed, nothing spent)"),
        _ => {
            let approx = if t.spent_usd > 0.0 { approx } else { "" };
            let _ = write!(line, " ({approx}{} spent", super::usd(t.spent_usd));
            if let Some(max) = r.max_cost_usd {
                let _ = write!(line, " of {} allowed", super::usd(max));
            }
            line.push(')');
        }
    }
    out.push_str(&line);
    out.push('\n');
    if r.stopped_by_cost {
        let _ = writeln!(
            out,
            "{}: the cost limit was reached; cases not run can be run with `promptctl eval --resume {}`",
            ui.paint(ui::YELLOW, "stopped"),
            r.run_id
        );
    }
    out
}

fn suite_block(out: &mut String, s: &SuiteResult, ui: &Ui) {
    let st = &s.stats;
    let mut target = s.target.clone();
    if s.replayed {
        target.push_str(" (replayed)");
    }
    let source = if s.source == "worktree" {
        String::new()
    } else {
        format!(" @ {}", s.source)
    };
    let _ = writeln!(
        out,
        "{}  {}{source} → {target}",
        ui.paint(ui::BOLD, s.suite.display()),
        s.prompt
    );
    let verdict = if s.passed {
        ui.paint(ui::GREEN, "PASS")
    } else {
        ui.paint(ui::RED, "FAIL")
    };
    let ran = st.passed + st.failed + st.errored;
    let mut line = format!(
        "  {verdict}     {}/{} passed, {} (threshold {})",
        st.passed,
        ran,
        pct(st.pass_rate),
        pct(s.threshold)
    );
    if st.skipped > 0 {
        let _ = write!(line, "; {} not run (cost limit)", st.skipped);
    }
    let _ = writeln!(out, "{line}");
    if st.cases == 0 {
        let _ = writeln!(out, "  no cases");
        return;
    }

    let exact = st.tokens_exact;
    if let (Some(i), Some(o)) = (&st.input_tokens, &st.output_tokens) {
        let note = if exact { "" } else { "  (counted, not reported)" };
        let _ = writeln!(
            out,
            "  tokens   input {} mean, {} p95 · output {} mean, {} p95{note}",
            mean_tokens(i, exact),
            super::tokens(i.p95, exact),
            mean_tokens(o, exact),
            super::tokens(o.p95, exact),
        );
    }
    let approx = if exact { "" } else { "≈" };
    match st.cost_per_call_usd {
        Some(per) => {
            let prices = s
                .prices_of
                .as_ref()
                .map(|d| format!("  (prices of {d})"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "  cost     {approx}{} total, {approx}{} per call{prices}",
                super::usd(st.cost_usd),
                super::usd(per)
            );
        }
        None if st.unpriced > 0 => {
            let _ = writeln!(out, "  cost     unknown: {} has no price in the catalog", s.target);
        }
        None => {}
    }
    match &st.latency_ms {
        Some(l) => {
            let recorded = if s.replayed { "  (as recorded)" } else { "" };
            let _ = writeln!(out, "  latency  p50 {} ms, p95 {} ms{recorded}", l.p50, l.p95);
        }
        None if st.calls > 0 => {
            let _ = writeln!(out, "  latency  not measured");
        }
        None => {}
    }
    let mut calls = format!("  calls    {}", st.calls);
    let mut notes = Vec::new();
    if st.replayed > 0 {
        notes.push(format!("{} replayed", st.replayed));
    }
    if st.cache_hits > 0 || !s.replayed {
        notes.push(format!("{} cached", st.cache_hits));
    }
    if !notes.is_empty() {
        let _ = write!(calls, " ({})", notes.join(", "));
    }
    let _ = write!(
        calls,
        ", {} retr{}",
        st.retries,
        if st.retries == 1 { "y" } else { "ies" }
    );
    if st.truncated > 0 {
        let _ = write!(
            calls,
            ", {} cut off at the output cap ({})",
            st.truncated,
            pct(st.truncated_share)
        );
    }
    let _ = writeln!(out, "{calls}");
    if let Some(g) = &st.guard {
        let mut parts = vec![format!("{} valid first", g.first)];
        if g.corrected > 0 {
            parts.push(format!("{} corrected", g.corrected));
        }
        if g.fallback > 0 {
            parts.push(format!("{} by the fallback model", g.fallback));
        }
        if g.invalid > 0 {
            parts.push(format!("{} never valid", g.invalid));
        }
        let retries = if g.corrections > 0 {
            format!(
                " ({} corrective retr{})",
                g.corrections,
                if g.corrections == 1 { "y" } else { "ies" }
            )
        } else {
            String::new()
        };
        let _ = writeln!(out, "  json     {}{retries}", parts.join(", "));
    }
    if !st.errors.is_empty() {
        let e: Vec<String> = st.errors.iter().map(|(k, n)| format!("{}: {n}", k.as_str())).collect();
        let _ = writeln!(out, "  errors   {}", e.join(", "));
    }
    let listed: Vec<_> = s.failures.iter().filter(|f| f.status != Status::Skipped).collect();
    for (i, f) in listed.iter().take(TEXT_FAILURES).enumerate() {
        let head = if i == 0 { "  failed" } else { "        " };
        let mark = ui.paint(ui::RED, "✗");
        let _ = writeln!(out, "{head}   {mark} {}", f.case);
        for reason in &f.reasons {
            let _ = writeln!(out, "               {reason}");
        }
    }
    let more = listed.len().saturating_sub(TEXT_FAILURES) as u64 + s.failures_not_listed;
    if more > 0 {
        let _ = writeln!(out, "             … and {more} more (see the run file)");
    }
}

fn mean_tokens(s: &Summary, exact: bool) -> String {
    let m = format!("{:.0}", s.mean);
    if exact { m } else { format!("≈{m}") }
}

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// JUnit XML: a `<testsuite>` per suite × target, a `<testcase>` per case.
pub fn junit(r: &RunReport) -> String {
    let t = &r.totals;
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"promptctl eval\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{:.3}\">",
        t.cases,
        t.failed,
        t.errored,
        t.skipped,
        r.elapsed_ms as f64 / 1000.0
    );
    for s in &r.results {
        let st = &s.stats;
        let name = format!("{} × {}", s.suite.display(), s.target);
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\">",
            xml(&name),
            st.cases,
            st.failed,
            st.errored,
            st.skipped
        );
        let _ = writeln!(out, "    <properties>");
        let _ = writeln!(out, "      <property name=\"prompt\" value=\"{}\"/>", xml(&s.prompt));
        let _ = writeln!(
            out,
            "      <property name=\"pass_rate\" value=\"{:.4}\"/>",
            st.pass_rate
        );
        let _ = writeln!(out, "      <property name=\"threshold\" value=\"{:.4}\"/>", s.threshold);
        let _ = writeln!(
            out,
            "      <property name=\"gate\" value=\"{}\"/>",
            if s.passed { "pass" } else { "fail" }
        );
        let _ = writeln!(out, "      <property name=\"cost_usd\" value=\"{:.6}\"/>", st.cost_usd);
        let _ = writeln!(out, "    </properties>");
        let classname = xml(&s.suite.display().to_string());
        let reasons_of: std::collections::HashMap<&str, String> = s
            .failures
            .iter()
            .map(|f| (f.case.as_str(), f.reasons.join("\n")))
            .collect();
        for c in &s.cases {
            let open = format!("    <testcase classname=\"{classname}\" name=\"{}\"", xml(&c.case));
            let reasons = reasons_of
                .get(c.case.as_str())
                .cloned()
                .unwrap_or_else(|| "not listed; see the run file".to_string());
            let first = reasons.lines().next().unwrap_or("").to_string();
            match c.status {
                Status::Pass => {
                    let _ = writeln!(out, "{open}/>");
                }
                Status::Fail => {
                    let _ = writeln!(
                        out,
                        "{open}>\n      <failure message=\"{}\">{}</failure>\n    </testcase>",
                        xml(&first),
                        xml(&reasons)
                    );
                }
                Status::Error => {
                    let _ = writeln!(
                        out,
                        "{open}>\n      <error message=\"{}\">{}</error>\n    </testcase>",
                        xml(&first),
                        xml(&reasons)
                    );
                }
                Status::Skipped => {
                    let _ = writeln!(
                        out,
                        "{open}>\n      <skipped message=\"{}\"/>\n    </testcase>",
                        xml(&first)
                    );
                }
            }
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

/// Escape for XML text and attributes; drop characters XML 1.0 forbids.
pub(crate) fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\t' | '\r' => out.push(c),
            c if (c as u32) < 0x20 => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_escapes_and_drops_control_characters() {
        assert_eq!(xml("a<b & \"c\"\u{1}\n"), "a&lt;b &amp; &quot;c&quot;&#10;");
    }
}
