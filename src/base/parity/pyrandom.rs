//! Python's `random` module, as far as the notebooks use it: `random.seed(n)` for a non-negative
//! integer and `random.randint(a, b)`.
//!
//! CPython seeds its MT19937 (Matsumoto & Nishimura 1998) with `init_by_array` over the 32-bit
//! words of `|n|`, least significant first, and draws `randint(a, b)` as `a + _randbelow(b − a + 1)`:
//! with `k = bit_length(n)`, take `getrandbits(k)` (the top `k` bits of one 32-bit output when
//! `k ≤ 32`) until the value is below `n`.

use super::mt19937::{self, N};

/// A Mersenne Twister seeded and used the way CPython's `random.Random` does.
#[derive(Clone)]
pub struct PyRandom {
    state: [u32; N],
    index: usize,
}

impl std::fmt::Debug for PyRandom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PyRandom")
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}

impl PyRandom {
    /// `random.seed(seed)` for an integer seed (CPython uses the absolute value).
    pub fn new(seed: i128) -> Self {
        let mut n = seed.unsigned_abs();
        let mut key = Vec::new();
        while n > 0 {
            key.push(n as u32);
            n >>= 32;
        }
        if key.is_empty() {
            key.push(0);
        }
        Self::from_key(&key)
    }

    /// `init_by_array(key)`.
    pub fn from_key(key: &[u32]) -> Self {
        let mut mt = [0u32; N];
        mt[0] = 19_650_218;
        for i in 1..N {
            mt[i] = 1_812_433_253u32
                .wrapping_mul(mt[i - 1] ^ (mt[i - 1] >> 30))
                .wrapping_add(i as u32);
        }
        let (mut i, mut j) = (1usize, 0usize);
        for _ in 0..N.max(key.len()) {
            mt[i] = (mt[i] ^ (mt[i - 1] ^ (mt[i - 1] >> 30)).wrapping_mul(1_664_525))
                .wrapping_add(key[j])
                .wrapping_add(j as u32);
            i += 1;
            j += 1;
            if i >= N {
                mt[0] = mt[N - 1];
                i = 1;
            }
            if j >= key.len() {
                j = 0;
            }
        }
        for _ in 0..N - 1 {
            mt[i] = (mt[i] ^ (mt[i - 1] ^ (mt[i - 1] >> 30)).wrapping_mul(1_566_083_941))
                .wrapping_sub(i as u32);
            i += 1;
            if i >= N {
                mt[0] = mt[N - 1];
                i = 1;
            }
        }
        mt[0] = 0x8000_0000;
        PyRandom {
            state: mt,
            index: N,
        }
    }

    /// One tempered 32-bit output (`genrand_uint32`).
    pub fn next_u32(&mut self) -> u32 {
        if self.index >= N {
            mt19937::twist(&mut self.state);
            self.index = 0;
        }
        let y = self.state[self.index];
        self.index += 1;
        mt19937::temper(y)
    }

    /// `random.getrandbits(k)` for `1 ≤ k ≤ 64` (32-bit words, least significant first).
    pub fn getrandbits(&mut self, k: u32) -> u64 {
        assert!(
            (1..=64).contains(&k),
            "getrandbits supports 1..=64 bits here, got {k}"
        );
        if k <= 32 {
            return u64::from(self.next_u32() >> (32 - k));
        }
        let low = u64::from(self.next_u32());
        let high = u64::from(self.next_u32() >> (64 - k));
        (high << 32) | low
    }

    /// `random._randbelow(n)` for `n ≥ 1`: rejection sampling on `bit_length(n)` bits.
    pub fn randbelow(&mut self, n: u64) -> u64 {
        assert!(n >= 1, "randbelow needs n ≥ 1");
        let k = 64 - n.leading_zeros();
        loop {
            let r = self.getrandbits(k);
            if r < n {
                return r;
            }
        }
    }

    /// `random.randint(a, b)`, both ends included.
    pub fn randint(&mut self, a: i64, b: i64) -> i64 {
        assert!(a <= b, "randint: empty range {a}..={b}");
        a + self.randbelow((b - a) as u64 + 1) as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_777_gives_the_notebooks_test_image() {
        // lab-facts.md: random.seed(777); random.randint(0, 9999) == 3757
        assert_eq!(PyRandom::new(777).randint(0, 9999), 3757);
    }
}
