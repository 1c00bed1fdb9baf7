//! Many connections in a row, as `lbplay send` and the page's experiments open them: which
//! backend served each, and how many each backend served. The one loop every front end uses.

use std::collections::BTreeMap;

use super::{Request, Sim, WalkError};
use crate::model::Cluster;

/// One connection of a `send`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    pub index: usize,
    /// The host that served it (`pod/web-b`), or `dropped`.
    pub backend: String,
    pub dropped: bool,
    /// Why it was dropped or not delivered.
    pub reason: Option<String>,
}

/// What a `send` did: every connection in order, and the count per backend in the backends'
/// sorted order (`dropped` counts those that were not delivered).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Sends {
    pub connections: Vec<Sent>,
    pub counts: BTreeMap<String, u64>,
}

/// Opens `n` connections of `request` (its seed seeds the whole run, its `now` is the first
/// connection's time), one second apart, each closed before the next unless `keep`: closing
/// changes nothing in iptables or nftables mode, but IPVS's lc, wlc, sed and nq count open (and
/// recently closed) connections.
pub fn send(cluster: &Cluster, request: &Request, n: usize, keep: bool) -> Result<Sends, WalkError> {
    let mut sim = Sim::new(cluster, request.seed, request.now)?;
    let mut sends = Sends::default();
    for index in 0..n {
        let trace = sim.connect(&request.from, &request.to, request.proto)?;
        let backend = trace.outcome.delivered_to.unwrap_or_else(|| "dropped".to_string());
        *sends.counts.entry(backend.clone()).or_default() += 1;
        sends.connections.push(Sent { index, backend, dropped: trace.outcome.dropped, reason: trace.outcome.reason });
        if !keep {
            sim.close_all();
        }
        sim.advance(1);
    }
    Ok(sends)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ProxyMode;
    use crate::net::Proto;

    /// The ClusterIP lesson's three pods behind one Service, in `mode`.
    fn lesson(mode: ProxyMode) -> Cluster {
        let builtin = crate::lessons::get("clusterip-iptables").expect("the lesson exists");
        let source = crate::scenario::Source { name: builtin.id, text: builtin.yaml };
        let mut cluster = crate::scenario::load(&[source]).expect("the lesson loads").cluster;
        cluster.kube_proxy.mode = mode;
        cluster
    }

    fn request(from: &str) -> Request {
        Request { from: from.into(), to: "10.96.100.10:80".into(), proto: Proto::Tcp, seed: 1, now: 0 }
    }

    fn check(mode: ProxyMode, n: usize, keep: bool, expect: &str) {
        let sends = send(&lesson(mode), &request("pod/client"), n, keep).expect("the walk runs");
        let order: Vec<&str> =
            sends.connections.iter().map(|sent| sent.backend.trim_start_matches("pod/web-")).collect();
        let counts: Vec<String> = sends.counts.iter().map(|(backend, count)| format!("{backend}={count}")).collect();
        assert_eq!(format!("{} | {}", order.join(" "), counts.join(" ")), expect);
        assert!(sends.connections.iter().enumerate().all(|(index, sent)| sent.index == index));
    }

    #[test]
    fn ipvs_round_robin_takes_each_in_turn() {
        check(ProxyMode::Ipvs, 4, false, "c b a c | pod/web-a=1 pod/web-b=1 pod/web-c=2");
    }

    #[test]
    fn no_connections_count_nothing() {
        check(ProxyMode::Iptables, 0, false, " | ");
    }

    #[test]
    fn an_unknown_source_is_an_error() {
        assert!(send(&lesson(ProxyMode::Iptables), &request("pod/nobody"), 3, false).is_err());
    }
}
