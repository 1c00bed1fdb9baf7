//! The experiments' measurements (the pane is `components::experiment`): "send N connections" through the simulator and count which backend served each,
//! as `lbplay send` does, through the same core function (`walk::send`), so the counts are the
//! ones the CLI prints for the same scenario, walk and seed.

use lbplay_core::kubeproxy;
use lbplay_core::model::{Cluster, ProxyMode};
use lbplay_core::net::Proto;
use lbplay_core::synthetic;
use lbplay_core::walk::{self, Request};

/// The numbers of connections the experiment offers.
pub const SIZES: [u32; 4] = [10, 100, 1000, 3000];

/// Which backend served each of `n` connections from `from` to `to`, counted per backend
/// (`dropped` for connections that were not delivered), in the backends' sorted order.
/// As `lbplay send` does: one second apart, each closed before the next unless `keep`.
pub fn send(
    cluster: &Cluster,
    from: &str,
    to: &str,
    proto: Proto,
    n: u32,
    seed: u64,
    keep: bool,
) -> Result<Vec<(String, u64)>, String> {
    let request = Request { from: from.to_string(), to: to.to_string(), proto, seed, now: 0 };
    let sends = walk::send(cluster, &request, n as usize, keep).map_err(|err| err.to_string())?;
    Ok(sends.counts.into_iter().collect())
}

/// What `send_requests` counted: the backend pods, and the L7 proxies (an Ingress controller's
/// pods) that read the requests, each in sorted order. `proxies` is empty when no proxy read any.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RequestCounts {
    pub backends: Vec<(String, u64)>,
    pub proxies: Vec<(String, u64)>,
}

/// `n` HTTP requests to the URL `to`, as `lbplay send --requests N` sends them: over one
/// keep-alive connection when `one_connection`, else each over its own (`--connections N`).
pub fn send_requests(
    cluster: &Cluster,
    from: &str,
    to: &str,
    headers: &[String],
    n: u32,
    seed: u64,
    one_connection: bool,
) -> Result<RequestCounts, String> {
    let request = Request { from: from.to_string(), to: to.to_string(), proto: Proto::Tcp, seed, now: 0 };
    let headers: Result<Vec<_>, _> = headers.iter().map(|line| lbplay_core::http::Header::parse_arg(line)).collect();
    let options = walk::HttpOptions { headers: headers.map_err(|err| err.0)?, ..walk::HttpOptions::default() };
    let connections = if one_connection { 1 } else { n as usize };
    let load = walk::Load { requests: n as usize, clients: 1, connections };
    let sent = walk::send_requests(cluster, &request, &options, load).map_err(|err| err.to_string())?;
    let mut proxies = std::collections::BTreeMap::<String, u64>::new();
    for proxy in sent.requests.iter().filter_map(|request| request.proxy.clone()) {
        *proxies.entry(proxy).or_default() += 1;
    }
    Ok(RequestCounts { backends: sent.counts.into_iter().collect(), proxies: proxies.into_iter().collect() })
}

/// The same with IPVS's scheduler set to `scheduler` (a kernel name: `rr`, `sh`, …).
pub fn with_scheduler(cluster: &Cluster, scheduler: &str) -> Cluster {
    let mut out = cluster.clone();
    out.kube_proxy.ipvs_scheduler = scheduler.to_string();
    out
}

/// The Service counts the scaling experiment measures.
pub const SCALE: [usize; 4] = [1, 10, 100, 1000];

/// One point of the scaling experiment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScalePoint {
    pub services: usize,
    /// Rules in the first node's dump (`-A` lines of `iptables-save`, rules of `nft list
    /// ruleset`; in IPVS mode the iptables rules that remain, which match ipsets).
    pub rules: usize,
    /// Rules the first packet was evaluated against on its way there (`Trace::rules_evaluated`,
    /// the measure `lbplay compare` prints).
    pub evaluated: usize,
}

/// The proxy modes the scaling experiment compares, in the source text's order (userspace, the
/// first, is as linear as iptables: one portal rule per Service port).
pub const MODES: [ProxyMode; 4] = [ProxyMode::Userspace, ProxyMode::Iptables, ProxyMode::Ipvs, ProxyMode::Nftables];

/// Rules evaluated by the first packet of the walk `from` → `to` as the number of Services grows,
/// with kube-proxy in `mode`.
pub fn scaling(
    cluster: &Cluster,
    mode: ProxyMode,
    from: &str,
    to: &str,
    proto: Proto,
    seed: u64,
    counts: &[usize],
) -> Result<Vec<ScalePoint>, String> {
    let node = cluster.nodes.first().ok_or("the scenario has no node")?.name.clone();
    let mut out = Vec::new();
    for &services in counts {
        let mut grown = synthetic::with_more_services(cluster, services.saturating_sub(1))?;
        grown.kube_proxy.mode = mode;
        let lines = kubeproxy::rules_lines(&grown, &node, grown.kube_proxy.mode)?;
        let rules = lines.iter().filter(|line| line.is_rule()).count();
        let request = Request { from: from.to_string(), to: to.to_string(), proto, seed, now: 0 };
        let trace = walk::trace(&grown, &request).map_err(|err| err.to_string())?;
        let evaluated = trace.rules_evaluated();
        out.push(ScalePoint { services, rules, evaluated });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::load_builtin;

    #[test]
    fn test_iptables_statistic_spreads_about_evenly() {
        let scenario = load_builtin("clusterip-iptables");
        let cluster = scenario.cluster.as_ref().expect("the slice loads");
        let counts = send(cluster, &scenario.from, &scenario.to, scenario.proto, 300, 1, false).expect("the walk runs");
        assert_eq!(counts.len(), 3, "{counts:?}");
        assert_eq!(counts.iter().map(|(_, count)| count).sum::<u64>(), 300);
        for (backend, count) in &counts {
            assert!((60..=140).contains(count), "{backend}: {count} of 300 is far from 1/3");
        }
        assert_eq!(
            counts,
            send(cluster, &scenario.from, &scenario.to, scenario.proto, 300, 1, false).unwrap(),
            "same seed, same counts"
        );
    }

    #[test]
    fn test_requests_through_the_controller_count_its_pods_and_the_backends() {
        let lesson = lbplay_core::lessons::get("ingress-fanout").expect("lesson");
        // Two controller replicas, as a production install runs them.
        let yaml = format!(
            "apiVersion: lbplay/v1alpha1\nkind: Cluster\nmetadata: {{name: two}}\nspec:\n  ingressController: {{replicas: 2}}\n---\n{}",
            lesson.yaml
        );
        let scenario = crate::run::load(&crate::run::Spec {
            lesson: Some(lesson.id.into()),
            yaml: Some(yaml),
            ..crate::run::Spec::default()
        });
        assert!(scenario.runs(), "{:?}", scenario.problems);
        let cluster = scenario.cluster.as_ref().expect("loads");
        let each = send_requests(cluster, &scenario.from, &scenario.to, &[], 200, 1, false).expect("sends");
        assert_eq!(each.proxies.len(), 2, "kube-proxy spreads 200 connections over both controller pods: {each:?}");
        assert!(each.proxies.iter().all(|(pod, count)| pod.contains("ingress-nginx-controller") && *count > 50));
        // Round robin per controller pod over s1's two pods: an even split, request by request.
        assert_eq!(each.backends.iter().map(|(_, count)| *count).sum::<u64>(), 200);
        assert!(each.backends.iter().all(|(_, count)| (90..=110).contains(count)), "{:?}", each.backends);
        // One keep-alive connection: one controller pod reads every request, and still
        // balances them over both backends.
        let one = send_requests(cluster, &scenario.from, &scenario.to, &[], 10, 1, true).expect("sends");
        assert_eq!(one.proxies.iter().map(|(_, count)| *count).collect::<Vec<_>>(), [10], "{one:?}");
        assert_eq!(one.backends.iter().map(|(_, count)| *count).collect::<Vec<_>>(), [5, 5], "{one:?}");
    }

    #[test]
    fn test_ipvs_rr_is_exact_and_sh_sticks() {
        let scenario = crate::run::load_builtin_in("clusterip-iptables", Some(ProxyMode::Ipvs));
        let cluster = scenario.cluster.as_ref().expect("the slice loads");
        let rr =
            send(&with_scheduler(cluster, "rr"), &scenario.from, &scenario.to, scenario.proto, 30, 1, false).unwrap();
        assert_eq!(rr.iter().map(|(_, count)| *count).collect::<Vec<_>>(), [10, 10, 10], "{rr:?}");
        let sh =
            send(&with_scheduler(cluster, "sh"), &scenario.from, &scenario.to, scenario.proto, 30, 1, false).unwrap();
        assert_eq!(sh.len(), 1, "one client address hashes to one backend: {sh:?}");
    }

    #[test]
    fn test_iptables_first_packet_cost_grows_with_services() {
        let scenario = load_builtin("clusterip-iptables");
        let cluster = scenario.cluster.as_ref().expect("the slice loads");
        for mode in MODES {
            let started = std::time::Instant::now();
            let points = scaling(cluster, mode, &scenario.from, &scenario.to, scenario.proto, 1, &[1, 10, 100])
                .expect("the walks run");
            eprintln!("{mode:?}: {points:?} in {:?}", started.elapsed());
            assert_eq!(points.len(), 3);
            if mode == ProxyMode::Ipvs {
                // IPVS mode's iptables rules match ipsets: adding Services adds set members, not rules.
                assert_eq!(points[0].rules, points[2].rules, "{points:?}");
            } else {
                assert!(points[0].rules < points[2].rules, "{mode:?}: {points:?}");
            }
            if matches!(mode, ProxyMode::Iptables | ProxyMode::Userspace) {
                // KUBE-SERVICES and KUBE-PORTALS-CONTAINER are linear lists: the packet is compared
                // with the other Services' rules.
                assert!(points[2].evaluated >= points[0].evaluated + 90, "{points:?}");
            } else {
                // nftables' verdict maps and IPVS's hash table do not grow with the Services.
                assert!(points[2].evaluated <= points[0].evaluated + 5, "{mode:?}: {points:?}");
            }
        }
    }
}
