//! kube-proxy's iptables mode: the filter and nat rules it (and kubelet) leave on a node.
//!
//! This follows pkg/proxy/iptables/proxier.go, `syncProxyRules`, of kube-proxy v1.31–v1.33 (a full
//! sync, `localhostNodePorts: true`, no nfacct counters, the ClusterCIDR local detector). Rules are
//! built as data in the order kube-proxy writes them; `netfilter::render` prints them as
//! `iptables-save` does. Where kube-proxy iterates a Go map (the order of services in
//! KUBE-SERVICES is random between syncs), lbplay sorts by service-port name instead.

use std::net::Ipv4Addr;

use crate::dataplane::{CtState, RejectWith};
use crate::kubeproxy::hash::{endpoint_hash, port_proto_hash};
use crate::kubeproxy::topology::{self, ServicePortInfo};
use crate::model::Cluster;
use crate::net::Ipv4Net;
use crate::netfilter::{Match, Neg, Recent, RecentOp, Rule, Ruleset, Table, TableName, Target};

pub const KUBE_SERVICES: &str = "KUBE-SERVICES";
pub const KUBE_EXTERNAL_SERVICES: &str = "KUBE-EXTERNAL-SERVICES";
pub const KUBE_NODEPORTS: &str = "KUBE-NODEPORTS";
pub const KUBE_POSTROUTING: &str = "KUBE-POSTROUTING";
pub const KUBE_MARK_MASQ: &str = "KUBE-MARK-MASQ";
pub const KUBE_FORWARD: &str = "KUBE-FORWARD";
pub const KUBE_PROXY_FIREWALL: &str = "KUBE-PROXY-FIREWALL";
pub const KUBE_FIREWALL: &str = "KUBE-FIREWALL";
pub const KUBE_PROXY_CANARY: &str = "KUBE-PROXY-CANARY";
pub const KUBE_KUBELET_CANARY: &str = "KUBE-KUBELET-CANARY";

/// Above this many endpoints in all, kube-proxy drops the per-endpoint comments
/// (proxier.go, `largeClusterEndpointsThreshold`).
pub const LARGE_CLUSTER_ENDPOINTS_THRESHOLD: usize = 1000;

/// The names of one service port's chains.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainNames {
    pub svc: String,
    pub svl: String,
    pub ext: String,
    pub fw: String,
}

impl ChainNames {
    pub fn new(info: &ServicePortInfo) -> ChainNames {
        let hash = port_proto_hash(&info.name, info.proto);
        ChainNames {
            svc: format!("KUBE-SVC-{hash}"),
            svl: format!("KUBE-SVL-{hash}"),
            ext: format!("KUBE-EXT-{hash}"),
            fw: format!("KUBE-FW-{hash}"),
        }
    }
}

/// The KUBE-SEP- chain of one endpoint of a service port.
pub fn endpoint_chain(info: &ServicePortInfo, endpoint: &str) -> String {
    format!("KUBE-SEP-{}", endpoint_hash(&info.name, info.proto, endpoint))
}

/// The value of `--probability` kube-proxy writes for the i-th of n endpoints: `1/(n-i)` with ten
/// decimals (proxier.go, `probability`: `fmt.Sprintf("%0.10f", 1.0/float64(n))`, since v1.17).
pub fn probability_text(remaining: usize) -> String {
    format!("{:.10}", 1.0 / remaining as f64)
}

/// The threshold the kernel stores for a `--probability` text: libxt_statistic.c parses it with
/// `strtod` and stores `lround(0x80000000 * p)`.
pub fn statistic_threshold(text: &str) -> u32 {
    let probability: f64 = text.parse().unwrap_or(0.0);
    (2_147_483_648.0 * probability).round() as u32
}

/// The stored threshold for a rule with `remaining` endpoints left, `1/remaining`, computed once
/// per value for the common sizes (formatting and parsing floats is a large part of a big sync).
fn threshold_for(remaining: usize) -> u32 {
    static TABLE: std::sync::OnceLock<Vec<u32>> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        (0..=1024).map(|k| if k == 0 { 0 } else { statistic_threshold(&probability_text(k)) }).collect()
    });
    table.get(remaining).copied().unwrap_or_else(|| statistic_threshold(&probability_text(remaining)))
}

/// The mark kube-proxy uses to ask for masquerading: `1 << masqueradeBit`.
pub fn masquerade_mark(cluster: &Cluster) -> u32 {
    1u32 << u32::from(cluster.kube_proxy.masquerade_bit.min(31))
}

/// The complete filter and nat state of `node`, after kubelet and kube-proxy have synced.
pub fn build(cluster: &Cluster, node: &str) -> Result<Ruleset, String> {
    let this_node = cluster.node(node).ok_or_else(|| format!("no node named `{node}` in the scenario"))?;
    let mark = masquerade_mark(cluster);
    let mut ruleset = Ruleset { tables: vec![Table::new(TableName::Filter), Table::new(TableName::Nat)] };
    write_static_chains(&mut ruleset, cluster, mark);

    let service_ports = topology::service_ports(cluster);
    let total_endpoints: usize = service_ports.iter().map(|info| info.endpoints.len()).sum();
    let large_cluster = total_endpoints > LARGE_CLUSTER_ENDPOINTS_THRESHOLD;
    for info in &service_ports {
        write_service_port(&mut ruleset, cluster, this_node.ip, &this_node.name, info, large_cluster);
    }

    // proxier.go: "We include this rule last so that it is evaluated after every service rule";
    // with localhostNodePorts true and no --nodeport-addresses it has no -d match.
    let nat = ruleset.table_mut(TableName::Nat);
    nat.chain_mut(KUBE_SERVICES).rules.push(
        Rule::new()
            .comment("kubernetes service nodeports; NOTE: this must be the last rule in this chain")
            .dst_type_local()
            .jump(KUBE_NODEPORTS),
    );
    Ok(ruleset)
}

/// The chains every node has, whatever its Services: the jumps from the built-in chains
/// (proxier.go `iptablesJumpChains`, each ensured with `-I`, so they appear in reverse order of
/// creation), the canaries of kube-proxy's and kubelet's monitors, KUBE-FIREWALL,
/// KUBE-FORWARD, KUBE-MARK-MASQ and KUBE-POSTROUTING.
fn write_static_chains(ruleset: &mut Ruleset, cluster: &Cluster, mark: u32) {
    let filter = ruleset.table_mut(TableName::Filter);
    for chain in [
        KUBE_EXTERNAL_SERVICES,
        KUBE_FIREWALL,
        KUBE_FORWARD,
        KUBE_KUBELET_CANARY,
        KUBE_NODEPORTS,
        KUBE_PROXY_CANARY,
        KUBE_PROXY_FIREWALL,
        KUBE_SERVICES,
    ] {
        filter.chain_mut(chain);
    }
    let new = [CtState::New];
    let firewall_jump =
        || Rule::new().ctstate(&new).comment("kubernetes load balancer firewall").jump(KUBE_PROXY_FIREWALL);
    let input = &mut filter.chain_mut("INPUT").rules;
    input.push(firewall_jump());
    input.push(Rule::new().comment("kubernetes health check service ports").jump(KUBE_NODEPORTS));
    input.push(
        Rule::new().ctstate(&new).comment("kubernetes externally-visible service portals").jump(KUBE_EXTERNAL_SERVICES),
    );
    input.push(Rule::new().jump(KUBE_FIREWALL));
    let forward = &mut filter.chain_mut("FORWARD").rules;
    forward.push(firewall_jump());
    forward.push(Rule::new().comment("kubernetes forwarding rules").jump(KUBE_FORWARD));
    forward.push(Rule::new().ctstate(&new).comment("kubernetes service portals").jump(KUBE_SERVICES));
    forward.push(
        Rule::new().ctstate(&new).comment("kubernetes externally-visible service portals").jump(KUBE_EXTERNAL_SERVICES),
    );
    let output = &mut filter.chain_mut("OUTPUT").rules;
    output.push(firewall_jump());
    output.push(Rule::new().ctstate(&new).comment("kubernetes service portals").jump(KUBE_SERVICES));
    output.push(Rule::new().jump(KUBE_FIREWALL));

    // kubelet's KUBE-FIREWALL (pkg/kubelet/kubelet_network_linux.go) against CVE-2020-8558.
    let localnet: Ipv4Net = Ipv4Net { addr: Ipv4Addr::new(127, 0, 0, 0), prefix: 8 };
    filter.chain_mut(KUBE_FIREWALL).rules.push(
        Rule::new()
            .not_src(localnet)
            .dst(localnet)
            .comment("block incoming localnet connections")
            .with(Match::Conntrack(Neg::not(vec![CtState::Related, CtState::Established, CtState::Dnat])))
            .target(Target::Drop),
    );
    let kube_forward = &mut filter.chain_mut(KUBE_FORWARD).rules;
    kube_forward.push(Rule::new().ctstate(&[CtState::Invalid]).target(Target::Drop));
    kube_forward.push(
        Rule::new()
            .comment("kubernetes forwarding rules")
            .with(Match::Mark(Neg::is((mark, mark))))
            .target(Target::Accept),
    );
    kube_forward.push(
        Rule::new()
            .comment("kubernetes forwarding conntrack rule")
            .ctstate(&[CtState::Related, CtState::Established])
            .target(Target::Accept),
    );

    let nat = ruleset.table_mut(TableName::Nat);
    for chain in
        [KUBE_KUBELET_CANARY, KUBE_MARK_MASQ, KUBE_NODEPORTS, KUBE_POSTROUTING, KUBE_PROXY_CANARY, KUBE_SERVICES]
    {
        nat.chain_mut(chain);
    }
    nat.chain_mut("PREROUTING").rules.push(Rule::new().comment("kubernetes service portals").jump(KUBE_SERVICES));
    nat.chain_mut("OUTPUT").rules.push(Rule::new().comment("kubernetes service portals").jump(KUBE_SERVICES));
    nat.chain_mut("POSTROUTING").rules.push(Rule::new().comment("kubernetes postrouting rules").jump(KUBE_POSTROUTING));
    let postrouting = &mut nat.chain_mut(KUBE_POSTROUTING).rules;
    postrouting.push(Rule::new().with(Match::Mark(Neg::not((mark, mark)))).target(Target::Return));
    // `--xor-mark M` clears the bit, so a packet that traverses the stack again is not masqueraded twice.
    postrouting.push(Rule::new().target(Target::Mark { value: mark, mask: 0 }));
    postrouting.push(
        Rule::new()
            .comment("kubernetes service traffic requiring SNAT")
            .target(Target::Masquerade { random_fully: true }),
    );
    // `--or-mark M`.
    nat.chain_mut(KUBE_MARK_MASQ).rules.push(Rule::new().target(Target::Mark { value: mark, mask: mark }));
    let _ = cluster;
}

/// The rules of one service port (proxier.go, the body of the loop over `svcPortMap`).
fn write_service_port(
    ruleset: &mut Ruleset,
    cluster: &Cluster,
    node_ip: Ipv4Addr,
    node_name: &str,
    info: &ServicePortInfo,
    large_cluster: bool,
) {
    let names = ChainNames::new(info);
    let categories = topology::categorize(info, node_name);
    let proto = info.proto;
    let spn = info.name.as_str();
    let cluster_cidr = cluster.cluster_cidr;
    let mark_masq = || Target::Jump(KUBE_MARK_MASQ.to_string());

    let uses_cluster_chain = !categories.cluster.is_empty() && info.uses_cluster_endpoints();
    let uses_local_chain = !categories.local.is_empty() && info.uses_local_endpoints();

    let mut internal_chain = names.svc.clone();
    let mut has_internal = categories.has_any;
    if info.internal_policy_local {
        internal_chain = names.svl.clone();
        if categories.local.is_empty() {
            has_internal = false;
        }
    }
    let mut external_policy_chain = names.svc.clone();
    let mut has_external = categories.has_any;
    if info.external_policy_local {
        external_policy_chain = names.svl.clone();
        if categories.local.is_empty() {
            has_external = false;
        }
    }
    let uses_ext_chain = categories.has_any && info.externally_accessible();
    let uses_fw_chain =
        categories.has_any && !info.load_balancer_ips.is_empty() && !info.load_balancer_source_ranges.is_empty();
    let lb_chain = if uses_fw_chain { names.fw.clone() } else { names.ext.clone() };

    let (internal_filter, external_filter) = if !categories.has_any {
        let comment = format!("{spn} has no endpoints");
        (
            Some((comment.clone(), Target::Reject(RejectWith::IcmpPortUnreachable))),
            Some((comment, Target::Reject(RejectWith::IcmpPortUnreachable))),
        )
    } else {
        let no_local = format!("{spn} has no local endpoints");
        ((!has_internal).then(|| (no_local.clone(), Target::Drop)), (!has_external).then_some((no_local, Target::Drop)))
    };

    let service_rule =
        |comment: &str, ip: Ipv4Addr, port: u16| Rule::new().comment(comment).port_match(proto, Some(port)).dst_ip(ip);

    let mut nat_services: Vec<Rule> = Vec::new();
    let mut nat_nodeports: Vec<Rule> = Vec::new();
    let mut filter_services: Vec<Rule> = Vec::new();
    let mut filter_external: Vec<Rule> = Vec::new();
    let mut filter_nodeports: Vec<Rule> = Vec::new();
    let mut filter_firewall: Vec<Rule> = Vec::new();

    // Capture the clusterIP.
    if has_internal {
        nat_services.push(service_rule(&format!("{spn} cluster IP"), info.cluster_ip, info.port).jump(&internal_chain));
    } else if let Some((comment, target)) = &internal_filter {
        filter_services.push(service_rule(comment, info.cluster_ip, info.port).target(target.clone()));
    }
    // Capture externalIPs.
    for ip in &info.external_ips {
        if categories.has_any {
            nat_services.push(service_rule(&format!("{spn} external IP"), *ip, info.port).jump(&names.ext));
        }
        if let Some((comment, target)) = &external_filter {
            filter_external.push(service_rule(comment, *ip, info.port).target(target.clone()));
        }
    }
    // Capture load-balancer ingress.
    for ip in &info.load_balancer_ips {
        if categories.has_any {
            nat_services.push(service_rule(&format!("{spn} loadbalancer IP"), *ip, info.port).jump(&lb_chain));
        }
        if uses_fw_chain {
            filter_firewall.push(
                service_rule(&format!("{spn} traffic not accepted by {}", names.fw), *ip, info.port)
                    .target(Target::Drop),
            );
        }
    }
    if let Some((comment, target)) = &external_filter {
        for ip in &info.load_balancer_ips {
            filter_external.push(service_rule(comment, *ip, info.port).target(target.clone()));
        }
    }
    // Capture nodeports.
    if let Some(node_port) = info.node_port {
        if categories.has_any {
            nat_nodeports.push(Rule::new().comment(spn).port_match(proto, Some(node_port)).jump(&names.ext));
        }
        if let Some((comment, target)) = &external_filter {
            filter_external.push(
                Rule::new()
                    .comment(comment.as_str())
                    .dst_type_local()
                    .port_match(proto, Some(node_port))
                    .target(target.clone()),
            );
        }
    }
    // Capture healthCheckNodePorts: always TCP, whether or not this node has local endpoints.
    if let Some(port) = info.health_check_node_port {
        filter_nodeports.push(
            Rule::new()
                .comment(format!("{spn} health check node port"))
                .port_match(crate::net::Proto::Tcp, Some(port))
                .target(Target::Accept),
        );
    }

    let mut nat_chains: Vec<(String, Vec<Rule>)> = Vec::new();
    let mut internal_rules: Vec<Rule> = Vec::new();
    // Set up internal traffic handling: masquerade off-cluster traffic to the ClusterIP.
    if has_internal {
        let rule = service_rule(&format!("{spn} cluster IP"), info.cluster_ip, info.port);
        if cluster.kube_proxy.masquerade_all {
            internal_rules.push(rule.target(mark_masq()));
        } else {
            internal_rules.push(rule.not_src(cluster_cidr).target(mark_masq()));
        }
    }
    // Set up external traffic handling.
    if uses_ext_chain {
        let mut rules = Vec::new();
        if !info.external_policy_local {
            rules.push(
                Rule::new().comment(format!("masquerade traffic for {spn} external destinations")).target(mark_masq()),
            );
        } else {
            rules.push(
                Rule::new()
                    .comment(format!("pod traffic for {spn} external destinations"))
                    .src(cluster_cidr)
                    .jump(&names.svc),
            );
            rules.push(
                Rule::new()
                    .comment(format!("masquerade LOCAL traffic for {spn} external destinations"))
                    .src_type_local()
                    .target(mark_masq()),
            );
            rules.push(
                Rule::new()
                    .comment(format!("route LOCAL traffic for {spn} external destinations"))
                    .src_type_local()
                    .jump(&names.svc),
            );
        }
        if has_external {
            rules.push(Rule::new().jump(&external_policy_chain));
        }
        nat_chains.push((names.ext.clone(), rules));
    }
    // Set up the firewall chain for loadBalancerSourceRanges.
    if uses_fw_chain {
        let comment = format!("{spn} loadbalancer IP");
        let mut rules = Vec::new();
        let mut allow_from_node = false;
        for range in &info.load_balancer_source_ranges {
            rules.push(Rule::new().comment(comment.as_str()).src(*range).jump(&names.ext));
            if range.contains(node_ip) {
                allow_from_node = true;
            }
        }
        if allow_from_node {
            for ip in &info.load_balancer_ips {
                rules.push(Rule::new().comment(comment.as_str()).src(Ipv4Net::host(*ip)).jump(&names.ext));
            }
        }
        rules.push(Rule::new().comment(format!("other traffic to {spn} will be dropped by KUBE-PROXY-FIREWALL")));
        nat_chains.push((names.fw.clone(), rules));
    }
    // The KUBE-SEP- name of each reachable endpoint, hashed once (SHA-256 is most of the cost of a
    // large sync).
    let sep_chains: Vec<(String, String)> = categories
        .all_reachable
        .iter()
        .map(|endpoint| {
            let endpoint_string = endpoint.endpoint_string();
            let chain = endpoint_chain(info, &endpoint_string);
            (endpoint_string, chain)
        })
        .collect();
    let mut svc_rules = Vec::new();
    let mut svl_rules = Vec::new();
    if internal_chain == names.svc {
        svc_rules.append(&mut internal_rules);
    } else {
        svl_rules.append(&mut internal_rules);
    }
    if uses_cluster_chain {
        write_service_to_endpoint_rules(&mut svc_rules, info, &categories.cluster, &sep_chains, large_cluster);
        nat_chains.push((names.svc.clone(), svc_rules));
    }
    if uses_local_chain {
        write_service_to_endpoint_rules(&mut svl_rules, info, &categories.local, &sep_chains, large_cluster);
        nat_chains.push((names.svl.clone(), svl_rules));
    }
    // Generate the per-endpoint chains.
    for (endpoint, (_, chain)) in categories.all_reachable.iter().zip(&sep_chains) {
        let chain = chain.clone();
        let base = || if large_cluster { Rule::new() } else { Rule::new().comment(spn) };
        let mut rules = vec![base().src(Ipv4Net::host(endpoint.ip)).target(mark_masq())];
        let mut dnat = base();
        if info.session_affinity.is_some() {
            dnat = dnat.with(Match::Recent(Recent { name: chain.clone(), op: RecentOp::Set }));
        }
        rules.push(dnat.port_match(proto, None).target(Target::Dnat { ip: endpoint.ip, port: Some(endpoint.port) }));
        nat_chains.push((chain, rules));
    }

    let nat = ruleset.table_mut(TableName::Nat);
    nat.chain_mut(KUBE_SERVICES).rules.extend(nat_services);
    nat.chain_mut(KUBE_NODEPORTS).rules.extend(nat_nodeports);
    // Per-service chain names are unique (they hash the service-port name), so they are appended
    // without a lookup; a lookup per chain would make building quadratic in the number of Services.
    for (name, rules) in nat_chains {
        nat.chains.push(crate::netfilter::Chain { name, policy: None, rules });
    }
    let filter = ruleset.table_mut(TableName::Filter);
    filter.chain_mut(KUBE_SERVICES).rules.extend(filter_services);
    filter.chain_mut(KUBE_EXTERNAL_SERVICES).rules.extend(filter_external);
    filter.chain_mut(KUBE_NODEPORTS).rules.extend(filter_nodeports);
    filter.chain_mut(KUBE_PROXY_FIREWALL).rules.extend(filter_firewall);
}

/// proxier.go, `writeServiceToEndpointRules`: first one affinity rule per endpoint, then one
/// probability rule per endpoint, the last without a statistic match.
fn write_service_to_endpoint_rules(
    rules: &mut Vec<Rule>,
    info: &ServicePortInfo,
    endpoints: &[crate::model::ServiceEndpoint],
    sep_chains: &[(String, String)],
    large_cluster: bool,
) {
    let chain_of = |endpoint_string: &str| -> String {
        sep_chains
            .iter()
            .find(|(known, _)| known == endpoint_string)
            .map(|(_, chain)| chain.clone())
            .unwrap_or_else(|| endpoint_chain(info, endpoint_string))
    };
    let spn = info.name.as_str();
    let base = |comment: String| if large_cluster { Rule::new() } else { Rule::new().comment(comment) };
    if let Some(seconds) = info.session_affinity {
        for endpoint in endpoints {
            let endpoint_string = endpoint.endpoint_string();
            let chain = chain_of(&endpoint_string);
            rules.push(
                base(format!("{spn} -> {endpoint_string}"))
                    .with(Match::Recent(Recent { name: chain.clone(), op: RecentOp::Rcheck { seconds, reap: true } }))
                    .jump(chain),
            );
        }
    }
    let count = endpoints.len();
    for (index, endpoint) in endpoints.iter().enumerate() {
        let endpoint_string = endpoint.endpoint_string();
        let chain = chain_of(&endpoint_string);
        let mut rule = base(format!("{spn} -> {endpoint_string}"));
        if index + 1 < count {
            rule = rule.with(Match::StatisticRandom { threshold: threshold_for(count - index) });
        }
        rules.push(rule.jump(chain));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probabilities_as_kube_proxy_writes_and_the_kernel_stores_them() {
        // spec/kube-proxy.md §1.5: what kube-proxy writes, and the u32 libxt_statistic stores.
        let cases = [
            (2, "0.5000000000", 1073741824u32),
            (3, "0.3333333333", 715827883),
            (5, "0.2000000000", 429496730),
            (6, "0.1666666667", 357913941),
            (7, "0.1428571429", 306783378),
        ];
        for (k, text, stored) in cases {
            assert_eq!(probability_text(k), text);
            assert_eq!(statistic_threshold(text), stored, "k={k}");
        }
    }
}
