//! Release operations on real repositories (git2 in a temp dir).

use std::path::Path;
use std::sync::{Arc, Barrier};

use git2::{Repository, Signature};

use super::ops::{self, Plan, ReleaseRequest};
use super::resolve::{Request, resolve};
use super::state::{self, Action};
use super::tags::Channel;
use super::{export, history, status};
use crate::ErrorKind;
use crate::git::{Repo, notes};
use crate::project::Project;

// gpt-3.5-turbo counts with cl100k_base, whose tables load faster in debug
// builds than o200k's; the release logic does not care which model.
const PROMPT: &str = "---\nmodel: openai:gpt-3.5-turbo\nconfig:\n  max_tokens: 50\ninput:\n  schema: [who]\n  default:\n    who: world\n---\nsystem:\nYou greet people.\n\nuser:\nSay hello to {{ who }}.\n";

struct Fx {
    dir: tempfile::TempDir,
}

impl Fx {
    fn new() -> Fx {
        let fx = Fx {
            dir: tempfile::tempdir().unwrap(),
        };
        let repo = Repository::init(fx.path()).unwrap();
        let mut cfg = repo.config().unwrap();
        cfg.set_str("user.name", "Test Actor").unwrap();
        cfg.set_str("user.email", "actor@example.com").unwrap();
        fx.write("promptctl.toml", "[budget]\nmax_input_tokens = 100\n");
        fx.write("prompts/greet.prompt", PROMPT);
        fx.commit("v1");
        fx
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn write(&self, rel: &str, text: &str) {
        let p = self.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    fn git(&self) -> Repository {
        Repository::open(self.path()).unwrap()
    }

    fn commit(&self, msg: &str) -> git2::Oid {
        let repo = self.git();
        let mut idx = repo.index().unwrap();
        idx.add_all(["*"], git2::IndexAddOption::DEFAULT, None).unwrap();
        idx.write().unwrap();
        let tree = repo.find_tree(idx.write_tree().unwrap()).unwrap();
        let sig = Signature::now("Test Actor", "actor@example.com").unwrap();
        let parent = repo.head().ok().and_then(|h| h.peel_to_commit().ok());
        let parents: Vec<&git2::Commit> = parent.iter().collect();
        repo.commit(Some("HEAD"), &sig, &sig, msg, &tree, &parents).unwrap()
    }

    /// Change the prompt's wording and commit.
    fn edit(&self, words: &str) -> git2::Oid {
        self.write("prompts/greet.prompt", &PROMPT.replace("You greet people.", words));
        self.commit(words)
    }

    fn project(&self) -> Project {
        Project::open(self.path()).unwrap()
    }

    fn repo(&self) -> Repo {
        Repo::open(self.path()).unwrap()
    }

    fn plan(&self, canary: Option<u8>) -> crate::Result<Plan> {
        ops::plan_release(
            &self.project(),
            &self.repo(),
            &ReleaseRequest {
                name: "greet".into(),
                canary,
                ..Default::default()
            },
        )
    }

    fn release(&self, canary: Option<u8>) {
        let plan = self.plan(canary).unwrap();
        ops::apply(&self.repo(), &plan, None).unwrap();
    }

    fn state(&self) -> state::Releases {
        state::load(&self.git(), "greet").unwrap()
    }

    fn tag_names(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .git()
            .tag_names(Some("prompt/*"))
            .unwrap()
            .iter()
            .flatten()
            .flatten()
            .map(String::from)
            .collect();
        v.sort();
        v
    }
}

#[test]
fn content_hash_is_blake3_hex_of_the_bytes() {
    let h = crate::prompt::content_hash(b"abc");
    assert_eq!(h, "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85");
}

#[test]
fn full_life_cycle() {
    let fx = Fx::new();
    fx.release(None);
    let s = fx.state();
    assert_eq!(s.summary().stable, Some(1));
    assert_eq!(
        s.versions[&1].content_hash,
        crate::prompt::content_hash(PROMPT.as_bytes())
    );
    assert_eq!(s.versions[&1].gates.len(), 5);
    assert!(s.versions[&1].gates.iter().all(|g| g.passed));

    // v2 as a 10% canary.
    fx.edit("You greet people warmly.");
    fx.release(Some(10));
    let s = fx.state();
    assert_eq!(
        (s.summary().stable, s.summary().canary, s.summary().canary_weight),
        (Some(1), Some(2), Some(10))
    );
    let mut canaries = 0;
    for i in 0..2000 {
        let key = format!("user-{i}");
        let r1 = resolve(&s, &Request::Key(key.clone())).unwrap();
        let r2 = resolve(&s, &Request::Key(key)).unwrap();
        assert_eq!(r1, r2, "sticky");
        if r1.channel == Channel::Canary {
            assert_eq!(r1.version, 2);
            canaries += 1;
        } else {
            assert_eq!(r1.version, 1);
        }
    }
    assert!((150..=250).contains(&canaries), "{canaries} of 2000 in a 10% canary");
    let b = export::bundle(&fx.repo(), "openai:gpt-4o-mini").unwrap();
    assert_eq!(b.prompts["greet"].stable.version, 1);
    assert_eq!(b.prompts["greet"].canary.as_ref().unwrap().weight, 10);
    assert_eq!(b.prompts["greet"].canary.as_ref().unwrap().version.version, 2);

    // Promote: stable v2, canary cleared.
    let p = ops::plan_promote(&fx.repo(), "greet", Some("canary is fine".into())).unwrap();
    ops::apply(&fx.repo(), &p, None).unwrap();
    let s = fx.state();
    assert_eq!((s.summary().stable, s.summary().canary), (Some(2), None));
    assert!(s.canary.is_some(), "the canary tag stays, cleared");
    assert_eq!(s.canary.as_ref().unwrap().previous.version, Some(2));
    assert_eq!(s.stable.as_ref().unwrap().previous.version, Some(1));
    let b = export::bundle(&fx.repo(), "x:y").unwrap();
    assert_eq!(b.prompts["greet"].stable.version, 2);
    assert!(b.prompts["greet"].canary.is_none());

    // v3 to stable, then roll back to v2.
    fx.edit("You greet people briefly.");
    fx.release(None);
    assert_eq!(fx.state().summary().stable, Some(3));
    let p = ops::plan_rollback(&fx.repo(), "greet", None, "v3 is curt".into()).unwrap();
    assert_eq!(p.stable.to.version, Some(2));
    ops::apply(&fx.repo(), &p, None).unwrap();
    let s = fx.state();
    assert_eq!(s.summary().stable, Some(2));
    assert_eq!(
        export::bundle(&fx.repo(), "x:y").unwrap().prompts["greet"]
            .stable
            .version,
        2
    );

    // A second rollback goes further back, not forward to v3.
    let p = ops::plan_rollback(&fx.repo(), "greet", None, "again".into()).unwrap();
    assert_eq!(p.stable.to.version, Some(1));

    // History: every event, newest first, with reasons and actors.
    let h = history::history(&fx.git(), &s).unwrap();
    let actions: Vec<Action> = h.entries.iter().map(|e| e.event.as_ref().unwrap().action).collect();
    assert_eq!(
        actions,
        [
            Action::Rollback,
            Action::Release,
            Action::Promote,
            Action::Release,
            Action::Release
        ]
    );
    let first = h.entries[0].event.as_ref().unwrap();
    assert_eq!(first.reason.as_deref(), Some("v3 is curt"));
    assert_eq!(first.stamp.actor, "Test Actor <actor@example.com>");
    assert_eq!(h.entries[1].version.as_ref().unwrap().number, 3);
    assert_eq!(
        h.entries[2].event.as_ref().unwrap().reason.as_deref(),
        Some("canary is fine")
    );
    assert!(!h.stale);

    assert_eq!(
        fx.tag_names(),
        [
            "prompt/greet@canary",
            "prompt/greet@event/1",
            "prompt/greet@event/2",
            "prompt/greet@event/3",
            "prompt/greet@event/4",
            "prompt/greet@event/5",
            "prompt/greet@stable",
            "prompt/greet@v1",
            "prompt/greet@v2",
            "prompt/greet@v3",
        ]
    );
}

#[test]
fn a_losing_concurrent_release_fails_cleanly() {
    let fx = Fx::new();
    // Both plans read the same state: both want v1, event 1, a new stable.
    let a = fx.plan(None).unwrap();
    let b = fx.plan(None).unwrap();
    ops::apply(&fx.repo(), &a, None).unwrap();
    let before = fx.tag_names();
    let err = ops::apply(&fx.repo(), &b, None).unwrap_err();
    assert_eq!(err.kind, ErrorKind::External);
    assert!(err.message.contains("at the same time"), "{}", err.message);
    assert!(
        err.message.contains("prompt/greet@v1 already exists"),
        "{}",
        err.message
    );
    assert!(err.message.contains("nothing was changed"), "{}", err.message);
    assert_eq!(fx.tag_names(), before);
    assert_eq!(fx.state().events.len(), 1);
}

#[test]
fn a_channel_moved_under_a_plan_is_detected() {
    let fx = Fx::new();
    fx.release(None);
    fx.edit("You greet people warmly.");
    fx.release(Some(5));
    // Two operations planned from the same state: promote, and a weight change.
    let promote = ops::plan_promote(&fx.repo(), "greet", None).unwrap();
    let weight = ops::plan_canary_weight(&fx.repo(), "greet", 50, None).unwrap().unwrap();
    ops::apply(&fx.repo(), &weight, None).unwrap();
    let err = ops::apply(&fx.repo(), &promote, None).unwrap_err();
    assert!(err.message.contains("prompt/greet@canary moved"), "{}", err.message);
    assert_eq!(fx.state().summary().stable, Some(1));
}

#[test]
fn a_locked_ref_fails_without_changing_anything() {
    let fx = Fx::new();
    let plan = fx.plan(None).unwrap();
    let git = fx.git();
    let mut tx = git.transaction().unwrap();
    tx.lock_ref("refs/tags/prompt/greet@stable").unwrap();
    let err = ops::apply(&fx.repo(), &plan, None).unwrap_err();
    assert!(err.message.contains("locked by another process"), "{}", err.message);
    assert!(
        err.hints
            .iter()
            .any(|h| h.contains("refs/tags/prompt/greet@stable.lock")),
        "{:?}",
        err.hints
    );
    drop(tx);
    assert!(fx.tag_names().is_empty());
    ops::apply(&fx.repo(), &plan, None).unwrap();
}

#[test]
fn racing_threads_one_wins() {
    let fx = Fx::new();
    let path = fx.path().to_path_buf();
    let barrier = Arc::new(Barrier::new(2));
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let path = path.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let project = Project::open(&path).unwrap();
                let repo = Repo::open(&path).unwrap();
                let plan = ops::plan_release(
                    &project,
                    &repo,
                    &ReleaseRequest {
                        name: "greet".into(),
                        ..Default::default()
                    },
                )
                .unwrap();
                barrier.wait();
                ops::apply(&repo, &plan, None)
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "{results:?}");
    let s = fx.state();
    assert_eq!(s.versions.len(), 1);
    assert_eq!(s.events.len(), 1);
    assert_eq!(s.summary().stable, Some(1));
}

#[test]
fn refusals_are_input_errors() {
    let fx = Fx::new();
    let input = |r: crate::Result<Plan>| {
        let e = r.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Input, "{}", e.message);
        e.message
    };
    assert!(input(ops::plan_promote(&fx.repo(), "greet", None)).contains("no canary to promote"));
    assert!(input(ops::plan_rollback(&fx.repo(), "greet", None, "r".into())).contains("no stable version"));
    assert!(input(fx.plan(Some(10))).contains("no stable version yet"));
    assert!(input(fx.plan(Some(101))).contains("between 0 and 100"));
    fx.release(None);
    assert!(input(fx.plan(None)).contains("identical to the stable version v1"));
    assert!(input(ops::plan_rollback(&fx.repo(), "greet", None, "r".into())).contains("no earlier stable version"));
    assert!(input(ops::plan_rollback(&fx.repo(), "greet", Some(7), "r".into())).contains("no version v7"));
    assert!(input(ops::plan_rollback(&fx.repo(), "greet", Some(1), "r".into())).contains("already the stable"));
    let e = ops::plan_canary_weight(&fx.repo(), "greet", 10, None).unwrap_err();
    assert!(e.message.contains("has no canary"));

    // Uncommitted, then staged changes.
    fx.write(
        "prompts/greet.prompt",
        &PROMPT.replace("greet people", "welcome people"),
    );
    assert!(input(fx.plan(None)).contains("has uncommitted changes"));
    let git = fx.git();
    let mut idx = git.index().unwrap();
    idx.add_path(Path::new("prompts/greet.prompt")).unwrap();
    idx.write().unwrap();
    assert!(input(fx.plan(None)).contains("staged changes"));
    fx.commit("welcome");
    fx.plan(None).unwrap();

    // Same content as the canary.
    fx.release(Some(20));
    assert!(input(fx.plan(None)).contains("identical to the canary version v2"));
    assert_eq!(
        ops::plan_canary_weight(&fx.repo(), "greet", 20, None)
            .unwrap()
            .map(|p| p.event),
        None
    );
}

#[test]
fn tags_not_made_by_promptctl_are_refused() {
    let fx = Fx::new();
    let git = fx.git();
    let head = git.head().unwrap().peel_to_commit().unwrap();
    let sig = Signature::now("Someone", "s@example.com").unwrap();
    git.tag_lightweight("prompt/greet@v1", head.as_object(), false).unwrap();
    let e = state::load(&git, "greet").unwrap_err();
    assert_eq!(e.kind, ErrorKind::Input);
    assert!(
        e.message
            .contains("prompt/greet@v1 exists but was not made by promptctl"),
        "{}",
        e.message
    );
    assert!(e.message.contains("lightweight"));
    assert!(e.hints[0].contains("git tag -d prompt/greet@v1"));
    git.tag_delete("prompt/greet@v1").unwrap();
    git.tag("prompt/greet@stable", head.as_object(), &sig, "my own stable\n", false)
        .unwrap();
    let e = fx.plan(None).unwrap_err();
    assert!(e.message.contains("no Promptctl trailer"), "{}", e.message);
    // Tags outside the scheme are ignored.
    git.tag_delete("prompt/greet@stable").unwrap();
    git.tag("prompt/greet@latest", head.as_object(), &sig, "x\n", false)
        .unwrap();
    git.tag("v1.0.0", head.as_object(), &sig, "x\n", false).unwrap();
    fx.release(None);
}

#[test]
fn failed_gates_block_unless_forced_with_a_reason() {
    let fx = Fx::new();
    fx.write("promptctl.toml", "[budget]\nmax_input_tokens = 5\n");
    fx.commit("tight budget");
    let plan = fx.plan(None).unwrap();
    assert!(plan.blocked);
    let budget = plan.gates.as_ref().unwrap().failed().next().unwrap().clone();
    assert_eq!(budget.name, "check");
    assert!(budget.summary.contains("budget/input-tokens"), "{}", budget.summary);
    let e = ops::apply(&fx.repo(), &plan, None).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Gate);
    assert!(fx.tag_names().is_empty());

    let req = |reason: Option<&str>| ReleaseRequest {
        name: "greet".into(),
        force: true,
        reason: reason.map(String::from),
        ..Default::default()
    };
    let e = ops::plan_release(&fx.project(), &fx.repo(), &req(None)).unwrap_err();
    assert!(e.message.contains("--force needs --reason"));
    let plan = ops::plan_release(&fx.project(), &fx.repo(), &req(Some("hotfix, budget fixed next"))).unwrap();
    assert!(!plan.blocked);
    ops::apply(&fx.repo(), &plan, None).unwrap();
    let v = fx.state().versions[&1].clone();
    assert_eq!(v.overrides.len(), 1);
    assert!(
        v.overrides[0].starts_with("check FAILED: budget/input-tokens"),
        "{}",
        v.overrides[0]
    );
    assert_eq!(v.reason.as_deref(), Some("hotfix, budget fixed next"));
    let h = history::history(&fx.git(), &fx.state()).unwrap();
    assert_eq!(h.entries[0].event.as_ref().unwrap().overrides.len(), 1);
}

#[test]
fn unknown_model_fails_the_model_gate() {
    let fx = Fx::new();
    fx.write(
        "prompts/greet.prompt",
        &PROMPT.replace("openai:gpt-3.5-turbo", "openai:gpt-nonexistent"),
    );
    fx.commit("bad model");
    let plan = fx.plan(None).unwrap();
    let failed: Vec<&str> = plan.gates.as_ref().unwrap().failed().map(|g| g.name.as_str()).collect();
    assert_eq!(failed, ["model", "check"]);
}

#[test]
fn eval_notes_show_in_history_and_in_the_release_tag() {
    let fx = Fx::new();
    let git = fx.git();
    let head = git.head().unwrap().peel_to_commit().unwrap().id();
    let hash = crate::prompt::content_hash(PROMPT.as_bytes());
    let note = format!(
        r#"{{"schema":1,"prompts":{{"greet":{{"content_hash":"{hash}","runs":[{{"run_id":"r1","date":"2026-01-01T00:00:00Z","provider":"replay","pass_rate":0.95,"cases":20,"mean_input_tokens":123.0,"mean_output_tokens":80.0,"cost_per_call_usd":0.0001,"latency_p50_ms":300,"latency_p95_ms":900}}]}},"other":{{"runs":[]}}}}}}"#
    );
    let sig = Signature::now("Eval", "eval@example.com").unwrap();
    git.note(&sig, &sig, Some(notes::NOTES_REF), head, &note, false)
        .unwrap();
    fx.release(None);
    let s = fx.state();
    let eval = s.versions[&1].eval.clone().unwrap();
    assert!(eval.contains("95.0% of 20 cases pass"), "{eval}");
    let h = history::history(&git, &s).unwrap();
    assert!(h.notes_present);
    let runs = &h.entries[0].eval_runs;
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].pass_rate, Some(0.95));
    assert_eq!(runs[0].latency_p95_ms, Some(900.0));
}

#[test]
fn status_reports_token_delta_against_stable() {
    let fx = Fx::new();
    fx.release(None);
    let st = status::status(&fx.project(), &fx.repo(), None).unwrap();
    assert_eq!(st[0].working_tree, status::WorkingTree::Unchanged);
    fx.write(
        "prompts/greet.prompt",
        &PROMPT.replace("You greet people.", "You greet people with one short, warm sentence."),
    );
    let st = status::status(&fx.project(), &fx.repo(), Some("greet")).unwrap();
    match &st[0].working_tree {
        status::WorkingTree::Modified {
            uncommitted,
            delta_tokens,
            stable_input_tokens,
            input_tokens,
            exact,
            ..
        } => {
            assert!(uncommitted);
            assert!(*exact);
            assert_eq!(
                *delta_tokens,
                Some(input_tokens.unwrap() as i64 - stable_input_tokens.unwrap() as i64)
            );
            assert!(delta_tokens.unwrap() > 0);
        }
        other => panic!("{other:?}"),
    }
    std::fs::remove_file(fx.path().join("prompts/greet.prompt")).unwrap();
    let st = status::status(&fx.project(), &fx.repo(), None).unwrap();
    assert_eq!(st[0].working_tree, status::WorkingTree::Deleted);
}

#[test]
fn stale_channel_tags_are_detected() {
    let fx = Fx::new();
    fx.release(None);
    fx.edit("You greet people warmly.");
    fx.release(None);
    // Put stable back to its event-1 annotation, as a fetch without --force leaves it.
    let git = fx.git();
    let s = fx.state();
    assert!(!s.stale_channels());
    let h1 = history::history(&git, &s).unwrap();
    assert!(!h1.stale);
    let old_stable = {
        let e1 = git.revparse_single("refs/tags/prompt/greet@event/1").unwrap();
        let c = e1.peel_to_commit().unwrap();
        let sig = Signature::now("x", "x@example.com").unwrap();
        let msg = "greet stable → v1 (was none)\n\nPromptctl: 1\nPrompt: greet\nChannel: stable\nVersion: v1\nPrevious: none\nAction: release\nEvent: 1\n";
        git.tag_annotation_create("prompt/greet@stable", c.as_object(), &sig, msg)
            .unwrap()
    };
    git.reference(
        "refs/tags/prompt/greet@stable",
        old_stable,
        true,
        "simulate stale fetch",
    )
    .unwrap();
    assert!(fx.state().stale_channels());
}

#[test]
fn export_is_deterministic() {
    let fx = Fx::new();
    fx.release(None);
    let a = export::to_json(&export::bundle(&fx.repo(), "x:y").unwrap()).unwrap();
    let b = export::to_json(&export::bundle(&fx.repo(), "x:y").unwrap()).unwrap();
    assert_eq!(a, b);
    let v: serde_json::Value = serde_json::from_str(&a).unwrap();
    assert_eq!(
        v["prompts"]["greet"]["stable"]["messages"][1]["template"],
        "Say hello to {{ who }}."
    );
    assert_eq!(v["prompts"]["greet"]["stable"]["source"], PROMPT);
    assert_eq!(v["bucketing"]["example"]["bucket"], 83);
}
