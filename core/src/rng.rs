//! Deterministic randomness: the only source of chance in the simulator.
//!
//! Every random choice the real system makes (the kernel's `get_random_u32()` in `xt_statistic`,
//! MASQUERADE's `--random-fully` port, the client's ephemeral port) is drawn from a `Rng` seeded by
//! the caller. SplitMix64 (Steele, Lea, Flood: "Fast splittable pseudorandom number generators",
//! OOPSLA 2014) is small, has no dependencies and gives the same sequence on every target.

/// A SplitMix64 generator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rng {
    state: u64,
}

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// 32 random bits, standing in for the kernel's `get_random_u32()`.
    pub fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    /// A number in `low..=high`.
    pub fn range_u16(&mut self, low: u16, high: u16) -> u16 {
        let span = u64::from(high - low) + 1;
        low + (self.next_u64() % span) as u16
    }
}

#[cfg(test)]
mod tests {
    use super::Rng;

    #[test]
    fn splitmix64_reference_values() {
        // Reference outputs of SplitMix64 seeded with 0 (as in Vigna's splitmix64.c).
        let mut rng = Rng::new(0);
        assert_eq!(rng.next_u64(), 0xe220_a839_7b1d_cdaf);
        assert_eq!(rng.next_u64(), 0x6e78_9e6a_a1b9_65f4);
        let mut rng = Rng::new(7);
        let port = rng.range_u16(32768, 60999);
        assert!((32768..=60999).contains(&port));
    }
}
