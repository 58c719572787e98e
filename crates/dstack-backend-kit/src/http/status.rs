//! HTTP statuses as error kinds, with what the provider's error body adds.

use dstack_core::config::BackendType;
use dstack_core::{BackendError, ErrorKind};
use reqwest::StatusCode;

/// What a provider's error body says, read by the backend's hook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderError {
    /// The provider's message.
    pub message: String,
    /// A kind the status alone does not tell (a 400 meaning "no capacity").
    pub kind: Option<ErrorKind>,
}

impl ProviderError {
    pub fn message(message: impl Into<String>) -> Self {
        Self { message: message.into(), kind: None }
    }
}

/// The longest piece of an unread error body put in a message.
const BODY_EXCERPT: usize = 200;

pub(super) fn error(
    backend: BackendType,
    call: &str,
    status: StatusCode,
    body: &str,
    provider: Option<ProviderError>,
    credential_fields: &[&[&str]],
) -> BackendError {
    let kind = provider.as_ref().and_then(|p| p.kind).unwrap_or(match status.as_u16() {
        401 | 403 => ErrorKind::InvalidCredentials,
        404 => ErrorKind::NotFound,
        429 => ErrorKind::RateLimited,
        // The provider refused the request as it is: a client error, with its reason.
        400..=499 => ErrorKind::InvalidConfig,
        500..=599 => ErrorKind::Transient,
        _ => ErrorKind::Unexpected,
    });
    if kind == ErrorKind::InvalidCredentials {
        // dstack's answer for refused credentials, word for word, pointing at the fields; the
        // provider's text goes to the log.
        tracing::debug!(%backend, "{call}: {status}: credentials refused: {body:.200}");
        return BackendError::invalid_credentials(credential_fields, None).for_backend(backend);
    }
    let said = match provider {
        Some(provider) => provider.message,
        None => body.chars().take(BODY_EXCERPT).collect(),
    };
    BackendError::new(kind, format!("{call}: {status}: {said}")).for_backend(backend)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_kinds_and_the_provider_may_say_more() {
        let kind = |status: u16, provider: Option<ProviderError>| {
            let status = StatusCode::from_u16(status).unwrap();
            error(BackendType::Lambda, "GET /x", status, "oops", provider, &[&["creds"]])
        };
        assert_eq!(kind(401, None).kind(), ErrorKind::InvalidCredentials);
        assert_eq!(kind(401, None).fields(), [["creds"]]);
        assert_eq!(kind(404, None).kind(), ErrorKind::NotFound);
        assert_eq!(kind(429, None).kind(), ErrorKind::RateLimited);
        assert_eq!(kind(503, None).kind(), ErrorKind::Transient);
        assert_eq!(kind(400, None).message(), "GET /x: 400 Bad Request: oops");
        assert_eq!(kind(409, None).kind(), ErrorKind::InvalidConfig);
        let capacity =
            ProviderError { message: "no capacity".into(), kind: Some(ErrorKind::NoCapacity) };
        let err = kind(400, Some(capacity));
        assert_eq!(
            (err.kind(), err.message()),
            (ErrorKind::NoCapacity, "GET /x: 400 Bad Request: no capacity")
        );
    }
}
