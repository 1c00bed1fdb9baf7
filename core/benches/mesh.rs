//! `cargo bench -p lbplay-core --bench mesh`: issue 13's benchmark. 10,000 HTTP requests from an
//! injected client pod over one keep-alive connection through its sidecar, each routed (listener,
//! route, cluster) and balanced by LEAST_REQUEST, Istio's default (goal ≤ 100 ms); the whole walk
//! of one request through both sidecars; and the balancer alone.

mod common;

use std::time::Instant;

use lbplay_core::mesh::balance::{Balancer, Endpoint, Policy};
use lbplay_core::rng::Rng;
use lbplay_core::scenario::{Source, load};
use lbplay_core::walk::{HttpOptions, Load, Request, fetch, send_requests};

fn main() {
    let epoch = Instant::now();
    let clock = move || epoch.elapsed().as_secs_f64() * 1000.0;
    let text = include_str!("../scenarios/mesh.yaml");
    let cluster = load(&[Source { name: "mesh.yaml", text }]).expect("the mesh scenario loads").cluster;
    let request = Request {
        from: "pod/client".into(),
        to: "http://web/".into(),
        proto: lbplay_core::net::Proto::Tcp,
        seed: 1,
        now: 0,
    };
    let options = HttpOptions::default();
    let load = Load { requests: 10_000, clients: 1, connections: 1 };
    let (ms, sent) = common::median(5, &clock, || send_requests(&cluster, &request, &options, load).expect("sends"));
    assert_eq!(sent.requests.len(), 10_000);
    assert_eq!(sent.counts.len(), 3, "{:?}", sent.counts);
    println!("{}", common::figure("mesh: 10,000 requests through a sidecar (LEAST_REQUEST)", ms, "ms", Some(100.0)));
    let (ms, trace) = common::median(5, &clock, || fetch(&cluster, &request, &options).expect("walks"));
    assert_eq!(trace.outcome.http.map(|h| h.status), Some(200));
    println!("{}", common::figure("mesh: walk one request through both sidecars", ms, "ms", None));
    let endpoints: Vec<Endpoint> =
        (0..100).map(|i| Endpoint { address: format!("10.244.{}.{}:8080", i / 250, i % 250 + 1), weight: 1 }).collect();
    let active: Vec<u32> = (0..100).map(|i| i % 7).collect();
    let (ms, picked) = common::median(5, &clock, || {
        let mut balancer = Balancer::new(Policy::least_request(), endpoints.clone(), 1).expect("builds");
        let mut rng = Rng::new(1);
        (0..10_000).map(|_| balancer.pick(&active, None, &mut rng).index).sum::<usize>()
    });
    assert!(picked > 0);
    println!("{}", common::figure("mesh: 10,000 LEAST_REQUEST picks over 100 hosts", ms, "ms", None));
    let (ms, table) = common::median(3, &clock, || {
        Balancer::new(Policy::Maglev { table_size: 65_537 }, endpoints.clone(), 1).expect("builds")
    });
    assert_eq!(table.table_len(), 65_537);
    println!("{}", common::figure("mesh: build a 65,537-slot Maglev table of 100 hosts", ms, "ms", None));
}
