//! kube-proxy's userspace mode, removed in Kubernetes v1.26: a TCP/UDP relay in kube-proxy itself.
//!
//! For every service port kube-proxy opened a listening socket on the node (the *proxy port*) and
//! wrote nat rules that send the Service's traffic to it: `KUBE-PORTALS-CONTAINER` (from
//! PREROUTING, for pods and other hosts) with `-j REDIRECT`, `KUBE-PORTALS-HOST` (from OUTPUT, for
//! the node's own processes) with `-j DNAT` to the node's address, and the same pair for NodePorts.
//! kube-proxy accepted the connection, chose an endpoint with `LoadBalancerRR` (round robin over a
//! shuffled list, with ClientIP affinity), dialled it (trying the next endpoint when a dial
//! failed), and copied bytes both ways. The pod so saw a connection from the node, not from the
//! client. `build` gives the rules and sockets a node had; `Balancer` is the load balancer and the
//! dial loop, for the walk to use.
//!
//! Sources: pkg/proxy/userspace/proxier.go (`iptablesInit`, `openOnePortal`, `openNodePort`,
//! `iptablesCommonPortalArgs`, `iptablesContainerPortalArgs`, `iptablesHostPortalArgs`,
//! `iptablesHostNodePortArgs`, `iptablesNonLocalNodePortArgs`, `claimNodePort`), roundrobin.go
//! (`LoadBalancerRR.NextEndpoint`, `OnEndpointsUpdate`) and proxysocket.go
//! (`TryConnectEndpoints`, `EndpointDialTimeouts`). The text read is that of the v1.18–v1.20
//! tree; the rule-building functions kept that shape until the mode was deleted after v1.25,
//! but the v1.25 file itself could not be read here, so that is believed, not checked.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddrV4};

use sha2::{Digest, Sha256};

use crate::dataplane::CtState;
use crate::kubeproxy::topology::{self, ServicePortInfo};
use crate::model::Cluster;
use crate::net::Proto;
use crate::netfilter::{Match, Neg, Rule, Ruleset, Table, TableName, Target};
use crate::rng::Rng;
use crate::trace::Text;

/// The one-line history note shown wherever the mode is.
pub const HISTORY_NOTE: &str = "# kube-proxy --proxy-mode=userspace: removed in Kubernetes v1.26 (the last release with it was v1.25); lbplay shows what v1.25's pkg/proxy/userspace left on the node.";

/// nat chain for traffic from pods and other hosts to a Service IP (jumped to from PREROUTING).
pub const KUBE_PORTALS_CONTAINER: &str = "KUBE-PORTALS-CONTAINER";
/// nat chain for traffic from the node's own processes to a Service IP (jumped to from OUTPUT).
pub const KUBE_PORTALS_HOST: &str = "KUBE-PORTALS-HOST";
/// nat chain for NodePort traffic arriving at the node (PREROUTING).
pub const KUBE_NODEPORT_CONTAINER: &str = "KUBE-NODEPORT-CONTAINER";
/// nat chain for NodePort traffic the node sends to itself (OUTPUT).
pub const KUBE_NODEPORT_HOST: &str = "KUBE-NODEPORT-HOST";
/// filter chain that accepts new connections to proxy ports (INPUT), for default-deny hosts.
pub const KUBE_NODEPORT_NON_LOCAL: &str = "KUBE-NODEPORT-NON-LOCAL";

/// The comment of the jumps to the portal chains (proxier.go, `iptablesInit`).
const PORTALS_COMMENT: &str = "handle ClusterIPs; NOTE: this must be before the NodePort rules";
/// The comment of the jumps to the NodePort chains.
const NODEPORTS_COMMENT: &str = "handle service NodePorts; NOTE: this must be the last rule in the chain";
/// The comment of the jump to KUBE-NODEPORT-NON-LOCAL.
const NON_LOCAL_COMMENT: &str = "Ensure that non-local NodePort traffic can flow";

/// The range proxy ports come from: a socket bound to port 0 gets a free port from
/// `net.ipv4.ip_local_port_range`, 32768–60999 by default (kube-proxy's `--proxy-port-range` was
/// empty by default, so `AllocateNext` returned 0 and the kernel chose).
pub const PROXY_PORT_RANGE: (u16, u16) = (32768, 60999);

/// kube-proxy's `--bind-address`, 0.0.0.0 by default: the proxy sockets listen on every address,
/// which is why a REDIRECT to whatever address the packet came in on reaches them.
pub const LISTEN_ADDR: Ipv4Addr = Ipv4Addr::UNSPECIFIED;

/// The dial timeouts of the connect loop, one per attempt, in milliseconds (proxysocket.go,
/// `EndpointDialTimeouts`: 250 ms, 500 ms, 1 s, 2 s).
pub const DIAL_TIMEOUTS_MS: [u64; 4] = [250, 500, 1000, 2000];

/// The Pod label that makes an endpoint not answer, an lbplay extension for teaching retries.
///
/// `lbplay.dev/down: refuse` (or `"true"`): the pod is Ready and in the Service's endpoints, but
/// nothing listens on the port, so its kernel answers a SYN with a RST and a dial fails at once.
/// `lbplay.dev/down: timeout`: the pod does not answer at all (hung, or its packets are lost), so
/// a dial waits for its whole timeout. A label is used because the scenario loader keeps a Pod's
/// labels (and not its annotations); it does not change which Services select the pod.
pub const DOWN_LABEL: &str = "lbplay.dev/down";

/// How an endpoint answers a connection attempt, from its pod's `DOWN_LABEL`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// The pod accepts connections.
    Answers,
    /// The pod's kernel resets the connection (nothing listens on the port).
    Refuses,
    /// Nothing comes back; a dial times out.
    Silent,
}

/// How the endpoint at `addr` answers, from the label of the pod with that address.
/// An address with no pod in the scenario (a hand-written EndpointSlice) answers.
pub fn health(cluster: &Cluster, addr: SocketAddrV4) -> Health {
    let Some(pod) = cluster.pod_by_ip(*addr.ip()) else { return Health::Answers };
    match pod.labels.get(DOWN_LABEL).map(String::as_str) {
        Some("refuse") | Some("true") => Health::Refuses,
        Some("timeout") => Health::Silent,
        _ => Health::Answers,
    }
}

/// One service port as the userspace proxier served it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyPort {
    /// `namespace/name:port`, kube-proxy's `ServicePortName`.
    pub service_port: String,
    pub proto: Proto,
    pub cluster_ip: Ipv4Addr,
    pub port: u16,
    /// The port of kube-proxy's listening socket on the node (see `allocate_proxy_ports`).
    pub proxy_port: u16,
    pub node_port: Option<u16>,
    pub external_ips: Vec<Ipv4Addr>,
    pub load_balancer_ips: Vec<Ipv4Addr>,
    /// The endpoints, as kube-proxy's Endpoints watch gave them: ready addresses only, from every
    /// node (the userspace proxier knew no traffic policies and no topology), in `ip:port` order.
    /// `Balancer::new` shuffles them as `LoadBalancerRR` did.
    pub endpoints: Vec<SocketAddrV4>,
    /// ClientIP affinity timeout in seconds.
    pub affinity: Option<u32>,
}

/// A port kube-proxy bound and held open without using it, so that nothing else could take it
/// (proxier.go, `claimNodePort`): every NodePort on all addresses, and a Service IP:port when the
/// IP is one of the node's own addresses. iptables sends their traffic to the proxy port instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldPort {
    pub addr: SocketAddrV4,
    pub proto: Proto,
    pub service_port: String,
}

/// Everything the userspace proxier left on one node.
#[derive(Debug, Clone, PartialEq)]
pub struct UserspaceState {
    /// The filter and nat rules, for `iptables-save` and the walk.
    pub ruleset: Ruleset,
    /// One listening socket per service port, in service-port name order.
    pub proxies: Vec<ProxyPort>,
    pub held: Vec<HeldPort>,
    /// The address KUBE-PORTALS-HOST and KUBE-NODEPORT-HOST DNAT to: the node's address
    /// (`utilnet.ChooseHostInterface`, since `--bind-address` is 0.0.0.0).
    pub host_ip: Ipv4Addr,
}

impl UserspaceState {
    /// The service port whose proxy socket listens on `port` for `proto`: what kube-proxy serves
    /// when a redirected connection arrives.
    pub fn proxy_at(&self, proto: Proto, port: u16) -> Option<&ProxyPort> {
        self.proxies.iter().find(|proxy| proxy.proto == proto && proxy.proxy_port == port)
    }

    /// The proxy of one service port by name.
    pub fn proxy(&self, service_port: &str) -> Option<&ProxyPort> {
        self.proxies.iter().find(|proxy| proxy.service_port == service_port)
    }

    /// The listening sockets, one sentence a line, as `rules_lines` shows them.
    pub fn socket_lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for proxy in &self.proxies {
            lines.push(format!(
                "# kube-proxy listens on {}:{} for {} ({})",
                LISTEN_ADDR,
                proxy.proxy_port,
                proxy.service_port,
                proto_upper(proxy.proto)
            ));
        }
        for held in &self.held {
            let proxy_port = self.proxy(&held.service_port).map(|proxy| proxy.proxy_port).unwrap_or(0);
            lines.push(format!(
                "# kube-proxy holds {} ({}) open for {}, unused: iptables sends its traffic to port {proxy_port}",
                held.addr,
                proto_upper(held.proto),
                held.service_port
            ));
        }
        lines
    }
}

fn proto_upper(proto: Proto) -> &'static str {
    match proto {
        Proto::Tcp => "TCP",
        Proto::Udp => "UDP",
        Proto::Sctp => "SCTP",
    }
}

/// The proxy port of each `(service port name, protocol)`, in the order given.
///
/// The kernel picked a random free port; lbplay's rule, so that the same scenario always shows
/// the same ports and a port does not move when other Services come or go: the first four bytes
/// of SHA-256 over `name + protocol` (the string kube-proxy's chain names hash), as a big-endian
/// number, modulo the size of `PROXY_PORT_RANGE`, added to its start; if that port is taken by an
/// earlier entry, the next free one above it, wrapping round. A range has 28,232 ports, so more
/// service ports than that get no port (0).
pub fn allocate_proxy_ports(names: &[(String, Proto)]) -> Vec<u16> {
    let (low, high) = PROXY_PORT_RANGE;
    let size = u32::from(high - low) + 1;
    let mut used = vec![false; size as usize];
    let mut out = Vec::with_capacity(names.len());
    for (name, proto) in names {
        let mut hasher = Sha256::new();
        hasher.update(name.as_bytes());
        hasher.update(proto.as_str().as_bytes());
        let digest = hasher.finalize();
        let start = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]) % size;
        let free = (0..size).map(|step| (start + step) % size).find(|offset| !used[*offset as usize]);
        match free {
            Some(offset) => {
                used[offset as usize] = true;
                out.push(low + offset as u16);
            }
            None => out.push(0),
        }
    }
    out
}

/// The rules and sockets of the userspace proxier on `node`, after a full sync.
///
/// Rule order: kube-proxy wrote each Service's portals as it first saw the Service and then
/// re-ensured them from a Go map; lbplay writes them in service-port name order, as for the
/// other modes. Within a service port the order is upstream's (`openPortal`): the ClusterIP,
/// each external IP, each load-balancer IP, then the NodePort. SCTP ports are skipped: the
/// userspace proxier refused them ("SCTP is not supported for user space proxy").
pub fn build(cluster: &Cluster, node: &str) -> Result<UserspaceState, String> {
    let this_node = cluster.node(node).ok_or_else(|| format!("no node named `{node}` in the scenario"))?;
    let host_ip = this_node.ip;
    let infos: Vec<ServicePortInfo> =
        topology::service_ports(cluster).into_iter().filter(|info| info.proto != Proto::Sctp).collect();
    let names: Vec<(String, Proto)> = infos.iter().map(|info| (info.name.clone(), info.proto)).collect();
    let ports = allocate_proxy_ports(&names);

    let mut ruleset = Ruleset { tables: vec![Table::new(TableName::Filter), Table::new(TableName::Nat)] };
    write_static_chains(&mut ruleset);

    let mut proxies = Vec::with_capacity(infos.len());
    let mut held = Vec::new();
    let local_addrs = [host_ip];
    for (info, proxy_port) in infos.iter().zip(ports) {
        let proxy = ProxyPort {
            service_port: info.name.clone(),
            proto: info.proto,
            cluster_ip: info.cluster_ip,
            port: info.port,
            proxy_port,
            node_port: info.node_port,
            external_ips: info.external_ips.clone(),
            load_balancer_ips: info.load_balancer_ips.clone(),
            endpoints: info
                .endpoints
                .iter()
                .filter(|endpoint| endpoint.ready)
                .map(|endpoint| SocketAddrV4::new(endpoint.ip, endpoint.port))
                .collect(),
            affinity: info.session_affinity,
        };
        // proxier.go `openOnePortal`: a portal IP that is the node's own gets its port held.
        let portal_ips = std::iter::once(info.cluster_ip)
            .chain(info.external_ips.iter().copied())
            .chain(info.load_balancer_ips.iter().copied());
        for ip in portal_ips {
            if local_addrs.contains(&ip) {
                held.push(HeldPort {
                    addr: SocketAddrV4::new(ip, info.port),
                    proto: info.proto,
                    service_port: info.name.clone(),
                });
            }
        }
        if let Some(node_port) = info.node_port {
            held.push(HeldPort {
                addr: SocketAddrV4::new(LISTEN_ADDR, node_port),
                proto: info.proto,
                service_port: info.name.clone(),
            });
        }
        write_portals(&mut ruleset, &proxy, host_ip);
        proxies.push(proxy);
    }
    Ok(UserspaceState { ruleset, proxies, held, host_ip })
}

/// proxier.go, `iptablesInit`: the jumps to kube-proxy's chains. The portal jumps are inserted
/// at the top of PREROUTING and OUTPUT (`iptables.Prepend`), the NodePort jumps appended, so
/// that a Service IP is matched before the broad `--dst-type LOCAL` NodePort rules.
fn write_static_chains(ruleset: &mut Ruleset) {
    let filter = ruleset.table_mut(TableName::Filter);
    filter.chain_mut(KUBE_NODEPORT_NON_LOCAL);
    filter.chain_mut("INPUT").rules.push(Rule::new().comment(NON_LOCAL_COMMENT).jump(KUBE_NODEPORT_NON_LOCAL));

    let nat = ruleset.table_mut(TableName::Nat);
    for chain in [KUBE_PORTALS_CONTAINER, KUBE_PORTALS_HOST, KUBE_NODEPORT_CONTAINER, KUBE_NODEPORT_HOST] {
        nat.chain_mut(chain);
    }
    let nodeports = || Rule::new().dst_type_local().comment(NODEPORTS_COMMENT);
    let prerouting = &mut nat.chain_mut("PREROUTING").rules;
    prerouting.push(Rule::new().comment(PORTALS_COMMENT).jump(KUBE_PORTALS_CONTAINER));
    prerouting.push(nodeports().jump(KUBE_NODEPORT_CONTAINER));
    let output = &mut nat.chain_mut("OUTPUT").rules;
    output.push(Rule::new().comment(PORTALS_COMMENT).jump(KUBE_PORTALS_HOST));
    output.push(nodeports().jump(KUBE_NODEPORT_HOST));
}

/// proxier.go, `iptablesCommonPortalArgs`: the comment, the protocol and port, then `-d` when
/// there is a portal IP, `-m physdev ! --physdev-is-in` and `-m addrtype --dst-type LOCAL` when
/// asked. (iptables-save prints `-d` and `-p` first whatever the order they were given in.)
fn common_args(proxy: &ProxyPort, ip: Option<Ipv4Addr>, port: u16, not_from_bridge: bool, dst_local: bool) -> Rule {
    let mut rule = Rule::new().comment(proxy.service_port.as_str()).port_match(proxy.proto, Some(port));
    if let Some(ip) = ip {
        rule = rule.dst_ip(ip);
    }
    if not_from_bridge {
        rule = rule.with(Match::PhysdevIsIn { negated: true });
    }
    if dst_local {
        rule = rule.dst_type_local();
    }
    rule
}

/// The rules of one service port (proxier.go, `openPortal`, `openOnePortal`, `openNodePort`).
fn write_portals(ruleset: &mut Ruleset, proxy: &ProxyPort, host_ip: Ipv4Addr) {
    // `iptablesContainerPortalArgs` with the proxy bound to 0.0.0.0: REDIRECT, which sends the
    // packet to "the primary address of the incoming interface", the pod bridge for a pod.
    let redirect = Target::Redirect { port: proxy.proxy_port };
    // `iptablesHostPortalArgs`: REDIRECT on OUTPUT would go to 127.0.0.1, whose replies came from
    // the wrong address, so host traffic is DNATed to the node's address instead.
    let dnat = Target::Dnat { ip: host_ip, port: Some(proxy.proxy_port) };
    let mut container = Vec::new();
    let mut host = Vec::new();
    let mut portal = |ip: Ipv4Addr, external: bool| {
        container.push(common_args(proxy, Some(ip), proxy.port, external, false).target(redirect.clone()));
        if external {
            // An external IP also gets a container rule for traffic to it that is local (dst-type
            // LOCAL, whatever the interface), and only a dst-local host rule.
            container.push(common_args(proxy, Some(ip), proxy.port, false, true).target(redirect.clone()));
            host.push(common_args(proxy, Some(ip), proxy.port, false, true).target(dnat.clone()));
        } else {
            host.push(common_args(proxy, Some(ip), proxy.port, false, false).target(dnat.clone()));
        }
    };
    portal(proxy.cluster_ip, false);
    for ip in &proxy.external_ips {
        portal(*ip, true);
    }
    for ip in &proxy.load_balancer_ips {
        portal(*ip, false);
    }
    let nat = ruleset.table_mut(TableName::Nat);
    nat.chain_mut(KUBE_PORTALS_CONTAINER).rules.extend(container);
    nat.chain_mut(KUBE_PORTALS_HOST).rules.extend(host);
    let Some(node_port) = proxy.node_port else { return };
    nat.chain_mut(KUBE_NODEPORT_CONTAINER)
        .rules
        .push(common_args(proxy, None, node_port, false, false).target(redirect));
    // `iptablesHostNodePortArgs`.
    nat.chain_mut(KUBE_NODEPORT_HOST).rules.push(common_args(proxy, None, node_port, false, false).target(dnat));
    // `iptablesNonLocalNodePortArgs`: note the port is the proxy port, the destination the packet
    // has by INPUT, after the REDIRECT.
    let filter = ruleset.table_mut(TableName::Filter);
    filter.chain_mut(KUBE_NODEPORT_NON_LOCAL).rules.push(
        common_args(proxy, None, proxy.proxy_port, false, false)
            .with(Match::State(Neg::is(vec![CtState::New])))
            .target(Target::Accept),
    );
}

// ---------------------------------------------------------------------------------------------
// The load balancer and the dial loop

/// kube-proxy's `LoadBalancerRR` for every service port of one node, with its state across
/// connections: the shuffled endpoint lists, the round-robin indexes and the affinity maps.
#[derive(Debug, Clone, PartialEq)]
pub struct Balancer {
    services: BTreeMap<String, BalancerState>,
}

/// roundrobin.go, `balancerState`.
#[derive(Debug, Clone, PartialEq)]
struct BalancerState {
    endpoints: Vec<SocketAddrV4>,
    index: usize,
    /// ClientIP affinity timeout in seconds; `None` without affinity.
    ttl: Option<u32>,
    /// Client IP → (endpoint, last used, in seconds on the scenario clock).
    affinity: BTreeMap<Ipv4Addr, (SocketAddrV4, u64)>,
    /// Clients whose last dial failed: their next choice skips affinity.
    reset: Vec<Ipv4Addr>,
    proto: Proto,
}

/// One choice of endpoint, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub endpoint: SocketAddrV4,
    /// Whether ClientIP affinity chose it (rather than the round robin).
    pub by_affinity: bool,
    pub explanation: Text,
}

/// Why no endpoint could be chosen (roundrobin.go, `ErrMissingServiceEntry`,
/// `ErrMissingEndpoints`). kube-proxy then closes the connection it had already accepted, so the
/// client sees its connection succeed and then end, not a refusal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoEndpoint {
    pub explanation: Text,
}

impl Balancer {
    /// The balancer after kube-proxy has seen every service port's endpoints once.
    ///
    /// roundrobin.go, `OnEndpointsUpdate`, shuffled each list when it set it
    /// (`ShuffleStrings`, Go's `math/rand` permutation) and reset the index to 0. lbplay shuffles
    /// with Fisher–Yates driven by `crate::rng::Rng::new(seed)`, one generator for the node, over
    /// the service ports in name order: the same seed gives the same lists, and a different seed
    /// shows that the order really is random.
    pub fn new(state: &UserspaceState, seed: u64) -> Balancer {
        let mut rng = Rng::new(seed);
        let mut services = BTreeMap::new();
        for proxy in &state.proxies {
            let mut endpoints = proxy.endpoints.clone();
            for i in (1..endpoints.len()).rev() {
                let j = (rng.next_u64() % (i as u64 + 1)) as usize;
                endpoints.swap(i, j);
            }
            services.insert(
                proxy.service_port.clone(),
                BalancerState {
                    endpoints,
                    index: 0,
                    ttl: proxy.affinity,
                    affinity: BTreeMap::new(),
                    reset: Vec::new(),
                    proto: proxy.proto,
                },
            );
        }
        Balancer { services }
    }

    /// The endpoint list of a service port in the balancer's (shuffled) order.
    pub fn endpoints(&self, service_port: &str) -> Option<&[SocketAddrV4]> {
        self.services.get(service_port).map(|state| state.endpoints.as_slice())
    }

    /// The round-robin index: the position of the endpoint the next choice without affinity takes.
    pub fn index(&self, service_port: &str) -> Option<usize> {
        self.services.get(service_port).map(|state| state.index)
    }

    /// roundrobin.go, `NextEndpoint`: the remembered endpoint of `client` if it used it less than
    /// the affinity timeout ago (whole seconds, `int(time.Since(lastUsed).Seconds()) < ttl`),
    /// otherwise the endpoint at the index, which then moves on by one. With affinity, the choice
    /// is remembered for the client. A client marked by `mark_failed` skips affinity once
    /// (`sessionAffinityReset`). `now` is the scenario clock in seconds.
    pub fn next_endpoint(&mut self, service_port: &str, client: Ipv4Addr, now: u64) -> Result<Choice, NoEndpoint> {
        let Some(state) = self.services.get_mut(service_port) else {
            return Err(NoEndpoint {
                explanation: Text::new(
                    format!("kube-proxy has no proxy for {service_port} (missing service entry)."),
                    format!("kube-proxy 没有 {service_port} 的代理（missing service entry）。"),
                ),
            });
        };
        if state.endpoints.is_empty() {
            return Err(NoEndpoint {
                explanation: Text::new(
                    format!(
                        "{service_port} has no ready endpoints (missing endpoints): kube-proxy closes the connection it has just accepted, so the client sees it open and then close at once."
                    ),
                    format!(
                        "{service_port} 没有就绪的端点（missing endpoints）：kube-proxy 关闭刚接受的连接，客户端看到连接建立后立即被关闭。"
                    ),
                ),
            });
        }
        let reset = match state.reset.iter().position(|ip| *ip == client) {
            Some(position) => {
                state.reset.remove(position);
                true
            }
            None => false,
        };
        let list = list_text(&state.endpoints);
        if let Some(ttl) = state.ttl
            && !reset
            && let Some((endpoint, last_used)) = state.affinity.get(&client).copied()
        {
            let age = now.saturating_sub(last_used);
            if age < u64::from(ttl) {
                state.affinity.insert(client, (endpoint, now));
                return Ok(Choice {
                    endpoint,
                    by_affinity: true,
                    explanation: Text::new(
                        format!(
                            "ClientIP affinity: {client} was sent to {endpoint} {age} s ago, less than the {ttl} s timeout, so kube-proxy picks {endpoint} again and the round robin does not move."
                        ),
                        format!(
                            "ClientIP 会话亲和：{client} 在 {age} 秒前被发往 {endpoint}，未超过 {ttl} 秒的超时，所以 kube-proxy 再次选择 {endpoint}，轮询位置不变。"
                        ),
                    ),
                });
            }
        }
        let position = state.index;
        let endpoint = state.endpoints[position];
        state.index = (state.index + 1) % state.endpoints.len();
        let mut en = format!(
            "Round robin: kube-proxy's list for {service_port} is {list} (shuffled once when the endpoints were set); the index is at {position}, so it picks {endpoint} and moves the index to {}.",
            state.index
        );
        let mut zh = format!(
            "轮询：kube-proxy 中 {service_port} 的端点列表为 {list}（设置端点时随机打乱过一次）；当前位置为 {position}，于是选择 {endpoint}，位置移到 {}。",
            state.index
        );
        if reset {
            en.insert_str(0, "The previous dial failed, so affinity is skipped (sessionAffinityReset). ");
            zh.insert_str(0, "上一次连接失败，因此跳过会话亲和（sessionAffinityReset）。");
        }
        if let Some(ttl) = state.ttl {
            state.affinity.insert(client, (endpoint, now));
            en.push_str(&format!(" ClientIP affinity remembers {endpoint} for {client} ({ttl} s)."));
            zh.push_str(&format!("ClientIP 会话亲和为 {client} 记下 {endpoint}（{ttl} 秒）。"));
        }
        Ok(Choice { endpoint, by_affinity: false, explanation: Text::new(en, zh) })
    }

    /// Records that the dial to the endpoint just chosen for `client` failed: its next choice
    /// skips affinity, which is how proxysocket.go's `TryConnectEndpoints` moves to another
    /// endpoint (`sessionAffinityReset = true` for every later attempt of that connection).
    pub fn mark_failed(&mut self, service_port: &str, client: Ipv4Addr) {
        if let Some(state) = self.services.get_mut(service_port)
            && !state.reset.contains(&client)
        {
            state.reset.push(client);
        }
    }

    /// proxysocket.go, `TryConnectEndpoints`: up to four attempts, with the dial timeouts of
    /// `DIAL_TIMEOUTS_MS`, each on the endpoint `next_endpoint` gives; a failed attempt is marked
    /// with `mark_failed`, so the next one skips affinity. Whether a dial succeeds comes from the
    /// scenario (`health`). The connection is closed without a backend when every attempt failed
    /// or there is no endpoint.
    pub fn dial(&mut self, cluster: &Cluster, service_port: &str, client: Ipv4Addr, now: u64) -> Dial {
        let mut attempts = Vec::new();
        let mut elapsed_ms = 0;
        for timeout_ms in DIAL_TIMEOUTS_MS {
            let choice = match self.next_endpoint(service_port, client, now) {
                Ok(choice) => choice,
                Err(none) => return Dial { attempts, connected: None, elapsed_ms, no_endpoint: Some(none) },
            };
            let endpoint = choice.endpoint;
            // A UDP "dial" only creates a socket: nothing is sent, so it cannot fail, and a dead
            // UDP endpoint is never retried (the datagrams are lost, or answered by ICMP).
            let udp = self.services.get(service_port).is_some_and(|state| state.proto == Proto::Udp);
            let result = match health(cluster, endpoint) {
                _ if udp => DialResult::Connected,
                Health::Answers => DialResult::Connected,
                Health::Refuses => DialResult::Refused,
                Health::Silent => DialResult::TimedOut,
            };
            let number = attempts.len() + 1;
            let (en, zh) = match result {
                DialResult::Connected => (
                    format!(
                        "Attempt {number}: kube-proxy dials {endpoint} (timeout {timeout_ms} ms) and connects; from now on it copies bytes between the client's connection and this one."
                    ),
                    format!(
                        "第 {number} 次尝试：kube-proxy 连接 {endpoint}（超时 {timeout_ms} 毫秒），连接成功；此后它在客户端的连接与这条连接之间双向拷贝数据。"
                    ),
                ),
                DialResult::Refused => (
                    format!(
                        "Attempt {number}: kube-proxy dials {endpoint}, and the pod answers the SYN with a RST (nothing listens on the port): \"connection refused\". kube-proxy tries another endpoint."
                    ),
                    format!(
                        "第 {number} 次尝试：kube-proxy 连接 {endpoint}，该 Pod 以 RST 回应 SYN（端口上无进程监听）：“connection refused”。kube-proxy 换一个端点重试。"
                    ),
                ),
                DialResult::TimedOut => (
                    format!(
                        "Attempt {number}: kube-proxy dials {endpoint} and nothing comes back within {timeout_ms} ms: the dial times out. kube-proxy tries another endpoint."
                    ),
                    format!(
                        "第 {number} 次尝试：kube-proxy 连接 {endpoint}，{timeout_ms} 毫秒内没有任何回应：连接超时。kube-proxy 换一个端点重试。"
                    ),
                ),
            };
            if result == DialResult::TimedOut {
                elapsed_ms += timeout_ms;
            }
            attempts.push(Attempt { choice, timeout_ms, result, explanation: Text::new(en, zh) });
            if result == DialResult::Connected {
                return Dial { attempts, connected: Some(endpoint), elapsed_ms, no_endpoint: None };
            }
            self.mark_failed(service_port, client);
        }
        Dial { attempts, connected: None, elapsed_ms, no_endpoint: None }
    }
}

fn list_text(endpoints: &[SocketAddrV4]) -> String {
    let items: Vec<String> = endpoints.iter().map(|endpoint| endpoint.to_string()).collect();
    format!("[{}]", items.join(", "))
}

/// What one dial attempt did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DialResult {
    Connected,
    /// The endpoint answered with a RST.
    Refused,
    /// Nothing answered within the attempt's timeout.
    TimedOut,
}

/// One attempt of the dial loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub choice: Choice,
    pub timeout_ms: u64,
    pub result: DialResult,
    pub explanation: Text,
}

/// The whole dial loop for one accepted connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dial {
    pub attempts: Vec<Attempt>,
    /// The endpoint kube-proxy relays to; `None` when it closed the client's connection instead.
    pub connected: Option<SocketAddrV4>,
    /// Time spent waiting on timed-out attempts (refusals take a round trip, counted as 0).
    pub elapsed_ms: u64,
    /// Set when the balancer had no endpoint to offer.
    pub no_endpoint: Option<NoEndpoint>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_ports_are_stable_and_distinct() {
        let names: Vec<(String, Proto)> = ["default/web:http", "default/web:https", "kube-system/kube-dns:dns"]
            .iter()
            .map(|name| (name.to_string(), Proto::Tcp))
            .collect();
        let ports = allocate_proxy_ports(&names);
        assert!(ports.iter().all(|port| (PROXY_PORT_RANGE.0..=PROXY_PORT_RANGE.1).contains(port)), "{ports:?}");
        // The port of a name does not depend on the others.
        assert_eq!(allocate_proxy_ports(&names[..1])[0], ports[0]);
        assert_eq!(allocate_proxy_ports(&names[1..2])[0], ports[1]);
        // A collision moves the later entry to the next free port.
        let twice = vec![names[0].clone(), names[0].clone()];
        let ports = allocate_proxy_ports(&twice);
        let (low, high) = PROXY_PORT_RANGE;
        assert_eq!(ports[1], if ports[0] == high { low } else { ports[0] + 1 });
    }
}
