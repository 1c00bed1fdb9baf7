//! `cargo bench -p lbplay-core --bench modes`: issue 5's benchmarks and the scaling story, with
//! the real kernel beside the simulator (issue 4).
//!
//! It times building kube-proxy's nftables and IPVS state for 10,000 Services × 10 endpoints and
//! rendering it as the real tools print it; counts the IPVS scheduler choices per second for every
//! kernel scheduler; prints the rules written by each mode, and the rules a first packet evaluates
//! in iptables mode, for 10 to 10,000 Services; and, where the machine has root and network
//! namespaces, times the real `iptables-restore` of the rendered 10,000-Service ruleset. Every
//! figure is printed; nothing about time is asserted.

mod common;

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::process::{Command, Stdio};
use std::time::Instant;

use common::{ENDPOINTS, SERVICES, figure, median};
use lbplay_core::ipvs::{Dest, Scheduler, Service};
use lbplay_core::kubeproxy::{self, iptables, ipvs_mode, nftables};
use lbplay_core::model::ProxyMode;
use lbplay_core::net::Proto;
use lbplay_core::netfilter::render;
use lbplay_core::rng::Rng;
use lbplay_core::synthetic;
use lbplay_core::walk::{self, Request};

fn main() {
    let epoch = Instant::now();
    let clock = move || epoch.elapsed().as_secs_f64() * 1000.0;
    let cluster = synthetic::cluster(SERVICES, ENDPOINTS);

    // nftables mode: the `ip kube-proxy` table as data, then as `nft list ruleset` prints it.
    let nft_at_10k = nftables_timings(&clock, &cluster);

    // IPVS mode: virtual servers, ipsets and the remaining iptables rules, then the three tools'
    // texts (`ipvsadm -Ln`, `ipset save -sorted`, `iptables-save`) as `rules_lines` joins them.
    let (build_ms, state) = median(5, &clock, || ipvs_mode::build(&cluster, "node-1").expect("ipvs build"));
    let (render_ms, lines) = median(5, &clock, || {
        let mut count = lbplay_core::ipvs::render_ipvsadm_ln(&state.services).lines().count();
        count += state.ipsets.save_lines().len();
        count + render::iptables_save(&state.ruleset).len()
    });
    println!(
        "IPVS mode: {} virtual servers, {} real servers, {} iptables rules, {lines} lines of text",
        state.services.len(),
        state.services.iter().map(|svc| svc.dests().len()).sum::<usize>(),
        state.ruleset.rule_count()
    );
    drop(state);
    println!("{}", figure("native ipvs build (10k x 10)", build_ms, "ms", None));
    println!("{}", figure("native ipvs render (10k x 10)", render_ms, "ms", None));

    schedulers(&clock);
    scaling(nft_at_10k);
    real_iptables_restore(&cluster);
}

/// Times the nftables mode's build and render, and says whether the 10,000-Service build fits
/// the bench's time budget. The build is first timed at 1,000 Services; from that the 10,000
/// figure is estimated as if the build were quadratic (the worst this code has shown: at the time
/// of writing `Table::chain_mut` and `add_element` search linearly, 1,000 Services took 0.17 s and
/// 10,000 took two minutes, worse than quadratic). Above 10 s estimated it is skipped with the estimate printed, unless
/// `LBPLAY_BENCH_ALL=1` asks for every figure whatever it costs.
fn nftables_timings(clock: &dyn Fn() -> f64, cluster: &lbplay_core::Cluster) -> bool {
    let small = synthetic::cluster(1_000, ENDPOINTS);
    let (small_ms, _) = median(3, clock, || nftables::build(&small, "node-1").expect("nftables build"));
    println!("{}", figure("native nftables build (1k x 10)", small_ms, "ms", None));
    let estimate_s = small_ms * 100.0 / 1000.0;
    let forced = std::env::var("LBPLAY_BENCH_ALL").is_ok_and(|value| value == "1");
    if estimate_s > 10.0 && !forced {
        println!(
            "native nftables build and render (10k x 10): skipped: the 1,000-Service build took {small_ms:.0} ms, so 10,000 would take {estimate_s:.0} s or more (it grows at least quadratically); LBPLAY_BENCH_ALL=1 runs it"
        );
        return false;
    }
    let runs = if small_ms * 10.0 > 1000.0 { 1 } else { 5 };
    let (build_ms, table) = median(runs, clock, || nftables::build(cluster, "node-1").expect("nftables build"));
    let (render_ms, lines) = median(runs, clock, || lbplay_core::nftables::render::list_ruleset(&table));
    println!("nftables mode: {} rules, {} lines of nft list ruleset", table.rule_count(), lines.len());
    println!("{}", figure("native nftables build (10k x 10)", build_ms, "ms", None));
    println!("{}", figure("native nftables render (10k x 10)", render_ms, "ms", None));
    true
}

/// Scheduler choices per second: a virtual server with 10 real servers of weight 1 (what
/// kube-proxy writes) takes new connections from changing clients. Each choice opens a short
/// connection on the chosen server and closes it at once (it becomes inactive); the oldest of the
/// last 64 closed connections expires, so the counts that lc, wlc, sed, nq and the others read
/// keep moving while ovf, which refuses a server whose active connections reach its weight, still
/// finds one. The figure is the median of 5 runs of 20,000 choices, each with its explanation
/// text built.
fn schedulers(clock: &dyn Fn() -> f64) {
    const CHOICES: u32 = 20_000;
    for scheduler in Scheduler::ALL {
        let (ms, chosen) = median(5, clock, || {
            let vip = SocketAddrV4::new(Ipv4Addr::new(10, 96, 0, 10), 80);
            let mut service = Service::new(Proto::Tcp, vip, scheduler, 0, 0);
            for n in 0..ENDPOINTS as u32 {
                service.add_dest(Dest::new(SocketAddrV4::new(Ipv4Addr::from(0x0af4_0002 + n), 8080), 1));
            }
            let mut rng = Rng::new(1);
            let mut open = VecDeque::new();
            let mut chosen = 0u32;
            for i in 0..CHOICES {
                let client = SocketAddrV4::new(Ipv4Addr::from(0x0a00_0000 + (i % 5_000)), 32768 + (i % 28_000) as u16);
                let now = u64::from(i / 1_000);
                if let Some(index) = service.schedule(client, now, &mut rng).chosen {
                    chosen += 1;
                    let mut conn = service.conn_open(index);
                    service.conn_close(&mut conn);
                    open.push_back(conn);
                }
                if open.len() > 64 {
                    service.conn_expire(open.pop_front().expect("more than 64 closed"));
                }
            }
            chosen
        });
        assert_eq!(chosen, CHOICES, "{scheduler} chose a server for every connection");
        let per_second = f64::from(CHOICES) / (ms / 1000.0);
        println!("{}", figure(&format!("native ipvs {scheduler} choices per second"), per_second, "/s", None));
    }
}

/// The scaling story of issue 5, from real counts: rules written by each mode and the rules a
/// first packet evaluates in each mode on its way from node-1 to the last Service in
/// KUBE-SERVICES (the rules skipped plus the rules and IPVS lookups matched on node-1). The
/// spec's §7 estimate for iptables is 2 + 3n nat rules per ClusterIP port with n endpoints.
fn scaling(nft_at_10k: bool) {
    println!("scaling: rules written and rules evaluated by a first packet to the last Service (10 endpoints each)");
    println!(
        "  {:>8}  {:>14}  {:>11}  {:>9}  {:>14}  {:>9}  {:>10}  {:>9}",
        "Services",
        "iptables rules",
        "spec §7 nat",
        "evaluated",
        "nftables rules",
        "evaluated",
        "ipvs rules",
        "evaluated"
    );
    // The figure lines of the largest row, printed after the table so it stays readable.
    let mut figures = Vec::new();
    for services in [10usize, 100, 1_000, 10_000] {
        let cluster = synthetic::cluster(services, ENDPOINTS);
        let written = |mode| {
            let lines = kubeproxy::rules_lines(&cluster, "node-1", mode).expect("rules");
            lines.iter().filter(|line| line.is_rule()).count()
        };
        let iptables_rules = iptables::build(&cluster, "node-1").expect("build").rule_count();
        let to = synthetic::last_service(&cluster).expect("a service");
        // Rules a first packet evaluates in a mode, as `lbplay compare --scaling` counts them.
        let evaluated_in = |mode: ProxyMode| -> usize {
            let mut cluster = cluster.clone();
            cluster.kube_proxy.mode = mode;
            let request = Request { from: "node/node-1".into(), to: to.clone(), proto: Proto::Tcp, seed: 1, now: 0 };
            walk::trace(&cluster, &request).expect("walk").rules_evaluated()
        };
        let evaluated = evaluated_in(ProxyMode::Iptables);
        let ipvs_evaluated = evaluated_in(ProxyMode::Ipvs);
        let nft_fits = services < 10_000 || nft_at_10k;
        let nftables_rules = if nft_fits { written(ProxyMode::Nftables) } else { 0 };
        let nft_evaluated = if nft_fits { evaluated_in(ProxyMode::Nftables).to_string() } else { "skipped".into() };
        let ipvs_rules = written(ProxyMode::Ipvs);
        println!(
            "  {services:>8}  {iptables_rules:>14}  {:>11}  {evaluated:>9}  {:>14}  {nft_evaluated:>9}  {ipvs_rules:>10}  {ipvs_evaluated:>9}",
            services * (2 + 3 * ENDPOINTS),
            if nftables_rules > 0 { nftables_rules.to_string() } else { "skipped".to_string() }
        );
        if services == SERVICES {
            let name = |what: &str| format!("native {what} at {services} Services");
            figures.push(figure(&name("iptables rules written"), iptables_rules as f64, "", None));
            figures.push(figure(&name("iptables rules evaluated by a first packet"), evaluated as f64, "", None));
            if nftables_rules > 0 {
                figures.push(figure(&name("nftables rules written"), nftables_rules as f64, "", None));
                figures.push(figure(
                    &name("nftables rules evaluated by a first packet"),
                    nft_evaluated.parse().unwrap_or(0.0),
                    "",
                    None,
                ));
            }
            figures.push(figure(&name("ipvs iptables rules written"), ipvs_rules as f64, "", None));
            figures.push(figure(&name("ipvs rules evaluated by a first packet"), ipvs_evaluated as f64, "", None));
        }
    }
    println!(
        "  (rules: the lines of `rules_lines` a step can point at, for IPVS its iptables rules; evaluated: `Trace::rules_evaluated`, the rules matched and skipped on the way there, on every node)"
    );
    for line in figures {
        println!("{line}");
    }
}

/// Why the real dataplane cannot be timed here, or `None` when it can: root, `ip netns` and
/// `iptables-restore` are all needed.
fn kernel_skip_reason() -> Option<String> {
    let uid =
        Command::new("id").arg("-u").output().ok().map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string());
    if uid.as_deref() != Some("0") {
        return Some("not root (network namespaces need root)".into());
    }
    for tool in ["ip", "iptables-restore"] {
        let found = Command::new(tool).arg("-V").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok();
        if !found {
            return Some(format!("`{tool}` is not installed (cargo xtask install brings iptables in)"));
        }
    }
    None
}

/// Issue 4: the real `iptables-restore` of the rendered 10,000-Service ruleset into a fresh
/// network namespace, timed once (it takes seconds), beside the simulator's figures.
fn real_iptables_restore(cluster: &lbplay_core::Cluster) {
    if let Some(reason) = kernel_skip_reason() {
        println!("real iptables-restore (10k x 10): skipped: {reason}");
        return;
    }
    let text = kubeproxy::rules_text(cluster, "node-1", ProxyMode::Iptables).expect("rules");
    let file = std::env::temp_dir().join(format!("lbplay-bench-{}.rules", std::process::id()));
    std::fs::write(&file, &text).expect("write the rules file");
    let namespace = format!("lbplay-bench-{}", std::process::id());
    let added = Command::new("ip").args(["netns", "add", &namespace]).status();
    if !added.is_ok_and(|status| status.success()) {
        let _ = std::fs::remove_file(&file);
        println!("real iptables-restore (10k x 10): skipped: `ip netns add` failed (no network namespaces here)");
        return;
    }
    let input = std::fs::File::open(&file).expect("open the rules file");
    let start = Instant::now();
    let output = Command::new("ip")
        .args(["netns", "exec", &namespace, "iptables-restore"])
        .stdin(input)
        .output()
        .expect("run iptables-restore");
    let elapsed = start.elapsed().as_secs_f64() * 1000.0;
    let _ = Command::new("ip").args(["netns", "delete", &namespace]).status();
    let _ = std::fs::remove_file(&file);
    assert!(
        output.status.success(),
        "iptables-restore refused the rendered rules: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    println!("real iptables-restore: {} KiB of rules into a fresh namespace, one run", text.len() / 1024);
    println!("{}", figure("native real iptables-restore (10k x 10)", elapsed, "ms", None));
}
