//! The one error type every cloud adapter returns, and its classification.
//!
//! Adapters classify provider errors at the boundary (for AWS, only
//! `cloud/aws/error.rs` looks at `SdkError`); everything above this module
//! decides what to do from [`ErrorKind`] alone, so retry behaviour is the same
//! for the simulated cloud and for AWS.

use std::fmt;

use crate::model::Op;

/// What kind of failure a cloud call met; retries follow the kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// A transient failure (5xx, timeout, connection reset): retry with backoff.
    Retryable,
    /// The provider asked us to slow down: retry with a longer backoff.
    Throttled,
    /// The resource does not exist: never retried.
    NotFound,
    /// The resource is in a state that forbids the call (for example already
    /// being modified): retried a few times, then reported.
    Conflict,
    /// Anything else (access denied, invalid parameter): never retried.
    Fatal,
}

impl ErrorKind {
    /// Whether a call that failed with this kind may be tried again.
    pub fn is_retryable(self) -> bool {
        matches!(self, Self::Retryable | Self::Throttled | Self::Conflict)
    }

    /// A bounded label for metrics and logs.
    pub fn label(self) -> &'static str {
        match self {
            Self::Retryable => "retryable",
            Self::Throttled => "throttled",
            Self::NotFound => "not_found",
            Self::Conflict => "conflict",
            Self::Fatal => "fatal",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// A failed cloud call: which operation, on which resource, of which kind.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{op} on {resource} failed ({kind}): {message}")]
pub struct CloudError {
    /// How the failure is classified.
    pub kind: ErrorKind,
    /// The operation, for example `rds:PromoteReadReplica`.
    pub op: Op,
    /// The resource the call was about, for example `us-west-2/emr-platform-prod-dr`.
    pub resource: String,
    /// The provider's message, or ours.
    pub message: String,
    /// The provider never answered: the call timed out, or the connection
    /// failed (refused, reset, name not resolved). An answer, even a 5xx or
    /// a throttle, is not silence. Retries follow [`kind`](Self::kind)
    /// alone; probes count only silence against the region they call.
    pub no_answer: bool,
}

impl CloudError {
    /// Builds an error of the given kind.
    pub fn new(
        kind: ErrorKind,
        op: Op,
        resource: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            kind,
            op,
            resource: resource.into(),
            message: message.into(),
            no_answer: false,
        }
    }

    /// Marks the failure as the provider's silence (see
    /// [`no_answer`](Self::no_answer)).
    pub fn without_answer(mut self) -> Self {
        self.no_answer = true;
        self
    }

    /// Shorthand for a [`ErrorKind::NotFound`] error.
    pub fn not_found(op: Op, resource: impl Into<String>) -> Self {
        let resource = resource.into();
        let message = format!("{resource} does not exist");
        Self::new(ErrorKind::NotFound, op, resource, message)
    }
}
