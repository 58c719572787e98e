//! The calls of features this server does not have yet (runs, fleets, gateways, volumes,
//! repos, logs, ...), answered truthfully in dstack's shapes so that its CLI and UI work:
//! listings are empty, lookups find nothing, and whatever would start or change such a thing
//! is refused with dstack's error body and one sentence the CLI prints. Never a 405.
//!
//! Each of these moves to its own module when its feature is built.

use axum::body::Bytes;
use axum::extract::{RawPathParams, State};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::error::ApiError;
use super::extract::{Authed, json_value};
use super::route::{Answer, Api, Auth, Request, Route};
use super::{Access, project_for};
use crate::state::AppState;

/// How a call of a missing feature is answered.
#[derive(Debug, Clone, Copy)]
enum Absent {
    /// `[]`: there are none.
    EmptyList,
    /// `{<key>: [], "warnings": []}` (dstack 0.22's list responses for exports and imports).
    EmptyListIn(&'static str),
    /// dstack's `resource_not_exists`: there is no such thing.
    NotFound,
    /// 400: this feature is not supported yet; the text names it ("Runs", "Gateways").
    NotSupported(&'static str),
}

const P: Auth = Auth::Project;
const T: Auth = Auth::Token;

use Absent::{EmptyList, EmptyListIn, NotFound, NotSupported};

/// Every such route: path, who may call it, summary, answer.
const ABSENT: &[(&str, Auth, &str, Absent)] = &[
    ("/api/runs/list", T, "Runs (none yet)", EmptyList),
    ("/api/volumes/list", T, "Volumes (none yet)", EmptyList),
    ("/api/project/{project_name}/volumes/list", P, "Volumes (none yet)", EmptyList),
    ("/api/project/{project_name}/gateways/list", P, "Gateways (none yet)", EmptyList),
    ("/api/project/{project_name}/repos/list", P, "Repos (none yet)", EmptyList),
    ("/api/project/{project_name}/templates/list", P, "UI templates (none)", EmptyList),
    ("/api/project/{project_name}/exports/list", P, "Exports (none)", EmptyListIn("exports")),
    ("/api/project/{project_name}/imports/list", P, "Imports (none)", EmptyListIn("imports")),
    ("/api/project/{project_name}/runs/get", P, "A run (none exist yet)", NotFound),
    ("/api/project/{project_name}/volumes/get", P, "A volume (none exist yet)", NotFound),
    ("/api/project/{project_name}/gateways/get", P, "A gateway (none exist yet)", NotFound),
    ("/api/project/{project_name}/instances/get", P, "An instance (none exist yet)", NotFound),
    (
        "/api/project/{project_name}/instances/get_instance_health_checks",
        P,
        "Health checks of an instance (none exist yet)",
        NotFound,
    ),
    ("/api/project/{project_name}/repos/get", P, "A repo (none exist yet)", NotFound),
    ("/api/project/{project_name}/runs/apply", P, "Start a run", NotSupported("Runs")),
    ("/api/project/{project_name}/runs/stop", P, "Stop runs", NotSupported("Runs")),
    ("/api/project/{project_name}/runs/delete", P, "Delete runs", NotSupported("Runs")),
    ("/api/project/{project_name}/logs/poll", P, "Run logs", NotSupported("Runs")),
    ("/api/project/{project_name}/gateways/get_plan", P, "Plan a gateway", G),
    ("/api/project/{project_name}/gateways/apply", P, "Create a gateway", G),
    ("/api/project/{project_name}/gateways/create", P, "Create a gateway", G),
    ("/api/project/{project_name}/gateways/delete", P, "Delete gateways", G),
    ("/api/project/{project_name}/gateways/set_default", P, "Set the default gateway", G),
    ("/api/project/{project_name}/gateways/set_wildcard_domain", P, "Set a domain", G),
    ("/api/project/{project_name}/volumes/create", P, "Create a volume", V),
    ("/api/project/{project_name}/volumes/delete", P, "Delete volumes", V),
    ("/api/project/{project_name}/repos/init", P, "Register a repo", R),
    ("/api/project/{project_name}/repos/delete", P, "Delete repos", R),
    ("/api/project/{project_name}/repos/upload_code", P, "Upload a repo's diff", R),
    ("/api/files/get_archive_by_hash", T, "A file archive", NotSupported("File uploads")),
    ("/api/files/upload_archive", T, "Upload a file archive", NotSupported("File uploads")),
    ("/api/project/{project_name}/exports/create", P, "Export fleets", X),
    ("/api/project/{project_name}/exports/update", P, "Change an export", X),
    ("/api/project/{project_name}/exports/delete", P, "Delete an export", X),
    ("/api/project/{project_name}/imports/delete", P, "Delete an import", X),
    ("/api/sshproxy/get_upstream", T, "An SSH proxy upstream", NotSupported("The SSH proxy")),
];

const G: Absent = NotSupported("Gateways");
const V: Absent = NotSupported("Volumes");
/// Repos exist only for runs: the CLI registers one before it submits a run.
const R: Absent = NotSupported("Runs");
const X: Absent = NotSupported("Exports and imports");

impl Absent {
    fn answer(self) -> Answer {
        match self {
            EmptyList => Answer::Json(|| json!({"type": "array", "maxItems": 0})),
            EmptyListIn(_) => Answer::Json(|| json!({"type": "object"})),
            NotFound | NotSupported(_) => Answer::Refusal,
        }
    }

    fn respond(self) -> Response {
        match self {
            EmptyList => axum::Json(json!([])).into_response(),
            EmptyListIn(key) => axum::Json(json!({key: [], "warnings": []})).into_response(),
            NotFound => ApiError::resource_not_exists().into_response(),
            NotSupported(what) => ApiError::client(not_supported(what)).into_response(),
        }
    }
}

/// The sentence the CLI prints for a feature that is not built yet.
pub fn not_supported(what: &str) -> String {
    let verb = if what.ends_with('s') { "are" } else { "is" };
    format!("{what} {verb} not supported by this version of dstack-server yet")
}

/// Reads the body (nothing, or any JSON object: its fields are not used), checks the caller's
/// access to the project in the path, and answers.
async fn handle(
    absent: Absent,
    state: AppState,
    me: crate::store::User,
    params: RawPathParams,
    body: Bytes,
) -> Response {
    match answer(absent, state, me, params, body).await {
        Ok(response) => response,
        Err(err) => err.into_response(),
    }
}

async fn answer(
    absent: Absent,
    state: AppState,
    me: crate::store::User,
    params: RawPathParams,
    body: Bytes,
) -> Result<Response, ApiError> {
    if !body.iter().all(u8::is_ascii_whitespace) {
        let value = json_value(&body)?;
        if !value.is_object() {
            return Err(ApiError::Validation(vec![json!({
                "type": "model_attributes_type",
                "loc": ["body"],
                "msg": "Input should be a valid dictionary or object to extract fields from",
                "input": value,
            })]));
        }
    }
    if let Some((_, project)) = params.iter().find(|(name, _)| *name == "project_name") {
        project_for(&state, &me, project, Access::Read).await?;
    }
    Ok(absent.respond())
}

pub fn routes(api: &mut Api) {
    for &(path, auth, summary, absent) in ABSENT {
        let route =
            Route::post(path, summary, auth).request(Request::AnyObject).answer(absent.answer());
        api.add(
            route,
            move |State(state): State<AppState>,
                  Authed(me): Authed,
                  params: RawPathParams,
                  body: Bytes| { handle(absent, state, me, params, body) },
        );
    }
    // Run metrics are a GET; there are no runs to have any.
    api.add(
        Route::get(
            "/api/project/{project_name}/metrics/job/{run_name}",
            "A run's metrics (no runs exist yet)",
            P,
        )
        .answer(Answer::Refusal),
        |State(state): State<AppState>, Authed(me): Authed, params: RawPathParams| {
            handle(NotFound, state, me, params, Bytes::new())
        },
    );
}

#[cfg(test)]
fn paths() -> Vec<&'static str> {
    ABSENT.iter().map(|(path, ..)| *path).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn each_absent_path_is_listed_once() {
        let mut paths = super::paths();
        let count = paths.len();
        paths.sort();
        paths.dedup();
        assert_eq!(paths.len(), count);
        assert_eq!(
            super::not_supported("Runs"),
            "Runs are not supported by this version of dstack-server yet"
        );
        assert_eq!(
            super::not_supported("The SSH proxy"),
            "The SSH proxy is not supported by this version of dstack-server yet"
        );
    }
}
