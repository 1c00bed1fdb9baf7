//! The scenario loader on whole scenarios: the built-in one, the source text's YAML, and the
//! controllers' semantics case by case.

use std::net::Ipv4Addr;

use lbplay_core::model::{ProxyMode, ServiceType, TargetPort};
use lbplay_core::net::Proto;
use lbplay_core::scenario::{Loaded, Source, load, report};

fn load_one(text: &str) -> Loaded {
    match load(&[Source { name: "test.yaml", text }]) {
        Ok(loaded) => loaded,
        Err(problems) => {
            let shown: Vec<String> = problems.iter().map(ToString::to_string).collect();
            panic!("the scenario did not load:\n{}", shown.join("\n"))
        }
    }
}

fn ip(text: &str) -> Ipv4Addr {
    text.parse().unwrap()
}

#[test]
fn builtin_clusterip_iptables_loads_as_written() {
    let text = include_str!("../scenarios/clusterip-iptables.yaml");
    let loaded = load_one(text);
    let cluster = &loaded.cluster;
    assert_eq!(cluster.name, "clusterip-iptables");
    assert_eq!(cluster.kube_proxy.mode, ProxyMode::Iptables);
    assert_eq!(cluster.service_cidr.to_string(), "10.96.0.0/12");
    assert_eq!(cluster.cluster_cidr.to_string(), "10.244.0.0/16");
    let nodes: Vec<(&str, Ipv4Addr, String)> =
        cluster.nodes.iter().map(|n| (n.name.as_str(), n.ip, n.pod_cidr.to_string())).collect();
    assert_eq!(
        nodes,
        vec![
            ("node-1", ip("192.168.1.10"), "10.244.1.0/24".to_string()),
            ("node-2", ip("192.168.1.11"), "10.244.2.0/24".to_string()),
            ("node-3", ip("192.168.1.12"), "10.244.3.0/24".to_string()),
        ]
    );
    assert_eq!(cluster.clients.len(), 1);
    assert_eq!((cluster.clients[0].name.as_str(), cluster.clients[0].ip), ("laptop", ip("192.168.1.50")));
    let pods: Vec<(&str, &str, Ipv4Addr, bool)> =
        cluster.pods.iter().map(|p| (p.name.as_str(), p.node.as_str(), p.ip, p.ready)).collect();
    assert_eq!(
        pods,
        vec![
            ("web-a", "node-1", ip("10.244.1.5"), true),
            ("web-b", "node-2", ip("10.244.2.7"), true),
            ("web-c", "node-3", ip("10.244.3.9"), true),
            ("client", "node-1", ip("10.244.1.20"), true),
        ]
    );
    assert_eq!(cluster.services.len(), 1);
    let web = &cluster.services[0];
    assert_eq!((web.namespace.as_str(), web.name.as_str()), ("default", "web"));
    assert_eq!(web.kind, ServiceType::NodePort);
    assert_eq!(web.cluster_ip, Some(ip("10.96.100.10")));
    assert_eq!(web.ports.len(), 1);
    let port = &web.ports[0];
    assert_eq!(port.name.as_deref(), Some("http"));
    assert_eq!(port.protocol, Proto::Tcp);
    assert_eq!(port.port, 80);
    assert_eq!(port.target_port, TargetPort::Name("http".into()));
    assert_eq!(port.node_port, Some(30080));
    // The controller's slices: the named port resolved per pod to 8080, ready, with node and pod.
    let endpoints = cluster.endpoints_for(web, port);
    let shown: Vec<String> = endpoints
        .iter()
        .map(|e| {
            format!(
                "{} ready={} serving={} terminating={} node={} pod={}",
                e.endpoint_string(),
                e.ready,
                e.serving,
                e.terminating,
                e.node_name.as_deref().unwrap_or("-"),
                e.pod.as_deref().unwrap_or("-")
            )
        })
        .collect();
    assert_eq!(
        shown,
        vec![
            "10.244.1.5:8080 ready=true serving=true terminating=false node=node-1 pod=default/web-a",
            "10.244.2.7:8080 ready=true serving=true terminating=false node=node-2 pod=default/web-b",
            "10.244.3.9:8080 ready=true serving=true terminating=false node=node-3 pod=default/web-c",
        ]
    );
    assert_eq!(cluster.endpoint_slices.len(), 1);
    assert!(cluster.endpoint_slices[0].name.starts_with("web-"));
    assert_eq!(cluster.endpoint_slices[0].name.len(), "web-".len() + 5);
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    assert!(loaded.ignored.is_empty());
    // Loading twice gives the same model, byte for byte.
    assert_eq!(report(&load_one(text)), report(&loaded));
}
