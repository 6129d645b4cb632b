use std::path::Path;

use serde_json::json;

use super::*;

fn parse(yaml: &str) -> Result<Vec<Assertion>, crate::Error> {
    crate::yaml::from_str::<Vec<Assertion>>(yaml, Path::new("evals/t.yaml"), 0)
}

fn one(yaml: &str) -> Assertion {
    let mut all = parse(yaml).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(all.len(), 1);
    all.remove(0)
}

fn parse_err(yaml: &str) -> crate::Error {
    match parse(yaml) {
        Ok(a) => panic!("parsed: {a:?}"),
        Err(e) => e,
    }
}

/// An owned observation; `get` lends it out.
struct Obs {
    output: String,
    vars: BTreeMap<String, Value>,
    output_tokens: Option<u64>,
    finish_reason_length: bool,
    latency_ms: Option<u64>,
    cost_usd: Option<f64>,
    output_schema: Option<Value>,
}

impl Obs {
    fn new(output: &str) -> Self {
        Obs {
            output: output.to_string(),
            vars: BTreeMap::new(),
            output_tokens: None,
            finish_reason_length: false,
            latency_ms: None,
            cost_usd: None,
            output_schema: None,
        }
    }

    fn var(mut self, name: &str, value: Value) -> Self {
        self.vars.insert(name.to_string(), value);
        self
    }

    fn get(&self) -> Observation<'_> {
        Observation {
            output: &self.output,
            vars: &self.vars,
            output_tokens: self.output_tokens,
            finish_reason_length: self.finish_reason_length,
            latency_ms: self.latency_ms,
            cost_usd: self.cost_usd,
            output_schema: self.output_schema.as_ref(),
            tokenizer: TokenizerKind::O200kBase,
        }
    }
}

fn eval(yaml: &str, obs: &Obs) -> AssertionResult {
    one(yaml).evaluate(&obs.get())
}

fn on(yaml: &str, output: &str) -> AssertionResult {
    eval(yaml, &Obs::new(output))
}

#[track_caller]
fn passes(r: &AssertionResult) {
    assert!(r.pass, "expected a pass: {r:?}");
    assert_eq!(r.reason, None);
}

#[track_caller]
fn fails(r: &AssertionResult) -> &str {
    assert!(!r.pass, "expected a failure: {r:?}");
    r.reason.as_deref().expect("a failure has a reason")
}

// --- text checks -------------------------------------------------------------

#[test]
fn contains_and_icontains() {
    let a = "- type: contains\n  value: refund\n";
    passes(&on(a, "You will get a refund."));
    assert_eq!(
        fails(&on(a, "You will get a Refund.")),
        "output does not contain \"refund\""
    );
    let a = "- type: icontains\n  value: REFUND\n";
    passes(&on(a, "You will get a Refund."));
    assert!(fails(&on(a, "No money back.")).contains("ignoring case"));
}

#[test]
fn not_contains_reason_names_the_text() {
    let a = "- type: not-contains\n  value: as an AI\n";
    passes(&on(a, "Here is your answer."));
    let r = on(a, "As an AI, well, as an AI I think");
    assert_eq!(r.kind, "not-contains");
    assert_eq!(fails(&r), "output contains \"as an AI\"");
}

#[test]
fn contains_any_and_all() {
    let any = "- type: contains-any\n  value: [billing, refund]\n";
    passes(&on(any, "a billing issue"));
    assert_eq!(
        fails(&on(any, "a shipping issue")),
        "output contains none of [\"billing\", \"refund\"]"
    );
    let all = "- type: contains-all\n  value: [order, id]\n";
    passes(&on(all, "order id 7"));
    assert_eq!(fails(&on(all, "order 7")), "output is missing [\"id\"]");
}

#[test]
fn text_values_are_taken_as_written() {
    // Unquoted, these are YAML 1.1 booleans and numbers; as text they stay text.
    passes(&on("- type: contains\n  value: 404\n", "error 404"));
    passes(&on("- type: contains\n  value: yes\n", "yes, shipped"));
    passes(&on("- type: starts-with\n  value: 01\n", "01. First step"));
    passes(&on("- type: contains-any\n  value: [on, off]\n", "turn it on"));
    // Before `type` the written form is already lost: ask for quotes.
    let err = parse_err("- value: yes\n  type: contains\n");
    assert!(err.message.contains("quote it"), "{}", err.message);
}

#[test]
fn equals_string_ignores_surrounding_whitespace_only() {
    let a = "- type: equals\n  value: \"yes\"\n";
    passes(&on(a, "yes\n"));
    assert_eq!(fails(&on(a, "Yes")), "output is \"Yes\", expected \"yes\"");
}

#[test]
fn equals_json_compares_parsed_output() {
    let a = "- type: equals\n  value: {answer: 1, tags: [a]}\n";
    passes(&on(a, r#"{"tags": ["a"], "answer": 1.0}"#));
    assert!(fails(&on(a, r#"{"answer": 2, "tags": ["a"]}"#)).starts_with("output is {"));
    assert!(fails(&on(a, "answer: 1")).starts_with("output is not JSON"));
}

#[test]
fn regex_and_not_regex() {
    let a = "- type: regex\n  value: \"^\\\\{\"\n";
    passes(&on(a, "{\"a\": 1}"));
    assert_eq!(fails(&on(a, "Sure: {}")), "/^\\{/ does not match the output");
    let a = "- type: not-regex\n  value: \"(?i)sorry\"\n";
    passes(&on(a, "Done."));
    assert_eq!(fails(&on(a, "So SORRY.")), "/(?i)sorry/ matches \"SORRY\"");
}

#[test]
fn starts_with_skips_leading_whitespace() {
    let a = "- type: starts-with\n  value: \"{\"\n";
    passes(&on(a, "\n  {\"a\": 1}"));
    assert!(fails(&on(a, "Here it is: {}")).starts_with("output starts with \"Here it is"));
}

// --- JSON checks -------------------------------------------------------------

#[test]
fn is_json_accepts_only_bare_json() {
    let a = "- type: is-json\n";
    passes(&on(a, " {\"category\": \"billing\"}\n"));
    passes(&on(a, "[1, 2]"));
    assert_eq!(
        fails(&on(a, "```json\n{\"category\": \"billing\"}\n```")),
        "output is JSON wrapped in a markdown fence"
    );
    assert!(
        fails(&on(a, "Sure! Here is the JSON:\n```json\n{\"a\": 1}\n```"))
            .starts_with("output is JSON in a markdown fence with prose around it")
    );
    assert_eq!(
        fails(&on(a, "Sure! Here is the result: {\"category\": \"billing\"}")),
        "output is JSON wrapped in prose (prose before it: \"Sure! Here is the result:\")"
    );
    assert_eq!(
        fails(&on(a, "{\"category\": \"billing\"}\nHope this helps!")),
        "output is JSON wrapped in prose (prose after it: \"Hope this helps!\")"
    );
    assert!(fails(&on(a, "billing")).starts_with("output is not JSON: expected"));
    assert_eq!(fails(&on(a, "  ")), "output is empty, not JSON");
}

#[test]
fn json_schema_inline() {
    let a = "- type: json-schema\n  value: {type: object, required: [category], properties: {category: {enum: [billing, tech]}}}\n";
    passes(&on(a, r#"{"category": "billing"}"#));
    let reason = fails(&on(a, r#"{"category": "sales"}"#)).to_string();
    assert!(reason.starts_with("schema violation at /category: "), "{reason}");
    let reason = fails(&on(a, r#"{}"#)).to_string();
    assert!(
        reason.starts_with("schema violation at the root: ") && reason.contains("category"),
        "{reason}"
    );
    assert_eq!(
        fails(&on(a, "```json\n{\"category\": \"billing\"}\n```")),
        "output is JSON wrapped in a markdown fence"
    );
}

#[test]
fn json_schema_counts_further_errors() {
    let a = "- type: json-schema\n  value: {properties: {a: {type: string}, b: {type: string}}}\n";
    assert!(fails(&on(a, r#"{"a": 1, "b": 2}"#)).ends_with("(and 1 more error)"));
}

#[test]
fn json_schema_checks_formats() {
    let a = "- type: json-schema\n  value: {properties: {email: {type: string, format: email}}}\n";
    passes(&on(a, r#"{"email": "a@example.com"}"#));
    fails(&on(a, r#"{"email": "not an address"}"#));
}

#[test]
fn json_schema_defaults_to_the_prompts_output_schema() {
    let a = "- type: json-schema\n";
    let mut obs = Obs::new(r#"{"category": 3}"#);
    let reason = fails(&eval(a, &obs)).to_string();
    assert_eq!(
        reason,
        "json-schema has no `value` and the prompt declares no output.schema"
    );
    // Not even negation makes a check without a schema pass.
    assert!(!eval("- type: json-schema\n  not: true\n", &obs).pass);

    obs.output_schema = Some(json!({"type": "object", "properties": {"category": {"type": "string"}}}));
    assert!(fails(&eval(a, &obs)).contains("/category"));
    obs.output = r#"{"category": "billing"}"#.into();
    passes(&eval(a, &obs));
}

#[test]
fn bind_output_schema_compiles_at_load() {
    let mut a = one("- type: json-schema\n");
    let err = a.bind_output_schema(&json!({"type": "objekt"})).unwrap_err();
    assert!(
        err.starts_with("the prompt's output schema: invalid JSON Schema"),
        "{err}"
    );
    a.bind_output_schema(&json!({"required": ["x"]})).unwrap();
    // Bound: the observation's schema no longer matters.
    passes(&a.evaluate(&Obs::new(r#"{"x": 1}"#).get()));
    assert!(!a.evaluate(&Obs::new(r#"{"y": 1}"#).get()).pass);
    // An explicit value is kept.
    let mut b = one("- type: json-schema\n  value: {required: [z]}\n");
    b.bind_output_schema(&json!({"required": ["x"]})).unwrap();
    passes(&b.evaluate(&Obs::new(r#"{"z": 1}"#).get()));
}

#[test]
fn json_path_lookups() {
    let out = r#"{"category": "billing", "items": [{"id": 7}], "odd key": true}"#;
    passes(&on("- type: json-path\n  path: $.category\n  value: billing\n", out));
    passes(&on("- type: json-path\n  path: $.items[0].id\n  value: 7\n", out));
    passes(&on("- type: json-path\n  path: '$[\"odd key\"]'\n", out));
    passes(&on(
        "- type: json-path\n  path: \"$['items'][0]\"\n  value: {id: 7}\n",
        out,
    ));
    assert_eq!(
        fails(&on("- type: json-path\n  path: $.category\n  value: tech\n", out)),
        "$.category is \"billing\", expected \"tech\""
    );
    assert_eq!(
        fails(&on("- type: json-path\n  path: $.items[3]\n", out)),
        "$.items[3] not found in the output"
    );
    assert!(fails(&on("- type: json-path\n  path: $.category\n", "billing")).starts_with("output is not JSON"));
}

#[test]
fn json_path_syntax_is_checked() {
    for (path, why) in [
        ("category", "must start with `$`"),
        ("$..id", "recursive descent"),
        ("$.items[*]", "wildcards"),
        ("$.items[-1]", "negative indexes"),
        ("$[\"open", "unclosed quoted key"),
        ("$.a b", "unexpected ` `"),
        ("$.items[0", "expected `]`"),
    ] {
        let err = JsonPath::new(path).segments().unwrap_err();
        assert!(err.contains(why), "{path}: {err}");
    }
    assert_eq!(
        JsonPath::new(r#"$.a[2]["b\"c"]"#).segments().unwrap(),
        &[Segment::Key("a".into()), Segment::Index(2), Segment::Key("b\"c".into())]
    );
    assert!(JsonPath::new("$").segments().unwrap().is_empty());
}

// --- size, tokens, latency, cost ---------------------------------------------

#[test]
fn max_and_min_chars_count_characters() {
    let a = "- type: max-chars\n  value: 5\n";
    passes(&on(a, "héllo"));
    assert_eq!(fails(&on(a, "héllo!")), "output has 6 characters, limit 5");
    let a = "- type: min-chars\n  value: 3\n";
    passes(&on(a, "abc"));
    assert_eq!(fails(&on(a, "ab")), "output has 2 characters, minimum 3");
}

#[test]
fn max_output_tokens_prefers_the_reported_count() {
    let a = "- type: max-output-tokens\n  value: 3\n";
    let mut obs = Obs::new("one two three four five six");
    assert_eq!(
        fails(&eval(a, &obs)),
        "output has 6 tokens (counted with o200k_base), limit 3"
    );
    obs.output_tokens = Some(2);
    passes(&eval(a, &obs));
    obs.output_tokens = Some(4);
    assert_eq!(fails(&eval(a, &obs)), "output has 4 tokens, limit 3");
}

#[test]
fn finish_not_length() {
    let a = "- type: finish-not-length\n";
    let mut obs = Obs::new("The answer is");
    passes(&eval(a, &obs));
    obs.finish_reason_length = true;
    assert!(fails(&eval(a, &obs)).contains("cut off"));
}

#[test]
fn latency_and_cost_limits() {
    let lat = "- type: max-latency-ms\n  value: 2000\n";
    let cost = "- type: max-cost-usd\n  value: 0.001\n";
    let mut obs = Obs::new("ok");
    assert_eq!(fails(&eval(lat, &obs)), "no latency was measured for this response");
    assert!(fails(&eval(cost, &obs)).starts_with("the cost of this call is unknown"));
    // A missing measurement fails under `not` as well.
    assert!(!eval("- type: max-latency-ms\n  value: 2000\n  not: true\n", &obs).pass);
    obs.latency_ms = Some(1999);
    obs.cost_usd = Some(0.00042);
    passes(&eval(lat, &obs));
    passes(&eval(cost, &obs));
    obs.latency_ms = Some(2350);
    obs.cost_usd = Some(0.0025);
    assert_eq!(fails(&eval(lat, &obs)), "latency 2350 ms, limit 2000 ms");
    assert_eq!(fails(&eval(cost, &obs)), "cost $0.0025, limit $0.001");
}

// --- citations, grounding, refusal -------------------------------------------

fn docs() -> Value {
    json!([
        {"id": "refunds", "text": "Refunds are issued within 5 business days to the original payment method."},
        {"id": "shipping", "text": "Standard shipping takes 3 to 7 days. Express shipping arrives in 2 days."},
        "Orders can be cancelled before they ship."
    ])
}

#[test]
fn cites_sources_by_number_and_id() {
    let a = "- type: cites-sources\n";
    let obs = |out: &str| Obs::new(out).var("documents", docs());
    let r = eval(a, &obs("Refunds take 5 days [1]. Express is 2 days [shipping, 3]."));
    passes(&r);
    assert_eq!(r.score, Some(1.0));
    passes(&eval(a, &obs("Refunds take 5 days.[^1]")));
}

#[test]
fn cites_sources_rejects_bad_and_missing_citations() {
    let a = "- type: cites-sources\n";
    let obs = |out: &str| Obs::new(out).var("documents", docs());
    let r = eval(a, &obs("Refunds take 5 days [1]. Returns are free [4]."));
    assert_eq!(fails(&r), "citation [4] is out of range: `documents` has 3 sources");
    assert_eq!(r.score, Some(0.5));
    assert_eq!(
        fails(&eval(a, &obs("See [0]."))),
        "citation [0] is out of range: sources are numbered from 1"
    );
    assert_eq!(
        fails(&eval(a, &obs("See [returns] and [9]."))),
        "citation [returns] matches no source id in `documents` (ids: refunds, shipping); 1 more bad citation"
    );
    assert_eq!(
        fails(&eval(a, &obs("Refunds take 5 days. See [the policy](https://x)."))),
        "output cites no source; cite the sources in `documents` as [1]..[3] or by id, e.g. [refunds]"
    );
}

#[test]
fn cites_sources_without_ids_counts_only_numbers() {
    let a = "- type: cites-sources\n  sources: passages\n";
    let obs = Obs::new("It ships in 2 days [2] [note].").var("passages", json!(["a", "b"]));
    passes(&eval(a, &obs));
    let obs = Obs::new("It ships in 2 days [x].").var("passages", json!(["a", "b"]));
    assert_eq!(
        fails(&eval(a, &obs)),
        "output cites no source; cite the sources in `passages` as [1]..[2]"
    );
}

#[test]
fn sources_variable_must_exist_and_have_a_shape() {
    let a = "- type: cites-sources\n";
    assert!(fails(&on(a, "[1]")).starts_with("variable `documents` is not set in this case"));
    let obs = Obs::new("[1]").var("documents", json!([{"text": 3}]));
    assert_eq!(
        fails(&eval(a, &obs)),
        "`documents` item 1: `text` must be a string, got a number"
    );
    let obs = Obs::new("[1]").var("documents", json!(7));
    assert!(fails(&eval(a, &obs)).contains("must be a list of sources or a string"));
}

#[test]
fn grounded_scores_a_supported_answer_above_an_invented_one() {
    let a = "- type: grounded\n";
    let obs = |out: &str| Obs::new(out).var("documents", docs());

    let supported = eval(
        a,
        &obs(
            "Refunds are issued within 5 business days [1]. Express shipping arrives in 2 days [2]. Orders can be cancelled before shipping.",
        ),
    );
    passes(&supported);
    assert_eq!(supported.score, Some(1.0));

    let invented = eval(
        a,
        &obs(
            "Refunds are issued within 5 business days. We offer a lifetime warranty on electronics. Premium members receive complimentary overnight delivery worldwide.",
        ),
    );
    let reason = fails(&invented).to_string();
    let score = invented.score.expect("grounded has a score");
    assert!((score - 1.0 / 3.0).abs() < 1e-9, "{score}");
    assert!(
        reason.starts_with("lexical grounding 0.33 is below threshold 0.60: 1 of 3 sentences"),
        "{reason}"
    );
    assert!(
        reason.contains("first unsupported: \"We offer a lifetime warranty on electronics.\""),
        "{reason}"
    );
}

#[test]
fn grounded_treats_invented_numbers_as_unsupported() {
    let a = "- type: grounded\n  threshold: 1\n";
    let obs = Obs::new("Refunds are issued within 30 business days.").var("documents", docs());
    // "refund", "issued", "30", "business", "day": 4 of 5 are in the context.
    passes(&eval(a, &obs));
    let obs = Obs::new("Refunds within 30 days, 45 days or 90 days.").var("documents", docs());
    // "refund", "30", "day", "45", "90": 2 of 5.
    fails(&eval(a, &obs));
}

#[test]
fn grounded_threshold_and_edge_cases() {
    let obs = Obs::new("Refunds take 5 business days. Gift cards never expire.").var("documents", docs());
    passes(&eval("- type: grounded\n  threshold: 0.5\n", &obs));
    fails(&eval("- type: grounded\n  threshold: 0.6\n", &obs));
    let r = eval("- type: grounded\n  not: true\n", &obs);
    assert_eq!(r.kind, "not-grounded");
    passes(&r);

    let empty = Obs::new("OK.").var("documents", docs());
    assert!(fails(&eval("- type: grounded\n", &empty)).contains("no sentence with content words"));
    let no_text = Obs::new("Refunds take 5 days.").var("documents", json!([{"id": "a"}]));
    assert_eq!(
        fails(&eval("- type: grounded\n", &no_text)),
        "`documents` has no text to check the answer against"
    );
    let plain = Obs::new("Refunds take 5 days.").var("ctx", json!("Refunds take 5 days."));
    passes(&eval("- type: grounded\n  context: ctx\n", &plain));
}

#[test]
fn refusal_and_its_negation() {
    let a = "- type: refusal\n";
    passes(&on(a, "I\u{2019}m sorry, but I can\u{2019}t help with that."));
    passes(&on(a, "As an AI language model, I have no opinions."));
    assert_eq!(
        fails(&on(a, "I cannot find an order with that number.")),
        "output is not a refusal (no refusal phrase matched)"
    );
    let not = "- type: refusal\n  not: true\n";
    passes(&on(not, "Your refund was issued."));
    let r = on(not, "I am unable to share that.");
    assert_eq!(r.kind, "not-refusal");
    assert_eq!(fails(&r), "output is a refusal (matched \"i am unable to\")");
}

// --- negation, weights, evaluate_all -----------------------------------------

#[test]
fn not_inverts_and_reports_the_fact() {
    let a = one("- type: contains\n  value: x\n  not: true\n  weight: 2\n");
    assert!(a.not);
    assert_eq!(a.weight, 2.0);
    passes(&a.evaluate(&Obs::new("abc").get()));
    let r = a.evaluate(&Obs::new("xyz").get());
    assert_eq!(r.kind, "not-contains");
    assert_eq!(fails(&r), "output contains \"x\"");
    let r = on("- type: is-json\n  not: true\n", "{}");
    assert_eq!(r.kind, "not-is-json");
    assert_eq!(fails(&r), "output is JSON");
}

#[test]
fn evaluate_all_gates_on_weighted_assertions_only() {
    let asserts = parse(
        "- type: contains\n  value: a\n- type: contains\n  value: zzz\n  weight: 0\n- type: max-chars\n  value: 10\n  weight: 3\n",
    )
    .unwrap();
    let obs = Obs::new("abc");
    let (pass, results) = evaluate_all(&asserts, &obs.get());
    assert!(pass, "{results:?}");
    assert_eq!(results.iter().map(|r| r.pass).collect::<Vec<_>>(), [true, false, true]);
    assert_eq!(weighted_score(&asserts, &results), Some(1.0));

    let obs = Obs::new("bcdefghijklmnop");
    let (pass, results) = evaluate_all(&asserts, &obs.get());
    assert!(!pass);
    assert_eq!(weighted_score(&asserts, &results), Some(0.0));
    assert_eq!(weighted_score(&asserts[1..2], &results[1..2]), None);
}

#[test]
fn results_serialize_without_empty_fields() {
    let r = on("- type: contains\n  value: a\n", "a");
    assert_eq!(
        serde_json::to_value(&r).unwrap(),
        json!({"kind": "contains", "pass": true})
    );
}

// --- load-time errors ----------------------------------------------------------

#[test]
fn unknown_type_names_the_line_and_suggests() {
    let err = parse_err("- type: contains\n  value: a\n- value: b\n  type: contans\n");
    assert!(err.message.starts_with("evals/t.yaml:4:"), "{}", err.message);
    assert!(err.message.contains("unknown variant `contans`"), "{}", err.message);
    // Only the closest name is offered.
    assert_eq!(err.hints[0], "did you mean 'contains'?", "{:?}", err.hints);

    let err = parse_err("- type: max-cost\n  value: 1\n");
    assert_eq!(err.hints[0], "did you mean 'max-cost-usd'?", "{:?}", err.hints);
}

#[test]
fn unknown_key_names_its_line_and_suggests() {
    let err = parse_err("- type: contains\n  valeu: a\n");
    assert!(err.message.starts_with("evals/t.yaml:2:"), "{}", err.message);
    assert!(err.message.contains("unknown field `valeu`"), "{}", err.message);
    assert_eq!(err.hints[0], "did you mean 'value'?");
    assert_eq!(err.hints[1], "known keys here: type, value, not, weight");

    // A key another type takes is still unknown here.
    let err = parse_err("- type: grounded\n  threshhold: 0.5\n");
    assert!(err.message.starts_with("evals/t.yaml:2:"), "{}", err.message);
    assert_eq!(err.hints[0], "did you mean 'threshold'?");
    let err = parse_err("- type: contains\n  value: a\n  path: $.a\n");
    assert!(err.message.starts_with("evals/t.yaml:3:"), "{}", err.message);

    // Keys before `type` are checked once the type is known.
    let err = parse_err("- path: $.a\n  type: contains\n  value: a\n");
    assert!(err.message.contains("unknown field `path`"), "{}", err.message);
}

#[test]
fn missing_type_and_value_are_errors() {
    let err = parse_err("- value: a\n");
    assert!(err.message.contains("missing field `type`"), "{}", err.message);
    let err = parse_err("- type: regex\n");
    assert!(err.message.starts_with("evals/t.yaml:1:"), "{}", err.message);
    assert!(
        err.message.ends_with("`regex` assertion: missing `value` (a regex)"),
        "{}",
        err.message
    );
    let err = parse_err("- type: json-path\n  value: 1\n");
    assert!(err.message.contains("missing `path`"), "{}", err.message);
}

#[test]
fn wrong_value_shapes_are_errors() {
    for (yaml, want) in [
        (
            "- type: max-chars\n  value: lots\n",
            "`value` must be a whole number ≥ 0, got a string",
        ),
        (
            "- type: max-chars\n  value: -3\n",
            "`value` must be a whole number ≥ 0, got -3",
        ),
        ("- type: contains-all\n  value: []\n", "`value` is an empty list"),
        (
            "- type: contains\n  value: ''\n",
            "`value` is empty, so the check cannot fail",
        ),
        (
            "- type: json-schema\n  value: object\n",
            "`value` must be a JSON Schema mapping, got a string",
        ),
        (
            "- type: grounded\n  threshold: 1.5\n",
            "`threshold` must be between 0 and 1, got 1.5",
        ),
        (
            "- type: max-cost-usd\n  value: -1\n",
            "`value` must be a number of US dollars ≥ 0, got -1",
        ),
        (
            "- type: contains\n  value: a\n  weight: -1\n",
            "`weight` must be a number ≥ 0, got -1",
        ),
        (
            "- type: not-contains\n  value: a\n  not: true\n",
            "`not: true` on `not-contains` is a double negative; use `contains`",
        ),
    ] {
        let err = parse_err(yaml);
        assert!(err.message.starts_with("evals/t.yaml:1:"), "{}", err.message);
        assert!(err.message.ends_with(want), "{yaml}: {}", err.message);
    }
    // Shapes read with the type known are reported at the value itself.
    for yaml in [
        "- type: contains\n  value: [a]\n",
        "- type: contains-any\n  value: billing\n",
    ] {
        let err = parse_err(yaml);
        assert!(err.message.starts_with("evals/t.yaml:2:"), "{}", err.message);
    }
    let err = parse_err("- type: contains\n  value: ~\n");
    assert!(
        err.message.ends_with("`contains` assertion: `value` is empty"),
        "{}",
        err.message
    );
    let err = parse_err("- type: contains\n  value: a\n  not: maybe\n");
    assert!(err.message.starts_with("evals/t.yaml:3:"), "{}", err.message);
}

#[test]
fn invalid_regex_schema_and_path_fail_at_load() {
    let err = parse_err("- type: contains\n  value: a\n- type: regex\n  value: \"a(b\"\n");
    assert!(err.message.starts_with("evals/t.yaml:3:"), "{}", err.message);
    assert!(
        err.message
            .ends_with("`regex` assertion: invalid regex \"a(b\": unclosed group"),
        "{}",
        err.message
    );
    let err = parse_err("- type: json-schema\n  value: {type: objekt}\n");
    assert!(
        err.message.contains("`json-schema` assertion: invalid JSON Schema"),
        "{}",
        err.message
    );
    let err = parse_err("- type: json-path\n  path: $.items[*]\n");
    assert!(err.message.contains("wildcards are not supported"), "{}", err.message);
}

#[test]
fn validate_catches_what_code_builds() {
    assert!(
        Assertion::new(Check::Regex(Pattern::new("a(")))
            .validate()
            .unwrap_err()
            .contains("unclosed group")
    );
    let schema = Schema::new(json!({"minLength": "three"}));
    assert!(Assertion::new(Check::JsonSchema(Some(schema))).validate().is_err());
    // Remote references are never fetched: the schema does not compile.
    let remote = Schema::new(json!({"$ref": "https://example.com/schema.json"}));
    assert!(Assertion::new(Check::JsonSchema(Some(remote))).validate().is_err());
    let path = JsonPath::new("items");
    assert!(
        Assertion::new(Check::JsonPath { path, value: None })
            .validate()
            .is_err()
    );
    let mut not_regex = Assertion::new(Check::NotRegex(Pattern::new("x")));
    assert!(not_regex.validate().is_ok());
    not_regex.not = true;
    assert!(not_regex.validate().unwrap_err().contains("double negative"));
    // An unvalidated bad regex fails its cases with the reason instead of panicking.
    let bad = Assertion::new(Check::Regex(Pattern::new("(")));
    assert!(fails(&bad.evaluate(&Obs::new("x").get())).starts_with("invalid regex"));
}

#[test]
fn every_type_parses_from_minimal_yaml() {
    for ty in TYPES {
        let body = match *ty {
            "is-json" | "finish-not-length" | "refusal" | "json-schema" | "cites-sources" | "grounded" => "",
            "json-path" => "  path: $.a\n",
            "contains-any" | "contains-all" => "  value: [a]\n",
            "max-cost-usd" => "  value: 0.5\n",
            _ if ty.starts_with("max-") || ty.starts_with("min-") => "  value: 5\n",
            _ => "  value: a\n",
        };
        let a = one(&format!("- type: {ty}\n{body}"));
        assert_eq!(a.check.type_name(), *ty);
        assert_eq!(a.kind(), *ty);
    }
}

#[test]
fn assertions_can_be_shared_across_threads() {
    fn shared<T: Send + Sync + Clone>() {}
    shared::<Assertion>();
}
