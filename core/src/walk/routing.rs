//! The routing decision of a node: which addresses are its own (with IPVS mode's kube-ipvs0
//! addresses), where a pod's, a node's or a client's address leads, the default route, and the
//! route an external client's packet takes into the cluster; with the steps that narrate each.

use std::net::Ipv4Addr;

use super::{Host, Next, Pass, Sim};
use crate::packet::{Packet, Tuple};
use crate::trace::{StepKind, Text};

/// A routing decision.
pub(super) enum Route {
    /// For this host itself.
    Local,
    /// To a pod on this node, over the bridge and its veth.
    Pod(Host),
    /// To another host via the node's own interface (whose address is the second field).
    Node(Host, Ipv4Addr),
    /// By the default route, toward the gateway.
    Default(Host, Ipv4Addr),
}

impl<'a> Sim<'a> {
    /// Where an external client's packet goes: to the node it addresses, or to a node that owns
    /// the load balancer's IP (the cloud load balancer forwards to a node).
    pub(super) fn client_route(&self, tuple: Tuple) -> Next {
        let dst = *tuple.dst.ip();
        if let Some(node) = self.cluster.nodes.iter().find(|node| node.ip == dst) {
            return Next::To(Host::Node { name: node.name.clone(), ip: node.ip });
        }
        let lb: Vec<&crate::model::Service> = self
            .cluster
            .services
            .iter()
            .filter(|s| s.load_balancer_ips.contains(&dst) || s.external_ips.contains(&dst))
            .collect();
        // Under `externalTrafficPolicy: Local` the cloud load balancer sends only to nodes whose
        // health check passes: kube-proxy's health check server answers 200 on
        // healthCheckNodePort only where the Service has a ready local endpoint
        // (pkg/proxy/healthcheck/service_health.go, `ServeHTTP`).
        let healthy = |node: &crate::model::Node| {
            lb.iter().any(|service| {
                service.external_traffic_policy == crate::model::TrafficPolicy::Local
                    && service.load_balancer_ips.contains(&dst)
                    && service.ports.iter().any(|port| {
                        self.cluster
                            .endpoints_for(service, port)
                            .iter()
                            .any(|e| e.ready && e.node_name.as_deref() == Some(node.name.as_str()))
                    })
            })
        };
        let local = lb.iter().any(|s| {
            s.external_traffic_policy == crate::model::TrafficPolicy::Local && s.load_balancer_ips.contains(&dst)
        });
        let chosen = if local { self.cluster.nodes.iter().find(|node| healthy(node)) } else { None };
        if !lb.is_empty()
            && let Some(node) = chosen.or(self.cluster.nodes.first())
        {
            return Next::To(Host::Node { name: node.name.clone(), ip: node.ip });
        }
        Next::Dropped(format!(
            "{dst} is not reachable from outside the cluster: only node addresses, external IPs and load balancer IPs are"
        ))
    }

    pub(super) fn local_addrs(&self, node: &str) -> Vec<Ipv4Addr> {
        let mut out = Vec::new();
        if let Some(node) = self.cluster.node(node) {
            out.push(node.ip);
            if let Some(gateway) = node.pod_cidr.nth(1) {
                out.push(gateway);
            }
        }
        // In IPVS mode every ClusterIP, externalIP and LB IP is bound to kube-ipvs0, so it is a
        // local address of the node (spec/kube-proxy.md §3.1).
        if let Some(state) = self.ipvs.get(node) {
            out.extend(state.dummy_addrs.iter().copied());
        }
        out
    }

    /// The routing decision for a packet, or a drop step when there is no route.
    pub(super) fn route_or_drop(&self, pass: &mut Pass) -> Result<Route, Next> {
        self.route(pass.node, *pass.flight.tuple().dst.ip()).map_err(|reason| {
            push_drop(pass, &reason);
            Next::Dropped(reason)
        })
    }

    /// Why nothing answers a packet the default route carried out of the cluster: its address is
    /// in the serviceCIDR, where addresses exist only as kube-proxy's rules, and no rule rewrote
    /// it (no Service has that address, or the Service has no such port). The network has no
    /// host with that address, so the SYN is lost and the client times out; `None` for any other
    /// destination, which the network's gateway stands in for.
    pub(super) fn nobody_has(&self, at: &Host, tuple: Tuple) -> Option<String> {
        let Host::Client { name, ip } = at else { return None };
        let dst = *tuple.dst.ip();
        if name != "gateway" || *ip != dst || !self.cluster.service_cidr.contains(dst) {
            return None;
        }
        let port = tuple.dst.port();
        let service = self.cluster.services.iter().find(|service| service.cluster_ip == Some(dst));
        let why = match service {
            Some(service) => {
                let ports: Vec<String> = service
                    .ports
                    .iter()
                    .map(|p| format!("{}/{}", p.port, p.protocol.as_str().to_ascii_uppercase()))
                    .collect();
                let ports = if ports.is_empty() { "none".to_string() } else { ports.join(", ") };
                format!(
                    "{dst} is the ClusterIP of Service {}, which has no port {port} (its ports: {ports}), so no kube-proxy rule rewrote the packet",
                    service.namespaced_name()
                )
            }
            None => format!(
                "{dst} is in the serviceCIDR {} but no Service has it, so no kube-proxy rule rewrote the packet",
                self.cluster.service_cidr
            ),
        };
        Some(format!(
            "{why}; it left by the default route, and no host anywhere has a ClusterIP as its address, so nothing answers and the connection times out"
        ))
    }

    /// The routing decision on `node` for a destination.
    pub(super) fn route(&self, node: &str, dst: Ipv4Addr) -> Result<Route, String> {
        let this = self.cluster.node(node).ok_or_else(|| format!("no node `{node}`"))?;
        if self.local_addrs(node).contains(&dst) || dst.is_loopback() {
            return Ok(Route::Local);
        }
        if this.pod_cidr.contains(dst) {
            return match self.cluster.pod_by_ip(dst) {
                Some(pod) => Ok(Route::Pod(Host::Pod { name: pod.name.clone(), node: pod.node.clone(), ip: pod.ip })),
                None => Err(format!("no pod has the address {dst} on {node}")),
            };
        }
        if let Some(other) = self.cluster.nodes.iter().find(|other| other.pod_cidr.contains(dst) || other.ip == dst) {
            return Ok(Route::Node(Host::Node { name: other.name.clone(), ip: other.ip }, this.ip));
        }
        if let Some(client) = self.cluster.clients.iter().find(|client| client.ip == dst) {
            return Ok(Route::Node(Host::Client { name: client.name.clone(), ip: client.ip }, this.ip));
        }
        // Anything else leaves by the default route, toward the network's gateway; so does a
        // ClusterIP that no rule rewrote, since it is no host's address.
        Ok(Route::Default(Host::Client { name: "gateway".to_string(), ip: dst }, this.ip))
    }

    /// The routing step: where the packet goes and why, from `before` (the packet before the
    /// TTL decrement of forwarding) to the packet as it leaves routing.
    pub(super) fn push_route(&self, pass: &mut Pass, before: &Packet, route: &Route, local_out: bool) {
        let node = pass.node;
        let tuple = pass.flight.tuple();
        let dst = tuple.dst.ip();
        let (verdict, en, zh) = match route {
            Route::Local => (
                "LOCAL".to_string(),
                format!("Routing: {dst} is an address of {node} itself, so the packet goes up to INPUT."),
                format!("路由：{dst} 是 {node} 自己的地址，数据包进入 INPUT。"),
            ),
            Route::Pod(pod) if local_out => (
                format!("→ {}", pod.label()),
                format!(
                    "Routing (reroute after OUTPUT): {dst} is in {node}'s pod CIDR; the packet goes over the bridge to {}'s veth.",
                    pod.label()
                ),
                format!(
                    "路由（OUTPUT 之后重新选路）：{dst} 属于 {node} 的 Pod 网段；数据包经网桥发往 {} 的 veth。",
                    pod.label()
                ),
            ),
            Route::Pod(pod) => (
                format!("FORWARD → {}", pod.label()),
                format!(
                    "Routing: {dst} is in {node}'s pod CIDR; the packet is forwarded over the bridge to {}'s veth, through FORWARD.",
                    pod.label()
                ),
                format!(
                    "路由：{dst} 属于 {node} 的 Pod 网段；数据包经网桥转发到 {} 的 veth，经过 FORWARD。",
                    pod.label()
                ),
            ),
            Route::Node(next, via) if local_out => (
                format!("→ {}", next.label()),
                format!(
                    "Routing (reroute after OUTPUT): {dst} is reached via {} from this node's interface {via}.",
                    next.label()
                ),
                format!("路由（OUTPUT 之后重新选路）：从本节点接口 {via} 经由 {} 到达 {dst}。", next.label()),
            ),
            Route::Default(_, via) => (
                "default route".to_string(),
                format!(
                    "Routing: no host of the cluster owns {dst}, so the packet takes the default route out of {via}{}.",
                    if local_out { "" } else { ", through FORWARD" }
                ),
                format!(
                    "路由：集群中没有主机拥有 {dst}，数据包走默认路由从 {via} 发出{}。",
                    if local_out { "" } else { "，经过 FORWARD" }
                ),
            ),
            Route::Node(next, via) => (
                format!("FORWARD → {}", next.label()),
                format!(
                    "Routing: {dst} is reached via {} (this node's interface {via}); the packet is forwarded, through FORWARD.",
                    next.label()
                ),
                format!("路由：经由 {}（本节点接口 {via}）到达 {dst}；数据包被转发，经过 FORWARD。", next.label()),
            ),
        };
        let packet = pass.flight.packet();
        let ttl_en = if before != packet {
            " The TTL drops by one (ip_decrease_ttl), so the header checksum changes too."
        } else {
            ""
        };
        let ttl_zh =
            if before != packet { "TTL 减一（ip_decrease_ttl），头部校验和随之改变。" } else { "" };
        let mut s =
            pass.step(StepKind::Routing, before, &verdict, Text::new(format!("{en}{ttl_en}"), format!("{zh}{ttl_zh}")));
        s.hook = Some("routing");
        pass.trace.steps.push(s);
    }
}

/// A drop step on the pass's node, for a packet with nowhere to go.
pub(super) fn push_drop(pass: &mut Pass, reason: &str) {
    let note = Text::new(format!("Dropped: {reason}."), format!("丢弃：{reason}。"));
    let s = pass.step(StepKind::Drop, pass.flight.packet(), "DROP", note);
    pass.trace.steps.push(s);
}

#[cfg(test)]
mod tests {
    use expect_test::{Expect, expect};

    use crate::model::ProxyMode;
    use crate::trace::StepKind;
    use crate::walk::fixture;

    fn check(id: &str, from: &str, to: &str, expect: Expect) {
        let trace = fixture::walk(id, ProxyMode::Iptables, from, to);
        expect.assert_eq(&fixture::lines(&trace, |step| step.kind == StepKind::Routing));
    }

    #[test]
    fn a_pod_on_another_node_is_forwarded() {
        check(
            "clusterip-iptables",
            "pod/client",
            "10.96.100.10:80",
            expect![[r#"
            node-1 routing FORWARD → node/node-3
            node-3 routing FORWARD → pod/web-c
            node-3 routing FORWARD → node/node-1
            node-1 routing FORWARD → pod/client
        "#]],
        );
    }

    #[test]
    fn a_pod_on_the_same_node_goes_over_the_bridge() {
        check(
            "clusterip-same-node",
            "pod/client",
            "10.96.100.10:80",
            expect![[r#"
                node-1 routing FORWARD → pod/web-a
                node-1 routing FORWARD → pod/client
            "#]],
        );
    }

    #[test]
    fn a_node_port_is_local_first() {
        check(
            "nodeport-cluster",
            "client/laptop",
            "192.168.1.11:30080",
            expect![[r#"
            node-2 routing FORWARD → node/node-1
            node-1 routing FORWARD → pod/web-a
            node-1 routing FORWARD → node/node-2
            node-2 routing FORWARD → client/laptop
        "#]],
        );
    }

    #[test]
    fn nobody_owns_an_address_outside_the_cluster() {
        check(
            "clusterip-iptables",
            "pod/client",
            "198.51.100.1:80",
            expect![[r#"
            node-1 routing default route
        "#]],
        );
    }

    #[test]
    fn a_cluster_ip_port_no_service_has_times_out_unanswered() {
        // iptables mode has no rule for port 81 of the ClusterIP: the SYN leaves by the default
        // route and is lost, rather than answered by a SYN-ACK from nowhere (issue 17).
        let trace = fixture::walk("clusterip-iptables", ProxyMode::Iptables, "pod/client", "10.96.100.10:81");
        expect![[r#"
            node-1 routing default route
            gateway drop DROP
        "#]]
        .assert_eq(&fixture::lines(&trace, |step| matches!(step.kind, StepKind::Routing | StepKind::Drop)));
        assert!(trace.steps.iter().all(|step| step.direction == crate::trace::Direction::Original));
        expect!["10.96.100.10 is the ClusterIP of Service default/web, which has no port 81 (its ports: 80/TCP), so no kube-proxy rule rewrote the packet; it left by the default route, and no host anywhere has a ClusterIP as its address, so nothing answers and the connection times out"]
            .assert_eq(trace.outcome.reason.as_deref().unwrap_or_default());
    }
}
