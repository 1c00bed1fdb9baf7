//! istio-iptables' own goldens (istio/istio@86c9f01, tools/istio-iptables/pkg/capture/testdata
//! and cni/pkg/plugin/testdata, normalised by `iptables-save` as `data/mesh/cases.json` says):
//! every case REDIRECT mode and the traffic annotations can express is built by
//! `mesh::iptables::build` and compared rule for rule with what the kernel saved back.

use lbplay_core::mesh::inject;
use lbplay_core::mesh::iptables::{self, Capture, OrAll};
use lbplay_core::net::Ipv4Net;
use serde_json::Value;
use std::collections::BTreeMap;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/mesh");

fn cases() -> serde_json::Map<String, Value> {
    let text = std::fs::read_to_string(format!("{DATA}/cases.json")).expect("cases.json is test data");
    let all: Value = serde_json::from_str(&text).expect("cases.json is JSON");
    all["cases"].as_object().expect("cases is an object").clone()
}

fn list<T: std::str::FromStr>(text: &str) -> Vec<T> {
    text.split(',').filter(|s| !s.is_empty()).map(|s| s.parse().ok().expect("a valid item")).collect()
}

/// The case's configuration as a `Capture`, or why lbplay does not model it.
fn capture_of(config: &Value) -> Result<Capture, String> {
    let s = |key: &str| config[key].as_str().unwrap_or("").to_string();
    if s("InboundInterceptionMode") == "TPROXY" {
        return Err("TPROXY interception".into());
    }
    if config["RedirectDNS"].as_bool() == Some(true) {
        return Err("DNS capture".into());
    }
    if s("ProxyUID").contains(',') {
        return Err("several proxy uids".into());
    }
    let or_all = |text: String| if text == "*" { OrAll::All } else { OrAll::Only(list(&text)) };
    Ok(Capture {
        proxy_port: s("ProxyPort").parse().expect("port"),
        inbound_capture_port: s("InboundCapturePort").parse().expect("port"),
        inbound_tunnel_port: s("InboundTunnelPort").parse().expect("port"),
        proxy_uid: s("ProxyUID").parse().expect("uid"),
        proxy_gid: s("ProxyGID").parse().expect("gid"),
        inbound_ports_include: or_all(s("InboundPortsInclude")),
        inbound_ports_exclude: list(&s("InboundPortsExclude")),
        outbound_ip_ranges_include: match s("OutboundIPRangesInclude").as_str() {
            "*" => OrAll::All,
            text => OrAll::Only(list::<Ipv4Net>(text)),
        },
        outbound_ip_ranges_exclude: list(&s("OutboundIPRangesExclude")),
        outbound_ports_include: list(&s("OutboundPortsInclude")),
        outbound_ports_exclude: list(&s("OutboundPortsExclude")),
        host_ipv4_loopback_cidr: s("HostIPv4LoopbackCidr").parse().expect("cidr"),
    })
}

fn golden(name: &str) -> String {
    std::fs::read_to_string(format!("{DATA}/{name}.iptables-save")).expect("golden is test data")
}

/// Builds the case and compares it with its golden; returns the line count compared.
fn check(name: &str, capture: &Capture, expect: &str) -> usize {
    let got = iptables::save_text(&iptables::build(capture));
    if got != expect {
        let diff: Vec<String> = got
            .lines()
            .zip(expect.lines().chain(std::iter::repeat("<missing>")))
            .filter(|(g, e)| g != e)
            .map(|(g, e)| format!("  got    {g}\n  expect {e}"))
            .collect();
        panic!("{name}: differs from istio-iptables\n{}\n--- got\n{got}--- expect\n{expect}", diff.join("\n"));
    }
    expect.lines().count()
}

#[test]
fn every_expressible_upstream_case_matches_rule_for_rule() {
    let mut checked = Vec::new();
    let mut skipped = Vec::new();
    for (name, case) in cases() {
        match capture_of(&case["config"]) {
            Ok(capture) => {
                check(&name, &capture, &golden(&name));
                checked.push(name);
            }
            Err(why) => skipped.push(format!("{name} ({why})")),
        }
    }
    println!("checked {}: {}; not modelled: {}", checked.len(), checked.join(", "), skipped.join(", "));
    // Eight of the eleven cases are REDIRECT mode without DNS capture.
    assert_eq!(checked.len(), 8, "checked {checked:?}, skipped {skipped:?}");
}

/// The injector's istio-init for the CNI cases' annotations: the same rules as the CNI plugin's
/// except that the template writes `-d 15090,15021,…,15020` and no `-o 15020` (cases.json,
/// `relation_to_injected_init_container`), so the golden is adjusted by exactly that.
#[test]
fn injected_init_container_follows_the_annotations() {
    let mut checked = 0;
    for (name, case) in cases() {
        let Some(annotations) = case["pod"]["annotations"].as_object() else { continue };
        if annotations.contains_key("sidecar.istio.io/interceptionMode")
            || !case["pod"]["istio_proxy_env"].as_array().is_none_or(|env| env.is_empty())
        {
            continue;
        }
        let mut map = BTreeMap::new();
        for (key, value) in annotations {
            map.insert(key.clone(), value.as_str().unwrap_or("").to_string());
        }
        let capture = inject::capture(Some(&map)).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        let inbound_order = ["15090", "15021", "15020"];
        let mut expect: Vec<String> = Vec::new();
        let mut inbound_returns = Vec::new();
        for line in golden(&name).lines() {
            let is_status_pair = line.starts_with("-A ISTIO_OUTPUT -p") && line.contains("--dport 15020 -j RETURN");
            if is_status_pair && !map.contains_key(inject::EXCLUDE_OUTBOUND_PORTS) {
                continue;
            }
            if line.starts_with("-A ISTIO_INBOUND")
                && inbound_order.iter().any(|p| line.ends_with(&format!("--dport {p} -j RETURN")))
            {
                inbound_returns.push(line.to_string());
                if inbound_returns.len() == inbound_order.len() {
                    for port in inbound_order {
                        let found =
                            inbound_returns.iter().find(|l| l.contains(&format!("--dport {port} "))).expect("port");
                        expect.push(found.clone());
                    }
                }
                continue;
            }
            expect.push(line.to_string());
        }
        let expect = expect.join("\n") + "\n";
        check(&name, &capture, &expect);
        checked += 1;
    }
    // cni-basic, cni-include-exclude-ip and cni-include-exclude-ports.
    assert_eq!(checked, 3);
}
