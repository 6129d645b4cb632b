use super::*;
use std::path::Path;

use crate::provider::Usage;

fn suite(path: &str, prompt: &str) -> SuiteFile {
    SuiteFile {
        path: PathBuf::from(path),
        suite: crate::eval::suite::Suite::parse(&format!("prompt: {prompt}\n"), Path::new(path)).unwrap(),
    }
}

#[test]
fn targets_resolve_echo_replay_and_models() {
    let t = Target::resolve("echo", "openai:gpt-4o-mini", Mode::Offline).unwrap();
    assert_eq!(
        (t.id.as_str(), t.provider.as_str(), t.model.as_str(), t.replay),
        ("echo", "echo", "gpt-4o-mini", false)
    );
    let t = Target::resolve("replay", "anthropic:claude-haiku-4-5", Mode::Live).unwrap();
    assert_eq!(
        (t.id.as_str(), t.provider.as_str(), t.replay),
        ("anthropic:claude-haiku-4-5", "anthropic", true)
    );
    let t = Target::resolve("ollama:llama3.1:8b", "openai:gpt-4o-mini", Mode::Live).unwrap();
    assert_eq!(
        (t.provider.as_str(), t.model.as_str(), t.replay),
        ("ollama", "llama3.1:8b", false)
    );
    assert!(
        Target::resolve("openai:gpt-4o", "openai:gpt-4o-mini", Mode::Offline)
            .unwrap()
            .replay
    );
    let e = Target::resolve("antropic:claude-haiku-4-5", "openai:gpt-4o-mini", Mode::Live).unwrap_err();
    assert!(e.message.contains("unknown provider 'antropic'"), "{}", e.message);
    assert_eq!(e.hints[0], "did you mean 'anthropic'?");
    assert!(Target::resolve("gpt-4o", "openai:gpt-4o-mini", Mode::Live).is_err());
}

#[test]
fn suites_are_selected_by_path_directory_or_prompt() {
    let all = || {
        vec![
            suite("evals/support/triage.yaml", "support/triage"),
            suite("evals/support/chat.yaml", "support/chat"),
            suite("evals/rag/answer.yaml", "rag/answer"),
        ]
    };
    let names = |v: Vec<SuiteFile>| v.into_iter().map(|s| s.path.display().to_string()).collect::<Vec<_>>();
    assert_eq!(names(select(all(), &[]).unwrap()).len(), 3);
    assert_eq!(
        names(select(all(), &["./evals/rag/answer.yaml".into()]).unwrap()),
        ["evals/rag/answer.yaml"]
    );
    assert_eq!(
        names(select(all(), &["evals/support/".into()]).unwrap()),
        ["evals/support/triage.yaml", "evals/support/chat.yaml"]
    );
    assert_eq!(
        names(select(all(), &["support/chat".into()]).unwrap()),
        ["evals/support/chat.yaml"]
    );
    let e = select(all(), &["evals/rag/answr.yaml".into()]).err().unwrap();
    assert_eq!(e.hints[0], "did you mean 'evals/rag/answer.yaml'?");
}

#[test]
fn cached_input_is_priced_at_the_cached_rate() {
    let info = crate::catalog::Catalog::builtin()
        .resolve("openai:gpt-4o-mini")
        .unwrap()
        .info;
    let u = |cached| Usage {
        input_tokens: 1_000_000,
        output_tokens: 1_000_000,
        cached_input_tokens: cached,
        reported: true,
    };
    assert!((price(&info, &u(None)) - 0.75).abs() < 1e-9);
    let cached_rate = info.cached_input.unwrap();
    let half = price(&info, &u(Some(500_000)));
    assert!(
        (half - (0.5 * info.input + 0.5 * cached_rate + info.output) / 1.0).abs() < 1e-9,
        "{half}"
    );
}
