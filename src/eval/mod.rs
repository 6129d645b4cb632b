//! Eval suites: the checks that decide whether a model output is good enough.
//!
//! `assert` owns the deterministic assertions on one output; `suite` the
//! suite files. The runner, the cache and the base/head comparison build on them.

pub mod assert;
pub mod suite;
