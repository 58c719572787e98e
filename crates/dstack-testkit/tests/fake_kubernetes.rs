//! The fake Kubernetes API over real HTTP, as a `kube` client meets it: the apiserver's
//! shapes and `Status` errors, and the simulated scheduler and kubelet.

use dstack_testkit::fakes::kubernetes::{self, FakeKubernetes, NodeShape, TOKEN};
use serde_json::{Value, json};

struct Cluster {
    fake: FakeKubernetes,
    http: reqwest::Client,
}

impl Cluster {
    async fn start() -> Self {
        Self { fake: kubernetes::start().await, http: reqwest::Client::new() }
    }

    async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        token: &str,
    ) -> (u16, Value) {
        let url = format!("{}{path}", self.fake.url());
        let mut request =
            self.http.request(method.parse().expect("a method"), url).bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("the fake answers");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.send(method, path, body, TOKEN).await
    }

    async fn get(&self, path: &str) -> Value {
        let (status, body) = self.call("GET", path, None).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    /// Every request and answer fitted Kubernetes' description.
    fn assert_fits_the_spec(&self) {
        assert_eq!(self.fake.api.violations(), Vec::<String>::new());
    }
}

fn pod(name: &str, extra: Value) -> Value {
    let mut pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "dstack"}},
        "spec": {"containers": [
            {"name": "main", "image": "dstackai/base:0.10", "ports": [{"containerPort": 22}]},
        ]},
    });
    if let (Some(pod), Value::Object(extra)) = (pod["spec"].as_object_mut(), extra) {
        pod.extend(extra);
    }
    pod
}

fn assert_status(body: &Value, code: u16, reason: &str, message: &str) {
    assert_eq!(body["kind"], "Status", "{body}");
    assert_eq!(body["apiVersion"], "v1");
    assert_eq!(body["status"], "Failure");
    assert_eq!(body["code"], code);
    assert_eq!(body["reason"], reason);
    assert_eq!(body["message"], message);
}

const PODS: &str = "/api/v1/namespaces/default/pods";

#[tokio::test]
async fn the_version_is_answered_and_only_the_token_is_let_in() {
    let cluster = Cluster::start().await;
    let version = cluster.get("/version").await;
    assert_eq!((version["major"].as_str(), version["minor"].as_str()), (Some("1"), Some("36")));
    assert_eq!(version["gitVersion"], "v1.36.0");
    assert_eq!(cluster.get("/version/").await, version);
    let (status, body) = cluster.send("GET", "/api/v1/nodes", None, "wrong").await;
    assert_eq!(status, 401);
    assert_status(&body, 401, "Unauthorized", "Unauthorized");
    let (status, _) = cluster.send("GET", PODS, None, "").await;
    assert_eq!(status, 401);
    cluster.assert_fits_the_spec();
}

#[tokio::test]
async fn a_created_pod_is_scheduled_and_started_after_being_read() {
    let cluster = Cluster::start().await;
    let node = kubernetes::node(&NodeShape { name: "worker-1", ..NodeShape::default() });
    let node_ip = node["status"]["addresses"][0]["address"].clone();
    cluster.fake.add_node(node);

    let (status, created) = cluster.call("POST", PODS, Some(pod("job-1", json!({})))).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(
        (created["kind"].as_str(), created["apiVersion"].as_str()),
        (Some("Pod"), Some("v1"))
    );
    let metadata = &created["metadata"];
    assert_eq!(metadata["namespace"], "default");
    assert_eq!(metadata["uid"].as_str().map(str::len), Some(36));
    assert!(metadata["resourceVersion"].as_str().is_some_and(|v| v.parse::<u64>().is_ok()));
    assert!(metadata["creationTimestamp"].as_str().is_some_and(|t| t.ends_with('Z')));
    assert_eq!(created["status"]["phase"], "Pending");
    assert_eq!(created["spec"]["restartPolicy"], "Always");

    let list = cluster.get(PODS).await;
    assert_eq!(list["kind"], "PodList");
    assert!(list["metadata"]["resourceVersion"].is_string());
    let items = list["items"].as_array().expect("items");
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["status"]["phase"], "Pending", "the first read");
    assert!(items[0]["status"]["podIP"].is_null());
    assert!(items[0].get("kind").is_none(), "list items leave out kind");

    let running = cluster.get(&format!("{PODS}/job-1")).await;
    assert_eq!(running["status"]["phase"], "Running");
    assert_eq!(running["spec"]["nodeName"], "worker-1");
    assert_eq!(running["status"]["hostIP"], node_ip);
    assert!(running["status"]["podIP"].as_str().is_some_and(|ip| ip.starts_with("10.244.")));
    let container = &running["status"]["containerStatuses"][0];
    assert_eq!(
        (container["name"].as_str(), container["ready"].as_bool()),
        (Some("main"), Some(true))
    );
    assert!(container["state"]["running"]["startedAt"].is_string());
    assert_ne!(running["metadata"]["resourceVersion"], metadata["resourceVersion"]);
    assert_eq!(cluster.fake.pod("default", "job-1"), Some(running));
    cluster.assert_fits_the_spec();
}

#[tokio::test]
async fn a_pod_no_node_fits_stays_pending_until_one_does() {
    let cluster = Cluster::start().await;
    cluster.fake.set_pod_ready_after(0);
    cluster.fake.add_node(kubernetes::node(&NodeShape::default()));
    let selector = json!({"nodeSelector": {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"}});
    let (status, _) = cluster.call("POST", PODS, Some(pod("gpu", selector))).await;
    assert_eq!(status, 201);
    for _ in 0..3 {
        let pending = cluster.get(&format!("{PODS}/gpu")).await;
        assert_eq!(pending["status"]["phase"], "Pending");
        let condition = &pending["status"]["conditions"][0];
        assert_eq!(
            (condition["type"].as_str(), condition["status"].as_str()),
            (Some("PodScheduled"), Some("False"))
        );
        assert_eq!(condition["reason"], "Unschedulable");
        assert!(pending["spec"]["nodeName"].is_null());
    }
    cluster.fake.add_node(kubernetes::node(&NodeShape {
        name: "gpu-1",
        labels: &[("nvidia.com/gpu.product", "NVIDIA-H100-80GB-HBM3")],
        extended: &[("nvidia.com/gpu", "1")],
        ..NodeShape::default()
    }));
    let running = cluster.get(&format!("{PODS}/gpu")).await;
    assert_eq!(running["status"]["phase"], "Running");
    assert_eq!(running["spec"]["nodeName"], "gpu-1");
    cluster.assert_fits_the_spec();
}

#[tokio::test]
async fn requests_beyond_what_running_pods_leave_are_unschedulable() {
    let cluster = Cluster::start().await;
    cluster.fake.set_pod_ready_after(0);
    let shape =
        NodeShape { name: "gpu-1", extended: &[("nvidia.com/gpu", "2")], ..NodeShape::default() };
    cluster.fake.add_node(kubernetes::node(&shape));
    cluster.fake.add_pod(kubernetes::running_pod(
        "other",
        "busy",
        "gpu-1",
        &[("nvidia.com/gpu", "1")],
    ));
    let wants = |gpus: &str| {
        let resources =
            json!({"requests": {"nvidia.com/gpu": gpus}, "limits": {"nvidia.com/gpu": gpus}});
        let mut p = pod(&format!("wants-{gpus}"), json!({}));
        p["spec"]["containers"][0]["resources"] = resources;
        p
    };
    assert_eq!(cluster.call("POST", PODS, Some(wants("2"))).await.0, 201);
    assert_eq!(cluster.call("POST", PODS, Some(wants("1"))).await.0, 201);
    let too_big = cluster.get(&format!("{PODS}/wants-2")).await;
    let message = too_big["status"]["conditions"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("1 Insufficient nvidia.com/gpu"), "{message}");
    assert_eq!(cluster.get(&format!("{PODS}/wants-1")).await["status"]["phase"], "Running");
    let everywhere = cluster.get("/api/v1/pods").await;
    assert_eq!(everywhere["items"].as_array().map(Vec::len), Some(3));
    assert_eq!(
        cluster.fake.namespaces(),
        ["default", "kube-node-lease", "kube-public", "kube-system", "other"]
    );
    cluster.assert_fits_the_spec();
}

#[tokio::test]
async fn a_pod_told_to_fail_fails_with_its_reason() {
    let cluster = Cluster::start().await;
    cluster.fake.set_pod_ready_after(0);
    cluster.fake.add_node(kubernetes::node(&NodeShape::default()));
    cluster
        .fake
        .fail_next_pod("OutOfnvidia.com/gpu", "Pod was rejected: Node didn't have enough resource");
    assert_eq!(cluster.call("POST", PODS, Some(pod("doomed", json!({})))).await.0, 201);
    assert_eq!(cluster.call("POST", PODS, Some(pod("fine", json!({})))).await.0, 201);
    let failed = cluster.get(&format!("{PODS}/doomed")).await;
    assert_eq!(failed["status"]["phase"], "Failed");
    assert_eq!(failed["status"]["reason"], "OutOfnvidia.com/gpu");
    assert_eq!(failed["status"]["message"], "Pod was rejected: Node didn't have enough resource");
    assert_eq!(cluster.get(&format!("{PODS}/fine")).await["status"]["phase"], "Running");
    cluster.assert_fits_the_spec();
}

#[tokio::test]
async fn creates_are_refused_as_the_apiserver_refuses_them() {
    let cluster = Cluster::start().await;
    assert_eq!(cluster.call("POST", PODS, Some(pod("twice", json!({})))).await.0, 201);
    let (status, body) = cluster.call("POST", PODS, Some(pod("twice", json!({})))).await;
    assert_eq!(status, 409);
    assert_status(&body, 409, "AlreadyExists", "pods \"twice\" already exists");
    assert_eq!(body["details"], json!({"name": "twice", "kind": "pods"}));

    let mut nameless = pod("", json!({}));
    let (status, body) = cluster.call("POST", PODS, Some(nameless.clone())).await;
    assert_eq!(status, 422);
    let message =
        "Pod \"\" is invalid: metadata.name: Required value: name or generateName is required";
    assert_status(&body, 422, "Invalid", message);
    nameless["metadata"]["generateName"] = json!("dstack-");
    let (status, body) = cluster.call("POST", PODS, Some(nameless)).await;
    assert_eq!(status, 201);
    let name = body["metadata"]["name"].as_str().unwrap_or_default();
    assert!(name.starts_with("dstack-") && name.len() == 12, "{name}");

    let (status, body) = cluster.call("POST", PODS, Some(pod("Upper", json!({})))).await;
    assert_eq!((status, body["reason"].as_str()), (422, Some("Invalid")));
    let path = "/api/v1/namespaces/nope/pods";
    let (status, body) = cluster.call("POST", path, Some(pod("p", json!({})))).await;
    assert_eq!(status, 404);
    assert_status(&body, 404, "NotFound", "namespaces \"nope\" not found");
    cluster.assert_fits_the_spec();
}

#[tokio::test]
async fn a_pod_without_containers_is_refused_by_the_published_schema() {
    let (provider, file) = kubernetes::SPEC;
    if dstack_testkit::openapi::Spec::load(provider, file).is_none() {
        return; // A checkout without the shared API specs: the fake runs unchecked.
    }
    let cluster = Cluster::start().await;
    let broken = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}, "spec": {}});
    let (status, body) = cluster.call("POST", PODS, Some(broken)).await;
    assert_eq!(status, 400, "{body}");
    let violations = cluster.fake.api.violations();
    assert_eq!(violations.len(), 1, "{violations:?}");
    assert!(violations[0].contains("containers"), "{violations:?}");
    assert!(body.to_string().contains("containers"), "{body}");
    assert_eq!(cluster.fake.pods(), Vec::<Value>::new());
}

#[tokio::test]
async fn deleted_objects_are_gone() {
    let cluster = Cluster::start().await;
    assert_eq!(cluster.call("POST", PODS, Some(pod("gone", json!({})))).await.0, 201);
    let (status, deleted) = cluster.call("DELETE", &format!("{PODS}/gone"), None).await;
    assert_eq!(status, 200, "{deleted}");
    assert_eq!(deleted["kind"], "Pod");
    assert!(deleted["metadata"]["deletionTimestamp"].is_string());
    let (status, body) = cluster.call("GET", &format!("{PODS}/gone"), None).await;
    assert_eq!(status, 404);
    assert_status(&body, 404, "NotFound", "pods \"gone\" not found");
    let (status, body) = cluster.call("DELETE", &format!("{PODS}/gone"), None).await;
    assert_eq!(status, 404);
    assert_status(&body, 404, "NotFound", "pods \"gone\" not found");

    let secrets = "/api/v1/namespaces/default/secrets";
    let secret = json!({"metadata": {"name": "ssh"}, "stringData": {"id_ed25519": "key"}});
    let (status, created) = cluster.call("POST", secrets, Some(secret)).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["data"], json!({"id_ed25519": "a2V5"}));
    assert_eq!(created["type"], "Opaque");
    assert_eq!(cluster.get(secrets).await["items"][0]["data"], created["data"]);
    let (status, body) = cluster.call("DELETE", &format!("{secrets}/ssh"), None).await;
    assert_eq!(
        (status, body["kind"].as_str(), body["status"].as_str()),
        (200, Some("Status"), Some("Success"))
    );
    assert_eq!(cluster.fake.secrets(), Vec::<Value>::new());
    cluster.assert_fits_the_spec();
}

#[tokio::test]
async fn node_ports_are_allocated_and_kept_unique() {
    let cluster = Cluster::start().await;
    let services = "/api/v1/namespaces/default/services";
    let service = |name: &str, port: Value| {
        let spec = json!({"type": "NodePort", "selector": {"app": name}, "ports": [port]});
        json!({"metadata": {"name": name}, "spec": spec})
    };
    let (status, first) =
        cluster.call("POST", services, Some(service("a", json!({"port": 22})))).await;
    assert_eq!(status, 201, "{first}");
    let port = &first["spec"]["ports"][0];
    assert_eq!((port["nodePort"].as_u64(), port["protocol"].as_str()), (Some(30000), Some("TCP")));
    assert!(first["spec"]["clusterIP"].as_str().is_some_and(|ip| ip.starts_with("10.96.")));
    let given = service("b", json!({"port": 22, "nodePort": 30022}));
    let (status, second) = cluster.call("POST", services, Some(given)).await;
    assert_eq!(status, 201, "{second}");
    assert_eq!(second["spec"]["ports"][0]["nodePort"], 30022);
    assert_ne!(second["spec"]["clusterIP"], first["spec"]["clusterIP"]);

    let clash = service("c", json!({"port": 22, "nodePort": 30022}));
    let (status, body) = cluster.call("POST", services, Some(clash.clone())).await;
    assert_eq!(status, 422);
    let message = "Service \"c\" is invalid: spec.ports[0].nodePort: \
                   Invalid value: 30022: provided port is already allocated";
    assert_status(&body, 422, "Invalid", message);
    assert_eq!(body["details"]["causes"][0]["field"], "spec.ports[0].nodePort");

    assert_eq!(cluster.call("DELETE", &format!("{services}/b"), None).await.0, 200);
    assert_eq!(cluster.call("POST", services, Some(clash)).await.0, 201, "the port is free again");
    let names: Vec<Value> =
        cluster.fake.services().iter().map(|s| s["metadata"]["name"].clone()).collect();
    assert_eq!(names, [json!("a"), json!("c")]);
    let found = cluster.get(&format!("{services}/a")).await;
    assert_eq!(found["spec"]["ports"][0]["nodePort"], 30000);
    cluster.assert_fits_the_spec();
}

#[tokio::test]
async fn lists_select_by_fields_and_labels() {
    let cluster = Cluster::start().await;
    cluster.fake.set_pod_ready_after(0);
    cluster.fake.add_node(kubernetes::node(&NodeShape::default()));
    cluster.fake.fail_next_pod("Evicted", "The node was low on resource: memory.");
    for (name, app) in [("failed", "dstack"), ("a", "dstack"), ("b", "other")] {
        let mut p = pod(name, json!({}));
        p["metadata"]["labels"]["app"] = json!(app);
        assert_eq!(cluster.call("POST", PODS, Some(p)).await.0, 201);
    }
    let names = |list: Value| -> Vec<String> {
        let items = list["items"].as_array().cloned().unwrap_or_default();
        items.iter().filter_map(|i| i["metadata"]["name"].as_str().map(str::to_owned)).collect()
    };
    let live = "fieldSelector=status.phase%21%3DSucceeded%2Cstatus.phase%21%3DFailed";
    assert_eq!(names(cluster.get(&format!("/api/v1/pods?{live}")).await), ["a", "b"]);
    let query = format!("{live}&labelSelector=app%3Ddstack");
    assert_eq!(names(cluster.get(&format!("{PODS}?{query}")).await), ["a"]);
    let query = "fieldSelector=metadata.name%3Db,spec.nodeName%3Dnode-1";
    assert_eq!(names(cluster.get(&format!("/api/v1/pods?{query}")).await), ["b"]);
    let query = "fieldSelector=metadata.namespace%3Dkube-system";
    assert_eq!(names(cluster.get(&format!("/api/v1/pods?{query}")).await), Vec::<String>::new());
    assert_eq!(names(cluster.get("/api/v1/namespaces/other/pods").await), Vec::<String>::new());

    let (status, body) =
        cluster.call("GET", &format!("{PODS}?fieldSelector=spec.image%3Dx"), None).await;
    assert_eq!(status, 400);
    assert_status(&body, 400, "BadRequest", "field label not supported: spec.image");
    let (status, body) = cluster.call("GET", &format!("{PODS}?watch=true"), None).await;
    assert_eq!((status, body["kind"].as_str()), (400, Some("Status")), "watch is refused plainly");
    let nodes = cluster.get("/api/v1/nodes?labelSelector=kubernetes.io%2Farch%3Damd64").await;
    assert_eq!(
        (nodes["kind"].clone(), names(nodes)),
        (json!("NodeList"), vec!["node-1".to_owned()])
    );
    cluster.assert_fits_the_spec();
}

#[tokio::test]
async fn nodes_and_namespaces_are_served() {
    let cluster = Cluster::start().await;
    cluster.fake.add_node(kubernetes::node(&NodeShape {
        name: "n1",
        external_ip: Some("203.0.113.9"),
        ..NodeShape::default()
    }));
    let node = cluster.get("/api/v1/nodes/n1").await;
    assert_eq!(
        node["status"]["addresses"][1],
        json!({"type": "ExternalIP", "address": "203.0.113.9"})
    );
    let (status, body) = cluster.call("GET", "/api/v1/nodes/n2", None).await;
    assert_eq!(status, 404);
    assert_status(&body, 404, "NotFound", "nodes \"n2\" not found");

    let default = cluster.get("/api/v1/namespaces/default").await;
    assert_eq!(
        (default["kind"].as_str(), default["status"]["phase"].as_str()),
        (Some("Namespace"), Some("Active"))
    );
    let namespace =
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "dstack"}});
    let (status, created) =
        cluster.call("POST", "/api/v1/namespaces", Some(namespace.clone())).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["metadata"]["labels"]["kubernetes.io/metadata.name"], "dstack");
    let (status, body) = cluster.call("POST", "/api/v1/namespaces", Some(namespace)).await;
    assert_eq!(status, 409);
    assert_status(&body, 409, "AlreadyExists", "namespaces \"dstack\" already exists");
    let (status, body) = cluster.call("GET", "/api/v1/namespaces/missing", None).await;
    assert_eq!(status, 404);
    assert_status(&body, 404, "NotFound", "namespaces \"missing\" not found");
    assert!(cluster.fake.namespaces().contains(&"dstack".to_owned()));
    cluster.assert_fits_the_spec();
}
