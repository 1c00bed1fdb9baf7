//! Choice sequences of every kernel IPVS scheduler, each derived by hand from the kernel source.
//!
//! The destinations are called A, B, C and D (10.244.1.5, 10.244.2.7, 10.244.3.9 and 10.244.4.2,
//! port 8080). Unless a test says otherwise the list order is A, B, C, D, head first, which is what
//! the kernel holds after adding D, C, B, A in that order (new destinations go to the head).
//! Every expected vector carries a comment that walks the kernel's code to it.

use std::net::{Ipv4Addr, SocketAddrV4};

use lbplay_core::ipvs::sched::{
    Input, MH_KEY1, MH_KEY2, SchedState, dh_hashkey, hash_32, hsiphash_u32, mh_offset_skip, random_u32_below,
    sh_hashkey,
};
use lbplay_core::ipvs::{
    Dest, IP_VS_SVC_F_SCHED_MH_FALLBACK, IP_VS_SVC_F_SCHED_MH_PORT, IP_VS_SVC_F_SCHED_SH_FALLBACK,
    IP_VS_SVC_F_SCHED_SH_PORT, Scheduler, Service,
};
use lbplay_core::net::Proto;
use lbplay_core::rng::Rng;

const VIP: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(10, 96, 100, 10), 80);
const CLIENT: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(10, 244, 0, 20), 40000);

fn addr(label: char) -> SocketAddrV4 {
    let ip = match label {
        'A' => Ipv4Addr::new(10, 244, 1, 5),
        'B' => Ipv4Addr::new(10, 244, 2, 7),
        'C' => Ipv4Addr::new(10, 244, 3, 9),
        'D' => Ipv4Addr::new(10, 244, 4, 2),
        _ => panic!("unknown destination {label}"),
    };
    SocketAddrV4::new(ip, 8080)
}

fn label(svc: &Service, index: Option<usize>) -> char {
    match index {
        None => '-',
        Some(i) => ['A', 'B', 'C', 'D'].into_iter().find(|&l| addr(l) == svc.dests()[i].addr).unwrap(),
    }
}

/// A destination given as "A4" (weight 4), "B0" (weight 0), "C1!" (weight 1, OVERLOAD) or
/// "A1:2/3" (weight 1, 2 active and 3 inactive connections).
fn dest(spec: &str) -> Dest {
    let mut chars = spec.chars();
    let l = chars.next().unwrap();
    let rest: String = chars.collect();
    let (rest, overloaded) = match rest.strip_suffix('!') {
        Some(r) => (r.to_string(), true),
        None => (rest, false),
    };
    let (weight, conns) = match rest.split_once(':') {
        Some((w, c)) => (w, Some(c)),
        None => (rest.as_str(), None),
    };
    let mut d = Dest::new(addr(l), weight.parse().unwrap());
    if let Some(c) = conns {
        let (a, i) = c.split_once('/').unwrap();
        d = d.with_conns(a.parse().unwrap(), i.parse().unwrap());
    }
    if overloaded {
        d = d.overloaded();
    }
    d
}

/// A service whose scheduler is bound to the finished list `specs` (head first).
fn service(scheduler: Scheduler, specs: &str, flags: u32) -> Service {
    Service::with_dests(Proto::Tcp, VIP, scheduler, flags, specs.split_whitespace().map(dest).collect(), 0)
}

/// The data-driven helper: schedules `expected.len()` new connections from `CLIENT` and compares
/// the picks ("A B -" where "-" is "no destination"). With `open`, each pick's connection is
/// opened and kept open, so the active counts grow as the kernel's would.
fn check(svc: &mut Service, open: bool, expected: &str) {
    let mut rng = Rng::new(1);
    let mut got = Vec::new();
    for _ in expected.split_whitespace() {
        let decision = svc.schedule(CLIENT, 0, &mut rng);
        if open && let Some(i) = decision.chosen {
            svc.conn_open(i);
        }
        got.push(label(svc, decision.chosen).to_string());
    }
    assert_eq!(got.join(" "), expected, "scheduler {}", svc.scheduler());
}

fn seq(scheduler: Scheduler, specs: &str, expected: &str) {
    check(&mut service(scheduler, specs, 0), false, expected);
}

// ------------------------------------------------------------------------------------------------
// Names.

#[test]
fn names_round_trip_and_empty_means_rr() {
    for s in Scheduler::ALL {
        assert_eq!(Scheduler::parse(s.name()), Some(s));
    }
    // kube-proxy (pkg/proxy/ipvs/proxier.go) turns an empty scheduler into "rr".
    assert_eq!(Scheduler::parse(""), Some(Scheduler::Rr));
    assert_eq!(Scheduler::parse("RR"), None);
    assert_eq!(Scheduler::ALL.map(Scheduler::name).join(","), "rr,wrr,lc,wlc,sed,nq,dh,sh,lblc,lblcr,mh,fo,ovf,twos");
}

// ------------------------------------------------------------------------------------------------
// rr (ip_vs_rr.c).

#[test]
fn rr_sequences() {
    // init_service puts the position at the list head, so the first walk starts at A; each pick
    // becomes the position and the next walk starts after it, wrapping past the head.
    seq(Scheduler::Rr, "A1 B1 C1", "A B C A B C A");
    // Weights do not matter to rr beyond "> 0".
    seq(Scheduler::Rr, "A5 B1 C3", "A B C A B C");
    // A weight-0 destination is passed over (`atomic_read(&dest->weight) > 0`).
    seq(Scheduler::Rr, "A1 B0 C1", "A C A C");
    // So is an OVERLOAD one.
    seq(Scheduler::Rr, "A1 B1! C1", "A C A C");
    // With nothing usable the walk comes back to where it started: "no destination available".
    seq(Scheduler::Rr, "A0 B0 C1!", "- -");
}

#[test]
fn rr_position_survives_list_changes() {
    let mut svc = service(Scheduler::Rr, "A1 B1 C1", 0);
    check(&mut svc, false, "A B");
    // ip_vs_rr_del_dest: the position was B, so it moves to B's predecessor A; the next walk starts
    // after A in the list [A, C], giving C, then wraps to A.
    svc.remove_dest(addr('B'));
    check(&mut svc, false, "C A");
    // rr has no add_dest hook: D goes to the head ([D, A, C]) and the position stays A, so the
    // walk continues with C, wraps to D, then A.
    svc.add_dest(Dest::new(addr('D'), 1));
    check(&mut svc, false, "C D A C");
}

// ------------------------------------------------------------------------------------------------
// wrr (ip_vs_wrr.c).

#[test]
fn wrr_sequences() {
    // Weights 4,3,2: gcd di = 1, mw = 4 - (1 - 1) = 4, cw starts at mw. The scan looks for
    // weight >= cw from the current position to the end of the list; at the end cw -= di and the
    // scan restarts at the head. cw=4: A. Rest of the list has nothing >= 4, cw=3: A, B. cw=2: A, B,
    // C. cw=1: A, B, C. cw=0 wraps to mw=4: the cycle repeats.
    seq(Scheduler::Wrr, "A4 B3 C2", "A A B A B C A B C A A B");
    // Weights 4,2,2: di = 2, mw = 4 - 1 = 3. cw=3: A. cw=1 (3-2): A, B, C. cw=-1 wraps to 3: A ...
    seq(Scheduler::Wrr, "A4 B2 C2", "A A B C A A B C");
    // Weights 5,1,1: di = 1, mw = 5. cw=5..2 pick only A (4 more times after the first), cw=1
    // picks B and C: AAAAABC.
    seq(Scheduler::Wrr, "A5 B1 C1", "A A A A A B C A");
    // Weights 1,1,1 behave as rr.
    seq(Scheduler::Wrr, "A1 B1 C1", "A B C A");
    // A zero weight never satisfies weight >= cw (cw >= 1): weights 2,0,1 give cw=2: A; cw=1: A, C.
    seq(Scheduler::Wrr, "A2 B0 C1", "A A C A A C");
    // An OVERLOAD destination is skipped; when it is the only one left the scan tries cw = mw
    // down to 1 and then fails ("all destinations are overloaded").
    seq(Scheduler::Wrr, "A1! B1", "B B B");
    seq(Scheduler::Wrr, "A1! B1!", "- -");
    // All weights 0: di = 1, mw = 0, so schedule fails at once ("no destination available").
    seq(Scheduler::Wrr, "A0 B0", "-");
}

#[test]
fn wrr_added_one_by_one_starts_mid_cycle() {
    // kube-proxy creates the virtual server first and then adds each real server, so wrr's
    // add_dest hook runs per destination. Empty service: di = 1, mw = 0, cw = 0.
    // Add C(2): di = 2, mw = 1, cw was 0 so cw = mw = 1.
    // Add B(3): di = 1, mw = 3, cw = 1 is neither 0 nor > mw and di = 1: cw stays 1.
    // Add A(4): di = 1, mw = 4, cw stays 1. The list is [A, B, C].
    // So the first scan runs with cw = 1: A, B, C; then cw wraps to mw = 4 and the usual cycle
    // A A B A B C A B C follows. Binding wrr to the finished list would start at cw = 4 instead.
    let mut svc = Service::new(Proto::Tcp, VIP, Scheduler::Wrr, 0, 0);
    for spec in ["C2", "B3", "A4"] {
        svc.add_dest(dest(spec));
    }
    assert_eq!(svc.dests().iter().map(|d| d.addr).collect::<Vec<_>>(), [addr('A'), addr('B'), addr('C')]);
    check(&mut svc, false, "A B C A A B A B C A B C");
}

#[test]
fn wrr_weight_change_resets_position() {
    let mut svc = service(Scheduler::Wrr, "A1 B1 C1", 0);
    check(&mut svc, false, "A B");
    // upd_dest runs ip_vs_wrr_dest_changed: cl goes back to the head and, weights being 1,1,1, cw
    // stays 1. The next scan starts at the head again, so A comes before C.
    svc.update_dest(addr('B'), 1, 0, 0);
    check(&mut svc, false, "A B C");
}

// ------------------------------------------------------------------------------------------------
// lc, wlc, sed, nq.

#[test]
fn lc_follows_connection_counts() {
    // lc takes the smallest 256*active + inactive, the earlier one on a tie. Opening each pick's
    // connection (TCP counts as active from the SYN): all 0 → A; A=256 → B; A=B=256 → C;
    // all 256 → A; A=512 → B; → C.
    let mut svc = service(Scheduler::Lc, "A1 B1 C1", 0);
    check(&mut svc, true, "A B C A B C");
    // One closed connection is worth 1, an open one 256: A (0 active, 300 inactive) = 300 loses
    // to B (1 active) = 256.
    seq(Scheduler::Lc, "A1:0/300 B1:1/0", "B");
    // lc ignores weights except 0 (`weight == 0` is skipped): A5 and B1 tie at 0, A wins by order.
    seq(Scheduler::Lc, "A5 B1", "A A");
    seq(Scheduler::Lc, "A0 B1:3/0 C1!", "B");
    seq(Scheduler::Lc, "A0 B0", "-");
}

#[test]
fn lc_close_and_expire() {
    let mut svc = service(Scheduler::Lc, "A1 B1", 0);
    let mut rng = Rng::new(0);
    // A gets the first connection (tie, earlier), B the second.
    let first = svc.schedule(CLIENT, 0, &mut rng).chosen.unwrap();
    let mut conn_a = svc.conn_open(first);
    let second = svc.schedule(CLIENT, 0, &mut rng).chosen.unwrap();
    svc.conn_open(second);
    assert_eq!((label(&svc, Some(first)), label(&svc, Some(second))), ('A', 'B'));
    // The client closes A's connection: FIN moves it out of an active TCP state, so A counts
    // 0 active and 1 inactive (overhead 1) against B's 256: A is chosen.
    svc.conn_close(&mut conn_a);
    assert_eq!((svc.dests()[0].active_conns, svc.dests()[0].inactive_conns), (0, 1));
    check(&mut svc, false, "A");
    // When the entry expires it is unbound and A's counters are back to zero.
    svc.conn_expire(conn_a);
    assert_eq!((svc.dests()[0].active_conns, svc.dests()[0].inactive_conns), (0, 0));
}

#[test]
fn udp_connections_only_ever_count_as_inactive() {
    // ip_vs_proto_udp.c has no active state: a UDP entry stays IP_VS_CONN_F_INACTIVE from bind to
    // expiry, so lc compares inactive counts only: A=1 → B; A=B=1 → A; A=2 → B.
    let mut svc = Service::with_dests(
        Proto::Udp,
        VIP,
        Scheduler::Lc,
        0,
        vec![Dest::new(addr('A'), 1), Dest::new(addr('B'), 1)],
        0,
    );
    check(&mut svc, true, "A B A B");
    assert_eq!((svc.dests()[0].active_conns, svc.dests()[0].inactive_conns), (0, 2));
}

#[test]
fn wlc_sed_nq() {
    // wlc: A (w3, 2 active) has 512/3, B (w1, 1 active) 256/1. Replace A only if
    // 512 * 1 > 256 * 3, which is false: A.
    seq(Scheduler::Wlc, "A3:2/0 B1:1/0", "A");
    // wlc counts inactive connections, sed does not: A (0 active, 300 inactive) = 300 against
    // B (1 active) = 256 gives B for wlc; sed compares (0+1)/1 with (1+1)/1 and keeps A.
    seq(Scheduler::Wlc, "A1:0/300 B1:1/0", "B");
    seq(Scheduler::Sed, "A1:0/300 B1:1/0", "A");
    // sed: A (w3, 2 active) = 3/3 ties B (w1, idle) = 1/1; 3 * 1 > 1 * 3 is false, so A stays.
    // nq returns the first idle server at once: B.
    seq(Scheduler::Sed, "A3:2/0 B1", "A");
    seq(Scheduler::Nq, "A3:2/0 B1", "B");
    // With weights 3 and 1 and connections kept open, wlc fills A to 3x B: A=0,B=0 → A; A=256/3
    // vs 0 → B; 256/3 vs 256/1 → A; 512/3 vs 256 → A; 768/3 = 256 ties 256/1, A kept → A;
    // 1024/3 > 256 → B.
    let mut svc = service(Scheduler::Wlc, "A3 B1", 0);
    check(&mut svc, true, "A B A A A B");
    // sed with the same weights and open connections: (a+1)/3 against (b+1)/1.
    // (1/3, 1) → A; (2/3, 1) → A; (3/3, 1) tie → A; (4/3, 1) → B; (4/3, 2) → A; (5/3, 2) → A.
    let mut svc = service(Scheduler::Sed, "A3 B1", 0);
    check(&mut svc, true, "A A A B A A");
    // nq: A idle → A; B idle → B; then sed: (2/3, 2/1) → A; (3/3, 2) → A; (4/3, 2) → A;
    // (5/3, 2) → A; (6/3, 2) tie → A.
    let mut svc = service(Scheduler::Nq, "A3 B1", 0);
    check(&mut svc, true, "A B A A A A A");
    // Weight 0 and OVERLOAD are skipped by all three.
    for s in [Scheduler::Wlc, Scheduler::Sed, Scheduler::Nq] {
        seq(s, "A0 B1! C1:5/5", "C");
        seq(s, "A0 B1!", "-");
    }
}

// ------------------------------------------------------------------------------------------------
// fo, ovf.

#[test]
fn fo_and_ovf() {
    // fo: the highest weight, strict `>` so the first of equals: B.
    seq(Scheduler::Fo, "A1 B3 C3", "B B");
    // OVERLOAD is skipped: C.
    seq(Scheduler::Fo, "A1 B3! C3", "C");
    // Weight 0 never beats hw = 0.
    seq(Scheduler::Fo, "A0 B0", "-");
    // ovf skips a destination only once active > weight, so a weight-w server takes w + 1
    // connections. With A (w2) and B (w1) and connections kept open: A at 0, 1, 2 active → A A A;
    // A at 3 > 2 is full, B at 0, 1 → B B; both full → none.
    let mut svc = service(Scheduler::Ovf, "A2 B1", 0);
    check(&mut svc, true, "A A A B B -");
    // Connections that close stop counting (ovf reads active connections only).
    seq(Scheduler::Ovf, "A1:0/50 B2:3/0", "A");
}

// ------------------------------------------------------------------------------------------------
// dh, sh.

#[test]
fn hash_32_matches_the_kernel_formula() {
    // hash_32(v, bits) = (v * 0x61C88647) >> (32 - bits), include/linux/hash.h. Computed by hand
    // with Python: ((v * 0x61C88647) & 0xffffffff) >> 24.
    assert_eq!(hash_32(u32::from(Ipv4Addr::new(10, 244, 0, 20)), 8), 101);
    assert_eq!(hash_32(u32::from(Ipv4Addr::new(10, 244, 0, 21)), 8), 199);
    assert_eq!(hash_32(u32::from(Ipv4Addr::new(192, 168, 1, 77)), 8), 144);
    assert_eq!(hash_32(u32::from(Ipv4Addr::new(10, 0, 0, 1)), 8), 39);
    assert_eq!(dh_hashkey(Ipv4Addr::new(10, 96, 100, 10)), 70);
    // With sh-port the port is added before hashing: 10.244.0.20 + 40000 → 9.
    assert_eq!(sh_hashkey(Ipv4Addr::new(10, 244, 0, 20), 40000, 0), 9);
}

fn pick_from(svc: &mut Service, client: SocketAddrV4) -> char {
    let d = svc.schedule(client, 0, &mut Rng::new(0));
    label(svc, d.chosen)
}

fn client(a: u8, b: u8, c: u8, d: u8, port: u16) -> SocketAddrV4 {
    SocketAddrV4::new(Ipv4Addr::new(a, b, c, d), port)
}

#[test]
fn sh_buckets_and_weights() {
    // Weights 1,1,1: ip_vs_sh_reassign fills buckets A, B, C, A, B, C, ... so bucket b holds the
    // (b mod 3)-th destination. 10.244.0.20 → 101 → 101 mod 3 = 2 → C; 10.244.0.21 → 199 → 1 → B;
    // 192.168.1.77 → 144 → 0 → A; 10.0.0.1 → 39 → 0 → A.
    let mut svc = service(Scheduler::Sh, "A1 B1 C1", 0);
    assert_eq!(pick_from(&mut svc, client(10, 244, 0, 20, 40000)), 'C');
    assert_eq!(pick_from(&mut svc, client(10, 244, 0, 20, 40001)), 'C');
    assert_eq!(pick_from(&mut svc, client(10, 244, 0, 21, 40000)), 'B');
    assert_eq!(pick_from(&mut svc, client(192, 168, 1, 77, 1)), 'A');
    assert_eq!(pick_from(&mut svc, client(10, 0, 0, 1, 1)), 'A');
    // Weights 2,1,1: each destination fills `weight` consecutive buckets: A A B C repeating, so
    // bucket b holds [A, A, B, C][b mod 4]. 101 mod 4 = 1 → A; 199 mod 4 = 3 → C; 144 mod 4 = 0 →
    // A; 39 mod 4 = 3 → C.
    let mut svc = service(Scheduler::Sh, "A2 B1 C1", 0);
    assert_eq!(pick_from(&mut svc, client(10, 244, 0, 20, 1)), 'A');
    assert_eq!(pick_from(&mut svc, client(10, 244, 0, 21, 1)), 'C');
    assert_eq!(pick_from(&mut svc, client(192, 168, 1, 77, 1)), 'A');
    assert_eq!(pick_from(&mut svc, client(10, 0, 0, 1, 1)), 'C');
    // A weight-0 destination still fills one bucket (`++d_count >= weight` is true at once):
    // weights 1,0,1 give A B C repeating, but lookups landing on B fail: 199 mod 3 = 1 → B → none.
    let mut svc = service(Scheduler::Sh, "A1 B0 C1", 0);
    assert_eq!(pick_from(&mut svc, client(10, 244, 0, 21, 1)), '-');
    // With sh-port the client port joins the key: 10.244.0.20:40000 → bucket 9 → 9 mod 3 = 0 → A.
    let mut svc = service(Scheduler::Sh, "A1 B1 C1", IP_VS_SVC_F_SCHED_SH_PORT);
    assert_eq!(pick_from(&mut svc, client(10, 244, 0, 20, 40000)), 'A');
}

#[test]
fn sh_fallback_probes_twice_the_hash() {
    // 10.244.0.21 → ihash 199 → B (weight 0). sh-fallback tries roffset = (k + 199) % 256 and
    // looks up ip_vs_sh_hashkey(.., roffset) = (roffset + 199) & 255, i.e. bucket (398 + k) & 255
    // = 142 + k. k = 0: bucket 142, 142 mod 3 = 1 → B again; k = 1: bucket 143 → 2 → C.
    let mut svc = service(Scheduler::Sh, "A1 B0 C1", IP_VS_SVC_F_SCHED_SH_FALLBACK);
    assert_eq!(pick_from(&mut svc, client(10, 244, 0, 21, 1)), 'C');
    assert!(svc.schedule(client(10, 244, 0, 21, 1), 0, &mut Rng::new(0)).explanation.en.contains("bucket 143"));
}

#[test]
fn sh_table_rebuilt_on_list_changes() {
    // Removing B rebuilds the table from [A, C]: bucket 101 → 101 mod 2 = 1 → C, bucket 144 → A.
    let mut svc = service(Scheduler::Sh, "A1 B1 C1", 0);
    svc.remove_dest(addr('B'));
    assert_eq!(pick_from(&mut svc, client(10, 244, 0, 20, 1)), 'C');
    assert_eq!(pick_from(&mut svc, client(192, 168, 1, 77, 1)), 'A');
    // Adding D puts it at the head: [D, A, C], 101 mod 3 = 2 → C, 199 mod 3 = 1 → A, 144 → D.
    svc.add_dest(Dest::new(addr('D'), 1));
    assert_eq!(pick_from(&mut svc, client(10, 244, 0, 20, 1)), 'C');
    assert_eq!(pick_from(&mut svc, client(10, 244, 0, 21, 1)), 'A');
    assert_eq!(pick_from(&mut svc, client(192, 168, 1, 77, 1)), 'D');
}

#[test]
fn dh_uses_the_vip_so_every_client_gets_one_server() {
    // dh hashes the destination address: 10.96.100.10 → bucket 70, and ip_vs_dh_reassign gives
    // bucket b the (b mod n)-th destination regardless of weight: 70 mod 3 = 1 → B, for every
    // client.
    let mut svc = service(Scheduler::Dh, "A5 B1 C1", 0);
    for c in [client(10, 244, 0, 20, 1), client(192, 168, 1, 77, 2), client(10, 0, 0, 1, 3)] {
        assert_eq!(pick_from(&mut svc, c), 'B');
    }
    // No fallback: B at weight 0 means no destination.
    let mut svc = service(Scheduler::Dh, "A1 B0 C1", 0);
    assert_eq!(pick_from(&mut svc, CLIENT), '-');
    // With two destinations, 70 mod 2 = 0 → A.
    let mut svc = service(Scheduler::Dh, "A1 B1", 0);
    assert_eq!(pick_from(&mut svc, CLIENT), 'A');
}

// ------------------------------------------------------------------------------------------------
// mh (ip_vs_mh.c).

#[test]
fn hsiphash_matches_the_kernel_self_test() {
    // lib/siphash_kunit.c (64-bit): key {0x0706050403020100, 0x0f0e0d0c0b0a0908}, input bytes
    // 00 01 02 03, i.e. the little-endian u32 0x03020100; test_vectors_hsiphash[4] = 0x88d38328.
    assert_eq!(hsiphash_u32(0x0302_0100, &[0x0706_0504_0302_0100, 0x0f0e_0d0c_0b0a_0908]), 0x88d3_8328);
}

#[test]
fn mh_offsets_skips_and_slot_4093() {
    // The spec's values (kube-proxy.md §4.11), from an independent Python transcription: with the
    // default CONFIG_IP_VS_MH_TAB_INDEX 12, M = primes[12 - 8] = 4093, and
    // offset = h1(ip, port) % 4093, skip = h2(ip, port) % 4092 + 1.
    assert_eq!(mh_offset_skip(addr('C'), 12), (2499, 3114));
    assert_eq!(mh_offset_skip(addr('B'), 12), (808, 2829));
    assert_eq!(mh_offset_skip(addr('A'), 12), (2688, 2769));
    // kube-proxy sets mh-port, so the client's port is hashed too: 10.244.0.20:40000 → slot 3503,
    // which the populated table (list [C, B, A], weight 1) gives to A.
    let mut svc = service(Scheduler::Mh, "C1 B1 A1", IP_VS_SVC_F_SCHED_MH_PORT);
    let d = svc.schedule(CLIENT, 0, &mut Rng::new(0));
    assert!(d.explanation.en.contains("slot 3503"), "{}", d.explanation.en);
    assert_eq!(label(&svc, d.chosen), 'A');
    // The slot counts 1365/1364/1364: with equal turns the first destination in the list claims
    // one slot more, since 4093 = 3 * 1364 + 1.
    let SchedState::Mh { lookup, .. } = svc.sched_state() else { panic!() };
    let count = |l| lookup.iter().filter(|s| **s == Some(addr(l))).count();
    assert_eq!((count('C'), count('B'), count('A')), (1365, 1364, 1364));
    let _ = (MH_KEY1, MH_KEY2);
}

/// The textbook Maglev population (Eisenbud et al., NSDI 2016, pseudocode 1), written separately
/// from the library: destinations take turns, each claiming its next unclaimed preferred slot.
fn textbook_maglev(prefs: &[(usize, usize)], m: usize) -> Vec<usize> {
    let mut next = vec![0usize; prefs.len()];
    let mut entry = vec![usize::MAX; m];
    let mut n = 0;
    loop {
        for (i, &(offset, skip)) in prefs.iter().enumerate() {
            let mut c = (offset + next[i] * skip) % m;
            while entry[c] != usize::MAX {
                next[i] += 1;
                c = (offset + next[i] * skip) % m;
            }
            entry[c] = i;
            next[i] += 1;
            n += 1;
            if n == m {
                return entry;
            }
        }
    }
}

#[test]
fn mh_table_251_matches_textbook_maglev() {
    // A 251-slot table (CONFIG_IP_VS_MH_TAB_INDEX = 8) for A, B, C at weight 1: turns are all 1,
    // so ip_vs_mh_populate is exactly the paper's round-robin claiming. The library's table must
    // equal the textbook one built from the same offsets and skips.
    let dests: Vec<Dest> = ['A', 'B', 'C'].map(|l| Dest::new(addr(l), 1)).to_vec();
    let prefs: Vec<(usize, usize)> = dests.iter().map(|d| mh_offset_skip(d.addr, 8)).collect();
    let expected = textbook_maglev(&prefs, 251);
    let SchedState::Mh { lookup, .. } = SchedState::mh_with_index(&dests, 8) else { panic!() };
    let got: Vec<usize> = lookup.iter().map(|s| dests.iter().position(|d| Some(d.addr) == *s).unwrap()).collect();
    assert_eq!(got, expected);
    // The first three claims are each destination's own offset (slots are free at first).
    for (i, (offset, _)) in prefs.iter().enumerate() {
        if prefs[..i].iter().all(|(o, _)| o != offset) {
            assert_eq!(got[*offset], i);
        }
    }
    // 251 = 3 * 83 + 2: A and B claim 84 slots, C 83.
    let count = |i| got.iter().filter(|&&g| g == i).count();
    assert_eq!((count(0), count(1), count(2)), (84, 84, 83));
}

#[test]
fn mh_weights_give_turns() {
    // Weights 2,1: gcd 1, max/gcd = 2, rshift = max(fls(2) - 6, 0) = 0, so A takes 2 turns per
    // pass and B 1. The textbook population with A listed twice (its two turns sharing one
    // permutation cursor) is the same as claiming twice in a row; count the slots instead:
    // 251 slots in passes of 3 claims (A, A, B): 83 full passes (249) then A, A → A 168, B 83.
    let dests = vec![Dest::new(addr('A'), 2), Dest::new(addr('B'), 1)];
    let SchedState::Mh { lookup, .. } = SchedState::mh_with_index(&dests, 8) else { panic!() };
    let count = |l| lookup.iter().filter(|s| **s == Some(addr(l))).count();
    assert_eq!((count('A'), count('B')), (168, 83));
}

#[test]
fn mh_quiesced_destination_keeps_its_slots() {
    // kube-proxy's graceful termination sets weight 0. last_weight keeps the old non-zero weight
    // (`if (add || udest->weight != 0)` in __ip_vs_update_dest), so the rebuilt table is the same
    // and clients hashed to that destination get no destination, unless mh-fallback is set.
    let mut svc = service(Scheduler::Mh, "C1 B1 A1", IP_VS_SVC_F_SCHED_MH_PORT);
    let before = svc.sched_state().clone();
    svc.update_dest(addr('A'), 0, 0, 0);
    assert_eq!(svc.sched_state(), &before);
    assert_eq!(pick_from(&mut svc, CLIENT), '-');
    let mut svc = service(Scheduler::Mh, "C1 B1 A1", IP_VS_SVC_F_SCHED_MH_PORT | IP_VS_SVC_F_SCHED_MH_FALLBACK);
    svc.update_dest(addr('A'), 0, 0, 0);
    assert_ne!(pick_from(&mut svc, CLIENT), '-');
    assert_ne!(pick_from(&mut svc, CLIENT), 'A');
}

#[test]
fn mh_without_port_hashes_the_address_only() {
    // Without mh-port every port of one client lands on the same slot.
    let mut svc = service(Scheduler::Mh, "A1 B1 C1", 0);
    let first = pick_from(&mut svc, client(10, 244, 0, 20, 1));
    for port in [2, 3, 40000, 65535] {
        assert_eq!(pick_from(&mut svc, client(10, 244, 0, 20, port)), first);
    }
}

// ------------------------------------------------------------------------------------------------
// lblc, lblcr.

#[test]
fn lblc_cache_and_overload() {
    // The cache key is the packet's destination, the VIP. First packet: no entry, wlc picks A
    // (all idle, A first) and the entry VIP → A is made. The cached A is used while it is not
    // "overloaded": active > weight and some server below half its weight (active*2 < weight).
    // With weight 1 and connections kept open: A(0) A(1, 1 > 1 false) A(2 > 1, B has 0*2 < 1 →
    // overloaded) → wlc: A=512, B=0 → B, cache now VIP → B; B(1) → B; B(2 > 1, is anyone under
    // half load? A 3*2 < 1 no, B no) → not overloaded → B.
    let mut svc = service(Scheduler::Lblc, "A1 B1", 0);
    check(&mut svc, true, "A A B B B");
}

#[test]
fn lblc_ignores_overload_flag_of_cached_dest_but_not_weight_zero() {
    // ip_vs_lblc_schedule checks the cached destination for IP_VS_DEST_F_AVAILABLE, weight > 0
    // and lblc's own is_overloaded, but not IP_VS_DEST_F_OVERLOAD.
    let mut svc = service(Scheduler::Lblc, "A1 B1", 0);
    check(&mut svc, false, "A");
    svc.set_overloaded(0, true);
    check(&mut svc, false, "A");
    // Weight 0 invalidates the entry: wlc picks B (A is skipped as OVERLOAD anyway).
    svc.set_overloaded(0, false);
    svc.update_dest(addr('A'), 0, 0, 0);
    check(&mut svc, false, "B B");
    // Removing the cached destination clears IP_VS_DEST_F_AVAILABLE: wlc picks again.
    svc.remove_dest(addr('B'));
    svc.update_dest(addr('A'), 1, 0, 0);
    check(&mut svc, false, "A");
}

#[test]
fn lblc_entry_expires_on_the_full_check() {
    // The timer first fires 60 s after the service is created, then every 60 s; counter starts at
    // 1 and every tick with counter % 30 == 0 is a full check, so full checks run at 1800 s, 3600 s,
    // ... An entry last used at t = 0 is removed by the first full check at or after 24 h:
    // 86400 s is a multiple of 1800, and `time_before(now, lastuse + expiration)` is false there.
    let mut svc = service(Scheduler::Lblc, "A1 B1", 0);
    let mut rng = Rng::new(0);
    assert_eq!(label(&svc.clone(), svc.schedule(CLIENT, 0, &mut rng).chosen), 'A');
    // Make B the wlc choice from now on; the entry still says A.
    svc.set_conns(0, 0, 5);
    let count = |svc: &Service| match svc.sched_state() {
        SchedState::Lblc(t) => t.len(),
        _ => unreachable!(),
    };
    // Each probe runs on a copy, because a lookup refreshes the entry's last use. At 86399 s the
    // entry is still there and A is kept although wlc would now pick B.
    let mut probe = svc.clone();
    assert_eq!(label(&probe.clone(), probe.schedule(CLIENT, 86_399, &mut rng).chosen), 'A');
    assert_eq!(count(&probe), 1);
    // At 86400 s the full check removes the entry before the lookup, so wlc picks B.
    let mut probe = svc.clone();
    assert_eq!(label(&probe.clone(), probe.schedule(CLIENT, 86_400, &mut rng).chosen), 'B');
}

#[test]
fn lblcr_grows_and_shrinks_its_set() {
    // First packet: no entry, wlc picks A, the set is {A}. Keeping connections open with weight 1:
    // A(0) → A; A(1): set min A, not overloaded (1 > 1 false) → A; A(2): 2 > 1 and B is under half
    // load → overloaded → wlc picks B, which joins the set at its head: {B, A}. Set min of {B, A}
    // with B at 1 active (256) and A at 2 (512) → B; B(2) ties A(2) (512*1 > 512*1 false), B is
    // first → B, and it is not overloaded because no server is under half load any more; now B
    // has 3 active (768) against A's 512 → A.
    let mut svc = service(Scheduler::Lblcr, "A1 B1", 0);
    check(&mut svc, true, "A A B B B A");
    let SchedState::Lblcr(table) = svc.sched_state() else { panic!() };
    let entry = table.entries().next().unwrap();
    assert_eq!(entry.set, vec![addr('B'), addr('A')]);
    // After more than lblcr_expiration (24 h) without a change, a lookup removes the most loaded
    // member (B and A tie at 3 active: the first with weight > 0 stays "most", so B) after
    // picking; the pick itself was B (tie, first). The entry was last used at 0, so the full
    // check at 86400 s removes the whole entry first; look at 86399 s instead, where the set
    // was last modified at 0 and 86399 > 0 + 86400 is false: nothing is removed yet.
    let mut probe = svc.clone();
    let mut rng = Rng::new(0);
    probe.schedule(CLIENT, 86_399, &mut rng);
    let SchedState::Lblcr(table) = probe.sched_state() else { panic!() };
    assert_eq!(table.entries().next().unwrap().set.len(), 2);
    // Used again at 86399 s, the entry survives the 88200 s full check (lastuse + 86400 > now),
    // and at 88200 s the set (lastmod 0) is older than 24 h: B, the most loaded (tie, first), is
    // removed, and the pick made before that removal is B.
    let d = probe.schedule(CLIENT, 88_200, &mut rng);
    assert_eq!(label(&probe, d.chosen), 'B');
    let SchedState::Lblcr(table) = probe.sched_state() else { panic!() };
    assert_eq!(table.entries().next().unwrap().set, vec![addr('A')]);
}

// ------------------------------------------------------------------------------------------------
// twos (ip_vs_twos.c).

#[test]
fn random_below_is_lemire_multiply_shift() {
    // get_random_u32_below(4): (4 * r) >> 32 for the first draw r (no rejection is possible for
    // ceil 4 unless the low half of 4*r is below 2^32 mod 4 = 0, which never happens).
    let mut a = Rng::new(9);
    let mut b = Rng::new(9);
    for _ in 0..20 {
        let r = b.next_u32();
        assert_eq!(random_u32_below(&mut a, 4), ((4u64 * u64::from(r)) >> 32) as u32);
    }
}

#[test]
fn twos_choices_and_bias() {
    // Weights A1, B2: total = 1 + 2 + 1 = 4, draws in 0..=3. Subtracting weights in list order:
    // r = 0 → 0-1 <= 0 → A; r = 1 → 1-1 = 0 → A; r = 2 → 1, then 1-2 <= 0 → B; r = 3 → B.
    // So A owns 2 of 4 values although its weight is 1 of 3. With both idle, choice 2 wins only
    // if w2 * oh1 > w1 * oh2, 0 > 0 is false: the first draw decides. Over many draws A gets
    // about half of the new connections.
    let mut svc = service(Scheduler::Twos, "A1 B2", 0);
    let mut rng = Rng::new(42);
    let mut a = 0;
    for _ in 0..4000 {
        let d = svc.schedule(CLIENT, 0, &mut rng);
        if label(&svc, d.chosen) == 'A' {
            a += 1;
        }
    }
    assert!((1900..2100).contains(&a), "A chosen {a} times of 4000");
    // The draw is reproduced from the same generator: the first decision's explanation names
    // the two values the kernel's get_random_u32_below(4) would give for these random words.
    let mut rng = Rng::new(7);
    let mut shadow = Rng::new(7);
    let (r1, r2) = (random_u32_below(&mut shadow, 4), random_u32_below(&mut shadow, 4));
    let d = svc.schedule(CLIENT, 0, &mut rng);
    assert!(d.explanation.en.contains(&format!("random draws {r1} and {r2} in 0..=3")), "{}", d.explanation.en);
    let owner = |r: u32| if r <= 1 { 'A' } else { 'B' };
    assert_eq!(label(&svc, d.chosen), owner(r1));
}

#[test]
fn twos_prefers_the_less_loaded_of_the_two() {
    // Weights A1, B1: total 3, r = 0, 1 → A, r = 2 → B. A holds 1 active (256), B none: whenever
    // the two draws differ, B wins (1 * 256 > 1 * 0, or A as choice 2 loses 0 > 256). Only when
    // both land on A is A chosen.
    let mut svc = service(Scheduler::Twos, "A1:1/0 B1", 0);
    for seed in 0..50 {
        let mut shadow = Rng::new(seed);
        let (r1, r2) = (random_u32_below(&mut shadow, 3), random_u32_below(&mut shadow, 3));
        let expected = if r1 <= 1 && r2 <= 1 { 'A' } else { 'B' };
        let d = svc.schedule(CLIENT, 0, &mut Rng::new(seed));
        assert_eq!(label(&svc, d.chosen), expected, "seed {seed}");
    }
    // Zero weights and OVERLOAD are left out of the total and the walk.
    seq(Scheduler::Twos, "A0 B1! C1", "C C C");
    seq(Scheduler::Twos, "A0 B1!", "-");
}

// ------------------------------------------------------------------------------------------------
// Counters, thresholds and explanations.

#[test]
fn thresholds_set_and_clear_overload() {
    // ip_vs_bind_dest sets OVERLOAD when active + inactive reaches u_threshold; ip_vs_unbind_dest
    // clears it below 3/4 of u_threshold when there is no l_threshold.
    let mut svc = service(Scheduler::Rr, "A1 B1", 0);
    svc.update_dest(addr('A'), 1, 4, 0);
    let mut conns: Vec<_> = (0..4).map(|_| svc.conn_open(0)).collect();
    assert!(svc.dests()[0].overloaded);
    // 3 left: 3 * 4 < 4 * 3 is false, still overloaded; 2 left: 8 < 12, cleared.
    svc.conn_expire(conns.pop().unwrap());
    assert!(svc.dests()[0].overloaded);
    check(&mut svc, false, "B B");
    svc.conn_expire(conns.pop().unwrap());
    assert!(!svc.dests()[0].overloaded);
    check(&mut svc, false, "A B");
}

#[test]
fn explanations_show_the_inputs() {
    let mut svc = service(Scheduler::Lc, "A1:0/0 B1:1/0 C0", 0);
    let d = svc.schedule(CLIENT, 0, &mut Rng::new(0));
    assert_eq!(
        d.explanation.en,
        "lc: overhead = 256*active + inactive: 10.244.1.5:8080 → 0, 10.244.2.7:8080 → 256, \
         10.244.3.9:8080 (weight 0, skipped); the smallest wins, the earlier one on a tie; chose 10.244.1.5:8080"
    );
    let mut svc = service(Scheduler::Dh, "A1 B1 C1", 0);
    let d = svc.schedule(CLIENT, 0, &mut Rng::new(0));
    assert_eq!(
        d.explanation.en,
        "dh: hash_32(10.96.100.10, 8) = bucket 70 of 256, which holds 10.244.2.7:8080; weights do not matter; \
         chose 10.244.2.7:8080"
    );
    let mut svc = service(Scheduler::Rr, "A0 B0", 0);
    let d = svc.schedule(CLIENT, 0, &mut Rng::new(0));
    assert!(d.explanation.en.ends_with("no destination available, the packet is dropped"));
    assert!(!d.explanation.zh.is_empty());
}

#[test]
fn list_order_is_the_reverse_of_insertion() {
    // __ip_vs_update_dest links a new destination with list_add_rcu at the head.
    let mut svc = Service::new(Proto::Tcp, VIP, Scheduler::Rr, 0, 0);
    for l in ['A', 'B', 'C'] {
        svc.add_dest(Dest::new(addr(l), 1));
    }
    assert_eq!(svc.dests().iter().map(|d| d.addr).collect::<Vec<_>>(), [addr('C'), addr('B'), addr('A')]);
    // So rr, starting at the head, visits them in reverse order of adding.
    check(&mut svc, false, "C B A C");
    assert!(!svc.add_dest(Dest::new(addr('A'), 1)));
    let _ = Input { client: CLIENT, daddr: *VIP.ip(), flags: 0, proto: Proto::Tcp };
}
