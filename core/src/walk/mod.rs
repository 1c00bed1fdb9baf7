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
//!
//! This module owns the walk's entry points (`trace`, `Sim::connect`) and the loop that carries a
//! packet from host to host (`Sim::walk`); each stage a packet meets lives in its own file:
//! `host` (who sends and receives), `node` (the order of one node's hooks), `routing`, `hook`
//! (the rules of one netfilter hook), `ct` (conntrack's entry), `nat` (the rewrites), `ipvs_hook`
//! (IPVS), `reject` (REJECT's ICMP error), `proxy` (a process that accepts a connection and opens
//! another) and `narrate` (the sentences of each step). `send` opens many connections in a row.

mod ct;
mod envoy_hop;
mod exchange;
mod hook;
mod host;
mod ingress_hop;
mod ipvs_hook;
mod narrate;
mod nat;
mod node;
mod pod_ns;
mod proxy;
mod reject;
mod routing;
mod send;
mod streams;

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddrV4};

use crate::conntrack::{self, Entry};
use crate::dataplane::Env;
use crate::kubeproxy::iptables;
use crate::kubeproxy::ipvs_mode::IpvsState;
use crate::model::{Cluster, ProxyMode};
use crate::net::Proto;
use crate::packet::{Packet, PacketError, TcpFlags, Tuple};
use crate::trace::{Direction, Step, StepKind, Text, Trace};

use ct::Ct;
pub use exchange::{GrpcLb, HttpOptions, MAX_TRACE_REQUESTS, Resolved, fetch, resolve_target};
use hook::Plane;
pub use host::{Host, resolve_host};
use ipvs_hook::{IPVS_TCP_FIN_TIMEOUT, IpvsConn};
pub use send::{Load, MAX_CONNECTIONS, MAX_REQUESTS, Requests, Sends, Sent, SentRequest, send, send_requests};

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
///
/// A `to` that is a URL (`http://web/hello`) sends one HTTP request with curl's defaults; `fetch`
/// takes the method, headers and `--resolve` entries too.
pub fn trace(cluster: &Cluster, request: &Request) -> Result<Trace, WalkError> {
    if crate::http::url::Target::is_url(&request.to) {
        return fetch(cluster, request, &HttpOptions::default());
    }
    let mut sim = Sim::new(cluster, request.seed, request.now)?;
    sim.connect(&request.from, &request.to, request.proto)
}

/// The simulator state that outlives one connection.
#[derive(Debug, Clone)]
pub struct Sim<'a> {
    cluster: &'a Cluster,
    /// Each node's dataplane rules, built when a packet first reaches the node (a walk crosses two
    /// or three of a hundred nodes), and shared: a `Sim` is cloned to replay from a state, and
    /// rules never change.
    planes: BTreeMap<String, std::sync::Arc<Plane>>,
    seed: u64,
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
    /// ingress-nginx's configuration and its balancers' state, per controller pod.
    ingress: ingress_hop::State,
    /// The REDIRECTs the conntrack of injected pods' network namespaces remember.
    pod_nat: Vec<pod_ns::PodNat>,
    /// The uid and gid of the socket a pod is sending from: the app's, or Envoy's 1337 while a
    /// sidecar sends; `-m owner` in the pod's nat table reads it.
    socket_owner: (u32, u32),
    /// The sidecars' balancers, per client pod and cluster.
    envoy: envoy_hop::State,
    /// Pods' ends of HTTP/2 connections, by the connection as the pod sees it.
    h2_servers: BTreeMap<crate::packet::Tuple, streams::ServerConn>,
}

/// How a connection's opening ended.
pub(crate) enum Opened {
    /// The first packet or its answer was dropped, or the proxy found no backend.
    Failed,
    /// The client reached `server` itself; `at_server` is the connection as the server sees it.
    Direct { client: SocketAddrV4, server: Host, at_server: Tuple },
    /// A proxy accepted the connection and opened its own to a backend.
    Relayed { client: SocketAddrV4, relay: Box<proxy::Relay> },
    /// An L7 proxy accepted the connection; it chooses once it reads the request.
    Accepted { client: SocketAddrV4, proxy: proxy::Proxy, server: Host, at_server: Tuple },
}

/// Where a packet goes next after a host has handled it.
enum Next {
    /// To another host (a node, a pod, a client), over a link.
    To(Host),
    /// Delivered to a socket on this host.
    Local,
    /// Dropped or rejected; the reason.
    Dropped(String),
}

impl<'a> Sim<'a> {
    pub fn new(cluster: &'a Cluster, seed: u64, now: u64) -> Result<Sim<'a>, WalkError> {
        let mut sim = Sim {
            cluster,
            planes: BTreeMap::new(),
            seed,
            ipvs: BTreeMap::new(),
            userspace: BTreeMap::new(),
            templates: BTreeMap::new(),
            ipvs_conns: Vec::new(),
            conntrack: BTreeMap::new(),
            env: Env::new(seed, now),
            next_ident: 1,
            pending: Vec::new(),
            rejected: None,
            ingress: ingress_hop::State::default(),
            pod_nat: Vec::new(),
            socket_owner: (pod_ns::APP_UID, pod_ns::APP_UID),
            envoy: envoy_hop::State::default(),
            h2_servers: BTreeMap::new(),
        };
        // The first node is built at once, so a configuration kube-proxy would refuse (the same on
        // every node) is an error here rather than a drop in the middle of a walk.
        if let Some(first) = cluster.nodes.first() {
            sim.ensure_node(&first.name)?;
        }
        Ok(sim)
    }

    /// Builds `node`'s dataplane (and IPVS or userspace state) the first time a packet needs it.
    fn ensure_node(&mut self, node: &str) -> Result<(), WalkError> {
        if self.planes.contains_key(node) {
            return Ok(());
        }
        let cluster = self.cluster;
        let plane = match cluster.kube_proxy.mode {
            ProxyMode::Iptables => Plane::netfilter(iptables::build(cluster, node).map_err(WalkError)?),
            ProxyMode::Nftables => {
                Plane::Nftables(crate::kubeproxy::nftables::build(cluster, node).map_err(WalkError)?)
            }
            ProxyMode::Ipvs => {
                let state = crate::kubeproxy::ipvs_mode::build(cluster, node).map_err(WalkError)?;
                let plane = Plane::netfilter(state.ruleset.clone());
                self.ipvs.insert(node.to_string(), state);
                plane
            }
            ProxyMode::Userspace => {
                let state = crate::kubeproxy::userspace::build(cluster, node).map_err(WalkError)?;
                let plane = Plane::netfilter(state.ruleset.clone());
                let balancer = crate::kubeproxy::userspace::Balancer::new(&state, self.seed);
                self.userspace.insert(node.to_string(), (state, balancer));
                plane
            }
        };
        self.planes.insert(node.to_string(), std::sync::Arc::new(plane));
        Ok(())
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
        let mut trace = Trace::default();
        self.open(&mut trace, &source, dst, proto)?;
        Ok(trace)
    }

    /// Walks a connection's opening from `source` to `dst`: the first packet to its receiver and
    /// the answer back, or, when a proxy accepts it, the proxy hop with its own connection.
    pub(crate) fn open(
        &mut self,
        trace: &mut Trace,
        source: &Host,
        dst: SocketAddrV4,
        proto: Proto,
    ) -> Result<Opened, WalkError> {
        if proto == Proto::Sctp {
            return Err(WalkError("lbplay walks TCP and UDP packets; SCTP rules are written but not walked".into()));
        }
        // The client's ephemeral port, from net.ipv4.ip_local_port_range's default 32768–60999.
        let sport = self.env.rng.range_u16(32768, 60999);
        let src = SocketAddrV4::new(source.ip(), sport);
        let first = self.make_packet(src, dst, proto, TcpFlags::Syn, 1000, 0);
        let server = self.walk(trace, source.clone(), first, Direction::Original);
        let Some((server, received)) = server else {
            return Ok(Opened::Failed);
        };
        trace.outcome.delivered_to = Some(server.label());
        let tuple = received.tuple().map_err(|err| WalkError(err.to_string()))?;
        let l7 = self.proxy_at(&server, tuple).filter(proxy::Proxy::reads_request);
        if let Some(proxy) = &l7 {
            let mut s = step(
                server.name(),
                Direction::Original,
                StepKind::Proxy,
                &received,
                &received,
                "ACCEPTED",
                proxy.accept(tuple),
            );
            s.stage = Some("accept");
            trace.steps.push(s);
        }
        if let Some(proxy) = self.proxy_at(&server, tuple).filter(|proxy| !proxy.reads_request()) {
            return Ok(match self.run_proxy(trace, &proxy, source, &received) {
                Some(relay) => Opened::Relayed { client: src, relay: Box::new(relay) },
                None => Opened::Failed,
            });
        }
        let answer = self.make_packet(tuple.dst, tuple.src, proto, TcpFlags::SynAck, 5000, 1001);
        let replied = self.walk(trace, server.clone(), answer, Direction::Reply);
        if replied.is_none() {
            if !trace.outcome.dropped {
                trace.outcome.reason = Some("the reply did not reach the client".into());
            }
            return Ok(Opened::Failed);
        }
        if let Some(proxy) = l7 {
            return Ok(Opened::Accepted { client: src, proxy, server, at_server: tuple });
        }
        Ok(Opened::Direct { client: src, server, at_server: tuple })
    }

    /// A new packet from `src` to `dst` (a TCP segment with `flags`, or a UDP datagram), with the
    /// next IP identification.
    pub(crate) fn make_packet(
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
    /// packet as it arrived) or dropped. `None` also for a packet that is not IPv4 TCP or UDP.
    pub(crate) fn walk(
        &mut self,
        trace: &mut Trace,
        sender: Host,
        packet: Packet,
        direction: Direction,
    ) -> Option<(Host, Packet)> {
        let mut flight = InFlight::new(packet).ok()?;
        let note = narrate::send(&sender, direction, &flight);
        trace.steps.push(step(
            sender.name(),
            direction,
            StepKind::Send,
            flight.packet(),
            flight.packet(),
            "SEND",
            note,
        ));
        let mut at = sender.clone();
        let mut first_hop = true;
        for _ in 0..16 {
            let next = match &at {
                Host::Node { name, .. } => {
                    let name = name.clone();
                    if let Err(error) = self.ensure_node(&name) {
                        trace.outcome.dropped = true;
                        trace.outcome.reason = Some(error.0);
                        return None;
                    }
                    let mut pass = Pass::new(trace, &name, direction, &mut flight);
                    if first_hop { self.node_output(&mut pass) } else { self.node_receive(&mut pass) }
                }
                Host::Pod { node, name, .. } if first_hop => {
                    let (node, name) = (node.clone(), name.clone());
                    match self.pod_output(trace, &name, direction, &mut flight) {
                        Some(next) => next,
                        None => match self.cluster.node(&node).map(|n| Host::Node { name: n.name.clone(), ip: n.ip }) {
                            Some(node) => Next::To(node),
                            None => Next::Dropped(format!("the pod's node `{}` is not in the scenario", at.name())),
                        },
                    }
                }
                Host::Pod { name, .. } => {
                    let name = name.clone();
                    self.pod_input(trace, &name, direction, &mut flight);
                    Next::Local
                }
                Host::Client { .. } if first_hop => self.client_route(flight.tuple()),
                _ => Next::Local,
            };
            first_hop = false;
            match next {
                Next::Local if self.nobody_has(&at, flight.tuple()).is_some() => {
                    let reason = self.nobody_has(&at, flight.tuple()).unwrap_or_default();
                    let note = Text::new(format!("Dropped: {reason}."), format!("丢弃：{reason}。"));
                    let packet = flight.packet();
                    trace.steps.push(step(at.name(), direction, StepKind::Drop, packet, packet, "DROP", note));
                    trace.outcome.dropped = true;
                    trace.outcome.reason = Some(reason);
                    return None;
                }
                Next::Local => {
                    let note = narrate::received(&at, flight.packet());
                    let packet = flight.packet();
                    trace.steps.push(step(at.name(), direction, StepKind::Deliver, packet, packet, "DELIVERED", note));
                    return Some((at, flight.into_packet()));
                }
                Next::Dropped(reason) => {
                    trace.outcome.dropped = true;
                    trace.outcome.reason = Some(reason);
                    if let Some((node, refused)) = self.rejected.take() {
                        self.send_icmp_unreachable(trace, &node, &refused, &sender);
                    }
                    return None;
                }
                Next::To(next) => {
                    let note = narrate::leaves(&at, &next);
                    let packet = flight.packet();
                    let verdict = format!("→ {}", next.name());
                    trace.steps.push(step(at.name(), direction, StepKind::Wire, packet, packet, &verdict, note));
                    at = next;
                }
            }
        }
        trace.outcome.dropped = true;
        trace.outcome.reason = Some("the packet went round in circles (more than 16 hops)".into());
        None
    }
}

/// A packet on its way, with the tuple read from its bytes: read once when it is sent and again
/// after each rewrite, so that no stage parses the packet itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InFlight {
    packet: Packet,
    tuple: Tuple,
}

impl InFlight {
    /// A packet that can be walked: IPv4 with TCP or UDP.
    pub(crate) fn new(packet: Packet) -> Result<InFlight, PacketError> {
        let tuple = packet.tuple()?;
        Ok(InFlight { packet, tuple })
    }

    pub(crate) fn packet(&self) -> &Packet {
        &self.packet
    }

    pub(crate) fn tuple(&self) -> Tuple {
        self.tuple
    }

    pub(crate) fn into_packet(self) -> Packet {
        self.packet
    }

    /// Rewrites the source address and port (both checksums recomputed).
    pub(crate) fn set_src(&mut self, to: SocketAddrV4) -> Result<(), PacketError> {
        self.packet.set_src(to)?;
        self.reread()
    }

    /// Rewrites the destination address and port (both checksums recomputed).
    pub(crate) fn set_dst(&mut self, to: SocketAddrV4) -> Result<(), PacketError> {
        self.packet.set_dst(to)?;
        self.reread()
    }

    /// Decreases the TTL, as forwarding does (the header checksum changes too).
    pub(crate) fn decrement_ttl(&mut self) -> Result<(), PacketError> {
        self.packet.decrement_ttl()
    }

    fn reread(&mut self) -> Result<(), PacketError> {
        self.tuple = self.packet.tuple()?;
        Ok(())
    }
}

/// One packet's pass through one node: what every stage there reads and updates, in place of a
/// long argument list. The hook and, at POSTROUTING, the next host are the stage's own arguments.
struct Pass<'p> {
    trace: &'p mut Trace,
    node: &'p str,
    direction: Direction,
    flight: &'p mut InFlight,
    /// The conntrack entry the packet belongs to, as its first hook on this node found it.
    ct: Ct,
    /// The skb mark, as the rules of this node set it.
    mark: u32,
}

impl<'p> Pass<'p> {
    fn new(trace: &'p mut Trace, node: &'p str, direction: Direction, flight: &'p mut InFlight) -> Pass<'p> {
        Pass { trace, node, direction, flight, ct: Ct::default(), mark: 0 }
    }

    /// A step on this node, from `before` to the packet as it is now.
    fn step(&self, kind: StepKind, before: &Packet, verdict: &str, note: Text) -> Step {
        step(self.node, self.direction, kind, before, self.flight.packet(), verdict, note)
    }

    /// A step on this node that leaves the packet as it is, at `hook`.
    pub(super) fn push_at(&mut self, hook: &'static str, kind: StepKind, verdict: &str, note: Text) {
        let packet = self.flight.packet();
        let mut s = step(self.node, self.direction, kind, packet, packet, verdict, note);
        s.hook = Some(hook);
        self.trace.steps.push(s);
    }
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
        connection: None,
        candidates: Vec::new(),
    }
}

/// Small walks for the stages' own tests: a built-in lesson in a mode, and its steps as lines.
#[cfg(test)]
pub(crate) mod fixture {
    use super::{Request, trace};
    use crate::model::{Cluster, ProxyMode};
    use crate::net::Proto;
    use crate::trace::{Step, Trace};

    /// The built-in lesson `id` with kube-proxy in `mode`.
    pub(crate) fn lesson(id: &str, mode: ProxyMode) -> Cluster {
        let builtin = crate::lessons::get(id).expect("a built-in lesson");
        let source = crate::scenario::Source { name: builtin.id, text: builtin.yaml };
        let mut cluster = crate::scenario::load(&[source]).expect("the lesson loads").cluster;
        cluster.kube_proxy.mode = mode;
        cluster
    }

    /// The lesson's walk from `from` to `to`, with the lesson's own seed.
    pub(crate) fn walk(id: &str, mode: ProxyMode, from: &str, to: &str) -> Trace {
        let seed = crate::lessons::get(id).map_or(1, |builtin| builtin.seed);
        let request = Request { from: from.into(), to: to.into(), proto: Proto::Tcp, seed, now: 0 };
        trace(&lesson(id, mode), &request).expect("the walk runs")
    }

    /// One line per step that `keep` keeps: where, the verdict, and the tuple before ⇒ after
    /// when the step rewrote it.
    pub(crate) fn lines(trace: &Trace, keep: impl Fn(&Step) -> bool) -> String {
        let mut out = String::new();
        for step in trace.steps.iter().filter(|step| keep(step)) {
            let before = step.before.tuple().map(|t| t.to_string()).unwrap_or_default();
            let after = step.after.tuple().map(|t| t.to_string()).unwrap_or_default();
            let moved = if before == after { String::new() } else { format!(" | {before} ⇒ {after}") };
            out.push_str(&format!("{} {} {}{moved}\n", step.node, step.place(), step.verdict));
        }
        out
    }
}
