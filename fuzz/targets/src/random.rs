//! xorshift64*: deterministic pseudo-random numbers for seeds and the smoke test's mutations,
//! so that a failure reproduces.

pub struct Random(u64);

impl Random {
    /// A generator for `seed` (any value; 0 is moved off the fixed point).
    pub fn new(seed: u64) -> Self {
        Random(seed | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number below `n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { (self.next_u64() >> 32) as usize % n }
    }

    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next_u64() as u8).collect()
    }
}
