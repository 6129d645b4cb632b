use super::*;

fn parse(text: &str) -> Result<Suite> {
    Suite::parse(text, Path::new("evals/a.yaml"))
}

/// A project directory holding `files`.
fn project_with(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (rel, text) in files {
        let p = dir.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    dir
}

fn names(s: &Suite) -> Vec<String> {
    s.iter_cases()
        .unwrap()
        .map(|c| {
            let (i, c) = c.unwrap();
            c.name_or(i)
        })
        .collect()
}

#[test]
fn case_vars_overlay_defaults() {
    let s =
        parse("prompt: a\ndefaults:\n  vars: {lang: en, tone: calm}\ncases:\n  - vars: {tone: angry}\n  - name: b\n")
            .unwrap();
    let v = s.case_vars();
    assert_eq!(v[0]["tone"], "angry");
    assert_eq!(v[0]["lang"], "en");
    assert_eq!(v[1]["tone"], "calm");
    assert_eq!(names(&s), ["case 1", "b"]);
    assert_eq!(s.case_count(), 2);
    assert_eq!(s.threshold(), 1.0);
}

#[test]
fn unknown_key_and_bad_threshold_are_errors() {
    let e = parse("prompt: a\ncasez: []\n").unwrap_err();
    assert!(e.message.starts_with("evals/a.yaml:2:"), "{}", e.message);
    assert_eq!(e.hints[0], "did you mean 'cases'?");
    let e = parse("prompt: a\nthreshold: 1.5\n").unwrap_err();
    assert!(e.message.starts_with("evals/a.yaml:2:"), "{}", e.message);
}

#[test]
fn assertions_are_checked_at_load_with_their_line() {
    let s = parse("prompt: a\ndefaults:\n  assert:\n    - type: is-json\ncases:\n  - assert:\n      - type: contains\n        value: x\n").unwrap();
    assert_eq!(s.defaults.asserts.len(), 1);
    let Cases::Inline(cases) = &s.cases else { panic!() };
    assert_eq!(cases[0].asserts[0].kind(), "contains");

    let e =
        parse("prompt: a\ncases:\n  - name: x\n    assert:\n      - type: containz\n        value: y\n").unwrap_err();
    assert!(e.message.starts_with("evals/a.yaml:5:"), "{}", e.message);
    assert!(e.hints.iter().any(|h| h.contains("'contains'")), "{:?}", e.hints);

    let e =
        parse("prompt: a\ncases:\n  - name: x\n    assert:\n      - type: regex\n        value: \"(\"\n").unwrap_err();
    assert!(e.message.contains("invalid regex"), "{}", e.message);
    assert!(e.message.starts_with("evals/a.yaml:"), "{}", e.message);
}

#[test]
fn duplicate_and_bad_weights_are_errors() {
    let e = parse("prompt: a\ncases:\n  - name: same\n  - name: other\n  - name: same\n").unwrap_err();
    assert_eq!(e.message, "evals/a.yaml:5: two cases are named 'same'");
    // An unnamed case is "case N": naming another case so collides too.
    let e = parse("prompt: a\ncases:\n  - vars: {}\n  - name: case 1\n").unwrap_err();
    assert!(e.message.contains("two cases are named 'case 1'"), "{}", e.message);
    let e = parse("prompt: a\ncases:\n  - name: w\n    weight: -1\n").unwrap_err();
    assert!(e.message.starts_with("evals/a.yaml:3:"), "{}", e.message);
    assert!(
        e.message.contains("weight must be a non-negative number"),
        "{}",
        e.message
    );
}

#[test]
fn cases_from_jsonl_are_checked_then_streamed() {
    let dir = project_with(&[
        (
            "evals/t.yaml",
            "prompt: a\ndefaults:\n  vars: {tier: pro}\ncases: file://data/t.jsonl\n",
        ),
        (
            "evals/data/t.jsonl",
            "{\"name\": \"one\", \"vars\": {\"ticket\": \"refund\"}}\n\n{\"vars\": {\"ticket\": \"bug\", \"tier\": \"free\"}, \"assert\": [{\"type\": \"contains\", \"value\": \"x\"}], \"weight\": 2}\n",
        ),
    ]);
    let sf = SuiteFile::load(dir.path(), Path::new("evals/t.yaml")).unwrap();
    assert_eq!(sf.suite.case_count(), 2);
    let Cases::File(f) = &sf.suite.cases else { panic!() };
    assert_eq!(f.path, Path::new("evals/data/t.jsonl"));
    assert_eq!(names(&sf.suite), ["one", "case 2"]);
    let vars = sf.suite.case_vars();
    assert_eq!(vars[0]["tier"], "pro");
    assert_eq!(vars[1]["tier"], "free");
    let (_, second) = sf.suite.iter_cases().unwrap().nth(1).unwrap().unwrap();
    assert_eq!(second.weight(), 2.0);
    assert_eq!(second.asserts.len(), 1);
}

#[test]
fn jsonl_errors_name_the_file_line_and_key() {
    let dir = project_with(&[
        ("evals/t.yaml", "prompt: a\ncases: file://t.jsonl\n"),
        (
            "evals/t.jsonl",
            "{\"name\": \"ok\"}\n{\"name\": \"bad\", \"varz\": {}}\n",
        ),
    ]);
    let e = SuiteFile::load(dir.path(), Path::new("evals/t.yaml")).unwrap_err();
    assert!(e.message.starts_with("evals/t.jsonl:2:"), "{}", e.message);
    assert!(e.message.contains("unknown field `varz`"), "{}", e.message);
    assert_eq!(e.hints[0], "did you mean 'vars'?");

    let dir = project_with(&[
        ("evals/t.yaml", "prompt: a\ncases: file://t.jsonl\n"),
        ("evals/t.jsonl", "{\"name\": \"x\"}\n{\"name\": \"x\"}\n"),
    ]);
    let e = SuiteFile::load(dir.path(), Path::new("evals/t.yaml")).unwrap_err();
    assert!(e.message.contains("two cases are named 'x'"), "{}", e.message);

    let dir = project_with(&[("evals/t.yaml", "prompt: a\ncases: file://missing.jsonl\n")]);
    let e = SuiteFile::load(dir.path(), Path::new("evals/t.yaml")).unwrap_err();
    assert!(e.message.contains("evals/missing.jsonl"), "{}", e.message);
    assert_eq!(e.kind, crate::ErrorKind::Input);

    let e = parse("prompt: a\ncases: file://t.txt\n").unwrap_err();
    assert!(
        e.message.contains("must end in .jsonl, .csv, .yaml or .yml"),
        "{}",
        e.message
    );
    let e = parse("prompt: a\ncases: t.jsonl\n").unwrap_err();
    assert!(e.message.contains("file://PATH"), "{}", e.message);
}

#[test]
fn cases_from_csv_and_yaml() {
    let dir = project_with(&[
        ("evals/c.yaml", "prompt: a\ncases: file://c.csv\n"),
        (
            "evals/c.csv",
            "__name,ticket,tier,__weight,__tags\nrefund,\"I was charged twice, please refund\",pro,2,billing; money\n,crash,free,,\n",
        ),
        ("evals/y.yaml", "prompt: a\ncases: file://more/y.yml\n"),
        ("evals/more/y.yml", "- name: a\n  vars: {x: 1}\n- vars: {x: 2}\n"),
    ]);
    let sf = SuiteFile::load(dir.path(), Path::new("evals/c.yaml")).unwrap();
    let cases: Vec<(usize, Case)> = sf.suite.iter_cases().unwrap().map(|c| c.unwrap()).collect();
    assert_eq!(cases.len(), 2);
    assert_eq!(cases[0].1.name.as_deref(), Some("refund"));
    assert_eq!(cases[0].1.vars["ticket"], "I was charged twice, please refund");
    assert_eq!(cases[0].1.weight(), 2.0);
    assert_eq!(cases[0].1.tags, ["billing", "money"]);
    assert_eq!(cases[1].1.name_or(cases[1].0), "case 2");
    assert!(!cases[1].1.vars.contains_key("__name"));

    let sf = SuiteFile::load(dir.path(), Path::new("evals/y.yaml")).unwrap();
    assert_eq!(names(&sf.suite), ["a", "case 2"]);

    let dir = project_with(&[
        ("evals/c.yaml", "prompt: a\ncases: file://c.csv\n"),
        ("evals/c.csv", "ticket,__nmae\nx,y\n"),
    ]);
    let e = SuiteFile::load(dir.path(), Path::new("evals/c.yaml")).unwrap_err();
    assert!(e.message.starts_with("evals/c.csv:1:"), "{}", e.message);
    assert_eq!(e.hints[0], "did you mean '__name'?");

    let dir = project_with(&[
        ("evals/c.yaml", "prompt: a\ncases: file://c.csv\n"),
        ("evals/c.csv", "ticket,tier\nx,y\nz\n"),
    ]);
    let e = SuiteFile::load(dir.path(), Path::new("evals/c.yaml")).unwrap_err();
    assert!(e.message.starts_with("evals/c.csv:3:"), "{}", e.message);
    assert!(
        e.message.contains("row has 1 fields, the header has 2"),
        "{}",
        e.message
    );
}

#[test]
fn json_schema_without_value_needs_the_prompt_schema() {
    let s = parse("prompt: p\ndefaults:\n  assert:\n    - type: json-schema\n").unwrap();
    let bare = Prompt::parse("p", Path::new("prompts/p.prompt"), b"hello").unwrap();
    let e = s.check_against(&bare, Path::new("evals/a.yaml")).unwrap_err();
    assert!(
        e.message
            .starts_with("evals/a.yaml: a json-schema assertion has no `value`"),
        "{}",
        e.message
    );
    let with = Prompt::parse(
        "p",
        Path::new("prompts/p.prompt"),
        b"---\noutput:\n  format: json\n  schema: {type: object, required: [a]}\n---\nhello",
    )
    .unwrap();
    s.check_against(&with, Path::new("evals/a.yaml")).unwrap();
    let bound = s.bound_defaults(&with);
    assert!(matches!(&bound[0].check, Check::JsonSchema(Some(_))));
}
