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
    /// The ingress-nginx controller that serves the scenario's Ingresses, when it has any.
    pub ingress: Option<IngressController>,
    /// The Istio mesh: injected pods and their tables, VirtualServices and DestinationRules.
    pub mesh: Option<std::sync::Arc<crate::mesh::Mesh>>,
}

/// The ingress-nginx controller as the walk meets it: the pods its Service selects and the
/// Ingresses it takes. lbplay installs it as the Helm chart does when a scenario has Ingresses
/// and no controller of its own (`scenario::ingress_nginx`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct IngressController {
    /// The controller's Service (`ingress-nginx/ingress-nginx-controller`).
    pub namespace: String,
    pub service: String,
    /// The labels that make a pod a controller pod (the Service's selector).
    pub selector: BTreeMap<String, String>,
    /// The ConfigMap's `load-balance`: the Lua balancer every upstream uses.
    pub load_balance: IngressBalance,
    /// Whether lbplay installed it (rather than the scenario).
    pub installed: bool,
    /// The Ingresses it takes, in input order.
    pub ingresses: Vec<Ingress>,
}

/// ingress-nginx's `load-balance` setting (docs/user-guide/nginx-configuration/configmap.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IngressBalance {
    #[default]
    RoundRobin,
    Ewma,
}

impl IngressBalance {
    pub fn as_str(self) -> &'static str {
        match self {
            IngressBalance::RoundRobin => "round_robin",
            IngressBalance::Ewma => "ewma",
        }
    }
}

impl Default for Cluster {
    /// The cluster used when a scenario has no `Cluster` object: three nodes, one external client.
    fn default() -> Cluster {
        let net =
            |text: &str| -> Ipv4Net { text.parse().unwrap_or(Ipv4Net { addr: Ipv4Addr::UNSPECIFIED, prefix: 0 }) };
        Cluster {
            name: "default".to_string(),
            service_cidr: net("10.96.0.0/12"),
            cluster_cidr: net("10.244.0.0/16"),
            kube_proxy: KubeProxyConfig::default(),
            nodes: (1..=3u8)
                .map(|n| Node {
                    name: format!("node-{n}"),
                    ip: Ipv4Addr::new(192, 168, 1, 9 + n),
                    pod_cidr: Ipv4Net { addr: Ipv4Addr::new(10, 244, n, 0), prefix: 24 },
                })
                .collect(),
            clients: vec![Client { name: "laptop".to_string(), ip: Ipv4Addr::new(192, 168, 1, 50) }],
            pods: Vec::new(),
            services: Vec::new(),
            endpoint_slices: Vec::new(),
            ingress: None,
            mesh: None,
        }
    }
}

/// What a scenario holds beyond the L4 cluster: Ingresses, Istio routing and the DNS view.
///
/// Kept apart from `Cluster` so that code building a `Cluster` literal keeps compiling; it may
/// move into `Cluster` once every such literal ends in `..Cluster::default()`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ClusterExtras {
    /// Ingresses, all converted to `networking.k8s.io/v1`'s shape, in input order.
    pub ingresses: Vec<Ingress>,
    /// IngressClasses: those written in the scenario, and `nginx` (default) when none is.
    pub ingress_classes: Vec<IngressClass>,
    /// Istio `VirtualService`s, parsed and validated, used by the L7 chapters.
    pub virtual_services: Vec<VirtualService>,
    /// Istio `DestinationRule`s, parsed and validated, used by the L7 chapters.
    pub destination_rules: Vec<DestinationRule>,
    /// The cluster DNS view (CoreDNS's `kubernetes` plugin): Service A records, one A record per
    /// ready pod of a headless Service, CNAMEs for ExternalName Services. Sorted by name, then data.
    pub dns: Vec<DnsRecord>,
    /// Namespace labels by namespace name, from the scenario's `v1` Namespace objects (Istio's
    /// injection webhooks select on them).
    pub namespace_labels: BTreeMap<String, BTreeMap<String, String>>,
    /// Pod annotations by `namespace/name` (a workload's pods share their template's), for the
    /// Istio sidecar's traffic annotations. Pods without annotations are absent.
    pub pod_annotations: BTreeMap<String, BTreeMap<String, String>>,
}

impl ClusterExtras {
    /// The DNS records answering `name` (A records, or the CNAME of an ExternalName Service).
    pub fn resolve(&self, name: &str) -> Vec<&DnsRecord> {
        let name = name.trim_end_matches('.');
        self.dns.iter().filter(|record| record.name == name).collect()
    }
}

/// A `networking.k8s.io/v1` Ingress (older versions are converted to this shape when loaded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ingress {
    pub namespace: String,
    pub name: String,
    /// `spec.ingressClassName`, after the DefaultIngressClass admission plugin filled it in for
    /// an Ingress that names no class at all.
    pub class_name: Option<String>,
    /// The older `kubernetes.io/ingress.class` annotation, which controllers still honour.
    pub class_annotation: Option<String>,
    /// `spec.defaultBackend` (`spec.backend` before v1).
    pub default_backend: Option<IngressBackend>,
    pub rules: Vec<IngressRule>,
    pub tls: Vec<IngressTls>,
    /// `metadata.creationTimestamp` in seconds since the Unix epoch; `None` when the manifest has
    /// none, which lbplay reads as "created together with the rest of the scenario".
    pub created: Option<i64>,
    /// The ingress-nginx annotations that change routing or balancing.
    pub annotations: NginxAnnotations,
}

/// One `spec.tls[]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IngressTls {
    pub hosts: Vec<String>,
    pub secret_name: Option<String>,
}

/// The `nginx.ingress.kubernetes.io/*` annotations lbplay models, parsed as ingress-nginx parses
/// them (internal/ingress/annotations/parser, controller v1.15.1): a boolean is Go's
/// `strconv.ParseBool`, and a value that does not parse is ignored in favour of the default.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NginxAnnotations {
    /// `use-regex`: every path of the Ingress's hosts becomes a case-insensitive regex location.
    pub use_regex: bool,
    /// `rewrite-target`: also turns the host's locations into regex locations.
    pub rewrite_target: Option<String>,
    /// `load-balance`: `round_robin` (the default) or `ewma`.
    pub load_balance: Option<String>,
    /// `affinity`: `cookie` turns on sticky sessions.
    pub affinity: Option<String>,
    /// `session-cookie-name` (default `INGRESSCOOKIE`).
    pub session_cookie_name: Option<String>,
    /// `ssl-redirect` (default true): a plain-HTTP request for a TLS host is redirected.
    pub ssl_redirect: Option<bool>,
    /// `force-ssl-redirect` (default false): redirect even without a certificate.
    pub force_ssl_redirect: Option<bool>,
}

/// A `networking.k8s.io/v1` IngressClass: the controller that implements it and whether it is
/// the cluster's default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngressClass {
    pub name: String,
    /// `spec.controller`, such as `k8s.io/ingress-nginx`.
    pub controller: String,
    /// The annotation `ingressclass.kubernetes.io/is-default-class: "true"`.
    pub is_default: bool,
    /// `metadata.creationTimestamp` in seconds since the Unix epoch, when written.
    pub created: Option<i64>,
}

/// One `spec.rules[]` entry: an optional host and its HTTP paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngressRule {
    /// `None` matches every host.
    pub host: Option<String>,
    pub paths: Vec<IngressPath>,
}

/// One `http.paths[]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngressPath {
    /// The path; `/` when omitted, as ingress controllers treat an empty path.
    pub path: String,
    pub path_type: PathType,
    pub backend: IngressBackend,
}

/// `pathType`; converted v1beta1 paths, which had none, get `ImplementationSpecific`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PathType {
    Exact,
    Prefix,
    ImplementationSpecific,
}

impl PathType {
    pub fn as_str(self) -> &'static str {
        match self {
            PathType::Exact => "Exact",
            PathType::Prefix => "Prefix",
            PathType::ImplementationSpecific => "ImplementationSpecific",
        }
    }
}

/// An Ingress backend: a Service in the Ingress's namespace and one of its ports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngressBackend {
    pub service: String,
    pub port: IngressPort,
}

/// `service.port.number` or `service.port.name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IngressPort {
    Number(u16),
    Name(String),
}

impl std::fmt::Display for IngressPort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IngressPort::Number(n) => write!(f, "{n}"),
            IngressPort::Name(name) => f.write_str(name),
        }
    }
}

/// An Istio `VirtualService`, kept to the fields that route HTTP and TCP traffic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VirtualService {
    pub namespace: String,
    pub name: String,
    pub hosts: Vec<String>,
    pub gateways: Vec<String>,
    pub http: Vec<HttpRoute>,
}

/// One `http[]` route of a VirtualService.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRoute {
    pub name: Option<String>,
    /// `match[]`, each a conjunction of conditions; empty matches everything.
    pub matches: Vec<HttpMatch>,
    pub route: Vec<RouteDestination>,
    /// `timeout` as written, such as `5s`.
    pub timeout: Option<String>,
    /// `retries.attempts`.
    pub retries: Option<u32>,
    /// `retries.retryOn`, as written (Envoy's `retry_on` names, and status codes).
    pub retry_on: Option<String>,
}

/// One `match[]` entry: a URI condition and header conditions (`exact`/`prefix`/`regex`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpMatch {
    pub uri: Option<StringMatch>,
    pub headers: Vec<(String, StringMatch)>,
}

/// Istio's `StringMatch`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StringMatch {
    Exact(String),
    Prefix(String),
    Regex(String),
}

/// One weighted destination of a route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteDestination {
    pub host: String,
    pub subset: Option<String>,
    pub port: Option<u16>,
    /// `weight`, 0 when omitted (Istio then treats a single destination as 100).
    pub weight: u32,
}

/// An Istio `DestinationRule`: a load-balancing policy and named subsets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DestinationRule {
    pub namespace: String,
    pub name: String,
    pub host: String,
    /// `trafficPolicy.loadBalancer`.
    pub load_balancer: Option<LoadBalancer>,
    pub subsets: Vec<Subset>,
}

/// A DestinationRule's `loadBalancer`: `simple` (`ROUND_ROBIN`, `LEAST_REQUEST`, `RANDOM`, ...)
/// or `consistentHash`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadBalancer {
    Simple(String),
    ConsistentHash(ConsistentHash),
}

impl LoadBalancer {
    /// As `lbplay check` prints it: the simple name, or `CONSISTENT_HASH`.
    pub fn name(&self) -> &str {
        match self {
            LoadBalancer::Simple(name) => name,
            LoadBalancer::ConsistentHash(_) => "CONSISTENT_HASH",
        }
    }
}

/// `consistentHash`: what the hash is of, and the table it picks from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsistentHash {
    pub key: HashKey,
    /// `maglev: {tableSize}`; otherwise a ring (`ringHash: {minimumRingSize}`, the default).
    pub maglev: Option<u64>,
    pub minimum_ring_size: Option<u64>,
}

/// The request property a consistent hash is of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HashKey {
    Header(String),
    Cookie(String),
    SourceIp,
    QueryParameter(String),
}

/// A named subset of a DestinationRule: the pods whose labels include `labels`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subset {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub load_balancer: Option<LoadBalancer>,
}

/// One DNS record, as CoreDNS's `kubernetes` plugin would answer it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct DnsRecord {
    /// The fully qualified name, such as `web.default.svc.cluster.local`.
    pub name: String,
    pub data: DnsData,
}

/// The answer of a DNS record.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum DnsData {
    A(Ipv4Addr),
    Cname(String),
}

impl std::fmt::Display for DnsRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.data {
            DnsData::A(ip) => write!(f, "{} A {}", self.name, ip),
            DnsData::Cname(target) => write!(f, "{} CNAME {}", self.name, target),
        }
    }
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
        let mut out = String::with_capacity(21);
        crate::net::push_ipv4(&mut out, self.ip);
        out.push(':');
        crate::net::push_u16(&mut out, self.port);
        out
    }
}

impl Cluster {
    pub fn node(&self, name: &str) -> Option<&Node> {
        self.nodes.iter().find(|node| node.name == name)
    }

    pub fn pod(&self, name: &str) -> Option<&Pod> {
        self.pods.iter().find(|pod| pod.name == name || format!("{}/{}", pod.namespace, pod.name) == name)
    }

    /// The Service `namespace/name`.
    pub fn service(&self, namespace: &str, name: &str) -> Option<&Service> {
        self.services.iter().find(|service| service.namespace == namespace && service.name == name)
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
        let slices: Vec<&EndpointSlice> = self
            .endpoint_slices
            .iter()
            .filter(|slice| slice.namespace == service.namespace && slice.service == service.name)
            .collect();
        merge_endpoints(&slices, port)
    }

    /// The EndpointSlices of every Service, keyed by `(namespace, service)`, for callers that look
    /// up many Services (a lookup per Service would be quadratic in a large cluster).
    pub fn slices_by_service(&self) -> BTreeMap<(&str, &str), Vec<&EndpointSlice>> {
        let mut out: BTreeMap<(&str, &str), Vec<&EndpointSlice>> = BTreeMap::new();
        for slice in &self.endpoint_slices {
            out.entry((slice.namespace.as_str(), slice.service.as_str())).or_default().push(slice);
        }
        out
    }
}

/// The endpoints of one service port from a Service's slices, merged and sorted by their `ip:port`
/// string as kube-proxy's endpoint-slice cache does (pkg/proxy/endpointslicecache.go,
/// `endpointsMapFromEndpointInfo`: sort.Sort(byEndpoint)).
pub fn merge_endpoints(slices: &[&EndpointSlice], port: &ServicePort) -> Vec<ServiceEndpoint> {
    let mut out: Vec<ServiceEndpoint> = Vec::new();
    for slice in slices {
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
    crate::sort::sort_by_cached_key(&mut out, |endpoint| endpoint.endpoint_string());
    out
}
