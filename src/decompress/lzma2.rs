//! LZMA2, the filter of an xz block: chunks of LZMA data or stored bytes, each with its control
//! byte saying what it resets (the dictionary, the state, the properties), decoded straight
//! into the block's output, which is the dictionary: no heap, no copy.
//!
//! Every rule is liblzma's (`lzma2_decoder.c`): the first chunk resets the dictionary, the first
//! LZMA chunk after a dictionary reset sets properties, control bytes 3 to 0x7f are invalid, an
//! LZMA chunk is exactly its compressed size; and here the data ends exactly at the end marker
//! and fills exactly the block's output.

use super::Compression::Xz;
use super::DecompressError;
use super::lzma::{Lzma, Output};

/// Decodes the LZMA2 data `input`, all of it, into all of `out`, with a dictionary of
/// `dictionary` bytes (the block header's).
pub(super) fn decode(input: &[u8], out: &mut [u8], dictionary: u64) -> Result<(), DecompressError> {
    let corrupt = DecompressError::Corrupt(Xz);
    let expected = out.len();
    let mut out = Output { bytes: out, pos: 0, start: 0, dictionary };
    let mut lzma = Lzma::NEW;
    let (mut dictionary_reset, mut properties_set) = (false, false);
    let mut at = 0;
    let mut take = |n: usize| {
        let bytes = input.get(at..at + n).ok_or(corrupt);
        at += n;
        bytes
    };
    loop {
        let control = take(1)?[0];
        if control == 0 {
            break;
        }
        if control == 1 || control >= 0xe0 {
            out.start = out.pos;
            dictionary_reset = true;
            properties_set = false;
        } else if !dictionary_reset {
            return Err(corrupt);
        }
        if control < 0x80 {
            if control > 2 {
                return Err(corrupt);
            }
            let size = take(2)?;
            let stored = take(usize::from(u16::from_be_bytes([size[0], size[1]])) + 1)?;
            let end = out.pos + stored.len();
            out.bytes.get_mut(out.pos..end).ok_or(DecompressError::Overlong { expected })?.copy_from_slice(stored);
            out.pos = end;
            continue;
        }
        let sizes = take(4)?;
        let unpacked = (usize::from(control & 0x1f) << 16) + usize::from(u16::from_be_bytes([sizes[0], sizes[1]])) + 1;
        let packed = usize::from(u16::from_be_bytes([sizes[2], sizes[3]])) + 1;
        if control >= 0xc0 {
            lzma.set_properties(take(1)?[0]).ok_or(corrupt)?;
            properties_set = true;
        } else if !properties_set {
            return Err(corrupt);
        } else if control >= 0xa0 {
            lzma.reset();
        }
        lzma.decode_chunk(take(packed)?, &mut out, unpacked)?;
    }
    if at != input.len() {
        return Err(corrupt);
    }
    if out.pos != expected {
        return Err(DecompressError::SizeMismatch { expected, got: out.pos });
    }
    Ok(())
}
