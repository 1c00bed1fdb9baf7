//! Experiments: "send N connections" through the simulator and count which backend served each,
//! as `lbplay send` does. Runs lbplay-core's `Sim` (one clock, one seed, one conntrack) so the
//! counts are the ones the CLI prints for the same scenario, walk and seed.

use std::collections::BTreeMap;

use lbplay_core::model::Cluster;
use lbplay_core::net::Proto;
use lbplay_core::walk::Sim;

/// The numbers of connections the experiment offers.
pub const SIZES: [u32; 4] = [10, 100, 1000, 3000];

/// Which backend served each of `n` connections from `from` to `to`, counted per backend
/// (`dropped` for connections that were not delivered), in the backends' sorted order.
pub fn send(cluster: &Cluster, from: &str, to: &str, n: u32, seed: u64) -> Result<Vec<(String, u64)>, String> {
    let mut sim = Sim::new(cluster, seed, 0).map_err(|err| err.to_string())?;
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    for _ in 0..n {
        let trace = sim.connect(from, to, Proto::Tcp).map_err(|err| err.to_string())?;
        let backend = trace.outcome.delivered_to.unwrap_or_else(|| "dropped".to_string());
        *counts.entry(backend).or_default() += 1;
        // One second between connections, as `lbplay send` spaces them.
        sim.advance(1);
    }
    Ok(counts.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::load_builtin;

    #[test]
    fn test_iptables_statistic_spreads_about_evenly() {
        let scenario = load_builtin("clusterip-iptables");
        let cluster = scenario.cluster.as_ref().expect("the slice loads");
        let counts = send(cluster, &scenario.from, &scenario.to, 300, 1).expect("the walk runs");
        assert_eq!(counts.len(), 3, "{counts:?}");
        assert_eq!(counts.iter().map(|(_, count)| count).sum::<u64>(), 300);
        for (backend, count) in &counts {
            assert!((60..=140).contains(count), "{backend}: {count} of 300 is far from 1/3");
        }
        assert_eq!(counts, send(cluster, &scenario.from, &scenario.to, 300, 1).unwrap(), "same seed, same counts");
    }
}
