//! The kernel's IPVS schedulers, reimplemented from net/netfilter/ipvs/ip_vs_*.c.
//!
//! Each scheduler is rebuilt from the kernel source (mainline, 6.x), not from its documentation,
//! and the comment beside each behaviour names the file it comes from. A decision carries an
//! explanation with the inputs the kernel compared (overheads, weights, hash buckets), because that
//! is what a learner needs to see. Where the lbplay spec (kube-proxy.md §4) disagrees with the
//! kernel, the kernel wins and the comment says so.
//!
//! The state a scheduler keeps between connections is the kernel's `sched_data`: rr's position,
//! wrr's current weight, the sh, dh and mh lookup tables, and the lblc and lblcr caches with their
//! garbage-collection timer. Positions are kept as destination addresses, not indices, so that
//! they survive list changes the way the kernel's pointers do.

use std::net::{Ipv4Addr, SocketAddrV4};

use crate::net::Proto;
use crate::rng::Rng;
use crate::trace::Text;

use super::{Dest, IP_VS_SVC_F_SCHED1, IP_VS_SVC_F_SCHED2};

/// A kernel scheduler, by the name `ipvsadm -s` and kube-proxy's `ipvs.scheduler` use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scheduler {
    Rr,
    Wrr,
    Lc,
    Wlc,
    Sed,
    Nq,
    Dh,
    Sh,
    Lblc,
    Lblcr,
    Mh,
    Fo,
    Ovf,
    Twos,
}

impl Scheduler {
    /// Every scheduler in the kernel tree, in the order of this module.
    pub const ALL: [Scheduler; 14] = [
        Scheduler::Rr,
        Scheduler::Wrr,
        Scheduler::Lc,
        Scheduler::Wlc,
        Scheduler::Sed,
        Scheduler::Nq,
        Scheduler::Dh,
        Scheduler::Sh,
        Scheduler::Lblc,
        Scheduler::Lblcr,
        Scheduler::Mh,
        Scheduler::Fo,
        Scheduler::Ovf,
        Scheduler::Twos,
    ];

    /// The `.name` of the kernel's `struct ip_vs_scheduler`.
    pub fn name(self) -> &'static str {
        match self {
            Scheduler::Rr => "rr",
            Scheduler::Wrr => "wrr",
            Scheduler::Lc => "lc",
            Scheduler::Wlc => "wlc",
            Scheduler::Sed => "sed",
            Scheduler::Nq => "nq",
            Scheduler::Dh => "dh",
            Scheduler::Sh => "sh",
            Scheduler::Lblc => "lblc",
            Scheduler::Lblcr => "lblcr",
            Scheduler::Mh => "mh",
            Scheduler::Fo => "fo",
            Scheduler::Ovf => "ovf",
            Scheduler::Twos => "twos",
        }
    }

    /// Parses a kernel scheduler name. kube-proxy treats an empty value as `rr`; so does this.
    pub fn parse(text: &str) -> Option<Scheduler> {
        if text.is_empty() {
            return Some(Scheduler::Rr);
        }
        Scheduler::ALL.into_iter().find(|s| s.name() == text)
    }
}

impl std::fmt::Display for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What the schedulers may read of the packet that opens a connection.
#[derive(Debug, Clone)]
pub struct Input {
    /// The client's address and source port (`iph->saddr` and the first port of the header).
    pub client: SocketAddrV4,
    /// The packet's destination address (`iph->daddr`), i.e. the virtual IP.
    pub daddr: Ipv4Addr,
    /// The service's `IP_VS_SVC_F_*` flags.
    pub flags: u32,
    pub proto: Proto,
}

/// A scheduler's answer: the chosen position in the destination list, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// `None` is the kernel's NULL: "no destination available", the packet is dropped.
    pub chosen: Option<usize>,
    pub explanation: Text,
}

// ---------------------------------------------------------------------------------------------
// Hash functions.

/// `GOLDEN_RATIO_32` (include/linux/hash.h).
pub const GOLDEN_RATIO_32: u32 = 0x61C8_8647;

/// `hash_32(val, bits)` (include/linux/hash.h): the top `bits` bits of `val * GOLDEN_RATIO_32`.
pub fn hash_32(val: u32, bits: u32) -> u32 {
    val.wrapping_mul(GOLDEN_RATIO_32) >> (32 - bits)
}

/// The sh and dh table size: `CONFIG_IP_VS_SH_TAB_BITS` and `CONFIG_IP_VS_DH_TAB_BITS` default 8.
pub const SH_TAB_BITS: u32 = 8;
/// 256 buckets.
pub const SH_TAB_SIZE: usize = 1 << SH_TAB_BITS;

/// `ip_vs_sh_hashkey` (ip_vs_sh.c): `(offset + hash_32(port + ntohl(addr), 8)) & 255`, where
/// `port` is the client port only with `sh-port`, and 0 otherwise.
pub fn sh_hashkey(addr: Ipv4Addr, port: u16, offset: u32) -> usize {
    let v = u32::from(port).wrapping_add(u32::from(addr));
    (offset.wrapping_add(hash_32(v, SH_TAB_BITS)) as usize) & (SH_TAB_SIZE - 1)
}

/// `ip_vs_dh_hashkey` (ip_vs_dh.c): `hash_32(ntohl(addr), 8)`.
pub fn dh_hashkey(addr: Ipv4Addr) -> usize {
    hash_32(u32::from(addr), SH_TAB_BITS) as usize
}

/// A `hsiphash_key_t` on a 64-bit kernel: two `unsigned long` words.
pub type HsiphashKey = [u64; 2];

/// ip_vs_mh.c's fixed `hash1` key (`generate_hash_secret`).
pub const MH_KEY1: HsiphashKey = [2_654_435_761, 2_654_435_761];
/// ip_vs_mh.c's fixed `hash2` key.
pub const MH_KEY2: HsiphashKey = [2_654_446_892, 2_654_446_892];

fn sipround(v: &mut [u64; 4]) {
    v[0] = v[0].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(13);
    v[1] ^= v[0];
    v[0] = v[0].rotate_left(32);
    v[2] = v[2].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(16);
    v[3] ^= v[2];
    v[0] = v[0].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(21);
    v[3] ^= v[0];
    v[2] = v[2].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(17);
    v[1] ^= v[2];
    v[2] = v[2].rotate_left(32);
}

/// `hsiphash(&v, 4, key)` as a 64-bit little-endian kernel computes it (lib/siphash.c): on 64-bit
/// kernels "HalfSipHash1-3" is really SipHash-1-3 with 64-bit words, and the 32-bit result is the
/// low half of `v0 ^ v1 ^ v2 ^ v3`. A 32-bit kernel runs real HalfSipHash and gets other values.
pub fn hsiphash_u32(value: u32, key: &HsiphashKey) -> u32 {
    let mut v = [
        0x736f_6d65_7073_6575 ^ key[0],
        0x646f_7261_6e64_6f6d ^ key[1],
        0x6c79_6765_6e65_7261 ^ key[0],
        0x7465_6462_7974_6573 ^ key[1],
    ];
    let b = (4u64 << 56) | u64::from(value);
    v[3] ^= b;
    sipround(&mut v);
    v[0] ^= b;
    v[2] ^= 0xff;
    sipround(&mut v);
    sipround(&mut v);
    sipround(&mut v);
    (v[0] ^ v[1] ^ v[2] ^ v[3]) as u32
}

/// `ip_vs_mh_hashkey` (ip_vs_mh.c): `hsiphash` of the 32-bit sum `offset + port + ntohl(addr)`.
pub fn mh_hashkey(addr: Ipv4Addr, port: u16, key: &HsiphashKey, offset: u32) -> u32 {
    let v = offset.wrapping_add(u32::from(port)).wrapping_add(u32::from(addr));
    hsiphash_u32(v, key)
}

/// The primes ip_vs_mh.c can use as its table size.
pub const MH_PRIMES: [usize; 10] = [251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521, 131071];
/// `CONFIG_IP_VS_MH_TAB_INDEX` default (net/netfilter/ipvs/Kconfig: `default 12`, range 8..17).
pub const MH_DEFAULT_TAB_INDEX: u32 = 12;

/// `get_random_u32_below(ceil)` (drivers/char/random.c): Lemire's multiply-and-shift with
/// rejection, fed by `get_random_u32()`, for which the caller's `Rng` stands in.
pub fn random_u32_below(rng: &mut Rng, ceil: u32) -> u32 {
    let mut rand = rng.next_u32();
    if ceil == 0 {
        return rand;
    }
    let mut mult = u64::from(ceil) * u64::from(rand);
    if (mult as u32) < ceil {
        let bound = ceil.wrapping_neg() % ceil;
        while (mult as u32) < bound {
            rand = rng.next_u32();
            mult = u64::from(ceil) * u64::from(rand);
        }
    }
    (mult >> 32) as u32
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// `fls` (include/asm-generic/bitops): the 1-based position of the highest set bit, 0 for 0.
fn fls(x: u32) -> u32 {
    32 - x.leading_zeros()
}

// ---------------------------------------------------------------------------------------------
// Scheduler state.

/// wrr's `struct ip_vs_wrr_mark` (ip_vs_wrr.c).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrrMark {
    /// The current destination, or `None` for the list head.
    pub cl: Option<SocketAddrV4>,
    /// Current weight.
    pub cw: i64,
    /// Maximum weight, reduced by `di - 1`.
    pub mw: i64,
    /// Decreasing interval: the gcd of the positive weights.
    pub di: i64,
}

/// One lblc cache entry (`struct ip_vs_lblc_entry`, ip_vs_lblc.c).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LblcEntry {
    pub daddr: Ipv4Addr,
    pub dest: SocketAddrV4,
    pub lastuse: u64,
}

/// One lblcr cache entry: a destination address mapped to a set of servers (ip_vs_lblcr.c).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LblcrEntry {
    pub daddr: Ipv4Addr,
    /// The set's members, head first (`list_add_rcu` inserts at the head).
    pub set: Vec<SocketAddrV4>,
    pub lastmod: u64,
    pub lastuse: u64,
}

/// The lblc and lblcr tables' size: `CONFIG_IP_VS_LBLC(R)_TAB_BITS` default 10.
pub const LBLC_TAB_BITS: u32 = 10;
const LBLC_TAB_SIZE: usize = 1 << LBLC_TAB_BITS;
/// `CHECK_EXPIRE_INTERVAL`: the garbage-collection timer period, 60 s.
pub const LBLC_CHECK_EXPIRE_INTERVAL: u64 = 60;
/// `ENTRY_TIMEOUT`: idle time after which an entry may go when the table is over-full, 6 min.
pub const LBLC_ENTRY_TIMEOUT: u64 = 6 * 60;
/// `DEFAULT_EXPIRATION`: the default of the `lblc_expiration` and `lblcr_expiration` sysctls, 24 h.
pub const LBLC_DEFAULT_EXPIRATION: u64 = 24 * 60 * 60;
/// `COUNT_FOR_FULL_EXPIRATION`: every 30th timer tick does a full expiration check.
const COUNT_FOR_FULL_EXPIRATION: u64 = 30;

/// The hash table and timer shared by lblc and lblcr (`struct ip_vs_lblc_table`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalityTable<E> {
    /// 1024 buckets indexed by `hash_32(ntohl(daddr), 10)`, each a list with its newest entry first.
    buckets: Vec<Vec<E>>,
    /// `max_size`: 16 entries per bucket.
    pub max_size: usize,
    rover: usize,
    counter: u64,
    /// When the periodic timer fires next.
    next_tick: u64,
    /// The `lblc_expiration` / `lblcr_expiration` sysctl, in seconds.
    pub expiration: u64,
}

/// What the shared lblc and lblcr table needs of an entry.
pub trait LocalityEntry {
    fn daddr(&self) -> Ipv4Addr;
    fn lastuse(&self) -> u64;
}

impl LocalityEntry for LblcEntry {
    fn daddr(&self) -> Ipv4Addr {
        self.daddr
    }
    fn lastuse(&self) -> u64 {
        self.lastuse
    }
}

impl LocalityEntry for LblcrEntry {
    fn daddr(&self) -> Ipv4Addr {
        self.daddr
    }
    fn lastuse(&self) -> u64 {
        self.lastuse
    }
}

fn lblc_hashkey(addr: Ipv4Addr) -> usize {
    hash_32(u32::from(addr), LBLC_TAB_BITS) as usize
}

impl<E: LocalityEntry> LocalityTable<E> {
    fn new(now: u64) -> LocalityTable<E> {
        LocalityTable {
            buckets: (0..LBLC_TAB_SIZE).map(|_| Vec::new()).collect(),
            max_size: LBLC_TAB_SIZE * 16,
            rover: 0,
            counter: 1,
            next_tick: now + LBLC_CHECK_EXPIRE_INTERVAL,
            expiration: LBLC_DEFAULT_EXPIRATION,
        }
    }

    /// The number of entries (`tbl->entries`).
    pub fn len(&self) -> usize {
        self.buckets.iter().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The entries in bucket order (for explanations and tests).
    pub fn entries(&self) -> impl Iterator<Item = &E> {
        self.buckets.iter().flatten()
    }

    fn get_mut(&mut self, daddr: Ipv4Addr) -> Option<&mut E> {
        self.buckets[lblc_hashkey(daddr)].iter_mut().find(|e| e.daddr() == daddr)
    }

    fn remove(&mut self, daddr: Ipv4Addr) {
        self.buckets[lblc_hashkey(daddr)].retain(|e| e.daddr() != daddr);
    }

    fn insert(&mut self, entry: E) {
        // `hlist_add_head_rcu`: the newest entry is first in its bucket.
        self.buckets[lblc_hashkey(entry.daddr())].insert(0, entry);
    }

    /// Runs every timer tick due by `now` (`ip_vs_lblc_check_expire`, ip_vs_lblc.c; the lblcr
    /// copy is the same). The timer is armed 60 s after the service is created and re-armed 60 s
    /// after each tick. Every 30th tick (counted only while the table is not over-full) is a full
    /// check that removes entries unused for `expiration` (24 h by default). Over `max_size`
    /// (16384 entries) a tick instead removes entries idle for 6 minutes, scanning buckets from the
    /// rover until a goal of (entries - max_size) * 4/3, capped at max_size/2, is met.
    fn run_timer(&mut self, now: u64) {
        while self.next_tick <= now {
            let tick = self.next_tick;
            self.tick(tick);
            self.next_tick = tick + LBLC_CHECK_EXPIRE_INTERVAL;
        }
    }

    fn tick(&mut self, now: u64) {
        if self.counter.is_multiple_of(COUNT_FOR_FULL_EXPIRATION) {
            // `ip_vs_lblc_full_check`: an entry stays while `now` is before `lastuse + expiration`.
            let expiration = self.expiration;
            let mut j = self.rover;
            for _ in 0..LBLC_TAB_SIZE {
                j = (j + 1) & (LBLC_TAB_SIZE - 1);
                self.buckets[j].retain(|e| now < e.lastuse() + expiration);
            }
            self.rover = j;
            self.counter = 1;
            return;
        }
        let entries = self.len();
        if entries <= self.max_size {
            self.counter += 1;
            return;
        }
        let mut goal = ((entries - self.max_size) * 4 / 3).min(self.max_size / 2) as i64;
        let mut j = self.rover;
        for _ in 0..LBLC_TAB_SIZE {
            j = (j + 1) & (LBLC_TAB_SIZE - 1);
            let before = self.buckets[j].len();
            self.buckets[j].retain(|e| now < e.lastuse() + LBLC_ENTRY_TIMEOUT);
            goal -= (before - self.buckets[j].len()) as i64;
            if goal <= 0 {
                break;
            }
        }
        self.rover = j;
    }
}

/// The state a scheduler keeps for one service (the kernel's `svc->sched_data`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SchedState {
    /// rr: the last chosen destination, `None` for the list head.
    Rr {
        pos: Option<SocketAddrV4>,
    },
    Wrr(WrrMark),
    Lc,
    Wlc,
    Sed,
    Nq,
    /// dh: 256 buckets, each naming a destination.
    Dh {
        buckets: Vec<Option<SocketAddrV4>>,
    },
    /// sh: 256 buckets, each naming a destination.
    Sh {
        buckets: Vec<Option<SocketAddrV4>>,
    },
    Lblc(LocalityTable<LblcEntry>),
    Lblcr(LocalityTable<LblcrEntry>),
    /// mh: the Maglev lookup table and the table-size index it was built with.
    Mh {
        tab_index: u32,
        lookup: Vec<Option<SocketAddrV4>>,
    },
    Fo,
    Ovf,
    Twos,
}

impl SchedState {
    pub(super) fn placeholder() -> SchedState {
        SchedState::Lc
    }

    /// `init_service`: binds the scheduler to a service whose list (head first) is `dests`.
    pub fn init(scheduler: Scheduler, dests: &[Dest], now: u64) -> SchedState {
        match scheduler {
            // ip_vs_rr.c `ip_vs_rr_init_svc`: the position starts at the list head.
            Scheduler::Rr => SchedState::Rr { pos: None },
            // ip_vs_wrr.c `ip_vs_wrr_init_svc`: cl = head, di = gcd, mw = max - (di - 1), cw = mw.
            Scheduler::Wrr => {
                let (di, mw) = wrr_di_mw(dests);
                SchedState::Wrr(WrrMark { cl: None, cw: mw, mw, di })
            }
            Scheduler::Lc => SchedState::Lc,
            Scheduler::Wlc => SchedState::Wlc,
            Scheduler::Sed => SchedState::Sed,
            Scheduler::Nq => SchedState::Nq,
            Scheduler::Dh => SchedState::Dh { buckets: dh_assign(dests) },
            Scheduler::Sh => SchedState::Sh { buckets: sh_assign(dests) },
            Scheduler::Lblc => SchedState::Lblc(LocalityTable::new(now)),
            Scheduler::Lblcr => SchedState::Lblcr(LocalityTable::new(now)),
            Scheduler::Mh => SchedState::mh_with_index(dests, MH_DEFAULT_TAB_INDEX),
            Scheduler::Fo => SchedState::Fo,
            Scheduler::Ovf => SchedState::Ovf,
            Scheduler::Twos => SchedState::Twos,
        }
    }

    /// An mh state built with another `CONFIG_IP_VS_MH_TAB_INDEX` (8..=17), e.g. 8 for a
    /// 251-slot table that is small enough to print.
    pub fn mh_with_index(dests: &[Dest], tab_index: u32) -> SchedState {
        assert!((8..=17).contains(&tab_index), "CONFIG_IP_VS_MH_TAB_INDEX ranges over 8..=17");
        SchedState::Mh { tab_index, lookup: mh_populate(dests, tab_index) }
    }

    pub fn scheduler(&self) -> Scheduler {
        match self {
            SchedState::Rr { .. } => Scheduler::Rr,
            SchedState::Wrr(_) => Scheduler::Wrr,
            SchedState::Lc => Scheduler::Lc,
            SchedState::Wlc => Scheduler::Wlc,
            SchedState::Sed => Scheduler::Sed,
            SchedState::Nq => Scheduler::Nq,
            SchedState::Dh { .. } => Scheduler::Dh,
            SchedState::Sh { .. } => Scheduler::Sh,
            SchedState::Lblc(_) => Scheduler::Lblc,
            SchedState::Lblcr(_) => Scheduler::Lblcr,
            SchedState::Mh { .. } => Scheduler::Mh,
            SchedState::Fo => Scheduler::Fo,
            SchedState::Ovf => Scheduler::Ovf,
            SchedState::Twos => Scheduler::Twos,
        }
    }

    /// The `add_dest` hook, run after the new destination was linked at the head.
    pub fn dest_added(&mut self, dests: &[Dest]) {
        match self {
            // ip_vs_rr.c has no add_dest hook: the position is kept.
            SchedState::Wrr(mark) => wrr_dest_changed(mark, dests),
            SchedState::Dh { buckets } => *buckets = dh_assign(dests),
            SchedState::Sh { buckets } => *buckets = sh_assign(dests),
            SchedState::Mh { tab_index, lookup } => *lookup = mh_populate(dests, *tab_index),
            _ => {}
        }
    }

    /// The `del_dest` hook, run after the destination at `index` was unlinked.
    pub fn dest_removed(&mut self, dests: &[Dest], index: usize, addr: SocketAddrV4) {
        match self {
            // ip_vs_rr.c `ip_vs_rr_del_dest`: if the position was the removed destination, it moves
            // to its predecessor (the list head if it was first).
            SchedState::Rr { pos } if *pos == Some(addr) => {
                *pos = if index == 0 { None } else { Some(dests[index - 1].addr) };
            }
            SchedState::Wrr(mark) => wrr_dest_changed(mark, dests),
            SchedState::Dh { buckets } => *buckets = dh_assign(dests),
            SchedState::Sh { buckets } => *buckets = sh_assign(dests),
            SchedState::Mh { tab_index, lookup } => *lookup = mh_populate(dests, *tab_index),
            // lblc and lblcr keep their cache entries: a removed destination loses
            // IP_VS_DEST_F_AVAILABLE and the entry is ignored at the next lookup.
            _ => {}
        }
    }

    /// The `upd_dest` hook, run after a destination's weight or thresholds changed.
    pub fn dest_updated(&mut self, dests: &[Dest]) {
        match self {
            SchedState::Wrr(mark) => wrr_dest_changed(mark, dests),
            // ip_vs_dh.c registers no upd_dest hook; dh ignores weights, so nothing would change.
            SchedState::Sh { buckets } => *buckets = sh_assign(dests),
            SchedState::Mh { tab_index, lookup } => *lookup = mh_populate(dests, *tab_index),
            _ => {}
        }
    }

    /// Chooses a destination for a new connection.
    pub fn schedule(&mut self, dests: &[Dest], input: &Input, now: u64, rng: &mut Rng) -> Decision {
        match self {
            SchedState::Rr { pos } => rr_schedule(pos, dests),
            SchedState::Wrr(mark) => wrr_schedule(mark, dests),
            SchedState::Lc => lc_schedule(dests),
            SchedState::Wlc => wlc_schedule(dests),
            SchedState::Sed => sed_schedule(dests),
            SchedState::Nq => nq_schedule(dests),
            SchedState::Dh { buckets } => dh_schedule(buckets, dests, input),
            SchedState::Sh { buckets } => sh_schedule(buckets, dests, input),
            SchedState::Lblc(table) => lblc_schedule(table, dests, input, now),
            SchedState::Lblcr(table) => lblcr_schedule(table, dests, input, now),
            SchedState::Mh { tab_index, lookup } => mh_schedule(lookup, *tab_index, dests, input),
            SchedState::Fo => fo_schedule(dests),
            SchedState::Ovf => ovf_schedule(dests),
            SchedState::Twos => twos_schedule(dests, rng),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Explanations.

fn name_of(dests: &[Dest], index: usize) -> String {
    dests[index].addr.to_string()
}

fn chose(label: &str, reason: &str, dests: &[Dest], chosen: Option<usize>, zh_reason: &str) -> Decision {
    let (en, zh) = match chosen {
        Some(i) => (
            format!("{label}: {reason}; chose {}", name_of(dests, i)),
            format!("{label}：{zh_reason}；选择 {}", name_of(dests, i)),
        ),
        None => (
            format!("{label}: {reason}; no destination available, the packet is dropped"),
            format!("{label}：{zh_reason}；没有可用的后端，数据包被丢弃"),
        ),
    };
    Decision { chosen, explanation: Text::new(en, zh) }
}

/// Why a destination is skipped by the schedulers that need `!OVERLOAD && weight > 0`.
fn skip_reason(d: &Dest) -> Option<(&'static str, &'static str)> {
    if d.overloaded {
        Some(("overloaded", "过载"))
    } else if d.weight == 0 {
        Some(("weight 0, skipped", "权重为 0，跳过"))
    } else {
        None
    }
}

fn listing(dests: &[Dest], metric: impl Fn(&Dest) -> String) -> (String, String) {
    listing_bi(dests, |d| {
        let m = metric(d);
        (m.clone(), m)
    })
}

/// Like `listing`, with the metric worded separately in each language.
fn listing_bi(dests: &[Dest], metric: impl Fn(&Dest) -> (String, String)) -> (String, String) {
    if dests.is_empty() {
        return ("no destinations".into(), "没有后端".into());
    }
    let mut en = Vec::new();
    let mut zh = Vec::new();
    for d in dests {
        match skip_reason(d) {
            Some((e, z)) => {
                en.push(format!("{} ({e})", d.addr));
                zh.push(format!("{}（{z}）", d.addr));
            }
            None => {
                let (m_en, m_zh) = metric(d);
                en.push(format!("{} → {m_en}", d.addr));
                zh.push(format!("{} → {m_zh}", d.addr));
            }
        }
    }
    (en.join(", "), zh.join("，"))
}

// ---------------------------------------------------------------------------------------------
// rr (ip_vs_rr.c).

/// `ip_vs_rr_schedule`: walk forward from the last pick, wrapping over the list head once, and take
/// the first destination that is not OVERLOAD and has a weight above 0. From the head, the walk
/// covers the list once; from a destination P, it covers the ones after P, then the ones from the
/// first up to and including P. The pick becomes the new position.
fn rr_schedule(pos: &mut Option<SocketAddrV4>, dests: &[Dest]) -> Decision {
    let n = dests.len();
    let start = match pos.and_then(|a| dests.iter().position(|d| d.addr == a)) {
        Some(p) => p + 1,
        None => 0,
    };
    let order: Vec<usize> = if pos.is_some() { (0..n).map(|k| (start + k) % n).collect() } else { (0..n).collect() };
    let mut skipped_en = Vec::new();
    let mut skipped_zh = Vec::new();
    let mut chosen = None;
    for &i in &order {
        if let Some((e, z)) = skip_reason(&dests[i]) {
            skipped_en.push(format!("{} ({e})", dests[i].addr));
            skipped_zh.push(format!("{}（{z}）", dests[i].addr));
            continue;
        }
        chosen = Some(i);
        break;
    }
    let from_en = match pos {
        Some(a) => format!("last pick was {a}, so the walk starts after it"),
        None => "the position is the list head, so the walk starts at the first destination".to_string(),
    };
    let from_zh = match pos {
        Some(a) => format!("上次选择 {a}，从它之后开始"),
        None => "位置在链表头，从第一个后端开始".to_string(),
    };
    let mut reason = from_en;
    let mut zh_reason = from_zh;
    if !skipped_en.is_empty() {
        reason.push_str(&format!("; passed over {}", skipped_en.join(", ")));
        zh_reason.push_str(&format!("；跳过 {}", skipped_zh.join("，")));
    }
    if let Some(i) = chosen {
        *pos = Some(dests[i].addr);
    }
    chose("rr", &reason, dests, chosen, &zh_reason)
}

// ---------------------------------------------------------------------------------------------
// wrr (ip_vs_wrr.c).

/// `ip_vs_wrr_gcd_weight` and `ip_vs_wrr_max_weight`: di is the gcd of the positive weights (1 when
/// there are none) and mw is the maximum weight minus (di - 1).
fn wrr_di_mw(dests: &[Dest]) -> (i64, i64) {
    let g = dests.iter().filter(|d| d.weight > 0).fold(0, |g, d| if g > 0 { gcd(d.weight, g) } else { d.weight });
    let di = if g == 0 { 1 } else { i64::from(g) };
    let max = dests.iter().map(|d| i64::from(d.weight)).max().unwrap_or(0);
    (di, max - (di - 1))
}

/// `ip_vs_wrr_dest_changed`, the add, delete and update hook: cl goes back to the head, di and mw
/// are recomputed, and cw is reset to mw if it is 0 or above mw, otherwise rounded to a multiple of
/// di plus one when di > 1. So cw is **not** reset to mw on every change, and a service built by
/// adding destinations one by one can start in the middle of the weight cycle.
fn wrr_dest_changed(mark: &mut WrrMark, dests: &[Dest]) {
    mark.cl = None;
    let (di, mw) = wrr_di_mw(dests);
    mark.di = di;
    mark.mw = mw;
    if mark.cw > mark.mw || mark.cw == 0 {
        mark.cw = mark.mw;
    } else if mark.di > 1 {
        mark.cw = (mark.cw / mark.di) * mark.di + 1;
    }
}

/// `ip_vs_wrr_schedule`: from the current destination, scan to the end of the list for one that is
/// not OVERLOAD with weight >= cw. At the end of the list cw drops by di and the scan restarts at
/// the head; when cw falls to 0 or below it wraps to mw, and a scan that has already tried weight 1
/// everywhere fails.
fn wrr_schedule(mark: &mut WrrMark, dests: &[Dest]) -> Decision {
    let before = format!("cw={} mw={} di={}", mark.cw, mark.mw, mark.di);
    let weights_en = dests.iter().map(|d| format!("{} w={}", d.addr, d.weight)).collect::<Vec<_>>().join(", ");
    if mark.mw == 0 {
        let reason = format!("all weights are 0 ({weights_en}), mw = 0");
        return chose("wrr", &reason, dests, None, &format!("所有权重均为 0（{weights_en}），mw = 0"));
    }
    let index_of = |a: Option<SocketAddrV4>| a.and_then(|a| dests.iter().position(|d| d.addr == a));
    let last = index_of(mark.cl);
    let mut start = last.map_or(0, |l| l + 1);
    let mut stop: Option<usize> = None;
    let mut last_pass = false;
    let mut restarted = false;
    let mut passes = Vec::new();
    let result = 'outer: loop {
        passes.push(mark.cw);
        for (i, d) in dests.iter().enumerate().skip(start) {
            if !d.overloaded && i64::from(d.weight) >= mark.cw {
                mark.cl = Some(d.addr);
                break 'outer Some(i);
            }
            if Some(i) == stop {
                mark.cl = Some(d.addr);
                break 'outer None;
            }
        }
        mark.cw -= mark.di;
        if mark.cw <= 0 {
            mark.cw = mark.mw;
            if last_pass || last.is_none() {
                mark.cl = None;
                break 'outer None;
            }
            restarted = true;
        }
        last_pass = mark.cw <= mark.di;
        if last_pass && restarted && last.is_some() {
            stop = last;
        }
        start = 0;
    };
    let tried = passes.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(", ");
    let (from, from_zh) = match last {
        Some(l) => (format!("after {}", dests[l].addr), format!("{} 之后", dests[l].addr)),
        None => ("from the list head".to_string(), "链表头".to_string()),
    };
    let reason = format!("{before} before; weights {weights_en}; scanned {from} for weight >= cw, cw tried {tried}");
    let zh_reason =
        format!("之前 {before}；权重 {weights_en}；从{from_zh}起寻找权重 >= cw 的后端，依次尝试 cw = {tried}");
    chose("wrr", &reason, dests, result, &zh_reason)
}

// ---------------------------------------------------------------------------------------------
// lc, wlc, sed, nq (ip_vs_lc.c, ip_vs_wlc.c, ip_vs_sed.c, ip_vs_nq.c).

/// `ip_vs_lc_schedule`: the smallest overhead (256 * active + inactive) among the destinations that
/// are not OVERLOAD and have a weight other than 0; a strict `<` keeps the earliest on ties.
fn lc_schedule(dests: &[Dest]) -> Decision {
    let mut least: Option<(usize, u64)> = None;
    for (i, d) in dests.iter().enumerate() {
        if d.overloaded || d.weight == 0 {
            continue;
        }
        let doh = d.conn_overhead();
        if least.is_none_or(|(_, loh)| doh < loh) {
            least = Some((i, doh));
        }
    }
    let (list_en, list_zh) = listing(dests, |d| d.conn_overhead().to_string());
    chose(
        "lc",
        &format!("overhead = 256*active + inactive: {list_en}; the smallest wins, the earlier one on a tie"),
        dests,
        least.map(|(i, _)| i),
        &format!("开销 = 256*活动连接 + 非活动连接：{list_zh}；取最小值，相同时取靠前者"),
    )
}

/// The weighted-least search shared by wlc, sed, lblc and lblcr: the first destination that is not
/// OVERLOAD with weight > 0 starts as `least`; each later destination that is not OVERLOAD replaces
/// it when `loh * w(d) > doh * w(least)` (64-bit). A weight-0 destination never wins that
/// comparison, so it is skipped without a weight test. Ties keep the earlier destination.
fn weighted_least(dests: &[Dest], overhead: impl Fn(&Dest) -> u64) -> Option<usize> {
    let first = dests.iter().position(Dest::is_available)?;
    let mut least = first;
    let mut loh = overhead(&dests[first]);
    for (i, d) in dests.iter().enumerate().skip(first + 1) {
        if d.overloaded {
            continue;
        }
        let doh = overhead(d);
        if u128::from(loh) * u128::from(d.weight) > u128::from(doh) * u128::from(dests[least].weight) {
            least = i;
            loh = doh;
        }
    }
    Some(least)
}

fn ratio(overhead: u64, weight: u32) -> String {
    format!("{overhead}/{weight}")
}

/// `ip_vs_wlc_schedule`: the smallest overhead / weight, compared by cross-multiplication.
fn wlc_schedule(dests: &[Dest]) -> Decision {
    let chosen = weighted_least(dests, Dest::conn_overhead);
    let (list_en, list_zh) = listing(dests, |d| ratio(d.conn_overhead(), d.weight));
    chose(
        "wlc",
        &format!(
            "overhead/weight with overhead = 256*active + inactive: {list_en}; the smallest wins, the earlier one on a tie"
        ),
        dests,
        chosen,
        &format!("开销/权重，开销 = 256*活动连接 + 非活动连接：{list_zh}；取最小值，相同时取靠前者"),
    )
}

/// `ip_vs_sed_dest_overhead` and `ip_vs_nq_dest_overhead`: active connections plus one.
fn sed_overhead(d: &Dest) -> u64 {
    u64::from(d.active_conns) + 1
}

/// `ip_vs_sed_schedule`: like wlc, with overhead = active + 1 (inactive connections are ignored).
fn sed_schedule(dests: &[Dest]) -> Decision {
    let chosen = weighted_least(dests, sed_overhead);
    let (list_en, list_zh) = listing(dests, |d| ratio(sed_overhead(d), d.weight));
    chose(
        "sed",
        &format!("expected delay (active+1)/weight: {list_en}; the smallest wins, the earlier one on a tie"),
        dests,
        chosen,
        &format!("预期延迟 (活动连接+1)/权重：{list_zh}；取最小值，相同时取靠前者"),
    )
}

/// `ip_vs_nq_schedule`: the first destination (not OVERLOAD, weight other than 0) with no active
/// connection is returned at once; otherwise the sed rule.
fn nq_schedule(dests: &[Dest]) -> Decision {
    let mut least: Option<(usize, u64)> = None;
    let mut idle = None;
    for (i, d) in dests.iter().enumerate() {
        if d.overloaded || d.weight == 0 {
            continue;
        }
        let doh = sed_overhead(d);
        if d.active_conns == 0 {
            idle = Some(i);
            break;
        }
        let better = match least {
            None => true,
            Some((l, loh)) => u128::from(loh) * u128::from(d.weight) > u128::from(doh) * u128::from(dests[l].weight),
        };
        if better {
            least = Some((i, doh));
        }
    }
    let (list_en, list_zh) = listing_bi(dests, |d| {
        let r = ratio(sed_overhead(d), d.weight);
        (format!("active {} ({r})", d.active_conns), format!("活动连接 {}（{r}）", d.active_conns))
    });
    if let Some(i) = idle {
        return chose(
            "nq",
            &format!("{list_en}; {} has no active connection, so it is taken at once", dests[i].addr),
            dests,
            Some(i),
            &format!("{list_zh}；{} 没有活动连接，直接选择", dests[i].addr),
        );
    }
    chose(
        "nq",
        &format!("no idle destination, so expected delay (active+1)/weight decides: {list_en}"),
        dests,
        least.map(|(i, _)| i),
        &format!("没有空闲后端，按预期延迟 (活动连接+1)/权重：{list_zh}"),
    )
}

// ---------------------------------------------------------------------------------------------
// dh and sh (ip_vs_dh.c, ip_vs_sh.c).

/// `ip_vs_dh_reassign`: bucket i gets the i-th destination of the list, cyclically; weights are
/// ignored. With no destinations every bucket is empty.
fn dh_assign(dests: &[Dest]) -> Vec<Option<SocketAddrV4>> {
    (0..SH_TAB_SIZE).map(|i| if dests.is_empty() { None } else { Some(dests[i % dests.len()].addr) }).collect()
}

/// `ip_vs_sh_reassign`: walking the list cyclically, each destination fills `weight` consecutive
/// buckets before the walk moves on (`++d_count >= weight`, so a weight of 0 still fills one).
fn sh_assign(dests: &[Dest]) -> Vec<Option<SocketAddrV4>> {
    if dests.is_empty() {
        return vec![None; SH_TAB_SIZE];
    }
    let mut buckets = Vec::with_capacity(SH_TAB_SIZE);
    let mut p = 0;
    let mut d_count: u64 = 0;
    for _ in 0..SH_TAB_SIZE {
        buckets.push(Some(dests[p].addr));
        d_count += 1;
        if d_count >= u64::from(dests[p].weight) {
            p = (p + 1) % dests.len();
            d_count = 0;
        }
    }
    buckets
}

fn lookup_index(dests: &[Dest], addr: Option<SocketAddrV4>) -> Option<usize> {
    addr.and_then(|a| dests.iter().position(|d| d.addr == a))
}

/// `ip_vs_dh_schedule`: the bucket of `hash_32(daddr, 8)`; its destination must be available
/// (IP_VS_DEST_F_AVAILABLE, weight > 0, not OVERLOAD), there is no fallback. In kube-proxy's use
/// the destination address is the VIP, so every client of a virtual server gets the same server.
fn dh_schedule(buckets: &[Option<SocketAddrV4>], dests: &[Dest], input: &Input) -> Decision {
    let bucket = dh_hashkey(input.daddr);
    let found = lookup_index(dests, buckets[bucket]);
    let chosen = found.filter(|&i| dests[i].is_available());
    let target = match found {
        Some(i) => match skip_reason(&dests[i]) {
            Some((e, _)) => format!("{} ({e})", dests[i].addr),
            None => dests[i].addr.to_string(),
        },
        None => "nothing".to_string(),
    };
    chose(
        "dh",
        &format!("hash_32({}, 8) = bucket {bucket} of 256, which holds {target}; weights do not matter", input.daddr),
        dests,
        chosen,
        &format!("hash_32({}, 8) = 256 个桶中的第 {bucket} 个，对应 {target}；与权重无关", input.daddr),
    )
}

/// `ip_vs_sh_schedule`: the bucket of `hash_32(port + saddr, 8)` (port only with `sh-port`). Without
/// `sh-fallback` an unavailable destination (weight <= 0 or OVERLOAD) means no destination. With
/// it, `ip_vs_sh_get_fallback` tries `roffset = (k + ihash) % 256` for k = 0..255 and looks up
/// `ip_vs_sh_hashkey(.., roffset)`, which adds the hash again: the buckets probed are
/// `(2 * ihash + k) & 255`, not `ihash + k`.
fn sh_schedule(buckets: &[Option<SocketAddrV4>], dests: &[Dest], input: &Input) -> Decision {
    let port = if input.flags & IP_VS_SVC_F_SCHED2 != 0 { input.client.port() } else { 0 };
    let saddr = *input.client.ip();
    let ihash = sh_hashkey(saddr, port, 0);
    let first = lookup_index(dests, buckets[ihash]);
    let key_en = if port != 0 { format!("{saddr} + port {port}") } else { saddr.to_string() };
    let mut reason = format!("hash_32({key_en}, 8) = bucket {ihash} of 256");
    let mut zh_reason = format!("hash_32({key_en}, 8) = 256 个桶中的第 {ihash} 个");
    let mut chosen = None;
    match first {
        Some(i) if dests[i].is_available() => chosen = Some(i),
        Some(i) => {
            let (e, z) = skip_reason(&dests[i]).unwrap_or(("unavailable", "不可用"));
            reason.push_str(&format!(", which holds {} ({e})", dests[i].addr));
            zh_reason.push_str(&format!("，对应 {}（{z}）", dests[i].addr));
            if input.flags & IP_VS_SVC_F_SCHED1 != 0 {
                for k in 0..SH_TAB_SIZE as u32 {
                    let roffset = (k + ihash as u32) % SH_TAB_SIZE as u32;
                    let bucket = sh_hashkey(saddr, port, roffset);
                    let Some(j) = lookup_index(dests, buckets[bucket]) else { break };
                    if dests[j].is_available() {
                        reason.push_str(&format!("; sh-fallback probed offset {roffset}: bucket {bucket}"));
                        zh_reason.push_str(&format!("；sh-fallback 尝试偏移 {roffset}：第 {bucket} 个桶"));
                        chosen = Some(j);
                        break;
                    }
                }
            }
        }
        None => {}
    }
    chose("sh", &reason, dests, chosen, &zh_reason)
}

// ---------------------------------------------------------------------------------------------
// mh (ip_vs_mh.c).

/// `ip_vs_mh_permutate` and `ip_vs_mh_populate`: each destination (in list order) gets
/// `offset = h1(addr, port) % M` and `skip = h2(addr, port) % (M - 1) + 1`; its preference list is
/// offset, offset + skip, ... mod M. The table is filled in passes over the list, each destination
/// claiming its next free preferred slot `turns` times per pass, where
/// `turns = (last_weight / gcd) >> rshift`, or 1 if that is 0 and last_weight is not. A destination
/// whose weight was set to 0 keeps its last weight, so it keeps its slots (and lookups that land
/// there fail). With no positive last_weight the table is emptied.
fn mh_populate(dests: &[Dest], tab_index: u32) -> Vec<Option<SocketAddrV4>> {
    let m = MH_PRIMES[(tab_index - 8) as usize];
    let tab_bits = tab_index / 2;
    let g = dests
        .iter()
        .filter(|d| d.last_weight > 0)
        .fold(0, |g, d| if g > 0 { gcd(d.last_weight, g) } else { d.last_weight });
    if g < 1 {
        return vec![None; m];
    }
    let max = dests.iter().map(|d| d.last_weight).max().unwrap_or(0);
    let rshift = (fls(max / g) as i64 - i64::from(tab_bits)).max(0) as u32;
    struct Setup {
        skip: usize,
        perm: usize,
        turns: u32,
    }
    let mut setup: Vec<Setup> = dests
        .iter()
        .map(|d| {
            let offset = mh_hashkey(*d.addr.ip(), d.addr.port(), &MH_KEY1, 0) as usize % m;
            let skip = mh_hashkey(*d.addr.ip(), d.addr.port(), &MH_KEY2, 0) as usize % (m - 1) + 1;
            let lw = d.last_weight;
            let turns = match (lw / g) >> rshift {
                0 => u32::from(lw != 0),
                t => t,
            };
            Setup { skip, perm: offset, turns }
        })
        .collect();
    let mut table = vec![None; m];
    let mut taken = vec![false; m];
    let mut n = 0;
    let mut dt_count = 0;
    'fill: loop {
        let mut p = 0;
        while p < dests.len() {
            let ds = &mut setup[p];
            if ds.turns < 1 {
                p += 1;
                continue;
            }
            while taken[ds.perm] {
                ds.perm += ds.skip;
                if ds.perm >= m {
                    ds.perm -= m;
                }
            }
            taken[ds.perm] = true;
            table[ds.perm] = Some(dests[p].addr);
            n += 1;
            if n == m {
                break 'fill;
            }
            dt_count += 1;
            if dt_count >= ds.turns {
                dt_count = 0;
                p += 1;
            }
        }
    }
    table
}

/// The Maglev offset and skip of a destination, for explanations and tests.
pub fn mh_offset_skip(addr: SocketAddrV4, tab_index: u32) -> (usize, usize) {
    let m = MH_PRIMES[(tab_index - 8) as usize];
    let offset = mh_hashkey(*addr.ip(), addr.port(), &MH_KEY1, 0) as usize % m;
    let skip = mh_hashkey(*addr.ip(), addr.port(), &MH_KEY2, 0) as usize % (m - 1) + 1;
    (offset, skip)
}

/// `ip_vs_mh_schedule`: slot `h1(saddr, port) % M` (port only with `mh-port`). An unavailable
/// destination there (weight <= 0 or OVERLOAD) means no destination, unless `mh-fallback` is set:
/// then `ip_vs_mh_get_fallback` rehashes with offsets (k + slot) % M for k = 0..M-1.
fn mh_schedule(lookup: &[Option<SocketAddrV4>], tab_index: u32, dests: &[Dest], input: &Input) -> Decision {
    let m = lookup.len();
    let port = if input.flags & IP_VS_SVC_F_SCHED2 != 0 { input.client.port() } else { 0 };
    let saddr = *input.client.ip();
    let ihash = mh_hashkey(saddr, port, &MH_KEY1, 0) as usize % m;
    let first = lookup_index(dests, lookup[ihash]);
    let key_en = if port != 0 { format!("{saddr} + port {port}") } else { saddr.to_string() };
    let mut reason = format!("hsiphash({key_en}) mod {m} = slot {ihash} of the Maglev table");
    let mut zh_reason = format!("hsiphash({key_en}) mod {m} = Maglev 表的第 {ihash} 个槽");
    if tab_index != MH_DEFAULT_TAB_INDEX {
        reason.push_str(&format!(" (CONFIG_IP_VS_MH_TAB_INDEX={tab_index})"));
        zh_reason.push_str(&format!("（CONFIG_IP_VS_MH_TAB_INDEX={tab_index}）"));
    }
    let mut chosen = None;
    match first {
        Some(i) if dests[i].is_available() => chosen = Some(i),
        Some(i) => {
            let (e, z) = skip_reason(&dests[i]).unwrap_or(("unavailable", "不可用"));
            reason.push_str(&format!(", which holds {} ({e})", dests[i].addr));
            zh_reason.push_str(&format!("，对应 {}（{z}）", dests[i].addr));
            if input.flags & IP_VS_SVC_F_SCHED1 != 0 {
                for k in 0..m {
                    let roffset = ((k + ihash) % m) as u32;
                    let slot = mh_hashkey(saddr, port, &MH_KEY1, roffset) as usize % m;
                    let Some(j) = lookup_index(dests, lookup[slot]) else { break };
                    if dests[j].is_available() {
                        reason.push_str(&format!("; mh-fallback rehashed with offset {roffset}: slot {slot}"));
                        zh_reason.push_str(&format!("；mh-fallback 以偏移 {roffset} 重新哈希：第 {slot} 个槽"));
                        chosen = Some(j);
                        break;
                    }
                }
            }
        }
        None => {}
    }
    chose("mh", &reason, dests, chosen, &zh_reason)
}

// ---------------------------------------------------------------------------------------------
// lblc and lblcr (ip_vs_lblc.c, ip_vs_lblcr.c).

/// lblc's and lblcr's `is_overloaded`: the server has more active connections than its weight and
/// some destination of the service has fewer than half its weight (`active * 2 < weight`).
fn locality_overloaded(dest: &Dest, dests: &[Dest]) -> bool {
    u64::from(dest.active_conns) > u64::from(dest.weight)
        && dests.iter().any(|d| u64::from(d.active_conns) * 2 < u64::from(d.weight))
}

/// `ip_vs_lblc_schedule`: the cache maps the packet's destination address (the VIP in kube-proxy's
/// use, so one entry per virtual server) to a server. A cached server is kept while it is still in
/// the service (IP_VS_DEST_F_AVAILABLE), has weight > 0 and is not overloaded in lblc's sense; the
/// OVERLOAD flag itself is **not** checked for it. Otherwise the wlc rule picks a server and the
/// entry is replaced. Looking an entry up refreshes its last use; the periodic timer expires idle
/// entries (see `LocalityTable::run_timer`).
fn lblc_schedule(table: &mut LocalityTable<LblcEntry>, dests: &[Dest], input: &Input, now: u64) -> Decision {
    table.run_timer(now);
    let daddr = input.daddr;
    let mut reason: String;
    let mut zh_reason: String;
    if let Some(en) = table.get_mut(daddr) {
        en.lastuse = now;
        let cached = en.dest;
        match dests.iter().position(|d| d.addr == cached) {
            Some(i) if dests[i].weight > 0 && !locality_overloaded(&dests[i], dests) => {
                return chose(
                    "lblc",
                    &format!(
                        "the cache maps {daddr} to {cached}, which is still usable (active {} <= weight {} or no server under half load)",
                        dests[i].active_conns, dests[i].weight
                    ),
                    dests,
                    Some(i),
                    &format!("缓存将 {daddr} 映射到 {cached}，它仍可用"),
                );
            }
            Some(i) if dests[i].weight == 0 => {
                reason = format!("the cache maps {daddr} to {cached}, whose weight is 0; ");
                zh_reason = format!("缓存将 {daddr} 映射到 {cached}，其权重为 0；");
            }
            Some(i) => {
                reason = format!(
                    "the cache maps {daddr} to {cached}, which is overloaded (active {} > weight {} and another server is under half load); ",
                    dests[i].active_conns, dests[i].weight
                );
                zh_reason = format!("缓存将 {daddr} 映射到 {cached}，它已过载；");
            }
            None => {
                reason = format!("the cache maps {daddr} to {cached}, which is no longer in the service; ");
                zh_reason = format!("缓存将 {daddr} 映射到 {cached}，它已不在服务中；");
            }
        }
    } else {
        reason = format!("no cache entry for {daddr}; ");
        zh_reason = format!("{daddr} 没有缓存项；");
    }
    let chosen = weighted_least(dests, Dest::conn_overhead);
    if let Some(i) = chosen {
        // `ip_vs_lblc_new`: an entry that already names this server is kept as it is, otherwise the
        // old entry is deleted and a new one (last use now) is added at the head of its bucket.
        let addr = dests[i].addr;
        let same = table.get_mut(daddr).is_some_and(|e| e.dest == addr);
        if !same {
            table.remove(daddr);
            table.insert(LblcEntry { daddr, dest: addr, lastuse: now });
        }
    }
    let (list_en, list_zh) = listing(dests, |d| ratio(d.conn_overhead(), d.weight));
    reason.push_str(&format!("wlc picks by overhead/weight: {list_en}"));
    zh_reason.push_str(&format!("按 wlc 的 开销/权重 选择：{list_zh}"));
    chose("lblc", &reason, dests, chosen, &zh_reason)
}

/// `ip_vs_dest_set_min` (ip_vs_lblcr.c): the weighted least-connection member of a set, among the
/// members that are not OVERLOAD, still in the service, and (for the first pick) have weight > 0.
fn set_min(set: &[SocketAddrV4], dests: &[Dest]) -> Option<usize> {
    let find = |a: &SocketAddrV4| dests.iter().position(|d| d.addr == *a);
    let mut iter = set.iter();
    let mut least = None;
    for a in iter.by_ref() {
        if let Some(i) = find(a)
            && !dests[i].overloaded
            && dests[i].weight > 0
        {
            least = Some(i);
            break;
        }
    }
    let mut least = least?;
    let mut loh = dests[least].conn_overhead();
    for a in iter {
        let Some(i) = find(a) else { continue };
        let d = &dests[i];
        if d.overloaded {
            continue;
        }
        let doh = d.conn_overhead();
        if u128::from(loh) * u128::from(d.weight) > u128::from(doh) * u128::from(dests[least].weight) {
            least = i;
            loh = doh;
        }
    }
    Some(least)
}

/// `ip_vs_dest_set_max` (ip_vs_lblcr.c): the weighted most-loaded member with weight > 0. A member
/// that has left the service is treated as having weight 0 here; the kernel would still read the
/// weight it had when it was removed (kube-proxy sets 0 before removing, so the result agrees).
fn set_max(set: &[SocketAddrV4], dests: &[Dest]) -> Option<SocketAddrV4> {
    let members: Vec<&Dest> = set.iter().filter_map(|a| dests.iter().find(|d| d.addr == *a)).collect();
    let mut iter = members.into_iter();
    let mut most = iter.by_ref().find(|d| d.weight > 0)?;
    let mut moh = most.conn_overhead();
    for d in iter {
        let doh = d.conn_overhead();
        if u128::from(moh) * u128::from(d.weight) < u128::from(doh) * u128::from(most.weight) && d.weight > 0 {
            most = d;
            moh = doh;
        }
    }
    Some(most.addr)
}

/// `ip_vs_lblcr_schedule`: the cache maps the destination address to a set of servers. With an
/// entry: its last use is refreshed and the set's weighted least-loaded member is taken; if the set
/// has more than one member and was last modified more than `lblcr_expiration` ago, its most-loaded
/// member is removed (after the pick, which may be that member). A missing or overloaded pick is
/// replaced by the global wlc pick, which joins the set. Without an entry, the wlc pick starts one.
fn lblcr_schedule(table: &mut LocalityTable<LblcrEntry>, dests: &[Dest], input: &Input, now: u64) -> Decision {
    table.run_timer(now);
    let daddr = input.daddr;
    let expiration = table.expiration;
    let (list_en, list_zh) = listing(dests, |d| ratio(d.conn_overhead(), d.weight));
    if let Some(en) = table.get_mut(daddr) {
        en.lastuse = now;
        let set_text = en.set.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
        let picked = set_min(&en.set, dests);
        let mut reason = format!("the cache maps {daddr} to the set {{{set_text}}}");
        let mut zh_reason = format!("缓存将 {daddr} 映射到集合 {{{set_text}}}");
        if en.set.len() > 1
            && now > en.lastmod + expiration
            && let Some(m) = set_max(&en.set, dests)
        {
            en.set.retain(|a| *a != m);
            en.lastmod = now;
            reason.push_str(&format!("; unchanged for over {expiration} s, so its most loaded member {m} leaves it"));
            zh_reason.push_str(&format!("；超过 {expiration} 秒未修改，移除负载最高的 {m}"));
        }
        if let Some(i) = picked.filter(|&i| !locality_overloaded(&dests[i], dests)) {
            reason.push_str(&format!("; its least loaded member by overhead/weight is {}", dests[i].addr));
            zh_reason.push_str(&format!("；集合中 开销/权重 最小的是 {}", dests[i].addr));
            return chose("lblcr", &reason, dests, Some(i), &zh_reason);
        }
        match picked {
            Some(i) => {
                reason.push_str(&format!("; its least loaded member {} is overloaded", dests[i].addr));
                zh_reason.push_str(&format!("；集合中负载最低的 {} 已过载", dests[i].addr));
            }
            None => {
                reason.push_str("; no member is usable");
                zh_reason.push_str("；集合中没有可用成员");
            }
        }
        let chosen = weighted_least(dests, Dest::conn_overhead);
        if let Some(i) = chosen {
            // `ip_vs_dest_set_insert` with check: a new member goes to the head and stamps lastmod.
            let addr = dests[i].addr;
            if !en.set.contains(&addr) {
                en.set.insert(0, addr);
                en.lastmod = now;
            }
        }
        reason.push_str(&format!("; wlc picks by overhead/weight: {list_en}, and the pick joins the set"));
        zh_reason.push_str(&format!("；按 wlc 的 开销/权重 选择：{list_zh}，并加入集合"));
        return chose("lblcr", &reason, dests, chosen, &zh_reason);
    }
    let chosen = weighted_least(dests, Dest::conn_overhead);
    if let Some(i) = chosen {
        table.insert(LblcrEntry { daddr, set: vec![dests[i].addr], lastmod: now, lastuse: now });
    }
    chose(
        "lblcr",
        &format!("no cache entry for {daddr}; wlc picks by overhead/weight: {list_en}, and the pick starts the set"),
        dests,
        chosen,
        &format!("{daddr} 没有缓存项；按 wlc 的 开销/权重 选择：{list_zh}，并建立集合"),
    )
}

// ---------------------------------------------------------------------------------------------
// fo, ovf, twos (ip_vs_fo.c, ip_vs_ovf.c, ip_vs_twos.c).

/// `ip_vs_fo_schedule`: the highest weight among the destinations that are not OVERLOAD; a strict
/// `>` keeps the earliest on ties, and weight 0 never beats the starting value 0.
fn fo_schedule(dests: &[Dest]) -> Decision {
    let mut best: Option<usize> = None;
    let mut hw = 0;
    for (i, d) in dests.iter().enumerate() {
        if !d.overloaded && d.weight > hw {
            best = Some(i);
            hw = d.weight;
        }
    }
    let (list_en, list_zh) = listing_bi(dests, |d| (format!("weight {}", d.weight), format!("权重 {}", d.weight)));
    chose(
        "fo",
        &format!("{list_en}; the highest weight wins, the earlier one on a tie"),
        dests,
        best,
        &format!("{list_zh}；权重最高者胜出，相同时取靠前者"),
    )
}

/// `ip_vs_ovf_schedule`: like fo, but a destination whose active connections exceed its weight is
/// skipped, so traffic overflows to the next-highest weight.
fn ovf_schedule(dests: &[Dest]) -> Decision {
    let mut best: Option<usize> = None;
    let mut hw = 0;
    for (i, d) in dests.iter().enumerate() {
        if d.overloaded || d.active_conns > d.weight || d.weight == 0 {
            continue;
        }
        if best.is_none() || d.weight > hw {
            best = Some(i);
            hw = d.weight;
        }
    }
    let (list_en, list_zh) = listing_bi(dests, |d| {
        let (a, w) = (d.active_conns, d.weight);
        if a > w {
            (format!("full: active {a} > weight {w}"), format!("已满：活动连接 {a} > 权重 {w}"))
        } else {
            (format!("active {a} of weight {w}"), format!("活动连接 {a}，权重 {w}"))
        }
    });
    chose(
        "ovf",
        &format!("{list_en}; the highest weight that is not full wins, the earlier one on a tie"),
        dests,
        best,
        &format!("{list_zh}；未满的后端中权重最高者胜出，相同时取靠前者"),
    )
}

/// `ip_vs_twos_schedule`: total = the sum of the available weights + 1; two numbers r1, r2 are drawn
/// with `get_random_u32_below(total)` (0..=sum). Walking the available destinations, each weight is
/// subtracted from both; the first destination at which r1 <= 0 is choice 1, likewise r2 gives
/// choice 2. So the first destination owns w1 + 1 of the total values and the others own their
/// weight: the draw is very slightly biased to the head of the list. Choice 2 wins only when
/// `w2 * overhead1 > w1 * overhead2`, so ties go to choice 1.
fn twos_schedule(dests: &[Dest], rng: &mut Rng) -> Decision {
    let sum: u64 = dests.iter().filter(|d| d.is_available()).map(|d| u64::from(d.weight)).sum();
    if sum == 0 {
        return chose("twos", "no destination is available", dests, None, "没有可用的后端");
    }
    let total = (sum + 1) as u32;
    let r1 = random_u32_below(rng, total);
    let r2 = random_u32_below(rng, total);
    let (mut rw1, mut rw2) = (i64::from(r1), i64::from(r2));
    let mut c1: Option<usize> = None;
    let mut c2: Option<usize> = None;
    for (i, d) in dests.iter().enumerate() {
        if !d.is_available() {
            continue;
        }
        rw1 -= i64::from(d.weight);
        rw2 -= i64::from(d.weight);
        if rw1 <= 0 && c1.is_none() {
            c1 = Some(i);
        }
        if rw2 <= 0 && c2.is_none() {
            c2 = Some(i);
        }
        if c1.is_some() && c2.is_some() {
            break;
        }
    }
    let (c1, c2) = (c1.expect("r1 <= sum"), c2.expect("r2 <= sum"));
    let (d1, d2) = (&dests[c1], &dests[c2]);
    let (oh1, oh2) = (d1.conn_overhead(), d2.conn_overhead());
    let second = u128::from(d2.weight) * u128::from(oh1) > u128::from(d1.weight) * u128::from(oh2);
    let chosen = if second { c2 } else { c1 };
    chose(
        "twos",
        &format!(
            "random draws {r1} and {r2} in 0..={sum} land on {} (overhead {oh1}, weight {}) and {} (overhead {oh2}, weight {}); the lower overhead/weight wins, the first draw on a tie",
            d1.addr, d1.weight, d2.addr, d2.weight
        ),
        dests,
        Some(chosen),
        &format!(
            "随机数 {r1} 和 {r2}（0..={sum}）分别落在 {}（开销 {oh1}，权重 {}）和 {}（开销 {oh2}，权重 {}）；开销/权重 较低者胜出，相同时取第一个",
            d1.addr, d1.weight, d2.addr, d2.weight
        ),
    )
}
