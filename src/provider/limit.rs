//! Pacing calls to one provider: at most `concurrency` requests in flight,
//! and requests and tokens spread out under per-minute limits. Owns the
//! waiting, not the retrying (that is `retry`, which goes around this so
//! every retry is paced too and no slot is held while backing off).
//!
//! Each per-minute limit is a token bucket refilled continuously at
//! `limit / 60` per second, holding at most one second's worth (at least
//! one request): providers enforce their minute limits over shorter windows,
//! so an even pace is safer than a burst of a minute's quota. A request
//! waits until the bucket holds its cost (or is full, for a request larger
//! than the bucket) and then takes its whole cost, possibly going into debt;
//! later requests wait the debt off. Waiters are served in arrival order.
//!
//! The token cost of a request is an estimate made before sending, the way
//! providers reserve it: about four bytes of message text per token, plus the
//! output cap.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::time::Instant;

use super::{BoxFuture, ChatRequest, ChatResponse, Provider, ProviderError, ProviderSettings};

/// The limits of one provider. `None` is unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    pub requests_per_minute: Option<u32>,
    pub tokens_per_minute: Option<u32>,
    pub concurrency: Option<usize>,
}

impl Limits {
    /// No limit at all.
    pub fn is_unlimited(&self) -> bool {
        *self == Limits::default()
    }
}

impl From<&ProviderSettings> for Limits {
    fn from(s: &ProviderSettings) -> Self {
        Limits {
            requests_per_minute: s.requests_per_minute,
            tokens_per_minute: s.tokens_per_minute,
            concurrency: s.concurrency,
        }
    }
}

/// A provider whose calls to `inner` keep to [`Limits`].
pub struct Limited {
    inner: Arc<dyn Provider>,
    requests: Option<Bucket>,
    tokens: Option<Bucket>,
    slots: Option<Semaphore>,
}

impl Limited {
    pub fn new(inner: Arc<dyn Provider>, limits: Limits) -> Limited {
        Limited {
            inner,
            requests: limits.requests_per_minute.map(Bucket::per_minute),
            tokens: limits.tokens_per_minute.map(Bucket::per_minute),
            // Semaphore::MAX_PERMITS bounds what a semaphore can hold.
            slots: limits
                .concurrency
                .map(|n| Semaphore::new(n.clamp(1, Semaphore::MAX_PERMITS))),
        }
    }
}

impl Provider for Limited {
    fn id(&self) -> &str {
        self.inner.id()
    }

    fn measures_latency(&self) -> bool {
        self.inner.measures_latency()
    }

    fn complete<'a>(&'a self, req: &'a ChatRequest) -> BoxFuture<'a, Result<ChatResponse, ProviderError>> {
        Box::pin(async move {
            // A slot first, then the pace: a request that got its turn from
            // the bucket goes out at once instead of queueing for a slot and
            // bunching up with others.
            let _slot = match &self.slots {
                // The semaphore is never closed, so acquire cannot fail.
                Some(s) => Some(s.acquire().await.ok()),
                None => None,
            };
            let mut wait = Duration::ZERO;
            if let Some(b) = &self.requests {
                wait = wait.max(b.reserve(1.0, Instant::now()));
            }
            if let Some(b) = &self.tokens {
                wait = wait.max(b.reserve(estimate_tokens(req) as f64, Instant::now()));
            }
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
            self.inner.complete(req).await
        })
    }
}

/// Tokens a request may use, for pacing only: message text at ~4 bytes per
/// token plus a few per message, plus the output cap.
pub fn estimate_tokens(req: &ChatRequest) -> u64 {
    let text: usize = req.messages.iter().map(|m| m.content.len() + 16).sum();
    (text as u64).div_ceil(4) + req.config.max_tokens.unwrap_or(0)
}

/// A token bucket with debt (see the module docs).
struct Bucket {
    /// Refill per second.
    rate: f64,
    /// Most the bucket holds.
    capacity: f64,
    state: Mutex<BucketState>,
}

struct BucketState {
    /// May be negative: debt that later requests wait off.
    available: f64,
    at: Option<Instant>,
}

impl Bucket {
    fn per_minute(limit: u32) -> Bucket {
        let rate = f64::from(limit.max(1)) / 60.0;
        let capacity = rate.max(1.0);
        Bucket {
            rate,
            capacity,
            state: Mutex::new(BucketState {
                available: capacity,
                at: None,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, BucketState> {
        // The state is two numbers updated together; a panic elsewhere
        // cannot leave it half-written, so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Take `cost` and return how long the caller must wait before sending.
    fn reserve(&self, cost: f64, now: Instant) -> Duration {
        let mut s = self.lock();
        if let Some(at) = s.at {
            let refill = now.saturating_duration_since(at).as_secs_f64() * self.rate;
            s.available = (s.available + refill).min(self.capacity);
        }
        s.at = Some(now);
        let need = cost.min(self.capacity);
        let wait = if s.available >= need {
            Duration::ZERO
        } else {
            Duration::from_secs_f64((need - s.available) / self.rate)
        };
        s.available -= cost;
        wait
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::prompt::ModelConfig;
    use crate::prompt::message::{Message, Role};
    use crate::provider::FinishReason;

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    fn close(a: Duration, b: Duration) -> bool {
        a.abs_diff(b) < Duration::from_millis(1)
    }

    #[tokio::test(start_paused = true)]
    async fn bucket_spaces_requests_evenly() {
        let b = Bucket::per_minute(60); // one per second, holds one
        let t0 = Instant::now();
        let waits: Vec<Duration> = (0..4).map(|_| b.reserve(1.0, t0)).collect();
        assert_eq!(waits, vec![secs(0.0), secs(1.0), secs(2.0), secs(3.0)]);
        // After the queue drained and a long idle, one request goes at once
        // but no burst builds up beyond the capacity.
        let later = t0 + Duration::from_secs(100);
        assert_eq!(b.reserve(1.0, later), Duration::ZERO);
        assert!(close(b.reserve(1.0, later), secs(1.0)));
    }

    #[tokio::test(start_paused = true)]
    async fn bucket_lets_a_large_request_go_and_charges_its_debt() {
        let b = Bucket::per_minute(6_000); // 100 tokens/s, holds 100
        let t0 = Instant::now();
        assert_eq!(
            b.reserve(1_000.0, t0),
            Duration::ZERO,
            "a full bucket lets a big request go"
        );
        // 900 tokens of debt plus 100 needed, at 100/s.
        assert!(close(b.reserve(100.0, t0), secs(10.0)));
        let b = Bucket::per_minute(30); // one per 2 s
        assert_eq!(b.reserve(1.0, t0), Duration::ZERO);
        assert!(close(b.reserve(1.0, t0 + secs(0.5)), secs(1.5)));
    }

    /// Counts calls in flight and their start times.
    #[derive(Default)]
    struct Probe {
        in_flight: AtomicUsize,
        max_in_flight: AtomicUsize,
        starts: Mutex<Vec<Instant>>,
    }

    impl Provider for Probe {
        fn id(&self) -> &str {
            "probe"
        }
        fn complete<'a>(&'a self, _: &'a ChatRequest) -> BoxFuture<'a, Result<ChatResponse, ProviderError>> {
            Box::pin(async move {
                self.starts.lock().unwrap().push(Instant::now());
                let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                self.max_in_flight.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(50)).await;
                self.in_flight.fetch_sub(1, Ordering::SeqCst);
                Ok(ChatResponse {
                    text: String::new(),
                    finish_reason: FinishReason::Stop,
                    usage: None,
                    model: None,
                    latency_ms: 50,
                    attempts: 1,
                })
            })
        }
    }

    fn req(max_tokens: Option<u64>) -> ChatRequest {
        ChatRequest {
            model: "m".into(),
            messages: vec![Message::new(Role::User, "x".repeat(400))],
            config: ModelConfig {
                max_tokens,
                ..ModelConfig::default()
            },
            response_schema: None,
            json: false,
        }
    }

    async fn run_all(p: Arc<Limited>, n: usize, max_tokens: Option<u64>) {
        let tasks: Vec<_> = (0..n)
            .map(|_| {
                let p = p.clone();
                tokio::spawn(async move { p.complete(&req(max_tokens)).await.unwrap() })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
    }

    #[tokio::test(start_paused = true)]
    async fn concurrency_never_exceeds_the_limit() {
        let probe = Arc::new(Probe::default());
        let limits = Limits {
            concurrency: Some(3),
            ..Limits::default()
        };
        run_all(Arc::new(Limited::new(probe.clone(), limits)), 20, None).await;
        assert_eq!(probe.starts.lock().unwrap().len(), 20);
        assert_eq!(probe.max_in_flight.load(Ordering::SeqCst), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn without_limits_calls_overlap() {
        // The control for the test above: the probe does see overlap.
        let probe = Arc::new(Probe::default());
        run_all(Arc::new(Limited::new(probe.clone(), Limits::default())), 20, None).await;
        assert_eq!(probe.max_in_flight.load(Ordering::SeqCst), 20);
    }

    #[tokio::test(start_paused = true)]
    async fn requests_per_minute_spaces_the_starts() {
        let probe = Arc::new(Probe::default());
        let limits = Limits {
            requests_per_minute: Some(120), // one per 500 ms
            ..Limits::default()
        };
        let t0 = Instant::now();
        run_all(Arc::new(Limited::new(probe.clone(), limits)), 5, None).await;
        let mut starts: Vec<Duration> = probe.starts.lock().unwrap().iter().map(|s| *s - t0).collect();
        starts.sort();
        // Two fit the bucket of one second (capacity 2), then one per 500 ms.
        let expected = [0.0, 0.0, 0.5, 1.0, 1.5].map(secs);
        for (got, want) in starts.iter().zip(expected) {
            assert!(close(*got, want), "starts {starts:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn tokens_per_minute_paces_by_the_estimate() {
        let probe = Arc::new(Probe::default());
        // Each request: (400 + 16) / 4 = 104 input tokens + 96 cap = 200.
        assert_eq!(estimate_tokens(&req(Some(96))), 200);
        let limits = Limits {
            tokens_per_minute: Some(6_000), // 100/s, holds 100
            ..Limits::default()
        };
        let t0 = Instant::now();
        run_all(Arc::new(Limited::new(probe.clone(), limits)), 3, Some(96)).await;
        let mut starts: Vec<Duration> = probe.starts.lock().unwrap().iter().map(|s| *s - t0).collect();
        starts.sort();
        // First goes (100 left → -100); next waits 2 s (→ -300), next 4 s.
        let expected = [0.0, 2.0, 4.0].map(secs);
        for (got, want) in starts.iter().zip(expected) {
            assert!(close(*got, want), "starts {starts:?}");
        }
    }

    #[test]
    fn wrappers_keep_the_inner_providers_latency_flag() {
        use crate::provider::retry::{Retry, RetryPolicy};
        let echo: Arc<dyn Provider> = Arc::new(crate::provider::echo::Echo);
        let limited: Arc<dyn Provider> = Arc::new(Limited::new(echo, Limits::default()));
        assert!(!limited.measures_latency());
        assert!(!Retry::new(limited, RetryPolicy::default()).measures_latency());
        let timed: Arc<dyn Provider> = Arc::new(Probe::default());
        assert!(Retry::new(timed, RetryPolicy::default()).measures_latency());
    }
}
