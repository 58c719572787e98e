//! A stateful fake of the Kubernetes core/v1 API on [`crate::FakeApi`] (plain HTTP on
//! loopback, `Authorization: Bearer` [`TOKEN`]), for a backend that talks through the `kube`
//! client: `/version`, nodes, namespaces, and namespaced pods, services and secrets.
//!
//! It follows Kubernetes' own published OpenAPI (Swagger 2.0) description of release 1.36,
//! `api/openapi-spec/swagger.json` of `kubernetes/kubernetes` (`kubernetes/swagger.min.json`
//! of the shared API specs), and every request and answer is held to it
//! ([`crate::openapi::Spec`]): an object the schema refuses (a pod without
//! `spec.containers`) is answered 400 by the checker and kept in
//! [`FakeApi::violations`]. Beyond the description it answers as kube-apiserver does:
//! errors are `Status` objects with the apiserver's reasons and messages (`NotFound`,
//! `AlreadyExists`, `Invalid` with its causes, `BadRequest`, `Unauthorized`), creates answer
//! 201 with the stored object (`uid`, `resourceVersion`, `creationTimestamp`, defaults such
//! as a pod's `restartPolicy` and `qosClass`, a service's `clusterIP` and node ports), list
//! items leave out `kind` and `apiVersion`, a deleted secret is answered with a `Success`
//! status. It does not serve `watch=true` (its answers are single JSON documents): such a
//! list is refused with a 400 `Status`; `dryRun`, `limit`/`continue` and updates are not
//! served either.
//!
//! Controllers are simulated so that a backend sees a living cluster: a new pod is `Pending`
//! until it has been read ([`FakeKubernetes::set_pod_ready_after`], default once); on the
//! next read the scheduler binds it to the first node that fits its `nodeSelector`,
//! tolerations and requests (else it stays `Pending`, `PodScheduled` `False`,
//! `Unschedulable`), and the kubelet runs it: `Running` with `hostIP`, a `podIP`
//! `10.244.x.y` and ready container statuses, or `Failed` as
//! [`FakeKubernetes::fail_next_pod`] says. Deleted pods are gone at once (no `Terminating`).
//!
//! ```ignore
//! let fake = fakes::kubernetes::start().await;
//! let gpus = NodeShape { name: "gpu-1", extended: &[("nvidia.com/gpu", "8")], ..NodeShape::default() };
//! fake.add_node(kubernetes::node(&gpus));
//! std::fs::write(&path, fake.kubeconfig(&[("fake", Some("dstack"))], Some("fake")))?;
//! assert_eq!(fake.api.violations(), Vec::<String>::new());
//! ```

mod admission;
mod objects;
mod scheduler;
mod selectors;
mod status;
mod store;

use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::Value;

pub use objects::{NodeShape, node, running_pod};

use crate::openapi::Spec;
use crate::{FakeApi, Recorded, Reply};
use store::{Resource, State};

/// The bearer token the fake accepts.
pub const TOKEN: &str = "fake-kubernetes-token";
/// Kubernetes' description, as [`Spec::load`] takes it.
pub const SPEC: (&str, &str) = ("kubernetes", "swagger.min.json");

/// A running fake cluster; stopped when dropped.
#[derive(Debug)]
pub struct FakeKubernetes {
    pub api: FakeApi,
    state: Arc<Mutex<State>>,
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

fn param<'a>(request: &'a Recorded, name: &str) -> &'a str {
    request.params.get(name).map(String::as_str).unwrap_or_default()
}

/// Starts a cluster with the namespaces `default`, `kube-system`, `kube-public` and
/// `kube-node-lease` and no nodes, accepting [`TOKEN`] only.
pub async fn start() -> FakeKubernetes {
    let state = Arc::new(Mutex::new(State::new()));
    let route = |f: fn(&mut State, &Recorded) -> Reply| {
        let state = state.clone();
        move |request: &Recorded| f(&mut lock(&state), request)
    };
    let mut builder = FakeApi::builder()
        .bearer(TOKEN)
        .unauthorized(status::unauthorized())
        .openapi(Spec::load(SPEC.0, SPEC.1))
        .route("GET", "/version", |_| Reply::json(objects::version()))
        .route("GET", "/api/v1/nodes", route(|s, r| s.cluster_list("nodes", r.query.as_deref())))
        .route("GET", "/api/v1/nodes/{name}", route(|s, r| s.node(param(r, "name"))))
        .route(
            "GET",
            "/api/v1/namespaces",
            route(|s, r| s.cluster_list("namespaces", r.query.as_deref())),
        )
        .route("POST", "/api/v1/namespaces", route(|s, r| s.create_namespace(&r.body)))
        .route(
            "GET",
            "/api/v1/namespaces/{name}",
            route(|s, r| match s.namespaces.get(param(r, "name")) {
                Some(namespace) => Reply::json(namespace.clone()),
                None => status::not_found("namespaces", param(r, "name")),
            }),
        );
    for resource in Resource::ALL {
        let plural = resource.plural();
        let handle = |f: fn(&mut State, Resource, &Recorded) -> Reply| {
            let state = state.clone();
            move |request: &Recorded| f(&mut lock(&state), resource, request)
        };
        builder = builder
            .route(
                "GET",
                &format!("/api/v1/{plural}"),
                handle(|s, k, r| s.list(k, None, r.query.as_deref())),
            )
            .route(
                "GET",
                &format!("/api/v1/namespaces/{{namespace}}/{plural}"),
                handle(|s, k, r| s.list(k, Some(param(r, "namespace")), r.query.as_deref())),
            )
            .route(
                "POST",
                &format!("/api/v1/namespaces/{{namespace}}/{plural}"),
                handle(|s, k, r| s.create(k, param(r, "namespace"), &r.body)),
            )
            .route(
                "GET",
                &format!("/api/v1/namespaces/{{namespace}}/{plural}/{{name}}"),
                handle(|s, k, r| s.get(k, param(r, "namespace"), param(r, "name"))),
            )
            .route(
                "DELETE",
                &format!("/api/v1/namespaces/{{namespace}}/{plural}/{{name}}"),
                handle(|s, k, r| s.delete(k, param(r, "namespace"), param(r, "name"))),
            );
    }
    FakeKubernetes { api: builder.start().await, state }
}

impl FakeKubernetes {
    /// The server's URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        self.api.url()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// A kubeconfig for this cluster: one cluster (`server` = [`Self::url`], no TLS), one
    /// user with [`TOKEN`], one context per `(name, namespace)` entry, and `current` as
    /// `current-context` when given. Strings are written as JSON-quoted YAML scalars.
    pub fn kubeconfig(&self, contexts: &[(&str, Option<&str>)], current: Option<&str>) -> String {
        let quote = |text: &str| Value::from(text).to_string();
        let mut yaml = format!(
            "apiVersion: v1\nkind: Config\npreferences: {{}}\n\
             clusters:\n- name: fake-cluster\n  cluster:\n    server: {}\n\
             users:\n- name: fake-user\n  user:\n    token: {}\n",
            quote(self.url()),
            quote(TOKEN),
        );
        if contexts.is_empty() {
            yaml.push_str("contexts: []\n");
        } else {
            yaml.push_str("contexts:\n");
        }
        for (name, namespace) in contexts {
            yaml.push_str(&format!(
                "- name: {}\n  context:\n    cluster: fake-cluster\n    user: fake-user\n",
                quote(name)
            ));
            if let Some(namespace) = namespace {
                yaml.push_str(&format!("    namespace: {}\n", quote(namespace)));
            }
        }
        if let Some(current) = current {
            yaml.push_str(&format!("current-context: {}\n", quote(current)));
        }
        yaml
    }

    /// Adds (or replaces, by name) a v1 Node object, as given (see [`node`]).
    pub fn add_node(&self, node: Value) {
        let mut state = self.state();
        let name = node.pointer("/metadata/name").cloned();
        state.nodes.retain(|n| n.pointer("/metadata/name") != name.as_ref());
        state.nodes.push(node);
    }

    /// Stores a pod as given (see [`running_pod`]), in the namespace of its metadata
    /// (`default` without one; made if missing); the simulated kubelet leaves it alone.
    pub fn add_pod(&self, pod: Value) {
        self.state().add_pod(pod);
    }

    pub fn nodes(&self) -> Vec<Value> {
        self.state().nodes.clone()
    }

    /// The pods of every namespace, as stored (read without counting as a read).
    pub fn pods(&self) -> Vec<Value> {
        self.all(Resource::Pod)
    }

    pub fn services(&self) -> Vec<Value> {
        self.all(Resource::Service)
    }

    pub fn secrets(&self) -> Vec<Value> {
        self.all(Resource::Secret)
    }

    fn all(&self, resource: Resource) -> Vec<Value> {
        let state = self.state();
        state.objects.iter().filter(|((r, ..), _)| *r == resource).map(|(_, o)| o.clone()).collect()
    }

    /// The namespaces' names, sorted.
    pub fn namespaces(&self) -> Vec<String> {
        self.state().namespaces.keys().cloned().collect()
    }

    /// The pod as stored (read without counting as a read).
    pub fn pod(&self, namespace: &str, name: &str) -> Option<Value> {
        self.one(Resource::Pod, namespace, name)
    }

    pub fn service(&self, namespace: &str, name: &str) -> Option<Value> {
        self.one(Resource::Service, namespace, name)
    }

    pub fn secret(&self, namespace: &str, name: &str) -> Option<Value> {
        self.one(Resource::Secret, namespace, name)
    }

    fn one(&self, resource: Resource, namespace: &str, name: &str) -> Option<Value> {
        self.state().objects.get(&(resource, namespace.to_owned(), name.to_owned())).cloned()
    }

    /// New pods start on the read after their `reads`-th (default 1: the first read shows
    /// `Pending`, the second `Running`; 0: running from the first read).
    pub fn set_pod_ready_after(&self, reads: u32) {
        self.state().ready_after = reads;
    }

    /// The next pod created goes to `Failed` with `reason` and `message` (such as
    /// `OutOfnvidia.com/gpu`) where it would have started.
    pub fn fail_next_pod(&self, reason: &str, message: &str) {
        self.state().fail_next = Some((reason.to_owned(), message.to_owned()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A YAML document as JSON (scalars as strings), through a real YAML parser.
    fn yaml_to_json(text: &str) -> Value {
        use saphyr_parser::{Event, Parser};
        fn value<'a>(events: &mut impl Iterator<Item = Event<'a>>, first: Event<'a>) -> Value {
            match first {
                Event::Scalar(text, ..) => json!(text.as_ref()),
                Event::SequenceStart(..) => {
                    let mut items = Vec::new();
                    while let Some(event) = events.next().filter(|e| *e != Event::SequenceEnd) {
                        items.push(value(events, event));
                    }
                    Value::Array(items)
                }
                Event::MappingStart(..) => {
                    let mut map = serde_json::Map::new();
                    while let Some(key) = events.next().filter(|e| *e != Event::MappingEnd) {
                        let key = value(events, key).as_str().unwrap_or_default().to_owned();
                        let next = events.next().expect("a value");
                        map.insert(key, value(events, next));
                    }
                    Value::Object(map)
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        let mut events = Parser::new_from_str(text)
            .map(|e| e.expect("valid YAML").0)
            .filter(|e| !matches!(e, Event::StreamStart | Event::DocumentStart(_)));
        let first = events.next().expect("a document");
        value(&mut events, first)
    }

    #[tokio::test]
    async fn the_kubeconfig_names_the_fake_and_its_contexts() {
        let fake = start().await;
        let yaml = fake.kubeconfig(&[("fake", Some("dstack")), ("bare", None)], Some("fake"));
        let config = yaml_to_json(&yaml);
        assert_eq!(
            (config["apiVersion"].as_str(), config["kind"].as_str()),
            (Some("v1"), Some("Config"))
        );
        assert_eq!(config["clusters"][0]["cluster"]["server"], fake.url());
        assert_eq!(config["users"][0]["user"]["token"], TOKEN);
        let contexts = &config["contexts"];
        assert_eq!(contexts[0]["name"], "fake");
        assert_eq!(contexts[0]["context"]["namespace"], "dstack");
        assert_eq!(contexts[0]["context"]["cluster"], config["clusters"][0]["name"]);
        assert_eq!(contexts[1]["context"]["user"], config["users"][0]["name"]);
        assert!(contexts[1]["context"].get("namespace").is_none());
        assert_eq!(config["current-context"], "fake");
        let none = yaml_to_json(&fake.kubeconfig(&[], None));
        assert_eq!(none["contexts"], json!([]));
        assert!(none.get("current-context").is_none());
    }
}
