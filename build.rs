//! Prebuilds the tokenizer's tables so that counting needs no set-up at run
//! time (see src/tokens/bpe.rs and BENCHMARKS.md, "Tokens").
//!
//! For o200k_base and cl100k_base it writes to OUT_DIR:
//! - `<name>.vocab`: the vocabulary in rank order with a hash index, in the
//!   layout of src/tokens/table.rs, read in place;
//! - `<name>.dfa`: the pre-tokenization patterns compiled to a dense DFA,
//!   deserialized in place with `DFA::from_bytes`.
//!
//! It also turns the model catalog (src/catalog/models.toml) into a Rust
//! table, `models.rs`, so no process parses it at start-up (that was ~0.7 M
//! instructions, the largest part of a short command's own start-up).
//!
//! The vocabularies come from the bpe-openai crate (which embeds OpenAI's
//! published files); the patterns are OpenAI's, with the negative look-ahead
//! `\s+(?!\S)` rewritten as a second pattern `\s+\s` whose last character the
//! splitter gives back (a DFA has no look-around).
//!
//! On Linux with glibc the `promptctl` binary is linked as a fixed-address
//! (non-PIE) executable: a PIE binary of this size makes the dynamic loader
//! apply ~34,500 relative relocations and copy-on-write every page of its
//! 540 KB `.data.rel.ro` before `main` (~140 page faults, 0.3–0.6 ms of
//! each run; BENCHMARKS.md, "diff"). The libraries, heap and stacks are
//! still placed at random; the executable's own image is not. Set
//! `PROMPTCTL_PIE=1` when building to keep a position-independent binary
//! (distributions that require PIE).

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
    println!("cargo::rerun-if-changed=src/catalog/models.toml");
    println!("cargo::rerun-if-env-changed=PROMPTCTL_PIE");
    let target = |key: &str| std::env::var(key).unwrap_or_default();
    if target("CARGO_CFG_TARGET_OS") == "linux"
        && target("CARGO_CFG_TARGET_ENV") == "gnu"
        && std::env::var_os("PROMPTCTL_PIE").is_none_or(|v| v.is_empty() || v == "0")
    {
        println!("cargo::rustc-link-arg-bins=-no-pie");
    }
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    let out = Path::new(&out);
    catalog(out);
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

/// `models.rs`: `DATE` and `MODELS`, the catalog's entries in file order as
/// `(id, ModelInfo)`. Every key is checked here, as the runtime reader of
/// promptctl.toml's `[models]` checks them; a test compares the table with a
/// serde reading of the same file.
fn catalog(out: &Path) {
    let text = std::fs::read_to_string("src/catalog/models.toml").expect("read src/catalog/models.toml");
    let doc: toml::Table = text.parse().unwrap_or_else(|e| panic!("src/catalog/models.toml: {e}"));
    let date = doc
        .get("date")
        .and_then(|d| d.as_str())
        .expect("models.toml: `date` string");
    let models = doc
        .get("models")
        .and_then(|m| m.as_table())
        .expect("models.toml: [models] table");
    if let Some(k) = doc.keys().find(|k| !["date", "models"].contains(&k.as_str())) {
        panic!("models.toml: unknown key `{k}`");
    }
    let mut code = format!("pub(super) const DATE: &str = {date:?};\n");
    code.push_str("pub(super) const MODELS: &[(&str, ModelInfo)] = &[\n");
    for (id, entry) in models {
        let e = entry
            .as_table()
            .unwrap_or_else(|| panic!("models.toml: {id} is not a table"));
        const KEYS: [&str; 7] = [
            "tokenizer",
            "context_window",
            "max_output_tokens",
            "input",
            "cached_input",
            "output",
            "ignores_temperature",
        ];
        if let Some(k) = e.keys().find(|k| !KEYS.contains(&k.as_str())) {
            panic!("models.toml: {id}: unknown key `{k}`");
        }
        let int = |k: &str| -> i64 {
            let v = e.get(k).and_then(|v| v.as_integer());
            let v = v.unwrap_or_else(|| panic!("models.toml: {id}: `{k}` must be an integer"));
            assert!(v >= 0, "models.toml: {id}: `{k}` is negative");
            v
        };
        let num = |k: &str| -> Option<f64> {
            e.get(k).map(|v| {
                v.as_float()
                    .or_else(|| v.as_integer().map(|i| i as f64))
                    .unwrap_or_else(|| panic!("models.toml: {id}: `{k}` must be a number"))
            })
        };
        let need = |k: &str| num(k).unwrap_or_else(|| panic!("models.toml: {id}: `{k}` is missing"));
        let tokenizer = match e.get("tokenizer").and_then(|v| v.as_str()) {
            Some("o200k_base") => "O200kBase",
            Some("cl100k_base") => "Cl100kBase",
            Some("approx") => "Approx",
            other => panic!("models.toml: {id}: tokenizer {other:?} is not o200k_base, cl100k_base or approx"),
        };
        let ignores = match e.get("ignores_temperature") {
            None => false,
            Some(v) => v
                .as_bool()
                .unwrap_or_else(|| panic!("models.toml: {id}: `ignores_temperature` must be true or false")),
        };
        code.push_str(&format!(
            "    ({id:?}, ModelInfo {{ tokenizer: TokenizerKind::{tokenizer}, context_window: {}, \
             max_output_tokens: {}, input: {:?}, cached_input: {:?}, output: {:?}, ignores_temperature: {ignores} }}),\n",
            int("context_window"),
            int("max_output_tokens"),
            need("input"),
            num("cached_input"),
            need("output"),
        ));
    }
    code.push_str("];\n");
    std::fs::write(out.join("models.rs"), code).expect("write models.rs");
}
