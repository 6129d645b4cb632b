//! `compare` against real git repositories built with the git CLI.

use std::path::Path;
use std::process::Command;

use super::*;
use crate::catalog::Catalog;
use crate::project::Project;

struct Repo {
    dir: tempfile::TempDir,
}

impl Repo {
    fn new() -> Repo {
        let r = Repo {
            dir: tempfile::tempdir().unwrap(),
        };
        r.git(&["init", "-q", "-b", "main"]);
        r
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn write(&self, rel: &str, text: &str) {
        self.write_bytes(rel, text.as_bytes());
    }

    fn write_bytes(&self, rel: &str, bytes: &[u8]) {
        let p = self.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }

    fn remove(&self, rel: &str) {
        std::fs::remove_file(self.path().join(rel)).unwrap();
    }

    fn git(&self, args: &[&str]) -> String {
        git_in(self.path(), args)
    }

    /// Delete the (loose) object `rev` names, as a damaged repository
    /// would lack it; returns its id.
    fn delete_object(&self, rev: &str) -> String {
        let id = self.git(&["rev-parse", rev]).trim().to_string();
        let loose = self.path().join(".git/objects").join(&id[..2]).join(&id[2..]);
        std::fs::remove_file(&loose).unwrap();
        id
    }

    fn commit(&self, msg: &str) -> String {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "-m", msg]);
        self.git(&["rev-parse", "HEAD"]).trim().to_string()
    }

    fn project(&self) -> Project {
        Project::discover(self.path()).unwrap()
    }

    fn diff(&self, revs: &[&str]) -> DiffReport {
        self.diff_with(revs, false, &[])
    }

    fn diff_with(&self, revs: &[&str], cached: bool, limits: &[&str]) -> DiffReport {
        self.try_diff(revs, cached, limits)
            .unwrap_or_else(|e| panic!("{e} {:?}", e.hints))
    }

    fn try_diff(&self, revs: &[&str], cached: bool, limits: &[&str]) -> Result<DiffReport> {
        let revs: Vec<String> = revs.iter().map(|s| s.to_string()).collect();
        let mut spec = DiffSpec::parse(&revs, cached)?;
        spec.limits = limits.iter().map(|s| s.to_string()).collect();
        let report = compare(&self.project(), &spec)?;
        assert_matches_schema(&report);
        Ok(report)
    }
}

/// Every report the tests make matches the documented JSON schema
/// (`schema/diff.schema.json`), keys in the schema's order.
fn assert_matches_schema(report: &DiffReport) {
    use serde_json::Value;
    static SCHEMA: std::sync::OnceLock<(jsonschema::Validator, Vec<Vec<String>>)> = std::sync::OnceLock::new();
    let (validator, orders) = SCHEMA.get_or_init(|| {
        let schema: Value = serde_json::from_str(include_str!("../../schema/diff.schema.json")).unwrap();
        // Each `properties` of the schema, its keys in order.
        fn orders(v: &Value, out: &mut Vec<Vec<String>>) {
            match v {
                Value::Object(m) => {
                    if let Some(Value::Object(props)) = m.get("properties") {
                        out.push(props.keys().cloned().collect());
                    }
                    m.values().for_each(|x| orders(x, out));
                }
                Value::Array(a) => a.iter().for_each(|x| orders(x, out)),
                _ => {}
            }
        }
        let mut o = Vec::new();
        orders(&schema, &mut o);
        (
            jsonschema::validator_for(&schema).expect("the shipped schema compiles"),
            o,
        )
    });
    let json = serde_json::to_value(report).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&json)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "the report does not match schema/diff.schema.json: {errors:#?}\n{json:#}"
    );
    // An object whose keys are those of a schema object has them in its order.
    fn check(v: &Value, orders: &[Vec<String>]) {
        match v {
            Value::Object(m) => {
                let keys: Vec<&String> = m.keys().collect();
                let mut sorted = keys.clone();
                sorted.sort();
                for order in orders {
                    let mut o: Vec<&String> = order.iter().collect();
                    o.sort();
                    if o == sorted {
                        assert!(
                            keys.iter().copied().eq(order.iter()),
                            "keys {keys:?}, schema order {order:?}"
                        );
                    }
                }
                m.values().for_each(|x| check(x, orders));
            }
            Value::Array(a) => a.iter().for_each(|x| check(x, orders)),
            _ => {}
        }
    }
    check(&json, orders);
}

fn git_in(dir: &Path, args: &[&str]) -> String {
    git_with_input(dir, args, None)
}

/// Run git in `dir` with a fixed identity and date (and `input` on stdin).
fn git_with_input(dir: &Path, args: &[&str], input: Option<&[u8]>) -> String {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.com")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.com")
        .env("GIT_AUTHOR_DATE", "2026-01-01T00:00:00Z")
        .env("GIT_COMMITTER_DATE", "2026-01-01T00:00:00Z")
        .stdin(if input.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("git runs");
    if let (Some(input), Some(mut stdin)) = (input, child.stdin.take()) {
        stdin.write_all(input).unwrap();
    }
    let out = child.wait_with_output().expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

const PLAIN: &str = "---
model: openai:gpt-4o-mini
config:
  max_tokens: 100
---
system:
You are a careful assistant.
Answer briefly.

user:
Say hello.
";

fn one<'a>(r: &'a DiffReport, name: &str) -> &'a PromptDiff {
    r.prompts.iter().find(|p| p.name == name).unwrap_or_else(|| {
        panic!(
            "{name} not in {:?}",
            r.prompts.iter().map(|p| &p.name).collect::<Vec<_>>()
        )
    })
}

fn hunk_sum(s: &SectionDiff) -> i64 {
    s.hunks.iter().map(|h| h.tokens_delta).sum()
}

/// The CPUs each diff's second thread was allowed once it had measured, by
/// the thread that called `compare` (tests run side by side).
static HELPER_CPUS: std::sync::Mutex<Vec<(std::thread::ThreadId, Option<Vec<usize>>)>> =
    std::sync::Mutex::new(Vec::new());

pub(super) fn helper_ran_on(spawner: std::thread::ThreadId, cpus: Option<Vec<usize>>) {
    HELPER_CPUS.lock().unwrap().push((spawner, cpus));
}

#[test]
fn the_second_thread_measures_on_other_cpus_and_the_caller_gets_its_own_back() {
    let r = Repo::new();
    r.write("prompts/a.prompt", PLAIN);
    r.commit("one");
    r.write(
        "prompts/a.prompt",
        &PLAIN.replace("Answer briefly.", "Answer in one sentence."),
    );
    r.commit("two");
    let before = crate::affinity::allowed_cpus();
    let rep = r.diff(&["HEAD~1", "HEAD"]);
    assert_eq!(rep.prompts.len(), 1);
    assert_eq!(
        crate::affinity::allowed_cpus(),
        before,
        "the caller's CPUs are restored"
    );
    let me = std::thread::current().id();
    let helper: Vec<_> = HELPER_CPUS
        .lock()
        .unwrap()
        .iter()
        .filter(|(t, _)| *t == me)
        .cloned()
        .collect();
    assert_eq!(helper.len(), 1, "one second thread, which measured");
    if let (Some(all), Some(theirs)) = (&before, &helper[0].1)
        && all.len() >= 2
    {
        assert_eq!(theirs.len(), all.len() - 1, "{theirs:?} of {all:?}");
        assert!(theirs.iter().all(|c| all.contains(c)), "{theirs:?} of {all:?}");
    }
}

#[test]
fn modified_prompt_has_message_hunk_and_total_deltas_that_agree() {
    let r = Repo::new();
    r.write("prompts/a.prompt", PLAIN);
    r.commit("one");
    r.write(
        "prompts/a.prompt",
        &PLAIN
            .replace(
                "You are a careful assistant.",
                "You are a careful, friendly and precise assistant.",
            )
            .replace(
                "Answer briefly.",
                "Answer briefly.\n\nNever invent facts; say when you are unsure.",
            ),
    );
    let rep = r.diff(&[]);
    assert_eq!(rep.head.kind, EndpointKind::WorkTree);
    assert_eq!(rep.prompts.len(), 1);
    let p = one(&rep, "a");
    assert_eq!(p.status, Status::Modified);
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    let t = p.tokens.unwrap();
    assert!(t.delta > 0.0);
    let system = &p.messages[0];
    assert_eq!(system.role, "system");
    assert_eq!(system.status, SectionStatus::Modified);
    assert_eq!(p.messages[1].status, SectionStatus::Unchanged);
    // No variables: the template is the request, so the hunks, the
    // section's content and the whole request move by the same amount.
    let content = system.content_tokens.unwrap().delta;
    assert_eq!(hunk_sum(system) as f64, content);
    assert_eq!(system.template_tokens.delta as f64, content);
    assert_eq!(content, t.delta);
    assert!(p.fields.is_empty(), "{:?}", p.fields);
    let b = p.base.as_ref().unwrap();
    assert_eq!(b.samples, crate::measure::SampleSource::Defaults);
    assert_eq!(rep.summary.modified, 1);
    assert!(rep.differs());
}

#[test]
fn hunks_sum_to_the_section_delta_with_many_hunks() {
    let r = Repo::new();
    let body: Vec<String> = (1..=60)
        .map(|i| format!("Rule {i}: be consistent about rule {i}."))
        .collect();
    r.write(
        "prompts/long.prompt",
        &format!("system:\n{}\n\nuser:\nGo.\n", body.join("\n")),
    );
    r.commit("one");
    let mut b2 = body.clone();
    b2[5] = "Rule 6: be consistent, thorough and explicit about rule 6.".into();
    b2.insert(30, "An inserted rule in the middle.".into());
    b2.remove(50);
    b2[57] = "Rule 60 changed.".into();
    r.write(
        "prompts/long.prompt",
        &format!("system:\n{}\n\nuser:\nGo.\n", b2.join("\n")),
    );
    let rep = r.diff(&[]);
    let s = &one(&rep, "long").messages[0];
    assert!(s.hunks.len() >= 3, "{}", s.hunks.len());
    assert_eq!(hunk_sum(s) + s.template_tokens.tokenizer_delta, s.template_tokens.delta);
    assert_eq!(hunk_sum(s) as f64, s.content_tokens.unwrap().delta);
    // Hunks carry file line numbers: the body starts on line 2.
    assert_eq!(s.old_line, Some(2));
    assert!(s.hunks[0].old_start >= 2);
}

#[test]
fn added_and_deleted_prompts_count_from_and_to_zero() {
    let r = Repo::new();
    r.write("prompts/old.prompt", PLAIN);
    r.commit("one");
    r.remove("prompts/old.prompt");
    r.write(
        "prompts/new.prompt",
        "user:\nSomething entirely different, about {{ topic }}.\n",
    );
    let rep = r.diff(&[]);
    let added = one(&rep, "new");
    assert_eq!(added.status, Status::Added);
    assert!(added.base.is_none());
    assert_eq!(added.tokens.unwrap().before, 0.0);
    assert_eq!(added.tokens.unwrap().pct, None);
    assert_eq!(added.messages[0].status, SectionStatus::Added);
    // No samples for {{ topic }}: the bare template, said so.
    let h = added.head.as_ref().unwrap();
    assert_eq!(h.samples, crate::measure::SampleSource::BareTemplate);
    assert!(h.samples_note.contains("bare template"));
    let gone = one(&rep, "old");
    assert_eq!(gone.status, Status::Deleted);
    assert_eq!(gone.tokens.unwrap().after, 0.0);
    assert!(gone.messages.iter().all(|s| s.status == SectionStatus::Removed));
    assert_eq!((rep.summary.added, rep.summary.deleted), (1, 1));
}

#[test]
fn renames_are_detected_with_and_without_edits() {
    let r = Repo::new();
    r.write("prompts/a.prompt", PLAIN);
    r.write(
        "prompts/b.prompt",
        &PLAIN.replace("Say hello.", "Say goodbye, politely."),
    );
    r.commit("one");
    std::fs::create_dir_all(r.path().join("prompts/renamed")).unwrap();
    r.git(&["mv", "prompts/a.prompt", "prompts/renamed/a2.prompt"]);
    r.git(&["mv", "prompts/b.prompt", "prompts/b2.prompt"]);
    r.write(
        "prompts/b2.prompt",
        &PLAIN.replace("Say hello.", "Say goodbye, politely, in one sentence."),
    );
    r.commit("two");
    let rep = r.diff(&["HEAD~1", "HEAD"]);
    assert_eq!(rep.prompts.len(), 2, "{:?}", rep.prompts);
    let a = one(&rep, "renamed/a2");
    assert_eq!(a.status, Status::Renamed);
    assert_eq!(a.old_name.as_deref(), Some("a"));
    assert_eq!(a.similarity_pct, Some(100));
    assert_eq!(a.tokens.unwrap().delta, 0.0);
    let b = one(&rep, "b2");
    assert_eq!(b.status, Status::Renamed);
    assert_eq!(b.old_path.as_deref(), Some(Path::new("prompts/b.prompt")));
    assert!(b.similarity_pct.unwrap() < 100);
    assert!(b.tokens.unwrap().delta > 0.0);
    assert_eq!(rep.summary.renamed, 2);
}

#[test]
fn model_change_is_a_field_and_each_side_is_priced_with_its_model() {
    let r = Repo::new();
    r.write("prompts/a.prompt", PLAIN);
    r.commit("one");
    r.write(
        "prompts/a.prompt",
        &PLAIN.replace("openai:gpt-4o-mini", "openai:gpt-4o"),
    );
    let rep = r.diff(&[]);
    let p = one(&rep, "a");
    assert_eq!(p.model_change(), Some(("openai:gpt-4o-mini", "openai:gpt-4o")));
    assert_eq!(p.fields[0].field, "model");
    assert_eq!(p.fields[0].kind, FieldKind::Model);
    let cat = Catalog::builtin();
    for side in [p.base.as_ref().unwrap(), p.head.as_ref().unwrap()] {
        let info = cat.get(&side.model).unwrap();
        let expect = (side.input_tokens * info.input + 100.0 * info.output) / 1e6;
        assert!((side.cost_per_call_usd - expect).abs() < 1e-12, "{}", side.model);
    }
    let c = p.cost_per_call_usd.unwrap();
    assert!(c.after > c.before * 10.0, "{c:?}");
    // Text unchanged: no hunks, no token change (same tokenizer).
    assert!(p.messages.iter().all(|s| s.hunks.is_empty()));
    assert_eq!(p.tokens.unwrap().delta, 0.0);
}

#[test]
fn a_tokenizer_change_is_accounted_apart_from_the_hunks() {
    let r = Repo::new();
    let text = "---\nmodel: openai:gpt-4o-mini\n---\nsystem:\nQuelle est la capitale de la France ? Répondez brièvement, s'il vous plaît.\n\nuser:\nMerci.\n";
    r.write("prompts/a.prompt", text);
    r.commit("one");
    r.write(
        "prompts/a.prompt",
        &text
            .replace("openai:gpt-4o-mini", "openai:gpt-4")
            .replace("Merci.", "Merci beaucoup pour votre aide précieuse."),
    );
    let rep = r.diff(&[]);
    let p = one(&rep, "a");
    let system = &p.messages[0];
    assert!(system.hunks.is_empty());
    assert_ne!(
        system.template_tokens.tokenizer_delta, 0,
        "cl100k and o200k count French differently"
    );
    assert_eq!(system.template_tokens.tokenizer_delta, system.template_tokens.delta);
    let user = &p.messages[1];
    assert_eq!(
        hunk_sum(user) + user.template_tokens.tokenizer_delta,
        user.template_tokens.delta
    );
}

#[test]
fn schema_and_settings_changes_are_structured() {
    let r = Repo::new();
    let v1 = "---
config: {temperature: 0, max_tokens: 200}
output:
  format: json
  schema: {type: object, required: [category], properties: {category: {type: string}}}
budget: {max_input_tokens: 600}
---
Classify: {{ ticket }}
";
    r.write("prompts/t.prompt", v1);
    r.commit("one");
    let v2 = "---
config: {temperature: 0.2, max_tokens: 300}
output:
  format: json
  schema: {type: object, required: [category, reason], properties: {category: {type: string}, reason: {type: string}}}
budget: {max_input_tokens: 800}
---
Classify: {{ ticket }} ({{ lang }})
";
    r.write("prompts/t.prompt", v2);
    let rep = r.diff(&[]);
    let p = one(&rep, "t");
    let fields: Vec<(&str, FieldKind)> = p.fields.iter().map(|f| (f.field.as_str(), f.kind)).collect();
    assert_eq!(
        fields,
        vec![
            ("config.max_tokens", FieldKind::OutputCap),
            ("config.temperature", FieldKind::Config),
            ("input.variables", FieldKind::Input),
            ("output.schema.required", FieldKind::Output),
            ("output.schema.properties", FieldKind::Output),
            ("budget.max_input_tokens", FieldKind::Budget),
        ]
    );
    let vars = &p.fields[2];
    assert_eq!(vars.added, vec!["lang"]);
    let req = &p.fields[3];
    assert_eq!(req.added, vec!["reason"]);
    // The cap is priced on each side.
    assert_eq!(p.base.as_ref().unwrap().output_tokens_priced, 200);
    assert_eq!(p.head.as_ref().unwrap().output_tokens_priced, 300);
}

#[test]
fn working_tree_includes_untracked_prompts_but_not_other_files() {
    let r = Repo::new();
    r.write("prompts/a.prompt", PLAIN);
    r.commit("one");
    r.write("prompts/sub/new.prompt", "user:\nHi.\n");
    r.write("prompts/README.md", "not a prompt\n");
    r.write("other/x.prompt", "user:\nOutside the prompts directory.\n");
    let rep = r.diff(&[]);
    let names: Vec<&str> = rep.prompts.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, vec!["sub/new"]);
    assert_eq!(rep.prompts[0].status, Status::Added);
    // Against a revision, the working tree is still the head.
    let rep = r.diff(&["HEAD"]);
    assert_eq!(rep.prompts.len(), 1);
    // Committed: nothing left.
    r.commit("two");
    let rep = r.diff(&[]);
    assert!(!rep.differs());
}

#[test]
fn cached_compares_the_index_only() {
    let r = Repo::new();
    r.write("prompts/a.prompt", PLAIN);
    r.write("prompts/b.prompt", PLAIN);
    r.commit("one");
    r.write("prompts/a.prompt", &PLAIN.replace("Say hello.", "Say hello twice."));
    r.git(&["add", "prompts/a.prompt"]);
    r.write("prompts/b.prompt", &PLAIN.replace("Say hello.", "Unstaged edit."));
    let staged = r.diff_with(&[], true, &[]);
    assert_eq!(staged.head.kind, EndpointKind::Index);
    let names: Vec<&str> = staged.prompts.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, vec!["a"]);
    let all = r.diff(&[]);
    assert_eq!(all.prompts.len(), 2);
    // Staged content, not the file on disk.
    r.write(
        "prompts/a.prompt",
        &PLAIN.replace("Say hello.", "Changed again after staging, much longer now."),
    );
    let staged2 = r.diff_with(&[], true, &[]);
    assert_eq!(staged2.prompts[0].tokens, staged.prompts[0].tokens);
}

#[test]
fn three_dots_compare_the_merge_base_with_the_head() {
    let r = Repo::new();
    r.write("prompts/a.prompt", PLAIN);
    r.write("prompts/b.prompt", PLAIN);
    r.commit("base");
    r.git(&["checkout", "-q", "-b", "feature"]);
    r.write(
        "prompts/a.prompt",
        &PLAIN.replace("Say hello.", "Say hello on the feature branch."),
    );
    r.commit("feature work");
    r.git(&["checkout", "-q", "main"]);
    r.write("prompts/b.prompt", &PLAIN.replace("Say hello.", "Main moved on."));
    r.commit("main work");

    let three = r.diff(&["main...feature"]);
    let names: Vec<&str> = three.prompts.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, vec!["a"], "only the feature's own change");
    assert_eq!(three.base.spec, "main...feature");
    let mb = r.git(&["merge-base", "main", "feature"]);
    assert_eq!(three.base.commit.as_deref(), Some(mb.trim()));
    assert_eq!(three.head.kind, EndpointKind::Commit);

    let two = r.diff(&["main", "feature"]);
    assert_eq!(two.prompts.len(), 2, "main's change shows, reversed");
    let dots = r.diff(&["main..feature"]);
    assert_eq!(dots.prompts.len(), 2);
    // `A...` means A...HEAD.
    r.git(&["checkout", "-q", "feature"]);
    let implicit = r.diff(&["main..."]);
    assert_eq!(implicit.prompts.len(), 1);
}

#[test]
fn detached_head_works() {
    let r = Repo::new();
    r.write("prompts/a.prompt", PLAIN);
    let first = r.commit("one");
    r.write("prompts/a.prompt", &PLAIN.replace("Say hello.", "Say hi."));
    r.commit("two");
    r.git(&["checkout", "-q", "--detach", &first]);
    let rep = r.diff(&["HEAD", "main"]);
    assert_eq!(rep.prompts.len(), 1);
    let rep = r.diff(&[]);
    assert!(rep.prompts.is_empty());
}

#[test]
fn unknown_revision_is_bad_input_naming_it() {
    let r = Repo::new();
    r.write("prompts/a.prompt", PLAIN);
    r.commit("one");
    let e = r.try_diff(&["nope"], false, &[]).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Input);
    assert!(e.message.contains("unknown revision 'nope'"), "{}", e.message);
    // A prompt name where a revision goes: point at `--`.
    let e = r.try_diff(&["a"], false, &[]).unwrap_err();
    assert!(
        e.hints.iter().any(|h| h.contains("promptctl diff -- a")),
        "{:?}",
        e.hints
    );
    let e = r.try_diff(&["main...nope"], false, &[]).unwrap_err();
    assert!(e.message.contains("'nope'"), "{}", e.message);
}

#[test]
fn empty_repository_says_so() {
    let r = Repo::new();
    r.write("prompts/a.prompt", PLAIN);
    let e = r.try_diff(&[], false, &[]).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Input);
    assert!(e.message.contains("no commits yet"), "{}", e.message);
}

#[test]
fn non_utf8_and_binary_prompt_files_are_reported_and_skipped() {
    let r = Repo::new();
    r.write("prompts/a.prompt", PLAIN);
    r.commit("one");
    r.write_bytes("prompts/latin1.prompt", b"user:\nCaf\xe9 au lait\n");
    r.write_bytes("prompts/a.prompt", b"user:\n\x00\x01\x02binary");
    r.write("prompts/ok.prompt", "user:\nFine.\n");
    let rep = r.diff(&[]);
    let names: Vec<&str> = rep.prompts.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, vec!["ok"]);
    let skipped: Vec<(&str, &str)> = rep
        .skipped
        .iter()
        .map(|s| (s.path.to_str().unwrap(), s.reason.as_str()))
        .collect();
    assert_eq!(
        skipped,
        vec![
            ("prompts/a.prompt", "binary file"),
            ("prompts/latin1.prompt", "not valid UTF-8 (line 2)")
        ]
    );
    assert_eq!(rep.summary.skipped, 2);
    assert_eq!(rep.head_failures(), 2);
}

#[test]
fn a_prompt_that_fails_to_parse_at_one_side_is_shown_with_the_error() {
    let r = Repo::new();
    r.write("prompts/a.prompt", PLAIN);
    r.write("prompts/b.prompt", "---\nmodle: x\n---\nuser:\nHi.\n");
    r.commit("one");
    // a breaks at the head; b (broken at the base) is fixed.
    r.write("prompts/a.prompt", &PLAIN.replace("max_tokens: 100", "max_token: 100"));
    r.write("prompts/b.prompt", "user:\nHi.\n");
    let rep = r.diff(&[]);
    let a = one(&rep, "a");
    assert_eq!(a.status, Status::Modified);
    assert_eq!(a.errors.len(), 1);
    assert_eq!(a.errors[0].side, Which::Head);
    assert!(
        a.errors[0].message.starts_with("prompts/a.prompt:4:"),
        "{}",
        a.errors[0].message
    );
    assert!(
        a.errors[0].hints.iter().any(|h| h.contains("max_tokens")),
        "{:?}",
        a.errors[0].hints
    );
    assert!(a.tokens.is_none() && a.head.is_none() && a.base.is_some());
    assert_eq!(a.messages.len(), 1);
    assert_eq!(a.messages[0].role, "file");
    assert!(
        a.messages[0].hunks[0]
            .lines
            .iter()
            .any(|l| l.text.contains("max_token: 100"))
    );
    let b = one(&rep, "b");
    assert_eq!(b.errors[0].side, Which::Base);
    assert_eq!(rep.summary.with_errors, 2);
    // Only the head's failure counts for --strict.
    assert_eq!(rep.head_failures(), 1);
}

#[test]
fn limits_take_names_directories_and_globs() {
    let r = Repo::new();
    for n in ["support/triage", "support/chat", "rag/answer"] {
        r.write(&format!("prompts/{n}.prompt"), PLAIN);
    }
    r.commit("one");
    for n in ["support/triage", "support/chat", "rag/answer"] {
        r.write(&format!("prompts/{n}.prompt"), &PLAIN.replace("hello", "hi"));
    }
    let names = |limits: &[&str]| -> Vec<String> {
        r.diff_with(&[], false, limits)
            .prompts
            .into_iter()
            .map(|p| p.name)
            .collect()
    };
    assert_eq!(names(&["support/triage"]), vec!["support/triage"]);
    assert_eq!(names(&["prompts/support/triage.prompt"]), vec!["support/triage"]);
    assert_eq!(names(&["support"]), vec!["support/chat", "support/triage"]);
    assert_eq!(names(&["*/answer"]), vec!["rag/answer"]);
    assert_eq!(
        names(&["prompts/support/c*.prompt", "rag/answer"]),
        vec!["rag/answer", "support/chat"]
    );
    let e = r.try_diff(&[], false, &["support/triag"]).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Input);
    assert!(e.hints[0].contains("support/triage"), "{:?}", e.hints);
}

#[test]
fn eval_cases_come_from_each_revision_else_the_other_side() {
    let r = Repo::new();
    let p = "user:\nTicket: {{ ticket }}\n";
    r.write("prompts/t.prompt", p);
    r.commit("no suite yet");
    r.write(
        "evals/t.yaml",
        "prompt: t\ncases:\n  - vars: {ticket: short}\n  - vars: {ticket: a much longer ticket text with many more words in it}\n",
    );
    r.write("prompts/t.prompt", "user:\nTicket:\n{{ ticket }}\n");
    let rep = r.diff(&[]);
    let t = one(&rep, "t");
    let base = t.base.as_ref().unwrap();
    let head = t.head.as_ref().unwrap();
    // The base revision has no suite for t: the working tree's is used, said so.
    assert_eq!(base.suites_from, Some(SuitesFrom::WorkingTree));
    assert_eq!(base.renderings, 2);
    assert!(base.samples_note.contains("2 eval cases"), "{}", base.samples_note);
    assert_eq!(head.suites_from, Some(SuitesFrom::WorkingTree));
    // Means over the cases: the max is the longer ticket.
    assert!(base.input_tokens < base.input_tokens_max as f64);
    r.commit("suite");
    // A revision with the suite uses its own copy.
    r.write(
        "evals/t.yaml",
        "prompt: t\ncases:\n  - vars: {ticket: only one case now}\n",
    );
    let rep = r.diff(&["HEAD~1", "HEAD"]);
    let t = one(&rep, "t");
    assert_eq!(t.head.as_ref().unwrap().suites_from, Some(SuitesFrom::Revision));
    assert_eq!(t.head.as_ref().unwrap().renderings, 2);
    // Between two revisions the working tree (one case now) is never read:
    // the base, which has no suite, uses the head revision's two cases.
    let base = t.base.as_ref().unwrap();
    assert_eq!(base.suites_from, Some(SuitesFrom::OtherRevision));
    assert_eq!(base.renderings, 2);
    let text = crate::report::diff::render_text(&rep, false);
    assert!(
        text.contains("base uses HEAD's eval suites (none for it at HEAD~1)"),
        "{text}"
    );
    // A suite that does not parse is a warning, not a failure.
    r.write("evals/t.yaml", "prompt: t\ncasez: []\n");
    let rep = r.diff(&["HEAD~1"]);
    assert_eq!(rep.warnings.len(), 1, "{:?}", rep.warnings);
    assert!(rep.warnings[0].contains("evals/t.yaml:2"), "{}", rep.warnings[0]);
}

/// The working tree (or the index) with no usable suite for a prompt — the
/// suite deleted, or broken mid-edit — is measured on the base revision's
/// cases, like a revision side: a delta over different cases would be a
/// change the prompt did not make.
#[test]
fn a_working_tree_without_a_usable_suite_uses_the_base_revisions() {
    let r = Repo::new();
    r.write("prompts/t.prompt", "user:\nTicket: {{ ticket }}\n");
    r.write(
        "evals/t.yaml",
        "prompt: t\ncases:\n  - vars: {ticket: short}\n  - vars: {ticket: a much longer ticket text with many more words in it}\n",
    );
    r.commit("prompt and suite");
    // A wording change: measured on the same cases, its delta is the same
    // whatever state the working tree's suite is in.
    r.write("prompts/t.prompt", "user:\nPlease. Ticket: {{ ticket }}\n");
    let intact = r.diff(&[]);
    let t = one(&intact, "t");
    assert_eq!(t.head.as_ref().unwrap().suites_from, Some(SuitesFrom::WorkingTree));
    let delta = t.tokens.unwrap().delta;
    for (suite, broken) in [(Some("prompt: t\ncases: [\n"), true), (None, false)] {
        match suite {
            Some(text) => r.write("evals/t.yaml", text),
            None => r.remove("evals/t.yaml"),
        }
        for cached in [false, true] {
            if cached {
                r.git(&["add", "-A"]);
            }
            let rep = r.diff_with(&[], cached, &[]);
            let t = one(&rep, "t");
            let head = t.head.as_ref().unwrap();
            assert_eq!(head.suites_from, Some(SuitesFrom::OtherRevision), "cached {cached}");
            assert_eq!(head.renderings, 2);
            assert_eq!(t.tokens.unwrap().delta, delta, "the same cases on both sides");
            assert_eq!(rep.warnings.len(), usize::from(broken), "{:?}", rep.warnings);
            let text = crate::report::diff::render_text(&rep, false);
            assert!(
                text.contains("head uses HEAD's eval suites (none for it in the working tree)"),
                "{text}"
            );
        }
        r.git(&["reset", "-q"]);
    }
}

#[test]
fn traffic_projects_the_monthly_cost_change() {
    let r = Repo::new();
    r.write("promptctl.toml", "[traffic.requests_per_day]\n\"a\" = 1000\n");
    r.write("prompts/a.prompt", PLAIN);
    r.write("prompts/b.prompt", PLAIN);
    r.commit("one");
    r.write("prompts/a.prompt", &PLAIN.replace("max_tokens: 100", "max_tokens: 400"));
    r.write("prompts/b.prompt", &PLAIN.replace("max_tokens: 100", "max_tokens: 400"));
    let rep = r.diff(&[]);
    let a = one(&rep, "a");
    let pr = a.projection.as_ref().unwrap();
    assert_eq!(pr.requests_per_day, 1000.0);
    let c = a.cost_per_call_usd.unwrap();
    assert!((pr.monthly_usd.delta - 30_000.0 * c.delta).abs() < 1e-9);
    assert!(one(&rep, "b").projection.is_none());
    let m = rep.summary.monthly_usd.unwrap();
    assert!((m.delta - pr.monthly_usd.delta).abs() < 1e-12);
    let k = rep.summary.cost_per_1k_calls_usd;
    let sum: f64 = rep.prompts.iter().map(|p| p.cost_per_1k_calls_usd.unwrap().delta).sum();
    assert!((k.delta - sum).abs() < 1e-12);
}

#[test]
fn a_project_below_the_repository_root_works() {
    let r = Repo::new();
    r.write("svc/promptctl.toml", "");
    r.write("svc/prompts/a.prompt", PLAIN);
    r.write("prompts/outside.prompt", PLAIN);
    r.commit("one");
    r.write("svc/prompts/a.prompt", &PLAIN.replace("hello", "hi"));
    r.write("prompts/outside.prompt", &PLAIN.replace("hello", "hi"));
    let project = Project::discover(&r.path().join("svc")).unwrap();
    let rep = compare(&project, &DiffSpec::new(Base::Rev("HEAD".into()), Head::WorkTree)).unwrap();
    assert_matches_schema(&rep);
    let names: Vec<&str> = rep.prompts.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, vec!["a"]);
    assert_eq!(rep.prompts[0].new_path.as_deref(), Some(Path::new("prompts/a.prompt")));
}

#[test]
fn spec_reads_git_style_arguments() {
    let s = |a: &[&str], cached: bool| {
        let v: Vec<String> = a.iter().map(|x| x.to_string()).collect();
        DiffSpec::parse(&v, cached)
    };
    let h = |x: &str| x.to_string();
    assert_eq!(s(&[], false).unwrap().head, Head::WorkTree);
    assert_eq!(s(&[], true).unwrap().head, Head::Index);
    assert_eq!(s(&["v1"], false).unwrap().base, Base::Rev(h("v1")));
    let r = s(&["origin/main...HEAD"], false).unwrap();
    assert_eq!(r.base, Base::MergeBase(h("origin/main"), h("HEAD")));
    assert_eq!(r.head, Head::Rev(h("HEAD")));
    let r = s(&["a..b"], false).unwrap();
    assert_eq!((r.base, r.head), (Base::Rev(h("a")), Head::Rev(h("b"))));
    let r = s(&["...b"], false).unwrap();
    assert_eq!(r.base, Base::MergeBase(h("HEAD"), h("b")));
    assert_eq!(s(&["a", "b"], false).unwrap().head, Head::Rev(h("b")));
    assert!(s(&["a...b", "c"], false).is_err());
    assert!(s(&["a", "b"], true).is_err());
    assert!(s(&["a...b"], true).is_err());
    assert!(s(&[""], false).is_err());
}

#[test]
fn eval_cases_that_miss_a_new_variable_are_shown_as_the_suites_problem() {
    let r = Repo::new();
    r.write("prompts/t.prompt", "user:\nTicket: {{ ticket }}\n");
    r.write("evals/t.yaml", "prompt: t\ncases:\n  - vars: {ticket: hi}\n");
    r.commit("one");
    r.write("prompts/t.prompt", "user:\nTicket ({{ lang }}): {{ ticket }}\n");
    let rep = r.diff(&[]);
    let t = one(&rep, "t");
    assert_eq!(t.errors.len(), 1);
    let e = &t.errors[0];
    assert_eq!(e.side, Which::Head);
    assert!(e.message.contains("missing variable 'lang'"), "{}", e.message);
    assert!(e.hints.iter().all(|h| !h.contains("--var")), "{:?}", e.hints);
    assert!(e.hints.iter().any(|h| h.contains("evals/t.yaml")), "{:?}", e.hints);
}

#[test]
fn the_prompts_directory_itself_is_a_limit_that_matches_all() {
    let r = Repo::new();
    r.write("prompts/a.prompt", PLAIN);
    r.commit("one");
    r.write("prompts/a.prompt", &PLAIN.replace("hello", "hi"));
    assert_eq!(r.diff_with(&[], false, &["prompts"]).prompts.len(), 1);
    assert_eq!(r.diff_with(&[], false, &["prompts/"]).prompts.len(), 1);
}

#[test]
fn only_suites_that_mention_a_changed_prompt_are_parsed() {
    let r = Repo::new();
    r.write("prompts/alpha.prompt", PLAIN);
    r.write("evals/beta.yaml", "prompt: beta\ncasez: []\n");
    r.commit("one");
    r.write("prompts/alpha.prompt", &PLAIN.replace("hello", "hi"));
    let rep = r.diff(&[]);
    assert!(rep.warnings.is_empty(), "{:?}", rep.warnings);
    r.write("evals/alpha.yaml", "prompt: alpha\ncasez: []\n");
    let rep = r.diff(&[]);
    assert_eq!(rep.warnings.len(), 1, "{:?}", rep.warnings);
}

#[test]
fn context_sets_the_unchanged_lines_around_hunks() {
    let r = Repo::new();
    r.write("prompts/a.prompt", PLAIN);
    r.commit("one");
    r.write(
        "prompts/a.prompt",
        &PLAIN.replace("Answer briefly.", "Answer in one line."),
    );
    let mut spec = DiffSpec::new(Base::Rev("HEAD".into()), Head::WorkTree);
    spec.context = 0;
    let rep = compare(&r.project(), &spec).unwrap();
    let lines = &one(&rep, "a").messages[0].hunks[0].lines;
    assert!(lines.iter().all(|l| l.op != LineOp::Equal), "{lines:?}");
    spec.context = 3;
    let rep = compare(&r.project(), &spec).unwrap();
    assert!(
        one(&rep, "a").messages[0].hunks[0]
            .lines
            .iter()
            .any(|l| l.op == LineOp::Equal)
    );
}

#[test]
fn tree_walk_agrees_with_git_name_status() {
    let r = Repo::new();
    let text = |i: usize| {
        let lines: Vec<String> = (0..12)
            .map(|k| format!("Line {k} of prompt {i}, with some words."))
            .collect();
        format!("system:\n{}\n\nuser:\nGo {i}.\n", lines.join("\n"))
    };
    for (i, p) in [
        "a/x.prompt",
        "a/y.prompt",
        "a/deep/z.prompt",
        "b/keep.prompt",
        "b/gone.prompt",
        "c/moved.prompt",
        "c/moved_edit.prompt",
        "d/whole/dir.prompt",
    ]
    .iter()
    .enumerate()
    {
        r.write(&format!("prompts/{p}"), &text(i));
    }
    r.write("outside/o.prompt", &text(99));
    r.commit("one");
    r.write("prompts/a/deep/z.prompt", &text(2).replace("Go 2.", "Go 2, changed."));
    r.write("prompts/a/new.prompt", &text(50));
    r.remove("prompts/b/gone.prompt");
    std::fs::create_dir_all(r.path().join("prompts/e")).unwrap();
    r.git(&["mv", "prompts/c/moved.prompt", "prompts/e/moved.prompt"]);
    r.git(&["mv", "prompts/c/moved_edit.prompt", "prompts/e/edited.prompt"]);
    r.write(
        "prompts/e/edited.prompt",
        &text(6).replace("Line 3 of", "Line three of"),
    );
    r.remove("prompts/d/whole/dir.prompt");
    r.write("outside/o.prompt", &text(98));
    r.commit("two");

    let rep = r.diff(&["HEAD~1", "HEAD"]);
    let mut ours: Vec<String> = rep
        .prompts
        .iter()
        .map(|p| {
            let s = match p.status {
                Status::Added => "A",
                Status::Deleted => "D",
                Status::Modified => "M",
                Status::Renamed => "R",
            };
            let old = p.old_path.as_ref().map(|x| x.display().to_string());
            let new = p.new_path.as_ref().map(|x| x.display().to_string());
            match (p.status, old, new) {
                (Status::Renamed, Some(o), Some(n)) => format!("{s} {o} {n}"),
                (_, o, n) => format!("{s} {}", n.or(o).unwrap()),
            }
        })
        .collect();
    ours.sort();
    let mut git: Vec<String> = r
        .git(&["diff", "--name-status", "-M", "HEAD~1", "HEAD", "--", "prompts"])
        .lines()
        .map(|l| {
            let parts: Vec<&str> = l.split('\t').collect();
            let s = &parts[0][..1];
            format!("{s} {}", parts[1..].join(" "))
        })
        .collect();
    git.sort();
    assert_eq!(ours, git);
    assert_eq!(one(&rep, "e/moved").similarity_pct, Some(100));
    assert!(one(&rep, "e/edited").similarity_pct.unwrap() < 100);
}

#[test]
fn working_tree_renames_pair_a_deleted_file_with_an_untracked_one() {
    let r = Repo::new();
    r.write("prompts/old.prompt", PLAIN);
    r.commit("one");
    r.remove("prompts/old.prompt");
    r.write(
        "prompts/new/name.prompt",
        &PLAIN.replace("Answer briefly.", "Answer very briefly."),
    );
    let rep = r.diff(&[]);
    assert_eq!(rep.prompts.len(), 1, "{:?}", rep.prompts);
    let p = &rep.prompts[0];
    assert_eq!(p.status, Status::Renamed);
    assert_eq!(p.old_name.as_deref(), Some("old"));
    assert_eq!(p.name, "new/name");
}

#[test]
fn an_unreadable_tree_is_an_error_and_releases_the_second_thread() {
    // The second thread waits for the changed names; an error while the
    // trees are diffed must end the diff, not leave that thread waiting.
    let r = Repo::new();
    r.write("prompts/a.prompt", PLAIN);
    r.write("evals/a.yaml", "prompt: a\ncases:\n  - vars: {}\n");
    r.commit("one");
    r.write("prompts/a.prompt", &PLAIN.replace("Say hello.", "Say hello twice."));
    r.commit("two");
    let tree = r.delete_object("HEAD:prompts");

    let result = diff_within_30s(r.path(), "HEAD~1", "HEAD");
    let err = result.expect_err("a missing tree object is an error");
    assert!(
        err.message.contains(&tree[..7]) || err.message.contains("not found"),
        "{}",
        err.message
    );
}

/// The diff between two revisions on a thread of its own; it must return
/// within 30 s (neither of its threads left waiting for the other).
fn diff_within_30s(dir: &Path, base: &str, head: &str) -> Result<()> {
    let dir = dir.to_path_buf();
    let revs = [base.to_string(), head.to_string()];
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let spec = DiffSpec::parse(&revs, false).unwrap();
        let _ = tx.send(compare(&Project::discover(&dir).unwrap(), &spec).map(|_| ()));
    });
    rx.recv_timeout(std::time::Duration::from_secs(30))
        .expect("the diff returned")
}

#[test]
fn an_unreadable_evals_tree_is_an_error_only_when_a_prompt_changed() {
    // The suites are listed on the second thread before the changed prompts
    // are known; a listing that fails must not fail a diff that needs none.
    let r = Repo::new();
    r.write("prompts/a.prompt", PLAIN);
    r.write("evals/a.yaml", "prompt: a\ncases:\n  - vars: {}\n");
    r.commit("one");
    r.write("prompts/notes.md", "not a prompt\n");
    r.commit("two");
    r.write("prompts/a.prompt", &PLAIN.replace("Say hello.", "Say hello twice."));
    r.commit("three");
    let tree = r.delete_object("HEAD:evals");

    // prompts/ differs, but no prompt: nothing to measure, no suite needed.
    // (Repeated: which thread gets there first varies.)
    for _ in 0..5 {
        diff_within_30s(r.path(), "HEAD~2", "HEAD~1").expect("no prompt changed: the suites are not needed");
    }
    let err = diff_within_30s(r.path(), "HEAD~1", "HEAD").expect_err("a changed prompt needs the suites");
    assert!(
        err.message.contains(&tree[..7]) || err.message.contains("not found"),
        "{}",
        err.message
    );
}

#[test]
fn the_evals_tree_listing_comes_from_the_index_once_it_knows_the_tree() {
    let r = Repo::new();
    r.write("prompts/t.prompt", "user:\nTicket: {{ ticket }}\n");
    r.write("evals/t.yaml", "prompt: t\ncases:\n  - vars: {ticket: hi}\n");
    r.commit("one");
    let index = r.path().join(".promptctl/cache/suite-prompts");
    assert_eq!(picked_at_head(&r, &index).len(), 1);
    // The index now holds the evals tree's files; emptied there, a second
    // listing finds no suite: it was read from the index, not the tree.
    let evals = r.git(&["rev-parse", "HEAD:evals"]).trim().to_string();
    let blob = r.git(&["rev-parse", "HEAD:evals/t.yaml"]).trim().to_string();
    let text = std::fs::read_to_string(&index).unwrap();
    let block = format!("tree {evals} 1\n{blob} t.yaml\n");
    assert!(text.contains(&block), "{text}");
    std::fs::write(&index, text.replace(&block, &format!("tree {evals} 0\n"))).unwrap();
    assert_eq!(picked_at_head(&r, &index).len(), 0);
}

/// The suites the diff picks for prompt `t` at HEAD, both sides at HEAD (so
/// none come from the working tree), with the suite index at `index`.
fn picked_at_head(r: &Repo, index: &Path) -> Vec<SuiteFile> {
    let project = r.project();
    let repo = project.repo().unwrap();
    let tree = repo.tree_at("HEAD").unwrap();
    let names = vec!["t".to_string()];
    let listing = suites::Listing::list(&project, &repo, (&tree, Some(&tree)), Some(index)).unwrap();
    let memo = suites::Memo::default();
    let picked = suites::Suites::new(&project, &listing, &names, &memo)
        .pick(&repo, Which::Base, "t", None)
        .unwrap()
        .0;
    listing.save_index();
    picked
}

#[test]
fn each_changed_prompt_is_measured_once_whichever_thread_takes_it() {
    let r = Repo::new();
    let n = 40;
    for i in 0..n {
        r.write(&format!("prompts/p{i:02}.prompt"), PLAIN);
        if i % 2 == 0 {
            r.write(
                &format!("evals/p{i:02}.yaml"),
                &format!("prompt: p{i:02}\ncases:\n  - vars: {{}}\n  - vars: {{}}\n"),
            );
        }
    }
    r.commit("one");
    for i in 0..n {
        let text = PLAIN.replace("Say hello.", &format!("Say hello {i} times."));
        r.write(&format!("prompts/p{i:02}.prompt"), &text);
    }
    r.commit("two");
    let rep = r.diff(&["HEAD~1", "HEAD"]);
    let names: Vec<String> = rep.prompts.iter().map(|p| p.name.clone()).collect();
    let expected: Vec<String> = (0..n).map(|i| format!("p{i:02}")).collect();
    assert_eq!(names, expected);
    for (i, p) in rep.prompts.iter().enumerate() {
        let base = p.base.as_ref().unwrap();
        let want = (i % 2 == 0).then_some(SuitesFrom::Revision);
        assert_eq!(base.suites_from, want, "{}", p.name);
        assert_eq!(base.renderings, if i % 2 == 0 { 2 } else { 1 }, "{}", p.name);
    }
    // The same report every time, however the two threads share the work.
    let first = serde_json::to_string(&rep).unwrap();
    for _ in 0..4 {
        assert_eq!(serde_json::to_string(&r.diff(&["HEAD~1", "HEAD"])).unwrap(), first);
    }
}

#[test]
fn a_suite_parsed_once_is_read_from_the_index_by_blob_after() {
    let r = Repo::new();
    r.write("prompts/t.prompt", "user:\nTicket: {{ ticket }}\n");
    r.write(
        "evals/t.yaml",
        "prompt: t\ndefaults:\n  vars: {ticket: default}\ncases:\n  - vars: {ticket: hi}\n  - {}\n",
    );
    r.commit("one");
    let index = r.path().join(".promptctl/cache/suite-prompts");
    let tickets = || -> Vec<String> {
        let picked = picked_at_head(&r, &index);
        assert_eq!(picked.len(), 1);
        let vars = picked[0].suite.case_vars();
        vars.iter().map(|v| v["ticket"].as_str().unwrap().to_string()).collect()
    };
    // Parsed from the file: the defaults apply to the second case.
    assert_eq!(tickets(), ["hi", "default"]);
    // Kept by blob id; changed there, the next listing shows it: it did not
    // read the file again.
    let text = std::fs::read_to_string(&index).unwrap();
    assert!(text.contains(r#"{"ticket":"default"}"#), "{text}");
    std::fs::write(&index, text.replace(r#"{"ticket":"default"}"#, r#"{"ticket":"kept"}"#)).unwrap();
    assert_eq!(tickets(), ["hi", "kept"]);
}

#[test]
fn a_tree_with_entries_out_of_git_order_is_still_compared_by_name() {
    let r = Repo::new();
    r.write("prompts/a.prompt", PLAIN);
    r.write("prompts/b.prompt", PLAIN);
    r.commit("one");
    // A hand-made prompts tree listing b before a (git writes a before b),
    // with b changed.
    let a = r.git(&["rev-parse", "HEAD:prompts/a.prompt"]).trim().to_string();
    r.write("new-b", &PLAIN.replace("Say hello.", "Say hello twice."));
    let b = r.git(&["hash-object", "-w", "new-b"]).trim().to_string();
    let entry = |name: &str, hex: &str| {
        let mut v = format!("100644 {name}\0").into_bytes();
        v.extend((0..20).map(|i| u8::from_str_radix(&hex[i * 2..i * 2 + 2], 16).unwrap()));
        v
    };
    let mut raw = entry("b.prompt", &b);
    raw.extend(entry("a.prompt", &a));
    r.write_bytes("tree.bin", &raw);
    let prompts = r
        .git(&["hash-object", "-w", "-t", "tree", "--literally", "tree.bin"])
        .trim()
        .to_string();
    let root_entry = format!("040000 tree {prompts}\tprompts\n");
    let root = git_with_input(r.path(), &["mktree"], Some(root_entry.as_bytes()));
    let commit = r.git(&["commit-tree", root.trim(), "-p", "HEAD", "-m", "hand-made"]);
    r.git(&["update-ref", "refs/heads/odd", commit.trim()]);

    let rep = r.diff(&["main", "odd"]);
    let names: Vec<(&str, Status)> = rep.prompts.iter().map(|p| (p.name.as_str(), p.status)).collect();
    assert_eq!(names, vec![("b", Status::Modified)]);
}
