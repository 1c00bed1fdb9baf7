//! The second question's lessons rest on one claim: scaling web down from 3 replicas to 1 takes
//! 10.244.2.3 away from every pod and from the EndpointSlice, while the ClusterIP stays. These
//! tests load the lesson's own YAML at both replica counts and check that claim; the two walks
//! themselves (dropped at node-2, delivered through the VIP) are in the lesson snapshots.

use lbplay_core::lessons;
use lbplay_core::scenario::{Source, load};

/// The pods' addresses, the web EndpointSlice's addresses and the ClusterIP at `replicas`.
fn at(replicas: u32) -> (Vec<String>, Vec<String>, String) {
    let yaml = lessons::get("question-vip-dns-vip").expect("the lesson exists").yaml;
    let text = yaml.replace("replicas: 1", &format!("replicas: {replicas}"));
    let loaded = load(&[Source { name: "question-vip-dns.yaml", text: &text }]).unwrap_or_else(|problems| {
        panic!("{}", problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))
    });
    let cluster = &loaded.cluster;
    let mut pods: Vec<String> = cluster
        .pods
        .iter()
        .filter(|pod| pod.labels.get("app").map(String::as_str) == Some("web"))
        .map(|pod| pod.ip.to_string())
        .collect();
    pods.sort();
    let mut slice: Vec<String> = cluster
        .endpoint_slices
        .iter()
        .flat_map(|slice| slice.endpoints.iter().map(|endpoint| endpoint.ip.to_string()))
        .collect();
    slice.sort();
    let vip = cluster.services.iter().map(|service| format!("{:?}", service.cluster_ip)).collect::<Vec<_>>().join(",");
    (pods, slice, vip)
}

#[test]
fn scaling_down_takes_the_cached_address_away_and_keeps_the_vip() {
    let (before_pods, before_slice, before_vip) = at(3);
    let (after_pods, after_slice, after_vip) = at(1);
    assert_eq!(before_pods, ["10.244.1.3", "10.244.2.2", "10.244.2.3"]);
    assert_eq!(before_slice, before_pods);
    assert_eq!(after_pods, ["10.244.2.2"]);
    assert_eq!(after_slice, after_pods);
    assert_eq!(before_vip, after_vip);
    let stale = lessons::get("question-vip-dns-stale").expect("the lesson exists");
    assert_eq!(stale.to, "10.244.2.3:8080");
}
