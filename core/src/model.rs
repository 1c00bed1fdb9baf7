//! The cluster model: the one input of every dataplane builder, walk and view.
//!
//! `scenario` turns YAML into a `Cluster`; everything downstream (kube-proxy's rules, the packet
//! walk, the web app's topology) reads only this. By the time a `Cluster` exists every address is
//! assigned, every Deployment is expanded into Pods and every selector Service has its
//! EndpointSlices, exactly as the Kubernetes controllers would have left them. Collections are
//! `Vec`s in a deterministic order (the order of the input, then generated objects), never hash maps.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use crate::net::{Ipv4Net, Proto};

/// A whole cluster: nodes, external clients, workloads, Services and their endpoints.
#[derive(Debug, Clone, PartialEq)]
pub struct Cluster {
    pub name: String,
    pub service_cidr: Ipv4Net,
    pub cluster_cidr: Ipv4Net,
    pub kube_proxy: KubeProxyConfig,
    pub nodes: Vec<Node>,
    pub clients: Vec<Client>,
    pub pods: Vec<Pod>,
    pub services: Vec<Service>,
    pub endpoint_slices: Vec<EndpointSlice>,
}

/// The parts of `KubeProxyConfiguration` that change what kube-proxy writes.
#[derive(Debug, Clone, PartialEq)]
pub struct KubeProxyConfig {
    pub mode: ProxyMode,
    /// `masqueradeAll`: SNAT every packet sent to a ClusterIP, not only those from outside the cluster CIDR.
    pub masquerade_all: bool,
    /// `masqueradeBit`, 14 by default, giving the mark 0x4000.
    pub masquerade_bit: u8,
    /// `ipvs.scheduler`; empty means kube-proxy's default, `rr`.
    pub ipvs_scheduler: String,
}

impl Default for KubeProxyConfig {
    fn default() -> KubeProxyConfig {
        KubeProxyConfig {
            mode: ProxyMode::Iptables,
            masquerade_all: false,
            masquerade_bit: 14,
            ipvs_scheduler: String::new(),
        }
    }
}

/// kube-proxy's `--proxy-mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ProxyMode {
    Iptables,
    Ipvs,
    Nftables,
    Userspace,
}

impl ProxyMode {
    pub fn as_str(self) -> &'static str {
        match self {
            ProxyMode::Iptables => "iptables",
            ProxyMode::Ipvs => "ipvs",
            ProxyMode::Nftables => "nftables",
            ProxyMode::Userspace => "userspace",
        }
    }

    pub fn parse(text: &str) -> Option<ProxyMode> {
        match text {
            "iptables" | "" => Some(ProxyMode::Iptables),
            "ipvs" => Some(ProxyMode::Ipvs),
            "nftables" => Some(ProxyMode::Nftables),
            "userspace" => Some(ProxyMode::Userspace),
            _ => None,
        }
    }
}

/// A cluster node: where kube-proxy runs and pods live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub name: String,
    /// The node's InternalIP, also the address NodePorts answer on.
    pub ip: Ipv4Addr,
    /// The node's slice of the cluster CIDR, from which its pods get addresses.
    pub pod_cidr: Ipv4Net,
}

/// A host outside the cluster, such as a laptop calling a NodePort.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    pub name: String,
    pub ip: Ipv4Addr,
}

/// A Pod as the dataplane sees it: where it runs, its address, its ports and whether it is ready.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pod {
    pub namespace: String,
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub node: String,
    pub ip: Ipv4Addr,
    /// The `Ready` condition; a pod without status is taken as ready.
    pub ready: bool,
    /// `spec.hostNetwork`: the pod shares the node's address.
    pub host_network: bool,
    pub ports: Vec<ContainerPort>,
}

/// A container port, by which a Service's named `targetPort` is resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerPort {
    pub name: Option<String>,
    pub port: u16,
    pub protocol: Proto,
}

/// A `v1` Service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub namespace: String,
    pub name: String,
    pub kind: ServiceType,
    /// The ClusterIP; `None` for a headless Service (`clusterIP: None`) and for ExternalName.
    pub cluster_ip: Option<Ipv4Addr>,
    pub ports: Vec<ServicePort>,
    /// `None` when the Service has no selector (its endpoints are written by hand).
    pub selector: Option<BTreeMap<String, String>>,
    /// `sessionAffinity: ClientIP` with its timeout in seconds (10800 by default).
    pub session_affinity: Option<u32>,
    pub external_traffic_policy: TrafficPolicy,
    pub internal_traffic_policy: TrafficPolicy,
    pub external_ips: Vec<Ipv4Addr>,
    /// `status.loadBalancer.ingress[].ip` (or `spec.loadBalancerIP` when no status is given).
    pub load_balancer_ips: Vec<Ipv4Addr>,
    pub load_balancer_source_ranges: Vec<Ipv4Net>,
    pub health_check_node_port: Option<u16>,
    pub publish_not_ready_addresses: bool,
    /// `spec.externalName` for type ExternalName.
    pub external_name: Option<String>,
}

impl Service {
    /// `namespace/name`, the prefix of every service-port name.
    pub fn namespaced_name(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

/// `spec.type` of a Service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ServiceType {
    ClusterIp,
    NodePort,
    LoadBalancer,
    ExternalName,
}

impl ServiceType {
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceType::ClusterIp => "ClusterIP",
            ServiceType::NodePort => "NodePort",
            ServiceType::LoadBalancer => "LoadBalancer",
            ServiceType::ExternalName => "ExternalName",
        }
    }
}

/// `externalTrafficPolicy` or `internalTrafficPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum TrafficPolicy {
    #[default]
    Cluster,
    Local,
}

/// One entry of a Service's `spec.ports`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServicePort {
    pub name: Option<String>,
    pub protocol: Proto,
    pub port: u16,
    pub target_port: TargetPort,
    pub node_port: Option<u16>,
}

/// A Service port's `targetPort`: a number, or the name of a container port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetPort {
    Number(u16),
    Name(String),
}

/// A `discovery.k8s.io/v1` EndpointSlice, written by the controller or by hand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointSlice {
    pub namespace: String,
    pub name: String,
    /// The `kubernetes.io/service-name` label: the Service this slice belongs to.
    pub service: String,
    pub ports: Vec<EndpointPort>,
    pub endpoints: Vec<Endpoint>,
}

/// A port of an EndpointSlice; `name` matches the Service port's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointPort {
    pub name: Option<String>,
    pub port: u16,
    pub protocol: Proto,
}

/// One endpoint of a slice, with its conditions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub ip: Ipv4Addr,
    pub ready: bool,
    pub serving: bool,
    pub terminating: bool,
    pub node_name: Option<String>,
    /// `targetRef` when it names a Pod: `namespace/name`.
    pub pod: Option<String>,
}

/// One usable endpoint of one service port, as kube-proxy's endpoints cache hands it to a proxier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceEndpoint {
    pub ip: Ipv4Addr,
    pub port: u16,
    pub ready: bool,
    pub serving: bool,
    pub terminating: bool,
    pub node_name: Option<String>,
    pub pod: Option<String>,
}

impl ServiceEndpoint {
    /// `ip:port`, as Go's `net.JoinHostPort` writes it; kube-proxy sorts and hashes by this string.
    pub fn endpoint_string(&self) -> String {
        format!("{}:{}", self.ip, self.port)
    }
}

impl Cluster {
    pub fn node(&self, name: &str) -> Option<&Node> {
        self.nodes.iter().find(|node| node.name == name)
    }

    pub fn pod(&self, name: &str) -> Option<&Pod> {
        self.pods.iter().find(|pod| pod.name == name || format!("{}/{}", pod.namespace, pod.name) == name)
    }

    pub fn client(&self, name: &str) -> Option<&Client> {
        self.clients.iter().find(|client| client.name == name)
    }

    /// The node whose pod CIDR holds `ip`, or whose own address it is.
    pub fn node_for_ip(&self, ip: Ipv4Addr) -> Option<&Node> {
        self.nodes
            .iter()
            .find(|node| node.ip == ip)
            .or_else(|| self.nodes.iter().find(|node| node.pod_cidr.contains(ip)))
    }

    /// The pod with this address (host-network pods excluded: they share their node's).
    pub fn pod_by_ip(&self, ip: Ipv4Addr) -> Option<&Pod> {
        self.pods.iter().find(|pod| pod.ip == ip && !pod.host_network)
    }

    /// The endpoints of one service port, merged over all of the Service's slices and sorted by
    /// their `ip:port` string as kube-proxy's endpoint-slice cache does
    /// (pkg/proxy/endpointslicecache.go, `endpointsMapFromEndpointInfo`: sort.Sort(byEndpoint)).
    pub fn endpoints_for(&self, service: &Service, port: &ServicePort) -> Vec<ServiceEndpoint> {
        let mut out: Vec<ServiceEndpoint> = Vec::new();
        for slice in &self.endpoint_slices {
            if slice.namespace != service.namespace || slice.service != service.name {
                continue;
            }
            let Some(slice_port) =
                slice.ports.iter().find(|candidate| candidate.name == port.name && candidate.protocol == port.protocol)
            else {
                continue;
            };
            for endpoint in &slice.endpoints {
                let candidate = ServiceEndpoint {
                    ip: endpoint.ip,
                    port: slice_port.port,
                    ready: endpoint.ready,
                    serving: endpoint.serving,
                    terminating: endpoint.terminating,
                    node_name: endpoint.node_name.clone(),
                    pod: endpoint.pod.clone(),
                };
                if !out.iter().any(|seen| seen.ip == candidate.ip && seen.port == candidate.port) {
                    out.push(candidate);
                }
            }
        }
        out.sort_by_key(|endpoint| endpoint.endpoint_string());
        out
    }
}
