//! `GET /openapi.json`: the OpenAPI document of this server's API.

use axum::Json;
use serde_json::{Value, json};

/// Each endpoint: path, summary, request schema (if it takes a body).
const ENDPOINTS: &[(&str, &str, Option<&str>)] = &[
    ("/api/server/get_info", "Server version", None),
    ("/api/users/get_my_user", "The calling user, with token and SSH key", None),
    (
        "/api/users/get_user",
        "A user, with token and SSH key (admins, or the user)",
        Some("GetUserRequest"),
    ),
    ("/api/users/create", "Create a user (global admins)", Some("CreateUserRequest")),
    ("/api/users/list", "Users (all for admins, else the caller)", None),
    ("/api/projects/list", "Projects the caller can see", Some("ListProjectsRequest")),
    ("/api/projects/create", "Create a project", Some("CreateProjectRequest")),
    ("/api/projects/{project_name}/get", "A project with backends and members", None),
    (
        "/api/projects/{project_name}/add_members",
        "Add or change members (managers)",
        Some("AddMembersRequest"),
    ),
    ("/api/backends/list_types", "Backend types this build can configure", None),
    (
        "/api/project/{project_name}/backends/create",
        "Create a backend (project admins)",
        Some("BackendConfigWithCreds"),
    ),
    (
        "/api/project/{project_name}/backends/update",
        "Update a backend (project admins)",
        Some("BackendConfigWithCreds"),
    ),
    (
        "/api/project/{project_name}/backends/create_yaml",
        "Create a backend from YAML",
        Some("YamlRequest"),
    ),
    (
        "/api/project/{project_name}/backends/update_yaml",
        "Update a backend from YAML",
        Some("YamlRequest"),
    ),
    (
        "/api/project/{project_name}/backends/delete",
        "Delete backends",
        Some("DeleteBackendsRequest"),
    ),
    (
        "/api/project/{project_name}/backends/{backend_name}/config_info",
        "A backend's config with creds",
        None,
    ),
    (
        "/api/project/{project_name}/backends/{backend_name}/get_yaml",
        "A backend's config as YAML",
        None,
    ),
];

fn object(properties: Value, required: &[&str]) -> Value {
    json!({"type": "object", "properties": properties, "required": required, "additionalProperties": false})
}

pub async fn document() -> Json<Value> {
    let mut paths = serde_json::Map::new();
    for (path, summary, request) in ENDPOINTS {
        let mut operation = json!({
            "summary": summary,
            "responses": {"200": {"description": "OK", "content": {"application/json": {}}}},
        });
        if *path != "/api/server/get_info" && *path != "/api/backends/list_types" {
            operation["security"] = json!([{"bearer": []}]);
        }
        if let Some(schema) = request {
            operation["requestBody"] = json!({
                "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}
            });
        }
        let parameters: Vec<Value> = ["project_name", "backend_name"]
            .iter()
            .filter(|p| path.contains(&format!("{{{p}}}")))
            .map(|p| json!({"name": p, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        if !parameters.is_empty() {
            operation["parameters"] = Value::Array(parameters);
        }
        paths.insert((*path).to_owned(), json!({"post": operation}));
    }
    let generator = schemars::generate::SchemaSettings::openapi3().into_generator();
    let backend = generator.into_root_schema_for::<dstack_core::config::BackendConfigWithCreds>();
    let mut backend = backend.to_value();
    let definitions = backend.as_object_mut().and_then(|o| o.remove("components"));
    let mut schemas = serde_json::Map::new();
    if let Some(Value::Object(components)) = definitions
        && let Some(Value::Object(defs)) = components.get("schemas")
    {
        schemas.extend(defs.clone());
    }
    if let Some(object) = backend.as_object_mut() {
        object.remove("$schema");
    }
    schemas.insert("BackendConfigWithCreds".to_owned(), backend);
    let string = json!({"type": "string"});
    let boolean = json!({"type": "boolean"});
    schemas.insert("GetUserRequest".to_owned(), object(json!({"username": string}), &["username"]));
    schemas.insert(
        "CreateUserRequest".to_owned(),
        object(
            json!({"username": string, "global_role": {"enum": ["admin", "user"]}, "email": string, "active": boolean}),
            &["username", "global_role"],
        ),
    );
    schemas.insert(
        "ListProjectsRequest".to_owned(),
        object(json!({"include_not_joined": boolean, "name_pattern": string, "limit": {"type": "integer"}, "ascending": boolean}), &[]),
    );
    schemas.insert(
        "CreateProjectRequest".to_owned(),
        object(
            json!({"project_name": string, "is_public": boolean, "templates_repo": string}),
            &["project_name"],
        ),
    );
    schemas.insert(
        "AddMembersRequest".to_owned(),
        object(
            json!({"members": {"type": "array", "items": object(json!({"username": string, "project_role": {"enum": ["admin", "manager", "user"]}}), &["username", "project_role"])}}),
            &["members"],
        ),
    );
    schemas
        .insert("YamlRequest".to_owned(), object(json!({"config_yaml": string}), &["config_yaml"]));
    schemas.insert(
        "DeleteBackendsRequest".to_owned(),
        object(json!({"backends_names": {"type": "array", "items": string}}), &["backends_names"]),
    );
    Json(json!({
        "openapi": "3.0.3",
        "info": {"title": "dstack server (Rust)", "version": crate::settings::DSTACK_VERSION},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }))
}
