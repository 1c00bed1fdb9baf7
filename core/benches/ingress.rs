//! `cargo bench -p lbplay-core --bench ingress`: issue 12's benchmark. 1,000 Ingresses of 10
//! paths each (one host each, half Prefix, a quarter Exact, a quarter ImplementationSpecific):
//! building and rendering their nginx configuration (goal ≤ 50 ms), and routing one request
//! through it (goal ≤ 50 µs).

mod common;

use std::time::Instant;

use lbplay_core::ingress::{self, Request, render};
use lbplay_core::model::{Ingress, IngressBackend, IngressPath, IngressPort, IngressRule, NginxAnnotations, PathType};

fn ingresses() -> Vec<Ingress> {
    (0..1000)
        .map(|i| Ingress {
            namespace: "default".to_string(),
            name: format!("ing-{i}"),
            class_name: Some("nginx".to_string()),
            class_annotation: None,
            default_backend: None,
            rules: vec![IngressRule {
                host: Some(format!("h{i}.example.com")),
                paths: (0..10)
                    .map(|p| IngressPath {
                        path: format!("/app{p}/v{}", p % 3),
                        path_type: [
                            PathType::Prefix,
                            PathType::Exact,
                            PathType::Prefix,
                            PathType::ImplementationSpecific,
                        ][p % 4],
                        backend: IngressBackend { service: format!("svc-{i}-{p}"), port: IngressPort::Number(80) },
                    })
                    .collect(),
            }],
            tls: Vec::new(),
            created: None,
            annotations: NginxAnnotations::default(),
        })
        .collect()
}

fn main() {
    let epoch = Instant::now();
    let clock = move || epoch.elapsed().as_secs_f64() * 1000.0;
    let all = ingresses();
    let refs: Vec<&Ingress> = all.iter().collect();
    let (build_ms, config) = common::median(5, &clock, || ingress::build(&refs));
    let (render_ms, text) = common::median(5, &clock, || render::render(&config));
    assert!(text.contains("h999.example.com"));
    println!("{}", common::figure("ingress: build 1,000 Ingresses x 10 paths", build_ms, "ms", None));
    println!(
        "{}",
        common::figure("ingress: build + render their nginx configuration", build_ms + render_ms, "ms", Some(50.0))
    );
    let request = Request { scheme: "http", host: Some("h777.example.com"), path: "/app5/v2/x" };
    let rounds = 2000;
    let (ms, decision) = common::median(5, &clock, || {
        let mut last = None;
        for _ in 0..rounds {
            last = Some(ingress::route(&config, &request));
        }
        last
    });
    assert!(decision.and_then(|d| d.directive).is_some());
    println!(
        "{}",
        common::figure(
            "ingress: match one request (1,000 Ingresses x 10 paths)",
            ms * 1000.0 / f64::from(rounds),
            "µs",
            Some(50.0)
        )
    );
}
