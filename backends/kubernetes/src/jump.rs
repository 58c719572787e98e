//! The project's jump pod: one `sshd` per cluster namespace through which the server reaches
//! every job pod (their services are cluster-internal). Created with the first job, never
//! deleted (dstack's); each job's extra keys are added to it over SSH once it runs.

use dstack_core::backend::SshKeyPair;
use dstack_core::container::add_authorized_keys_script;
use dstack_core::offers::SshProxy;
use dstack_core::ssh::SshSettings;
use dstack_core::{BackendError, ErrorKind};
use dstack_ssh::{Connection, HostKeyPolicy, Target};
use k8s_openapi::api::core::v1::{Namespace, Node, Pod, Service};
use kube::Api;
use serde_json::json;

use crate::api::{self, namespaced};
use crate::clusters::Cluster;
use crate::labels::{base_labels, with_tags};
use crate::manifests::{POD_USER, jump_pod, jump_pod_name, jump_service, service_name};
use crate::placement::jump_tolerations;

fn failed(message: String) -> BackendError {
    BackendError::new(ErrorKind::ProvisioningFailed, message)
}

/// Makes sure `project`'s jump pod and its service exist in `cluster`'s namespace (the
/// namespace too), letting in `project_keys`. Both there: left as they are.
pub async fn ensure(
    cluster: &Cluster,
    project: &str,
    project_keys: &[String],
) -> Result<(), BackendError> {
    let pod_name = jump_pod_name(project);
    let namespaces: Api<Namespace> = Api::all(cluster.client.clone());
    let pods: Api<Pod> = namespaced(&cluster.client, &cluster.namespace);
    let services: Api<Service> = namespaced(&cluster.client, &cluster.namespace);
    if api::get(&namespaces, &cluster.namespace).await?.is_none() {
        let namespace = api::object(json!({"metadata": {"name": cluster.namespace}}))?;
        api::create(&namespaces, &namespace).await?;
    } else if api::get(&services, &service_name(&pod_name)).await?.is_some()
        && api::get(&pods, &pod_name).await?.is_some()
    {
        return Ok(());
    }
    let labels = with_tags(base_labels("ssh-proxy", &pod_name, project, None, None), []);
    let nodes: Api<Node> = Api::all(cluster.client.clone());
    let nodes = nodes.list(&Default::default()).await.map_err(api::error)?.items;
    api::delete(&pods, &pod_name).await?;
    let pod = jump_pod(&pod_name, &labels, project_keys, &jump_tolerations(&nodes));
    api::create(&pods, &api::object(pod)?).await?;
    api::delete(&services, &service_name(&pod_name)).await?;
    let service = jump_service(&pod_name, &labels, cluster.proxy_jump.port);
    api::create(&services, &api::object(service)?).await
}

/// Where the jump pod is reached, once it runs and has let in `extra_keys` (only for
/// forwarding: `command="/bin/false"`); `None` while it is not ready yet. Its host is the
/// configured `proxy_jump.hostname`, else its node's external IP (any node's when its own
/// has none); its port the service's node port.
pub async fn proxy(
    cluster: &Cluster,
    pod_name: &str,
    service_name: &str,
    extra_keys: &[String],
    keys: &SshKeyPair,
    ssh: &SshSettings,
) -> Result<Option<SshProxy>, BackendError> {
    let pods: Api<Pod> = namespaced(&cluster.client, &cluster.namespace);
    let Some(pod) = api::get(&pods, pod_name).await? else {
        return Err(failed(format!("Jump pod {pod_name} is gone")));
    };
    match pod.status.as_ref().and_then(|s| s.phase.as_deref()) {
        Some("Succeeded" | "Failed") => {
            return Err(failed(format!("Jump pod {pod_name} is unexpectedly finished")));
        }
        Some("Running") => {}
        _ => return Ok(None),
    }
    let hostname = match &cluster.proxy_jump.hostname {
        Some(hostname) => hostname.clone(),
        None => {
            let node = pod.spec.as_ref().and_then(|s| s.node_name.as_deref()).unwrap_or_default();
            external_ip(cluster, node).await?
        }
    };
    let services: Api<Service> = namespaced(&cluster.client, &cluster.namespace);
    let service = api::get(&services, service_name).await?;
    let node_port = service
        .and_then(|s| s.spec)
        .and_then(|s| s.ports)
        .and_then(|ports| ports.first().and_then(|p| p.node_port))
        .ok_or_else(|| failed(format!("Jump pod service {service_name} port is not set")))?;
    let port = u16::try_from(node_port)
        .map_err(|_| failed(format!("Jump pod service port {node_port} is out of range")))?;
    let command = match extra_keys.is_empty() {
        true => "true".to_owned(),
        false => add_authorized_keys_script(extra_keys, Some("command=\"/bin/false\"")),
    };
    // One attempt: a jump pod not answering yet is asked again at the next update.
    let settings = SshSettings { connect_attempts: 1, ..ssh.clone() };
    let target = Target::new(hostname.clone(), port, POD_USER);
    let added = async {
        let connection =
            Connection::open(&target, &keys.private, &HostKeyPolicy::AcceptFirst, &settings)
                .await?;
        let output = connection.check(&command, settings.setup_timeout).await;
        connection.close().await;
        output
    };
    match added.await {
        Ok(_) => Ok(Some(SshProxy { hostname, username: POD_USER.to_owned(), port })),
        Err(err) => {
            tracing::debug!("jump pod {pod_name} at {target} is not ready: {err}");
            Ok(None)
        }
    }
}

/// The external IP of node `name`, else of any node (dstack picks one at random).
async fn external_ip(cluster: &Cluster, name: &str) -> Result<String, BackendError> {
    let nodes: Api<Node> = Api::all(cluster.client.clone());
    let nodes = nodes.list(&Default::default()).await.map_err(api::error)?.items;
    let external = |node: &Node| -> Vec<String> {
        let addresses = node.status.as_ref().and_then(|s| s.addresses.clone()).unwrap_or_default();
        addresses.into_iter().filter(|a| a.type_ == "ExternalIP").map(|a| a.address).collect()
    };
    let own = nodes.iter().find(|n| n.metadata.name.as_deref() == Some(name)).map(external);
    let any = || nodes.iter().flat_map(external).next();
    own.and_then(|ips| ips.into_iter().next()).or_else(any).ok_or_else(|| {
        failed("Failed to acquire an IP for jump pod automatically. Specify proxy_jump.hostname for Kubernetes backend.".to_owned())
    })
}
