//! The route table: each route is registered once, with its handler and its description, so
//! that the router and `/openapi.json` are built from the same list and cannot drift.

use axum::Router;
use axum::handler::Handler;
use axum::routing::{get, post};
use schemars::generate::SchemaGenerator;
use schemars::{JsonSchema, Schema};
use serde_json::{Value, json};

use super::extract::RequestBody;
use crate::state::AppState;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// Anyone.
    None,
    /// A valid token (401 without one, 403 for a wrong one or too little access).
    Token,
    /// A valid token with access to the project in the path (also 404 for a missing one).
    Project,
}

/// What a route reads from its body.
#[derive(Debug, Clone, Copy)]
pub enum Request {
    None,
    /// A body read into a request model.
    Model(Model),
    /// A backend config (`BackendConfigWithCreds`), in the API form.
    BackendConfig,
    /// A run plan request: `run_spec` and friends.
    RunPlan,
    /// A GPU list request: a run plan request with `group_by`.
    GpuList,
    /// Any JSON object, or nothing: the requests of features this server does not have yet,
    /// whose fields it does not read.
    AnyObject,
    /// A JSON body its handler reads itself (a fleet spec), described by `schema`.
    Json {
        schema: fn() -> Value,
        required: bool,
    },
}

/// A request model as the document needs it.
#[derive(Debug, Clone, Copy)]
pub struct Model {
    /// Its schema, with definitions kept in the generator.
    pub schema: fn(&mut SchemaGenerator) -> Schema,
    /// Its schema on its own (for checking it against `fields`).
    pub standalone: fn() -> Schema,
    /// The field list the body reader checks.
    pub fields: super::extract::Fields,
    /// Whether an empty body is the same as `{}`.
    pub optional: bool,
}

/// What a route answers with on success.
#[derive(Debug, Clone, Copy)]
pub enum Answer {
    Schema(fn(&mut SchemaGenerator) -> Schema),
    BackendConfig,
    Json(fn() -> Value),
    /// Never succeeds: the feature is not built yet (always dstack's 400).
    Refusal,
}

/// The HTTP method of a route. dstack's API is POST throughout; a few probes are GET.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Post,
    Get,
}

/// One route as `/openapi.json` describes it.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    pub method: Method,
    pub path: &'static str,
    pub summary: &'static str,
    pub auth: Auth,
    pub request: Request,
    pub answer: Answer,
    /// Whether the route answers dstack's 400 (`ServerClientError`) for business rules.
    pub client_errors: bool,
    /// Whether the route answers 404 for something its body names.
    pub not_found: bool,
}

impl Route {
    /// A POST route that reads no body and answers `null`.
    pub const fn post(path: &'static str, summary: &'static str, auth: Auth) -> Self {
        Route {
            method: Method::Post,
            path,
            summary,
            auth,
            request: Request::None,
            answer: Answer::Json(null),
            client_errors: false,
            not_found: false,
        }
    }

    /// A GET route that reads no body.
    pub const fn get(path: &'static str, summary: &'static str, auth: Auth) -> Self {
        Route { method: Method::Get, ..Route::post(path, summary, auth) }
    }

    pub const fn request(self, request: Request) -> Self {
        Route { request, ..self }
    }

    /// The body is the request model `T`.
    pub const fn body<T: RequestBody + JsonSchema>(self) -> Self {
        self.request(Request::Model(Model {
            schema: |g| g.subschema_for::<T>(),
            standalone: || schemars::schema_for!(T),
            fields: T::FIELDS,
            optional: T::BODY_OPTIONAL,
        }))
    }

    pub const fn answer(self, answer: Answer) -> Self {
        Route { answer, ..self }
    }

    /// The answer is `T` serialized.
    pub const fn answers<T: JsonSchema>(self) -> Self {
        self.answer(Answer::Schema(|g| g.subschema_for::<T>()))
    }

    pub const fn client_errors(self) -> Self {
        Route { client_errors: true, ..self }
    }

    pub const fn not_found(self) -> Self {
        Route { not_found: true, ..self }
    }
}

fn null() -> Value {
    json!({"type": "null"})
}

/// Whether a concrete path matches a route's path (`{name}` matches any one segment).
pub fn matches(pattern: &str, path: &str) -> bool {
    let (mut pattern, mut path) = (pattern.split('/'), path.split('/'));
    loop {
        match (pattern.next(), path.next()) {
            (None, None) => return true,
            (Some(p), Some(s)) if p == s || (p.starts_with('{') && !s.is_empty()) => {}
            _ => return false,
        }
    }
}

/// `{"type": "object", ...}` with these properties and required ones.
pub fn object(properties: Value, required: &[&str]) -> Value {
    json!({"type": "object", "properties": properties, "required": required})
}

/// The API under construction: the router and the description of each route added to it.
#[derive(Debug, Default)]
pub struct Api {
    router: Router<AppState>,
    routes: Vec<Route>,
}

impl Api {
    /// Adds `route`, answered by `handler`.
    pub fn add<H, T>(&mut self, route: Route, handler: H) -> &mut Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let method = match route.method {
            Method::Post => post(handler),
            Method::Get => get(handler),
        };
        self.router = std::mem::take(&mut self.router).route(route.path, method);
        self.routes.push(route);
        self
    }

    pub fn into_parts(self) -> (Router<AppState>, Vec<Route>) {
        (self.router, self.routes)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn paths_match_route_patterns_segment_by_segment() {
        let pattern = "/api/project/{project_name}/metrics/job/{run_name}";
        assert!(super::matches(pattern, "/api/project/main/metrics/job/0"));
        assert!(!super::matches(pattern, "/api/project/main/metrics/job"));
        assert!(!super::matches(pattern, "/api/project//metrics/job/0"));
        assert!(super::matches("/healthcheck", "/healthcheck"));
    }
}
