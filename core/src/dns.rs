//! Cluster DNS: the records CoreDNS's `kubernetes` plugin serves, and a pod's resolver looking
//! a name up in them.
//!
//! `records` is CoreDNS's view of the cluster (one A record for a Service with a ClusterIP, one
//! per ready endpoint of a headless Service, a CNAME for an ExternalName Service).
//! `lookup_from_pod` is what glibc's resolver does inside a pod with the `resolv.conf` kubelet
//! writes (pkg/kubelet/network/dns/dns.go, ClusterFirst): `search <ns>.svc.cluster.local
//! svc.cluster.local cluster.local` and `options ndots:5`, so `web` is asked as
//! `web.<ns>.svc.cluster.local` first. Names outside the cluster are not answered here: lbplay has
//! no Internet.

use std::collections::BTreeSet;

use crate::model::{Cluster, DnsData, DnsRecord, ServiceType};

/// The cluster's domain, kubelet's `--cluster-domain` default.
pub const CLUSTER_DOMAIN: &str = "cluster.local";

/// kubelet's `ndots` option: a name with fewer dots than this is tried with the search list first.
const NDOTS: usize = 5;

/// CoreDNS's view (the `kubernetes` plugin, per the DNS specification for Kubernetes):
/// a Service with a ClusterIP has one A record; a headless one has an A record per ready
/// endpoint (all of them with publishNotReadyAddresses); an ExternalName one has a CNAME.
/// Sorted by name, then data.
pub fn records(cluster: &Cluster) -> Vec<DnsRecord> {
    let mut records = Vec::new();
    for service in &cluster.services {
        let name = format!("{}.{}.svc.{CLUSTER_DOMAIN}", service.name, service.namespace);
        match (service.kind, service.cluster_ip) {
            (ServiceType::ExternalName, _) => {
                if let Some(target) = &service.external_name {
                    records.push(DnsRecord { name, data: DnsData::Cname(target.clone()) });
                }
            }
            (_, Some(ip)) => records.push(DnsRecord { name, data: DnsData::A(ip) }),
            (_, None) => {
                let mut ips = BTreeSet::new();
                for slice in &cluster.endpoint_slices {
                    if slice.namespace == service.namespace && slice.service == service.name {
                        for endpoint in &slice.endpoints {
                            if endpoint.ready || service.publish_not_ready_addresses {
                                ips.insert(endpoint.ip);
                            }
                        }
                    }
                }
                for ip in ips {
                    records.push(DnsRecord { name: name.clone(), data: DnsData::A(ip) });
                }
            }
        }
    }
    crate::sort::sort(&mut records);
    records
}

/// What a pod's resolver did for one name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookup {
    /// Every name it asked, in order, up to the one that was answered.
    pub tried: Vec<String>,
    /// The name that was answered and its records; `None` when every query was NXDOMAIN.
    pub answer: Option<(String, Vec<DnsData>)>,
}

/// Resolves `name` from a pod in `namespace`, applying the search list as glibc does with
/// `ndots:5`: a name with a trailing dot is asked as it is; one with fewer than five dots is
/// asked with each search domain first and then as it is; others as they are first.
pub fn lookup_from_pod(records: &[DnsRecord], namespace: &str, name: &str) -> Lookup {
    let name = name.to_ascii_lowercase();
    let mut candidates = Vec::new();
    if let Some(absolute) = name.strip_suffix('.') {
        candidates.push(absolute.to_string());
    } else {
        let search =
            [format!("{namespace}.svc.{CLUSTER_DOMAIN}"), format!("svc.{CLUSTER_DOMAIN}"), CLUSTER_DOMAIN.to_string()];
        let searched = search.iter().map(|domain| format!("{name}.{domain}"));
        if name.matches('.').count() < NDOTS {
            candidates.extend(searched);
            candidates.push(name.clone());
        } else {
            candidates.push(name.clone());
            candidates.extend(searched);
        }
    }
    let mut tried = Vec::new();
    for candidate in candidates {
        tried.push(candidate.clone());
        let data: Vec<DnsData> =
            records.iter().filter(|record| record.name == candidate).map(|record| record.data.clone()).collect();
        if !data.is_empty() {
            return Lookup { tried, answer: Some((candidate, data)) };
        }
    }
    Lookup { tried, answer: None }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    fn fixture() -> Vec<DnsRecord> {
        let a = |name: &str, ip: [u8; 4]| DnsRecord { name: name.into(), data: DnsData::A(Ipv4Addr::from(ip)) };
        vec![
            a("web.default.svc.cluster.local", [10, 96, 100, 10]),
            a("web.shop.svc.cluster.local", [10, 96, 20, 20]),
            a("db.default.svc.cluster.local", [10, 244, 1, 5]),
            a("db.default.svc.cluster.local", [10, 244, 2, 5]),
            DnsRecord { name: "ext.default.svc.cluster.local".into(), data: DnsData::Cname("db.example.com".into()) },
        ]
    }

    fn check(namespace: &str, name: &str, expect: &str) {
        let lookup = lookup_from_pod(&fixture(), namespace, name);
        let got = match &lookup.answer {
            Some((fqdn, data)) => format!(
                "{fqdn} {} after {}",
                data.iter()
                    .map(|d| match d {
                        DnsData::A(ip) => ip.to_string(),
                        DnsData::Cname(target) => format!("CNAME {target}"),
                    })
                    .collect::<Vec<_>>()
                    .join(","),
                lookup.tried.len()
            ),
            None => format!("NXDOMAIN after {}", lookup.tried.len()),
        };
        assert_eq!(got, expect, "{namespace} {name}");
    }

    #[test]
    fn test_search_path() {
        check("default", "web", "web.default.svc.cluster.local 10.96.100.10 after 1");
        check("shop", "web", "web.shop.svc.cluster.local 10.96.20.20 after 1");
        check("shop", "web.default", "web.default.svc.cluster.local 10.96.100.10 after 2");
        check("shop", "web.default.svc", "web.default.svc.cluster.local 10.96.100.10 after 3");
        check("shop", "web.default.svc.cluster.local", "web.default.svc.cluster.local 10.96.100.10 after 4");
        check("shop", "web.default.svc.cluster.local.", "web.default.svc.cluster.local 10.96.100.10 after 1");
        check("default", "db", "db.default.svc.cluster.local 10.244.1.5,10.244.2.5 after 1");
        check("default", "ext", "ext.default.svc.cluster.local CNAME db.example.com after 1");
        check("default", "example.com", "NXDOMAIN after 4");
        check("default", "WEB", "web.default.svc.cluster.local 10.96.100.10 after 1");
    }
}
