//! Compressed kernel modules (`.ko.gz`, `.ko.zst`, `.ko.xz`): the format, the sizes, and
//! decompression into a buffer the caller allocates.
//!
//! The boot path reads a module file, asks [`decompressed_size`] and [`heap_needed`] (zstd's
//! buffers; gzip and xz need none) before committing any memory, then calls [`decompress_into`] and hands the result to
//! `init_module`. Every check a file can fail, from its magic number to its checksum, is an error
//! here, before the kernel sees a byte.

mod gzip;
mod lzma;
mod lzma2;
mod range_decoder;
mod xz;
mod zstd;

use core::fmt;

/// How a module file is stored, from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
    Xz,
}

impl Compression {
    /// The format whose magic number `file` starts with (RFC 1952 for gzip, RFC 8878 for zstd,
    /// the xz file format spec); [`Compression::None`] for anything else, such as an ELF module.
    pub fn detect(file: &[u8]) -> Compression {
        const GZIP: &[u8] = &[0x1f, 0x8b];
        const ZSTD: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];
        const XZ: &[u8] = &[0xfd, b'7', b'z', b'X', b'Z', 0x00];
        if file.starts_with(GZIP) {
            Compression::Gzip
        } else if file.starts_with(ZSTD) {
            Compression::Zstd
        } else if file.starts_with(XZ) {
            Compression::Xz
        } else {
            Compression::None
        }
    }

    /// What follows `.ko` in the name of a module file stored this way.
    pub fn extension(self) -> &'static [u8] {
        match self {
            Compression::None => b"",
            Compression::Gzip => b".gz",
            Compression::Zstd => b".zst",
            Compression::Xz => b".xz",
        }
    }

    /// How a module file named `name` is stored, and the name without `.ko[.EXT]`; None
    /// when it is not a module file name.
    pub fn of_file_name(name: &[u8]) -> Option<(&[u8], Compression)> {
        [Compression::None, Compression::Gzip, Compression::Zstd, Compression::Xz].into_iter().find_map(|c| {
            let stem = name.strip_suffix(c.extension())?.strip_suffix(b".ko")?;
            (!stem.is_empty()).then_some((stem, c))
        })
    }

    /// The format's name as messages use it: "gzip", "zstd", "xz", or "uncompressed".
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "uncompressed",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
            Compression::Xz => "xz",
        }
    }
}

/// Why a compressed file could not be sized or decompressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecompressError {
    /// No gzip, zstd or xz magic number: not a compressed file.
    NotCompressed,
    /// The file ends inside its header, its compressed data or its trailer.
    Truncated(Compression),
    /// The compressed data is invalid.
    Corrupt(Compression),
    /// The data decompressed, but its checksum (gzip CRC-32, zstd XXH64, xz's block check)
    /// does not match.
    ChecksumMismatch(Compression),
    /// Bytes follow the gzip member's trailer, the zstd frame, or the xz stream (a second
    /// stream, or stream padding).
    TrailingData(Compression),
    /// gzip CM is not 8 (deflate).
    GzipMethod(u8),
    /// gzip FLG has one of its reserved bits (5 to 7) set.
    GzipReservedFlags(u8),
    /// gzip FHCRC is set and the header's CRC-16 does not match it.
    GzipHeaderCrc,
    /// The zstd frame header has its reserved bit set.
    ZstdReservedBit,
    /// The zstd frame was compressed with a dictionary (its ID): modules never are.
    ZstdDictionary(u32),
    /// The xz stream's integrity check (its ID) is not none, CRC32 or CRC64 (SHA-256, reserved).
    XzCheck(u8),
    /// An xz block uses a filter other than LZMA2 (its ID: BCJ, delta, ...).
    XzFilter(u64),
    /// An xz CRC32 over a header, the index or the footer does not match (what it covers).
    XzCrc32(&'static str),
    /// The xz stream footer's flags differ from the header's.
    XzFlagsMismatch,
    /// The zstd frame does not record its decompressed size (Frame_Content_Size).
    UnknownSize,
    /// The recorded decompressed size is over the caller's limit.
    TooLarge { size: u64, limit: usize },
    /// Decoding may need more heap than the caller has (zstd: the frame's window).
    HeapTooSmall { needed: u64, available: usize },
    /// [`decompress_into`] was given a buffer that is not the recorded decompressed size.
    OutputBufferSize { needed: usize, given: usize },
    /// The data decompressed to fewer bytes than the file records.
    SizeMismatch { expected: usize, got: usize },
    /// The data decompresses to more bytes than the file records.
    Overlong { expected: usize },
}

impl fmt::Display for DecompressError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            DecompressError::NotCompressed => f.write_str("not a compressed module (no gzip, zstd or xz magic number)"),
            DecompressError::Truncated(format) => write!(f, "{} file is truncated", format.name()),
            DecompressError::Corrupt(format) => write!(f, "{} data is corrupt", format.name()),
            DecompressError::ChecksumMismatch(Compression::Gzip) => f.write_str("gzip CRC-32 mismatch (corrupt file)"),
            DecompressError::ChecksumMismatch(format) => {
                write!(f, "{} content checksum mismatch (corrupt file)", format.name())
            }
            DecompressError::TrailingData(Compression::Gzip) => {
                f.write_str("data after the gzip member (files of several members are not supported)")
            }
            DecompressError::TrailingData(Compression::Xz) => {
                f.write_str("data after the xz stream (files of several streams, or stream padding, are not supported)")
            }
            DecompressError::TrailingData(format) => {
                write!(f, "data after the {} frame (files of several frames are not supported)", format.name())
            }
            DecompressError::GzipMethod(method) => write!(f, "gzip compression method {method} is not deflate (8)"),
            DecompressError::GzipReservedFlags(flags) => {
                write!(f, "gzip header has reserved flag bits set (flags {flags:#04x})")
            }
            DecompressError::GzipHeaderCrc => f.write_str("gzip header CRC-16 mismatch (corrupt file)"),
            DecompressError::XzCheck(id) => {
                let name = if id == 10 { "SHA-256" } else { "reserved" };
                write!(f, "xz integrity check {id} ({name}) is not supported (none, CRC32 and CRC64 are)")
            }
            DecompressError::XzFilter(id) => {
                write!(f, "xz filter {id:#x} is not supported (modules use LZMA2 alone, filter 0x21)")
            }
            DecompressError::XzCrc32(what) => write!(f, "xz {what} CRC32 mismatch (corrupt file)"),
            DecompressError::XzFlagsMismatch => {
                f.write_str("xz stream footer's flags differ from the stream header's (corrupt file)")
            }
            DecompressError::ZstdReservedBit => f.write_str("zstd frame header has its reserved bit set"),
            DecompressError::ZstdDictionary(id) => write!(f, "zstd frame needs dictionary {id}, and none is available"),
            DecompressError::UnknownSize => {
                f.write_str("zstd frame does not record its decompressed size (compressed with --no-content-size?)")
            }
            DecompressError::TooLarge { size, limit } => {
                write!(f, "decompresses to {size} bytes, more than the limit of {limit}")
            }
            DecompressError::HeapTooSmall { needed, available } => {
                write!(f, "decoding needs up to {needed} bytes of heap, more than the {available} available")
            }
            DecompressError::OutputBufferSize { needed, given } => {
                write!(f, "output buffer is {given} bytes, but the file decompresses to {needed}")
            }
            DecompressError::SizeMismatch { expected, got } => {
                write!(f, "decompressed to {got} bytes, but the file records {expected} (corrupt file)")
            }
            DecompressError::Overlong { expected } => {
                write!(f, "decompresses to more than the {expected} bytes the file records (corrupt file)")
            }
        }
    }
}

/// The decompressed size the file records (gzip: ISIZE; zstd: the frame's content size; xz: the
/// sum of the index's uncompressed sizes), checked against `limit`. The headers are checked too
/// (for xz: stream header, footer, index and block headers with their CRC32s); the data is not
/// read.
///
/// gzip's ISIZE is the size modulo 2^32 (no module comes near 4 GiB), and is read from the last
/// four bytes: for a truncated file it is garbage, and [`decompress_into`] reports the truncation.
pub fn decompressed_size(file: &[u8], limit: usize) -> Result<usize, DecompressError> {
    let size = match Compression::detect(file) {
        Compression::Gzip => u64::from(gzip::Member::parse(file)?.size),
        Compression::Zstd => zstd::Frame::parse(file)?.content_size,
        Compression::Xz => xz::Stream::parse(file)?.content_size,
        Compression::None => return Err(DecompressError::NotCompressed),
    };
    match usize::try_from(size) {
        Ok(size) if size <= limit => Ok(size),
        _ => Err(DecompressError::TooLarge { size, limit }),
    }
}

/// The most heap [`decompress_into`] may allocate for `file`, valid or corrupt, checked against
/// the `available` heap. 0 for gzip and xz (whose dictionary is the output buffer). For zstd,
/// the buffer for the frame's window, what a corrupt block could make it grow to, and ruzstd's
/// scratch: about 3x the window plus 9 MiB (`zstd.rs` derives it; a valid frame uses little
/// more than the window).
///
/// The sum of allocations is bounded, not the peak, so it holds in a bump arena. The boot
/// binary's is one, and a failed allocation there is fatal (Rust's `alloc` has no fallible path
/// for ruzstd's buffers), so this check must pass before decoding starts.
pub fn heap_needed(file: &[u8], available: usize) -> Result<usize, DecompressError> {
    let needed = match Compression::detect(file) {
        Compression::Gzip => 0,
        Compression::Zstd => zstd::Frame::parse(file)?.heap_needed(),
        Compression::Xz => xz::Stream::parse(file).map(|_| 0)?,
        Compression::None => return Err(DecompressError::NotCompressed),
    };
    match usize::try_from(needed) {
        Ok(needed) if needed <= available => Ok(needed),
        _ => Err(DecompressError::HeapTooSmall { needed, available }),
    }
}

/// Decompresses all of `file` into `out`, which must be exactly [`decompressed_size`] long,
/// and checks the result against the file's records: gzip's CRC-32 and ISIZE, zstd's content
/// size and (when the frame has one) its content checksum, xz's block checks (CRC32 or CRC64;
/// none when the stream has none), its index and sizes. Returns the bytes written, `out.len()`.
///
/// On an error, `out` holds unspecified bytes.
pub fn decompress_into(file: &[u8], out: &mut [u8]) -> Result<usize, DecompressError> {
    match Compression::detect(file) {
        Compression::Gzip => gzip::decompress_into(file, out),
        Compression::Zstd => zstd::decompress_into(file, out),
        Compression::Xz => xz::decompress_into(file, out),
        Compression::None => Err(DecompressError::NotCompressed),
    }
}

#[cfg(test)]
mod corpus_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_by_magic_number() {
        assert_eq!(Compression::detect(&[0x1f, 0x8b, 8, 0]), Compression::Gzip);
        assert_eq!(Compression::detect(&[0x28, 0xb5, 0x2f, 0xfd, 0]), Compression::Zstd);
        assert_eq!(Compression::detect(b"\xfd7zXZ\0\0\x04"), Compression::Xz);
        assert_eq!(Compression::detect(b"\x7fELF\x02\x01\x01"), Compression::None);
        assert_eq!(Compression::detect(&[0x1f]), Compression::None);
        assert_eq!(Compression::detect(&[]), Compression::None);
    }

    #[test]
    fn uncompressed_files_are_errors_that_say_so() {
        let elf = b"\x7fELF\x02\x01\x01\0";
        assert_eq!(decompressed_size(elf, 1 << 20), Err(DecompressError::NotCompressed));
        assert_eq!(decompress_into(elf, &mut []), Err(DecompressError::NotCompressed));
        assert_eq!(heap_needed(elf, 1 << 20), Err(DecompressError::NotCompressed));
        assert_eq!(
            DecompressError::NotCompressed.to_string(),
            "not a compressed module (no gzip, zstd or xz magic number)"
        );
    }

    #[test]
    fn messages_name_the_format_and_the_numbers() {
        assert_eq!(
            DecompressError::ChecksumMismatch(Compression::Gzip).to_string(),
            "gzip CRC-32 mismatch (corrupt file)"
        );
        assert_eq!(
            DecompressError::ChecksumMismatch(Compression::Zstd).to_string(),
            "zstd content checksum mismatch (corrupt file)"
        );
        assert_eq!(DecompressError::Truncated(Compression::Zstd).to_string(), "zstd file is truncated");
        assert_eq!(
            DecompressError::TooLarge { size: 5000, limit: 4096 }.to_string(),
            "decompresses to 5000 bytes, more than the limit of 4096"
        );
        assert_eq!(
            DecompressError::GzipReservedFlags(0x20).to_string(),
            "gzip header has reserved flag bits set (flags 0x20)"
        );
    }
}
