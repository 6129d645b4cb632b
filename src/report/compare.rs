//! `eval --base` reports: text, markdown (a PR comment); HTML in `report::html`.

use crate::eval::compare::{CompareReport, Comparison, Delta};
use crate::report::{text, usd};

/// Labels and formatting of each metric row.
pub(super) fn label(metric: &str) -> &'static str {
    match metric {
        "pass_rate" => "pass rate",
        "input_tokens_mean" => "input tokens (mean)",
        "input_tokens_p95" => "input tokens (p95)",
        "output_tokens_mean" => "output tokens (mean)",
        "output_tokens_p95" => "output tokens (p95)",
        "cost_per_call_usd" => "cost per call",
        "cost_per_1k_usd" => "cost per 1k calls",
        "monthly_usd" => "monthly (traffic)",
        "latency_p50_ms" => "latency p50",
        "latency_p95_ms" => "latency p95",
        "truncated_share" => "truncated",
        _ => "?",
    }
}

pub(super) fn value(metric: &str, v: Option<f64>, exact: bool) -> String {
    let Some(v) = v else { return "–".to_string() };
    let approx = if exact { "" } else { "≈" };
    match metric {
        "pass_rate" | "truncated_share" => format!("{:.1}%", v * 100.0),
        m if m.contains("usd") => usd(v),
        m if m.contains("latency") => format!("{v:.0}ms"),
        m if m.ends_with("mean") => format!("{approx}{v:.1}"),
        _ => format!("{approx}{v:.0}"),
    }
}

pub(super) fn abs(d: &Delta, exact: bool) -> String {
    let Some(a) = d.abs else { return "–".to_string() };
    let m = d.metric.as_str();
    match m {
        "pass_rate" | "truncated_share" => format!("{:+.1}pp", a * 100.0),
        m if m.contains("usd") => crate::report::usd_delta(a),
        m if m.contains("latency") => format!("{a:+.0}ms"),
        _ => format!("{}{a:+.1}", if exact { "" } else { "≈" }),
    }
}

pub(super) fn pct(d: &Delta) -> String {
    match (d.pct, d.abs) {
        (Some(p), _) => format!("{p:+.1}%"),
        (None, Some(a)) if a != 0.0 => "new".to_string(),
        (None, Some(_)) => "0%".to_string(),
        _ => "–".to_string(),
    }
}

pub(super) fn exact_of(c: &Comparison) -> bool {
    c.head.tokens_exact && c.base.as_ref().is_none_or(|b| b.tokens_exact)
}

/// The metrics measured on either side.
pub(super) fn shown(c: &Comparison) -> impl Iterator<Item = &Delta> {
    c.deltas.iter().filter(|d| d.base.is_some() || d.head.is_some())
}

fn rows(c: &Comparison) -> Vec<[String; 5]> {
    let exact = exact_of(c);
    shown(c)
        .map(|d| {
            [
                label(&d.metric).to_string(),
                value(&d.metric, d.base, exact),
                value(&d.metric, d.head, exact),
                abs(d, exact),
                pct(d),
            ]
        })
        .collect()
}

pub(super) fn title(c: &Comparison) -> String {
    match &c.base_prompt {
        Some(old) => format!("{} (was {old}) × {}", c.prompt, c.target),
        None => format!("{} × {}", c.prompt, c.target),
    }
}

pub(super) fn verdict(r: &CompareReport) -> String {
    let failed: usize = r
        .comparisons
        .iter()
        .map(|c| c.gates.iter().filter(|g| !g.passed).count())
        .sum();
    if r.comparisons.is_empty() {
        "no prompt changed between the two revisions".to_string()
    } else if r.provider_failed {
        "provider failed: see below".to_string()
    } else if failed > 0 {
        format!("FAIL: {failed} gate{} broken", if failed == 1 { "" } else { "s" })
    } else if r.comparisons.iter().all(|c| c.gates.is_empty()) {
        "no gates set ([eval.gates] in promptctl.toml)".to_string()
    } else {
        "PASS: every gate holds".to_string()
    }
}

/// Plain text for a terminal.
pub fn text(r: &CompareReport) -> String {
    let mut out = format!("{} → {}: {}\n", r.base, r.head, verdict(r));
    for c in &r.comparisons {
        out.push_str(&format!("\n{}  ({})\n", title(c), c.suite));
        for n in &c.notes {
            out.push_str(&format!("  note: {n}\n"));
        }
        for (s, side) in [("base", c.base.as_ref()), ("head", Some(&c.head))] {
            if let Some(e) = side.and_then(|x| x.provider_error.as_ref()) {
                out.push_str(&format!("  {s}: provider failed: {e}\n"));
            }
        }
        let mut t = text::table(&["metric", "base", "head", "Δ", "Δ%"]);
        for row in rows(c) {
            t.add_row(row.to_vec());
        }
        text::align_right(&mut t, &[1, 2, 3, 4]);
        for line in text::render(&t).lines() {
            out.push_str(&format!("  {line}\n"));
        }
        if !c.flipped.is_empty() {
            out.push_str("  flipped:\n");
            for f in &c.flipped {
                out.push_str(&format!("    {}: {} → {}", f.case, f.base.as_str(), f.head.as_str()));
                if !f.reasons.is_empty() {
                    out.push_str(&format!(" ({})", f.reasons.join("; ")));
                }
                out.push('\n');
            }
        }
        for g in &c.gates {
            out.push_str(&format!("  {} {}\n", if g.passed { "ok  " } else { "FAIL" }, g.message));
        }
    }
    if !r.unchanged.is_empty() {
        out.push_str(&format!(
            "\nunchanged (not run; --all runs them): {}\n",
            r.unchanged.join(", ")
        ));
    }
    out
}

/// Markdown for a PR comment: verdict first, delta table, flipped cases collapsed.
pub fn markdown(r: &CompareReport) -> String {
    let mut out = format!("### promptctl eval: {}\n\n`{}` → `{}`\n", verdict(r), r.base, r.head);
    for c in &r.comparisons {
        out.push_str(&format!("\n#### {}\n\n", title(c)));
        for n in &c.notes {
            out.push_str(&format!("> {n}\n\n"));
        }
        for (s, side) in [("base", c.base.as_ref()), ("head", Some(&c.head))] {
            if let Some(e) = side.and_then(|x| x.provider_error.as_ref()) {
                out.push_str(&format!("> **{s}: provider failed:** {e}\n\n"));
            }
        }
        for g in &c.gates {
            out.push_str(&format!("- {} {}\n", if g.passed { "✅" } else { "❌" }, g.message));
        }
        if !c.gates.is_empty() {
            out.push('\n');
        }
        out.push_str("| metric | base | head | Δ | Δ% |\n|---|---:|---:|---:|---:|\n");
        for row in rows(c) {
            out.push_str(&format!("| {} |\n", row.join(" | ")));
        }
        if !c.flipped.is_empty() {
            out.push_str(&format!(
                "\n<details><summary>{} flipped case{}</summary>\n\n",
                c.flipped.len(),
                if c.flipped.len() == 1 { "" } else { "s" }
            ));
            for f in &c.flipped {
                out.push_str(&format!("- `{}`: {} → {}", f.case, f.base.as_str(), f.head.as_str()));
                if !f.reasons.is_empty() {
                    out.push_str(&format!(" — {}", f.reasons.join("; ")));
                }
                out.push('\n');
            }
            out.push_str("\n</details>\n");
        }
    }
    if !r.unchanged.is_empty() {
        out.push_str(&format!("\nUnchanged, not run: {}\n", r.unchanged.join(", ")));
    }
    out
}

/// `eval --models`: one table per suite, then the cheapest passing model.
pub fn matrix(ms: &[crate::eval::matrix::Matrix]) -> String {
    let mut out = String::new();
    for m in ms {
        out.push_str(&format!(
            "{} ({}), current model {}\n",
            m.prompt, m.suite, m.current_model
        ));
        let mut t = text::table(&[
            "model",
            "pass rate",
            "gate",
            "cost/1k",
            "output tokens",
            "latency p50",
            "latency p95",
        ]);
        for r in &m.rows {
            let name = if r.current {
                format!("{} (current)", r.model)
            } else {
                r.model.clone()
            };
            t.add_row(vec![
                name,
                format!("{:.1}%", r.pass_rate * 100.0),
                if r.passed { "pass" } else { "FAIL" }.to_string(),
                r.cost_per_1k_usd.map_or("–".to_string(), usd),
                r.output_tokens_mean.map_or("–".to_string(), |o| {
                    format!("{}{o:.1}", if r.tokens_exact { "" } else { "≈" })
                }),
                r.latency_p50_ms.map_or("–".to_string(), |l| format!("{l}ms")),
                r.latency_p95_ms.map_or("–".to_string(), |l| format!("{l}ms")),
            ]);
        }
        text::align_right(&mut t, &[1, 3, 4, 5, 6]);
        for line in text::render(&t).lines() {
            out.push_str(&format!("  {line}\n"));
        }
        match &m.cheapest_passing {
            Some(best) => {
                out.push_str(&format!("  cheapest model meeting the gate: {best}"));
                if let Some(s) = m.saving_per_1k_usd {
                    out.push_str(&format!(", saves {} per 1k calls", usd(s)));
                }
                if let Some(s) = m.saving_monthly_usd {
                    out.push_str(&format!(" ({}/month at configured traffic)", usd(s)));
                }
                out.push_str(" against the current model\n");
            }
            None => out.push_str("  no priced model meets the gate\n"),
        }
        out.push('\n');
    }
    out
}

/// `eval --estimate`.
pub fn estimate(e: &crate::eval::estimate::Estimate) -> String {
    let mut t = text::table(&[
        "suite",
        "target",
        "requests",
        "input tokens",
        "output tokens",
        "cost",
        "cost/1k",
    ]);
    let mut capped = false;
    for r in &e.rows {
        capped |= r.output_from_cap > 0;
        t.add_row(vec![
            r.suite.clone(),
            r.target.clone(),
            r.requests.to_string(),
            r.input_tokens.to_string(),
            crate::report::tokens(r.output_tokens, r.output_exact),
            r.cost_usd.map_or("–".to_string(), |c| format!("≈{}", usd(c))),
            r.cost_per_1k_usd.map_or("–".to_string(), |c| format!("≈{}", usd(c))),
        ]);
    }
    text::align_right(&mut t, &[2, 3, 4, 5, 6]);
    let mut out = text::render(&t);
    for r in &e.rows {
        if let (Some(b), Some(d)) = (r.base_cost_per_1k_usd, r.cost_per_1k_delta_usd) {
            out.push_str(&format!(
                "{} × {}: ≈{} → ≈{} per 1k calls ({}) against the base\n",
                r.prompt,
                r.target,
                usd(b),
                usd(b + d),
                crate::report::usd_delta(d)
            ));
        }
    }
    out.push_str(&format!(
        "\n{} request{}, ≈{} in all; no provider was called\n",
        e.requests,
        if e.requests == 1 { "" } else { "s" },
        usd(e.cost_usd)
    ));
    out.push_str("input tokens counted on the rendered requests; output tokens from the recorded answers");
    if capped {
        out.push_str(", else the output cap (max_tokens) where no recording answers the case");
    }
    out.push('\n');
    if e.requests_max > e.requests {
        out.push_str(&format!(
            "up to {} requests if answers fail the structured-output guard (its retries and fallback model are not in the cost)\n",
            e.requests_max
        ));
    }
    out
}

/// JUnit XML: a test suite per prompt × target, a test case per gate.
pub fn junit(r: &CompareReport) -> String {
    use crate::report::eval::xml;
    let failures: usize = r
        .comparisons
        .iter()
        .map(|c| c.gates.iter().filter(|g| !g.passed).count())
        .sum();
    let tests: usize = r.comparisons.iter().map(|c| c.gates.len()).sum();
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"promptctl eval --base\" tests=\"{tests}\" failures=\"{failures}\">\n"
    );
    for c in &r.comparisons {
        let n = c.gates.iter().filter(|g| !g.passed).count();
        out.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{n}\">\n",
            xml(&title(c)),
            c.gates.len()
        ));
        for g in &c.gates {
            out.push_str(&format!(
                "    <testcase classname=\"{}\" name=\"{}\"",
                xml(&c.prompt),
                xml(&g.gate)
            ));
            if g.passed {
                out.push_str("/>\n");
            } else {
                out.push_str(&format!(
                    ">\n      <failure message=\"{}\"/>\n    </testcase>\n",
                    xml(&g.message)
                ));
            }
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}
