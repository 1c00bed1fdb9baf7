//! Synthetic clusters of any size, for benchmarks and the scaling lesson.
//!
//! `cluster(services, endpoints)` builds, directly as a model (no YAML), one node running
//! `services` ClusterIP Services `default/svc-N` with `endpoints` ready endpoints each, every
//! endpoint on that node. Addresses are dense and deterministic: Service N gets
//! `10.96.0.0/12 + 10 + N`, its endpoints come from 10.244.0.0/16 in order.
//!
//! `with_more_services(cluster, extra)` grows a scenario instead: copies of its first Service,
//! for the page's scaling experiment, which starts from the lesson the learner is on.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use crate::model::*;
use crate::net::Proto;

/// A one-node cluster with `services` Services of `endpoints` endpoints each.
pub fn cluster(services: usize, endpoints: usize) -> Cluster {
    let mut cluster = Cluster {
        name: format!("synthetic-{services}x{endpoints}"),
        nodes: vec![Node {
            name: "node-1".into(),
            ip: Ipv4Addr::new(192, 168, 1, 10),
            pod_cidr: crate::net::Ipv4Net { addr: Ipv4Addr::new(10, 244, 0, 0), prefix: 16 },
        }],
        ..Cluster::default()
    };
    let service_base = u32::from(Ipv4Addr::new(10, 96, 0, 10));
    let pod_base = u32::from(Ipv4Addr::new(10, 244, 0, 2));
    for index in 0..services {
        let name = format!("svc-{index}");
        cluster.services.push(Service {
            namespace: "default".into(),
            name: name.clone(),
            kind: ServiceType::ClusterIp,
            cluster_ip: Some(Ipv4Addr::from(service_base + index as u32)),
            ports: vec![ServicePort {
                name: Some("http".into()),
                protocol: Proto::Tcp,
                port: 80,
                target_port: TargetPort::Number(8080),
                node_port: None,
            }],
            selector: Some(BTreeMap::from([("app".to_string(), name.clone())])),
            session_affinity: None,
            external_traffic_policy: TrafficPolicy::Cluster,
            internal_traffic_policy: TrafficPolicy::Cluster,
            external_ips: Vec::new(),
            load_balancer_ips: Vec::new(),
            load_balancer_source_ranges: Vec::new(),
            health_check_node_port: None,
            publish_not_ready_addresses: false,
            external_name: None,
        });
        let endpoints = (0..endpoints)
            .map(|offset| Endpoint {
                ip: Ipv4Addr::from(pod_base + (index * endpoints + offset) as u32),
                ready: true,
                serving: true,
                terminating: false,
                node_name: Some("node-1".into()),
                pod: None,
            })
            .collect();
        cluster.endpoint_slices.push(EndpointSlice {
            namespace: "default".into(),
            name: format!("{name}-synth"),
            service: name,
            ports: vec![EndpointPort { name: Some("http".into()), port: 8080, protocol: Proto::Tcp }],
            endpoints,
        });
    }
    cluster
}

/// The ClusterIP and port of the Service that comes last in KUBE-SERVICES (sorted by name), the
/// worst case for a first packet in iptables mode.
pub fn last_service(cluster: &Cluster) -> Option<String> {
    let last = cluster.services.iter().max_by_key(|service| format!("{}:http", service.namespaced_name()))?;
    Some(format!("{}:80", last.cluster_ip?))
}

/// Adds `extra` copies of the cluster's first Service with a ClusterIP (each with its own name,
/// ClusterIP and EndpointSlice, the same endpoints, no node port), as a cluster with many
/// Services has. The copies' names (`svc-00001`, …) sort before most real names.
pub fn with_more_services(cluster: &Cluster, extra: usize) -> Result<Cluster, String> {
    let mut out = cluster.clone();
    let template = cluster
        .services
        .iter()
        .find(|service| service.cluster_ip.is_some() && !service.ports.is_empty())
        .ok_or("the scenario has no Service with a ClusterIP to copy")?
        .clone();
    let slices: Vec<_> = cluster
        .endpoint_slices
        .iter()
        .filter(|slice| slice.namespace == template.namespace && slice.service == template.name)
        .cloned()
        .collect();
    let used: Vec<Ipv4Addr> = cluster.services.iter().filter_map(|service| service.cluster_ip).collect();
    let mut candidates = (1..u32::from(u16::MAX)).map(|n| Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 100, 0, 0)) + n));
    for index in 0..extra {
        let ip = candidates.by_ref().find(|ip| !used.contains(ip)).ok_or("out of ClusterIPs")?;
        let mut service = template.clone();
        service.name = format!("svc-{index:05}");
        service.kind = ServiceType::ClusterIp;
        service.cluster_ip = Some(ip);
        for port in &mut service.ports {
            port.node_port = None;
        }
        service.load_balancer_ips.clear();
        service.external_ips.clear();
        service.health_check_node_port = None;
        for slice in &slices {
            let mut slice = slice.clone();
            slice.name = format!("{}-{index:05}", service.name);
            slice.service = service.name.clone();
            out.endpoint_slices.push(slice);
        }
        out.services.push(service);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes_and_last_service() {
        let cluster = super::cluster(12, 3);
        assert_eq!(cluster.services.len(), 12);
        assert_eq!(cluster.endpoint_slices.iter().map(|s| s.endpoints.len()).sum::<usize>(), 36);
        // "svc-9" sorts after "svc-11" as a string: kube-proxy's order is by name, not number.
        assert_eq!(super::last_service(&cluster).as_deref(), Some("10.96.0.19:80"));
    }

    #[test]
    fn more_services_are_copies_with_their_own_cluster_ips() {
        let grown = super::with_more_services(&super::cluster(1, 2), 3).expect("the cluster has a Service to copy");
        let names: Vec<&str> = grown.services.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["svc-0", "svc-00000", "svc-00001", "svc-00002"]);
        let mut ips: Vec<_> = grown.services.iter().filter_map(|s| s.cluster_ip).collect();
        ips.dedup();
        assert_eq!(ips.len(), 4, "{ips:?}");
        assert_eq!(grown.endpoint_slices.iter().map(|s| s.endpoints.len()).collect::<Vec<_>>(), [2, 2, 2, 2]);
        assert!(super::with_more_services(&crate::Cluster::default(), 1).is_err());
    }
}
