//! Streaming aggregates of one suite × target: fold [`CaseRecord`]s in as
//! they finish, read the figures at the end.
//!
//! Memory per case is bounded and small: the token and latency
//! distributions keep one `u32` per case each (12 bytes; exact percentiles
//! by sorting at the end, no sketch error), the per-case outcome keeps the
//! case name and a status, and failure reasons are kept for the first
//! [`MAX_FAILURES`] failing cases only. Outputs are never kept: they are in
//! the run file.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::eval::guard::GuardPath;
use crate::eval::result::{CaseRecord, ErrorKind, Status};

/// Failing cases whose reasons are kept for the report.
pub const MAX_FAILURES: usize = 1000;

/// A distribution of per-case values.
#[derive(Debug, Clone, Default)]
pub struct Dist {
    values: Vec<u32>,
    sum: u64,
}

impl Dist {
    pub fn add(&mut self, v: u64) {
        self.values.push(u32::try_from(v).unwrap_or(u32::MAX));
        self.sum += v;
    }

    pub fn summary(&mut self) -> Option<Summary> {
        if self.values.is_empty() {
            return None;
        }
        self.values.sort_unstable();
        let n = self.values.len();
        Some(Summary {
            n: n as u64,
            mean: self.sum as f64 / n as f64,
            p50: percentile(&self.values, 50.0),
            p95: percentile(&self.values, 95.0),
            max: u64::from(self.values[n - 1]),
        })
    }
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[u32], p: f64) -> u64 {
    let n = sorted.len();
    let rank = ((p / 100.0) * n as f64).ceil() as usize;
    u64::from(sorted[rank.clamp(1, n) - 1])
}

/// Mean and nearest-rank percentiles.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Cases measured.
    pub n: u64,
    pub mean: f64,
    pub p50: u64,
    pub p95: u64,
    pub max: u64,
}

/// How many JSON answers took each path through the structured-output guard.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuardCounts {
    pub first: u64,
    pub corrected: u64,
    pub fallback: u64,
    pub invalid: u64,
    /// Corrective retries sent, over all cases.
    pub corrections: u64,
}

/// A case that did not pass, with its reasons.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    pub case: String,
    pub status: Status,
    /// Why it has no answer, for `error` cases.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorKind>,
    pub reasons: Vec<String>,
}

/// A case's name and outcome, for base/head comparisons.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseOutcome {
    pub case: String,
    pub status: Status,
}

/// The figures of one suite × target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    pub cases: u64,
    pub passed: u64,
    pub failed: u64,
    pub errored: u64,
    pub skipped: u64,
    /// Passing weight over the weight of the cases that ran (errors count
    /// as failures; skipped cases are left out). 1 when nothing ran.
    pub pass_rate: f64,
    /// Per case, all calls of the case included.
    pub input_tokens: Option<Summary>,
    pub output_tokens: Option<Summary>,
    /// False when any case's usage was counted by promptctl, not reported.
    pub tokens_exact: bool,
    /// At catalog prices, over the cases that have a price.
    pub cost_usd: f64,
    /// `cost_usd` per case that has a price.
    pub cost_per_call_usd: Option<f64>,
    /// Cases without a price (model not in the catalog).
    pub unpriced: u64,
    /// Paid for in this run: not cached, not replayed.
    pub spent_usd: f64,
    /// Per case, over the cases whose calls were timed.
    pub latency_ms: Option<Summary>,
    pub calls: u64,
    pub retries: u64,
    pub cache_hits: u64,
    pub replayed: u64,
    /// Final answers cut off at the output cap (finish reason `length`).
    pub truncated: u64,
    pub truncated_share: f64,
    /// Present for JSON prompts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guard: Option<GuardCounts>,
    /// Cases that ended in an error, by kind.
    pub errors: BTreeMap<ErrorKind, u64>,
}

/// Accumulates [`CaseRecord`]s of one suite × target.
#[derive(Debug, Clone, Default)]
pub struct Aggregate {
    cases: u64,
    passed: u64,
    failed: u64,
    errored: u64,
    skipped: u64,
    weight_ran: ExactSum,
    weight_passed: ExactSum,
    input: Dist,
    output: Dist,
    latency: Dist,
    tokens_exact: bool,
    any_tokens: bool,
    cost: ExactSum,
    priced: u64,
    unpriced: u64,
    spent: ExactSum,
    calls: u64,
    retries: u64,
    cache_hits: u64,
    replayed: u64,
    truncated: u64,
    answered: u64,
    guard: Option<GuardCounts>,
    errors: BTreeMap<ErrorKind, u64>,
    failures: Vec<Failure>,
    failures_dropped: u64,
    /// By case index; filled as cases finish in any order.
    outcomes: Vec<Option<CaseOutcome>>,
}

/// A sum that does not depend on the order of its terms: cases finish in
/// any order, and the same run must give the same figures. Each term is
/// rounded to 1e-15 and added as an integer.
#[derive(Debug, Default, Clone, Copy)]
struct ExactSum(i128);

impl ExactSum {
    const SCALE: f64 = 1e15;

    fn add(&mut self, x: f64) {
        self.0 += (x * Self::SCALE).round() as i128;
    }

    fn get(self) -> f64 {
        self.0 as f64 / Self::SCALE
    }
}

impl Aggregate {
    pub fn new(case_count: usize) -> Aggregate {
        Aggregate {
            tokens_exact: true,
            outcomes: Vec::with_capacity(case_count),
            ..Aggregate::default()
        }
    }

    pub fn add(&mut self, r: &CaseRecord) {
        self.cases += 1;
        match r.status {
            Status::Pass => self.passed += 1,
            Status::Fail => self.failed += 1,
            Status::Error => self.errored += 1,
            Status::Skipped => self.skipped += 1,
        }
        if r.status != Status::Skipped {
            self.weight_ran.add(r.weight);
            if r.status == Status::Pass {
                self.weight_passed.add(r.weight);
            }
        }
        if let Some(t) = r.input_tokens {
            self.input.add(t);
            self.any_tokens = true;
            self.tokens_exact &= r.tokens_reported;
        }
        if let Some(t) = r.output_tokens {
            self.output.add(t);
        }
        if let Some(ms) = r.latency_ms {
            self.latency.add(ms);
        }
        if r.output.is_some() {
            self.answered += 1;
            match r.cost_usd {
                Some(c) => {
                    self.cost.add(c);
                    self.priced += 1;
                }
                None => self.unpriced += 1,
            }
        }
        self.spent.add(r.spent_usd);
        self.calls += u64::from(r.calls);
        self.retries += u64::from(r.retries);
        self.cache_hits += u64::from(r.cache_hits);
        self.replayed += u64::from(r.replayed);
        if r.truncated() {
            self.truncated += 1;
        }
        if let Some(g) = &r.guard {
            let c = self.guard.get_or_insert_with(GuardCounts::default);
            match g.path {
                GuardPath::First => c.first += 1,
                GuardPath::Corrected => c.corrected += 1,
                GuardPath::Fallback => c.fallback += 1,
                GuardPath::Invalid => c.invalid += 1,
            }
            c.corrections += u64::from(g.corrections);
        }
        if let Some(e) = &r.error {
            *self.errors.entry(e.kind).or_default() += 1;
        }
        if r.status != Status::Pass {
            if self.failures.len() < MAX_FAILURES {
                self.failures.push(Failure {
                    case: r.case.clone(),
                    status: r.status,
                    error: r.error.as_ref().map(|e| e.kind),
                    reasons: r.reasons(),
                });
            } else {
                self.failures_dropped += 1;
            }
        }
        if self.outcomes.len() <= r.index {
            self.outcomes.resize(r.index + 1, None);
        }
        self.outcomes[r.index] = Some(CaseOutcome {
            case: r.case.clone(),
            status: r.status,
        });
    }

    /// The figures, the failures (in case order) and the per-case outcomes.
    pub fn finish(mut self) -> (Stats, Vec<Failure>, u64, Vec<CaseOutcome>) {
        // Nothing ran, or every case that ran has weight 0: nothing gates.
        let (weight_ran, weight_passed) = (self.weight_ran.get(), self.weight_passed.get());
        let pass_rate = if weight_ran > 0.0 {
            weight_passed / weight_ran
        } else {
            1.0
        };
        let stats = Stats {
            cases: self.cases,
            passed: self.passed,
            failed: self.failed,
            errored: self.errored,
            skipped: self.skipped,
            pass_rate,
            input_tokens: self.input.summary(),
            output_tokens: self.output.summary(),
            tokens_exact: self.tokens_exact || !self.any_tokens,
            cost_usd: self.cost.get(),
            cost_per_call_usd: (self.priced > 0).then(|| self.cost.get() / self.priced as f64),
            unpriced: self.unpriced,
            spent_usd: self.spent.get(),
            latency_ms: self.latency.summary(),
            calls: self.calls,
            retries: self.retries,
            cache_hits: self.cache_hits,
            replayed: self.replayed,
            truncated: self.truncated,
            truncated_share: if self.answered > 0 {
                self.truncated as f64 / self.answered as f64
            } else {
                0.0
            },
            guard: self.guard,
            errors: self.errors,
        };
        let order: std::collections::HashMap<&str, usize> = self
            .outcomes
            .iter()
            .enumerate()
            .filter_map(|(i, o)| o.as_ref().map(|o| (o.case.as_str(), i)))
            .collect();
        self.failures
            .sort_by_key(|f| order.get(f.case.as_str()).copied().unwrap_or(usize::MAX));
        let outcomes = self.outcomes.into_iter().flatten().collect();
        (stats, self.failures, self.failures_dropped, outcomes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_do_not_depend_on_the_order_cases_finish_in() {
        // Plain f64 addition gives 0.6000000000000001 one way and 0.6 the other.
        let terms = [0.1, 0.2, 0.3, 1e-6, 2.5e-7];
        let mut a = ExactSum::default();
        let mut b = ExactSum::default();
        for t in terms {
            a.add(t);
        }
        for t in terms.iter().rev() {
            b.add(*t);
        }
        assert_eq!(a.get().to_bits(), b.get().to_bits());
        assert!((a.get() - 0.60000125).abs() < 1e-15);
    }
    use crate::eval::guard::GuardOutcome;
    use crate::eval::result::CaseError;
    use crate::provider::FinishReason;

    fn rec(index: usize, status: Status, input: u64, output: u64, latency: Option<u64>) -> CaseRecord {
        let mut r = CaseRecord::new("evals/a.yaml", "openai:gpt-4o-mini", index, &format!("c{index}"), 1.0);
        r.status = status;
        if status != Status::Skipped && status != Status::Error {
            r.output = Some("x".into());
            r.input_tokens = Some(input);
            r.output_tokens = Some(output);
            r.cost_usd = Some(0.001);
            r.spent_usd = 0.001;
            r.latency_ms = latency;
            r.calls = 1;
            r.finish_reason = Some(FinishReason::Stop);
        }
        r
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let mut d = Dist::default();
        for v in 1..=100 {
            d.add(v);
        }
        let s = d.summary().unwrap();
        assert_eq!((s.p50, s.p95, s.max, s.n), (50, 95, 100, 100));
        assert!((s.mean - 50.5).abs() < 1e-9);
        let mut one = Dist::default();
        one.add(7);
        let s = one.summary().unwrap();
        assert_eq!((s.p50, s.p95), (7, 7));
        assert_eq!(Dist::default().summary(), None);
    }

    #[test]
    fn folds_cases_in_any_order() {
        let mut a = Aggregate::new(4);
        let mut failed = rec(2, Status::Fail, 30, 8, Some(300));
        failed.asserts.push(crate::eval::assert::AssertionResult {
            kind: "contains".into(),
            pass: false,
            score: None,
            reason: Some("output does not contain \"x\"".into()),
        });
        failed.finish_reason = Some(FinishReason::Length);
        failed.tokens_reported = false;
        failed.guard = Some(GuardOutcome {
            path: GuardPath::Corrected,
            corrections: 1,
            first_error: None,
        });
        let mut err = rec(3, Status::Error, 0, 0, None);
        err.error = Some(CaseError {
            kind: ErrorKind::RateLimited,
            message: "429".into(),
            status: Some(429),
        });
        a.add(&failed);
        a.add(&err);
        a.add(&rec(0, Status::Pass, 10, 4, Some(100)));
        a.add(&rec(1, Status::Skipped, 0, 0, None));
        let (s, failures, dropped, outcomes) = a.finish();
        assert_eq!((s.cases, s.passed, s.failed, s.errored, s.skipped), (4, 1, 1, 1, 1));
        assert!((s.pass_rate - 1.0 / 3.0).abs() < 1e-9, "skipped cases are left out");
        assert!(!s.tokens_exact);
        assert_eq!(s.input_tokens.unwrap().p95, 30);
        assert_eq!(s.latency_ms.unwrap().p50, 100);
        assert_eq!(s.truncated, 1);
        assert!((s.truncated_share - 0.5).abs() < 1e-9);
        assert!((s.cost_per_call_usd.unwrap() - 0.001).abs() < 1e-12);
        assert_eq!(s.errors[&ErrorKind::RateLimited], 1);
        assert_eq!(s.guard.unwrap().corrected, 1);
        assert_eq!(dropped, 0);
        let names: Vec<&str> = failures.iter().map(|f| f.case.as_str()).collect();
        assert_eq!(names, ["c1", "c2", "c3"], "failures come in case order");
        assert_eq!(failures[1].reasons, ["contains: output does not contain \"x\""]);
        let statuses: Vec<Status> = outcomes.iter().map(|o| o.status).collect();
        assert_eq!(statuses, [Status::Pass, Status::Skipped, Status::Fail, Status::Error]);
    }
}
