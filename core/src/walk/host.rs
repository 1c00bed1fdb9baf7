//! The hosts a walk starts and ends on: pods, nodes and clients outside the cluster, and how the
//! command line's `pod/NAME`, `node/NAME`, `client/NAME` or a bare address names one.

use std::net::Ipv4Addr;

use super::WalkError;
use crate::model::Cluster;

/// A host that sends or receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    Pod { name: String, node: String, ip: Ipv4Addr },
    Node { name: String, ip: Ipv4Addr },
    Client { name: String, ip: Ipv4Addr },
}

impl Host {
    pub fn ip(&self) -> Ipv4Addr {
        match self {
            Host::Pod { ip, .. } | Host::Node { ip, .. } | Host::Client { ip, .. } => *ip,
        }
    }

    /// `pod/NAME`, `node/NAME` or `client/NAME`.
    pub fn label(&self) -> String {
        match self {
            Host::Pod { name, .. } => format!("pod/{name}"),
            Host::Node { name, .. } => format!("node/{name}"),
            Host::Client { name, .. } => format!("client/{name}"),
        }
    }

    /// The name shown in a step's `node` field.
    pub fn name(&self) -> &str {
        match self {
            Host::Pod { name, .. } | Host::Node { name, .. } | Host::Client { name, .. } => name,
        }
    }
}

/// Resolves `pod/NAME`, `node/NAME`, `client/NAME` or a bare IP.
pub fn resolve_host(cluster: &Cluster, text: &str) -> Result<Host, WalkError> {
    let pod_host = |pod: &crate::model::Pod| {
        if pod.host_network {
            let ip = cluster.node(&pod.node).map(|node| node.ip).unwrap_or(pod.ip);
            Host::Node { name: pod.node.clone(), ip }
        } else {
            Host::Pod { name: pod.name.clone(), node: pod.node.clone(), ip: pod.ip }
        }
    };
    if let Some(name) = text.strip_prefix("pod/") {
        return cluster.pod(name).map(pod_host).ok_or_else(|| {
            let known: Vec<&str> = cluster.pods.iter().map(|pod| pod.name.as_str()).collect();
            WalkError(format!("no pod named `{name}` (pods: {})", known.join(", ")))
        });
    }
    if let Some(name) = text.strip_prefix("node/") {
        return cluster
            .node(name)
            .map(|node| Host::Node { name: node.name.clone(), ip: node.ip })
            .ok_or_else(|| WalkError(format!("no node named `{name}`")));
    }
    if let Some(name) = text.strip_prefix("client/") {
        return cluster
            .client(name)
            .map(|client| Host::Client { name: client.name.clone(), ip: client.ip })
            .ok_or_else(|| WalkError(format!("no client named `{name}`")));
    }
    let ip: Ipv4Addr = text.parse().map_err(|_| {
        WalkError(format!("`{text}` is not a source: use pod/NAME, node/NAME, client/NAME or an IPv4 address"))
    })?;
    if let Some(pod) = cluster.pod_by_ip(ip) {
        return Ok(pod_host(pod));
    }
    if let Some(node) = cluster.nodes.iter().find(|node| node.ip == ip) {
        return Ok(Host::Node { name: node.name.clone(), ip });
    }
    if let Some(client) = cluster.clients.iter().find(|client| client.ip == ip) {
        return Ok(Host::Client { name: client.name.clone(), ip });
    }
    Ok(Host::Client { name: ip.to_string(), ip })
}

#[cfg(test)]
mod tests {
    use expect_test::{Expect, expect};

    use crate::model::ProxyMode;
    use crate::walk::fixture;

    fn check(text: &str, expect: Expect) {
        let cluster = fixture::lesson("host-network", ProxyMode::Iptables);
        let got = match super::resolve_host(&cluster, text) {
            Ok(host) => format!("{} {} {}", host.label(), host.name(), host.ip()),
            Err(err) => format!("error: {err}"),
        };
        expect.assert_eq(&got);
    }

    #[test]
    fn names_and_addresses() {
        check("node/node-1", expect!["node/node-1 node-1 192.168.1.10"]);
        check("192.168.1.11", expect!["node/node-2 node-2 192.168.1.11"]);
        check("203.0.113.9", expect!["client/203.0.113.9 203.0.113.9 203.0.113.9"]);
        check("pod/nobody", expect!["error: no pod named `nobody` (pods: web-a, web-b, web-c, client)"]);
        check("node/none", expect!["error: no node named `none`"]);
        check(
            "not-an-address",
            expect!["error: `not-an-address` is not a source: use pod/NAME, node/NAME, client/NAME or an IPv4 address"],
        );
    }
}
