//! `ipvsadm -Ln`: the IPVS table as the tool prints it, byte for byte.
//!
//! The layout follows ipvsadm 1.31 (ipvsadm.c: `list_all`, `print_title`, `print_service_entry`,
//! `print_sched_flags`; libipvs/libipvs.c: `ipvs_cmp_services`, `ipvs_cmp_dests`). The header's
//! version and size come from the kernel: IPVS version 1.2.1 (`IP_VS_VERSION_CODE`) and the
//! connection table size, 4096 with the default `CONFIG_IP_VS_TAB_BITS` of 12.
//!
//! Sorting has a quirk worth knowing. libipvs compares addresses with
//! `int r = ntohl(a) - ntohl(b)`: the unsigned difference is squeezed into a signed int, so two
//! addresses more than 2^31 apart compare the "wrong" way round. 10.96.100.10 minus 192.168.1.10
//! wraps to a positive number, so a NodePort service on 192.168.1.10 is listed **before** the
//! ClusterIP 10.96.100.10. This module compares the same way and sorts with a top-down merge sort
//! like glibc's classic `qsort` (`msort`); for any set of addresses where the comparison is
//! consistent every sorting algorithm gives the same order.

use std::cmp::Ordering;
use std::fmt::Write as _;
use std::net::SocketAddrV4;

use crate::dataplane::Line;
use crate::net::Proto;
use crate::trace::RuleAt;

use super::{
    Dest, IP_VS_SVC_F_ONEPACKET, IP_VS_SVC_F_PERSISTENT, IP_VS_SVC_F_SCHED1, IP_VS_SVC_F_SCHED2, IP_VS_SVC_F_SCHED3,
    Service,
};

/// The lines `list_all` and `print_title` print before the first service.
const TITLE_LINES: usize = 3;

/// The kernel's connection table size with the default `CONFIG_IP_VS_TAB_BITS` (12).
pub const DEFAULT_CONN_TAB_SIZE: u32 = 4096;

/// `ipvsadm -Ln`: services sorted by protocol, address and port, destinations by address and port.
pub fn render_ipvsadm_ln(services: &[Service]) -> String {
    render(services, true, DEFAULT_CONN_TAB_SIZE)
}

/// `ipvsadm -Ln` line by line, each real server's line carrying its position (`real_server_at`),
/// so that a view can highlight the real server a step chose.
pub fn ipvsadm_ln_lines(services: &[Service]) -> Vec<Line> {
    let mut at = Vec::new();
    let text = render_with(services, true, DEFAULT_CONN_TAB_SIZE, &mut at);
    let mut at = at.into_iter();
    // After the three title lines (the last of which also starts with `  -> `), every `  -> ` line
    // is a real server, in the order `render_with` recorded them.
    text.lines()
        .enumerate()
        .map(|(n, line)| Line {
            text: line.to_string(),
            rule: if n >= TITLE_LINES && line.starts_with("  -> ") { at.next() } else { None },
        })
        .collect()
}

/// Where the `dest`-th real server (in the kernel's list order) of `svc` sits in `ipvsadm_ln_lines`:
/// table `ipvs`, the virtual server as ipvsadm names it (`TCP  10.96.100.10:80`) for chain.
pub fn real_server_at(svc: &Service, dest: usize) -> RuleAt {
    RuleAt { table: "ipvs", chain: format!("{:<4} {}", protocol_name(svc.proto), svc.addr), index: dest }
}

/// `ipvsadm -Ln --nosort`: services in the kernel's order as given, destinations in list order.
/// (The kernel hands out services by walking its hash table, so the caller supplies that order.)
pub fn render_ipvsadm_ln_nosort(services: &[Service]) -> String {
    render(services, false, DEFAULT_CONN_TAB_SIZE)
}

fn render(services: &[Service], sort: bool, conn_tab_size: u32) -> String {
    render_with(services, sort, conn_tab_size, &mut Vec::new())
}

/// The text, and in `at` each printed real server's position, in the order they are printed.
fn render_with(services: &[Service], sort: bool, conn_tab_size: u32, at: &mut Vec<RuleAt>) -> String {
    let mut out = String::new();
    // `list_all`: NVERSION(IP_VS_VERSION_CODE 0x010201) and ip_vs_conn_tab_size.
    let _ = writeln!(out, "IP Virtual Server version 1.2.1 (size={conn_tab_size})");
    // `print_title` without FMT_STATS, FMT_RATE, FMT_THRESHOLDS, FMT_PERSISTENTCONN or FMT_RULE.
    out.push_str("Prot LocalAddress:Port Scheduler Flags\n");
    out.push_str("  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n");
    let mut order: Vec<&Service> = services.iter().collect();
    if sort {
        merge_sort(&mut order, &|a, b| cmp_services(a, b));
    }
    for svc in order {
        print_service_entry(&mut out, svc, sort, at);
    }
    out
}

/// ipvsadm's `protocol_name`.
fn protocol_name(proto: Proto) -> &'static str {
    match proto {
        Proto::Tcp => "TCP",
        Proto::Udp => "UDP",
        Proto::Sctp => "SCTP",
    }
}

/// `print_sched_flags`: sh and mh name their flags, other schedulers print flag-1..3.
fn sched_flags(svc: &Service) -> String {
    let name = svc.scheduler().name();
    let mut flags = Vec::new();
    let f = svc.flags;
    if name == "sh" || name == "mh" {
        if f & IP_VS_SVC_F_SCHED1 != 0 {
            flags.push(format!("{name}-fallback"));
        }
        if f & IP_VS_SVC_F_SCHED2 != 0 {
            flags.push(format!("{name}-port"));
        }
    } else {
        for (bit, label) in
            [(IP_VS_SVC_F_SCHED1, "flag-1"), (IP_VS_SVC_F_SCHED2, "flag-2"), (IP_VS_SVC_F_SCHED3, "flag-3")]
        {
            if f & bit != 0 {
                flags.push(label.to_string());
            }
        }
    }
    flags.join(",")
}

/// `print_service_entry` in the default (numeric) format.
fn print_service_entry(out: &mut String, svc: &Service, sort: bool, at: &mut Vec<RuleAt>) {
    // `snprintf(svc_name, .., "%-4s %s", stype, vname)`, cut at 33 bytes for IPv4.
    let mut svc_name = format!("{:<4} {}", protocol_name(svc.proto), svc.addr);
    svc_name.truncate(33);
    let _ = write!(out, "{svc_name} {}", svc.scheduler().name());
    if svc.flags & (IP_VS_SVC_F_SCHED1 | IP_VS_SVC_F_SCHED2 | IP_VS_SVC_F_SCHED3) != 0 {
        let _ = write!(out, " ({})", sched_flags(svc));
    }
    if svc.flags & IP_VS_SVC_F_PERSISTENT != 0 {
        // kube-proxy's persistence netmask is /32, which ipvsadm does not print; no persistence
        // engine is set either.
        let _ = write!(out, " persistent {}", svc.timeout);
    }
    if svc.flags & IP_VS_SVC_F_ONEPACKET != 0 {
        out.push_str(" ops");
    }
    out.push('\n');
    let mut dests: Vec<(usize, &Dest)> = svc.dests().iter().enumerate().collect();
    if sort {
        merge_sort(&mut dests, &|a, b| cmp_dests(a.1, b.1));
    }
    for (index, d) in dests {
        at.push(real_server_at(svc, index));
        // `"  -> %-28s %-7s %-6d %-10u %-10u\n"`: the last column keeps its padding.
        let mut dname = d.addr.to_string();
        dname.truncate(28);
        let _ = writeln!(
            out,
            "  -> {:<28} {:<7} {:<6} {:<10} {:<10}",
            dname,
            d.forward.name(),
            d.weight,
            d.active_conns,
            d.inactive_conns
        );
    }
}

/// libipvs's `int r = ntohl(a) - ntohl(b)`: the sign of the wrapped 32-bit difference.
fn wrapped_cmp(a: u32, b: u32) -> Ordering {
    (a.wrapping_sub(b) as i32).cmp(&0)
}

/// `ipvs_cmp_services`: fwmark (always 0 here), address family (IPv4 only here), protocol number,
/// address (wrapped, see the module comment), then port.
fn cmp_services(a: &Service, b: &Service) -> Ordering {
    (i32::from(a.proto.number()) - i32::from(b.proto.number()))
        .cmp(&0)
        .then_with(|| wrapped_cmp(u32::from(*a.addr.ip()), u32::from(*b.addr.ip())))
        .then_with(|| port_cmp(a.addr, b.addr))
}

/// `ipvs_cmp_dests`: address (wrapped), then port.
fn cmp_dests(a: &Dest, b: &Dest) -> Ordering {
    wrapped_cmp(u32::from(*a.addr.ip()), u32::from(*b.addr.ip())).then_with(|| port_cmp(a.addr, b.addr))
}

fn port_cmp(a: SocketAddrV4, b: SocketAddrV4) -> Ordering {
    (i32::from(a.port()) - i32::from(b.port())).cmp(&0)
}

/// glibc's `msort_with_tmp`: split into n/2 and n - n/2, sort both halves, merge taking from the
/// left half while `cmp(left, right) <= 0`.
fn merge_sort<T: Copy>(v: &mut [T], cmp: &dyn Fn(T, T) -> Ordering) {
    let n = v.len();
    if n <= 1 {
        return;
    }
    let n1 = n / 2;
    merge_sort(&mut v[..n1], cmp);
    merge_sort(&mut v[n1..], cmp);
    let (left, right) = (v[..n1].to_vec(), v[n1..].to_vec());
    let (mut i, mut j, mut k) = (0, 0, 0);
    while i < left.len() && j < right.len() {
        if cmp(left[i], right[j]) != Ordering::Greater {
            v[k] = left[i];
            i += 1;
        } else {
            v[k] = right[j];
            j += 1;
        }
        k += 1;
    }
    for &x in left[i..].iter().chain(&right[j..]) {
        v[k] = x;
        k += 1;
    }
}
