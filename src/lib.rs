//! promptctl: prompts as versioned, budgeted, tested code in git.
//!
//! The library is the product; the `promptctl` binary is one client of it.
//! Only `cli`, `commands` and `ui` know about clap or the terminal.

pub mod budget;
pub mod catalog;
pub mod error;
pub mod eval;
pub mod prompt;
pub mod tokens;
pub mod yaml;

pub use error::{Error, ErrorKind, Result};
