//! `cargo bench -p lbplay-core --bench http`: issue 11's figure, one HTTP request traced against
//! one TCP connection.
//!
//! Both walk the ClusterIP lesson from `pod/client` to the same Service: the TCP trace opens the
//! connection (SYN there, SYN-ACK back); the HTTP trace (the `l4-http` lesson) also resolves the
//! name through cluster DNS and carries the request and the response, so it walks about twice the
//! packets. Timed in process and end to end, as a user runs it: the release `lbplay trace
//! --format json` on the lesson, process start and output included. Every figure is printed;
//! nothing about time is asserted.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use common::{figure, median};
use lbplay_core::net::Proto;
use lbplay_core::walk::{self, Request};

/// The HTTP trace may take at most this many times the TCP trace (issue 11).
const RATIO_TARGET: f64 = 2.0;

fn main() {
    let epoch = Instant::now();
    let clock = move || epoch.elapsed().as_secs_f64() * 1000.0;
    let lesson = lbplay_core::lessons::get("l4-http").expect("the HTTP lesson");
    let source = lbplay_core::scenario::Source { name: lesson.id, text: lesson.yaml };
    let cluster = lbplay_core::scenario::load(&[source]).expect("the lesson loads").cluster;
    let tcp = Request { from: "pod/client".into(), to: "10.96.100.10:80".into(), proto: Proto::Tcp, seed: 1, now: 0 };
    let http = Request { to: lesson.to.into(), ..tcp.clone() };
    let (tcp_ms, tcp_trace) = median(201, &clock, || walk::trace(&cluster, &tcp).expect("walks"));
    let (http_ms, http_trace) = median(201, &clock, || walk::trace(&cluster, &http).expect("walks"));
    println!("TCP trace: {} steps; HTTP trace: {} steps", tcp_trace.steps.len(), http_trace.steps.len());
    println!("{}", figure("native TCP connection trace (ClusterIP lesson)", tcp_ms, "ms", None));
    println!("{}", figure("native HTTP request trace (l4-http lesson)", http_ms, "ms", None));
    println!("{}", figure("native HTTP trace / TCP trace", http_ms / tcp_ms, "x", Some(RATIO_TARGET)));
    end_to_end(&clock);
}

/// The release CLI, built if it is not there yet.
fn cli() -> Option<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root.join("target"));
    let binary = target.join("release").join("lbplay");
    let built = Command::new(env!("CARGO"))
        .args(["build", "--release", "-q", "-p", "lbplay-cli"])
        .current_dir(&root)
        .status()
        .is_ok_and(|status| status.success());
    (built && binary.is_file()).then_some(binary)
}

fn end_to_end(clock: &dyn Fn() -> f64) {
    let Some(lbplay) = cli() else {
        println!("CLI end to end: skipped: the release lbplay binary could not be built");
        return;
    };
    let run = |to: &str, lesson: &str| {
        let output = Command::new(&lbplay)
            .args(["trace", "--from", "pod/client", "--to", to, "--format", "json", lesson])
            .output()
            .expect("run lbplay");
        assert!(output.status.success(), "lbplay trace {to}: {}", String::from_utf8_lossy(&output.stderr));
        output.stdout.len()
    };
    let (tcp_ms, tcp_bytes) = median(21, clock, || run("10.96.100.10:80", "clusterip-iptables"));
    let (http_ms, http_bytes) =
        median(21, clock, || run("http://web.default.svc.cluster.local/hello", "clusterip-iptables"));
    println!("CLI JSON: {tcp_bytes} bytes for the TCP trace, {http_bytes} for the HTTP trace");
    println!("{}", figure("CLI lbplay trace TCP (end to end)", tcp_ms, "ms", None));
    println!("{}", figure("CLI lbplay trace HTTP (end to end)", http_ms, "ms", None));
    println!("{}", figure("CLI HTTP trace / TCP trace (end to end)", http_ms / tcp_ms, "x", Some(RATIO_TARGET)));
}
