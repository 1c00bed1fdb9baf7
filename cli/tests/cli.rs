//! The command line's own behaviour: its errors, exit statuses, help, and what it does when the
//! reader of its output goes away. Each case runs the built binary and snapshots its status and
//! standard error.

use std::io::Read;
use std::process::{Command, Stdio};

use expect_test::{Expect, expect};

fn lbplay() -> Command {
    Command::new(env!("CARGO_BIN_EXE_lbplay"))
}

/// Runs `lbplay args…` and compares `status: N` and its standard error with `expected`.
fn check(args: &[&str], expected: Expect) {
    let output = lbplay().args(args).output().expect("run lbplay");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let status = output.status.code().map_or("killed".to_string(), |code| code.to_string());
    expected.assert_eq(&format!("status: {status}\n{}", stderr.trim_end()));
}

#[test]
fn a_boolean_flag_takes_no_value() {
    check(
        &["send", "--keep=no", "--from", "pod/client", "--to", "10.96.100.10:80", "clusterip-iptables"],
        expect![[r#"
            status: 2
            error: unexpected value 'no' for '--keep' found; no more were expected

            Usage: lbplay send --from <SRC> --to <DST> --keep <FILE>...

            For more information, try '--help'."#]],
    );
}

#[test]
fn too_many_connections_are_refused_naming_the_flag() {
    check(
        &["send", "--connections", "1000001", "--from", "pod/client", "--to", "10.96.100.10:80", "clusterip-iptables"],
        expect![[r#"
            status: 2
            error: invalid value '1000001' for '--connections <N>': at most 100000 connections: more would run for minutes

            For more information, try '--help'."#]],
    );
    check(
        &["send", "--connections", "0", "--from", "pod/client", "--to", "10.96.100.10:80", "clusterip-iptables"],
        expect![[r#"
            status: 2
            error: invalid value '0' for '--connections <N>': at least one connection is needed

            For more information, try '--help'."#]],
    );
}

#[test]
fn a_bad_value_names_the_flag_and_the_choices() {
    check(
        &["rules", "--mode", "ebpf", "clusterip-iptables"],
        expect![[r#"
            status: 2
            error: invalid value 'ebpf' for '--mode <MODE>'
              [possible values: iptables, ipvs, nftables, userspace]

            For more information, try '--help'."#]],
    );
}

#[test]
fn a_request_the_scenario_cannot_carry_is_status_1() {
    check(
        &["trace", "--from", "pod/nope", "--to", "10.96.100.10:80", "clusterip-iptables"],
        expect![[r#"
            status: 1
            no pod named `nope` (pods: web-a, web-b, web-c, client)"#]],
    );
    check(
        &["rules", "--node", "node-9", "clusterip-iptables"],
        expect![[r#"
            status: 1
            --node: no node named `node-9`; the nodes are node-1, node-2, node-3"#]],
    );
}

#[test]
fn a_missing_file_is_bad_input() {
    check(
        &["check", "/nonexistent/lbplay.yaml"],
        expect![[r#"
            status: 2
            /nonexistent/lbplay.yaml: cannot read: No such file or directory (os error 2)"#]],
    );
}

#[test]
fn help_and_version_exit_0() {
    for args in [&["--help"][..], &["--version"], &["trace", "--help"], &["completions", "fish"]] {
        let output = lbplay().args(args).output().expect("run lbplay");
        assert!(output.status.success(), "lbplay {args:?}: {}", String::from_utf8_lossy(&output.stderr));
        assert!(!output.stdout.is_empty(), "lbplay {args:?} printed nothing");
    }
    let help = lbplay().args(["send", "--help"]).output().expect("run lbplay");
    assert!(String::from_utf8_lossy(&help.stdout).contains("Exit status:"), "send --help documents the exit status");
}

/// Reads the first ten bytes of `lbplay args…`, closes the pipe, and checks that lbplay ends
/// quietly with status 0, as `lbplay … | head -c 10` needs.
fn closes_quietly(args: &[&str]) {
    let mut child = lbplay().args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("run lbplay");
    let mut first = [0u8; 10];
    child.stdout.take().expect("piped").read_exact(&mut first).expect("ten bytes of output");
    // The pipe's reading end is dropped here, as `head -c 10` closes it.
    let output = child.wait_with_output().expect("lbplay ends");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "lbplay {args:?} panicked: {stderr}");
    assert!(stderr.is_empty(), "lbplay {args:?} complained: {stderr}");
    assert_eq!(output.status.code(), Some(0), "lbplay {args:?}");
}

#[test]
fn a_closed_pipe_ends_quietly() {
    closes_quietly(&[
        "trace",
        "--format",
        "json",
        "--from",
        "pod/client",
        "--to",
        "10.96.100.10:80",
        "userspace-retry",
    ]);
    // 3,000 rows of JSON are far more than a pipe holds, so this write does meet the closed pipe.
    closes_quietly(&[
        "send",
        "--format",
        "json",
        "--connections",
        "3000",
        "--from",
        "pod/client",
        "--to",
        "10.96.100.10:80",
        "clusterip-iptables",
    ]);
}

#[cfg(unix)]
#[test]
fn a_file_name_that_is_not_utf8_still_opens_and_pcap_keeps_its_input() {
    use std::ffi::OsString;
    use std::os::unix::ffi::OsStringExt;

    let dir = std::env::temp_dir().join(format!("lbplay-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch directory");
    let file = dir.join(OsString::from_vec(b"caf\xe9.yaml".to_vec()));
    let yaml = lbplay_core::lessons::get("clusterip-iptables").expect("built in").yaml;
    std::fs::write(&file, yaml).expect("write the scenario");

    let check = lbplay().arg("check").arg(&file).output().expect("run lbplay");
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stderr));

    let pcap = lbplay()
        .args(["pcap", "--from", "pod/client", "--to", "10.96.100.10:80", "-o"])
        .arg(&file)
        .arg(&file)
        .output()
        .expect("run lbplay");
    assert_eq!(pcap.status.code(), Some(1), "{}", String::from_utf8_lossy(&pcap.stderr));
    assert!(String::from_utf8_lossy(&pcap.stderr).contains("will not overwrite its own input"));
    assert_eq!(std::fs::read_to_string(&file).expect("still there"), yaml, "the input is untouched");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_file_that_is_not_utf8_is_located() {
    let dir = std::env::temp_dir().join(format!("lbplay-cli-latin-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch directory");
    let file = dir.join("latin1.yaml");
    std::fs::write(&file, b"kind: Service\nmetadata: {name: caf\xe9}\n").expect("write");
    let output = lbplay().arg("check").arg(&file).output().expect("run lbplay");
    let stderr = String::from_utf8_lossy(&output.stderr).replace(&file.to_string_lossy().into_owned(), "FILE");
    expect![[r#"
        FILE:2:21: error: the input is not UTF-8: byte 0xE9 at offset 34 is not valid there (lbplay reads UTF-8, as Kubernetes does); it may be Latin-1 or Windows-1252; convert it with `iconv -f WINDOWS-1252 -t UTF-8`
    "#]]
    .assert_eq(&stderr);
    assert_eq!(output.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(&dir);
}
