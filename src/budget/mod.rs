//! Budgets: the limits a prompt must stay within. This module owns their
//! shape and validation; the checks that measure prompts against them live
//! with the `check` command's domain code.

pub mod check;
pub mod history;
pub mod rules;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Limits for one prompt. Project-wide in `promptctl.toml` `[budget]`,
/// overridden per prompt by the `budget:` front matter.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    /// Max input tokens of the rendered request (worst case over samples).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_input_tokens: Option<u64>,
    /// Max declared output cap (`config.max_tokens`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_output_tokens: Option<u64>,
    /// Every prompt must declare `config.max_tokens`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_output_cap: Option<bool>,
    /// Max USD per call: input at rendered size + output at the cap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_cost_per_call_usd: Option<f64>,
    /// Max growth of input tokens against the base revision, in percent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_input_growth_pct: Option<f64>,
    /// Max growth of cost per call against the base revision, in percent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_cost_growth_pct: Option<f64>,
    /// Share of the context window kept free: input + cap ≤ window × (1 − margin/100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_margin_pct: Option<f64>,
    /// For prompts with a history variable: max turns kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_history_turns: Option<u64>,
    /// For prompts with a history variable: max tokens of history kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_history_tokens: Option<u64>,
    /// Max characters of the output (UI limits); checked by eval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_chars: Option<u64>,
}

impl Budget {
    /// `self` with every limit that `over` sets replaced by it.
    pub fn merged(&self, over: &Budget) -> Budget {
        Budget {
            max_input_tokens: over.max_input_tokens.or(self.max_input_tokens),
            max_output_tokens: over.max_output_tokens.or(self.max_output_tokens),
            require_output_cap: over.require_output_cap.or(self.require_output_cap),
            max_cost_per_call_usd: over.max_cost_per_call_usd.or(self.max_cost_per_call_usd),
            max_input_growth_pct: over.max_input_growth_pct.or(self.max_input_growth_pct),
            max_cost_growth_pct: over.max_cost_growth_pct.or(self.max_cost_growth_pct),
            context_margin_pct: over.context_margin_pct.or(self.context_margin_pct),
            max_history_turns: over.max_history_turns.or(self.max_history_turns),
            max_history_tokens: over.max_history_tokens.or(self.max_history_tokens),
            max_chars: over.max_chars.or(self.max_chars),
        }
    }

    /// Values serde cannot reject by type: negative or non-finite numbers.
    /// Returns the offending key and a message.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        let floats = [
            ("max_cost_per_call_usd", self.max_cost_per_call_usd),
            ("max_input_growth_pct", self.max_input_growth_pct),
            ("max_cost_growth_pct", self.max_cost_growth_pct),
            ("context_margin_pct", self.context_margin_pct),
        ];
        for (key, v) in floats {
            if let Some(v) = v
                && !(v.is_finite() && v >= 0.0)
            {
                return Err((key, format!("budget.{key} must be a non-negative number, got {v}")));
            }
        }
        if let Some(m) = self.context_margin_pct
            && m >= 100.0
        {
            return Err((
                "context_margin_pct",
                format!("budget.context_margin_pct must be below 100, got {m}"),
            ));
        }
        Ok(())
    }
}

/// Turn a validation failure into an input error at a file (line of the key if found).
pub fn validation_error(path: &std::path::Path, source: &str, line_offset: usize, key: &str, msg: String) -> Error {
    let line = source
        .lines()
        .position(|l| {
            l.trim_start().starts_with(&format!("{key}:"))
                || l.trim_start().starts_with(&format!("{key} "))
                || l.trim_start().starts_with(&format!("{key}="))
        })
        .map(|i| i + 1 + line_offset);
    Error::at(path, line, None, msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_budget_overrides_project_budget() {
        let project = Budget {
            max_input_tokens: Some(1000),
            require_output_cap: Some(true),
            ..Default::default()
        };
        let prompt = Budget {
            max_input_tokens: Some(2000),
            ..Default::default()
        };
        let m = project.merged(&prompt);
        assert_eq!(m.max_input_tokens, Some(2000));
        assert_eq!(m.require_output_cap, Some(true));
    }

    #[test]
    fn negative_limits_are_rejected() {
        let b = Budget {
            max_cost_per_call_usd: Some(-1.0),
            ..Default::default()
        };
        let (key, msg) = b.validate().unwrap_err();
        assert_eq!(key, "max_cost_per_call_usd");
        assert!(msg.contains("non-negative"));
        let b = Budget {
            context_margin_pct: Some(100.0),
            ..Default::default()
        };
        assert!(b.validate().is_err());
    }
}
