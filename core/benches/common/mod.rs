//! What the benchmarks share: the one line format every figure is printed in, a median timer that
//! takes its clock as an argument, the synthetic manifest of issue 3, and the core timings that
//! run both natively and in WebAssembly.
//!
//! The native benches include this file as `mod common;`; the browser bench
//! (`web/tests/bench_wasm.rs`) includes it by path, so the wasm figures come from exactly the same
//! work as the native ones. `std::time::Instant` panics in wasm32, hence the clock argument:
//! natively it reads `Instant`, in the browser `performance.now()`.
//!
//! Every figure is printed as one line, `[figure] NAME | VALUE UNIT | ≤ TARGET UNIT` (or `| -`
//! when the figure has no target). `cargo xtask bench` reads these lines back for its summary
//! table, so the format is the contract between the benches and xtask.

#![allow(dead_code, unreachable_pub)]

use std::fmt::Write as _;

use lbplay_core::kubeproxy::iptables;
use lbplay_core::net::Proto;
use lbplay_core::netfilter::render;
use lbplay_core::scenario::{self, Source};
use lbplay_core::synthetic;
use lbplay_core::walk::Sim;

/// The marker that starts every figure line.
pub const MARK: &str = "[figure]";

/// One figure as a line: `[figure] NAME | VALUE UNIT | ≤ TARGET UNIT`. The number of decimals
/// follows the unit, so a reader sees milliseconds to the microsecond and counts as integers.
pub fn figure(name: &str, value: f64, unit: &str, target: Option<f64>) -> String {
    let decimals = match unit {
        "ms" => 3,
        "MiB" | "KiB" | "KB" => 1,
        "x" => 2,
        _ => 0,
    };
    let spaced = if unit.is_empty() { String::new() } else { format!(" {unit}") };
    let target = match target {
        Some(target) => format!("≤ {target:.decimals$}{spaced}"),
        None => "-".to_string(),
    };
    format!("{MARK} {name} | {value:.decimals$}{spaced} | {target}")
}

/// The median, in milliseconds, of `runs` timings of `work` read on `clock` (which returns
/// milliseconds), and the result of the last run.
pub fn median<T>(runs: usize, clock: &dyn Fn() -> f64, mut work: impl FnMut() -> T) -> (f64, T) {
    let mut times = Vec::with_capacity(runs);
    let mut last = None;
    for _ in 0..runs {
        let start = clock();
        let out = work();
        times.push(clock() - start);
        last = Some(out);
    }
    times.sort_by(f64::total_cmp);
    (times[times.len() / 2], last.expect("at least one run"))
}

/// The number of Services in the large benchmarks (issues 3, 4 and 5).
pub const SERVICES: usize = 10_000;
/// Endpoints (ready Pods) per Service.
pub const ENDPOINTS: usize = 10;
/// Nodes in the manifest of issue 3: the scenario's limit.
pub const NODES: usize = 100;

/// Issue 3's benchmark input, as a user would paste it: a `Cluster` of `nodes` nodes, then for
/// each of `services` apps a ClusterIP Service with a selector and a Deployment of `replicas`
/// replicas whose template carries the selected label and a named container port.
///
/// This reads "10,000 Services with 10 endpoints each" as the manifests people write (Services and
/// Deployments), so the timing covers the whole model build: YAML parsing, Deployment expansion,
/// scheduling over the nodes, pod IPAM, ClusterIP allocation and the EndpointSlice controller.
/// Each node gets a /21 pod CIDR, room for the 1,000 pods it receives on average.
pub fn deployments_manifest(services: usize, replicas: usize, nodes: usize) -> String {
    let mut out = String::with_capacity(services * 700 + nodes * 80);
    cluster_object(&mut out, nodes);
    for index in 0..services {
        let _ = write!(
            out,
            "---\napiVersion: v1\nkind: Service\nmetadata: {{name: app-{index}, namespace: default}}\nspec:\n  selector: {{app: app-{index}}}\n  ports:\n  - {{name: http, port: 80, targetPort: http}}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: app-{index}, namespace: default}}\nspec:\n  replicas: {replicas}\n  selector:\n    matchLabels: {{app: app-{index}}}\n  template:\n    metadata:\n      labels: {{app: app-{index}}}\n    spec:\n      containers:\n      - name: app\n        image: registry.example/app:1.0\n        ports:\n        - {{name: http, containerPort: 8080}}\n"
        );
    }
    out
}

/// The same cluster written out in full, as `kubectl get -o yaml` would dump it: every Pod explicit
/// with its `nodeName`, `status.podIP` and Ready condition. This form is heavier to parse (one
/// document per Pod) and lighter to build (nothing to schedule or allocate for the Pods). It is
/// over the 32 MiB limit of one stream, so it comes as ten streams (files), as `lbplay check`
/// would read a directory of manifests: the first holds the `Cluster` object.
pub fn pods_manifest(services: usize, endpoints: usize, nodes: usize) -> Vec<String> {
    let streams = 10;
    let per_stream = services.div_ceil(streams);
    let mut out: Vec<String> = Vec::with_capacity(streams);
    let mut placed = 0usize;
    for index in 0..services {
        if index % per_stream == 0 {
            let mut text = String::with_capacity(per_stream * (250 + endpoints * 330) + nodes * 80);
            if out.is_empty() {
                cluster_object(&mut text, nodes);
            }
            out.push(text);
        }
        let text = out.last_mut().expect("a stream was just pushed");
        let _ = write!(
            text,
            "---\napiVersion: v1\nkind: Service\nmetadata: {{name: app-{index}, namespace: default}}\nspec:\n  selector: {{app: app-{index}}}\n  ports:\n  - {{name: http, port: 80, targetPort: 8080}}\n"
        );
        for replica in 0..endpoints {
            // Pods go round-robin over the nodes; the k-th pod of a node gets the k-th address
            // of the node's /21 (skipping the network address).
            let node = placed % nodes;
            let slot = placed / nodes + 2;
            placed += 1;
            let base = (10u32 << 24) | (128 << 16);
            let ip = std::net::Ipv4Addr::from(base + (node as u32) * 2048 + slot as u32);
            let _ = write!(
                text,
                "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: app-{index}-{replica}\n  namespace: default\n  labels: {{app: app-{index}}}\nspec:\n  nodeName: node-{node}\n  containers:\n  - name: app\n    image: registry.example/app:1.0\n    ports:\n    - {{name: http, containerPort: 8080}}\nstatus:\n  podIP: {ip}\n  conditions:\n  - {{type: Ready, status: \"True\"}}\n"
            );
        }
    }
    out
}

/// The `lbplay/v1alpha1` `Cluster` object both manifests start with.
fn cluster_object(out: &mut String, nodes: usize) {
    out.push_str(
        "apiVersion: lbplay/v1alpha1\nkind: Cluster\nmetadata:\n  name: bench\nspec:\n  serviceCIDR: 10.96.0.0/12\n  clusterCIDR: 10.128.0.0/9\n  nodes:\n",
    );
    for node in 0..nodes {
        let base = (10u32 << 24) | (128 << 16);
        let cidr = std::net::Ipv4Addr::from(base + (node as u32) * 2048);
        let ip = std::net::Ipv4Addr::from(((192u32 << 24) | (168 << 16)) + 1 + node as u32);
        let _ = writeln!(out, "  - {{name: node-{node}, ip: {ip}, podCIDR: {cidr}/21}}");
    }
}

/// Loads a manifest, panicking with the first problems if it does not load (a benchmark whose
/// input is wrong must fail, not print a fast time for an error path).
pub fn load(text: &str) -> lbplay_core::Cluster {
    load_streams(&[text])
}

/// Loads several streams, named `bench-N.yaml`, with the same checks as `load`.
pub fn load_streams(texts: &[&str]) -> lbplay_core::Cluster {
    let names: Vec<String> = (0..texts.len()).map(|n| format!("bench-{n}.yaml")).collect();
    let sources: Vec<Source<'_>> =
        texts.iter().zip(&names).map(|(text, name)| Source { name: name.as_str(), text }).collect();
    match scenario::load(&sources) {
        Ok(loaded) => loaded.cluster,
        Err(problems) => {
            let first: Vec<String> = problems.iter().take(5).map(ToString::to_string).collect();
            panic!("the benchmark manifest does not load:\n{}", first.join("\n"))
        }
    }
}

/// How a bench measures: its clock (milliseconds), the peak heap of a closure when its allocator
/// can tell (bytes above what was live before the closure ran), and where figure lines go.
pub struct Probe<'a> {
    /// `native` or `wasm`: the first word of every figure name, so xtask can pair the platforms.
    pub platform: &'a str,
    pub clock: &'a dyn Fn() -> f64,
    pub peak: &'a dyn Fn(&mut dyn FnMut()) -> Option<usize>,
    pub print: &'a dyn Fn(&str),
    /// Whether to print timings. A bench whose allocator counts bytes (which slows allocation by
    /// about 15%) prints only its memory figures, and a plain one only its timings.
    pub timings: bool,
}

impl Probe<'_> {
    fn emit(&self, name: &str, value: f64, unit: &str, target: Option<f64>) {
        if self.timings {
            (self.print)(&figure(&format!("{} {name}", self.platform), value, unit, target));
        }
    }

    fn emit_peak(&self, name: &str, work: &mut dyn FnMut()) {
        if let Some(bytes) = (self.peak)(work) {
            (self.print)(&figure(&format!("{} {name}", self.platform), bytes as f64 / 1_048_576.0, "MiB", None));
        }
    }
}

/// Issue 3's timing, natively and in wasm: parse the YAML and build the model for 10,000 Services
/// with 10 endpoints each (Services and Deployments on 100 nodes), and the peak heap it takes.
pub fn model_timings(probe: &Probe<'_>) {
    let text = deployments_manifest(SERVICES, ENDPOINTS, NODES);
    let (load_ms, cluster) = median(3, probe.clock, || load(&text));
    assert_eq!(cluster.services.len(), SERVICES, "every Service is in the model");
    assert_eq!(cluster.pods.len(), SERVICES * ENDPOINTS, "every replica became a Pod");
    let slices = cluster.endpoint_slices.len();
    drop(cluster);
    (probe.print)(&format!(
        "model: {} KiB of YAML ({SERVICES} Services + {SERVICES} Deployments x {ENDPOINTS} replicas on {NODES} nodes) -> {} Pods, {slices} EndpointSlices",
        text.len() / 1024,
        SERVICES * ENDPOINTS
    ));
    probe.emit("model parse+build (10k Services x 10, Deployments)", load_ms, "ms", None);
    probe.emit_peak("model peak heap (Deployments)", &mut || drop(load(&text)));
}

/// Issue 4's timings, natively and in wasm, on the synthetic one-node cluster of 10,000 Services
/// × 10 endpoints: build the iptables rules as data, render `iptables-save`, and walk one first
/// packet from the node to the Service that comes last in KUBE-SERVICES; then the peak heap of
/// build and render together.
pub fn iptables_timings(probe: &Probe<'_>) {
    let cluster = synthetic::cluster(SERVICES, ENDPOINTS);
    let (build_ms, ruleset) = median(5, probe.clock, || iptables::build(&cluster, "node-1").expect("build"));
    let (render_ms, lines) = median(5, probe.clock, || render::iptables_save(&ruleset));
    let text_bytes: usize = lines.iter().map(|line| line.text.len() + 1).sum();
    drop(lines);
    let to = synthetic::last_service(&cluster).expect("a service");
    let sim = Sim::new(&cluster, 1, 0).expect("sim");
    let (walk_ms, trace) = median(25, probe.clock, || {
        let mut sim = sim.clone();
        sim.connect("node/node-1", &to, Proto::Tcp).expect("walk")
    });
    let skipped: u32 = trace.steps.iter().map(|step| step.skipped).sum();
    (probe.print)(&format!(
        "iptables mode: {} rules, {} KiB of iptables-save; the walk to {to} has {} steps and skips {skipped} rules",
        ruleset.rule_count(),
        text_bytes / 1024,
        trace.steps.len()
    ));
    drop(ruleset);
    probe.emit("iptables build (10k x 10)", build_ms, "ms", Some(150.0));
    probe.emit("iptables render (10k x 10)", render_ms, "ms", Some(300.0));
    probe.emit("iptables walk to the last Service", walk_ms, "ms", Some(1.0));
    probe.emit_peak("iptables build+render peak heap", &mut || {
        let ruleset = iptables::build(&cluster, "node-1").expect("build");
        drop(render::iptables_save(&ruleset));
    });
}

/// Issue 14's experiment-mode figure, natively and in wasm: 1,000,000 gRPC calls (3 clients ×
/// 333,334) sent with `walk::send_requests` and no per-step trace, over a ClusterIP (each
/// client's connection balanced once), and over a headless Service with round_robin. The goal is
/// 1,000,000 requests a second natively, and at least half that in wasm.
pub fn grpc_timings(probe: &Probe<'_>) {
    let source = Source { name: "grpc.yaml", text: include_str!("../../scenarios/grpc.yaml") };
    let cluster = lbplay_core::scenario::load(&[source]).expect("the scenario loads").cluster;
    let from = cluster.pods.iter().find(|p| p.name.starts_with("client-")).map(|p| format!("pod/{}", p.name));
    let from = from.expect("a client pod");
    let per_client = 333_334;
    for (path, to, lb) in [
        ("clusterip", "grpc://greeter:50051/helloworld.Greeter/SayHello", lbplay_core::walk::GrpcLb::PickFirst),
        (
            "headless round_robin",
            "grpc://greeter-headless:50051/helloworld.Greeter/SayHello",
            lbplay_core::walk::GrpcLb::RoundRobin,
        ),
    ] {
        let request = lbplay_core::walk::Request {
            from: from.clone(),
            to: to.into(),
            proto: lbplay_core::net::Proto::Tcp,
            seed: 1,
            now: 0,
        };
        let options = lbplay_core::walk::HttpOptions { grpc_lb: lb, ..Default::default() };
        let load = lbplay_core::walk::Load { requests: per_client, clients: 3, connections: 1 };
        let (ms, sent) = median(3, probe.clock, || {
            lbplay_core::walk::send_requests(&cluster, &request, &options, load).expect("it sends")
        });
        let total = sent.requests.len();
        assert_eq!(total, per_client * 3);
        (probe.print)(&format!("grpc {path}: {total} calls in {ms:.1} ms, counts {:?}", sent.counts));
        // A rate has a floor, not a ceiling, so the goal is in the name rather than the `≤` column.
        probe.emit(
            &format!("grpc requests per second, goal ≥ 1000000 ({path})"),
            total as f64 / ms * 1000.0,
            "/s",
            None,
        );
    }
}
