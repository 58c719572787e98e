//! The cluster's objects and the apiserver's REST semantics over them: creates stamp
//! metadata and answer 201, names are unique per namespace (409), lists take selectors,
//! deletes answer what the apiserver answers (the pod, the service, a `Success` status for
//! a secret). Reading a pod drives the simulated scheduler and kubelet.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use super::selectors::{FieldSelector, LabelSelector, query_param};
use super::status::{self, Cause};
use super::{admission, objects, scheduler};
use crate::Reply;

/// The namespaced resources the fake serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Resource {
    Pod,
    Service,
    Secret,
}

impl Resource {
    pub const ALL: [Resource; 3] = [Self::Pod, Self::Service, Self::Secret];

    pub fn plural(self) -> &'static str {
        match self {
            Self::Pod => "pods",
            Self::Service => "services",
            Self::Secret => "secrets",
        }
    }

    pub fn kind(self) -> &'static str {
        match self {
            Self::Pod => "Pod",
            Self::Service => "Service",
            Self::Secret => "Secret",
        }
    }
}

/// The simulated life of a pod created through the API.
#[derive(Debug)]
struct Sim {
    reads: u32,
    /// The kubelet fails it with this `(reason, message)` instead of running it.
    fail: Option<(String, String)>,
    settled: bool,
}

type Key = (Resource, String, String);

#[derive(Debug)]
pub(super) struct State {
    pub nodes: Vec<Value>,
    pub namespaces: BTreeMap<String, Value>,
    /// `(resource, namespace, name)` → the object as stored.
    pub objects: BTreeMap<Key, Value>,
    sims: BTreeMap<(String, String), Sim>,
    revision: u64,
    pod_ips: u32,
    cluster_ips: u32,
    /// Reads of a new pod before the kubelet starts it.
    pub ready_after: u32,
    pub fail_next: Option<(String, String)>,
}

impl State {
    /// A cluster with the namespaces every cluster has, and no nodes.
    pub fn new() -> Self {
        let mut state = Self {
            nodes: Vec::new(),
            namespaces: BTreeMap::new(),
            objects: BTreeMap::new(),
            sims: BTreeMap::new(),
            revision: 100,
            pod_ips: 0,
            cluster_ips: 0,
            ready_after: 1,
            fail_next: None,
        };
        for name in ["default", "kube-node-lease", "kube-public", "kube-system"] {
            state.create_namespace(&json!({"metadata": {"name": name}}));
        }
        state
    }

    fn revision(&mut self) -> String {
        self.revision += 1;
        self.revision.to_string()
    }

    /// Sets what the apiserver sets on a new object, `kind` first as it writes them.
    fn stamp(&mut self, object: Value, kind: &str, namespace: Option<&str>) -> Value {
        let mut fields = match object {
            Value::Object(fields) => fields,
            _ => Map::new(),
        };
        let mut metadata = match fields.remove("metadata") {
            Some(Value::Object(metadata)) => metadata,
            _ => Map::new(),
        };
        if let Some(namespace) = namespace {
            metadata.insert("namespace".into(), json!(namespace));
        }
        metadata.insert("uid".into(), json!(objects::uid()));
        metadata.insert("resourceVersion".into(), json!(self.revision()));
        metadata.insert("creationTimestamp".into(), json!(objects::now()));
        let mut stamped = Map::new();
        stamped.insert("kind".into(), json!(kind));
        stamped.insert("apiVersion".into(), json!("v1"));
        stamped.insert("metadata".into(), Value::Object(metadata));
        fields.remove("kind");
        fields.remove("apiVersion");
        stamped.extend(fields);
        Value::Object(stamped)
    }

    /// The name of a new object (`generateName` completed), or the 422 without one.
    fn name(object: &mut Value, kind: &str) -> Result<String, Reply> {
        let metadata = object.pointer("/metadata");
        let given = |key: &str| {
            metadata.and_then(|m| m.get(key)).and_then(Value::as_str).filter(|n| !n.is_empty())
        };
        if let Some(name) = given("name") {
            return Ok(name.to_owned());
        }
        let Some(prefix) = given("generateName") else {
            let cause = Cause::required("metadata.name", "name or generateName is required");
            return Err(status::invalid(kind, "", &[cause]));
        };
        let name = format!("{prefix}{}", objects::name_suffix());
        object["metadata"]["name"] = json!(name);
        Ok(name)
    }

    pub fn create_namespace(&mut self, body: &Value) -> Reply {
        let mut object = body.clone();
        let name = match Self::name(&mut object, "Namespace") {
            Ok(name) => name,
            Err(refused) => return refused,
        };
        if let Some(why) = status::dns1123_label(&name) {
            let cause = Cause::invalid("metadata.name", &json!(name), &why);
            return status::invalid("Namespace", &name, &[cause]);
        }
        if self.namespaces.contains_key(&name) {
            return status::already_exists("namespaces", &name);
        }
        object["metadata"]["labels"]["kubernetes.io/metadata.name"] = json!(name);
        object["spec"] = json!({"finalizers": ["kubernetes"]});
        object["status"] = json!({"phase": "Active"});
        let object = self.stamp(object, "Namespace", None);
        self.namespaces.insert(name, object.clone());
        Reply::status(201, object)
    }

    /// The cluster-scoped `items` (nodes or namespaces) a list query selects.
    pub fn cluster_list(&self, plural: &str, query: Option<&str>) -> Reply {
        let (fields, labels) = match selectors(plural, query) {
            Ok(selectors) => selectors,
            Err(refused) => return refused,
        };
        let (kind, all): (&str, Vec<&Value>) = match plural {
            "nodes" => ("NodeList", self.nodes.iter().collect()),
            _ => ("NamespaceList", self.namespaces.values().collect()),
        };
        let items = all.into_iter().filter(|o| fields.matches(o) && labels.matches(o));
        self.list_answer(kind, items.cloned().collect())
    }

    fn list_answer(&self, kind: &str, items: Vec<Value>) -> Reply {
        // The apiserver leaves `kind` and `apiVersion` out of a list's items.
        let items: Vec<Value> = items
            .into_iter()
            .map(|mut item| {
                if let Some(item) = item.as_object_mut() {
                    item.remove("kind");
                    item.remove("apiVersion");
                }
                item
            })
            .collect();
        Reply::json(json!({
            "kind": kind, "apiVersion": "v1",
            "metadata": {"resourceVersion": self.revision.to_string()},
            "items": items,
        }))
    }

    pub fn node(&self, name: &str) -> Reply {
        match self.nodes.iter().find(|n| n.pointer("/metadata/name") == Some(&json!(name))) {
            Some(node) => Reply::json(node.clone()),
            None => status::not_found("nodes", name),
        }
    }

    pub fn list(
        &mut self,
        resource: Resource,
        namespace: Option<&str>,
        query: Option<&str>,
    ) -> Reply {
        let (fields, labels) = match selectors(resource.plural(), query) {
            Ok(selectors) => selectors,
            Err(refused) => return refused,
        };
        if matches!(query_param(query, "watch").as_deref(), Some("true" | "1")) {
            return status::bad_request(
                "watch is not served by this fake (its answers are single JSON documents): list and poll",
            );
        }
        let in_scope = |(r, ns, _): &Key| *r == resource && namespace.is_none_or(|n| n == ns);
        let keys: Vec<Key> = self.objects.keys().filter(|k| in_scope(k)).cloned().collect();
        if resource == Resource::Pod {
            keys.iter().for_each(|(_, ns, name)| self.settle(ns, name));
        }
        let mut items = Vec::new();
        for key in keys {
            let Some(object) = self.objects.get(&key) else { continue };
            if fields.matches(object) && labels.matches(object) {
                items.push(object.clone());
                self.count_read(&key.1, &key.2);
            }
        }
        self.list_answer(&format!("{}List", resource.kind()), items)
    }

    pub fn get(&mut self, resource: Resource, namespace: &str, name: &str) -> Reply {
        if resource == Resource::Pod {
            self.settle(namespace, name);
            self.count_read(namespace, name);
        }
        match self.objects.get(&(resource, namespace.to_owned(), name.to_owned())) {
            Some(object) => Reply::json(object.clone()),
            None => status::not_found(resource.plural(), name),
        }
    }

    pub fn create(&mut self, resource: Resource, namespace: &str, body: &Value) -> Reply {
        if !self.namespaces.contains_key(namespace) {
            return status::not_found("namespaces", namespace);
        }
        let given = body.pointer("/metadata/namespace").and_then(Value::as_str);
        if given.is_some_and(|given| !given.is_empty() && given != namespace) {
            return status::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            );
        }
        let mut object = body.clone();
        let kind = resource.kind();
        let name = match Self::name(&mut object, kind) {
            Ok(name) => name,
            Err(refused) => return refused,
        };
        let mut causes = Vec::new();
        let rule = match resource {
            Resource::Service => status::dns1035_label,
            _ => status::dns1123_subdomain,
        };
        if let Some(why) = rule(&name) {
            causes.push(Cause::invalid("metadata.name", &json!(name), &why));
        }
        causes.extend(match resource {
            Resource::Pod => admission::pod(&mut object),
            Resource::Secret => admission::secret(&mut object),
            Resource::Service => {
                let taken: BTreeSet<u64> = self
                    .objects
                    .iter()
                    .filter(|((r, ..), _)| *r == Resource::Service)
                    .flat_map(|(_, s)| admission::node_ports(s))
                    .collect();
                let cluster_ips = &mut self.cluster_ips;
                admission::service(&mut object, &taken, || {
                    *cluster_ips += 1;
                    format!("10.96.{}.{}", 1 + *cluster_ips / 250, *cluster_ips % 250 + 1)
                })
            }
        });
        if !causes.is_empty() {
            return status::invalid(kind, &name, &causes);
        }
        let key = (resource, namespace.to_owned(), name.clone());
        if self.objects.contains_key(&key) {
            return status::already_exists(resource.plural(), &name);
        }
        let object = self.stamp(object, kind, Some(namespace));
        if resource == Resource::Pod {
            let sim = Sim { reads: 0, fail: self.fail_next.take(), settled: false };
            self.sims.insert((namespace.to_owned(), name), sim);
        }
        self.objects.insert(key, object.clone());
        Reply::status(201, object)
    }

    pub fn delete(&mut self, resource: Resource, namespace: &str, name: &str) -> Reply {
        let key = (resource, namespace.to_owned(), name.to_owned());
        let Some(mut object) = self.objects.remove(&key) else {
            return status::not_found(resource.plural(), name);
        };
        self.sims.remove(&(namespace.to_owned(), name.to_owned()));
        match resource {
            Resource::Pod => {
                let grace = object.pointer("/spec/terminationGracePeriodSeconds").cloned();
                object["metadata"]["deletionTimestamp"] = json!(objects::now());
                object["metadata"]["deletionGracePeriodSeconds"] = grace.unwrap_or(json!(30));
                object["metadata"]["resourceVersion"] = json!(self.revision());
                Reply::json(object)
            }
            Resource::Service => Reply::json(object),
            Resource::Secret => Reply::json(json!({
                "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                "details": {"name": name, "kind": "secrets", "uid": object["metadata"]["uid"]},
            })),
        }
    }

    /// Stores `pod` as given, outside the simulated kubelet (its namespace made if missing).
    pub fn add_pod(&mut self, pod: Value) {
        let meta = |key: &str| {
            pod.pointer(&format!("/metadata/{key}")).and_then(Value::as_str).map(str::to_owned)
        };
        let namespace = meta("namespace").unwrap_or_else(|| "default".to_owned());
        if !self.namespaces.contains_key(&namespace) {
            self.create_namespace(&json!({"metadata": {"name": namespace}}));
        }
        let name = meta("name").unwrap_or_default();
        self.objects.insert((Resource::Pod, namespace, name), pod);
    }

    /// Lets the scheduler and kubelet act on a pod read often enough.
    fn settle(&mut self, namespace: &str, name: &str) {
        let id = (namespace.to_owned(), name.to_owned());
        let key = (Resource::Pod, id.0.clone(), id.1.clone());
        let Some(sim) = self.sims.get(&id) else { return };
        if sim.settled || sim.reads < self.ready_after {
            return;
        }
        let fail = sim.fail.clone();
        let Some(pod) = self.objects.get(&key) else { return };
        let others: Vec<&Value> = self
            .objects
            .iter()
            .filter(|(k, v)| k.0 == Resource::Pod && **k != key && scheduler::live(v))
            .map(|(_, v)| v)
            .collect();
        let placement = scheduler::place(pod, &self.nodes, &others);
        let changed = match placement {
            scheduler::Placement::Node { name: node, ip } => {
                self.pod_ips += 1;
                let pod_ip = format!("10.244.{}.{}", self.pod_ips / 250, self.pod_ips % 250 + 1);
                let Some(pod) = self.objects.get_mut(&key) else { return };
                match fail {
                    Some((reason, message)) => scheduler::fail(pod, &node, &ip, &reason, &message),
                    None => scheduler::run(pod, &node, &ip, &pod_ip),
                }
                if let Some(sim) = self.sims.get_mut(&id) {
                    sim.settled = true;
                }
                true
            }
            scheduler::Placement::Unschedulable(message) => self
                .objects
                .get_mut(&key)
                .is_some_and(|pod| scheduler::unschedulable(pod, &message)),
            scheduler::Placement::Waiting => false,
        };
        if changed {
            let revision = self.revision();
            if let Some(pod) = self.objects.get_mut(&key) {
                pod["metadata"]["resourceVersion"] = json!(revision);
            }
        }
    }

    fn count_read(&mut self, namespace: &str, name: &str) {
        if let Some(sim) = self.sims.get_mut(&(namespace.to_owned(), name.to_owned())) {
            sim.reads = sim.reads.saturating_add(1);
        }
    }
}

/// The `fieldSelector` and `labelSelector` of a list query, or the 400 they earn.
fn selectors(plural: &str, query: Option<&str>) -> Result<(FieldSelector, LabelSelector), Reply> {
    let fields = query_param(query, "fieldSelector").unwrap_or_default();
    let fields = FieldSelector::parse(plural, &fields).map_err(|e| status::bad_request(&e))?;
    let labels = query_param(query, "labelSelector").unwrap_or_default();
    let labels = LabelSelector::parse(&labels).map_err(|e| status::bad_request(&e))?;
    Ok((fields, labels))
}
