//! What the apiserver does to an object before storing it: validation (the causes of a 422
//! `Invalid`) and defaulting (a pod's restart policy and QoS class, a service's cluster IP
//! and node ports, a secret's `stringData` folded into `data`).

use std::collections::BTreeSet;

use base64::Engine as _;
use serde_json::{Map, Value, json};

use super::status::{Cause, dns1123_label};

/// The node ports the apiserver hands out.
pub(super) const NODE_PORTS: std::ops::RangeInclusive<u64> = 30000..=32767;

/// Validates and defaults a new pod; it is `Pending` from then on.
pub(super) fn pod(pod: &mut Value) -> Vec<Cause> {
    let mut causes = Vec::new();
    let spec = object(pod, "spec");
    let containers = spec.get_mut("containers").and_then(Value::as_array_mut);
    match containers {
        Some(containers) if !containers.is_empty() => {
            for (i, container) in containers.iter_mut().enumerate() {
                container_defaults(&format!("spec.containers[{i}]"), container, &mut causes);
            }
        }
        _ => causes.push(Cause::required("spec.containers", "")),
    }
    for (key, value) in [
        ("restartPolicy", json!("Always")),
        ("dnsPolicy", json!("ClusterFirst")),
        ("schedulerName", json!("default-scheduler")),
        ("serviceAccountName", json!("default")),
        ("terminationGracePeriodSeconds", json!(30)),
        ("enableServiceLinks", json!(true)),
        ("preemptionPolicy", json!("PreemptLowerPriority")),
        ("priority", json!(0)),
        ("securityContext", json!({})),
    ] {
        spec.entry(key).or_insert(value);
    }
    let qos = qos_class(pod);
    pod["status"] = json!({"phase": "Pending", "qosClass": qos});
    causes
}

fn container_defaults(field: &str, container: &mut Value, causes: &mut Vec<Cause>) {
    let name = container.get("name").and_then(Value::as_str).unwrap_or_default();
    if name.is_empty() {
        causes.push(Cause::required(&format!("{field}.name"), ""));
    } else if let Some(why) = dns1123_label(name) {
        causes.push(Cause::invalid(&format!("{field}.name"), &json!(name), &why));
    }
    let image = container.get("image").and_then(Value::as_str).unwrap_or_default().to_owned();
    if image.is_empty() {
        causes.push(Cause::required(&format!("{field}.image"), ""));
    }
    let Some(container) = container.as_object_mut() else { return };
    // `:latest` or no tag is pulled always, as the apiserver defaults it.
    let tag = image.rsplit('/').next().and_then(|last| last.split_once(':')).map(|(_, t)| t);
    let pull = if matches!(tag, None | Some("latest")) { "Always" } else { "IfNotPresent" };
    container.entry("imagePullPolicy").or_insert(json!(pull));
    container.entry("terminationMessagePath").or_insert(json!("/dev/termination-log"));
    container.entry("terminationMessagePolicy").or_insert(json!("File"));
    let resources = container.entry("resources").or_insert(json!({}));
    // Requests default to the limits given.
    if let Some(limits) = resources.get("limits").and_then(Value::as_object).cloned() {
        let requests = object(resources, "requests");
        for (resource, quantity) in limits {
            requests.entry(resource).or_insert(quantity);
        }
    }
    for port in container.get_mut("ports").and_then(Value::as_array_mut).into_iter().flatten() {
        if let Some(port) = port.as_object_mut() {
            port.entry("protocol").or_insert(json!("TCP"));
        }
    }
}

/// `Guaranteed` when every container limits CPU and memory at what it requests,
/// `BestEffort` when none asks for either, else `Burstable`.
fn qos_class(pod: &Value) -> &'static str {
    let containers = pod.pointer("/spec/containers").and_then(Value::as_array);
    let containers = containers.map(Vec::as_slice).unwrap_or_default();
    let get = |c: &Value, kind: &str, resource: &str| {
        c.pointer(&format!("/resources/{kind}/{resource}")).cloned()
    };
    let asks = containers.iter().any(|c| {
        ["requests", "limits"]
            .iter()
            .any(|k| get(c, k, "cpu").is_some() || get(c, k, "memory").is_some())
    });
    let guaranteed = containers.iter().all(|c| {
        ["cpu", "memory"]
            .iter()
            .all(|r| get(c, "limits", r).is_some() && get(c, "limits", r) == get(c, "requests", r))
    });
    match (asks, guaranteed) {
        (false, _) => "BestEffort",
        (true, true) => "Guaranteed",
        (true, false) => "Burstable",
    }
}

/// Validates and defaults a new service: ports, node ports out of `taken` (the other
/// services' ones) and, when all is well, the cluster IP `cluster_ip` gives.
pub(super) fn service(
    service: &mut Value,
    taken: &BTreeSet<u64>,
    cluster_ip: impl FnOnce() -> String,
) -> Vec<Cause> {
    let mut causes = Vec::new();
    let spec = object(service, "spec");
    let kind = spec.get("type").and_then(Value::as_str).unwrap_or("ClusterIP").to_owned();
    let node_ports = matches!(kind.as_str(), "NodePort" | "LoadBalancer");
    if !matches!(kind.as_str(), "ClusterIP" | "NodePort" | "LoadBalancer" | "ExternalName") {
        let supported =
            "supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\"";
        causes.push(Cause {
            reason: "FieldValueNotSupported",
            field: "spec.type".into(),
            message: format!("Unsupported value: {}: {supported}", json!(kind)),
        });
    }
    spec.insert("type".into(), json!(kind));
    let mut mine = BTreeSet::new();
    let ports = spec.get_mut("ports").and_then(Value::as_array_mut);
    match ports {
        Some(ports) if !ports.is_empty() => {
            for (i, port) in ports.iter_mut().enumerate() {
                let field = format!("spec.ports[{i}]");
                let Some(port) = port.as_object_mut() else { continue };
                let number = port.get("port").and_then(Value::as_u64).unwrap_or(0);
                if !(1..=65535).contains(&number) {
                    let why = "must be between 1 and 65535, inclusive";
                    causes.push(Cause::invalid(&format!("{field}.port"), &json!(number), why));
                }
                port.entry("protocol").or_insert(json!("TCP"));
                port.entry("targetPort").or_insert(json!(number));
                let given = port.get("nodePort").and_then(Value::as_u64).filter(|p| *p != 0);
                let field = format!("{field}.nodePort");
                match given {
                    Some(_) if !node_ports => causes.push(Cause::forbidden(
                        &field,
                        &format!("may not be used when `type` is '{kind}'"),
                    )),
                    Some(p) if !NODE_PORTS.contains(&p) => causes.push(Cause::invalid(
                        &field,
                        &json!(p),
                        "provided port is not in the valid range. The range of valid ports is 30000-32767",
                    )),
                    Some(p) if taken.contains(&p) || !mine.insert(p) => causes.push(
                        Cause::invalid(&field, &json!(p), "provided port is already allocated"),
                    ),
                    Some(_) => {}
                    None if node_ports => {
                        let free = NODE_PORTS.clone().find(|p| !taken.contains(p) && !mine.contains(p));
                        match free {
                            Some(p) => {
                                mine.insert(p);
                                port.insert("nodePort".into(), json!(p));
                            }
                            None => causes.push(Cause::invalid(&field, &json!(0), "range is full")),
                        }
                    }
                    None => {}
                }
            }
        }
        _ if kind != "ExternalName" => causes.push(Cause::required("spec.ports", "")),
        _ => {}
    }
    for (key, value) in [
        ("sessionAffinity", json!("None")),
        ("ipFamilies", json!(["IPv4"])),
        ("ipFamilyPolicy", json!("SingleStack")),
        ("internalTrafficPolicy", json!("Cluster")),
    ] {
        spec.entry(key).or_insert(value);
    }
    if node_ports {
        spec.entry("externalTrafficPolicy").or_insert(json!("Cluster"));
    }
    if kind == "LoadBalancer" {
        spec.entry("allocateLoadBalancerNodePorts").or_insert(json!(true));
    }
    if causes.is_empty() && kind != "ExternalName" {
        let ip = match spec.get("clusterIP").and_then(Value::as_str) {
            Some(ip) if !ip.is_empty() => ip.to_owned(),
            _ => cluster_ip(),
        };
        spec.insert("clusterIP".into(), json!(ip));
        spec.insert("clusterIPs".into(), json!([ip]));
    }
    service["status"] = json!({"loadBalancer": {}});
    causes
}

/// The node ports `service` holds.
pub(super) fn node_ports(service: &Value) -> impl Iterator<Item = u64> + '_ {
    let ports = service.pointer("/spec/ports").and_then(Value::as_array);
    ports.into_iter().flatten().filter_map(|p| p.get("nodePort").and_then(Value::as_u64))
}

/// Defaults a new secret: `Opaque`, `stringData` folded into `data` (base64), as stored.
pub(super) fn secret(secret: &mut Value) -> Vec<Cause> {
    let Some(map) = secret.as_object_mut() else { return Vec::new() };
    map.entry("type").or_insert(json!("Opaque"));
    if let Some(Value::Object(plain)) = map.remove("stringData") {
        let data = map.entry("data").or_insert(json!({}));
        if let Some(data) = data.as_object_mut() {
            for (key, value) in plain {
                let text = value.as_str().unwrap_or_default();
                let encoded = base64::engine::general_purpose::STANDARD.encode(text);
                data.insert(key, json!(encoded));
            }
        }
    }
    Vec::new()
}

/// `value[key]` as an object, made one if it is not.
fn object<'a>(value: &'a mut Value, key: &str) -> &'a mut Map<String, Value> {
    if !value.get(key).is_some_and(Value::is_object) {
        value[key] = json!({});
    }
    match value.get_mut(key) {
        Some(Value::Object(map)) => map,
        _ => unreachable!("just made an object"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pods_are_defaulted_as_the_apiserver_does() {
        let mut p = json!({"spec": {"containers": [{"name": "c", "image": "ubuntu:24.04",
            "resources": {"limits": {"cpu": "2", "memory": "1Gi"}}}]}});
        assert!(pod(&mut p).is_empty());
        assert_eq!(p["spec"]["containers"][0]["resources"]["requests"]["cpu"], "2");
        assert_eq!(p["spec"]["containers"][0]["imagePullPolicy"], "IfNotPresent");
        assert_eq!(p["status"], json!({"phase": "Pending", "qosClass": "Guaranteed"}));
        let mut p = json!({"spec": {"containers": [{"name": "C", "image": ""}]}});
        let fields: Vec<String> = pod(&mut p).into_iter().map(|c| c.field).collect();
        assert_eq!(fields, ["spec.containers[0].name", "spec.containers[0].image"]);
        assert_eq!(p["status"]["qosClass"], "BestEffort");
    }

    #[test]
    fn services_get_node_ports_and_a_cluster_ip() {
        let taken = BTreeSet::from([30000]);
        let ports = json!([{"port": 22}, {"port": 80, "nodePort": 30080}]);
        let mut s = json!({"spec": {"type": "NodePort", "ports": ports}});
        assert!(service(&mut s, &taken, || "10.96.0.9".into()).is_empty());
        assert_eq!(s["spec"]["ports"][0]["nodePort"], 30001);
        assert_eq!(s["spec"]["ports"][0]["targetPort"], 22);
        assert_eq!(s["spec"]["clusterIPs"], json!(["10.96.0.9"]));
        let mut s = json!({"spec": {"ports": [{"port": 22, "nodePort": 30022}]}});
        let causes = service(&mut s, &taken, || unreachable!("refused"));
        assert_eq!(causes[0].message, "Forbidden: may not be used when `type` is 'ClusterIP'");
        let mut s = json!({"spec": {"clusterIP": "None", "ports": [{"port": 1}]}});
        assert!(service(&mut s, &taken, || unreachable!("headless")).is_empty());
    }

    #[test]
    fn secrets_keep_string_data_as_data() {
        let mut s = json!({"stringData": {"key": "hi"}, "data": {"other": "eA=="}});
        secret(&mut s);
        assert_eq!(s, json!({"data": {"other": "eA==", "key": "aGk="}, "type": "Opaque"}));
    }
}
