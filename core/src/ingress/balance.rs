//! ingress-nginx's Lua balancers, given their inputs: the endpoints, the random draws, the clock.
//!
//! `round_robin` is lua-resty-balancer's `resty.roundrobin` (lib/resty/roundrobin.lua, v0.05)
//! over nodes `{"ip:port" = 1}` (rootfs/etc/nginx/lua/balancer/round_robin.lua, ingress-nginx
//! controller v1.15.1): `new` sets `last_id` to the `math.random(n)`-th node, and each `find`
//! returns the node after `last_id` in the table's iteration order, wrapping at the end; with
//! equal weights that is a plain rotation that starts one after the random node. The real order
//! is LuaJIT's hash order of the keys; lbplay uses the endpoints' order instead and says so. Each
//! nginx worker has its own instance.
//!
//! `ewma` is ingress-nginx's rootfs/etc/nginx/lua/balancer/ewma.lua: two peers drawn by a partial
//! Fisher–Yates shuffle (`math.random(i, n)` for i = 1, 2), the lower score wins (the first on a
//! tie), and a score is the stored EWMA decayed by `exp(-Δt / 10 s)` towards 0.

/// resty.roundrobin's state with equal weights.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoundRobin {
    /// The number of nodes.
    pub nodes: usize,
    /// 0-based index of `last_id`, the node returned last (at first, the random one).
    pub last: usize,
}

impl RoundRobin {
    /// `new(nodes)`: `draw` is `math.random(n)`, 1-based; out-of-range draws are clamped.
    /// `None` when there are no nodes (the Lua code errors with "empty nodes").
    pub fn new(nodes: usize, draw: usize) -> Option<RoundRobin> {
        (nodes > 0).then(|| RoundRobin { nodes, last: draw.clamp(1, nodes) - 1 })
    }

    /// `find()`: the 0-based index of the next node.
    pub fn find(&mut self) -> usize {
        if self.nodes == 1 {
            // `only_key`: a single node is always returned.
            return 0;
        }
        self.last = (self.last + 1) % self.nodes;
        self.last
    }
}

/// What `ewma` knows of one endpoint: its stored EWMA and when it was last touched (seconds).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EwmaStat {
    pub ewma: f64,
    pub last_touched_at: f64,
}

/// `decay_ewma(ewma, last_touched_at, rtt, now)`.
pub fn decay(stat: EwmaStat, rtt: f64, now: f64) -> f64 {
    let td = (now - stat.last_touched_at).max(0.0);
    let weight = (-td / 10.0).exp();
    stat.ewma * weight + rtt * (1.0 - weight)
}

/// One `ewma` pick among `stats` (the peers, in order; an endpoint without stats scores 0).
/// `draws` are the `math.random(i, n)` results, 1-based, one per shuffled slot (two); returns
/// the 0-based index of the chosen peer and its score, or `None` without peers.
pub fn ewma_pick(stats: &[EwmaStat], draws: [usize; 2], now: f64) -> Option<(usize, f64)> {
    let n = stats.len();
    if n == 0 {
        return None;
    }
    let score = |i: usize| decay(stats[i], 0.0, now);
    if n == 1 {
        // A single peer is returned unscored (the Lua code reports -1).
        return Some((0, -1.0));
    }
    let mut order: Vec<usize> = (0..n).collect();
    let k = n.min(2);
    for (i, draw) in draws.iter().enumerate().take(k) {
        let r = (*draw).clamp(i + 1, n) - 1;
        order.swap(i, r);
    }
    let (mut best, mut best_score) = (order[0], score(order[0]));
    for &peer in order.iter().take(k).skip(1) {
        let s = score(peer);
        if s < best_score {
            best = peer;
            best_score = s;
        }
    }
    Some((best, best_score))
}

/// `after_balance`: the stored EWMA after a response that took `rtt` seconds at `now`.
pub fn ewma_update(stat: EwmaStat, rtt: f64, now: f64) -> EwmaStat {
    EwmaStat { ewma: decay(stat, rtt, now), last_touched_at: now }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_robin_starts_one_after_the_random_node_and_wraps() {
        let check = |nodes: usize, draw: usize, expect: &[usize]| {
            let mut rr = RoundRobin::new(nodes, draw).expect("nodes");
            let got: Vec<usize> = (0..expect.len()).map(|_| rr.find()).collect();
            assert_eq!(got, expect, "{nodes} nodes, draw {draw}");
        };
        check(3, 1, &[1, 2, 0, 1]);
        check(3, 3, &[0, 1, 2, 0]);
        check(3, 2, &[2, 0, 1]);
        check(1, 1, &[0, 0]);
        check(2, 9, &[0, 1]);
        assert_eq!(RoundRobin::new(0, 1), None);
    }

    #[test]
    fn ewma_takes_the_lower_score_of_two_shuffled_peers() {
        let s = |ewma: f64| EwmaStat { ewma, last_touched_at: 100.0 };
        let stats = [s(0.5), s(0.1), s(0.3)];
        // Draws (1, 2): slots 0 and 1 are peers 0 and 1; peer 1 is faster.
        assert_eq!(ewma_pick(&stats, [1, 2], 100.0).map(|p| p.0), Some(1));
        // Draws (3, 3): slot 0 swaps with 2, then slot 1 with 2 (which now holds peer 0): peers 2
        // and 0 compete, and peer 2 is faster.
        assert_eq!(ewma_pick(&stats, [3, 3], 100.0).map(|p| p.0), Some(2));
        // Draws (3, 2): slot 0 holds peer 2, slot 1 peer 1; peer 1 wins.
        assert_eq!(ewma_pick(&stats, [3, 2], 100.0).map(|p| p.0), Some(1));
        assert_eq!(ewma_pick(&[s(1.0)], [1, 1], 0.0), Some((0, -1.0)));
        assert_eq!(ewma_pick(&[], [1, 1], 0.0), None);
        // Ten seconds decay a score by e.
        let decayed = decay(s(1.0), 0.0, 110.0);
        assert!((decayed - (-1.0f64).exp()).abs() < 1e-12);
        let updated = ewma_update(EwmaStat { ewma: 0.0, last_touched_at: 0.0 }, 2.0, 1e9);
        assert!((updated.ewma - 2.0).abs() < 1e-9 && updated.last_touched_at == 1e9);
    }
}
