//! Tier 4 for kube-proxy's nftables mode: the real `nft` is the truth for `lbplay rules --mode nftables`.
//!
//! For every built-in scenario and every node, `lbplay rules --mode nftables` must be accepted by
//! `nft -c -f` (a dry run that still asks the kernel), and loading it with `nft -f` into a fresh
//! network namespace, then `nft list ruleset`, must give back lbplay's text byte for byte. A
//! hand-written ruleset proves the harness first, so that a failure is about lbplay.
//!
//! They run only with `LBPLAY_KERNEL_TESTS=1`, as root, where `ip netns add` works and `nft` is
//! installed; otherwise each test prints why it skipped and passes.

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use lbplay_core::model::ProxyMode;
use lbplay_core::scenario::{self, Source};
use lbplay_core::{kubeproxy, scenarios};

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
    for builtin in scenarios::all() {
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
    let builtin = scenarios::get("clusterip-iptables").expect("the built-in scenario exists");
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
        if std::env::var("LBPLAY_KERNEL_TESTS").as_deref() != Ok("1") {
            return Some("skipped: set LBPLAY_KERNEL_TESTS=1 (as root) to run the nft round trips".into());
        }
        let uid = Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
        if uid.as_deref().ok() != Some("0") {
            return Some("skipped: not root; network namespaces need root (run `sudo -E cargo xtask test`)".into());
        }
        if Command::new("nft").arg("--version").output().is_err() {
            return Some("skipped: `nft` is missing (apt-get install -y nftables)".into());
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

/// A network namespace that is deleted when dropped.
struct Netns {
    name: String,
}

impl Netns {
    fn new(label: &str) -> Result<Netns, String> {
        static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("lbnft-{}-{label}-{n}", std::process::id());
        run("ip", &["netns", "add", &name], None)?;
        Ok(Netns { name })
    }

    fn exec(&self, args: &[&str], stdin: Option<&str>) -> Result<String, String> {
        let mut all = vec!["netns", "exec", self.name.as_str()];
        all.extend_from_slice(args);
        run("ip", &all, stdin)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = run("ip", &["netns", "del", &self.name], None);
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
