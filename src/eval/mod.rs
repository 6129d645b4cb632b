//! Eval suites and their evaluation.

pub mod suite;
