//! Paired wall-clock comparison of commands, for benchmarks on noisy
//! machines (scripts/bench-diff.sh).
//!
//!     cargo run --release --example paired -- [--prepare SHELL] N CMD [ARGS...] -- CMD [ARGS...] [-- ...]
//!
//! Runs every command N times, taking turns run by run (A B B A, A B B A,
//! ...), with stdout and stderr to /dev/null, after three warm-up runs each.
//! The last command is the reference. For each command it prints the median
//! wall time and the median, first and third quartile of its per-turn ratio
//! to the reference: a command and the reference run milliseconds apart, so
//! a slow minute on a shared machine slows both and leaves their ratio, where
//! separate runs of each (or hyperfine's one command after the other) can put
//! it on one side only.
//!
//! `--prepare SHELL` runs `sh -c SHELL` before every run (warm-ups too),
//! untimed, as hyperfine's `--prepare` does: to remove a cache, say.

use std::process::{Command, Stdio};
use std::time::Instant;

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: paired [--prepare SHELL] N CMD [ARGS...] -- CMD [ARGS...] [-- ...]";
    let prepare = match args.first().map(String::as_str) {
        Some("--prepare") if args.len() > 1 => {
            let shell = args.remove(1);
            args.remove(0);
            Some(shell)
        }
        _ => None,
    };
    let Some((n, rest)) = args.split_first() else {
        eprintln!("{usage}");
        std::process::exit(2);
    };
    let n: usize = n.parse().unwrap_or_else(|_| {
        eprintln!("{usage}");
        std::process::exit(2)
    });
    let cmds: Vec<&[String]> = rest.split(|a| a == "--").filter(|c| !c.is_empty()).collect();
    if cmds.len() < 2 || n == 0 {
        eprintln!("{usage}");
        std::process::exit(2);
    }
    let run = |cmd: &[String]| -> f64 {
        if let Some(shell) = &prepare {
            let ok = Command::new("sh")
                .args(["-c", shell])
                .stdout(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if !ok {
                eprintln!("--prepare {shell:?} failed");
                std::process::exit(1);
            }
        }
        let start = Instant::now();
        let status = Command::new(&cmd[0])
            .args(&cmd[1..])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap_or_else(|e| {
                eprintln!("cannot run {}: {e}", cmd[0]);
                std::process::exit(1)
            });
        let t = start.elapsed().as_secs_f64() * 1e3;
        if !status.success() {
            eprintln!("{} failed: {status}", cmd.join(" "));
            std::process::exit(1);
        }
        t
    };
    for _ in 0..3 {
        for c in &cmds {
            run(c);
        }
    }
    let mut times = vec![Vec::with_capacity(n); cmds.len()];
    for i in 0..n {
        let order: Vec<usize> = if i % 2 == 0 {
            (0..cmds.len()).collect()
        } else {
            (0..cmds.len()).rev().collect()
        };
        for c in order {
            times[c].push(run(cmds[c]));
        }
    }
    let reference = times.len() - 1;
    println!("| command | median wall | ratio to the last: median (quartiles) |");
    println!("|---|---:|---:|");
    for (c, cmd) in cmds.iter().enumerate() {
        let ratios: Vec<f64> = times[c].iter().zip(&times[reference]).map(|(a, b)| a / b).collect();
        let (q1, m, q3) = quartiles(ratios);
        let (_, wall, _) = quartiles(times[c].clone());
        println!("| {} | {wall:.2} ms | {m:.2}× ({q1:.2}–{q3:.2}) |", cmd.join(" "));
    }
}

fn quartiles(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    (at(0.25), at(0.5), at(0.75))
}
