//! CLI tests: the binary as a user runs it. One test binary, one module per
//! command; shared helpers in `env`.

mod env;

mod basics;
mod check;
mod compare;
mod diff;
mod eval;
mod html;
mod release;
