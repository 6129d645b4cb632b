//! init, list, tokens, render, completions, and the errors every command shares.

use crate::env::*;

fn settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path("snapshots");
    s.set_prepend_module_to_snapshot(false);
    s
}

#[test]
fn list_shows_every_example_prompt() {
    let env = TestEnv::with_example();
    let out = env.run(&["list"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    settings().bind(|| insta::assert_snapshot!("list_example", stdout(&out)));
}

#[test]
fn list_json_is_parseable_and_marks_estimates() {
    let env = TestEnv::with_example();
    let out = env.run(&["list", "--format", "json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let v = json(&out);
    assert_eq!(v["catalog_date"].as_str().unwrap().len(), 10);
    let prompts = v["prompts"].as_array().unwrap();
    assert_eq!(prompts.len(), 4);
    for p in prompts {
        let exact = p["exact"].as_bool().unwrap();
        let model = p["model"].as_str().unwrap();
        assert_eq!(exact, model.starts_with("openai:"), "{model}");
        let total = p["max_input_tokens"].as_u64().unwrap();
        let msgs: u64 = p["worst"]["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["total"].as_u64().unwrap())
            .sum();
        assert_eq!(total, msgs + 3, "message totals plus reply priming");
        let cap = p["output_cap"].as_u64().unwrap();
        let cost = p["cost"]["per_call_max_usd"].as_f64().unwrap();
        assert!(cost > 0.0 && cap > 0);
    }
}

#[test]
fn tokens_shows_messages_and_cost() {
    let env = TestEnv::with_example();
    let out = env.run(&["tokens", "support/chat"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    settings().bind(|| insta::assert_snapshot!("tokens_chat", stdout(&out)));
}

#[test]
fn tokens_marks_estimates_with_approx_sign() {
    let env = TestEnv::with_example();
    let out = env.run(&["tokens", "content/summarize"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("estimate"), "{text}");
    assert!(text.contains('≈'), "{text}");
    let out = env.run(&["tokens", "--all", "--format", "json"]);
    let v = json(&out);
    let summarize = v["prompts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["prompt"] == "content/summarize")
        .unwrap();
    assert_eq!(summarize["exact"], false);
}

#[test]
fn tokens_of_bare_template_says_so() {
    let env = TestEnv::new();
    env.write(
        "prompts/a.prompt",
        "---\nconfig: {max_tokens: 10}\n---\nuser:\nHello {{ who }}\n",
    );
    let out = env.run(&["tokens", "a"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stdout(&out).contains("bare template (no sample variables)"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn render_prints_messages() {
    let env = TestEnv::with_example();
    let out = env.run(&["render", "support/triage", "--var", "ticket=My invoice is wrong"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    settings().bind(|| insta::assert_snapshot!("render_triage", stdout(&out)));
}

#[test]
fn render_json_is_the_request() {
    let env = TestEnv::with_example();
    env.write(
        "vars.yaml",
        "ticket: \"{{ not a template }}\"\ncustomer_tier: enterprise\n",
    );
    let out = env.run(&["render", "support/triage", "--vars", "vars.yaml", "--format", "json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let v = json(&out);
    assert_eq!(v["model"], "openai:gpt-4o-mini");
    assert_eq!(v["config"]["max_tokens"], 200);
    let msgs = v["messages"].as_array().unwrap();
    assert_eq!(msgs[0]["role"], "system");
    assert_eq!(msgs[1]["role"], "user");
    let user = msgs[1]["content"].as_str().unwrap();
    assert!(user.contains("Customer tier: enterprise"), "{user}");
    assert!(user.contains("{{ not a template }}"), "{user}");
}

#[test]
fn render_missing_variable_is_exit_2_with_line() {
    let env = TestEnv::with_example();
    let out = env.run(&["render", "support/triage"]);
    assert_eq!(code(&out), 2);
    let err = stderr(&out);
    assert!(
        err.contains("error: prompts/support/triage.prompt:44: missing variable 'ticket' for prompt 'support/triage'"),
        "{err}"
    );
    assert!(err.contains("hint: pass it with --var ticket="), "{err}");
    assert!(stdout(&out).is_empty());
}

#[test]
fn render_bad_var_syntax_and_bad_vars_file() {
    let env = TestEnv::with_example();
    let out = env.run(&["render", "support/triage", "--var", "ticket"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("not of the form NAME=VALUE"));
    env.write("v.yaml", "ticket: [unclosed\n");
    let out = env.run(&["render", "support/triage", "--vars", "v.yaml"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("error: v.yaml:"), "{}", stderr(&out));
}

#[test]
fn render_at_a_revision_reads_git_not_the_disk() {
    let env = TestEnv::with_example();
    env.git_init();
    env.commit_all("prompts");
    let path = "prompts/support/triage.prompt";
    let changed = env.read(path).replace("Ticket:\n", "Customer ticket:\n");
    env.write(path, &changed);
    let now = env.run(&["render", "support/triage", "--var", "ticket=x"]);
    let then = env.run(&["render", "support/triage", "--var", "ticket=x", "--rev", "HEAD"]);
    assert!(stdout(&now).contains("Customer ticket:"));
    assert!(!stdout(&then).contains("Customer ticket:"));
    assert!(stdout(&then).contains("Ticket:"));
}

#[test]
fn bad_revision_and_not_a_repository() {
    let env = TestEnv::with_example();
    let out = env.run(&["list", "--rev", "HEAD"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("not a git repository"), "{}", stderr(&out));
    // Commands that need no git work outside a repository.
    assert_eq!(code(&env.run(&["list"])), 0);

    env.git_init();
    let out = env.run(&["list", "--rev", "HEAD"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("no commits yet"), "{}", stderr(&out));
    env.commit_all("init");
    let out = env.run(&["render", "support/triage", "--rev", "nope~3", "--var", "ticket=x"]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("error: unknown revision 'nope~3'"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn unknown_prompt_suggests_names() {
    let env = TestEnv::with_example();
    let out = env.run(&["tokens", "support/triag"]);
    assert_eq!(code(&out), 2);
    let err = stderr(&out);
    assert!(err.contains("no prompt named 'support/triag'"), "{err}");
    assert!(err.contains("hint: did you mean 'support/triage'?"), "{err}");
}

#[test]
fn unknown_model_is_exit_2_with_suggestion() {
    let env = TestEnv::new();
    env.write("prompts/a.prompt", "---\nmodel: openai:gpt-4o-mni\n---\nhi\n");
    let out = env.run(&["list"]);
    assert_eq!(code(&out), 2);
    let err = stderr(&out);
    assert!(
        err.contains("error: prompts/a.prompt:2: unknown model 'openai:gpt-4o-mni'"),
        "{err}"
    );
    assert!(err.contains("hint: did you mean 'openai:gpt-4o-mini'?"), "{err}");
}

#[test]
fn model_from_config_override_is_known() {
    let env = TestEnv::new();
    env.write(
        "promptctl.toml",
        "[models.\"vllm:qwen\"]\ncontext_window = 32768\nmax_output_tokens = 4096\ninput = 0\noutput = 0\n",
    );
    env.write(
        "prompts/a.prompt",
        "---\nmodel: vllm:qwen\nconfig: {max_tokens: 5}\n---\nhi\n",
    );
    let out = env.run(&["list", "--format", "json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(json(&out)["prompts"][0]["exact"], false);
}

#[test]
fn name_collision_is_an_error() {
    let env = TestEnv::new();
    env.write("prompts/a.prompt", "hi\n");
    env.write("prompts/A.prompt", "hi\n");
    let out = env.run(&["list"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("prompt name collision"), "{}", stderr(&out));
}

#[test]
fn malformed_config_names_file_and_line() {
    let env = TestEnv::with_example();
    env.write(
        "promptctl.toml",
        "[project]\ndefault_model = \"openai:gpt-4o\"\nprompts_dri = \"p\"\n",
    );
    let out = env.run(&["list"]);
    assert_eq!(code(&out), 2);
    let err = stderr(&out);
    assert!(err.contains("error: promptctl.toml:3:"), "{err}");
    assert!(err.contains("hint: did you mean 'prompts_dir'?"), "{err}");
}

#[test]
fn malformed_prompt_fails_list_with_location() {
    let env = TestEnv::with_example();
    env.write("prompts/bad.prompt", "---\nconfig:\n  max_token: 3\n---\nhi\n");
    let out = env.run(&["list"]);
    assert_eq!(code(&out), 2);
    let err = stderr(&out);
    assert!(err.contains("error: prompts/bad.prompt:3:"), "{err}");
    assert!(err.contains("hint: did you mean 'max_tokens'?"), "{err}");
}

#[test]
fn unsupported_format_is_exit_2() {
    let env = TestEnv::with_example();
    let out = env.run(&["list", "--format", "junit"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("`list` has no junit output"), "{}", stderr(&out));
}

#[test]
fn init_scaffolds_and_refuses_to_overwrite() {
    let env = TestEnv::new();
    let out = env.run(&["init"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    for f in ["promptctl.toml", "prompts/example.prompt", "evals/example.yaml"] {
        assert!(env.path().join(f).is_file(), "{f}");
    }
    assert!(env.read(".gitignore").contains(".promptctl/"));
    // The scaffold is a working project.
    let out = env.run(&["tokens", "example"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));

    env.write("promptctl.toml", "# mine\n");
    let out = env.run(&["init"]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("refusing to overwrite promptctl.toml"),
        "{}",
        stderr(&out)
    );
    assert_eq!(env.read("promptctl.toml"), "# mine\n", "nothing was written");

    let out = env.run(&["init", "--force"]);
    assert_eq!(code(&out), 0);
    assert_ne!(env.read("promptctl.toml"), "# mine\n");
    assert_eq!(env.read(".gitignore").matches(".promptctl/").count(), 1);
}

#[test]
fn completions_are_generated() {
    let env = TestEnv::new();
    let out = env.run(&["completions", "bash"]);
    assert_eq!(code(&out), 0);
    assert!(stdout(&out).contains("promptctl"));
    assert!(stdout(&out).contains("tokens"));
}

#[test]
fn dash_c_runs_elsewhere() {
    let env = TestEnv::with_example();
    let out = env
        .cmd()
        .current_dir("/")
        .args(["-C", env.path().to_str().unwrap(), "list"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stdout(&out).contains("support/triage"));
}

#[test]
fn token_count_cache_is_reused_and_a_bad_cache_is_ignored() {
    let env = TestEnv::with_example();
    let first = env.run(&["tokens", "--all", "--format", "json"]);
    assert_eq!(code(&first), 0, "{}", stderr(&first));
    let cache = env.read(".promptctl/cache/token-counts");
    assert!(cache.starts_with("promptctl token-count cache v1"), "{cache}");
    assert!(cache.lines().count() > 5);
    let second = env.run(&["tokens", "--all", "--format", "json"]);
    assert_eq!(stdout(&first), stdout(&second));
    env.write(".promptctl/cache/token-counts", "something else\n0\tzz\t1\n");
    let third = env.run(&["tokens", "--all", "--format", "json"]);
    assert_eq!(stdout(&first), stdout(&third));
    assert!(
        env.read(".promptctl/cache/token-counts")
            .starts_with("promptctl token-count cache v1")
    );
}

#[test]
fn help_lists_every_subcommand_with_its_summary_though_only_the_one_run_is_built() {
    let env = TestEnv::new();
    for args in [&["--help"][..], &["help"][..]] {
        let out = env.run(args);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        let help = stdout(&out);
        assert!(
            help.contains("Show the token-aware diff of prompts between revisions"),
            "{help}"
        );
        assert!(help.contains("Check prompts against their budgets"), "{help}");
    }
    let out = env.run(&["diff", "--help"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stdout(&out).contains("[BASE] [HEAD]"), "{}", stdout(&out));
    let out = env.run(&["--version"]);
    assert_eq!(stdout(&out), format!("promptctl {}\n", env!("CARGO_PKG_VERSION")));
    // Usage errors: exit 2 with clap's message and suggestion.
    let out = env.run(&["dif"]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("a similar subcommand exists: 'diff'"),
        "{}",
        stderr(&out)
    );
    let out = env.run(&["diff", "--bogus"]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("unexpected argument '--bogus'"),
        "{}",
        stderr(&out)
    );
}

/// build.rs links the binary at a fixed address on Linux/glibc (no start-up
/// relocation of `.data.rel.ro`; BENCHMARKS.md, "diff"), unless the build
/// asked for PIE.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[test]
fn the_binary_is_linked_at_a_fixed_address_unless_pie_was_asked_for() {
    let bin = std::fs::read(assert_cmd::cargo::cargo_bin("promptctl")).unwrap();
    assert_eq!(&bin[..4], b"\x7fELF");
    // e_type: 2 = ET_EXEC (fixed address), 3 = ET_DYN (PIE).
    let e_type = u16::from_le_bytes([bin[16], bin[17]]);
    let pie_asked = option_env!("PROMPTCTL_PIE").is_some_and(|v| !v.is_empty() && v != "0");
    assert_eq!(e_type, if pie_asked { 3 } else { 2 });
}
