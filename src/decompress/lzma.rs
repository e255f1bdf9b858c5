//! The LZMA decoder of LZMA2's compressed chunks: its probability model, its state and the
//! decoding of literals and matches straight into the output, which is the dictionary.
//!
//! The symbols, their order and every check are liblzma's (`lzma_decoder.c`): a distance must
//! lie within what was written since the last dictionary reset and within the dictionary's
//! size, a match may not run past the chunk's end, and the chunk ends with the range decoder's
//! code at zero and its last byte read. The end-of-payload marker is invalid in LZMA2: its
//! distance is never within the dictionary.

use super::Compression::Xz;
use super::DecompressError;
use super::range_decoder::{HALF, RangeDecoder};
use core::hint::select_unpredictable;

/// States: 0 to 6 after a literal, 7 to 11 after a match of some kind.
const STATES: usize = 12;
const LITERAL_STATES: usize = 7;
/// The state after a literal, from the state before it.
const AFTER_LITERAL: [usize; STATES] = [0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 4, 5];
/// The most position states (`pb` at most 4) and literal coders (`lc + lp` at most 4).
const POSITION_STATES: usize = 16;
const LITERAL_CODERS: usize = 16;
/// A literal coder: 0x100 nodes for plain literals, 0x200 more for those after a match (and
/// 0x100 never used, so that a node past the last bit is in the array).
const LITERAL_NODES: usize = 0x400;
/// Distances below 4 are their slot; slots below 14 have their low bits in `distance_low`.
const DISTANCE_MODEL_END: u32 = 14;
/// The highest properties byte: `(pb * 5 + lp) * 9 + lc` with each at its largest.
const PROPERTIES_MAX: u8 = (4 * 5 + 4) * 9 + 8;

/// The probabilities of a match length: 2 to 9, 10 to 17 by position state, else 18 to 273.
struct Lengths {
    choice: u16,
    choice2: u16,
    low: [[u16; 8]; POSITION_STATES],
    mid: [[u16; 8]; POSITION_STATES],
    high: [u16; 256],
}

impl Lengths {
    const NEW: Lengths = Lengths {
        choice: HALF,
        choice2: HALF,
        low: [[HALF; 8]; POSITION_STATES],
        mid: [[HALF; 8]; POSITION_STATES],
        high: [HALF; 256],
    };

    #[inline(always)]
    fn decode(&mut self, rc: &mut RangeDecoder<'_>, pos_state: usize) -> usize {
        let pos_state = pos_state & (POSITION_STATES - 1);
        let (base, extra) = if rc.bit(&mut self.choice) == 0 {
            (2, rc.tree::<3, 8>(&mut self.low[pos_state]))
        } else if rc.bit(&mut self.choice2) == 0 {
            (10, rc.tree::<3, 8>(&mut self.mid[pos_state]))
        } else {
            (18, rc.tree::<8, 256>(&mut self.high))
        };
        base + extra as usize
    }
}

/// The probabilities of everything but literals.
struct Model {
    is_match: [[u16; POSITION_STATES]; STATES],
    is_rep: [u16; STATES],
    is_rep0: [u16; STATES],
    is_rep1: [u16; STATES],
    is_rep2: [u16; STATES],
    is_rep0_long: [[u16; POSITION_STATES]; STATES],
    distance_slot: [[u16; 64]; 4],
    /// The low bits of distances of slots 4 to 13: liblzma's `pos_special` one place on, so
    /// that a slot's reverse bit tree starts at `distance - slot`.
    distance_low: [u16; 115],
    align: [u16; 16],
    match_lengths: Lengths,
    rep_lengths: Lengths,
}

impl Model {
    const NEW: Model = Model {
        is_match: [[HALF; POSITION_STATES]; STATES],
        is_rep: [HALF; STATES],
        is_rep0: [HALF; STATES],
        is_rep1: [HALF; STATES],
        is_rep2: [HALF; STATES],
        is_rep0_long: [[HALF; POSITION_STATES]; STATES],
        distance_slot: [[HALF; 64]; 4],
        distance_low: [HALF; 115],
        align: [HALF; 16],
        match_lengths: Lengths::NEW,
        rep_lengths: Lengths::NEW,
    };

    /// The distance of a match of `len` bytes.
    #[inline(always)]
    fn distance(&mut self, rc: &mut RangeDecoder<'_>, len: usize) -> u32 {
        let slot = rc.tree::<6, 64>(&mut self.distance_slot[(len - 2).min(3)]);
        if slot < 4 {
            return slot;
        }
        let bits = (slot >> 1) - 1;
        let high = (2 | (slot & 1)) << bits;
        if slot < DISTANCE_MODEL_END {
            high + rc.reverse_tree(&mut self.distance_low[(high - slot) as usize..], bits)
        } else {
            let middle = rc.direct(bits - 4) << 4;
            high.wrapping_add(middle).wrapping_add(rc.reverse_tree(&mut self.align, 4))
        }
    }
}

/// The decoder's state across the chunks of one LZMA2 stream.
pub(super) struct Lzma {
    /// The properties: `lc`, `lp`, and `pb` as the mask of a position's low bits.
    literal_context_bits: u32,
    literal_pos_bits: u32,
    pos_mask: usize,
    state: usize,
    /// The last four distances, the latest first.
    reps: [u32; 4],
    model: Model,
    literal: [[u16; LITERAL_NODES]; LITERAL_CODERS],
}

/// The block's output, which is also the dictionary.
pub(super) struct Output<'o> {
    pub(super) bytes: &'o mut [u8],
    /// How much is written.
    pub(super) pos: usize,
    /// Where the dictionary was last reset: nothing before is referred to.
    pub(super) start: usize,
    /// The dictionary size the block header names: no distance reaches further back.
    pub(super) dictionary: u64,
}

impl Lzma {
    pub(super) const NEW: Lzma = Lzma {
        literal_context_bits: 0,
        literal_pos_bits: 0,
        pos_mask: 0,
        state: 0,
        reps: [0; 4],
        model: Model::NEW,
        literal: [[HALF; LITERAL_NODES]; LITERAL_CODERS],
    };

    /// Takes the properties byte (`lc`, `lp`, `pb`) of an LZMA2 chunk and resets the state:
    /// None when it is invalid, or `lc + lp` is over 4 (LZMA2's limit).
    pub(super) fn set_properties(&mut self, properties: u8) -> Option<()> {
        if properties > PROPERTIES_MAX {
            return None;
        }
        let (pb, rest) = (properties / 45, properties % 45);
        let (lp, lc) = (rest / 9, rest % 9);
        if lc + lp > 4 {
            return None;
        }
        self.literal_context_bits = u32::from(lc);
        self.literal_pos_bits = u32::from(lp);
        self.pos_mask = (1 << pb) - 1;
        self.reset();
        Some(())
    }

    /// Back to the state of the stream's start, with the current properties.
    pub(super) fn reset(&mut self) {
        self.state = 0;
        self.reps = [0; 4];
        self.model = Model::NEW;
        let coders = 1 << (self.literal_context_bits + self.literal_pos_bits);
        for coder in self.literal.iter_mut().take(coders) {
            coder.fill(HALF);
        }
    }

    /// Decodes the LZMA chunk `input`, `unpacked` bytes, into `out`.
    pub(super) fn decode_chunk(
        &mut self,
        input: &[u8],
        out: &mut Output<'_>,
        unpacked: usize,
    ) -> Result<(), DecompressError> {
        let corrupt = DecompressError::Corrupt(Xz);
        let mut rc = RangeDecoder::new(input).ok_or(corrupt)?;
        let (start, mut pos) = (out.start, out.pos);
        let end = pos + unpacked;
        let bytes = &mut *out.bytes;
        if end > bytes.len() {
            return Err(DecompressError::Overlong { expected: bytes.len() });
        }
        let reach = usize::try_from(out.dictionary).unwrap_or(usize::MAX);
        let literal_pos_mask = (1 << self.literal_pos_bits) - 1;
        let lc = self.literal_context_bits;
        let m = &mut self.model;
        let mut state = self.state;
        let [mut rep0, mut rep1, mut rep2, mut rep3] = self.reps;
        while pos < end {
            let pos_state = (pos - start) & self.pos_mask;
            if rc.bit(&mut m.is_match[state][pos_state]) == 0 {
                let previous = if pos > start { u32::from(bytes[pos - 1]) } else { 0 };
                let coder = ((((pos - start) & literal_pos_mask) << lc) + (previous >> (8 - lc)) as usize)
                    & (LITERAL_CODERS - 1);
                let probs = &mut self.literal[coder];
                let symbol = if state < LITERAL_STATES {
                    let plain = probs.first_chunk_mut::<0x100>().ok_or(corrupt)?;
                    rc.tree::<8, 0x100>(plain)
                } else {
                    matched_literal(&mut rc, probs, bytes[pos - rep0 as usize - 1])
                };
                bytes[pos] = symbol as u8;
                pos += 1;
                state = AFTER_LITERAL[state];
                continue;
            }
            let len;
            if rc.bit(&mut m.is_rep[state]) == 0 {
                len = m.match_lengths.decode(&mut rc, pos_state);
                let distance = m.distance(&mut rc, len);
                state = if state < LITERAL_STATES { 7 } else { 10 };
                (rep3, rep2, rep1, rep0) = (rep2, rep1, rep0, distance);
                if distance as usize >= (pos - start).min(reach) {
                    return Err(corrupt);
                }
            } else {
                if pos == start {
                    return Err(corrupt);
                }
                if rc.bit(&mut m.is_rep0[state]) == 0 {
                    if rc.bit(&mut m.is_rep0_long[state][pos_state]) == 0 {
                        state = if state < LITERAL_STATES { 9 } else { 11 };
                        bytes[pos] = bytes[pos - rep0 as usize - 1];
                        pos += 1;
                        continue;
                    }
                } else {
                    let distance;
                    if rc.bit(&mut m.is_rep1[state]) == 0 {
                        distance = rep1;
                    } else {
                        if rc.bit(&mut m.is_rep2[state]) == 0 {
                            distance = rep2;
                        } else {
                            distance = rep3;
                            rep3 = rep2;
                        }
                        rep2 = rep1;
                    }
                    rep1 = rep0;
                    rep0 = distance;
                }
                state = if state < LITERAL_STATES { 8 } else { 11 };
                len = m.rep_lengths.decode(&mut rc, pos_state);
            }
            if len > end - pos {
                return Err(corrupt);
            }
            copy_match(bytes, pos, rep0 as usize + 1, len);
            pos += len;
        }
        self.state = state;
        self.reps = [rep0, rep1, rep2, rep3];
        out.pos = pos;
        if rc.finish() { Ok(()) } else { Err(corrupt) }
    }
}

/// A literal after a match: the byte at the match's distance steers the probabilities until a
/// bit differs from it. As [`RangeDecoder::tree`], the next bit's two probabilities are read
/// while a bit is decoded.
#[inline(always)]
fn matched_literal(rc: &mut RangeDecoder<'_>, probs: &mut [u16; LITERAL_NODES], match_byte: u8) -> u32 {
    let node =
        |offset: u32, matched: u32, symbol: u32| (offset + (matched & offset) + symbol) as usize & (LITERAL_NODES - 1);
    let (mut symbol, mut offset, mut matched) = (1, 0x100, u32::from(match_byte) << 1);
    let mut at = node(offset, matched, symbol);
    let mut p = probs[at];
    for _ in 0..8 {
        let match_bit = matched & offset;
        matched <<= 1;
        let (offset0, offset1) = (offset & !match_bit, offset & match_bit);
        let (at0, at1) = (node(offset0, matched, symbol * 2), node(offset1, matched, symbol * 2 + 1));
        let children = (probs[at0], probs[at1]);
        let (bit, adapted) = rc.unpredictable_bit(p);
        probs[at] = adapted;
        let one = bit == 1;
        symbol = symbol * 2 + bit;
        offset = select_unpredictable(one, offset1, offset0);
        at = select_unpredictable(one, at1, at0);
        p = select_unpredictable(one, children.1, children.0);
    }
    symbol - 0x100
}

/// Repeats the `len` bytes that start `distance` bytes before `pos` at `pos`; when they
/// overlap, the bytes copied are copied again. Eight bytes a step when the distance allows it
/// and `bytes` has room: the few bytes written past the match are output yet to come.
#[inline(always)]
fn copy_match(bytes: &mut [u8], pos: usize, distance: usize, len: usize) {
    let from = pos - distance;
    if distance >= 8 && pos + len + 8 <= bytes.len() {
        for at in (0..len).step_by(8) {
            let chunk: [u8; 8] = bytes[from + at..from + at + 8].try_into().unwrap_or_default();
            bytes[pos + at..pos + at + 8].copy_from_slice(&chunk);
        }
    } else {
        for at in 0..len {
            bytes[pos + at] = bytes[from + at];
        }
    }
}
