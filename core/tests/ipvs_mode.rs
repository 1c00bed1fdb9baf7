//! kube-proxy's IPVS mode: what `lbplay rules --mode ipvs` prints, snapshotted, and the pieces the
//! walk builds on (virtual-server lookup, the `-m set` match evaluated against the node's ipsets).
//!
//! The iptables-save and ipset parts of both snapshots were loaded with `iptables-restore` and
//! `ipset restore` in a network namespace and saved again (iptables 1.8.9 nf_tables, ipset 7.17),
//! giving the same text except for the random `bucketsize 12 initval 0x…` that the kernel adds to
//! each hash set; `cli/tests/kernel_ipvs.rs` repeats that check when kernel tests are enabled.

use std::net::{Ipv4Addr, SocketAddrV4};

use expect_test::expect_file;
use lbplay_core::dataplane::{CtState, Env, Hook, Meta, Verdict};
use lbplay_core::ipvs::{IP_VS_SVC_F_PERSISTENT, IP_VS_SVC_F_SCHED_MH_PORT, Scheduler};
use lbplay_core::kubeproxy::ipvs_mode::{self, VipKind};
use lbplay_core::model::ProxyMode;
use lbplay_core::net::Proto;
use lbplay_core::netfilter::TableName;
use lbplay_core::netfilter::eval;
use lbplay_core::packet::{Tuple, TupleProto};
use lbplay_core::scenario::{self, Source};
use lbplay_core::{Cluster, kubeproxy, lessons};

fn builtin(id: &str) -> Cluster {
    let builtin = lessons::get(id).expect("the built-in scenario exists");
    let sources = [Source { name: "builtin.yaml", text: builtin.yaml }];
    scenario::load(&sources).expect("the built-in scenario loads").cluster
}

const EXTERNAL: &str = include_str!("data/ipvs/external.yaml");

fn external() -> Cluster {
    let sources = [Source { name: "external.yaml", text: EXTERNAL }];
    scenario::load(&sources).expect("the IPVS scenario loads").cluster
}

fn sa(text: &str) -> SocketAddrV4 {
    text.parse().unwrap()
}

#[test]
fn clusterip_scenario_node_1() {
    let text = kubeproxy::rules_text(&builtin("clusterip-iptables"), "node-1", ProxyMode::Ipvs).unwrap();
    expect_file!["snapshots/ipvs-clusterip-node-1.txt"].assert_eq(&text);
}

#[test]
fn external_scenario_node_1() {
    let text = kubeproxy::rules_text(&external(), "node-1", ProxyMode::Ipvs).unwrap();
    expect_file!["snapshots/ipvs-external-node-1.txt"].assert_eq(&text);
}

#[test]
fn external_scenario_node_2() {
    let text = kubeproxy::rules_text(&external(), "node-2", ProxyMode::Ipvs).unwrap();
    expect_file!["snapshots/ipvs-external-node-2.txt"].assert_eq(&text);
}

#[test]
fn the_three_parts_are_headed_by_the_tool_that_prints_them() {
    let lines = kubeproxy::rules_lines(&builtin("clusterip-iptables"), "node-1", ProxyMode::Ipvs).unwrap();
    let headers: Vec<&str> = lines.iter().map(|l| l.text.as_str()).filter(|t| t.starts_with("# ")).collect();
    assert_eq!(headers.len(), 4);
    assert!(headers[0].contains("v1.25") && headers[0].contains("v1.35"), "{}", headers[0]);
    assert_eq!(&headers[1..], ["# ipvsadm -Ln", "# ipset save -sorted", "# iptables-save"]);
    // The iptables-save lines still know which rule they are, for highlighting.
    assert!(lines.iter().any(|l| l.rule.is_some()));
}

#[test]
fn addresses_virtual_servers_and_real_servers() {
    let state = ipvs_mode::build(&external(), "node-2").unwrap();
    let ip = |t: &str| t.parse::<Ipv4Addr>().unwrap();
    // Every ClusterIP, externalIP and LoadBalancer IP is bound to kube-ipvs0; node addresses are not.
    assert_eq!(
        state.dummy_addrs,
        [ip("10.96.50.5"), ip("10.96.100.10"), ip("192.168.1.200"), ip("192.168.1.201"), ip("203.0.113.100")]
    );
    assert_eq!(state.node_addrs, [ip("192.168.1.11"), ip("10.244.2.1")]);
    assert_eq!(state.services.len(), state.origins.len());

    // ClientIP affinity: persistent with the Service's timeout; the default scheduler is rr.
    let lb = &state.services[state.lookup(Proto::Tcp, sa("203.0.113.100:443")).unwrap()];
    assert_eq!(lb.scheduler(), Scheduler::Rr);
    assert_eq!(lb.flags & IP_VS_SVC_F_PERSISTENT, IP_VS_SVC_F_PERSISTENT);
    assert_eq!(lb.timeout, 600);
    // externalTrafficPolicy Local: only node-2's endpoint behind the LB IP and the NodePorts,
    // every endpoint behind the ClusterIP.
    let dests = |addr: &str, proto: Proto| -> Vec<String> {
        let svc = &state.services[state.lookup(proto, sa(addr)).unwrap()];
        svc.dests().iter().map(|d| format!("{} {} w{}", d.addr, d.forward.name(), d.weight)).collect()
    };
    assert_eq!(dests("203.0.113.100:443", Proto::Tcp), ["10.244.2.30:8443 Masq w1"]);
    assert_eq!(dests("10.244.2.1:31443", Proto::Tcp), ["10.244.2.30:8443 Masq w1"]);
    // The kernel inserts each new destination at the head: kube-proxy's order reversed.
    assert_eq!(dests("10.96.50.5:443", Proto::Tcp), ["10.244.2.30:8443 Masq w1", "10.244.1.30:8443 Masq w1"]);
    let origin = &state.origins[state.lookup(Proto::Udp, sa("192.168.1.11:31053")).unwrap()];
    assert_eq!((origin.service_port.as_str(), origin.kind), ("default/shop:dns", VipKind::NodePort));
    // No virtual server for the wrong protocol, and none for the health-check port.
    assert_eq!(state.lookup(Proto::Udp, sa("203.0.113.100:443")), None);
    assert_eq!(state.lookup(Proto::Tcp, sa("192.168.1.11:32000")), None);
}

#[test]
fn the_scheduler_comes_from_the_kube_proxy_configuration() {
    let mut cluster = builtin("clusterip-iptables");
    cluster.kube_proxy.ipvs_scheduler = "mh".into();
    let state = ipvs_mode::build(&cluster, "node-1").unwrap();
    let svc = &state.services[state.lookup(Proto::Tcp, sa("10.96.100.10:80")).unwrap()];
    assert_eq!(svc.scheduler(), Scheduler::Mh);
    // kube-proxy sets FlagSourceHash (0x10) for mh, which ipvsadm shows as `mh-port`.
    assert_eq!(svc.flags, IP_VS_SVC_F_SCHED_MH_PORT);
    let text = kubeproxy::rules_text(&cluster, "node-1", ProxyMode::Ipvs).unwrap();
    assert!(text.contains("TCP  10.96.100.10:80 mh (mh-port)\n"), "{text}");

    cluster.kube_proxy.ipvs_scheduler = "fastest".into();
    let error = ipvs_mode::build(&cluster, "node-1").unwrap_err();
    assert!(error.contains("`fastest`"), "{error}");
}

fn meta(src: &str, dst: &str, local: &[&str]) -> Meta {
    Meta {
        tuple: Tuple { src: sa(src), dst: sa(dst), proto: TupleProto::Tcp },
        mark: 0,
        ct_states: vec![CtState::New],
        local_addrs: local.iter().map(|a| a.parse().unwrap()).collect(),
    }
}

fn verdicts(outcome: &eval::Outcome) -> Vec<String> {
    outcome.events.iter().map(|e| format!("{} {}", e.chain, e.verdict)).collect()
}

#[test]
fn set_matches_are_evaluated_against_the_nodes_ipsets() {
    let state = ipvs_mode::build(&builtin("clusterip-iptables"), "node-1").unwrap();
    let mut env = Env::new(1, 0);
    env.ipsets = Some(state.ipsets.clone());
    let local = ["192.168.1.10", "10.244.1.1", "10.96.100.10"];

    // A pod to the ClusterIP: no mark (it is inside the cluster CIDR), KUBE-NODE-PORT because
    // the VIP is local, no NodePort member, then ACCEPT by KUBE-CLUSTER-IP (spec §3.4 step 1).
    let pod = meta("10.244.1.20:40000", "10.96.100.10:80", &local);
    let nat = eval::traverse(&state.ruleset, TableName::Nat, Hook::Prerouting, &pod, &mut env);
    assert_eq!(
        verdicts(&nat),
        ["PREROUTING JUMP:KUBE-SERVICES", "KUBE-SERVICES JUMP:KUBE-NODE-PORT", "KUBE-SERVICES ACCEPT"]
    );
    assert_eq!(nat.mark, 0);
    // filter INPUT: KUBE-IPVS-FILTER lets a service port through.
    let filter = eval::traverse(&state.ruleset, TableName::Filter, Hook::Input, &pod, &mut env);
    assert_eq!(filter.verdict, Verdict::Accept);
    assert_eq!(filter.events[1].verdict, "RETURN");
    assert_eq!(filter.events[1].chain, "KUBE-IPVS-FILTER");

    // The same VIP on a port that is not a service port is rejected (issue #72236).
    let wrong_port = meta("10.244.1.20:40000", "10.96.100.10:22", &local);
    let filter = eval::traverse(&state.ruleset, TableName::Filter, Hook::Input, &wrong_port, &mut env);
    assert!(matches!(filter.verdict, Verdict::Reject(_)), "{:?}", verdicts(&filter));

    // A client outside the cluster CIDR is marked for masquerading; a NodePort from outside too.
    let laptop = meta("192.168.1.50:5000", "10.96.100.10:80", &local);
    let nat = eval::traverse(&state.ruleset, TableName::Nat, Hook::Prerouting, &laptop, &mut env);
    assert_eq!(nat.mark, 0x4000);
    let node_port = meta("192.168.1.50:5000", "192.168.1.10:30080", &local);
    let nat = eval::traverse(&state.ruleset, TableName::Nat, Hook::Prerouting, &node_port, &mut env);
    assert_eq!(nat.mark, 0x4000, "{:?}", verdicts(&nat));

    // Hairpin: the endpoint reaching itself matches KUBE-LOOP-BACK dst,dst,src in POSTROUTING.
    let hairpin = meta("10.244.1.5:40000", "10.244.1.5:8080", &local);
    let post = eval::traverse(&state.ruleset, TableName::Nat, Hook::Postrouting, &hairpin, &mut env);
    assert_eq!(verdicts(&post), ["POSTROUTING JUMP:KUBE-POSTROUTING", "KUBE-POSTROUTING MASQUERADE"]);

    // Without the node's sets no `--match-set` matches.
    env.ipsets = None;
    let nat = eval::traverse(&state.ruleset, TableName::Nat, Hook::Prerouting, &pod, &mut env);
    assert_eq!(nat.verdict, Verdict::Accept);
    assert!(!verdicts(&nat).contains(&"KUBE-SERVICES ACCEPT".to_string()));
}
