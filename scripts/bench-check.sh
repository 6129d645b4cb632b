#!/usr/bin/env bash
# Benchmark `promptctl check` on generated 1,000-prompt repositories.
#
#   bash scripts/bench-check.sh [N_PROMPTS]      (default 1000)
#
# Measures whole-process wall time with hyperfine on two repositories:
# 1. the shared benchmark repository (scripts/gen-repo.py --suites --commits 11:
#    N prompts in 20 directories, every tenth with a 3-case suite, then 10
#    commits that each change one prompt): `check` and `check --base HEAD~10`;
# 2. a lint-heavy one generated below: JSON output schemas to validate on 90%
#    of the prompts, a history budget to bound on 10%, a 3-case suite on half,
#    a directory budget; committed on main, then 10% of the prompts changed on
#    a branch: `check` and `check --base main`.
# Needs: cargo, git, python3, hyperfine (apt-get install hyperfine).
set -euo pipefail

n=${1:-1000}
root=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release --quiet --manifest-path "$root/Cargo.toml"
bin="$root/target/release/promptctl"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "promptctl $("$bin" --version | cut -d' ' -f2), $n prompts, $(nproc) cores"

python3 "$root/scripts/gen-repo.py" "$work/shared" --prompts "$n" --suites --commits 11
"$bin" -C "$work/shared" check --base HEAD~10 -q > /dev/null
bench() { # label dir base-rev
  local label=$1 dir=$2 base=$3
  # Cold: no token-count cache (.promptctl/), as in a fresh CI checkout.
  hyperfine -N --warmup 1 --runs 10 --prepare "rm -rf $dir/.promptctl" \
    --command-name "check, cold ($label)" "$bin -C $dir check -q" \
    --command-name "check --base $base, cold ($label)" "$bin -C $dir check --base $base -q"
  # Warm: the cache filled by an earlier run, as on a developer's machine.
  hyperfine -N --warmup 2 --runs 10 \
    --command-name "check, warm ($label)" "$bin -C $dir check -q" \
    --command-name "check --base $base, warm ($label)" "$bin -C $dir check --base $base -q"
}
bench "gen-repo, $n prompts" "$work/shared" HEAD~10

repo="$work/repo"
mkdir -p "$repo"
cd "$repo"

cat > promptctl.toml <<'EOF'
[project]
default_model = "openai:gpt-4o-mini"

[budget]
require_output_cap = true
max_input_tokens = 4000
max_cost_per_call_usd = 0.01
max_input_growth_pct = 25
max_cost_growth_pct = 25
context_margin_pct = 10

[check.budgets."dir03/**"]
max_input_tokens = 3000
EOF

models=(openai:gpt-4o-mini openai:gpt-4.1-mini anthropic:claude-haiku-4-5 openai:gpt-4o)
gen_prompt() { # index extra-text
  local i=$1 extra=$2 dir name model
  dir=$(printf 'dir%02d' $((i % 20)))
  name=$(printf 'prompt%04d' "$i")
  model=${models[$((i % ${#models[@]}))]}
  mkdir -p "prompts/$dir" "evals/$dir"
  if (( i % 10 == 0 )); then
    cat > "prompts/$dir/$name.prompt" <<EOF
---
description: Support chat $i with history
model: $model
config:
  temperature: 0.3
  max_tokens: 300
input:
  schema: [message, history]
  history: history
budget:
  max_history_turns: 8
---
system:
You are support assistant number $i. Be brief and concrete. $extra
Never ask for a password; ask for the account email instead.

history:

user:
{{ message }}
EOF
  else
    cat > "prompts/$dir/$name.prompt" <<EOF
---
description: Classify ticket kind $i as JSON
model: $model
config:
  temperature: 0
  max_tokens: 200
input:
  schema:
    type: object
    required: [ticket]
    properties:
      ticket: { type: string }
      tier: { type: string }
  default:
    tier: free
output:
  format: json
  schema:
    type: object
    required: [category, priority]
    properties:
      category: { type: string, enum: [billing, bug, account, other] }
      priority: { type: string, enum: [low, normal, high] }
---
system:
You are the triage step $i of a support pipeline. $extra
Answer with one JSON object: category (billing, bug, account, other) and
priority (low, normal, high). Enterprise customers get one level higher.

user:
Tier: {{ tier }}
Ticket:
{{ ticket }}
EOF
  fi
  if (( i % 2 == 0 )); then
    if (( i % 10 == 0 )); then
      cat > "evals/$dir/$name.yaml" <<EOF
prompt: $dir/$name
cases:
  - vars: { message: "Where is my invoice?", history: [] }
  - vars:
      message: "It is ana@example.com"
      history:
        - { role: user, content: "My exports stopped arriving last week." }
        - { role: assistant, content: "Sorry about that. Which workspace is affected?" }
  - vars: { message: "Thanks, that fixed it.", history: [] }
EOF
    else
      cat > "evals/$dir/$name.yaml" <<EOF
prompt: $dir/$name
cases:
  - vars: { ticket: "I was charged twice for invoice INV-$i. Please refund the duplicate." }
  - vars: { ticket: "Since 09:10 UTC none of our users can log in; the page shows Error 502.", tier: enterprise }
  - vars: { ticket: "Could exports be scheduled weekly instead of daily?" }
EOF
    fi
  fi
}

for ((i = 0; i < n; i++)); do gen_prompt "$i" ""; done
git init -q -b main
git -c user.name=bench -c user.email=bench@example.com add -A
git -c user.name=bench -c user.email=bench@example.com commit -q -m base
git checkout -q -b pr
for ((i = 0; i < n; i += 10)); do
  gen_prompt $((i + 1)) "Read the whole ticket, including quoted earlier messages, before you answer."
done
git -c user.name=bench -c user.email=bench@example.com commit -q -am pr

# Exit 0 expected: the generated changes stay within budget.
"$bin" check --base main -q > /dev/null
bench "lint-heavy, $n prompts" "$repo" main
