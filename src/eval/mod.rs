//! Eval suites: the checks that decide whether a model output is good enough,
//! and the runner that gets the outputs.
//!
//! `assert` owns the deterministic assertions on one output; `suite` the
//! suite files; `key` the identity of a request; `cache` and `record` the
//! stored responses (local cache, committed recordings); `guard` the
//! structured-output guard; `stats` the streaming aggregates; `runfile` the
//! per-run results file; `run` the async runner that ties them together.

pub mod assert;
pub mod cache;
pub mod compare;
pub mod estimate;
pub mod guard;
pub mod key;
pub mod matrix;
pub mod note;
pub mod record;
pub mod result;
pub mod run;
pub mod runfile;
pub mod stats;
pub mod suite;
