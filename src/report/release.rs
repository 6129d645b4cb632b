//! Human renderers for releases: plans (dry run and applied), status,
//! history, resolve. JSON is the models themselves (`report::json`).

use crate::release::gate::GateResult;
use crate::release::history::History;
use crate::release::ops::{Applied, Plan};
use crate::release::push::PushStatus;
use crate::release::resolve::Resolution;
use crate::release::state::{Action, Change, Slot, VersionTag};
use crate::release::status::{PromptStatus, WorkingTree};
use crate::report;
use crate::ui::{DIM, GREEN, RED, Ui, YELLOW};

fn short(id: &str) -> &str {
    &id[..id.len().min(7)]
}

fn gate_lines(ui: &Ui, gates: &[GateResult], indent: &str, out: &mut String) {
    let width = gates.iter().map(|g| g.name.len()).max().unwrap_or(0);
    for (i, g) in gates.iter().enumerate() {
        let mark = if g.passed {
            ui.paint(GREEN, "pass")
        } else {
            ui.paint(RED, "FAIL")
        };
        let lead = if i == 0 { "gates     " } else { "          " };
        out.push_str(&format!("{indent}{lead}{mark} {:width$}  {}\n", g.name, g.summary));
    }
}

fn measured(v: &VersionTag) -> Option<String> {
    let mut parts = Vec::new();
    if let Some(m) = &v.model {
        parts.push(m.clone());
    }
    if let Some(t) = v.input_tokens {
        parts.push(format!("{} input tokens", report::tokens(t, v.exact)));
    }
    if let Some(c) = v.output_cap {
        parts.push(format!("output cap {c}"));
    }
    if let Some(c) = v.cost_per_call_usd {
        parts.push(format!("{}/call at the cap", report::usd(c)));
    }
    (!parts.is_empty()).then(|| parts.join(", "))
}

fn change_line(c: &Change) -> String {
    if c.changed() {
        if c.to.version.is_none() {
            format!("{} → cleared", c.from.label())
        } else {
            format!("{} → {}", c.from.label(), c.to.label())
        }
    } else {
        format!("{} (unchanged)", c.to.label())
    }
}

/// A plan; `applied` when it was executed (verbs in the past tense).
pub fn plan(ui: &Ui, p: &Plan, applied: Option<&Applied>) -> String {
    let mut out = String::new();
    let title = match (p.action, &p.version) {
        (Action::Release, Some(v)) => format!(
            "release {} {} from {}",
            p.prompt,
            v.label(),
            p.rev.as_deref().unwrap_or(short(&v.commit))
        ),
        (Action::Promote, _) => format!("promote {} canary {} to stable", p.prompt, p.stable.to.label()),
        (Action::Rollback, _) => format!("roll back {} to {}", p.prompt, p.stable.to.label()),
        (Action::CanaryWeight, _) => format!(
            "set {} canary {} weight to {}%",
            p.prompt,
            p.canary.to.label().split(' ').next().unwrap_or(""),
            p.canary.to.weight.unwrap_or(0)
        ),
        (Action::Release, None) => format!("release {}", p.prompt),
    };
    out.push_str(&title);
    out.push('\n');
    if let Some(v) = &p.version {
        out.push_str(&format!("  content   {}  blake3 {}\n", v.path, &v.content_hash[..16]));
        if let Some(m) = measured(v) {
            out.push_str(&format!("  measured  {m}\n"));
        }
        if let Some(e) = &v.eval {
            out.push_str(&format!("  eval      {e}\n"));
        }
    }
    if let Some(g) = &p.gates {
        gate_lines(ui, &g.gates, "  ", &mut out);
    }
    if !p.overrides.is_empty() {
        out.push_str(&format!(
            "  {}  {} failed gate{} overridden with --force\n",
            ui.paint(YELLOW, "override"),
            p.overrides.len(),
            if p.overrides.len() == 1 { "" } else { "s" }
        ));
    }
    out.push_str(&format!("  stable    {}\n", change_line(&p.stable)));
    out.push_str(&format!("  canary    {}\n", change_line(&p.canary)));
    if let Some(r) = &p.reason {
        out.push_str(&format!("  reason    {r}\n"));
    }
    out.push_str(&format!("  actor     {}\n", p.actor));
    let tw = p.refs.iter().map(|u| u.tag.chars().count()).max().unwrap_or(0);
    for (i, u) in p.refs.iter().enumerate() {
        let lead = if i == 0 { "tags      " } else { "          " };
        let verb = match (applied.is_some(), u.op) {
            (true, "create") => "created",
            (true, _) => "moved",
            (false, op) => op,
        };
        out.push_str(&format!("  {lead}{verb:<8}{:tw$}  → {}\n", u.tag, short(&u.commit)));
    }
    if let Some(push) = applied.and_then(|a| a.push.as_ref()) {
        let counts = |s: PushStatus| push.refs.iter().filter(|r| r.status == s).count();
        out.push_str(&format!(
            "  pushed    {}: {} new, {} forced, {} up to date\n",
            push.remote,
            counts(PushStatus::New),
            counts(PushStatus::Forced) + counts(PushStatus::Updated),
            counts(PushStatus::UpToDate)
        ));
        if let Some(n) = &push.notes {
            out.push_str(&format!("  notes     {}\n", n.message));
        }
    }
    out
}

pub fn status(ui: &Ui, rows: &[PromptStatus]) -> String {
    if rows.is_empty() {
        return "no prompts found (prompt files are prompts/**/*.prompt)\n".to_string();
    }
    let mut t = report::text::table(&["PROMPT", "STABLE", "CANARY", "WORKING TREE"]);
    let mut any_estimate = false;
    let mut any_stale = false;
    for r in rows {
        let canary = match (r.canary, r.canary_weight) {
            (Some(v), Some(w)) => format!("v{v} at {w}%"),
            _ => "-".to_string(),
        };
        let wt = match &r.working_tree {
            WorkingTree::NotReleased => "not released".to_string(),
            WorkingTree::Unchanged => "same as stable".to_string(),
            WorkingTree::Deleted => ui.paint(YELLOW, "deleted (stable still served)"),
            WorkingTree::Modified {
                uncommitted,
                stable_input_tokens,
                input_tokens,
                delta_tokens,
                exact,
                unmeasured,
            } => {
                any_estimate |= !exact;
                let what = if *uncommitted {
                    "unreleased, uncommitted"
                } else {
                    "unreleased changes"
                };
                let figures = match (stable_input_tokens, input_tokens, delta_tokens) {
                    (Some(a), Some(b), Some(d)) => format!(
                        ": {} → {} tokens ({})",
                        report::tokens(*a, *exact),
                        report::tokens(*b, *exact),
                        report::signed(*d)
                    ),
                    _ => unmeasured
                        .as_ref()
                        .map(|e| format!(" (not measured: {e})"))
                        .unwrap_or_default(),
                };
                ui.paint(YELLOW, format!("{what}{figures}"))
            }
        };
        any_stale |= r.stale;
        t.add_row(vec![
            format!("{}{}", r.prompt, if r.stale { " !" } else { "" }),
            r.stable.map(|v| format!("v{v}")).unwrap_or_else(|| "-".to_string()),
            canary,
            wt,
        ]);
    }
    let mut out = report::text::render(&t);
    if any_estimate {
        out.push_str("≈ estimate: the model has no public tokenizer\n");
    }
    if any_stale {
        out.push_str("! channel tags are older than the newest event tag: run `git fetch --tags --force`\n");
    }
    out
}

fn stamp_line(ui: &Ui, date: &str, actor: &str) -> String {
    let d = date.replace('T', " ").replace('Z', " UTC");
    ui.paint(DIM, format!("{d}  {actor}"))
}

pub fn history(ui: &Ui, h: &History) -> String {
    let mut out = format!(
        "{}: stable {}, canary {}\n",
        h.prompt,
        h.stable.label(),
        h.canary.label()
    );
    let mut any_runs = false;
    for e in &h.entries {
        out.push('\n');
        match &e.event {
            Some(ev) => {
                let what = match (ev.action, ev.version) {
                    (Action::Release, Some(v)) => format!("release v{v}"),
                    (a, _) => a.as_str().to_string(),
                };
                out.push_str(&format!(
                    "{} {}  {}\n",
                    ui.paint(YELLOW, format!("event {}", ev.number)),
                    what,
                    stamp_line(ui, &ev.stamp.date, &ev.stamp.actor)
                ));
                let mut moves = Vec::new();
                if ev.stable.changed() {
                    moves.push(format!("stable {} → {}", ev.stable.from.label(), ev.stable.to.label()));
                }
                if ev.canary.changed() {
                    moves.push(match ev.canary.to {
                        Slot { version: None, .. } => format!("canary {} cleared", ev.canary.from.label()),
                        to => format!("canary {} → {}", ev.canary.from.label(), to.label()),
                    });
                }
                if !moves.is_empty() {
                    out.push_str(&format!("  {}\n", moves.join("; ")));
                }
            }
            None => {
                if let Some(v) = &e.version {
                    out.push_str(&format!(
                        "{} (no event tag)  {}\n",
                        ui.paint(YELLOW, v.label()),
                        stamp_line(ui, &v.stamp.date, &v.stamp.actor)
                    ));
                }
            }
        }
        if let Some(v) = &e.version {
            out.push_str(&format!(
                "  {} on {}, blake3 {}\n",
                v.tag,
                short(&v.commit),
                &v.content_hash[..v.content_hash.len().min(16)]
            ));
            if let Some(m) = measured(v) {
                out.push_str(&format!("  measured: {m}\n"));
            }
            if !v.gates.is_empty() {
                let gates: Vec<String> = v
                    .gates
                    .iter()
                    .map(|g| {
                        if g.passed {
                            format!("{} {}", g.name, ui.paint(GREEN, "pass"))
                        } else {
                            format!("{} {}", g.name, ui.paint(RED, "FAIL"))
                        }
                    })
                    .collect();
                out.push_str(&format!("  gates: {}\n", gates.join(", ")));
            }
        }
        for r in &e.eval_runs {
            any_runs = true;
            let date = r.date.as_deref().map(|d| format!(" ({d})")).unwrap_or_default();
            out.push_str(&format!("  eval: {}{date}\n", crate::release::ops::eval_line(r)));
        }
        let overrides = e
            .event
            .as_ref()
            .map(|ev| ev.overrides.clone())
            .filter(|o| !o.is_empty())
            .or_else(|| e.version.as_ref().map(|v| v.overrides.clone()))
            .unwrap_or_default();
        for o in overrides {
            out.push_str(&format!("  {} {o}\n", ui.paint(RED, "override:")));
        }
        let reason = e
            .event
            .as_ref()
            .and_then(|ev| ev.reason.clone())
            .or_else(|| e.version.as_ref().and_then(|v| v.reason.clone()));
        if let Some(r) = reason {
            out.push_str(&format!("  reason: {r}\n"));
        }
    }
    if h.entries.is_empty() {
        out.push_str("\nnot released yet\n");
    }
    if !any_runs && !h.notes_present && !h.entries.is_empty() {
        out.push_str("\nno eval metrics here: they are git notes (refs/notes/promptctl), which clones do not fetch;\n  get them with: git fetch origin refs/notes/promptctl:refs/notes/promptctl\n");
    }
    if h.stale {
        out.push_str("\nwarning: channel tags are older than the newest event tag: run `git fetch --tags --force`\n");
    }
    out
}

pub fn resolution(r: &Resolution) -> String {
    let key = r.key.as_ref().map(|k| format!("key {k:?}: ")).unwrap_or_default();
    format!("{} v{}  {}  ({}{})\n", r.prompt, r.version, r.channel, key, r.why)
}
