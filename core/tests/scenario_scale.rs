//! The loader at scale: 10,000 Services with 10 endpoints each (100,000 Pods on 100 nodes).
//!
//! This is a test that it loads, not a benchmark: the elapsed time is printed (run with
//! `--nocapture`, ideally `--release`) and never asserted.

use std::fmt::Write;
use std::time::Instant;

use lbplay_core::scenario::{Source, load};

fn manifest(services: usize, endpoints: usize) -> String {
    let mut text = String::from(
        "apiVersion: lbplay/v1alpha1\nkind: Cluster\nmetadata: {name: scale}\nspec:\n  serviceCIDR: 10.96.0.0/12\n  clusterCIDR: 10.128.0.0/9\n  nodes:\n",
    );
    for n in 0..100 {
        let _ = writeln!(
            text,
            "  - {{name: node-{n}, ip: 192.168.{}.{}, podCIDR: 10.{}.{}.0/20}}",
            n / 200,
            n % 200 + 10,
            128 + n / 16,
            (n % 16) * 16
        );
    }
    for s in 0..services {
        let _ = write!(
            text,
            "---\napiVersion: v1\nkind: Service\nmetadata:\n  name: svc-{s}\nspec:\n  selector:\n    app: svc-{s}\n  ports:\n  - name: http\n    port: 80\n    targetPort: http\n"
        );
        for e in 0..endpoints {
            let _ = write!(
                text,
                "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: svc-{s}-{e}\n  labels:\n    app: svc-{s}\nspec:\n  containers:\n  - name: web\n    image: nginx\n    ports:\n    - name: http\n      containerPort: 8080\n"
            );
        }
    }
    text
}

/// Loads `services` Services with 10 endpoints each and prints the time taken.
fn load_at_scale(services: usize) {
    let text = manifest(services, 10);
    let started = Instant::now();
    let documents = lbplay_core::yaml::parse_stream(&text).map(|docs| docs.len()).unwrap_or_default();
    let parsed = started.elapsed();
    let started = Instant::now();
    let loaded = load(&[Source { name: "scale.yaml", text: &text }]).unwrap_or_else(|problems| {
        panic!("{}", problems.iter().take(5).map(ToString::to_string).collect::<Vec<_>>().join("\n"))
    });
    let elapsed = started.elapsed();
    assert_eq!(loaded.cluster.services.len(), services);
    assert_eq!(loaded.cluster.pods.len(), services * 10);
    assert_eq!(loaded.cluster.endpoint_slices.len(), services);
    assert!(loaded.cluster.endpoint_slices.iter().all(|slice| slice.endpoints.len() == 10));
    println!(
        "parsed {} bytes ({documents} documents) in {parsed:?}; loaded {services} Services and {} Pods in {elapsed:?}",
        text.len(),
        services * 10
    );
}

#[test]
fn a_thousand_services_with_ten_endpoints_each_load() {
    load_at_scale(1_000);
}

/// About 20 s unoptimised, so it runs on request:
/// `cargo test -p lbplay-core --release --test scenario_scale -- --ignored --nocapture`.
#[test]
#[ignore]
fn ten_thousand_services_with_ten_endpoints_each_load() {
    load_at_scale(10_000);
}
