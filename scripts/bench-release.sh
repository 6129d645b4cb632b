#!/usr/bin/env bash
# Benchmark the release commands on a synthetic repository.
#
#   scripts/bench-release.sh [PROMPTCTL] [PROMPTS] [VERSIONS]
#
# Builds a repository with PROMPTS prompts (default 20), each released
# VERSIONS times (default 10) through promptctl itself, with a 10% canary on
# the last version, then times status/history/resolve/export/release (dry run)
# with hyperfine. Needs git and hyperfine.
set -euo pipefail

BIN=${1:-target/release/promptctl}
BIN=$(realpath "$BIN")
N=${2:-20}
V=${3:-10}
DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT

export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1
export GIT_AUTHOR_NAME=Bench GIT_AUTHOR_EMAIL=bench@example.com
export GIT_COMMITTER_NAME=Bench GIT_COMMITTER_EMAIL=bench@example.com

cd "$DIR"
git init -q -b main
mkdir -p prompts/bench evals/bench
printf '[budget]\nmax_input_tokens = 4000\n' > promptctl.toml
prompt() { # name, revision
  cat > "prompts/bench/$1.prompt" <<P
---
model: openai:gpt-4o-mini
config:
  max_tokens: 200
input:
  schema: [ticket]
---
system:
You triage support tickets (revision $2). Answer with JSON only:
category, priority and a one-line summary.

user:
{{ ticket }}
P
  cat > "evals/bench/$1.yaml" <<S
prompt: bench/$1
cases:
  - vars: { ticket: I was charged twice }
  - vars: { ticket: The app crashes on login }
S
}
for i in $(seq -w 1 "$N"); do prompt "p$i" 1; done
git add -A && git commit -qm init

start=$(date +%s)
for v in $(seq 1 "$V"); do
  if [ "$v" -gt 1 ]; then
    for i in $(seq -w 1 "$N"); do prompt "p$i" "$v"; done
    git commit -qam "revision $v"
  fi
  for i in $(seq -w 1 "$N"); do
    if [ "$v" -eq "$V" ]; then
      "$BIN" -q release "bench/p$i" --canary 10 --execute >/dev/null
    else
      "$BIN" -q release "bench/p$i" --execute >/dev/null
    fi
  done
done
end=$(date +%s)
tags=$(git tag -l 'prompt/*' | wc -l)
echo "setup: $N prompts x $V versions = $tags tags in $((end - start)) s ($((N * V)) release --execute runs)"

# One unreleased, committed change: status measures it against stable and
# release (dry run) has something to plan.
sed -i 's/You triage/You carefully triage/' prompts/bench/p01.prompt
git commit -qam "unreleased change"

hyperfine --warmup 3 --shell=none --export-markdown "$DIR/bench.md" \
  "$BIN status" \
  "$BIN history bench/p07" \
  "$BIN resolve bench/p07 --key user-42" \
  "$BIN export" \
  "$BIN release bench/p01"
cat "$DIR/bench.md"
