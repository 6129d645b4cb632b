//! Token counting throughput and one-prompt latency.
//!
//!     cargo bench --bench tokens
//!
//! Prints MB/s for o200k_base and cl100k_base on ~4 MB of generated mixed
//! text (prose, code, JSON, numbers, non-Latin scripts, emoji), the one-time
//! table set-up cost, and the latency of measuring one example prompt. Each
//! figure is the median of several runs; compare figures from one run.

use std::path::Path;
use std::time::{Duration, Instant};

use promptctl::catalog::TokenizerKind;
use promptctl::tokens::count_text;

fn corpus(bytes: usize) -> String {
    let pieces = [
        "The customer reports that the export job failed twice overnight. ",
        "fn main() {\n    let total: u64 = items.iter().map(|i| i.price).sum();\n}\n",
        "{\"category\": \"billing\", \"priority\": \"high\", \"id\": 48213}\n",
        "Grüße aus Köln — Ça va? Réseau indisponible. ",
        "日本語のテキストも数えます。中文文本。한국어 텍스트. ",
        "Invoice INV-2291 was charged 2× on 2024-03-14 at 09:10 UTC. ",
        "🚀🔥✅ ",
        "    indented line with\ttabs and   spaces\n\n",
        "SELECT id, email FROM users WHERE created_at > NOW() - INTERVAL '7 days';\n",
    ];
    let mut rng = fastrand::Rng::with_seed(42);
    let mut s = String::with_capacity(bytes + 128);
    while s.len() < bytes {
        s.push_str(pieces[rng.usize(0..pieces.len())]);
    }
    s
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let text = corpus(4 << 20);
    let mb = text.len() as f64 / (1 << 20) as f64;

    for (name, kind) in [
        ("o200k_base", TokenizerKind::O200kBase),
        ("cl100k_base", TokenizerKind::Cl100kBase),
    ] {
        let t = Instant::now();
        count_text(kind, "warm up");
        let setup = t.elapsed();
        let runs: Vec<Duration> = (0..5)
            .map(|_| {
                let t = Instant::now();
                std::hint::black_box(promptctl::tokens::count_uncached(kind, &text));
                t.elapsed()
            })
            .collect();
        let d = median(runs);
        println!(
            "{name:<12} set-up {:>7.1} ms   count {mb:.1} MiB in {:>7.1} ms = {:>6.1} MiB/s   (prebuilt tables, used)",
            setup.as_secs_f64() * 1e3,
            d.as_secs_f64() * 1e3,
            mb / d.as_secs_f64()
        );
    }

    // bpe-openai, which promptctl used before its tables were prebuilt.
    for (name, make) in [
        (
            "o200k_base",
            bpe_openai::o200k_base as fn() -> &'static bpe_openai::Tokenizer,
        ),
        ("cl100k_base", bpe_openai::cl100k_base),
    ] {
        let t = Instant::now();
        let bpe = make();
        std::hint::black_box(bpe.count("warm up"));
        let setup = t.elapsed();
        let runs: Vec<Duration> = (0..5)
            .map(|_| {
                let t = Instant::now();
                std::hint::black_box(bpe.count(text.as_str()));
                t.elapsed()
            })
            .collect();
        let d = median(runs);
        println!(
            "{name:<12} set-up {:>7.1} ms   count {mb:.1} MiB in {:>7.1} ms = {:>6.1} MiB/s   (bpe-openai)",
            setup.as_secs_f64() * 1e3,
            d.as_secs_f64() * 1e3,
            mb / d.as_secs_f64()
        );
    }

    // The reference implementation, for the ratio (same text, same run).
    for (name, make) in [
        (
            "o200k_base",
            tiktoken_rs::o200k_base as fn() -> anyhow::Result<tiktoken_rs::CoreBPE>,
        ),
        ("cl100k_base", tiktoken_rs::cl100k_base),
    ] {
        let t = Instant::now();
        let bpe = make().expect("tiktoken-rs tables");
        let setup = t.elapsed();
        let runs: Vec<Duration> = (0..3)
            .map(|_| {
                let t = Instant::now();
                std::hint::black_box(bpe.encode_ordinary(&text).len());
                t.elapsed()
            })
            .collect();
        let d = median(runs);
        println!(
            "{name:<12} set-up {:>7.1} ms   count {mb:.1} MiB in {:>7.1} ms = {:>6.1} MiB/s   (tiktoken-rs, reference)",
            setup.as_secs_f64() * 1e3,
            d.as_secs_f64() * 1e3,
            mb / d.as_secs_f64()
        );
    }

    // One prompt: parse, render with its eval cases, count, price.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let project = promptctl::project::Project::open(root).expect("example project");
    let suites = promptctl::eval::suite::load_all(&project).expect("suites");
    let runs: Vec<Duration> = (0..50)
        .map(|_| {
            let t = Instant::now();
            let p = project
                .load("support/triage", &promptctl::project::Source::WorkTree)
                .unwrap();
            let model = project.model_of(&p).unwrap();
            let samples = promptctl::measure::samples_for(&p, &suites);
            std::hint::black_box(promptctl::measure::measure(&p, &model, &samples).unwrap());
            t.elapsed()
        })
        .collect();
    println!(
        "one prompt   support/triage (4 eval cases): parse + render + count + price = {:.2} ms (median of 50, tables warm)",
        median(runs).as_secs_f64() * 1e3
    );
}
