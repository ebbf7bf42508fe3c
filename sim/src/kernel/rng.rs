//! Per-actor random streams.
//!
//! Each actor draws from its own SplitMix64 stream (Steele, Lea & Flood 2014,
//! "Fast splittable pseudorandom number generators"), with a state and an odd
//! increment ("gamma") both derived from `(scenario seed, actor id)`. Different
//! gammas give different sequences, so two actors never share a stream even
//! when their starting points collide. 16 bytes per actor; the output passes
//! BigCrush. The generator is fixed here, not borrowed from a crate whose
//! algorithm may change, so a seed keeps its results across upgrades.

use rand_core::RngCore;
use std::sync::LazyLock;

const GOLDEN_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// The 64-bit finaliser of SplitMix64 / MurmurHash3 (variant 13).
#[inline]
pub(crate) const fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A gamma with enough bit transitions to decorrelate streams (as in
/// `java.util.SplittableRandom.mixGamma`).
const fn mix_gamma(z: u64) -> u64 {
    let mut g = mix64(z) | 1;
    if (g ^ (g >> 1)).count_ones() < 24 {
        g ^= 0xAAAA_AAAA_AAAA_AAAA;
    }
    g
}

/// Right edge of the ziggurat's base layer for `exp(-x)`, 256 layers.
const ZIGGURAT_EXPONENTIAL_R: f64 = 7.697_117_470_131_05;
/// Area of each of the 256 layers.
const ZIGGURAT_EXPONENTIAL_AREA: f64 = 0.003_949_659_822_581_557;

/// Layer edges `x` (decreasing, `x[1] = R`, `x[256] = 0`, `x[0]` the base
/// layer's pseudo-width) and `f = exp(-x)`.
struct Ziggurat {
    x: [f64; 257],
    f: [f64; 257],
}

static EXPONENTIAL_ZIGGURAT: LazyLock<Ziggurat> = LazyLock::new(|| {
    let (r, v) = (ZIGGURAT_EXPONENTIAL_R, ZIGGURAT_EXPONENTIAL_AREA);
    let mut x = [0.0; 257];
    x[0] = v / (-r).exp();
    x[1] = r;
    for i in 1..256 {
        x[i + 1] = -(v / x[i] + (-x[i]).exp()).ln();
    }
    x[256] = 0.0;
    let f = x.map(|xi| (-xi).exp());
    Ziggurat { x, f }
});

/// An actor's random stream. Implements [`rand_core::RngCore`], so `rand`'s
/// distributions work on it too.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ActorRng {
    state: u64,
    gamma: u64,
}

impl ActorRng {
    /// The stream of actor `actor_raw` (see [`crate::ActorId::raw`]) under `seed`.
    pub fn for_actor(seed: u64, actor_raw: u32) -> Self {
        let key = mix64(seed ^ GOLDEN_GAMMA).wrapping_add(mix64(actor_raw as u64 ^ 0x5851_F42D_4C95_7F2D));
        ActorRng { state: mix64(key), gamma: mix_gamma(key.wrapping_add(GOLDEN_GAMMA)) }
    }

    /// The stream's position: with the seed and actor it was made for, all
    /// that saved state needs to rebuild it.
    pub(crate) fn position(&self) -> u64 {
        self.state
    }

    /// The stream of `actor_raw` under `seed` (as [`ActorRng::for_actor`]),
    /// moved to `position`.
    pub(crate) fn at_position(seed: u64, actor_raw: u32, position: u64) -> Self {
        ActorRng { state: position, ..Self::for_actor(seed, actor_raw) }
    }

    /// The next 64 random bits.
    #[inline]
    pub fn next_bits(&mut self) -> u64 {
        self.state = self.state.wrapping_add(self.gamma);
        mix64(self.state)
    }

    /// Uniform in `[0, 1)`, 53 bits of precision.
    #[inline]
    pub fn uniform(&mut self) -> f64 {
        (self.next_bits() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Exponentially distributed with the given mean.
    ///
    /// Marsaglia & Tsang's ziggurat (2000, "The ziggurat method for
    /// generating random variables"), 256 layers: ~99% of draws take one
    /// random word, a multiply and a compare, no logarithm.
    #[inline]
    pub fn exponential(&mut self, mean: f64) -> f64 {
        let zig = &*EXPONENTIAL_ZIGGURAT;
        loop {
            let bits = self.next_bits();
            let layer = (bits & 0xFF) as usize;
            // The top 53 bits, independent of the 8 that chose the layer.
            let x = (bits >> 11) as f64 * (1.0 / (1u64 << 53) as f64) * zig.x[layer];
            if x < zig.x[layer + 1] {
                return mean * x;
            }
            if layer == 0 {
                // The tail beyond R is R + Exp(1); 1 - u is in (0, 1].
                return mean * (ZIGGURAT_EXPONENTIAL_R - (1.0 - self.uniform()).ln());
            }
            let y = zig.f[layer] + (zig.f[layer + 1] - zig.f[layer]) * self.uniform();
            if y < (-x).exp() {
                return mean * x;
            }
        }
    }

    /// Standard normal (Box-Muller; one of the pair is used).
    #[inline]
    pub fn normal(&mut self) -> f64 {
        // 1 - u is in (0, 1], so the logarithm is finite.
        let (u, v) = (1.0 - self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }

    /// Uniform in `0..n` without bias (Lemire 2019, widening multiply with
    /// rejection). Panics when `n == 0`.
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "below(0): empty range");
        let mut m = (self.next_bits() as u128) * (n as u128);
        if (m as u64) < n {
            let threshold = n.wrapping_neg() % n;
            while (m as u64) < threshold {
                m = (self.next_bits() as u128) * (n as u128);
            }
        }
        (m >> 64) as u64
    }

    /// True with probability `p`.
    #[inline]
    pub fn chance(&mut self, p: f64) -> bool {
        self.uniform() < p
    }
}

impl RngCore for ActorRng {
    fn next_u32(&mut self) -> u32 {
        (self.next_bits() >> 32) as u32
    }

    fn next_u64(&mut self) -> u64 {
        self.next_bits()
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for chunk in dest.chunks_mut(8) {
            let bytes = self.next_bits().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let mut a = ActorRng::for_actor(1, 7);
        let mut b = ActorRng::for_actor(1, 7);
        let mut c = ActorRng::for_actor(1, 8);
        let mut d = ActorRng::for_actor(2, 7);
        let xs: Vec<u64> = (0..4).map(|_| a.next_bits()).collect();
        assert_eq!(xs, (0..4).map(|_| b.next_bits()).collect::<Vec<_>>());
        assert_ne!(xs, (0..4).map(|_| c.next_bits()).collect::<Vec<_>>());
        assert_ne!(xs, (0..4).map(|_| d.next_bits()).collect::<Vec<_>>());
    }

    #[test]
    fn moments_match_the_distributions() {
        let mut rng = ActorRng::for_actor(42, 0);
        let n = 200_000;
        let mean_uniform = (0..n).map(|_| rng.uniform()).sum::<f64>() / n as f64;
        let mean_exp = (0..n).map(|_| rng.exponential(2.0)).sum::<f64>() / n as f64;
        let mut counts = [0u32; 7];
        for _ in 0..n {
            counts[rng.below(7) as usize] += 1;
        }
        // Standard errors: uniform 0.29/sqrt(n) = 6.5e-4; exponential 2/sqrt(n) = 4.5e-3.
        assert!((mean_uniform - 0.5).abs() < 0.003, "{mean_uniform}");
        assert!((mean_exp - 2.0).abs() < 0.02, "{mean_exp}");
        let expected = n as f64 / 7.0;
        for c in counts {
            assert!((c as f64 - expected).abs() < 5.0 * expected.sqrt(), "{counts:?}");
        }
    }

    #[test]
    fn ziggurat_exponential_follows_the_distribution_function() {
        let mut rng = ActorRng::for_actor(7, 1);
        let n = 2_000_000;
        let draws: Vec<f64> = (0..n).map(|_| rng.exponential(1.0)).collect();
        assert!(draws.iter().all(|x| x.is_finite() && *x >= 0.0));
        // P(X <= q) = 1 - exp(-q), including the tail beyond R = 7.7.
        for q in [0.05, 0.5, 1.0, 2.0, 4.0, 7.0, 8.0, 10.0] {
            let p = 1.0 - f64::exp(-q);
            let observed = draws.iter().filter(|x| **x <= q).count() as f64 / n as f64;
            let standard_error = (p * (1.0 - p) / n as f64).sqrt().max(1e-7);
            assert!((observed - p).abs() < 5.0 * standard_error, "q={q}: {observed} vs {p}");
        }
        let tail = draws.iter().filter(|x| **x > ZIGGURAT_EXPONENTIAL_R).count();
        assert!(tail > 500, "the tail path ran {tail} times");
        let mean = draws.iter().sum::<f64>() / n as f64;
        let variance = draws.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        assert!((mean - 1.0).abs() < 0.004 && (variance - 1.0).abs() < 0.01, "{mean} {variance}");
    }
}
