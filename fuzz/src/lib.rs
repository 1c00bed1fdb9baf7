//! The fuzzer's inputs and targets: a seeded, structure-aware mutator over real manifests (the
//! scenarios in core/scenarios/ and the built-in lessons) and the small corpus in fuzz/corpus/,
//! and the targets each mutated input is driven through (the YAML loader and controllers, the
//! rules of every node's kube-proxy, trace and send end to end, the pcap and packet decoders, URL
//! and HTTP/1.1 parsing). Run by `cargo xtask fuzz --inputs N`; coverage-guided fuzzing needs a
//! nightly compiler or an AFL++ toolchain, neither of which this machine has.

pub mod mutate;
pub mod targets;

/// SplitMix64: a small deterministic generator, so a run is reproduced by its seed.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number below `n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { (self.next_u64() % n as u64) as usize }
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        if items.is_empty() { None } else { items.get(self.below(items.len())) }
    }
}

/// What an input is and which target it drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A scenario: loaded, then its rules printed and walked.
    Scenario,
    /// A URL for `--to`, parsed and, against a lesson, fetched.
    Url,
    /// The bytes of an HTTP/1.1 request or response.
    Http,
    /// The bytes of an IPv4 packet.
    Packet,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Scenario => "scenario",
            Kind::Url => "url",
            Kind::Http => "http",
            Kind::Packet => "packet",
        }
    }

    pub fn parse(text: &str) -> Option<Kind> {
        [Kind::Scenario, Kind::Url, Kind::Http, Kind::Packet].into_iter().find(|kind| kind.as_str() == text)
    }
}

/// One input: its kind and bytes (text for scenarios and URLs).
#[derive(Debug, Clone)]
pub struct Input {
    pub kind: Kind,
    pub bytes: Vec<u8>,
}

/// The CPU time this thread has used, from Linux's `/proc/thread-self/stat` (utime and stime, in
/// 10 ms clock ticks), so that "over a second" means the input's own work, not the load other
/// builds put on the machine; `None` where that file is not readable.
pub fn cpu_time() -> Option<std::time::Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    // After the command's `)` come the state, then ppid … (tpgid is -1 without a terminal): utime
    // and stime are the line's 14th and 15th fields, the 12th and 13th here.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(std::time::Duration::from_millis(ticks * 10))
}

#[cfg(test)]
mod tests {
    #[test]
    fn cpu_time_counts_this_threads_work() {
        let Some(before) = super::cpu_time() else {
            println!("skipped: /proc/thread-self/stat is not readable here");
            return;
        };
        // Work until this thread has used 100 ms of CPU, however busy the machine is (on a loaded
        // machine 300 ms of wall clock can hold much less than 100 ms of this thread's CPU): the
        // clock must get there, within a generous wall-clock bound.
        let start = std::time::Instant::now();
        let mut x = 0u64;
        let mut used = std::time::Duration::ZERO;
        while used < std::time::Duration::from_millis(100) && start.elapsed() < std::time::Duration::from_secs(30) {
            for _ in 0..100_000 {
                x = std::hint::black_box(x.wrapping_add(1));
            }
            used = super::cpu_time().unwrap_or_default().saturating_sub(before);
        }
        assert!(used >= std::time::Duration::from_millis(100), "{used:?} of CPU in {:?}", start.elapsed());
        // Sleeping is not work: the clock barely moves.
        let before = super::cpu_time().unwrap_or_default();
        std::thread::sleep(std::time::Duration::from_millis(300));
        let slept = super::cpu_time().unwrap_or_default().saturating_sub(before);
        assert!(slept < std::time::Duration::from_millis(100), "{slept:?} of CPU while asleep");
    }
}
