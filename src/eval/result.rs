//! The result of one case against one target: what the runner streams to
//! the run file (one JSON line each) and what the aggregates fold in.

use serde::{Deserialize, Serialize};

use crate::eval::assert::AssertionResult;
use crate::eval::guard::GuardOutcome;
use crate::provider::{FinishReason, ProviderErrorKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Every gating assertion passed.
    Pass,
    /// An assertion failed.
    Fail,
    /// No answer to judge: the provider failed, or the case could not be rendered.
    Error,
    /// Not run: the run's cost limit was reached first.
    Skipped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Error => "error",
            Status::Skipped => "skipped",
        }
    }

    /// Finished for good: a resumed run does not call it again.
    pub fn is_final(self) -> bool {
        matches!(self, Status::Pass | Status::Fail)
    }
}

/// Why a case has no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    RateLimited,
    Server,
    Timeout,
    Connection,
    BadResponse,
    Client,
    MissingKey,
    /// No recorded response matches the request.
    Offline,
    /// The case's variables do not render the prompt.
    Input,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::RateLimited => "rate limited",
            ErrorKind::Server => "server error",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Connection => "connection error",
            ErrorKind::BadResponse => "bad response",
            ErrorKind::Client => "request rejected",
            ErrorKind::MissingKey => "missing key",
            ErrorKind::Offline => "not recorded",
            ErrorKind::Input => "bad case",
        }
    }

    /// The provider could not be reached or kept failing after retries.
    pub fn is_unreachable(self) -> bool {
        matches!(
            self,
            ErrorKind::RateLimited | ErrorKind::Server | ErrorKind::Timeout | ErrorKind::Connection
        )
    }
}

impl From<ProviderErrorKind> for ErrorKind {
    fn from(k: ProviderErrorKind) -> Self {
        use ProviderErrorKind as P;
        match k {
            P::MissingKey => ErrorKind::MissingKey,
            P::RateLimited => ErrorKind::RateLimited,
            P::Server => ErrorKind::Server,
            P::Timeout => ErrorKind::Timeout,
            P::Connection => ErrorKind::Connection,
            P::BadResponse => ErrorKind::BadResponse,
            P::Client => ErrorKind::Client,
            P::Offline => ErrorKind::Offline,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseError {
    pub kind: ErrorKind,
    pub message: String,
    /// The HTTP status, when the provider answered with one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
}

/// One case against one target. Token, cost and latency figures cover every
/// call the case made (structured-output corrections and fallback included):
/// what one request of the application costs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseRecord {
    /// Project-relative suite path.
    pub suite: String,
    pub target: String,
    /// 0-based position in the suite.
    pub index: usize,
    pub case: String,
    pub status: Status,
    pub weight: f64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// The final answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finish_reason: Option<FinishReason>,
    #[serde(default)]
    pub asserts: Vec<AssertionResult>,
    /// Weighted share of passing assertions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<CaseError>,
    /// Provider calls made for the case (cache hits and replays included).
    pub calls: u32,
    /// HTTP attempts beyond the first, over all calls.
    pub retries: u32,
    pub cache_hits: u32,
    pub replayed: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_tokens: Option<u64>,
    /// Every call's usage was reported by the provider (else counted).
    pub tokens_reported: bool,
    /// At catalog prices; `None` when the model has no price.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
    /// Of `cost_usd`, what this run paid for (not cached, not replayed).
    pub spent_usd: f64,
    /// Sum of the calls' latencies; `None` when a call was not timed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guard: Option<GuardOutcome>,
}

impl CaseRecord {
    /// A record with nothing measured yet.
    pub fn new(suite: &str, target: &str, index: usize, case: &str, weight: f64) -> CaseRecord {
        CaseRecord {
            suite: suite.to_string(),
            target: target.to_string(),
            index,
            case: case.to_string(),
            status: Status::Error,
            weight,
            tags: Vec::new(),
            output: None,
            finish_reason: None,
            asserts: Vec::new(),
            score: None,
            error: None,
            calls: 0,
            retries: 0,
            cache_hits: 0,
            replayed: 0,
            input_tokens: None,
            output_tokens: None,
            tokens_reported: true,
            cost_usd: None,
            spent_usd: 0.0,
            latency_ms: None,
            guard: None,
        }
    }

    /// The answer was cut off at the output cap.
    pub fn truncated(&self) -> bool {
        self.finish_reason == Some(FinishReason::Length)
    }

    /// One line per reason the case did not pass.
    pub fn reasons(&self) -> Vec<String> {
        match self.status {
            Status::Pass => Vec::new(),
            Status::Skipped => vec!["not run: the run's cost limit was reached".into()],
            Status::Error => match &self.error {
                Some(e) => vec![format!("{}: {}", e.kind.as_str(), e.message)],
                None => vec!["no answer".into()],
            },
            Status::Fail => self
                .asserts
                .iter()
                .filter(|a| !a.pass)
                .map(|a| format!("{}: {}", a.kind, a.reason.as_deref().unwrap_or("failed")))
                .collect(),
        }
    }
}
