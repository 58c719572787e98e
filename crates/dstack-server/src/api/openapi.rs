//! `GET /openapi.json`: the OpenAPI 3.1 document of this server's API — every route, every
//! status it answers with its body (dstack's error bodies), and request schemas generated from
//! the same types the handlers read, so the document is exactly as strict as the server.
//! `tests/schemathesis.rs` holds the server to it.

use axum::Json;
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};

use super::route::{Answer, Auth, Method, Request, object};

pub(super) fn run_plan_answer() -> Value {
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

/// The definitions of `BackendConfigWithCreds` (under its own name) and of the models it holds,
/// widened the way the loader coerces scalars.
fn backend_config_definitions() -> Map<String, Value> {
    let mut generator = settings().into_generator();
    generator.subschema_for::<dstack_core::config::BackendConfigWithCreds>();
    let mut definitions = generator.take_definitions(true);
    for definition in definitions.values_mut() {
        dstack_core::config::schema::widen_scalars(definition);
    }
    debug_assert!(definitions.contains_key("BackendConfigWithCreds"));
    definitions
}

fn settings() -> SchemaSettings {
    SchemaSettings::draft2020_12().with(|s| s.definitions_path = "/components/schemas".into())
}

/// The `{name}` parameters of a path, in order.
fn path_parameters(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
}

/// The whole document.
pub fn openapi() -> Value {
    let mut requests = settings().into_generator();
    let mut answers = settings().for_serialize().into_generator();
    let mut schemas = error_schemas();
    let (_, routes) = super::table().into_parts();
    let mut paths = Map::new();
    for route in &routes {
        let mut responses = Map::new();
        let ok = match route.answer {
            Answer::Schema(f) => Some(f(&mut answers).to_value()),
            Answer::BackendConfig => Some(error_ref("BackendConfigWithCreds")),
            Answer::Json(f) => Some(f()),
            Answer::Refusal => None,
        };
        let refuses = ok.is_none();
        if let Some(ok) = ok {
            responses.insert("200".into(), response("OK", ok));
        }
        let is_api = route.path.starts_with("/api/");
        let reads_body = !matches!(route.request, Request::None);
        if refuses {
            responses.insert(
                "400".into(),
                response("Not supported by this server yet", error_ref("BadRequestError")),
            );
        } else if route.client_errors || reads_body || is_api {
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
            Request::Model(model) => {
                Some(((model.schema)(&mut requests).to_value(), !model.optional))
            }
            Request::BackendConfig => Some((error_ref("BackendConfigWithCreds"), true)),
            Request::RunPlan => Some((run_plan_request(false), true)),
            Request::GpuList => Some((run_plan_request(true), true)),
            Request::AnyObject => Some((json!({"type": "object"}), false)),
            Request::Json { schema, required } => Some((schema(), required)),
        };
        if let Some((schema, required)) = body {
            operation["requestBody"] = json!({
                "required": required,
                "content": {"application/json": {"schema": schema}},
            });
        }
        let parameters: Vec<Value> = path_parameters(route.path)
            .map(|p| json!({"name": p, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        if !parameters.is_empty() {
            operation["parameters"] = Value::Array(parameters);
        }
        let method = match route.method {
            Method::Post => "post",
            Method::Get => "get",
        };
        paths.insert(route.path.to_owned(), json!({method: operation}));
    }
    for definitions in [requests.take_definitions(true), answers.take_definitions(true)] {
        merge_definitions(&mut schemas, definitions);
    }
    merge_definitions(&mut schemas, backend_config_definitions());
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

/// Adds `definitions` to `schemas`. Request, answer and (widened) backend-config schemas share
/// one namespace, so a name two of them define differently would silently take the last one's
/// schema: that is a bug here, and debug builds (every test) stop on it.
fn merge_definitions(schemas: &mut Map<String, Value>, definitions: Map<String, Value>) {
    for (name, schema) in definitions {
        match schemas.get(&name) {
            Some(existing) => debug_assert_eq!(
                existing, &schema,
                "two different OpenAPI schemas are named {name}: give one of them its own"
            ),
            None => {
                schemas.insert(name, schema);
            }
        }
    }
}

pub async fn document() -> Json<Value> {
    Json(openapi())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hand-written field lists the body readers check, next to the schema of the same
    /// model: they must agree, or the document would not be as strict as the server.
    #[test]
    fn request_models_and_their_field_lists_agree() {
        let (_, routes) = crate::api::table().into_parts();
        let models: Vec<_> = routes
            .iter()
            .filter_map(|r| match r.request {
                Request::Model(model) => Some(model),
                _ => None,
            })
            .collect();
        assert!(models.len() > 10);
        for model in models {
            let schema = (model.standalone)().to_value();
            let properties: Vec<&str> =
                schema["properties"].as_object().unwrap().keys().map(String::as_str).collect();
            let names: Vec<&str> = model.fields.iter().map(|(name, _)| *name).collect();
            assert_eq!(names, properties);
            let required: Vec<&str> = schema["required"]
                .as_array()
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let marked: Vec<&str> = model
                .fields
                .iter()
                .filter(|(_, required)| *required)
                .map(|(name, _)| *name)
                .collect();
            assert_eq!(marked, required, "{schema}");
            assert_eq!(schema["additionalProperties"], false, "{schema}");
        }
    }

    /// `openapi()` itself stops in debug builds on a name defined twice differently; this
    /// also pins the case that once slipped through: the secret value of a request body is a
    /// string, not the backend config's widened scalar.
    #[test]
    fn a_secret_value_in_a_request_is_a_string() {
        let document = openapi();
        let path = "/api/project/{project_name}/secrets/create_or_update";
        let body = &document["paths"][path]["post"]["requestBody"]["content"]["application/json"];
        let name = body["schema"]["$ref"].as_str().unwrap().rsplit('/').next().unwrap();
        let model = &document["components"]["schemas"][name];
        assert_eq!(model["properties"]["value"]["type"], "string", "{model}");
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
        let (_, routes) = crate::api::table().into_parts();
        assert_eq!(document["paths"].as_object().unwrap().len(), routes.len());
    }
}
