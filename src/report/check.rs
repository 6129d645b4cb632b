//! Renderers of a [`CheckReport`]: text for people, markdown for PR comments
//! and the GitHub step summary, GitHub workflow commands for annotations on
//! the PR diff, and SARIF 2.1.0 for code-scanning dashboards. JSON is the
//! report itself (`report::json`).
//!
//! Paths: findings carry project-relative paths. GitHub and SARIF want paths
//! relative to the repository root, so those renderers take the project's
//! prefix inside the repository ("" when the project is at its top).

use std::fmt::Write as _;
use std::path::Path;

use serde_json::{Value, json};

use crate::budget::check::{BaseState, CheckReport, Finding, PromptCheck, Unit};
use crate::budget::rules::{RULES, Severity};
use crate::report::{tokens, usd};
use crate::ui::{self, Ui};

/// A limit or measured value in its unit: `1200`, `≈1200`, `$0.0021`, `25%`.
pub fn value(v: f64, unit: Unit, exact: bool) -> String {
    match unit {
        Unit::Tokens => tokens(v.round() as u64, exact),
        Unit::Usd => usd(v),
        Unit::Percent => pct_value(v),
    }
}

/// `25%`, `40.3%`: whole numbers without decimals.
fn pct_value(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}%")
    } else {
        format!("{v:.1}%")
    }
}

fn severity_word(s: Severity) -> &'static str {
    s.as_str()
}

fn location(f: &Finding, prefix: &Path) -> String {
    let file = prefix.join(&f.file);
    match f.line {
        Some(l) => format!("{}:{l}", file.display()),
        None => file.display().to_string(),
    }
}

/// `limit 600, measured 640 (max_input_tokens in prompts/x.prompt front matter)`.
fn limit_line(f: &Finding) -> Option<String> {
    let (limit, measured, unit) = (f.limit?, f.measured?, f.unit?);
    let exact = f.exact.unwrap_or(true);
    let mut s = format!(
        "limit {}, measured {}",
        value(limit, unit, exact),
        value(measured, unit, exact)
    );
    if let Some(src) = &f.limit_source {
        s.push_str(&format!(" ({src})"));
    }
    Some(s)
}

// --- text -------------------------------------------------------------------

pub fn text(r: &CheckReport, ui: &Ui) -> String {
    let mut out = String::new();
    for f in r.findings.iter().filter(|f| f.severity != Severity::Ignore) {
        let style = if f.severity == Severity::Error {
            ui::RED
        } else {
            ui::YELLOW
        };
        let head = ui.paint(style, format!("{}[{}]", severity_word(f.severity), f.code));
        let who = f.prompt.as_deref().map(|p| format!("{p}: ")).unwrap_or_default();
        let _ = writeln!(out, "{head}: {who}{}", f.message);
        let _ = writeln!(out, "  --> {}", location(f, Path::new("")));
        if let Some(l) = limit_line(f) {
            let _ = writeln!(out, "   = {l}");
        }
        if let Some(reason) = &f.override_reason {
            let _ = writeln!(
                out,
                "   = severity {} (default {}) by promptctl.toml: {reason}",
                f.severity.as_str(),
                f.default_severity.as_str()
            );
        }
        for h in &f.hints {
            let _ = writeln!(out, "   = hint: {h}");
        }
        out.push('\n');
    }

    let with_base = r.base.is_some();
    let mut t = crate::report::text::table(&["PROMPT", "MODEL", "INPUT", "MAX OUT", "COST/CALL", "RESULT"]);
    crate::report::text::align_right(&mut t, &[2, 3, 4]);
    for p in &r.prompts {
        let (input, cost) = figures(p, with_base);
        t.add_row(vec![
            p.prompt.clone(),
            p.model.clone().unwrap_or_else(|| "-".to_string()),
            input,
            p.output_tokens_priced
                .map(|n| {
                    if p.output_cap.is_some() {
                        n.to_string()
                    } else {
                        format!("{n}*")
                    }
                })
                .unwrap_or_else(|| "-".to_string()),
            cost,
            result_word(p),
        ]);
    }
    out.push_str(&crate::report::text::render(&t));

    let ignored: Vec<&Finding> = r.findings.iter().filter(|f| f.severity == Severity::Ignore).collect();
    if !ignored.is_empty() {
        let _ = writeln!(out, "\nignored by promptctl.toml [[check.override]]:");
        for f in ignored {
            let _ = writeln!(
                out,
                "  {} {}: {}",
                f.code,
                location(f, Path::new("")),
                f.override_reason.as_deref().unwrap_or("")
            );
        }
    }
    out.push('\n');
    out.push_str(&footnotes(r));
    let s = &r.summary;
    let verdict = if r.passed {
        ui.paint(ui::GREEN, "check passed")
    } else {
        ui.paint(ui::RED, "check failed")
    };
    let _ = writeln!(out, "{verdict}: {}", counts(s));
    out
}

/// `3 prompts, 1 error, 0 warnings[, 2 ignored]`.
fn counts(s: &crate::budget::check::Summary) -> String {
    let mut out = format!(
        "{} prompt{}, {} error{}, {} warning{}",
        s.prompts,
        plural(s.prompts),
        s.errors,
        plural(s.errors),
        s.warnings,
        plural(s.warnings)
    );
    if s.ignored > 0 {
        out.push_str(&format!(", {} ignored", s.ignored));
    }
    out
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn result_word(p: &PromptCheck) -> String {
    match (p.parsed, p.errors, p.warnings) {
        (false, _, _) => "parse error".to_string(),
        (_, 0, 0) => "ok".to_string(),
        (_, 0, w) => format!("{w} warning{}", plural(w)),
        (_, e, 0) => format!("{e} error{}", plural(e)),
        (_, e, w) => format!("{e} error{}, {w} warning{}", plural(e), plural(w)),
    }
}

/// Input and cost cells: `412`, or `412 → 578 (+40.3%)` with a base.
fn figures(p: &PromptCheck, with_base: bool) -> (String, String) {
    let exact = p.exact.unwrap_or(true);
    let (Some(input), Some(cost)) = (p.input_tokens, p.cost_per_call_usd) else {
        return ("-".to_string(), "-".to_string());
    };
    if !with_base {
        return (tokens(input, exact), usd(cost));
    }
    match &p.base {
        Some(BaseState::Measured {
            input_tokens,
            cost_per_call_usd,
            exact: base_exact,
            ..
        }) => (
            format!(
                "{} → {} ({})",
                tokens(*input_tokens, *base_exact),
                tokens(input, exact),
                crate::report::pct(*input_tokens as f64, input as f64)
            ),
            format!(
                "{} → {} ({})",
                usd(*cost_per_call_usd),
                usd(cost),
                crate::report::pct(*cost_per_call_usd, cost)
            ),
        ),
        Some(BaseState::New) => (
            format!("new → {}", tokens(input, exact)),
            format!("new → {}", usd(cost)),
        ),
        _ => (format!("? → {}", tokens(input, exact)), format!("? → {}", usd(cost))),
    }
}

fn footnotes(r: &CheckReport) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "input: largest rendered request; cost: input + output at MAX OUT; prices: built-in catalog {}",
        r.catalog_date
    );
    if let Some(b) = &r.base {
        let short: String = b.commit.chars().take(12).collect();
        let _ = write!(out, "; base: {} ({short})", b.rev);
    }
    out.push('\n');
    if r.prompts
        .iter()
        .any(|p| p.parsed && p.output_cap.is_none() && p.output_tokens_priced.is_some())
    {
        out.push_str("* no max_tokens declared: priced at the model's output limit\n");
    }
    if r.prompts.iter().any(|p| p.exact == Some(false)) {
        out.push_str("≈ estimate: the model has no public tokenizer (counted with o200k_base)\n");
    }
    if r.prompts
        .iter()
        .any(|p| matches!(p.base, Some(BaseState::Unmeasured { .. })))
    {
        out.push_str("? the base version could not be measured (see --format json)\n");
    }
    out
}

// --- markdown -----------------------------------------------------------------

/// Escape text for a markdown table cell.
fn cell(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace(['\r', '\n'], " ")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A PR-comment body; also the GitHub step summary. `prefix` is the
/// project's path inside the repository.
pub fn markdown(r: &CheckReport, prefix: &Path) -> String {
    let mut out = String::new();
    let s = &r.summary;
    let verdict = if r.passed { "✅ passed" } else { "❌ failed" };
    let _ = writeln!(
        out,
        "### promptctl check: {verdict} — {} error{}, {} warning{} in {} prompt{}\n",
        s.errors,
        plural(s.errors),
        s.warnings,
        plural(s.warnings),
        s.prompts,
        plural(s.prompts)
    );
    let shown: Vec<&Finding> = r.findings.iter().filter(|f| f.severity != Severity::Ignore).collect();
    if !shown.is_empty() {
        out.push_str("| | Rule | Where | Finding | Limit | Measured |\n|---|---|---|---|--:|--:|\n");
        for f in shown {
            let icon = if f.severity == Severity::Error {
                "❌ error"
            } else {
                "⚠️ warning"
            };
            let exact = f.exact.unwrap_or(true);
            let lim = match (f.limit, f.unit) {
                (Some(v), Some(u)) => value(v, u, exact),
                _ => String::new(),
            };
            let mea = match (f.measured, f.unit) {
                (Some(v), Some(u)) => value(v, u, exact),
                _ => String::new(),
            };
            let mut msg = cell(&f.message);
            if let Some(reason) = &f.override_reason {
                msg.push_str(&format!(" _(severity set by promptctl.toml: {})_", cell(reason)));
            }
            let _ = writeln!(
                out,
                "| {icon} | `{}` | `{}` | {msg} | {lim} | {mea} |",
                f.code,
                cell(&location(f, prefix))
            );
        }
        out.push('\n');
    }
    let ignored: Vec<&Finding> = r.findings.iter().filter(|f| f.severity == Severity::Ignore).collect();
    if !ignored.is_empty() {
        let _ = writeln!(
            out,
            "<details><summary>{} finding{} ignored by promptctl.toml</summary>\n",
            ignored.len(),
            plural(ignored.len())
        );
        for f in ignored {
            let _ = writeln!(
                out,
                "- `{}` `{}`: {} — _{}_",
                f.code,
                cell(&location(f, prefix)),
                cell(&f.message),
                cell(f.override_reason.as_deref().unwrap_or(""))
            );
        }
        out.push_str("\n</details>\n\n");
    }

    let title = match &r.base {
        Some(b) => format!("Tokens and cost per call (`{}` → head)", cell(&b.rev)),
        None => "Tokens and cost per call".to_string(),
    };
    let _ = writeln!(out, "#### {title}\n");
    out.push_str("| Prompt | Model | Input tokens | Max output | Cost/call | Result |\n|---|---|--:|--:|--:|---|\n");
    for p in &r.prompts {
        let (input, cost) = figures(p, r.base.is_some());
        let result = match (p.parsed, p.errors, p.warnings) {
            (false, _, _) => "❌ parse error".to_string(),
            (_, 0, 0) => "✅".to_string(),
            (_, 0, _) => format!("⚠️ {}", result_word(p)),
            _ => format!("❌ {}", result_word(p)),
        };
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} | {} | {result} |",
            cell(&p.prompt),
            cell(p.model.as_deref().unwrap_or("-")),
            cell(&input),
            p.output_tokens_priced
                .map(|n| if p.output_cap.is_some() {
                    n.to_string()
                } else {
                    format!("{n}*")
                })
                .unwrap_or_else(|| "-".to_string()),
            cell(&cost),
        );
    }
    out.push('\n');
    for line in footnotes(r).lines() {
        let _ = writeln!(out, "<sub>{}</sub><br>", cell(line));
    }
    out
}

// --- GitHub workflow commands ---------------------------------------------------

/// Escape a workflow-command message.
pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

/// Escape a workflow-command property value.
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// `::error file=…,line=…,title=…::message` per finding, then a summary line.
pub fn github(r: &CheckReport, prefix: &Path) -> String {
    let mut out = String::new();
    for f in r.findings.iter().filter(|f| f.severity != Severity::Ignore) {
        let cmd = if f.severity == Severity::Error {
            "error"
        } else {
            "warning"
        };
        let mut props = vec![format!(
            "file={}",
            escape_property(&prefix.join(&f.file).to_string_lossy())
        )];
        if let Some(l) = f.line {
            props.push(format!("line={l}"));
        }
        let title = match &f.prompt {
            Some(p) => format!("promptctl {} ({p})", f.code),
            None => format!("promptctl {}", f.code),
        };
        props.push(format!("title={}", escape_property(&title)));
        let mut msg = f.message.clone();
        if let Some(l) = limit_line(f) {
            msg.push_str(&format!("\n{l}"));
        }
        if let Some(reason) = &f.override_reason {
            msg.push_str(&format!("\nseverity set by promptctl.toml: {reason}"));
        }
        for h in &f.hints {
            msg.push_str(&format!("\nhint: {h}"));
        }
        let _ = writeln!(out, "::{cmd} {}::{}", props.join(","), escape_data(&msg));
    }
    let s = &r.summary;
    let _ = writeln!(
        out,
        "promptctl check {}: {}",
        if r.passed { "passed" } else { "failed" },
        counts(s)
    );
    out
}

// --- SARIF 2.1.0 --------------------------------------------------------------------

/// Percent-encode a relative path for a SARIF `uri`.
fn uri(path: &Path) -> String {
    let s = path.to_string_lossy().replace('\\', "/");
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn sarif_level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Ignore => "none",
    }
}

/// A SARIF 2.1.0 log with one run. Ignored findings are kept as suppressed
/// results with the override's reason as justification.
pub fn sarif(r: &CheckReport, prefix: &Path) -> Value {
    let rules: Vec<Value> = RULES
        .iter()
        .map(|rule| {
            json!({
                "id": rule.code,
                "shortDescription": { "text": rule.summary },
                "defaultConfiguration": { "level": sarif_level(rule.severity) },
            })
        })
        .collect();
    let results: Vec<Value> = r
        .findings
        .iter()
        .map(|f| {
            let mut region = json!({});
            if let Some(l) = f.line {
                region = json!({ "startLine": l });
            }
            let mut physical = json!({
                "artifactLocation": { "uri": uri(&prefix.join(&f.file)), "uriBaseId": "%SRCROOT%" },
            });
            if f.line.is_some() {
                physical["region"] = region;
            }
            let mut text = f.message.clone();
            if let Some(l) = limit_line(f) {
                text.push_str(&format!(" ({l})"));
            }
            let mut res = json!({
                "ruleId": f.code,
                "ruleIndex": RULES.iter().position(|x| x.code == f.code),
                "level": sarif_level(if f.severity == Severity::Ignore { f.default_severity } else { f.severity }),
                "message": { "text": text },
                "locations": [{ "physicalLocation": physical }],
            });
            let mut props = serde_json::Map::new();
            if let Some(p) = &f.prompt {
                props.insert("prompt".into(), json!(p));
            }
            for (k, v) in [("limit", f.limit), ("measured", f.measured)] {
                if let Some(v) = v {
                    props.insert(k.into(), json!(v));
                }
            }
            if let Some(u) = f.unit {
                props.insert("unit".into(), json!(u));
            }
            if let Some(e) = f.exact {
                props.insert("exact".into(), json!(e));
            }
            if !props.is_empty() {
                res["properties"] = Value::Object(props);
            }
            if f.severity == Severity::Ignore {
                res["suppressions"] = json!([{
                    "kind": "external",
                    "justification": f.override_reason.clone().unwrap_or_default(),
                }]);
            }
            res
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "promptctl",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "originalUriBaseIds": { "%SRCROOT%": { "description": { "text": "the repository root" } } },
            "results": results,
        }],
    })
}

#[cfg(test)]
mod tests;
