//! `cargo bench -p lbplay-core --bench dataplane`: how fast lbplay builds, renders and walks
//! kube-proxy's iptables state for a large cluster (issue 4's targets: build ≤ 150 ms,
//! render ≤ 300 ms, walk ≤ 1 ms for 10,000 Services × 10 endpoints). It prints figures; it
//! asserts nothing (targets are read by people, not by a timed test).

use std::time::{Duration, Instant};

use lbplay_core::kubeproxy::iptables;
use lbplay_core::net::Proto;
use lbplay_core::netfilter::render;
use lbplay_core::synthetic;
use lbplay_core::walk::Sim;

/// The median of `runs` timings of `work`, and its last result.
fn median<T>(runs: usize, mut work: impl FnMut() -> T) -> (Duration, T) {
    let mut times = Vec::with_capacity(runs);
    let mut last = None;
    for _ in 0..runs {
        let start = Instant::now();
        let out = work();
        times.push(start.elapsed());
        last = Some(out);
    }
    times.sort();
    (times[times.len() / 2], last.expect("at least one run"))
}

fn ms(duration: Duration) -> String {
    format!("{:>9.3} ms", duration.as_secs_f64() * 1000.0)
}

fn main() {
    for (services, endpoints) in [(1_000usize, 10usize), (10_000, 10)] {
        let cluster = synthetic::cluster(services, endpoints);
        let runs = if services >= 10_000 { 7 } else { 21 };
        let (build, ruleset) = median(runs, || iptables::build(&cluster, "node-1").expect("build"));
        let (render_time, lines) = median(runs, || render::iptables_save(&ruleset));
        let text_bytes: usize = lines.iter().map(|line| line.text.len() + 1).sum();
        let to = synthetic::last_service(&cluster).expect("a service");
        let sim = Sim::new(&cluster, 1, 0).expect("sim");
        let (walk, trace) = median(runs * 5, || {
            let mut sim = sim.clone();
            sim.connect("node/node-1", &to, Proto::Tcp).expect("walk")
        });
        let skipped: u32 = trace.steps.iter().map(|step| step.skipped).sum();
        println!(
            "iptables mode, {services} Services x {endpoints} endpoints ({} rules, {} KiB of iptables-save):",
            ruleset.rule_count(),
            text_bytes / 1024
        );
        println!("  build rules as data   {}   (target 150 ms at 10,000)", ms(build));
        println!("  render iptables-save  {}   (target 300 ms at 10,000)", ms(render_time));
        println!(
            "  walk one connection   {}   (target 1 ms at 10,000; {} steps, {skipped} rules evaluated without matching)",
            ms(walk),
            trace.steps.len()
        );
    }
}
