//! Retrying transient provider failures: owns the decision to try again and
//! how long to wait. What counts as transient is
//! [`ProviderError::retryable`]; this module only schedules.
//!
//! The wait after failed attempt `n` is exponential backoff with full jitter,
//! uniform in `[0, min(max_delay, base_delay · 2ⁿ⁻¹)]`, so many workers hitting
//! one limit spread out instead of retrying together. When the server says
//! how long to wait (`Retry-After`), the wait is that plus up to one
//! `base_delay` of jitter: never less than asked. Retrying stops after
//! `max_attempts`, or as soon as the next wait would take the total past
//! `max_total_wait` (better fail now than sleep and fail later).

use std::sync::Arc;
use std::time::Duration;

use super::{BoxFuture, ChatRequest, ChatResponse, Provider, ProviderError, ProviderSettings};

/// When and how often to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included; 1 means no retry.
    pub max_attempts: u32,
    /// Upper bound on the sum of waits between attempts.
    pub max_total_wait: Duration,
    /// The backoff ceiling after the first failure; doubles per failure.
    pub base_delay: Duration,
    /// Cap on one backoff wait (a server's `Retry-After` may exceed it).
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy::from(&ProviderSettings::default())
    }
}

impl From<&ProviderSettings> for RetryPolicy {
    fn from(s: &ProviderSettings) -> Self {
        RetryPolicy {
            max_attempts: s.max_attempts.max(1),
            max_total_wait: s.max_total_wait,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// The wait after failed attempt `attempt` (1-based).
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        self.delay_with(attempt, retry_after, fastrand::f64())
    }

    /// [`RetryPolicy::delay`] with the random draw `unit` in `[0, 1)` given.
    fn delay_with(&self, attempt: u32, retry_after: Option<Duration>, unit: f64) -> Duration {
        match retry_after {
            Some(asked) => asked.saturating_add(self.base_delay.mul_f64(unit)),
            None => {
                let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
                let ceiling = self.base_delay.saturating_mul(factor).min(self.max_delay);
                ceiling.mul_f64(unit)
            }
        }
    }
}

/// A provider that retries the transient failures of `inner`.
pub struct Retry {
    inner: Arc<dyn Provider>,
    policy: RetryPolicy,
}

impl Retry {
    pub fn new(inner: Arc<dyn Provider>, policy: RetryPolicy) -> Retry {
        Retry { inner, policy }
    }

    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }
}

impl Provider for Retry {
    fn id(&self) -> &str {
        self.inner.id()
    }

    fn measures_latency(&self) -> bool {
        self.inner.measures_latency()
    }

    /// The response has `attempts` set; an error that ends retrying says
    /// after how many attempts and why.
    fn complete<'a>(&'a self, req: &'a ChatRequest) -> BoxFuture<'a, Result<ChatResponse, ProviderError>> {
        Box::pin(async move {
            let p = &self.policy;
            let mut waited = Duration::ZERO;
            let mut attempt = 0u32;
            loop {
                attempt += 1;
                let err = match self.inner.complete(req).await {
                    Ok(mut resp) => {
                        resp.attempts = attempt;
                        return Ok(resp);
                    }
                    Err(e) => e,
                };
                if !err.retryable() {
                    return Err(if attempt > 1 { note(err, attempt, None) } else { err });
                }
                if attempt >= p.max_attempts {
                    return Err(note(err, attempt, None));
                }
                let wait = p.delay(attempt, err.retry_after);
                if waited.saturating_add(wait) > p.max_total_wait {
                    let why = format!(
                        "the next retry would wait {}, past max_total_wait {}",
                        secs(wait),
                        secs(p.max_total_wait)
                    );
                    return Err(note(err, attempt, Some(why)));
                }
                tokio::time::sleep(wait).await;
                waited += wait;
            }
        })
    }
}

/// Append the attempt count (and why retrying stopped) to the message.
fn note(mut err: ProviderError, attempts: u32, why: Option<String>) -> ProviderError {
    let plural = if attempts == 1 { "" } else { "s" };
    err.message = match why {
        Some(why) => format!("{} (gave up after {attempts} attempt{plural}: {why})", err.message),
        None if err.retryable() => {
            format!("{} (gave up after {attempts} attempt{plural})", err.message)
        }
        None => format!("{} (after {attempts} attempt{plural})", err.message),
    };
    err
}

fn secs(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;
    use crate::prompt::ModelConfig;
    use crate::provider::{FinishReason, ProviderErrorKind as K};

    /// Answers from a script, one entry per call.
    struct Script {
        answers: Mutex<VecDeque<Result<ChatResponse, ProviderError>>>,
        calls: AtomicU32,
    }

    impl Script {
        fn new(answers: Vec<Result<ChatResponse, ProviderError>>) -> Arc<Script> {
            Arc::new(Script {
                answers: Mutex::new(answers.into()),
                calls: AtomicU32::new(0),
            })
        }
    }

    impl Provider for Script {
        fn id(&self) -> &str {
            "script"
        }
        fn complete<'a>(&'a self, _: &'a ChatRequest) -> BoxFuture<'a, Result<ChatResponse, ProviderError>> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let next = self.answers.lock().unwrap().pop_front().expect("script ran out");
            Box::pin(std::future::ready(next))
        }
    }

    fn ok() -> Result<ChatResponse, ProviderError> {
        Ok(ChatResponse {
            text: "ok".into(),
            finish_reason: FinishReason::Stop,
            usage: None,
            model: None,
            latency_ms: 1,
            attempts: 1,
        })
    }

    fn fail(kind: K, retry_after: Option<u64>) -> Result<ChatResponse, ProviderError> {
        Err(ProviderError {
            kind,
            message: "x: failed".into(),
            status: None,
            retry_after: retry_after.map(Duration::from_secs),
        })
    }

    fn req() -> ChatRequest {
        ChatRequest {
            model: "m".into(),
            messages: vec![],
            config: ModelConfig::default(),
            response_schema: None,
            json: false,
        }
    }

    fn policy(max_attempts: u32) -> RetryPolicy {
        RetryPolicy {
            max_attempts,
            max_total_wait: Duration::from_secs(600),
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn retries_transient_failures_until_success() {
        let script = Script::new(vec![
            fail(K::Server, None),
            fail(K::Timeout, None),
            fail(K::Connection, None),
            ok(),
        ]);
        let r = Retry::new(script.clone(), policy(5)).complete(&req()).await.unwrap();
        assert_eq!(r.attempts, 4);
        assert_eq!(script.calls.load(Ordering::SeqCst), 4);
    }

    #[tokio::test(start_paused = true)]
    async fn waits_at_least_retry_after() {
        let script = Script::new(vec![fail(K::RateLimited, Some(20)), ok()]);
        let start = tokio::time::Instant::now();
        let r = Retry::new(script, policy(3)).complete(&req()).await.unwrap();
        let waited = start.elapsed();
        assert_eq!(r.attempts, 2);
        assert!(waited >= Duration::from_secs(20), "waited {waited:?}");
        assert!(waited <= Duration::from_millis(20_500), "waited {waited:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_after_max_attempts_and_says_so() {
        let script = Script::new(vec![
            fail(K::Server, None),
            fail(K::Server, None),
            fail(K::Server, None),
        ]);
        let e = Retry::new(script.clone(), policy(3))
            .complete(&req())
            .await
            .unwrap_err();
        assert_eq!(e.kind, K::Server);
        assert_eq!(e.message, "x: failed (gave up after 3 attempts)");
        assert_eq!(script.calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn does_not_retry_what_cannot_succeed() {
        for kind in [K::Client, K::BadResponse, K::MissingKey, K::Offline] {
            let script = Script::new(vec![fail(kind, None)]);
            let e = Retry::new(script.clone(), policy(5))
                .complete(&req())
                .await
                .unwrap_err();
            assert_eq!(e.kind, kind);
            assert_eq!(e.message, "x: failed", "a first-attempt failure is reported as is");
            assert_eq!(script.calls.load(Ordering::SeqCst), 1);
        }
        let script = Script::new(vec![fail(K::Server, None), fail(K::Client, None)]);
        let e = Retry::new(script, policy(5)).complete(&req()).await.unwrap_err();
        assert_eq!(e.message, "x: failed (after 2 attempts)");
    }

    #[tokio::test(start_paused = true)]
    async fn stops_when_the_next_wait_would_pass_max_total_wait() {
        let script = Script::new(vec![fail(K::RateLimited, Some(90)), ok()]);
        let p = RetryPolicy {
            max_total_wait: Duration::from_secs(60),
            ..policy(5)
        };
        let start = tokio::time::Instant::now();
        let e = Retry::new(script.clone(), p).complete(&req()).await.unwrap_err();
        assert_eq!(e.kind, K::RateLimited);
        assert!(
            e.message
                .contains("gave up after 1 attempt: the next retry would wait 90."),
            "{}",
            e.message
        );
        assert!(e.message.contains("past max_total_wait 60.0s"), "{}", e.message);
        assert_eq!(script.calls.load(Ordering::SeqCst), 1);
        assert!(start.elapsed() < Duration::from_secs(1), "it must not sleep first");
    }

    #[test]
    fn backoff_is_full_jitter_under_an_exponential_ceiling() {
        let p = policy(10);
        assert_eq!(p.delay_with(1, None, 0.0), Duration::ZERO);
        assert_eq!(p.delay_with(1, None, 0.5), Duration::from_millis(250));
        assert_eq!(p.delay_with(3, None, 0.5), Duration::from_secs(1));
        assert_eq!(
            p.delay_with(3, None, 0.999_999),
            Duration::from_secs(2).mul_f64(0.999_999)
        );
        assert_eq!(
            p.delay_with(40, None, 0.5),
            Duration::from_secs(15),
            "capped at max_delay"
        );
        // A server's wait is a floor, beyond max_delay too.
        assert_eq!(
            p.delay_with(1, Some(Duration::from_secs(45)), 0.0),
            Duration::from_secs(45)
        );
        assert_eq!(
            p.delay_with(1, Some(Duration::from_secs(1)), 0.5),
            Duration::from_millis(1250)
        );
        for _ in 0..100 {
            let d = p.delay(2, None);
            assert!(d < Duration::from_secs(1), "{d:?}");
        }
    }
}
