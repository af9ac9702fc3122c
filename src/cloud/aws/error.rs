//! Classification of AWS SDK errors: the only module that looks inside an
//! `SdkError`.
//!
//! Every adapter hands its failed call to [`classify`] and gets a
//! [`CloudError`] whose [`ErrorKind`] decides what the executor does next.
//! The order of the checks matters: a throttling code wins over the HTTP
//! status (some services throttle with a 400, others with a 503), a
//! not-found or conflict code wins over a 5xx, and only then does a 5xx mean
//! "transient". Anything not recognised is `Fatal`, so an unknown failure
//! stops the step instead of being retried blindly.

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_smithy_types::error::operation::BuildError;

use crate::cloud::{CloudError, CloudResult, ErrorKind};
use crate::model::Op;

/// Error codes by which AWS services ask the caller to slow down.
const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "RequestThrottledException",
    "PriorRequestNotComplete",
    "TooManyRequestsException",
    "SlowDown",
];

/// Error codes saying the resource's current state forbids the call; the same
/// call may succeed once the resource settles (or, for a Route 53 change
/// batch, the record changed underneath a compare-and-set).
const CONFLICT_CODES: &[&str] = &[
    "InvalidDBInstanceState",
    "InvalidDBInstanceStateFault",
    "InvalidChangeBatch",
    "ResourceInUse",
    "ResourceInUseException",
    "InvalidGlobalReplicationGroupState",
    "InvalidGlobalReplicationGroupStateFault",
    "ConflictException",
    // A resource a reprotect creates: it exists already (another call made
    // it, or a name is taken) or the source cannot take part yet; the caller
    // reads again and decides.
    "DBInstanceAlreadyExists",
    "DBInstanceAlreadyExistsFault",
    "InvalidReplicationGroupState",
    "InvalidReplicationGroupStateFault",
    "ReplicationGroupAlreadyExists",
    "ReplicationGroupAlreadyExistsFault",
    "GlobalReplicationGroupAlreadyExistsFault",
];

/// Turns a failed SDK call into a [`CloudError`] for `op` on `resource`.
pub(crate) fn classify<E>(
    op: Op,
    resource: impl Into<String>,
    err: SdkError<E, HttpResponse>,
) -> CloudError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let kind = match &err {
        SdkError::TimeoutError(_) => ErrorKind::Retryable,
        // A "user" dispatch failure is a bad request or endpoint on our side:
        // sending it again changes nothing.
        SdkError::DispatchFailure(failure) if failure.is_user() => ErrorKind::Fatal,
        SdkError::DispatchFailure(_) => ErrorKind::Retryable,
        SdkError::ConstructionFailure(_) => ErrorKind::Fatal,
        _ => kind_for_response(
            err.code(),
            err.raw_response().map(|raw| raw.status().as_u16()),
        ),
    };
    // Only a call that got no response at all says anything about the
    // endpoint's region: a timeout, or a connection that failed on the way
    // (an `other` dispatch failure is ours, such as missing credentials).
    let no_answer = match &err {
        SdkError::TimeoutError(_) => true,
        SdkError::DispatchFailure(failure) => failure.is_io() || failure.is_timeout(),
        _ => false,
    };
    let message = match (err.code(), err.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.to_owned(),
        // An answer without an AWS error code (a proxy's or an emulator's
        // error page): the status says enough; the body is rarely useful.
        _ => match err.raw_response() {
            Some(raw) => format!("HTTP {} without an AWS error code", raw.status().as_u16()),
            None => chain(&err),
        },
    };
    let err = CloudError::new(kind, op, resource, message);
    if no_answer {
        err.without_answer()
    } else {
        err
    }
}

/// An error and its sources as one line (`a: b: c`), without the debug
/// dumps `DisplayErrorContext` appends.
pub(crate) fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![err.to_string()];
    let mut source = err.source();
    while let Some(e) = source {
        let text = e.to_string();
        if !parts.last().is_some_and(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = e.source();
    }
    parts.join(": ")
}

/// The kind of a failure for which AWS answered with `code` (from the
/// error's metadata) and HTTP `status`.
pub(crate) fn kind_for_response(code: Option<&str>, status: Option<u16>) -> ErrorKind {
    if let Some(code) = code {
        if THROTTLING_CODES.contains(&code) {
            return ErrorKind::Throttled;
        }
        if code.contains("NotFound") || code.starts_with("NoSuch") {
            return ErrorKind::NotFound;
        }
        if CONFLICT_CODES.contains(&code) {
            return ErrorKind::Conflict;
        }
    }
    match status {
        Some(429) => ErrorKind::Throttled,
        Some(500..=599) => ErrorKind::Retryable,
        _ => ErrorKind::Fatal,
    }
}

/// Error codes by which an ARC cluster endpoint says it cannot answer now:
/// the caller moves on to the cluster's next endpoint.
const ROUTING_ENDPOINT_DOWN_CODES: &[&str] = &[
    "EndpointTemporarilyUnavailableException",
    "InternalServerException",
    "ServiceUnavailable",
];

/// Turns a failed route53-recovery-cluster call into a [`CloudError`].
///
/// ARC answers a change that would break one of the cluster's safety rules
/// with a `ConflictException`. Unlike a resource busy elsewhere, no retry
/// will make the same change pass: it is `Fatal`, and the message carries
/// the service's own words, which name the rule, so the step stops saying
/// which rule refused it. An endpoint that is temporarily unavailable or
/// failing is `Retryable` (the caller tries the next endpoint); throttling
/// is `Throttled`; access denied and validation errors are `Fatal`;
/// unknown controls are `NotFound`.
pub(crate) fn classify_routing_control<E>(
    op: Op,
    resource: impl Into<String>,
    err: SdkError<E, HttpResponse>,
) -> CloudError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let code = err.code().map(str::to_owned);
    let service_message = err.message().map(str::to_owned);
    let mut classified = classify(op, resource, err);
    match code.as_deref() {
        Some("ConflictException") => {
            classified.kind = ErrorKind::Fatal;
            classified.message = format!(
                "refused by the cluster's safety rules: {}",
                service_message
                    .as_deref()
                    .unwrap_or("ConflictException without a message")
            );
        }
        Some(code) if ROUTING_ENDPOINT_DOWN_CODES.contains(&code) => {
            classified.kind = ErrorKind::Retryable;
        }
        Some("ServiceLimitExceededException") => classified.kind = ErrorKind::Throttled,
        _ => {}
    }
    classified
}

/// A request we built was rejected by the SDK's own builder: a bug in the
/// adapter or an input no retry can fix.
pub(crate) fn build_error(op: Op, resource: &str, err: BuildError) -> CloudError {
    CloudError::new(
        ErrorKind::Fatal,
        op,
        resource,
        format!("invalid request: {err}"),
    )
}

/// Maps a `NotFound` failure of a read to `Ok(None)`.
pub(crate) fn none_if_not_found<T>(result: CloudResult<T>) -> CloudResult<Option<T>> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(err) if err.kind == ErrorKind::NotFound => Ok(None),
        Err(err) => Err(err),
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_rds::operation::promote_read_replica::PromoteReadReplicaError;
    use aws_smithy_runtime_api::client::result::ConnectorError;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::ErrorMetadata;

    use super::*;

    fn service_error(code: &str, status: u16) -> SdkError<PromoteReadReplicaError, HttpResponse> {
        let err = PromoteReadReplicaError::generic(
            ErrorMetadata::builder()
                .code(code)
                .message("it said no")
                .build(),
        );
        let raw = HttpResponse::new(
            StatusCode::try_from(status).expect("valid status"),
            SdkBody::empty(),
        );
        SdkError::service_error(err, raw)
    }

    fn kind(code: &str, status: u16) -> ErrorKind {
        classify(Op::PromoteReadReplica, "r", service_error(code, status)).kind
    }

    #[test]
    fn throttling_codes_are_throttled_whatever_the_status() {
        for code in [
            "Throttling",
            "ThrottlingException",
            "RequestLimitExceeded",
            "PriorRequestNotComplete",
            "TooManyRequestsException",
        ] {
            assert_eq!(kind(code, 400), ErrorKind::Throttled, "{code}");
            assert_eq!(kind(code, 503), ErrorKind::Throttled, "{code}");
        }
        assert_eq!(kind("Whatever", 429), ErrorKind::Throttled);
    }

    #[test]
    fn not_found_codes_are_not_found() {
        for code in [
            "DBInstanceNotFound",
            "ResourceNotFoundException",
            "GlobalReplicationGroupNotFoundFault",
            "NotFoundException",
            "NoSuchHostedZone",
            "NoSuchChange",
        ] {
            assert_eq!(kind(code, 404), ErrorKind::NotFound, "{code}");
        }
    }

    #[test]
    fn state_codes_are_conflicts() {
        for code in [
            "InvalidDBInstanceState",
            "InvalidChangeBatch",
            "ResourceInUseException",
            "InvalidGlobalReplicationGroupState",
            "ConflictException",
        ] {
            assert_eq!(kind(code, 400), ErrorKind::Conflict, "{code}");
        }
    }

    #[test]
    fn server_errors_are_retryable_and_other_client_errors_fatal() {
        assert_eq!(kind("InternalFailure", 500), ErrorKind::Retryable);
        assert_eq!(kind("ServiceUnavailable", 503), ErrorKind::Retryable);
        assert_eq!(kind("AccessDenied", 403), ErrorKind::Fatal);
        assert_eq!(kind("InvalidParameterValue", 400), ErrorKind::Fatal);
    }

    #[test]
    fn transport_failures_are_classified_without_a_response() {
        let timeout: SdkError<PromoteReadReplicaError, HttpResponse> =
            SdkError::timeout_error("took too long");
        assert_eq!(
            classify(Op::PromoteReadReplica, "r", timeout).kind,
            ErrorKind::Retryable
        );

        let io: SdkError<PromoteReadReplicaError, HttpResponse> =
            SdkError::dispatch_failure(ConnectorError::io("connection reset".into()));
        assert_eq!(
            classify(Op::PromoteReadReplica, "r", io).kind,
            ErrorKind::Retryable
        );

        let user: SdkError<PromoteReadReplicaError, HttpResponse> =
            SdkError::dispatch_failure(ConnectorError::user("bad uri".into()));
        assert_eq!(
            classify(Op::PromoteReadReplica, "r", user).kind,
            ErrorKind::Fatal
        );

        let build: SdkError<PromoteReadReplicaError, HttpResponse> =
            SdkError::construction_failure("missing field");
        assert_eq!(
            classify(Op::PromoteReadReplica, "r", build).kind,
            ErrorKind::Fatal
        );
    }

    #[test]
    fn only_a_call_without_any_answer_is_marked_as_silence() {
        let timeout: SdkError<PromoteReadReplicaError, HttpResponse> =
            SdkError::timeout_error("took too long");
        assert!(classify(Op::PromoteReadReplica, "r", timeout).no_answer);
        let refused: SdkError<PromoteReadReplicaError, HttpResponse> =
            SdkError::dispatch_failure(ConnectorError::io("connection refused".into()));
        assert!(classify(Op::PromoteReadReplica, "r", refused).no_answer);
        let connect: SdkError<PromoteReadReplicaError, HttpResponse> =
            SdkError::dispatch_failure(ConnectorError::timeout("connect timed out".into()));
        assert!(classify(Op::PromoteReadReplica, "r", connect).no_answer);
        // Answers, whatever they say, and failures on our own side.
        for (code, status) in [("Throttling", 400), ("ServiceUnavailable", 503)] {
            let answered = classify(Op::PromoteReadReplica, "r", service_error(code, status));
            assert!(!answered.no_answer, "{code} {status}");
        }
        let ours: SdkError<PromoteReadReplicaError, HttpResponse> =
            SdkError::dispatch_failure(ConnectorError::other("no credentials".into(), None));
        assert!(!classify(Op::PromoteReadReplica, "r", ours).no_answer);
    }

    #[test]
    fn the_error_names_op_resource_and_aws_message() {
        let err = classify(
            Op::PromoteReadReplica,
            "us-west-2/db",
            service_error("InvalidDBInstanceState", 400),
        );
        assert_eq!(err.op, "rds:PromoteReadReplica");
        assert_eq!(err.resource, "us-west-2/db");
        assert_eq!(err.message, "InvalidDBInstanceState: it said no");
    }

    fn routing_kind(code: &str, status: u16) -> CloudError {
        classify_routing_control(
            Op::UpdateRoutingControlStates,
            "c",
            service_error(code, status),
        )
    }

    #[test]
    fn routing_control_errors_say_whether_to_try_the_next_endpoint() {
        let refused = routing_kind("ConflictException", 409);
        assert_eq!(refused.kind, ErrorKind::Fatal);
        assert!(
            refused.message.contains("safety rules: it said no"),
            "{refused}"
        );
        for code in [
            "EndpointTemporarilyUnavailableException",
            "InternalServerException",
        ] {
            assert_eq!(routing_kind(code, 503).kind, ErrorKind::Retryable, "{code}");
            assert_eq!(routing_kind(code, 400).kind, ErrorKind::Retryable, "{code}");
        }
        assert_eq!(
            routing_kind("ThrottlingException", 429).kind,
            ErrorKind::Throttled
        );
        assert_eq!(
            routing_kind("AccessDeniedException", 403).kind,
            ErrorKind::Fatal
        );
        assert_eq!(
            routing_kind("ValidationException", 400).kind,
            ErrorKind::Fatal
        );
        assert_eq!(
            routing_kind("ResourceNotFoundException", 404).kind,
            ErrorKind::NotFound
        );
    }

    #[test]
    fn not_found_reads_become_none() {
        let missing: CloudResult<u8> = Err(CloudError::not_found(Op::PromoteReadReplica, "r"));
        assert!(none_if_not_found(missing).expect("not an error").is_none());
        let other: CloudResult<u8> = Err(CloudError::new(
            ErrorKind::Fatal,
            Op::PromoteReadReplica,
            "r",
            "m",
        ));
        assert!(none_if_not_found(other).is_err());
        assert_eq!(none_if_not_found(Ok(3)).expect("ok"), Some(3));
    }
}
