//! Tier 4 for the Istio sidecar: `lbplay rules --pod` loaded into a real pod network namespace.
//!
//! * The table loads with `iptables-restore` and `iptables-save` gives it back line for line.
//! * In a namespace `pod` (10.244.1.2 on a veth, default route to `peer`, 10.244.1.1, which also
//!   owns the Service IP 10.96.0.10 and answers on port 80 as `direct`), a real TCP connection
//!   from uid 1000 to 10.96.0.10:80 reaches the listener on 15001, whose `SO_ORIGINAL_DST` is
//!   10.96.0.10:80; the same connection from uid 1337 (Envoy) is not redirected and reaches
//!   `peer`; a connection from `peer` to the pod's port 8080 reaches the listener on 15006.
//! * A pod whose annotations exclude 10.0.0.0/8 sends the app's connection straight out.
//! * For each connection, lbplay's walk of the same table (`mesh::iptables::walk`) agrees with
//!   the kernel on where it went, and `xtables-monitor --trace` lists the same nat rules in the
//!   same order as the walk, outbound (app uid, Envoy's uid, an excluded range) and inbound (a
//!   captured port, Istio's health port 15021).
//!
//! Listeners and clients are small python3 programs (`SO_ORIGINAL_DST` is a getsockopt that safe
//! Rust's standard library does not offer, and the workspace forbids `unsafe`); the client runs
//! under `setpriv` with the uid under test. The tests run only with `LBPLAY_KERNEL_TESTS=1`, as
//! root, with `ip`, `iptables-restore`, `python3` and `setpriv`; otherwise they print why they
//! skipped and pass.

mod common;

use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::process::{Child, Command, Stdio};

use common::harness::{Netns, without_comment_lines};
use common::{lbplay, run};
use lbplay_core::dataplane::Hook;
use lbplay_core::mesh;
use lbplay_core::packet::{Tuple, TupleProto};

const SCENARIO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/mesh/sidecars.yaml");
const POD_IP: Ipv4Addr = Ipv4Addr::new(10, 244, 1, 2);
const PEER_IP: Ipv4Addr = Ipv4Addr::new(10, 244, 1, 1);
const SERVICE: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(10, 96, 0, 10), 80);

/// Answers every connection with `NAME ORIGINAL_DST` (SOL_IP 0, SO_ORIGINAL_DST 80, a sockaddr_in);
/// where conntrack does not track the connection (the peer has no nat table), the local address.
const LISTENER: &str = r#"
import socket, sys
port, name = int(sys.argv[1]), sys.argv[2]
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", port)); s.listen(16)
print("READY", flush=True)
while True:
    c, _ = s.accept()
    try:
        raw = c.getsockopt(socket.SOL_IP, 80, 16)
        orig = "%s:%d" % (socket.inet_ntoa(raw[4:8]), int.from_bytes(raw[2:4], "big"))
    except OSError:
        orig = "%s:%d" % c.getsockname()  # no conntrack entry: nothing was rewritten
    c.sendall(("%s %s\n" % (name, orig)).encode()); c.close()
"#;

/// Connects to ADDR PORT and prints the line it is answered with, or why not.
const CLIENT: &str = r#"
import socket, sys
try:
    c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2)
    print(c.makefile().readline().strip())
except Exception as e:
    print("failed: %s" % type(e).__name__)
"#;

/// The system's python3: a uid other than root must be able to run it (a per-user shim, such as
/// pyenv's under /root, is not).
const PYTHON: &str = "/usr/bin/python3";

fn skip_reason() -> Option<String> {
    common::skip_reason(&["ip", "iptables-restore", "iptables-save", PYTHON, "setpriv"])
}

/// A listener process in a namespace, killed when dropped.
struct Listener(Child);

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn listen(netns: &Netns, port: u16, name: &str) -> Listener {
    let mut child = Command::new("ip")
        .args(["netns", "exec", &netns.name, PYTHON, "-c", LISTENER, &port.to_string(), name])
        .stdout(Stdio::piped())
        .stdin(Stdio::null())
        .spawn()
        .expect("start a listener");
    let mut line = String::new();
    let stdout = child.stdout.take().expect("stdout is piped");
    BufReader::new(stdout).read_line(&mut line).expect("the listener says it is ready");
    assert_eq!(line.trim(), "READY", "listener {name} on {port} did not start");
    Listener(child)
}

/// Connects from `netns` as `uid` (gid the same) and returns the answer line.
fn connect(netns: &Netns, uid: u32, to: SocketAddrV4) -> String {
    let uid = uid.to_string();
    let reuid = format!("--reuid={uid}");
    let regid = format!("--regid={uid}");
    let (ip, port) = (to.ip().to_string(), to.port().to_string());
    let args = ["setpriv", &reuid, &regid, "--clear-groups", PYTHON, "-c", CLIENT, &ip, &port];
    netns.exec(&args, None).unwrap_or_else(|e| panic!("{e}")).trim().to_string()
}

/// The two namespaces joined by a veth pair, with the pod's table loaded.
struct Pod {
    pod: Netns,
    peer: Netns,
}

fn pod_with(rules: &str) -> Pod {
    let pod = Netns::new("mesh-pod").unwrap_or_else(|e| panic!("{e}"));
    let peer = Netns::new("mesh-peer").unwrap_or_else(|e| panic!("{e}"));
    // Renamed to eth0 at once; unique meanwhile, for tests running in parallel.
    static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let veth = format!("lbm{}-{n}", std::process::id() % 100_000);
    let steps: Vec<Vec<String>> = vec![
        vec![
            "ip", "link", "add", &veth, "netns", &pod.name, "type", "veth", "peer", "name", "eth0", "netns", &peer.name,
        ],
        vec!["ip", "-n", &pod.name, "link", "set", &veth, "name", "eth0"],
        vec!["ip", "-n", &pod.name, "addr", "add", "10.244.1.2/24", "dev", "eth0"],
        vec!["ip", "-n", &pod.name, "link", "set", "eth0", "up"],
        vec!["ip", "-n", &pod.name, "route", "add", "default", "via", "10.244.1.1"],
        vec!["ip", "-n", &peer.name, "addr", "add", "10.244.1.1/24", "dev", "eth0"],
        vec!["ip", "-n", &peer.name, "addr", "add", "10.96.0.10/32", "dev", "lo"],
        vec!["ip", "-n", &peer.name, "link", "set", "eth0", "up"],
    ]
    .into_iter()
    .map(|step| step.into_iter().map(str::to_string).collect())
    .collect();
    for step in steps {
        let args: Vec<&str> = step[1..].iter().map(String::as_str).collect();
        run(&step[0], &args, None).unwrap_or_else(|e| panic!("{e}"));
    }
    pod.exec(&["iptables-restore"], Some(rules)).unwrap_or_else(|e| panic!("iptables-restore: {e}"));
    Pod { pod, peer }
}

fn rules_of(pod: &str) -> String {
    lbplay(&["rules", SCENARIO, "--pod", pod]).unwrap_or_else(|e| panic!("{e}"))
}

/// lbplay's walk of the same connection: the port it is redirected to, if any.
fn walk(
    pod: &str,
    hook: Hook,
    src: SocketAddrV4,
    dst: SocketAddrV4,
    owner: Option<u32>,
    iface: Option<&str>,
) -> Option<u16> {
    let loaded = lbplay_core::scenario::load(&[lbplay_core::scenario::Source {
        name: SCENARIO,
        text: &std::fs::read_to_string(SCENARIO).expect("scenario"),
    }])
    .unwrap_or_else(|e| panic!("{e:?}"));
    let ruleset = mesh::pod_rules(&loaded.cluster, &loaded.extras, pod).unwrap_or_else(|e| panic!("{e}"));
    let tuple = Tuple { src, dst, proto: TupleProto::Tcp };
    mesh::iptables::walk(&ruleset, POD_IP, hook, tuple, owner.map(|id| (id, id)), iface).redirect_to
}

#[test]
fn the_pod_table_round_trips_through_iptables() {
    if let Some(reason) = skip_reason() {
        println!("skipped: {reason}");
        return;
    }
    for pod in ["app", "client"] {
        let rules = rules_of(pod);
        let netns = Netns::new("mesh-save").unwrap_or_else(|e| panic!("{e}"));
        netns.exec(&["iptables-restore"], Some(&rules)).unwrap_or_else(|e| panic!("iptables-restore: {e}"));
        let saved =
            without_comment_lines(&netns.exec(&["iptables-save", "-t", "nat"], None).unwrap_or_else(|e| panic!("{e}")));
        assert_eq!(saved, rules, "pod {pod}: iptables-save differs from lbplay rules --pod");
    }
}

#[test]
fn the_kernel_redirects_as_the_table_says() {
    if let Some(reason) = skip_reason() {
        println!("skipped: {reason}");
        return;
    }
    let world = pod_with(&rules_of("app"));
    let _outbound = listen(&world.pod, 15001, "envoy-outbound");
    let _inbound = listen(&world.pod, 15006, "envoy-inbound");
    let _app = listen(&world.pod, 8080, "app");
    let _direct = listen(&world.peer, 80, "direct");
    let app_src = SocketAddrV4::new(POD_IP, 40000);

    // The app (uid 1000) calling the Service is redirected to Envoy's 15001.
    assert_eq!(connect(&world.pod, 1000, SERVICE), "envoy-outbound 10.96.0.10:80");
    assert_eq!(walk("app", Hook::Output, app_src, SERVICE, Some(1000), Some("eth0")), Some(15001));

    // Envoy (uid 1337) is not redirected: it reaches the peer that owns the address.
    assert_eq!(connect(&world.pod, 1337, SERVICE), "direct 10.96.0.10:80");
    assert_eq!(walk("app", Hook::Output, app_src, SERVICE, Some(1337), Some("eth0")), None);

    // From outside, the pod's port 8080 is redirected to Envoy's 15006.
    let to_pod = SocketAddrV4::new(POD_IP, 8080);
    assert_eq!(connect(&world.peer, 1000, to_pod), "envoy-inbound 10.244.1.2:8080");
    assert_eq!(walk("app", Hook::Prerouting, SocketAddrV4::new(PEER_IP, 50000), to_pod, None, None), Some(15006));

    // Istio's own ports are not captured: 15021 (health) gets no listener here, so it is refused.
    let health = SocketAddrV4::new(POD_IP, 15021);
    assert_eq!(connect(&world.peer, 1000, health), "failed: ConnectionRefusedError");
    assert_eq!(walk("app", Hook::Prerouting, SocketAddrV4::new(PEER_IP, 50000), health, None, None), None);
}

#[test]
fn an_excluded_range_goes_straight_out() {
    if let Some(reason) = skip_reason() {
        println!("skipped: {reason}");
        return;
    }
    // Pod `client` excludes 10.0.0.0/8 and captures only inbound port 8080.
    let world = pod_with(&rules_of("client"));
    let _outbound = listen(&world.pod, 15001, "envoy-outbound");
    let _inbound = listen(&world.pod, 15006, "envoy-inbound");
    let _app = listen(&world.pod, 9090, "app");
    let _direct = listen(&world.peer, 80, "direct");
    assert_eq!(connect(&world.pod, 1000, SERVICE), "direct 10.96.0.10:80");
    assert_eq!(walk("client", Hook::Output, SocketAddrV4::new(POD_IP, 40000), SERVICE, Some(1000), Some("eth0")), None);
    // Port 9090 is not in includeInboundPorts: the app answers itself.
    let other = SocketAddrV4::new(POD_IP, 9090);
    assert_eq!(connect(&world.peer, 1000, other), "app 10.244.1.2:9090");
    assert_eq!(walk("client", Hook::Prerouting, SocketAddrV4::new(PEER_IP, 50000), other, None, None), None);
}

/// The nat-table rules the kernel's trace lists in the pod's namespace for the first SYN to `to`
/// sent from `from` (the pod or its peer) as `uid` (`xtables-monitor --trace` in the pod's
/// namespace, with `-j TRACE` in raw PREROUTING and OUTPUT), each as iptables-save prints it, or
/// `CHAIN policy`.
fn kernel_nat_trace(world: &Pod, from: &Netns, uid: u32, to: SocketAddrV4) -> Vec<String> {
    use common::harness::parse_trace_line;
    use std::sync::{Arc, Mutex};
    let pod = &world.pod;
    for chain in ["PREROUTING", "OUTPUT"] {
        pod.exec(&["iptables", "-t", "raw", "-I", chain, "1", "-p", "tcp", "--syn", "-j", "TRACE"], None)
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let mut monitor = Command::new("ip")
        .args(["netns", "exec", &pod.name, "xtables-monitor", "--trace"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start xtables-monitor");
    let stdout = monitor.stdout.take().expect("stdout is piped");
    let output = Arc::new(Mutex::new(String::new()));
    let sink = Arc::clone(&output);
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let mut text = sink.lock().unwrap_or_else(|e| e.into_inner());
            text.push_str(&line);
            text.push('\n');
        }
    });
    // The monitor subscribes asynchronously: probe with SYNs to a closed port until one shows.
    let probe = SocketAddrV4::new(Ipv4Addr::LOCALHOST, 9);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !output.lock().unwrap_or_else(|e| e.into_inner()).contains("DPORT=9 ") {
        assert!(std::time::Instant::now() < deadline, "xtables-monitor printed nothing for the probe within 10 s");
        let _ = connect(pod, 0, probe);
    }
    let answer = connect(from, uid, to);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let _ = monitor.kill();
    let _ = monitor.wait();
    for chain in ["PREROUTING", "OUTPUT"] {
        let _ = pod.exec(&["iptables", "-t", "raw", "-D", chain, "-p", "tcp", "--syn", "-j", "TRACE"], None);
    }
    let raw = output.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let wanted = (format!("DST={} ", to.ip()), format!("DPORT={} ", to.port()));
    let id = raw
        .lines()
        .find_map(|line| {
            let rest = line.strip_prefix("PACKET: ")?;
            (line.contains(&wanted.0) && line.contains(&wanted.1))
                .then(|| rest.split_whitespace().nth(1).map(str::to_string))?
        })
        .unwrap_or_else(|| panic!("no traced SYN to {to} (the client said {answer:?}):\n{raw}"));
    raw.lines()
        .filter_map(parse_trace_line)
        .filter(|event| event.packet_id == id && event.table == "nat")
        .map(|event| event.rule.unwrap_or_else(|| format!("{} policy", event.chain)))
        .collect()
}

#[test]
fn the_kernel_trace_walks_the_rules_lbplay_walks() {
    if let Some(reason) = skip_reason() {
        println!("skipped: {reason}");
        return;
    }
    if Command::new("xtables-monitor").arg("--version").output().is_err() {
        println!("skipped: `xtables-monitor` is not installed");
        return;
    }
    let loaded = lbplay_core::scenario::load(&[lbplay_core::scenario::Source {
        name: SCENARIO,
        text: &std::fs::read_to_string(SCENARIO).expect("scenario"),
    }])
    .unwrap_or_else(|e| panic!("{e:?}"));
    for (pod, uid) in [("app", 1000), ("app", 1337), ("client", 1000)] {
        let world = pod_with(&rules_of(pod));
        let _outbound = listen(&world.pod, 15001, "envoy-outbound");
        let _direct = listen(&world.peer, 80, "direct");
        let kernel = kernel_nat_trace(&world, &world.pod, uid, SERVICE);
        let ruleset = mesh::pod_rules(&loaded.cluster, &loaded.extras, pod).unwrap_or_else(|e| panic!("{e}"));
        let tuple = Tuple { src: SocketAddrV4::new(POD_IP, 40000), dst: SERVICE, proto: TupleProto::Tcp };
        // OUTPUT, then POSTROUTING with the destination REDIRECT left (127.0.0.1, out by lo).
        let output = mesh::iptables::walk(&ruleset, POD_IP, Hook::Output, tuple, Some((uid, uid)), Some("eth0"));
        let (after, iface) = match output.redirect_to {
            Some(port) => (Tuple { dst: SocketAddrV4::new(Ipv4Addr::LOCALHOST, port), ..tuple }, "lo"),
            None => (tuple, "eth0"),
        };
        let postrouting =
            mesh::iptables::walk(&ruleset, POD_IP, Hook::Postrouting, after, Some((uid, uid)), Some(iface));
        let ours: Vec<String> = output.rules.into_iter().chain(postrouting.rules).collect();
        assert!(!kernel.is_empty(), "pod {pod}, uid {uid}: the kernel traced no nat rule");
        assert_eq!(ours, kernel, "pod {pod}, uid {uid}: lbplay's walk and the kernel's trace differ");
        println!("pod {pod}, uid {uid}: {} nat rules, same order:\n  {}", kernel.len(), kernel.join("\n  "));
    }
}

#[test]
fn the_kernel_trace_of_an_inbound_connection_walks_the_rules_lbplay_walks() {
    if let Some(reason) = skip_reason() {
        println!("skipped: {reason}");
        return;
    }
    if Command::new("xtables-monitor").arg("--version").output().is_err() {
        println!("skipped: `xtables-monitor` is not installed");
        return;
    }
    let loaded = lbplay_core::scenario::load(&[lbplay_core::scenario::Source {
        name: SCENARIO,
        text: &std::fs::read_to_string(SCENARIO).expect("scenario"),
    }])
    .unwrap_or_else(|e| panic!("{e:?}"));
    let world = pod_with(&rules_of("app"));
    let _inbound = listen(&world.pod, 15006, "envoy-inbound");
    for port in [8080, 15021] {
        let to = SocketAddrV4::new(POD_IP, port);
        let kernel = kernel_nat_trace(&world, &world.peer, 1000, to);
        let ruleset = mesh::pod_rules(&loaded.cluster, &loaded.extras, "app").unwrap_or_else(|e| panic!("{e}"));
        let tuple = Tuple { src: SocketAddrV4::new(PEER_IP, 50000), dst: to, proto: TupleProto::Tcp };
        // PREROUTING, then INPUT (nat's source-manip chain) with the destination REDIRECT left.
        let prerouting = mesh::iptables::walk(&ruleset, POD_IP, Hook::Prerouting, tuple, None, None);
        let after = match prerouting.redirect_to {
            Some(port) => Tuple { dst: SocketAddrV4::new(POD_IP, port), ..tuple },
            None => tuple,
        };
        let input = mesh::iptables::walk(&ruleset, POD_IP, Hook::Input, after, None, None);
        let ours: Vec<String> = prerouting.rules.into_iter().chain(input.rules).collect();
        assert!(!kernel.is_empty(), "port {port}: the kernel traced no nat rule");
        assert_eq!(ours, kernel, "port {port}: lbplay's walk and the kernel's trace differ");
        println!("inbound to {port}: {} nat rules, same order:\n  {}", kernel.len(), kernel.join("\n  "));
    }
}
