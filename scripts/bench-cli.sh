#!/usr/bin/env bash
# Whole-process wall time of the foundation commands (hyperfine).
#
#   bash scripts/bench-cli.sh
#
# Builds the release binary, generates a 1,000-prompt repository, and times
# `tokens NAME` on the example repository and `list` on the generated one,
# warm (token-count cache from the warm-up runs) and cold (`.promptctl/`
# removed before every run, as in a fresh CI checkout).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v hyperfine >/dev/null || { apt-get install -y hyperfine >/dev/null 2>&1 || { echo "install hyperfine"; exit 1; }; }
cargo build --release --quiet
bin="$PWD/target/release/promptctl"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 scripts/gen-repo.py "$tmp/repo" --prompts 1000 --suites
mkdir -p "$tmp/example"
cp -r prompts evals promptctl.toml "$tmp/example/"

hyperfine -N --warmup 3 --runs 30 \
  -n "tokens support/triage (warm)" "$bin -C $tmp/example tokens support/triage" \
  -n "render support/triage (no counting)" "$bin -C $tmp/example render support/triage --var ticket=x"
hyperfine -N --runs 20 --prepare "rm -rf $tmp/example/.promptctl" \
  -n "tokens support/triage (cold)" "$bin -C $tmp/example tokens support/triage"
hyperfine -N --warmup 2 --runs 15 \
  -n "list (1,000 prompts, 100 suites, warm)" "$bin -C $tmp/repo list"
hyperfine -N --runs 10 --prepare "rm -rf $tmp/repo/.promptctl" \
  -n "list (1,000 prompts, 100 suites, cold)" "$bin -C $tmp/repo list"
