//! The text of `lbplay check`: the loaded model, as a learner reads it.
//!
//! This module owns one function, `report`, which prints the cluster, its objects, the addresses
//! the allocators assigned, the EndpointSlices the controllers wrote, the DNS records, the ignored
//! objects and finally the warnings. The order is the model's, so the text is deterministic.

use std::fmt::Write;

use super::Loaded;
use crate::model::{ServiceType, TargetPort, TrafficPolicy};

fn upper(proto: crate::net::Proto) -> String {
    proto.as_str().to_ascii_uppercase()
}

/// The human-readable text of `lbplay check`.
pub fn report(loaded: &Loaded) -> String {
    let c = &loaded.cluster;
    let x = &loaded.extras;
    let mut out = String::new();
    // Writing to a String cannot fail, so the results of `writeln!` are ignored below.
    let _ = writeln!(
        out,
        "Cluster {}: kube-proxy mode {}, serviceCIDR {}, clusterCIDR {}",
        c.name,
        c.kube_proxy.mode.as_str(),
        c.service_cidr,
        c.cluster_cidr
    );
    let _ = writeln!(out, "\nNodes ({}):", c.nodes.len());
    for node in &c.nodes {
        let _ = writeln!(out, "  {:<12} {:<15} podCIDR {}", node.name, node.ip.to_string(), node.pod_cidr);
    }
    let _ = writeln!(out, "\nClients ({}):", c.clients.len());
    for client in &c.clients {
        let _ = writeln!(out, "  {:<12} {}", client.name, client.ip);
    }
    let _ = writeln!(out, "\nPods ({}):", c.pods.len());
    for pod in &c.pods {
        let mut line = format!(
            "  {}/{}  {}  on {}  {}",
            pod.namespace,
            pod.name,
            pod.ip,
            pod.node,
            if pod.ready { "ready" } else { "not ready" }
        );
        if pod.host_network {
            line.push_str("  hostNetwork");
        }
        if !pod.ports.is_empty() {
            let ports: Vec<String> = pod
                .ports
                .iter()
                .map(|p| match &p.name {
                    Some(name) => format!("{name}:{}/{}", p.port, upper(p.protocol)),
                    None => format!("{}/{}", p.port, upper(p.protocol)),
                })
                .collect();
            let _ = write!(line, "  ports {}", ports.join(" "));
        }
        if crate::mesh::injection(pod, x).injected {
            let _ = write!(
                line,
                "  + {} (uid {}), {}",
                crate::mesh::PROXY_CONTAINER,
                crate::mesh::inject::PROXY_UID,
                crate::mesh::INIT_CONTAINER
            );
        }
        let _ = writeln!(out, "{line}");
    }
    let _ = writeln!(out, "\nServices ({}):", c.services.len());
    for s in &c.services {
        let ip = match (s.kind, s.cluster_ip) {
            (ServiceType::ExternalName, _) => format!("externalName {}", s.external_name.clone().unwrap_or_default()),
            (_, Some(ip)) => format!("clusterIP {ip}"),
            (_, None) => "clusterIP None (headless)".to_string(),
        };
        let _ = writeln!(out, "  {}/{}  {}  {}", s.namespace, s.name, s.kind.as_str(), ip);
        for p in &s.ports {
            let target = match &p.target_port {
                TargetPort::Number(n) => n.to_string(),
                TargetPort::Name(name) => name.clone(),
            };
            let mut line = format!(
                "    port {}{}/{} -> {}",
                p.name.as_ref().map(|n| format!("{n} ")).unwrap_or_default(),
                p.port,
                upper(p.protocol),
                target
            );
            if let Some(np) = p.node_port {
                let _ = write!(line, "  nodePort {np}");
            }
            let _ = writeln!(out, "{line}");
        }
        match &s.selector {
            Some(selector) => {
                let shown: Vec<String> = selector.iter().map(|(k, v)| format!("{k}={v}")).collect();
                let _ = writeln!(out, "    selector {}", shown.join(","));
            }
            None if s.kind != ServiceType::ExternalName => {
                let _ = writeln!(out, "    no selector: endpoints written by hand");
            }
            None => {}
        }
        if let Some(timeout) = s.session_affinity {
            let _ = writeln!(out, "    sessionAffinity ClientIP, timeout {timeout}s");
        }
        if s.external_traffic_policy == TrafficPolicy::Local {
            let _ = writeln!(out, "    externalTrafficPolicy Local");
        }
        if s.internal_traffic_policy == TrafficPolicy::Local {
            let _ = writeln!(out, "    internalTrafficPolicy Local");
        }
        if !s.external_ips.is_empty() {
            let ips: Vec<String> = s.external_ips.iter().map(ToString::to_string).collect();
            let _ = writeln!(out, "    externalIPs {}", ips.join(", "));
        }
        if !s.load_balancer_ips.is_empty() {
            let ips: Vec<String> = s.load_balancer_ips.iter().map(ToString::to_string).collect();
            let _ = writeln!(out, "    loadBalancer {}", ips.join(", "));
        }
        if !s.load_balancer_source_ranges.is_empty() {
            let ranges: Vec<String> = s.load_balancer_source_ranges.iter().map(ToString::to_string).collect();
            let _ = writeln!(out, "    loadBalancerSourceRanges {}", ranges.join(", "));
        }
        if let Some(port) = s.health_check_node_port {
            let _ = writeln!(out, "    healthCheckNodePort {port}");
        }
        if s.publish_not_ready_addresses {
            let _ = writeln!(out, "    publishNotReadyAddresses");
        }
    }
    let _ = writeln!(out, "\nEndpointSlices ({}):", c.endpoint_slices.len());
    for slice in &c.endpoint_slices {
        let ports: Vec<String> = slice
            .ports
            .iter()
            .map(|p| {
                format!(
                    "{}{}/{}",
                    p.name.as_ref().map(|n| format!("{n}:")).unwrap_or_default(),
                    p.port,
                    upper(p.protocol)
                )
            })
            .collect();
        let ports = if ports.is_empty() { "no ports".to_string() } else { format!("ports {}", ports.join(" ")) };
        let _ = writeln!(out, "  {}/{}  for Service {}  {}", slice.namespace, slice.name, slice.service, ports);
        for e in &slice.endpoints {
            let mut conditions = Vec::new();
            conditions.push(if e.ready { "ready" } else { "not-ready" });
            if e.serving {
                conditions.push("serving");
            }
            if e.terminating {
                conditions.push("terminating");
            }
            let mut line = format!("    {}  {}", e.ip, conditions.join(","));
            if let Some(node) = &e.node_name {
                let _ = write!(line, "  node {node}");
            }
            if let Some(pod) = &e.pod {
                let _ = write!(line, "  pod {pod}");
            }
            let _ = writeln!(out, "{line}");
        }
    }
    if !x.ingresses.is_empty() {
        // As `kubectl get ingress -A` and `kubectl describe ingress` print them.
        let _ = writeln!(out, "\nIngresses ({}):", x.ingresses.len());
        out.push_str(&crate::ingress::kubectl::get(c, x));
        out.push('\n');
        out.push_str(&crate::ingress::kubectl::describe(c, x));
    }
    if !x.virtual_services.is_empty() || !x.destination_rules.is_empty() {
        let _ = writeln!(
            out,
            "\nIstio ({} VirtualServices, {} DestinationRules):",
            x.virtual_services.len(),
            x.destination_rules.len()
        );
        for vs in &x.virtual_services {
            let _ = writeln!(
                out,
                "  VirtualService {}/{}  hosts {}  {} HTTP routes",
                vs.namespace,
                vs.name,
                vs.hosts.join(", "),
                vs.http.len()
            );
        }
        for dr in &x.destination_rules {
            let subsets: Vec<&str> = dr.subsets.iter().map(|s| s.name.as_str()).collect();
            let _ = writeln!(
                out,
                "  DestinationRule {}/{}  host {}  loadBalancer {}  subsets {}",
                dr.namespace,
                dr.name,
                dr.host,
                dr.load_balancer.as_ref().map_or("default", |lb| lb.name()),
                if subsets.is_empty() { "none".to_string() } else { subsets.join(", ") }
            );
        }
    }
    let _ = writeln!(out, "\nDNS ({} records):", x.dns.len());
    for record in &x.dns {
        let _ = writeln!(out, "  {record}");
    }
    if !loaded.ignored.is_empty() {
        let _ = writeln!(out, "\nIgnored (not modelled): {}", loaded.ignored.join(", "));
    }
    if !loaded.warnings.is_empty() {
        let _ = writeln!(out, "\nWarnings ({}):", loaded.warnings.len());
        for warning in &loaded.warnings {
            let _ = writeln!(out, "{warning}");
        }
    }
    out
}
