//! What the tier-4 test files share: deciding whether the machine can run them, running a tool
//! with standard input, the built `lbplay`, and the node names of a shipped scenario.
//!
//! Each test file includes it with `mod common;` (the cargo convention for code shared by
//! integration tests); a file uses the parts it needs.

#![allow(dead_code, reason = "each test file uses a different part of this module")]

pub(crate) mod harness;

use std::io::Write as _;
use std::process::{Command, Stdio};

/// Why a kernel test cannot run here, if it cannot: it needs `LBPLAY_KERNEL_TESTS=1` (tier 4 of
/// `cargo xtask test` sets it), root, and each of `tools`.
pub(crate) fn skip_reason(tools: &[&str]) -> Option<String> {
    if std::env::var("LBPLAY_KERNEL_TESTS").as_deref() != Ok("1") {
        return Some(
            "kernel differential tests run in tier 4 of `cargo xtask test` (LBPLAY_KERNEL_TESTS is not 1)".into(),
        );
    }
    let uid = Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    if uid.ok().as_deref() != Some("0") {
        return Some("not root".into());
    }
    for tool in tools {
        if Command::new(tool).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_err() {
            return Some(format!("`{tool}` is not installed"));
        }
    }
    None
}

/// Runs `program` with `args`, feeding `stdin`; its standard output, or an error naming the
/// command and what it printed on standard error.
pub(crate) fn run(program: &str, args: &[&str], stdin: Option<&str>) -> Result<String, String> {
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

/// Runs the `lbplay` binary this test was built with.
pub(crate) fn lbplay(args: &[&str]) -> Result<String, String> {
    run(env!("CARGO_BIN_EXE_lbplay"), args, None)
}

/// The node names of a scenario: the `- {name: …, podCIDR: …}` lines of its Cluster object, the
/// one shape the scenarios lbplay ships use. Without any, the default cluster's first node is used.
pub(crate) fn node_names(yaml: &str) -> Vec<String> {
    yaml.lines()
        .filter_map(|line| line.trim().strip_prefix("- {name: "))
        .filter(|rest| rest.contains("podCIDR"))
        .filter_map(|rest| rest.split(',').next())
        .map(|name| name.trim().to_string())
        .collect()
}
