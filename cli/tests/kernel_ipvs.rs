//! Tier 4 for kube-proxy's IPVS mode: the ipsets and iptables rules of `lbplay rules --mode ipvs`
//! loaded into a real kernel.
//!
//! IPVS itself cannot be checked here (the test machines' kernels have no `ip_vs`), but its
//! ipsets and the iptables rules that match them can: for every built-in scenario and node, and
//! for the IPVS test scenario, the `ipset save -sorted` part is fed to `ipset restore` and the
//! `iptables-save` part to `iptables-restore` in a fresh network namespace, and the real tools'
//! own `ipset save -sorted` and `iptables-save` must give the same text back. The one difference
//! allowed is the ` bucketsize 12 initval 0x…` that the kernel adds to each hash set's `create`
//! line, `initval` being random.
//!
//! The tests run only with `LBPLAY_KERNEL_TESTS=1`, as root, with `ip` and `ipset` installed;
//! otherwise they print why they skipped and pass.

mod common;

use common::{lbplay, node_names, run};

fn skip_reason() -> Option<String> {
    common::skip_reason(&["ip", "ipset", "iptables-restore"])
}

/// The lines between the `# TITLE` header line and the next blank line (or the end).
fn part(text: &str, title: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for line in text.lines() {
        if line == title {
            inside = true;
        } else if inside && line.is_empty() {
            break;
        } else if inside {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// `ipset save` output without the kernel's random `bucketsize … initval …` options.
fn without_initval(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let line = match line.find(" bucketsize ") {
            Some(at) if line.starts_with("create ") => &line[..at],
            _ => line,
        };
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Loads the two parts into a fresh namespace and returns what the real tools save back.
fn restore_and_save(sets: &str, rules: &str) -> Result<(String, String), String> {
    let ns = format!("lbplay-ipvs-{}", std::process::id());
    run("ip", &["netns", "add", &ns], None)?;
    let result = (|| {
        run("ip", &["netns", "exec", &ns, "ipset", "restore"], Some(sets))?;
        run("ip", &["netns", "exec", &ns, "iptables-restore"], Some(rules))?;
        let saved_sets = run("ip", &["netns", "exec", &ns, "ipset", "save", "-sorted"], None)?;
        let saved_rules = run("ip", &["netns", "exec", &ns, "iptables-save"], None)?;
        let saved_rules: String =
            saved_rules.lines().filter(|line| !line.starts_with('#')).map(|line| format!("{line}\n")).collect();
        Ok((without_initval(&saved_sets), saved_rules))
    })();
    let _ = run("ip", &["netns", "delete", &ns], None);
    result
}

#[test]
fn ipsets_and_rules_round_trip_through_the_kernel() {
    if let Some(reason) = skip_reason() {
        println!("skipped: {reason}");
        return;
    }
    let dir = std::env::temp_dir().join(format!("lbplay-kernel-ipvs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create a scratch directory");
    let mut files: Vec<(String, Vec<String>)> = Vec::new();
    let ids = lbplay(&["scenarios"]).unwrap_or_else(|e| panic!("{e}"));
    for id in ids.lines().filter_map(|line| line.split_whitespace().next()) {
        let yaml = lbplay(&["scenarios", "--show", id]).unwrap_or_else(|e| panic!("{e}"));
        let file = dir.join(format!("{id}.yaml"));
        std::fs::write(&file, &yaml).expect("write the scenario");
        files.push((file.to_string_lossy().into_owned(), node_names(&yaml)));
    }
    let external = concat!(env!("CARGO_MANIFEST_DIR"), "/../core/tests/data/ipvs/external.yaml");
    files.push((external.to_string(), vec!["node-1".into(), "node-2".into()]));

    let mut failures = Vec::new();
    for (file, nodes) in &files {
        let runs: Vec<Vec<&str>> = if nodes.is_empty() {
            vec![vec!["rules", "--mode", "ipvs", file]]
        } else {
            nodes.iter().map(|node| vec!["rules", "--mode", "ipvs", "--node", node, file]).collect()
        };
        for args in runs {
            let label = args[3..].join(" ");
            let text = lbplay(&args).unwrap_or_else(|e| panic!("{e}"));
            let sets = part(&text, "# ipset save -sorted");
            let rules = part(&text, "# iptables-save");
            match restore_and_save(&sets, &rules) {
                Ok((saved_sets, saved_rules)) if saved_sets == sets && saved_rules == rules => {
                    println!(
                        "ok   {label}: {} set lines and {} rule lines came back",
                        sets.lines().count(),
                        rules.lines().count()
                    );
                }
                Ok((saved_sets, saved_rules)) => {
                    println!(
                        "FAIL {label}\n--- lbplay\n{sets}{rules}+++ the kernel (ipset save -sorted, iptables-save)\n{saved_sets}{saved_rules}"
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
    assert!(failures.is_empty(), "these did not round-trip: {failures:?}");
}
