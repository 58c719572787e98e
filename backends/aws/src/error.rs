//! AWS SDK failures as `BackendError`s, in one place.

use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};
use dstack_core::{BackendError, ErrorKind};

/// Maps an SDK error: throttling and 5xx are temporary; capacity and quota errors tell the
/// caller to try the next offer; the rest keep AWS's code and message.
pub fn from_sdk<E>(operation: &str, err: SdkError<E>) -> BackendError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let code = err.code().unwrap_or_default().to_owned();
    let message = err.message().unwrap_or_default().to_owned();
    let kind = match (&err, code.as_str()) {
        (SdkError::TimeoutError(_) | SdkError::DispatchFailure(_), _) => ErrorKind::Transient,
        (_, "Throttling" | "ThrottlingException" | "RequestLimitExceeded") => {
            ErrorKind::RateLimited
        }
        (_, "InsufficientInstanceCapacity" | "InsufficientHostCapacity" | "Unsupported") => {
            ErrorKind::NoCapacity
        }
        (_, "InstanceLimitExceeded" | "VcpuLimitExceeded" | "MaxSpotInstanceCountExceeded") => {
            ErrorKind::QuotaExceeded
        }
        (_, c)
            if c.starts_with("InvalidAMIID")
                || c == "InvalidInstanceType"
                || c == "InvalidPlacementGroup.Unknown"
                || c.ends_with(".NotFound") =>
        {
            ErrorKind::NotFound
        }
        (SdkError::ServiceError(service), _) if service.raw().status().is_server_error() => {
            ErrorKind::Transient
        }
        _ => ErrorKind::Unexpected,
    };
    let detail = if code.is_empty() { err.to_string() } else { format!("{code}: {message}") };
    BackendError::new(kind, format!("AWS {operation} failed: {detail}"))
}
