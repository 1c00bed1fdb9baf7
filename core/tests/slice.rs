//! The foundation slice end to end: the built-in ClusterIP scenario, its rules for node-1 and the
//! walk of the client pod's SYN and the SYN-ACK back, snapshotted as text and JSON.
//!
//! The JSON snapshot is also what the browser test compares the WebAssembly build's trace with.

use expect_test::expect_file;
use lbplay_core::model::ProxyMode;
use lbplay_core::net::Proto;
use lbplay_core::scenario::{self, Source};
use lbplay_core::walk::{self, Request};
use lbplay_core::{Cluster, Lang, kubeproxy, lessons};

fn builtin(id: &str) -> Cluster {
    let builtin = lessons::get(id).expect("the built-in scenario exists");
    let sources = [Source { name: "clusterip-iptables.yaml", text: builtin.yaml }];
    scenario::load(&sources).expect("the built-in scenario loads").cluster
}

fn slice_trace(seed: u64) -> lbplay_core::Trace {
    let request = Request { from: "pod/client".into(), to: "10.96.100.10:80".into(), proto: Proto::Tcp, seed, now: 0 };
    walk::trace(&builtin("clusterip-iptables"), &request).expect("the walk starts")
}

#[test]
fn node_1_rules_are_spec_1_13_b() {
    let got = kubeproxy::rules_text(&builtin("clusterip-iptables"), "node-1", ProxyMode::Iptables).unwrap();
    expect_file!["data/spec-1.13-B.iptables-save.txt"].assert_eq(&got);
}

#[test]
fn slice_trace_text() {
    expect_file!["snapshots/clusterip-iptables.seed1.txt"].assert_eq(&slice_trace(1).to_text(Lang::En));
}

#[test]
fn slice_trace_text_zh() {
    expect_file!["snapshots/clusterip-iptables.seed1.zh.txt"].assert_eq(&slice_trace(1).to_text(Lang::Zh));
}

#[test]
fn slice_trace_json() {
    let json = serde_json::to_string_pretty(&slice_trace(1).to_json()).unwrap() + "\n";
    expect_file!["snapshots/clusterip-iptables.seed1.json"].assert_eq(&json);
}

#[test]
fn same_seed_same_trace_other_seed_other_draws() {
    assert_eq!(slice_trace(7), slice_trace(7));
    let backends: std::collections::BTreeSet<String> =
        (0..40).map(|seed| slice_trace(seed).outcome.delivered_to.unwrap()).collect();
    assert_eq!(backends.len(), 3, "over 40 seeds every endpoint is chosen at least once: {backends:?}");
}

#[test]
fn the_reply_comes_back_from_the_cluster_ip() {
    let trace = slice_trace(1);
    let last = trace.steps.last().unwrap();
    assert_eq!(last.kind, lbplay_core::StepKind::Deliver);
    assert_eq!(last.node, "client");
    let tuple = last.after.tuple().unwrap();
    assert_eq!(tuple.src.to_string(), "10.96.100.10:80");
    assert!(trace.steps.iter().all(|step| step.after.checksums_valid()), "every packet has valid checksums");
    let dnat = trace.steps.iter().find(|step| step.verdict == "DNAT").unwrap();
    assert_eq!(dnat.node, "node-1");
    assert_eq!(dnat.before.tuple().unwrap().dst.to_string(), "10.96.100.10:80");
    assert_ne!(dnat.before.bytes(), dnat.after.bytes());
}
