//! The one error type of backends and configurators: a kind (what went wrong, and whether
//! trying again may help), a message for people, and the config fields it concerns.

use std::fmt;

use crate::config::BackendType;

/// What kind of failure an error is. The server maps kinds to HTTP answers; the scheduler
/// uses them to decide whether to retry or to try the next offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The config breaks a rule (a bad region, exclusive fields both set), or the provider
    /// refused a request as invalid (a 4xx answer).
    InvalidConfig,
    /// The cloud refused the credentials.
    InvalidCredentials,
    /// The backend type is not compiled into this build, or was removed from dstack.
    NotAvailable,
    /// The project already has a backend of this type.
    ResourceExists,
    /// The project has no backend of this type.
    ResourceNotExists,
    /// A cloud resource does not exist (an image, a VPC, an instance).
    NotFound,
    /// The backend does not support this operation (see its capabilities).
    Unsupported,
    /// The cloud throttled us; retry later.
    RateLimited,
    /// A failure that may pass: timeouts, 5xx answers, dropped connections.
    Transient,
    /// No capacity for this offer now; try another offer.
    NoCapacity,
    /// A quota or balance limit stops this offer; try another offer.
    QuotaExceeded,
    /// Termination was accepted but has not finished: call terminate again later.
    NotYetTerminated,
    /// The instance failed while starting and will not come up: stop waiting, terminate it.
    ProvisioningFailed,
    /// A placement group still has instances in it and cannot be deleted yet: call delete
    /// again later (dstack's `PlacementGroupInUseError`).
    PlacementGroupInUse,
    /// Anything else, including a request that may or may not have been carried out (a
    /// create that got no answer): not safe to try again blindly.
    Unexpected,
}

impl ErrorKind {
    /// dstack's API error code for this kind (`{"detail": [{"code": ...}]}`).
    pub fn api_code(self) -> &'static str {
        match self {
            ErrorKind::InvalidCredentials => "invalid_credentials",
            ErrorKind::NotAvailable => "backend_not_available",
            ErrorKind::ResourceExists => "resource_exists",
            ErrorKind::ResourceNotExists => "resource_not_exists",
            _ => "error",
        }
    }

    /// Whether the same call may succeed if tried again later.
    pub fn is_temporary(self) -> bool {
        matches!(
            self,
            ErrorKind::RateLimited
                | ErrorKind::Transient
                | ErrorKind::NotYetTerminated
                | ErrorKind::PlacementGroupInUse
        )
    }

    /// Whether the caller should move on to the next offer.
    pub fn try_next_offer(self) -> bool {
        matches!(self, ErrorKind::NoCapacity | ErrorKind::QuotaExceeded)
    }
}

/// A field path in a backend config, as dstack reports it: `["creds", "access_key"]`.
pub type FieldPath = Vec<String>;

/// An error of a backend or configurator.
#[derive(Debug)]
pub struct BackendError {
    kind: ErrorKind,
    message: String,
    fields: Vec<FieldPath>,
    backend: Option<BackendType>,
    /// The backend call it came from (`offers`, `create instance`), stamped by the registry.
    operation: Option<&'static str>,
    /// What the call was about (an instance ID, an instance type and region).
    resource: Option<String>,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl BackendError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            fields: Vec::new(),
            backend: None,
            operation: None,
            resource: None,
            source: None,
        }
    }

    /// dstack's "Invalid credentials" error, with details when there are any, pointing at
    /// `fields` (e.g. `[["creds", "access_key"], ["creds", "secret_key"]]`).
    pub fn invalid_credentials(fields: &[&[&str]], details: Option<&str>) -> Self {
        let message = match details {
            Some(details) => format!("Invalid credentials: {details}"),
            None => "Invalid credentials".to_owned(),
        };
        Self::new(ErrorKind::InvalidCredentials, message).with_fields(fields)
    }

    /// A backend type that this build cannot configure; the message says what to do.
    pub fn not_available(backend: BackendType) -> Self {
        let message = match backend.cargo_feature() {
            Some(feature) => format!(
                "Backend `{backend}` is not available in this build of dstack-server; \
                 rebuild it with `--features {feature}`"
            ),
            None => format!("Backend `{backend}` is not available: dstack no longer supports it"),
        };
        Self::new(ErrorKind::NotAvailable, message).for_backend(backend)
    }

    /// A backend type this version has no crate for yet.
    pub fn not_supported_yet(backend: BackendType) -> Self {
        Self::new(
            ErrorKind::NotAvailable,
            format!("Backend `{backend}` is not supported by this version of dstack-server yet"),
        )
        .for_backend(backend)
    }

    /// The same error, of another kind.
    pub fn with_kind(mut self, kind: ErrorKind) -> Self {
        self.kind = kind;
        self
    }

    /// The same error with more said after its message (`(after 3 attempts)`).
    pub fn with_suffix(mut self, suffix: &str) -> Self {
        self.message.push(' ');
        self.message.push_str(suffix);
        self
    }

    /// An operation this backend does not implement.
    pub fn unsupported(backend: BackendType, operation: &str) -> Self {
        Self::new(
            ErrorKind::Unsupported,
            format!("Backend `{backend}` does not support {operation}"),
        )
        .for_backend(backend)
    }

    /// What a backend's default for an operation it has not implemented answers. The registry
    /// never calls an operation a backend does not declare, so meeting this means a backend
    /// declares more than it implements (the conformance suite catches that).
    pub fn unsupported_operation(operation: &str) -> Self {
        Self::new(ErrorKind::Unsupported, format!("{operation} is not implemented"))
    }

    /// Says where the error came from, keeping what it already says.
    pub fn in_context(
        mut self,
        backend: BackendType,
        operation: &'static str,
        resource: Option<String>,
    ) -> Self {
        self.backend.get_or_insert(backend);
        self.operation.get_or_insert(operation);
        if self.resource.is_none() {
            self.resource = resource;
        }
        self
    }

    pub fn with_fields(mut self, fields: &[&[&str]]) -> Self {
        self.fields = fields.iter().map(|f| f.iter().map(|s| (*s).to_owned()).collect()).collect();
        self
    }

    pub fn for_backend(mut self, backend: BackendType) -> Self {
        self.backend = Some(backend);
        self
    }

    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn fields(&self) -> &[FieldPath] {
        &self.fields
    }

    pub fn backend(&self) -> Option<BackendType> {
        self.backend
    }

    pub fn operation(&self) -> Option<&'static str> {
        self.operation
    }

    pub fn resource(&self) -> Option<&str> {
        self.resource.as_deref()
    }
}

/// The message, after where it came from when that is known: `aws create instance (p4d.24xlarge
/// in us-east-1): no capacity`. API answers use [`BackendError::message`], dstack's text.
impl fmt::Display for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut context = Vec::new();
        if let Some(backend) = self.backend {
            context.push(backend.to_string());
        }
        if let Some(operation) = self.operation {
            context.push(operation.to_owned());
        }
        if let Some(resource) = &self.resource {
            context.push(format!("({resource})"));
        }
        if context.is_empty() || self.operation.is_none() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", context.join(" "), self.message)
        }
    }
}

impl std::error::Error for BackendError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as &(dyn std::error::Error + 'static))
    }
}

pub type Result<T, E = BackendError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_credentials_reads_like_dstack() {
        let err = BackendError::invalid_credentials(
            &[&["creds", "access_key"], &["creds", "secret_key"]],
            None,
        );
        assert_eq!(err.to_string(), "Invalid credentials");
        assert_eq!(err.kind().api_code(), "invalid_credentials");
        assert_eq!(err.fields()[1], ["creds", "secret_key"]);
        let err = BackendError::invalid_credentials(&[&["creds"]], Some("token expired"));
        assert_eq!(err.message(), "Invalid credentials: token expired");
    }

    #[test]
    fn not_available_names_the_feature() {
        let err = BackendError::not_available(BackendType::Datacrunch);
        assert!(err.message().contains("--features verda"), "{}", err.message());
        assert_eq!(err.kind().api_code(), "backend_not_available");
        let err = BackendError::not_available(BackendType::Cudo);
        assert!(err.message().contains("no longer supports"), "{}", err.message());
    }

    #[test]
    fn context_leads_the_display_but_not_the_message() {
        let err = BackendError::new(ErrorKind::NoCapacity, "no capacity").in_context(
            BackendType::Aws,
            "create instance",
            Some("p4d.24xlarge in us-east-1".into()),
        );
        assert_eq!(err.to_string(), "aws create instance (p4d.24xlarge in us-east-1): no capacity");
        assert_eq!(err.message(), "no capacity");
        // What is already known is kept.
        let err = err.in_context(BackendType::Lambda, "offers", None);
        assert_eq!(
            (err.backend(), err.operation()),
            (Some(BackendType::Aws), Some("create instance"))
        );
    }

    #[test]
    fn kinds_tell_retry_from_next_offer() {
        assert!(ErrorKind::RateLimited.is_temporary());
        assert!(ErrorKind::NotYetTerminated.is_temporary());
        assert!(ErrorKind::PlacementGroupInUse.is_temporary());
        assert_eq!(ErrorKind::PlacementGroupInUse.api_code(), "error");
        assert!(!ErrorKind::ProvisioningFailed.is_temporary());
        assert!(!ErrorKind::NoCapacity.is_temporary());
        assert!(ErrorKind::NoCapacity.try_next_offer());
        assert!(!ErrorKind::InvalidCredentials.try_next_offer());
    }
}
