//! The names Istio gives the Envoy configuration a sidecar meets, as pure data.
//!
//! Outbound, a connection redirected to 15001 meets the listener `virtualOutbound`, whose
//! original-destination filter hands it to the listener for the Service port; an HTTP port's
//! listener runs the HTTP connection manager with the route configuration named by the port
//! (`80`; a sniffed port's is `HOST:PORT`), whose virtual host is `HOST:PORT`; the route's
//! destination is the cluster `outbound|PORT|SUBSET|HOST`. Inbound, 15006 is `virtualInbound` and the cluster is
//! `inbound|PORT||`. Sources (istio/istio@86c9f01): pilot/pkg/model/listener.go (listener
//! names), pilot/pkg/networking/core/gateway.go `getListenerName` and listener.go (the bind:
//! `0.0.0.0` for HTTP, the Service VIP for TCP and auto-detected ports), pilot/pkg/model/service.go
//! `BuildSubsetKey`, pilot/pkg/networking/util/util.go `DomainName`, and
//! pkg/config/kube/conversion.go `ConvertProtocol` (a port's protocol from its name). The
//! model keeps no `appProtocol`, so only the port name is read. Nothing here walks a request yet.

use crate::model::{DestinationRule, Service, ServicePort};
use crate::net::Proto;

/// The outbound capture listener (pilot/pkg/model/listener.go `VirtualOutboundListenerName`).
pub const VIRTUAL_OUTBOUND: &str = "virtualOutbound";
/// The inbound capture listener (`VirtualInboundListenerName`).
pub const VIRTUAL_INBOUND: &str = "virtualInbound";

/// A Service port's protocol as Istio reads it (pkg/config/protocol `Instance`, grouped by what
/// the listener does with it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortProtocol {
    /// `http`, `http2`, `grpc`, `grpc-web`, `http_proxy`: the HTTP connection manager.
    Http,
    /// `tcp`, `tls`, `https`, `mongo`, `redis`, `mysql`, or a well-known port (25, 53, 3306,
    /// 27017) without a name Istio knows: a TCP proxy.
    Tcp,
    Udp,
    /// Any other name: protocol sniffing decides per connection (HTTP or TCP filter chain).
    Auto,
}

/// conversion.go `ConvertProtocol` for a port without `appProtocol`.
pub fn port_protocol(port: &ServicePort) -> PortProtocol {
    if port.protocol == Proto::Udp {
        return PortProtocol::Udp;
    }
    let name = port.name.as_deref().unwrap_or("").to_ascii_lowercase();
    if name.starts_with("grpc-web") {
        return PortProtocol::Http;
    }
    let prefix = name.split('-').next().unwrap_or("");
    match prefix {
        "http" | "http2" | "grpc" | "http_proxy" => PortProtocol::Http,
        "tcp" | "tls" | "https" | "mongo" | "redis" | "mysql" => PortProtocol::Tcp,
        "udp" => PortProtocol::Udp,
        _ if matches!(port.port, 25 | 53 | 3306 | 27017) => PortProtocol::Tcp,
        _ => PortProtocol::Auto,
    }
}

/// A Service's hostname in the mesh.
pub fn hostname(service: &Service) -> String {
    format!("{}.{}.svc.cluster.local", service.name, service.namespace)
}

/// service.go `BuildSubsetKey`: `DIRECTION|PORT|SUBSET|HOST`.
pub fn cluster_name(direction: &str, port: u16, subset: &str, host: &str) -> String {
    format!("{direction}|{port}|{subset}|{host}")
}

/// One piece of Envoy configuration a connection meets, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hop {
    /// `listener`, `filter chain`, `route configuration`, `virtual host` or `cluster`.
    pub kind: &'static str,
    pub name: String,
}

fn hop(kind: &'static str, name: impl Into<String>) -> Hop {
    Hop { kind, name: name.into() }
}

/// The outbound hops of a connection to `service`'s `port`, to `subset` when a route names one.
/// `None` for a headless Service (no VIP to name the listener after) and for UDP, which the
/// sidecar does not capture.
pub fn outbound(service: &Service, port: &ServicePort, subset: Option<&str>) -> Option<Vec<Hop>> {
    let protocol = port_protocol(port);
    let host = hostname(service);
    let cluster = cluster_name("outbound", port.port, subset.unwrap_or(""), &host);
    let mut hops = vec![hop("listener", VIRTUAL_OUTBOUND)];
    match protocol {
        PortProtocol::Udp => return None,
        PortProtocol::Http => hops.push(hop("listener", format!("0.0.0.0_{}", port.port))),
        PortProtocol::Tcp | PortProtocol::Auto => {
            let vip = service.cluster_ip?;
            hops.push(hop("listener", format!("{vip}_{}", port.port)));
        }
    }
    match protocol {
        PortProtocol::Tcp => hops.push(hop("filter chain", "tcp_proxy")),
        _ => {
            hops.push(hop("filter chain", "http_connection_manager"));
            // listener.go `buildSidecarOutboundHTTPListenerOpts`: a sniffed port on its VIP has
            // a route configuration of its own, `HOST:PORT`; an HTTP port shares `PORT`.
            let route =
                if protocol == PortProtocol::Auto { format!("{host}:{}", port.port) } else { port.port.to_string() };
            hops.push(hop("route configuration", route));
            hops.push(hop("virtual host", format!("{host}:{}", port.port)));
        }
    }
    hops.push(hop("cluster", cluster));
    Some(hops)
}

/// The inbound hops on the server pod for a connection to the container port `target_port`.
pub fn inbound(target_port: u16) -> Vec<Hop> {
    vec![hop("listener", VIRTUAL_INBOUND), hop("cluster", cluster_name("inbound", target_port, "", ""))]
}

/// The outbound clusters a sidecar has for one Service port, as `istioctl proxy-config cluster`
/// lists them: the plain one, then one per subset of the DestinationRules for the host.
pub fn clusters(service: &Service, port: &ServicePort, rules: &[DestinationRule]) -> Vec<String> {
    let host = hostname(service);
    let short = [service.name.clone(), format!("{}.{}", service.name, service.namespace), host.clone()];
    let mut out = vec![cluster_name("outbound", port.port, "", &host)];
    for rule in rules {
        // A short host in a DestinationRule is read in the rule's own namespace.
        let names_it = rule.host == host || (rule.namespace == service.namespace && short.contains(&rule.host));
        if names_it {
            for subset in &rule.subsets {
                out.push(cluster_name("outbound", port.port, &subset.name, &host));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ServiceType, Subset, TargetPort, TrafficPolicy};
    use std::collections::BTreeMap;
    use std::net::Ipv4Addr;

    fn service() -> Service {
        Service {
            namespace: "default".into(),
            name: "web".into(),
            kind: ServiceType::ClusterIp,
            cluster_ip: Some(Ipv4Addr::new(10, 96, 0, 10)),
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
        }
    }

    fn port(name: Option<&str>, number: u16) -> ServicePort {
        ServicePort {
            name: name.map(str::to_string),
            protocol: Proto::Tcp,
            port: number,
            target_port: TargetPort::Number(8080),
            node_port: None,
        }
    }

    fn check(name: Option<&str>, number: u16, subset: Option<&str>, expect: &[&str]) {
        let got: Vec<String> = outbound(&service(), &port(name, number), subset)
            .unwrap_or_default()
            .iter()
            .map(|hop| format!("{}: {}", hop.kind, hop.name))
            .collect();
        assert_eq!(got, expect);
    }

    #[test]
    fn outbound_names_follow_the_port_protocol() {
        check(
            Some("http"),
            80,
            Some("v1"),
            &[
                "listener: virtualOutbound",
                "listener: 0.0.0.0_80",
                "filter chain: http_connection_manager",
                "route configuration: 80",
                "virtual host: web.default.svc.cluster.local:80",
                "cluster: outbound|80|v1|web.default.svc.cluster.local",
            ],
        );
        check(
            Some("grpc-api"),
            9000,
            None,
            &[
                "listener: virtualOutbound",
                "listener: 0.0.0.0_9000",
                "filter chain: http_connection_manager",
                "route configuration: 9000",
                "virtual host: web.default.svc.cluster.local:9000",
                "cluster: outbound|9000||web.default.svc.cluster.local",
            ],
        );
        check(
            Some("tcp-db"),
            5432,
            None,
            &[
                "listener: virtualOutbound",
                "listener: 10.96.0.10_5432",
                "filter chain: tcp_proxy",
                "cluster: outbound|5432||web.default.svc.cluster.local",
            ],
        );
        // An unnamed port is sniffed: the VIP's listener, with an HTTP chain and its own routes.
        check(
            None,
            80,
            None,
            &[
                "listener: virtualOutbound",
                "listener: 10.96.0.10_80",
                "filter chain: http_connection_manager",
                "route configuration: web.default.svc.cluster.local:80",
                "virtual host: web.default.svc.cluster.local:80",
                "cluster: outbound|80||web.default.svc.cluster.local",
            ],
        );
        // MySQL's well-known port without a known name is TCP.
        check(
            Some("db"),
            3306,
            None,
            &[
                "listener: virtualOutbound",
                "listener: 10.96.0.10_3306",
                "filter chain: tcp_proxy",
                "cluster: outbound|3306||web.default.svc.cluster.local",
            ],
        );
    }

    #[test]
    fn inbound_and_subset_clusters() {
        let names: Vec<String> = inbound(8080).into_iter().map(|hop| hop.name).collect();
        assert_eq!(names, ["virtualInbound", "inbound|8080||"]);
        let subset = |name: &str| Subset { name: name.into(), labels: BTreeMap::new(), load_balancer: None };
        let rule = |ns: &str, host: &str| DestinationRule {
            namespace: ns.into(),
            name: "web".into(),
            host: host.into(),
            load_balancer: None,
            subsets: vec![subset("v1"), subset("v2")],
        };
        let got = clusters(&service(), &port(Some("http"), 80), &[rule("default", "web"), rule("other", "web")]);
        assert_eq!(
            got,
            [
                "outbound|80||web.default.svc.cluster.local",
                "outbound|80|v1|web.default.svc.cluster.local",
                "outbound|80|v2|web.default.svc.cluster.local",
            ]
        );
    }
}
