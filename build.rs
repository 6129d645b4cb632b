//! Prebuilds the tokenizer's tables so that counting needs no set-up at run
//! time (see src/tokens/bpe.rs and BENCHMARKS.md, "Tokens").
//!
//! For o200k_base and cl100k_base it writes to OUT_DIR:
//! - `<name>.vocab`: the vocabulary in rank order with a hash index, in the
//!   layout of src/tokens/table.rs, read in place;
//! - `<name>.dfa`: the pre-tokenization patterns compiled to a dense DFA,
//!   deserialized in place with `DFA::from_bytes`.
//!
//! The vocabularies come from the bpe-openai crate (which embeds OpenAI's
//! published files); the patterns are OpenAI's, with the negative look-ahead
//! `\s+(?!\S)` rewritten as a second pattern `\s+\s` whose last character the
//! splitter gives back (a DFA has no look-around).

use std::path::Path;

use regex_automata::MatchKind;
use regex_automata::dfa::{StartKind, dense};

#[allow(dead_code)]
#[path = "src/tokens/table.rs"]
mod table;

const O200K_PATTERN: &str = concat!(
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
    r"|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
    r"|\p{N}{1,3}",
    r"| ?[^\s\p{L}\p{N}]+[\r\n/]*",
    r"|\s*[\r\n]+",
    r"|\s+$",
);

const CL100K_PATTERN: &str = concat!(
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)",
    r"|[^\r\n\p{L}\p{N}]?\p{L}+",
    r"|\p{N}{1,3}",
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*",
    r"|\s*[\r\n]+",
    r"|\s+$",
);

/// Pattern 1 matches one character too many; the splitter drops it.
const LOOKAHEAD: &str = r"\s+\s";
const SPACES: &str = r"\s+";

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-changed=src/tokens/table.rs");
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    let out = Path::new(&out);
    let big_endian = std::env::var("CARGO_CFG_TARGET_ENDIAN").as_deref() == Ok("big");

    let encodings: [(&str, &bpe_openai::Tokenizer, &str); 2] = [
        ("o200k_base", bpe_openai::o200k_base(), O200K_PATTERN),
        ("cl100k_base", bpe_openai::cl100k_base(), CL100K_PATTERN),
    ];
    for (name, tokenizer, pattern) in encodings {
        let bpe = &tokenizer.bpe;
        let tokens: Vec<Vec<u8>> = (0..bpe.num_tokens() as u32)
            .map(|id| bpe.token_bytes(id).to_vec())
            .collect();
        let vocab = table::write(&tokens);
        // The table must give every token back its own rank.
        let check = table::Vocab::new(&vocab).expect("vocabulary layout");
        assert_eq!(check.len(), tokens.len());
        for (id, t) in tokens.iter().enumerate() {
            assert_eq!(check.rank(t), Some(id as u32), "{name}: token {id}");
        }
        std::fs::write(out.join(format!("{name}.vocab")), &vocab).expect("write vocabulary");

        let dfa = dense::Builder::new()
            .configure(
                dense::Config::new()
                    .start_kind(StartKind::Anchored)
                    .match_kind(MatchKind::LeftmostFirst),
            )
            .build_many(&[pattern, LOOKAHEAD, SPACES])
            .expect("pre-tokenization patterns compile");
        let (bytes, pad) = if big_endian {
            dfa.to_bytes_big_endian()
        } else {
            dfa.to_bytes_little_endian()
        };
        std::fs::write(out.join(format!("{name}.dfa")), &bytes[pad..]).expect("write DFA");
    }
}
