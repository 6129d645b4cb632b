//! `eval --base --format html`: one self-contained page. A
//! Content-Security-Policy forbids every fetch, so the page cannot touch the
//! network; styles, charts (server-side SVG) and the one script are inline.
//!
//! The page shows the verdict, per prompt × target the gates, the delta
//! table, bar charts of cost per 1k calls and output length, and each case's
//! two answers side by side with a word diff. The report's JSON, the same as
//! `--format json` prints, is embedded as the page's data; the script checks
//! the page against it and says so in `<html data-check>` ("ok" or what
//! differs). Every text is escaped: answers are untrusted.

use std::fmt::Write;

use similar::{ChangeTag, TextDiff};

use crate::error::Result;
use crate::eval::compare::{CasePair, CaseSide, CompareReport, Comparison, Side};
use crate::report::compare::{abs, exact_of, label, pct, shown, title, value, verdict};

/// Text for HTML content and quoted attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A figure for a data attribute: the shortest text that reads back as the
/// same f64, in Rust as in JavaScript, so the page's check can compare exactly.
fn num(v: f64) -> String {
    format!("{v}")
}

/// JSON inside `<script>`: no `<` at all, so neither `</script>` nor `<!--`
/// in an answer can end or bend the element. `\u003c` is JSON for `<`: the
/// data parses back to the same value.
fn script_json(json: &str) -> String {
    json.replace('<', "\\u003c")
}

const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:";

const STYLE: &str = r#"
:root { --base: #6b8cc7; --head: #e08a3c; --ok: #1a7f37; --bad: #c62828; --muted: #667; --line: #dde; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d1d28; margin: 0; background: #f6f6f9; }
header.verdict { padding: 18px 28px; color: #fff; background: #555; }
header.verdict.pass { background: var(--ok); }
header.verdict.fail, header.verdict.provider { background: var(--bad); }
header.verdict h1 { margin: 0 0 4px; font-size: 22px; }
header.verdict p { margin: 0; opacity: .92; }
header.verdict code { background: rgba(255,255,255,.18); padding: 1px 5px; border-radius: 3px; }
main { max-width: 1180px; margin: 0 auto; padding: 8px 24px 40px; }
section.comparison { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 4px 22px 18px; margin: 20px 0; }
h2 { font-size: 19px; margin: 16px 0 2px; }
h3 { font-size: 16px; margin: 22px 0 8px; }
.suite, .muted { color: var(--muted); }
.suite { margin: 0 0 10px; }
ul.notes, ul.gates { list-style: none; padding: 0; margin: 8px 0; }
li.note, p.provider-error { background: #fff8e1; border-left: 4px solid #f0b400; padding: 4px 10px; margin: 4px 0; }
p.provider-error { background: #fdecea; border-color: var(--bad); }
li.gate { padding: 2px 0; }
li.gate.pass::before { content: "\2713  "; color: var(--ok); font-weight: bold; }
li.gate.fail { color: var(--bad); font-weight: 600; }
li.gate.fail::before { content: "\2717  "; }
table.deltas { border-collapse: collapse; margin: 10px 0; font-variant-numeric: tabular-nums; }
table.deltas th, table.deltas td { padding: 4px 12px; border-bottom: 1px solid var(--line); }
table.deltas td { text-align: right; }
table.deltas th { text-align: left; font-weight: normal; }
table.deltas thead th { font-weight: 600; text-align: right; }
table.deltas thead th:first-child { text-align: left; }
figure { margin: 12px 0; }
svg.chart text { font: 13px system-ui, sans-serif; fill: #1d1d28; }
svg.chart text.heading { font-weight: 600; }
svg.chart text.missing { fill: var(--muted); font-style: italic; }
svg.chart rect.base { fill: var(--base); }
svg.chart rect.head { fill: var(--head); }
details.case { border: 1px solid var(--line); border-radius: 6px; margin: 6px 0; background: #fcfcfd; }
details.case.flipped { border-color: var(--bad); background: #fff5f5; }
details.case summary { cursor: pointer; padding: 6px 10px; }
details.case .name { font-weight: 600; }
.status { display: inline-block; padding: 0 7px; border-radius: 9px; font-size: 12px; color: #fff; background: #888; }
.status.pass { background: var(--ok); }
.status.fail, .status.error { background: var(--bad); }
.answers { display: grid; grid-template-columns: 1fr 1fr; gap: 12px; padding: 4px 10px 10px; }
.answers.single { grid-template-columns: 1fr; }
.answer h4 { margin: 4px 0; font-size: 13px; font-weight: 600; }
.answer.base h4 { color: var(--base); }
.answer.head h4 { color: var(--head); }
.answer pre { white-space: pre-wrap; word-break: break-word; background: #fff; border: 1px solid var(--line); border-radius: 4px; padding: 8px; margin: 0; font: 13px/1.4 ui-monospace, "SFMono-Regular", Menlo, monospace; }
.answer ul.reasons { margin: 4px 0; padding-left: 18px; color: var(--bad); font-size: 13px; }
del { background: #ffd7d5; text-decoration: line-through; }
ins { background: #ccf0d4; text-decoration: none; }
"#;

/// Checks the page against its data; sets `<html data-check>`.
const CHECK: &str = r#"
(function () {
  var root = document.documentElement;
  var errors = [];
  function same(attr, v) {
    if (v === null || v === undefined) return attr === null;
    return attr !== null && parseFloat(attr) === v;
  }
  try {
    var data = JSON.parse(document.getElementById("promptctl-data").textContent);
    var header = document.querySelector("header.verdict");
    if (!header || header.getAttribute("data-passed") !== String(data.passed)) errors.push("verdict");
    var sections = document.querySelectorAll("section.comparison");
    if (sections.length !== data.comparisons.length) {
      errors.push(sections.length + " comparisons shown, " + data.comparisons.length + " in the data");
    }
    data.comparisons.forEach(function (c, i) {
      var s = sections[i];
      if (!s) return;
      var where = c.prompt + " \u00d7 " + c.target + ": ";
      var measured = c.deltas.filter(function (d) { return d.base !== null || d.head !== null; });
      var rows = s.querySelectorAll("table.deltas tbody tr");
      if (rows.length !== measured.length) errors.push(where + rows.length + " table rows, " + measured.length + " metrics");
      measured.forEach(function (d, k) {
        var r = rows[k];
        if (!r || r.getAttribute("data-metric") !== d.metric || !same(r.getAttribute("data-base"), d.base) ||
            !same(r.getAttribute("data-head"), d.head) || !same(r.getAttribute("data-abs"), d.abs) ||
            !same(r.getAttribute("data-pct"), d.pct)) {
          errors.push(where + "row " + d.metric);
        }
      });
      var bars = 0;
      ["cost_per_1k_usd", "output_tokens_mean"].forEach(function (m) {
        ["base", "head"].forEach(function (side) {
          var v = c[side] ? c[side][m] : null;
          var sel = '[data-metric="' + m + '"][data-side="' + side + '"]';
          var bar = s.querySelector("svg rect.bar" + sel);
          var missing = s.querySelector("svg .missing" + sel);
          var ok = v === null ? !bar && missing : bar && !missing && parseFloat(bar.getAttribute("data-value")) === v;
          if (v !== null) bars += 1;
          if (!ok) errors.push(where + side + " " + m + " bar");
        });
      });
      if (s.querySelectorAll("svg rect.bar").length !== bars) errors.push(where + "bar count");
      var gates = s.querySelectorAll("li.gate");
      if (gates.length !== c.gates.length) errors.push(where + gates.length + " gates shown, " + c.gates.length + " set");
      c.gates.forEach(function (g, k) {
        var li = gates[k];
        if (!li || li.getAttribute("data-gate") !== g.gate || li.getAttribute("data-passed") !== String(g.passed) ||
            !same(li.getAttribute("data-limit"), g.limit) || !same(li.getAttribute("data-measured"), g.measured)) {
          errors.push(where + "gate " + g.gate);
        }
      });
      var cases = s.querySelectorAll("details.case");
      if (cases.length !== c.cases.length) errors.push(where + cases.length + " cases shown, " + c.cases.length + " listed");
      c.cases.forEach(function (p, k) {
        var d = cases[k];
        if (!d || d.getAttribute("data-case") !== p.case || d.getAttribute("data-flipped") !== String(p.flipped)) {
          errors.push(where + "case " + p.case);
        }
      });
    });
  } catch (e) {
    errors.push(String(e));
  }
  root.dataset.check = errors.length ? errors.join("; ") : "ok";
})();
"#;

/// The page. Deterministic: the same report gives the same bytes.
pub fn compare(r: &CompareReport) -> Result<String> {
    let data = crate::report::json(r)?;
    let v = verdict(r);
    let class = if r.provider_failed {
        "provider"
    } else if !r.passed {
        "fail"
    } else if r.comparisons.iter().all(|c| c.gates.is_empty()) {
        "none"
    } else {
        "pass"
    };
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>promptctl eval: {}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
         <header class=\"verdict {class}\" data-passed=\"{}\" data-provider-failed=\"{}\">\n\
         <h1>{}</h1>\n<p>base <code>{}</code> → head <code>{}</code></p>\n</header>\n<main>\n",
        escape(&v),
        r.passed,
        r.provider_failed,
        escape(&v),
        escape(&r.base),
        escape(&r.head),
    );
    for (i, c) in r.comparisons.iter().enumerate() {
        comparison(&mut out, i, c);
    }
    if !r.unchanged.is_empty() {
        let _ = writeln!(
            out,
            "<p class=\"unchanged muted\">Unchanged, not run (<code>--all</code> runs them): {}</p>",
            escape(&r.unchanged.join(", "))
        );
    }
    let _ = write!(
        out,
        "</main>\n<script type=\"application/json\" id=\"promptctl-data\">\n{}</script>\n<script>{CHECK}</script>\n</body>\n</html>\n",
        script_json(&data)
    );
    Ok(out)
}

fn comparison(out: &mut String, i: usize, c: &Comparison) {
    let exact = exact_of(c);
    let _ = writeln!(
        out,
        "<section class=\"comparison\" id=\"comparison-{i}\" data-prompt=\"{}\" data-target=\"{}\">\n<h2>{}</h2>\n<p class=\"suite\">{}</p>",
        escape(&c.prompt),
        escape(&c.target),
        escape(&title(c)),
        escape(&c.suite)
    );
    if !c.notes.is_empty() {
        out.push_str("<ul class=\"notes\">\n");
        for n in &c.notes {
            let _ = writeln!(out, "<li class=\"note\">{}</li>", escape(n));
        }
        out.push_str("</ul>\n");
    }
    for (s, side) in [("base", c.base.as_ref()), ("head", Some(&c.head))] {
        if let Some(e) = side.and_then(|x| x.provider_error.as_ref()) {
            let _ = writeln!(
                out,
                "<p class=\"provider-error\"><strong>{s}: provider failed:</strong> {}</p>",
                escape(e)
            );
        }
    }
    if c.gates.is_empty() {
        out.push_str("<p class=\"muted\">No gates set ([eval.gates] in promptctl.toml).</p>\n");
    } else {
        out.push_str("<ul class=\"gates\">\n");
        for g in &c.gates {
            let _ = writeln!(
                out,
                "<li class=\"gate {}\" data-gate=\"{}\" data-passed=\"{}\" data-limit=\"{}\"{}>{}</li>",
                if g.passed { "pass" } else { "fail" },
                escape(&g.gate),
                g.passed,
                num(g.limit),
                attr("data-measured", g.measured),
                escape(&g.message)
            );
        }
        out.push_str("</ul>\n");
    }
    out.push_str(
        "<table class=\"deltas\">\n<thead><tr><th>metric</th><th>base</th><th>head</th><th>Δ</th><th>Δ%</th></tr></thead>\n<tbody>\n",
    );
    for d in shown(c) {
        let _ = writeln!(
            out,
            "<tr data-metric=\"{}\"{}{}{}{}><th>{}</th><td class=\"base\">{}</td><td class=\"head\">{}</td><td class=\"abs\">{}</td><td class=\"pct\">{}</td></tr>",
            escape(&d.metric),
            attr("data-base", d.base),
            attr("data-head", d.head),
            attr("data-abs", d.abs),
            attr("data-pct", d.pct),
            label(&d.metric),
            escape(&value(&d.metric, d.base, exact)),
            escape(&value(&d.metric, d.head, exact)),
            escape(&abs(d, exact)),
            escape(&pct(d)),
        );
    }
    out.push_str("</tbody>\n</table>\n");
    let _ = writeln!(out, "<figure>{}</figure>", chart(c));
    cases(out, c);
    out.push_str("</section>\n");
}

/// ` name="v"` when there is a value.
fn attr(name: &str, v: Option<f64>) -> String {
    v.map(|v| format!(" {name}=\"{}\"", num(v))).unwrap_or_default()
}

/// The charted metrics, each a figure of a [`Side`].
const CHARTED: [&str; 2] = ["cost_per_1k_usd", "output_tokens_mean"];

/// A side's value of a charted metric, or why there is none.
fn charted(side: Option<&Side>, metric: &str) -> std::result::Result<f64, &'static str> {
    let Some(s) = side else {
        return Err("not at the base revision");
    };
    match metric {
        "cost_per_1k_usd" => s.cost_per_1k_usd.ok_or("no price for this model"),
        "output_tokens_mean" => s.output_tokens_mean.ok_or("no answers measured"),
        _ => Err("not charted"),
    }
}

/// Horizontal bars, base against head, one group per charted metric. Each
/// bar carries its value; a value that does not exist is said, not drawn.
fn chart(c: &Comparison) -> String {
    const WIDTH: usize = 640;
    const LABEL: f64 = 52.0;
    const BAR: f64 = 420.0;
    const ROW: usize = 24;
    const GROUP: usize = 22 + 2 * ROW + 12;
    let exact = exact_of(c);
    let height = GROUP * CHARTED.len();
    let mut svg = format!(
        "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height}\" viewBox=\"0 0 {WIDTH} {height}\" role=\"img\" aria-label=\"{} and {}, base against head\">",
        label(CHARTED[0]),
        label(CHARTED[1])
    );
    for (g, metric) in CHARTED.iter().enumerate() {
        let y0 = g * GROUP;
        let values = [
            ("base", charted(c.base.as_ref(), metric)),
            ("head", charted(Some(&c.head), metric)),
        ];
        let max = values.iter().filter_map(|(_, v)| v.ok()).fold(0.0_f64, f64::max);
        let _ = write!(
            svg,
            "<text class=\"heading\" x=\"0\" y=\"{}\">{}</text>",
            y0 + 16,
            label(metric)
        );
        for (k, (side, v)) in values.iter().enumerate() {
            let y = y0 + 22 + k * ROW;
            let _ = write!(svg, "<text x=\"0\" y=\"{}\">{side}</text>", y + 15);
            match v {
                Ok(v) => {
                    let w = if max > 0.0 { v / max * BAR } else { 0.0 };
                    let _ = write!(
                        svg,
                        "<rect class=\"bar {side}\" data-metric=\"{metric}\" data-side=\"{side}\" data-value=\"{}\" x=\"{LABEL}\" y=\"{}\" width=\"{w:.1}\" height=\"{}\"></rect>\
                         <text class=\"value\" x=\"{:.1}\" y=\"{}\">{}</text>",
                        num(*v),
                        y + 2,
                        ROW - 6,
                        LABEL + w + 6.0,
                        y + 15,
                        escape(&value(metric, Some(*v), exact))
                    );
                }
                Err(why) => {
                    let _ = write!(
                        svg,
                        "<text class=\"missing\" data-metric=\"{metric}\" data-side=\"{side}\" x=\"{LABEL}\" y=\"{}\">{why}</text>",
                        y + 15
                    );
                }
            }
        }
    }
    svg.push_str("</svg>");
    svg
}

fn cases(out: &mut String, c: &Comparison) {
    let n = c.cases.len() as u64 + c.cases_not_listed;
    if c.base.is_some() {
        let flipped = c.cases.iter().filter(|p| p.flipped).count();
        let _ = writeln!(out, "<h3>Cases: {n} compared, {flipped} flipped</h3>");
    } else {
        let _ = writeln!(out, "<h3>Cases: {n}, head only</h3>");
    }
    let exact = exact_of(c);
    for p in &c.cases {
        case(out, p, exact);
    }
    if c.cases_not_listed > 0 {
        let _ = writeln!(
            out,
            "<p class=\"muted\">{} more case{} not listed (the run files under .promptctl/runs have every answer).</p>",
            c.cases_not_listed,
            if c.cases_not_listed == 1 { "" } else { "s" }
        );
    }
}

fn status(s: &CaseSide) -> String {
    let st = s.status.as_str();
    format!("<span class=\"status {st}\">{st}</span>")
}

fn case(out: &mut String, p: &CasePair, exact: bool) {
    let head_out = p.head.output.as_deref();
    let base_out = p.base.as_ref().and_then(|b| b.output.as_deref());
    let change = match (&p.base, base_out == head_out) {
        (None, _) => "",
        (Some(_), true) => "same answer",
        (Some(_), false) => "answer changed",
    };
    let _ = write!(
        out,
        "<details class=\"case{}\" data-case=\"{}\" data-flipped=\"{}\"{}>\n<summary><span class=\"name\">{}</span> ",
        if p.flipped { " flipped" } else { "" },
        escape(&p.case),
        p.flipped,
        if p.flipped { " open" } else { "" },
        escape(&p.case),
    );
    if let Some(b) = &p.base {
        let _ = write!(out, "{} → ", status(b));
    }
    let _ = writeln!(
        out,
        "{} <span class=\"muted\">{change}</span></summary>",
        status(&p.head)
    );
    match &p.base {
        Some(b) => {
            let (bd, hd) = match (base_out, head_out) {
                (Some(x), Some(y)) => {
                    let (bd, hd) = word_diff(x, y);
                    (Some(bd), Some(hd))
                }
                (x, y) => (x.map(escape), y.map(escape)),
            };
            out.push_str("<div class=\"answers\">\n");
            answer(out, "base", b, bd, exact);
            answer(out, "head", &p.head, hd, exact);
        }
        None => {
            out.push_str("<div class=\"answers single\">\n");
            answer(out, "head", &p.head, head_out.map(escape), exact);
        }
    }
    out.push_str("</div>\n</details>\n");
}

/// One side's answer; `html` is the answer already escaped (and marked).
fn answer(out: &mut String, side: &str, s: &CaseSide, html: Option<String>, exact: bool) {
    let mut what = vec![side.to_string(), s.status.as_str().to_string()];
    if let Some(n) = s.output_tokens {
        what.push(format!("{} output tokens", crate::report::tokens(n, exact)));
    }
    if s.truncated {
        what.push("cut off at the output cap".into());
    }
    let _ = writeln!(
        out,
        "<div class=\"answer {side}\">\n<h4>{}</h4>",
        escape(&what.join(" · "))
    );
    if !s.reasons.is_empty() {
        out.push_str("<ul class=\"reasons\">");
        for r in &s.reasons {
            let _ = write!(out, "<li>{}</li>", escape(r));
        }
        out.push_str("</ul>\n");
    }
    match html {
        Some(h) => {
            let _ = writeln!(out, "<pre>{h}</pre>");
        }
        None => out.push_str("<p class=\"muted\">no answer</p>\n"),
    }
    out.push_str("</div>\n");
}

/// Past this many bytes (both answers) the diff is by line: a word diff of
/// long, different answers costs time quadratic in their words.
const WORD_DIFF_MAX: usize = 20_000;

/// Both answers escaped, with what only the base has in `<del>` and what
/// only the head has in `<ins>`.
fn word_diff(old: &str, new: &str) -> (String, String) {
    let diff = if old.len() + new.len() <= WORD_DIFF_MAX {
        TextDiff::from_words(old, new)
    } else {
        TextDiff::from_lines(old, new)
    };
    let (mut b, mut h) = (String::new(), String::new());
    let mut run: Option<(ChangeTag, String)> = None;
    let flush = |run: &mut Option<(ChangeTag, String)>, b: &mut String, h: &mut String| {
        if let Some((tag, text)) = run.take() {
            let t = escape(&text);
            match tag {
                ChangeTag::Equal => {
                    b.push_str(&t);
                    h.push_str(&t);
                }
                ChangeTag::Delete => {
                    let _ = write!(b, "<del>{t}</del>");
                }
                ChangeTag::Insert => {
                    let _ = write!(h, "<ins>{t}</ins>");
                }
            }
        }
    };
    for ch in diff.iter_all_changes() {
        match &mut run {
            Some((tag, text)) if *tag == ch.tag() => text.push_str(ch.value()),
            _ => {
                flush(&mut run, &mut b, &mut h);
                run = Some((ch.tag(), ch.value().to_string()));
            }
        }
    }
    flush(&mut run, &mut b, &mut h);
    (b, h)
}

#[cfg(test)]
mod tests;
