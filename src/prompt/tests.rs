use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Value, json};

use super::message::Role;
use super::*;
use crate::error::ErrorKind;

fn parse(src: &str) -> Result<Prompt> {
    Prompt::parse("t", Path::new("prompts/t.prompt"), src.as_bytes())
}

fn vars(v: Value) -> BTreeMap<String, Value> {
    serde_json::from_value(v).unwrap()
}

const TRIAGE: &str = "---
description: triage
model: openai:gpt-4o-mini
config:
  temperature: 0
  max_tokens: 300
input:
  schema:
    type: object
    required: [ticket]
    properties: { ticket: { type: string } }
output:
  format: json
  schema: { type: object }
budget:
  max_input_tokens: 1200
---
system:
You are a triage assistant.

user:
Ticket: {{ ticket }}
";

#[test]
fn parses_front_matter_and_sections() {
    let p = parse(TRIAGE).unwrap();
    assert_eq!(p.front.model.as_deref(), Some("openai:gpt-4o-mini"));
    assert_eq!(p.front.config.max_tokens, Some(300));
    assert_eq!(p.output_format(), OutputFormat::Json);
    assert_eq!(p.front.budget.as_ref().unwrap().max_input_tokens, Some(1200));
    assert_eq!(p.sections.len(), 2);
    assert_eq!(p.sections[0].kind, SectionKind::Message(Role::System));
    assert_eq!(p.sections[0].line, 19);
    assert_eq!(p.sections[1].template, "Ticket: {{ ticket }}");
    assert_eq!(p.sections[1].line, 22);
    assert_eq!(p.required_vars().into_iter().collect::<Vec<_>>(), vec!["ticket"]);
}

#[test]
fn renders_messages_with_variables() {
    let p = parse(TRIAGE).unwrap();
    let msgs = render::render(&p, &vars(json!({"ticket": "refund please"}))).unwrap();
    assert_eq!(msgs.len(), 2);
    assert_eq!(msgs[0].role, Role::System);
    assert_eq!(msgs[1].content, "Ticket: refund please");
}

#[test]
fn values_are_data_not_templates() {
    let p = parse(TRIAGE).unwrap();
    let evil = "{{ 7 * 7 }} {% for x in range(3) %}x{% endfor %} {{ ticket }}";
    let msgs = render::render(&p, &vars(json!({ "ticket": evil }))).unwrap();
    assert_eq!(msgs[1].content, format!("Ticket: {evil}"));
    assert!(!msgs[1].content.contains("49"));
}

#[test]
fn missing_variable_names_variable_prompt_and_line() {
    let p = parse(TRIAGE).unwrap();
    let err = render::render(&p, &BTreeMap::new()).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Input);
    assert_eq!(
        err.message,
        "prompts/t.prompt:22: missing variable 'ticket' for prompt 't'"
    );
    assert!(err.hints.iter().any(|h| h.contains("--var ticket=")));
}

#[test]
fn undefined_attribute_is_an_error_not_empty() {
    let p = parse("user:\n{{ doc.title }}\n").unwrap();
    let err = render::render(&p, &vars(json!({"doc": {}}))).unwrap_err();
    assert!(err.message.starts_with("prompts/t.prompt:2:"), "{}", err.message);
    assert!(err.message.contains("undefined"), "{}", err.message);
}

#[test]
fn defaults_fill_missing_variables() {
    let p = parse("---\ninput:\n  default: { name: Ana }\n---\nHello {{ name }}\n").unwrap();
    let msgs = render::render(&p, &BTreeMap::new()).unwrap();
    assert_eq!(msgs[0].content, "Hello Ana");
    let msgs = render::render(&p, &vars(json!({"name": "Bo"}))).unwrap();
    assert_eq!(msgs[0].content, "Hello Bo");
}

#[test]
fn body_without_markers_is_one_user_message() {
    let p = parse("Just say hi.\n").unwrap();
    assert_eq!(p.sections.len(), 1);
    assert_eq!(p.sections[0].kind, SectionKind::Message(Role::User));
    assert_eq!(p.sections[0].line, 1);
}

#[test]
fn history_section_inserts_messages() {
    let src = "---\ninput:\n  history: turns\n---\nsystem:\nBe brief.\n\nhistory:\n\nuser:\n{{ q }}\n";
    let p = parse(src).unwrap();
    assert_eq!(p.history_var(), Some("turns"));
    let msgs = render::render(
        &p,
        &vars(json!({
            "q": "and now?",
            "turns": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
        })),
    )
    .unwrap();
    let roles: Vec<Role> = msgs.iter().map(|m| m.role).collect();
    assert_eq!(roles, vec![Role::System, Role::User, Role::Assistant, Role::User]);
    let err = render::render(&p, &vars(json!({"q": "x", "turns": "not a list"}))).unwrap_err();
    assert!(
        err.message.contains("history variable 'turns': expected a list"),
        "{}",
        err.message
    );
}

#[test]
fn variable_mismatches_are_found_without_rendering() {
    let src = "---\ninput:\n  schema: [a, unused]\n---\n{{ a }} {{ b }}\n{% for d in docs %}{{ d.x }}{% endfor %}\n";
    let p = parse(src).unwrap();
    let (undeclared, unused) = render::variable_mismatches(&p);
    let names: Vec<&str> = undeclared.iter().map(|(v, _)| v.as_str()).collect();
    assert_eq!(names, vec!["b", "docs"]);
    assert_eq!(undeclared[1].1, 6, "line of first use of docs");
    assert_eq!(unused, vec!["unused".to_string()]);
}

// --- errors: each names the file and line and never panics ---------------------

fn err(src: &str) -> crate::error::Error {
    parse(src).unwrap_err()
}

#[test]
fn malformed_yaml_points_at_line() {
    let e = err("---\nmodel: [openai\nconfig: {}\n---\nhi\n");
    assert_eq!(e.kind, ErrorKind::Input);
    assert!(e.message.starts_with("prompts/t.prompt:"), "{}", e.message);
    let line: usize = e.message.split(':').nth(1).unwrap().parse().unwrap();
    assert!((2..=4).contains(&line), "{}", e.message);
}

#[test]
fn unterminated_front_matter() {
    let e = err("---\nmodel: openai:gpt-4o\nhello\n");
    assert_eq!(
        e.message,
        "prompts/t.prompt:1:1: unterminated front matter: no closing '---' line"
    );
}

#[test]
fn unknown_key_suggests_the_closest() {
    let e = err("---\nconfig:\n  temperature: 0\n  max_token: 3\n---\nhi\n");
    assert!(e.message.starts_with("prompts/t.prompt:4:"), "{}", e.message);
    assert!(e.message.contains("max_token"), "{}", e.message);
    assert_eq!(e.hints[0], "did you mean 'max_tokens'?");
    let e = err("---\nbudgett: {}\n---\nhi\n");
    assert!(e.message.starts_with("prompts/t.prompt:2:"), "{}", e.message);
    assert_eq!(e.hints[0], "did you mean 'budget'?");
}

#[test]
fn wrong_type_points_at_line() {
    let e = err("---\nconfig:\n  max_tokens: many\n---\nhi\n");
    assert!(e.message.starts_with("prompts/t.prompt:3:"), "{}", e.message);
}

#[test]
fn negative_budget_points_at_line() {
    let e = err("---\nbudget:\n  max_cost_per_call_usd: -1\n---\nhi\n");
    assert!(e.message.starts_with("prompts/t.prompt:3:"), "{}", e.message);
    assert!(e.message.contains("non-negative"), "{}", e.message);
}

#[test]
fn template_syntax_error_points_at_file_line() {
    let e = err("---\nmodel: openai:gpt-4o\n---\nsystem:\nok\n\nuser:\nline one\n{{ ticket \n");
    assert!(e.message.starts_with("prompts/t.prompt:9:"), "{}", e.message);
    assert!(e.message.contains("syntax error"), "{}", e.message);
}

#[test]
fn unknown_role_marker_is_an_error_with_hint() {
    let e = err("system:\nhi\n\nhuman:\nhello\n");
    assert_eq!(e.message, "prompts/t.prompt:4:1: unknown role marker 'human:'");
    assert_eq!(e.hints[0], "did you mean 'user:'?");
    // Ordinary text ending in a colon is not a marker.
    assert!(parse("user:\nExamples:\nnote:\n- a\n").is_ok());
}

#[test]
fn empty_bodies_are_errors() {
    let e = err("---\nmodel: openai:gpt-4o\n---\n\n\n");
    assert!(e.message.contains("the prompt has no body"), "{}", e.message);
    let e = err("system:\n\nuser:\nhi\n");
    assert!(e.message.contains("empty `system:` section"), "{}", e.message);
}

#[test]
fn non_utf8_is_an_error_with_line() {
    let e = Prompt::parse("t", Path::new("prompts/t.prompt"), b"user:\nok\n\xff\xfe\n").unwrap_err();
    assert_eq!(e.message, "prompts/t.prompt:3: file is not valid UTF-8");
}

#[test]
fn model_must_name_a_provider() {
    let e = err("---\nmodel: gpt-4o\n---\nhi\n");
    assert!(e.message.starts_with("prompts/t.prompt:2:"), "{}", e.message);
    assert!(e.message.contains("provider:model"), "{}", e.message);
}

#[test]
fn front_matter_name_must_match_path() {
    let e = err("---\nname: other\n---\nhi\n");
    assert!(e.message.starts_with("prompts/t.prompt:2:"), "{}", e.message);
    assert!(parse("---\nname: t\n---\nhi\n").is_ok());
}

#[test]
fn text_before_first_marker_is_an_error() {
    let e = err("preamble\nsystem:\nhi\n");
    assert!(e.message.starts_with("prompts/t.prompt:1:"), "{}", e.message);
}

#[test]
fn names_come_from_paths() {
    assert_eq!(
        name_from_rel_path(Path::new("support/triage.prompt")).as_deref(),
        Some("support/triage")
    );
    assert_eq!(name_from_rel_path(Path::new("notes.md")), None);
}

#[test]
fn parse_like_takes_the_front_matter_of_the_same_yaml_text_and_still_checks_the_name() {
    let mut base = parse(TRIAGE).unwrap();
    // A marker no YAML reading of TRIAGE can produce: seeing it proves the
    // front matter was taken, not parsed again.
    base.front.description = Some("taken from the other side".into());
    let reworded = TRIAGE.replace("You are a triage assistant.", "You triage tickets.");
    let head = Prompt::parse_like("t", Path::new("prompts/t.prompt"), reworded.as_bytes(), Some(&base)).unwrap();
    assert_eq!(head.front.description.as_deref(), Some("taken from the other side"));
    assert_eq!(head.sections[0].template.trim(), "You triage tickets.");

    // Different YAML text: parsed on its own.
    let repriced = TRIAGE.replace("max_tokens: 300", "max_tokens: 200");
    let head = Prompt::parse_like("t", Path::new("prompts/t.prompt"), repriced.as_bytes(), Some(&base)).unwrap();
    assert_eq!(head.front.description.as_deref(), Some("triage"));
    assert_eq!(head.front.config.max_tokens, Some(200));

    // The checks that depend on this file still run: a `name:` that matched
    // the other side's file does not match a renamed one.
    let named = TRIAGE.replacen("description: triage", "name: t\ndescription: triage", 1);
    let base = parse(&named).unwrap();
    let err = Prompt::parse_like("u", Path::new("prompts/u.prompt"), named.as_bytes(), Some(&base)).unwrap_err();
    assert!(
        err.message.contains("does not match the file's prompt name 'u'"),
        "{}",
        err.message
    );
}

#[test]
fn parse_like_shares_the_compiled_template_of_a_section_with_the_same_text() {
    let base = parse(TRIAGE).unwrap();
    // The system section reworded over two lines: the user section's text is
    // the same, two lines further down.
    let reworded = TRIAGE.replace(
        "You are a triage assistant.",
        "You triage tickets.\nBe brief.\nBe kind.",
    );
    let head = Prompt::parse_like("t", Path::new("prompts/t.prompt"), reworded.as_bytes(), Some(&base)).unwrap();
    assert!(
        render::shared(&base.compiled, 1, &head.compiled, 1),
        "the user section is shared"
    );
    assert!(
        !render::shared(&base.compiled, 0, &head.compiled, 0),
        "the system section is its own"
    );
    // Lines of variables are this file's, not the other side's.
    assert_eq!(render::used_vars(&base)["ticket"], 22);
    assert_eq!(render::used_vars(&head)["ticket"], 24);
    let vars: BTreeMap<String, serde_json::Value> =
        [("ticket".to_string(), serde_json::json!("printer on fire"))].into();
    let messages = render::render(&head, &vars).unwrap();
    assert_eq!(messages[0].content, "You triage tickets.\nBe brief.\nBe kind.");
    assert_eq!(messages[1].content, "Ticket: printer on fire");
    // Without a prompt to take from, nothing is shared.
    let alone = parse(TRIAGE).unwrap();
    assert!(!render::shared(&base.compiled, 1, &alone.compiled, 1));
}
