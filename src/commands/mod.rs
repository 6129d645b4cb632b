//! One file per subcommand: an `Args` struct (its doc comments are the help)
//! and a `run` function. Commands are glue: resolve settings, call the
//! domain, hand the model to a renderer.

pub mod cache;
pub mod canary;
pub mod check;
pub mod completions;
pub mod diff;
pub mod eval;
pub mod export;
pub mod history;
pub mod init;
pub mod list;
pub mod promote;
pub mod release;
pub mod render;
pub mod resolve;
pub mod rollback;
pub mod status;
pub mod tokens;

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::error::{Error, Result};

pub use crate::fs::write_atomic;

/// Variables from `--vars FILE` (YAML or JSON map) then `--var k=v` pairs.
pub fn parse_vars(pairs: &[String], file: Option<&Path>) -> Result<BTreeMap<String, Value>> {
    let mut vars = BTreeMap::new();
    if let Some(f) = file {
        let text = std::fs::read_to_string(f).map_err(|e| Error::io(f, &e))?;
        let is_json = f.extension().is_some_and(|e| e == "json");
        let map: BTreeMap<String, Value> = if is_json {
            serde_json::from_str(&text).map_err(|e| {
                Error::at(f, Some(e.line()), Some(e.column()), format!("invalid JSON: {e}"))
                    .hint("--vars takes a JSON or YAML map of variable names to values")
            })?
        } else {
            crate::yaml::from_str(&text, f, 0)
                .map_err(|e| e.hint("--vars takes a JSON or YAML map of variable names to values"))?
        };
        vars.extend(map);
    }
    for p in pairs {
        let (k, v) = p.split_once('=').ok_or_else(|| {
            Error::input(format!("--var '{p}' is not of the form NAME=VALUE"))
                .hint("for structured values (lists, maps) use --vars FILE.yaml")
        })?;
        if k.is_empty() {
            return Err(Error::input(format!("--var '{p}' has an empty name")));
        }
        vars.insert(k.to_string(), Value::String(v.to_string()));
    }
    Ok(vars)
}
