//! Tier 4 for kube-proxy's nftables mode: the real `nft` is the truth for `lbplay rules --mode nftables`.
//!
//! For every built-in scenario and every node, `lbplay rules --mode nftables` must be accepted by
//! `nft -c -f` (a dry run that still asks the kernel), and loading it with `nft -f` into a fresh
//! network namespace, then `nft list ruleset`, must give back lbplay's text byte for byte. A
//! hand-written ruleset proves the harness first, so that a failure is about lbplay.
//!
//! `kernel_walk_*` go further, as `kernel.rs` does for iptables: they load a node's ruleset into
//! a namespace topology (the shared [`common::harness`]), open a real TCP connection with the
//! kernel's nftables trace on, and check that the path the SYN took through `ip kube-proxy` is
//! the one lbplay's walk takes for the same endpoint (see [`canonical_kernel`] for how the two
//! spellings are mapped onto one).
//!
//! They run only with `LBPLAY_KERNEL_TESTS=1`, as root, where `ip netns add` works and `nft` is
//! installed; otherwise each test prints why it skipped and passes.

mod common;

use std::net::SocketAddrV4;
use std::process::Command;
use std::sync::OnceLock;

use lbplay_core::model::ProxyMode;
use lbplay_core::scenario::{self, Source};
use lbplay_core::{kubeproxy, lessons};

/// A small table in `nft list ruleset`'s own layout (nft 1.0.6), for proving the harness.
const TINY: &str = "table ip kube-proxy {
\tcomment \"rules for kube-proxy\"
\tset cluster-ips {
\t\ttype ipv4_addr
\t\tcomment \"Active ClusterIPs\"
\t\telements = { 10.96.0.1, 10.96.0.10,
\t\t\t     10.96.100.10 }
\t}

\tchain nat-prerouting {
\t\ttype nat hook prerouting priority dstnat; policy accept;
\t\tip daddr @cluster-ips meta l4proto tcp dnat to 10.244.1.5:8080
\t}
}
";

#[test]
fn harness_round_trips_a_hand_written_table() {
    if !kernel_available() {
        return;
    }
    nft_check(TINY).unwrap_or_else(|e| panic!("{e}"));
    let listed = load_and_list(TINY).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(listed, TINY, "nft lists the hand-written table back unchanged");
}

#[test]
fn every_scenario_round_trips_through_nft() {
    if !kernel_available() {
        return;
    }
    let mut checked = 0;
    let mut failures = Vec::new();
    for builtin in lessons::all() {
        let sources = [Source { name: "scenario.yaml", text: builtin.yaml }];
        let cluster = match scenario::load(&sources) {
            Ok(loaded) => loaded.cluster,
            Err(problems) => panic!("built-in scenario {} does not load: {problems:?}", builtin.id),
        };
        for node in &cluster.nodes {
            let label = format!("scenario {}, node {}", builtin.id, node.name);
            let rules = kubeproxy::rules_text(&cluster, &node.name, ProxyMode::Nftables)
                .unwrap_or_else(|e| panic!("{label}: {e}"));
            checked += 1;
            if let Err(e) = nft_check(&rules) {
                println!("FAIL {label}: `nft -c -f` refuses the rules: {e}\n{rules}");
                failures.push(label);
                continue;
            }
            match load_and_list(&rules) {
                Ok(listed) if listed == rules => {
                    println!("ok   {label}: nft lists back lbplay's {} lines", rules.lines().count());
                }
                Ok(listed) => {
                    println!(
                        "FAIL {label}: `nft list ruleset` differs from `lbplay rules --mode nftables`\n\
                         --- lbplay\n+++ nft (the truth)\n{}",
                        line_diff(&rules, &listed)
                    );
                    failures.push(label);
                }
                Err(e) => {
                    println!("FAIL {label}: {e}");
                    failures.push(label);
                }
            }
        }
    }
    assert!(checked > 0, "no scenario was checked");
    assert!(failures.is_empty(), "{} of {checked} failed: {failures:?}", failures.len());
}

/// The command line gives the same text as the library, so the round trip above covers it.
#[test]
fn cli_prints_the_same_table() {
    let builtin = lessons::get("clusterip-iptables").expect("the built-in scenario exists");
    let sources = [Source { name: "scenario.yaml", text: builtin.yaml }];
    let cluster = scenario::load(&sources).expect("it loads").cluster;
    let expected = kubeproxy::rules_text(&cluster, "node-1", ProxyMode::Nftables).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_lbplay"))
        .args(["rules", "--mode", "nftables", "--node", "node-1", "clusterip-iptables"])
        .output()
        .expect("lbplay runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(String::from_utf8_lossy(&output.stdout), expected);
}

/// Whether the kernel tests can run here; prints the reason when they cannot.
fn kernel_available() -> bool {
    static REASON: OnceLock<Option<String>> = OnceLock::new();
    let reason = REASON.get_or_init(|| {
        common::skip_reason(&["ip", "nft"])
            .or_else(|| Netns::new("probe").err().map(|e| format!("no network namespaces here: {e}")))
    });
    if let Some(reason) = reason {
        println!("skipped: {reason}");
    }
    reason.is_none()
}

/// A network namespace that is deleted when dropped.
struct Netns {
    name: String,
}

impl Netns {
    fn new(label: &str) -> Result<Netns, String> {
        static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("lbnft-{}-{label}-{n}", std::process::id());
        common::run("ip", &["netns", "add", &name], None)?;
        Ok(Netns { name })
    }

    fn exec(&self, args: &[&str], stdin: Option<&str>) -> Result<String, String> {
        let mut all = vec!["netns", "exec", self.name.as_str()];
        all.extend_from_slice(args);
        common::run("ip", &all, stdin)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = common::run("ip", &["netns", "del", &self.name], None);
    }
}

/// `nft -c -f -`: parses and checks the rules against the kernel without committing them.
fn nft_check(rules: &str) -> Result<(), String> {
    let ns = Netns::new("check")?;
    ns.exec(&["nft", "-c", "-f", "-"], Some(rules)).map(|_| ())
}

/// Loads the rules into a fresh namespace and lists them back.
fn load_and_list(rules: &str) -> Result<String, String> {
    let ns = Netns::new("load")?;
    ns.exec(&["nft", "-f", "-"], Some(rules))?;
    ns.exec(&["nft", "list", "ruleset"], None)
}

/// A line diff (longest common subsequence), `-` for lbplay's lines and `+` for nft's.
fn line_diff(a: &str, b: &str) -> String {
    let a: Vec<&str> = a.lines().collect();
    let b: Vec<&str> = b.lines().collect();
    let mut lcs = vec![vec![0u32; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] { lcs[i + 1][j + 1] + 1 } else { lcs[i + 1][j].max(lcs[i][j + 1]) };
        }
    }
    let mut out = String::new();
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            out.push_str(&format!("  {}\n", a[i]));
            i += 1;
            j += 1;
        } else if j < b.len() && (i == a.len() || lcs[i][j + 1] > lcs[i + 1][j]) {
            out.push_str(&format!("+ {}\n", b[j]));
            j += 1;
        } else {
            out.push_str(&format!("- {}\n", a[i]));
            i += 1;
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// A real connection's path through `ip kube-proxy`, against lbplay's walk

/// Switches the kernel's trace on for every TCP SYN entering the node or leaving a local socket,
/// before any of kube-proxy's chains (priority -350 runs ahead of raw, -300). `tcp flags syn`
/// also matches the SYN-ACK; [`kernel_steps`] follows only the client's SYN.
const TRACE_TABLE: &str = "table ip lbtrace {
\tchain pre {
\t\ttype filter hook prerouting priority -350; policy accept;
\t\ttcp flags syn meta nftrace set 1
\t}
\tchain out {
\t\ttype filter hook output priority -350; policy accept;
\t\ttcp flags syn meta nftrace set 1
\t}
}
";

/// One connection to check, as `kernel.rs`'s `Walk` for iptables: a built-in scenario run in
/// nftables mode, the node whose `ip kube-proxy` table is loaded, who connects to what.
struct NftWalk {
    scenario: &'static str,
    node: &'static str,
    /// `pod/NAME`, `node/NAME` or `client/NAME`, as `lbplay trace --from` takes it.
    from: &'static str,
    to: &'static str,
    /// When set, the connection is retried (the kernel's draw is random) until this pod serves it.
    want: Option<&'static str>,
}

/// One line of `nft monitor trace` (nft 1.0.6):
///
/// ```text
/// trace id ID ip TABLE CHAIN packet: iif "veth0" … ip saddr … ip daddr … tcp dport 80 tcp flags == syn …
/// trace id ID ip TABLE CHAIN rule RULE (verdict VERDICT)
/// trace id ID ip TABLE CHAIN policy accept
/// trace id ID ip TABLE CHAIN policy accept meta mark 0x00004000
/// ```
///
/// RULE is the rule as `nft list ruleset` prints it (without the handle); VERDICT is `jump X`,
/// `goto X`, `return`, `continue` (a rule without a verdict statement, such as `meta mark set`),
/// `accept` (also a `dnat` or `masquerade` statement, which accepts), `drop` (also `reject`).
/// The kernel prints nothing for a rule that does not match (a vmap lookup that misses included)
/// nor when a regular chain falls off its end; the caller's next matching rule, or the base
/// chain's policy, simply follows. A policy line ends with the packet's mark when it has one
/// (`meta mark 0x00004000` after `mark-for-masquerade`); rule lines do not show it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct NftTraceLine {
    id: String,
    table: String,
    chain: String,
    /// `packet`, `rule`, `policy`, or any other word nft prints there (kept, so that an
    /// unexpected kind of line shows up in the comparison rather than vanishing).
    kind: String,
    /// For `rule`: the rule text; for `packet`: the packet's description; for `policy`: what
    /// follows the policy (`meta mark 0x…`), if anything.
    text: String,
    /// For `rule`: the verdict inside `(verdict …)`; for `policy`: the policy.
    verdict: String,
}

fn parse_nft_trace_line(line: &str) -> Option<NftTraceLine> {
    let rest = line.strip_prefix("trace id ")?;
    let mut fields = rest.splitn(5, ' ');
    let id = fields.next()?.to_string();
    let _family = fields.next()?;
    let table = fields.next()?.to_string();
    let chain = fields.next()?.to_string();
    let body = fields.next()?.trim_end();
    let (kind, tail) = body.split_once(' ').unwrap_or((body, ""));
    let (kind, text, verdict) = match kind {
        "packet:" => ("packet".to_string(), tail.to_string(), String::new()),
        "rule" => match tail.rsplit_once(" (verdict ") {
            Some((rule, verdict)) => {
                ("rule".to_string(), rule.to_string(), verdict.split(')').next().unwrap_or("").to_string())
            }
            None => ("rule".to_string(), tail.to_string(), String::new()),
        },
        // `policy accept`, then ` meta mark 0x00004000` when the packet carries a mark.
        "policy" => {
            let (policy, extra) = tail.split_once(' ').unwrap_or((tail, ""));
            ("policy".to_string(), extra.to_string(), policy.to_string())
        }
        other => (other.to_string(), String::new(), tail.to_string()),
    };
    Some(NftTraceLine { id, table, chain, kind, text, verdict })
}

/// The canonical form both sides are compared in, one step a line: `CHAIN | RULE | VERDICT`,
/// with RULE `policy` for a base chain's policy.
///
/// - The kernel's `rule RULE (verdict V)` is `CHAIN | RULE | V`; `policy P` is
///   `CHAIN | policy | P` (the `meta mark …` a policy line may end with is left out: lbplay's
///   steps do not carry the mark); any other kind of line (none seen so far) is `CHAIN | KIND | …`.
/// - lbplay's step keeps its chain and rule text; its verdict is mapped to the kernel's word:
///   `policy accept` → `policy | accept`, `dnat` / `snat` / `masquerade` / `redirect` →
///   `accept` (a NAT statement accepts), `reject` → `drop` (the reject expression's verdict is
///   NF_DROP); `jump X`, `goto X`, `return`, `continue`, `accept`, `drop` are the same words.
/// - Only table `ip kube-proxy` counts: the `lbtrace` table that switches tracing on is not
///   kube-proxy's, and lbplay's steps with `table == Some("kube-proxy")` on the node.
/// - lbplay's `skipped` rules have no counterpart: the kernel prints only rules that matched.
fn canonical_kernel(lines: &[NftTraceLine]) -> String {
    lines
        .iter()
        .filter(|l| l.table == "kube-proxy" && l.kind != "packet")
        .map(|l| match l.kind.as_str() {
            "rule" => format!("{} | {} | {}", l.chain, l.text, l.verdict),
            "policy" => format!("{} | policy | {}", l.chain, l.verdict),
            other => format!("{} | {other} | {}", l.chain, l.verdict),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// lbplay's `ip kube-proxy` steps on `node` for the first packet, in [`canonical_kernel`]'s form.
fn canonical_walk(trace: &lbplay_core::Trace, node: &str) -> String {
    trace
        .steps
        .iter()
        .take_while(|step| step.direction == lbplay_core::Direction::Original)
        .filter(|step| step.node == node && step.kind == lbplay_core::StepKind::Netfilter)
        .filter(|step| step.table == Some("kube-proxy"))
        .map(|step| {
            let chain = step.chain.as_deref().unwrap_or("");
            let verdict = match step.verdict.as_str() {
                "dnat" | "snat" | "masquerade" | "redirect" => "accept",
                "reject" => "drop",
                other => other,
            };
            match (&step.rule, verdict.strip_prefix("policy ")) {
                (None, Some(policy)) => format!("{chain} | policy | {policy}"),
                (rule, _) => format!("{chain} | {} | {verdict}", rule.as_deref().unwrap_or("(no rule)")),
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The trace lines of the client's SYN: the first traced packet with the connection's
/// destination and only the SYN flag, and every later line with its trace id.
fn kernel_steps(raw: &str, to: SocketAddrV4) -> Vec<NftTraceLine> {
    let lines: Vec<NftTraceLine> = raw.lines().filter_map(parse_nft_trace_line).collect();
    let daddr = format!("ip daddr {} ", to.ip());
    let dport = format!("tcp dport {} ", to.port());
    let Some(first) = lines.iter().position(|l| {
        l.kind == "packet" && l.text.contains(&daddr) && l.text.contains(&dport) && l.text.contains("tcp flags == syn ")
    }) else {
        return Vec::new();
    };
    let id = lines[first].id.clone();
    lines[first..].iter().filter(|l| l.id == id).cloned().collect()
}

/// Builds `walk`'s node in namespaces with lbplay's nftables ruleset, opens a real connection,
/// and checks that the kernel's path through `ip kube-proxy` is the one lbplay's walk takes to
/// the same endpoint. Fails with both sequences when no seed of lbplay's walk gives it.
fn check_nft_walk_against_kernel(walk: &NftWalk) {
    use common::harness::{Outcome, Topology};

    let builtin = lessons::get(walk.scenario).expect("a built-in scenario");
    let mut cluster =
        scenario::load(&[Source { name: walk.scenario, text: builtin.yaml }]).expect("the scenario loads").cluster;
    cluster.kube_proxy.mode = ProxyMode::Nftables;
    let node = cluster.node(walk.node).expect("the node exists");
    let rules = kubeproxy::rules_text(&cluster, walk.node, ProxyMode::Nftables).expect("rules");
    let mut topology = Topology::new(node.ip).unwrap_or_else(|e| panic!("{e}"));
    topology.load_nft(&rules).unwrap_or_else(|e| panic!("loading lbplay's ruleset: {e}"));
    topology.load_nft(TRACE_TABLE).unwrap_or_else(|e| panic!("loading the trace table: {e}"));
    let to: SocketAddrV4 = walk.to.parse().expect("IP:PORT");
    let client_name = topology.add_scenario_hosts(&cluster, walk.from).unwrap_or_else(|e| panic!("{e}"));
    let connect = || {
        topology
            .trace_raw(&client_name, to, &["nft", "monitor", "trace"], "tcp dport 9 ")
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let (mut outcome, mut raw) = connect();
    if let Some(want) = walk.want {
        for _ in 0..24 {
            if outcome == (Outcome::Connected { served_by: want.to_string() }) {
                break;
            }
            (outcome, raw) = connect();
        }
        assert_eq!(outcome, Outcome::Connected { served_by: want.to_string() }, "the kernel never chose {want}");
    }
    let syn = kernel_steps(&raw, to);
    assert!(!syn.is_empty(), "no traced SYN to {to} in the monitor's output:\n{raw}");
    let kernel = canonical_kernel(&syn);
    let syn_lines = raw
        .lines()
        .filter(|l| parse_nft_trace_line(l).is_some_and(|t| t.id == syn[0].id))
        .collect::<Vec<_>>()
        .join("\n");
    let wanted = match &outcome {
        Outcome::Connected { served_by } => Some(format!("pod/{served_by}")),
        _ => None,
    };
    // The kernel drew its own random number; find a seed for which lbplay picks the same endpoint.
    let mut first_same_outcome = None;
    for seed in 0..200 {
        let request = lbplay_core::walk::Request {
            from: walk.from.into(),
            to: walk.to.into(),
            proto: lbplay_core::net::Proto::Tcp,
            seed,
            now: 0,
        };
        let trace = lbplay_core::walk::trace(&cluster, &request).expect("the walk starts");
        if trace.outcome.delivered_to != wanted {
            continue;
        }
        let ours = canonical_walk(&trace, walk.node);
        if ours == kernel {
            println!(
                "ok   {} (nftables) {} → {} on {}: the kernel's {} steps in ip kube-proxy equal lbplay's walk (seed {seed}, {outcome:?})\n{kernel}",
                walk.scenario,
                walk.from,
                walk.to,
                walk.node,
                kernel.lines().count(),
            );
            return;
        }
        first_same_outcome.get_or_insert((seed, ours));
    }
    let (seed, ours) = match first_same_outcome {
        Some((seed, ours)) => (format!("seed {seed}"), ours),
        None => ("no seed in 0..200 gave the same outcome".to_string(), String::new()),
    };
    panic!(
        "{} (nftables) {} → {} on {}: the kernel's path ({outcome:?}) is not one lbplay's walk takes.\n\
         --- kernel (nft monitor trace, canonical)\n{kernel}\n--- lbplay ({seed}, canonical)\n{ours}\n\
         --- diff (- lbplay, + kernel)\n{}--- the SYN's trace lines\n{syn_lines}",
        walk.scenario,
        walk.from,
        walk.to,
        walk.node,
        line_diff(&ours, &kernel),
    );
}

#[test]
fn kernel_walk_pod_to_cluster_ip() {
    if !kernel_available() {
        return;
    }
    check_nft_walk_against_kernel(&NftWalk {
        scenario: "clusterip-nftables",
        node: "node-1",
        from: "pod/client",
        to: "10.96.100.10:80",
        want: None,
    });
}

#[test]
fn kernel_walk_host_network_to_cluster_ip() {
    if !kernel_available() {
        return;
    }
    check_nft_walk_against_kernel(&NftWalk {
        scenario: "clusterip-nftables",
        node: "node-1",
        from: "node/node-1",
        to: "10.96.100.10:80",
        want: None,
    });
}

#[test]
fn kernel_walk_nodeport_cluster_policy() {
    if !kernel_available() {
        return;
    }
    check_nft_walk_against_kernel(&NftWalk {
        scenario: "nodeport-cluster",
        node: "node-2",
        from: "client/laptop",
        to: "192.168.1.11:30080",
        want: None,
    });
}

#[test]
fn parses_every_line_shape_nft_monitor_trace_prints() {
    let p = |line: &str| parse_nft_trace_line(line).unwrap();
    let l = p(
        "trace id fe2cdeb5 ip kube-proxy services rule ip daddr . meta l4proto . th dport vmap @service-ips (verdict goto service-SUSTUHLJ-default/web/tcp/http)",
    );
    assert_eq!(
        (l.id.as_str(), l.table.as_str(), l.chain.as_str(), l.kind.as_str(), l.text.as_str(), l.verdict.as_str()),
        (
            "fe2cdeb5",
            "kube-proxy",
            "services",
            "rule",
            "ip daddr . meta l4proto . th dport vmap @service-ips",
            "goto service-SUSTUHLJ-default/web/tcp/http"
        )
    );
    let l = p("trace id fe2cdeb5 ip kube-proxy filter-forward policy accept ");
    assert_eq!((l.kind.as_str(), l.verdict.as_str()), ("policy", "accept"));
    let l = p("trace id 56fca0b1 ip kube-proxy filter-forward policy accept meta mark 0x00004000 ");
    assert_eq!((l.kind.as_str(), l.verdict.as_str(), l.text.as_str()), ("policy", "accept", "meta mark 0x00004000"));
    let l = p(
        "trace id fe2cdeb5 ip lbtrace pre packet: iif \"veth0\" ip saddr 10.244.1.20 ip daddr 10.96.100.10 tcp dport 80 tcp flags == syn tcp window 64240 ",
    );
    assert_eq!((l.table.as_str(), l.kind.as_str()), ("lbtrace", "packet"));
    let raw = "trace id aa ip lbtrace pre packet: ip daddr 10.96.100.10 ip dscp cs0 tcp dport 80 tcp flags == syn tcp window 1 \n\
               trace id aa ip lbtrace pre rule tcp flags syn meta nftrace set 1 (verdict continue)\n\
               trace id aa ip kube-proxy nat-prerouting rule jump services (verdict jump services)\n\
               trace id bb ip kube-proxy filter-forward policy accept \n\
               trace id aa ip kube-proxy masquerading rule meta mark & 0x00004000 == 0x00000000 return (verdict return)\n\
               trace id aa ip kube-proxy nat-postrouting policy accept \n";
    let steps = kernel_steps(raw, "10.96.100.10:80".parse().unwrap());
    assert_eq!(
        canonical_kernel(&steps),
        "nat-prerouting | jump services | jump services\n\
         masquerading | meta mark & 0x00004000 == 0x00000000 return | return\n\
         nat-postrouting | policy | accept"
    );
}

/// Not a test: the entry point of the helper processes the shared harness starts inside
/// namespaces (listeners and clients). Without `LBPLAY_KERNEL_HELPER` it does nothing.
#[test]
fn helper_process() {
    if let Ok(task) = std::env::var("LBPLAY_KERNEL_HELPER") {
        common::harness::run_helper(&task);
    }
}

#[test]
fn kernel_walk_hairpin() {
    if !kernel_available() {
        return;
    }
    check_nft_walk_against_kernel(&NftWalk {
        scenario: "hairpin",
        node: "node-1",
        from: "pod/web-a",
        to: "10.96.100.10:80",
        want: Some("web-a"),
    });
}

#[test]
fn kernel_walk_nodeport_local_policy() {
    if !kernel_available() {
        return;
    }
    for (node, to) in [("node-1", "192.168.1.10:30081"), ("node-2", "192.168.1.11:30081")] {
        check_nft_walk_against_kernel(&NftWalk {
            scenario: "nodeport-local",
            node,
            from: "client/laptop",
            to,
            want: None,
        });
    }
}

#[test]
fn kernel_walk_load_balancer_source_ranges() {
    if !kernel_available() {
        return;
    }
    for from in ["client/laptop", "client/stranger"] {
        check_nft_walk_against_kernel(&NftWalk {
            scenario: "loadbalancer",
            node: "node-1",
            from,
            to: "203.0.113.100:443",
            want: None,
        });
    }
}

#[test]
fn kernel_walk_no_endpoints() {
    if !kernel_available() {
        return;
    }
    check_nft_walk_against_kernel(&NftWalk {
        scenario: "no-endpoints",
        node: "node-1",
        from: "pod/client",
        to: "10.96.66.6:80",
        want: None,
    });
}

#[test]
fn kernel_walk_session_affinity_first_connection() {
    if !kernel_available() {
        return;
    }
    check_nft_walk_against_kernel(&NftWalk {
        scenario: "affinity",
        node: "node-1",
        from: "pod/shopper",
        to: "10.96.20.20:80",
        want: None,
    });
}
