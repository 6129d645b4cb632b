//! Renderers: turn report models (plain `Serialize` data from the domain
//! modules) into text, JSON, markdown... Nothing here computes a figure.

pub mod check;
pub mod compare;
pub mod diff;
pub mod eval;
pub mod html;
pub mod release;
pub mod text;

use serde::Serialize;

use crate::error::{Error, Result};

/// Pretty JSON with a trailing newline. Key order is the struct field order.
pub fn json<T: Serialize + ?Sized>(value: &T) -> Result<String> {
    let mut s = serde_json::to_string_pretty(value).map_err(|e| Error::external(format!("serializing JSON: {e}")))?;
    s.push('\n');
    Ok(s)
}

/// USD with precision that suits the magnitude: `$12.34`, `$0.0123`, `$0.000123`.
pub fn usd(x: f64) -> String {
    let a = x.abs();
    let sign = if x < 0.0 { "-" } else { "" };
    if a == 0.0 {
        "$0".to_string()
    } else if a >= 100.0 {
        format!("{sign}${a:.0}")
    } else if a >= 1.0 {
        format!("{sign}${a:.2}")
    } else if a >= 0.01 {
        format!("{sign}${a:.4}")
    } else {
        format!("{sign}${a:.6}")
    }
}

/// A signed USD delta: `+$0.0012`, `-$0.40`, `$0`.
pub fn usd_delta(x: f64) -> String {
    if x > 0.0 { format!("+{}", usd(x)) } else { usd(x) }
}

/// A token count, `≈` in front when it is an estimate.
pub fn tokens(n: u64, exact: bool) -> String {
    if exact { n.to_string() } else { format!("≈{n}") }
}

/// A signed count: `+12`, `-3`, `0`.
pub fn signed(n: i64) -> String {
    if n > 0 { format!("+{n}") } else { n.to_string() }
}

/// A percentage change `+12.5%`; `new` when the base is zero.
pub fn pct(base: f64, head: f64) -> String {
    if base == 0.0 {
        if head == 0.0 {
            "0%".to_string()
        } else {
            "new".to_string()
        }
    } else {
        let p = (head - base) / base * 100.0;
        if p > 0.0 {
            format!("+{p:.1}%")
        } else {
            format!("{p:.1}%")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_and_counts_format() {
        assert_eq!(usd(0.0), "$0");
        assert_eq!(usd(0.000217), "$0.000217");
        assert_eq!(usd(0.2168), "$0.2168");
        assert_eq!(usd(12.345), "$12.35");
        assert_eq!(usd(1234.5), "$1234");
        assert_eq!(usd_delta(0.5), "+$0.5000");
        assert_eq!(usd_delta(-0.5), "-$0.5000");
        assert_eq!(tokens(12, true), "12");
        assert_eq!(tokens(12, false), "≈12");
        assert_eq!(signed(3), "+3");
        assert_eq!(pct(100.0, 150.0), "+50.0%");
        assert_eq!(pct(100.0, 50.0), "-50.0%");
        assert_eq!(pct(0.0, 5.0), "new");
    }
}
