//! What each input is driven through. A scenario that loads has its first node's rules printed,
//! its Services traced, sent to three times, captured as pcap and fetched by name over HTTP, as
//! `lbplay rules`, `trace`, `send`, `pcap` and `trace --to http://…` would; its Ingresses are
//! rendered as ingress-nginx's configuration. URLs are parsed and fetched in an Ingress lesson;
//! HTTP bytes go through the HTTP/1.1 parser; packet bytes through the packet decoder and pcap.
//! Errors are the expected answer to bad input; only a panic, a slow input or a huge allocation
//! is a finding, and the runner (src/main.rs) watches for those.

use std::path::Path;
use std::sync::OnceLock;

use lbplay_core::http::url::Target;
use lbplay_core::http::{Header, h1};
use lbplay_core::model::Cluster;
use lbplay_core::packet::Packet;
use lbplay_core::scenario::{Source, load};
use lbplay_core::walk::{self, HttpOptions, Request};
use lbplay_core::{StepKind, ingress, kubeproxy, lessons, pcap};

use crate::mutate::Seeds;
use crate::{Input, Kind};

/// The seeds: every scenario in `core/scenarios/` and every built-in lesson, the URLs and HTTP
/// messages of `fuzz/corpus/`, and the packets on the wire of each lesson's default walk.
pub fn seeds(repo: &Path) -> Result<Seeds, String> {
    let mut seeds = Seeds::default();
    let mut files = Vec::new();
    for dir in [repo.join("core/scenarios"), repo.join("fuzz/corpus/scenarios")] {
        let entries = std::fs::read_dir(&dir).map_err(|err| format!("{}: {err}", dir.display()))?;
        for entry in entries.flatten() {
            files.push(entry.path());
        }
    }
    files.sort();
    for path in files {
        if path.extension().is_some_and(|ext| ext == "yaml") {
            seeds.scenarios.push(std::fs::read_to_string(&path).map_err(|err| format!("{}: {err}", path.display()))?);
        }
    }
    for lesson in lessons::all() {
        seeds.scenarios.push(lesson.yaml.to_string());
        let Ok(loaded) = load(&[Source { name: lesson.id, text: lesson.yaml }]) else { continue };
        let request = Request {
            from: lesson.from.into(),
            to: lesson.to.into(),
            proto: lbplay_core::net::Proto::Tcp,
            seed: lesson.seed,
            now: 0,
        };
        if let Ok(trace) = walk::trace(&loaded.cluster, &request) {
            seeds
                .packets
                .extend(trace.steps.iter().filter(|s| s.kind == StepKind::Wire).map(|s| s.after.bytes().to_vec()));
        }
    }
    seeds.packets.dedup();
    let urls = repo.join("fuzz/corpus/urls.txt");
    let text = std::fs::read_to_string(&urls).map_err(|err| format!("{}: {err}", urls.display()))?;
    seeds.urls = text.lines().filter(|line| !line.is_empty()).map(str::to_string).collect();
    let http = repo.join("fuzz/corpus/http");
    let mut entries: Vec<_> =
        std::fs::read_dir(&http).map_err(|err| format!("{}: {err}", http.display()))?.flatten().collect();
    entries.sort_by_key(|entry| entry.path());
    for entry in entries {
        // The files are written with LF line ends; HTTP's are CRLF.
        let text = std::fs::read_to_string(entry.path()).map_err(|err| format!("{}: {err}", entry.path().display()))?;
        seeds.http.push(text.replace('\n', "\r\n").into_bytes());
    }
    Ok(seeds)
}

/// How deep an input got: rejected by the first decoder, decoded, or walked (a trace delivered).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reached {
    Rejected,
    Decoded,
    Walked,
}

/// Drives `input` through its targets.
pub fn run(input: &Input) -> Reached {
    match input.kind {
        Kind::Scenario => scenario(&String::from_utf8_lossy(&input.bytes)),
        Kind::Url => url(&String::from_utf8_lossy(&input.bytes)),
        Kind::Http => http(&input.bytes),
        Kind::Packet => packet(&input.bytes),
    }
}

fn scenario(text: &str) -> Reached {
    let Ok(loaded) = load(&[Source { name: "fuzz.yaml", text }]) else { return Reached::Rejected };
    let mut reached = Reached::Decoded;
    let cluster = &loaded.cluster;
    if let Some(node) = cluster.nodes.first() {
        let _ = kubeproxy::rules_text(cluster, &node.name, cluster.kube_proxy.mode);
    }
    if !loaded.extras.ingresses.is_empty() {
        let _ = ingress::render::render(&ingress::config_for(&loaded.extras));
    }
    let from = match (cluster.pods.first(), cluster.clients.first(), cluster.nodes.first()) {
        (Some(pod), _, _) => format!("pod/{}", pod.name),
        (None, Some(client), _) => format!("client/{}", client.name),
        (None, None, Some(node)) => format!("node/{}", node.name),
        _ => return reached,
    };
    for service in cluster.services.iter().take(3) {
        let (Some(ip), Some(port)) = (service.cluster_ip, service.ports.first()) else { continue };
        let request =
            Request { from: from.clone(), to: format!("{ip}:{}", port.port), proto: port.protocol, seed: 1, now: 0 };
        if let Ok(trace) = walk::trace(cluster, &request) {
            if trace.outcome.delivered_to.is_some() {
                reached = Reached::Walked;
            }
            let _ = pcap::from_trace(&trace, 0);
            for step in trace.steps.iter().filter(|s| s.kind == StepKind::Wire) {
                let _ = step.after.fields();
            }
        }
        let _ = walk::send(cluster, &request, 3, false);
        let url = format!("http://{}.{}:{}/", service.name, service.namespace, port.port);
        let _ = walk::fetch(cluster, &Request { to: url, ..request }, &HttpOptions::default());
    }
    reached
}

/// The Ingress lesson URLs are fetched in, loaded once.
fn ingress_lesson() -> Option<&'static (Cluster, &'static str)> {
    static LESSON: OnceLock<Option<(Cluster, &'static str)>> = OnceLock::new();
    LESSON
        .get_or_init(|| {
            let lesson = lessons::all().iter().find(|lesson| lesson.id.starts_with("ingress"))?;
            let loaded = load(&[Source { name: lesson.id, text: lesson.yaml }]).ok()?;
            Some((loaded.cluster, lesson.from))
        })
        .as_ref()
}

fn url(text: &str) -> Reached {
    let _ = Target::is_url(text);
    if Target::parse(text).is_err() {
        return Reached::Rejected;
    }
    let Some((cluster, from)) = ingress_lesson() else { return Reached::Decoded };
    let request =
        Request { from: from.to_string(), to: text.to_string(), proto: lbplay_core::net::Proto::Tcp, seed: 1, now: 0 };
    match walk::fetch(cluster, &request, &HttpOptions::default()) {
        Ok(trace) if trace.outcome.delivered_to.is_some() => Reached::Walked,
        _ => Reached::Decoded,
    }
}

fn http(bytes: &[u8]) -> Reached {
    let request = h1::parse_request(bytes);
    let response = h1::parse_response(bytes);
    let _ = h1::fields(bytes);
    if let Some(line) = String::from_utf8_lossy(bytes).lines().nth(1) {
        let _ = Header::parse_arg(line);
    }
    if request.is_ok() || response.is_ok() { Reached::Decoded } else { Reached::Rejected }
}

fn packet(bytes: &[u8]) -> Reached {
    let _ = pcap::write(&[(0, bytes)], 0);
    let Ok(mut packet) = Packet::from_bytes(bytes.to_vec()) else { return Reached::Rejected };
    let _ = packet.fields();
    let _ = packet.checksums_valid();
    let _ = packet.tcp_flags();
    let _ = packet.payload();
    let _ = packet.payload_range();
    let _ = Packet::icmp_port_unreachable(std::net::Ipv4Addr::new(10, 0, 0, 1), &packet, 7);
    if let Ok(tuple) = packet.tuple() {
        let _ = packet.set_src(tuple.dst);
        let _ = packet.set_dst(tuple.src);
    }
    let _ = packet.decrement_ttl();
    let _ = packet.fields();
    Reached::Decoded
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Rng;

    fn repo() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
    }

    /// Runs `input` as `kind` and checks how deep it got.
    fn check(kind: Kind, input: &[u8], expect: Reached) {
        assert_eq!(run(&Input { kind, bytes: input.to_vec() }), expect, "{}", String::from_utf8_lossy(input));
    }

    #[test]
    fn the_seeds_reach_the_walk() {
        let seeds = seeds(&repo()).expect("the corpus reads");
        // Every seed loads; all but the lessons about a missing backend (no endpoints) reach one.
        for text in &seeds.scenarios {
            let expect = if text.contains("matches no pod") { Reached::Decoded } else { Reached::Walked };
            check(Kind::Scenario, text.as_bytes(), expect);
        }
        check(Kind::Url, seeds.urls[0].as_bytes(), Reached::Walked);
        for bytes in &seeds.http {
            check(Kind::Http, bytes, Reached::Decoded);
        }
        assert!(seeds.packets.len() > 10, "{}", seeds.packets.len());
        for bytes in &seeds.packets {
            check(Kind::Packet, bytes, Reached::Decoded);
        }
    }

    #[test]
    fn bad_inputs_are_rejected_without_a_panic() {
        check(Kind::Scenario, b"kind: [", Reached::Rejected);
        check(Kind::Url, b"http://[", Reached::Rejected);
        check(Kind::Http, b"GET\r\n", Reached::Rejected);
        check(Kind::Packet, &[0x45, 0, 0], Reached::Rejected);
    }

    /// Every finding the fuzzer kept, named `KIND-….txt` in fuzz/regressions/, runs without a panic.
    #[test]
    fn the_regressions_run() {
        let dir = repo().join("fuzz/regressions");
        let mut ran = 0;
        for entry in std::fs::read_dir(&dir).expect("the directory exists").flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(kind) = name.split('-').next().and_then(Kind::parse) else { continue };
            let bytes = std::fs::read(entry.path()).expect("it reads");
            let start = std::time::Instant::now();
            run(&Input { kind, bytes });
            assert!(start.elapsed() < std::time::Duration::from_secs(5), "{name}");
            ran += 1;
        }
        println!("{ran} regressions ran");
    }

    #[test]
    fn a_short_pass_finds_nothing() {
        let seeds = seeds(&repo()).expect("the corpus reads");
        let mut rng = Rng::new(1);
        for _ in 0..200 {
            run(&seeds.mutated(&mut rng));
        }
    }
}
