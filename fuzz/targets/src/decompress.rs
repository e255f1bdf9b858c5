//! `modinit::decompress` on any file: `decompressed_size`, `heap_needed`, `decompress_into`.
//!
//! As on the boot path, the output buffer is allocated only when both size checks pass
//! ([`LIMIT`] each). Then: what the decoder allocates stays within `heap_needed` (when the
//! binary counts allocations, see [`crate::heap`]); a buffer of the wrong size is refused; and
//! the result agrees with a reference decoder, flate2, libzstd or liblzma, both ways: what
//! modinit accepts the reference decodes to the same bytes, and a file the reference decodes
//! whole (one member, frame or stream, nothing after it, the recorded size) modinit accepts,
//! except for what modinit refuses on purpose in xz files (a SHA-256 or reserved check, a BCJ
//! or delta filter: [`xz_refused_on_purpose`]).
//!
//! Except for zstd frames without a content checksum: there, on damaged blocks no checksum
//! exposes, libzstd and ruzstd part ways, each way round. The fuzzer found three such frames:
//! libzstd gives other bytes than ruzstd; libzstd accepts a literals section ruzstd rejects;
//! ruzstd ignores reserved bits in a sequences header that libzstd 1.5.7 rejects (1.5.4 did
//! not). zstd's educational decoder, written to the letter of RFC 8878, sides with ruzstd in
//! the first two cases and with libzstd in the third: ruzstd's verdicts, not modinit's.

use modinit::decompress::{Compression, DecompressError, decompress_into, decompressed_size, heap_needed};
use std::io::Read;
use xz2::stream::{Action, Status, Stream};

/// The largest module, and the most decoder heap, the target allows: the boot binary's arena.
pub const LIMIT: usize = 64 << 20;

pub fn fuzz(data: &[u8]) {
    let format = Compression::detect(data);
    let size = decompressed_size(data, LIMIT);
    let heap = heap_needed(data, LIMIT);
    let (Ok(size), Ok(heap)) = (size, heap) else {
        // Without an exact buffer nothing is decoded, so this allocates nothing either.
        if size != Ok(0) {
            assert!(decompress_into(data, &mut []).is_err(), "decoded into an empty buffer");
        }
        return;
    };
    let mut out = vec![0u8; size];
    if size > 0 {
        let short = decompress_into(data, &mut out[..size - 1]);
        assert_eq!(short, Err(DecompressError::OutputBufferSize { needed: size, given: size - 1 }));
    }
    let (result, allocated) = crate::heap::measure(|| decompress_into(data, &mut out));
    if let Some(allocated) = allocated {
        assert!(allocated <= heap as u64, "{} allocated {allocated} bytes, heap_needed said {heap}", format.name());
    }
    if let Ok(n) = result {
        assert_eq!(n, size);
    }
    let unchecked = format == Compression::Zstd && data.get(ZSTD_DESCRIPTOR).is_some_and(|d| d & ZSTD_CHECKSUM == 0);
    if unchecked {
        return;
    }
    match (result, reference(format, data, size)) {
        (Ok(_), Some(expected)) => assert!(out == expected, "{} output differs from the reference's", format.name()),
        (Ok(_), None) => panic!("modinit decoded a {} file that the reference decoder rejects", format.name()),
        (Err(e), Some(_)) if format == Compression::Xz && xz_refused_on_purpose(&e) => {}
        (Err(e), Some(_)) => panic!("modinit refused a {} file the reference decodes: {e}", format.name()),
        (Err(_), None) => {}
    }
}

/// What modinit refuses in xz files that liblzma decodes: checks other than none, CRC32 and
/// CRC64, filters other than LZMA2 (modules use neither; nor does the kernel's own decoder).
fn xz_refused_on_purpose(e: &DecompressError) -> bool {
    matches!(e, DecompressError::XzCheck(_) | DecompressError::XzFilter(_))
}

/// The zstd Frame_Header_Descriptor's offset, and its Content_Checksum_Flag.
const ZSTD_DESCRIPTOR: usize = 4;
const ZSTD_CHECKSUM: u8 = 1 << 2;

/// What the reference decoder makes of `data` when it is exactly one gzip member, zstd frame
/// or xz stream that decodes to `size` bytes; None otherwise.
fn reference(format: Compression, data: &[u8], size: usize) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    match format {
        Compression::Gzip => {
            let mut rest = data;
            let mut decoder = flate2::bufread::GzDecoder::new(&mut rest);
            decoder.read_to_end(&mut out).ok()?;
            drop(decoder);
            rest.is_empty().then_some(())?;
        }
        Compression::Zstd => {
            // One frame, the whole file (a second frame or a skippable one is not a module).
            (zstd::zstd_safe::find_frame_compressed_size(data).ok()? == data.len()).then_some(())?;
            out = zstd::bulk::decompress(data, size).ok()?;
        }
        Compression::Xz => out = xz_stream(data, size)?,
        Compression::None => return None,
    }
    (out.len() == size).then_some(out)
}

/// liblzma on `data`: one stream (no concatenated ones, no padding), the whole input, and
/// the check verified whatever it is; at most `size` bytes out (one more shows an overrun).
fn xz_stream(data: &[u8], size: usize) -> Option<Vec<u8>> {
    let mut stream = Stream::new_stream_decoder(u64::MAX, 0).ok()?;
    let mut out = Vec::with_capacity(size + 1);
    let status = stream.process_vec(data, &mut out, Action::Finish).ok()?;
    (status == Status::StreamEnd && stream.total_in() == data.len() as u64).then_some(out)
}
