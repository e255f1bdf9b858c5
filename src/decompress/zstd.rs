//! zstd files (RFC 8878): the frame header and block layout checked here, the blocks decoded by
//! ruzstd, which allocates its buffers on the heap.
//!
//! A file is one frame that records its content size, as the `zstd` tool writes a file (the
//! kernel's `modules_install` runs it). Anything else is rejected up front with its own error:
//! frames without a content size, dictionaries, a second frame, skippable frames.

use super::Compression::Zstd;
use super::DecompressError;
use ruzstd::decoding::errors::FrameDecoderError;
use ruzstd::decoding::{BlockDecodingStrategy, FrameDecoder};
use ruzstd::io::Read;

/// Magic_Number, before the Frame_Header_Descriptor.
const MAGIC_LEN: usize = 4;
// Frame_Header_Descriptor bits (RFC 8878, 3.1.1.1.1).
const SINGLE_SEGMENT: u8 = 1 << 5;
const RESERVED: u8 = 1 << 3;
const CHECKSUM: u8 = 1 << 2;
/// Block_Header: Last_Block (1 bit), Block_Type (2), Block_Size (21), little-endian.
const BLOCK_HEADER: usize = 3;
/// Block_Maximum_Size's upper limit (RFC 8878, 3.1.1.2.4).
const BLOCK_MAX: u64 = 128 << 10;
/// Content_Checksum: the low 32 bits of the XXH64 of the content.
const CHECKSUM_LEN: usize = 4;

/// A zstd file whose header and block layout have been checked: one frame, ending where the
/// file ends.
pub(super) struct Frame<'a> {
    /// The frame: all of the file.
    bytes: &'a [u8],
    pub(super) content_size: u64,
    /// Window_Size: how much decoded data the decoder keeps for back-references.
    window: u64,
}

impl<'a> Frame<'a> {
    /// Reads the frame header of `file`, which starts with the zstd magic number, and walks the
    /// block headers to the frame's end (the data inside blocks is ruzstd's to check).
    pub(super) fn parse(file: &'a [u8]) -> Result<Frame<'a>, DecompressError> {
        let mut reader = Reader { file, at: MAGIC_LEN };
        let descriptor = reader.bytes::<1>()?[0];
        if descriptor & RESERVED != 0 {
            return Err(DecompressError::ZstdReservedBit);
        }
        let single_segment = descriptor & SINGLE_SEGMENT != 0;
        let window_descriptor = if single_segment { None } else { Some(reader.bytes::<1>()?[0]) };
        let dictionary = match descriptor & 0b11 {
            0 => 0,
            1 => u32::from(reader.bytes::<1>()?[0]),
            2 => u32::from(u16::from_le_bytes(*reader.bytes::<2>()?)),
            _ => u32::from_le_bytes(*reader.bytes::<4>()?),
        };
        // ID 0 means "no dictionary" (RFC 8878, 3.1.1.1.3).
        if dictionary != 0 {
            return Err(DecompressError::ZstdDictionary(dictionary));
        }
        let content_size = match (descriptor >> 6, single_segment) {
            (0, false) => return Err(DecompressError::UnknownSize),
            (0, true) => u64::from(reader.bytes::<1>()?[0]),
            (1, _) => u64::from(u16::from_le_bytes(*reader.bytes::<2>()?)) + 256,
            (2, _) => u64::from(u32::from_le_bytes(*reader.bytes::<4>()?)),
            _ => u64::from_le_bytes(*reader.bytes::<8>()?),
        };
        let window = match window_descriptor {
            // A single segment is its own window.
            None => content_size,
            Some(descriptor) => {
                let base = 1u64 << (10 + (descriptor >> 3));
                base + base / 8 * u64::from(descriptor & 0b111)
            }
        };
        loop {
            let header = reader.bytes::<BLOCK_HEADER>()?;
            let header = u32::from_le_bytes([header[0], header[1], header[2], 0]);
            let size = u64::from(header >> 3);
            let stored = match (header >> 1) & 0b11 {
                // RLE: one byte, repeated Block_Size times.
                1 => 1,
                // Raw and compressed: Block_Size bytes. 3 is reserved.
                0 | 2 if size <= BLOCK_MAX => size,
                _ => return Err(DecompressError::Corrupt(Zstd)),
            };
            reader.skip(stored)?;
            if header & 1 != 0 {
                break;
            }
        }
        if descriptor & CHECKSUM != 0 {
            reader.skip(CHECKSUM_LEN as u64)?;
        }
        if reader.at != file.len() {
            return Err(DecompressError::TrailingData(Zstd));
        }
        Ok(Frame { bytes: file, content_size, window })
    }

    /// The most heap ruzstd may allocate decoding this frame, whatever its blocks contain.
    pub(super) fn heap_needed(&self) -> u64 {
        ring_buffer_allocations(self.window).saturating_add(SCRATCH_ALLOCATIONS)
    }
}

/// A cursor over the file that turns reading past its end into `Truncated`.
struct Reader<'a> {
    file: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn bytes<const N: usize>(&mut self) -> Result<&'a [u8; N], DecompressError> {
        let bytes = self.file.get(self.at..).and_then(|rest| rest.first_chunk::<N>());
        self.at += N;
        bytes.ok_or(DecompressError::Truncated(Zstd))
    }

    fn skip(&mut self, len: u64) -> Result<(), DecompressError> {
        let end = usize::try_from(len).ok().and_then(|len| self.at.checked_add(len));
        self.at = end.filter(|&end| end <= self.file.len()).ok_or(DecompressError::Truncated(Zstd))?;
        Ok(())
    }
}

// What ruzstd 0.9.1 allocates while decoding a frame (read from its source; the tests replay
// real decodes through the boot arena's bookkeeping and compare). In a bump arena, what is freed
// mid-frame is mostly not reused, so these bound the sum of all allocations, not the peak.
//
// The ring buffer of decoded bytes (decoding/ringbuffer.rs) is reserved for the window when the
// frame starts. `decompress_into` drains it down to the window after every block, so it holds at
// most the window plus what one block adds; it grows only if a corrupt block overshoots, and
// ruzstd notices that only after the sequence that crossed the limit.

/// ruzstd's `RingBuffer::reserve_amortized` SLACK: two maximum blocks.
const RING_SLACK: u64 = 2 * BLOCK_MAX;

/// Regenerated_Size's largest value (20 bits, RFC 8878 3.1.1.3.1.1): ruzstd reserves that many
/// literals before it checks them against the block size.
const LITERALS_MAX: u64 = (1 << 20) - 1;
/// Match_Length's largest value: baseline 65,539 plus 16 extra bits (RFC 8878, 3.1.1.3.2.1.1).
const MATCH_MAX: u64 = 65_539 + 0xffff;
/// The most one block adds to the ring buffer before ruzstd rejects it: output within the block
/// limit, then one sequence with every literal and the longest match.
const BLOCK_OVERSHOOT: u64 = BLOCK_MAX + LITERALS_MAX + MATCH_MAX;

/// The capacity ruzstd's ring buffer grows to from `capacity` when it must hold `required`
/// bytes (its `reserve_amortized`, with its one sentinel byte); `u64::MAX` when that is more.
fn ring_capacity(capacity: u64, required: u64) -> u64 {
    let power = |n: u64| n.checked_next_power_of_two().unwrap_or(u64::MAX);
    if required <= RING_SLACK {
        power(capacity).max(power(required)).saturating_add(1)
    } else {
        power(required - RING_SLACK).saturating_add(RING_SLACK + 1)
    }
}

/// Every ring buffer ruzstd may allocate for `window`: the first, reserved for the window, and
/// each one it may grow to while holding at most the window and a block's overshoot. Growing by
/// one byte at a time reaches every capacity that a growth can land on, so summing those bounds
/// any real sequence of growths. Each step at least doubles the capacity past the slack, until it
/// saturates at `u64::MAX` (a single-segment frame's window is its content size, up to that).
fn ring_buffer_allocations(window: u64) -> u64 {
    let most = window.saturating_add(BLOCK_OVERSHOOT);
    let mut capacity = ring_capacity(0, window);
    let mut total = capacity;
    while capacity - 1 < most && capacity < u64::MAX {
        capacity = ring_capacity(capacity, capacity + 1);
        total = total.saturating_add(capacity);
    }
    total
}

/// Number_of_Sequences' largest value (RFC 8878, 3.1.1.3.2.1).
const SEQUENCES_MAX: u64 = 0x7f00 + 0xffff;
/// ruzstd's `Sequence`: three u32.
const SEQUENCE_BYTES: u64 = 12;
/// A `Vec` that grows to hold n bytes has allocated under 4n in all: each growth at least
/// doubles it, and the last one ends below 2n.
const VEC_LIFETIME: u64 = 4;
/// The Huffman and FSE tables (11- and 9-bit accuracy: a few KiB each, with the same growth),
/// ruzstd's boxed error on a failure, and alignment padding, with room to spare.
const TABLES_AND_PADDING: u64 = 256 << 10;
/// Everything besides the ring buffer: sequences, literals and the compressed block, each
/// cleared and refilled per block.
const SCRATCH_ALLOCATIONS: u64 =
    VEC_LIFETIME * (SEQUENCES_MAX * SEQUENCE_BYTES + LITERALS_MAX + BLOCK_MAX) + TABLES_AND_PADDING;

/// Decodes the frame of `file` into `out` (exactly its content size long), checking the
/// content size and, when the frame has one, its checksum.
///
/// Call `heap_needed` first where the heap is bounded: ruzstd cannot report a failed allocation.
pub(super) fn decompress_into(file: &[u8], out: &mut [u8]) -> Result<usize, DecompressError> {
    let frame = Frame::parse(file)?;
    let expected = usize::try_from(frame.content_size).unwrap_or(usize::MAX);
    if out.len() != expected {
        return Err(DecompressError::OutputBufferSize { needed: expected, given: out.len() });
    }
    let mut decoder = FrameDecoder::new();
    // The first init() of a decoder leaves its ring buffer empty, to grow by doubling: in a
    // bump arena that costs twice the window (19 MiB for i915.ko's 6.5 MiB). reset() on a
    // decoder that has been initialized reserves the whole window at once.
    decoder.init(frame.bytes).map_err(decode_error)?;
    let mut input = frame.bytes;
    decoder.reset(&mut input).map_err(decode_error)?;
    let mut written = 0;
    loop {
        // One block at a time, each drained before the next (all but the window while the frame
        // goes on), so that the ring buffer never holds more than the window and one block.
        let finished = decoder.decode_blocks(&mut input, BlockDecodingStrategy::UptoBlocks(1)).map_err(decode_error)?;
        let room = out.get_mut(written..).unwrap_or_default();
        written += decoder.read(room).map_err(|_| DecompressError::Corrupt(Zstd))?;
        if decoder.can_collect() > 0 {
            return Err(DecompressError::Overlong { expected });
        }
        if finished {
            break;
        }
    }
    if written != expected {
        return Err(DecompressError::SizeMismatch { expected, got: written });
    }
    // Computed over the bytes as they were drained into `out`.
    if let Some(recorded) = decoder.get_checksum_from_data()
        && decoder.get_calculated_checksum() != Some(recorded)
    {
        return Err(DecompressError::ChecksumMismatch(Zstd));
    }
    Ok(written)
}

/// ruzstd's errors, once `Frame::parse` has ruled out truncation and dictionaries: bad data,
/// except for a window over ruzstd's own limit (128 MiB), which `heap_needed` would refuse too.
fn decode_error(error: FrameDecoderError) -> DecompressError {
    match error {
        FrameDecoderError::WindowSizeTooBig { requested, max } => {
            DecompressError::HeapTooSmall { needed: requested, available: usize::try_from(max).unwrap_or(usize::MAX) }
        }
        _ => DecompressError::Corrupt(Zstd),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decompress::{decompress_into, decompressed_size, heap_needed};

    /// "hello, hello, hello\n" as `zstd -19` writes it: single segment, content size 20, one
    /// compressed block, checksum.
    const HELLO: &[u8] = &[
        0x28, 0xb5, 0x2f, 0xfd, 0x24, 0x14, 0x75, 0x00, 0x00, 0x40, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x2c, 0x20, 0x0a,
        0x01, 0x00, 0xe2, 0x8a, 0x11, 0x21, 0x69, 0x9d, 0x87,
    ];
    const HELLO_TEXT: &[u8] = b"hello, hello, hello\n";
    /// The same with `--no-content-size`: a window descriptor instead (1 KiB).
    const HELLO_UNSIZED: &[u8] = &[
        0x28, 0xb5, 0x2f, 0xfd, 0x04, 0x00, 0x75, 0x00, 0x00, 0x40, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x2c, 0x20, 0x0a,
        0x01, 0x00, 0xe2, 0x8a, 0x11, 0x21, 0x69, 0x9d, 0x87,
    ];
    const DESCRIPTOR: usize = 4;

    fn decompress(file: &[u8]) -> Result<Vec<u8>, DecompressError> {
        let mut out = vec![0; decompressed_size(file, 1 << 20)?];
        decompress_into(file, &mut out)?;
        Ok(out)
    }

    #[test]
    fn decodes_what_zstd_wrote() {
        assert_eq!(decompress(HELLO).unwrap(), HELLO_TEXT);
        // The unsized frame's window descriptor (1 KiB), then a 4-byte content size.
        let mut windowed = HELLO_UNSIZED[..DESCRIPTOR + 2].to_vec();
        windowed[DESCRIPTOR] |= 2 << 6;
        windowed.extend_from_slice(&20u32.to_le_bytes());
        windowed.extend_from_slice(&HELLO_UNSIZED[DESCRIPTOR + 2..]);
        assert_eq!(decompress(&windowed).unwrap(), HELLO_TEXT);
        // A raw block, no checksum, content size 5 in the single-segment byte.
        let mut raw = vec![0x28, 0xb5, 0x2f, 0xfd, SINGLE_SEGMENT, 5];
        raw.extend_from_slice(&(1u32 | 5 << 3).to_le_bytes()[..BLOCK_HEADER]);
        raw.extend_from_slice(b"hello");
        assert_eq!(decompress(&raw).unwrap(), b"hello");
    }

    #[test]
    fn rejects_what_modules_never_are() {
        assert_eq!(decompressed_size(HELLO_UNSIZED, 1 << 20), Err(DecompressError::UnknownSize));
        let mut reserved = HELLO.to_vec();
        reserved[DESCRIPTOR] |= RESERVED;
        assert_eq!(decompress(&reserved), Err(DecompressError::ZstdReservedBit));
        // Dictionary ID in one byte (flag 1) before the content size.
        let mut dictionary = HELLO[..DESCRIPTOR].to_vec();
        dictionary.extend_from_slice(&[HELLO[DESCRIPTOR] | 1, 7]);
        dictionary.extend_from_slice(&HELLO[DESCRIPTOR + 1..]);
        assert_eq!(decompress(&dictionary), Err(DecompressError::ZstdDictionary(7)));
        let skippable = [0x50, 0x2a, 0x4d, 0x18, 4, 0, 0, 0, 1, 2, 3, 4];
        assert_eq!(decompress(&[HELLO, &skippable].concat()), Err(DecompressError::TrailingData(Zstd)));
        assert_eq!(decompress(&[HELLO, HELLO].concat()), Err(DecompressError::TrailingData(Zstd)));
    }

    #[test]
    fn every_truncation_is_an_error() {
        for len in 0..HELLO.len() {
            let result = decompress(&HELLO[..len]);
            assert!(result.is_err(), "{len} bytes decompressed to {result:?}");
        }
        assert_eq!(decompress(&HELLO[..HELLO.len() - 1]), Err(DecompressError::Truncated(Zstd)));
    }

    #[test]
    fn checks_blocks_checksum_and_size() {
        let block = 6;
        let mut reserved_block = HELLO.to_vec();
        reserved_block[block] |= 0b110;
        assert_eq!(decompress(&reserved_block), Err(DecompressError::Corrupt(Zstd)));
        let mut checksum = HELLO.to_vec();
        *checksum.last_mut().unwrap() ^= 1;
        assert_eq!(decompress(&checksum), Err(DecompressError::ChecksumMismatch(Zstd)));
        let mut longer = HELLO.to_vec();
        longer[5] += 1;
        assert_eq!(decompress(&longer), Err(DecompressError::SizeMismatch { expected: 21, got: 20 }));
        let mut shorter = HELLO.to_vec();
        shorter[5] -= 1;
        assert_eq!(decompress(&shorter), Err(DecompressError::Overlong { expected: 19 }));
    }

    #[test]
    fn ring_capacity_follows_ruzstd() {
        // reserve(window) on an empty buffer: a power of two and the sentinel, or past the slack,
        // a power of two above it.
        assert_eq!(ring_capacity(0, 1000), 1025);
        assert_eq!(ring_capacity(0, 8 << 20), (8 << 20) + RING_SLACK + 1);
        assert_eq!(ring_capacity(1025, 1026), 2049);
        // An 8 MiB window: the first buffer, and one growth for a block's overshoot.
        let first = (8 << 20) + RING_SLACK + 1;
        assert_eq!(ring_buffer_allocations(8 << 20), first + (16 << 20) + RING_SLACK + 1);
        // The largest window a window descriptor can state ends too.
        assert!(ring_buffer_allocations((1 << 41) + 7 * (1 << 38)) > 1 << 42);
    }

    /// Found by fuzzing (fuzz/targets/src/decompress.rs): a single-segment frame's window is
    /// its content size, which can be near 2^64. `next_power_of_two` overflowed: a panic in
    /// debug builds, and in release builds a capacity wrapped to the slack and a loop that never
    /// ended.
    #[test]
    fn heap_bound_of_windows_near_two_to_the_64_saturates() {
        for window in [1 << 63, (1 << 63) + 1, u64::MAX - BLOCK_OVERSHOOT, u64::MAX] {
            assert_eq!(ring_buffer_allocations(window), u64::MAX, "window {window}");
        }
        assert!(ring_buffer_allocations(1 << 62) < u64::MAX);
        // The fuzzer's file: single segment, an 8-byte content size, one RLE block.
        let file =
            [0x28, 0xb5, 0x2f, 0xfd, 0xe0, 0xed, 0x8b, 0xff, 0x82, 0xfd, 0x40, 0xe0, 0xed, 0x8b, 0x92, 0xff, 0x82];
        assert_eq!(
            heap_needed(&file, 64 << 20),
            Err(DecompressError::HeapTooSmall { needed: u64::MAX, available: 64 << 20 })
        );
    }

    #[test]
    fn heap_bound_grows_with_the_window() {
        let heap = |file: &[u8]| heap_needed(file, usize::MAX).unwrap();
        let small = heap(HELLO);
        assert!(small as u64 >= SCRATCH_ALLOCATIONS);
        // A 2^31 window (descriptor exponent 21) from a header with a 1-byte raw block.
        let mut huge = vec![0x28, 0xb5, 0x2f, 0xfd, 0x80, 21 << 3, 1, 0, 0, 0];
        huge.extend_from_slice(&(1u32 | 1 << 3).to_le_bytes()[..3]);
        huge.push(b'x');
        assert!(heap(&huge) > 3 << 31);
        assert_eq!(
            heap_needed(&huge, 64 << 20),
            Err(DecompressError::HeapTooSmall { needed: heap(&huge) as u64, available: 64 << 20 })
        );
    }
}
