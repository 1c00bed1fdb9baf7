//! IPVS, the kernel's layer-4 load balancer that kube-proxy's `ipvs` mode programs.
//!
//! A virtual server (`Service`) is a protocol, an address and a port with a scheduler and an ordered
//! list of real servers (`Dest`). The order of that list is an explicit input: the kernel inserts a
//! new destination at the **head** of the list (`list_add_rcu(&dest->n_list, &svc->destinations)`
//! in `__ip_vs_update_dest`, net/netfilter/ipvs/ip_vs_ctl.c), so the list is the reverse of the
//! order in which the destinations were added, and kube-proxy adds them in an order that depends on
//! Go's map iteration. Every scheduler walks that list, so its order decides ties, round-robin
//! sequences and hash tables. `Service::add_dest` inserts at the head as the kernel does;
//! `Service::with_dests` takes a finished list, head first.
//!
//! The schedulers themselves live in `sched`. Everything here is deterministic: time (`now`, in
//! seconds) and randomness (a `Rng`) are arguments.

pub mod ipset;
pub mod ipvsadm;
pub mod sched;

use std::net::SocketAddrV4;

use crate::net::Proto;

pub use ipvsadm::{ipvsadm_ln_lines, real_server_at, render_ipvsadm_ln};
pub use sched::{Decision, SchedState, Scheduler};

/// A destination's forwarding method (`IP_VS_CONN_F_FWD_MASK` of its `conn_flags`), as ipvsadm
/// names it in the Forward column. kube-proxy always uses `Masq` (NAT), the only method that can
/// change the port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Forward {
    /// `IP_VS_CONN_F_MASQ`, ipvsadm `-m`.
    #[default]
    Masq,
    /// `IP_VS_CONN_F_LOCALNODE`.
    Local,
    /// `IP_VS_CONN_F_TUNNEL`, ipvsadm `-i`.
    Tunnel,
    /// `IP_VS_CONN_F_DROUTE`, ipvsadm `-g`.
    Route,
}

impl Forward {
    /// ipvsadm's `fwd_name`.
    pub fn name(self) -> &'static str {
        match self {
            Forward::Masq => "Masq",
            Forward::Local => "Local",
            Forward::Tunnel => "Tunnel",
            Forward::Route => "Route",
        }
    }
}

/// `IP_VS_SVC_F_PERSISTENT` (include/uapi/linux/ip_vs.h): ClientIP affinity, shown as `persistent`.
pub const IP_VS_SVC_F_PERSISTENT: u32 = 0x0001;
/// `IP_VS_SVC_F_HASHED`: the service is in the kernel's service table.
pub const IP_VS_SVC_F_HASHED: u32 = 0x0002;
/// `IP_VS_SVC_F_ONEPACKET`: one-packet scheduling (UDP only).
pub const IP_VS_SVC_F_ONEPACKET: u32 = 0x0004;
/// `IP_VS_SVC_F_SCHED1`: `sh-fallback` for sh, `mh-fallback` for mh.
pub const IP_VS_SVC_F_SCHED1: u32 = 0x0008;
/// `IP_VS_SVC_F_SCHED2`: `sh-port` for sh, `mh-port` for mh (hash the client port too).
pub const IP_VS_SVC_F_SCHED2: u32 = 0x0010;
/// `IP_VS_SVC_F_SCHED3`: unused by the in-tree schedulers.
pub const IP_VS_SVC_F_SCHED3: u32 = 0x0020;
/// The name ip_vs_sh.c gives `IP_VS_SVC_F_SCHED1`.
pub const IP_VS_SVC_F_SCHED_SH_FALLBACK: u32 = IP_VS_SVC_F_SCHED1;
/// The name ip_vs_sh.c gives `IP_VS_SVC_F_SCHED2`.
pub const IP_VS_SVC_F_SCHED_SH_PORT: u32 = IP_VS_SVC_F_SCHED2;
/// The name ip_vs_mh.c gives `IP_VS_SVC_F_SCHED1`.
pub const IP_VS_SVC_F_SCHED_MH_FALLBACK: u32 = IP_VS_SVC_F_SCHED1;
/// The name ip_vs_mh.c gives `IP_VS_SVC_F_SCHED2`.
pub const IP_VS_SVC_F_SCHED_MH_PORT: u32 = IP_VS_SVC_F_SCHED2;

/// A real server of a virtual server, with the counters the schedulers read.
///
/// The fields mirror `struct ip_vs_dest` (include/net/ip_vs.h). `overloaded` is the kernel's
/// `IP_VS_DEST_F_OVERLOAD` flag; it is set and cleared from the thresholds when connections are
/// bound and unbound (ip_vs_conn.c), and it can also be set directly as a scenario input.
/// kube-proxy sets no thresholds, so on a kube-proxy node the flag is never set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dest {
    pub addr: SocketAddrV4,
    /// The forwarding method.
    pub forward: Forward,
    /// The current weight; 0 means quiesced (no new connections, existing ones continue).
    pub weight: u32,
    /// The latest non-zero weight (`last_weight`); only the mh scheduler reads it.
    pub last_weight: u32,
    /// Connections counted as active (`activeconns`).
    pub active_conns: u32,
    /// Connections counted as inactive (`inactconns`).
    pub inactive_conns: u32,
    /// Persistence templates (`persistconns`); no scheduler reads it.
    pub persist_conns: u32,
    /// `IP_VS_DEST_F_OVERLOAD`.
    pub overloaded: bool,
    /// Upper connection threshold (`u_threshold`, ipvsadm `-x`); 0 means none.
    pub u_threshold: u32,
    /// Lower connection threshold (`l_threshold`, ipvsadm `-y`); 0 means none.
    pub l_threshold: u32,
}

impl Dest {
    /// A destination with the given weight and no connections, as `ipvsadm -a` creates it.
    pub fn new(addr: SocketAddrV4, weight: u32) -> Dest {
        Dest {
            addr,
            forward: Forward::Masq,
            weight,
            last_weight: weight,
            active_conns: 0,
            inactive_conns: 0,
            persist_conns: 0,
            overloaded: false,
            u_threshold: 0,
            l_threshold: 0,
        }
    }

    /// Sets the connection counters (a builder for tests and scenarios).
    pub fn with_conns(mut self, active: u32, inactive: u32) -> Dest {
        self.active_conns = active;
        self.inactive_conns = inactive;
        self
    }

    /// Marks the destination `IP_VS_DEST_F_OVERLOAD` (a builder for tests and scenarios).
    pub fn overloaded(mut self) -> Dest {
        self.overloaded = true;
        self
    }

    /// `ip_vs_dest_conn_overhead` (include/net/ip_vs.h): `activeconns * 256 + inactconns`.
    pub fn conn_overhead(&self) -> u64 {
        (u64::from(self.active_conns) << 8) + u64::from(self.inactive_conns)
    }

    /// `ip_vs_dest_totalconns` (ip_vs_conn.c): active plus inactive connections.
    pub fn total_conns(&self) -> u64 {
        u64::from(self.active_conns) + u64::from(self.inactive_conns)
    }

    /// What most schedulers require of a candidate: not OVERLOAD and a weight above 0.
    pub fn is_available(&self) -> bool {
        !self.overloaded && self.weight > 0
    }

    /// The overload check `ip_vs_bind_dest` runs after counting a new connection (ip_vs_conn.c).
    fn update_overload_on_bind(&mut self) {
        if self.u_threshold != 0 && self.total_conns() >= u64::from(self.u_threshold) {
            self.overloaded = true;
        }
    }

    /// The overload check `ip_vs_unbind_dest` runs after a connection expires (ip_vs_conn.c):
    /// below `l_threshold`, or below 3/4 of `u_threshold` when there is no lower threshold, the flag
    /// is cleared; with no thresholds at all it is always cleared.
    fn update_overload_on_unbind(&mut self) {
        let total = self.total_conns();
        if self.l_threshold != 0 {
            if total < u64::from(self.l_threshold) {
                self.overloaded = false;
            }
        } else if self.u_threshold != 0 {
            if total * 4 < u64::from(self.u_threshold) * 3 {
                self.overloaded = false;
            }
        } else {
            self.overloaded = false;
        }
    }
}

/// A connection entry bound to a destination, as far as the counters are concerned.
///
/// This is a deliberately small model of ip_vs_conn.c and ip_vs_proto_tcp.c, honest about what it
/// leaves out. A new entry is bound with `IP_VS_CONN_F_INACTIVE` (the destination's `conn_flags`
/// always carry it). For TCP the client's SYN moves the entry to SYN_RECV, which the kernel counts
/// as active (`tcp_state_active_table`), so `Service::conn_open` counts a TCP connection as active
/// at once. A FIN or RST moves it to a non-active state: `Service::conn_close` moves it from active
/// to inactive. When the entry's timer expires, `Service::conn_expire` unbinds it and the inactive
/// count drops. UDP entries have no states that count as active, so a UDP "connection" is inactive
/// from start to expiry. SCTP counts as active only in ESTABLISHED (`Service::conn_established`).
/// Timeouts are not modelled here: the caller decides when an entry expires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conn {
    pub dest: SocketAddrV4,
    pub proto: Proto,
    /// `IP_VS_CONN_F_INACTIVE`.
    pub inactive: bool,
}

/// The virtual server a packet to `(proto, dst)` reaches, as `ip_vs_service_find`
/// (net/netfilter/ipvs/ip_vs_ctl.c) looks it up: the service with exactly that protocol, address
/// and port, or else a catch-all service on port 0 of that address. Firewall-mark services and
/// the FTP data-port special case do not exist here (kube-proxy creates neither). Returns the
/// position in `services`, so the caller can borrow that service mutably to schedule.
pub fn lookup(services: &[Service], proto: Proto, dst: SocketAddrV4) -> Option<usize> {
    services
        .iter()
        .position(|svc| svc.proto == proto && svc.addr == dst)
        .or_else(|| services.iter().position(|svc| svc.proto == proto && svc.addr == SocketAddrV4::new(*dst.ip(), 0)))
}

/// A virtual server: `ipvsadm -A -t VIP:PORT -s SCHED`, with its destinations and scheduler state.
#[derive(Debug, Clone)]
pub struct Service {
    pub proto: Proto,
    pub addr: SocketAddrV4,
    /// `IP_VS_SVC_F_*` flags.
    pub flags: u32,
    /// The persistence timeout in seconds (used only with `IP_VS_SVC_F_PERSISTENT`).
    pub timeout: u32,
    dests: Vec<Dest>,
    sched: SchedState,
}

impl Service {
    /// A service with no destinations, as `ipvsadm -A` creates it. The scheduler's state is
    /// initialised at `now` (lblc and lblcr start their garbage-collection timer then).
    pub fn new(proto: Proto, addr: SocketAddrV4, scheduler: Scheduler, flags: u32, now: u64) -> Service {
        let mut svc = Service { proto, addr, flags, timeout: 0, dests: Vec::new(), sched: SchedState::placeholder() };
        svc.sched = SchedState::init(scheduler, &svc.dests, now);
        svc
    }

    /// A service whose scheduler is bound when the destination list (head first) already exists,
    /// as happens when `ipvsadm -E` changes the scheduler of a populated service. Building the
    /// list with `add_dest` instead runs the scheduler's `add_dest` hook for each destination, which
    /// for wrr can leave a different current weight (see `sched`).
    pub fn with_dests(
        proto: Proto,
        addr: SocketAddrV4,
        scheduler: Scheduler,
        flags: u32,
        dests_head_first: Vec<Dest>,
        now: u64,
    ) -> Service {
        let mut svc =
            Service { proto, addr, flags, timeout: 0, dests: dests_head_first, sched: SchedState::placeholder() };
        svc.sched = SchedState::init(scheduler, &svc.dests, now);
        svc
    }

    pub fn scheduler(&self) -> Scheduler {
        self.sched.scheduler()
    }

    /// The scheduler's state (for explanations and tests).
    pub fn sched_state(&self) -> &SchedState {
        &self.sched
    }

    /// The destination list, head first: the order every scheduler walks.
    pub fn dests(&self) -> &[Dest] {
        &self.dests
    }

    /// The position of a destination in the list.
    pub fn position(&self, addr: SocketAddrV4) -> Option<usize> {
        self.dests.iter().position(|d| d.addr == addr)
    }

    /// `ipvsadm -a`: inserts the destination at the **head** of the list, as `list_add_rcu` in
    /// `__ip_vs_update_dest` (ip_vs_ctl.c) does, then runs the scheduler's `add_dest` hook.
    /// An address that is already present is refused (the kernel answers EEXIST). As in the
    /// kernel, a new destination starts with `last_weight` equal to its weight and without the
    /// OVERLOAD flag (`__ip_vs_update_dest` with `add` set); use `Service::set_overloaded` after
    /// adding to model an overloaded server.
    pub fn add_dest(&mut self, mut dest: Dest) -> bool {
        if self.position(dest.addr).is_some() {
            return false;
        }
        dest.last_weight = dest.weight;
        dest.overloaded = false;
        self.dests.insert(0, dest);
        self.sched.dest_added(&self.dests);
        true
    }

    /// `ipvsadm -d`: unlinks the destination and runs the scheduler's `del_dest` hook.
    pub fn remove_dest(&mut self, addr: SocketAddrV4) -> Option<Dest> {
        let index = self.position(addr)?;
        let dest = self.dests.remove(index);
        self.sched.dest_removed(&self.dests, index, addr);
        Some(dest)
    }

    /// `ipvsadm -e`: changes the weight and thresholds, as `__ip_vs_update_dest` (ip_vs_ctl.c)
    /// does, then runs the scheduler's `upd_dest` hook. `last_weight` keeps the latest non-zero
    /// weight. The OVERLOAD flag is cleared when the new upper threshold is 0 or higher than before.
    pub fn update_dest(&mut self, addr: SocketAddrV4, weight: u32, u_threshold: u32, l_threshold: u32) -> bool {
        let Some(index) = self.position(addr) else { return false };
        let dest = &mut self.dests[index];
        if weight != 0 {
            dest.last_weight = weight;
        }
        dest.weight = weight;
        if u_threshold == 0 || u_threshold > dest.u_threshold {
            dest.overloaded = false;
        }
        dest.u_threshold = u_threshold;
        dest.l_threshold = l_threshold;
        self.sched.dest_updated(&self.dests);
        true
    }

    /// Sets a destination's counters directly (a scenario input: "these pods already hold N
    /// connections"). No scheduler hook runs, as none reads counters outside `schedule`.
    pub fn set_conns(&mut self, index: usize, active: u32, inactive: u32) {
        self.dests[index].active_conns = active;
        self.dests[index].inactive_conns = inactive;
    }

    /// Sets or clears `IP_VS_DEST_F_OVERLOAD` directly (a scenario input).
    pub fn set_overloaded(&mut self, index: usize, overloaded: bool) {
        self.dests[index].overloaded = overloaded;
    }

    /// Runs the scheduler for a new connection from `client` to this virtual server.
    /// `now` is in seconds; `rng` is drawn from only by twos.
    pub fn schedule(&mut self, client: SocketAddrV4, now: u64, rng: &mut crate::rng::Rng) -> Decision {
        let input = sched::Input { client, daddr: *self.addr.ip(), flags: self.flags, proto: self.proto };
        self.sched.schedule(&self.dests, &input, now, rng)
    }

    /// Binds a new connection to the destination at `index` and counts it (see `Conn`).
    pub fn conn_open(&mut self, index: usize) -> Conn {
        let dest = &mut self.dests[index];
        let inactive = self.proto != Proto::Tcp;
        if inactive {
            dest.inactive_conns += 1;
        } else {
            dest.active_conns += 1;
        }
        dest.update_overload_on_bind();
        Conn { dest: dest.addr, proto: self.proto, inactive }
    }

    /// SCTP reaches ESTABLISHED: an inactive SCTP entry becomes active (ip_vs_proto_sctp.c).
    /// TCP is already active and UDP never is, so for them this does nothing.
    pub fn conn_established(&mut self, conn: &mut Conn) {
        if conn.proto != Proto::Sctp || !conn.inactive {
            return;
        }
        if let Some(dest) = self.dests.iter_mut().find(|d| d.addr == conn.dest) {
            dest.inactive_conns -= 1;
            dest.active_conns += 1;
            conn.inactive = false;
        }
    }

    /// The connection is closed (FIN or RST): an active entry moves to a non-active state, so it
    /// leaves the active count and joins the inactive one until it expires.
    pub fn conn_close(&mut self, conn: &mut Conn) {
        if conn.inactive {
            return;
        }
        if let Some(dest) = self.dests.iter_mut().find(|d| d.addr == conn.dest) {
            dest.active_conns -= 1;
            dest.inactive_conns += 1;
        }
        conn.inactive = true;
    }

    /// The entry's timer expired: it is unbound and leaves whichever count holds it.
    pub fn conn_expire(&mut self, conn: Conn) {
        if let Some(dest) = self.dests.iter_mut().find(|d| d.addr == conn.dest) {
            if conn.inactive {
                dest.inactive_conns -= 1;
            } else {
                dest.active_conns -= 1;
            }
            dest.update_overload_on_unbind();
        }
    }
}
