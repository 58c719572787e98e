//! `GET /openapi.json`: the OpenAPI 3.1 document of this server's API — every route, every
//! status it answers with its body (dstack's error bodies), and request schemas generated from
//! the same types the handlers read, so the document is exactly as strict as the server.
//! `tests/schemathesis.rs` holds the server to it.

use axum::Json;
use schemars::generate::{SchemaGenerator, SchemaSettings};
use schemars::{JsonSchema, Schema};
use serde_json::{Map, Value, json};

use super::backends::{DeleteRequest, YamlRequest};
use super::extract::RequestBody;
use super::models::{ProjectOut, UserOut, UserWithCreds};
use super::projects::{AddMembersRequest, CreateProjectRequest, ListProjectsRequest};
use super::users::{CreateUserRequest, GetUserRequest};

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Auth {
    /// Anyone.
    None,
    /// A valid token (401 without one, 403 for a wrong one or too little access).
    Token,
    /// A valid token with access to the project in the path (also 404 for a missing one).
    Project,
}

/// What a route reads from its body.
#[derive(Debug, Clone, Copy)]
enum Request {
    None,
    /// A body read into a request model; the model's fields and whether the body may be
    /// empty come from the model.
    Model(fn(&mut SchemaGenerator) -> Schema, bool),
    /// A backend config (`BackendConfigWithCreds`), in the API form.
    BackendConfig,
    /// A run plan request: `run_spec` and friends.
    RunPlan,
    /// A GPU list request: a run plan request with `group_by`.
    GpuList,
}

/// What a route answers with on success.
#[derive(Debug, Clone, Copy)]
enum Answer {
    Schema(fn(&mut SchemaGenerator) -> Schema),
    BackendConfig,
    Json(fn() -> Value),
}

struct Route {
    path: &'static str,
    summary: &'static str,
    auth: Auth,
    request: Request,
    answer: Answer,
    /// Whether the route answers dstack's 400 (`ServerClientError`) for business rules.
    client_errors: bool,
    /// Whether the route answers 404 for something its body names (a user).
    not_found: bool,
}

const fn model<T: RequestBody + JsonSchema>() -> Request {
    Request::Model(|g| g.subschema_for::<T>(), T::BODY_OPTIONAL)
}

fn schema<T: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    generator.subschema_for::<T>()
}

/// Every route of the API, in the router's order.
const ROUTES: &[Route] = &[
    Route {
        path: "/api/server/get_info",
        summary: "Server version",
        auth: Auth::None,
        request: Request::None,
        answer: Answer::Json(|| {
            object(json!({"server_version": {"type": "string"}}), &["server_version"])
        }),
        client_errors: false,
        not_found: false,
    },
    Route {
        path: "/api/users/get_my_user",
        summary: "The calling user, with token and SSH key",
        auth: Auth::Token,
        request: Request::None,
        answer: Answer::Schema(schema::<UserWithCreds>),
        client_errors: false,
        not_found: false,
    },
    Route {
        path: "/api/users/get_user",
        summary: "A user, with token and SSH key (admins, or the user)",
        auth: Auth::Token,
        request: model::<GetUserRequest>(),
        answer: Answer::Schema(schema::<UserWithCreds>),
        client_errors: false,
        not_found: true,
    },
    Route {
        path: "/api/users/create",
        summary: "Create a user (global admins)",
        auth: Auth::Token,
        request: model::<CreateUserRequest>(),
        answer: Answer::Schema(schema::<UserOut>),
        client_errors: true,
        not_found: false,
    },
    Route {
        path: "/api/users/list",
        summary: "Users (all for admins, else the caller)",
        auth: Auth::Token,
        request: Request::None,
        answer: Answer::Schema(schema::<Vec<UserOut>>),
        client_errors: false,
        not_found: false,
    },
    Route {
        path: "/api/projects/list",
        summary: "Projects the caller can see",
        auth: Auth::Token,
        request: model::<ListProjectsRequest>(),
        answer: Answer::Schema(schema::<Vec<ProjectOut>>),
        client_errors: false,
        not_found: false,
    },
    Route {
        path: "/api/projects/create",
        summary: "Create a project",
        auth: Auth::Token,
        request: model::<CreateProjectRequest>(),
        answer: Answer::Schema(schema::<ProjectOut>),
        client_errors: true,
        not_found: false,
    },
    Route {
        path: "/api/projects/{project_name}/get",
        summary: "A project with backends and members",
        auth: Auth::Project,
        request: Request::None,
        answer: Answer::Schema(schema::<ProjectOut>),
        client_errors: false,
        not_found: false,
    },
    Route {
        path: "/api/projects/{project_name}/add_members",
        summary: "Add or change members (managers)",
        auth: Auth::Project,
        request: model::<AddMembersRequest>(),
        answer: Answer::Schema(schema::<ProjectOut>),
        client_errors: true,
        not_found: false,
    },
    Route {
        path: "/api/backends/list_types",
        summary: "Backend types this build can configure",
        auth: Auth::None,
        request: Request::None,
        answer: Answer::Json(|| json!({"type": "array", "items": {"type": "string"}})),
        client_errors: false,
        not_found: false,
    },
    Route {
        path: "/api/project/{project_name}/backends/create",
        summary: "Create a backend (project admins)",
        auth: Auth::Project,
        request: Request::BackendConfig,
        answer: Answer::BackendConfig,
        client_errors: true,
        not_found: false,
    },
    Route {
        path: "/api/project/{project_name}/backends/update",
        summary: "Update a backend (project admins)",
        auth: Auth::Project,
        request: Request::BackendConfig,
        answer: Answer::BackendConfig,
        client_errors: true,
        not_found: false,
    },
    Route {
        path: "/api/project/{project_name}/backends/create_yaml",
        summary: "Create a backend from YAML (project admins)",
        auth: Auth::Project,
        request: model::<YamlRequest>(),
        answer: Answer::Json(|| json!({"type": "null"})),
        client_errors: true,
        not_found: false,
    },
    Route {
        path: "/api/project/{project_name}/backends/update_yaml",
        summary: "Update a backend from YAML (project admins)",
        auth: Auth::Project,
        request: model::<YamlRequest>(),
        answer: Answer::Json(|| json!({"type": "null"})),
        client_errors: true,
        not_found: false,
    },
    Route {
        path: "/api/project/{project_name}/backends/delete",
        summary: "Delete backends (project admins)",
        auth: Auth::Project,
        request: model::<DeleteRequest>(),
        answer: Answer::Json(|| json!({"type": "null"})),
        client_errors: false,
        not_found: false,
    },
    Route {
        path: "/api/project/{project_name}/backends/{backend_name}/config_info",
        summary: "A backend's config with creds (project admins)",
        auth: Auth::Project,
        request: Request::None,
        answer: Answer::BackendConfig,
        client_errors: true,
        not_found: false,
    },
    Route {
        path: "/api/project/{project_name}/backends/{backend_name}/get_yaml",
        summary: "A backend's config as YAML (project admins)",
        auth: Auth::Project,
        request: Request::None,
        answer: Answer::Json(|| {
            object(
                json!({"name": {"type": "string"}, "config_yaml": {"type": "string"}}),
                &["name", "config_yaml"],
            )
        }),
        client_errors: true,
        not_found: false,
    },
    Route {
        path: "/api/project/{project_name}/runs/get_plan",
        summary: "The offers a run would get (dry run)",
        auth: Auth::Project,
        request: Request::RunPlan,
        answer: Answer::Json(run_plan_answer),
        client_errors: true,
        not_found: false,
    },
    Route {
        path: "/api/project/{project_name}/gpus/list",
        summary: "GPUs on offer, grouped",
        auth: Auth::Project,
        request: Request::GpuList,
        answer: Answer::Json(|| {
            object(json!({"gpus": {"type": "array", "items": {"type": "object"}}}), &["gpus"])
        }),
        client_errors: true,
        not_found: false,
    },
];

fn object(properties: Value, required: &[&str]) -> Value {
    json!({"type": "object", "properties": properties, "required": required})
}

fn run_plan_answer() -> Value {
    let job_plan = object(
        json!({
            "job_spec": {"type": "object"},
            "offers": {"type": "array", "items": {"type": "object"}},
            "total_offers": {"type": "integer", "minimum": 0},
            "max_price": {"type": ["number", "null"]},
        }),
        &["job_spec", "offers", "total_offers", "max_price"],
    );
    object(
        json!({
            "project_name": {"type": "string"},
            "user": {"type": "string"},
            "run_spec": {"type": "object"},
            "effective_run_spec": {"type": "object"},
            "job_plans": {"type": "array", "items": job_plan},
            "current_resource": {"type": "null"},
            "action": {"type": "string"},
        }),
        &["project_name", "user", "run_spec", "effective_run_spec", "job_plans", "action"],
    )
}

/// The body of a run plan or GPU list request. `runs.rs` checks bodies against this very
/// schema, so the two cannot drift. `resources`
/// is dstack's string grammar (`gpu: A100:80GB:2`), which a JSON Schema cannot express: it
/// is left open here and checked by the server.
pub(crate) fn run_plan_request(group_by: bool) -> Value {
    let settings = json!({
        "type": ["object", "null"],
        "properties": {
            "resources": {},
            "spot_policy": {"enum": ["spot", "on-demand", "auto", null]},
            "max_price": {"type": ["number", "null"]},
            "reservation": {"type": ["string", "null"]},
        },
    });
    let mut configuration = settings.clone();
    configuration["type"] = json!("object");
    let mut properties = json!({
        "run_spec": {
            "type": "object",
            "properties": {"configuration": configuration, "profile": settings},
        },
        "max_offers": {"type": ["integer", "null"], "minimum": 0},
    });
    if group_by {
        properties["group_by"] = json!({
            "type": ["array", "null"],
            "items": {"enum": ["backend", "region", "count"]},
        });
    }
    object(properties, &["run_spec"])
}

/// dstack's error bodies.
fn error_schemas() -> Map<String, Value> {
    let detail_entry = object(
        json!({
            "msg": {"type": "string"},
            "code": {"type": "string"},
            "fields": {"type": "array", "items": {"type": "string"}},
        }),
        &["msg", "code"],
    );
    let mut schemas = Map::new();
    schemas.insert(
        "BadRequestError".into(),
        object(json!({"detail": {"type": "array", "items": detail_entry}}), &["detail"]),
    );
    schemas.insert(
        "MessageError".into(),
        object(
            json!({"detail": object(json!({"msg": {"type": "string"}, "code": {"type": "null"}}), &["msg", "code"])}),
            &["detail"],
        ),
    );
    schemas.insert("PlainError".into(), object(json!({"detail": {"type": "string"}}), &["detail"]));
    schemas.insert(
        "ValidationError".into(),
        object(
            json!({"detail": {"type": "array", "items": object(
                json!({"type": {"type": "string"}, "loc": {"type": "array"}, "msg": {"type": "string"}}),
                &["type", "loc", "msg"],
            )}}),
            &["detail"],
        ),
    );
    schemas
}

fn response(description: &str, schema: Value) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": schema}}})
}

fn error_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

/// The schema of `BackendConfigWithCreds` widened the way the loader coerces scalars, with
/// its definitions.
fn backend_config_schema() -> (Value, Map<String, Value>) {
    let mut generator = settings().into_generator();
    let mut root = generator.subschema_for::<dstack_core::config::BackendConfigWithCreds>();
    let mut definitions = generator.take_definitions(true);
    let mut value = root.as_value().clone();
    dstack_core::config::schema::widen_scalars(&mut value);
    for definition in definitions.values_mut() {
        dstack_core::config::schema::widen_scalars(definition);
    }
    root = Schema::try_from(value).unwrap_or_default();
    (root.to_value(), definitions)
}

fn settings() -> SchemaSettings {
    SchemaSettings::draft2020_12().with(|s| s.definitions_path = "/components/schemas".into())
}

/// The whole document.
pub fn openapi() -> Value {
    let mut requests = settings().into_generator();
    let mut answers = settings().for_serialize().into_generator();
    let (backend_config, backend_definitions) = backend_config_schema();
    let mut schemas = error_schemas();
    schemas.insert("BackendConfigWithCreds".into(), backend_config);
    let mut paths = Map::new();
    for route in ROUTES {
        let mut responses = Map::new();
        let ok = match route.answer {
            Answer::Schema(f) => f(&mut answers).to_value(),
            Answer::BackendConfig => error_ref("BackendConfigWithCreds"),
            Answer::Json(f) => f(),
        };
        responses.insert("200".into(), response("OK", ok));
        let is_api = route.path.starts_with("/api/");
        let reads_body = !matches!(route.request, Request::None);
        if route.client_errors || reads_body || is_api {
            // Business rules, an unreadable body, or a client newer than the server.
            responses.insert(
                "400".into(),
                response("Refused (dstack's ServerClientError)", error_ref("BadRequestError")),
            );
        }
        if route.auth != Auth::None {
            responses.insert("401".into(), response("No bearer token", error_ref("PlainError")));
            responses.insert(
                "403".into(),
                response("Invalid token, or access denied", error_ref("MessageError")),
            );
        }
        if route.auth == Auth::Project || route.not_found {
            responses.insert("404".into(), response("Not found", error_ref("MessageError")));
        }
        if reads_body {
            responses.insert("408".into(), response("Body too slow", error_ref("PlainError")));
            responses.insert("413".into(), response("Body too large", error_ref("PlainError")));
        }
        if reads_body || route.path.contains("{backend_name}") {
            responses
                .insert("422".into(), response("Invalid request", error_ref("ValidationError")));
        }
        let mut operation = json!({"summary": route.summary, "responses": responses});
        if route.auth != Auth::None {
            operation["security"] = json!([{"bearer": []}]);
        }
        let body = match route.request {
            Request::None => None,
            Request::Model(f, optional) => Some((f(&mut requests).to_value(), !optional)),
            Request::BackendConfig => Some((error_ref("BackendConfigWithCreds"), true)),
            Request::RunPlan => Some((run_plan_request(false), true)),
            Request::GpuList => Some((run_plan_request(true), true)),
        };
        if let Some((schema, required)) = body {
            operation["requestBody"] = json!({
                "required": required,
                "content": {"application/json": {"schema": schema}},
            });
        }
        let parameters: Vec<Value> = ["project_name", "backend_name"]
            .iter()
            .filter(|p| route.path.contains(&format!("{{{p}}}")))
            .map(|p| json!({"name": p, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        if !parameters.is_empty() {
            operation["parameters"] = Value::Array(parameters);
        }
        paths.insert(route.path.to_owned(), json!({"post": operation}));
    }
    schemas.extend(requests.take_definitions(true));
    schemas.extend(answers.take_definitions(true));
    schemas.extend(backend_definitions);
    json!({
        "openapi": "3.1.0",
        "info": {"title": "dstack server (Rust)", "version": crate::settings::DSTACK_VERSION},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    })
}

pub async fn document() -> Json<Value> {
    Json(openapi())
}

/// The hand-written field lists the body reader checks, next to the schema of the same
/// model: they must agree, or the document would not be as strict as the server.
#[cfg(test)]
fn fields_of<T: RequestBody + JsonSchema>() -> (super::extract::Fields, Value) {
    (T::FIELDS, schemars::schema_for!(T).to_value())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_models_and_their_field_lists_agree() {
        for (fields, schema) in [
            fields_of::<GetUserRequest>(),
            fields_of::<CreateUserRequest>(),
            fields_of::<ListProjectsRequest>(),
            fields_of::<CreateProjectRequest>(),
            fields_of::<AddMembersRequest>(),
            fields_of::<YamlRequest>(),
            fields_of::<DeleteRequest>(),
        ] {
            let properties: Vec<&str> =
                schema["properties"].as_object().unwrap().keys().map(String::as_str).collect();
            let names: Vec<&str> = fields.iter().map(|(name, _)| *name).collect();
            assert_eq!(names, properties);
            let required: Vec<&str> = schema["required"]
                .as_array()
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let marked: Vec<&str> =
                fields.iter().filter(|(_, required)| *required).map(|(name, _)| *name).collect();
            assert_eq!(marked, required, "{schema}");
            assert_eq!(schema["additionalProperties"], false, "{schema}");
        }
    }

    #[test]
    fn every_reference_resolves() {
        let document = openapi();
        let text = document.to_string();
        let schemas = document["components"]["schemas"].as_object().unwrap();
        for piece in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
            let name = piece.split('"').next().unwrap();
            assert!(schemas.contains_key(name), "dangling $ref to {name}");
        }
        assert_eq!(document["paths"].as_object().unwrap().len(), ROUTES.len());
    }
}
