//! xz files (the .xz file format 1.2.1): the stream header, index, footer and block headers
//! checked here, each block's LZMA2 data decoded ([`super::lzma2`]) straight into the caller's
//! buffer, and its check (CRC32 or CRC64) verified.
//!
//! A file is one stream whose blocks use the LZMA2 filter alone, as `xz` writes a module (the
//! kernel's `modules_install` runs `xz --check=crc32 --lzma2=dict=1MiB`). Anything else is
//! rejected up front with its own error: BCJ or delta filters, a SHA-256 or reserved check, a
//! second stream, stream padding.
//!
//! Memory: no heap. The decoder's state (~36 KiB) lives on the stack of the process that
//! decodes (PID 1, whose stack grows to 8 MiB, or a worker, a forked copy of it); the
//! dictionary is the output itself, whole in the caller's buffer.

use super::Compression::Xz;
use super::DecompressError;
use crate::{crc32, crc64};

const HEADER_MAGIC: &[u8; 6] = b"\xfd7zXZ\0";
const FOOTER_MAGIC: &[u8; 2] = b"YZ";
/// Stream header and footer: 12 bytes each.
const HEADER_LEN: usize = 12;
const FOOTER_LEN: usize = 12;
/// The LZMA2 filter's ID; BCJ filters are 0x04 to 0x0b, delta 0x03.
const LZMA2: u64 = 0x21;
/// The largest LZMA2 dictionary property (props 40: 4 GiB - 1); above is invalid.
const DICT_PROPS_MAX: u8 = 40;

/// The integrity check of the stream's blocks (Stream Flags, low nibble).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    None,
    Crc32,
    Crc64,
}

impl Check {
    fn from_id(id: u8) -> Result<Check, DecompressError> {
        match id {
            0 => Ok(Check::None),
            1 => Ok(Check::Crc32),
            4 => Ok(Check::Crc64),
            other => Err(DecompressError::XzCheck(other)),
        }
    }

    fn len(self) -> u64 {
        match self {
            Check::None => 0,
            Check::Crc32 => 4,
            Check::Crc64 => 8,
        }
    }
}

/// An xz file whose stream header, footer, index and block headers have been checked: one
/// stream, ending where the file ends.
pub(super) struct Stream<'a> {
    file: &'a [u8],
    check: Check,
    /// The index's records, after the record count (unpadded and uncompressed sizes).
    records: &'a [u8],
    count: u64,
    /// The sum of the blocks' uncompressed sizes.
    pub(super) content_size: u64,
}

/// One block, located from the index.
struct Block<'a> {
    /// The LZMA2 dictionary size the header names.
    dictionary: u64,
    /// The LZMA2 data.
    compressed: &'a [u8],
    /// The padding after it, to a multiple of four bytes.
    padding: &'a [u8],
    /// The check of the uncompressed data.
    check: &'a [u8],
    /// Where the block ends in the file (after its check).
    end: usize,
    uncompressed: u64,
}

impl<'a> Stream<'a> {
    /// Checks `file`, which starts with the xz magic number, from its footer back to its header
    /// and every block header the index locates. A file of several streams fails that and is
    /// told apart by the second stream's header.
    pub(super) fn parse(file: &'a [u8]) -> Result<Stream<'a>, DecompressError> {
        Stream::parse_one(file).map_err(|e| if second_stream(file) { DecompressError::TrailingData(Xz) } else { e })
    }

    fn parse_one(file: &'a [u8]) -> Result<Stream<'a>, DecompressError> {
        let truncated = DecompressError::Truncated(Xz);
        let header = file.get(..HEADER_LEN).ok_or(truncated)?;
        let flags = stream_flags(&header[6..8])?;
        crc_matches(&header[6..8], &header[8..12], "stream header")?;
        let check = Check::from_id(flags)?;
        if file.len() < HEADER_LEN + FOOTER_LEN {
            return Err(truncated);
        }
        let footer = &file[file.len() - FOOTER_LEN..];
        if &footer[10..] != FOOTER_MAGIC {
            // Stream padding (zeros after the footer) is not a module's layout.
            return Err(if footer.ends_with(&[0; 4]) { DecompressError::TrailingData(Xz) } else { truncated });
        }
        crc_matches(&footer[4..10], &footer[..4], "stream footer")?;
        if footer[8..10] != header[6..8] {
            return Err(DecompressError::XzFlagsMismatch);
        }
        let backward = (u64::from(u32::from_le_bytes([footer[4], footer[5], footer[6], footer[7]])) + 1) * 4;
        let index_start = (file.len() - FOOTER_LEN)
            .checked_sub(usize::try_from(backward).unwrap_or(usize::MAX))
            .filter(|&start| start >= HEADER_LEN)
            .ok_or(DecompressError::Corrupt(Xz))?;
        let index = &file[index_start..file.len() - FOOTER_LEN];
        let (records, count) = parse_index(index)?;
        let mut stream = Stream { file, check, records, count, content_size: 0 };
        let mut end = HEADER_LEN;
        for block in stream.blocks() {
            let block = block?;
            stream.content_size =
                stream.content_size.checked_add(block.uncompressed).ok_or(DecompressError::Corrupt(Xz))?;
            end = block.end;
        }
        if end != index_start {
            return Err(DecompressError::Corrupt(Xz));
        }
        Ok(stream)
    }

    /// The blocks in file order, each checked against its index record.
    fn blocks(&self) -> impl Iterator<Item = Result<Block<'a>, DecompressError>> + use<'a> {
        let (file, check) = (self.file, self.check);
        let mut records = Vli { bytes: self.records, at: 0 };
        let mut at = HEADER_LEN as u64;
        (0..self.count).map(move |_| {
            let unpadded = records.next()?;
            let uncompressed = records.next()?;
            let block = Block::parse(file, at, unpadded, uncompressed, check)?;
            at += unpadded.next_multiple_of(4);
            Ok(block)
        })
    }
}

impl<'a> Block<'a> {
    /// The block at `at`, whose index record says `unpadded` and `uncompressed` bytes.
    fn parse(
        file: &'a [u8],
        at: u64,
        unpadded: u64,
        uncompressed: u64,
        check: Check,
    ) -> Result<Block<'a>, DecompressError> {
        let corrupt = DecompressError::Corrupt(Xz);
        let at = usize::try_from(at).map_err(|_| corrupt)?;
        let size_byte = *file.get(at).ok_or(corrupt)?;
        let header_len = (usize::from(size_byte) + 1) * 4;
        // Size byte 0 is the index indicator: the index has more records than the stream has blocks.
        let header = file.get(at..at + header_len).filter(|_| size_byte != 0).ok_or(corrupt)?;
        let (fields, crc) = header.split_at(header_len - 4);
        crc_matches(fields, crc, "block header")?;
        let flags = fields[1];
        if flags & 0x3c != 0 {
            return Err(corrupt);
        }
        let mut vli = Vli { bytes: fields, at: 2 };
        let compressed = unpadded.checked_sub(header_len as u64 + check.len()).filter(|&c| c > 0).ok_or(corrupt)?;
        if flags & 0x40 != 0 && vli.next()? != compressed {
            return Err(corrupt);
        }
        if flags & 0x80 != 0 && vli.next()? != uncompressed {
            return Err(corrupt);
        }
        // Filters: the last one of the chain must be LZMA2, and it is the only one decoded here.
        if flags & 3 != 0 {
            let id = vli.next()?;
            return Err(if id == LZMA2 { corrupt } else { DecompressError::XzFilter(id) });
        }
        let id = vli.next()?;
        if id != LZMA2 {
            return Err(DecompressError::XzFilter(id));
        }
        let dict_props_at = vli.at + 1;
        if vli.next()? != 1 || fields.get(dict_props_at).is_none_or(|&p| p > DICT_PROPS_MAX) {
            return Err(corrupt);
        }
        if fields[dict_props_at + 1..].iter().any(|&b| b != 0) {
            return Err(corrupt);
        }
        let body_len = usize::try_from((unpadded.next_multiple_of(4)) - header_len as u64).map_err(|_| corrupt)?;
        let end = at + header_len + body_len;
        let body = file.get(at + header_len..end).ok_or(corrupt)?;
        let (data, check) = body.split_at(body.len() - check.len() as usize);
        let (compressed, padding) = data.split_at(usize::try_from(compressed).map_err(|_| corrupt)?);
        Ok(Block { dictionary: dictionary_size(fields[dict_props_at]), compressed, padding, check, end, uncompressed })
    }
}

/// The dictionary size LZMA2 property `props` (at most 40) stands for.
fn dictionary_size(props: u8) -> u64 {
    if props == DICT_PROPS_MAX {
        return u64::from(u32::MAX);
    }
    (2 | u64::from(props & 1)) << (props / 2 + 11)
}

/// Stream Flags: a zero byte, then the check ID in the low nibble (the high one reserved).
fn stream_flags(flags: &[u8]) -> Result<u8, DecompressError> {
    if flags[0] != 0 || flags[1] & 0xf0 != 0 {
        return Err(DecompressError::Corrupt(Xz));
    }
    Ok(flags[1])
}

/// Whether a second stream header (magic number and a matching CRC32) starts at a multiple of
/// four bytes after the first: streams are multiples of four bytes long.
fn second_stream(file: &[u8]) -> bool {
    file.chunks_exact(4).enumerate().skip(1).any(|(i, _)| {
        let header = file.get(i * 4..i * 4 + HEADER_LEN).unwrap_or_default();
        header.starts_with(HEADER_MAGIC) && crc_matches(&header[6..8], &header[8..12], "").is_ok()
    })
}

/// Checks the little-endian CRC32 `stored` of `bytes`; `what` names the field in the error.
fn crc_matches(bytes: &[u8], stored: &[u8], what: &'static str) -> Result<(), DecompressError> {
    if crc32::checksum(bytes).to_le_bytes() != stored {
        return Err(DecompressError::XzCrc32(what));
    }
    Ok(())
}

/// Checks the index (indicator, records, padding, CRC32); returns its records and their count.
fn parse_index(index: &[u8]) -> Result<(&[u8], u64), DecompressError> {
    let corrupt = DecompressError::Corrupt(Xz);
    let (fields, crc) = index.split_at_checked(index.len().checked_sub(4).ok_or(corrupt)?).ok_or(corrupt)?;
    if fields.first() != Some(&0) {
        return Err(corrupt);
    }
    crc_matches(fields, crc, "index")?;
    let mut vli = Vli { bytes: fields, at: 1 };
    let count = vli.next()?;
    let start = vli.at;
    for _ in 0..count.checked_mul(2).ok_or(corrupt)? {
        vli.next()?;
    }
    let padding = &fields[vli.at..];
    if padding.len() >= 4 || padding.iter().any(|&b| b != 0) || fields.len() % 4 != 0 {
        return Err(corrupt);
    }
    Ok((&fields[start..vli.at], count))
}

/// A cursor over xz's variable-length integers (up to 9 bytes, 7 bits each, minimal encoding).
struct Vli<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Vli<'_> {
    fn next(&mut self) -> Result<u64, DecompressError> {
        let mut value = 0u64;
        for i in 0..9 {
            let byte = *self.bytes.get(self.at).ok_or(DecompressError::Corrupt(Xz))?;
            self.at += 1;
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                // A last byte of 0 after others would be a longer encoding than needed.
                return if byte == 0 && i > 0 { Err(DecompressError::Corrupt(Xz)) } else { Ok(value) };
            }
        }
        Err(DecompressError::Corrupt(Xz))
    }
}

/// Decodes the stream of `file` into `out` (exactly its decompressed size long), checking each
/// block's size, padding and check.
pub(super) fn decompress_into(file: &[u8], out: &mut [u8]) -> Result<usize, DecompressError> {
    let stream = Stream::parse(file)?;
    let expected = usize::try_from(stream.content_size).unwrap_or(usize::MAX);
    if out.len() != expected {
        return Err(DecompressError::OutputBufferSize { needed: expected, given: out.len() });
    }
    let mut at = 0;
    for block in stream.blocks() {
        let block = block?;
        let size = usize::try_from(block.uncompressed).map_err(|_| DecompressError::Corrupt(Xz))?;
        let decoded = out.get_mut(at..at + size).ok_or(DecompressError::Corrupt(Xz))?;
        super::lzma2::decode(block.compressed, decoded, block.dictionary)?;
        if block.padding.iter().any(|&b| b != 0) {
            return Err(DecompressError::Corrupt(Xz));
        }
        let matches = match stream.check {
            Check::None => true,
            Check::Crc32 => block.check == crc32::checksum(decoded).to_le_bytes(),
            Check::Crc64 => block.check == crc64::checksum(decoded).to_le_bytes(),
        };
        if !matches {
            return Err(DecompressError::ChecksumMismatch(Xz));
        }
        at += size;
    }
    Ok(at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decompress::{decompress_into, decompressed_size, heap_needed};

    /// "hello, hello, hello\n" as `xz --check=crc32 --lzma2=dict=1MiB` writes it (the kernel's
    /// options): one block, dictionary property 16 (1 MiB).
    const HELLO: &[u8] = &[
        0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0x00, 0x01, 0x69, 0x22, 0xde, 0x36, 0x02, 0x00, 0x21, 0x01, 0x10, 0x00,
        0x00, 0x00, 0xa8, 0x70, 0x8e, 0x86, 0xe0, 0x00, 0x13, 0x00, 0x0e, 0x5d, 0x00, 0x34, 0x19, 0x49, 0xee, 0x8d,
        0xef, 0x8c, 0x87, 0x31, 0xf5, 0x2f, 0x64, 0x00, 0x00, 0x00, 0x00, 0x00, 0xe7, 0x42, 0x6e, 0x52, 0x00, 0x01,
        0x26, 0x14, 0x72, 0xe2, 0x82, 0xf9, 0x90, 0x42, 0x99, 0x0d, 0x01, 0x00, 0x00, 0x00, 0x00, 0x01, 0x59, 0x5a,
    ];
    /// The same with `--check=crc64`.
    const HELLO_CRC64: &[u8] = &[
        0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0x00, 0x04, 0xe6, 0xd6, 0xb4, 0x46, 0x02, 0x00, 0x21, 0x01, 0x10, 0x00,
        0x00, 0x00, 0xa8, 0x70, 0x8e, 0x86, 0xe0, 0x00, 0x13, 0x00, 0x0e, 0x5d, 0x00, 0x34, 0x19, 0x49, 0xee, 0x8d,
        0xef, 0x8c, 0x87, 0x31, 0xf5, 0x2f, 0x64, 0x00, 0x00, 0x00, 0x00, 0x00, 0xb0, 0x48, 0x85, 0x59, 0xd7, 0xa9,
        0xae, 0x4b, 0x00, 0x01, 0x2a, 0x14, 0x7e, 0xad, 0x37, 0x55, 0x1f, 0xb6, 0xf3, 0x7d, 0x01, 0x00, 0x00, 0x00,
        0x00, 0x04, 0x59, 0x5a,
    ];
    /// The same with `--check=none`.
    const HELLO_UNCHECKED: &[u8] = &[
        0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0x00, 0x00, 0xff, 0x12, 0xd9, 0x41, 0x02, 0x00, 0x21, 0x01, 0x10, 0x00,
        0x00, 0x00, 0xa8, 0x70, 0x8e, 0x86, 0xe0, 0x00, 0x13, 0x00, 0x0e, 0x5d, 0x00, 0x34, 0x19, 0x49, 0xee, 0x8d,
        0xef, 0x8c, 0x87, 0x31, 0xf5, 0x2f, 0x64, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x22, 0x14, 0x76, 0x27,
        0xee, 0x9d, 0x06, 0x72, 0x9e, 0x7a, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x59, 0x5a,
    ];
    /// The stream header of `--check=sha256` (the rest does not matter: it is refused first).
    const SHA256_HEADER: &[u8] = &[0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0x00, 0x0a, 0xe1, 0xfb, 0x0c, 0xa1];
    /// The block header of `--x86 --lzma2=dict=1MiB`: two filters, BCJ x86 (0x04) then LZMA2.
    const BCJ_BLOCK_HEADER: &[u8] = &[0x02, 0x01, 0x04, 0x00, 0x21, 0x01, 0x10, 0x00, 0x8b, 0x21, 0x6f, 0x49];
    const HELLO_TEXT: &[u8] = b"hello, hello, hello\n";
    /// Where HELLO's block header, its dictionary property and its CRC32 are.
    const BLOCK: usize = 12;
    const DICT_PROPS: usize = BLOCK + 4;

    fn decompress(file: &[u8]) -> Result<Vec<u8>, DecompressError> {
        let mut out = vec![0; decompressed_size(file, 1 << 20)?];
        heap_needed(file, 1 << 20)?;
        decompress_into(file, &mut out)?;
        Ok(out)
    }

    /// `file` with its block header's CRC32 recomputed after an edit.
    fn with_block_crc(mut file: Vec<u8>) -> Vec<u8> {
        let crc = crc32::checksum(&file[BLOCK..BLOCK + 8]);
        file[BLOCK + 8..BLOCK + 12].copy_from_slice(&crc.to_le_bytes());
        file
    }

    #[test]
    fn decodes_every_check_xz_offers_but_sha256() {
        for file in [HELLO, HELLO_CRC64, HELLO_UNCHECKED] {
            assert_eq!(decompress(file).unwrap(), HELLO_TEXT);
        }
        let sha256 = [SHA256_HEADER, &HELLO[BLOCK..]].concat();
        assert_eq!(decompress(&sha256), Err(DecompressError::XzCheck(10)));
        assert_eq!(
            DecompressError::XzCheck(10).to_string(),
            "xz integrity check 10 (SHA-256) is not supported (none, CRC32 and CRC64 are)"
        );
    }

    #[test]
    fn no_heap_and_the_block_headers_dictionary() {
        assert_eq!(dictionary_size(HELLO[DICT_PROPS]), 1 << 20);
        assert_eq!((dictionary_size(0), dictionary_size(1), dictionary_size(39)), (4096, 6144, 3 << 30));
        assert_eq!(dictionary_size(DICT_PROPS_MAX), u64::from(u32::MAX));
        assert_eq!(heap_needed(HELLO, 0), Ok(0));
    }

    #[test]
    fn refuses_filters_other_than_lzma2() {
        let bcj = [&HELLO[..BLOCK], BCJ_BLOCK_HEADER, &HELLO[BLOCK + 12..]].concat();
        assert_eq!(decompress(&bcj), Err(DecompressError::XzFilter(4)));
        let mut delta = HELLO.to_vec();
        delta[BLOCK + 2] = 0x03;
        assert_eq!(decompress(&with_block_crc(delta)), Err(DecompressError::XzFilter(3)));
    }

    #[test]
    fn checks_every_crc32_and_the_flags() {
        for (at, what) in [(8, "stream header"), (BLOCK + 8, "block header"), (HELLO.len() - 12, "stream footer")] {
            let mut bad = HELLO.to_vec();
            bad[at] ^= 1;
            assert_eq!(decompress(&bad), Err(DecompressError::XzCrc32(what)), "{what}");
        }
        let mut bad_index = HELLO.to_vec();
        bad_index[HELLO.len() - 13] ^= 1;
        assert_eq!(decompress(&bad_index), Err(DecompressError::XzCrc32("index")));
        // The footer says CRC64, the header CRC32 (the footer's CRC32 recomputed to match).
        let mut flags = HELLO.to_vec();
        let footer = HELLO.len() - 12;
        flags[footer + 9] = 4;
        let crc = crc32::checksum(&flags[footer + 4..footer + 10]);
        flags[footer..footer + 4].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(decompress(&flags), Err(DecompressError::XzFlagsMismatch));
        let mut content = HELLO.to_vec();
        content[BLOCK + 36] ^= 1;
        assert_eq!(decompress(&content), Err(DecompressError::ChecksumMismatch(Xz)));
    }

    #[test]
    fn every_truncation_and_every_flipped_bit_is_an_error() {
        for len in 0..HELLO.len() {
            let result = decompress(&HELLO[..len]);
            assert!(result.is_err(), "{len} bytes decompressed to {result:?}");
        }
        assert_eq!(decompress(&HELLO[..HELLO.len() - 1]), Err(DecompressError::Truncated(Xz)));
        for at in 0..HELLO.len() * 8 {
            let mut flipped = HELLO.to_vec();
            flipped[at / 8] ^= 1 << (at % 8);
            assert!(decompress(&flipped).is_err(), "bit {at} flipped");
        }
    }

    #[test]
    fn one_stream_without_padding() {
        assert_eq!(decompress(&[HELLO, HELLO].concat()), Err(DecompressError::TrailingData(Xz)));
        assert_eq!(decompress(&[HELLO, &[0; 4]].concat()), Err(DecompressError::TrailingData(Xz)));
        assert_eq!(
            DecompressError::TrailingData(Xz).to_string(),
            "data after the xz stream (files of several streams, or stream padding, are not supported)"
        );
    }

    #[test]
    fn sizes_in_the_block_header_must_match_the_index() {
        // Uncompressed size 21 in the header (flag 0x80), where the index says 20: the header
        // grows by 4 bytes (size byte 2 to 3), so the index's unpadded size is edited too.
        let header = [0x03, 0x80, 21, 0x21, 0x01, 0x10, 0, 0, 0, 0, 0, 0];
        let mut header = header.to_vec();
        let crc = crc32::checksum(&header);
        header.extend_from_slice(&crc.to_le_bytes());
        let file = [&HELLO[..BLOCK], &header, &HELLO[BLOCK + 12..]].concat();
        assert!(decompress(&file).is_err());
    }
}
