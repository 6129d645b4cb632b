//! Token counting and cost math for rendered chat requests.
//!
//! OpenAI models are counted exactly with their published encodings; the chat
//! framing follows the accounting OpenAI documents for `prompt_tokens`
//! (3 tokens per message + role + content, 3 more to prime the reply). Models
//! without a public tokenizer are counted with o200k_base and flagged
//! `exact: false`, shown as `≈` by every renderer.
//!
//! The encoder tables are built on first use (tiktoken-rs singletons), so a
//! command that never counts never pays for them.

use serde::Serialize;

use crate::catalog::{ModelInfo, TokenizerKind, cost_usd};
use crate::prompt::message::Message;

/// Tokens OpenAI adds around every chat message (`<|start|>role...<|end|>`).
pub const TOKENS_PER_MESSAGE: u64 = 3;
/// Tokens that prime the assistant's reply, added once per request.
pub const REPLY_PRIMING_TOKENS: u64 = 3;

/// Count the tokens of plain text.
pub fn count_text(kind: TokenizerKind, text: &str) -> u64 {
    let bpe = match kind {
        TokenizerKind::Cl100kBase => tiktoken_rs::cl100k_base_singleton(),
        TokenizerKind::O200kBase | TokenizerKind::Approx => tiktoken_rs::o200k_base_singleton(),
    };
    bpe.encode_ordinary(text).len() as u64
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MessageTokens {
    pub role: String,
    /// Tokens of the content alone.
    pub content: u64,
    /// Content plus the per-message framing and the role.
    pub total: u64,
}

/// Token count of a whole chat request.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RequestTokens {
    pub messages: Vec<MessageTokens>,
    /// Sum of the messages plus the reply priming: OpenAI's `prompt_tokens`.
    pub total: u64,
    /// False when the model has no public tokenizer and this is an estimate.
    pub exact: bool,
}

/// Count a chat request as the provider bills it.
pub fn count_messages(kind: TokenizerKind, messages: &[Message]) -> RequestTokens {
    let mut out = Vec::with_capacity(messages.len());
    let mut total = REPLY_PRIMING_TOKENS;
    for m in messages {
        let content = count_text(kind, &m.content);
        let role = count_text(kind, m.role.as_str());
        let t = TOKENS_PER_MESSAGE + role + content;
        total += t;
        out.push(MessageTokens {
            role: m.role.as_str().to_string(),
            content,
            total: t,
        });
    }
    RequestTokens {
        messages: out,
        total,
        exact: kind.is_exact(),
    }
}

/// Cost of one call, in USD.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CallCost {
    /// Input tokens at the rendered size.
    pub input_usd: f64,
    /// Output at the declared cap: the worst case.
    pub output_at_cap_usd: f64,
    /// input + output at the cap.
    pub per_call_max_usd: f64,
    /// input + output at the expected output size, where one is known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_call_expected_usd: Option<f64>,
    pub per_1k_calls_max_usd: f64,
}

/// Price one call: `output_cap` is the declared max_tokens (or the model's
/// limit when none is declared); `expected_output` a measured or declared
/// typical output size.
pub fn call_cost(info: &ModelInfo, input_tokens: u64, output_cap: u64, expected_output: Option<u64>) -> CallCost {
    let input_usd = cost_usd(info, input_tokens, 0);
    let output_at_cap_usd = cost_usd(info, 0, output_cap);
    let per_call_max_usd = input_usd + output_at_cap_usd;
    CallCost {
        input_usd,
        output_at_cap_usd,
        per_call_max_usd,
        per_call_expected_usd: expected_output.map(|o| input_usd + cost_usd(info, 0, o)),
        per_1k_calls_max_usd: per_call_max_usd * 1000.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prompt::message::Role;

    #[test]
    fn known_strings_count_as_tiktoken_does() {
        // Reference values from OpenAI's tiktoken (Python) for the same strings.
        assert_eq!(count_text(TokenizerKind::Cl100kBase, "hello world"), 2);
        assert_eq!(count_text(TokenizerKind::O200kBase, "hello world"), 2);
        assert_eq!(count_text(TokenizerKind::Cl100kBase, ""), 0);
    }

    #[test]
    fn chat_framing_adds_per_message_and_priming_tokens() {
        let msgs = vec![
            Message::new(Role::System, "You are terse."),
            Message::new(Role::User, "hello world"),
        ];
        let t = count_messages(TokenizerKind::O200kBase, &msgs);
        let content: u64 = t.messages.iter().map(|m| m.content).sum();
        // 3 per message + 1 token per role name + priming
        assert_eq!(t.total, content + 2 * (TOKENS_PER_MESSAGE + 1) + REPLY_PRIMING_TOKENS);
        assert_eq!(
            t.messages.iter().map(|m| m.total).sum::<u64>() + REPLY_PRIMING_TOKENS,
            t.total
        );
        assert!(t.exact);
        assert!(!count_messages(TokenizerKind::Approx, &msgs).exact);
    }

    #[test]
    fn cost_uses_the_cap_as_worst_case() {
        let info = crate::catalog::Catalog::builtin()
            .resolve("openai:gpt-4o-mini")
            .unwrap()
            .info;
        let c = call_cost(&info, 1000, 500, Some(100));
        assert!((c.input_usd - 0.00015).abs() < 1e-12);
        assert!((c.output_at_cap_usd - 0.0003).abs() < 1e-12);
        assert!((c.per_call_max_usd - 0.00045).abs() < 1e-12);
        assert!((c.per_call_expected_usd.unwrap() - 0.00021).abs() < 1e-12);
        assert!((c.per_1k_calls_max_usd - 0.45).abs() < 1e-9);
    }
}
