//! Every built-in lesson walked in every kube-proxy mode, snapshotted whole.
//!
//! Each lesson's own walk (`from`, `to`, `seed`) runs under iptables, nftables, IPVS and userspace
//! mode; the JSON trace (`Trace::to_json`, pretty, plus each step's `rule_at` and `skipped_rules`,
//! which the page highlights) goes to `snapshots/lessons/ID.MODE.json`. A lesson that cannot be
//! walked in a mode snapshots its error instead, so a refactor that breaks a mode shows up too.
//! A second file per lesson and mode, `ID.MODE.send.txt`, lists which backend served each of
//! twelve connections in a row, closed one by one, then twelve kept open: the experiments'
//! numbers. Refactors of the walk keep every file byte for byte.

use expect_test::expect_file;
use lbplay_core::lessons;
use lbplay_core::model::{Cluster, ProxyMode};
use lbplay_core::scenario::{self, Source};
use lbplay_core::trace::Trace;
use lbplay_core::walk::{self, Request};
use serde_json::{Value, json};

const MODES: [ProxyMode; 4] = [ProxyMode::Iptables, ProxyMode::Nftables, ProxyMode::Ipvs, ProxyMode::Userspace];

fn cluster(builtin: &lessons::Builtin, mode: ProxyMode) -> Cluster {
    let mut cluster = scenario::load(&[Source { name: builtin.id, text: builtin.yaml }])
        .unwrap_or_else(|problems| panic!("{}: {problems:?}", builtin.id))
        .cluster;
    cluster.kube_proxy.mode = mode;
    cluster
}

/// The contract's JSON, with the positions the page uses to highlight rules.
fn trace_json(trace: &Trace) -> Value {
    let mut value = trace.to_json();
    if let Some(steps) = value["steps"].as_array_mut() {
        for (json, step) in steps.iter_mut().zip(&trace.steps) {
            json["rule_at"] = match &step.rule_at {
                Some(at) => json!({"table": at.table, "chain": at.chain, "index": at.index}),
                None => Value::Null,
            };
            json["skipped_rules"] = step
                .skipped_rules
                .iter()
                .map(|at| json!({"table": at.table, "chain": at.chain, "index": at.index}))
                .collect();
        }
    }
    value
}

fn check_walk(builtin: &lessons::Builtin, mode: ProxyMode) {
    let request = Request {
        from: builtin.from.to_string(),
        to: builtin.to.to_string(),
        proto: builtin.proto,
        seed: builtin.seed,
        now: 0,
    };
    let text = match walk::trace(&cluster(builtin, mode), &request) {
        Ok(trace) => serde_json::to_string_pretty(&trace_json(&trace)).unwrap(),
        Err(err) => serde_json::to_string_pretty(&json!({"error": err.to_string()})).unwrap(),
    };
    let path = format!("{}/tests/snapshots/lessons/{}.{}.json", env!("CARGO_MANIFEST_DIR"), builtin.id, mode.as_str());
    expect_file![path].assert_eq(&format!("{text}\n"));
}

fn sends(cluster: &Cluster, builtin: &lessons::Builtin, keep: bool) -> String {
    let request = Request {
        from: builtin.from.to_string(),
        to: builtin.to.to_string(),
        proto: builtin.proto,
        seed: builtin.seed,
        now: 0,
    };
    match walk::send(cluster, &request, 12, keep) {
        Ok(sends) => sends.connections.iter().map(|sent| format!("{:>2} {}\n", sent.index, sent.backend)).collect(),
        Err(err) => format!("error: {err}\n"),
    }
}

fn check_sends(builtin: &lessons::Builtin, mode: ProxyMode) {
    let cluster = cluster(builtin, mode);
    let text = format!("closed:\n{}\nkept:\n{}", sends(&cluster, builtin, false), sends(&cluster, builtin, true));
    let path =
        format!("{}/tests/snapshots/lessons/{}.{}.send.txt", env!("CARGO_MANIFEST_DIR"), builtin.id, mode.as_str());
    expect_file![path].assert_eq(&text);
}

#[test]
fn every_lesson_in_every_mode() {
    for builtin in lessons::all() {
        for mode in MODES {
            check_walk(builtin, mode);
            check_sends(builtin, mode);
        }
    }
}
