//! Eval suites: the checks that decide whether a model output is good enough.
//!
//! `assert` owns the deterministic assertions on one output. Suites, the
//! runner, the cache and the base/head comparison build on it.

pub mod assert;
