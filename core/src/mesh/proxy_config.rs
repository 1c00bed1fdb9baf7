//! `istioctl proxy-config cluster` for a sidecar, as lines a front end can print and highlight.
//!
//! The rows come from `mesh::envoy::clusters`, the same names the Envoy hop routes to, so the
//! table cannot disagree with the walk. Columns, sort order and padding follow upstream
//! istio/istio@86c9f01 istioctl/pkg/writer/envoy/configdump/cluster.go `PrintClusterSummary`
//! (a Go `tabwriter` with minwidth 0 and padding 5; rows sorted by FQDN, then subset, then
//! port, then direction) and route.go `describeManagement` (the DESTINATION RULE column reads
//! `NAME.NAMESPACE` of the rule that shaped the cluster, empty otherwise). Not modelled yet:
//! the static clusters (`BlackHoleCluster`, `PassthroughCluster`, `xds-grpc`, ...), the
//! inbound clusters, and the `listeners`, `routes` and `endpoints` views.

use crate::dataplane::Line;
use crate::mesh::envoy;
use crate::model::{DestinationRule, Service, ServiceType};
use crate::net::Proto;
use crate::trace::RuleAt;

/// The `RuleAt::table` of a cluster row; `chain` holds the cluster's name.
pub const CLUSTER_TABLE: &str = "envoy-cluster";

/// The DestinationRule that manages `host`'s clusters, as `describeManagement` renders it.
fn managed_by(service: &Service, rules: &[DestinationRule]) -> String {
    let host = envoy::hostname(service);
    let short = [service.name.clone(), format!("{}.{}", service.name, service.namespace)];
    rules
        .iter()
        .find(|rule| rule.host == host || (rule.namespace == service.namespace && short.contains(&rule.host)))
        .map(|rule| format!("{}.{}", rule.name, rule.namespace))
        .unwrap_or_default()
}

/// The cluster's discovery type, as pilot/pkg/networking/core/cluster.go `convertResolution`
/// gives it for a sidecar (istio/istio@86c9f01): a headless Service is `Passthrough`, so
/// `ORIGINAL_DST` (with `PILOT_ENABLE_EDS_FOR_HEADLESS_SERVICES` at its default, off); an
/// ExternalName Service resolves by DNS, `STRICT_DNS`; the rest are `EDS`.
fn discovery_type(service: &Service) -> &'static str {
    if service.kind == ServiceType::ExternalName {
        "STRICT_DNS"
    } else if service.cluster_ip.is_none() {
        "ORIGINAL_DST"
    } else {
        "EDS"
    }
}

/// The outbound clusters of every Service port the sidecar captures (UDP is not captured), as
/// `istioctl proxy-config cluster POD` prints them: a header line, then one line per cluster
/// whose `rule` names the cluster, so the row the walk's endpoint hop used can be lit.
pub fn clusters(services: &[Service], rules: &[DestinationRule]) -> Vec<Line> {
    // (fqdn, subset, port, direction, name, destination rule), sorted as upstream's
    // `retrieveSortedClusterSlice` does.
    let mut rows: Vec<(String, String, u16, String, String, String, &'static str)> = Vec::new();
    for service in services {
        let host = envoy::hostname(service);
        let managed = managed_by(service, rules);
        for port in service.ports.iter().filter(|port| port.protocol != Proto::Udp) {
            for name in envoy::clusters(service, port, rules) {
                let subset = name.split('|').nth(2).unwrap_or("").to_string();
                rows.push((
                    host.clone(),
                    subset,
                    port.port,
                    "outbound".into(),
                    name,
                    managed.clone(),
                    discovery_type(service),
                ));
            }
        }
    }
    rows.sort();
    rows.dedup();
    let mut cells =
        vec![["SERVICE FQDN", "PORT", "SUBSET", "DIRECTION", "TYPE", "DESTINATION RULE"].map(str::to_string).to_vec()];
    for (fqdn, subset, port, direction, _, managed, kind) in &rows {
        let subset = if subset.is_empty() { "-".to_string() } else { subset.clone() };
        cells.push(vec![fqdn.clone(), port.to_string(), subset, direction.clone(), kind.to_string(), managed.clone()]);
    }
    let texts = tabulate(&cells);
    texts
        .into_iter()
        .enumerate()
        .map(|(i, text)| Line {
            text,
            rule: i.checked_sub(1).map(|row| RuleAt { table: CLUSTER_TABLE, chain: rows[row].4.clone(), index: row }),
        })
        .collect()
}

/// The row of `cluster` in `lines`, for the highlight.
pub fn row_of(lines: &[Line], cluster: &str) -> Option<usize> {
    lines.iter().position(|line| line.rule.as_ref().is_some_and(|at| at.chain == cluster))
}

/// Go's `text/tabwriter` as istioctl sets it up (minwidth 0, padding 5, no flags): every cell
/// but a row's last is padded to its column's widest cell plus five spaces.
fn tabulate(rows: &[Vec<String>]) -> Vec<String> {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0; columns];
    for row in rows {
        for (i, cell) in row.iter().enumerate().take(row.len().saturating_sub(1)) {
            widths[i] = widths[i].max(cell.chars().count() + 5);
        }
    }
    rows.iter()
        .map(|row| {
            let mut text = String::new();
            for (i, cell) in row.iter().enumerate() {
                text.push_str(cell);
                if i + 1 < row.len() {
                    text.push_str(&" ".repeat(widths[i] - cell.chars().count()));
                }
            }
            text
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ServicePort, Subset, TargetPort, TrafficPolicy};
    use std::collections::BTreeMap;
    use std::net::Ipv4Addr;

    fn service(name: &str, ports: &[(Option<&str>, Proto, u16)]) -> Service {
        Service {
            namespace: "default".into(),
            name: name.into(),
            kind: ServiceType::ClusterIp,
            cluster_ip: Some(Ipv4Addr::new(10, 96, 0, 10)),
            ports: ports
                .iter()
                .map(|&(name, protocol, port)| ServicePort {
                    name: name.map(str::to_string),
                    protocol,
                    port,
                    target_port: TargetPort::Number(8080),
                    node_port: None,
                })
                .collect(),
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

    fn rule(host: &str, subsets: &[&str]) -> DestinationRule {
        DestinationRule {
            namespace: "default".into(),
            name: "web-dr".into(),
            host: host.into(),
            load_balancer: None,
            subsets: subsets
                .iter()
                .map(|name| Subset { name: name.to_string(), labels: BTreeMap::new(), load_balancer: None })
                .collect(),
        }
    }

    #[test]
    fn clusters_print_as_istioctl_does() {
        let mut headless = service("db", &[(Some("tcp"), Proto::Tcp, 5432)]);
        headless.cluster_ip = None;
        let services = [
            headless,
            service("web", &[(Some("http"), Proto::Tcp, 80), (Some("dns"), Proto::Udp, 53)]),
            service("api", &[(Some("grpc"), Proto::Tcp, 9000), (Some("http"), Proto::Tcp, 80)]),
        ];
        let lines = clusters(&services, &[rule("web", &["v2", "v1"])]);
        let text: Vec<String> = lines.iter().map(|line| format!("{}|", line.text)).collect();
        expect_test::expect![[r#"
            SERVICE FQDN                      PORT     SUBSET     DIRECTION     TYPE             DESTINATION RULE|
            api.default.svc.cluster.local     80       -          outbound      EDS              |
            api.default.svc.cluster.local     9000     -          outbound      EDS              |
            db.default.svc.cluster.local      5432     -          outbound      ORIGINAL_DST     |
            web.default.svc.cluster.local     80       -          outbound      EDS              web-dr.default|
            web.default.svc.cluster.local     80       v1         outbound      EDS              web-dr.default|
            web.default.svc.cluster.local     80       v2         outbound      EDS              web-dr.default|"#]]
        .assert_eq(&text.join("\n"));
        // The walk's cluster name finds its row; the header is no row.
        assert_eq!(row_of(&lines, "outbound|80|v1|web.default.svc.cluster.local"), Some(5));
        assert_eq!(row_of(&lines, "outbound|53||web.default.svc.cluster.local"), None);
        assert!(lines[0].rule.is_none());
    }
}
