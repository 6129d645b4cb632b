//! Token counting and cost math for rendered chat requests.
//!
//! OpenAI models are counted exactly with their published encodings; the chat
//! framing follows the accounting OpenAI documents for `prompt_tokens`
//! (3 tokens per message + role + content, 3 more to prime the reply). Models
//! without a public tokenizer are counted with o200k_base and flagged
//! `exact: false`, shown as `≈` by every renderer.
//!
//! Counting uses prebuilt tables (src/tokens/bpe.rs): build.rs writes each
//! encoding's vocabulary and pre-tokenization DFA into the binary, so the
//! first count costs well under a millisecond instead of the 60–300 ms that
//! deserializing bpe-openai's or tiktoken-rs's tables took (BENCHMARKS.md,
//! "Tokens"). Tests check every split and count against bpe-openai on random
//! text, against tiktoken-rs, and against fixed vectors from js-tiktoken.

mod bpe;
pub mod cache;
mod table;

use serde::Serialize;

use crate::catalog::{ModelInfo, TokenizerKind, cost_usd};
use crate::prompt::message::Message;

/// Tokens OpenAI adds around every chat message (`<|start|>role...<|end|>`).
pub const TOKENS_PER_MESSAGE: u64 = 3;
/// Tokens that prime the assistant's reply, added once per request.
pub const REPLY_PRIMING_TOKENS: u64 = 3;

/// Texts up to this many bytes are counted, never looked up in the cache.
const SHORT_TEXT: usize = 32;

/// Count the tokens of plain text.
pub fn count_text(kind: TokenizerKind, text: &str) -> u64 {
    if text.is_empty() {
        return 0;
    }
    // A short text (a role name) is counted directly: ~650 instructions,
    // against ~2,800 for a cache lookup (callgrind, a 20-prompt diff).
    if text.len() <= SHORT_TEXT {
        return count_uncached(kind, text);
    }
    if !cache::enabled() {
        return count_uncached(kind, text);
    }
    let k = cache::key(kind, text);
    if let Some(n) = cache::get(&k) {
        return n;
    }
    let n = count_uncached(kind, text);
    cache::put(k, n);
    n
}

/// Count with the tokenizer itself, bypassing the cache.
pub fn count_uncached(kind: TokenizerKind, text: &str) -> u64 {
    let bpe = match kind {
        TokenizerKind::Cl100kBase => bpe::cl100k_base(),
        TokenizerKind::O200kBase | TokenizerKind::Approx => bpe::o200k_base(),
    };
    bpe.count(text) as u64
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

    /// (text, o200k_base, cl100k_base) counted by js-tiktoken 1.x, an
    /// independent implementation (scripts/verify-tokens.mjs cross-checks the
    /// example prompts the same way).
    const VECTORS: &[(&str, u64, u64)] = &[
        ("hello world", 2, 2),
        ("You are a support triage assistant. Answer with JSON only.", 13, 13),
        ("Ticket: {{ ticket }}", 5, 5),
        ("Grüße aus Köln! Ça va? 日本語のテキストも数えます。 🚀🔥", 23, 30),
        ("fn main() {\n    println!(\"{}\", 1 + 2);\n}\n", 14, 14),
        ("   leading spaces and\ttabs\n\n\nnewlines  ", 10, 10),
        ("<|endoftext|> is plain text here", 11, 11),
        (
            "{\"category\":\"billing\",\"priority\":\"high\",\"summary\":\"Charged twice for INV-2291\"}",
            20,
            20,
        ),
    ];

    #[test]
    fn counts_match_an_independent_tiktoken() {
        for (text, o200k, cl100k) in VECTORS {
            assert_eq!(
                count_uncached(TokenizerKind::O200kBase, text),
                *o200k,
                "o200k_base: {text:?}"
            );
            assert_eq!(
                count_uncached(TokenizerKind::Cl100kBase, text),
                *cl100k,
                "cl100k_base: {text:?}"
            );
        }
        assert_eq!(count_text(TokenizerKind::Cl100kBase, ""), 0);
    }

    #[test]
    fn counts_match_tiktoken_rs_on_mixed_text() {
        // Differential check against the reference Rust port of tiktoken.
        let mut rng = fastrand::Rng::with_seed(7);
        let pieces = [
            "the ",
            "quick ",
            "Brown",
            "fox",
            " 1234",
            "567",
            "\n",
            "\n\n",
            "  ",
            "\t",
            "ü",
            "日本",
            "🚀",
            "{{ x }}",
            "'s",
            "'ll",
            "don't",
            "JSON:",
            "{\"a\": [1, 2]}",
            "...",
            "—",
            "        ",
            "ÇA",
            "réseau",
            "<|endoftext|>",
        ];
        let o = tiktoken_rs::o200k_base_singleton();
        let c = tiktoken_rs::cl100k_base_singleton();
        for _ in 0..300 {
            let n = rng.usize(0..60);
            let text: String = (0..n).map(|_| pieces[rng.usize(0..pieces.len())]).collect();
            assert_eq!(
                count_uncached(TokenizerKind::O200kBase, &text),
                o.encode_ordinary(&text).len() as u64,
                "{text:?}"
            );
            assert_eq!(
                count_uncached(TokenizerKind::Cl100kBase, &text),
                c.encode_ordinary(&text).len() as u64,
                "{text:?}"
            );
        }
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
