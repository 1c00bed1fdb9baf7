//! The running example of spec/kube-proxy.md, built by hand, for tests that must not depend on
//! the YAML loader: Service default/web (NodePort 30080, port 80 → 8080) with three endpoints.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use crate::model::*;
use crate::net::Proto;

/// The example cluster: three nodes, the web pods, a client pod and the Service with its slice.
pub fn cluster() -> Cluster {
    let node = |index: u8| Node {
        name: format!("node-{index}"),
        ip: Ipv4Addr::new(192, 168, 1, 9 + index),
        pod_cidr: format!("10.244.{index}.0/24").parse().expect("a valid CIDR"),
    };
    let labels = |app: &str| BTreeMap::from([("app".to_string(), app.to_string())]);
    let pod = |name: &str, node: &str, ip: [u8; 4], app: &str| Pod {
        namespace: "default".into(),
        name: name.into(),
        labels: labels(app),
        node: node.into(),
        ip: Ipv4Addr::from(ip),
        ready: true,
        host_network: false,
        ports: vec![ContainerPort { name: Some("http".into()), port: 8080, protocol: Proto::Tcp }],
    };
    let pods = vec![
        pod("web-a", "node-1", [10, 244, 1, 5], "web"),
        pod("web-b", "node-2", [10, 244, 2, 7], "web"),
        pod("web-c", "node-3", [10, 244, 3, 9], "web"),
        pod("client", "node-1", [10, 244, 1, 20], "client"),
    ];
    let endpoints = pods[..3]
        .iter()
        .map(|pod| Endpoint {
            ip: pod.ip,
            ready: true,
            serving: true,
            terminating: false,
            node_name: Some(pod.node.clone()),
            pod: Some(format!("default/{}", pod.name)),
        })
        .collect();
    Cluster {
        name: "example".into(),
        service_cidr: "10.96.0.0/12".parse().expect("a valid CIDR"),
        cluster_cidr: "10.244.0.0/16".parse().expect("a valid CIDR"),
        kube_proxy: KubeProxyConfig::default(),
        nodes: vec![node(1), node(2), node(3)],
        clients: vec![Client { name: "laptop".into(), ip: Ipv4Addr::new(192, 168, 1, 50) }],
        pods,
        services: vec![Service {
            namespace: "default".into(),
            name: "web".into(),
            kind: ServiceType::NodePort,
            cluster_ip: Some(Ipv4Addr::new(10, 96, 100, 10)),
            ports: vec![ServicePort {
                name: Some("http".into()),
                protocol: Proto::Tcp,
                port: 80,
                target_port: TargetPort::Name("http".into()),
                node_port: Some(30080),
            }],
            selector: Some(labels("web")),
            session_affinity: None,
            external_traffic_policy: TrafficPolicy::Cluster,
            internal_traffic_policy: TrafficPolicy::Cluster,
            external_ips: Vec::new(),
            load_balancer_ips: Vec::new(),
            load_balancer_source_ranges: Vec::new(),
            health_check_node_port: None,
            publish_not_ready_addresses: false,
            external_name: None,
        }],
        endpoint_slices: vec![EndpointSlice {
            namespace: "default".into(),
            name: "web-abcde".into(),
            service: "web".into(),
            ports: vec![EndpointPort { name: Some("http".into()), port: 8080, protocol: Proto::Tcp }],
            endpoints,
        }],
        ingress: None,
        mesh: None,
    }
}

#[cfg(test)]
mod tests {
    use crate::model::ProxyMode;

    /// The nat and filter tables of spec/kube-proxy.md §1.13 (B), which the real iptables-nft
    /// 1.8.9 was seen to restore and save back unchanged.
    #[test]
    fn iptables_save_matches_spec_1_13_b() {
        let expected = include_str!("../../tests/data/spec-1.13-B.iptables-save.txt");
        let got = crate::kubeproxy::rules_text(&super::cluster(), "node-1", ProxyMode::Iptables).unwrap();
        if got != expected {
            panic!("rules differ from spec §1.13 (B):\n--- got\n{got}\n--- expected\n{expected}");
        }
    }
}
