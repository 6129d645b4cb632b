#!/usr/bin/env bash
# Whole-process wall time of the foundation commands (hyperfine).
#
#   bash scripts/bench-cli.sh
#
# Builds the release binary, generates a 1,000-prompt repository, and times
# `tokens NAME` on the example repository and `list` on the generated one.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v hyperfine >/dev/null || { apt-get install -y hyperfine >/dev/null 2>&1 || { echo "install hyperfine"; exit 1; }; }
cargo build --release --quiet
bin="$PWD/target/release/promptctl"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 scripts/gen-repo.py "$tmp/repo" --prompts 1000 --suites

hyperfine -N --warmup 3 --runs 30 \
  -n "tokens support/triage (example repo)" "$bin tokens support/triage" \
  -n "render support/triage (no counting)" "$bin render support/triage --var ticket=x"
hyperfine -N --warmup 2 --runs 15 \
  -n "list (1,000 prompts, 100 suites)" "$bin -C $tmp/repo list"
