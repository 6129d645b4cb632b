//! Front-matter changes as structured field changes: the model, the output
//! cap and other request config, input variables, the output format and
//! schema, budgets, and descriptive metadata.
//!
//! Values are compared as JSON after parsing, so reformatting YAML (quotes,
//! flow vs block style, comments) is not a change; anything that parses to a
//! different value is.

use std::collections::BTreeSet;

use serde::Serialize;
use serde_json::Value;

use crate::prompt::{InputSchema, Prompt, render};

/// What a field governs; renderers group and order by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    /// The model (effective: the project default when the file names none).
    Model,
    /// `config.max_tokens`.
    OutputCap,
    /// Other `config` settings: temperature, top_p, stop, seed, ...
    Config,
    /// Input variables, required variables, defaults, the input schema.
    Input,
    /// Output format and schema.
    Output,
    /// `budget` limits.
    Budget,
    /// description, version, metadata, fallback_model.
    Metadata,
}

/// One changed field. `before`/`after` are `null` where the field is absent.
/// Set-like fields (variables, `required`, schema `properties`) also list
/// what was added and removed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldChange {
    /// Dotted path: `model`, `config.max_tokens`, `output.schema.required`.
    pub field: String,
    pub kind: FieldKind,
    pub before: Value,
    pub after: Value,
    pub added: Vec<String>,
    pub removed: Vec<String>,
}

/// Every field change from `old` to `new`; `old_model`/`new_model` are the
/// effective model ids.
pub fn changes(old: &Prompt, new: &Prompt, old_model: &str, new_model: &str) -> Vec<FieldChange> {
    let mut out = Vec::new();
    if old_model != new_model {
        out.push(leaf(
            "model",
            FieldKind::Model,
            Some(&old_model.into()),
            Some(&new_model.into()),
        ));
    }
    let (a, b) = (&old.front, &new.front);

    let ca = to_value(&a.config);
    let cb = to_value(&b.config);
    for key in union_keys(&ca, &cb) {
        let kind = if key == "max_tokens" {
            FieldKind::OutputCap
        } else {
            FieldKind::Config
        };
        diff(
            &format!("config.{key}"),
            kind,
            ca.get(&key),
            cb.get(&key),
            false,
            &mut out,
        );
    }

    input_changes(old, new, &mut out);

    let oa = a.output.as_ref();
    let ob = b.output.as_ref();
    let fa = oa.map(|o| to_value(&o.format)).unwrap_or_else(|| "text".into());
    let fb = ob.map(|o| to_value(&o.format)).unwrap_or_else(|| "text".into());
    diff(
        "output.format",
        FieldKind::Output,
        Some(&fa),
        Some(&fb),
        false,
        &mut out,
    );
    let sa = oa.and_then(|o| o.schema.as_ref());
    let sb = ob.and_then(|o| o.schema.as_ref());
    match (sa, sb) {
        (Some(x), Some(y)) => diff("output.schema", FieldKind::Output, Some(x), Some(y), true, &mut out),
        _ => diff("output.schema", FieldKind::Output, sa, sb, false, &mut out),
    }

    let ba = a
        .budget
        .as_ref()
        .map(to_value)
        .unwrap_or(Value::Object(Default::default()));
    let bb = b
        .budget
        .as_ref()
        .map(to_value)
        .unwrap_or(Value::Object(Default::default()));
    for key in union_keys(&ba, &bb) {
        diff(
            &format!("budget.{key}"),
            FieldKind::Budget,
            ba.get(&key),
            bb.get(&key),
            false,
            &mut out,
        );
    }

    for (field, x, y) in [
        (
            "description",
            a.description.as_ref().map(to_value),
            b.description.as_ref().map(to_value),
        ),
        (
            "fallback_model",
            a.fallback_model.as_ref().map(to_value),
            b.fallback_model.as_ref().map(to_value),
        ),
        ("version", a.version.clone(), b.version.clone()),
        ("metadata", a.metadata.clone(), b.metadata.clone()),
    ] {
        diff(field, FieldKind::Metadata, x.as_ref(), y.as_ref(), false, &mut out);
    }
    out.sort_by_key(|c| c.kind);
    out
}

fn input_changes(old: &Prompt, new: &Prompt, out: &mut Vec<FieldChange>) {
    // Variables: declared in input.schema or used by the template.
    let vars = |p: &Prompt| -> BTreeSet<String> {
        let mut v = p.declared_vars().unwrap_or_default();
        v.extend(render::used_vars(p).keys().cloned());
        v
    };
    set_change("input.variables", FieldKind::Input, &vars(old), &vars(new), out);
    set_change(
        "input.required",
        FieldKind::Input,
        &old.required_vars(),
        &new.required_vars(),
        out,
    );
    let (ia, ib) = (old.front.input.as_ref(), new.front.input.as_ref());
    let da = to_value(&old.defaults());
    let db = to_value(&new.defaults());
    for key in union_keys(&da, &db) {
        diff(
            &format!("input.default.{key}"),
            FieldKind::Input,
            da.get(&key),
            db.get(&key),
            false,
            out,
        );
    }
    let ha = ia.and_then(|i| i.history.as_ref()).map(to_value);
    let hb = ib.and_then(|i| i.history.as_ref()).map(to_value);
    diff("input.history", FieldKind::Input, ha.as_ref(), hb.as_ref(), false, out);
    // Schema details of variables present on both sides (types, enums,
    // descriptions); added/removed variables and `required` are above.
    if let (Some(InputSchema::Schema(Value::Object(x))), Some(InputSchema::Schema(Value::Object(y)))) =
        (ia.and_then(|i| i.schema.as_ref()), ib.and_then(|i| i.schema.as_ref()))
    {
        let (xo, yo) = (Value::Object(x.clone()), Value::Object(y.clone()));
        for key in union_keys(&xo, &yo) {
            match key.as_str() {
                "required" => {}
                "properties" => {
                    let (px, py) = (x.get("properties"), y.get("properties"));
                    if let (Some(Value::Object(px)), Some(Value::Object(py))) = (px, py) {
                        for (k, v) in px {
                            if let Some(w) = py.get(k) {
                                let path = format!("input.schema.properties.{k}");
                                diff(&path, FieldKind::Input, Some(v), Some(w), true, out);
                            }
                        }
                    }
                }
                _ => diff(
                    &format!("input.schema.{key}"),
                    FieldKind::Input,
                    x.get(&key),
                    y.get(&key),
                    true,
                    out,
                ),
            }
        }
    }
}

/// Compare two values at `path`. In a JSON Schema (`schema`), `properties`
/// and `required` are compared as sets and reported as added/removed names.
fn diff(path: &str, kind: FieldKind, a: Option<&Value>, b: Option<&Value>, schema: bool, out: &mut Vec<FieldChange>) {
    if a == b || (is_nothing(a) && is_nothing(b)) {
        return;
    }
    let last = path.rsplit('.').next().unwrap_or(path);
    match (a, b) {
        (Some(Value::Object(x)), Some(Value::Object(y))) => {
            if schema && last == "properties" {
                let kx: BTreeSet<String> = x.keys().cloned().collect();
                let ky: BTreeSet<String> = y.keys().cloned().collect();
                set_change(path, kind, &kx, &ky, out);
                for (k, v) in x {
                    if let Some(w) = y.get(k) {
                        diff(&format!("{path}.{k}"), kind, Some(v), Some(w), schema, out);
                    }
                }
            } else {
                let (xa, ya) = (Value::Object(x.clone()), Value::Object(y.clone()));
                for key in union_keys(&xa, &ya) {
                    diff(&format!("{path}.{key}"), kind, x.get(&key), y.get(&key), schema, out);
                }
            }
        }
        (Some(Value::Array(x)), Some(Value::Array(y))) if schema && last == "required" => {
            let names = |v: &Vec<Value>| -> BTreeSet<String> {
                v.iter()
                    .map(|s| s.as_str().map(String::from).unwrap_or_else(|| s.to_string()))
                    .collect()
            };
            set_change(path, kind, &names(x), &names(y), out);
        }
        _ => out.push(leaf(path, kind, a, b)),
    }
}

fn is_nothing(v: Option<&Value>) -> bool {
    matches!(v, None | Some(Value::Null))
}

fn leaf(path: &str, kind: FieldKind, a: Option<&Value>, b: Option<&Value>) -> FieldChange {
    FieldChange {
        field: path.to_string(),
        kind,
        before: a.cloned().unwrap_or(Value::Null),
        after: b.cloned().unwrap_or(Value::Null),
        added: Vec::new(),
        removed: Vec::new(),
    }
}

fn set_change(path: &str, kind: FieldKind, a: &BTreeSet<String>, b: &BTreeSet<String>, out: &mut Vec<FieldChange>) {
    if a == b {
        return;
    }
    let list = |s: &BTreeSet<String>| Value::Array(s.iter().cloned().map(Value::String).collect());
    out.push(FieldChange {
        field: path.to_string(),
        kind,
        before: list(a),
        after: list(b),
        added: b.difference(a).cloned().collect(),
        removed: a.difference(b).cloned().collect(),
    });
}

/// Keys of two objects: the first's in order, then the second's new ones.
fn union_keys(a: &Value, b: &Value) -> Vec<String> {
    let mut keys: Vec<String> = a.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default();
    if let Some(o) = b.as_object() {
        for k in o.keys() {
            if !keys.contains(k) {
                keys.push(k.clone());
            }
        }
    }
    keys
}

fn to_value<T: Serialize>(v: &T) -> Value {
    // Front-matter types are plain data (strings, numbers, maps): serializing
    // them to JSON cannot fail.
    serde_json::to_value(v).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn prompt(front: &str, body: &str) -> Prompt {
        let text = format!("---\n{front}---\n{body}");
        Prompt::parse("t", Path::new("prompts/t.prompt"), text.as_bytes()).unwrap()
    }

    fn fields(c: &[FieldChange]) -> Vec<&str> {
        c.iter().map(|f| f.field.as_str()).collect()
    }

    #[test]
    fn model_cap_and_config_changes() {
        let a = prompt(
            "model: openai:gpt-4o-mini\nconfig: {temperature: 0, max_tokens: 200}\n",
            "hi",
        );
        let b = prompt(
            "model: openai:gpt-4o\nconfig: {temperature: 0.7, max_tokens: 400, seed: 1}\n",
            "hi",
        );
        let c = changes(&a, &b, "openai:gpt-4o-mini", "openai:gpt-4o");
        assert_eq!(
            fields(&c),
            vec!["model", "config.max_tokens", "config.temperature", "config.seed"]
        );
        assert_eq!(c[0].kind, FieldKind::Model);
        assert_eq!(c[1].kind, FieldKind::OutputCap);
        assert_eq!((c[1].before.clone(), c[1].after.clone()), (200.into(), 400.into()));
        assert_eq!(c[3].before, Value::Null);
    }

    #[test]
    fn reformatting_is_not_a_change() {
        let a = prompt("config:\n  temperature: 0\n  max_tokens: 200  # cap\n", "hi");
        let b = prompt("config: {max_tokens: 200, temperature: 0}\n", "hi");
        assert!(changes(&a, &b, "m:x", "m:x").is_empty());
    }

    #[test]
    fn variables_and_required_are_sets() {
        let a = prompt(
            "input:\n  schema: {type: object, required: [q], properties: {q: {type: string}}}\n",
            "{{ q }}",
        );
        let b = prompt(
            "input:\n  schema: {type: object, required: [q, lang], properties: {q: {type: string, maxLength: 50}, lang: {type: string}}}\n",
            "{{ q }} {{ lang }}",
        );
        let c = changes(&a, &b, "m:x", "m:x");
        assert_eq!(
            fields(&c),
            vec![
                "input.variables",
                "input.required",
                "input.schema.properties.q.maxLength"
            ]
        );
        assert_eq!(c[0].added, vec!["lang"]);
        assert!(c[0].removed.is_empty());
        assert_eq!(c[1].added, vec!["lang"]);
        // Template-only variables count too.
        let d = prompt("", "{{ q }} {{ extra }}");
        let e = prompt("", "{{ q }}");
        let c = changes(&d, &e, "m:x", "m:x");
        assert_eq!(c[0].field, "input.variables");
        assert_eq!(c[0].removed, vec!["extra"]);
    }

    #[test]
    fn output_schema_required_and_properties() {
        let a = prompt(
            "output:\n  format: json\n  schema: {type: object, required: [a], properties: {a: {type: string}, b: {type: string}}}\n",
            "hi",
        );
        let b = prompt(
            "output:\n  format: json\n  schema: {type: object, required: [a, c], properties: {a: {type: integer}, c: {type: string}}}\n",
            "hi",
        );
        let c = changes(&a, &b, "m:x", "m:x");
        assert_eq!(
            fields(&c),
            vec![
                "output.schema.required",
                "output.schema.properties",
                "output.schema.properties.a.type"
            ]
        );
        assert_eq!(c[0].added, vec!["c"]);
        assert_eq!(c[1].added, vec!["c"]);
        assert_eq!(c[1].removed, vec!["b"]);
        // Adding a schema where there was none is one change.
        let t = prompt("", "hi");
        let c = changes(&t, &b, "m:x", "m:x");
        assert_eq!(fields(&c), vec!["output.format", "output.schema"]);
        assert_eq!(c[0].before, "text");
        assert_eq!(c[1].before, Value::Null);
    }

    #[test]
    fn budget_and_metadata() {
        let a = prompt("budget: {max_input_tokens: 600}\ndescription: old\n", "hi");
        let b = prompt(
            "budget: {max_input_tokens: 800, max_cost_per_call_usd: 0.001}\ndescription: new\n",
            "hi",
        );
        let c = changes(&a, &b, "m:x", "m:x");
        assert_eq!(
            fields(&c),
            vec!["budget.max_input_tokens", "budget.max_cost_per_call_usd", "description"]
        );
        assert_eq!(c[2].kind, FieldKind::Metadata);
    }

    #[test]
    fn defaults_are_compared_per_variable() {
        let a = prompt("input:\n  default: {tier: free}\n", "{{ tier }}");
        let b = prompt("input:\n  default: {tier: pro}\n", "{{ tier }}");
        let c = changes(&a, &b, "m:x", "m:x");
        assert_eq!(fields(&c), vec!["input.default.tier"]);
    }
}
