//! `lbplay compare`: snapshots of the side-by-side table and of the scaling table.
//!
//! The side-by-side table is checked on the spec's running example (the built-in scenario
//! `clusterip-iptables`) and on the userspace test scenario, whose web-b refuses connections.
//! The scaling table is checked for 10, 100 and 1,000 Services, to keep the debug-build test
//! short; the default `--scaling` run adds 10,000.

use expect_test::{Expect, expect};

fn lbplay(args: &[&str]) -> String {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_lbplay")).args(args).output().expect("run lbplay");
    assert!(output.status.success(), "lbplay {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn check(args: &[&str], expect: Expect) {
    expect.assert_eq(&lbplay(args));
}

const RETRY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../core/tests/data/userspace/retry.yaml");

#[test]
fn the_running_example_under_each_mode() {
    check(
        &["compare", "clusterip-iptables"],
        expect![[r#"
            default/web:http at 10.96.100.10:80 (TCP), first packet from pod/client; rules counted on node-1

                                            userspace (removed v1.26)    iptables               ipvs (deprecated v1.35)                                        nftables
            ---------------------------------------------------------------------------------------------------------------------------------------------------------------------------
            rules written on the node       10 rules, 1 proxy socket     37 rules               33 rules, 4 ipset entries, 3 virtual servers (9 real servers)  33 rules, 4 map elements
            rules evaluated (first packet)  7                            29                     29                                                             27
            hash/map lookups                0                            0                      1 (IPVS hash)                                                  2 (verdict maps)
            source address the pod sees     10.244.1.1                   10.244.1.20            10.244.1.20                                                    10.244.1.20
            retry on a dead endpoint        yes: up to 4 dials           no                     no                                                             no
            load-balancing decision         kube-proxy's LoadBalancerRR  statistic match rules  IPVS scheduler rr                                              numgen random mod 3

            rules evaluated: every rule the first packet was matched against on its way to the pod (matched rules and those skipped before them), on every node it crossed.
        "#]],
    );
}

#[test]
fn a_service_with_a_refusing_endpoint_from_the_node() {
    check(
        &["compare", "--service", "default/web", "--from", "node/node-2", "--seed", "3", RETRY],
        expect![[r#"
            default/web:http at 10.96.100.10:80 (TCP), first packet from node/node-2; rules counted on node-2

                                            userspace (removed v1.26)    iptables               ipvs (deprecated v1.35)                                          nftables
            -----------------------------------------------------------------------------------------------------------------------------------------------------------------------------
            rules written on the node       17 rules, 2 proxy sockets    49 rules               38 rules, 12 ipset entries, 6 virtual servers (17 real servers)  43 rules, 8 map elements
            rules evaluated (first packet)  9                            17                     19                                                               18
            hash/map lookups                0                            0                      1 (IPVS hash)                                                    2 (verdict maps)
            source address the pod sees     10.244.2.1                   10.244.2.1             10.244.2.1                                                       10.244.2.1
            retry on a dead endpoint        yes: up to 4 dials           no                     no                                                               no
            load-balancing decision         kube-proxy's LoadBalancerRR  statistic match rules  IPVS scheduler rr                                                numgen random mod 3

            rules evaluated: every rule the first packet was matched against on its way to the pod (matched rules and those skipped before them), on every node it crossed.
        "#]],
    );
}

#[test]
fn scaling_to_a_thousand_services() {
    check(
        &["compare", "--scaling", "--sizes", "10,100,1000"],
        expect![[r#"
            A first packet from node-1 to the last Service of KUBE-SERVICES (synthetic::last_service), 10 endpoints per Service.

            Services  mode       rules written  rules evaluated  published figures (spec/kube-proxy.md §7)
            --------------------------------------------------------------------------------------------------------------------------------------------------------
            10        userspace  25             23
            10        iptables   343            26
            10        ipvs       262            9
            10        nftables   264            14
            100       userspace  205            203
            100       iptables   3,223          116
            100       ipvs       2,332          9
            100       nftables   2,424          14
            1,000     userspace  2,005          2,003
            1,000     iptables   32,023         1,016            flftuu.com 2019: adding one rule took 1302 ms; vendors advise IPVS or nftables above ~1000 Services
            1,000     ipvs       23,032         9                vendor guidance: prefer IPVS (or nftables) above ~1000 Services
            1,000     nftables   24,024         14

            rules written: iptables and userspace count iptables rules; nftables adds set and map elements; ipvs adds ipset entries, virtual servers and real servers.
            userspace: the nat rules to kube-proxy's socket (its portals are as linear as KUBE-SERVICES) and those its own connection to the pod meets.
            Published figures as spec/kube-proxy.md §7 cites them: the Kubernetes blog "NFTables mode for kube-proxy" (2025-02-28), KEP-3453, vendor guidance (Huawei Cloud CCE, AWS EKS), and a 2019 flftuu.com benchmark (secondary, URL not retained).
        "#]],
    );
}

#[test]
fn bad_arguments_are_errors() {
    for args in [
        &["compare", "--service", "web", "clusterip-iptables"][..],
        &["compare", "--service", "default/nope", "clusterip-iptables"],
        &["compare", "--scaling", "--sizes", "10,x"],
    ] {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_lbplay")).args(args).output().expect("run lbplay");
        assert!(!output.status.success(), "lbplay {args:?} should fail");
    }
}
