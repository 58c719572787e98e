//! Calls to a cluster's API server through kube, with their errors as the kit's kinds.

use dstack_core::{BackendError, ErrorKind};
use k8s_openapi::NamespaceResourceScope;
use kube::Api;
use kube::api::{DeleteParams, PostParams};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A kube error as a backend error: the API server's `Status` message with a kind from its
/// code; a connection that failed or timed out is temporary.
pub fn error(err: kube::Error) -> BackendError {
    match err {
        kube::Error::Api(status) => {
            let kind = match status.code {
                401 | 403 => ErrorKind::InvalidCredentials,
                404 => ErrorKind::NotFound,
                429 => ErrorKind::RateLimited,
                500..=599 => ErrorKind::Transient,
                400..=499 => ErrorKind::InvalidConfig,
                _ => ErrorKind::Unexpected,
            };
            let message = match status.message.is_empty() {
                true => format!("the API server answered {}", status.code),
                false => status.message.clone(),
            };
            BackendError::new(kind, message)
        }
        kube::Error::HyperError(_) | kube::Error::Service(_) => {
            BackendError::new(ErrorKind::Transient, err.to_string())
        }
        other => BackendError::new(ErrorKind::Unexpected, other.to_string()),
    }
}

/// Whether `err` is the API server's answer `code`.
pub fn is_status(err: &kube::Error, code: u16) -> bool {
    matches!(err, kube::Error::Api(status) if status.code == code)
}

/// Typed access to one kind of namespaced object.
pub fn namespaced<K>(client: &kube::Client, namespace: &str) -> Api<K>
where
    K: kube::Resource<Scope = NamespaceResourceScope>,
    <K as kube::Resource>::DynamicType: Default,
{
    Api::namespaced(client.clone(), namespace)
}

/// The object `name`, or `None` when there is none.
pub async fn get<K>(api: &Api<K>, name: &str) -> Result<Option<K>, BackendError>
where
    K: kube::Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    api.get_opt(name).await.map_err(error)
}

/// Creates `object`. One that exists already (an earlier attempt's, 409) is taken as it is.
pub async fn create<K>(api: &Api<K>, object: &K) -> Result<(), BackendError>
where
    K: kube::Resource + Clone + DeserializeOwned + Serialize + std::fmt::Debug,
{
    match api.create(&PostParams::default(), object).await {
        Ok(_) => Ok(()),
        Err(err) if is_status(&err, 409) => Ok(()),
        Err(err) => Err(error(err)),
    }
}

/// Deletes `name`; one that is gone already (404) is deleted.
pub async fn delete<K>(api: &Api<K>, name: &str) -> Result<(), BackendError>
where
    K: kube::Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    match api.delete(name, &DeleteParams::default()).await {
        Ok(_) => Ok(()),
        Err(err) if is_status(&err, 404) => Ok(()),
        Err(err) => Err(error(err)),
    }
}

/// `body` (a manifest written as JSON) as the typed object kube sends.
pub fn object<K: DeserializeOwned>(body: serde_json::Value) -> Result<K, BackendError> {
    serde_json::from_value(body).map_err(|err| {
        BackendError::new(ErrorKind::Unexpected, format!("a manifest does not read: {err}"))
    })
}
