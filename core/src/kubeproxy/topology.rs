//! What a proxier knows of a service port, and which endpoints each traffic policy may use.
//!
//! `ServicePortInfo` is kube-proxy's `BaseServicePortInfo` (pkg/proxy/serviceport.go), built from
//! the model; `categorize` is `CategorizeEndpoints` (pkg/proxy/topology.go, v1.28–v1.33) without
//! topology hints, which lbplay does not model.

use std::net::Ipv4Addr;

use crate::model::{Cluster, ServiceEndpoint, ServiceType, TrafficPolicy};
use crate::net::{Ipv4Net, Proto};

/// One port of one Service, as every proxier sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServicePortInfo {
    /// `namespace/name:port` (or `namespace/name` for an unnamed port): kube-proxy's `ServicePortName`.
    pub name: String,
    pub namespace: String,
    pub service: String,
    pub proto: Proto,
    pub cluster_ip: Ipv4Addr,
    pub port: u16,
    pub node_port: Option<u16>,
    pub external_ips: Vec<Ipv4Addr>,
    pub load_balancer_ips: Vec<Ipv4Addr>,
    pub load_balancer_source_ranges: Vec<Ipv4Net>,
    pub health_check_node_port: Option<u16>,
    /// ClientIP affinity timeout in seconds.
    pub session_affinity: Option<u32>,
    pub internal_policy_local: bool,
    /// Only true for an externally accessible service (serviceport.go: `externalPolicyLocal` is set
    /// only when `apiservice.ExternallyAccessible`).
    pub external_policy_local: bool,
    /// All endpoints, sorted by `ip:port` as the endpoints cache sorts them.
    pub endpoints: Vec<ServiceEndpoint>,
}

impl ServicePortInfo {
    /// serviceport.go, `ExternallyAccessible`: a NodePort, an LB IP or an external IP.
    pub fn externally_accessible(&self) -> bool {
        self.node_port.is_some() || !self.load_balancer_ips.is_empty() || !self.external_ips.is_empty()
    }

    /// serviceport.go, `UsesClusterEndpoints`: internal policy Cluster, or any external access
    /// (even with eTP=Local, pods and the node are short-circuited to the Cluster chain).
    pub fn uses_cluster_endpoints(&self) -> bool {
        !self.internal_policy_local || self.externally_accessible()
    }

    /// serviceport.go, `UsesLocalEndpoints`.
    pub fn uses_local_endpoints(&self) -> bool {
        self.internal_policy_local || (self.external_policy_local && self.externally_accessible())
    }
}

/// Every service port kube-proxy programs, sorted by name. Headless and ExternalName Services
/// are skipped (pkg/proxy/util `ShouldSkipService`).
pub fn service_ports(cluster: &Cluster) -> Vec<ServicePortInfo> {
    let mut out = Vec::new();
    let slices = cluster.slices_by_service();
    let no_slices = Vec::new();
    for service in &cluster.services {
        let service_slices = slices.get(&(service.namespace.as_str(), service.name.as_str())).unwrap_or(&no_slices);
        if service.kind == ServiceType::ExternalName {
            continue;
        }
        let Some(cluster_ip) = service.cluster_ip else { continue };
        let lb = service.kind == ServiceType::LoadBalancer;
        for port in &service.ports {
            let name = match &port.name {
                Some(port_name) if !port_name.is_empty() => format!("{}:{}", service.namespaced_name(), port_name),
                _ => service.namespaced_name(),
            };
            let node_port = match service.kind {
                ServiceType::NodePort | ServiceType::LoadBalancer => port.node_port,
                _ => None,
            };
            let mut info = ServicePortInfo {
                name,
                namespace: service.namespace.clone(),
                service: service.name.clone(),
                proto: port.protocol,
                cluster_ip,
                port: port.port,
                node_port,
                external_ips: service.external_ips.clone(),
                load_balancer_ips: if lb { service.load_balancer_ips.clone() } else { Vec::new() },
                load_balancer_source_ranges: if lb { service.load_balancer_source_ranges.clone() } else { Vec::new() },
                health_check_node_port: if lb { service.health_check_node_port } else { None },
                session_affinity: service.session_affinity,
                internal_policy_local: service.internal_traffic_policy == TrafficPolicy::Local,
                external_policy_local: false,
                endpoints: crate::model::merge_endpoints(service_slices, port),
            };
            info.external_policy_local =
                info.externally_accessible() && service.external_traffic_policy == TrafficPolicy::Local;
            out.push(info);
        }
    }
    crate::sort::sort_by(&mut out, |a, b| {
        a.name.cmp(&b.name).then(a.proto.cmp(&b.proto)).then(a.cluster_ip.cmp(&b.cluster_ip))
    });
    out
}

/// The endpoints each policy chain uses on one node.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Categories {
    pub cluster: Vec<ServiceEndpoint>,
    pub local: Vec<ServiceEndpoint>,
    /// Those that get a KUBE-SEP chain: the union of the two.
    pub all_reachable: Vec<ServiceEndpoint>,
    /// Whether the service has any usable endpoint anywhere.
    pub has_any: bool,
}

/// topology.go, `CategorizeEndpoints`: ready endpoints, falling back to serving-and-terminating
/// ones when a policy would otherwise have none.
pub fn categorize(info: &ServicePortInfo, node: &str) -> Categories {
    let mut out = Categories::default();
    let is_local = |endpoint: &ServiceEndpoint| endpoint.node_name.as_deref() == Some(node);
    let pick = |keep: &dyn Fn(&ServiceEndpoint) -> bool| -> Vec<ServiceEndpoint> {
        info.endpoints.iter().filter(|endpoint| keep(endpoint)).cloned().collect()
    };
    if info.uses_cluster_endpoints() {
        out.cluster = pick(&|endpoint| endpoint.ready);
        if out.cluster.is_empty() {
            out.cluster = pick(&|endpoint| endpoint.serving && endpoint.terminating);
        }
        out.has_any = !out.cluster.is_empty();
    }
    if !info.uses_local_endpoints() {
        out.all_reachable = out.cluster.clone();
        return out;
    }
    let mut local_ready = false;
    let mut local_serving_terminating = false;
    for endpoint in &info.endpoints {
        if endpoint.ready {
            out.has_any = true;
            local_ready |= is_local(endpoint);
        } else if endpoint.serving && endpoint.terminating {
            out.has_any = true;
            local_serving_terminating |= is_local(endpoint);
        }
    }
    if local_ready {
        out.local = pick(&|endpoint| is_local(endpoint) && endpoint.ready);
    } else if local_serving_terminating {
        out.local = pick(&|endpoint| is_local(endpoint) && endpoint.serving && endpoint.terminating);
    }
    if !info.uses_cluster_endpoints() {
        out.all_reachable = out.local.clone();
        return out;
    }
    out.all_reachable = out.cluster.clone();
    for endpoint in &out.local {
        if !out.all_reachable.contains(endpoint) {
            out.all_reachable.push(endpoint.clone());
        }
    }
    out
}
