//! The packet walk: a connection's first packet from its sender to its receiver, and the reply back.
//!
//! A `Sim` holds what lives across connections (each host's conntrack table, the `xt_recent`
//! lists, the random source and the clock), so `lbplay send` can open many connections in a row
//! and session affinity can remember a client. Each node runs the IPv4 netfilter pipeline in the
//! kernel's order (net/ipv4/ip_input.c, ip_forward.c, ip_output.c): PREROUTING (conntrack, nat) →
//! routing → INPUT or FORWARD (filter) → POSTROUTING (nat, conntrack confirm) for packets that
//! arrive, and OUTPUT (conntrack, nat, filter) → POSTROUTING for packets the node itself sends.
//! Pods and external clients have no kube-proxy rules: a pod hands its packets to its node over
//! its veth, a client to the node it addresses.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddrV4};

use crate::conntrack::{self, Dir, Entry};
use crate::kubeproxy::iptables;
use crate::kubeproxy::ipvs::IpvsState;
use crate::model::{Cluster, ProxyMode};
use crate::net::Proto;
use crate::netfilter::eval::{self, Env, Meta, NatTarget, Verdict};
use crate::netfilter::{CtState, Hook, Ruleset, TableName};
use crate::packet::{Packet, TcpFlags, Tuple, TupleProto};
use crate::trace::{Direction, Step, StepKind, Text, Trace};

/// What to walk: `from` is `pod/NAME`, `node/NAME`, `client/NAME` or an IP; `to` is `IP:PORT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub from: String,
    pub to: String,
    pub proto: Proto,
    /// Seeds every random choice (the statistic draws, ephemeral and MASQUERADE ports).
    pub seed: u64,
    /// The scenario clock, in seconds.
    pub now: u64,
}

/// Why a walk could not start: the request names something the scenario does not have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalkError(pub String);

impl std::fmt::Display for WalkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for WalkError {}

/// Walks the request's first packet there and its reply back.
pub fn trace(cluster: &Cluster, request: &Request) -> Result<Trace, WalkError> {
    let mut sim = Sim::new(cluster, request.seed, request.now)?;
    sim.connect(&request.from, &request.to, request.proto)
}

/// A host that sends or receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    Pod { name: String, node: String, ip: Ipv4Addr },
    Node { name: String, ip: Ipv4Addr },
    Client { name: String, ip: Ipv4Addr },
}

impl Host {
    pub fn ip(&self) -> Ipv4Addr {
        match self {
            Host::Pod { ip, .. } | Host::Node { ip, .. } | Host::Client { ip, .. } => *ip,
        }
    }

    /// `pod/NAME`, `node/NAME` or `client/NAME`.
    pub fn label(&self) -> String {
        match self {
            Host::Pod { name, .. } => format!("pod/{name}"),
            Host::Node { name, .. } => format!("node/{name}"),
            Host::Client { name, .. } => format!("client/{name}"),
        }
    }

    /// The name shown in a step's `node` field.
    pub fn name(&self) -> &str {
        match self {
            Host::Pod { name, .. } | Host::Node { name, .. } | Host::Client { name, .. } => name,
        }
    }
}

/// Resolves `pod/NAME`, `node/NAME`, `client/NAME` or a bare IP.
pub fn resolve_host(cluster: &Cluster, text: &str) -> Result<Host, WalkError> {
    let pod_host = |pod: &crate::model::Pod| {
        if pod.host_network {
            let ip = cluster.node(&pod.node).map(|node| node.ip).unwrap_or(pod.ip);
            Host::Node { name: pod.node.clone(), ip }
        } else {
            Host::Pod { name: pod.name.clone(), node: pod.node.clone(), ip: pod.ip }
        }
    };
    if let Some(name) = text.strip_prefix("pod/") {
        return cluster.pod(name).map(pod_host).ok_or_else(|| {
            let known: Vec<&str> = cluster.pods.iter().map(|pod| pod.name.as_str()).collect();
            WalkError(format!("no pod named `{name}` (pods: {})", known.join(", ")))
        });
    }
    if let Some(name) = text.strip_prefix("node/") {
        return cluster
            .node(name)
            .map(|node| Host::Node { name: node.name.clone(), ip: node.ip })
            .ok_or_else(|| WalkError(format!("no node named `{name}`")));
    }
    if let Some(name) = text.strip_prefix("client/") {
        return cluster
            .client(name)
            .map(|client| Host::Client { name: client.name.clone(), ip: client.ip })
            .ok_or_else(|| WalkError(format!("no client named `{name}`")));
    }
    let ip: Ipv4Addr = text.parse().map_err(|_| {
        WalkError(format!("`{text}` is not a source: use pod/NAME, node/NAME, client/NAME or an IPv4 address"))
    })?;
    if let Some(pod) = cluster.pod_by_ip(ip) {
        return Ok(pod_host(pod));
    }
    if let Some(node) = cluster.nodes.iter().find(|node| node.ip == ip) {
        return Ok(Host::Node { name: node.name.clone(), ip });
    }
    if let Some(client) = cluster.clients.iter().find(|client| client.ip == ip) {
        return Ok(Host::Client { name: client.name.clone(), ip });
    }
    Ok(Host::Client { name: ip.to_string(), ip })
}

/// The simulator state that outlives one connection.
#[derive(Debug, Clone)]
pub struct Sim<'a> {
    cluster: &'a Cluster,
    /// Each node's dataplane rules, shared: a `Sim` is cloned to replay from a state, and rules never change.
    planes: std::sync::Arc<BTreeMap<String, Plane>>,
    /// IPVS mode's per-node state that changes as connections open: virtual servers with their
    /// connection counts and scheduler state, and the ipsets.
    ipvs: BTreeMap<String, IpvsState>,
    /// Userspace mode (removed in v1.26): each node's proxy sockets and kube-proxy's round-robin
    /// balancer, whose position and affinity map persist across connections.
    userspace: BTreeMap<String, (crate::kubeproxy::userspace::UserspaceState, crate::kubeproxy::userspace::Balancer)>,
    /// IPVS persistence templates (ClientIP affinity): (node, virtual server, client) → (real
    /// server, expiry), as `ip_vs_sched_persist` keeps them.
    templates: BTreeMap<(String, usize, Ipv4Addr), (usize, u64)>,
    /// IPVS connections that are open or closing: (node, virtual server, the connection, when it
    /// expires once closed). They are what lc, wlc, sed and nq count.
    ipvs_conns: Vec<IpvsConn>,
    conntrack: BTreeMap<String, conntrack::Table>,
    env: Env,
    next_ident: u16,
    /// New, not yet confirmed conntrack entries by node: a list, for there is hardly ever more
    /// than one, and a map of this type would add its own copy of the B-tree code to the page.
    pending: Vec<(String, Entry)>,
    /// A REJECT that just happened: the node and the packet it refused, so the walk can send the
    /// ICMP error back.
    rejected: Option<(String, Packet)>,
}

/// Where a packet goes next after a host has handled it.
enum Hop {
    /// To another host (a node, a pod, a client), over a link.
    To(Host),
    /// Delivered to a socket on this host.
    Local,
    /// Dropped or rejected; the reason.
    Dropped(String),
}

impl<'a> Sim<'a> {
    pub fn new(cluster: &'a Cluster, seed: u64, now: u64) -> Result<Sim<'a>, WalkError> {
        let mode = cluster.kube_proxy.mode;
        let mut planes = BTreeMap::new();
        let mut ipvs_states = BTreeMap::new();
        let mut userspace = BTreeMap::new();
        for node in &cluster.nodes {
            let plane = match mode {
                ProxyMode::Iptables => Plane::netfilter(iptables::build(cluster, &node.name).map_err(WalkError)?),
                ProxyMode::Nftables => {
                    Plane::Nftables(crate::kubeproxy::nftables::build(cluster, &node.name).map_err(WalkError)?)
                }
                ProxyMode::Ipvs => {
                    let state = crate::kubeproxy::ipvs::build(cluster, &node.name).map_err(WalkError)?;
                    let plane = Plane::netfilter(state.ruleset.clone());
                    ipvs_states.insert(node.name.clone(), state);
                    plane
                }
                ProxyMode::Userspace => {
                    let state = crate::kubeproxy::userspace::build(cluster, &node.name).map_err(WalkError)?;
                    let plane = Plane::netfilter(state.ruleset.clone());
                    let balancer = crate::kubeproxy::userspace::Balancer::new(&state, seed);
                    userspace.insert(node.name.clone(), (state, balancer));
                    plane
                }
            };
            planes.insert(node.name.clone(), plane);
        }
        Ok(Sim {
            cluster,
            planes: std::sync::Arc::new(planes),
            ipvs: ipvs_states,
            userspace,
            templates: BTreeMap::new(),
            ipvs_conns: Vec::new(),
            conntrack: BTreeMap::new(),
            env: Env::new(seed, now),
            next_ident: 1,
            pending: Vec::new(),
            rejected: None,
        })
    }

    /// Moves the scenario clock forward, expiring the IPVS connections whose time is up.
    pub fn advance(&mut self, seconds: u64) {
        self.env.now += seconds;
        let now = self.env.now;
        let (due, keep): (Vec<IpvsConn>, Vec<IpvsConn>) =
            std::mem::take(&mut self.ipvs_conns).into_iter().partition(|conn| conn.expires.is_some_and(|at| at <= now));
        self.ipvs_conns = keep;
        for conn in due {
            if let Some(service) = self.ipvs.get_mut(&conn.node).and_then(|state| state.services.get_mut(conn.service))
            {
                service.conn_expire(conn.conn);
            }
        }
    }

    /// Closes every open connection, as a client does after its request: an IPVS connection turns
    /// inactive (`ActiveConn` → `InActConn`) and expires after the TCP FIN timeout
    /// (`IP_VS_TCP_S_TIME_WAIT`, 120 s in ip_vs_proto_tcp.c).
    pub fn close_all(&mut self) {
        let now = self.env.now;
        for conn in self.ipvs_conns.iter_mut().filter(|conn| conn.expires.is_none()) {
            if let Some(service) = self.ipvs.get_mut(&conn.node).and_then(|state| state.services.get_mut(conn.service))
            {
                service.conn_close(&mut conn.conn);
            }
            conn.expires = Some(now + IPVS_TCP_FIN_TIMEOUT);
        }
    }

    /// The conntrack table of a host, for views that show it.
    pub fn conntrack(&self, host: &str) -> Option<&conntrack::Table> {
        self.conntrack.get(host)
    }

    /// Opens one connection: walks the first packet to its receiver and the reply back.
    pub fn connect(&mut self, from: &str, to: &str, proto: Proto) -> Result<Trace, WalkError> {
        let source = resolve_host(self.cluster, from)?;
        let dst: SocketAddrV4 = to
            .parse()
            .map_err(|_| WalkError(format!("`{to}` is not a destination: use IP:PORT, such as 10.96.100.10:80")))?;
        if proto == Proto::Sctp {
            return Err(WalkError("lbplay walks TCP and UDP packets; SCTP rules are written but not walked".into()));
        }
        // The client's ephemeral port, from net.ipv4.ip_local_port_range's default 32768–60999.
        let sport = self.env.rng.range_u16(32768, 60999);
        let src = SocketAddrV4::new(source.ip(), sport);
        let first = self.make_packet(src, dst, proto, TcpFlags::Syn, 1000, 0);
        let mut trace = Trace::default();
        let server = self.walk(&mut trace, source.clone(), first, Direction::Original);
        let Some((server, received)) = server else {
            return Ok(trace);
        };
        trace.outcome.delivered_to = Some(server.label());
        let tuple = received.tuple().map_err(|err| WalkError(err.to_string()))?;
        if let Host::Node { name, .. } = &server
            && self.userspace.get(name).and_then(|(state, _)| state.proxy_at(proto, tuple.dst.port())).is_some()
        {
            let node = name.clone();
            self.relay(&mut trace, &node, &source, &received, proto);
            return Ok(trace);
        }
        let answer = self.make_packet(tuple.dst, tuple.src, proto, TcpFlags::SynAck, 5000, 1001);
        let replied = self.walk(&mut trace, server, answer, Direction::Reply);
        if replied.is_none() && !trace.outcome.dropped {
            trace.outcome.reason = Some("the reply did not reach the client".into());
        }
        Ok(trace)
    }

    /// Userspace mode's relay (pkg/proxy/userspace/proxysocket.go, `ProxyTCP`): kube-proxy accepted
    /// the client's connection on its socket; it answers the client, picks an endpoint with its
    /// round robin, and dials it from the node, trying the next endpoint when a dial fails. The
    /// pod's connection comes from the node, so the pod never sees the client's address.
    fn relay(&mut self, trace: &mut Trace, node: &str, client: &Host, received: &Packet, proto: Proto) {
        let Ok(tuple) = received.tuple() else { return };
        let Some((state, _)) = self.userspace.get(node) else { return };
        let Some(proxy) = state.proxy_at(proto, tuple.dst.port()).cloned() else { return };
        let node_host = match self.cluster.node(node) {
            Some(this) => Host::Node { name: this.name.clone(), ip: this.ip },
            None => return,
        };
        let accepted = Text::new(
            format!(
                "kube-proxy (userspace mode, removed in v1.26) accepts the connection on its socket {} for {}. This first connection ends here, inside kube-proxy; it will open a second one to a pod and copy bytes between the two.",
                tuple.dst, proxy.service_port
            ),
            format!(
                "kube-proxy（userspace 模式，已在 v1.26 移除）在它的套接字 {} 上接受了 {} 的连接。第一条连接到此为止，终结在 kube-proxy 里；它会另开一条到 Pod 的连接，在两条连接之间搬运字节。",
                tuple.dst, proxy.service_port
            ),
        );
        trace.steps.push(step(node, Direction::Original, StepKind::Proxy, received, received, "ACCEPTED", accepted));
        // The client's handshake completes with kube-proxy; conntrack puts the Service address back.
        let answer = self.make_packet(tuple.dst, tuple.src, proto, TcpFlags::SynAck, 5000, 1001);
        if self.walk(trace, node_host.clone(), answer, Direction::Reply).is_none() {
            return;
        }
        let now = self.env.now;
        let Some((_, balancer)) = self.userspace.get_mut(node) else { return };
        let dial = balancer.dial(self.cluster, &proxy.service_port, *tuple.src.ip(), now);
        if let Some(none) = &dial.no_endpoint {
            trace.steps.push(step(
                node,
                Direction::Original,
                StepKind::Proxy,
                received,
                received,
                "NO ENDPOINTS",
                none.explanation.clone(),
            ));
            trace.outcome.delivered_to = None;
            trace.outcome.dropped = true;
            trace.outcome.reason = Some(format!(
                "kube-proxy has no endpoint for {} and closes the client's connection",
                proxy.service_port
            ));
            return;
        }
        trace.outcome.delivered_to = None;
        for attempt in &dial.attempts {
            let sport = self.env.rng.range_u16(32768, 60999);
            // connect() from the node takes the address of the route's interface: the bridge's
            // gateway toward a pod on this node, the node's own address otherwise.
            let source_ip = match self.cluster.node(node) {
                Some(this) if this.pod_cidr.contains(*attempt.choice.endpoint.ip()) => {
                    this.pod_cidr.nth(1).unwrap_or(this.ip)
                }
                _ => node_host.ip(),
            };
            let from = SocketAddrV4::new(source_ip, sport);
            let syn = self.make_packet(from, attempt.choice.endpoint, proto, TcpFlags::Syn, 7000, 0);
            trace.steps.push(step(
                node,
                Direction::Original,
                StepKind::Proxy,
                &syn,
                &syn,
                &format!("DIAL {}", attempt.choice.endpoint),
                attempt.explanation.clone(),
            ));
            let Some((pod, arrived)) = self.walk(trace, node_host.clone(), syn, Direction::Original) else { continue };
            let Ok(arrived_tuple) = arrived.tuple() else { continue };
            match attempt.result {
                crate::kubeproxy::userspace::DialResult::Connected => {
                    let answer =
                        self.make_packet(arrived_tuple.dst, arrived_tuple.src, proto, TcpFlags::SynAck, 9000, 7001);
                    self.walk(trace, pod.clone(), answer, Direction::Reply);
                    let note = Text::new(
                        format!(
                            "kube-proxy now relays between the two connections: {} ⇄ kube-proxy ⇄ {}. {} sees the connection coming from {}, the node — the client's address {} is hidden.",
                            client.label(),
                            pod.label(),
                            pod.label(),
                            arrived_tuple.src.ip(),
                            tuple.src.ip()
                        ),
                        format!(
                            "kube-proxy 在两条连接之间转发：{} ⇄ kube-proxy ⇄ {}。{} 看到的连接来自 {}（节点）——客户端地址 {} 被隐藏了。",
                            client.label(),
                            pod.label(),
                            pod.label(),
                            arrived_tuple.src.ip(),
                            tuple.src.ip()
                        ),
                    );
                    trace.steps.push(step(
                        node,
                        Direction::Reply,
                        StepKind::Proxy,
                        &arrived,
                        &arrived,
                        "RELAYING",
                        note,
                    ));
                    trace.outcome.delivered_to = Some(pod.label());
                    trace.outcome.dropped = false;
                    trace.outcome.reason = None;
                    return;
                }
                crate::kubeproxy::userspace::DialResult::Refused => {
                    let rst = self.make_packet(arrived_tuple.dst, arrived_tuple.src, proto, TcpFlags::RstAck, 0, 7001);
                    let note = Text::new(
                        format!(
                            "Nothing listens on {} in {}: its kernel answers with a RST. kube-proxy's dial fails, and it tries the next endpoint — a retry iptables mode cannot do.",
                            arrived_tuple.dst,
                            pod.label()
                        ),
                        format!(
                            "{} 中没有进程监听 {}：它的内核回复 RST。kube-proxy 拨号失败，于是尝试下一个端点——这是 iptables 模式做不到的重试。",
                            pod.label(),
                            arrived_tuple.dst
                        ),
                    );
                    trace.steps.push(step(pod.name(), Direction::Reply, StepKind::Send, &rst, &rst, "RST", note));
                    self.walk_quiet(trace, pod.clone(), rst);
                }
                crate::kubeproxy::userspace::DialResult::TimedOut => {
                    let note = Text::new(
                        format!(
                            "{} does not answer. After {} ms kube-proxy gives up on it and tries the next endpoint.",
                            pod.label(),
                            attempt.timeout_ms
                        ),
                        format!(
                            "{} 没有应答。{} 毫秒后 kube-proxy 放弃它，尝试下一个端点。",
                            pod.label(),
                            attempt.timeout_ms
                        ),
                    );
                    trace.steps.push(step(
                        pod.name(),
                        Direction::Reply,
                        StepKind::Drop,
                        &arrived,
                        &arrived,
                        "NO ANSWER",
                        note,
                    ));
                }
            }
        }
        trace.outcome.dropped = true;
        trace.outcome.reason = Some(format!(
            "every dial kube-proxy tried for {} failed; it closes the client's connection",
            proxy.service_port
        ));
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

    fn make_packet(
        &mut self,
        src: SocketAddrV4,
        dst: SocketAddrV4,
        proto: Proto,
        flags: TcpFlags,
        seq: u32,
        ack: u32,
    ) -> Packet {
        let ident = self.next_ident;
        self.next_ident = self.next_ident.wrapping_add(1);
        match proto {
            Proto::Udp => Packet::udp(src, dst, b"lbplay", ident),
            _ => Packet::tcp(src, dst, flags, seq, ack, ident),
        }
    }

    /// Moves a packet from `sender` until it is delivered (returning the receiving host and the
    /// packet as it arrived) or dropped.
    fn walk(
        &mut self,
        trace: &mut Trace,
        sender: Host,
        packet: Packet,
        direction: Direction,
    ) -> Option<(Host, Packet)> {
        let tuple = packet.tuple().ok()?;
        let send_note = match (&direction, packet.tcp_flags().as_deref()) {
            (Direction::Original, Some(_)) => Text::new(
                format!(
                    "{} opens a TCP connection: it sends a SYN from {} to {}.",
                    sender.label(),
                    tuple.src,
                    tuple.dst
                ),
                format!("{} 发起 TCP 连接：从 {} 向 {} 发送 SYN。", sender.label(), tuple.src, tuple.dst),
            ),
            (Direction::Reply, Some(_)) => Text::new(
                format!(
                    "{} answers with a SYN-ACK from {} to {}: it only knows the addresses it received.",
                    sender.label(),
                    tuple.src,
                    tuple.dst
                ),
                format!(
                    "{} 回复 SYN-ACK，从 {} 发往 {}：它只知道自己收到的地址。",
                    sender.label(),
                    tuple.src,
                    tuple.dst
                ),
            ),
            (_, None) => Text::new(
                format!("{} sends a UDP datagram from {} to {}.", sender.label(), tuple.src, tuple.dst),
                format!("{} 从 {} 向 {} 发送 UDP 数据报。", sender.label(), tuple.src, tuple.dst),
            ),
        };
        trace.steps.push(step(sender.name(), direction, StepKind::Send, &packet, &packet, "SEND", send_note));
        let mut packet = packet;
        let mut at = sender.clone();
        let mut first_hop = true;
        for _ in 0..16 {
            let hop = match &at {
                Host::Node { name, .. } => {
                    let name = name.clone();
                    if first_hop {
                        self.node_output(trace, &name, &mut packet, direction)
                    } else {
                        self.node_receive(trace, &name, &mut packet, direction)
                    }
                }
                Host::Pod { node, .. } if first_hop => {
                    let node = self.cluster.node(node).map(|n| Host::Node { name: n.name.clone(), ip: n.ip });
                    match node {
                        Some(node) => Hop::To(node),
                        None => Hop::Dropped(format!("the pod's node `{}` is not in the scenario", at.name())),
                    }
                }
                Host::Client { .. } if first_hop => self.client_route(&packet),
                _ => Hop::Local,
            };
            first_hop = false;
            match hop {
                Hop::Local => {
                    let note = Text::new(
                        format!("{} receives the packet: {}.", at.label(), describe(&packet)),
                        format!("{} 收到数据包：{}。", at.label(), describe(&packet)),
                    );
                    trace.steps.push(step(
                        at.name(),
                        direction,
                        StepKind::Deliver,
                        &packet,
                        &packet,
                        "DELIVERED",
                        note,
                    ));
                    return Some((at, packet));
                }
                Hop::Dropped(reason) => {
                    trace.outcome.dropped = true;
                    trace.outcome.reason = Some(reason);
                    if let Some((node, refused)) = self.rejected.take() {
                        self.send_icmp_unreachable(trace, &node, &refused, &sender);
                    }
                    return None;
                }
                Hop::To(next) => {
                    let note = Text::new(
                        format!("The packet leaves {} for {}.", at.label(), next.label()),
                        format!("数据包离开 {}，发往 {}。", at.label(), next.label()),
                    );
                    trace.steps.push(step(
                        at.name(),
                        direction,
                        StepKind::Wire,
                        &packet,
                        &packet,
                        &format!("→ {}", next.name()),
                        note,
                    ));
                    at = next;
                }
            }
        }
        trace.outcome.dropped = true;
        trace.outcome.reason = Some("the packet went round in circles (more than 16 hops)".into());
        None
    }

    /// Where an external client's packet goes: to the node it addresses, or to a node that owns
    /// the load balancer's IP (the cloud load balancer forwards to a node).
    fn client_route(&self, packet: &Packet) -> Hop {
        let Ok(tuple) = packet.tuple() else { return Hop::Dropped("unreadable packet".into()) };
        let dst = *tuple.dst.ip();
        if let Some(node) = self.cluster.nodes.iter().find(|node| node.ip == dst) {
            return Hop::To(Host::Node { name: node.name.clone(), ip: node.ip });
        }
        let lb =
            self.cluster.services.iter().any(|s| s.load_balancer_ips.contains(&dst) || s.external_ips.contains(&dst));
        if lb && let Some(node) = self.cluster.nodes.first() {
            return Hop::To(Host::Node { name: node.name.clone(), ip: node.ip });
        }
        Hop::Dropped(format!(
            "{dst} is not reachable from outside the cluster: only node addresses, external IPs and load balancer IPs are"
        ))
    }

    fn local_addrs(&self, node: &str) -> Vec<Ipv4Addr> {
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
    fn route_or_drop(
        &self,
        trace: &mut Trace,
        node: &str,
        packet: &Packet,
        direction: Direction,
    ) -> Result<Route, Hop> {
        let Ok(tuple) = packet.tuple() else { return Err(Hop::Dropped("unreadable packet".into())) };
        self.route(node, *tuple.dst.ip()).map_err(|reason| {
            self.push_drop(trace, node, packet, direction, &reason);
            Hop::Dropped(reason)
        })
    }

    /// The routing decision on `node` for a destination.
    fn route(&self, node: &str, dst: Ipv4Addr) -> Result<Route, String> {
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

    /// A packet arriving on a node from a link: PREROUTING, routing, INPUT or FORWARD, POSTROUTING.
    fn node_receive(&mut self, trace: &mut Trace, node: &str, packet: &mut Packet, direction: Direction) -> Hop {
        let mut mark = 0u32;
        let ct = self.conntrack_in(trace, node, packet, direction, Hook::Prerouting);
        if let Err(hop) = self.run_hook(trace, node, packet, direction, Hook::Prerouting, &ct, &mut mark, None) {
            return hop;
        }
        let route = match self.route_or_drop(trace, node, packet, direction) {
            Ok(route) => route,
            Err(hop) => return hop,
        };
        // A forwarded packet has its TTL decreased before the FORWARD hook (net/ipv4/ip_forward.c,
        // `ip_decrease_ttl`), which changes the header checksum too.
        let before_route = packet.clone();
        if !matches!(route, Route::Local) {
            let _ = packet.decrement_ttl();
        }
        self.push_route_from(trace, node, &before_route, packet, direction, &route, false);
        match route {
            Route::Local => {
                if let Err(hop) = self.run_hook(trace, node, packet, direction, Hook::Input, &ct, &mut mark, None) {
                    return hop;
                }
                self.ipvs_reply(trace, node, packet, direction, &ct, Hook::Input);
                // IPVS's LOCAL_IN hook (`ip_vs_remote_request4`, priority NF_IP_PRI_NAT_SRC - 1)
                // takes packets for a virtual server and sends them on to the real server.
                match self.ipvs_request(trace, node, packet, direction, &ct, Hook::Input) {
                    Err(hop) => return hop,
                    Ok(true) => return self.after_ipvs(trace, node, packet, direction, &ct, &mut mark),
                    Ok(false) => {}
                }
                self.confirm(trace, node, packet, direction, &ct, Hook::Input);
                Hop::Local
            }
            Route::Pod(next) | Route::Node(next, _) | Route::Default(next, _) => {
                if let Err(hop) = self.run_hook(trace, node, packet, direction, Hook::Forward, &ct, &mut mark, None) {
                    return hop;
                }
                self.ipvs_reply(trace, node, packet, direction, &ct, Hook::Forward);
                if let Err(hop) = self.postrouting(trace, node, packet, direction, &ct, &mut mark, &next) {
                    return hop;
                }
                Hop::To(next)
            }
        }
    }

    /// A packet sent by a process on the node: OUTPUT (conntrack, nat, filter), reroute, POSTROUTING.
    fn node_output(&mut self, trace: &mut Trace, node: &str, packet: &mut Packet, direction: Direction) -> Hop {
        let mut mark = 0u32;
        let ct = self.conntrack_in(trace, node, packet, direction, Hook::Output);
        if let Err(hop) = self.run_hook(trace, node, packet, direction, Hook::Output, &ct, &mut mark, None) {
            return hop;
        }
        // IPVS's LOCAL_OUT hook (`ip_vs_local_request4`) serves virtual servers for local processes.
        match self.ipvs_request(trace, node, packet, direction, &ct, Hook::Output) {
            Err(hop) => return hop,
            Ok(true) => return self.after_ipvs(trace, node, packet, direction, &ct, &mut mark),
            Ok(false) => {}
        }
        let route = match self.route_or_drop(trace, node, packet, direction) {
            Ok(route) => route,
            Err(hop) => return hop,
        };
        self.push_route(trace, node, packet, direction, &route, true);
        match route {
            Route::Local => {
                self.confirm(trace, node, packet, direction, &ct, Hook::Output);
                Hop::Local
            }
            Route::Pod(next) | Route::Node(next, _) | Route::Default(next, _) => {
                if let Err(hop) = self.postrouting(trace, node, packet, direction, &ct, &mut mark, &next) {
                    return hop;
                }
                Hop::To(next)
            }
        }
    }

    /// After IPVS rewrote a packet to its real server: routing, then out through POSTROUTING
    /// (`ip_vs_nat_xmit` re-injects it at LOCAL_OUT).
    fn after_ipvs(
        &mut self,
        trace: &mut Trace,
        node: &str,
        packet: &mut Packet,
        direction: Direction,
        ct: &Ct,
        mark: &mut u32,
    ) -> Hop {
        let route = match self.route_or_drop(trace, node, packet, direction) {
            Ok(route) => route,
            Err(hop) => return hop,
        };
        self.push_route(trace, node, packet, direction, &route, true);
        match route {
            Route::Local => {
                self.confirm(trace, node, packet, direction, ct, Hook::Output);
                Hop::Local
            }
            Route::Pod(next) | Route::Node(next, _) | Route::Default(next, _) => {
                if let Err(hop) = self.postrouting(trace, node, packet, direction, ct, mark, &next) {
                    return hop;
                }
                Hop::To(next)
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn postrouting(
        &mut self,
        trace: &mut Trace,
        node: &str,
        packet: &mut Packet,
        direction: Direction,
        ct: &Ct,
        mark: &mut u32,
        next: &Host,
    ) -> Result<(), Hop> {
        self.run_hook(trace, node, packet, direction, Hook::Postrouting, ct, mark, Some(next))?;
        self.confirm(trace, node, packet, direction, ct, Hook::Postrouting);
        Ok(())
    }

    /// Everything registered at one hook, in priority order: the node's rules (the iptables tables
    /// of `Hook::tables`, or nftables' base chains) and conntrack's NAT for packets of known
    /// connections, which runs where the nat table would (NF_IP_PRI_NAT_DST at PREROUTING and
    /// OUTPUT, NF_IP_PRI_NAT_SRC at INPUT and POSTROUTING).
    #[allow(clippy::too_many_arguments)]
    fn run_hook(
        &mut self,
        trace: &mut Trace,
        node: &str,
        packet: &mut Packet,
        direction: Direction,
        hook: Hook,
        ct: &Ct,
        mark: &mut u32,
        next: Option<&Host>,
    ) -> Result<(), Hop> {
        let nft = matches!(self.planes.get(node), Some(Plane::Nftables(_)));
        if nft {
            self.run_nft_hook(trace, node, packet, direction, hook, ct, mark, next)?;
            if !ct.new && hook != Hook::Forward {
                self.apply_stored_nat(trace, node, packet, direction, ct, hook);
            }
            return Ok(());
        }
        for table in hook.tables() {
            match table {
                TableName::Nat if ct.new => {
                    self.run_table_via(trace, node, packet, direction, hook, *table, ct, mark, next)?
                }
                TableName::Nat => self.apply_stored_nat(trace, node, packet, direction, ct, hook),
                TableName::Filter => {
                    self.run_table_via(trace, node, packet, direction, hook, *table, ct, mark, next)?
                }
                // lbplay's rulesets have no raw or mangle rules (kube-proxy writes none that matter
                // to a packet), so those tables only ever apply their ACCEPT policy.
                TableName::Raw | TableName::Mangle => {}
            }
        }
        Ok(())
    }
}

/// The TIME_WAIT timeout of an IPVS TCP connection (ip_vs_proto_tcp.c, `tcp_timeouts`).
const IPVS_TCP_FIN_TIMEOUT: u64 = 120;

/// An IPVS connection the simulation opened.
#[derive(Debug, Clone)]
struct IpvsConn {
    node: String,
    service: usize,
    conn: crate::ipvs::Conn,
    /// Set when the connection is closed.
    expires: Option<u64>,
}

/// One node's dataplane rules.
#[derive(Debug)]
enum Plane {
    /// iptables rules (iptables mode, and what remains of them in IPVS mode), with the chain
    /// index of the nat and filter tables.
    Netfilter { ruleset: Ruleset, indexes: BTreeMap<TableName, eval::ChainIndex> },
    /// The `ip kube-proxy` table of nftables mode.
    Nftables(crate::nftables::Ruleset),
}

impl Plane {
    fn netfilter(ruleset: Ruleset) -> Plane {
        let mut indexes = BTreeMap::new();
        for table in [TableName::Nat, TableName::Filter] {
            indexes.insert(table, eval::chain_index(&ruleset, table));
        }
        Plane::Netfilter { ruleset, indexes }
    }
}

/// A routing decision.
enum Route {
    /// For this host itself.
    Local,
    /// To a pod on this node, over the bridge and its veth.
    Pod(Host),
    /// To another host via the node's own interface (whose address is the second field).
    Node(Host, Ipv4Addr),
    /// By the default route, toward the gateway.
    Default(Host, Ipv4Addr),
}

/// Which conntrack entry a packet belongs to.
#[derive(Debug, Clone, Copy)]
struct Ct {
    /// The packet created a new entry (pending confirmation).
    new: bool,
    /// The confirmed entry it belongs to, and the direction.
    existing: Option<(usize, Dir)>,
}

impl<'a> Sim<'a> {
    fn entry(&self, node: &str, ct: &Ct) -> Option<&Entry> {
        match ct.existing {
            Some((index, _)) => self.conntrack.get(node).and_then(|table| table.get(index)),
            None => self.pending.iter().find(|(at, _)| at == node).map(|(_, entry)| entry),
        }
    }

    fn pending_mut(&mut self, node: &str) -> Option<&mut Entry> {
        self.pending.iter_mut().find(|(at, _)| at == node).map(|(_, entry)| entry)
    }

    fn ct_states(&self, node: &str, ct: &Ct) -> Vec<CtState> {
        let mut states = vec![if ct.new { CtState::New } else { CtState::Established }];
        if let Some(entry) = self.entry(node, ct) {
            // xt_conntrack.c: the virtual states DNAT and SNAT mean the tuples show a rewrite.
            if entry.dnat {
                states.push(CtState::Dnat);
            }
            if entry.snat {
                states.push(CtState::Snat);
            }
        }
        states
    }

    fn conntrack_in(&mut self, trace: &mut Trace, node: &str, packet: &Packet, direction: Direction, hook: Hook) -> Ct {
        let Ok(tuple) = packet.tuple() else { return Ct { new: false, existing: None } };
        let now = self.env.now;
        let found = self.conntrack.get(node).and_then(|table| table.lookup(&tuple, now));
        let (ct, note, verdict) = match found {
            Some((index, dir)) => {
                // The first reply flips the entry as conntrack's first hook sees it
                // (nf_conntrack_core.c sets IPS_SEEN_REPLY; nf_conntrack_proto_tcp.c moves a
                // SYN_SENT connection to SYN_RECV on the SYN-ACK, whose timeout is 60 s).
                if dir == Dir::Reply
                    && let Some(entry) = self.conntrack.get_mut(node).and_then(|table| table.get_mut(index))
                    && !entry.seen_reply
                {
                    entry.seen_reply = true;
                    entry.expires = now
                        + match entry.original.proto {
                            TupleProto::Udp => conntrack::UDP_STREAM_TIMEOUT,
                            _ => conntrack::TCP_SYN_RECV_TIMEOUT,
                        };
                }
                let which = match dir {
                    Dir::Original => ("original", "原始"),
                    Dir::Reply => ("reply", "应答"),
                };
                let note = Text::new(
                    format!(
                        "conntrack: the packet matches the {} tuple of an existing entry, so it is ESTABLISHED. The nat table is not consulted again: the stored NAT decision applies.",
                        which.0
                    ),
                    format!(
                        "conntrack：数据包匹配已有连接的{}方向元组，状态为 ESTABLISHED。不再查询 nat 表，直接套用已记录的 NAT 决定。",
                        which.1
                    ),
                );
                (Ct { new: false, existing: Some((index, dir)) }, note, "ESTABLISHED")
            }
            None => {
                let entry = Entry::new(tuple, now);
                let note = Text::new(
                    format!(
                        "conntrack: no entry matches {tuple}, so this is a NEW connection. An unconfirmed entry is created: original {} → {}, expected reply {} → {}.",
                        entry.original.src, entry.original.dst, entry.reply.src, entry.reply.dst
                    ),
                    format!(
                        "conntrack：没有匹配 {tuple} 的连接，这是新连接（NEW）。创建一条未确认的记录：原始方向 {} → {}，预期应答 {} → {}。",
                        entry.original.src, entry.original.dst, entry.reply.src, entry.reply.dst
                    ),
                );
                self.pending.retain(|(at, _)| at != node);
                self.pending.push((node.to_string(), entry));
                (Ct { new: true, existing: None }, note, "NEW")
            }
        };
        let mut s = step(node, direction, StepKind::Conntrack, packet, packet, verdict, note);
        s.hook = Some(hook.as_str());
        trace.steps.push(s);
        self.tag_last(trace, node, &ct);
        ct
    }

    /// Runs one table at one hook, records its events as steps, and applies a NAT target or a drop.
    #[allow(clippy::too_many_arguments)]
    fn run_table_via(
        &mut self,
        trace: &mut Trace,
        node: &str,
        packet: &mut Packet,
        direction: Direction,
        hook: Hook,
        table: TableName,
        ct: &Ct,
        mark: &mut u32,
        next: Option<&Host>,
    ) -> Result<(), Hop> {
        let meta = self.meta_for(node, packet, ct, *mark)?;
        let tuple = meta.tuple;
        let Some(Plane::Netfilter { ruleset, indexes }) = self.planes.get(node) else { return Ok(()) };
        // IPVS mode's rules match ipsets, which are per node.
        self.env.ipsets = self.ipvs.get(node).map(|state| state.ipsets.clone());
        // REDIRECT goes to the address of the interface the packet came in by
        // (nf_nat_redirect.c): the bridge's gateway for a local pod, the node's own otherwise.
        self.env.in_iface_addr = self.cluster.node(node).map(|this| {
            if this.pod_cidr.contains(*tuple.src.ip()) { this.pod_cidr.nth(1).unwrap_or(this.ip) } else { this.ip }
        });
        let outcome = eval::traverse_indexed(ruleset, table, hook, &meta, &mut self.env, indexes.get(&table));
        let count = outcome.events.len();
        for (index, event) in outcome.events.into_iter().enumerate() {
            let before = packet.clone();
            let mut rewrite = None;
            if index + 1 == count
                && let Verdict::Nat(nat) = &outcome.verdict
            {
                rewrite = self.apply_nat_target(node, packet, *nat, next);
            }
            let note = narrate(&event, &before, packet, rewrite.as_ref(), &meta);
            let rule = RuleEvent {
                chain: event.chain,
                rule: event.rule,
                verdict: event.verdict,
                skipped: event.skipped,
                note,
            };
            push_rule_step(trace, node, direction, hook, table.as_str(), &before, packet, rule);
            self.tag_last(trace, node, ct);
        }
        *mark = outcome.mark;
        self.conclude(trace, node, packet, direction, hook, table.as_str(), &outcome.verdict, tuple)
    }

    /// What the rules of `node` can see of a packet: its tuple, mark, conntrack state and the
    /// node's own addresses.
    fn meta_for(&self, node: &str, packet: &Packet, ct: &Ct, mark: u32) -> Result<Meta, Hop> {
        let Ok(tuple) = packet.tuple() else { return Err(Hop::Dropped("unreadable packet".into())) };
        Ok(Meta { tuple, mark, ct_states: self.ct_states(node, ct), local_addrs: self.local_addrs(node) })
    }

    /// Sets the last step's conntrack entry to this connection's entry on `node`, as it stands now.
    fn tag_last(&self, trace: &mut Trace, node: &str, ct: &Ct) {
        let line = self.entry(node, ct).map(|entry| entry.to_string());
        if let Some(step) = trace.steps.last_mut() {
            step.conntrack = line;
        }
    }

    /// Runs every nftables base chain registered at `hook`, records the events as steps, and
    /// applies a NAT statement or a drop.
    #[allow(clippy::too_many_arguments)]
    fn run_nft_hook(
        &mut self,
        trace: &mut Trace,
        node: &str,
        packet: &mut Packet,
        direction: Direction,
        hook: Hook,
        ct: &Ct,
        mark: &mut u32,
        next: Option<&Host>,
    ) -> Result<(), Hop> {
        let meta = self.meta_for(node, packet, ct, *mark)?;
        let tuple = meta.tuple;
        let planes = std::sync::Arc::clone(&self.planes);
        let Some(Plane::Nftables(ruleset)) = planes.get(node) else { return Ok(()) };
        let outcome = crate::nftables::eval::traverse(ruleset, hook, &meta, &mut self.env);
        for (index, event) in outcome.events.into_iter().enumerate() {
            let before = packet.clone();
            let mut rewrite = None;
            if Some(index) == outcome.nat_event
                && let Verdict::Nat(nat) = &outcome.verdict
            {
                rewrite = self.apply_nat_target(node, packet, *nat, next);
            }
            let note = narrate_nft(&event, rewrite.as_ref());
            let rule = RuleEvent {
                chain: event.chain,
                rule: event.rule,
                verdict: event.verdict,
                skipped: event.skipped,
                note,
            };
            push_rule_step(trace, node, direction, hook, "kube-proxy", &before, packet, rule);
            self.tag_last(trace, node, ct);
        }
        *mark = outcome.mark;
        self.conclude(trace, node, packet, direction, hook, "kube-proxy", &outcome.verdict, tuple)
    }

    /// Ends a hook's rules: on to the next stage, or a drop, or a REJECT with what it answers.
    #[allow(clippy::too_many_arguments)]
    fn conclude(
        &mut self,
        trace: &mut Trace,
        node: &str,
        packet: &Packet,
        direction: Direction,
        hook: Hook,
        table: &'static str,
        verdict: &Verdict,
        tuple: Tuple,
    ) -> Result<(), Hop> {
        let chain = trace.steps.last().and_then(|s| s.chain.clone()).unwrap_or_default();
        match verdict {
            Verdict::Accept | Verdict::Nat(_) => Ok(()),
            Verdict::Drop => Err(Hop::Dropped(format!("dropped by {table} {chain} on {node}"))),
            Verdict::Reject(with) => {
                let (en, zh) = match with {
                    crate::netfilter::RejectWith::IcmpPortUnreachable => (
                        format!(
                            "REJECT answers {} with an ICMP port unreachable (type 3, code 3); the client's connect() fails at once with ECONNREFUSED — \"connection refused\", not a timeout.",
                            tuple.src
                        ),
                        format!(
                            "REJECT 向 {} 回送 ICMP 端口不可达（类型 3，代码 3）；客户端的 connect() 立即以 ECONNREFUSED 失败——是“连接被拒绝”，而不是超时。",
                            tuple.src
                        ),
                    ),
                    crate::netfilter::RejectWith::TcpReset => (
                        format!("REJECT answers {} with a TCP RST; the client sees \"connection refused\".", tuple.src),
                        format!("REJECT 向 {} 回送 TCP RST；客户端看到“连接被拒绝”。", tuple.src),
                    ),
                };
                self.rejected = Some((node.to_string(), packet.clone()));
                let mut s = step(node, direction, StepKind::Drop, packet, packet, "REJECTED", Text::new(en, zh));
                s.hook = Some(hook.as_str());
                s.table = Some(table);
                trace.steps.push(s);
                let rule = trace.steps.iter().rev().find_map(|s| s.rule.clone()).unwrap_or_default();
                Err(Hop::Dropped(format!("rejected on {node}: {rule}")))
            }
        }
    }

    /// IPVS for a connection's first packet to a virtual server (`ip_vs_in`): the lookup, the
    /// persistence template or the scheduler, the connection, and the Masq rewrite to the real
    /// server (`ip_vs_nat_xmit`), which also alters conntrack's reply tuple
    /// (`ip_vs_update_conntrack`, net.ipv4.vs.conntrack=1). `Ok(false)` when the packet is for no
    /// virtual server.
    fn ipvs_request(
        &mut self,
        trace: &mut Trace,
        node: &str,
        packet: &mut Packet,
        direction: Direction,
        ct: &Ct,
        hook: Hook,
    ) -> Result<bool, Hop> {
        if direction != Direction::Original || !ct.new {
            return Ok(false);
        }
        let Ok(tuple) = packet.tuple() else { return Ok(false) };
        let Some(proto) = tuple.proto.as_proto() else { return Ok(false) };
        let now = self.env.now;
        let Some(state) = self.ipvs.get_mut(node) else { return Ok(false) };
        let Some(vs_index) = state.lookup(proto, tuple.dst) else { return Ok(false) };
        let origin = state.origins.get(vs_index).map(|o| o.service_port.clone()).unwrap_or_default();
        let service = &mut state.services[vs_index];
        let scheduler = service.scheduler();
        let persistent = service.flags & crate::ipvs::IP_VS_SVC_F_PERSISTENT != 0;
        let key = (node.to_string(), vs_index, *tuple.src.ip());
        let template = self.templates.get(&key).filter(|(_, expires)| *expires >= now).map(|(dest, _)| *dest);
        let (chosen, why) = match template {
            Some(dest) if persistent => {
                let addr = service.dests().get(dest).map(|d| d.addr.to_string()).unwrap_or_default();
                (
                    Some(dest),
                    Text::new(
                        format!(
                            "a persistence template (ClientIP affinity, {} s) already sends {} to {addr}; the scheduler is not asked",
                            service.timeout,
                            tuple.src.ip()
                        ),
                        format!(
                            "已有持久化模板（ClientIP 会话保持，{} 秒）把 {} 发往 {addr}；不再询问调度器",
                            service.timeout,
                            tuple.src.ip()
                        ),
                    ),
                )
            }
            _ => {
                let decision = service.schedule(tuple.src, now, &mut self.env.rng);
                (decision.chosen, decision.explanation)
            }
        };
        let before = packet.clone();
        let Some(dest_index) = chosen else {
            let note = Text::new(
                format!(
                    "IPVS ({}): {} is virtual server {} ({}), but the {} scheduler found no available real server: {}. The packet is dropped.",
                    hook.as_str(),
                    tuple.dst,
                    origin,
                    proto,
                    scheduler.name(),
                    why.en
                ),
                format!(
                    "IPVS（{}）：{} 是虚拟服务 {}（{}），但 {} 调度器找不到可用的真实服务器：{}。数据包被丢弃。",
                    hook.as_str(),
                    tuple.dst,
                    origin,
                    proto,
                    scheduler.name(),
                    why.zh
                ),
            );
            let mut s = step(node, direction, StepKind::Ipvs, &before, packet, "NO DESTINATION", note);
            s.hook = Some(hook.as_str());
            trace.steps.push(s);
            return Err(Hop::Dropped(format!("IPVS on {node} found no real server for {}", tuple.dst)));
        };
        if persistent {
            self.templates.insert(key, (dest_index, now + u64::from(service.timeout)));
        }
        let dest = service.dests()[dest_index].addr;
        // The chosen real server's line of `ipvsadm -Ln`, for views to highlight.
        let chosen_at = crate::ipvs::real_server_at(service, dest_index);
        let conn = service.conn_open(dest_index);
        self.ipvs_conns.push(IpvsConn { node: node.to_string(), service: vs_index, conn, expires: None });
        if packet.set_dst(dest).is_err() {
            return Err(Hop::Dropped("the packet could not be rewritten".into()));
        }
        if let Some(entry) = self.pending_mut(node) {
            entry.set_dnat(dest);
            entry.ipvs = true;
        }
        let hook_fn = if hook == Hook::Output { "ip_vs_local_request4" } else { "ip_vs_remote_request4" };
        let note = Text::new(
            format!(
                "IPVS ({} hook, {hook_fn}): {} is a virtual server of {} (scheduler {}). {}. Masq forwarding rewrites the destination {} → {dest}, recomputes both checksums and updates conntrack's reply tuple.",
                hook.as_str(),
                tuple.dst,
                origin,
                scheduler.name(),
                why.en,
                tuple.dst
            ),
            format!(
                "IPVS（{} 钩子，{hook_fn}）：{} 是 {} 的虚拟服务（调度器 {}）。{}。Masq 转发把目的地址 {} 改写为 {dest}，重算两个校验和，并更新 conntrack 的应答元组。",
                hook.as_str(),
                tuple.dst,
                origin,
                scheduler.name(),
                why.zh,
                tuple.dst
            ),
        );
        let mut s = step(node, direction, StepKind::Ipvs, &before, packet, &format!("MASQ → {dest}"), note);
        s.hook = Some(hook.as_str());
        s.rule_at = Some(chosen_at);
        trace.steps.push(s);
        self.tag_last(trace, node, ct);
        Ok(true)
    }

    /// IPVS undoing its rewrite on a reply (`ip_vs_out`, at FORWARD or LOCAL_IN): the source goes
    /// back from the real server to the virtual server.
    fn ipvs_reply(
        &mut self,
        trace: &mut Trace,
        node: &str,
        packet: &mut Packet,
        direction: Direction,
        ct: &Ct,
        hook: Hook,
    ) {
        let Some((_, Dir::Reply)) = ct.existing else { return };
        let Some(entry) = self.entry(node, ct).cloned() else { return };
        if !entry.ipvs {
            return;
        }
        let before = packet.clone();
        let Ok(tuple) = packet.tuple() else { return };
        if packet.set_src(entry.original.dst).is_err() {
            return;
        }
        let note = Text::new(
            format!(
                "IPVS ({} hook, ip_vs_out): the reply belongs to an IPVS connection, so its source {} is rewritten back to the virtual server {}; the client sees the address it called.",
                hook.as_str(),
                tuple.src,
                entry.original.dst
            ),
            format!(
                "IPVS（{} 钩子，ip_vs_out）：该应答属于一个 IPVS 连接，源地址 {} 被改回虚拟服务地址 {}；客户端看到的是它所访问的地址。",
                hook.as_str(),
                tuple.src,
                entry.original.dst
            ),
        );
        let mut s = step(node, direction, StepKind::Ipvs, &before, packet, "UN-MASQ", note);
        s.hook = Some(hook.as_str());
        trace.steps.push(s);
        self.tag_last(trace, node, ct);
    }

    /// What the client receives after a REJECT: the node builds an ICMP port unreachable quoting
    /// the refused packet and sends it back; it is RELATED to the connection, so conntrack and the
    /// rules let it through, and the client's connect() fails with ECONNREFUSED.
    fn send_icmp_unreachable(&mut self, trace: &mut Trace, node: &str, refused: &Packet, sender: &Host) {
        let Some(this) = self.cluster.node(node) else { return };
        // icmp_send takes the source address of the route back to the client: the bridge
        // gateway toward a pod on this node, the node's own address otherwise.
        let from = match sender {
            Host::Pod { node: pod_node, .. } if pod_node == node => this.pod_cidr.nth(1).unwrap_or(this.ip),
            _ => this.ip,
        };
        let ident = self.next_ident;
        self.next_ident = self.next_ident.wrapping_add(1);
        let Ok(icmp) = Packet::icmp_port_unreachable(from, refused, ident) else { return };
        let note = Text::new(
            format!(
                "REJECT makes the kernel answer (nf_send_unreach): an ICMP destination unreachable, code 3 (port unreachable), from {from} to {}, quoting the refused packet's IPv4 header and first 8 bytes. It is RELATED to the connection in conntrack.",
                sender.ip()
            ),
            format!(
                "REJECT 让内核回复（nf_send_unreach）：一个 ICMP 目的不可达、代码 3（端口不可达），从 {from} 发往 {}，其中引用被拒绝数据包的 IPv4 头部和其后 8 个字节。conntrack 把它视为该连接的 RELATED 流量。",
                sender.ip()
            ),
        );
        let mut s = step(node, Direction::Reply, StepKind::Send, &icmp, &icmp, "ICMP PORT UNREACHABLE", note);
        s.hook = Some("OUTPUT");
        trace.steps.push(s);
        let note = Text::new(
            format!("The ICMP error leaves {node} for {}.", sender.label()),
            format!("ICMP 错误离开 {node}，发往 {}。", sender.label()),
        );
        trace.steps.push(step(
            node,
            Direction::Reply,
            StepKind::Wire,
            &icmp,
            &icmp,
            &format!("→ {}", sender.name()),
            note,
        ));
        let note = Text::new(
            format!(
                "{} receives the ICMP port unreachable: its connect() fails at once with ECONNREFUSED, \"connection refused\".",
                sender.label()
            ),
            format!("{} 收到 ICMP 端口不可达：它的 connect() 立即以 ECONNREFUSED 失败，“连接被拒绝”。", sender.label()),
        );
        trace.steps.push(step(sender.name(), Direction::Reply, StepKind::Deliver, &icmp, &icmp, "ECONNREFUSED", note));
    }

    /// Carries out a NAT target on the packet and records the binding in the pending entry.
    fn apply_nat_target(
        &mut self,
        node: &str,
        packet: &mut Packet,
        nat: NatTarget,
        next: Option<&Host>,
    ) -> Option<(SocketAddrV4, SocketAddrV4)> {
        let tuple = packet.tuple().ok()?;
        match nat {
            NatTarget::Dnat { ip, port } => {
                let to = SocketAddrV4::new(ip, port.unwrap_or(tuple.dst.port()));
                packet.set_dst(to).ok()?;
                if let Some(entry) = self.pending_mut(node) {
                    entry.set_dnat(to);
                }
                Some((tuple.dst, to))
            }
            NatTarget::Snat { ip, port } => {
                let to = SocketAddrV4::new(ip, port.unwrap_or(tuple.src.port()));
                packet.set_src(to).ok()?;
                if let Some(entry) = self.pending_mut(node) {
                    entry.set_snat(to);
                }
                Some((tuple.src, to))
            }
            NatTarget::Masquerade { random_fully } => {
                // MASQUERADE takes the address of the interface the packet leaves by
                // (nf_nat_masquerade.c, `inet_select_addr`): the bridge's gateway address toward a
                // local pod, the node's own address toward anything else.
                let this = self.cluster.node(node)?;
                let ip = match next {
                    Some(Host::Pod { node: pod_node, .. }) if pod_node == node => {
                        this.pod_cidr.nth(1).unwrap_or(this.ip)
                    }
                    _ => this.ip,
                };
                // `--random-fully` draws the port (nf_nat_proto.c, `nf_nat_l4proto_unique_tuple`
                // with NF_NAT_RANGE_PROTO_RANDOM_FULLY) from 1024–65535 for a source port ≥ 1024.
                let mut port = tuple.src.port();
                let now = self.env.now;
                for _ in 0..64 {
                    if random_fully {
                        port = self.env.rng.range_u16(1024, 65535);
                    }
                    let reply = Tuple { src: tuple.dst, dst: SocketAddrV4::new(ip, port), proto: tuple.proto };
                    let used = self.conntrack.get(node).is_some_and(|table| table.reply_in_use(&reply, now));
                    if !used {
                        break;
                    }
                    if !random_fully {
                        port = port.wrapping_add(1).max(1024);
                    }
                }
                let to = SocketAddrV4::new(ip, port);
                packet.set_src(to).ok()?;
                if let Some(entry) = self.pending_mut(node) {
                    entry.set_snat(to);
                }
                Some((tuple.src, to))
            }
        }
    }

    /// Applies a confirmed entry's stored NAT to a later packet (nf_nat_core.c `nf_nat_packet`).
    fn apply_stored_nat(
        &mut self,
        trace: &mut Trace,
        node: &str,
        packet: &mut Packet,
        direction: Direction,
        ct: &Ct,
        hook: Hook,
    ) {
        let Some((_, dir)) = ct.existing else { return };
        let Some(entry) = self.entry(node, ct).cloned() else { return };
        let Ok(tuple) = packet.tuple() else { return };
        let dst_manip = matches!(hook, Hook::Prerouting | Hook::Output);
        let change = match (dst_manip, dir) {
            (true, Dir::Original) if entry.dnat => Some((false, entry.reply.src)),
            (true, Dir::Reply) if entry.snat => Some((false, entry.original.src)),
            (false, Dir::Original) if entry.snat => Some((true, entry.reply.dst)),
            (false, Dir::Reply) if entry.dnat && !entry.ipvs => Some((true, entry.original.dst)),
            _ => None,
        };
        let Some((source, to)) = change else { return };
        let before = packet.clone();
        let (field_en, field_zh, from) =
            if source { ("source", "源地址", tuple.src) } else { ("destination", "目的地址", tuple.dst) };
        let ok = if source { packet.set_src(to) } else { packet.set_dst(to) };
        if ok.is_err() {
            return;
        }
        let why_en = match (source, dir) {
            (true, Dir::Reply) => "this undoes the DNAT, so the client sees the reply come from the address it called",
            (false, Dir::Reply) => "this undoes the SNAT, so the reply reaches the real client",
            _ => "the same rewrite as the connection's first packet",
        };
        let why_zh = match (source, dir) {
            (true, Dir::Reply) => "这是撤销 DNAT，客户端看到应答来自它所访问的地址",
            (false, Dir::Reply) => "这是撤销 SNAT，应答得以回到真正的客户端",
            _ => "与该连接第一个包相同的改写",
        };
        let note = Text::new(
            format!(
                "conntrack NAT at {}: {field_en} {from} → {to}; {why_en}. Both checksums are recomputed.",
                hook.as_str()
            ),
            format!(
                "conntrack 在 {} 做 NAT：{field_zh} {from} → {to}；{why_zh}。IP 与 TCP 校验和随之重算。",
                hook.as_str()
            ),
        );
        let mut s = step(
            node,
            direction,
            StepKind::Conntrack,
            &before,
            packet,
            if source { "UN-DNAT" } else { "UN-SNAT" },
            note,
        );
        if matches!(dir, Dir::Original) {
            s.verdict = if source { "SNAT".into() } else { "DNAT".into() };
        }
        s.hook = Some(hook.as_str());
        s.table = Some("nat");
        trace.steps.push(s);
        self.tag_last(trace, node, ct);
    }

    /// Confirms a new entry as the packet leaves the last hook, or marks a reply as seen.
    fn confirm(&mut self, trace: &mut Trace, node: &str, packet: &Packet, direction: Direction, ct: &Ct, hook: Hook) {
        if ct.new {
            let Some(position) = self.pending.iter().position(|(at, _)| at == node) else { return };
            let (_, mut entry) = self.pending.swap_remove(position);
            entry.expires = self.env.now
                + match entry.original.proto {
                    TupleProto::Udp => conntrack::UDP_TIMEOUT,
                    _ => conntrack::TCP_SYN_SENT_TIMEOUT,
                };
            let line = entry.to_string();
            self.conntrack.entry(node.to_string()).or_default().confirm(entry);
            let note = Text::new(
                format!(
                    "conntrack confirms the entry as the packet leaves {}: `{line}`. Every later packet of this connection, and every reply, is matched against it.",
                    hook.as_str()
                ),
                format!(
                    "数据包离开 {} 时 conntrack 确认该连接：`{line}`。此后该连接的每个包及每个应答都按它匹配。",
                    hook.as_str()
                ),
            );
            let mut s = step(node, direction, StepKind::Conntrack, packet, packet, "CONFIRMED", note);
            s.hook = Some(hook.as_str());
            trace.steps.push(s);
            if let Some(step) = trace.steps.last_mut() {
                step.conntrack = Some(line.clone());
            }
        }
    }

    fn push_route(
        &self,
        trace: &mut Trace,
        node: &str,
        packet: &Packet,
        direction: Direction,
        route: &Route,
        local_out: bool,
    ) {
        self.push_route_from(trace, node, packet, packet, direction, route, local_out);
    }

    #[allow(clippy::too_many_arguments)]
    fn push_route_from(
        &self,
        trace: &mut Trace,
        node: &str,
        before: &Packet,
        packet: &Packet,
        direction: Direction,
        route: &Route,
        local_out: bool,
    ) {
        let Ok(tuple) = packet.tuple() else { return };
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
        let ttl_en = if before != packet {
            " The TTL drops by one (ip_decrease_ttl), so the header checksum changes too."
        } else {
            ""
        };
        let ttl_zh =
            if before != packet { "TTL 减一（ip_decrease_ttl），头部校验和随之改变。" } else { "" };
        let mut s = step(
            node,
            direction,
            StepKind::Routing,
            before,
            packet,
            &verdict,
            Text::new(format!("{en}{ttl_en}"), format!("{zh}{ttl_zh}")),
        );
        s.hook = Some("routing");
        trace.steps.push(s);
    }

    fn push_drop(&self, trace: &mut Trace, node: &str, packet: &Packet, direction: Direction, reason: &str) {
        let note = Text::new(format!("Dropped: {reason}."), format!("丢弃：{reason}。"));
        trace.steps.push(step(node, direction, StepKind::Drop, packet, packet, "DROP", note));
    }
}

/// A matched rule (or a chain policy) as either dataplane reports it, with its narration.
struct RuleEvent {
    chain: String,
    rule: Option<(crate::trace::RuleAt, String)>,
    verdict: String,
    skipped: Vec<crate::trace::RuleAt>,
    note: Text,
}

/// Records a rule event as a netfilter step.
#[allow(clippy::too_many_arguments)]
fn push_rule_step(
    trace: &mut Trace,
    node: &str,
    direction: Direction,
    hook: Hook,
    table: &'static str,
    before: &Packet,
    after: &Packet,
    event: RuleEvent,
) {
    let mut s = step(node, direction, StepKind::Netfilter, before, after, &event.verdict, event.note);
    s.hook = Some(hook.as_str());
    s.table = Some(table);
    s.chain = Some(event.chain);
    s.skipped = event.skipped.len() as u32;
    s.skipped_rules = event.skipped;
    if let Some((at, text)) = event.rule {
        s.rule = Some(text);
        s.rule_at = Some(at);
    }
    trace.steps.push(s);
}

fn step(
    node: &str,
    direction: Direction,
    kind: StepKind,
    before: &Packet,
    after: &Packet,
    verdict: &str,
    note: Text,
) -> Step {
    Step {
        node: node.to_string(),
        direction,
        kind,
        hook: None,
        table: None,
        chain: None,
        rule: None,
        rule_at: None,
        verdict: verdict.to_string(),
        skipped: 0,
        skipped_rules: Vec::new(),
        before: before.clone(),
        after: after.clone(),
        note,
        conntrack: None,
        stage: None,
        request: None,
        stream: None,
    }
}

fn describe(packet: &Packet) -> String {
    match (packet.tuple(), packet.tcp_flags()) {
        (Ok(tuple), Some(flags)) => format!("TCP [{flags}] {} → {}", tuple.src, tuple.dst),
        (Ok(tuple), None) => format!("UDP {} → {}", tuple.src, tuple.dst),
        _ => "an unreadable packet".into(),
    }
}

/// One sentence, in both languages, on what a matched rule or a policy did and why.
fn narrate(
    event: &eval::Event,
    before: &Packet,
    after: &Packet,
    rewrite: Option<&(SocketAddrV4, SocketAddrV4)>,
    meta: &Meta,
) -> Text {
    let chain = event.chain.as_str();
    let skipped = event.skipped.len();
    let skipped_en = if skipped > 0 {
        format!(" ({skipped} rule{} before it did not match.)", if skipped == 1 { "" } else { "s" })
    } else {
        String::new()
    };
    let skipped_zh =
        if skipped > 0 { format!("（此前有 {skipped} 条规则未匹配。）") } else { String::new() };
    let Some((_, text)) = &event.rule else {
        return Text::new(
            format!(
                "The end of the built-in chain {chain} is reached: its policy {} applies.{skipped_en}",
                event.verdict
            ),
            format!("到达内置链 {chain} 的末尾：执行其默认策略 {}。{skipped_zh}", event.verdict),
        );
    };
    let comment = text.split("--comment ").nth(1).map(|rest| {
        if let Some(stripped) = rest.strip_prefix('"') {
            stripped.split('"').next().unwrap_or("").to_string()
        } else {
            rest.split(' ').next().unwrap_or("").to_string()
        }
    });
    let detail = event.detail.clone().map(|d| format!(" [{d}]")).unwrap_or_default();
    let verdict = event.verdict.as_str();
    let tuple = meta.tuple;
    let (en, zh) = if let Some((from, to)) = rewrite {
        let changed_dst = before.tuple().ok().map(|t| t.dst) != after.tuple().ok().map(|t| t.dst);
        if verdict == "REDIRECT" {
            (
                format!(
                    "REDIRECT: the destination {from} is rewritten to {to}, kube-proxy's own socket on this node (the address of the interface the packet came in by). Both checksums are recomputed and conntrack records the binding."
                ),
                format!(
                    "REDIRECT：目的地址 {from} 被改写为 {to}，即本节点上 kube-proxy 自己的套接字（数据包进入接口的地址）。两个校验和重新计算，conntrack 记下这一映射。"
                ),
            )
        } else if changed_dst {
            (
                format!(
                    "{verdict}: the destination {from} is rewritten to the chosen endpoint {to}. The IPv4 header checksum and the TCP/UDP checksum are recomputed, and conntrack records the binding so the reply can be reversed."
                ),
                format!(
                    "{verdict}：目的地址 {from} 被改写为选中的端点 {to}。IPv4 头部校验和与 TCP/UDP 校验和重新计算，conntrack 记下这一映射，以便反向改写应答。"
                ),
            )
        } else {
            (
                format!(
                    "{verdict}: the source {from} is rewritten to {to}, this node's address on the way out, so the reply must come back through this node."
                ),
                format!("{verdict}：源地址 {from} 被改写为 {to}（本节点出接口地址），因此应答必须经过本节点返回。"),
            )
        }
    } else if let Some(target) = verdict.strip_prefix("JUMP:").or_else(|| verdict.strip_prefix("GOTO:")) {
        let why_en = match comment.as_deref() {
            Some(c) if c.ends_with("cluster IP") && target.starts_with("KUBE-MARK-MASQ") => format!(
                "the source {} is outside the cluster CIDR, so the connection is marked for masquerading",
                tuple.src.ip()
            ),
            Some(c) if c.ends_with("cluster IP") => {
                format!("{} is the ClusterIP and port of {}", tuple.dst, c.trim_end_matches(" cluster IP"))
            }
            Some(c) if c.contains(" -> ") => {
                format!("this rule picks the endpoint {}", c.split(" -> ").nth(1).unwrap_or(""))
            }
            Some(c) if c.contains("service nodeports") => {
                format!("{} is a local address of this node, so NodePorts are checked", tuple.dst.ip())
            }
            Some(c) => format!("rule \"{c}\" matched"),
            None if target == "KUBE-MARK-MASQ" => "the packet must be masqueraded".to_string(),
            None => "the rule matched".to_string(),
        };
        let why_zh = match comment.as_deref() {
            Some(c) if c.ends_with("cluster IP") && target.starts_with("KUBE-MARK-MASQ") => {
                format!("源地址 {} 不在集群网段内，连接被打上 SNAT 标记", tuple.src.ip())
            }
            Some(c) if c.ends_with("cluster IP") => {
                format!("{} 是 {} 的 ClusterIP 和端口", tuple.dst, c.trim_end_matches(" cluster IP"))
            }
            Some(c) if c.contains(" -> ") => format!("这条规则选中端点 {}", c.split(" -> ").nth(1).unwrap_or("")),
            Some(c) if c.contains("service nodeports") => {
                format!("{} 是本节点的地址，于是检查 NodePort", tuple.dst.ip())
            }
            Some(c) => format!("规则“{c}”匹配"),
            None if target == "KUBE-MARK-MASQ" => "该数据包需要做 SNAT（masquerade）".to_string(),
            None => "规则匹配".to_string(),
        };
        (
            format!("Jump to {target}: {why_en}.{detail}{skipped_en}"),
            format!("跳转到 {target}：{why_zh}。{detail}{skipped_zh}"),
        )
    } else {
        match verdict {
            "CONTINUE" if text.contains("MARK") && text.ends_with("/0x0") => (
                format!(
                    "MARK clears bit 0x4000 again (XOR), so a packet that passes through the stack once more is not masqueraded twice.{skipped_en}"
                ),
                format!("MARK 再次清除 0x4000 位（异或），以免数据包再次经过协议栈时被重复 masquerade。{skipped_zh}"),
            ),
            "CONTINUE" if text.contains("MARK") => (
                format!(
                    "MARK sets bit 0x4000 in the packet's mark ({:#x} now): KUBE-POSTROUTING will masquerade it.{skipped_en}",
                    meta.mark | 0x4000
                ),
                format!("MARK 在数据包标记上置位 0x4000：KUBE-POSTROUTING 会对它做 masquerade。{skipped_zh}"),
            ),
            "RETURN" if chain == "KUBE-POSTROUTING" => (
                format!(
                    "RETURN from {chain}: the packet carries no masquerade mark, so no SNAT is needed.{skipped_en}"
                ),
                format!("从 {chain} 返回：数据包没有 masquerade 标记，不需要 SNAT。{skipped_zh}"),
            ),
            "RETURN" => (
                format!("RETURN from {chain}: back to the chain that jumped here.{skipped_en}"),
                format!("从 {chain} 返回到跳转过来的链。{skipped_zh}"),
            ),
            "ACCEPT" => (
                format!(
                    "ACCEPT in {chain}: {}.{skipped_en}",
                    comment.clone().unwrap_or_else(|| "the rule accepts the packet".into())
                ),
                format!("在 {chain} 中 ACCEPT：{}。{skipped_zh}", comment.unwrap_or_else(|| "规则接受该数据包".into())),
            ),
            "DROP" => (
                format!(
                    "DROP in {chain}: {}. The packet is discarded silently; the client only sees a timeout.{skipped_en}",
                    comment.clone().unwrap_or_default()
                ),
                format!(
                    "在 {chain} 中 DROP：{}。数据包被静默丢弃，客户端只会看到超时。{skipped_zh}",
                    comment.clone().unwrap_or_default()
                ),
            ),
            "REJECT" => (
                format!("REJECT in {chain}: {}.{skipped_en}", comment.clone().unwrap_or_default()),
                format!("在 {chain} 中 REJECT：{}。{skipped_zh}", comment.clone().unwrap_or_default()),
            ),
            _ => (format!("{verdict} in {chain}.{skipped_en}"), format!("{chain} 中的 {verdict}。{skipped_zh}")),
        }
    };
    Text::new(en, zh)
}

/// One sentence, in both languages, on what an nftables rule or base-chain policy did.
fn narrate_nft(event: &crate::nftables::eval::Event, rewrite: Option<&(SocketAddrV4, SocketAddrV4)>) -> Text {
    let chain = event.chain.as_str();
    let skipped = event.skipped.len();
    let skipped_en = if skipped > 0 {
        format!(" ({skipped} rule{} before it did not match.)", if skipped == 1 { "" } else { "s" })
    } else {
        String::new()
    };
    let skipped_zh =
        if skipped > 0 { format!("（此前有 {skipped} 条规则未匹配。）") } else { String::new() };
    let detail_en = event.detail.clone().map(|d| format!(" [{d}]")).unwrap_or_default();
    let verdict = event.verdict.as_str();
    if event.rule.is_none() {
        return Text::new(
            format!("The base chain {} (priority {}) ends: {verdict}.{skipped_en}", event.base_chain, event.priority),
            format!("基础链 {}（优先级 {}）结束：{verdict}。{skipped_zh}", event.base_chain, event.priority),
        );
    }
    if let Some((from, to)) = rewrite {
        return Text::new(
            format!(
                "{verdict} in {chain}: {from} is rewritten to {to}; both checksums are recomputed and conntrack records the binding.{detail_en}{skipped_en}"
            ),
            format!(
                "{chain} 中的 {verdict}：{from} 被改写为 {to}；两个校验和重新计算，conntrack 记下这一映射。{detail_en}{skipped_zh}"
            ),
        );
    }
    if let Some(target) = verdict.strip_prefix("jump ").or_else(|| verdict.strip_prefix("goto ")) {
        let why_en = if target.starts_with("service-") || target.starts_with("external-") {
            "the destination is a Service's address and port, found in a verdict map".to_string()
        } else if target.starts_with("endpoint-") {
            "numgen picked this endpoint".to_string()
        } else if target == "mark-for-masquerade" {
            "the packet must be masqueraded".to_string()
        } else {
            format!("the rule in {chain} matched")
        };
        let why_zh = if target.starts_with("service-") || target.starts_with("external-") {
            "目的地址和端口属于某个 Service，在判决映射（verdict map）中找到".to_string()
        } else if target.starts_with("endpoint-") {
            "numgen 选中了这个端点".to_string()
        } else if target == "mark-for-masquerade" {
            "该数据包需要做 masquerade".to_string()
        } else {
            format!("{chain} 中的规则匹配")
        };
        return Text::new(
            format!("{verdict}: {why_en}.{detail_en}{skipped_en}"),
            format!("{verdict}：{why_zh}。{detail_en}{skipped_zh}"),
        );
    }
    let (en, zh) = match verdict {
        "drop" => {
            ("the packet is discarded silently; the client only sees a timeout", "数据包被静默丢弃，客户端只会看到超时")
        }
        "reject" => ("the packet is refused with an ICMP error", "数据包被拒绝并回送 ICMP 错误"),
        "accept" => ("the packet is accepted by this base chain", "该基础链接受数据包"),
        "return" => ("back to the calling chain", "返回调用它的链"),
        _ => ("the rule matched and the packet goes on", "规则匹配，数据包继续"),
    };
    Text::new(
        format!("{verdict} in {chain}: {en}.{detail_en}{skipped_en}"),
        format!("{chain} 中的 {verdict}：{zh}。{detail_en}{skipped_zh}"),
    )
}
