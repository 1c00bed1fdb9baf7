//! `cargo bench -p lbplay-core --bench model`: issue 3's benchmark, parsing YAML and building the
//! cluster model for 10,000 Services with 10 endpoints each, with the peak heap it takes.
//!
//! Two forms of the same cluster are timed. The first, whose figure the browser bench repeats,
//! is what a user pastes: Services and Deployments of 10 replicas, so the model build schedules,
//! allocates and writes EndpointSlices for 100,000 Pods. The second is a dump of the running
//! cluster: every Pod written out with its node and IP, one YAML document per Pod.

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
    common::model_timings(&common::Probe {
        platform: "native",
        clock: &clock,
        peak: &peak,
        print: &print,
        timings: true,
    });

    let streams = common::pods_manifest(common::SERVICES, common::ENDPOINTS, common::NODES);
    let texts: Vec<&str> = streams.iter().map(String::as_str).collect();
    let (load_ms, cluster) = common::median(3, &clock, || common::load_streams(&texts));
    assert_eq!(cluster.pods.len(), common::SERVICES * common::ENDPOINTS, "every Pod is in the model");
    drop(cluster);
    println!(
        "model: {} KiB of YAML in {} streams ({} Services and {} explicit Pods on {} nodes)",
        texts.iter().map(|text| text.len()).sum::<usize>() / 1024,
        texts.len(),
        common::SERVICES,
        common::SERVICES * common::ENDPOINTS,
        common::NODES
    );
    println!("{}", common::figure("native model parse+build (10k Services x 10, explicit Pods)", load_ms, "ms", None));
    let bytes = peak(&mut || drop(common::load_streams(&texts))).unwrap_or(0);
    println!("{}", common::figure("native model peak heap (explicit Pods)", bytes as f64 / 1_048_576.0, "MiB", None));
}
