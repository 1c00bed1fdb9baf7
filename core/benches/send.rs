//! `cargo bench -p lbplay-core --bench send`: issue 17's experiment-mode figure, the time per
//! connection of `walk::send` (each connection walked, its trace summarised to the backend that
//! served it), in each proxy mode's ClusterIP lesson. The goal is 1,000,000 connections a second,
//! 1 µs each. Every figure is printed; nothing about time is asserted.

mod common;

use std::time::Instant;

use common::figure;
use lbplay_core::net::Proto;
use lbplay_core::walk::{self, Request};

/// The connections each mode sends.
const CONNECTIONS: usize = 5_000;

fn main() {
    for (lesson, mode) in
        [("clusterip-iptables", "iptables"), ("clusterip-ipvs", "ipvs"), ("clusterip-nftables", "nftables")]
    {
        let builtin = lbplay_core::lessons::get(lesson).expect("the lesson exists");
        let source = lbplay_core::scenario::Source { name: builtin.id, text: builtin.yaml };
        let cluster = lbplay_core::scenario::load(&[source]).expect("the lesson loads").cluster;
        let request = Request { from: builtin.from.into(), to: builtin.to.into(), proto: Proto::Tcp, seed: 1, now: 0 };
        let start = Instant::now();
        let sends = walk::send(&cluster, &request, CONNECTIONS, false).expect("it sends");
        let per = start.elapsed().as_secs_f64() * 1e6 / CONNECTIONS as f64;
        assert_eq!(sends.connections.len(), CONNECTIONS);
        println!("{mode}: {CONNECTIONS} connections, {:.0} a second, counts {:?}", 1e6 / per, sends.counts);
        println!("{}", figure(&format!("native send, µs per connection ({mode})"), per, "µs", Some(1.0)));
    }
    common::grpc_timings(&common::Probe {
        platform: "native",
        clock: &|| START.with(|start| start.elapsed().as_secs_f64() * 1000.0),
        peak: &|_| None,
        print: &|line| println!("{line}"),
        timings: true,
    });
}

thread_local! {
    static START: Instant = Instant::now();
}
