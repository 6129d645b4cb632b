//! Sticky canary assignment. The function is part of the export format: an
//! application in any language must compute the same bucket, so it uses
//! SHA-256 (in every standard library) and is specified byte for byte:
//!
//! ```text
//! digest = SHA-256( UTF-8( name + "\n" + key ) )
//! bucket = big-endian unsigned 64-bit integer of digest[0..8]  mod 100
//! canary when bucket < weight            (weight 0..=100)
//! ```
//!
//! Example: name `support/triage`, key `user-42` → digest c2c0a7b28d6313b7… → bucket 83.

use serde::Serialize;
use sha2::{Digest, Sha256};

/// The caller's bucket 0..=99 for `key` on prompt `name`.
pub fn bucket(name: &str, key: &str) -> u8 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update(key.as_bytes());
    let digest = h.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    (u64::from_be_bytes(first) % 100) as u8
}

/// Whether a caller in `bucket` gets the canary at `weight` percent.
pub fn in_canary(bucket: u8, weight: u8) -> bool {
    bucket < weight
}

/// The bucketing rule as data, for the export bundle.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Spec {
    pub algorithm: &'static str,
    pub input: &'static str,
    pub bucket: &'static str,
    pub rule: &'static str,
    pub example: Example,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Example {
    pub name: &'static str,
    pub key: &'static str,
    pub bucket: u8,
}

pub fn spec() -> Spec {
    Spec {
        algorithm: "sha256",
        input: "UTF-8 bytes of <prompt name> + \"\\n\" + <caller key>",
        bucket: "first 8 bytes of the digest as a big-endian unsigned 64-bit integer, modulo 100",
        rule: "the caller gets the canary version when bucket < canary.weight, else the stable version",
        example: Example {
            name: "support/triage",
            key: "user-42",
            bucket: bucket("support/triage", "user-42"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_documented_test_vectors() {
        // Computed independently: printf 'support/triage\nuser-42' | sha256sum
        // (first 8 bytes c2c0a7b28d6313b7 = 14033400824204563383; mod 100 = 83).
        assert_eq!(bucket("support/triage", "user-42"), 83);
        assert_eq!(bucket("support/triage", ""), 75);
        assert_eq!(spec().example.bucket, 83);
    }

    #[test]
    fn ten_percent_of_keys_land_in_a_ten_percent_canary() {
        let n = 10_000;
        let hits = (0..n)
            .filter(|i| in_canary(bucket("support/triage", &format!("user-{i}")), 10))
            .count();
        let share = hits as f64 / n as f64;
        assert!((share - 0.10).abs() <= 0.015, "share {share}");
    }

    #[test]
    fn the_same_key_always_gets_the_same_bucket_and_names_differ() {
        for i in 0..100 {
            let k = format!("k{i}");
            assert_eq!(bucket("a", &k), bucket("a", &k));
        }
        let differ = (0..100)
            .filter(|i| bucket("a", &format!("k{i}")) != bucket("b", &format!("k{i}")))
            .count();
        assert!(differ > 80, "names should shuffle buckets, {differ} of 100 differ");
    }

    #[test]
    fn weight_bounds() {
        assert!(!in_canary(0, 0));
        assert!(in_canary(99, 100));
        assert!(in_canary(9, 10) && !in_canary(10, 10));
    }
}
