#!/usr/bin/env bash
# Whole-process wall time of `promptctl diff` against `git diff --stat` on
# generated repositories (hyperfine).
#
#   bash scripts/bench-diff.sh
#
# Builds the release binary (and examples/paired.rs) and generates, with
# git fast-import:
#   big:   10,000 prompts added over 200 commits (200 eval suites), tag `base`;
#          `head20` changes 20 prompts, `head1` (a branch off base) changes 1.
#   small: the same shape at 1,000 prompts over 20 commits, to show that the
#          1-change time does not grow with the repository.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v hyperfine >/dev/null || { echo "install hyperfine (apt-get install -y hyperfine)"; exit 1; }
cargo build --release --quiet --example paired
bin="$PWD/target/release/promptctl"
paired="$PWD/target/release/examples/paired"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

gen() { # DIR PROMPTS COMMITS
  mkdir -p "$1"
  git -C "$1" init -q -b main
  python3 - "$2" "$3" <<'PY' | git -C "$1" fast-import --quiet
import sys

n, commits = int(sys.argv[1]), int(sys.argv[2])
out = sys.stdout.buffer
SENT = [
    "You are a careful assistant for the operations team.",
    "Answer in at most three sentences and never invent numbers.",
    "If the request is ambiguous, ask one clarifying question.",
    "Use the customer's language and keep a neutral tone.",
    "Quote order ids exactly as they appear in the input.",
    "When unsure, say so rather than guessing.",
]
MODELS = ["openai:gpt-4o-mini", "openai:gpt-4.1-mini", "openai:gpt-4o", "anthropic:claude-haiku-4-5"]
when = [1767225600]


def path(i):
    return f"prompts/team{i % 100:02d}/p{i:05d}.prompt"


def prompt(i, extra=""):
    body = "\n".join(SENT[(i + k) % len(SENT)] for k in range(8))
    return (
        f"---\ndescription: Generated prompt {i}\nmodel: {MODELS[i % len(MODELS)]}\n"
        f"config:\n  temperature: 0\n  max_tokens: {100 + (i % 7) * 50}\n"
        f"input:\n  schema: [question, context]\n---\n"
        f"system:\n{body}{extra}\n\nuser:\nContext:\n{{{{ context }}}}\n\nQuestion: {{{{ question }}}}\n"
    )


def suite(i):
    cases = "".join(
        f"  - vars: {{question: 'Where is order {k}?', context: 'Order {k} shipped on day {k}.'}}\n"
        for k in range(3)
    )
    return f"prompt: team{i % 100:02d}/p{i:05d}\ncases:\n{cases}"


def data(text):
    b = text.encode()
    out.write(b"data %d\n" % len(b) + b + b"\n")


def commit(ref, msg, files, parent=None):
    when[0] += 60
    out.write(f"commit {ref}\ncommitter Bench <bench@example.com> {when[0]} +0000\n".encode())
    data(msg)
    if parent:
        out.write(f"from {parent}\n".encode())
    for p, text in files:
        out.write(f"M 100644 inline {p}\n".encode())
        data(text)


per = n // commits
for c in range(commits):
    files = []
    if c == 0:
        files.append(("promptctl.toml", "[traffic.requests_per_day]\n\"*\" = 1000\n"))
    for i in range(c * per, (c + 1) * per):
        files.append((path(i), prompt(i)))
        if i % 50 == 0:
            files.append((f"evals/team{i % 100:02d}/p{i:05d}.yaml", suite(i)))
    commit("refs/heads/main", f"add prompts {c}", files)
out.write(b"reset refs/tags/base\nfrom refs/heads/main\n\n")
extra = "\nCite the order id in every answer, and say which document it came from."
twenty = [i * (n // 20) for i in range(20)]
commit("refs/heads/main", "change 20 prompts", [(path(i), prompt(i, extra)) for i in twenty])
out.write(b"reset refs/tags/head20\nfrom refs/heads/main\n\n")
commit("refs/heads/one", "change 1 prompt", [(path(n // 2 + 1), prompt(n // 2 + 1, extra))], parent="refs/tags/base")
out.write(b"reset refs/tags/head1\nfrom refs/heads/one\n\n")
PY
  git -C "$1" checkout -q -f base
}

mkdir -p "$tmp/one/prompts" && printf 'user:\nHello.\n' > "$tmp/one/prompts/a.prompt"
gen "$tmp/big" 10000 200
gen "$tmp/small" 1000 20
echo "big:   $(git -C "$tmp/big" ls-files prompts | wc -l) prompts, $(git -C "$tmp/big" rev-list --count base) commits to base"
echo "small: $(git -C "$tmp/small" ls-files prompts | wc -l) prompts, $(git -C "$tmp/small" rev-list --count base) commits to base"

# Wall time is what a user waits for; user+sys CPU is steadier on a busy
# machine. Both are printed, with each row's ratio to `git diff --stat`.
run() { # NAME_OF_JSON then hyperfine -n/command pairs
  local out="$tmp/$1.json"; shift
  hyperfine -N --warmup 3 --runs 30 --export-json "$out" "$@" >/dev/null
  python3 - "$out" <<'PY'
import json, sys
rs = json.load(open(sys.argv[1]))["results"]
git = next(r for r in rs if r["command"].startswith("git"))
gcpu = git["user"] + git["system"]
print("| command | wall mean ± σ | user+sys | wall ratio | cpu ratio |")
print("|---|---:|---:|---:|---:|")
for r in rs:
    cpu = r["user"] + r["system"]
    print(f"| {r['command']} | {r['mean']*1e3:.1f} ± {r['stddev']*1e3:.1f} ms | {cpu*1e3:.1f} ms "
          f"| {r['mean']/git['mean']:.1f}× | {cpu/gcpu:.1f}× |")
PY
}
# Interleaved rounds: the commands take turns in each of five hyperfine
# runs, so a noisy minute on a shared machine hits every command. Reported:
# the median of the five round medians, their range, and the ratio to git's.
rounds() { # NAME then hyperfine -n/command pairs (git's last)
  local name="$1"; shift
  for r in 1 2 3 4 5; do
    hyperfine -N --warmup 3 --runs 20 --export-json "$tmp/$name-$r.json" "$@" >/dev/null
  done
  python3 - "$tmp/$name" <<'PY'
import json, statistics, sys
rounds = [json.load(open(f"{sys.argv[1]}-{r}.json"))["results"] for r in range(1, 6)]
names = [r["command"] for r in rounds[0]]
med = {n: [statistics.median(next(r for r in rs if r["command"] == n)["times"]) * 1e3 for rs in rounds] for n in names}
git = statistics.median(med[names[-1]])
print("| command | median of 5 round medians | range | ratio |")
print("|---|---:|---:|---:|")
for n in names:
    m = statistics.median(med[n])
    print(f"| {n} | {m:.1f} ms | {min(med[n]):.1f}–{max(med[n]):.1f} ms | {m / git:.2f}× |")
PY
}

# Paired runs (examples/paired.rs): promptctl and git take turns run by run,
# 200 runs each; the ratio is taken per turn, so a slow minute slows both.
echo "## 20 changed prompts (paired runs)"
"$paired" 200 "$bin" -C "$tmp/big" diff base head20 --format json -- git -C "$tmp/big" diff --stat base head20
echo "## 20 changed prompts, cold (paired runs; .promptctl/ removed before every run, untimed)"
"$paired" --prepare "rm -rf $tmp/big/.promptctl" 200 "$bin" -C "$tmp/big" diff base head20 --format json -- git -C "$tmp/big" diff --stat base head20
echo "## 1 changed prompt (paired runs)"
"$paired" 200 "$bin" -C "$tmp/big" diff base head1 --format json -- git -C "$tmp/big" diff --stat base head1
echo "## 20 changed prompts (interleaved rounds)"
rounds twenty_rounds \
  -n "promptctl diff base head20 --format json (10,000 prompts)" "$bin -C $tmp/big diff base head20 --format json" \
  -n "git diff --stat base head20 (10,000 prompts)" "git -C $tmp/big diff --stat base head20"
echo "## 1 changed prompt (interleaved rounds)"
rounds one_rounds \
  -n "promptctl diff base head1 --format json (10,000 prompts)" "$bin -C $tmp/big diff base head1 --format json" \
  -n "git diff --stat base head1 (10,000 prompts)" "git -C $tmp/big diff --stat base head1"
echo "## 20 changed prompts"
run twenty \
  -n "promptctl diff base head20 --format json (10,000 prompts)" "$bin -C $tmp/big diff base head20 --format json" \
  -n "git diff --stat base head20 (10,000 prompts)" "git -C $tmp/big diff --stat base head20"
echo "## 20 changed prompts, cold: token-count cache removed before every run"
run twenty_cold --prepare "rm -rf $tmp/big/.promptctl" \
  -n "promptctl diff base head20 --format json (10,000 prompts, cold)" "$bin -C $tmp/big diff base head20 --format json" \
  -n "git diff --stat base head20 (10,000 prompts)" "git -C $tmp/big diff --stat base head20"
echo "## 1 changed prompt"
run one \
  -n "promptctl diff base head1 --format json (10,000 prompts)" "$bin -C $tmp/big diff base head1 --format json" \
  -n "promptctl diff base head1 --format json (1,000 prompts)" "$bin -C $tmp/small diff base head1 --format json" \
  -n "git diff --stat base head1 (10,000 prompts)" "git -C $tmp/big diff --stat base head1" \
  -n "git diff --stat base head1 (1,000 prompts)" "git -C $tmp/small diff --stat base head1"
echo "## where the time goes"
run parts \
  -n "promptctl diff base base (no change: git + config, no tokenizer)" "$bin -C $tmp/big diff base base --format json" \
  -n "promptctl tokens a (a one-prompt project: start-up + tokenizer tables)" "$bin -C $tmp/one tokens a" \
  -n "git diff --stat base head1 (10,000 prompts)" "git -C $tmp/big diff --stat base head1"

# Instruction counts (callgrind, all threads summed): steady where wall time
# on a shared machine is not. Warm caches, as in the warm rows above.
if command -v valgrind >/dev/null; then
  echo "## instructions (callgrind, all threads)"
  echo "| command | instructions | ratio |"
  echo "|---|---:|---:|"
  # The cold rows above removed the caches (their `--prepare` ran before
  # git's runs too): one run each first, as the warm rows had.
  for rev in head20 head1; do "$bin" -C "$tmp/big" diff base $rev --format json >/dev/null; done
  count() { # CMD...
    local out="$tmp/cg.out"
    rm -f "$out"*
    valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file="$out" "$@" >/dev/null 2>&1
    cat "$out"* | awk '/^totals:/ {s += $2} END {print s}'
  }
  for rev in head20 head1; do
    p=$(count "$bin" -C "$tmp/big" diff base $rev --format json)
    g=$(count git -C "$tmp/big" diff --stat base $rev)
    python3 -c "import sys; p, g = int(sys.argv[1]), int(sys.argv[2]); r = sys.argv[3]
print(f'| promptctl diff base {r} --format json (10,000 prompts) | {p/1e6:.1f} M | {p/g:.1f}× |')
print(f'| git diff --stat base {r} (10,000 prompts) | {g/1e6:.1f} M | 1.0× |')" "$p" "$g" "$rev"
  done
else
  echo "(valgrind not installed: no instruction counts)"
fi
