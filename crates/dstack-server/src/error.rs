//! The one error of the server's domain (users, projects, backends, config.yml, offers). It
//! says what went wrong in the server's terms; `api::error` turns it into dstack's HTTP answer,
//! and start-up into its message.

use dstack_core::BackendError;

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The resource exists (dstack's `resource_exists`).
    #[error("Resource exists")]
    Exists,
    /// The resource does not exist (dstack's `resource_not_exists`).
    #[error("Resource not found")]
    NotExists,
    /// A rule of the request was broken; the text is dstack's.
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Backend(#[from] BackendError),
    #[error(transparent)]
    Store(StoreError),
    /// Our fault.
    #[error("{0}")]
    Internal(String),
}

impl From<StoreError> for ServerError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Exists => ServerError::Exists,
            StoreError::Gone => ServerError::NotExists,
            other => ServerError::Store(other),
        }
    }
}

pub type Result<T, E = ServerError> = std::result::Result<T, E>;
