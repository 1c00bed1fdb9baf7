//! kube-proxy's nftables mode: the rendered `ip kube-proxy` table of the built-in ClusterIP
//! scenario (checked byte for byte against `nft list ruleset` in tier 4, `cli/tests/kernel_nft.rs`),
//! and walks through the table with `nftables::eval::traverse`: a pod reaching a ClusterIP is
//! DNATed to an endpoint, a Service without endpoints is rejected, an eTP=Local NodePort on a node
//! without local endpoints drops, and ClientIP affinity keeps a client on one endpoint.

use std::net::{Ipv4Addr, SocketAddrV4};

use expect_test::expect_file;
use lbplay_core::dataplane::{CtState, Env, Hook, Meta, NatTarget, Verdict};
use lbplay_core::model::ProxyMode;
use lbplay_core::nftables::eval::{Outcome, traverse};
use lbplay_core::nftables::render::list_ruleset_text;
use lbplay_core::packet::{Tuple, TupleProto};
use lbplay_core::scenario::{self, Source};
use lbplay_core::{Cluster, kubeproxy, lessons};

fn builtin_yaml(file: &str) -> Cluster {
    let text = lessons::all()
        .iter()
        .map(|builtin| builtin.yaml)
        .find(|yaml| yaml.contains(&format!("name: {file}\n")))
        .unwrap_or_else(|| panic!("a built-in scenario whose Cluster is named {file}"));
    let sources = [Source { name: "scenario.yaml", text }];
    scenario::load(&sources).expect("the built-in scenario loads").cluster
}

fn tuple(src: &str, dst: &str) -> Tuple {
    Tuple { src: src.parse::<SocketAddrV4>().unwrap(), dst: dst.parse().unwrap(), proto: TupleProto::Tcp }
}

fn new_packet(src: &str, dst: &str, local: &str) -> Meta {
    Meta {
        tuple: tuple(src, dst),
        mark: 0,
        ct_states: vec![CtState::New],
        local_addrs: vec![local.parse::<Ipv4Addr>().unwrap()],
    }
}

fn walk(cluster: &Cluster, node: &str, hook: Hook, meta: &Meta, env: &mut Env) -> Outcome {
    let ruleset = kubeproxy::nftables::build(cluster, node).unwrap();
    traverse(&ruleset, hook, meta, env)
}

/// The events as `chain: rule => verdict` lines, for readable assertions.
fn events_text(outcome: &Outcome) -> String {
    let mut out = String::new();
    for event in &outcome.events {
        let rule = event.rule.as_ref().map(|(_, text)| text.as_str()).unwrap_or("(policy)");
        out.push_str(&format!("{} [{} skipped]: {rule} => {}\n", event.chain, event.skipped.len(), event.verdict));
    }
    out
}

#[test]
fn clusterip_node_1_ruleset() {
    let cluster = builtin_yaml("clusterip-iptables");
    let got = kubeproxy::rules_text(&cluster, "node-1", ProxyMode::Nftables).unwrap();
    expect_file!["data/nftables/clusterip-node-1.nft"].assert_eq(&got);
    let ruleset = kubeproxy::nftables::build(&cluster, "node-1").unwrap();
    assert_eq!(list_ruleset_text(&ruleset), got);
}

#[test]
fn pod_to_cluster_ip_is_dnated_to_an_endpoint() {
    let cluster = builtin_yaml("clusterip-iptables");
    let meta = new_packet("10.244.1.20:40000", "10.96.100.10:80", "192.168.1.10");
    let endpoints = ["10.244.1.5", "10.244.2.7", "10.244.3.9"];
    let mut seen = Vec::new();
    for seed in 0..32 {
        let mut env = Env::new(seed, 0);
        let outcome = walk(&cluster, "node-1", Hook::Prerouting, &meta, &mut env);
        let Verdict::Nat(NatTarget::Dnat { ip, port: Some(8080) }) = outcome.verdict else {
            panic!("seed {seed}: expected a DNAT, got {:?}\n{}", outcome.verdict, events_text(&outcome));
        };
        assert!(endpoints.contains(&ip.to_string().as_str()), "{ip}");
        let last = &outcome.events[outcome.nat_event.unwrap()];
        assert_eq!(last.verdict, "dnat");
        assert!(last.chain.starts_with("endpoint-"), "{}", last.chain);
        if !seen.contains(&ip) {
            seen.push(ip);
        }
    }
    assert_eq!(seen.len(), 3, "32 seeds reach every endpoint");

    let mut env = Env::new(1, 0);
    let outcome = walk(&cluster, "node-1", Hook::Prerouting, &meta, &mut env);
    let text = events_text(&outcome);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "filter-prerouting [0 skipped]: ct state new jump firewall-check => jump firewall-check");
    assert_eq!(lines[1], "filter-prerouting [1 skipped]: (policy) => policy accept");
    assert_eq!(lines[2], "nat-prerouting [0 skipped]: jump services => jump services");
    assert_eq!(
        lines[3],
        "services [0 skipped]: ip daddr . meta l4proto . th dport vmap @service-ips => goto service-SUSTUHLJ-default/web/tcp/http"
    );
    // The client is a pod, so the ClusterIP masquerade rule does not match.
    assert!(
        lines[4].starts_with("service-SUSTUHLJ-default/web/tcp/http [1 skipped]: numgen random mod 3 vmap"),
        "{text}"
    );
    assert!(outcome.events[4].detail.as_deref().unwrap().starts_with("numgen: drew "));
    assert_eq!(lines.len(), 6, "{text}");
    assert_eq!(outcome.mark, 0);
}

#[test]
fn off_cluster_source_is_marked_for_masquerade() {
    let cluster = builtin_yaml("clusterip-iptables");
    let meta = new_packet("192.168.1.10:40000", "10.96.100.10:80", "192.168.1.10");
    let mut env = Env::new(3, 0);
    let outcome = walk(&cluster, "node-1", Hook::Output, &meta, &mut env);
    assert!(matches!(outcome.verdict, Verdict::Nat(NatTarget::Dnat { .. })), "{}", events_text(&outcome));
    assert_eq!(outcome.mark, 0x4000);
    // After the DNAT, filter-output-post-dnat's cluster-ips-check sees the endpoint, not the
    // ClusterIP, and lets the packet through.
    assert_eq!(outcome.events.last().unwrap().verdict, "policy accept");
    assert_eq!(outcome.events.last().unwrap().chain, "filter-output-post-dnat");

    let post = Meta { mark: 0x4000, ..meta };
    let outcome = walk(&cluster, "node-1", Hook::Postrouting, &post, &mut env);
    assert_eq!(outcome.verdict, Verdict::Nat(NatTarget::Masquerade { random_fully: true }));
    assert_eq!(outcome.mark, 0, "the xor clears the masquerade bit");
}

#[test]
fn no_endpoints_is_rejected() {
    let cluster = builtin_yaml("no-endpoints");
    let meta = new_packet("10.244.1.20:40000", "10.96.66.6:80", "192.168.1.10");
    let mut env = Env::new(1, 0);
    let outcome = walk(&cluster, "node-1", Hook::Prerouting, &meta, &mut env);
    assert_eq!(outcome.verdict, Verdict::Accept, "no DNAT: {}", events_text(&outcome));
    let outcome = walk(&cluster, "node-1", Hook::Forward, &meta, &mut env);
    assert_eq!(
        events_text(&outcome),
        "filter-forward [0 skipped]: ct state new jump service-endpoints-check => jump service-endpoints-check\n\
         service-endpoints-check [0 skipped]: ip daddr . meta l4proto . th dport vmap @no-endpoint-services => goto reject-chain\n\
         reject-chain [0 skipped]: reject => reject\n"
    );
    assert!(matches!(outcome.verdict, Verdict::Reject(_)));
}

#[test]
fn unknown_port_of_a_cluster_ip_is_rejected_and_unallocated_cluster_ip_dropped() {
    let cluster = builtin_yaml("clusterip-iptables");
    let mut env = Env::new(1, 0);
    let meta = new_packet("10.244.1.20:40000", "10.96.100.10:81", "192.168.1.10");
    let outcome = walk(&cluster, "node-1", Hook::Forward, &meta, &mut env);
    assert!(matches!(outcome.verdict, Verdict::Reject(_)), "{}", events_text(&outcome));
    let meta = new_packet("10.244.1.20:40000", "10.96.7.7:80", "192.168.1.10");
    let outcome = walk(&cluster, "node-1", Hook::Forward, &meta, &mut env);
    assert_eq!(outcome.verdict, Verdict::Drop, "{}", events_text(&outcome));
}

#[test]
fn external_traffic_policy_local_without_local_endpoints_drops() {
    let cluster = builtin_yaml("nodeport");
    let meta = new_packet("192.168.1.50:40000", "192.168.1.11:30081", "192.168.1.11");
    let mut env = Env::new(1, 0);
    let outcome = walk(&cluster, "node-2", Hook::Prerouting, &meta, &mut env);
    assert_eq!(outcome.verdict, Verdict::Accept, "no DNAT on node-2: {}", events_text(&outcome));
    let outcome = walk(&cluster, "node-2", Hook::Input, &meta, &mut env);
    assert_eq!(
        events_text(&outcome),
        "filter-input [0 skipped]: ct state new jump nodeport-endpoints-check => jump nodeport-endpoints-check\n\
         nodeport-endpoints-check [0 skipped]: ip daddr @nodeport-ips meta l4proto . th dport vmap @no-endpoint-nodeports => drop\n"
    );
    assert_eq!(outcome.verdict, Verdict::Drop);

    // On node-1, which has an endpoint, the same NodePort is DNATed to it, keeping the source.
    let meta = new_packet("192.168.1.50:40000", "192.168.1.10:30081", "192.168.1.10");
    let outcome = walk(&cluster, "node-1", Hook::Prerouting, &meta, &mut env);
    assert_eq!(outcome.verdict, Verdict::Nat(NatTarget::Dnat { ip: "10.244.1.5".parse().unwrap(), port: Some(8080) }));
    assert_eq!(outcome.mark, 0, "eTP=Local does not masquerade external clients");
}

#[test]
fn client_ip_affinity_keeps_the_endpoint_until_the_timeout() {
    let cluster = builtin_yaml("affinity");
    let ruleset = kubeproxy::nftables::build(&cluster, "node-1").unwrap();
    let text = list_ruleset_text(&ruleset);
    assert!(text.contains("\t\tflags dynamic,timeout\n"), "{text}");
    let service_ip = cluster.services.iter().find(|s| s.session_affinity.is_some()).unwrap().cluster_ip.unwrap();
    let port = cluster.services.iter().find(|s| s.session_affinity.is_some()).unwrap().ports[0].port;
    let timeout = cluster.services.iter().find_map(|s| s.session_affinity).unwrap();
    let dst = format!("{service_ip}:{port}");
    let meta = new_packet("10.244.1.20:40000", &dst, "192.168.1.10");
    let mut env = Env::new(7, 0);
    let first = traverse(&ruleset, Hook::Prerouting, &meta, &mut env).verdict;
    for seed in 0..16 {
        env.rng = lbplay_core::rng::Rng::new(seed);
        env.now = u64::from(timeout) - 1;
        let outcome = traverse(&ruleset, Hook::Prerouting, &meta, &mut env);
        assert_eq!(outcome.verdict, first, "seed {seed}: {}", events_text(&outcome));
        assert!(
            outcome.events.iter().any(|e| e.rule.as_ref().is_some_and(|(_, r)| r.starts_with("ip saddr @affinity-")))
        );
        // Each new connection refreshes the entry (`update`), so time restarts from here.
        env.now = 0;
    }
}
