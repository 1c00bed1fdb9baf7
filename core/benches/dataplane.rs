//! `cargo bench -p lbplay-core --bench dataplane`: how fast lbplay builds, renders and walks
//! kube-proxy's iptables state for a large cluster (issue 4's targets: build ≤ 150 ms,
//! render ≤ 300 ms, walk ≤ 1 ms for 10,000 Services × 10 endpoints), and (in `dataplane_memory`) the
//! peak heap of building and rendering. It prints figures; it asserts nothing about time (targets are read by people,
//! not by a timed test). The same work runs in the browser from `web/tests/bench_wasm.rs`.

mod common;

use std::time::Instant;

fn main() {
    let epoch = Instant::now();
    let clock = move || epoch.elapsed().as_secs_f64() * 1000.0;
    // The peak heap is measured by `dataplane_memory`, whose counting allocator would slow these
    // timings.
    let peak = |work: &mut dyn FnMut()| {
        work();
        None
    };
    let print = |line: &str| println!("{line}");
    common::iptables_timings(&common::Probe {
        platform: "native",
        clock: &clock,
        peak: &peak,
        print: &print,
        timings: true,
    });
}
