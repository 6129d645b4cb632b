#!/usr/bin/env python3
"""Generate a promptctl repository of N prompts for benchmarks.

    python3 scripts/gen-repo.py OUT_DIR --prompts 1000 [--suites] [--commits C]

Prompts are spread over 20 directories, each a realistic ~150-400 token
template with front matter; with --suites every tenth prompt gets an eval suite
of 3 cases. With --commits C > 0 the tree is committed with git, then C-1 more
commits each change one prompt. Deterministic for a given set of arguments.
"""
import argparse
import os
import random
import subprocess

SENTENCES = [
    "You are a careful assistant for the operations team.",
    "Answer in at most three sentences and never invent numbers.",
    "If the request is ambiguous, ask one clarifying question.",
    "Use the customer's language and keep a neutral tone.",
    "Refuse requests for credentials, and say why in one sentence.",
    "Summarise the key facts first, then the next step.",
    "Quote order ids exactly as they appear in the input.",
    "When unsure, say so rather than guessing.",
]

MODELS = ["openai:gpt-4o-mini", "openai:gpt-4.1-mini", "openai:gpt-4o", "anthropic:claude-haiku-4-5"]


def prompt_text(rng, i):
    body = " ".join(rng.choice(SENTENCES) for _ in range(rng.randint(6, 16)))
    return f"""---
description: Generated prompt {i}
model: {MODELS[i % len(MODELS)]}
config:
  temperature: 0
  max_tokens: {100 + (i % 7) * 50}
input:
  schema: [question, context]
budget:
  max_input_tokens: 4000
---
system:
{body}

user:
Context:
{{{{ context }}}}

Question: {{{{ question }}}}
"""


def suite_text(name):
    cases = "\n".join(
        f"""  - name: case {k}
    vars:
      question: "What is the status of order {1000 + k}?"
      context: "Order {1000 + k} shipped on day {k}. Tracking is available in the portal."
    assert:
      - type: contains
        value: "{1000 + k}"
"""
        for k in range(3)
    )
    return f"prompt: {name}\nproviders: [echo]\ncases:\n{cases}"


def git(out, *args):
    env = dict(os.environ, GIT_AUTHOR_NAME="bench", GIT_AUTHOR_EMAIL="bench@example.com",
               GIT_COMMITTER_NAME="bench", GIT_COMMITTER_EMAIL="bench@example.com",
               GIT_CONFIG_GLOBAL="/dev/null", GIT_CONFIG_NOSYSTEM="1")
    subprocess.run(["git", *args], cwd=out, env=env, check=True, stdout=subprocess.DEVNULL)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--prompts", type=int, default=1000)
    ap.add_argument("--suites", action="store_true")
    ap.add_argument("--commits", type=int, default=0)
    a = ap.parse_args()
    rng = random.Random(1)
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "promptctl.toml"), "w") as f:
        f.write('[project]\ndefault_model = "openai:gpt-4o-mini"\n')
    names = []
    for i in range(a.prompts):
        name = f"team{i % 20:02d}/prompt{i:05d}"
        names.append(name)
        path = os.path.join(a.out, "prompts", name + ".prompt")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(prompt_text(rng, i))
        if a.suites and i % 10 == 0:
            spath = os.path.join(a.out, "evals", name + ".yaml")
            os.makedirs(os.path.dirname(spath), exist_ok=True)
            with open(spath, "w") as f:
                f.write(suite_text(name))
    if a.commits > 0:
        git(a.out, "init", "-q", "-b", "main")
        git(a.out, "add", "-A")
        git(a.out, "commit", "-q", "-m", "initial")
        for c in range(1, a.commits):
            name = names[rng.randrange(len(names))]
            path = os.path.join(a.out, "prompts", name + ".prompt")
            with open(path, "a") as f:
                f.write(f"\nRevision {c}: {rng.choice(SENTENCES)}\n")
            git(a.out, "commit", "-q", "-am", f"change {name}")


if __name__ == "__main__":
    main()
