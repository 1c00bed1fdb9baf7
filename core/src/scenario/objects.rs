//! Decoding: each YAML document into the raw form of one Kubernetes object (or lbplay's `Cluster`).
//!
//! This module owns the mapping from kinds and API versions to decoders, the per-field validation
//! the API server would do (messages modelled on pkg/apis/core/validation/validation.go, without
//! copying it), duplicate detection, the ignored-kinds list, and the conversion of the old
//! Ingress versions. It hands the decoded objects to `controllers`, which play the control plane.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use super::fields::{
    Cx, Obj, dns_label_error, dns_subdomain_error, dns1035_label_error, duplicate, forbidden, iana_svc_name_error,
    invalid, required, unsupported,
};
use super::{MAX_CLIENTS, MAX_NODES, MAX_SERVICE_PORTS};
use super::{controllers, schema};
use crate::model::{
    Client, Cluster, ClusterExtras, ConsistentHash, ContainerPort, DestinationRule, HashKey, HttpMatch, HttpRoute,
    Ingress, IngressClass, LoadBalancer, Node, ProxyMode, RouteDestination, ServicePort, ServiceType, StringMatch,
    Subset, TargetPort, TrafficPolicy, VirtualService,
};
use crate::net::{Ipv4Net, Proto};
use crate::yaml::{self, Pos, Value};

/// A Pod as written, or as a workload's template expands to, before scheduling and IPAM.
#[derive(Debug, Clone)]
pub(crate) struct RawPod<'d> {
    pub(crate) obj: Obj<'d>,
    pub(crate) namespace: String,
    pub(crate) name: String,
    pub(crate) labels: BTreeMap<String, String>,
    /// `metadata.annotations` (Istio's sidecar annotations are read from them).
    pub(crate) annotations: BTreeMap<String, String>,
    /// `spec.nodeName` and where it is written.
    pub(crate) node: Option<(String, Pos)>,
    /// `status.podIP` and where it is written.
    pub(crate) ip: Option<(Ipv4Addr, Pos)>,
    pub(crate) ready: bool,
    pub(crate) terminating: bool,
    /// `status.phase` is `Succeeded` or `Failed`: the pod has no endpoints.
    pub(crate) terminal: bool,
    pub(crate) host_network: bool,
    pub(crate) ports: Vec<ContainerPort>,
    /// The workload the pod belongs to (`Deployment/default/web`), which the scheduler spreads.
    pub(crate) owner: Option<String>,
}

/// How a Service asks for its ClusterIP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WantIp {
    /// Empty or absent: allocate one.
    Allocate,
    /// `None`: headless.
    Headless,
    Explicit(Ipv4Addr, Pos),
    /// ExternalName Services have none.
    Nothing,
}

/// A Service as written, before allocation.
#[derive(Debug, Clone)]
pub(crate) struct RawService<'d> {
    pub(crate) obj: Obj<'d>,
    pub(crate) service: crate::model::Service,
    pub(crate) want_ip: WantIp,
    /// Per port: where `nodePort` is written, when it is.
    pub(crate) node_port_pos: Vec<Option<Pos>>,
    /// Whether the type wants NodePorts allocated (NodePort, or LoadBalancer by default).
    pub(crate) allocate_node_ports: bool,
    pub(crate) health_check_pos: Option<Pos>,
    pub(crate) selector_pos: Pos,
}

/// A hand-written `v1` Endpoints or `discovery.k8s.io/v1` EndpointSlice.
#[derive(Debug, Clone)]
pub(crate) struct RawSlice<'d> {
    pub(crate) obj: Obj<'d>,
    /// True for `v1` Endpoints (mirrored into slices by the EndpointSliceMirroring controller).
    pub(crate) mirrored: bool,
    pub(crate) slice: crate::model::EndpointSlice,
}

/// Everything decoded, in input order, for the controllers.
#[derive(Debug, Default)]
pub(crate) struct Decoded<'d> {
    pub(crate) pods: Vec<RawPod<'d>>,
    pub(crate) services: Vec<RawService<'d>>,
    pub(crate) slices: Vec<RawSlice<'d>>,
    pub(crate) ingresses: Vec<(Obj<'d>, Ingress)>,
    pub(crate) ingress_classes: Vec<IngressClass>,
    pub(crate) virtual_services: Vec<VirtualService>,
    pub(crate) destination_rules: Vec<DestinationRule>,
    /// `v1` Namespaces' labels by name.
    pub(crate) namespace_labels: BTreeMap<String, BTreeMap<String, String>>,
    /// Workloads not yet expanded: the object, its template pod, its replica count and how names
    /// are made.
    pub(crate) workloads: Vec<Workload<'d>>,
}

/// A Deployment, ReplicaSet or StatefulSet to expand into Pods.
#[derive(Debug, Clone)]
pub(crate) struct Workload<'d> {
    pub(crate) obj: Obj<'d>,
    pub(crate) kind: &'static str,
    pub(crate) name: String,
    pub(crate) template: RawPod<'d>,
    pub(crate) replicas: usize,
}

/// The API versions lbplay accepts for each kind it models.
fn accepted_versions(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        "Cluster" => &["lbplay/v1alpha1"],
        "Service" | "Pod" | "Endpoints" | "Namespace" => &["v1"],
        "Deployment" | "ReplicaSet" | "StatefulSet" => &["apps/v1"],
        "EndpointSlice" => &["discovery.k8s.io/v1"],
        "Ingress" => &["networking.k8s.io/v1", "networking.k8s.io/v1beta1", "extensions/v1beta1"],
        "IngressClass" => &["networking.k8s.io/v1", "networking.k8s.io/v1beta1"],
        "VirtualService" | "DestinationRule" => {
            &["networking.istio.io/v1", "networking.istio.io/v1beta1", "networking.istio.io/v1alpha3"]
        }
        _ => return None,
    })
}

/// Every kind lbplay models, for the case-insensitive hint.
const KINDS: &[&str] = &[
    "Cluster",
    "Service",
    "Pod",
    "Endpoints",
    "Deployment",
    "ReplicaSet",
    "StatefulSet",
    "EndpointSlice",
    "Ingress",
    "VirtualService",
    "DestinationRule",
    "Namespace",
];

/// Whether a kind is namespaced, for its label.
fn cluster_scoped(kind: &str) -> bool {
    matches!(kind, "Cluster" | "Node" | "Namespace" | "ClusterRole" | "ClusterRoleBinding" | "PersistentVolume")
        || kind.starts_with("CustomResourceDefinition")
        || kind == "IngressClass"
        || kind == "StorageClass"
}

/// Decodes every document, then runs the controllers.
pub(crate) fn build(cx: &mut Cx, docs: &[(&str, &yaml::Node)]) -> (Cluster, ClusterExtras) {
    let mut cluster_doc: Option<Obj<'_>> = None;
    let mut decoded = Decoded::default();
    let mut seen: BTreeMap<String, (String, Pos)> = BTreeMap::new();
    // Istio objects, whose references to hosts and subsets are checked once every Service is known.
    let mut istio: Vec<(Obj<'_>, String)> = Vec::new();
    for (file, node) in docs {
        if node.is_null() {
            // kubectl skips empty documents (a stray `---`), and so does lbplay.
            continue;
        }
        let bare = Obj { file: file.to_string(), label: String::new(), node };
        if !matches!(node.value, Value::Map(_)) {
            cx.push(
                super::Severity::Error,
                file,
                node.pos,
                None,
                None,
                format!(
                    "a document must be a Kubernetes object (a mapping with `apiVersion` and `kind`), got {}",
                    node.describe()
                ),
            );
            continue;
        }
        let kind = cx.string(&bare, node.get("kind"), "kind");
        let api_version = cx.string(&bare, node.get("apiVersion"), "apiVersion");
        let metadata = cx.map(&bare, node.get("metadata"), "metadata");
        let name = metadata.and_then(|m| cx.string(&bare, m.get("name"), "metadata.name"));
        let namespace = metadata
            .and_then(|m| cx.string(&bare, m.get("namespace"), "metadata.namespace"))
            .unwrap_or_else(|| "default".to_string());
        let Some(kind) = kind else {
            let shown = name.as_deref().map(|n| format!(" (metadata.name {n})")).unwrap_or_default();
            cx.push(
                super::Severity::Error,
                file,
                node.pos,
                None,
                Some("kind"),
                format!("the object{shown} has no `kind`; every object needs `apiVersion` and `kind`"),
            );
            continue;
        };
        let shown_name = name.clone().unwrap_or_else(|| "(no name)".to_string());
        let label = if cluster_scoped(&kind) {
            format!("{kind}/{shown_name}")
        } else {
            format!("{kind}/{namespace}/{shown_name}")
        };
        let obj = Obj { file: file.to_string(), label: label.clone(), node };
        let Some(versions) = accepted_versions(&kind) else {
            // Kinds are case-sensitive: the API server answers `kind: service` with `no matches
            // for kind "service" in version "v1"`. A kind lbplay models but for its case, in one
            // of that kind's versions (or with none), is a mistake rather than a CRD to ignore.
            let meant = KINDS.iter().find(|k| k.eq_ignore_ascii_case(&kind)).filter(|meant| {
                api_version.as_deref().is_none_or(|v| accepted_versions(meant).is_some_and(|vs| vs.contains(&v)))
            });
            if let Some(meant) = meant {
                let pos = node.get("kind").map(|n| n.pos).unwrap_or(node.pos);
                let version = api_version.as_deref().unwrap_or("its version");
                cx.error(
                    &obj,
                    pos,
                    "kind",
                    format!(
                        "no kind {kind:?} is served in {version}; kinds are case-sensitive: did you mean {meant:?}?"
                    ),
                );
            } else {
                cx.ignored.push(label);
            }
            continue;
        };
        let Some(api_version) = api_version else {
            cx.error(
                &obj,
                node.pos,
                "apiVersion",
                format!("the object has no `apiVersion`; {kind} is `{}`", versions[0]),
            );
            continue;
        };
        if !versions.contains(&api_version.as_str()) {
            // Another group's kind of the same name (a CRD) is not ours: ignore it rather than fail.
            let group = api_version.split('/').next().unwrap_or_default();
            let ours = versions
                .iter()
                .any(|v| v.split('/').next() == Some(group) || (!v.contains('/') && !api_version.contains('/')));
            if ours || (kind != "Cluster" && !api_version.contains('.')) {
                let pos = node.get("apiVersion").map(|n| n.pos).unwrap_or(node.pos);
                cx.error(
                    &obj,
                    pos,
                    "apiVersion",
                    format!(
                        "{kind} `{api_version}` is not served; use {}",
                        versions.iter().map(|v| format!("`{v}`")).collect::<Vec<_>>().join(" or ")
                    ),
                );
            } else {
                cx.ignored.push(label);
            }
            continue;
        }
        if let Some(shape) = schema::of(&kind) {
            schema::check(cx, &obj, shape);
        }
        let Some(name) = name else {
            if kind != "Cluster" {
                let pos = metadata.map(|m| m.pos).unwrap_or(node.pos);
                cx.error(&obj, pos, "metadata.name", "name or generateName is required");
                continue;
            }
            // The Cluster object's name is only a title, so a nameless one keeps `default`.
            if cluster_doc.is_some() {
                cx.error(&obj, node.pos, "", "a scenario holds at most one Cluster object");
            } else {
                cluster_doc = Some(obj);
            }
            continue;
        };
        if kind != "Cluster" {
            let name_pos = metadata.and_then(|m| m.get("name")).map(|n| n.pos).unwrap_or(node.pos);
            // Service names are DNS-1035 labels (`ValidateServiceName` is `NameIsDNS1035Label`);
            // the other kinds' names are DNS-1123 subdomains (pkg/apis/core/validation/validation.go).
            let check = if kind == "Service" { dns1035_label_error(&name) } else { dns_subdomain_error(&name) };
            if let Some(message) = check {
                cx.error(&obj, name_pos, "metadata.name", invalid(name.as_str(), &message));
                continue;
            }
            // Ingresses of every version share one name space, as do Endpoints and slices apart.
            let key = format!("{kind}/{namespace}/{name}");
            if let Some((first_file, first)) = seen.get(&key) {
                cx.error(
                    &obj,
                    name_pos,
                    "metadata.name",
                    format!(
                        "{kind} {namespace}/{name} is defined twice; the first is at {first_file}:{}:{}",
                        first.line, first.column
                    ),
                );
                continue;
            }
            seen.insert(key, (file.to_string(), node.pos));
        }
        match kind.as_str() {
            "Cluster" => {
                if cluster_doc.is_some() {
                    cx.error(&obj, node.pos, "", "a scenario holds at most one Cluster object");
                } else {
                    cluster_doc = Some(obj);
                }
            }
            "Pod" => {
                if let Some(pod) = decode_pod(cx, &obj, &namespace, &name, node, "", None) {
                    decoded.pods.push(pod);
                }
            }
            "Deployment" | "ReplicaSet" | "StatefulSet" => {
                let kind_static = match kind.as_str() {
                    "Deployment" => "Deployment",
                    "ReplicaSet" => "ReplicaSet",
                    _ => "StatefulSet",
                };
                if let Some(workload) = decode_workload(cx, &obj, kind_static, &namespace, &name) {
                    decoded.workloads.push(workload);
                }
            }
            "Service" => {
                if let Some(service) = decode_service(cx, &obj, &namespace, &name) {
                    decoded.services.push(service);
                }
            }
            "Endpoints" => decode_endpoints(cx, &obj, &namespace, &name, &mut decoded),
            "EndpointSlice" => decode_endpoint_slice(cx, &obj, &namespace, &name, &mut decoded),
            "IngressClass" => {
                if let Some(class) = super::ingress::decode_ingress_class(cx, &obj, &name) {
                    decoded.ingress_classes.push(class);
                }
            }
            "Ingress" => {
                // The API server validates an Ingress on its own (networking/validation,
                // ValidateIngressCreate): an invalid one is refused and the others are created,
                // so its errors reject it alone.
                let before = cx.problems.len();
                let decoded_ingress = super::ingress::decode_ingress(cx, &obj, &api_version, &namespace, &name);
                let mut rejected = false;
                for problem in &mut cx.problems[before..] {
                    if problem.severity == super::Severity::Error {
                        problem.severity = super::Severity::Rejected;
                        problem.message.push_str(
                            " (the API server rejects this Ingress; the rest of the scenario runs without it)",
                        );
                        rejected = true;
                    }
                }
                if let Some(ingress) = decoded_ingress.filter(|_| !rejected) {
                    decoded.ingresses.push((obj.clone(), ingress));
                }
            }
            "Namespace" => {
                let labels = cx.labels(&obj, metadata.and_then(|m| m.get("labels")), "metadata.labels");
                decoded.namespace_labels.insert(name.clone(), labels);
            }
            "VirtualService" => {
                if let Some(vs) = decode_virtual_service(cx, &obj, &namespace, &name) {
                    decoded.virtual_services.push(vs);
                    istio.push((obj.clone(), namespace.clone()));
                }
            }
            "DestinationRule" => {
                if let Some(dr) = decode_destination_rule(cx, &obj, &namespace, &name) {
                    decoded.destination_rules.push(dr);
                    istio.push((obj.clone(), namespace.clone()));
                }
            }
            _ => cx.ignored.push(label),
        }
    }

    let mut cluster = match &cluster_doc {
        Some(obj) => decode_cluster(cx, obj),
        None => Cluster::default(),
    };
    let mut extras = ClusterExtras::default();
    controllers::run(cx, &mut cluster, &mut extras, decoded);
    super::mesh_refs::check(cx, &istio, &cluster, &extras.destination_rules);
    (cluster, extras)
}

/// The `lbplay/v1alpha1` Cluster object: CIDRs, kube-proxy's configuration, nodes and clients.
fn decode_cluster(cx: &mut Cx, obj: &Obj<'_>) -> Cluster {
    let mut cluster = Cluster::default();
    let node = obj.node;
    if let Some(name) = node.get("metadata").and_then(|m| m.get("name")).and_then(|n| n.as_str()) {
        cluster.name = name.to_string();
    }
    let Some(spec) = cx.map(obj, node.get("spec"), "spec") else { return cluster };
    if let Some(net) = cx.cidr(obj, spec.get("serviceCIDR"), "spec.serviceCIDR") {
        cluster.service_cidr = net;
    }
    if let Some(net) = cx.cidr(obj, spec.get("clusterCIDR"), "spec.clusterCIDR") {
        cluster.cluster_cidr = net;
    }
    if let Some(kp) = cx.map(obj, spec.get("kubeProxy"), "spec.kubeProxy") {
        if let Some(mode) = cx.string(obj, kp.get("mode"), "spec.kubeProxy.mode") {
            match ProxyMode::parse(&mode) {
                Some(mode) => cluster.kube_proxy.mode = mode,
                None => cx.error(
                    obj,
                    kp.get("mode").map(|n| n.pos).unwrap_or(kp.pos),
                    "spec.kubeProxy.mode",
                    format!("unknown proxy mode `{mode}`: supported values are \"iptables\", \"ipvs\", \"nftables\", \"userspace\""),
                ),
            }
        }
        if let Some(all) = cx.boolean(obj, kp.get("masqueradeAll"), "spec.kubeProxy.masqueradeAll") {
            cluster.kube_proxy.masquerade_all = all;
        }
        if let Some(bit) = cx.int(obj, kp.get("masqueradeBit"), "spec.kubeProxy.masqueradeBit") {
            match u8::try_from(bit) {
                Ok(bit) if bit <= 31 => cluster.kube_proxy.masquerade_bit = bit,
                _ => cx.error(
                    obj,
                    kp.get("masqueradeBit").map(|n| n.pos).unwrap_or(kp.pos),
                    "spec.kubeProxy.masqueradeBit",
                    format!("{bit} is not a valid masquerade bit: it must be between 0 and 31, inclusive"),
                ),
            }
        }
        if let Some(ipvs) = cx.map(obj, kp.get("ipvs"), "spec.kubeProxy.ipvs")
            && let Some(scheduler) = cx.string(obj, ipvs.get("scheduler"), "spec.kubeProxy.ipvs.scheduler")
        {
            // kube-proxy hands the name to the kernel, which knows its schedulers by their lower-case
            // module names (net/netfilter/ipvs/ip_vs_sched.c, `ip_vs_scheduler_get` loads
            // `ip_vs_<name>`); a name it does not know stops kube-proxy at start-up. Checked here,
            // so `check` reports it at the line, whichever mode the walk is later run in.
            if crate::ipvs::sched::Scheduler::parse(&scheduler).is_none() {
                let names: Vec<&str> = crate::ipvs::sched::Scheduler::ALL.iter().map(|s| s.name()).collect();
                let lower = scheduler.to_ascii_lowercase();
                let hint = if crate::ipvs::sched::Scheduler::parse(&lower).is_some() {
                    format!("; scheduler names are lower case: {:?}", lower.as_str())
                } else {
                    String::new()
                };
                let at = ipvs.get("scheduler").map(|n| n.pos).unwrap_or(ipvs.pos);
                cx.error(
                    obj,
                    at,
                    "spec.kubeProxy.ipvs.scheduler",
                    format!("{} (the kernel's IPVS schedulers){hint}", unsupported(&scheduler, &names)),
                );
            } else {
                cluster.kube_proxy.ipvs_scheduler = scheduler;
            }
        }
    }
    if let Some(nodes_node) = spec.get("nodes") {
        let items = cx.seq(obj, Some(nodes_node), "spec.nodes");
        if items.len() > MAX_NODES {
            cx.error(
                obj,
                nodes_node.pos,
                "spec.nodes",
                format!("{} nodes is over lbplay's limit of {MAX_NODES}", items.len()),
            );
            return cluster;
        }
        let mut nodes: Vec<Node> = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let path = format!("spec.nodes[{i}]");
            let Some(item) = cx.map(obj, Some(item), &path) else { continue };
            let Some(name) = cx.string(obj, item.get("name"), &format!("{path}.name")) else {
                cx.error(obj, item.pos, &format!("{path}.name"), "a node needs a name");
                continue;
            };
            let Some(ip) = cx.ipv4(obj, item.get("ip"), &format!("{path}.ip")) else {
                if item.get("ip").is_none() {
                    cx.error(obj, item.pos, &format!("{path}.ip"), format!("node {name} needs an `ip`"));
                }
                continue;
            };
            let pod_cidr = match item.get("podCIDR") {
                Some(n) => match cx.cidr(obj, Some(n), &format!("{path}.podCIDR")) {
                    Some(net) => {
                        if !cluster.cluster_cidr.contains(net.network()) || net.prefix < cluster.cluster_cidr.prefix {
                            cx.error(
                                obj,
                                n.pos,
                                &format!("{path}.podCIDR"),
                                format!("podCIDR {net} is not inside the clusterCIDR {}", cluster.cluster_cidr),
                            );
                        }
                        net
                    }
                    None => continue,
                },
                // The node IPAM controller's default: the i-th /24 of the cluster CIDR, from 1
                // (pkg/controller/nodeipam/ipam/cidrset hands out subnets in order).
                None => match cluster.cluster_cidr.nth(((i as u64) + 1) * 256) {
                    Some(addr) if cluster.cluster_cidr.prefix <= 24 => Ipv4Net { addr, prefix: 24 },
                    _ => {
                        cx.error(
                            obj,
                            item.pos,
                            &format!("{path}.podCIDR"),
                            format!(
                                "the clusterCIDR {} has no room for this node's /24; give a podCIDR",
                                cluster.cluster_cidr
                            ),
                        );
                        continue;
                    }
                },
            };
            if let Some(first) = nodes.iter().find(|n| n.name == name) {
                cx.error(obj, item.pos, &format!("{path}.name"), format!("node name {} is used twice", first.name));
                continue;
            }
            if let Some(first) = nodes.iter().find(|n| n.ip == ip) {
                cx.error(
                    obj,
                    item.pos,
                    &format!("{path}.ip"),
                    format!("{ip} is already the address of node {}", first.name),
                );
                continue;
            }
            if let Some(first) = nodes
                .iter()
                .find(|n| n.pod_cidr.contains(pod_cidr.network()) || pod_cidr.contains(n.pod_cidr.network()))
            {
                cx.error(
                    obj,
                    item.pos,
                    &format!("{path}.podCIDR"),
                    format!("podCIDR {pod_cidr} overlaps node {}'s {}", first.name, first.pod_cidr),
                );
                continue;
            }
            nodes.push(Node { name, ip, pod_cidr });
        }
        if items.is_empty() {
            cx.error(obj, nodes_node.pos, "spec.nodes", "a cluster needs at least one node");
        }
        cluster.nodes = nodes;
    }
    if let Some(clients_node) = spec.get("clients") {
        let items = cx.seq(obj, Some(clients_node), "spec.clients");
        if items.len() > MAX_CLIENTS {
            cx.error(
                obj,
                clients_node.pos,
                "spec.clients",
                format!("{} clients is over lbplay's limit of {MAX_CLIENTS}", items.len()),
            );
            return cluster;
        }
        let mut clients = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let path = format!("spec.clients[{i}]");
            let Some(item) = cx.map(obj, Some(item), &path) else { continue };
            let name = cx.string(obj, item.get("name"), &format!("{path}.name"));
            let ip = cx.ipv4(obj, item.get("ip"), &format!("{path}.ip"));
            let (Some(name), Some(ip)) = (name, ip) else {
                if item.get("name").is_none() || item.get("ip").is_none() {
                    cx.error(obj, item.pos, &path, "a client needs a `name` and an `ip`");
                }
                continue;
            };
            if clients.iter().any(|c: &Client| c.name == name) {
                cx.error(obj, item.pos, &format!("{path}.name"), format!("client name {name} is used twice"));
                continue;
            }
            clients.push(Client { name, ip });
        }
        cluster.clients = clients;
    }
    if cluster.service_cidr.contains(cluster.cluster_cidr.network())
        || cluster.cluster_cidr.contains(cluster.service_cidr.network())
    {
        cx.error(
            obj,
            spec.get("serviceCIDR").map(|n| n.pos).unwrap_or(spec.pos),
            "spec.serviceCIDR",
            format!("the serviceCIDR {} overlaps the clusterCIDR {}", cluster.service_cidr, cluster.cluster_cidr),
        );
    }
    cluster
}

/// A Pod, or a workload's pod template (`prefix` is `spec.template.` then, and `owner` is set).
fn decode_pod<'d>(
    cx: &mut Cx,
    obj: &Obj<'d>,
    namespace: &str,
    name: &str,
    node: &'d yaml::Node,
    prefix: &str,
    owner: Option<String>,
) -> Option<RawPod<'d>> {
    let metadata = cx.map(obj, node.get("metadata"), &format!("{prefix}metadata"));
    let labels = cx.labels(obj, metadata.and_then(|m| m.get("labels")), &format!("{prefix}metadata.labels"));
    let annotations =
        cx.labels(obj, metadata.and_then(|m| m.get("annotations")), &format!("{prefix}metadata.annotations"));
    // istio-init would fail on a traffic annotation it cannot use; say so where it is written.
    if let Err(err) = crate::mesh::inject::capture(Some(&annotations)) {
        let annotations_node = metadata.and_then(|m| m.get("annotations"));
        let pos =
            annotations_node.and_then(|a| a.get(&err.annotation)).or(annotations_node).map_or(node.pos, |n| n.pos);
        cx.warn(
            obj,
            pos,
            &format!("{prefix}metadata.annotations.{}", err.annotation),
            format!("{}; an Istio sidecar's istio-init would fail on it", err.message),
        );
    }
    let terminating = metadata.is_some_and(|m| m.get("deletionTimestamp").is_some_and(|n| !n.is_null()));
    let spec_path = format!("{prefix}spec");
    let spec = cx.map(obj, node.get("spec"), &spec_path);
    let mut pod = RawPod {
        obj: obj.clone(),
        namespace: namespace.to_string(),
        name: name.to_string(),
        labels,
        annotations,
        node: None,
        ip: None,
        ready: true,
        terminating,
        terminal: false,
        host_network: false,
        ports: Vec::new(),
        owner,
    };
    let Some(spec) = spec else {
        cx.error(obj, node.pos, &spec_path, "a Pod needs a `spec` with at least one container");
        return None;
    };
    if let Some(n) = spec.get("nodeName")
        && let Some(node_name) = cx.string(obj, Some(n), &format!("{spec_path}.nodeName"))
    {
        pod.node = Some((node_name, n.pos));
    }
    pod.host_network = cx.boolean(obj, spec.get("hostNetwork"), &format!("{spec_path}.hostNetwork")).unwrap_or(false);
    let containers = cx.seq(obj, spec.get("containers"), &format!("{spec_path}.containers"));
    if containers.is_empty() {
        cx.error(obj, spec.pos, &format!("{spec_path}.containers"), "a Pod needs at least one container");
    }
    for (c, container) in containers.iter().enumerate() {
        let cpath = format!("{spec_path}.containers[{c}]");
        let Some(container) = cx.map(obj, Some(container), &cpath) else { continue };
        for (p, port) in cx.seq(obj, container.get("ports"), &format!("{cpath}.ports")).iter().enumerate() {
            let ppath = format!("{cpath}.ports[{p}]");
            let Some(port) = cx.map(obj, Some(port), &ppath) else { continue };
            let name = cx.string(obj, port.get("name"), &format!("{ppath}.name"));
            if let (Some(port_name), Some(n)) = (&name, port.get("name")) {
                if let Some(message) = iana_svc_name_error(port_name) {
                    cx.error(
                        obj,
                        n.pos,
                        &format!("{ppath}.name"),
                        format!("`{port_name}` is not a valid port name: {message}"),
                    );
                }
                if pod.ports.iter().any(|existing| existing.name.as_deref() == Some(port_name.as_str())) {
                    cx.error(
                        obj,
                        n.pos,
                        &format!("{ppath}.name"),
                        format!("port name `{port_name}` is used twice in this Pod"),
                    );
                }
            }
            let protocol = cx.protocol(obj, port.get("protocol"), &format!("{ppath}.protocol"));
            let Some(number) = cx.port(obj, port.get("containerPort"), &format!("{ppath}.containerPort")) else {
                if port.get("containerPort").is_none() {
                    cx.error(obj, port.pos, &format!("{ppath}.containerPort"), "containerPort is required");
                }
                continue;
            };
            pod.ports.push(ContainerPort { name, port: number, protocol });
        }
    }
    if let Some(status) = cx.map(obj, node.get("status"), &format!("{prefix}status")) {
        if let Some(n) = status.get("podIP")
            && let Some(ip) = cx.ipv4(obj, Some(n), "status.podIP")
        {
            pod.ip = Some((ip, n.pos));
        }
        if let Some(phase) = cx.string(obj, status.get("phase"), "status.phase") {
            pod.terminal = phase == "Succeeded" || phase == "Failed";
            if phase == "Pending" && status.get("conditions").is_none() {
                pod.ready = false;
            }
        }
        // The Ready condition decides readiness (k8s.io/kubectl/pkg/util/podutils, IsPodReady).
        for (i, condition) in cx.seq(obj, status.get("conditions"), "status.conditions").iter().enumerate() {
            let path = format!("status.conditions[{i}]");
            let Some(condition) = cx.map(obj, Some(condition), &path) else { continue };
            if cx.string(obj, condition.get("type"), &format!("{path}.type")).as_deref() == Some("Ready") {
                if let Some(Value::Bool(b)) = condition.get("status").map(|n| &n.value) {
                    let shown = if *b { "True" } else { "False" };
                    let at = condition.get("status").map(|n| n.pos).unwrap_or(condition.pos);
                    cx.error(
                        obj,
                        at,
                        &format!("{path}.status"),
                        format!("expected a string, got a boolean ({b}); write \"{shown}\" in quotes"),
                    );
                    continue;
                }
                match cx.string(obj, condition.get("status"), &format!("{path}.status")).as_deref() {
                    Some("True") => pod.ready = true,
                    Some("False") | Some("Unknown") => pod.ready = false,
                    other => {
                        let shown = other.unwrap_or("");
                        cx.error(
                            obj,
                            condition.get("status").map(|n| n.pos).unwrap_or(condition.pos),
                            &format!("{path}.status"),
                            format!("unknown condition status `{shown}`: supported values are \"True\", \"False\", \"Unknown\" (quote them: a bare True is a boolean)"),
                        );
                    }
                }
            }
        }
    }
    Some(pod)
}

/// A Deployment, ReplicaSet or StatefulSet: its replica count and its pod template.
fn decode_workload<'d>(
    cx: &mut Cx,
    obj: &Obj<'d>,
    kind: &'static str,
    namespace: &str,
    name: &str,
) -> Option<Workload<'d>> {
    let node = obj.node;
    let Some(spec) = cx.map(obj, node.get("spec"), "spec") else {
        cx.error(obj, node.pos, "spec", format!("a {kind} needs a `spec` with a `template`"));
        return None;
    };
    // `replicas` defaults to 1 (pkg/apis/apps/v1/defaults.go).
    let replicas = match spec.get("replicas") {
        None => 1,
        Some(n) => {
            let value = cx.int(obj, Some(n), "spec.replicas")?;
            if value < 0 {
                cx.error(obj, n.pos, "spec.replicas", format!("{value} replicas: must be greater than or equal to 0"));
                return None;
            }
            if value > super::MAX_PODS as i64 {
                cx.error(
                    obj,
                    n.pos,
                    "spec.replicas",
                    format!("{value} replicas is over lbplay's limit of {} pods in a scenario", super::MAX_PODS),
                );
                return None;
            }
            value as usize
        }
    };
    let Some(template) = cx.map(obj, spec.get("template"), "spec.template") else {
        cx.error(obj, spec.pos, "spec.template", format!("a {kind} needs a pod `template`"));
        return None;
    };
    let owner = format!("{kind}/{namespace}/{name}");
    let pod = decode_pod(cx, obj, namespace, name, template, "spec.template.", Some(owner))?;
    // The selector must match the template's labels (pkg/apis/apps/validation, "selector does not
    // match template labels").
    let selector_node = cx.map(obj, spec.get("selector"), "spec.selector");
    match selector_node {
        None => cx.error(obj, spec.pos, "spec.selector", "required value: apps/v1 workloads need a `selector`"),
        Some(selector) => {
            let match_labels = cx.labels(obj, selector.get("matchLabels"), "spec.selector.matchLabels");
            if selector.get("matchExpressions").is_some() {
                cx.warn(
                    obj,
                    selector.pos,
                    "spec.selector.matchExpressions",
                    "matchExpressions are not modelled; only matchLabels are checked",
                );
            }
            if match_labels.iter().any(|(k, v)| pod.labels.get(k) != Some(v)) {
                cx.error(
                    obj,
                    selector.pos,
                    "spec.template.metadata.labels",
                    "`selector` does not match template `labels`",
                );
            }
        }
    }
    Some(Workload { obj: obj.clone(), kind, name: name.to_string(), template: pod, replicas })
}

fn decode_service<'d>(cx: &mut Cx, obj: &Obj<'d>, namespace: &str, name: &str) -> Option<RawService<'d>> {
    let node = obj.node;
    let spec = cx.map(obj, node.get("spec"), "spec");
    let Some(spec) = spec else {
        cx.error(obj, node.pos, "spec", "a Service needs a `spec` with `ports`");
        return None;
    };
    let kind = match cx.string(obj, spec.get("type"), "spec.type").as_deref() {
        None => ServiceType::ClusterIp,
        Some("ClusterIP") => ServiceType::ClusterIp,
        Some("NodePort") => ServiceType::NodePort,
        Some("LoadBalancer") => ServiceType::LoadBalancer,
        Some("ExternalName") => ServiceType::ExternalName,
        Some(other) => {
            cx.error(
                obj,
                spec.get("type").map(|n| n.pos).unwrap_or(spec.pos),
                "spec.type",
                unsupported(other, &["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]),
            );
            return None;
        }
    };
    let mut service = crate::model::Service {
        namespace: namespace.to_string(),
        name: name.to_string(),
        kind,
        cluster_ip: None,
        ports: Vec::new(),
        selector: None,
        session_affinity: None,
        external_traffic_policy: TrafficPolicy::Cluster,
        internal_traffic_policy: TrafficPolicy::Cluster,
        external_ips: Vec::new(),
        load_balancer_ips: Vec::new(),
        load_balancer_source_ranges: Vec::new(),
        health_check_node_port: None,
        publish_not_ready_addresses: false,
        external_name: None,
    };
    // IP families: only IPv4 is modelled.
    for (i, family) in cx.seq(obj, spec.get("ipFamilies"), "spec.ipFamilies").iter().enumerate() {
        let path = format!("spec.ipFamilies[{i}]");
        match cx.string(obj, Some(family), &path).as_deref() {
            Some("IPv4") | None => {}
            Some("IPv6") => {
                cx.warn(obj, family.pos, &path, "IPv6 is not modelled: lbplay gives this Service its IPv4 address only")
            }
            Some(other) => cx.error(obj, family.pos, &path, unsupported(other, &["IPv4", "IPv6"])),
        }
    }
    // The ClusterIP: `clusterIP`, or the first of `clusterIPs`, which must agree
    // (pkg/apis/core/validation/validation.go, validateServiceClusterIPsRelatedFields).
    let mut want_ip = if kind == ServiceType::ExternalName { WantIp::Nothing } else { WantIp::Allocate };
    let ip_node = spec.get("clusterIP");
    let ips_nodes = cx.seq(obj, spec.get("clusterIPs"), "spec.clusterIPs");
    let first_ip = ip_node.filter(|n| !n.is_null()).or(ips_nodes.first());
    if let Some(ip_node_first) = first_ip {
        let path = if ip_node.is_some_and(|n| !n.is_null()) { "spec.clusterIP" } else { "spec.clusterIPs[0]" };
        if let Some(text) = cx.string(obj, Some(ip_node_first), path) {
            if kind == ServiceType::ExternalName {
                if !text.is_empty() {
                    cx.error(obj, ip_node_first.pos, path, forbidden("may not be set for ExternalName services"));
                }
            } else if text == "None" {
                if kind != ServiceType::ClusterIp {
                    cx.error(
                        obj,
                        ip_node_first.pos,
                        path,
                        invalid("None", &format!("may not be set to 'None' for {} services", kind.as_str())),
                    );
                }
                want_ip = WantIp::Headless;
            } else if !text.is_empty()
                && let Some(ip) = cx.ipv4(obj, Some(ip_node_first), path)
            {
                want_ip = WantIp::Explicit(ip, ip_node_first.pos);
            }
            if let (Some(ip_text), Some(first)) =
                (ip_node.and_then(|n| n.as_str()), ips_nodes.first().and_then(|n| n.as_str()))
                && ip_text != first
            {
                cx.error(
                    obj,
                    ips_nodes[0].pos,
                    "spec.clusterIPs[0]",
                    format!("`{first}` must be equal to spec.clusterIP `{ip_text}`"),
                );
            }
            for (i, extra) in ips_nodes.iter().enumerate().skip(1) {
                let shown = extra.as_str().unwrap_or_default();
                if shown.contains(':') {
                    cx.warn(
                        obj,
                        extra.pos,
                        &format!("spec.clusterIPs[{i}]"),
                        format!("`{shown}` is IPv6, which is not modelled; lbplay keeps the IPv4 ClusterIP only"),
                    );
                } else {
                    cx.error(
                        obj,
                        extra.pos,
                        &format!("spec.clusterIPs[{i}]"),
                        "a second IPv4 ClusterIP is not allowed: clusterIPs holds at most one address per IP family",
                    );
                }
            }
        }
    }
    // Ports.
    let ports_node = spec.get("ports");
    let items = cx.seq(obj, ports_node, "spec.ports");
    if items.len() > MAX_SERVICE_PORTS {
        cx.error(
            obj,
            ports_node.map(|n| n.pos).unwrap_or(spec.pos),
            "spec.ports",
            format!("{} ports is over lbplay's limit of {MAX_SERVICE_PORTS}", items.len()),
        );
        return None;
    }
    if items.is_empty() && kind != ServiceType::ExternalName && want_ip != WantIp::Headless {
        cx.error(obj, ports_node.map(|n| n.pos).unwrap_or(spec.pos), "spec.ports", required(""));
    }
    let mut node_port_pos = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let path = format!("spec.ports[{i}]");
        let Some(item) = cx.map(obj, Some(item), &path) else { continue };
        let port_name = cx.string(obj, item.get("name"), &format!("{path}.name")).filter(|n| !n.is_empty());
        match &port_name {
            None if items.len() > 1 => {
                cx.error(obj, item.pos, &format!("{path}.name"), required(""));
            }
            Some(n) => {
                if let Some(message) = dns_label_error(n) {
                    cx.error(
                        obj,
                        item.get("name").map(|x| x.pos).unwrap_or(item.pos),
                        &format!("{path}.name"),
                        invalid(n.as_str(), &message),
                    );
                }
                if service.ports.iter().any(|p| p.name.as_deref() == Some(n.as_str())) {
                    cx.error(
                        obj,
                        item.get("name").map(|x| x.pos).unwrap_or(item.pos),
                        &format!("{path}.name"),
                        duplicate(n.as_str()),
                    );
                }
            }
            None => {}
        }
        let protocol = cx.protocol(obj, item.get("protocol"), &format!("{path}.protocol"));
        let Some(port) = cx.port(obj, item.get("port"), &format!("{path}.port")) else {
            if item.get("port").is_none() {
                cx.error(obj, item.pos, &format!("{path}.port"), required(""));
            }
            continue;
        };
        // Upstream prints the duplicate (protocol, port) key as the Go struct it is
        // (validation.go, `field.Duplicate(portPath, key)` with `%#v`).
        if service.ports.iter().any(|p| p.port == port && p.protocol == protocol) {
            cx.error(
                obj,
                item.get("port").map(|x| x.pos).unwrap_or(item.pos),
                &format!("{path}.port"),
                format!(
                    "Duplicate value: core.ServicePort{{Name:\"\", Protocol:\"{}\", AppProtocol:(*string)(nil), Port:{port}, TargetPort:intstr.IntOrString{{Type:0, IntVal:0, StrVal:\"\"}}, NodePort:0}}",
                    protocol_upper(protocol)
                ),
            );
        }
        // `targetPort` defaults to `port` when absent, 0 or "" (pkg/apis/core/v1/defaults.go,
        // SetDefaults_Service).
        let target_port = match item.get("targetPort") {
            None => TargetPort::Number(port),
            Some(t) if matches!(&t.value, Value::Int(0) | Value::Null) => TargetPort::Number(port),
            Some(t) if matches!(&t.value, Value::Str(s) if s.is_empty()) => TargetPort::Number(port),
            Some(t) => match &t.value {
                Value::Int(_) => match cx.port(obj, Some(t), &format!("{path}.targetPort")) {
                    Some(n) => TargetPort::Number(n),
                    None => continue,
                },
                Value::Str(text) => {
                    if let Some(message) = iana_svc_name_error(text) {
                        // A quoted number is a port name for the API server (IntOrString keeps a
                        // JSON string a string), and never a valid one: it has no letter.
                        let hint = match text.parse::<i64>() {
                            Ok(n) => format!(" (a quoted number is a port name; write {n} without quotes)"),
                            Err(_) => String::new(),
                        };
                        cx.error(
                            obj,
                            t.pos,
                            &format!("{path}.targetPort"),
                            format!("{}{hint}", invalid(text.as_str(), message)),
                        );
                        continue;
                    }
                    TargetPort::Name(text.clone())
                }
                _ => {
                    cx.error(
                        obj,
                        t.pos,
                        &format!("{path}.targetPort"),
                        format!("expected a port number or a port name, got {}", t.describe()),
                    );
                    continue;
                }
            },
        };
        let mut node_port = None;
        let mut pos = None;
        if let Some(n) = item.get("nodePort")
            && let Some(value) = cx.port(obj, Some(n), &format!("{path}.nodePort"))
        {
            // Only ClusterIP Services are refused a nodePort (validation.go); an ExternalName
            // Service's is simply never used.
            if kind == ServiceType::ClusterIp {
                cx.error(
                    obj,
                    n.pos,
                    &format!("{path}.nodePort"),
                    forbidden("may not be used when `type` is 'ClusterIP'"),
                );
            } else if kind != ServiceType::ExternalName {
                node_port = Some(value);
                pos = Some(n.pos);
            }
        }
        node_port_pos.push(pos);
        service.ports.push(ServicePort { name: port_name, protocol, port, target_port, node_port });
    }
    // Selector: absent or empty means hand-written endpoints.
    let selector_node = spec.get("selector");
    let selector = cx.labels(obj, selector_node, "spec.selector");
    if !selector.is_empty() && kind != ServiceType::ExternalName {
        service.selector = Some(selector);
    }
    // Session affinity (the default timeout is 10800 s, pkg/apis/core/v1/defaults.go; the checks
    // are validation.go's `validateClientIPAffinityConfig`).
    match cx.string(obj, spec.get("sessionAffinity"), "spec.sessionAffinity").as_deref() {
        None | Some("None") => {
            if let Some(config) = spec.get("sessionAffinityConfig").filter(|n| !n.is_null()) {
                cx.error(
                    obj,
                    config.pos,
                    "spec.sessionAffinityConfig",
                    forbidden("must not be set when session affinity is None"),
                );
            }
        }
        Some("ClientIP") => {
            let path = "spec.sessionAffinityConfig.clientIP.timeoutSeconds";
            let timeout_node =
                spec.get("sessionAffinityConfig").and_then(|c| c.get("clientIP")).and_then(|c| c.get("timeoutSeconds"));
            let timeout = match timeout_node {
                None => 10800,
                Some(n) => match cx.int(obj, Some(n), path) {
                    Some(t) if (1..=86400).contains(&t) => t as u32,
                    Some(t) => {
                        cx.error(obj, n.pos, path, invalid(t, "must be greater than 0 and less than 86400"));
                        10800
                    }
                    None => 10800,
                },
            };
            service.session_affinity = Some(timeout);
        }
        Some(other) => cx.error(
            obj,
            spec.get("sessionAffinity").map(|n| n.pos).unwrap_or(spec.pos),
            "spec.sessionAffinity",
            unsupported(other, &["ClientIP", "None"]),
        ),
    }
    let policy = |cx: &mut Cx, key: &str| -> Option<(TrafficPolicy, Pos)> {
        let n = spec.get(key)?;
        let path = format!("spec.{key}");
        match cx.string(obj, Some(n), &path).as_deref() {
            Some("Cluster") => Some((TrafficPolicy::Cluster, n.pos)),
            Some("Local") => Some((TrafficPolicy::Local, n.pos)),
            None => None,
            Some(other) => {
                cx.error(obj, n.pos, &path, unsupported(other, &["Cluster", "Local"]));
                None
            }
        }
    };
    // externalTrafficPolicy is only for externally accessible Services: NodePort, LoadBalancer,
    // or ClusterIP with externalIPs (pkg/api/service/util.go, `ExternallyAccessible`; checked by
    // validation.go's `validateServiceExternalTrafficPolicy`, which also makes `Cluster` the
    // effective default there).
    if let Some((etp, pos)) = policy(cx, "externalTrafficPolicy") {
        let has_external_ips =
            spec.get("externalIPs").is_some_and(|n| matches!(&n.value, Value::Seq(v) if !v.is_empty()));
        let external = matches!(kind, ServiceType::NodePort | ServiceType::LoadBalancer)
            || (kind == ServiceType::ClusterIp && has_external_ips);
        if !external {
            let shown = if etp == TrafficPolicy::Local { "Local" } else { "Cluster" };
            cx.error(
                obj,
                pos,
                "spec.externalTrafficPolicy",
                invalid(shown, "may only be set for externally-accessible services"),
            );
        } else {
            service.external_traffic_policy = etp;
        }
    }
    if let Some((itp, _)) = policy(cx, "internalTrafficPolicy") {
        service.internal_traffic_policy = itp;
    }
    for (i, ip) in cx.seq(obj, spec.get("externalIPs"), "spec.externalIPs").iter().enumerate() {
        if let Some(ip) = cx.ipv4(obj, Some(ip), &format!("spec.externalIPs[{i}]")) {
            service.external_ips.push(ip);
        }
    }
    // Load balancer addresses: the status wins over the (deprecated) `spec.loadBalancerIP`.
    let mut status_ips = Vec::new();
    if let Some(status) = cx.map(obj, node.get("status"), "status") {
        let lb = cx.map(obj, status.get("loadBalancer"), "status.loadBalancer");
        for (i, ingress) in
            cx.seq(obj, lb.and_then(|l| l.get("ingress")), "status.loadBalancer.ingress").iter().enumerate()
        {
            let path = format!("status.loadBalancer.ingress[{i}]");
            let Some(ingress) = cx.map(obj, Some(ingress), &path) else { continue };
            if let Some(ip) = cx.ipv4(obj, ingress.get("ip"), &format!("{path}.ip")) {
                status_ips.push(ip);
            } else if ingress.get("hostname").is_some() && ingress.get("ip").is_none() {
                cx.warn(
                    obj,
                    ingress.pos,
                    &format!("{path}.hostname"),
                    "a load balancer known only by hostname gets no rules from kube-proxy",
                );
            }
        }
    }
    let spec_lb_ip = cx.ipv4(obj, spec.get("loadBalancerIP"), "spec.loadBalancerIP");
    if kind != ServiceType::LoadBalancer {
        if spec_lb_ip.is_some() || !status_ips.is_empty() {
            cx.warn(
                obj,
                spec.pos,
                "spec.loadBalancerIP",
                format!("load balancer addresses are ignored on a {} Service", kind.as_str()),
            );
        }
    } else if !status_ips.is_empty() {
        service.load_balancer_ips = status_ips;
    } else if let Some(ip) = spec_lb_ip {
        service.load_balancer_ips.push(ip);
    }
    for (i, range) in
        cx.seq(obj, spec.get("loadBalancerSourceRanges"), "spec.loadBalancerSourceRanges").iter().enumerate()
    {
        let path = format!("spec.loadBalancerSourceRanges[{i}]");
        if let Some(net) = cx.cidr(obj, Some(range), &path) {
            if kind != ServiceType::LoadBalancer {
                cx.error(obj, range.pos, &path, forbidden("may only be used when `type` is 'LoadBalancer'"));
            } else {
                service.load_balancer_source_ranges.push(net);
            }
        }
    }
    let mut health_check_pos = None;
    if let Some(n) = spec.get("healthCheckNodePort")
        && let Some(port) = cx.port(obj, Some(n), "spec.healthCheckNodePort")
    {
        if kind != ServiceType::LoadBalancer || service.external_traffic_policy != TrafficPolicy::Local {
            cx.error(
                obj,
                n.pos,
                "spec.healthCheckNodePort",
                invalid(port, "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"),
            );
        } else {
            service.health_check_node_port = Some(port);
            health_check_pos = Some(n.pos);
        }
    }
    service.publish_not_ready_addresses =
        cx.boolean(obj, spec.get("publishNotReadyAddresses"), "spec.publishNotReadyAddresses").unwrap_or(false);
    if kind == ServiceType::ExternalName {
        match cx.string(obj, spec.get("externalName"), "spec.externalName") {
            Some(external) => {
                let trimmed = external.trim_end_matches('.');
                if let Some(message) = dns_subdomain_error(trimmed) {
                    cx.error(
                        obj,
                        spec.get("externalName").map(|n| n.pos).unwrap_or(spec.pos),
                        "spec.externalName",
                        invalid(trimmed, &message),
                    );
                }
                service.external_name = Some(trimmed.to_string());
            }
            None => cx.error(obj, spec.pos, "spec.externalName", required("")),
        }
        if selector_node.is_some_and(|n| !n.is_null()) {
            cx.warn(
                obj,
                selector_node.map(|n| n.pos).unwrap_or(spec.pos),
                "spec.selector",
                "an ExternalName Service gets no endpoints; its selector is ignored",
            );
        }
    }
    // LoadBalancer Services get NodePorts unless `allocateLoadBalancerNodePorts` is false.
    let allocate_lb_node = spec.get("allocateLoadBalancerNodePorts");
    let allocate_lb = cx.boolean(obj, allocate_lb_node, "spec.allocateLoadBalancerNodePorts").unwrap_or(true);
    if let Some(n) = allocate_lb_node.filter(|n| !n.is_null())
        && kind != ServiceType::LoadBalancer
    {
        cx.error(
            obj,
            n.pos,
            "spec.allocateLoadBalancerNodePorts",
            forbidden("may only be used when `type` is 'LoadBalancer'"),
        );
    }
    let allocate_node_ports = kind == ServiceType::NodePort || (kind == ServiceType::LoadBalancer && allocate_lb);
    Some(RawService {
        obj: obj.clone(),
        service,
        want_ip,
        node_port_pos,
        allocate_node_ports,
        health_check_pos,
        selector_pos: selector_node.map(|n| n.pos).unwrap_or(spec.pos),
    })
}

fn protocol_upper(protocol: Proto) -> &'static str {
    match protocol {
        Proto::Tcp => "TCP",
        Proto::Udp => "UDP",
        Proto::Sctp => "SCTP",
    }
}

/// Endpoint ports (`ports[]` of a slice or of an Endpoints subset).
fn endpoint_ports(
    cx: &mut Cx,
    obj: &Obj<'_>,
    node: Option<&yaml::Node>,
    path: &str,
) -> Vec<crate::model::EndpointPort> {
    let mut out = Vec::new();
    for (i, item) in cx.seq(obj, node, path).iter().enumerate() {
        let ppath = format!("{path}[{i}]");
        let Some(item) = cx.map(obj, Some(item), &ppath) else { continue };
        let name = cx.string(obj, item.get("name"), &format!("{ppath}.name")).filter(|n| !n.is_empty());
        let protocol = cx.protocol(obj, item.get("protocol"), &format!("{ppath}.protocol"));
        let Some(port) = cx.port(obj, item.get("port"), &format!("{ppath}.port")) else {
            if item.get("port").is_none() {
                cx.error(obj, item.pos, &format!("{ppath}.port"), "required value: an endpoint port needs `port`");
            }
            continue;
        };
        out.push(crate::model::EndpointPort { name, port, protocol });
    }
    out
}

fn target_pod(cx: &mut Cx, obj: &Obj<'_>, node: Option<&yaml::Node>, path: &str, namespace: &str) -> Option<String> {
    let target = cx.map(obj, node, path)?;
    if target.get("kind").and_then(|k| k.as_str()) != Some("Pod") {
        return None;
    }
    let name = cx.string(obj, target.get("name"), &format!("{path}.name"))?;
    let ns =
        cx.string(obj, target.get("namespace"), &format!("{path}.namespace")).unwrap_or_else(|| namespace.to_string());
    Some(format!("{ns}/{name}"))
}

/// `v1` Endpoints, as the EndpointSliceMirroring controller mirrors them: one slice per distinct
/// port set, subsets with equal ports merged, each address once
/// (pkg/controller/endpointslicemirroring/reconciler.go and utils.go, `addressToEndpoint`), and
/// nothing for Endpoints labelled `endpointslice.kubernetes.io/skip-mirror: "true"`.
fn decode_endpoints<'d>(cx: &mut Cx, obj: &Obj<'d>, namespace: &str, name: &str, decoded: &mut Decoded<'d>) {
    let node = obj.node;
    let labels = cx.labels(obj, node.get("metadata").and_then(|m| m.get("labels")), "metadata.labels");
    if labels.get("endpointslice.kubernetes.io/skip-mirror").map(String::as_str) == Some("true") {
        return;
    }
    let subsets = cx.seq(obj, node.get("subsets"), "subsets");
    let mut index = 0;
    for (s, subset) in subsets.iter().enumerate() {
        let path = format!("subsets[{s}]");
        let Some(subset) = cx.map(obj, Some(subset), &path) else { continue };
        let ports = endpoint_ports(cx, obj, subset.get("ports"), &format!("{path}.ports"));
        let mut endpoints = Vec::new();
        for (key, ready) in [("addresses", true), ("notReadyAddresses", false)] {
            for (a, address) in cx.seq(obj, subset.get(key), &format!("{path}.{key}")).iter().enumerate() {
                let apath = format!("{path}.{key}[{a}]");
                let Some(address) = cx.map(obj, Some(address), &apath) else { continue };
                let Some(ip) = cx.ipv4(obj, address.get("ip"), &format!("{apath}.ip")) else {
                    if address.get("ip").is_none() {
                        cx.error(obj, address.pos, &format!("{apath}.ip"), "required value: an address needs `ip`");
                    }
                    continue;
                };
                let node_name = cx.string(obj, address.get("nodeName"), &format!("{apath}.nodeName"));
                let pod = target_pod(cx, obj, address.get("targetRef"), &format!("{apath}.targetRef"), namespace);
                endpoints.push(crate::model::Endpoint {
                    ip,
                    ready,
                    serving: ready,
                    terminating: false,
                    node_name,
                    pod,
                });
            }
        }
        let merged = decoded.slices.iter_mut().find(|raw| {
            raw.mirrored
                && raw.slice.namespace == namespace
                && raw.slice.service == name
                && same_ports(&raw.slice.ports, &ports)
        });
        if let Some(raw) = merged {
            for endpoint in endpoints {
                if !raw.slice.endpoints.iter().any(|e| e.ip == endpoint.ip) {
                    raw.slice.endpoints.push(endpoint);
                }
            }
            continue;
        }
        decoded.slices.push(RawSlice {
            obj: obj.clone(),
            mirrored: true,
            slice: crate::model::EndpointSlice {
                namespace: namespace.to_string(),
                name: format!("{name}#{index}"),
                service: name.to_string(),
                ports,
                endpoints,
            },
        });
        index += 1;
    }
    if subsets.is_empty() {
        cx.warn(obj, node.pos, "subsets", "these Endpoints have no subsets: the Service gets no endpoints");
    }
}

/// Whether two port lists are the same set, as the mirroring controller's port-map key compares them.
fn same_ports(a: &[crate::model::EndpointPort], b: &[crate::model::EndpointPort]) -> bool {
    a.len() == b.len() && a.iter().all(|p| b.contains(p))
}

/// A hand-written `discovery.k8s.io/v1` EndpointSlice.
fn decode_endpoint_slice<'d>(cx: &mut Cx, obj: &Obj<'d>, namespace: &str, name: &str, decoded: &mut Decoded<'d>) {
    let node = obj.node;
    let labels = cx.labels(obj, node.get("metadata").and_then(|m| m.get("labels")), "metadata.labels");
    let Some(service) = labels.get("kubernetes.io/service-name").cloned() else {
        cx.warn(
            obj,
            node.get("metadata").map(|m| m.pos).unwrap_or(node.pos),
            "metadata.labels",
            "this EndpointSlice has no `kubernetes.io/service-name` label, so kube-proxy ignores it",
        );
        return;
    };
    match cx.string(obj, node.get("addressType"), "addressType").as_deref() {
        Some("IPv4") => {}
        None => {
            cx.error(obj, node.pos, "addressType", "required value: supported values are \"IPv4\", \"IPv6\", \"FQDN\"");
            return;
        }
        Some("IPv6") | Some("FQDN") => {
            let at = node.get("addressType").map(|n| n.pos).unwrap_or(node.pos);
            cx.warn(obj, at, "addressType", "only IPv4 EndpointSlices are modelled; this one is ignored");
            return;
        }
        Some(other) => {
            let at = node.get("addressType").map(|n| n.pos).unwrap_or(node.pos);
            cx.error(
                obj,
                at,
                "addressType",
                format!("unsupported value `{other}`: supported values are \"IPv4\", \"IPv6\", \"FQDN\""),
            );
            return;
        }
    }
    let ports = endpoint_ports(cx, obj, node.get("ports"), "ports");
    let mut endpoints = Vec::new();
    let items = cx.seq(obj, node.get("endpoints"), "endpoints");
    if items.len() > 1000 {
        cx.error(obj, node.pos, "endpoints", format!("{} endpoints: must have at most 1000 items", items.len()));
        return;
    }
    for (e, item) in items.iter().enumerate() {
        let path = format!("endpoints[{e}]");
        let Some(item) = cx.map(obj, Some(item), &path) else { continue };
        let addresses = cx.seq(obj, item.get("addresses"), &format!("{path}.addresses"));
        let Some(first) = addresses.first() else {
            cx.error(obj, item.pos, &format!("{path}.addresses"), "required value: an endpoint needs one address");
            continue;
        };
        let Some(ip) = cx.ipv4(obj, Some(first), &format!("{path}.addresses[0]")) else { continue };
        // Absent conditions: `ready` is taken as true and `serving` follows it
        // (staging/src/k8s.io/api/discovery/v1/types.go, EndpointConditions).
        let conditions = cx.map(obj, item.get("conditions"), &format!("{path}.conditions"));
        let ready = conditions
            .and_then(|c| cx.boolean(obj, c.get("ready"), &format!("{path}.conditions.ready")))
            .unwrap_or(true);
        let serving = conditions
            .and_then(|c| cx.boolean(obj, c.get("serving"), &format!("{path}.conditions.serving")))
            .unwrap_or(ready);
        let terminating = conditions
            .and_then(|c| cx.boolean(obj, c.get("terminating"), &format!("{path}.conditions.terminating")))
            .unwrap_or(false);
        let node_name = cx.string(obj, item.get("nodeName"), &format!("{path}.nodeName"));
        let pod = target_pod(cx, obj, item.get("targetRef"), &format!("{path}.targetRef"), namespace);
        endpoints.push(crate::model::Endpoint { ip, ready, serving, terminating, node_name, pod });
    }
    decoded.slices.push(RawSlice {
        obj: obj.clone(),
        mirrored: false,
        slice: crate::model::EndpointSlice {
            namespace: namespace.to_string(),
            name: name.to_string(),
            service,
            ports,
            endpoints,
        },
    });
}

fn string_match(cx: &mut Cx, obj: &Obj<'_>, node: &yaml::Node, path: &str) -> Option<StringMatch> {
    let node = cx.map(obj, Some(node), path)?;
    let Value::Map(entries) = &node.value else { return None };
    if entries.len() != 1 {
        cx.error(obj, node.pos, path, "exactly one of `exact`, `prefix` or `regex` is required");
        return None;
    }
    let (key, value) = &entries[0];
    let text = cx.string(obj, Some(value), &format!("{path}.{}", key.name))?;
    match key.name.as_str() {
        "exact" => Some(StringMatch::Exact(text)),
        "prefix" => Some(StringMatch::Prefix(text)),
        "regex" => Some(StringMatch::Regex(text)),
        other => {
            cx.error(
                obj,
                key.pos,
                &format!("{path}.{other}"),
                format!("unknown match `{other}`: use `exact`, `prefix` or `regex`"),
            );
            None
        }
    }
}

/// An Istio VirtualService, validated as istioctl validate would (weights summing to 100,
/// hosts present, a destination host per route).
fn decode_virtual_service(cx: &mut Cx, obj: &Obj<'_>, namespace: &str, name: &str) -> Option<VirtualService> {
    let spec = cx.map(obj, obj.node.get("spec"), "spec")?;
    let mut hosts = Vec::new();
    for (i, h) in cx.seq(obj, spec.get("hosts"), "spec.hosts").iter().enumerate() {
        if let Some(h) = cx.string(obj, Some(h), &format!("spec.hosts[{i}]")) {
            hosts.push(h);
        }
    }
    if hosts.is_empty() {
        cx.error(obj, spec.pos, "spec.hosts", "a VirtualService must have at least one host");
    }
    let mut gateways = Vec::new();
    for (i, g) in cx.seq(obj, spec.get("gateways"), "spec.gateways").iter().enumerate() {
        if let Some(g) = cx.string(obj, Some(g), &format!("spec.gateways[{i}]")) {
            gateways.push(g);
        }
    }
    let mut http = Vec::new();
    for (r, route) in cx.seq(obj, spec.get("http"), "spec.http").iter().enumerate() {
        let path = format!("spec.http[{r}]");
        let Some(route) = cx.map(obj, Some(route), &path) else { continue };
        let route_name = cx.string(obj, route.get("name"), &format!("{path}.name"));
        let mut matches = Vec::new();
        for (m, item) in cx.seq(obj, route.get("match"), &format!("{path}.match")).iter().enumerate() {
            let mpath = format!("{path}.match[{m}]");
            let Some(item) = cx.map(obj, Some(item), &mpath) else { continue };
            let uri = item.get("uri").and_then(|u| string_match(cx, obj, u, &format!("{mpath}.uri")));
            let mut headers = Vec::new();
            if let Some(h) = cx.map(obj, item.get("headers"), &format!("{mpath}.headers"))
                && let Value::Map(entries) = &h.value
            {
                for (key, value) in entries {
                    if let Some(sm) = string_match(cx, obj, value, &format!("{mpath}.headers.{}", key.name)) {
                        headers.push((key.name.clone(), sm));
                    }
                }
            }
            matches.push(HttpMatch { uri, headers });
        }
        let mut destinations = Vec::new();
        let route_items = cx.seq(obj, route.get("route"), &format!("{path}.route"));
        for (d, dest) in route_items.iter().enumerate() {
            let dpath = format!("{path}.route[{d}]");
            let Some(dest) = cx.map(obj, Some(dest), &dpath) else { continue };
            let Some(destination) = cx.map(obj, dest.get("destination"), &format!("{dpath}.destination")) else {
                cx.error(
                    obj,
                    dest.pos,
                    &format!("{dpath}.destination"),
                    "required value: a route needs a `destination`",
                );
                continue;
            };
            let Some(host) = cx.string(obj, destination.get("host"), &format!("{dpath}.destination.host")) else {
                cx.error(
                    obj,
                    destination.pos,
                    &format!("{dpath}.destination.host"),
                    "required value: a destination needs a `host`",
                );
                continue;
            };
            let subset = cx.string(obj, destination.get("subset"), &format!("{dpath}.destination.subset"));
            let port = cx
                .map(obj, destination.get("port"), &format!("{dpath}.destination.port"))
                .and_then(|p| cx.port(obj, p.get("number"), &format!("{dpath}.destination.port.number")));
            let weight = match dest.get("weight") {
                None => 0,
                Some(w) => match cx.int(obj, Some(w), &format!("{dpath}.weight")) {
                    Some(v) if (0..=100).contains(&v) => v as u32,
                    Some(v) => {
                        cx.error(
                            obj,
                            w.pos,
                            &format!("{dpath}.weight"),
                            format!("weight {v} must be between 0 and 100"),
                        );
                        0
                    }
                    None => 0,
                },
            };
            destinations.push(RouteDestination { host, subset, port, weight });
        }
        if destinations.len() > 1 || destinations.iter().any(|d| d.weight != 0) {
            let total: u32 = destinations.iter().map(|d| d.weight).sum();
            if total != 100 && !(destinations.len() == 1 && total == 0) {
                cx.error(
                    obj,
                    route.pos,
                    &format!("{path}.route"),
                    format!("total destination weight = {total} != 100"),
                );
            }
        }
        if destinations.is_empty() && route.get("redirect").is_none() && route.get("directResponse").is_none() {
            cx.error(
                obj,
                route.pos,
                &format!("{path}.route"),
                "an HTTP route needs `route`, `redirect` or `directResponse`",
            );
        }
        let timeout = cx.string(obj, route.get("timeout"), &format!("{path}.timeout"));
        let retry = cx.map(obj, route.get("retries"), &format!("{path}.retries"));
        let retries = retry
            .and_then(|r| cx.int(obj, r.get("attempts"), &format!("{path}.retries.attempts")))
            .map(|a| a.clamp(0, u32::MAX as i64) as u32);
        let retry_on = retry.and_then(|r| cx.string(obj, r.get("retryOn"), &format!("{path}.retries.retryOn")));
        http.push(HttpRoute { name: route_name, matches, route: destinations, timeout, retries, retry_on });
    }
    Some(VirtualService { namespace: namespace.to_string(), name: name.to_string(), hosts, gateways, http })
}

fn load_balancer_policy(cx: &mut Cx, obj: &Obj<'_>, node: Option<&yaml::Node>, path: &str) -> Option<LoadBalancer> {
    let policy = cx.map(obj, node, path)?;
    let lb = cx.map(obj, policy.get("loadBalancer"), &format!("{path}.loadBalancer"))?;
    if let Some(hash) = lb.get("consistentHash") {
        let hpath = format!("{path}.loadBalancer.consistentHash");
        let hash = cx.map(obj, Some(hash), &hpath)?;
        let key = if let Some(name) = cx.string(obj, hash.get("httpHeaderName"), &format!("{hpath}.httpHeaderName")) {
            HashKey::Header(name)
        } else if let Some(cookie) = hash.get("httpCookie") {
            let cookie = cx.map(obj, Some(cookie), &format!("{hpath}.httpCookie"))?;
            let name = cx.string(obj, cookie.get("name"), &format!("{hpath}.httpCookie.name"))?;
            HashKey::Cookie(name)
        } else if let Some(name) =
            cx.string(obj, hash.get("httpQueryParameterName"), &format!("{hpath}.httpQueryParameterName"))
        {
            HashKey::QueryParameter(name)
        } else if cx.boolean(obj, hash.get("useSourceIp"), &format!("{hpath}.useSourceIp")) == Some(true) {
            HashKey::SourceIp
        } else {
            cx.error(
                obj,
                hash.pos,
                &hpath,
                "consistentHash needs one of httpHeaderName, httpCookie, useSourceIp, httpQueryParameterName",
            );
            return None;
        };
        let size = |cx: &mut Cx, parent: Option<&yaml::Node>, key: &str, field: &str| -> Option<u64> {
            let parent = cx.map(obj, parent, &format!("{hpath}.{key}"))?;
            let value = cx.int(obj, parent.get(field), &format!("{hpath}.{key}.{field}"))?;
            u64::try_from(value).ok()
        };
        let maglev = hash.get("maglev").and_then(|m| size(cx, Some(m), "maglev", "tableSize").or(Some(65_537)));
        if let Some(table) = maglev
            && crate::mesh::balance::Balancer::new(
                crate::mesh::balance::Policy::Maglev { table_size: table },
                vec![crate::mesh::balance::Endpoint { address: String::new(), weight: 1 }],
                0,
            )
            .is_err()
        {
            let at = hash.get("maglev").map_or(hash.pos, |m| m.pos);
            cx.error(
                obj,
                at,
                &format!("{hpath}.maglev.tableSize"),
                format!("table size {table} must be a prime number no larger than 5000011"),
            );
            return None;
        }
        let minimum_ring_size =
            hash.get("ringHash").and_then(|r| size(cx, Some(r), "ringHash", "minimumRingSize")).or_else(|| {
                cx.int(obj, hash.get("minimumRingSize"), &format!("{hpath}.minimumRingSize")).map(|v| v.max(0) as u64)
            });
        return Some(LoadBalancer::ConsistentHash(ConsistentHash { key, maglev, minimum_ring_size }));
    }
    let simple = cx.string(obj, lb.get("simple"), &format!("{path}.loadBalancer.simple"))?;
    const KNOWN: &[&str] = &["UNSPECIFIED", "ROUND_ROBIN", "LEAST_CONN", "LEAST_REQUEST", "RANDOM", "PASSTHROUGH"];
    if !KNOWN.contains(&simple.as_str()) {
        let at = lb.get("simple").map(|n| n.pos).unwrap_or(lb.pos);
        cx.error(
            obj,
            at,
            &format!("{path}.loadBalancer.simple"),
            format!("unknown load balancer `{simple}`: supported values are {}", KNOWN.join(", ")),
        );
        return None;
    }
    Some(LoadBalancer::Simple(simple))
}

fn decode_destination_rule(cx: &mut Cx, obj: &Obj<'_>, namespace: &str, name: &str) -> Option<DestinationRule> {
    let spec = cx.map(obj, obj.node.get("spec"), "spec")?;
    let Some(host) = cx.string(obj, spec.get("host"), "spec.host") else {
        cx.error(obj, spec.pos, "spec.host", "required value: a DestinationRule needs a `host`");
        return None;
    };
    let load_balancer = load_balancer_policy(cx, obj, spec.get("trafficPolicy"), "spec.trafficPolicy");
    let mut subsets: Vec<Subset> = Vec::new();
    for (i, item) in cx.seq(obj, spec.get("subsets"), "spec.subsets").iter().enumerate() {
        let path = format!("spec.subsets[{i}]");
        let Some(item) = cx.map(obj, Some(item), &path) else { continue };
        let Some(subset_name) = cx.string(obj, item.get("name"), &format!("{path}.name")) else {
            cx.error(obj, item.pos, &format!("{path}.name"), "required value: a subset needs a `name`");
            continue;
        };
        if subsets.iter().any(|s| s.name == subset_name) {
            cx.error(obj, item.pos, &format!("{path}.name"), format!("duplicate subset name `{subset_name}`"));
            continue;
        }
        let labels = cx.labels(obj, item.get("labels"), &format!("{path}.labels"));
        let lb = load_balancer_policy(cx, obj, item.get("trafficPolicy"), &format!("{path}.trafficPolicy"));
        subsets.push(Subset { name: subset_name, labels, load_balancer: lb });
    }
    Some(DestinationRule { namespace: namespace.to_string(), name: name.to_string(), host, load_balancer, subsets })
}
