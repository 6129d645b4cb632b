#!/usr/bin/env bash
# Benchmarks of `promptctl eval` against a local OpenAI-compatible mock
# server with a fixed latency (examples/mock_llm.rs). Whole-process figures.
#
#   scripts/bench-eval.sh                 # both benchmarks
#   PROMPTFOO=/path/to/node_modules/.bin/promptfoo scripts/bench-eval.sh
#                                         # and the same suites in promptfoo
#
# 1. N1 (default 1000) cases at 200 ms latency, -j 16: wall time against the
#    ideal ceil(N/16) x 200 ms (target <= 1.05x + 0.2 s).
# 2. N2 (default 100000) cases at 0 ms: peak RSS (target <= 100 MB) and CPU
#    time per case, from /usr/bin/time -v.
#
# The suite: the example triage prompt (JSON output with a schema, so the
# structured-output guard validates every answer), cases from a JSONL file,
# three assertions per case (is-json, json-schema, json-path). --no-cache:
# every case is a request.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
N1=${N1:-1000}
N2=${N2:-100000}
JOBS=${JOBS:-16}
RUNS=${RUNS:-3}

cargo build --release --quiet --bin promptctl --example mock_llm --manifest-path "$ROOT/Cargo.toml"
BIN=$ROOT/target/release/promptctl
MOCK=$ROOT/target/release/examples/mock_llm
WORK=$(mktemp -d)
cleanup() {
    # start_mock runs in a subshell: its servers' pids are in a file.
    if [ -f "$WORK/pids" ]; then
        while read -r p; do kill "$p" 2>/dev/null || true; done <"$WORK/pids"
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

# start_mock LATENCY_MS -> prints the port
start_mock() {
    local out=$WORK/mock-$1.out
    "$MOCK" --port 0 --latency-ms "$1" >"$out" 2>&1 &
    echo $! >>"$WORK/pids"
    for _ in $(seq 50); do
        grep -q listening "$out" 2>/dev/null && break
        sleep 0.1
    done
    sed -n 's/.*127.0.0.1:\([0-9]*\).*/\1/p' "$out"
}

# make_project DIR PORT CASES
make_project() {
    local dir=$1 port=$2 n=$3
    mkdir -p "$dir/prompts/support" "$dir/evals"
    cp "$ROOT/prompts/support/triage.prompt" "$dir/prompts/support/"
    cat >"$dir/promptctl.toml" <<EOF
[providers.openai]
base_url = "http://127.0.0.1:$port/v1"
EOF
    cat >"$dir/evals/bench.yaml" <<'EOF'
prompt: support/triage
defaults:
  vars: {customer_tier: pro}
  assert:
    - type: is-json
    - type: json-schema
    - type: json-path
      path: $.category
      value: billing
cases: file://cases.jsonl
EOF
    python3 - "$dir/evals/cases.jsonl" "$n" <<'EOF'
import json, sys
with open(sys.argv[1], "w") as f:
    for i in range(int(sys.argv[2])):
        f.write(json.dumps({"name": f"case {i}", "vars": {"ticket": f"Invoice INV-{i:06d} was charged twice. Please refund the duplicate."}}) + "\n")
EOF
    # The same suite for promptfoo: the rendered chat template and a CSV of vars.
    python3 - "$dir" "$n" <<'EOF'
import json, sys, re
d, n = sys.argv[1], int(sys.argv[2])
src = open(f"{d}/prompts/support/triage.prompt").read()
body = src.split("---", 2)[2]
system = body.split("system:", 1)[1].split("user:", 1)[0].strip()
user = body.split("user:", 1)[1].strip()
json.dump([{"role": "system", "content": system}, {"role": "user", "content": user}], open(f"{d}/prompt.json", "w"))
with open(f"{d}/cases.csv", "w") as f:
    f.write("customer_tier,ticket\n")
    for i in range(n):
        f.write(f"pro,Invoice INV-{i:06d} was charged twice. Please refund the duplicate.\n")
EOF
    cat >"$dir/promptfooconfig.yaml" <<EOF
prompts: [file://prompt.json]
providers:
  - id: openai:chat:gpt-4o-mini
    config:
      apiBaseUrl: http://127.0.0.1:$port/v1
      apiKey: mock
      temperature: 0
      max_tokens: 200
defaultTest:
  assert:
    - type: is-json
    - type: javascript
      value: JSON.parse(output).category === 'billing'
tests: file://cases.csv
EOF
}

ideal() { python3 -c "import math; print(math.ceil($1/$2)*$3/1000)"; }

echo "== promptctl $("$BIN" --version | cut -d' ' -f2), $(nproc) cores, $(uname -sr)"

P200=$(start_mock 200)
P0=$(start_mock 0)
make_project "$WORK/p200" "$P200" "$N1"
make_project "$WORK/p0" "$P0" "$N2"

IDEAL=$(ideal "$N1" "$JOBS" 200)
echo
echo "== 1. $N1 cases at 200 ms, -j $JOBS (ideal ${IDEAL}s, target <= $(python3 -c "print(round($IDEAL*1.05+0.2,2))")s)"
hyperfine --runs "$RUNS" --export-json "$WORK/h1.json" \
    "$BIN -C $WORK/p200 -q eval --no-cache -j $JOBS"
python3 - "$WORK/h1.json" "$IDEAL" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))["results"][0]
ideal = float(sys.argv[2])
print(f"promptctl: mean {r['mean']:.2f}s (min {r['min']:.2f}s, max {r['max']:.2f}s) = {r['mean']/ideal:.3f}x ideal, overhead {r['mean']-ideal:+.2f}s")
EOF

echo
echo "== 2. $N2 cases at 0 ms, -j $JOBS: peak RSS and CPU per case"
/usr/bin/time -v "$BIN" -C "$WORK/p0" -q eval --no-cache -j "$JOBS" >/dev/null 2>"$WORK/time.txt" || true
python3 - "$WORK/time.txt" "$N2" <<'EOF'
import re, sys
t = open(sys.argv[1]).read()
n = int(sys.argv[2])
get = lambda k: re.search(re.escape(k) + r":\s*(.+)", t).group(1).strip()
user, sys_ = float(get("User time (seconds)")), float(get("System time (seconds)"))
rss = int(get("Maximum resident set size (kbytes)")) / 1024
print(f"promptctl: wall {get('Elapsed (wall clock) time (h:mm:ss or m:ss)')}, peak RSS {rss:.1f} MB, CPU {user+sys_:.1f}s = {(user+sys_)/n*1e6:.0f} us/case")
EOF
echo "run file: $(ls -1 "$WORK"/p0/.promptctl/runs/*.jsonl | head -1 | xargs wc -c | awk '{printf "%.1f MB", $1/1e6}')"

if [ -n "${PROMPTFOO:-}" ]; then
    export PROMPTFOO_DISABLE_TELEMETRY=1 PROMPTFOO_DISABLE_UPDATE=1 PROMPTFOO_CONFIG_DIR=$WORK/pfcfg
    echo
    echo "== promptfoo $("$PROMPTFOO" --version 2>/dev/null | tail -1), same suites, same servers"
    (cd "$WORK/p200" && hyperfine --runs "$RUNS" --export-json "$WORK/h1pf.json" -i \
        "$PROMPTFOO eval -c promptfooconfig.yaml --no-cache --no-table --no-write --no-progress-bar -j $JOBS")
    python3 - "$WORK/h1pf.json" "$IDEAL" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))["results"][0]
ideal = float(sys.argv[2])
print(f"promptfoo: mean {r['mean']:.2f}s (min {r['min']:.2f}s, max {r['max']:.2f}s) = {r['mean']/ideal:.3f}x ideal, overhead {r['mean']-ideal:+.2f}s")
EOF
    N3=${N3:-$N2}
    if [ "$N3" != "$N2" ]; then
        python3 - "$WORK/p0/cases.csv" "$N3" <<'EOF'
import sys
lines = open(sys.argv[1]).read().splitlines()
open(sys.argv[1], "w").write("\n".join(lines[: int(sys.argv[2]) + 1]) + "\n")
EOF
    fi
    (cd "$WORK/p0" && /usr/bin/time -v "$PROMPTFOO" eval -c promptfooconfig.yaml --no-cache --no-table --no-write \
        --no-progress-bar -j "$JOBS" >/dev/null 2>"$WORK/time-pf.txt" || true)
    python3 - "$WORK/time-pf.txt" "$N3" <<'EOF'
import re, sys
t = open(sys.argv[1]).read()
n = int(sys.argv[2])
get = lambda k: re.search(re.escape(k) + r":\s*(.+)", t).group(1).strip()
user, sys_ = float(get("User time (seconds)")), float(get("System time (seconds)"))
rss = int(get("Maximum resident set size (kbytes)")) / 1024
print(f"promptfoo ({n} cases): wall {get('Elapsed (wall clock) time (h:mm:ss or m:ss)')}, peak RSS {rss:.1f} MB, CPU {user+sys_:.1f}s = {(user+sys_)/n*1e6:.0f} us/case, exit {get('Exit status')}")
EOF
fi
