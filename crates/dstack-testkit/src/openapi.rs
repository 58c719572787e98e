//! A provider's published API description, for holding a fake to it: every request a backend
//! makes must be an operation the provider documents, with a body its schema accepts, and
//! every answer the fake gives must fit the documented answer. A [`crate::FakeApi`] built
//! with [`crate::FakeApiBuilder::openapi`] checks both and keeps what failed
//! ([`crate::FakeApi::violations`]).
//!
//! The descriptions are read where the project keeps them, `../shared/data/api-specs/` beside
//! the repository (or `DSTACK_API_SPECS_DIR`), never copied into it. OpenAPI 3.0's dialect
//! is turned into JSON Schema 2020-12 first (`nullable`, boolean `exclusiveMinimum`), and
//! types a spec spells non-standardly are dropped rather than guessed. Swagger 2.0
//! descriptions (Hot Aisle's) are read too: the body is an `in: body` parameter, answers
//! carry their `schema` directly or name one of the root `responses`, schemas live under
//! `definitions`, and `x-nullable` is `nullable`. Their paths are below `basePath`, which a
//! fake's prefix stands for.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value, json};

/// A loaded description: its paths, and the validators built so far per schema pointer.
#[derive(Clone)]
pub struct Spec {
    name: String,
    root: Arc<Value>,
    validators: Arc<Mutex<HashMap<String, Arc<jsonschema::Validator>>>>,
}

impl std::fmt::Debug for Spec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spec").field("name", &self.name).finish()
    }
}

/// Where the descriptions are: `DSTACK_API_SPECS_DIR`, else `shared/data/api-specs` beside
/// the repository.
pub fn specs_dir() -> PathBuf {
    match std::env::var_os("DSTACK_API_SPECS_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/api-specs"),
    }
}

impl Spec {
    /// `file` of `provider`'s directory (`Spec::load("digitalocean",
    /// "digitalocean.v2.trimmed.json")`). `None`, with a line on stderr, where this checkout
    /// has no descriptions beside it: the fake then runs unchecked.
    pub fn load(provider: &str, file: &str) -> Option<Spec> {
        let path = specs_dir().join(provider).join(file);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(err) => {
                eprintln!("warning: {} not read ({err}); the fake is not checked", path.display());
                return None;
            }
        };
        let mut root: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
        to_json_schema(&mut root);
        Some(Spec {
            name: format!("{provider}/{file}"),
            root: Arc::new(root),
            validators: Arc::default(),
        })
    }

    /// The documented operation `method path` (a concrete path such as `/v2/droplets/42`),
    /// as the JSON pointer of its operation object.
    fn operation(&self, method: &str, path: &str) -> Option<String> {
        let paths = self.root.get("paths")?.as_object()?;
        let method = method.to_ascii_lowercase();
        let wanted: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        // A literal segment beats a parameter (`/sizes/all` before `/sizes/{id}`).
        let mut best: Option<(usize, &String)> = None;
        for (template, item) in paths {
            let parts: Vec<&str> = template.split('/').filter(|s| !s.is_empty()).collect();
            if parts.len() != wanted.len() || item.get(&method).is_none() {
                continue;
            }
            let mut literal = 0;
            let fits = parts.iter().zip(&wanted).all(|(p, w)| {
                if p.starts_with('{') && p.ends_with('}') {
                    true
                } else {
                    literal += 1;
                    p == w
                }
            });
            if fits && best.is_none_or(|(n, _)| literal > n) {
                best = Some((literal, template));
            }
        }
        best.map(|(_, template)| format!("/paths/{}/{method}", escape(template)))
    }

    /// Why a request does not fit the description, if it does not.
    pub fn check_request(
        &self,
        method: &str,
        path: &str,
        query: Option<&str>,
        body: &Value,
    ) -> Result<(), String> {
        let op = self
            .operation(method, path)
            .ok_or_else(|| format!("{method} {path} is not an operation of {}", self.name))?;
        let operation = self.root.pointer(&op).cloned().unwrap_or(Value::Null);
        let given: Vec<&str> = query
            .unwrap_or_default()
            .split('&')
            .filter_map(|pair| pair.split('=').next())
            .filter(|name| !name.is_empty())
            .collect();
        for parameter in operation.get("parameters").and_then(Value::as_array).into_iter().flatten()
        {
            let parameter = self.resolve(parameter);
            let name = parameter.get("name").and_then(Value::as_str).unwrap_or_default();
            let required = parameter.get("required").and_then(Value::as_bool).unwrap_or(false);
            if parameter.get("in").and_then(Value::as_str) == Some("query")
                && required
                && !given.contains(&name)
            {
                return Err(format!(
                    "{method} {path}: the required query parameter `{name}` is missing"
                ));
            }
        }
        match (self.request_schema(&op), body) {
            (Some((schema, _)), body) if !body.is_null() => {
                self.validate(&schema, body, &format!("{method} {path}"))
            }
            (Some((_, true)), _) => Err(format!("{method} {path}: the body is required")),
            _ => Ok(()),
        }
    }

    /// The pointer of the operation's body schema and whether a body is required: OpenAPI
    /// 3's `requestBody`, or Swagger 2.0's `in: body` parameter.
    fn request_schema(&self, op: &str) -> Option<(String, bool)> {
        let schema = format!("{op}/requestBody/content/application~1json/schema");
        if self.root.pointer(&schema).is_some() {
            let required = self.root.pointer(&format!("{op}/requestBody/required"));
            return Some((schema, required.and_then(Value::as_bool).unwrap_or(false)));
        }
        let parameters = self.root.pointer(&format!("{op}/parameters"))?.as_array()?;
        parameters.iter().enumerate().find_map(|(i, parameter)| {
            let (pointer, parameter) = match parameter.get("$ref").and_then(Value::as_str) {
                Some(reference) => {
                    let pointer = reference.strip_prefix('#')?.to_owned();
                    let target = self.root.pointer(&pointer)?;
                    (pointer, target)
                }
                None => (format!("{op}/parameters/{i}"), parameter),
            };
            (parameter.get("in").and_then(Value::as_str) == Some("body")).then(|| {
                let required = parameter.get("required").and_then(Value::as_bool);
                (format!("{pointer}/schema"), required.unwrap_or(false))
            })
        })
    }

    /// The pointer of the schema of the operation's `status` answer: OpenAPI 3's JSON
    /// content, or Swagger 2.0's `schema`, inline or in a root response it names.
    fn response_schema(&self, op: &str, status: u16) -> Option<String> {
        let answer = format!("{op}/responses/{status}");
        let openapi = format!("{answer}/content/application~1json/schema");
        if self.root.pointer(&openapi).is_some() {
            return Some(openapi);
        }
        let target = match self.root.pointer(&answer)?.get("$ref").and_then(Value::as_str) {
            Some(reference) => reference.strip_prefix('#')?.to_owned(),
            None => answer,
        };
        let schema = format!("{target}/schema");
        self.root.pointer(&schema).is_some().then_some(schema)
    }

    /// Why an answer does not fit the documented answer of its status, if it does not. An
    /// undocumented status, or one without a JSON schema, is not checked.
    pub fn check_response(
        &self,
        method: &str,
        path: &str,
        status: u16,
        body: &Value,
    ) -> Result<(), String> {
        let Some(op) = self.operation(method, path) else { return Ok(()) };
        let Some(schema) = self.response_schema(&op, status) else { return Ok(()) };
        self.validate(&schema, body, &format!("the {status} answer to {method} {path}"))
    }

    fn resolve<'a>(&'a self, value: &'a Value) -> &'a Value {
        match value.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix('#')) {
            Some(pointer) => self.root.pointer(pointer).unwrap_or(value),
            None => value,
        }
    }

    fn validate(&self, pointer: &str, instance: &Value, what: &str) -> Result<(), String> {
        let validator = self.validator(pointer)?;
        let errors: Vec<String> = validator
            .iter_errors(instance)
            .take(5)
            .map(|e| format!("{} at `{}`", e, e.instance_path()))
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(format!("{what} does not fit {}: {}", self.name, errors.join("; ")))
        }
    }

    /// The validator of the schema at `pointer`: the whole description as the root, so its
    /// `#/components/...` (or `#/definitions/...`) references resolve, entered through a `$ref`.
    fn validator(&self, pointer: &str) -> Result<Arc<jsonschema::Validator>, String> {
        let mut validators = self.validators.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(validator) = validators.get(pointer) {
            return Ok(validator.clone());
        }
        let mut root = Map::new();
        // A URI fragment: the braces of path templates (`/v2/droplets/{id}`) are escaped.
        let fragment = pointer.replace('{', "%7B").replace('}', "%7D");
        root.insert("$ref".into(), json!(format!("#{fragment}")));
        for key in ["components", "definitions", "parameters", "responses", "paths"] {
            if let Some(value) = self.root.get(key) {
                root.insert(key.into(), value.clone());
            }
        }
        let validator = jsonschema::draft202012::new(&Value::Object(root))
            .map_err(|e| format!("{}: the schema at {pointer} does not compile: {e}", self.name))?;
        let validator = Arc::new(validator);
        validators.insert(pointer.to_owned(), validator.clone());
        Ok(validator)
    }
}

/// A JSON pointer segment.
fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// OpenAPI 3.0 (and Swagger 2.0) schema dialect → JSON Schema 2020-12, in place.
fn to_json_schema(value: &mut Value) {
    const TYPES: &[&str] = &["null", "boolean", "object", "array", "number", "string", "integer"];
    match value {
        Value::Object(map) => {
            if let Some(Value::String(t)) = map.get("type")
                && !TYPES.contains(&t.as_str())
            {
                map.remove("type");
            }
            // Kubernetes' `IntOrString` (`type: string, format: int-or-string`) holds either.
            if map.get("format") == Some(&json!("int-or-string")) {
                map.insert("type".into(), json!(["integer", "string"]));
            }
            let nullable = |key: &str| map.get(key) == Some(&Value::Bool(true));
            if nullable("nullable") || nullable("x-nullable") {
                if let Some(Value::String(t)) = map.get("type").cloned() {
                    map.insert("type".into(), json!([t, "null"]));
                }
                if let Some(Value::Array(options)) = map.get_mut("enum")
                    && !options.contains(&Value::Null)
                {
                    options.push(Value::Null);
                }
            }
            for (bound, limit) in [("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")]
            {
                if let Some(Value::Bool(exclusive)) = map.get(bound).cloned() {
                    map.remove(bound);
                    if exclusive && let Some(n) = map.remove(limit) {
                        map.insert(bound.into(), n);
                    }
                }
            }
            map.values_mut().for_each(to_json_schema);
        }
        Value::Array(items) => items.iter_mut().for_each(to_json_schema),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(doc: Value) -> Spec {
        let mut doc = doc;
        to_json_schema(&mut doc);
        Spec { name: "test".into(), root: Arc::new(doc), validators: Arc::default() }
    }

    #[test]
    fn requests_and_answers_are_held_to_the_description() {
        let spec = spec(json!({
            "openapi": "3.0.0",
            "paths": {
                "/v2/droplets": {"post": {
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/New"}}}},
                    "responses": {"202": {"content": {"application/json": {"schema": {"type": "object", "required": ["droplet"]}}}}}
                }},
                "/v2/droplets/{id}": {"get": {"parameters": [{"name": "id", "in": "path", "required": true}],
                    "responses": {"200": {"content": {"application/json": {"schema": {"type": "object", "required": ["droplet"]}}}}}}},
                "/v2/droplets/all": {"get": {"parameters": [{"name": "tag", "in": "query", "required": true}]}}
            },
            "components": {"schemas": {"New": {
                "type": "object", "required": ["name"],
                "properties": {"name": {"type": "string"}, "vpc": {"type": "string", "nullable": true}}
            }}}
        }));
        assert!(
            spec.check_request("POST", "/v2/droplets", None, &json!({"name": "a", "vpc": null}))
                .is_ok()
        );
        let err =
            spec.check_request("POST", "/v2/droplets", None, &json!({"vpc": "x"})).unwrap_err();
        assert!(err.contains("name"), "{err}");
        assert!(
            spec.check_request("POST", "/v2/droplets", None, &Value::Null).is_err(),
            "body required"
        );
        assert!(spec.check_request("GET", "/v2/droplets/42", None, &Value::Null).is_ok());
        assert!(
            spec.check_response("GET", "/v2/droplets/42", 200, &json!({})).is_err(),
            "templated paths compile"
        );
        assert!(
            spec.check_response("GET", "/v2/droplets/42", 200, &json!({"droplet": {}})).is_ok()
        );
        assert!(spec.check_request("DELETE", "/v2/droplets/42", None, &Value::Null).is_err());
        assert!(
            spec.check_request("GET", "/v2/droplets/all", None, &Value::Null).is_err(),
            "literal segment first, query checked"
        );
        assert!(spec.check_request("GET", "/v2/droplets/all", Some("tag=x"), &Value::Null).is_ok());
        assert!(spec.check_response("POST", "/v2/droplets", 202, &json!({"droplet": {}})).is_ok());
        assert!(spec.check_response("POST", "/v2/droplets", 202, &json!({})).is_err());
        assert!(
            spec.check_response("POST", "/v2/droplets", 422, &json!({})).is_ok(),
            "undocumented status"
        );
    }

    #[test]
    fn swagger_2_bodies_answers_and_definitions_are_read() {
        let spec = spec(json!({
            "swagger": "2.0",
            "basePath": "/api/",
            "paths": {
                "/user/ssh_keys/": {"post": {
                    "parameters": [{"in": "body", "name": "body", "required": true, "schema": {"$ref": "#/definitions/Key"}}],
                    "responses": {"200": {"schema": {"$ref": "#/definitions/Key"}}, "400": {"$ref": "#/responses/BadRequest"}, "409": {"description": "Conflict"}}
                }},
                "/teams/{team}/vms/{vm}/": {"delete": {"parameters": [
                    {"in": "path", "name": "team", "required": true, "type": "string"},
                    {"$ref": "#/parameters/force"}
                ], "responses": {"204": {"description": "gone"}}}}
            },
            "parameters": {"force": {"in": "query", "name": "force", "required": true, "type": "boolean"}},
            "responses": {"BadRequest": {"description": "bad", "schema": {"type": "string"}}},
            "definitions": {"Key": {
                "type": "object", "required": ["authorized_key"],
                "properties": {"authorized_key": {"type": "string"}, "comment": {"type": "string", "x-nullable": true}}
            }}
        }));
        let ok = json!({"authorized_key": "ssh-ed25519 AAAA", "comment": null});
        assert!(spec.check_request("POST", "/user/ssh_keys/", None, &ok).is_ok());
        let err = spec.check_request("POST", "/user/ssh_keys/", None, &json!({})).unwrap_err();
        assert!(err.contains("authorized_key"), "the body parameter's schema: {err}");
        assert!(spec.check_request("POST", "/user/ssh_keys/", None, &Value::Null).is_err());
        assert!(spec.check_response("POST", "/user/ssh_keys/", 200, &ok).is_ok());
        assert!(spec.check_response("POST", "/user/ssh_keys/", 200, &json!([])).is_err());
        assert!(spec.check_response("POST", "/user/ssh_keys/", 400, &json!("Bad")).is_ok());
        assert!(
            spec.check_response("POST", "/user/ssh_keys/", 400, &json!({})).is_err(),
            "a root response's schema"
        );
        assert!(spec.check_response("POST", "/user/ssh_keys/", 409, &json!({})).is_ok());
        let (path, query) = ("/teams/t/vms/vm-1/", Some("force=true"));
        assert!(spec.check_request("DELETE", path, query, &Value::Null).is_ok());
        assert!(
            spec.check_request("DELETE", path, None, &Value::Null).is_err(),
            "a referenced query parameter"
        );
    }

    #[test]
    fn the_providers_descriptions_load_where_present() {
        // Absent in checkouts without the shared data: then nothing to check here.
        if let Some(spec) = Spec::load("digitalocean", "digitalocean.v2.trimmed.json") {
            assert!(spec.operation("GET", "/v2/sizes").is_some());
            let err = spec.check_request("POST", "/v2/account/keys", None, &json!({})).unwrap_err();
            assert!(err.contains("does not fit"), "{err}");
        }
        if let Some(spec) = Spec::load("vultr", "openapi.json") {
            let err =
                spec.check_request("POST", "/instances", None, &json!({"label": 1})).unwrap_err();
            assert!(err.contains("does not fit"), "{err}");
        }
        if let Some(spec) = Spec::load("hotaisle", "swagger.json") {
            let path = "/teams/t/virtual_machines/";
            let err = spec.check_request("POST", path, None, &json!({"cpu_cores": 1})).unwrap_err();
            assert!(err.contains("ram_capacity"), "{err}");
            let err = spec.check_response("GET", "/user/", 200, &json!({"teams": []})).unwrap_err();
            assert!(err.contains("user"), "{err}");
        }
        if let Some(spec) = Spec::load("cloudrift", "openapi.json") {
            let err =
                spec.check_request("POST", "/api/v1/instances/rent", None, &json!(7)).unwrap_err();
            assert!(err.contains("does not fit"), "{err}");
        }
    }
}
