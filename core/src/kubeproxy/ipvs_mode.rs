//! kube-proxy's IPVS mode: the virtual servers, the kube-ipvs0 addresses, the ipsets and the few
//! iptables rules it leaves on a node. (The kernel's IPVS itself, its virtual servers and
//! schedulers, is `crate::ipvs`.)
//!
//! This follows pkg/proxy/ipvs/proxier.go (`syncProxyRules`, `writeIptablesRules`,
//! `acceptIPVSTraffic`, `createAndLinkKubeChain`, `syncService`, `syncEndpoint`) and
//! pkg/proxy/ipvs/ipset.go of kube-proxy v1.31–v1.33, for one full sync of an IPv4 node with the
//! ClusterCIDR local detector and no `--nodeport-addresses`. Every Service address becomes an
//! IPVS virtual server and an ipset member; the iptables rules only match the sets, so their
//! number does not grow with the number of Services.
//!
//! Where kube-proxy's order comes from a Go map or set, lbplay picks one and says so: services
//! are handled in service-port-name order, each virtual server's real servers are added in the
//! endpoints cache's `ip:port` order (so, the kernel inserting at the head, its list is the
//! reverse), and the sets are created in the order of proxier.go's `ipsetInfo`.

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, SocketAddrV4};

use crate::dataplane::{CtState, RejectWith};
use crate::ipvs::ipset::{Entry, IpSet, IpSets, SetDir, SetType};
use crate::ipvs::{self, Dest, IP_VS_SVC_F_PERSISTENT, IP_VS_SVC_F_SCHED_MH_PORT, Scheduler};
use crate::kubeproxy::iptables::masquerade_mark;
use crate::kubeproxy::topology::{self, Categories, ServicePortInfo};
use crate::model::{Cluster, Node, Pod, ServiceEndpoint};
use crate::net::{Ipv4Net, Proto};
use crate::netfilter::{AddrType, Match, Neg, Rule, Ruleset, Table, TableName, Target};

/// The dummy interface that holds the Service addresses (proxier.go `defaultDummyDevice`).
pub const DUMMY_DEVICE: &str = "kube-ipvs0";

pub const KUBE_SERVICES: &str = "KUBE-SERVICES";
pub const KUBE_PROXY_FIREWALL: &str = "KUBE-PROXY-FIREWALL";
pub const KUBE_SOURCE_RANGES_FIREWALL: &str = "KUBE-SOURCE-RANGES-FIREWALL";
pub const KUBE_POSTROUTING: &str = "KUBE-POSTROUTING";
pub const KUBE_MARK_MASQ: &str = "KUBE-MARK-MASQ";
pub const KUBE_NODE_PORT: &str = "KUBE-NODE-PORT";
pub const KUBE_FORWARD: &str = "KUBE-FORWARD";
pub const KUBE_LOAD_BALANCER: &str = "KUBE-LOAD-BALANCER";
pub const KUBE_IPVS_FILTER: &str = "KUBE-IPVS-FILTER";
pub const KUBE_IPVS_OUT_FILTER: &str = "KUBE-IPVS-OUT-FILTER";
/// kubelet's chains (pkg/kubelet/kubelet_network_linux.go), present whatever the proxy mode.
pub const KUBE_FIREWALL: &str = "KUBE-FIREWALL";
pub const KUBE_KUBELET_CANARY: &str = "KUBE-KUBELET-CANARY";

// The sets, with the comments of pkg/proxy/ipvs/ipset.go.
pub const KUBE_LOOP_BACK: &str = "KUBE-LOOP-BACK";
pub const KUBE_CLUSTER_IP: &str = "KUBE-CLUSTER-IP";
pub const KUBE_EXTERNAL_IP: &str = "KUBE-EXTERNAL-IP";
pub const KUBE_EXTERNAL_IP_LOCAL: &str = "KUBE-EXTERNAL-IP-LOCAL";
pub const KUBE_LOAD_BALANCER_SET: &str = "KUBE-LOAD-BALANCER";
pub const KUBE_LOAD_BALANCER_FW: &str = "KUBE-LOAD-BALANCER-FW";
pub const KUBE_LOAD_BALANCER_LOCAL: &str = "KUBE-LOAD-BALANCER-LOCAL";
pub const KUBE_LOAD_BALANCER_SOURCE_IP: &str = "KUBE-LOAD-BALANCER-SOURCE-IP";
pub const KUBE_LOAD_BALANCER_SOURCE_CIDR: &str = "KUBE-LOAD-BALANCER-SOURCE-CIDR";
pub const KUBE_NODE_PORT_TCP: &str = "KUBE-NODE-PORT-TCP";
pub const KUBE_NODE_PORT_LOCAL_TCP: &str = "KUBE-NODE-PORT-LOCAL-TCP";
pub const KUBE_NODE_PORT_UDP: &str = "KUBE-NODE-PORT-UDP";
pub const KUBE_NODE_PORT_LOCAL_UDP: &str = "KUBE-NODE-PORT-LOCAL-UDP";
pub const KUBE_NODE_PORT_SCTP: &str = "KUBE-NODE-PORT-SCTP-HASH";
pub const KUBE_NODE_PORT_LOCAL_SCTP: &str = "KUBE-NODE-PORT-LOCAL-SCTP-HASH";
pub const KUBE_HEALTH_CHECK_NODE_PORT: &str = "KUBE-HEALTH-CHECK-NODE-PORT";
pub const KUBE_IPVS_IPS: &str = "KUBE-IPVS-IPS";

/// proxier.go `ipsetInfo`: every set kube-proxy creates (even when it stays empty), its type and
/// its comment (ipset.go).
const IPSET_INFO: [(&str, SetType, &str); 17] = [
    (KUBE_LOOP_BACK, SetType::HashIpPortIp, "Kubernetes endpoints dst ip:port, source ip for solving hairpin purpose"),
    (KUBE_CLUSTER_IP, SetType::HashIpPort, "Kubernetes service cluster ip + port for masquerade purpose"),
    (KUBE_EXTERNAL_IP, SetType::HashIpPort, "Kubernetes service external ip + port for masquerade and filter purpose"),
    (
        KUBE_EXTERNAL_IP_LOCAL,
        SetType::HashIpPort,
        "Kubernetes service external ip + port with externalTrafficPolicy=local",
    ),
    (KUBE_LOAD_BALANCER_SET, SetType::HashIpPort, "Kubernetes service lb portal"),
    (
        KUBE_LOAD_BALANCER_FW,
        SetType::HashIpPort,
        "Kubernetes service load balancer ip + port for load balancer with sourceRange",
    ),
    (
        KUBE_LOAD_BALANCER_LOCAL,
        SetType::HashIpPort,
        "Kubernetes service load balancer ip + port with externalTrafficPolicy=local",
    ),
    (
        KUBE_LOAD_BALANCER_SOURCE_IP,
        SetType::HashIpPortIp,
        "Kubernetes service load balancer ip + port + source IP for packet filter purpose",
    ),
    (
        KUBE_LOAD_BALANCER_SOURCE_CIDR,
        SetType::HashIpPortNet,
        "Kubernetes service load balancer ip + port + source cidr for packet filter purpose",
    ),
    (KUBE_NODE_PORT_TCP, SetType::BitmapPort, "Kubernetes nodeport TCP port for masquerade purpose"),
    (KUBE_NODE_PORT_LOCAL_TCP, SetType::BitmapPort, "Kubernetes nodeport TCP port with externalTrafficPolicy=local"),
    (KUBE_NODE_PORT_UDP, SetType::BitmapPort, "Kubernetes nodeport UDP port for masquerade purpose"),
    (KUBE_NODE_PORT_LOCAL_UDP, SetType::BitmapPort, "Kubernetes nodeport UDP port with externalTrafficPolicy=local"),
    (
        KUBE_NODE_PORT_SCTP,
        SetType::HashIpPort,
        "Kubernetes nodeport SCTP port for masquerade purpose with type 'hash ip:port'",
    ),
    (
        KUBE_NODE_PORT_LOCAL_SCTP,
        SetType::HashIpPort,
        "Kubernetes nodeport SCTP port with externalTrafficPolicy=local with type 'hash ip:port'",
    ),
    (KUBE_HEALTH_CHECK_NODE_PORT, SetType::BitmapPort, "Kubernetes health check node port"),
    (KUBE_IPVS_IPS, SetType::HashIp, "Addresses on the ipvs interface"),
];

/// What a virtual server stands for: which service port, reached through which kind of address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The service-port name, `namespace/name:port`.
    pub service_port: String,
    pub kind: VipKind,
}

/// The kind of address a virtual server listens on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum VipKind {
    ClusterIp,
    ExternalIp,
    LoadBalancer,
    /// A node address with the NodePort.
    NodePort,
}

/// The IPVS-mode dataplane of one node after a full sync.
#[derive(Debug, Clone)]
pub struct IpvsState {
    /// The addresses bound to kube-ipvs0 (as `/32`), sorted: every ClusterIP, and every externalIP
    /// and LoadBalancer IP that is not already an address of the node. They are also the members
    /// of KUBE-IPVS-IPS.
    pub dummy_addrs: Vec<Ipv4Addr>,
    /// The node's own addresses (not on kube-ipvs0, not loopback) that NodePorts listen on.
    pub node_addrs: Vec<Ipv4Addr>,
    /// The virtual servers, in the order kube-proxy created them here.
    pub services: Vec<ipvs::Service>,
    /// What each entry of `services` stands for (same length and order).
    pub origins: Vec<Origin>,
    pub ipsets: IpSets,
    /// The remaining iptables rules: filter and nat.
    pub ruleset: Ruleset,
}

impl IpvsState {
    /// The position of the virtual server that a packet to `(proto, dst)` reaches (see
    /// `ipvs::lookup`).
    pub fn lookup(&self, proto: Proto, dst: SocketAddrV4) -> Option<usize> {
        ipvs::lookup(&self.services, proto, dst)
    }

    /// The virtual server a packet to `(proto, dst)` reaches, to schedule on and count connections.
    pub fn lookup_mut(&mut self, proto: Proto, dst: SocketAddrV4) -> Option<&mut ipvs::Service> {
        let index = self.lookup(proto, dst)?;
        self.services.get_mut(index)
    }
}

/// The addresses of `node` that kube-proxy finds on its interfaces: the node IP and the pod
/// bridge's gateway (the first address of the pod CIDR), the same two that lbplay's walk treats as
/// local. proxier.go takes every local address except those on kube-ipvs0 (netlink_linux.go
/// `GetAllLocalAddressesExcept`, which skips loopback addresses) when `--nodeport-addresses` is
/// unset.
pub fn node_addresses(node: &Node) -> Vec<Ipv4Addr> {
    let mut out = vec![node.ip];
    if let Some(gateway) = node.pod_cidr.nth(1).filter(|gateway| *gateway != node.ip) {
        out.push(gateway);
    }
    out
}

/// A set of kube-proxy's, by name; all of them exist from the start.
fn set<'a>(sets: &'a mut IpSets, name: &str) -> &'a mut IpSet {
    let index = sets.sets.iter().position(|set| set.name == name).expect("every set of IPSET_INFO is created first");
    &mut sets.sets[index]
}

/// The IPVS state of `node`.
pub fn build(cluster: &Cluster, node: &str) -> Result<IpvsState, String> {
    let this = cluster.node(node).ok_or_else(|| format!("no node named `{node}` in the scenario"))?;
    // proxier.go: an empty scheduler means rr. Since v1.27 (PR #114878) any scheduler the kernel
    // has is accepted; kube-proxy's start-up probe fails on a name the kernel does not know.
    let scheduler = Scheduler::parse(&cluster.kube_proxy.ipvs_scheduler).ok_or_else(|| {
        format!(
            "kubeProxy.ipvs.scheduler `{}` is not a kernel IPVS scheduler (rr, wrr, lc, wlc, sed, nq, dh, sh, lblc, lblcr, mh, fo, ovf, twos)",
            cluster.kube_proxy.ipvs_scheduler
        )
    })?;
    let node_addrs = node_addresses(this);
    let mut ipsets = IpSets {
        sets: IPSET_INFO.iter().map(|(name, set_type, comment)| IpSet::new(name, *set_type, comment)).collect(),
    };
    let mut services: Vec<ipvs::Service> = Vec::new();
    let mut origins: Vec<Origin> = Vec::new();
    let mut bound: BTreeSet<Ipv4Addr> = BTreeSet::new();
    // LoadBalancer IP:port pairs whose source ranges leave out the node (proxier.go
    // `lbNoNodeAccessIPPortProtocolEntries`); see `write_rules` for what is not modelled.
    let mut lb_no_node_access: Vec<(Ipv4Addr, Proto, u16)> = Vec::new();

    for info in &topology::service_ports(cluster) {
        let proto = info.proto;
        let categories = topology::categorize(info, &this.name);
        let mut add_vs = |addr: Ipv4Addr, port: u16, only_local: bool, kind: VipKind| {
            services.push(virtual_server(cluster, info, scheduler, addr, port, endpoints_for(&categories, only_local)));
            origins.push(Origin { service_port: info.name.clone(), kind });
        };

        // Handle traffic that loops back to the originator with SNAT: every endpoint on this node,
        // whatever its conditions (the endpoints map holds them all).
        for endpoint in info.endpoints.iter().filter(|e| e.node_name.as_deref() == Some(this.name.as_str())) {
            set(&mut ipsets, KUBE_LOOP_BACK).insert(Entry::IpPortIp {
                ip: endpoint.ip,
                proto,
                port: endpoint.port,
                ip2: endpoint.ip,
            });
        }

        // Capture the clusterIP: always a virtual server and a bound address, even without endpoints.
        set(&mut ipsets, KUBE_CLUSTER_IP).insert(Entry::IpPort { ip: info.cluster_ip, proto, port: info.port });
        add_vs(info.cluster_ip, info.port, info.internal_policy_local, VipKind::ClusterIp);
        bound.insert(info.cluster_ip);

        // Capture externalIPs. An address the node already has is not bound to kube-ipvs0.
        for ip in &info.external_ips {
            let entry = Entry::IpPort { ip: *ip, proto, port: info.port };
            let name = if info.external_policy_local { KUBE_EXTERNAL_IP_LOCAL } else { KUBE_EXTERNAL_IP };
            set(&mut ipsets, name).insert(entry);
            add_vs(*ip, info.port, info.external_policy_local, VipKind::ExternalIp);
            if !node_addrs.contains(ip) {
                bound.insert(*ip);
            }
        }

        // Capture load-balancer ingress.
        for ip in &info.load_balancer_ips {
            let entry = Entry::IpPort { ip: *ip, proto, port: info.port };
            set(&mut ipsets, KUBE_LOAD_BALANCER_SET).insert(entry.clone());
            if info.external_policy_local {
                set(&mut ipsets, KUBE_LOAD_BALANCER_LOCAL).insert(entry.clone());
            }
            if !info.load_balancer_source_ranges.is_empty() {
                set(&mut ipsets, KUBE_LOAD_BALANCER_FW).insert(entry);
                let mut allow_from_node = false;
                for range in &info.load_balancer_source_ranges {
                    set(&mut ipsets, KUBE_LOAD_BALANCER_SOURCE_CIDR).insert(Entry::IpPortNet {
                        ip: *ip,
                        proto,
                        port: info.port,
                        net: *range,
                    });
                    // proxier.go compares with `proxier.nodeIP`, the node's primary address.
                    if range.contains(this.ip) {
                        allow_from_node = true;
                    }
                }
                if allow_from_node {
                    // The node may reach its own LB address (traffic to an LB VIP from a backend
                    // host loops back locally): its source is the LB IP itself.
                    set(&mut ipsets, KUBE_LOAD_BALANCER_SOURCE_IP).insert(Entry::IpPortIp {
                        ip: *ip,
                        proto,
                        port: info.port,
                        ip2: *ip,
                    });
                } else {
                    lb_no_node_access.push((*ip, proto, info.port));
                }
            }
            add_vs(*ip, info.port, info.external_policy_local, VipKind::LoadBalancer);
            if !node_addrs.contains(ip) {
                bound.insert(*ip);
            }
        }

        // NodePorts: the port in a per-protocol set (SCTP: one hash:ip,port member per node
        // address), and one virtual server per node address.
        if let Some(node_port) = info.node_port {
            let entries: Vec<Entry> = match proto {
                Proto::Tcp | Proto::Udp => vec![Entry::Port(node_port)],
                Proto::Sctp => node_addrs.iter().map(|ip| Entry::IpPort { ip: *ip, proto, port: node_port }).collect(),
            };
            let (all, local) = match proto {
                Proto::Tcp => (KUBE_NODE_PORT_TCP, KUBE_NODE_PORT_LOCAL_TCP),
                Proto::Udp => (KUBE_NODE_PORT_UDP, KUBE_NODE_PORT_LOCAL_UDP),
                Proto::Sctp => (KUBE_NODE_PORT_SCTP, KUBE_NODE_PORT_LOCAL_SCTP),
            };
            for entry in &entries {
                set(&mut ipsets, all).insert(entry.clone());
                if info.external_policy_local {
                    set(&mut ipsets, local).insert(entry.clone());
                }
            }
            for ip in &node_addrs {
                add_vs(*ip, node_port, info.external_policy_local, VipKind::NodePort);
            }
        }

        // healthCheckNodePort: always TCP.
        if let Some(port) = info.health_check_node_port {
            set(&mut ipsets, KUBE_HEALTH_CHECK_NODE_PORT).insert(Entry::Port(port));
        }
    }

    // KUBE-IPVS-IPS is the set of addresses bound to kube-ipvs0.
    for ip in &bound {
        set(&mut ipsets, KUBE_IPVS_IPS).insert(Entry::Ip(*ip));
    }
    let ruleset = write_rules(cluster, &ipsets, &lb_no_node_access);
    Ok(IpvsState { dummy_addrs: bound.into_iter().collect(), node_addrs, services, origins, ipsets, ruleset })
}

/// proxier.go `syncEndpoint`: with a Local policy, the local endpoints, or the cluster's when the
/// node has none (PR #97081, so that local pods can still reach the service); otherwise the
/// cluster endpoints.
fn endpoints_for(categories: &Categories, only_local: bool) -> &[ServiceEndpoint] {
    if only_local && !categories.local.is_empty() { &categories.local } else { &categories.cluster }
}

/// The Pod label that sets a real server's weight (an lbplay extension, see `virtual_server`).
pub const WEIGHT_LABEL: &str = "lbplay.dev/ipvs-weight";

/// The weight of an endpoint's real server: its pod's `WEIGHT_LABEL`, or kube-proxy's 1.
fn weight_of(cluster: &Cluster, endpoint: &ServiceEndpoint) -> u32 {
    let pod = endpoint.pod.as_deref().and_then(|name| cluster.pod(name)).or_else(|| cluster.pod_by_ip(endpoint.ip));
    pod.map(pod_weight).unwrap_or(1)
}

/// The weight a pod's real server gets: its `WEIGHT_LABEL`, or kube-proxy's 1.
pub fn pod_weight(pod: &Pod) -> u32 {
    pod.labels.get(WEIGHT_LABEL).and_then(|value| value.parse().ok()).unwrap_or(1)
}

/// One virtual server as proxier.go builds it: the scheduler, `FlagPersistent` with the affinity
/// timeout for ClientIP affinity, `FlagSourceHash` (0x10, shown as `mh-port`) for mh, and the real
/// servers in Masq mode with weight 1, added one by one (util/ipvs_linux.go
/// `toIPVSDestination`: forwarding method `ConnFwdMasq`).
///
/// As an lbplay extension for the weighted schedulers' lessons, a Pod label
/// `lbplay.dev/ipvs-weight: "N"` gives its real server weight N (kube-proxy itself always writes
/// 1); `"0"` quiesces it, as kube-proxy does for a terminating endpoint.
fn virtual_server(
    cluster: &Cluster,
    info: &ServicePortInfo,
    scheduler: Scheduler,
    addr: Ipv4Addr,
    port: u16,
    endpoints: &[ServiceEndpoint],
) -> ipvs::Service {
    let mut flags = 0;
    if info.session_affinity.is_some() {
        flags |= IP_VS_SVC_F_PERSISTENT;
    }
    if scheduler == Scheduler::Mh {
        flags |= IP_VS_SVC_F_SCHED_MH_PORT;
    }
    let mut svc = ipvs::Service::new(info.proto, SocketAddrV4::new(addr, port), scheduler, flags, 0);
    if let Some(seconds) = info.session_affinity {
        svc.timeout = seconds;
    }
    for endpoint in endpoints {
        svc.add_dest(Dest::new(SocketAddrV4::new(endpoint.ip, endpoint.port), weight_of(cluster, endpoint)));
    }
    svc
}

/// One entry of proxier.go's `ipsetWithIptablesChain`: the set, the table and chain the rule goes
/// in, its target, the match directions and the `-p` protocol.
type SetRule<'a> = (&'a str, TableName, &'a str, Target, &'a [SetDir], Option<Proto>);

/// `-m comment --comment C -m set --match-set NAME DIRS`, the shape of proxier.go's set rules.
fn set_rule(sets: &IpSets, name: &str, dirs: &[SetDir]) -> Rule {
    let comment = sets.get(name).map(|set| set.comment.clone()).unwrap_or_default();
    Rule::new().comment(comment).match_set(name, dirs)
}

fn non_empty(sets: &IpSets, name: &str) -> bool {
    sets.get(name).is_some_and(|set| !set.is_empty())
}

/// The filter and nat rules of the IPVS mode, in the order proxier.go writes them
/// (`createAndLinkKubeChain`, then `writeIptablesRules`), plus kubelet's KUBE-FIREWALL and canary,
/// which every node has whatever the proxy mode.
///
/// Not modelled: the KUBE-IPVS-OUT-FILTER rules that stop the node itself from reaching a
/// LoadBalancer IP whose source ranges leave the node out (`-s LBIP -m ipvs --vaddr LBIP --vproto
/// P --vport N -j DROP`, issue #119656). They use the `ipvs` match, which lbplay's netfilter model
/// does not have; `lb_no_node_access` lists the pairs that would get one.
fn write_rules(cluster: &Cluster, sets: &IpSets, lb_no_node_access: &[(Ipv4Addr, Proto, u16)]) -> Ruleset {
    let _ = lb_no_node_access;
    let mark = masquerade_mark(cluster);
    let mut ruleset = Ruleset { tables: vec![Table::new(TableName::Filter), Table::new(TableName::Nat)] };
    let dst = [SetDir::Dst];
    let dst_dst = [SetDir::Dst, SetDir::Dst];
    let dst_dst_src = [SetDir::Dst, SetDir::Dst, SetDir::Src];

    // proxier.go `iptablesChains`, and kubelet's chains.
    let filter = ruleset.table_mut(TableName::Filter);
    for chain in [
        KUBE_FORWARD,
        KUBE_NODE_PORT,
        KUBE_PROXY_FIREWALL,
        KUBE_SOURCE_RANGES_FIREWALL,
        KUBE_IPVS_FILTER,
        KUBE_IPVS_OUT_FILTER,
        KUBE_FIREWALL,
        KUBE_KUBELET_CANARY,
    ] {
        filter.chain_mut(chain);
    }
    // proxier.go `iptablesJumpChain`, each ensured with `-I` (prepend), so a built-in chain lists
    // them in reverse order; kubelet's KUBE-FIREWALL jumps were there first, so they come last.
    let jump = |comment: &str, chain: &str| Rule::new().comment(comment).jump(chain);
    let input = &mut filter.chain_mut("INPUT").rules;
    input.push(jump("kubernetes ipvs access filter", KUBE_IPVS_FILTER));
    input.push(jump("kube-proxy firewall rules", KUBE_PROXY_FIREWALL));
    input.push(jump("kubernetes health check rules", KUBE_NODE_PORT));
    input.push(Rule::new().jump(KUBE_FIREWALL));
    let forward = &mut filter.chain_mut("FORWARD").rules;
    forward.push(jump("kube-proxy firewall rules", KUBE_PROXY_FIREWALL));
    forward.push(jump("kubernetes forwarding rules", KUBE_FORWARD));
    let output = &mut filter.chain_mut("OUTPUT").rules;
    output.push(jump("kubernetes ipvs access filter", KUBE_IPVS_OUT_FILTER));
    output.push(Rule::new().jump(KUBE_FIREWALL));
    // kubelet's KUBE-FIREWALL (pkg/kubelet/kubelet_network_linux.go) against CVE-2020-8558.
    let localnet = Ipv4Net { addr: Ipv4Addr::new(127, 0, 0, 0), prefix: 8 };
    filter.chain_mut(KUBE_FIREWALL).rules.push(
        Rule::new()
            .not_src(localnet)
            .dst(localnet)
            .comment("block incoming localnet connections")
            .with(Match::Conntrack(Neg::not(vec![CtState::Related, CtState::Established, CtState::Dnat])))
            .target(Target::Drop),
    );

    let nat = ruleset.table_mut(TableName::Nat);
    for chain in
        [KUBE_SERVICES, KUBE_POSTROUTING, KUBE_NODE_PORT, KUBE_LOAD_BALANCER, KUBE_MARK_MASQ, KUBE_KUBELET_CANARY]
    {
        nat.chain_mut(chain);
    }
    nat.chain_mut("OUTPUT").rules.push(jump("kubernetes service portals", KUBE_SERVICES));
    nat.chain_mut("PREROUTING").rules.push(jump("kubernetes service portals", KUBE_SERVICES));
    nat.chain_mut("POSTROUTING").rules.push(jump("kubernetes postrouting rules", KUBE_POSTROUTING));

    // writeIptablesRules: dismiss connections from localhost early.
    let mut nat_rules: Vec<(&str, Rule)> = Vec::new();
    let mut filter_rules: Vec<(&str, Rule)> = Vec::new();
    nat_rules.push((KUBE_SERVICES, Rule::new().src(localnet).target(Target::Return)));

    // proxier.go `ipsetWithIptablesChain`, in its order, for every set that has members.
    let mark_masq = || Target::Jump(KUBE_MARK_MASQ.to_string());
    let with_set: [SetRule; 12] = [
        (
            KUBE_LOOP_BACK,
            TableName::Nat,
            KUBE_POSTROUTING,
            Target::Masquerade { random_fully: false },
            &dst_dst_src,
            None,
        ),
        (
            KUBE_LOAD_BALANCER_SET,
            TableName::Nat,
            KUBE_SERVICES,
            Target::Jump(KUBE_LOAD_BALANCER.into()),
            &dst_dst,
            None,
        ),
        (KUBE_LOAD_BALANCER_LOCAL, TableName::Nat, KUBE_LOAD_BALANCER, Target::Return, &dst_dst, None),
        (KUBE_NODE_PORT_LOCAL_TCP, TableName::Nat, KUBE_NODE_PORT, Target::Return, &dst, Some(Proto::Tcp)),
        (KUBE_NODE_PORT_TCP, TableName::Nat, KUBE_NODE_PORT, mark_masq(), &dst, Some(Proto::Tcp)),
        (KUBE_NODE_PORT_LOCAL_UDP, TableName::Nat, KUBE_NODE_PORT, Target::Return, &dst, Some(Proto::Udp)),
        (KUBE_NODE_PORT_UDP, TableName::Nat, KUBE_NODE_PORT, mark_masq(), &dst, Some(Proto::Udp)),
        (KUBE_NODE_PORT_LOCAL_SCTP, TableName::Nat, KUBE_NODE_PORT, Target::Return, &dst_dst, Some(Proto::Sctp)),
        (KUBE_NODE_PORT_SCTP, TableName::Nat, KUBE_NODE_PORT, mark_masq(), &dst_dst, Some(Proto::Sctp)),
        (
            KUBE_LOAD_BALANCER_FW,
            TableName::Filter,
            KUBE_PROXY_FIREWALL,
            Target::Jump(KUBE_SOURCE_RANGES_FIREWALL.into()),
            &dst_dst,
            None,
        ),
        (
            KUBE_LOAD_BALANCER_SOURCE_CIDR,
            TableName::Filter,
            KUBE_SOURCE_RANGES_FIREWALL,
            Target::Return,
            &dst_dst_src,
            None,
        ),
        (
            KUBE_LOAD_BALANCER_SOURCE_IP,
            TableName::Filter,
            KUBE_SOURCE_RANGES_FIREWALL,
            Target::Return,
            &dst_dst_src,
            None,
        ),
    ];
    for (name, table, chain, target, dirs, proto) in with_set {
        if !non_empty(sets, name) {
            continue;
        }
        let mut rule = set_rule(sets, name, dirs);
        if let Some(proto) = proto {
            rule = rule.proto(proto);
        }
        let rule = rule.target(target);
        match table {
            TableName::Filter => filter_rules.push((chain, rule)),
            _ => nat_rules.push((chain, rule)),
        }
    }

    // Masquerade off-cluster traffic to a ClusterIP (the ClusterCIDR local detector's
    // `IfNotLocal` is `! -s CIDR`); with masqueradeAll, all of it.
    if non_empty(sets, KUBE_CLUSTER_IP) {
        let rule = set_rule(sets, KUBE_CLUSTER_IP, &dst_dst);
        let rule = if cluster.kube_proxy.masquerade_all { rule } else { rule.not_src(cluster.cluster_cidr) };
        nat_rules.push((KUBE_SERVICES, rule.target(mark_masq())));
    }
    // externalIPs: accept traffic from off the machine (not from a bridge port, not from a local
    // address), and traffic to an external IP that is a local address (proxier.go
    // `externalIPRules`).
    let external_ip_rules = |nat_rules: &mut Vec<(&str, Rule)>, name: &str| {
        nat_rules.push((
            KUBE_SERVICES,
            set_rule(sets, name, &dst_dst)
                .with(Match::PhysdevIsIn { negated: true })
                .with(Match::AddrType { src: Some(Neg::not(AddrType::Local)), dst: None })
                .target(Target::Accept),
        ));
        nat_rules.push((KUBE_SERVICES, set_rule(sets, name, &dst_dst).dst_type_local().target(Target::Accept)));
    };
    if non_empty(sets, KUBE_EXTERNAL_IP) {
        nat_rules.push((KUBE_SERVICES, set_rule(sets, KUBE_EXTERNAL_IP, &dst_dst).target(mark_masq())));
        external_ip_rules(&mut nat_rules, KUBE_EXTERNAL_IP);
    }
    if non_empty(sets, KUBE_EXTERNAL_IP_LOCAL) {
        external_ip_rules(&mut nat_rules, KUBE_EXTERNAL_IP_LOCAL);
    }
    nat_rules.push((KUBE_SERVICES, Rule::new().dst_type_local().jump(KUBE_NODE_PORT)));
    nat_rules.push((KUBE_LOAD_BALANCER, Rule::new().target(mark_masq())));
    filter_rules.push((KUBE_SOURCE_RANGES_FIREWALL, Rule::new().target(Target::Drop)));
    // `acceptIPVSTraffic`: accept what IPVS will handle, so that no later nat rule touches it.
    for name in [KUBE_CLUSTER_IP, KUBE_LOAD_BALANCER_SET] {
        if non_empty(sets, name) {
            nat_rules.push((KUBE_SERVICES, Rule::new().match_set(name, &dst_dst).target(Target::Accept)));
        }
    }
    filter_rules.push((
        KUBE_FORWARD,
        Rule::new()
            .comment("kubernetes forwarding rules")
            .with(Match::Mark(Neg::is((mark, mark))))
            .target(Target::Accept),
    ));
    filter_rules.push((
        KUBE_FORWARD,
        Rule::new()
            .comment("kubernetes forwarding conntrack rule")
            .ctstate(&[CtState::Related, CtState::Established])
            .target(Target::Accept),
    ));
    filter_rules.push((KUBE_NODE_PORT, set_rule(sets, KUBE_HEALTH_CHECK_NODE_PORT, &dst).target(Target::Accept)));
    // KUBE-IPVS-FILTER (issue #72236): a VIP answers only on its service ports.
    for (name, dirs) in [
        (KUBE_LOAD_BALANCER_SET, &dst_dst[..]),
        (KUBE_CLUSTER_IP, &dst_dst[..]),
        (KUBE_EXTERNAL_IP, &dst_dst[..]),
        (KUBE_EXTERNAL_IP_LOCAL, &dst_dst[..]),
        (KUBE_HEALTH_CHECK_NODE_PORT, &dst[..]),
    ] {
        filter_rules.push((KUBE_IPVS_FILTER, Rule::new().match_set(name, dirs).target(Target::Return)));
    }
    filter_rules.push((
        KUBE_IPVS_FILTER,
        Rule::new()
            .ctstate(&[CtState::New])
            .match_set(KUBE_IPVS_IPS, &dst)
            .target(Target::Reject(RejectWith::IcmpPortUnreachable)),
    ));
    // KUBE-POSTROUTING and KUBE-MARK-MASQ, as in the iptables mode.
    nat_rules.push((KUBE_POSTROUTING, Rule::new().with(Match::Mark(Neg::not((mark, mark)))).target(Target::Return)));
    nat_rules.push((KUBE_POSTROUTING, Rule::new().target(Target::Mark { value: mark, mask: 0 })));
    nat_rules.push((
        KUBE_POSTROUTING,
        Rule::new()
            .comment("kubernetes service traffic requiring SNAT")
            .target(Target::Masquerade { random_fully: true }),
    ));
    nat_rules.push((KUBE_MARK_MASQ, Rule::new().target(Target::Mark { value: mark, mask: mark })));

    let filter = ruleset.table_mut(TableName::Filter);
    for (chain, rule) in filter_rules {
        filter.chain_mut(chain).rules.push(rule);
    }
    let nat = ruleset.table_mut(TableName::Nat);
    for (chain, rule) in nat_rules {
        nat.chain_mut(chain).rules.push(rule);
    }
    ruleset
}

/// The one-line history note printed above the IPVS state (spec/kube-proxy.md §0 and §3.6).
pub const HISTORY_NOTE: &str = "# kube-proxy IPVS mode: until v1.24 kube-proxy fell back to iptables mode when the IPVS kernel modules were missing; v1.25 removed that fallback (PR #111806) and v1.35 deprecated the mode (KEP-5495).";
