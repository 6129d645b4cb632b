// Cross-check promptctl's token counts against js-tiktoken, an independent
// implementation of OpenAI's BPE encodings.
//
//   promptctl tokens --all --format json | node scripts/verify-tokens.mjs
//
// For every prompt counted exactly (OpenAI models) it re-counts the rendered
// messages promptctl reports, with the chat framing OpenAI documents for
// prompt_tokens (3 per message + role + content, 3 to prime the reply), and
// fails on any difference. Estimates (exact: false) are skipped: there is no
// reference to compare them with.
import { Tiktoken } from "js-tiktoken/lite";
import o200k from "js-tiktoken/ranks/o200k_base";
import cl100k from "js-tiktoken/ranks/cl100k_base";

const encoders = { o200k_base: new Tiktoken(o200k), cl100k_base: new Tiktoken(cl100k) };
const count = (enc, text) => enc.encode(text, [], []).length;

let input = "";
for await (const chunk of process.stdin) input += chunk;
const report = JSON.parse(input);

let checked = 0;
let failed = 0;
for (const p of report.prompts) {
  if (!p.exact) {
    console.log(`skip  ${p.prompt}: estimate (${p.model} has no public tokenizer)`);
    continue;
  }
  const enc = encoders[p.tokenizer];
  if (!enc) throw new Error(`unknown tokenizer ${p.tokenizer}`);
  let total = 3;
  p.messages.forEach((m, i) => {
    const content = count(enc, m.content);
    total += 3 + count(enc, m.role) + content;
    if (content !== p.worst.messages[i].content) {
      console.log(`FAIL  ${p.prompt} message ${i} (${m.role}): promptctl ${p.worst.messages[i].content}, js-tiktoken ${content}`);
      failed++;
    }
  });
  checked++;
  if (total !== p.max_input_tokens) {
    console.log(`FAIL  ${p.prompt}: promptctl ${p.max_input_tokens}, js-tiktoken ${total}`);
    failed++;
  } else {
    console.log(`ok    ${p.prompt}: ${total} tokens (${p.tokenizer}, ${p.messages.length} messages)`);
  }
}
console.log(`${checked - Math.min(failed, checked)} passed, ${failed} failed`);
process.exit(failed === 0 && checked > 0 ? 0 : 1);
