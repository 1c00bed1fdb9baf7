//! Tier 4 for kube-proxy's userspace mode: `lbplay rules --mode userspace` loaded into a real
//! kernel.
//!
//! For every built-in scenario and node, and for the userspace test scenario
//! (`core/tests/data/userspace/retry.yaml`, with external and load-balancer IPs, a NodePort and a
//! UDP Service), the whole output of `lbplay rules --mode userspace` is fed to `iptables-restore`
//! in a fresh network namespace: the history note and the socket lines are `#` comments, so the
//! text loads as it is. `iptables-save` must then give back the rule lines exactly. This checks
//! the spelling of `-j REDIRECT --to-ports`, `-m state --state NEW` and
//! `-m physdev ! --physdev-is-in` as the real tool prints them.
//!
//! The tests run only with `LBPLAY_KERNEL_TESTS=1`, as root, with `ip` and `iptables-restore`
//! installed; otherwise they print why they skipped and pass.

mod common;

use common::{lbplay, node_names, run};

fn skip_reason() -> Option<String> {
    common::skip_reason(&["ip", "iptables-restore", "iptables-save"])
}

/// The rule lines of a text: neither blank nor `#` comments.
fn rule_lines(text: &str) -> String {
    text.lines().filter(|line| !line.is_empty() && !line.starts_with('#')).map(|line| format!("{line}\n")).collect()
}

/// Restores `rules` into a fresh namespace and returns what `iptables-save` prints there.
fn restore_and_save(rules: &str) -> Result<String, String> {
    let namespace = format!("lbplay-us-{}", std::process::id());
    run("ip", &["netns", "add", &namespace], None)?;
    let result = run("ip", &["netns", "exec", &namespace, "iptables-restore"], Some(rules))
        .and_then(|_| run("ip", &["netns", "exec", &namespace, "iptables-save"], None));
    let deleted = run("ip", &["netns", "delete", &namespace], None);
    let saved = result?;
    deleted?;
    Ok(saved)
}

#[test]
fn userspace_rules_round_trip_through_iptables() {
    if let Some(reason) = skip_reason() {
        println!("skipped: {reason}");
        return;
    }
    let retry = concat!(env!("CARGO_MANIFEST_DIR"), "/../core/tests/data/userspace/retry.yaml");
    let mut inputs: Vec<(String, String)> =
        vec![(retry.to_string(), std::fs::read_to_string(retry).expect("read retry.yaml"))];
    let ids = lbplay(&["scenarios"]).unwrap_or_else(|e| panic!("{e}"));
    for id in ids.lines().filter_map(|line| line.split_whitespace().next()) {
        let yaml = lbplay(&["scenarios", "--show", id]).unwrap_or_else(|e| panic!("{e}"));
        inputs.push((id.to_string(), yaml));
    }
    let mut failures = Vec::new();
    let mut checked = 0;
    for (input, yaml) in &inputs {
        let mut nodes = node_names(yaml);
        if nodes.is_empty() {
            nodes.push(String::new());
        }
        for node in nodes {
            let mut args = vec!["rules", "--mode", "userspace"];
            if !node.is_empty() {
                args.extend(["--node", node.as_str()]);
            }
            args.push(input);
            let label = format!("{input}, node {}", if node.is_empty() { "(default)" } else { &node });
            let rules = match lbplay(&args) {
                Ok(rules) => rules,
                Err(e) => {
                    println!("FAIL {label}: {e}");
                    failures.push(label);
                    continue;
                }
            };
            checked += 1;
            match restore_and_save(&rules) {
                Ok(saved) if rule_lines(&saved) == rule_lines(&rules) => {
                    println!(
                        "ok   {label}: iptables-save gives back lbplay's {} rule lines",
                        rule_lines(&rules).lines().count()
                    );
                }
                Ok(saved) => {
                    println!(
                        "FAIL {label}\n--- lbplay\n{}--- iptables-save\n{}",
                        rule_lines(&rules),
                        rule_lines(&saved)
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
    assert!(checked > 0, "no ruleset was checked");
    assert!(failures.is_empty(), "{} of {checked} rulesets differ from the kernel's: {failures:?}", failures.len());
}
