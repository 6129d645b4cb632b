//! The terminal: colour on or off, stdout for data, stderr for status.
//!
//! Data goes to stdout through [`Ui::out`]; a closed pipe (`promptctl list |
//! head`) ends the process quietly with success, as ripgrep does.

use std::io::{IsTerminal, Write};

use anstyle::{AnsiColor, Style};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone)]
pub struct Ui {
    pub color: bool,
    pub quiet: bool,
    pub stderr_is_terminal: bool,
}

pub const GREEN: Style = AnsiColor::Green.on_default().bold();
pub const RED: Style = AnsiColor::Red.on_default().bold();
pub const YELLOW: Style = AnsiColor::Yellow.on_default().bold();
pub const CYAN: Style = AnsiColor::Cyan.on_default().bold();
pub const DIM: Style = Style::new().dimmed();
pub const BOLD: Style = Style::new().bold();

impl Ui {
    pub fn new(choice: ColorChoice, quiet: bool) -> Ui {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let color = match choice {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => !no_color && std::io::stdout().is_terminal(),
        };
        Ui {
            color,
            quiet,
            stderr_is_terminal: std::io::stderr().is_terminal(),
        }
    }

    /// A plain Ui for tests and library callers.
    pub fn plain() -> Ui {
        Ui {
            color: false,
            quiet: true,
            stderr_is_terminal: false,
        }
    }

    /// Wrap `text` in `style` when colour is on.
    pub fn paint(&self, style: Style, text: impl std::fmt::Display) -> String {
        if self.color {
            format!("{}{text}{}", style.render(), style.render_reset())
        } else {
            text.to_string()
        }
    }

    /// Write data to stdout.
    pub fn out(&self, text: &str) {
        let mut out = std::io::stdout().lock();
        if let Err(e) = out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                std::process::exit(0);
            }
            eprintln!("error: writing to stdout: {e}");
            std::process::exit(3);
        }
    }

    /// A cargo-style status line on stderr: right-aligned verb, then the object.
    pub fn status(&self, verb: &str, object: impl std::fmt::Display) {
        if self.quiet {
            return;
        }
        let verb = format!("{verb:>12}");
        let verb = if self.stderr_is_terminal && self.color {
            format!("{}{verb}{}", GREEN.render(), GREEN.render_reset())
        } else {
            verb
        };
        eprintln!("{verb} {object}");
    }

    pub fn warn(&self, msg: impl std::fmt::Display) {
        eprintln!("warning: {msg}");
    }

    pub fn note(&self, msg: impl std::fmt::Display) {
        if !self.quiet {
            eprintln!("note: {msg}");
        }
    }
}
