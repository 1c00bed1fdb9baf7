//! The same Service walked under each proxy mode, and the distribution experiments of the
//! scheduler lessons: which backend each connection reaches, connection after connection.

use expect_test::expect_file;
use lbplay_core::model::ProxyMode;
use lbplay_core::net::Proto;
use lbplay_core::scenario::{self, Source};
use lbplay_core::walk::{Request, Sim};
use lbplay_core::{Cluster, Lang, StepKind, lessons};

fn cluster(mode: ProxyMode, scheduler: &str) -> Cluster {
    let builtin = lessons::get("clusterip-iptables").unwrap();
    let mut cluster = scenario::load(&[Source { name: "clusterip.yaml", text: builtin.yaml }]).unwrap().cluster;
    cluster.kube_proxy.mode = mode;
    cluster.kube_proxy.ipvs_scheduler = scheduler.to_string();
    cluster
}

/// Opens `n` connections from the client pod to the ClusterIP; `keep` leaves them open.
fn send(cluster: &Cluster, n: usize, keep: bool, seed: u64) -> Vec<String> {
    let request = Request { from: "pod/client".into(), to: "10.96.100.10:80".into(), proto: Proto::Tcp, seed, now: 0 };
    let sends = lbplay_core::walk::send(cluster, &request, n, keep).unwrap();
    sends.connections.into_iter().map(|sent| sent.backend).collect()
}

fn short(backends: &[String]) -> String {
    backends.iter().map(|b| b.trim_start_matches("pod/web-")).collect::<Vec<_>>().join(" ")
}

#[test]
fn every_mode_delivers_and_the_reply_comes_from_the_cluster_ip() {
    for mode in [ProxyMode::Iptables, ProxyMode::Nftables, ProxyMode::Ipvs] {
        let request =
            Request { from: "pod/client".into(), to: "10.96.100.10:80".into(), proto: Proto::Tcp, seed: 1, now: 0 };
        let trace = lbplay_core::walk::trace(&cluster(mode, ""), &request).unwrap();
        assert!(trace.outcome.delivered_to.is_some(), "{mode:?}: {:?}", trace.outcome);
        let last = trace.steps.last().unwrap();
        assert_eq!(last.kind, StepKind::Deliver, "{mode:?}");
        assert_eq!(last.after.tuple().unwrap().src.to_string(), "10.96.100.10:80", "{mode:?}");
        assert!(trace.steps.iter().all(|step| step.after.checksums_valid()), "{mode:?}");
        let ipvs_steps = trace.steps.iter().filter(|step| step.kind == StepKind::Ipvs).count();
        assert_eq!(ipvs_steps > 0, mode == ProxyMode::Ipvs, "{mode:?}");
    }
}

#[test]
fn mode_traces_snapshots() {
    let request =
        Request { from: "pod/client".into(), to: "10.96.100.10:80".into(), proto: Proto::Tcp, seed: 1, now: 0 };
    let nft = lbplay_core::walk::trace(&cluster(ProxyMode::Nftables, ""), &request).unwrap();
    expect_file!["snapshots/clusterip-nftables.seed1.txt"].assert_eq(&nft.to_text(Lang::En));
    let ipvs = lbplay_core::walk::trace(&cluster(ProxyMode::Ipvs, ""), &request).unwrap();
    expect_file!["snapshots/clusterip-ipvs-rr.seed1.txt"].assert_eq(&ipvs.to_text(Lang::En));
}

#[test]
fn iptables_statistic_spreads_close_to_a_third_each() {
    let backends = send(&cluster(ProxyMode::Iptables, ""), 3000, false, 42);
    for pod in ["pod/web-a", "pod/web-b", "pod/web-c"] {
        let count = backends.iter().filter(|b| *b == pod).count();
        // 3000 independent draws at p = 1/3: the standard deviation is about 26, so ±150 is
        // beyond five deviations; a wrong probability (say 1/2 for the first rule) lands far outside.
        assert!((850..=1150).contains(&count), "{pod}: {count} of 3000");
    }
}

#[test]
fn nftables_numgen_spreads_close_to_a_third_each() {
    let backends = send(&cluster(ProxyMode::Nftables, ""), 3000, false, 42);
    for pod in ["pod/web-a", "pod/web-b", "pod/web-c"] {
        let count = backends.iter().filter(|b| *b == pod).count();
        assert!((850..=1150).contains(&count), "{pod}: {count} of 3000");
    }
}

#[test]
fn ipvs_rr_visits_the_endpoints_in_list_order() {
    // kube-proxy adds the real servers in sorted order and the kernel inserts each at the head of
    // the list (ip_vs_ctl.c `__ip_vs_update_dest`: list_add_rcu), so rr walks c, b, a.
    assert_eq!(short(&send(&cluster(ProxyMode::Ipvs, "rr"), 7, false, 1)), "c b a c b a c");
}

#[test]
fn ipvs_sh_keeps_a_client_on_one_endpoint() {
    let backends = send(&cluster(ProxyMode::Ipvs, "sh"), 8, false, 1);
    assert!(backends.iter().all(|b| *b == backends[0]), "{backends:?}");
}

#[test]
fn ipvs_lc_spreads_kept_open_connections_evenly() {
    let backends = send(&cluster(ProxyMode::Ipvs, "lc"), 9, true, 1);
    for pod in ["pod/web-a", "pod/web-b", "pod/web-c"] {
        assert_eq!(backends.iter().filter(|b| *b == pod).count(), 3, "{backends:?}");
    }
}

#[test]
fn iptables_affinity_sends_later_connections_to_the_same_pod_until_the_timeout() {
    let builtin = lessons::get("affinity").unwrap();
    let cluster = scenario::load(&[Source { name: "affinity.yaml", text: builtin.yaml }]).unwrap().cluster;
    let mut sim = Sim::new(&cluster, 3, 0).unwrap();
    let first = sim.connect("pod/shopper", "10.96.20.20:80", Proto::Tcp).unwrap().outcome.delivered_to;
    for _ in 0..10 {
        sim.advance(60);
        assert_eq!(sim.connect("pod/shopper", "10.96.20.20:80", Proto::Tcp).unwrap().outcome.delivered_to, first);
    }
    // After 10800 s without a new connection the `recent` entry is stale: the draw is free again,
    // and over a few tries it picks the other pod at least once.
    let mut others = 0;
    for _ in 0..20 {
        sim.advance(10_801);
        if sim.connect("pod/shopper", "10.96.20.20:80", Proto::Tcp).unwrap().outcome.delivered_to != first {
            others += 1;
        }
    }
    assert!(others > 0);
}

#[test]
fn userspace_relays_and_retries_a_refusing_pod() {
    let builtin = lessons::get("userspace-retry").unwrap();
    let cluster = scenario::load(&[Source { name: "userspace.yaml", text: builtin.yaml }]).unwrap().cluster;
    let request =
        Request { from: builtin.from.into(), to: builtin.to.into(), proto: Proto::Tcp, seed: builtin.seed, now: 0 };
    let trace = lbplay_core::walk::trace(&cluster, &request).unwrap();
    let dials: Vec<&str> =
        trace.steps.iter().filter(|s| s.verdict.starts_with("DIAL ")).map(|s| s.verdict.as_str()).collect();
    // web-b (10.244.2.7) carries `lbplay.dev/down: refuse`: its RST makes kube-proxy dial again.
    assert_eq!(dials, ["DIAL 10.244.2.7:8080", "DIAL 10.244.1.5:8080"]);
    assert!(trace.steps.iter().any(|s| s.verdict == "RST" && s.node == "web-b"));
    assert_eq!(trace.outcome.delivered_to.as_deref(), Some("pod/web-a"));
    // The client's connection ends at kube-proxy (REDIRECT), and the pod's comes from the node.
    assert!(trace.steps.iter().any(|s| s.verdict == "REDIRECT"));
    let delivered = trace.steps.iter().rev().find(|s| s.kind == StepKind::Deliver && s.node == "web-a").unwrap();
    assert_eq!(delivered.after.tuple().unwrap().src.ip().to_string(), "10.244.1.1", "web-a sees the bridge address");
    // The client still sees the Service address answer.
    let client = trace.steps.iter().find(|s| s.kind == StepKind::Deliver && s.node == "client").unwrap();
    assert_eq!(client.after.tuple().unwrap().src.to_string(), "10.96.100.10:80");
}

#[test]
fn ipvs_wrr_follows_the_pod_weights() {
    let builtin = lessons::get("ipvs-wrr").unwrap();
    let cluster = scenario::load(&[Source { name: "ipvs-wrr.yaml", text: builtin.yaml }]).unwrap().cluster;
    let backends = send(&cluster, 12, false, 1);
    // Weights 3, 2, 1 (gcd 1, max 3): per cycle of 6 connections a gets 3, b 2, c 1.
    for (pod, expected) in [("pod/web-a", 6), ("pod/web-b", 4), ("pod/web-c", 2)] {
        assert_eq!(backends.iter().filter(|b| *b == pod).count(), expected, "{backends:?}");
    }
}
