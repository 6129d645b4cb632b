//! The worst case of a prompt with a conversation-history variable, at its
//! declared history budget: the "history tripled the bill" failure.
//!
//! Method (documented for users; keep it in step with docs/check.md):
//! 1. The request without history: every sample (eval case, or
//!    `input.default`) rendered with the history variable empty; the largest.
//! 2. The history at its budget. A turn is one message of the history list.
//!    - `max_history_tokens`: that many tokens (as billed, per-message framing
//!      included).
//!    - `max_history_turns = N`: the history alternates, so ⌈N/2⌉ assistant
//!      turns and ⌊N/2⌋ user turns. An assistant turn is a previous reply, so
//!      it is bounded by the output cap (`config.max_tokens`); a user turn is
//!      taken as long as the longest user or system message in the history of
//!      the prompt's eval cases. Where one of the two is unknown (no cap, no
//!      user turn in any case), the other stands in for it.
//!    - both declared: the smaller of the two.
//! 3. Worst case = (1) + (2). `check` holds it against `max_input_tokens` and
//!    the context window less the output cap and the margin.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Budget;
use crate::catalog::Model;
use crate::error::Result;
use crate::measure::{SampleSource, Samples};
use crate::prompt::message::Role;
use crate::prompt::{Prompt, render};
use crate::tokens::{self, TOKENS_PER_MESSAGE};

/// The history worst case of one prompt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryWorst {
    /// The history variable.
    pub variable: String,
    pub max_turns: Option<u64>,
    pub max_tokens: Option<u64>,
    /// Longest user turn seen in the eval cases (tokens, framing included).
    pub user_turn_tokens: Option<u64>,
    /// Bound of an assistant turn: the output cap plus framing (or the
    /// longest assistant turn seen when no cap is declared).
    pub assistant_turn_tokens: Option<u64>,
    /// The history at its budget.
    pub history_tokens: u64,
    /// The largest request with the history empty.
    pub without_history_tokens: u64,
    /// `without_history_tokens + history_tokens`.
    pub worst_input_tokens: u64,
    pub exact: bool,
    /// How `history_tokens` was bounded, in words.
    pub method: String,
}

/// What can be said about a prompt's history.
#[derive(Debug, Clone, PartialEq)]
pub enum History {
    /// The prompt has no history variable.
    None,
    /// A history variable without `max_history_turns` or `max_history_tokens`.
    Undeclared {
        variable: String,
    },
    /// Declared in turns, but no turn length is known: no output cap and no
    /// history in any eval case.
    Unbounded {
        variable: String,
        reason: String,
    },
    Bounded(HistoryWorst),
}

/// Tokens of one message as billed: content, role and framing.
fn message_tokens(model: &Model, role: Role, content: &str) -> u64 {
    let kind = model.info.tokenizer;
    TOKENS_PER_MESSAGE + tokens::count_text(kind, role.as_str()) + tokens::count_text(kind, content)
}

/// The longest (user-or-system, assistant) history message in the samples.
fn longest_turns(model: &Model, var: &str, samples: &Samples) -> (Option<u64>, Option<u64>) {
    let (mut user, mut assistant) = (None::<u64>, None::<u64>);
    for vars in &samples.vars {
        let Some(Value::Array(items)) = vars.get(var) else {
            continue;
        };
        for item in items {
            let role = item.get("role").and_then(Value::as_str).and_then(Role::parse);
            let Some(content) = item.get("content").and_then(Value::as_str) else {
                continue;
            };
            let Some(role) = role else { continue };
            let t = message_tokens(model, role, content);
            let slot = if role == Role::Assistant {
                &mut assistant
            } else {
                &mut user
            };
            *slot = Some(slot.map_or(t, |s| s.max(t)));
        }
    }
    (user, assistant)
}

/// The worst case of `prompt` at `budget`'s history limits.
pub fn worst_case(prompt: &Prompt, model: &Model, samples: &Samples, budget: &Budget) -> Result<History> {
    let Some(var) = prompt.history_var().map(str::to_string) else {
        return Ok(History::None);
    };
    if budget.max_history_turns.is_none() && budget.max_history_tokens.is_none() {
        return Ok(History::Undeclared { variable: var });
    }
    let kind = model.info.tokenizer;

    // 1. The largest request with the history empty.
    let without = if samples.source == SampleSource::BareTemplate {
        tokens::count_messages(kind, &render::bare(prompt)).total
    } else {
        let mut max = 0;
        for vars in &samples.vars {
            let mut v = vars.clone();
            v.insert(var.clone(), Value::Array(Vec::new()));
            max = max.max(tokens::count_messages(kind, &render::render(prompt, &v)?).total);
        }
        max
    };

    // 2. The history at its budget.
    let (seen_user, seen_assistant) = longest_turns(model, &var, samples);
    let assistant = match prompt.front.config.max_tokens {
        Some(cap) => Some(cap + TOKENS_PER_MESSAGE + tokens::count_text(kind, Role::Assistant.as_str())),
        None => seen_assistant,
    };
    let user = seen_user;
    let turn_len = match (assistant, user) {
        (Some(a), Some(u)) => Some((a, u)),
        (Some(a), None) => Some((a, a)),
        (None, Some(u)) => Some((u, u)),
        (None, None) => None,
    };
    let by_turns = budget.max_history_turns.and_then(|n| {
        let (a, u) = turn_len?;
        let (at, ut) = (n.div_ceil(2), n / 2);
        Some((at * a + ut * u, turns_method(at, ut, a, u)))
    });
    let (history_tokens, method) = match (by_turns, budget.max_history_tokens) {
        (Some((t, m)), Some(max)) if t <= max => (t, format!("{m} (below max_history_tokens = {max})")),
        (_, Some(max)) => (max, format!("max_history_tokens = {max}")),
        (Some(by_turns), None) => by_turns,
        (None, None) => {
            return Ok(History::Unbounded {
                variable: var,
                reason: "neither an output cap (config.max_tokens) nor a history turn in an eval case bounds the length of a turn".to_string(),
            });
        }
    };
    Ok(History::Bounded(HistoryWorst {
        variable: var,
        max_turns: budget.max_history_turns,
        max_tokens: budget.max_history_tokens,
        user_turn_tokens: user,
        assistant_turn_tokens: assistant,
        history_tokens,
        without_history_tokens: without,
        worst_input_tokens: without + history_tokens,
        exact: kind.is_exact(),
        method,
    }))
}

fn turns_method(assistant_turns: u64, user_turns: u64, a: u64, u: u64) -> String {
    format!(
        "{assistant_turns} assistant turn{} × {a} + {user_turns} user turn{} × {u} tokens",
        if assistant_turns == 1 { "" } else { "s" },
        if user_turns == 1 { "" } else { "s" },
    )
}
