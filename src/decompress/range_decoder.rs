//! LZMA's range decoder: the bits of one LZMA2 chunk, each decoded with an adaptive
//! probability, or directly (the middle bits of long distances).
//!
//! The arithmetic is liblzma's (`range_decoder.h`), so that corrupt data decodes to the same
//! bits and fails the same way. Reading past the chunk's bytes is not checked bit by bit: zeros
//! are read instead and [`RangeDecoder::finish`] refuses the chunk.

use core::hint::select_unpredictable;

/// Below this, the range is shifted up by a byte and a byte of input read.
const TOP: u32 = 1 << 24;
/// Probabilities are 11-bit fractions of one.
const PROBABILITY_BITS: u32 = 11;
const ONE: u16 = 1 << PROBABILITY_BITS;
/// How fast a probability adapts to a decoded bit.
const MOVE_BITS: u32 = 5;
/// A probability before any bit was decoded with it: one half.
pub(super) const HALF: u16 = ONE / 2;

pub(super) struct RangeDecoder<'a> {
    input: &'a [u8],
    /// The next byte of `input` to read; past its end once the data ran out.
    at: usize,
    range: u32,
    code: u32,
}

impl<'a> RangeDecoder<'a> {
    /// The decoder of a chunk's compressed bytes: their first five start it, and the first is
    /// always zero (liblzma refuses another). None when they do not.
    pub(super) fn new(input: &'a [u8]) -> Option<RangeDecoder<'a>> {
        match *input {
            [0, a, b, c, d, ..] => {
                Some(RangeDecoder { input, at: 5, range: u32::MAX, code: u32::from_be_bytes([a, b, c, d]) })
            }
            _ => None,
        }
    }

    #[inline(always)]
    fn normalize(&mut self) {
        if self.range < TOP {
            self.range <<= 8;
            self.code = (self.code << 8) | u32::from(self.input.get(self.at).copied().unwrap_or(0));
            self.at += 1;
        }
    }

    /// One bit with the probability `p` (of a zero), which adapts to it.
    #[inline(always)]
    pub(super) fn bit(&mut self, p: &mut u16) -> u32 {
        self.normalize();
        let bound = (self.range >> PROBABILITY_BITS) * u32::from(*p);
        if self.code < bound {
            self.range = bound;
            *p += (ONE - *p) >> MOVE_BITS;
            0
        } else {
            self.range -= bound;
            self.code -= bound;
            *p -= *p >> MOVE_BITS;
            1
        }
    }

    /// One bit with the probability `p`, without a branch on the bit (a branch predictor
    /// cannot guess literals), and `p` adapted to it.
    #[inline(always)]
    pub(super) fn unpredictable_bit(&mut self, p: u16) -> (u32, u16) {
        self.normalize();
        let bound = (self.range >> PROBABILITY_BITS) * u32::from(p);
        let one = self.code >= bound;
        self.range = select_unpredictable(one, self.range - bound, bound);
        self.code = select_unpredictable(one, self.code.wrapping_sub(bound), self.code);
        (u32::from(one), select_unpredictable(one, p - (p >> MOVE_BITS), p + ((ONE - p) >> MOVE_BITS)))
    }

    /// `BITS` bits, highest first, from the bit tree `probs` (whose node 0 is unused). Both
    /// children's probabilities are read while a bit is decoded, so that reading the next one
    /// does not wait for it.
    #[inline(always)]
    pub(super) fn tree<const BITS: u32, const NODES: usize>(&mut self, probs: &mut [u16; NODES]) -> u32 {
        let mut node = 1;
        let mut p = probs[1];
        for _ in 0..BITS {
            // Past the last level the children are not used: any node will do.
            let children = (probs[(node * 2) & (NODES - 1)], probs[(node * 2 + 1) & (NODES - 1)]);
            let (bit, adapted) = self.unpredictable_bit(p);
            probs[node & (NODES - 1)] = adapted;
            node = node * 2 + bit as usize;
            p = select_unpredictable(bit == 1, children.1, children.0);
        }
        node as u32 - (1 << BITS)
    }

    /// `bits` bits, lowest first, from the bit tree `probs` (whose node 0 is unused).
    #[inline(always)]
    pub(super) fn reverse_tree(&mut self, probs: &mut [u16], bits: u32) -> u32 {
        let (mut node, mut value) = (1, 0);
        for i in 0..bits {
            let bit = self.bit(&mut probs[node]);
            node = (node << 1) | bit as usize;
            value |= bit << i;
        }
        value
    }

    /// `count` bits of even odds, highest first.
    #[inline(always)]
    pub(super) fn direct(&mut self, count: u32) -> u32 {
        let mut value = 0u32;
        for _ in 0..count {
            self.normalize();
            self.range >>= 1;
            self.code = self.code.wrapping_sub(self.range);
            let mask = 0u32.wrapping_sub(self.code >> 31);
            self.code = self.code.wrapping_add(self.range & mask);
            value = (value << 1).wrapping_add(mask.wrapping_add(1));
        }
        value
    }

    /// Whether the chunk ends here, as liblzma checks it: the byte a last normalization needs
    /// read, the code back to zero, and every byte of the chunk read, none past it.
    pub(super) fn finish(mut self) -> bool {
        self.normalize();
        self.code == 0 && self.at == self.input.len()
    }
}
