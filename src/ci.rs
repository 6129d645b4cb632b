//! CI workflows that `promptctl init --ci` writes. Pure text generation: the
//! caller decides where the file goes and whether it may overwrite one.

use std::path::{Path, PathBuf};

/// Where the workflow lives, relative to the repository root.
pub const GITHUB_WORKFLOW_PATH: &str = ".github/workflows/promptctl.yml";

/// What the generated workflow needs to know about the project.
#[derive(Debug, Clone)]
pub struct WorkflowSpec {
    /// The promptctl version to install (the one writing the file).
    pub version: String,
    /// The project's directory inside the repository ("" at the top).
    pub prefix: PathBuf,
    pub prompts_dir: PathBuf,
    pub evals_dir: PathBuf,
}

impl WorkflowSpec {
    pub fn new(prefix: &Path, prompts_dir: &Path, evals_dir: &Path) -> WorkflowSpec {
        WorkflowSpec {
            version: env!("CARGO_PKG_VERSION").to_string(),
            prefix: prefix.to_path_buf(),
            prompts_dir: prompts_dir.to_path_buf(),
            evals_dir: evals_dir.to_path_buf(),
        }
    }
}

/// A YAML double-quoted scalar.
fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

fn repo_path(spec: &WorkflowSpec, rel: &Path) -> String {
    spec.prefix.join(rel).to_string_lossy().replace('\\', "/")
}

/// The GitHub Actions workflow: on pull requests that touch prompts, evals
/// or promptctl.toml, check budgets and lint against the PR's base branch,
/// then run the offline evals. Either gate failing fails the job.
pub fn github_workflow(spec: &WorkflowSpec) -> String {
    let paths = [
        format!("{}/**", repo_path(spec, &spec.prompts_dir)),
        format!("{}/**", repo_path(spec, &spec.evals_dir)),
        repo_path(spec, Path::new(crate::config::FILE_NAME)),
        GITHUB_WORKFLOW_PATH.to_string(),
    ];
    let paths: String = paths.iter().map(|p| format!("      - {}\n", quoted(p))).collect();
    let defaults = if spec.prefix.as_os_str().is_empty() {
        String::new()
    } else {
        format!(
            "    defaults:\n      run:\n        working-directory: {}\n",
            quoted(&spec.prefix.to_string_lossy().replace('\\', "/"))
        )
    };
    format!(
        r#"# The prompt gate, written by `promptctl init --ci github`.
#
# On every pull request that touches prompts, eval suites or promptctl.toml:
# checks budgets and lint against the PR's base branch (findings appear as
# annotations on the diff and in the job summary), then runs the eval suites
# offline. A failed budget, lint error or eval gate fails the job.
name: promptctl

on:
  pull_request:
    paths:
{paths}
permissions:
  contents: read

concurrency:
  group: promptctl-${{{{ github.ref }}}}
  cancel-in-progress: true

env:
  # The promptctl release this workflow installs; bump it to upgrade.
  PROMPTCTL_VERSION: {version}

jobs:
  gate:
    name: Prompt budgets and evals
    runs-on: ubuntu-latest
    timeout-minutes: 30
{defaults}    steps:
      - uses: actions/checkout@v4
        with:
          # Full history: `check --base` reads the prompts at the base branch.
          fetch-depth: 0

      - name: Cache promptctl
        id: cache-promptctl
        uses: actions/cache@v4
        with:
          path: ~/.cargo/bin/promptctl
          key: promptctl-${{{{ runner.os }}}}-${{{{ env.PROMPTCTL_VERSION }}}}

      - name: Install promptctl
        if: steps.cache-promptctl.outputs.cache-hit != 'true'
        run: cargo install --locked promptctl --version "$PROMPTCTL_VERSION"

      # Token counts and the suite index are facts about file contents, so
      # they are safe to carry from run to run; the latest one is restored.
      - name: Cache token counts
        uses: actions/cache@v4
        with:
          path: |
            {counts}
            {suites}
          key: promptctl-counts-${{{{ runner.os }}}}-${{{{ github.sha }}}}
          restore-keys: promptctl-counts-${{{{ runner.os }}}}-

      - name: Check budgets and lint
        env:
          BASE_REF: ${{{{ github.base_ref }}}}
        run: promptctl check --base "origin/$BASE_REF" --format github

      # Offline evals: recorded responses and offline providers, no API keys.
      # ADJUST HERE if your suites need other eval flags.
      - name: Run offline evals
        id: evals
        if: ${{{{ !cancelled() }}}}
        run: promptctl eval --offline --format junit > promptctl-evals.xml

      - name: Upload eval results
        if: ${{{{ !cancelled() && steps.evals.outcome != 'skipped' }}}}
        uses: actions/upload-artifact@v4
        with:
          name: promptctl-evals
          path: {junit}
          if-no-files-found: ignore
"#,
        version = quoted(&spec.version),
        junit = quoted(&repo_path(spec, Path::new("promptctl-evals.xml"))),
        counts = repo_path(spec, Path::new(".promptctl/cache/token-counts")),
        suites = repo_path(spec, Path::new(".promptctl/cache/suite-prompts")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn parse(yaml: &str) -> Value {
        serde_saphyr::from_str::<Value>(yaml).expect("the workflow is valid YAML")
    }

    fn steps(wf: &Value) -> &Vec<Value> {
        wf["jobs"]["gate"]["steps"].as_array().expect("steps")
    }

    fn step<'a>(wf: &'a Value, name: &str) -> &'a Value {
        steps(wf)
            .iter()
            .find(|s| s["name"] == name)
            .unwrap_or_else(|| panic!("no step {name}"))
    }

    #[test]
    fn workflow_runs_on_pull_requests_touching_prompts() {
        let wf = parse(&github_workflow(&WorkflowSpec::new(
            Path::new(""),
            Path::new("prompts"),
            Path::new("evals"),
        )));
        let paths: Vec<&str> = wf["on"]["pull_request"]["paths"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(
            paths,
            [
                "prompts/**",
                "evals/**",
                "promptctl.toml",
                ".github/workflows/promptctl.yml"
            ]
        );
        assert_eq!(wf["permissions"]["contents"], "read");
        assert!(wf["jobs"]["gate"].get("defaults").is_none());
    }

    #[test]
    fn workflow_checks_out_full_history_and_runs_the_gates() {
        let wf = parse(&github_workflow(&WorkflowSpec::new(
            Path::new(""),
            Path::new("prompts"),
            Path::new("evals"),
        )));
        let first = &steps(&wf)[0];
        assert_eq!(first["uses"], "actions/checkout@v4");
        assert_eq!(first["with"]["fetch-depth"], 0);
        // Every action is pinned to a released major version.
        for s in steps(&wf) {
            if let Some(uses) = s["uses"].as_str() {
                let (_, version) = uses.split_once('@').expect("pinned");
                assert!(
                    version.starts_with('v') && version[1..].parse::<u32>().is_ok(),
                    "{uses}"
                );
            }
        }
        let install = step(&wf, "Install promptctl");
        assert!(
            install["run"]
                .as_str()
                .unwrap()
                .starts_with("cargo install --locked promptctl --version")
        );
        assert_eq!(wf["env"]["PROMPTCTL_VERSION"], env!("CARGO_PKG_VERSION"));
        let check = step(&wf, "Check budgets and lint");
        assert_eq!(
            check["run"],
            "promptctl check --base \"origin/$BASE_REF\" --format github"
        );
        assert_eq!(check["env"]["BASE_REF"], "${{ github.base_ref }}");
        let evals = step(&wf, "Run offline evals");
        assert!(evals["run"].as_str().unwrap().starts_with("promptctl eval --offline"));
        // Check runs before evals; the evals still run when check failed.
        let names: Vec<&str> = steps(&wf).iter().filter_map(|s| s["name"].as_str()).collect();
        let pos = |n: &str| names.iter().position(|x| *x == n).unwrap();
        assert!(pos("Install promptctl") < pos("Check budgets and lint"));
        // The count caches (not the response cache) carry over between runs.
        let cache = step(&wf, "Cache token counts");
        assert_eq!(
            cache["with"]["path"],
            ".promptctl/cache/token-counts\n.promptctl/cache/suite-prompts\n"
        );
        assert!(pos("Cache token counts") < pos("Check budgets and lint"));
        assert!(pos("Check budgets and lint") < pos("Run offline evals"));
        assert_eq!(evals["if"], "${{ !cancelled() }}");
        assert!(check.get("continue-on-error").is_none());
    }

    #[test]
    fn workflow_for_a_project_in_a_subdirectory() {
        let wf = parse(&github_workflow(&WorkflowSpec::new(
            Path::new("services/chat"),
            Path::new("llm/prompts"),
            Path::new("evals"),
        )));
        assert_eq!(wf["on"]["pull_request"]["paths"][0], "services/chat/llm/prompts/**");
        assert_eq!(wf["on"]["pull_request"]["paths"][2], "services/chat/promptctl.toml");
        assert_eq!(
            wf["jobs"]["gate"]["defaults"]["run"]["working-directory"],
            "services/chat"
        );
        // Cache paths are repository paths (a `uses` step ignores the
        // working directory).
        let cache = step(&wf, "Cache token counts");
        assert_eq!(
            cache["with"]["path"],
            "services/chat/.promptctl/cache/token-counts\nservices/chat/.promptctl/cache/suite-prompts\n"
        );
    }
}
