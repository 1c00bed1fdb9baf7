//! `lbplay compare`: one Service under each kube-proxy mode side by side, and the scaling table.
//!
//! Every number comes from the core: the rules each mode's builder writes on the node, and the
//! steps of `walk::trace` for a connection's first packet (rules evaluated = every matched
//! netfilter step plus the rules skipped before it, on the whole way to the pod). This module
//! only counts and lays out; every mode's column, userspace's relay included, comes from the walk.

use std::net::SocketAddrV4;

use lbplay_core::kubeproxy::userspace;
use lbplay_core::kubeproxy::{self};
use lbplay_core::model::{Cluster, ProxyMode};
use lbplay_core::net::Proto;
use lbplay_core::walk::{self, Host, Request};
use lbplay_core::{StepKind, Trace, synthetic};

/// The modes in the order the source text teaches them, newest last.
const MODES: [ProxyMode; 4] = [ProxyMode::Userspace, ProxyMode::Iptables, ProxyMode::Ipvs, ProxyMode::Nftables];

/// What `compare` needs besides the cluster.
pub(crate) struct Options<'a> {
    /// `NAMESPACE/NAME`; the first Service with a ClusterIP when absent.
    pub(crate) service: Option<&'a str>,
    /// `pod/NAME`, `node/NAME`, `client/NAME` or an IP; when absent, the first pod that is no
    /// Service's endpoint, else the first that is not this Service's, else the first node.
    pub(crate) from: Option<&'a str>,
    pub(crate) seed: u64,
}

/// One mode's column.
struct Column {
    written: String,
    evaluated: String,
    lookups: String,
    source_seen: String,
    retry: String,
    decision: String,
}

/// The side-by-side table for one Service.
pub(crate) fn compare(cluster: &Cluster, options: &Options<'_>) -> Result<String, String> {
    let service = match options.service {
        Some(text) => {
            let (namespace, name) =
                text.split_once('/').ok_or_else(|| format!("--service must be NAMESPACE/NAME, not `{text}`"))?;
            cluster.service(namespace, name).ok_or_else(|| format!("no Service `{text}` in the scenario"))?
        }
        None => cluster
            .services
            .iter()
            .find(|service| service.cluster_ip.is_some())
            .ok_or("the scenario has no Service with a ClusterIP")?,
    };
    let cluster_ip = service.cluster_ip.ok_or_else(|| format!("{} has no ClusterIP", service.namespaced_name()))?;
    let port = service.ports.first().ok_or_else(|| format!("{} has no ports", service.namespaced_name()))?;
    let service_port = match &port.name {
        Some(name) if !name.is_empty() => format!("{}:{name}", service.namespaced_name()),
        _ => service.namespaced_name(),
    };
    let from = match options.from {
        Some(from) => from.to_string(),
        None => default_source(cluster, service, port),
    };
    let source = walk::resolve_host(cluster, &from).map_err(|err| err.to_string())?;
    let node = match &source {
        Host::Pod { node, .. } => node.clone(),
        Host::Node { name, .. } => name.clone(),
        Host::Client { .. } => {
            cluster.nodes.first().map(|node| node.name.clone()).ok_or("the scenario has no nodes")?
        }
    };
    let to = SocketAddrV4::new(cluster_ip, port.port);
    let proto = port.protocol;

    let mut columns = Vec::new();
    for mode in MODES {
        let mut moded = cluster.clone();
        moded.kube_proxy.mode = mode;
        let written = written(&moded, &node, mode)?;
        let request = Request { from: from.clone(), to: to.to_string(), proto, seed: options.seed, now: 0 };
        let column = match walk::trace(&moded, &request) {
            Ok(trace) => from_trace(&trace, mode, &moded, written),
            Err(err) => return Err(err.to_string()),
        };
        columns.push((mode, column));
    }

    let mut out = format!(
        "{service_port} at {to} ({}), first packet from {from}; rules counted on {node}\n\n",
        proto.as_str().to_uppercase()
    );
    let header: Vec<String> = std::iter::once(String::new())
        .chain(columns.iter().map(|(mode, _)| match mode {
            ProxyMode::Userspace => "userspace (removed v1.26)".to_string(),
            ProxyMode::Ipvs => "ipvs (deprecated v1.35)".to_string(),
            other => other.as_str().to_string(),
        }))
        .collect();
    let row = |label: &str, cell: &dyn Fn(&Column) -> String| -> Vec<String> {
        std::iter::once(label.to_string()).chain(columns.iter().map(|(_, column)| cell(column))).collect()
    };
    let rows = vec![
        header,
        row("rules written on the node", &|c| c.written.clone()),
        row("rules evaluated (first packet)", &|c| c.evaluated.clone()),
        row("hash/map lookups", &|c| c.lookups.clone()),
        row("source address the pod sees", &|c| c.source_seen.clone()),
        row("retry on a dead endpoint", &|c| c.retry.clone()),
        row("load-balancing decision", &|c| c.decision.clone()),
    ];
    out.push_str(&table(&rows));
    out.push_str(
        "\nrules evaluated: every rule the first packet was matched against on its way to the pod (matched rules and those skipped before them), on every node it crossed.\n",
    );
    Ok(out)
}

fn default_source(
    cluster: &Cluster,
    service: &lbplay_core::model::Service,
    port: &lbplay_core::model::ServicePort,
) -> String {
    let ours = cluster.endpoints_for(service, port);
    let serving = |ip| cluster.endpoint_slices.iter().flat_map(|slice| &slice.endpoints).any(|e| e.ip == ip);
    let pods = || cluster.pods.iter().filter(|pod| !pod.host_network);
    pods()
        .find(|pod| !serving(pod.ip))
        .or_else(|| pods().find(|pod| !ours.iter().any(|endpoint| endpoint.ip == pod.ip)))
        .map(|pod| format!("pod/{}", pod.name))
        .or_else(|| cluster.nodes.first().map(|node| format!("node/{}", node.name)))
        .unwrap_or_default()
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// What each mode writes, as a count and what it counts.
struct Written {
    text: String,
    /// One number for the scaling table: rules, plus set and map elements where the mode has them.
    total: usize,
}

fn written(cluster: &Cluster, node: &str, mode: ProxyMode) -> Result<Written, String> {
    Ok(match mode {
        ProxyMode::Iptables => {
            let rules = kubeproxy::iptables::build(cluster, node)?.rule_count();
            Written { text: plural(rules, "rule", "rules"), total: rules }
        }
        ProxyMode::Nftables => {
            let ruleset = kubeproxy::nftables::build(cluster, node)?;
            let rules = ruleset.rule_count();
            let elements: usize =
                ruleset.tables.iter().flat_map(|table| &table.sets).map(|set| set.elements.len()).sum();
            Written {
                text: format!(
                    "{}, {}",
                    plural(rules, "rule", "rules"),
                    plural(elements, "map element", "map elements")
                ),
                total: rules + elements,
            }
        }
        ProxyMode::Ipvs => {
            let state = kubeproxy::ipvs_mode::build(cluster, node)?;
            let rules = state.ruleset.rule_count();
            let entries = state.ipsets.save_lines().iter().filter(|line| line.starts_with("add ")).count();
            let services = state.services.len();
            let dests: usize = state.services.iter().map(|service| service.dests().len()).sum();
            Written {
                text: format!(
                    "{}, {}, {} ({})",
                    plural(rules, "rule", "rules"),
                    plural(entries, "ipset entry", "ipset entries"),
                    plural(services, "virtual server", "virtual servers"),
                    plural(dests, "real server", "real servers")
                ),
                total: rules + entries + services + dests,
            }
        }
        ProxyMode::Userspace => {
            let state = userspace::build(cluster, node)?;
            let rules = state.ruleset.rule_count();
            Written {
                text: format!(
                    "{}, {}",
                    plural(rules, "rule", "rules"),
                    plural(state.proxies.len(), "proxy socket", "proxy sockets")
                ),
                total: rules,
            }
        }
    })
}

/// Where the endpoint is chosen; for nftables the `numgen` expression the packet met, if any.
fn decision(mode: ProxyMode, cluster: &Cluster, trace: Option<&Trace>) -> String {
    match mode {
        ProxyMode::Iptables => "statistic match rules".into(),
        ProxyMode::Nftables => trace
            .into_iter()
            .flat_map(|trace| &trace.steps)
            .filter_map(|step| step.rule.as_deref())
            .find_map(|rule| rule.find("numgen random mod ").map(|at| &rule[at..]))
            .and_then(|rest| rest.split(" vmap").next())
            .unwrap_or("numgen random mod N")
            .to_string(),
        ProxyMode::Ipvs => {
            let scheduler = if cluster.kube_proxy.ipvs_scheduler.is_empty() {
                "rr"
            } else {
                cluster.kube_proxy.ipvs_scheduler.as_str()
            };
            format!("IPVS scheduler {scheduler}")
        }
        ProxyMode::Userspace => "kube-proxy's LoadBalancerRR".into(),
    }
}

fn retry(mode: ProxyMode) -> String {
    match mode {
        ProxyMode::Userspace => "yes: up to 4 dials".into(),
        _ => "no".into(),
    }
}

fn from_trace(trace: &Trace, mode: ProxyMode, cluster: &Cluster, written: Written) -> Column {
    let original = || trace.steps.iter().filter(|step| step.direction == lbplay_core::Direction::Original);
    let lookups = match mode {
        ProxyMode::Ipvs => {
            let count = original().filter(|step| step.kind == StepKind::Ipvs).count();
            format!("{count} (IPVS hash)")
        }
        ProxyMode::Nftables => {
            let count = original()
                .filter(|step| step.kind == StepKind::Netfilter)
                .filter(|step| step.rule.as_deref().is_some_and(|rule| rule.contains(" vmap ")))
                .count();
            format!("{count} (verdict maps)")
        }
        _ => "0".into(),
    };
    let source_seen = original()
        .rfind(|step| step.kind == StepKind::Deliver)
        .and_then(|step| step.after.tuple().ok())
        .map(|tuple| tuple.src.ip().to_string())
        .unwrap_or_else(|| format!("— ({})", trace.outcome.reason.clone().unwrap_or_else(|| "not delivered".into())));
    Column {
        written: written.text,
        evaluated: trace.rules_evaluated().to_string(),
        lookups,
        source_seen,
        retry: retry(mode),
        decision: decision(mode, cluster, Some(trace)),
    }
}

/// `lbplay compare --scaling`: rules written and rules evaluated for a first packet from the
/// node to the last Service, for growing synthetic clusters of ten endpoints per Service.
///
/// Each mode's state is built twice per size (once to count, once inside the walk).
pub(crate) fn scaling(sizes: &[usize]) -> Result<String, String> {
    let mut rows = vec![
        ["Services", "mode", "rules written", "rules evaluated", "published figures (spec/kube-proxy.md §7)"]
            .map(String::from)
            .to_vec(),
    ];
    for &size in sizes {
        let mut cluster = synthetic::cluster(size, 10);
        let to = synthetic::last_service(&cluster).ok_or("the synthetic cluster has no Service")?;
        for mode in MODES {
            cluster.kube_proxy.mode = mode;
            let written = written(&cluster, "node-1", mode)?;
            let request = Request { from: "node/node-1".into(), to: to.clone(), proto: Proto::Tcp, seed: 1, now: 0 };
            let trace = walk::trace(&cluster, &request).map_err(|err| err.to_string())?;
            let evaluated = group(trace.rules_evaluated());
            rows.push(vec![
                group(size),
                mode.as_str().to_string(),
                group(written.total),
                evaluated,
                published(size, mode).to_string(),
            ]);
        }
    }
    let mut out = String::from(
        "A first packet from node-1 to the last Service of KUBE-SERVICES (synthetic::last_service), 10 endpoints per Service.\n\n",
    );
    out.push_str(&table(&rows));
    out.push_str(
        "\nrules written: iptables and userspace count iptables rules; nftables adds set and map elements; ipvs adds ipset entries, virtual servers and real servers.\n\
         userspace: the nat rules to kube-proxy's socket (its portals are as linear as KUBE-SERVICES) and those its own connection to the pod meets.\n\
         Published figures as spec/kube-proxy.md §7 cites them: the Kubernetes blog \"NFTables mode for kube-proxy\" (2025-02-28), KEP-3453, vendor guidance (Huawei Cloud CCE, AWS EKS), and a 2019 flftuu.com benchmark (secondary, URL not retained).\n",
    );
    Ok(out)
}

/// The published figure that belongs beside a size and mode, as spec/kube-proxy.md §7 gives it.
fn published(size: usize, mode: ProxyMode) -> &'static str {
    match (size, mode) {
        (1_000, ProxyMode::Iptables) => {
            "flftuu.com 2019: adding one rule took 1302 ms; vendors advise IPVS or nftables above ~1000 Services"
        }
        (1_000, ProxyMode::Ipvs) => "vendor guidance: prefer IPVS (or nftables) above ~1000 Services",
        (10_000, ProxyMode::Iptables) => {
            "spec estimate: 10k Services x 10 endpoints ≈ 320k nat rules; flftuu.com 2019: 9491 ms to add a rule"
        }
        (10_000, ProxyMode::Ipvs) => "flftuu.com 2019: 0.97 ms to add a rule",
        (10_000, ProxyMode::Nftables) => {
            "Kubernetes blog 2025-02-28: at 5000 and 10000 Services nftables' p50 latency ≈ iptables' p01"
        }
        _ => "",
    }
}

/// A number with thousands separated by commas.
fn group(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (index, ch) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// Left-aligned columns separated by two spaces; the first row is the header, underlined.
fn table(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let width = |column: usize| {
        rows.iter().filter_map(|row| row.get(column)).map(|cell| cell.chars().count()).max().unwrap_or(0)
    };
    let widths: Vec<usize> = (0..columns).map(width).collect();
    let mut out = String::new();
    for (index, row) in rows.iter().enumerate() {
        let mut line = String::new();
        for (column, cell) in row.iter().enumerate() {
            line.push_str(cell);
            if column + 1 < row.len() {
                line.push_str(&" ".repeat(widths[column] - cell.chars().count() + 2));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
        if index == 0 {
            let total: usize = widths.iter().sum::<usize>() + 2 * columns.saturating_sub(1);
            out.push_str(&"-".repeat(total));
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn thousands_are_grouped() {
        for (n, text) in [(0, "0"), (999, "999"), (1000, "1,000"), (320_042, "320,042"), (1_234_567, "1,234,567")] {
            assert_eq!(super::group(n), text);
        }
    }
}
