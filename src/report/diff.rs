//! Renderers of `promptctl diff`'s report: text (coloured when asked),
//! markdown (a PR comment: table first, details folded) and stat (one line
//! per prompt). JSON is `report::json` of the model itself.

use std::fmt::Write as _;

use anstyle::{AnsiColor, Style};
use serde_json::Value;

use super::{pct, usd, usd_delta};
use crate::diff::{
    BeforeAfter, DiffReport, EndpointKind, FieldChange, LineOp, PromptDiff, SectionDiff, SectionStatus, SideSummary,
    Status, SuitesFrom, Which,
};

const RED: Style = AnsiColor::Red.on_default();
const GREEN: Style = AnsiColor::Green.on_default();
const YELLOW: Style = AnsiColor::Yellow.on_default();
const CYAN: Style = AnsiColor::Cyan.on_default();
const BOLD: Style = Style::new().bold();
const DIM: Style = Style::new().dimmed();

struct Paint {
    color: bool,
}

impl Paint {
    fn p(&self, style: Style, text: impl std::fmt::Display) -> String {
        if self.color {
            format!("{}{text}{}", style.render(), style.render_reset())
        } else {
            text.to_string()
        }
    }

    fn status(&self, s: Status) -> String {
        let style = match s {
            Status::Added => GREEN,
            Status::Deleted => RED,
            Status::Modified => YELLOW,
            Status::Renamed => CYAN,
        };
        self.p(style.bold(), s.as_str())
    }

    /// Growth in red, shrinkage in green: cost is what a reviewer guards.
    fn delta(&self, d: f64, text: String) -> String {
        if d > 0.0 {
            self.p(RED, text)
        } else if d < 0.0 {
            self.p(GREEN, text)
        } else {
            text
        }
    }
}

// ------------------------------------------------------------ formatting

/// A token figure: whole when it is whole, one decimal for means.
pub fn num(x: f64) -> String {
    if (x - x.round()).abs() < 0.05 {
        format!("{}", x.round() as i64)
    } else {
        format!("{x:.1}")
    }
}

fn approx(s: String, exact: bool) -> String {
    if exact { s } else { format!("≈{s}") }
}

fn signed(x: f64) -> String {
    let s = num(x);
    if x > 0.0 && s != "0" { format!("+{s}") } else { s }
}

/// `412 → 455`.
fn arrow(b: &BeforeAfter, exact: bool) -> String {
    format!("{} → {}", approx(num(b.before), exact), approx(num(b.after), exact))
}

/// `+43 (+10.4%)`.
fn change(b: &BeforeAfter, exact: bool) -> String {
    if b.delta == 0.0 {
        return "no change".into();
    }
    format!("{} ({})", approx(signed(b.delta), exact), pct(b.before, b.after))
}

fn value(v: &Value) -> String {
    let s = match v {
        Value::Null => "(none)".to_string(),
        Value::String(s) => s.clone(),
        // YAML `temperature: 0` parses to 0.0; show it as written.
        Value::Number(n) if n.as_f64().is_some_and(|f| f.fract() == 0.0 && f.abs() < 1e15) => {
            format!("{}", n.as_f64().unwrap_or_default() as i64)
        }
        other => other.to_string(),
    };
    if s.chars().count() > 72 {
        let cut: String = s.chars().take(71).collect();
        format!("{cut}…")
    } else {
        s
    }
}

/// A field change in words: `200 → 300`, `+lang −tone`.
fn field_change(f: &FieldChange) -> String {
    if !f.added.is_empty() || !f.removed.is_empty() {
        let mut parts: Vec<String> = f.added.iter().map(|a| format!("+{a}")).collect();
        parts.extend(f.removed.iter().map(|r| format!("-{r}")));
        return parts.join(" ");
    }
    format!("{} → {}", value(&f.before), value(&f.after))
}

fn section_title(s: &SectionDiff) -> String {
    match s.status {
        SectionStatus::Added => format!("{} (added)", s.role),
        SectionStatus::Removed => format!("{} (removed)", s.role),
        _ => s.role.clone(),
    }
}

fn samples_line(r: &DiffReport, p: &PromptDiff) -> Option<String> {
    let note = |s: &SideSummary| {
        let mean = if s.renderings > 1 { ", means shown" } else { "" };
        format!("{}{mean}", s.samples_note)
    };
    let mut line = match (&p.base, &p.head) {
        (Some(a), Some(b)) if note(a) != note(b) => format!("base {}; head {}", note(a), note(b)),
        (_, Some(s)) | (Some(s), None) => note(s),
        _ => return None,
    };
    // Say when a side borrowed the other side's suites.
    for (side, ep, other, label) in [(&p.base, &r.base, &r.head, "base"), (&p.head, &r.head, &r.base, "head")] {
        let Some(s) = side else { continue };
        let commit = ep.kind == EndpointKind::Commit;
        let from = match s.suites_from {
            Some(SuitesFrom::WorkingTree) if commit => "the working tree's".to_string(),
            Some(SuitesFrom::OtherRevision) => format!("{}'s", other.spec),
            _ => continue,
        };
        // The index and the working tree read the working tree's suites.
        let at = if commit {
            format!("at {}", ep.spec)
        } else {
            "in the working tree".to_string()
        };
        line.push_str(&format!("; {label} uses {from} eval suites (none for it {at})"));
    }
    Some(line)
}

fn title(p: &PromptDiff) -> String {
    match (p.status, &p.old_name) {
        (Status::Renamed, Some(old)) => {
            let sim = p.similarity_pct.map(|s| format!(", {s}% similar")).unwrap_or_default();
            format!("{} (renamed from {old}{sim})", p.name)
        }
        _ => p.name.clone(),
    }
}

/// `old → new` for renames, else the name.
fn short_name(p: &PromptDiff) -> String {
    match (p.status, &p.old_name) {
        (Status::Renamed, Some(o)) => format!("{o} → {}", p.name),
        _ => p.name.clone(),
    }
}

fn model_text(p: &PromptDiff) -> String {
    match p.model_change() {
        Some((a, b)) => format!("{a} → {b}"),
        None => p.model().unwrap_or("?").to_string(),
    }
}

fn which(w: Which) -> &'static str {
    match w {
        Which::Base => "base",
        Which::Head => "head",
    }
}

// ------------------------------------------------------------------ text

/// The human report. `color` adds ANSI styles, including word-level
/// highlights inside changed lines.
pub fn render_text(r: &DiffReport, color: bool) -> String {
    let c = Paint { color };
    let mut out = String::new();
    if r.prompts.is_empty() && r.skipped.is_empty() {
        let _ = writeln!(
            out,
            "no prompt changes between {} and {}",
            r.base.label(),
            r.head.label()
        );
        return out;
    }
    let _ = writeln!(
        out,
        "{}",
        c.p(BOLD, format!("prompt diff {} → {}", r.base.label(), r.head.label()))
    );
    for p in &r.prompts {
        out.push('\n');
        prompt_text(&mut out, &c, r, p);
    }
    out.push('\n');
    out.push_str(&summary_table(r, &c));
    for s in &r.skipped {
        let _ = writeln!(
            out,
            "{} {} ({}): {}; not compared",
            c.p(YELLOW, "skipped"),
            s.path.display(),
            which(s.side),
            s.reason
        );
    }
    out.push_str(&footer(r));
    out
}

fn footer(r: &DiffReport) -> String {
    let mut s = format!(
        "tokens: mean rendered input per call; cost: input + output at the cap; prices: built-in catalog {}\n",
        r.catalog_date
    );
    if !r.summary.exact {
        s.push_str("≈ estimate: the model has no public tokenizer (counted with o200k_base)\n");
    }
    s
}

fn prompt_text(out: &mut String, c: &Paint, r: &DiffReport, p: &PromptDiff) {
    let path = p.new_path.as_ref().or(p.old_path.as_ref());
    let _ = writeln!(
        out,
        "{}  {}  {}",
        c.p(BOLD, title(p)),
        c.status(p.status),
        c.p(DIM, path.map(|p| p.display().to_string()).unwrap_or_default())
    );
    let exact = p.exact();
    let mut rows: Vec<(&str, String)> = Vec::new();
    if p.model().is_some() {
        let m = match p.model_change() {
            Some((a, b)) => format!("{a} → {b} (each side priced with its own model)"),
            None => model_text(p),
        };
        rows.push(("model", m));
    }
    if let Some(s) = samples_line(r, p) {
        rows.push(("samples", s));
    }
    if let Some(t) = &p.tokens {
        rows.push((
            "tokens",
            format!("{}  {}", arrow(t, exact), c.delta(t.delta, change(t, exact))),
        ));
    }
    if let (Some(call), Some(k)) = (&p.cost_per_call_usd, &p.cost_per_1k_calls_usd) {
        rows.push((
            "cost/call",
            format!(
                "{} → {}  {}",
                usd(call.before),
                usd(call.after),
                c.delta(
                    call.delta,
                    format!("{} ({})", usd_delta(call.delta), pct(call.before, call.after))
                )
            ),
        ));
        rows.push((
            "per 1k",
            format!(
                "{} → {}  {}",
                usd(k.before),
                usd(k.after),
                c.delta(k.delta, usd_delta(k.delta))
            ),
        ));
    }
    if let Some(pr) = &p.projection {
        let m = &pr.monthly_usd;
        rows.push((
            "monthly",
            format!(
                "{} → {}  {}  at {} requests/day",
                usd(m.before),
                usd(m.after),
                c.delta(m.delta, usd_delta(m.delta)),
                num(pr.requests_per_day)
            ),
        ));
    }
    for (k, v) in rows {
        let _ = writeln!(out, "  {k:<10} {v}");
    }
    for e in &p.errors {
        let _ = writeln!(
            out,
            "  {} {}",
            c.p(RED.bold(), format!("error ({}):", which(e.side))),
            e.message
        );
        for h in &e.hints {
            let _ = writeln!(out, "    hint: {h}");
        }
    }
    let quiet = p.errors.is_empty()
        && p.fields.is_empty()
        && p.tokens.is_some_and(|t| t.delta == 0.0)
        && p.messages.iter().all(|s| s.status == SectionStatus::Unchanged);
    if quiet && p.status == Status::Modified {
        let _ = writeln!(
            out,
            "  no change to the messages or settings (formatting or comments only)"
        );
    }
    if !p.fields.is_empty() {
        let _ = writeln!(out, "  settings");
        let w = p.fields.iter().map(|f| f.field.chars().count()).max().unwrap_or(0);
        for f in &p.fields {
            let _ = writeln!(out, "    {:<w$}  {}", f.field, field_change(f));
        }
    }
    for s in &p.messages {
        section_text(out, c, p, s, exact);
    }
}

fn section_text(out: &mut String, c: &Paint, p: &PromptDiff, s: &SectionDiff, exact: bool) {
    let mut head = match &s.tokens {
        Some(t) if s.status == SectionStatus::Unchanged && t.delta == 0.0 => {
            format!("{}  (unchanged)", approx(num(t.after), exact))
        }
        Some(t) => format!("{}  {}", arrow(t, exact), c.delta(t.delta, change(t, exact))),
        None => "raw file text (a side did not parse)".to_string(),
    };
    // A whole message comes or goes with its framing: say how much.
    if let (Some(t), Some(ct), SectionStatus::Added | SectionStatus::Removed) = (&s.tokens, &s.content_tokens, s.status)
    {
        let framing = t.delta.abs() - ct.delta.abs();
        head.push_str(&format!(
            "; {} text + {} message framing",
            num(ct.delta.abs()),
            num(framing)
        ));
        if matches!(p.status, Status::Modified | Status::Renamed) {
            let what = if s.status == SectionStatus::Added {
                "added"
            } else {
                "removed"
            };
            head.push_str(&format!(" (message {what})"));
        }
    }
    let _ = writeln!(out, "  {:<10} {head}", s.role);
    // When variables or loops make the rendered change differ from the
    // template text's, say what the hunks add up to.
    let hunk_sum: i64 = s.hunks.iter().map(|h| h.tokens_delta).sum();
    if let Some(t) = &s.content_tokens
        && !s.hunks.is_empty()
        && (t.delta - s.template_tokens.delta as f64).abs() >= 0.05
    {
        let _ = writeln!(
            out,
            "    {}",
            c.p(
                DIM,
                format!(
                    "template text {} tokens (hunks below); rendered content {} (variables, loops)",
                    approx(signed(s.template_tokens.delta as f64), exact),
                    approx(signed(t.delta), exact)
                )
            )
        );
    }
    if s.template_tokens.tokenizer_delta != 0 {
        let _ = writeln!(
            out,
            "    {}",
            c.p(
                DIM,
                format!(
                    "tokenizer change: {} tokens on the unchanged text; hunks {}",
                    signed(s.template_tokens.tokenizer_delta as f64),
                    signed(hunk_sum as f64)
                )
            )
        );
    }
    for h in &s.hunks {
        let at = c.p(
            CYAN,
            format!(
                "@@ -{},{} +{},{} @@",
                h.old_start, h.old_lines, h.new_start, h.new_lines
            ),
        );
        // Raw file text is not the request: no token figure for it.
        let cost = if s.tokens.is_some() {
            let t = format!("{} tokens", approx(signed(h.tokens_delta as f64), exact));
            format!("  {}", c.delta(h.tokens_delta as f64, t))
        } else {
            String::new()
        };
        let _ = writeln!(out, "    {at}{cost}");
        for l in &h.lines {
            let _ = writeln!(out, "    {}", line_text(c, l.op, &l.text, &l.words));
        }
    }
}

fn line_text(c: &Paint, op: LineOp, text: &str, words: &[(bool, String)]) -> String {
    let style = match op {
        LineOp::Equal => return format!("{}{text}", op.sign()),
        LineOp::Delete => RED,
        LineOp::Insert => GREEN,
    };
    if !c.color {
        return format!("{}{text}", op.sign());
    }
    let mut s = c.p(style, op.sign());
    for (emph, w) in words.iter().filter(|(_, w)| !w.is_empty()) {
        let st = if *emph { style.bold().invert() } else { style };
        s.push_str(&c.p(st, w));
    }
    s
}

fn summary_table(r: &DiffReport, c: &Paint) -> String {
    let mut t = super::text::table(&["PROMPT", "STATUS", "TOKENS", "Δ", "Δ%", "COST/1K Δ", "MODEL"]);
    super::text::align_right(&mut t, &[2, 3, 4, 5]);
    for p in &r.prompts {
        let exact = p.exact();
        let (tok, d, dp) = match &p.tokens {
            Some(x) => (arrow(x, exact), approx(signed(x.delta), exact), pct(x.before, x.after)),
            None => ("error".into(), "?".into(), "?".into()),
        };
        let cost = p
            .cost_per_1k_calls_usd
            .map(|k| usd_delta(k.delta))
            .unwrap_or_else(|| "?".into());
        t.add_row(vec![
            short_name(p),
            p.status.as_str().to_string(),
            tok,
            d,
            dp,
            cost,
            model_text(p),
        ]);
    }
    let s = &r.summary;
    if r.prompts.len() > 1 {
        t.add_row(vec![
            "total".to_string(),
            String::new(),
            arrow(&s.tokens, s.exact),
            approx(signed(s.tokens.delta), s.exact),
            pct(s.tokens.before, s.tokens.after),
            usd_delta(s.cost_per_1k_calls_usd.delta),
            String::new(),
        ]);
    }
    let mut out = super::text::render(&t);
    let _ = writeln!(out, "{}", counts_line(r));
    if let Some(m) = &s.monthly_usd {
        let _ = writeln!(
            out,
            "monthly at promptctl.toml traffic: {} → {} ({})",
            usd(m.before),
            usd(m.after),
            c.delta(m.delta, usd_delta(m.delta))
        );
    }
    out
}

/// `3 prompts changed: 1 added, 2 modified`.
fn counts_line(r: &DiffReport) -> String {
    let s = &r.summary;
    let n = s.prompts_changed;
    let mut parts = Vec::new();
    for (k, v) in [
        ("added", s.added),
        ("deleted", s.deleted),
        ("modified", s.modified),
        ("renamed", s.renamed),
    ] {
        if v > 0 {
            parts.push(format!("{v} {k}"));
        }
    }
    let mut line = format!("{n} prompt{} changed", if n == 1 { "" } else { "s" });
    if !parts.is_empty() {
        line.push_str(&format!(": {}", parts.join(", ")));
    }
    if s.with_errors > 0 {
        line.push_str(&format!("; {} with errors", s.with_errors));
    }
    if s.skipped > 0 {
        line.push_str(&format!("; {} skipped", s.skipped));
    }
    line
}

// ------------------------------------------------------------------ stat

/// One line per prompt, like `git diff --stat` in tokens.
pub fn render_stat(r: &DiffReport, color: bool) -> String {
    let c = Paint { color };
    if r.prompts.is_empty() && r.skipped.is_empty() {
        return String::new();
    }
    struct Row {
        name: String,
        delta: String,
        range: String,
        pct: String,
        tokens: Option<f64>,
    }
    let rows: Vec<Row> = r
        .prompts
        .iter()
        .map(|p| match &p.tokens {
            Some(t) => Row {
                name: short_name(p),
                delta: format!("{} tokens", approx(signed(t.delta), p.exact())),
                range: arrow(t, p.exact()),
                pct: pct(t.before, t.after),
                tokens: Some(t.delta),
            },
            None => Row {
                name: short_name(p),
                delta: "error".into(),
                range: p.errors.first().map(|e| e.message.clone()).unwrap_or_default(),
                pct: String::new(),
                tokens: None,
            },
        })
        .collect();
    let w = |f: fn(&Row) -> &String| rows.iter().map(|r| f(r).chars().count()).max().unwrap_or(0);
    let (nw, dw, rw, pw) = (w(|r| &r.name), w(|r| &r.delta), w(|r| &r.range), w(|r| &r.pct));
    let max = rows.iter().filter_map(|r| r.tokens.map(f64::abs)).fold(0.0, f64::max);
    let mut out = String::new();
    for row in &rows {
        let bar = match row.tokens {
            Some(d) if max > 0.0 => {
                let len = ((d.abs() / max) * 30.0).ceil() as usize;
                if d > 0.0 {
                    c.p(RED, "+".repeat(len))
                } else {
                    c.p(GREEN, "-".repeat(len))
                }
            }
            _ => String::new(),
        };
        let line = format!(
            " {:<nw$} | {:>dw$}  {:>rw$}  {:>pw$}  {bar}",
            row.name, row.delta, row.range, row.pct
        );
        let _ = writeln!(out, "{}", line.trim_end());
    }
    for s in &r.skipped {
        let _ = writeln!(out, " {} | skipped: {}", s.path.display(), s.reason);
    }
    let s = &r.summary;
    let _ = writeln!(
        out,
        " {}, {} tokens ({}), cost/1k calls {}",
        counts_line(r),
        approx(signed(s.tokens.delta), s.exact),
        pct(s.tokens.before, s.tokens.after),
        usd_delta(s.cost_per_1k_calls_usd.delta)
    );
    out
}

// -------------------------------------------------------------- markdown

fn md_cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn md_code(s: &str) -> String {
    let ticks = if s.contains('`') { "``" } else { "`" };
    let pad = if s.starts_with('`') || s.ends_with('`') {
        " "
    } else {
        ""
    };
    md_cell(&format!("{ticks}{pad}{s}{pad}{ticks}"))
}

/// A PR comment: headline, the summary table, then one folded section per
/// prompt with figures, settings changes, per-message tokens and the diff.
pub fn render_markdown(r: &DiffReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "### Prompt diff: {} → {}\n",
        md_code(&r.base.label()),
        md_code(&r.head.label())
    );
    if r.prompts.is_empty() && r.skipped.is_empty() {
        out.push_str("No prompt changes.\n");
        return out;
    }
    let s = &r.summary;
    let mut head = format!(
        "**{}** · tokens **{}** ({}) · cost per 1k calls **{}**",
        counts_line(r),
        approx(signed(s.tokens.delta), s.exact),
        pct(s.tokens.before, s.tokens.after),
        usd_delta(s.cost_per_1k_calls_usd.delta)
    );
    if let Some(m) = &s.monthly_usd {
        head.push_str(&format!(" · monthly **{}**", usd_delta(m.delta)));
    }
    let _ = writeln!(out, "{head}\n");
    out.push_str("| Prompt | Status | Tokens | Δ | Δ% | Cost/1k Δ | Model |\n");
    out.push_str("| --- | --- | ---: | ---: | ---: | ---: | --- |\n");
    for p in &r.prompts {
        let exact = p.exact();
        let (tok, d, dp) = match &p.tokens {
            Some(x) => (arrow(x, exact), approx(signed(x.delta), exact), pct(x.before, x.after)),
            None => ("error".into(), "?".into(), "?".into()),
        };
        let cost = p
            .cost_per_1k_calls_usd
            .map(|k| usd_delta(k.delta))
            .unwrap_or_else(|| "?".into());
        let name = match (p.status, &p.old_name) {
            (Status::Renamed, Some(o)) => format!("{} ← {}", md_code(&p.name), md_code(o)),
            _ => md_code(&p.name),
        };
        let model = match p.model_change() {
            Some((a, b)) => format!("{} → {}", md_code(a), md_code(b)),
            None => p.model().map(md_code).unwrap_or_default(),
        };
        let _ = writeln!(
            out,
            "| {name} | {} | {tok} | {d} | {dp} | {cost} | {model} |",
            p.status.as_str()
        );
    }
    for sk in &r.skipped {
        let _ = writeln!(
            out,
            "| {} | skipped | {} | | | | |",
            md_code(&sk.path.display().to_string()),
            md_cell(&sk.reason)
        );
    }
    out.push('\n');
    for p in &r.prompts {
        prompt_markdown(&mut out, r, p);
    }
    for w in &r.warnings {
        let _ = writeln!(out, "> warning: {}\n", md_cell(w));
    }
    let mut foot = format!(
        "<sub>tokens: mean rendered input per call · cost: input + output at the cap · prices: built-in catalog {}",
        r.catalog_date
    );
    if !s.exact {
        foot.push_str(" · ≈ estimate (no public tokenizer)");
    }
    foot.push_str("</sub>\n");
    out.push_str(&foot);
    out
}

fn prompt_markdown(out: &mut String, r: &DiffReport, p: &PromptDiff) {
    let exact = p.exact();
    let what = match &p.tokens {
        Some(t) => format!("{} tokens ({})", approx(signed(t.delta), exact), pct(t.before, t.after)),
        None => "does not parse at one side".into(),
    };
    let _ = writeln!(
        out,
        "<details>\n<summary><code>{}</code> {}: {what}</summary>\n",
        crate::report::html::escape(&p.name),
        p.status.as_str()
    );
    if let (Status::Renamed, Some(o)) = (p.status, &p.old_name) {
        let sim = p.similarity_pct.map(|s| format!(" ({s}% similar)")).unwrap_or_default();
        let _ = writeln!(out, "- Renamed from {}{sim}", md_code(o));
    }
    if let Some(m) = p.model() {
        match p.model_change() {
            Some((a, b)) => {
                let _ = writeln!(
                    out,
                    "- Model: {} → {} (each side priced with its own model)",
                    md_code(a),
                    md_code(b)
                );
            }
            None => {
                let _ = writeln!(out, "- Model: {}", md_code(m));
            }
        }
    }
    if let Some(s) = samples_line(r, p) {
        let _ = writeln!(out, "- Samples: {}", md_cell(&s));
    }
    if let Some(t) = &p.tokens {
        let _ = writeln!(out, "- Tokens: {}, {}", arrow(t, exact), change(t, exact));
    }
    if let (Some(call), Some(k)) = (&p.cost_per_call_usd, &p.cost_per_1k_calls_usd) {
        let _ = writeln!(
            out,
            "- Cost per call: {} → {} ({}); per 1k calls: {} → {} ({})",
            usd(call.before),
            usd(call.after),
            pct(call.before, call.after),
            usd(k.before),
            usd(k.after),
            usd_delta(k.delta)
        );
    }
    if let Some(pr) = &p.projection {
        let m = &pr.monthly_usd;
        let _ = writeln!(
            out,
            "- Monthly at {} requests/day: {} → {} ({})",
            num(pr.requests_per_day),
            usd(m.before),
            usd(m.after),
            usd_delta(m.delta)
        );
    }
    for e in &p.errors {
        let _ = writeln!(out, "- **Error ({})**: {}", which(e.side), md_cell(&e.message));
        for h in &e.hints {
            let _ = writeln!(out, "  - hint: {}", md_cell(h));
        }
    }
    out.push('\n');
    if !p.fields.is_empty() {
        out.push_str("| Setting | Before | After |\n| --- | --- | --- |\n");
        for f in &p.fields {
            let (b, a) = if !f.added.is_empty() || !f.removed.is_empty() {
                let mut parts: Vec<String> = f.added.iter().map(|x| format!("+{x}")).collect();
                parts.extend(f.removed.iter().map(|x| format!("-{x}")));
                (value(&f.before), format!("{} ({})", value(&f.after), parts.join(" ")))
            } else {
                (value(&f.before), value(&f.after))
            };
            let _ = writeln!(out, "| {} | {} | {} |", md_code(&f.field), md_code(&b), md_code(&a));
        }
        out.push('\n');
    }
    let measured: Vec<&SectionDiff> = p.messages.iter().filter(|s| s.tokens.is_some()).collect();
    if !measured.is_empty() {
        out.push_str("| Message | Before | After | Δ |\n| --- | ---: | ---: | ---: |\n");
        for s in &measured {
            if let Some(t) = &s.tokens {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} |",
                    section_title(s),
                    approx(num(t.before), exact),
                    approx(num(t.after), exact),
                    if t.delta == 0.0 {
                        "0".to_string()
                    } else {
                        change(t, exact)
                    }
                );
            }
        }
        out.push('\n');
    }
    let mut body = String::new();
    for s in &p.messages {
        for h in &s.hunks {
            let cost = if s.tokens.is_some() {
                format!(" · {} tokens", approx(signed(h.tokens_delta as f64), exact))
            } else {
                String::new()
            };
            let _ = writeln!(
                body,
                "@@ -{},{} +{},{} @@ {}{cost}",
                h.old_start, h.old_lines, h.new_start, h.new_lines, s.role
            );
            for l in &h.lines {
                let _ = writeln!(body, "{}{}", l.op.sign(), l.text);
            }
        }
    }
    if !body.is_empty() {
        let fence = fence_for(&body);
        let _ = writeln!(out, "{fence}diff\n{body}{fence}\n");
    }
    out.push_str("</details>\n\n");
}

/// A code fence longer than any backtick run in the text.
fn fence_for(body: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for ch in body.chars() {
        if ch == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    "`".repeat(longest.max(2) + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_format_for_people() {
        assert_eq!(num(412.0), "412");
        assert_eq!(num(412.25), "412.2");
        assert_eq!(signed(3.0), "+3");
        assert_eq!(signed(-3.5), "-3.5");
        assert_eq!(signed(0.0), "0");
        assert_eq!(approx("12".into(), false), "≈12");
        let b = BeforeAfter::new(100.0, 150.0);
        assert_eq!(change(&b, true), "+50 (+50.0%)");
        assert_eq!(change(&BeforeAfter::new(0.0, 10.0), true), "+10 (new)");
    }

    #[test]
    fn field_values_read_as_written() {
        assert_eq!(value(&serde_json::json!(0.0)), "0");
        assert_eq!(value(&serde_json::json!(0.25)), "0.25");
        assert_eq!(value(&Value::Null), "(none)");
        assert_eq!(value(&serde_json::json!("x")), "x");
        assert_eq!(value(&serde_json::json!(["a", "b"])), r#"["a","b"]"#);
    }

    #[test]
    fn fences_outgrow_backticks_in_the_text() {
        assert_eq!(fence_for("plain"), "```");
        assert_eq!(fence_for("has ``` inside"), "````");
        assert_eq!(md_code("a|b"), "`a\\|b`");
        assert_eq!(md_code("x`y"), "``x`y``");
    }

    #[test]
    fn colour_marks_changed_words_only_when_on() {
        let words = vec![(false, "two".to_string()), (true, ", changed".to_string())];
        let plain = line_text(&Paint { color: false }, LineOp::Insert, "two, changed", &words);
        assert_eq!(plain, "+two, changed");
        let coloured = line_text(&Paint { color: true }, LineOp::Insert, "two, changed", &words);
        assert!(coloured.contains("\u{1b}["), "{coloured:?}");
        let emph = GREEN.bold().invert().render().to_string();
        assert!(coloured.contains(&format!("{emph}, changed")), "{coloured:?}");
    }
}
