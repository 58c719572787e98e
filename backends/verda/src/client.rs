//! The calls of Verda's API the backend makes, in the shapes of the `verda` SDK 1.25.0 (the
//! client dstack 0.22.5 uses), with dstack's error texts.

use dstack_core::error::Result;
use dstack_core::{BackendError, ErrorKind};
use reqwest::Method;
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::session::{PostError, Session};

/// `GET /instance-availability`: per location, the instance types that can be deployed now.
#[derive(Debug, Deserialize)]
pub struct LocationAvailability {
    pub location_code: String,
    #[serde(default)]
    pub availabilities: Vec<String>,
}

/// An instance, as `GET /instances/{id}` shows it (the fields the backend reads).
#[derive(Debug, Deserialize)]
pub struct Instance {
    pub status: String,
    pub ip: Option<String>,
    pub location: Option<String>,
}

/// The OS volume of a new instance.
#[derive(Debug, Serialize)]
pub struct OsVolume {
    pub name: &'static str,
    /// GB.
    pub size: u64,
}

/// `POST /instances`, as the SDK's `instances.create` sends it.
#[derive(Debug, Serialize)]
pub struct Deploy<'a> {
    pub instance_type: &'a str,
    pub image: &'a str,
    pub ssh_key_ids: &'a [String],
    pub startup_script_id: Option<&'a str>,
    pub hostname: &'a str,
    pub description: &'a str,
    pub location_code: &'a str,
    pub os_volume: OsVolume,
    pub volumes: [Value; 0],
    pub existing_volumes: [Value; 0],
    pub is_spot: bool,
    pub coupon: Option<&'a str>,
    pub pricing: &'static str,
}

/// An ID put in a path: only the URL-safe characters the SDK allows in a path segment.
fn segment(id: &str) -> Result<&str> {
    let safe = !id.is_empty()
        && id != "."
        && id != ".."
        && id.chars().all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c));
    if safe {
        Ok(id)
    } else {
        Err(BackendError::new(ErrorKind::InvalidConfig, format!("Invalid Verda ID {id:?}")))
    }
}

/// The types deployable now, per location, on demand or as spot.
pub async fn availability(session: &Session, spot: bool) -> Result<Vec<LocationAvailability>> {
    session.get(&format!("/instance-availability?isSpot={spot}")).await
}

/// dstack's wrapping of a refused creation: `<what>: <Verda's message>`, of the kind its
/// status says.
fn refused(what: &str) -> impl Fn(PostError) -> BackendError + '_ {
    move |err| match err {
        PostError::Refused { status, message } => {
            let kind = if status.is_client_error() {
                ErrorKind::InvalidConfig
            } else {
                ErrorKind::Unexpected
            };
            BackendError::new(kind, format!("{what}: {message}"))
        }
        PostError::Failed(err) => err,
    }
}

pub async fn create_ssh_key(session: &Session, name: &str, key: &str) -> Result<String> {
    let body = json!({"name": name, "key": key});
    session
        .post_for_id("/sshkeys", &body)
        .await
        .map_err(refused("Verda API error while creating SSH key"))
}

/// Deletes SSH keys; those already gone are no error. One call for all, as dstack makes it;
/// key by key when Verda says some are not there.
pub async fn delete_ssh_keys(session: &Session, ids: &[String]) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let body = json!({"keys": ids});
    match session.send::<_, IgnoredAny>(Method::DELETE, "/sshkeys", Some(&body)).await {
        Err(err) if err.kind() == ErrorKind::NotFound => {
            for id in ids {
                let path = format!("/sshkeys/{}", segment(id)?);
                match session.send::<(), IgnoredAny>(Method::DELETE, &path, None).await {
                    Err(err) if err.kind() == ErrorKind::NotFound => {}
                    other => other.map(drop)?,
                }
            }
            Ok(())
        }
        other => other.map(drop),
    }
}

pub async fn create_script(session: &Session, name: &str, script: &str) -> Result<String> {
    let body = json!({"name": name, "script": script});
    session
        .post_for_id("/scripts", &body)
        .await
        .map_err(refused("Verda API error while creating startup script"))
}

/// Deletes a startup script; one already gone is no error.
pub async fn delete_script(session: &Session, id: &str) -> Result<()> {
    let path = format!("/scripts/{}", segment(id)?);
    match session.send::<(), IgnoredAny>(Method::DELETE, &path, None).await {
        Err(err) if err.kind() == ErrorKind::NotFound => Ok(()),
        other => other.map(drop),
    }
}

/// Deploys an instance; returns its ID. As in dstack, Verda refusing it means "no capacity
/// here, try the next offer" — unless Verda failed (5xx), when the instance may exist.
pub async fn deploy(session: &Session, request: &Deploy<'_>) -> Result<String> {
    session.post_for_id("/instances", request).await.map_err(|err| match err {
        PostError::Refused { status, message } if status.is_server_error() => BackendError::new(
            ErrorKind::Unexpected,
            format!("Verda API error: {status}: {message} (the request may have been carried out)"),
        ),
        PostError::Refused { message, .. } => {
            BackendError::new(ErrorKind::NoCapacity, format!("Verda API error: {message}"))
        }
        PostError::Failed(err) => err,
    })
}

pub async fn instance(session: &Session, id: &str) -> Result<Instance> {
    session.get(&format!("/instances/{}", segment(id)?)).await
}

/// `PUT /instances` with `action: delete`, deleting its volumes permanently, as dstack asks.
pub async fn delete_instance(session: &Session, id: &str) -> Result<()> {
    let body = json!({
        "id": [id],
        "action": "delete",
        "volume_ids": null,
        "delete_permanently": true,
    });
    session.send::<_, IgnoredAny>(Method::PUT, "/instances", Some(&body)).await.map(drop)
}
