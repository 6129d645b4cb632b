//! The structured-output guard, for prompts with `output.format: json`.
//!
//! An answer that is not one bare JSON document, or that fails the prompt's
//! `output.schema`, is sent back with a corrective follow-up: the previous
//! answer as an assistant message, then a user message quoting the
//! validation error and asking for the JSON alone. That repeats up to
//! `guard_retries` times (promptctl.toml `[eval]`); if the answer is still
//! invalid and the front matter names a `fallback_model`, the original
//! request goes to that model once. The case records which path produced
//! the final answer ([`GuardPath`]).
//!
//! This module decides validity and builds the corrective request; the
//! runner makes the calls.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::catalog::TokenizerKind;
use crate::eval::assert::{Assertion, Check, Observation, Schema};
use crate::prompt::message::{Message, Role};
use crate::provider::ChatRequest;

/// Which call produced a JSON prompt's final answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GuardPath {
    /// The first answer was valid.
    First,
    /// A corrective retry produced a valid answer.
    Corrected,
    /// The fallback model produced a valid answer.
    Fallback,
    /// No call produced a valid answer; the last one is kept.
    Invalid,
}

impl GuardPath {
    pub fn as_str(self) -> &'static str {
        match self {
            GuardPath::First => "first",
            GuardPath::Corrected => "corrected",
            GuardPath::Fallback => "fallback",
            GuardPath::Invalid => "invalid",
        }
    }
}

/// What the guard did for one case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GuardOutcome {
    pub path: GuardPath,
    /// Corrective retries sent.
    pub corrections: u32,
    /// Why the first answer was rejected, when it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
}

/// The checks a JSON prompt's answers must pass.
pub struct Guard {
    checks: Vec<Assertion>,
    pub retries: u32,
}

impl Guard {
    /// `schema`: the prompt's output schema, if it declares one.
    pub fn new(schema: Option<&Value>, retries: u32) -> Guard {
        let mut checks = vec![Assertion::new(Check::IsJson)];
        if let Some(s) = schema {
            checks.push(Assertion::new(Check::JsonSchema(Some(Schema::new(s.clone())))));
        }
        Guard { checks, retries }
    }

    /// `Err(reason)` when `text` is not a usable answer.
    pub fn validate(&self, text: &str) -> Result<(), String> {
        let vars = BTreeMap::new();
        let obs = Observation {
            output: text,
            vars: &vars,
            output_tokens: None,
            finish_reason_length: false,
            latency_ms: None,
            cost_usd: None,
            output_schema: None,
            tokenizer: TokenizerKind::O200kBase,
        };
        for a in &self.checks {
            let r = a.evaluate(&obs);
            if !r.pass {
                return Err(r.reason.unwrap_or_else(|| "the output is not valid".into()));
            }
        }
        Ok(())
    }
}

/// `req` followed by the rejected answer and a corrective user message.
pub fn corrective_request(req: &ChatRequest, rejected: &str, reason: &str) -> ChatRequest {
    let mut next = req.clone();
    next.messages.push(Message::new(Role::Assistant, rejected));
    next.messages.push(Message::new(Role::User, corrective_message(reason)));
    next
}

/// The follow-up that asks for a corrected answer.
pub fn corrective_message(reason: &str) -> String {
    format!(
        "Your previous answer could not be used: {reason}. Reply again with only the JSON document it asked for: no markdown fence, no text before or after it."
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prompt::ModelConfig;
    use serde_json::json;

    #[test]
    fn validates_json_and_schema() {
        let schema = json!({"type": "object", "required": ["category"], "properties": {"category": {"enum": ["billing", "bug"]}}});
        let g = Guard::new(Some(&schema), 2);
        assert_eq!(g.validate("{\"category\": \"bug\"}"), Ok(()));
        assert_eq!(
            g.validate("```json\n{\"category\": \"bug\"}\n```").unwrap_err(),
            "output is JSON wrapped in a markdown fence"
        );
        let e = g.validate("{\"category\": \"refund\"}").unwrap_err();
        assert!(e.starts_with("schema violation at /category"), "{e}");
        assert!(Guard::new(None, 1).validate("[1, 2]").is_ok());
    }

    #[test]
    fn corrective_request_appends_the_answer_and_the_error() {
        let req = ChatRequest {
            model: "m".into(),
            messages: vec![Message::new(Role::User, "classify")],
            config: ModelConfig::default(),
            response_schema: None,
            json: true,
        };
        let next = corrective_request(&req, "```json\n{}\n```", "output is JSON wrapped in a markdown fence");
        assert_eq!(next.messages.len(), 3);
        assert_eq!(next.messages[1], Message::new(Role::Assistant, "```json\n{}\n```"));
        assert_eq!(next.messages[2].role, Role::User);
        assert!(
            next.messages[2]
                .content
                .contains("output is JSON wrapped in a markdown fence")
        );
        assert_eq!(next.config, req.config);
    }
}
