//! `ipvsadm -Ln` rendering, checked against the format strings of ipvsadm 1.31 (ipvsadm.c) and the
//! sort comparisons of libipvs.

use std::net::SocketAddrV4;

use lbplay_core::ipvs::ipvsadm::render_ipvsadm_ln_nosort;
use lbplay_core::ipvs::{
    Dest, IP_VS_SVC_F_PERSISTENT, IP_VS_SVC_F_SCHED_MH_PORT, IP_VS_SVC_F_SCHED_SH_FALLBACK, IP_VS_SVC_F_SCHED_SH_PORT,
    Scheduler, Service, render_ipvsadm_ln,
};
use lbplay_core::net::Proto;

fn sa(text: &str) -> SocketAddrV4 {
    text.parse().unwrap()
}

/// A kube-proxy style virtual server: endpoints added one by one with weight 1, so the kernel's
/// list is the reverse of `endpoints`.
fn kube_service(proto: Proto, vip: &str, scheduler: Scheduler, flags: u32, endpoints: &[&str]) -> Service {
    let mut svc = Service::new(proto, sa(vip), scheduler, flags, 0);
    for e in endpoints {
        svc.add_dest(Dest::new(sa(e), 1));
    }
    svc
}

const EP: [&str; 3] = ["10.244.3.9:8080", "10.244.1.5:8080", "10.244.2.7:8080"];

#[test]
fn kube_proxy_example() {
    // The column layout is `"  -> %-28s %-7s %-6d %-10u %-10u\n"`, so every destination line ends in
    // the padding of the InActConn column. Destinations are sorted by address (ipvs_cmp_dests).
    // Services are sorted by protocol, then address as `int r = ntohl(a) - ntohl(b)`:
    // 0x0A60640A - 0xC0A8010A wraps to 0x49B86300, a positive int, so 10.96.100.10 sorts after
    // 192.168.1.10 and the NodePort service comes first.
    let services = [
        kube_service(Proto::Tcp, "10.96.100.10:80", Scheduler::Rr, 0, &EP),
        kube_service(Proto::Tcp, "192.168.1.10:30080", Scheduler::Rr, 0, &EP),
    ];
    let expected = "\
IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
TCP  192.168.1.10:30080 rr
  -> 10.244.1.5:8080              Masq    1      0          0         
  -> 10.244.2.7:8080              Masq    1      0          0         
  -> 10.244.3.9:8080              Masq    1      0          0         
TCP  10.96.100.10:80 rr
  -> 10.244.1.5:8080              Masq    1      0          0         
  -> 10.244.2.7:8080              Masq    1      0          0         
  -> 10.244.3.9:8080              Masq    1      0          0         
";
    assert_eq!(render_ipvsadm_ln(&services), expected);
}

#[test]
fn nosort_keeps_the_kernel_list_order() {
    // Added 10.244.3.9, 10.244.1.5, 10.244.2.7: the kernel's list is the reverse.
    let services = [kube_service(Proto::Tcp, "10.96.100.10:80", Scheduler::Rr, 0, &EP)];
    let text = render_ipvsadm_ln_nosort(&services);
    let dests: Vec<&str> = text.lines().skip(4).map(|l| &l[5..20]).collect();
    assert_eq!(dests, ["10.244.2.7:8080", "10.244.1.5:8080", "10.244.3.9:8080"]);
}

#[test]
fn flags_persistence_counts_and_protocols() {
    // ClientIP affinity: `" persistent %u"` after the scheduler. mh with kube-proxy's mh-port flag
    // prints `" (mh-port)"` before any persistence. UDP (17) sorts after TCP (6) whatever the
    // address; SCTP (132) after both and its name fills the whole `%-4s`.
    let mut affinity = kube_service(Proto::Tcp, "10.96.0.20:443", Scheduler::Rr, IP_VS_SVC_F_PERSISTENT, &EP[..1]);
    affinity.timeout = 10800;
    let mut mh = kube_service(Proto::Tcp, "10.96.0.30:80", Scheduler::Mh, IP_VS_SVC_F_SCHED_MH_PORT, &EP[..2]);
    mh.set_conns(0, 12, 345);
    let dns = kube_service(Proto::Udp, "10.96.0.10:53", Scheduler::Wrr, 0, &["10.244.1.2:53"]);
    let sctp = kube_service(
        Proto::Sctp,
        "10.96.0.40:9999",
        Scheduler::Sh,
        IP_VS_SVC_F_SCHED_SH_PORT | IP_VS_SVC_F_SCHED_SH_FALLBACK,
        &[],
    );
    let mut weighted = kube_service(Proto::Tcp, "10.96.0.50:80", Scheduler::Lc, 0x10, &EP[..1]);
    weighted.update_dest(sa(EP[0]), 100, 0, 0);
    let text = render_ipvsadm_ln(&[sctp, dns, mh, weighted, affinity]);
    let expected = "\
IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
TCP  10.96.0.20:443 rr persistent 10800
  -> 10.244.3.9:8080              Masq    1      0          0         
TCP  10.96.0.30:80 mh (mh-port)
  -> 10.244.1.5:8080              Masq    1      12         345       
  -> 10.244.3.9:8080              Masq    1      0          0         
TCP  10.96.0.50:80 lc (flag-2)
  -> 10.244.3.9:8080              Masq    100    0          0         
UDP  10.96.0.10:53 wrr
  -> 10.244.1.2:53                Masq    1      0          0         
SCTP 10.96.0.40:9999 sh (sh-fallback,sh-port)
";
    assert_eq!(text, expected);
}

#[test]
fn ports_and_addresses_close_together_sort_numerically() {
    // Differences below 2^31 keep their sign: 10.96.0.1 < 10.96.0.10 < 10.96.0.2 is wrong for
    // strings but right here, 10.96.0.1 < 10.96.0.2 < 10.96.0.10; equal addresses sort by port.
    let services: Vec<Service> = ["10.96.0.10:80", "10.96.0.2:443", "10.96.0.2:80", "10.96.0.1:8080"]
        .iter()
        .map(|v| kube_service(Proto::Tcp, v, Scheduler::Rr, 0, &[]))
        .collect();
    let text = render_ipvsadm_ln(&services);
    let lines: Vec<&str> = text.lines().skip(3).collect();
    assert_eq!(
        lines,
        ["TCP  10.96.0.1:8080 rr", "TCP  10.96.0.2:80 rr", "TCP  10.96.0.2:443 rr", "TCP  10.96.0.10:80 rr"]
    );
}
