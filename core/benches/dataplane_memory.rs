//! `cargo bench -p lbplay-core --bench dataplane_memory`: the peak heap of building and rendering
//! kube-proxy's iptables state for 10,000 Services × 10 endpoints, measured with a counting
//! allocator. It prints no timings: counting slows allocation, and `dataplane` times the same
//! work with the plain allocator.

mod common;

use std::time::Instant;

use peakmem_alloc::{PeakMemAlloc, PeakMemAllocTrait};

/// Counts the heap bytes in use, so the bench can print the peak of one piece of work.
#[global_allocator]
static ALLOCATOR: PeakMemAlloc<std::alloc::System> = PeakMemAlloc::new(std::alloc::System);

fn main() {
    let epoch = Instant::now();
    let clock = move || epoch.elapsed().as_secs_f64() * 1000.0;
    let peak = |work: &mut dyn FnMut()| {
        ALLOCATOR.reset_peak_memory();
        work();
        Some(ALLOCATOR.get_peak_memory())
    };
    let print = |line: &str| println!("{line}");
    common::iptables_timings(&common::Probe {
        platform: "native",
        clock: &clock,
        peak: &peak,
        print: &print,
        timings: false,
    });
}
