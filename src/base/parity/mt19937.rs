//! The Mersenne Twister MT19937 (Matsumoto & Nishimura 1998, "Mersenne Twister: a
//! 623-dimensionally equidistributed uniform pseudo-random number generator"): the state's
//! twist and the output's tempering.
//!
//! Two generators of the lab are this one: Python's `random` ([`crate::base::parity::pyrandom`], seeded with
//! `init_by_array`) and libtorch's CPU generator (`at::mt19937`, read and written by
//! [`crate::base::parity::torch_rng`]). They differ in seeding and in how they count the words they have used,
//! not in these two functions.

/// Words of state.
pub const N: usize = 624;
/// The middle word's offset.
pub const M: usize = 397;
/// The twist matrix's last row, `a`.
const MATRIX_A: u32 = 0x9908_b0df;
const UPPER_MASK: u32 = 0x8000_0000;
const LOWER_MASK: u32 = 0x7fff_ffff;

/// `x_k ⊕ ((x_k^u | x_{k+1}^l) A)` for one word: the upper bit of `u`, the lower 31 bits of `v`,
/// shifted right, and `a` added when that word is odd (its low bit is `v`'s).
#[inline(always)]
fn mix(u: u32, v: u32) -> u32 {
    let y = (u & UPPER_MASK) | (v & LOWER_MASK);
    (y >> 1) ^ (0u32.wrapping_sub(v & 1) & MATRIX_A)
}

/// The next `N` words of state in place (`genrand_int32`'s refill; `at::mt19937::next_state`):
/// `x_{k+N} = x_{k+M} ⊕ ((x_k^u | x_{k+1}^l) A)`, in three stretches so that no index wraps.
pub fn twist(state: &mut [u32; N]) {
    for k in 0..N - M {
        state[k] = state[k + M] ^ mix(state[k], state[k + 1]);
    }
    for k in N - M..N - 1 {
        state[k] = state[k + M - N] ^ mix(state[k], state[k + 1]);
    }
    state[N - 1] = state[M - 1] ^ mix(state[N - 1], state[0]);
}

/// The tempering of one state word into an output (`y ⊕= y≫11; y ⊕= (y≪7)&b; y ⊕= (y≪15)&c;
/// y ⊕= y≫18`).
#[inline(always)]
pub fn temper(mut y: u32) -> u32 {
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c_5680;
    y ^= (y << 15) & 0xefc6_0000;
    y ^ (y >> 18)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `init_genrand(s)`, the reference code's seeding by one 32-bit word.
    fn init_genrand(seed: u32) -> [u32; N] {
        let mut mt = [0u32; N];
        mt[0] = seed;
        for i in 1..N {
            mt[i] = 1_812_433_253u32
                .wrapping_mul(mt[i - 1] ^ (mt[i - 1] >> 30))
                .wrapping_add(i as u32);
        }
        mt
    }

    #[test]
    fn the_10000th_output_from_seed_5489_is_the_standards() {
        // C++11 [rand.predef]: the 10000th invocation of a default-constructed std::mt19937
        // (seed 5489) produces 4123659995.
        let mut state = init_genrand(5489);
        let mut last = 0;
        for i in 0..10_000 {
            if i % N == 0 {
                twist(&mut state);
            }
            last = temper(state[i % N]);
        }
        assert_eq!(last, 4_123_659_995);
    }
}
