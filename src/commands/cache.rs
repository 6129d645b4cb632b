use serde::Serialize;

use crate::cli::{Ctx, ExitStatus, Format};
use crate::error::Result;
use crate::eval::cache::{self, Cache};
use crate::report;

/// Manage the response cache of `promptctl eval`
#[derive(clap::Args, Debug)]
pub struct CacheArgs {
    #[command(subcommand)]
    pub action: CacheAction,
}

#[derive(clap::Subcommand, Debug)]
pub enum CacheAction {
    /// Delete every cached response (.promptctl/cache)
    Clear,
}

#[derive(Serialize)]
struct ClearReport {
    dir: String,
    entries: u64,
    bytes: u64,
}

pub fn run(ctx: &Ctx, args: &CacheArgs) -> Result<ExitStatus> {
    ctx.require_format("cache", &[Format::Text, Format::Json])?;
    let project = ctx.project()?;
    match args.action {
        CacheAction::Clear => {
            let cleared = Cache::new(&project.root).clear()?;
            let r = ClearReport {
                dir: cache::DIR.to_string(),
                entries: cleared.entries,
                bytes: cleared.bytes,
            };
            match ctx.format {
                Format::Json => ctx.ui.out(&report::json(&r)?),
                _ => ctx.ui.out(&format!(
                    "removed {} cached response{} ({:.1} kB) from {}\n",
                    r.entries,
                    if r.entries == 1 { "" } else { "s" },
                    r.bytes as f64 / 1000.0,
                    r.dir
                )),
            }
            Ok(ExitStatus::Success)
        }
    }
}
