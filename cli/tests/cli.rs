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

            Usage: lbplay send --keep <FILE>...

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

/// Issue 11's bad input for HTTP: each is status 2 with a message naming the argument.
#[test]
fn a_bad_url_header_or_name_is_bad_input() {
    let trace = |extra: &[&str], expected: Expect| {
        let mut args = vec!["trace", "--from", "pod/client"];
        args.extend_from_slice(extra);
        args.push("clusterip-iptables");
        check(&args, expected);
    };
    trace(
        &["--to", "http://web:0/"],
        expect![[r#"
        status: 2
        --to `http://web:0/`: `0` is not a port (1–65535)"#]],
    );
    trace(
        &["--to", "gopher://web/"],
        expect![[r#"
        status: 2
        --to `gopher://web/`: the scheme `gopher` is not one lbplay sends; use http, https, h2c or grpc"#]],
    );
    trace(
        &["--to", "http://web/", "--header", "NoColon"],
        expect![[r#"
        status: 2
        error: invalid value 'NoColon' for '--header <NAME: VALUE>': --header `NoColon` has no colon: write it as 'Name: value'

        For more information, try '--help'."#]],
    );
    trace(
        &["--to", "http://nowhere/"],
        expect![[r#"
        status: 2
        --to: `nowhere` does not resolve from pod/client: cluster DNS answered NXDOMAIN for nowhere.default.svc.cluster.local, nowhere.svc.cluster.local, nowhere.cluster.local, nowhere; use an IP address, or --resolve nowhere:80:ADDRESS"#]],
    );
    trace(
        &["--to", "https://web/"],
        expect![[r#"
            status: 2
            --to `https://web/`: lbplay walks http://, h2c:// and grpc:// requests; https:// (TLS) is not walked yet"#]],
    );
    check(
        &["trace", "--from", "node/node-1", "--to", "http://web/", "clusterip-iptables"],
        expect![[r#"
        status: 2
        --to: `web` does not resolve from node/node-1: cluster DNS answers pods, and a node or a client outside the cluster asks its own resolver; use an IP address, or --resolve web:80:ADDRESS"#]],
    );
    check(
        &["send", "--from", "pod/client", "--to", "http://web/", "clusterip-iptables"],
        expect![[r#"
        status: 2
        --to `http://web/` is a URL: say how many requests to send with --requests N"#]],
    );
    check(
        &["send", "--from", "pod/client", "--to", "10.96.100.10:80", "--requests", "3", "clusterip-iptables"],
        expect![[r#"
        status: 2
        --requests needs an http:// URL in --to, not `10.96.100.10:80`; to open connections to IP:PORT, use --connections alone"#]],
    );
}

/// The contract's JSON for an HTTP trace: `outcome.http`, and the request on the steps that send
/// and receive it.
#[test]
fn an_http_trace_reports_the_status_the_service_and_the_pod() {
    let output = lbplay()
        .args([
            "trace",
            "--from",
            "pod/client",
            "--to",
            "http://web.default.svc.cluster.local/hello",
            "--format",
            "json",
        ])
        .arg("clusterip-iptables")
        .output()
        .expect("run lbplay");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let trace: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let http = &trace["outcome"]["http"];
    assert_eq!(http["status"], 200);
    assert_eq!(http["backend"], "default/web:80");
    assert_eq!(http["pod"], trace["outcome"]["delivered_to"]);
    let sent: Vec<&serde_json::Value> =
        trace["steps"].as_array().expect("steps").iter().filter(|s| !s["request"].is_null()).collect();
    assert_eq!(sent.len(), 2, "the request's send and delivery");
    assert_eq!(sent[0]["request"]["before"]["path"], "/hello");
    assert_eq!(sent[0]["request"]["before"]["authority"], "web.default.svc.cluster.local");
    let send = lbplay()
        .args(["send", "--from", "pod/client", "--to", "http://web/", "--requests", "4", "--connections", "2"])
        .args(["--format", "json", "clusterip-ipvs"])
        .output()
        .expect("run lbplay");
    assert!(send.status.success(), "{}", String::from_utf8_lossy(&send.stderr));
    let sent: serde_json::Value = serde_json::from_slice(&send.stdout).expect("JSON");
    let rows = sent["requests"].as_array().expect("requests");
    assert_eq!(rows.len(), 4);
    // Requests on one connection reach one pod: connection 0 carries requests 0 and 2.
    assert_eq!(rows[0]["connection"], 0);
    assert_eq!(rows[2]["connection"], 0);
    assert_eq!(rows[0]["backend"], rows[2]["backend"]);
    assert_eq!(rows[1]["backend"], rows[3]["backend"]);
    assert_ne!(rows[0]["backend"], rows[1]["backend"], "IPVS's rr gives the second connection the next pod");
    let total: u64 = sent["counts"].as_object().expect("counts").values().map(|n| n.as_u64().unwrap_or(0)).sum();
    assert_eq!(total, 4);
}

#[test]
fn an_ingress_request_walks_through_the_controller() {
    let output = lbplay()
        .args([
            "trace",
            "--from",
            "client/laptop",
            "--to",
            "http://foo.bar.com/bar",
            "--format",
            "json",
            "ingress-fanout",
        ])
        .output()
        .expect("run lbplay");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let trace: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(trace["outcome"]["http"]["backend"], "default/s2:80");
    let steps = trace["steps"].as_array().expect("steps");
    let stages: Vec<&str> = steps.iter().filter(|s| s["kind"] == "proxy").filter_map(|s| s["stage"].as_str()).collect();
    assert_eq!(stages, ["accept", "server", "location", "balancer", "dial", "relay", "relay", "relay"]);
    let location = steps.iter().find(|s| s["stage"] == "location").expect("a location step");
    assert_eq!(location["rule"], "location = \"/bar\"");
    let proxied = steps.iter().find(|s| s["verdict"] == "REQUEST →").expect("the proxied request");
    let headers = proxied["request"]["after"]["headers"].as_array().expect("headers");
    assert!(headers.iter().any(|h| h[0] == "X-Forwarded-For"), "{headers:?}");
    assert!(
        proxied["request"]["before"]["headers"].as_array().expect("headers").iter().all(|h| h[0] != "X-Forwarded-For")
    );
    // The controller's own connection (1) reaches the pod at its Pod IP: no step rewrites it.
    assert!(
        steps.iter().filter(|s| s["connection"] == 1 && s["kind"] == "netfilter").all(|s| s["before"] == s["after"])
    );

    let rules = lbplay().args(["rules", "--ingress", "ingress-fanout"]).output().expect("run lbplay");
    let text = String::from_utf8_lossy(&rules.stdout);
    assert!(text.contains("server_name \"foo.bar.com\" ;") && text.contains("location = \"/bar\" {"), "{text}");
    check(
        &["rules", "--ingress", "clusterip-iptables"],
        expect![[r#"
            status: 1
            --ingress: the scenario has no Ingress, so ingress-nginx renders no server"#]],
    );
    let check_out = lbplay().args(["check", "ingress-vhosts"]).output().expect("run lbplay");
    let text = String::from_utf8_lossy(&check_out.stdout);
    assert!(text.contains("NAMESPACE   NAME   CLASS   HOSTS                     ADDRESS        PORTS   AGE"), "{text}");
    assert!(text.contains("Default backend:  <default>"), "{text}");
}
