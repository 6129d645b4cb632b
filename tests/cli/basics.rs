use crate::env::*;

#[test]
fn list_shows_every_example_prompt() {
    let env = TestEnv::with_example();
    let out = env.run(&["list"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    for name in ["support/triage", "support/chat", "rag/answer", "content/summarize"] {
        assert!(text.contains(name), "{name} missing from:\n{text}");
    }
}
