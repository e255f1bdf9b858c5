//! gzip files (RFC 1952): header and trailer parsed here, the deflate data inflated by miniz_oxide.
//!
//! One member per file: kmod and the kernel's `modules_install` write each module as a single
//! gzip member. Bytes after the first member's trailer are an error, never silently ignored.

use super::Compression::Gzip;
use super::DecompressError;
use crate::crc32;
use miniz_oxide::inflate::TINFLStatus;
use miniz_oxide::inflate::core::inflate_flags::TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF;
use miniz_oxide::inflate::core::{DecompressorOxide, decompress_with_limit};

/// CM for deflate, the only method RFC 1952 defines.
const METHOD_DEFLATE: u8 = 8;
// FLG bits (RFC 1952, 2.3.1). FTEXT (bit 0) is a hint about the content and changes nothing here.
const FHCRC: u8 = 1 << 1;
const FEXTRA: u8 = 1 << 2;
const FNAME: u8 = 1 << 3;
const FCOMMENT: u8 = 1 << 4;
const FLAGS_RESERVED: u8 = 0xe0;
/// ID1 ID2 CM FLG MTIME(4) XFL OS.
const FIXED_HEADER: usize = 10;
/// CRC32 and ISIZE, little-endian.
const TRAILER: usize = 8;

/// Inflate this much output per call, then fold it into the CRC while it is still in cache.
const CHUNK: usize = 128 << 10;

/// A gzip file whose header and trailer have been read: the deflate stream between them and
/// what the trailer says it decompresses to.
pub(super) struct Member<'a> {
    deflate: &'a [u8],
    crc: u32,
    pub(super) size: u32,
}

impl<'a> Member<'a> {
    /// Checks the header of `file`, which starts with the gzip magic number, and finds the
    /// trailer in its last eight bytes.
    pub(super) fn parse(file: &'a [u8]) -> Result<Member<'a>, DecompressError> {
        let [_, _, method, flags, ..] = *file.first_chunk::<FIXED_HEADER>().ok_or(DecompressError::Truncated(Gzip))?;
        if method != METHOD_DEFLATE {
            return Err(DecompressError::GzipMethod(method));
        }
        if flags & FLAGS_RESERVED != 0 {
            return Err(DecompressError::GzipReservedFlags(flags));
        }
        let mut header_end = FIXED_HEADER;
        if flags & FEXTRA != 0 {
            let xlen = read_u16(file, header_end)?;
            header_end = skip(file, header_end, 2 + usize::from(xlen))?;
        }
        for field in [FNAME, FCOMMENT] {
            if flags & field != 0 {
                // A zero-terminated string (ISO 8859-1).
                let rest = file.get(header_end..).unwrap_or_default();
                let nul = rest.iter().position(|&b| b == 0).ok_or(DecompressError::Truncated(Gzip))?;
                header_end += nul + 1;
            }
        }
        if flags & FHCRC != 0 {
            // The low 16 bits of the CRC-32 of every header byte before it.
            let expected = read_u16(file, header_end)?;
            if crc32::checksum(file.get(..header_end).unwrap_or_default()) as u16 != expected {
                return Err(DecompressError::GzipHeaderCrc);
            }
            header_end += 2;
        }
        let trailer_start = file.len().checked_sub(TRAILER).filter(|&start| start >= header_end);
        let (deflate, trailer) = trailer_start
            .and_then(|start| Some((file.get(header_end..start)?, file.get(start..)?.first_chunk::<TRAILER>()?)))
            .ok_or(DecompressError::Truncated(Gzip))?;
        let [c0, c1, c2, c3, s0, s1, s2, s3] = *trailer;
        Ok(Member { deflate, crc: u32::from_le_bytes([c0, c1, c2, c3]), size: u32::from_le_bytes([s0, s1, s2, s3]) })
    }
}

fn read_u16(file: &[u8], at: usize) -> Result<u16, DecompressError> {
    let bytes = file.get(at..).and_then(|rest| rest.first_chunk::<2>()).ok_or(DecompressError::Truncated(Gzip))?;
    Ok(u16::from_le_bytes(*bytes))
}

/// `at + len`, if the file has that many bytes.
fn skip(file: &[u8], at: usize, len: usize) -> Result<usize, DecompressError> {
    at.checked_add(len).filter(|&end| end <= file.len()).ok_or(DecompressError::Truncated(Gzip))
}

/// Inflates the single member of `file` into `out` (exactly ISIZE long) and checks the
/// trailer's CRC-32 and ISIZE against what came out.
pub(super) fn decompress_into(file: &[u8], out: &mut [u8]) -> Result<usize, DecompressError> {
    let member = Member::parse(file)?;
    let expected = member.size as usize;
    if out.len() != expected {
        return Err(DecompressError::OutputBufferSize { needed: expected, given: out.len() });
    }
    // miniz's state with its Huffman tables, about 10.5 KB, lives on the stack for this call
    // only. The boot binary decompresses on PID 1's main stack (8 MiB, grown on demand), one
    // module at a time and never nested; a static would need a lock and hold the memory all
    // boot, and a `&mut` parameter would push this detail onto every caller.
    let mut inflater = DecompressorOxide::new();
    let (mut read, mut written, mut crc) = (0, 0, 0);
    loop {
        let input = member.deflate.get(read..).unwrap_or_default();
        let (status, consumed, produced) =
            decompress_with_limit(&mut inflater, input, out, written, CHUNK, TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF);
        // miniz never reports more than it was given room for; if it did, the bytes would go
        // unchecked and the CRC below would fail, not the index.
        let new = out.get(written..).and_then(|rest| rest.get(..produced)).unwrap_or_default();
        crc = crc32::update(crc, new);
        read += consumed;
        written += produced;
        match status {
            TINFLStatus::Done => break,
            // Stopped at CHUNK bytes of output.
            TINFLStatus::HasMoreOutput if written < out.len() => {}
            TINFLStatus::HasMoreOutput => return Err(DecompressError::Overlong { expected }),
            // Without TINFL_FLAG_HAS_MORE_INPUT, this is the input ending mid-stream.
            TINFLStatus::FailedCannotMakeProgress => return Err(DecompressError::Truncated(Gzip)),
            _ => return Err(DecompressError::Corrupt(Gzip)),
        }
    }
    if read != member.deflate.len() {
        // The deflate stream ended before the last eight bytes: another member, or junk.
        return Err(DecompressError::TrailingData(Gzip));
    }
    if written != expected {
        return Err(DecompressError::SizeMismatch { expected, got: written });
    }
    if crc != member.crc {
        return Err(DecompressError::ChecksumMismatch(Gzip));
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decompress::{Compression, decompressed_size};

    /// "hello, hello, hello\n" as `gzip -9 -n` writes it (no name, no time).
    const HELLO: &[u8] = &[
        0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0xcb, 0x48, 0xcd, 0xc9, 0xc9, 0xd7, 0x51, 0xc8,
        0x40, 0xa2, 0xb8, 0x00, 0xe7, 0x42, 0x6e, 0x52, 0x14, 0x00, 0x00, 0x00,
    ];
    const HELLO_TEXT: &[u8] = b"hello, hello, hello\n";

    fn decompress(file: &[u8]) -> Result<Vec<u8>, DecompressError> {
        let size = decompressed_size(file, 1 << 20)?;
        let mut out = vec![0; size];
        let written = crate::decompress::decompress_into(file, &mut out)?;
        assert_eq!(written, size);
        Ok(out)
    }

    /// HELLO with the given flags and the optional fields they announce, header CRC fixed up.
    fn with_fields(flags: u8, extra: Option<&[u8]>, name: Option<&[u8]>, comment: Option<&[u8]>) -> Vec<u8> {
        let mut file = HELLO[..FIXED_HEADER].to_vec();
        file[3] = flags;
        if let Some(extra) = extra {
            file.extend_from_slice(&(extra.len() as u16).to_le_bytes());
            file.extend_from_slice(extra);
        }
        for text in [name, comment].into_iter().flatten() {
            file.extend_from_slice(text);
            file.push(0);
        }
        if flags & FHCRC != 0 {
            let crc = crc32::checksum(&file) as u16;
            file.extend_from_slice(&crc.to_le_bytes());
        }
        file.extend_from_slice(&HELLO[FIXED_HEADER..]);
        file
    }

    #[test]
    fn inflates_what_gzip_wrote() {
        assert_eq!(Compression::detect(HELLO), Compression::Gzip);
        assert_eq!(decompress(HELLO).unwrap(), HELLO_TEXT);
    }

    #[test]
    fn skips_every_optional_header_field() {
        let all = FEXTRA | FNAME | FCOMMENT | FHCRC | 1;
        let file = with_fields(all, Some(b"AB\x02\x00xy"), Some(b"hello.txt"), Some(b"a comment"));
        assert_eq!(decompress(&file).unwrap(), HELLO_TEXT);
        let file = with_fields(FNAME, None, Some(b"x.ko"), None);
        assert_eq!(decompress(&file).unwrap(), HELLO_TEXT);
    }

    #[test]
    fn rejects_bad_headers_precisely() {
        let mut file = with_fields(FHCRC, None, None, None);
        let crc_at = FIXED_HEADER;
        file[crc_at] ^= 1;
        assert_eq!(decompress(&file), Err(DecompressError::GzipHeaderCrc));
        for reserved in [0x20, 0x40, 0x80] {
            assert_eq!(
                decompress(&with_fields(reserved, None, None, None)),
                Err(DecompressError::GzipReservedFlags(reserved))
            );
        }
        let mut file = HELLO.to_vec();
        file[2] = 7;
        assert_eq!(decompress(&file), Err(DecompressError::GzipMethod(7)));
        // A name that never ends, an FEXTRA longer than the file.
        assert_eq!(decompress(&[0x1f, 0x8b, 8, FNAME, 0, 0, 0, 0, 0, 3, b'x']), Err(DecompressError::Truncated(Gzip)));
        let mut file = HELLO[..FIXED_HEADER].to_vec();
        file[3] = FEXTRA;
        file.extend_from_slice(&[0xff, 0xff, 1, 2]);
        assert_eq!(decompress(&file), Err(DecompressError::Truncated(Gzip)));
    }

    #[test]
    fn every_truncation_is_an_error() {
        for len in 0..HELLO.len() {
            let result = decompress(&HELLO[..len]);
            assert!(result.is_err(), "{len} bytes decompressed to {result:?}");
        }
    }

    #[test]
    fn checks_the_trailer() {
        let mut file = HELLO.to_vec();
        let crc_at = HELLO.len() - TRAILER;
        file[crc_at] ^= 0x10;
        assert_eq!(decompress(&file), Err(DecompressError::ChecksumMismatch(Gzip)));

        let mut file = HELLO.to_vec();
        file[crc_at + 4] += 1;
        assert_eq!(decompress(&file), Err(DecompressError::SizeMismatch { expected: 21, got: 20 }));
        file[crc_at + 4] -= 2;
        assert_eq!(decompress(&file), Err(DecompressError::Overlong { expected: 19 }));

        let mut out = vec![0; HELLO_TEXT.len() + 1];
        let error = DecompressError::OutputBufferSize { needed: 20, given: 21 };
        assert_eq!(crate::decompress::decompress_into(HELLO, &mut out), Err(error));
    }

    #[test]
    fn a_second_member_is_trailing_data() {
        let twice = [HELLO, HELLO].concat();
        // ISIZE comes from the end of the file: the second member's, which is the same.
        assert_eq!(decompress(&twice), Err(DecompressError::TrailingData(Gzip)));
    }
}
