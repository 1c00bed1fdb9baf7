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
    for tool in ["ip", "ipset", "iptables-restore"] {
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

/// The `name:` of each entry of the Cluster object's `spec.nodes` (a line scan that is enough for
/// lbplay's own scenarios; kernel.rs has the same helper).
fn node_names(yaml: &str) -> Vec<String> {
    let Some(cluster) = yaml.split("\n---").find(|doc| doc.lines().any(|l| l.trim() == "kind: Cluster")) else {
        return Vec::new();
    };
    let indent = |line: &str| line.len() - line.trim_start().len();
    let mut names = Vec::new();
    let mut nodes_at = None;
    for line in cluster.lines().filter(|l| !l.trim().is_empty() && !l.trim().starts_with('#')) {
        let trimmed = line.trim();
        match nodes_at {
            None if trimmed == "nodes:" => nodes_at = Some(indent(line)),
            None => {}
            Some(at) if indent(line) < at || (indent(line) == at && !trimmed.starts_with('-')) => break,
            Some(_) => {
                let item = trimmed.trim_start_matches("- ").trim_start_matches('{');
                if let Some(name) = item.split(',').map(str::trim).find_map(|field| field.strip_prefix("name:")) {
                    names.push(name.trim().trim_end_matches('}').trim().trim_matches(['"', '\'']).to_string());
                }
            }
        }
    }
    names
}
