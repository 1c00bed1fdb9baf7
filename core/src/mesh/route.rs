//! What a client sidecar's Envoy decides for one HTTP request, sans-IO: the listener the
//! original destination selects, the route configuration, the virtual host, the route, the
//! cluster and its endpoints, as istiod would have configured them from the scenario.
//!
//! Sources (istio/istio@86c9f01): pilot/pkg/networking/core/httproute.go
//! (`BuildSidecarOutboundVirtualHosts`: one virtual host per Service on the port, whose domains
//! are the hostname, its short forms within the caller's namespace and the VIP, each with and
//! without `:PORT`; the `allow_any` virtual host with domain `*` sends everything else to
//! `PassthroughCluster`), pilot/pkg/networking/core/route/route.go (`BuildHTTPRoutesForVirtualService`:
//! the VirtualService's `http[]` in order, each `match[]` an OR of ANDed conditions, `prefix` a
//! plain string prefix, `regex` an RE2 full match; without a VirtualService the `default` route),
//! and pilot/pkg/networking/core/cluster_traffic_policy.go (the DestinationRule's
//! `loadBalancer`, the subset's overriding the top level's, `LEAST_REQUEST` when unset).
//! Envoy's own behaviour: a virtual host whose routes all miss answers 404 with response flag
//! `NR`; a cluster with no healthy endpoint answers 503 with `UH`
//! (source/common/router/router.cc).

use std::net::SocketAddrV4;

use super::balance::Policy;
use super::envoy::{self, PortProtocol};
use crate::http;
use crate::model::{
    Cluster, DestinationRule, HashKey, HttpMatch, LoadBalancer, RouteDestination, Service, ServicePort, StringMatch,
    VirtualService,
};

/// The cluster that forwards to the connection's original destination (`ALLOW_ANY`).
pub const PASSTHROUGH: &str = "PassthroughCluster";

/// The outbound configuration a request met, stage by stage.
#[derive(Debug, Clone, PartialEq)]
pub struct Routed {
    /// The Service the original destination belongs to, and its port.
    pub service: Option<(String, String, u16)>,
    /// `0.0.0.0_80`, or `VIP_PORT` for a sniffed port.
    pub listener: String,
    /// The route configuration's name (`80`).
    pub route_config: String,
    /// The virtual host, and the domain of it that matched the Host header.
    pub virtual_host: String,
    pub domain: String,
    /// The route: its name and the VirtualService match that selected it, as text.
    pub route: Option<Route>,
    /// The cluster the route sends to, with its endpoints and policy.
    pub cluster: Option<Upstream>,
    /// Envoy's own answer when it sends nothing upstream: the status and the response flag.
    pub local_reply: Option<LocalReply>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    /// `default`, or the VirtualService's route name (Istio names an unnamed one `NAMESPACE/NAME.INDEX`).
    pub name: String,
    /// The match as the route configuration would print it: `prefix: "/"`, `path: "/x"`, ….
    pub matched: String,
    /// The VirtualService that supplied it, `namespace/name`.
    pub virtual_service: Option<String>,
    /// The weighted destinations `cluster (weight)`, when there were several.
    pub weighted: Vec<(String, u32)>,
    /// `retries.attempts`, when the VirtualService sets it.
    pub retries: Option<u32>,
    /// `retries.retryOn`, when the VirtualService sets it.
    pub retry_on: Option<String>,
}

/// A cluster as the route chose it.
#[derive(Debug, Clone, PartialEq)]
pub struct Upstream {
    pub name: String,
    /// The Service's port's endpoints in the subset: the address and the pod, ready ones only.
    pub endpoints: Vec<(SocketAddrV4, Option<String>)>,
    pub policy: Policy,
    /// Where the policy came from, for the narration.
    pub policy_from: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalReply {
    pub status: u16,
    /// `NR`, `UH`.
    pub flag: &'static str,
    pub why: String,
}

/// The request as the route tables read it.
pub struct Request<'r> {
    pub authority: &'r str,
    pub path: &'r str,
    pub headers: &'r [http::Header],
}

/// Whether a VirtualService or DestinationRule host names `service`: its FQDN, or a short
/// name read in the object's own namespace.
pub fn names(host: &str, object_namespace: &str, service: &Service) -> bool {
    let fqdn = envoy::hostname(service);
    host == fqdn
        || (object_namespace == service.namespace
            && (host == service.name || host == format!("{}.{}", service.name, service.namespace)))
        || host == format!("{}.{}.svc", service.name, service.namespace)
}

/// The Service a host names, seen from `namespace`.
pub fn service_named<'c>(cluster: &'c Cluster, host: &str, namespace: &str) -> Option<&'c Service> {
    cluster.services.iter().find(|service| names(host, namespace, service))
}

/// The virtual host domains istiod writes for `service`'s `port` in a sidecar of `namespace`.
fn domains(service: &Service, port: u16, namespace: &str) -> Vec<String> {
    let fqdn = envoy::hostname(service);
    let mut names = vec![fqdn.clone()];
    if service.namespace == namespace {
        names.push(service.name.clone());
    }
    names.push(format!("{}.{}", service.name, service.namespace));
    names.push(format!("{}.{}.svc", service.name, service.namespace));
    if let Some(vip) = service.cluster_ip {
        names.push(vip.to_string());
    }
    let mut out = Vec::new();
    for name in names {
        out.push(format!("{name}:{port}"));
        out.push(name);
    }
    out
}

fn string_match(m: &StringMatch, value: Option<&str>) -> bool {
    let Some(value) = value else { return false };
    match m {
        StringMatch::Exact(s) => value == s,
        StringMatch::Prefix(s) => value.starts_with(s.as_str()),
        StringMatch::Regex(re) => regex_lite::Regex::new(&format!("^(?:{re})$")).is_ok_and(|re| re.is_match(value)),
    }
}

fn describe(m: &HttpMatch) -> String {
    let mut parts = Vec::new();
    match &m.uri {
        Some(StringMatch::Exact(s)) => parts.push(format!("path: \"{s}\"")),
        Some(StringMatch::Prefix(s)) => parts.push(format!("prefix: \"{s}\"")),
        Some(StringMatch::Regex(s)) => parts.push(format!("safe_regex: \"{s}\"")),
        None => parts.push("prefix: \"/\"".into()),
    }
    for (name, value) in &m.headers {
        let (kind, v) = match value {
            StringMatch::Exact(s) => ("exact", s),
            StringMatch::Prefix(s) => ("prefix", s),
            StringMatch::Regex(s) => ("regex", s),
        };
        parts.push(format!("headers: {{name: \"{name}\", {kind}: \"{v}\"}}"));
    }
    parts.join(", ")
}

fn matches(m: &HttpMatch, request: &Request<'_>) -> bool {
    let path = request.path.split('?').next().unwrap_or("");
    m.uri.as_ref().is_none_or(|uri| string_match(uri, Some(path)))
        && m.headers.iter().all(|(name, value)| {
            let got = request.headers.iter().find(|h| h.name.eq_ignore_ascii_case(name)).map(|h| h.value.as_str());
            string_match(value, got)
        })
}

/// The policy of `cluster`'s DestinationRule for `service`, and where it was set.
fn policy_for(rules: &[DestinationRule], service: &Service, subset: Option<&str>) -> (Policy, String) {
    let rule = rules.iter().find(|rule| names(&rule.host, &rule.namespace, service));
    let Some(rule) = rule else {
        return (Policy::least_request(), "no DestinationRule: Istio's default LEAST_REQUEST".into());
    };
    let from_subset = subset
        .and_then(|name| rule.subsets.iter().find(|s| s.name == name))
        .and_then(|s| s.load_balancer.as_ref().map(|lb| (lb, format!("subset {}", s.name))));
    let (written, from) = match from_subset {
        Some((lb, from)) => (Some(lb), from),
        None => (rule.load_balancer.as_ref(), "trafficPolicy".to_string()),
    };
    let from = format!("DestinationRule {}/{} {from}", rule.namespace, rule.name);
    match written {
        Some(lb) => (policy(lb), from),
        None => (Policy::least_request(), format!("{from}: no loadBalancer, Istio's default LEAST_REQUEST")),
    }
}

/// cluster_traffic_policy.go `applyLoadBalancer`: Istio's name to Envoy's `lb_policy`.
/// `PASSTHROUGH` (an ORIGINAL_DST cluster) is balanced as round robin here.
pub fn policy(lb: &LoadBalancer) -> Policy {
    match lb {
        LoadBalancer::Simple(name) => match name.as_str() {
            "ROUND_ROBIN" | "PASSTHROUGH" => Policy::RoundRobin,
            "RANDOM" => Policy::Random,
            _ => Policy::least_request(),
        },
        LoadBalancer::ConsistentHash(hash) => match hash.maglev {
            Some(table_size) => Policy::Maglev { table_size },
            None => Policy::RingHash {
                minimum_ring_size: hash.minimum_ring_size.unwrap_or(super::balance::RING_MIN_DEFAULT),
                maximum_ring_size: super::balance::RING_MAX_DEFAULT,
            },
        },
    }
}

/// The request hash a consistent-hash policy computes (http/hash_policy.cc), `None` when the
/// request lacks the key (Envoy then picks at random).
pub fn request_hash(lb: Option<&LoadBalancer>, request: &Request<'_>, source_ip: std::net::Ipv4Addr) -> Option<u64> {
    let Some(LoadBalancer::ConsistentHash(hash)) = lb else { return None };
    let header =
        |name: &str| request.headers.iter().find(|h| h.name.eq_ignore_ascii_case(name)).map(|h| h.value.as_str());
    let value = match &hash.key {
        HashKey::Header(name) => header(name).map(str::to_string),
        HashKey::SourceIp => Some(source_ip.to_string()),
        HashKey::Cookie(name) => header("cookie").and_then(|c| {
            c.split(';')
                .map(str::trim)
                .find_map(|kv| kv.strip_prefix(name.as_str())?.strip_prefix('=').map(str::to_string))
        }),
        HashKey::QueryParameter(name) => request.path.split_once('?').and_then(|(_, q)| {
            q.split('&').find_map(|kv| kv.strip_prefix(name.as_str())?.strip_prefix('=').map(str::to_string))
        }),
    }?;
    Some(super::balance::hash_key(&value))
}

/// The `loadBalancer` that applies to `service`'s `subset`: the subset's, else the top level's.
pub fn load_balancer<'m>(
    rules: &'m [DestinationRule],
    service: &Service,
    subset: Option<&str>,
) -> Option<&'m LoadBalancer> {
    let rule = rules.iter().find(|rule| names(&rule.host, &rule.namespace, service))?;
    subset
        .and_then(|name| rule.subsets.iter().find(|s| s.name == name))
        .and_then(|s| s.load_balancer.as_ref())
        .or(rule.load_balancer.as_ref())
}

/// The ready endpoints of `service`'s `port` whose pods carry `labels`.
fn endpoints(
    cluster: &Cluster,
    service: &Service,
    port: &ServicePort,
    labels: Option<&std::collections::BTreeMap<String, String>>,
) -> Vec<(SocketAddrV4, Option<String>)> {
    cluster
        .endpoints_for(service, port)
        .into_iter()
        .filter(|e| e.ready)
        .filter(|e| {
            labels.is_none_or(|labels| {
                cluster.pod_by_ip(e.ip).is_some_and(|pod| labels.iter().all(|(k, v)| pod.labels.get(k) == Some(v)))
            })
        })
        .map(|e| (SocketAddrV4::new(e.ip, e.port), e.pod.map(|p| p.rsplit('/').next().unwrap_or(&p).to_string())))
        .collect()
}

/// The outbound decision for `request` on a connection whose original destination is `dst`,
/// from a sidecar in `namespace`. `draw` is Envoy's random draw for a weighted route.
pub fn route(cluster: &Cluster, namespace: &str, dst: SocketAddrV4, request: &Request<'_>, draw: u64) -> Routed {
    let mesh = cluster.mesh.as_deref();
    let (vs, drs): (&[VirtualService], &[DestinationRule]) =
        mesh.map_or((&[], &[]), |m| (&m.virtual_services[..], &m.destination_rules[..]));
    let port = dst.port();
    let target = cluster.services.iter().find_map(|service| {
        let p = service.ports.iter().find(|p| p.port == port && service.cluster_ip == Some(*dst.ip()))?;
        Some((service, p))
    });
    let protocol = target.map(|(_, p)| envoy::port_protocol(p));
    let listener = match (target, protocol) {
        (Some((service, _)), Some(PortProtocol::Auto)) => {
            format!("{}_{port}", service.cluster_ip.map(|ip| ip.to_string()).unwrap_or_default())
        }
        _ => format!("0.0.0.0_{port}"),
    };
    let route_config = match (target, protocol) {
        (Some((service, _)), Some(PortProtocol::Auto)) => format!("{}:{port}", envoy::hostname(service)),
        _ => port.to_string(),
    };
    let mut routed = Routed {
        service: target.map(|(s, p)| (s.namespace.clone(), s.name.clone(), p.port)),
        listener,
        route_config,
        virtual_host: "allow_any".into(),
        domain: "*".into(),
        route: None,
        cluster: None,
        local_reply: None,
    };
    // The virtual host: the Service on this port whose domains hold the Host header.
    let authority = request.authority.to_ascii_lowercase();
    let vhost = cluster.services.iter().find_map(|service| {
        let p = service.ports.iter().find(|p| p.port == port)?;
        let domain = domains(service, port, namespace).into_iter().find(|d| *d == authority)?;
        Some((service, p, domain))
    });
    let Some((service, service_port, domain)) = vhost else {
        routed.route = Some(Route {
            name: "allow_any".into(),
            matched: "prefix: \"/\"".into(),
            virtual_service: None,
            weighted: Vec::new(),
            retries: None,
            retry_on: None,
        });
        routed.cluster = Some(Upstream {
            name: PASSTHROUGH.into(),
            endpoints: vec![(dst, None)],
            policy: Policy::RoundRobin,
            policy_from: "ORIGINAL_DST: the connection's own destination".into(),
        });
        return routed;
    };
    let host = envoy::hostname(service);
    routed.virtual_host = format!("{host}:{port}");
    routed.domain = domain;
    let virtual_service = vs
        .iter()
        .filter(|v| v.gateways.is_empty() || v.gateways.iter().any(|g| g == "mesh"))
        .find(|v| v.hosts.iter().any(|h| names(h, &v.namespace, service)));
    let (destination, route) = match virtual_service {
        None => (
            None,
            Route {
                name: "default".into(),
                matched: "prefix: \"/\"".into(),
                virtual_service: None,
                weighted: Vec::new(),
                retries: None,
                retry_on: None,
            },
        ),
        Some(v) => {
            let hit = v.http.iter().enumerate().find_map(|(index, http)| {
                if http.matches.is_empty() {
                    return Some((index, http, "prefix: \"/\"".to_string()));
                }
                http.matches.iter().find(|m| matches(m, request)).map(|m| (index, http, describe(m)))
            });
            let Some((index, http, matched)) = hit else {
                routed.local_reply = Some(LocalReply {
                    status: 404,
                    flag: "NR",
                    why: format!(
                        "no route of VirtualService {}/{} matches {} {}",
                        v.namespace, v.name, request.authority, request.path
                    ),
                });
                return routed;
            };
            let name = http.name.clone().unwrap_or_else(|| format!("{}/{}.{index}", v.namespace, v.name));
            let chosen = pick_weighted(&http.route, draw);
            let weighted = if http.route.len() > 1 {
                http.route.iter().map(|d| (destination_cluster(cluster, v, d, port), d.weight)).collect()
            } else {
                Vec::new()
            };
            let route = Route {
                name,
                matched,
                virtual_service: Some(format!("{}/{}", v.namespace, v.name)),
                weighted,
                retries: http.retries,
                retry_on: http.retry_on.clone(),
            };
            (chosen.map(|d| (v, d)), route)
        }
    };
    routed.route = Some(route);
    // The cluster: the destination's Service and subset.
    let (service, service_port, subset, namespace_of_rule) = match destination {
        None => (service, service_port, None, service.namespace.as_str()),
        Some((v, d)) => {
            let Some(target) = service_named(cluster, &d.host, &v.namespace) else {
                routed.local_reply = Some(LocalReply {
                    status: 503,
                    flag: "NC",
                    why: format!("the route's destination host {} is no Service of the cluster", d.host),
                });
                return routed;
            };
            let number = d.port.unwrap_or(port);
            let Some(target_port) = target.ports.iter().find(|p| p.port == number).or(target.ports.first()) else {
                return routed;
            };
            (target, target_port, d.subset.as_deref(), v.namespace.as_str())
        }
    };
    let _ = namespace_of_rule;
    let name = envoy::cluster_name("outbound", service_port.port, subset.unwrap_or(""), &envoy::hostname(service));
    let labels = subset.and_then(|subset| {
        drs.iter()
            .filter(|rule| names(&rule.host, &rule.namespace, service))
            .find_map(|rule| rule.subsets.iter().find(|s| s.name == subset))
            .map(|s| &s.labels)
    });
    if subset.is_some() && labels.is_none() {
        routed.local_reply = Some(LocalReply {
            status: 503,
            flag: "NC",
            why: format!(
                "no DestinationRule defines subset {} of {}, so istiod writes no cluster {name}",
                subset.unwrap_or(""),
                envoy::hostname(service)
            ),
        });
        return routed;
    }
    let (policy, policy_from) = policy_for(drs, service, subset);
    let endpoints = endpoints(cluster, service, service_port, labels);
    if endpoints.is_empty() {
        routed.local_reply =
            Some(LocalReply { status: 503, flag: "UH", why: format!("cluster {name} has no healthy endpoint") });
    }
    routed.cluster = Some(Upstream { name, endpoints, policy, policy_from });
    routed
}

/// Whether a route's retry policy retries a 503 answer. Istio's default policy does not: its
/// `retry_on` names `retriable-status-codes` but it sets no codes (retry.go `DefaultPolicy`;
/// earlier releases listed 503). A VirtualService's `retryOn` does when it names `5xx`,
/// `gateway-error` or the code itself (`parseRetryOn` turns numbers into `retriable_status_codes`).
pub fn retries_503(retry_on: Option<&str>) -> bool {
    retry_on.is_some_and(|on| on.split(',').map(str::trim).any(|part| matches!(part, "5xx" | "gateway-error" | "503")))
}

/// Envoy's weighted clusters (config_impl.cc `WeightedClusterEntry`): a draw modulo the total
/// weight, then the first cluster whose running sum exceeds it. A single destination takes all.
fn pick_weighted(destinations: &[RouteDestination], draw: u64) -> Option<&RouteDestination> {
    if destinations.len() <= 1 {
        return destinations.first();
    }
    let total: u64 = destinations.iter().map(|d| u64::from(d.weight)).sum();
    if total == 0 {
        return destinations.first();
    }
    let at = draw % total;
    let mut sum = 0;
    destinations.iter().find(|d| {
        sum += u64::from(d.weight);
        at < sum
    })
}

fn destination_cluster(cluster: &Cluster, v: &VirtualService, d: &RouteDestination, port: u16) -> String {
    let host = service_named(cluster, &d.host, &v.namespace).map_or_else(|| d.host.clone(), envoy::hostname);
    envoy::cluster_name("outbound", d.port.unwrap_or(port), d.subset.as_deref().unwrap_or(""), &host)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(m: StringMatch, value: &str, expect: bool) {
        assert_eq!(string_match(&m, Some(value)), expect, "{m:?} against {value}");
    }

    #[test]
    fn string_matches_as_istio_writes_them() {
        // A plain string prefix, not Ingress's element-wise one.
        check(StringMatch::Prefix("/foo".into()), "/foobar", true);
        check(StringMatch::Prefix("/foo/".into()), "/foo", false);
        check(StringMatch::Exact("/foo".into()), "/foo/", false);
        // RE2 regexes match the whole value (Envoy's safe_regex).
        check(StringMatch::Regex("/api/v[0-9]+".into()), "/api/v2", true);
        check(StringMatch::Regex("/api/v[0-9]+".into()), "/api/v2/users", false);
        check(StringMatch::Regex("zh.*".into()), "zh-CN,zh;q=0.9", true);
        assert!(!string_match(&StringMatch::Exact(String::new()), None), "a missing header matches nothing");
    }

    #[test]
    fn weighted_destinations_follow_the_draw() {
        let dest = |host: &str, weight| RouteDestination { host: host.into(), subset: None, port: None, weight };
        let split = [dest("a", 90), dest("b", 10)];
        let picked: Vec<&str> = [0, 89, 90, 99, 100, 189, 190]
            .iter()
            .map(|draw| pick_weighted(&split, *draw).map_or("-", |d| d.host.as_str()))
            .collect();
        assert_eq!(picked, ["a", "a", "b", "b", "a", "a", "b"]);
        assert_eq!(pick_weighted(&[dest("only", 0)], 5).map(|d| d.host.as_str()), Some("only"));
    }

    #[test]
    fn virtual_host_domains_name_the_service_as_a_caller_may() {
        let cluster = crate::kubeproxy::example::cluster();
        let service = &cluster.services[0];
        let from_own = domains(service, 80, &service.namespace);
        let from_other = domains(service, 80, "elsewhere");
        assert!(from_own.contains(&format!("{}:80", service.name)));
        assert!(!from_other.contains(&service.name), "a short name is read in the caller's namespace");
        assert!(from_other.contains(&format!("{}.{}.svc.cluster.local", service.name, service.namespace)));
    }
}
