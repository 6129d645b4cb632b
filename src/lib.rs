//! promptctl: prompts as versioned, budgeted, tested code in git.
//!
//! The library is the product; the `promptctl` binary is one client of it.
//! Only `cli`, `commands` and `ui` know about clap or the terminal.

pub mod affinity;
pub mod budget;
pub mod catalog;
pub mod ci;
pub mod cli;
pub mod commands;
pub mod config;
pub mod diff;
pub mod error;
pub mod eval;
pub mod fs;
pub mod git;
pub mod measure;
pub mod project;
pub mod prompt;
pub mod provider;
pub mod release;
pub mod report;
pub mod tokens;
pub mod ui;
pub mod yaml;

pub use error::{Error, ErrorKind, Result};
