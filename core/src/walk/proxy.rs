//! A proxy hop: a process that accepts the client's connection and opens a second one of its own
//! to a backend (design.md: "A proxy is a hop"). The walk owns the loop, the same for every
//! proxy: **accept** (the client's connection ends on the proxy's socket, and the proxy answers
//! the handshake), **read** (what the proxy reads before it chooses), **choose** (the backend,
//! and every decision that led there), **dial** (the proxy's own connection, from its own address,
//! to each backend in turn until one answers), then relay. A `Proxy` says what each phase does
//! for one kind of proxy.
//!
//! Userspace kube-proxy (pkg/proxy/userspace/proxysocket.go, `ProxyTCP`, removed in v1.26) is
//! the first: it reads nothing (it is L4), its round robin chooses (`LoadBalancerRR`), and it
//! dials from the node, trying the next endpoint after a RST or a timeout
//! (`TryConnectEndpoints`); so the pod sees the node's address, never the client's.
//!
//! Where an L7 proxy plugs in: a new `Proxy` variant (ingress-nginx's controller pod, an Envoy
//! sidecar), found by `Sim::proxy_at`; its `read` parses the HTTP request from the accepted
//! connection (`Read` gains a request), its `choose` returns one `Decision` per stage that
//! decided (`server`, `location`, `balancer`; `listener`, `route`, `cluster`, `endpoint`), each
//! with the directive or configuration that decided, and its `dial_from` is the pod's own
//! address.

use std::net::{Ipv4Addr, SocketAddrV4};

use super::{Host, Sim, step};
use crate::kubeproxy::userspace::{DialResult, ProxyPort};
use crate::net::Proto;
use crate::packet::{Packet, TcpFlags, Tuple};
use crate::trace::{Direction, StepKind, Text, Trace};

/// A proxy that accepted a client's connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Proxy {
    /// kube-proxy in userspace mode, on `node`: its socket for one service port.
    Userspace { node: String, port: ProxyPort },
    /// An ingress-nginx controller pod, whose nginx listens on the pod's port 80. It reads the
    /// request before it chooses, so the walk runs it from the request (`ingress_hop`), not at
    /// the handshake.
    IngressNginx { pod: String },
    /// An Istio sidecar's Envoy in the injected pod `pod`: its outbound listener (15001), or its
    /// inbound one (15006). It reads the request before it chooses (`envoy_hop`).
    Envoy { pod: String, inbound: bool },
}

/// What a proxy read from the client's connection before choosing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Read {
    /// Nothing: an L4 proxy chooses as soon as it accepts.
    Nothing,
}

/// One decision a proxy took while choosing, in the order it took them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Decision {
    /// The stage that decided: `balancer` for kube-proxy's round robin; `server`, `location`,
    /// `balancer` for ingress-nginx; `listener`, `route`, `cluster`, `endpoint` for Envoy.
    pub(crate) stage: &'static str,
    /// The rule that decided, as its configuration spells it (an nginx directive, Envoy
    /// configuration); `None` when the decision follows no written rule.
    pub(crate) rule: Option<String>,
    /// The step's verdict.
    pub(crate) verdict: String,
    pub(crate) note: Text,
}

/// What a proxy chose: the decisions that led there and the dials to try, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Choice {
    /// Recorded as proxy steps before any dial.
    pub(crate) decisions: Vec<Decision>,
    /// The backends to dial, one after another until one connects; empty when there is none.
    pub(crate) dials: Vec<Dial>,
    /// Why the client's connection ends without a backend: when there is nothing to dial, and
    /// when every dial failed.
    pub(crate) no_backend: String,
    pub(crate) all_failed: String,
}

/// One dial the proxy makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Dial {
    pub(crate) backend: SocketAddrV4,
    /// The dial step's note.
    pub(crate) note: Text,
    /// How the backend answers the SYN (from the scenario).
    pub(crate) answer: DialResult,
    /// How long the proxy waits before it gives up on a silent backend.
    pub(crate) timeout_ms: u64,
}

/// A proxy hop that connected: the two connections it relays between.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Relay {
    pub(crate) proxy: Proxy,
    /// Where the proxy runs.
    pub(crate) host: Host,
    /// The client's connection as the proxy's socket received it.
    pub(crate) accepted: Tuple,
    /// The proxy's own connection, as it sent its first packet (its address and port, the backend).
    pub(crate) dialed: Tuple,
    /// The backend that answered, and the proxy's connection as it arrived there.
    pub(crate) pod: Host,
    pub(crate) at_pod: Tuple,
    /// The proxy's connection's number in the trace's `connection` (1 for the first dial, one
    /// more for each retry).
    pub(crate) connection: u8,
}

impl Sim<'_> {
    /// An L7 proxy's rewritten request on its way to the backend: `sent`, the packet of the
    /// `REQUEST →` step just pushed, leaves `proxy` over the proxy's own connection `connection`
    /// and must reach `pod`. The steps of that leg are numbered and carry `proxied`. Returns the
    /// packet as it arrived, or `None` when it was dropped or reached another host (then the
    /// outcome says so). ingress-nginx and Envoy both send their requests on through this.
    pub(super) fn send_proxied(
        &mut self,
        trace: &mut Trace,
        proxy: &Host,
        sent: Packet,
        proxied: &crate::http::Request,
        pod: &Host,
        connection: u8,
    ) -> Option<Packet> {
        let start = trace.steps.len().saturating_sub(1);
        let walked = self.walk(trace, proxy.clone(), sent, Direction::Original);
        let Some((at, arrived)) = walked else {
            mark_connection(trace, start, connection);
            return None;
        };
        self.mark_request(trace, start + 1, proxied);
        mark_connection(trace, start, connection);
        if at != *pod {
            trace.outcome.dropped = true;
            trace.outcome.reason =
                Some(format!("the proxied request reached {} instead of {}", at.label(), pod.label()));
            return None;
        }
        Some(arrived)
    }
}

/// Numbers the steps from `start` on that have no connection yet as `connection`.
pub(super) fn mark_connection(trace: &mut Trace, start: usize, connection: u8) {
    for step in trace.steps.iter_mut().skip(start).filter(|step| step.connection.is_none()) {
        step.connection = Some(connection);
    }
}

/// The connection a proxy accepted, which every dial serves.
#[derive(Clone, Copy)]
pub(super) struct Accepted<'c> {
    pub(super) proxy: &'c Proxy,
    /// Where the proxy runs.
    pub(super) host: &'c Host,
    pub(super) client: &'c Host,
    /// The client's packet as the proxy received it.
    pub(super) received: Tuple,
    pub(super) proto: Proto,
}

impl Proxy {
    /// The host the proxy runs on, which its own connections leave from.
    pub(super) fn host(&self, sim: &Sim) -> Option<Host> {
        match self {
            Proxy::Userspace { node, .. } => {
                sim.cluster.node(node).map(|this| Host::Node { name: this.name.clone(), ip: this.ip })
            }
            Proxy::IngressNginx { pod } | Proxy::Envoy { pod, .. } => {
                super::resolve_host(sim.cluster, &format!("pod/{pod}")).ok()
            }
        }
    }

    /// Whether the proxy reads the request before it chooses (an L7 proxy), so that it accepts
    /// the handshake like any server and chooses when the request arrives.
    pub(super) fn reads_request(&self) -> bool {
        matches!(self, Proxy::IngressNginx { .. } | Proxy::Envoy { .. })
    }

    /// Accept: which socket the client's connection ends on, as the accept step says it.
    pub(super) fn accept(&self, received: Tuple) -> Text {
        match self {
            Proxy::Envoy { pod, inbound } => super::envoy_hop::accept_note(pod, *inbound, received),
            Proxy::Userspace { port, .. } => Text::new(
                format!(
                    "kube-proxy (userspace mode, removed in v1.26) accepts the connection on its socket {} for {}. This first connection ends here, inside kube-proxy; it will open a second one to a pod and copy bytes between the two.",
                    received.dst, port.service_port
                ),
                format!(
                    "kube-proxy（userspace 模式，已在 v1.26 移除）在它的套接字 {} 上接受了 {} 的连接。第一条连接到此为止，终结在 kube-proxy 里；它会另开一条到 Pod 的连接，在两条连接之间搬运字节。",
                    received.dst, port.service_port
                ),
            ),
            Proxy::IngressNginx { pod } => Text::new(
                format!(
                    "nginx in the ingress-nginx controller pod {pod} accepts the connection on {} and completes the handshake. This connection ends here, in nginx. It cannot choose a backend yet: the Host and the path it routes on are in the request, which has not arrived.",
                    received.dst
                ),
                format!(
                    "ingress-nginx 控制器 Pod {pod} 中的 nginx 在 {} 上接受连接并完成握手。这条连接到此为止，终结在 nginx 里。它还不能选择后端：它据以路由的 Host 和路径在请求里，而请求还没到。",
                    received.dst
                ),
            ),
        }
    }

    /// Read: what the proxy reads before choosing.
    fn read(&self) -> Read {
        match self {
            Proxy::Userspace { .. } | Proxy::IngressNginx { .. } | Proxy::Envoy { .. } => Read::Nothing,
        }
    }

    /// Dial: the address the proxy's connection to `backend` comes from. connect() from the node
    /// takes the address of the route's interface: the bridge's gateway toward a pod on this
    /// node, the node's own address otherwise.
    fn dial_from(&self, sim: &Sim, backend: SocketAddrV4, host: &Host) -> Ipv4Addr {
        match self {
            Proxy::Userspace { node, .. } => match sim.cluster.node(node) {
                Some(this) if this.pod_cidr.contains(*backend.ip()) => this.pod_cidr.nth(1).unwrap_or(this.ip),
                _ => host.ip(),
            },
            // The pod's own address: its only interface is eth0.
            Proxy::IngressNginx { .. } | Proxy::Envoy { inbound: false, .. } => host.ip(),
            // The inbound cluster's upstream bind address (constants.go `InboundPassthroughBindIpv4`).
            Proxy::Envoy { inbound: true, .. } => crate::mesh::iptables::INBOUND_PASSTHROUGH,
        }
    }

    /// The note of the relay step, once a dial connected: who sees which address.
    fn relaying(&self, client: &Host, pod: &Host, dialed: Tuple, received: Tuple) -> Text {
        match self {
            Proxy::Envoy { inbound, .. } => super::envoy_hop::relaying_note(*inbound, pod, dialed),
            Proxy::Userspace { .. } => Text::new(
                format!(
                    "kube-proxy now relays between the two connections: {} ⇄ kube-proxy ⇄ {}. {} sees the connection coming from {}, the node — the client's address {} is hidden.",
                    client.label(),
                    pod.label(),
                    pod.label(),
                    dialed.src.ip(),
                    received.src.ip()
                ),
                format!(
                    "kube-proxy 在两条连接之间转发：{} ⇄ kube-proxy ⇄ {}。{} 看到的连接来自 {}（节点）——客户端地址 {} 被隐藏了。",
                    client.label(),
                    pod.label(),
                    pod.label(),
                    dialed.src.ip(),
                    received.src.ip()
                ),
            ),
            Proxy::IngressNginx { .. } => Text::new(
                format!(
                    "The controller's connection to {} is open. It went from the controller pod straight to the pod's own address {}: no Service address, so kube-proxy's rules had nothing to rewrite. {} sees the connection coming from the controller pod {}, not from the client.",
                    pod.label(),
                    dialed.dst,
                    pod.label(),
                    dialed.src.ip()
                ),
                format!(
                    "控制器到 {} 的连接已建立。它从控制器 Pod 直接连到 Pod 自己的地址 {}：没有 Service 地址，所以 kube-proxy 的规则无可改写。{} 看到连接来自控制器 Pod {}，而不是客户端。",
                    pod.label(),
                    dialed.dst,
                    pod.label(),
                    dialed.src.ip()
                ),
            ),
        }
    }

    /// The note of a backend refusing the proxy's dial with a RST.
    fn refused(&self, pod: &Host, dialed: Tuple) -> Text {
        match self {
            Proxy::Envoy { .. } => super::envoy_hop::refused_note(pod, dialed),
            Proxy::Userspace { .. } => Text::new(
                format!(
                    "Nothing listens on {} in {}: its kernel answers with a RST. kube-proxy's dial fails, and it tries the next endpoint — a retry iptables mode cannot do.",
                    dialed.dst,
                    pod.label()
                ),
                format!(
                    "{} 中没有进程监听 {}：它的内核回复 RST。kube-proxy 拨号失败，于是尝试下一个端点——这是 iptables 模式做不到的重试。",
                    pod.label(),
                    dialed.dst
                ),
            ),
            Proxy::IngressNginx { .. } => Text::new(
                format!(
                    "Nothing listens on {} in {}: its kernel answers with a RST. nginx marks the peer failed and, as `proxy-next-upstream: error timeout` allows, tries the next one.",
                    dialed.dst,
                    pod.label()
                ),
                format!(
                    "{} 中没有进程监听 {}：它的内核回复 RST。nginx 把这个后端标记为失败，并按 `proxy-next-upstream: error timeout` 尝试下一个。",
                    pod.label(),
                    dialed.dst
                ),
            ),
        }
    }

    /// The note of a backend that never answers the proxy's dial.
    fn timed_out(&self, pod: &Host, timeout_ms: u64) -> Text {
        match self {
            Proxy::Envoy { .. } => Text::new(
                format!(
                    "{} does not answer. After the connect timeout ({timeout_ms} ms) Envoy gives up on it.",
                    pod.label()
                ),
                format!("{} 没有应答。连接超时（{timeout_ms} 毫秒）后 Envoy 放弃它。", pod.label()),
            ),
            Proxy::Userspace { .. } => Text::new(
                format!(
                    "{} does not answer. After {timeout_ms} ms kube-proxy gives up on it and tries the next endpoint.",
                    pod.label()
                ),
                format!("{} 没有应答。{timeout_ms} 毫秒后 kube-proxy 放弃它，尝试下一个端点。", pod.label()),
            ),
            Proxy::IngressNginx { .. } => Text::new(
                format!(
                    "{} does not answer. After proxy-connect-timeout ({timeout_ms} ms) nginx gives up on it and tries the next peer.",
                    pod.label()
                ),
                format!(
                    "{} 没有应答。proxy-connect-timeout（{timeout_ms} 毫秒）后 nginx 放弃它，尝试下一个后端。",
                    pod.label()
                ),
            ),
        }
    }
}

impl<'a> Sim<'a> {
    /// The proxy that accepts a connection delivered to `server` for `tuple`, if a proxy listens
    /// there.
    pub(super) fn proxy_at(&self, server: &Host, tuple: Tuple) -> Option<Proxy> {
        if let Host::Pod { name, .. } = server {
            if let Some(envoy) = self.envoy_at(name, tuple) {
                return Some(envoy);
            }
            return self.ingress_controller_at(name, tuple).then(|| Proxy::IngressNginx { pod: name.clone() });
        }
        let Host::Node { name, .. } = server else { return None };
        let proto = tuple.proto.as_proto()?;
        let (state, _) = self.userspace.get(name)?;
        let port = state.proxy_at(proto, tuple.dst.port())?.clone();
        Some(Proxy::Userspace { node: name.clone(), port })
    }

    /// Choose: the backend, and why.
    fn choose(&mut self, proxy: &Proxy, received: Tuple, _read: &Read) -> Choice {
        match proxy {
            // Chosen from the request, in `ingress_hop` and `envoy_hop`.
            Proxy::IngressNginx { pod } | Proxy::Envoy { pod, .. } => Choice {
                decisions: Vec::new(),
                dials: Vec::new(),
                no_backend: format!("nginx in {pod} chooses only once it has read the request"),
                all_failed: String::new(),
            },
            Proxy::Userspace { node, port } => {
                let now = self.env.now;
                let cluster = self.cluster;
                let Some((_, balancer)) = self.userspace.get_mut(node) else {
                    return Choice {
                        decisions: Vec::new(),
                        dials: Vec::new(),
                        no_backend: format!("kube-proxy does not run on {node}"),
                        all_failed: String::new(),
                    };
                };
                let plan = balancer.dial(cluster, &port.service_port, *received.src.ip(), now);
                let decisions = plan
                    .no_endpoint
                    .iter()
                    .map(|none| Decision {
                        stage: "balancer",
                        rule: None,
                        verdict: "NO ENDPOINTS".into(),
                        note: none.explanation.clone(),
                    })
                    .collect();
                // With no endpoint left, kube-proxy closes the connection without dialling further.
                let attempts = if plan.no_endpoint.is_some() { &[][..] } else { &plan.attempts[..] };
                let dials = attempts
                    .iter()
                    .map(|attempt| Dial {
                        backend: attempt.choice.endpoint,
                        note: attempt.explanation.clone(),
                        answer: attempt.result,
                        timeout_ms: attempt.timeout_ms,
                    })
                    .collect();
                Choice {
                    decisions,
                    dials,
                    no_backend: format!(
                        "kube-proxy has no endpoint for {} and closes the client's connection",
                        port.service_port
                    ),
                    all_failed: format!(
                        "every dial kube-proxy tried for {} failed; it closes the client's connection",
                        port.service_port
                    ),
                }
            }
        }
    }

    /// The proxy hop, after the client's first packet was delivered to the proxy's socket:
    /// accept, read, choose, dial (with retries), relay. The trace ends with the backend that
    /// serves the client, or with the client's connection closed (`None`).
    pub(super) fn run_proxy(
        &mut self,
        trace: &mut Trace,
        proxy: &Proxy,
        client: &Host,
        received: &Packet,
    ) -> Option<Relay> {
        let tuple = received.tuple().ok()?;
        let proto = tuple.proto.as_proto()?;
        let host = proxy.host(self)?;
        let node = host.name().to_string();
        // Accept: the client's connection ends on the proxy's socket, and the proxy completes the
        // handshake (conntrack puts the Service address back on the way).
        let accepted = proxy.accept(tuple);
        let mut s = step(&node, Direction::Original, StepKind::Proxy, received, received, "ACCEPTED", accepted);
        s.stage = Some("accept");
        trace.steps.push(s);
        let answer = self.make_packet(tuple.dst, tuple.src, proto, TcpFlags::SynAck, 5000, 1001);
        self.walk(trace, host.clone(), answer, Direction::Reply)?;
        let read = proxy.read();
        let choice = self.choose(proxy, tuple, &read);
        for decision in choice.decisions {
            let mut s =
                step(&node, Direction::Original, StepKind::Proxy, received, received, &decision.verdict, decision.note);
            s.rule = decision.rule;
            s.stage = Some(decision.stage);
            trace.steps.push(s);
        }
        trace.outcome.delivered_to = None;
        if choice.dials.is_empty() {
            trace.outcome.dropped = true;
            trace.outcome.reason = Some(choice.no_backend);
            return None;
        }
        let accepted = Accepted { proxy, host: &host, client, received: tuple, proto };
        // Everything so far belongs to the client's connection; each dial opens another.
        mark_connection(trace, 0, 0);
        for (attempt, dial) in choice.dials.iter().enumerate() {
            let start = trace.steps.len();
            let connection = u8::try_from(attempt + 1).unwrap_or(u8::MAX);
            let connected = self.dial(trace, &accepted, dial);
            mark_connection(trace, start, connection);
            if let Some((pod, dialed, at_pod)) = connected {
                let (host, accepted) = (host.clone(), tuple);
                return Some(Relay { proxy: proxy.clone(), host, accepted, dialed, pod, at_pod, connection });
            }
        }
        trace.outcome.dropped = true;
        trace.outcome.reason = Some(choice.all_failed);
        None
    }

    /// Dial: the proxy's own connection to one backend, from its own address and a fresh
    /// ephemeral port. When it connected and the proxy relays: the backend, the connection as the
    /// proxy sent it and as it arrived; `None` when the backend refused or never answered.
    pub(super) fn dial(&mut self, trace: &mut Trace, accepted: &Accepted, dial: &Dial) -> Option<(Host, Tuple, Tuple)> {
        let Accepted { proxy, host, client, received, proto } = *accepted;
        let node = host.name().to_string();
        let sport = self.env.rng.range_u16(32768, 60999);
        let from = SocketAddrV4::new(proxy.dial_from(self, dial.backend, host), sport);
        let syn = self.make_packet(from, dial.backend, proto, TcpFlags::Syn, 7000, 0);
        let verdict = format!("DIAL {}", dial.backend);
        let sent = syn.tuple().ok()?;
        let mut s = step(&node, Direction::Original, StepKind::Proxy, &syn, &syn, &verdict, dial.note.clone());
        s.stage = Some("dial");
        trace.steps.push(s);
        let (pod, arrived) = self.walk(trace, host.clone(), syn, Direction::Original)?;
        let dialed = arrived.tuple().ok()?;
        match dial.answer {
            DialResult::Connected => {
                let answer = self.make_packet(dialed.dst, dialed.src, proto, TcpFlags::SynAck, 9000, 7001);
                self.walk(trace, pod.clone(), answer, Direction::Reply);
                let note = proxy.relaying(client, &pod, dialed, received);
                let mut s = step(&node, Direction::Reply, StepKind::Proxy, &arrived, &arrived, "RELAYING", note);
                s.stage = Some("relay");
                trace.steps.push(s);
                trace.outcome.delivered_to = Some(pod.label());
                trace.outcome.dropped = false;
                trace.outcome.reason = None;
                Some((pod, sent, dialed))
            }
            DialResult::Refused => {
                let rst = self.make_packet(dialed.dst, dialed.src, proto, TcpFlags::RstAck, 0, 7001);
                let note = proxy.refused(&pod, dialed);
                trace.steps.push(step(pod.name(), Direction::Reply, StepKind::Send, &rst, &rst, "RST", note));
                self.walk_quiet(trace, pod.clone(), rst);
                None
            }
            DialResult::TimedOut => {
                let note = proxy.timed_out(&pod, dial.timeout_ms);
                trace.steps.push(step(
                    pod.name(),
                    Direction::Reply,
                    StepKind::Drop,
                    &arrived,
                    &arrived,
                    "NO ANSWER",
                    note,
                ));
                None
            }
        }
    }

    /// Walks a packet back without its sending step (used for a RST whose sending was narrated).
    fn walk_quiet(&mut self, trace: &mut Trace, sender: Host, packet: Packet) {
        let start = trace.steps.len();
        self.walk(trace, sender, packet, Direction::Reply);
        // The walk begins with a send step; the caller already narrated it.
        if trace.steps.get(start).is_some_and(|step| step.kind == StepKind::Send) {
            trace.steps.remove(start);
        }
    }
}

#[cfg(test)]
mod tests {
    use expect_test::{Expect, expect};

    use crate::model::ProxyMode;
    use crate::trace::StepKind;
    use crate::walk::fixture;

    /// The proxy's own steps, and where the connection ended.
    fn check(id: &str, to: &str, expect: Expect) {
        let trace = fixture::walk(id, ProxyMode::Userspace, "pod/client", to);
        let proxy = fixture::lines(&trace, |step| step.kind == StepKind::Proxy || step.verdict == "RST");
        expect.assert_eq(&format!("{proxy}{:?} {:?}\n", trace.outcome.delivered_to, trace.outcome.reason));
    }

    #[test]
    fn accept_dial_relay() {
        check(
            "clusterip-iptables",
            "10.96.100.10:80",
            expect![[r#"
            node-1 proxy ACCEPTED
            node-1 proxy DIAL 10.244.1.5:8080
            node-1 proxy RELAYING
            Some("pod/web-a") None
        "#]],
        );
    }

    #[test]
    fn a_refused_or_silent_endpoint_is_retried() {
        check(
            "userspace-retry",
            "10.96.100.10:80",
            expect![[r#"
                node-1 proxy ACCEPTED
                node-1 proxy DIAL 10.244.2.7:8080
                web-b send RST
                node-1 proxy DIAL 10.244.1.5:8080
                node-1 proxy RELAYING
                Some("pod/web-a") None
            "#]],
        );
    }

    #[test]
    fn no_endpoint_closes_the_client_connection() {
        check(
            "no-endpoints",
            "10.96.66.6:80",
            expect![[r#"
            node-1 proxy ACCEPTED
            node-1 proxy NO ENDPOINTS
            None Some("kube-proxy has no endpoint for default/ghost:http and closes the client's connection")
        "#]],
        );
    }

    #[test]
    fn only_a_proxy_socket_is_a_proxy() {
        let cluster = fixture::lesson("clusterip-iptables", ProxyMode::Iptables);
        let sim = crate::walk::Sim::new(&cluster, 1, 0).expect("the rules build");
        let node = crate::walk::resolve_host(&cluster, "node/node-1").expect("a node");
        let tuple = crate::packet::Tuple {
            src: "10.244.1.20:40000".parse().unwrap(),
            dst: "192.168.1.11:80".parse().unwrap(),
            proto: crate::packet::TupleProto::Tcp,
        };
        assert_eq!(sim.proxy_at(&node, tuple), None);
    }
}
