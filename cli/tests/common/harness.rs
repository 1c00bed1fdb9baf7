//! Network namespaces, veth pairs, iptables and the kernel's netfilter trace: the harness the
//! tier-4 trace tests share (`kernel.rs` for iptables, `kernel_nft.rs` for nftables).
//!
//! A test file that uses it must also have a `#[test] fn helper_process()` calling
//! [`run_helper`]: the harness runs its listeners and clients as that test binary, inside the
//! namespaces.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::time::{Duration, Instant};

const SKIP_UNLESS_ENABLED: &str =
    "skipped: kernel differential tests run in tier 4 of `cargo xtask test` (set LBPLAY_KERNEL_TESTS=1 as root)";

/// Whether the kernel tests can run here; prints why not when they cannot.
pub(crate) fn kernel_available() -> bool {
    static REASON: OnceLock<Option<String>> = OnceLock::new();
    let reason = REASON.get_or_init(|| {
        if std::env::var("LBPLAY_KERNEL_TESTS").as_deref() != Ok("1") {
            return Some(SKIP_UNLESS_ENABLED.to_string());
        }
        let uid = Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
        if uid.as_deref().ok() != Some("0") {
            return Some("skipped: not root; network namespaces need root (run `sudo -E cargo xtask test`)".into());
        }
        for tool in ["iptables-restore", "iptables-save", "xtables-monitor"] {
            if Command::new(tool).arg("--version").output().is_err() {
                return Some(format!("skipped: `{tool}` is missing (apt-get install -y iptables)"));
            }
        }
        match Netns::new("probe") {
            Ok(_) => None,
            Err(e) => Some(format!("skipped: no network namespaces here: {e}")),
        }
    });
    match reason {
        Some(reason) => {
            println!("{reason}");
            false
        }
        None => true,
    }
}

/// A scratch directory unique to this process.
pub(crate) fn scratch_dir(label: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lbplay-kernel-{}-{label}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    dir
}

/// Runs a command to completion; `Err` carries its standard error.
fn run(program: &str, args: &[&str], stdin: Option<&str>) -> Result<String, String> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("could not run `{program}`: {e}"))?;
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(text.as_bytes()).map_err(|e| format!("writing to `{program}`: {e}"))?;
    }
    let output = child.wait_with_output().map_err(|e| format!("waiting for `{program}`: {e}"))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(format!(
            "`{program} {}` failed ({}): {}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// A network namespace with a unique name, deleted when dropped (also when a test panics).
pub(crate) struct Netns {
    pub(crate) name: String,
}

impl Netns {
    pub(crate) fn new(label: &str) -> Result<Netns, String> {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("lbplay-{}-{n}-{label}", std::process::id());
        run("ip", &["netns", "add", &name], None)?;
        let netns = Netns { name };
        netns.exec(&["ip", "link", "set", "lo", "up"], None)?;
        Ok(netns)
    }

    /// Runs `args` inside the namespace.
    pub(crate) fn exec(&self, args: &[&str], stdin: Option<&str>) -> Result<String, String> {
        let mut all = vec!["netns", "exec", &self.name];
        all.extend_from_slice(args);
        run("ip", &all, stdin)
    }

    /// A `Command` that runs `args` inside the namespace.
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.name]).args(args);
        command
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "delete", &self.name]).stderr(Stdio::null()).status();
    }
}

/// `iptables-restore` of `rules` into a fresh namespace, then `iptables-save` of it.
pub(crate) fn restore_and_save(rules: &str) -> Result<String, String> {
    let netns = Netns::new("save")?;
    netns.exec(&["iptables-restore"], Some(rules)).map_err(|e| format!("iptables-restore rejected the rules: {e}"))?;
    netns.exec(&["iptables-save"], None)
}

/// The text without iptables-save's `# Generated by` / `# Completed on` lines.
pub(crate) fn without_comment_lines(text: &str) -> String {
    text.lines().filter(|line| !line.starts_with('#')).map(|line| format!("{line}\n")).collect()
}

/// A line diff (longest common subsequence): ` ` common, `-` only in `a`, `+` only in `b`;
/// common runs longer than six lines are shortened to their ends.
pub(crate) fn line_diff(a: &str, b: &str) -> String {
    let a: Vec<&str> = a.lines().collect();
    let b: Vec<&str> = b.lines().collect();
    let mut lcs = vec![vec![0u32; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] { lcs[i + 1][j + 1] + 1 } else { lcs[i + 1][j].max(lcs[i][j + 1]) };
        }
    }
    let mut lines: Vec<(char, &str)> = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            lines.push((' ', a[i]));
            i += 1;
            j += 1;
        } else if j < b.len() && (i == a.len() || lcs[i][j + 1] > lcs[i + 1][j]) {
            lines.push(('+', b[j]));
            j += 1;
        } else {
            lines.push(('-', a[i]));
            i += 1;
        }
    }
    let mut out = String::new();
    let mut k = 0;
    while k < lines.len() {
        let run_end = (k..lines.len()).find(|&x| lines[x].0 != ' ').unwrap_or(lines.len());
        if run_end - k > 6 {
            let keep_head = if k == 0 { 0 } else { 2 };
            let keep_tail = if run_end == lines.len() { 0 } else { 2 };
            for line in &lines[k..k + keep_head] {
                out.push_str(&format!("  {}\n", line.1));
            }
            out.push_str(&format!("@@ {} unchanged lines @@\n", run_end - k - keep_head - keep_tail));
            for line in &lines[run_end - keep_tail..run_end] {
                out.push_str(&format!("  {}\n", line.1));
            }
            k = run_end;
        } else {
            out.push_str(&format!("{} {}\n", lines[k].0, lines[k].1));
            k += 1;
        }
    }
    out
}

// -----------------------------------------------------------------------------------------
// The trace harness

/// One line of `xtables-monitor --trace`: a rule that matched, or a built-in chain's policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TraceEvent {
    /// The kernel's id of the traced packet (hex, as printed).
    pub(crate) packet_id: String,
    pub(crate) table: String,
    pub(crate) chain: String,
    /// The rule's nftables handle; `None` for a policy.
    pub(crate) handle: Option<u64>,
    /// The rule as iptables-save prints it (`-A CHAIN …`); `None` for a chain's policy.
    pub(crate) rule: Option<String>,
    /// `CONTINUE`, `JUMP:X`, `GOTO:X`, `RETURN`, `ACCEPT` (also for DNAT, SNAT, MASQUERADE),
    /// `DROP` (also for REJECT); for a policy the policy.
    pub(crate) verdict: String,
}

impl TraceEvent {
    /// `table chain verdict | rule` (or `| policy`).
    pub(crate) fn summary(&self) -> String {
        format!("{} {} {} | {}", self.table, self.chain, self.verdict, self.rule.as_deref().unwrap_or("policy"))
    }
}

/// Parses one ` TRACE: 2 ID table:chain:rule:HANDLE:VERDICT  -4 -t table -A …` or
/// ` TRACE: 2 ID table:chain:policy:VERDICT ` line (iptables 1.8.9's `xtables-monitor`).
pub(crate) fn parse_trace_line(line: &str) -> Option<TraceEvent> {
    let rest = line.trim_start().strip_prefix("TRACE: ")?;
    let mut fields = rest.splitn(3, ' ');
    let _family = fields.next()?;
    let packet_id = fields.next()?.to_string();
    let body = fields.next()?;
    // The rule follows two spaces and `-4 -t TABLE `; the head has no spaces.
    let (head, rule_part) = match body.split_once("  ") {
        Some((head, rule)) => (head, Some(rule)),
        None => (body.trim_end(), None),
    };
    let mut parts = head.splitn(4, ':');
    let table = parts.next()?.to_string();
    let chain = parts.next()?.to_string();
    let kind = parts.next()?;
    let tail = parts.next()?;
    let (handle, verdict) = match kind {
        "rule" => {
            let (handle, verdict) = tail.split_once(':')?;
            (Some(u64::from_str_radix(handle.trim_start_matches("0x"), 16).ok()?), verdict)
        }
        "policy" => (None, tail),
        _ => return None,
    };
    // xtables-monitor 1.8.9 has no name for NFT_RETURN (-5) and prints it in hex.
    let verdict = if verdict == "0xfffffffb" { "RETURN".to_string() } else { verdict.to_string() };
    let rule = match (kind, rule_part) {
        ("rule", Some(text)) => {
            let text = text.trim_end();
            let prefix = format!("-4 -t {table} ");
            Some(text.strip_prefix(&prefix).unwrap_or(text).to_string())
        }
        _ => None,
    };
    Some(TraceEvent { packet_id, table, chain, handle, rule, verdict })
}

/// How the traced connection ended, as the client saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The handshake completed; `served_by` is the name of the host whose listener answered.
    Connected { served_by: String },
    /// Connection refused (a TCP RST or an ICMP port-unreachable, e.g. from REJECT).
    Refused,
    /// No answer before the timeout (e.g. DROP).
    TimedOut,
    /// Any other error the client's `connect` reported (e.g. no route).
    Failed(String),
}

/// The kernel's trace of a connection's first packet (the SYN) on the node.
#[derive(Debug)]
pub(crate) struct KernelTrace {
    pub(crate) outcome: Outcome,
    /// Every TRACE line of the SYN, in order, in all tables (raw and mangle included).
    pub(crate) events: Vec<TraceEvent>,
    /// The SYN's `PACKET:` lines, one per hook it was traced in (addresses as at that hook).
    pub(crate) packets: Vec<String>,
    /// The whole monitor output, for failure messages.
    pub(crate) raw: String,
}

/// A background process (a listener or the monitor), killed when dropped.
struct Background(Child);

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Host {
    name: String,
    // Declared before `netns`: the listener goes before its namespace is deleted.
    listener: Option<Background>,
    netns: Netns,
}

/// A Kubernetes node as a network namespace, with pods and clients as namespaces of their own.
///
/// Every host (pod or client) is joined to the node by a veth pair and routed as Calico does
/// it: the host has `IP/32` on its `eth0` and a default route via `169.254.1.1`, which the
/// node answers by proxy ARP; the node has a `/32` route per host. So every packet between
/// hosts crosses the node's netfilter hooks, as kube-proxy's rules expect. The node itself has
/// its node IP on an `eth0` (a veth whose peer stays unused) and a default route there, so that
/// a host-network process can route to a Service VIP before DNAT.
pub(crate) struct Topology {
    hosts: Vec<Host>,
    node: Netns,
}

impl Topology {
    pub(crate) fn new(node_ip: Ipv4Addr) -> Result<Topology, String> {
        let node = Netns::new("node")?;
        node.exec(&["sysctl", "-qw", "net.ipv4.ip_forward=1"], None)?;
        node.exec(&["ip", "link", "add", "eth0", "type", "veth", "peer", "name", "uplink"], None)?;
        node.exec(&["ip", "addr", "add", &format!("{node_ip}/24"), "dev", "eth0"], None)?;
        node.exec(&["ip", "link", "set", "eth0", "up"], None)?;
        node.exec(&["ip", "link", "set", "uplink", "up"], None)?;
        node.exec(&["ip", "route", "add", "default", "dev", "eth0"], None)?;
        Ok(Topology { hosts: Vec::new(), node })
    }

    /// The node's namespace (for extra set-up a test needs).
    #[allow(dead_code, reason = "for issue 4's walks, which add routes and sysctls of their own")]
    pub(crate) fn node(&self) -> &Netns {
        &self.node
    }

    /// Loads an iptables-save text into the node with `iptables-restore`.
    pub(crate) fn load_rules(&self, rules: &str) -> Result<(), String> {
        self.node.exec(&["iptables-restore"], Some(rules)).map(drop)
    }

    /// Adds a pod or client with address `ip`, joined to the node by a veth pair.
    pub(crate) fn add_host(&mut self, name: &str, ip: Ipv4Addr) -> Result<(), String> {
        let netns = Netns::new(&name.chars().filter(char::is_ascii_alphanumeric).take(20).collect::<String>())?;
        let veth = format!("veth{}", self.hosts.len());
        let node = &self.node;
        node.exec(&["ip", "link", "add", &veth, "type", "veth", "peer", "name", "eth0", "netns", &netns.name], None)?;
        node.exec(&["ip", "link", "set", &veth, "up"], None)?;
        node.exec(&["sysctl", "-qw", &format!("net.ipv4.conf.{veth}.proxy_arp=1")], None)?;
        node.exec(&["ip", "route", "add", &format!("{ip}/32"), "dev", &veth], None)?;
        netns.exec(&["ip", "addr", "add", &format!("{ip}/32"), "dev", "eth0"], None)?;
        netns.exec(&["ip", "link", "set", "eth0", "up"], None)?;
        netns.exec(&["ip", "route", "add", "169.254.1.1", "dev", "eth0", "scope", "link"], None)?;
        netns.exec(&["ip", "route", "add", "default", "via", "169.254.1.1", "dev", "eth0"], None)?;
        self.hosts.push(Host { name: name.to_string(), listener: None, netns });
        Ok(())
    }

    /// Starts a TCP listener on `port` in host `name`; it answers every connection with the
    /// host's name, so a trace knows which backend served it.
    pub(crate) fn listen(&mut self, name: &str, port: u16) -> Result<(), String> {
        let host = self.hosts.iter_mut().find(|h| h.name == name).ok_or(format!("no host {name}"))?;
        let mut child = helper(&host.netns, &format!("listen {port} {name}"))
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("could not start a listener in {name}: {e}"))?;
        let stdout = child.stdout.take().ok_or("listener has no stdout")?;
        host.listener = Some(Background(child));
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.starts_with("LBPLAY-READY") || line.starts_with("LBPLAY-FAILED") {
                    let _ = tx.send(line);
                }
            }
        });
        match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(line) if line.starts_with("LBPLAY-READY") => Ok(()),
            Ok(line) => Err(format!("listener in {name}: {line}")),
            Err(_) => Err(format!("listener in {name} did not report ready")),
        }
    }

    fn netns_of(&self, name: &str) -> Result<&Netns, String> {
        if name == "node" {
            return Ok(&self.node);
        }
        self.hosts.iter().find(|h| h.name == name).map(|h| &h.netns).ok_or(format!("no host {name}"))
    }

    /// Opens one TCP connection from host `from` (or `"node"` for a host-network process) to
    /// `to`, with the kernel's netfilter trace on in the node, and returns what the kernel
    /// reported for the connection's SYN.
    pub(crate) fn trace_connection(&self, from: &str, to: SocketAddrV4) -> Result<KernelTrace, String> {
        let client = self.netns_of(from)?;
        // TRACE marks the SYN on its way in (PREROUTING) or out of the node (OUTPUT).
        for chain in ["PREROUTING", "OUTPUT"] {
            self.node.exec(&["iptables", "-t", "raw", "-I", chain, "1", "-p", "tcp", "--syn", "-j", "TRACE"], None)?;
        }
        let result = self.trace_with_monitor(client, to);
        for chain in ["PREROUTING", "OUTPUT"] {
            let _ = self.node.exec(&["iptables", "-t", "raw", "-D", chain, "-p", "tcp", "--syn", "-j", "TRACE"], None);
        }
        result
    }

    fn trace_with_monitor(&self, client: &Netns, to: SocketAddrV4) -> Result<KernelTrace, String> {
        let (outcome, raw) = self.connect_under_monitor(client, to, &["xtables-monitor", "--trace"], "DPORT=9 ")?;
        Ok(select_packet(&raw, to, outcome))
    }

    /// Loads an `nft list ruleset` text into the node with `nft -f`.
    pub(crate) fn load_nft(&self, rules: &str) -> Result<(), String> {
        self.node.exec(&["nft", "-f", "-"], Some(rules)).map(drop)
    }

    /// Opens one TCP connection from host `from` (or `"node"`) to `to` while `monitor` runs in
    /// the node, and returns how the connection ended and everything the monitor printed. The
    /// caller switches tracing on; `probe_seen` is text the monitor prints for a traced SYN from
    /// the node to 127.0.0.1:9, which proves the monitor is listening before the real connection.
    pub(crate) fn trace_raw(
        &self,
        from: &str,
        to: SocketAddrV4,
        monitor: &[&str],
        probe_seen: &str,
    ) -> Result<(Outcome, String), String> {
        self.connect_under_monitor(self.netns_of(from)?, to, monitor, probe_seen)
    }

    fn connect_under_monitor(
        &self,
        client: &Netns,
        to: SocketAddrV4,
        monitor: &[&str],
        probe_seen: &str,
    ) -> Result<(Outcome, String), String> {
        let mut child = self
            .node
            .command(monitor)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("could not start `{}`: {e}", monitor.join(" ")))?;
        let stdout = child.stdout.take().ok_or("the monitor has no stdout")?;
        let monitor_process = Background(child);
        let output = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&output);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let mut text = sink.lock().unwrap_or_else(|e| e.into_inner());
                text.push_str(&line);
                text.push('\n');
            }
        });
        let seen = |needle: &str| output.lock().unwrap_or_else(|e| e.into_inner()).contains(needle);

        // The monitor subscribes asynchronously: probe with SYNs from the node to a closed
        // port until their trace shows up.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !seen(probe_seen) {
            if Instant::now() > deadline {
                return Err(format!("`{}` printed nothing for the probe SYN within 10 s", monitor.join(" ")));
            }
            let _ = helper(&self.node, "connect 127.0.0.1:9 200").stdout(Stdio::null()).status();
            std::thread::sleep(Duration::from_millis(50));
        }

        let report = helper(client, &format!("connect {to} 2000"))
            .output()
            .map_err(|e| format!("could not start the client: {e}"))?;
        let report = String::from_utf8_lossy(&report.stdout);
        let outcome = match report.lines().find_map(|l| l.strip_prefix("LBPLAY-RESULT ")) {
            Some(result) => match result.split_once(' ') {
                Some(("connected", served_by)) => Outcome::Connected { served_by: served_by.trim().to_string() },
                _ if result == "refused" => Outcome::Refused,
                _ if result == "timeout" => Outcome::TimedOut,
                _ => Outcome::Failed(result.to_string()),
            },
            None => return Err(format!("the client reported nothing:\n{report}")),
        };
        // Trace events arrive asynchronously too; give the last ones a moment.
        std::thread::sleep(Duration::from_millis(300));
        drop(monitor_process);
        let raw = output.lock().unwrap_or_else(|e| e.into_inner()).clone();
        Ok((outcome, raw))
    }
}

/// The trace of the first SYN to `to` in the monitor's output.
fn select_packet(raw: &str, to: SocketAddrV4, outcome: Outcome) -> KernelTrace {
    let wanted = format!("DST={} ", to.ip());
    let wanted_port = format!("DPORT={} ", to.port());
    let id = raw.lines().find_map(|line| {
        let rest = line.strip_prefix("PACKET: ")?;
        let id = rest.split_whitespace().nth(1)?;
        (line.contains(&wanted) && line.contains(&wanted_port) && line.contains(" SYN")).then(|| id.to_string())
    });
    let Some(id) = id else {
        return KernelTrace { outcome, events: Vec::new(), packets: Vec::new(), raw: raw.to_string() };
    };
    let events = raw.lines().filter_map(parse_trace_line).filter(|e| e.packet_id == id).collect();
    let packets = raw
        .lines()
        .filter(|l| l.starts_with("PACKET: ") && l.split_whitespace().nth(2) == Some(id.as_str()))
        .map(String::from)
        .collect();
    KernelTrace { outcome, events, packets, raw: raw.to_string() }
}

/// A `Command` that runs this test binary's `helper_process` inside `netns` with `task`.
fn helper(netns: &Netns, task: &str) -> Command {
    let exe = std::env::current_exe().expect("the test binary's path");
    let exe = exe.to_string_lossy().into_owned();
    let mut command = netns.command(&[&exe, "--exact", "helper_process", "--nocapture", "--test-threads=1", "-q"]);
    command.env("LBPLAY_KERNEL_HELPER", task).env_remove("LBPLAY_KERNEL_TESTS").stdin(Stdio::null());
    command
}

/// The helper processes: `listen PORT NAME` (answer every connection with NAME) and
/// `connect IP:PORT TIMEOUT_MS` (print `LBPLAY-RESULT connected NAME`, `refused`, `timeout`
/// or the error).
pub(crate) fn run_helper(task: &str) {
    let words: Vec<&str> = task.split_whitespace().collect();
    match words.as_slice() {
        ["listen", port, name] => {
            let listener = match TcpListener::bind(("0.0.0.0", port.parse::<u16>().unwrap_or(0))) {
                Ok(listener) => listener,
                Err(e) => {
                    println!("LBPLAY-FAILED {e}");
                    return;
                }
            };
            println!("LBPLAY-READY");
            let _ = std::io::stdout().flush();
            for mut stream in listener.incoming().flatten() {
                let _ = writeln!(stream, "{name}");
            }
        }
        ["connect", to, timeout_ms] => {
            let timeout = Duration::from_millis(timeout_ms.parse().unwrap_or(2000));
            let result = match to.parse::<SocketAddrV4>() {
                Err(e) => format!("bad address {to}: {e}"),
                Ok(to) => match TcpStream::connect_timeout(&to.into(), timeout) {
                    Ok(mut stream) => {
                        let _ = stream.set_read_timeout(Some(timeout));
                        let mut reply = String::new();
                        let _ = stream.read_to_string(&mut reply);
                        format!("connected {}", reply.trim())
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => "refused".into(),
                    Err(e) if e.kind() == std::io::ErrorKind::TimedOut => "timeout".into(),
                    Err(e) => e.to_string(),
                },
            };
            println!("LBPLAY-RESULT {result}");
        }
        _ => println!("LBPLAY-FAILED unknown helper task {task:?}"),
    }
}
