//! kube-proxy's nftables mode: the `ip kube-proxy` table it leaves on a node after a full sync.
//!
//! This follows pkg/proxy/nftables/proxier.go of kube-proxy v1.31–v1.33 (`setupNFTables` and
//! `syncProxyRules`): one table that kube-proxy owns, base chains at `dstnat - 10` for filtering
//! before DNAT (plus `filter-output-post-dnat` at `dstnat + 10`), verdict maps that dispatch on
//! `ip daddr . meta l4proto . th dport`, and per-service and per-endpoint chains. Assumed, as the
//! iptables builder assumes: the ClusterCIDR local-traffic detector, `masqueradeAll` from the
//! scenario, and the nftables mode's default `--nodeport-addresses primary`, which fills
//! `@nodeport-ips` with the node's IP (cmd/kube-proxy/app/server.go). Objects are created in the
//! order kube-proxy's transaction creates them on a fresh node, which is the order the kernel lists
//! them in. Where kube-proxy iterates a Go map (services), lbplay sorts by service-port name.
//!
//! Newer kube-proxy (v1.34+) renamed the pre-DNAT filter chains `filter-prerouting-pre-dnat` and
//! `filter-output-pre-dnat`, moved `filter-input`/`-forward`/`-output` to priority 0 and dropped
//! the `tcp dport` match from the ClusterIP masquerade rule; spec/kube-proxy.md §6 shows that
//! newer layout.

use std::net::Ipv4Addr;

use data_encoding::BASE32;
use sha2::{Digest, Sha256};

use crate::dataplane::Hook;
use crate::kubeproxy::iptables::masquerade_mark;
use crate::kubeproxy::topology::{self, ServicePortInfo};
use crate::model::{Cluster, ServiceEndpoint};
use crate::net::Ipv4Net;
use crate::nftables::{
    AddrField, AddrRhs, BaseChain, ChainType, DataType, Element, Expr, Family, KeyExpr, KeyType, MarkOp, Policy, Rule,
    Ruleset, Set, SetFlag, Table, Value, Verdict,
};

pub const TABLE: &str = "kube-proxy";

pub const FILTER_PREROUTING: &str = "filter-prerouting";
pub const FILTER_INPUT: &str = "filter-input";
pub const FILTER_FORWARD: &str = "filter-forward";
pub const FILTER_OUTPUT: &str = "filter-output";
pub const FILTER_OUTPUT_POST_DNAT: &str = "filter-output-post-dnat";
pub const NAT_PREROUTING: &str = "nat-prerouting";
pub const NAT_OUTPUT: &str = "nat-output";
pub const NAT_POSTROUTING: &str = "nat-postrouting";

pub const SERVICES: &str = "services";
pub const SERVICE_IPS: &str = "service-ips";
pub const SERVICE_NODEPORTS: &str = "service-nodeports";
pub const NODEPORT_IPS: &str = "nodeport-ips";
pub const CLUSTER_IPS: &str = "cluster-ips";
pub const SERVICE_ENDPOINTS_CHECK: &str = "service-endpoints-check";
pub const NODEPORT_ENDPOINTS_CHECK: &str = "nodeport-endpoints-check";
pub const NO_ENDPOINT_SERVICES: &str = "no-endpoint-services";
pub const NO_ENDPOINT_NODEPORTS: &str = "no-endpoint-nodeports";
pub const REJECT_CHAIN: &str = "reject-chain";
pub const CLUSTER_IPS_CHECK: &str = "cluster-ips-check";
pub const FIREWALL_IPS: &str = "firewall-ips";
pub const FIREWALL_CHECK: &str = "firewall-check";
pub const MARK_FOR_MASQUERADE: &str = "mark-for-masquerade";
pub const MASQUERADING: &str = "masquerading";

/// knftables' `DNATPriority` and `SNATPriority` (the kernel's `NF_IP_PRI_NAT_DST`/`_SRC`).
const DNAT_PRIORITY: i32 = -100;
const SNAT_PRIORITY: i32 = 100;

/// nftables' longest object name (knftables `NameLengthMax`), less the longest prefix kube-proxy
/// puts before a hashed base (proxier.go, `chainNameBaseLengthMax`).
const CHAIN_NAME_BASE_LENGTH_MAX: usize = 256 - 16;

/// proxier.go, `hashAndTruncate`: the first 8 characters of the base32 SHA-256 of the name, a
/// hyphen and the name, cut to 240 characters with `...` at the end when longer.
pub fn hash_and_truncate(name: &str) -> String {
    let digest = Sha256::digest(name.as_bytes());
    let encoded = BASE32.encode(&digest);
    let mut out = format!("{}-{name}", &encoded[..8]);
    if out.len() > CHAIN_NAME_BASE_LENGTH_MAX {
        let mut cut = CHAIN_NAME_BASE_LENGTH_MAX - 3;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        out.push_str("...");
    }
    out
}

/// The port's name, empty for an unnamed port (the part of `ServicePortName` after the colon).
fn port_name(info: &ServicePortInfo) -> &str {
    info.name.split_once(':').map(|(_, port)| port).unwrap_or("")
}

/// proxier.go, `servicePortChainNameBase`: `HASH-namespace/name/protocol/portname`.
pub fn service_chain_base(info: &ServicePortInfo) -> String {
    hash_and_truncate(&format!("{}/{}/{}/{}", info.namespace, info.service, info.proto.as_str(), port_name(info)))
}

/// proxier.go, `servicePortEndpointChainNameBase`: the service's base, `__`, then `ip/port`.
pub fn endpoint_chain_base(info: &ServicePortInfo, ip: Ipv4Addr, port: u16) -> String {
    hash_and_truncate(&format!(
        "{}/{}/{}/{}__{ip}/{port}",
        info.namespace,
        info.service,
        info.proto.as_str(),
        port_name(info)
    ))
}

/// The names of one service port's chains (proxier.go, `newServiceInfo`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainNames {
    pub cluster: String,
    pub local: String,
    pub external: String,
    pub firewall: String,
}

impl ChainNames {
    pub fn new(info: &ServicePortInfo) -> ChainNames {
        let base = service_chain_base(info);
        ChainNames {
            cluster: format!("service-{base}"),
            local: format!("local-{base}"),
            external: format!("external-{base}"),
            firewall: format!("firewall-{base}"),
        }
    }
}

/// The chain and affinity-set names of one endpoint (proxier.go, `newEndpointInfo`).
pub fn endpoint_names(info: &ServicePortInfo, endpoint: &ServiceEndpoint) -> (String, String) {
    let base = endpoint_chain_base(info, endpoint.ip, endpoint.port);
    (format!("endpoint-{base}"), format!("affinity-{base}"))
}

fn base_chain(table: &mut Table, name: &str, kind: ChainType, hook: Hook, priority: i32) {
    table.chain_mut(name).base = Some(BaseChain { kind, hook, priority, policy: Policy::Accept });
}

fn vmap_key() -> Vec<KeyExpr> {
    vec![KeyExpr::IpDaddr, KeyExpr::MetaL4proto, KeyExpr::ThDport]
}

fn ip_proto_port() -> Vec<KeyType> {
    vec![KeyType::Ipv4Addr, KeyType::InetProto, KeyType::InetService]
}

fn proto_port() -> Vec<KeyType> {
    vec![KeyType::InetProto, KeyType::InetService]
}

fn add_element(table: &mut Table, set: &str, key: Vec<Value>, comment: Option<&str>, verdict: Option<Verdict>) {
    // nftElementStorage.ensureElem: one element per key.
    if table.set(set).is_none() || !table.first_element(set, &key) {
        return;
    }
    if let Some(set) = table.set_mut(set) {
        set.elements.push(Element { key, comment: comment.map(str::to_string), verdict });
    }
}

/// The `ip kube-proxy` table of `node` after a full sync.
pub fn build(cluster: &Cluster, node: &str) -> Result<Ruleset, String> {
    let this_node = cluster.node(node).ok_or_else(|| format!("no node named `{node}` in the scenario"))?;
    let mut table = Table::new(Family::Ip, TABLE);
    setup(&mut table, cluster, this_node.ip);
    for info in &topology::service_ports(cluster) {
        write_service_port(&mut table, cluster, this_node.ip, &this_node.name, info);
    }
    Ok(Ruleset { tables: vec![table] })
}

/// proxier.go, `setupNFTables`: the table, its base chains, the jumps into the helper chains,
/// masquerading, the sets and maps, and the dispatch rules.
fn setup(table: &mut Table, cluster: &Cluster, node_ip: Ipv4Addr) {
    table.comment = Some("rules for kube-proxy".to_string());
    // nftablesBaseChains: filtering runs before DNAT so that it sees the service's own address.
    base_chain(table, FILTER_PREROUTING, ChainType::Filter, Hook::Prerouting, DNAT_PRIORITY - 10);
    base_chain(table, FILTER_INPUT, ChainType::Filter, Hook::Input, DNAT_PRIORITY - 10);
    base_chain(table, FILTER_FORWARD, ChainType::Filter, Hook::Forward, DNAT_PRIORITY - 10);
    base_chain(table, FILTER_OUTPUT, ChainType::Filter, Hook::Output, DNAT_PRIORITY - 10);
    base_chain(table, FILTER_OUTPUT_POST_DNAT, ChainType::Filter, Hook::Output, DNAT_PRIORITY + 10);
    base_chain(table, NAT_PREROUTING, ChainType::Nat, Hook::Prerouting, DNAT_PRIORITY);
    base_chain(table, NAT_OUTPUT, ChainType::Nat, Hook::Output, DNAT_PRIORITY);
    base_chain(table, NAT_POSTROUTING, ChainType::Nat, Hook::Postrouting, SNAT_PRIORITY);

    // nftablesJumpChains, in its order: each target chain is created, then the jump added.
    let jumps: [(&str, &str, bool); 11] = [
        (NODEPORT_ENDPOINTS_CHECK, FILTER_INPUT, true),
        (SERVICE_ENDPOINTS_CHECK, FILTER_INPUT, true),
        (SERVICE_ENDPOINTS_CHECK, FILTER_FORWARD, true),
        (SERVICE_ENDPOINTS_CHECK, FILTER_OUTPUT, true),
        (FIREWALL_CHECK, FILTER_PREROUTING, true),
        (FIREWALL_CHECK, FILTER_OUTPUT, true),
        (SERVICES, NAT_OUTPUT, false),
        (SERVICES, NAT_PREROUTING, false),
        (MASQUERADING, NAT_POSTROUTING, false),
        (CLUSTER_IPS_CHECK, FILTER_FORWARD, true),
        (CLUSTER_IPS_CHECK, FILTER_OUTPUT_POST_DNAT, true),
    ];
    for (target, source, ct_new) in jumps {
        table.chain_mut(target);
        let rule = if ct_new { Rule::new().ct_new() } else { Rule::new() };
        table.chain_mut(source).rules.push(rule.jump(target));
    }
    for chain in [SERVICES, CLUSTER_IPS_CHECK, MASQUERADING, MARK_FOR_MASQUERADE] {
        table.chain_mut(chain);
    }

    let mark = masquerade_mark(cluster);
    table.chain_mut(MARK_FOR_MASQUERADE).rules.push(Rule::new().with(Expr::MarkSet { op: MarkOp::Or, value: mark }));
    let masquerading = &mut table.chain_mut(MASQUERADING).rules;
    masquerading.push(Rule::new().with(Expr::MarkUnset(mark)).verdict(Verdict::Return));
    // The xor clears the bit, so a packet that traverses the stack again is not masqueraded twice.
    masquerading.push(Rule::new().with(Expr::MarkSet { op: MarkOp::Xor, value: mark }));
    masquerading.push(Rule::new().with(Expr::Masquerade { fully_random: true }));

    table.add_set(Set::new(CLUSTER_IPS, vec![KeyType::Ipv4Addr], None).comment("Active ClusterIPs"));
    table.chain_mut(CLUSTER_IPS_CHECK).rules.push(
        Rule::new().daddr_in(CLUSTER_IPS).with(Expr::Reject).comment("Reject traffic to invalid ports of ClusterIPs"),
    );
    // The service CIDRs (from the ServiceCIDR objects, or --service-cluster-ip-range).
    table.chain_mut(CLUSTER_IPS_CHECK).rules.push(
        Rule::new()
            .with(Expr::Addr {
                field: AddrField::Daddr,
                negated: false,
                rhs: AddrRhs::Anon(vec![cluster.service_cidr]),
            })
            .verdict(Verdict::Drop)
            .comment("Drop traffic to unallocated ClusterIPs"),
    );

    // `--nodeport-addresses primary`: NodePorts answer on the node's IP only, never on 127.0.0.1.
    table.add_set(Set::new(NODEPORT_IPS, vec![KeyType::Ipv4Addr], None).comment("IPs that accept NodePort traffic"));
    add_element(table, NODEPORT_IPS, vec![Value::Ip(node_ip)], None, None);

    table.add_set(
        Set::new(NO_ENDPOINT_SERVICES, ip_proto_port(), Some(DataType::Verdict))
            .comment("vmap to drop or reject packets to services with no endpoints"),
    );
    table.add_set(
        Set::new(NO_ENDPOINT_NODEPORTS, proto_port(), Some(DataType::Verdict))
            .comment("vmap to drop or reject packets to service nodeports with no endpoints"),
    );
    let reject = table.chain_mut(REJECT_CHAIN);
    reject.comment = Some("helper for @no-endpoint-services / @no-endpoint-nodeports".to_string());
    reject.rules.push(Rule::new().with(Expr::Reject));

    table
        .chain_mut(SERVICE_ENDPOINTS_CHECK)
        .rules
        .push(Rule::new().with(Expr::Vmap { key: vmap_key(), map: NO_ENDPOINT_SERVICES.to_string() }));
    table.chain_mut(NODEPORT_ENDPOINTS_CHECK).rules.push(Rule::new().daddr_in(NODEPORT_IPS).with(Expr::Vmap {
        key: vec![KeyExpr::MetaL4proto, KeyExpr::ThDport],
        map: NO_ENDPOINT_NODEPORTS.to_string(),
    }));

    table.add_set(
        Set::new(FIREWALL_IPS, ip_proto_port(), Some(DataType::Verdict))
            .comment("destinations that are subject to LoadBalancerSourceRanges"),
    );
    table
        .chain_mut(FIREWALL_CHECK)
        .rules
        .push(Rule::new().with(Expr::Vmap { key: vmap_key(), map: FIREWALL_IPS.to_string() }));

    table.add_set(
        Set::new(SERVICE_IPS, ip_proto_port(), Some(DataType::Verdict))
            .comment("ClusterIP, ExternalIP and LoadBalancer IP traffic"),
    );
    table.add_set(Set::new(SERVICE_NODEPORTS, proto_port(), Some(DataType::Verdict)).comment("NodePort traffic"));
    let services = &mut table.chain_mut(SERVICES).rules;
    services.push(Rule::new().with(Expr::Vmap { key: vmap_key(), map: SERVICE_IPS.to_string() }));
    services.push(
        Rule::new()
            .daddr_in(NODEPORT_IPS)
            .with(Expr::Vmap { key: vec![KeyExpr::MetaL4proto, KeyExpr::ThDport], map: SERVICE_NODEPORTS.to_string() }),
    );
}

/// The elements and chains of one service port (proxier.go, the body of the loop over
/// `svcPortMap` in `syncProxyRules`).
fn write_service_port(table: &mut Table, cluster: &Cluster, node_ip: Ipv4Addr, node: &str, info: &ServicePortInfo) {
    let names = ChainNames::new(info);
    let categories = topology::categorize(info, node);
    let proto = info.proto;
    let spn = info.name.as_str();
    let has_endpoints = categories.has_any;
    let affinity = info.session_affinity;

    // Note the endpoint chains that will be used.
    for endpoint in &categories.all_reachable {
        table.chain_mut(&endpoint_names(info, endpoint).0);
    }
    let uses_cluster_chain = !categories.cluster.is_empty() && info.uses_cluster_endpoints();
    if uses_cluster_chain {
        table.chain_mut(&names.cluster);
    }
    let uses_local_chain = !categories.local.is_empty() && info.uses_local_endpoints();
    if uses_local_chain {
        table.chain_mut(&names.local);
    }

    let mut internal_chain = names.cluster.clone();
    let mut has_internal = has_endpoints;
    if info.internal_policy_local {
        internal_chain = names.local.clone();
        if categories.local.is_empty() {
            has_internal = false;
        }
    }
    let mut external_policy_chain = names.cluster.clone();
    let mut has_external = has_endpoints;
    if info.external_policy_local {
        external_policy_chain = names.local.clone();
        if categories.local.is_empty() {
            has_external = false;
        }
    }
    // Based on hasEndpoints, not hasExternalEndpoints: the short-circuit rules for pod and node
    // traffic are needed even when no endpoint serves external traffic.
    let uses_external_chain = has_endpoints && info.externally_accessible();
    if uses_external_chain {
        table.chain_mut(&names.external);
    }

    let (internal_verdict, external_verdict) = if !has_endpoints {
        (Verdict::Goto(REJECT_CHAIN.to_string()), Verdict::Goto(REJECT_CHAIN.to_string()))
    } else {
        (Verdict::Drop, Verdict::Drop)
    };
    let vip_key = |ip: Ipv4Addr, port: u16| vec![Value::Ip(ip), Value::Proto(proto), Value::Port(port)];

    // Capture the clusterIP.
    add_element(table, CLUSTER_IPS, vec![Value::Ip(info.cluster_ip)], None, None);
    if has_internal {
        add_element(
            table,
            SERVICE_IPS,
            vip_key(info.cluster_ip, info.port),
            None,
            Some(Verdict::Goto(internal_chain.clone())),
        );
    } else {
        add_element(
            table,
            NO_ENDPOINT_SERVICES,
            vip_key(info.cluster_ip, info.port),
            Some(spn),
            Some(internal_verdict),
        );
    }
    // Capture externalIPs.
    for ip in &info.external_ips {
        if has_endpoints {
            add_element(table, SERVICE_IPS, vip_key(*ip, info.port), None, Some(Verdict::Goto(names.external.clone())));
        }
        if !has_external {
            add_element(
                table,
                NO_ENDPOINT_SERVICES,
                vip_key(*ip, info.port),
                Some(spn),
                Some(external_verdict.clone()),
            );
        }
    }
    let uses_firewall_chain = !info.load_balancer_ips.is_empty() && !info.load_balancer_source_ranges.is_empty();
    if uses_firewall_chain {
        table.chain_mut(&names.firewall);
    }
    // Capture load-balancer ingress.
    for ip in &info.load_balancer_ips {
        if has_endpoints {
            add_element(table, SERVICE_IPS, vip_key(*ip, info.port), None, Some(Verdict::Goto(names.external.clone())));
        }
        if uses_firewall_chain {
            add_element(
                table,
                FIREWALL_IPS,
                vip_key(*ip, info.port),
                None,
                Some(Verdict::Goto(names.firewall.clone())),
            );
        }
    }
    if !has_external {
        for ip in &info.load_balancer_ips {
            add_element(
                table,
                NO_ENDPOINT_SERVICES,
                vip_key(*ip, info.port),
                Some(spn),
                Some(external_verdict.clone()),
            );
        }
    }
    // Capture nodeports. NodePorts are not subject to loadBalancerSourceRanges.
    if let Some(node_port) = info.node_port {
        let key = vec![Value::Proto(proto), Value::Port(node_port)];
        if has_endpoints {
            add_element(table, SERVICE_NODEPORTS, key.clone(), None, Some(Verdict::Goto(names.external.clone())));
        }
        if !has_external {
            add_element(table, NO_ENDPOINT_NODEPORTS, key, Some(spn), Some(external_verdict.clone()));
        }
    }

    // Internal traffic: masquerade off-cluster traffic to the ClusterIP.
    if has_internal {
        let rule = Rule::new().daddr(Ipv4Net::host(info.cluster_ip)).with(Expr::Dport { proto, port: info.port });
        let rule = if cluster.kube_proxy.masquerade_all { rule } else { rule.not_saddr(cluster.cluster_cidr) };
        table.chain_mut(&internal_chain).rules.push(rule.jump(MARK_FOR_MASQUERADE));
    }

    // External traffic: everything captured for an external destination goes through here.
    if uses_external_chain {
        let mut rules = Vec::new();
        if !info.external_policy_local {
            // Endpoints may be on other nodes: masquerade, so that replies come back here.
            rules.push(Rule::new().jump(MARK_FOR_MASQUERADE));
        } else {
            // Pod traffic to an external destination is treated as if it went out to the load
            // balancer and came back: subject to neither traffic policy.
            rules.push(
                Rule::new().saddr(cluster.cluster_cidr).goto(&names.cluster).comment("short-circuit pod traffic"),
            );
            // The node's own traffic needs masquerading, as its source would be the LB IP.
            rules.push(
                Rule::new()
                    .with(Expr::FibLocal(AddrField::Saddr))
                    .jump(MARK_FOR_MASQUERADE)
                    .comment("masquerade local traffic"),
            );
            rules.push(
                Rule::new()
                    .with(Expr::FibLocal(AddrField::Saddr))
                    .goto(&names.cluster)
                    .comment("short-circuit local traffic"),
            );
        }
        if has_external {
            rules.push(Rule::new().goto(&external_policy_chain));
        }
        table.chain_mut(&names.external).rules.extend(rules);
    }

    if uses_firewall_chain {
        let mut sources: Vec<Ipv4Net> = Vec::new();
        let mut allow_from_node = false;
        for range in &info.load_balancer_source_ranges {
            sources.push(*range);
            if range.contains(node_ip) {
                allow_from_node = true;
            }
        }
        // A VIP-like load balancer may loop a node's request back with the VIP as its source.
        if allow_from_node {
            sources.extend(info.load_balancer_ips.iter().map(|ip| Ipv4Net::host(*ip)));
        }
        table.chain_mut(&names.firewall).rules.push(
            Rule::new()
                .with(Expr::Addr { field: AddrField::Saddr, negated: true, rhs: AddrRhs::Anon(sources) })
                .verdict(Verdict::Drop),
        );
    }

    if let Some(seconds) = affinity {
        // One dynamic set per endpoint, keyed by client address, entries living `seconds`.
        for endpoint in &categories.all_reachable {
            let (_, set_name) = endpoint_names(info, endpoint);
            let mut set = Set::new(set_name, vec![KeyType::Ipv4Addr], None);
            set.flags = vec![SetFlag::Dynamic, SetFlag::Timeout];
            set.timeout = Some(seconds);
            table.add_set(set);
        }
    }

    if uses_cluster_chain {
        write_service_to_endpoint_rules(table, info, &names.cluster, &categories.cluster);
    }
    if uses_local_chain {
        write_service_to_endpoint_rules(table, info, &names.local, &categories.local);
    }

    // The per-endpoint chains.
    for endpoint in &categories.all_reachable {
        let (chain, set) = endpoint_names(info, endpoint);
        let rules = &mut table.chain_mut(&chain).rules;
        // Hairpin: a pod that reaches itself through the service must be masqueraded.
        rules.push(Rule::new().saddr(Ipv4Net::host(endpoint.ip)).jump(MARK_FOR_MASQUERADE));
        if affinity.is_some() {
            rules.push(Rule::new().with(Expr::UpdateSet { set, key: KeyExpr::IpSaddr }));
        }
        rules.push(
            Rule::new().with(Expr::L4Proto(proto)).with(Expr::Dnat { ip: endpoint.ip, port: Some(endpoint.port) }),
        );
    }
}

/// proxier.go, `writeServiceToEndpointRules`: affinity rules first (one per endpoint), then one
/// `numgen random mod N` verdict map over the endpoints in sorted order.
fn write_service_to_endpoint_rules(
    table: &mut Table,
    info: &ServicePortInfo,
    chain: &str,
    endpoints: &[ServiceEndpoint],
) {
    let mut rules = Vec::new();
    if info.session_affinity.is_some() {
        for endpoint in endpoints {
            let (endpoint_chain, set) = endpoint_names(info, endpoint);
            rules.push(Rule::new().saddr_in(&set).goto(endpoint_chain));
        }
    }
    let verdicts: Vec<Verdict> =
        endpoints.iter().map(|endpoint| Verdict::Goto(endpoint_names(info, endpoint).0)).collect();
    rules.push(Rule::new().with(Expr::NumgenVmap { modulus: endpoints.len() as u32, verdicts }));
    table.chain_mut(chain).rules.extend(rules);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// spec/kube-proxy.md §6.2: kube-proxy's own test vectors, and the spec's running example.
    #[test]
    fn chain_name_hashes() {
        assert_eq!(hash_and_truncate("ns1/svc1/tcp/p80"), "ULMVA6XW-ns1/svc1/tcp/p80");
        assert_eq!(hash_and_truncate("ns1/svc1/tcp/p80__10.180.0.1/80"), "5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80");
        assert_eq!(hash_and_truncate("default/web/tcp/http"), "SUSTUHLJ-default/web/tcp/http");
        assert_eq!(
            hash_and_truncate("default/web/tcp/http__10.244.1.5/8080"),
            "HGNPOIJ5-default/web/tcp/http__10.244.1.5/8080"
        );
        assert_eq!(
            hash_and_truncate("default/web/tcp/http__10.244.2.7/8080"),
            "BZGFZVVG-default/web/tcp/http__10.244.2.7/8080"
        );
        assert_eq!(
            hash_and_truncate("default/web/tcp/http__10.244.3.9/8080"),
            "IXR2BMJD-default/web/tcp/http__10.244.3.9/8080"
        );
        // From proxier_test.go's TestOverallNFTablesRules expectations.
        assert_eq!(hash_and_truncate("ns2/svc2/tcp/p80"), "42NFTM6N-ns2/svc2/tcp/p80");
        assert_eq!(hash_and_truncate("ns4/svc4/tcp/p80__10.180.0.5/80"), "5RFCDDV7-ns4/svc4/tcp/p80__10.180.0.5/80");
        let long = "x".repeat(300);
        let cut = hash_and_truncate(&long);
        assert_eq!(cut.len(), 240);
        assert!(cut.ends_with("..."));
    }
}
