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

use std::io::Write as _;
use std::process::{Command, Stdio};

/// Why the test cannot run here, if it cannot.
fn skip_reason() -> Option<String> {
    if std::env::var("LBPLAY_KERNEL_TESTS").as_deref() != Ok("1") {
        return Some("LBPLAY_KERNEL_TESTS is not 1".into());
    }
    let uid = Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    if uid.ok().as_deref() != Some("0") {
        return Some("not root".into());
    }
    for tool in ["ip", "iptables-restore", "iptables-save"] {
        if Command::new(tool).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_err() {
            return Some(format!("`{tool}` is not installed"));
        }
    }
    None
}

fn run(program: &str, args: &[&str], stdin: Option<&str>) -> Result<String, String> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("could not run {program}: {e}"))?;
    if let Some(text) = stdin {
        child.stdin.take().expect("stdin is piped").write_all(text.as_bytes()).map_err(|e| e.to_string())?;
    } else {
        drop(child.stdin.take());
    }
    let output = child.wait_with_output().map_err(|e| e.to_string())?;
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

fn lbplay(args: &[&str]) -> Result<String, String> {
    run(env!("CARGO_BIN_EXE_lbplay"), args, None)
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

/// The node names of a scenario: the `- {name: …, podCIDR: …}` lines of its Cluster object, the
/// one shape the scenarios lbplay ships use. Without any, the default cluster's first node is used.
fn node_names(yaml: &str) -> Vec<String> {
    yaml.lines()
        .filter_map(|line| line.trim().strip_prefix("- {name: "))
        .filter(|rest| rest.contains("podCIDR"))
        .filter_map(|rest| rest.split(',').next())
        .map(|name| name.trim().to_string())
        .collect()
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
