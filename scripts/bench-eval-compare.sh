#!/bin/sh
# Benchmark `promptctl eval --base` and `--estimate` on a copy of the example
# repository (echo provider and recordings: no network).
# Usage: scripts/bench-eval-compare.sh [path/to/promptctl]
set -eu
P=${1:-target/release/promptctl}
P=$(cd "$(dirname "$P")" && pwd)/$(basename "$P")
D=$(mktemp -d)
trap 'rm -rf "$D"' EXIT
cp -r prompts evals promptctl.toml "$D"/
cd "$D"
git init -q -b main
git add -A
git -c user.name=bench -c user.email=bench@example.com commit -qm base
sed -i 's/^{{ text }}$/Text to summarise for the release-notes widget:\n{{ text }}/' prompts/content/summarize.prompt
hyperfine -N --warmup 2 --runs 10 -i \
  "$P eval --base HEAD --provider echo" \
  "$P eval --estimate --offline"
