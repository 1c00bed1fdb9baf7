//! The control plane, played once and deterministically: what the controllers would have written.
//!
//! This module owns workload expansion (the Deployment and ReplicaSet controllers' pod names),
//! scheduling (spreading a workload's pods over nodes), pod IPAM (host-local, per node podCIDR),
//! the Service allocators (ClusterIP and NodePort), the EndpointSlice and EndpointSliceMirroring
//! controllers, and the DNS view (CoreDNS's `kubernetes` plugin). Upstream allocators pick at
//! random; lbplay derives every pick from a SHA-256 of the object's name, so a value does not move
//! when an unrelated object is added, and explicit values are reserved before anything is picked.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use sha2::{Digest, Sha256};

use super::MAX_SERVICES;
use super::fields::Cx;
use super::objects::{Decoded, RawPod, RawService, WantIp};
use super::{MAX_ENDPOINT_PORTS, MAX_PODS, MAX_SERVICE_PORTS_TOTAL};
use crate::model::{
    Cluster, ClusterExtras, Endpoint, EndpointPort, EndpointSlice, Pod, ServiceType, TargetPort, TrafficPolicy,
};
use crate::yaml::Pos;

/// The characters of generated name suffixes (k8s.io/apimachinery/pkg/util/rand: no vowels, no
/// look-alike digits).
const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// At most this many endpoints per controller-made slice (`--max-endpoints-per-slice`, default 100,
/// pkg/controller/endpointslice/config).
pub const MAX_ENDPOINTS_PER_SLICE: usize = 100;

pub use crate::dns::CLUSTER_DOMAIN;

/// How many names a `generateName` create tries before it fails
/// (`maxNameGenerationCreateAttempts`, staging/src/k8s.io/apiserver/pkg/registry/generic/registry/store.go).
const MAX_NAME_ATTEMPTS: usize = 8;

/// The NodePort range (`--service-node-port-range`, 30000-32767 by default).
pub const NODE_PORT_MIN: u16 = 30000;
pub const NODE_PORT_MAX: u16 = 32767;

fn digest(parts: &[&str]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update([0u8]);
    }
    hasher.finalize().into()
}

fn hash_u64(parts: &[&str]) -> u64 {
    let d = digest(parts);
    u64::from_be_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]])
}

/// A deterministic name suffix of `len` characters, as `generateName` would add at random
/// (`rand.String(5)`, k8s.io/apimachinery/pkg/util/rand): lbplay draws the characters from a
/// SHA-256 of the object's identity instead of a random source.
pub(crate) fn suffix(parts: &[&str], len: usize) -> String {
    digest(parts).iter().take(len).map(|b| ALPHANUMS[usize::from(*b) % ALPHANUMS.len()] as char).collect()
}

/// `generateName`'s name: the base cut to 58 characters, then 5 generated ones
/// (staging/src/k8s.io/apiserver/pkg/storage/names/generate.go, `maxGeneratedNameLength`).
pub(crate) fn generated_name(base: &str, parts: &[&str]) -> String {
    let cut: String = base.chars().take(58).collect();
    format!("{cut}{}", suffix(parts, 5))
}

/// The `pod-template-hash` of a Deployment's template, shaped as upstream's: the FNV-32a hash of
/// the template, printed in decimal and passed through `rand.SafeEncodeString`
/// (pkg/controller/controller_utils.go, `ComputeHash`). Upstream hashes Go's dump of the template
/// object, which lbplay cannot reproduce; it hashes a canonical rendering of the template's YAML,
/// so equal templates get equal hashes and any edit changes it, as upstream.
pub(crate) fn pod_template_hash(template: &crate::yaml::Node) -> String {
    fn canonical(node: &crate::yaml::Node, out: &mut String) {
        use crate::yaml::Value;
        match &node.value {
            Value::Null => out.push('~'),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Int(i) => out.push_str(&i.to_string()),
            Value::Float(f) => out.push_str(&f.to_string()),
            Value::Str(s) => {
                out.push('"');
                out.push_str(s);
                out.push('"');
            }
            Value::Seq(items) => {
                out.push('[');
                for item in items {
                    canonical(item, out);
                    out.push(',');
                }
                out.push(']');
            }
            Value::Map(entries) => {
                let mut sorted: Vec<_> = entries.iter().collect();
                crate::sort::sort_by(&mut sorted, |a, b| a.0.name.cmp(&b.0.name));
                out.push('{');
                for (key, value) in sorted {
                    out.push_str(&key.name);
                    out.push(':');
                    canonical(value, out);
                    out.push(',');
                }
                out.push('}');
            }
        }
    }
    let mut text = String::new();
    canonical(template, &mut text);
    // FNV-1a, 32 bits (hash/fnv's New32a).
    let mut hash: u32 = 0x811c_9dc5;
    for byte in text.bytes() {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash.to_string().bytes().map(|b| ALPHANUMS[usize::from(b) % ALPHANUMS.len()] as char).collect()
}

/// Runs every controller over the decoded objects and fills `cluster`.
pub(crate) fn run(cx: &mut Cx, cluster: &mut Cluster, extras: &mut ClusterExtras, decoded: Decoded<'_>) {
    let Decoded {
        mut pods,
        services,
        slices,
        ingresses,
        ingress_classes,
        virtual_services,
        destination_rules,
        workloads,
        namespace_labels,
    } = decoded;
    // The limit is checked on the sum before anything is expanded, so a billion replicas cost nothing.
    let total: usize =
        pods.len().saturating_add(workloads.iter().map(|w| w.replicas).fold(0usize, usize::saturating_add));
    if total > MAX_PODS {
        let (file, pos) = workloads
            .iter()
            .max_by_key(|w| w.replicas)
            .map(|w| (w.obj.clone(), w.obj.node.pos))
            .or_else(|| pods.last().map(|p| (p.obj.clone(), p.obj.node.pos)))
            .unwrap_or_else(|| unreachable_obj());
        cx.error(
            &file,
            pos,
            "spec.replicas",
            format!("the scenario would hold {total} pods, over lbplay's limit of {MAX_PODS}"),
        );
        return;
    }
    // Nor are replicas expanded that the nodes' podCIDRs cannot address: each would be one more
    // "no free address left" error, and 200,000 of them take seconds to build and print. Addresses
    // are given from .2 up to the last but one of each podCIDR (see `schedule_and_address`).
    let capacity: u64 = cluster.nodes.iter().map(|node| node.pod_cidr.size().saturating_sub(3)).sum();
    let needing = pods.iter().filter(|pod| !pod.host_network).count().saturating_add(
        workloads.iter().filter(|w| !w.template.host_network).map(|w| w.replicas).fold(0usize, usize::saturating_add),
    );
    if !cluster.nodes.is_empty()
        && needing as u64 > capacity
        && let Some(w) = workloads.iter().filter(|w| !w.template.host_network).max_by_key(|w| w.replicas)
    {
        let at = w.obj.node.get("spec").and_then(|s| s.get("replicas")).map_or(w.obj.node.pos, |n| n.pos);
        cx.error(
                &w.obj,
                at,
                "spec.replicas",
                format!(
                    "the scenario's {needing} pods need more addresses than the nodes' podCIDRs hold ({capacity}); add nodes or widen their podCIDR"
                ),
            );
        return;
    }
    if services.len() > MAX_SERVICES {
        let obj = &services[MAX_SERVICES].obj;
        cx.error(
            obj,
            obj.node.pos,
            "",
            format!("{} Services is over lbplay's limit of {MAX_SERVICES}", services.len()),
        );
        return;
    }
    let mut ports_total = 0usize;
    for raw in &services {
        ports_total += raw.service.ports.len();
        if ports_total > MAX_SERVICE_PORTS_TOTAL {
            let at = raw.obj.node.get("spec").and_then(|s| s.get("ports")).map_or(raw.obj.node.pos, |n| n.pos);
            cx.error(
                &raw.obj,
                at,
                "spec.ports",
                format!(
                    "with this Service's {} ports the scenario has {ports_total} Service ports, over lbplay's limit of {MAX_SERVICE_PORTS_TOTAL}",
                    raw.service.ports.len()
                ),
            );
            return;
        }
    }
    // Workloads: a Deployment owns a ReplicaSet named `<deployment>-<pod-template-hash>`
    // (pkg/controller/deployment/sync.go, `getNewReplicaSet`), whose pods get the generateName
    // `<replicaset>-` (pkg/controller/controller_utils.go, `getPodsPrefix`); a StatefulSet's pods
    // are `<name>-<ordinal>` with the pod-name and pod-index labels
    // (pkg/controller/statefulset/stateful_set_utils.go, `newStatefulSetPod`).
    //
    // A generated name that is already taken is drawn again, as the API server does since v1.30:
    // with generateName, a create that fails on a name conflict is retried with a fresh name up to
    // `maxNameGenerationCreateAttempts` (8) times
    // (staging/src/k8s.io/apiserver/pkg/registry/generic/registry/store.go, KEP-4420
    // RetryGenerateName). The names already taken are the Pods written out and those generated
    // before, in input order.
    let mut taken: BTreeSet<(String, String)> = BTreeSet::new();
    for pod in &pods {
        taken.insert((pod.namespace.clone(), pod.name.clone()));
    }
    for workload in &workloads {
        let template_node = workload.obj.node.get("spec").and_then(|s| s.get("template"));
        let template_hash = template_node.map(pod_template_hash).unwrap_or_default();
        let (prefix, owner) = match workload.kind {
            "Deployment" => {
                let rs = format!("{}-{template_hash}", workload.name);
                (format!("{rs}-"), rs)
            }
            _ => (format!("{}-", workload.name), workload.name.clone()),
        };
        for i in 0..workload.replicas {
            let mut pod = workload.template.clone();
            let index = i.to_string();
            pod.name = match workload.kind {
                "StatefulSet" => format!("{}-{i}", workload.name),
                _ => {
                    let mut name = generated_name(&prefix, &[&pod.namespace, &owner, &index]);
                    for attempt in 1..MAX_NAME_ATTEMPTS {
                        if !taken.contains(&(pod.namespace.clone(), name.clone())) {
                            break;
                        }
                        let attempt = attempt.to_string();
                        name = generated_name(&prefix, &[&pod.namespace, &owner, &index, &attempt]);
                    }
                    name
                }
            };
            taken.insert((pod.namespace.clone(), pod.name.clone()));
            match workload.kind {
                "Deployment" => {
                    pod.labels.insert("pod-template-hash".to_string(), template_hash.clone());
                }
                "StatefulSet" => {
                    pod.labels.insert("statefulset.kubernetes.io/pod-name".to_string(), pod.name.clone());
                    pod.labels.insert("apps.kubernetes.io/pod-index".to_string(), index.clone());
                }
                _ => {}
            }
            pods.push(pod);
        }
    }
    let mut seen_pods: BTreeMap<(String, String), ()> = BTreeMap::new();
    pods.retain(|pod| {
        let key = (pod.namespace.clone(), pod.name.clone());
        if seen_pods.contains_key(&key) {
            cx.error(
                &pod.obj,
                pod.obj.node.pos,
                "metadata.name",
                format!(
                    "Pod {}/{} is defined twice (a Pod and a workload's generated pod share the name)",
                    pod.namespace, pod.name
                ),
            );
            return false;
        }
        seen_pods.insert(key, ());
        true
    });
    let flags = schedule_and_address(cx, cluster, &pods);
    allocate_services(cx, cluster, services.clone());
    endpoint_slices(cx, cluster, &services, slices, &flags);
    super::ingress::admit(cx, cluster, extras, ingress_classes, ingresses);
    extras.virtual_services = virtual_services;
    extras.destination_rules = destination_rules;
    extras.dns = crate::dns::records(cluster);
    extras.namespace_labels = namespace_labels;
    let mut placed = BTreeSet::new();
    for pod in &cluster.pods {
        placed.insert((pod.namespace.as_str(), pod.name.as_str()));
    }
    for pod in &pods {
        if placed.contains(&(pod.namespace.as_str(), pod.name.as_str())) && !pod.annotations.is_empty() {
            extras.pod_annotations.insert(format!("{}/{}", pod.namespace, pod.name), pod.annotations.clone());
        }
    }
}

fn unreachable_obj() -> (super::fields::Obj<'static>, Pos) {
    static NULL: crate::yaml::Node = crate::yaml::Node { pos: super::START, value: crate::yaml::Value::Null };
    (super::fields::Obj { file: String::new(), label: String::new(), node: &NULL }, super::START)
}

/// Places each pod on a node and gives it an address.
///
/// Scheduling: the default scheduler spreads the pods of one Service or workload over nodes
/// (the PodTopologySpread plugin's system default constraints, `maxSkew: 3` on
/// `kubernetes.io/hostname`, pkg/scheduler/framework/plugins/podtopologyspread; before v1.24 the
/// SelectorSpread plugin). lbplay models the outcome: each pod goes to the node holding the fewest
/// pods of its owner, then the fewest pods, then the first in the Cluster's order.
///
/// Addresses: host-local IPAM hands out a node's podCIDR in order from `.2` (`.1` is the bridge
/// gateway), skipping addresses written explicitly anywhere.
///
/// Returns the pods that are terminating (`true`) or terminal (`false`), which the model's `Pod`
/// does not record and the EndpointSlice controller needs.
fn schedule_and_address(cx: &mut Cx, cluster: &mut Cluster, pods: &[RawPod<'_>]) -> PodFlags {
    let mut flags = PodFlags::new();
    for pod in pods {
        if pod.terminating {
            flags.insert((pod.namespace.clone(), pod.name.clone(), true));
        }
        if pod.terminal {
            flags.insert((pod.namespace.clone(), pod.name.clone(), false));
        }
    }
    // Inserted one by one: `collect()` would compile another stable sort (see `crate::sort`).
    let mut node_index: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, node) in cluster.nodes.iter().enumerate() {
        node_index.insert(node.name.as_str(), i);
    }
    let mut per_node = vec![0usize; cluster.nodes.len()];
    let mut per_owner: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    let mut placed: Vec<Option<usize>> = vec![None; pods.len()];
    // Pods with a nodeName first: they are already bound.
    for (i, pod) in pods.iter().enumerate() {
        if let Some((name, pos)) = &pod.node {
            match node_index.get(name.as_str()) {
                Some(&n) => {
                    placed[i] = Some(n);
                    per_node[n] += 1;
                    let owner = pod.owner.clone().unwrap_or_else(|| group_key(pod));
                    per_owner.entry(owner).or_insert_with(|| vec![0; cluster.nodes.len()])[n] += 1;
                }
                None => cx.error(
                    &pod.obj,
                    *pos,
                    "spec.nodeName",
                    format!(
                        "node `{name}` is not in the cluster (nodes: {})",
                        cluster.nodes.iter().map(|n| n.name.as_str()).collect::<Vec<_>>().join(", ")
                    ),
                ),
            }
        }
    }
    if cluster.nodes.is_empty() {
        return flags;
    }
    for (i, pod) in pods.iter().enumerate() {
        if pod.node.is_some() {
            continue;
        }
        let owner = pod.owner.clone().unwrap_or_else(|| group_key(pod));
        let counts = per_owner.entry(owner).or_insert_with(|| vec![0; cluster.nodes.len()]);
        let n = (0..cluster.nodes.len()).min_by_key(|&n| (counts[n], per_node[n], n)).unwrap_or(0);
        counts[n] += 1;
        per_node[n] += 1;
        placed[i] = Some(n);
    }
    // Explicit addresses are reserved first, and checked.
    let mut used: BTreeMap<Ipv4Addr, String> = BTreeMap::new();
    for (i, pod) in pods.iter().enumerate() {
        let (Some(n), Some((ip, pos))) = (placed[i], pod.ip) else { continue };
        let node = &cluster.nodes[n];
        if pod.host_network {
            if ip != node.ip {
                cx.error(
                    &pod.obj,
                    pos,
                    "status.podIP",
                    format!("a hostNetwork pod has its node's address, {} ({}), not {ip}", node.ip, node.name),
                );
            }
            continue;
        }
        if !node.pod_cidr.contains(ip) {
            cx.error(
                &pod.obj,
                pos,
                "status.podIP",
                format!("{ip} is not in {}'s podCIDR {}", node.name, node.pod_cidr),
            );
            continue;
        }
        if let Some(other) = used.get(&ip) {
            cx.error(&pod.obj, pos, "status.podIP", format!("{ip} is already the address of pod {other}"));
            continue;
        }
        used.insert(ip, format!("{}/{}", pod.namespace, pod.name));
    }
    let mut next = vec![2u64; cluster.nodes.len()];
    for (i, pod) in pods.iter().enumerate() {
        let Some(n) = placed[i] else { continue };
        let node = &cluster.nodes[n];
        let ip = if pod.host_network {
            node.ip
        } else if let Some((ip, _)) = pod.ip {
            ip
        } else {
            let mut found = None;
            while let Some(candidate) = node.pod_cidr.nth(next[n]) {
                next[n] += 1;
                if next[n] >= node.pod_cidr.size() {
                    break;
                }
                if !used.contains_key(&candidate) {
                    found = Some(candidate);
                    break;
                }
            }
            match found {
                Some(ip) => {
                    used.insert(ip, format!("{}/{}", pod.namespace, pod.name));
                    ip
                }
                None => {
                    cx.error(
                        &pod.obj,
                        pod.obj.node.pos,
                        "status.podIP",
                        format!("node {}'s podCIDR {} has no free address left", node.name, node.pod_cidr),
                    );
                    continue;
                }
            }
        };
        cluster.pods.push(Pod {
            namespace: pod.namespace.clone(),
            name: pod.name.clone(),
            labels: pod.labels.clone(),
            node: node.name.clone(),
            ip,
            ready: pod.ready && !pod.terminal,
            host_network: pod.host_network,
            ports: pod.ports.clone(),
        });
    }
    flags
}

/// `(namespace, name, terminating)`: terminating pods (`true`) and terminal ones (`false`).
type PodFlags = BTreeSet<(String, String, bool)>;

/// A standalone pod is spread with the others sharing its namespace and labels.
fn group_key(pod: &RawPod<'_>) -> String {
    let labels: Vec<String> = pod.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{}/{}", pod.namespace, labels.join(","))
}

/// ClusterIPs and NodePorts: explicit values are reserved first (two Services on one value is an
/// error, as the allocator's "provided IP is already allocated"), then the rest are allocated.
fn allocate_services(cx: &mut Cx, cluster: &mut Cluster, services: Vec<RawService<'_>>) {
    let cidr = cluster.service_cidr;
    let mut ips: BTreeMap<Ipv4Addr, String> = BTreeMap::new();
    let mut node_ports: BTreeMap<u16, String> = BTreeMap::new();
    let mut services = services;
    for raw in &mut services {
        let who = raw.service.namespaced_name();
        if let WantIp::Explicit(ip, pos) = raw.want_ip {
            // The network and broadcast addresses are outside the range
            // (pkg/registry/core/service/ipallocator/bitmap.go, `New`). The errors read as the
            // registry reports them (pkg/registry/core/service/storage/alloc.go, `allocIPs`).
            let offset = u64::from(u32::from(ip).wrapping_sub(u32::from(cidr.network())));
            let prefix = format!("Invalid value: []string{{\"{ip}\"}}: failed to allocate IP {ip}: ");
            if !cidr.contains(ip) || offset == 0 || offset + 1 == cidr.size() {
                cx.error(
                    &raw.obj,
                    pos,
                    "spec.clusterIP",
                    format!(
                        "{prefix}the provided IP ({ip}) is not in the valid range. The range of valid IPs is {cidr}"
                    ),
                );
                raw.want_ip = WantIp::Allocate;
            } else if let Some(other) = ips.get(&ip) {
                cx.error(
                    &raw.obj,
                    pos,
                    "spec.clusterIP",
                    format!("{prefix}provided IP is already allocated (to Service {other})"),
                );
            } else {
                ips.insert(ip, who.clone());
                raw.service.cluster_ip = Some(ip);
            }
        }
        for (i, port) in raw.service.ports.iter().enumerate() {
            let (Some(np), Some(pos)) = (port.node_port, raw.node_port_pos.get(i).copied().flatten()) else { continue };
            let field = format!("spec.ports[{i}].nodePort");
            if raw.service.ports[..i].iter().any(|p| p.node_port == Some(np) && p.protocol == port.protocol) {
                // Validation refuses one (protocol, nodePort) twice in a Service (validation.go).
                cx.error(&raw.obj, pos, &field, super::fields::duplicate(np));
            } else if !(NODE_PORT_MIN..=NODE_PORT_MAX).contains(&np) {
                // pkg/registry/core/service/portallocator/allocator.go, `ErrNotInRange`.
                cx.error(
                    &raw.obj,
                    pos,
                    &field,
                    format!(
                        "Invalid value: {np}: provided port is not in the valid range. The range of valid ports is {NODE_PORT_MIN}-{NODE_PORT_MAX}"
                    ),
                );
            } else if let Some(other) = node_ports.get(&np) {
                // One Service may reuse its own nodePort across protocols
                // (pkg/registry/core/service/storage/alloc.go, `initNodePorts`).
                if other != &who {
                    cx.error(
                        &raw.obj,
                        pos,
                        &field,
                        format!("Invalid value: {np}: provided port is already allocated (to Service {other})"),
                    );
                }
            } else {
                node_ports.insert(np, who.clone());
            }
        }
        if let (Some(np), Some(pos)) = (raw.service.health_check_node_port, raw.health_check_pos) {
            if !(NODE_PORT_MIN..=NODE_PORT_MAX).contains(&np) {
                cx.error(
                    &raw.obj,
                    pos,
                    "spec.healthCheckNodePort",
                    format!(
                        "Invalid value: {np}: provided port is not in the valid range. The range of valid ports is {NODE_PORT_MIN}-{NODE_PORT_MAX}"
                    ),
                );
            } else if let Some(other) = node_ports.get(&np) {
                cx.error(
                    &raw.obj,
                    pos,
                    "spec.healthCheckNodePort",
                    format!("Invalid value: {np}: provided port is already allocated (to Service {other})"),
                );
            } else {
                node_ports.insert(np, who.clone());
            }
        }
    }
    // Allocation proper. Upstream picks a random free value, first in the upper part of the range
    // and only then in the lower part, which it leaves to explicit values
    // (pkg/registry/core/service/allocator/bitmap.go, `randomScanStrategyWithOffset`); lbplay
    // replaces the random start with a hash of the Service's name, so the same scenario always
    // gets the same addresses and adding a Service does not move the others.
    let size = cidr.size();
    // The usable addresses: the network and the broadcast addresses are left out.
    let usable = size.saturating_sub(2);
    let ip_offset = range_offset(size, 16, 256, 16);
    for raw in &mut services {
        let who = raw.service.namespaced_name();
        if raw.want_ip == WantIp::Allocate && usable > 0 {
            let start = hash_u64(&["clusterip", &who]);
            let pick = scan(usable, ip_offset, start, |index| {
                let ip = cidr.nth(index + 1)?;
                match ips.entry(ip) {
                    std::collections::btree_map::Entry::Vacant(entry) => {
                        entry.insert(who.clone());
                        Some(ip)
                    }
                    std::collections::btree_map::Entry::Occupied(_) => None,
                }
            });
            match pick {
                Some(ip) => raw.service.cluster_ip = Some(ip),
                None => cx.error(
                    &raw.obj,
                    raw.obj.node.pos,
                    "spec.clusterIP",
                    format!("Internal error: failed to allocate a serviceIP: range is full ({cidr})"),
                ),
            }
        }
        if raw.allocate_node_ports {
            for i in 0..raw.service.ports.len() {
                if raw.service.ports[i].node_port.is_some() {
                    continue;
                }
                let port = &raw.service.ports[i];
                let name = format!("{}:{}/{}", who, port.port, port.protocol);
                raw.service.ports[i].node_port = pick_node_port(&mut node_ports, &name, &who);
            }
        }
        // A LoadBalancer Service with externalTrafficPolicy Local gets a health check NodePort.
        if raw.service.kind == ServiceType::LoadBalancer
            && raw.service.external_traffic_policy == TrafficPolicy::Local
            && raw.service.health_check_node_port.is_none()
        {
            raw.service.health_check_node_port = pick_node_port(&mut node_ports, &format!("{who}:healthcheck"), &who);
        }
    }
    if node_ports.len() > usize::from(NODE_PORT_MAX - NODE_PORT_MIN) + 1
        && let Some(raw) = services.last()
    {
        cx.error(&raw.obj, raw.obj.node.pos, "spec.ports", "the NodePort range 30000-32767 is exhausted");
    }
    cluster.services = services.into_iter().map(|raw| raw.service).collect();
}

/// A NodePort for `name`, upstream's way: first from the upper part of the range, whose lower
/// `min(max(16, size/32), 128)` ports (86 of the default 2768) are left to explicit values
/// (pkg/registry/core/service/portallocator/allocator.go, `calculateRangeOffset`).
fn pick_node_port(node_ports: &mut BTreeMap<u16, String>, name: &str, who: &str) -> Option<u16> {
    let span = u64::from(NODE_PORT_MAX - NODE_PORT_MIN) + 1;
    let offset = range_offset(span, 16, 128, 32);
    let start = hash_u64(&["nodeport", name]);
    scan(span, offset, start, |index| {
        let port = NODE_PORT_MIN + index as u16;
        match node_ports.entry(port) {
            std::collections::btree_map::Entry::Vacant(entry) => {
                entry.insert(who.to_string());
                Some(port)
            }
            std::collections::btree_map::Entry::Occupied(_) => None,
        }
    })
}

/// Upstream's `calculateRangeOffset`: `min(max(min, size/step), max)`, or 0 for a range of at most
/// `min` values (ipallocator/bitmap.go with 16, 256, 16 over the CIDR's size; portallocator with
/// 16, 128, 32 over the port range's size).
fn range_offset(size: u64, min: u64, max: u64, step: u64) -> u64 {
    if size <= min {
        return 0;
    }
    (size / step).clamp(min, max)
}

/// The scan of `randomScanStrategyWithOffset` (pkg/registry/core/service/allocator/bitmap.go):
/// from a start in the upper subrange `[offset, max)`, wrapping within it, then from a start in
/// the lower subrange `[0, offset)`. `claim` takes an index if it is free and says what it is.
fn scan<T>(max: u64, offset: u64, start: u64, mut claim: impl FnMut(u64) -> Option<T>) -> Option<T> {
    let upper = max.saturating_sub(offset);
    for i in 0..upper {
        if let Some(found) = claim(offset + (start % upper + i) % upper) {
            return Some(found);
        }
    }
    for i in 0..offset {
        if let Some(found) = claim((start % offset + i) % offset) {
            return Some(found);
        }
    }
    None
}

/// The EndpointSlice controller (pkg/controller/endpointslice/reconciler.go and
/// staging/src/k8s.io/endpointslice/utils.go) for Services with a selector, and the
/// EndpointSliceMirroring controller plus hand-written slices for those without one.
fn endpoint_slices(
    cx: &mut Cx,
    cluster: &mut Cluster,
    services: &[RawService<'_>],
    slices: Vec<super::objects::RawSlice<'_>>,
    flags: &PodFlags,
) {
    let terminating = |pod: &Pod| flags.contains(&(pod.namespace.clone(), pod.name.clone(), true));
    let terminal = |pod: &Pod| flags.contains(&(pod.namespace.clone(), pod.name.clone(), false));
    // Index pods by namespace and label once; a selector then looks up the pods carrying its
    // first label and checks the rest, rather than scanning every pod for every Service.
    let mut by_label: BTreeMap<(&str, &str, &str), Vec<&Pod>> = BTreeMap::new();
    for pod in &cluster.pods {
        for (k, v) in &pod.labels {
            by_label.entry((pod.namespace.as_str(), k.as_str(), v.as_str())).or_default().push(pod);
        }
    }
    let mut out: Vec<EndpointSlice> = Vec::new();
    // The work of everything downstream (slices, kube-proxy's chains and rules on every node, the
    // walk) grows with the endpoint ports: each selected pod times each port of its Service. The
    // total is bounded here, at the Service that would cross it, so that many Services selecting
    // the same many Pods are refused in milliseconds instead of building millions of rules.
    let mut endpoint_ports: usize = 0;
    for raw in services {
        let service = &raw.service;
        // ExternalName Services get no endpoints from the controller.
        if service.kind == ServiceType::ExternalName {
            continue;
        }
        let Some(selector) = &service.selector else { continue };
        let Some((first_key, first_value)) = selector.iter().next() else { continue };
        let candidates = by_label
            .get(&(service.namespace.as_str(), first_key.as_str(), first_value.as_str()))
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let matching: Vec<&Pod> = candidates
            .iter()
            .copied()
            .filter(|pod| selector.iter().all(|(k, v)| pod.labels.get(k) == Some(v)))
            .collect();
        endpoint_ports = endpoint_ports.saturating_add(matching.len().saturating_mul(service.ports.len().max(1)));
        if endpoint_ports > MAX_ENDPOINT_PORTS {
            cx.error(
                &raw.obj,
                raw.selector_pos,
                "spec.selector",
                format!(
                    "this Service selects {} pods for {} ports, which brings the scenario to {endpoint_ports} endpoint ports, over lbplay's limit of {MAX_ENDPOINT_PORTS} (each is a chain of rules on every node); select fewer pods",
                    matching.len(),
                    service.ports.len()
                ),
            );
            return;
        }
        if matching.is_empty() {
            let shown: Vec<String> = selector.iter().map(|(k, v)| format!("{k}={v}")).collect();
            cx.warn(
                &raw.obj,
                raw.selector_pos,
                "spec.selector",
                format!(
                    "selector {} matches no pods in namespace {}; the Service has no endpoints",
                    shown.join(","),
                    service.namespace
                ),
            );
        }
        // Pods are grouped by the ports they resolve to: a named targetPort may resolve to
        // different numbers on different pods, and each port set gets its own slices.
        let mut groups: Vec<(Vec<EndpointPort>, Vec<Endpoint>)> = Vec::new();
        let mut unresolved: BTreeSet<String> = BTreeSet::new();
        for pod in matching {
            // Terminal pods and pods without an address have no endpoint (utils.go,
            // ShouldPodBeInEndpoints).
            if terminal(pod) {
                continue;
            }
            let mut ports = Vec::new();
            for port in &service.ports {
                let number = match &port.target_port {
                    TargetPort::Number(n) => Some(*n),
                    TargetPort::Name(name) => pod
                        .ports
                        .iter()
                        .find(|cp| cp.name.as_deref() == Some(name.as_str()) && cp.protocol == port.protocol)
                        .map(|cp| cp.port),
                };
                match number {
                    Some(n) => ports.push(EndpointPort { name: port.name.clone(), port: n, protocol: port.protocol }),
                    None => {
                        if let TargetPort::Name(name) = &port.target_port {
                            unresolved.insert(format!("pod {} has no container port named `{name}` ({}); the controller leaves this port out for it", pod.name, port.protocol.as_str().to_ascii_uppercase()));
                        }
                    }
                }
            }
            // `ready` is true for a ready pod, or for any pod when publishNotReadyAddresses is set,
            // but never for a terminating pod unless publishNotReadyAddresses is set; `serving`
            // is the pod's readiness (utils.go, podToEndpoint).
            let is_terminating = terminating(pod);
            let ready = service.publish_not_ready_addresses || (pod.ready && !is_terminating);
            let endpoint = Endpoint {
                ip: pod.ip,
                ready,
                serving: pod.ready,
                terminating: is_terminating,
                node_name: Some(pod.node.clone()),
                pod: Some(format!("{}/{}", pod.namespace, pod.name)),
            };
            match groups.iter_mut().find(|(p, _)| *p == ports) {
                Some((_, endpoints)) => endpoints.push(endpoint),
                None => groups.push((ports, vec![endpoint])),
            }
        }
        for message in unresolved {
            let at = raw.obj.node.get("spec").and_then(|s| s.get("ports")).map(|p| p.pos).unwrap_or(raw.obj.node.pos);
            cx.warn(&raw.obj, at, "spec.ports", message);
        }
        if groups.is_empty() {
            // The controller keeps one placeholder slice with no endpoints (reconciler.go).
            groups.push((Vec::new(), Vec::new()));
        }
        for (ports, endpoints) in groups {
            let key: Vec<String> = ports
                .iter()
                .map(|p| format!("{}:{}/{}", p.name.clone().unwrap_or_default(), p.port, p.protocol))
                .collect();
            let key = key.join(",");
            let chunks: Vec<Vec<Endpoint>> = if endpoints.is_empty() {
                vec![Vec::new()]
            } else {
                endpoints.chunks(MAX_ENDPOINTS_PER_SLICE).map(<[Endpoint]>::to_vec).collect()
            };
            for (i, chunk) in chunks.into_iter().enumerate() {
                // generateName `<service>-` (staging/src/k8s.io/endpointslice/utils.go,
                // `getEndpointSlicePrefix`).
                let name =
                    generated_name(&format!("{}-", service.name), &[&service.namespaced_name(), &key, &i.to_string()]);
                out.push(EndpointSlice {
                    namespace: service.namespace.clone(),
                    name,
                    service: service.name.clone(),
                    ports: ports.clone(),
                    endpoints: chunk,
                });
            }
        }
    }
    let mut by_name: BTreeMap<(&str, &str), &RawService<'_>> = BTreeMap::new();
    for raw in services {
        by_name.insert((raw.service.namespace.as_str(), raw.service.name.as_str()), raw);
    }
    for mut raw in slices {
        let service = by_name.get(&(raw.slice.namespace.as_str(), raw.slice.service.as_str())).copied();
        match service {
            // The mirroring controller mirrors only the Endpoints of an existing Service
            // (pkg/controller/endpointslicemirroring/endpointslicemirroring_controller.go,
            // `syncEndpoints`); a hand-written slice stays, and kube-proxy ignores it.
            None => {
                let what =
                    if raw.mirrored { "these Endpoints are not mirrored" } else { "kube-proxy ignores this slice" };
                cx.warn(
                    &raw.obj,
                    raw.obj.node.pos,
                    "",
                    format!(
                        "no Service {}/{} to go with these endpoints; {what}",
                        raw.slice.namespace, raw.slice.service
                    ),
                );
                if raw.mirrored {
                    continue;
                }
            }
            Some(s) if raw.mirrored && s.service.selector.is_some() => {
                cx.warn(&raw.obj, raw.obj.node.pos, "", format!("Service {}/{} has a selector, so the controller manages its endpoints and these Endpoints are not mirrored", raw.slice.namespace, raw.slice.service));
                continue;
            }
            Some(_) => {}
        }
        if raw.mirrored {
            // Mirrored slices are named `<endpoints>-<5 characters>`
            // (pkg/controller/endpointslicemirroring/utils.go, newEndpointSlice's generateName).
            let seed = raw.slice.name.clone();
            raw.slice.name = format!("{}-{}", raw.slice.service, suffix(&[&raw.slice.namespace, &seed], 5));
        }
        out.push(raw.slice);
    }
    cluster.endpoint_slices = out;
}
