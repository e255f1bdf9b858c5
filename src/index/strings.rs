//! The index's string table: NUL-terminated byte strings, referenced by their byte offset.

/// A string table. Once [`Strings::new`] accepted it, every offset inside it names a string.
#[derive(Debug, Clone, Copy)]
pub struct Strings<'a> {
    bytes: &'a [u8],
}

impl<'a> Strings<'a> {
    /// None unless the table is empty or ends with a NUL, so that no string runs off its end.
    pub fn new(bytes: &'a [u8]) -> Option<Self> {
        match bytes.last() {
            None | Some(0) => Some(Strings { bytes }),
            Some(_) => None,
        }
    }

    /// The string starting at `offset`; None when `offset` is outside the table.
    pub fn get(&self, offset: u32) -> Option<&'a [u8]> {
        let tail = self.bytes.get(offset as usize..)?;
        let end = tail.iter().position(|&b| b == 0)?;
        Some(&tail[..end])
    }
}

/// Builds a string table, storing each distinct string once.
#[cfg(feature = "alloc")]
#[derive(Debug, Default)]
pub struct StringsWriter {
    bytes: alloc::vec::Vec<u8>,
    offsets: alloc::collections::BTreeMap<alloc::vec::Vec<u8>, u32>,
    overflowed: bool,
}

#[cfg(feature = "alloc")]
impl StringsWriter {
    /// A writer whose table starts as `table` (a whole string table, e.g. an index's), so that
    /// its offsets stay valid; strings added are stored after it (and once among themselves).
    pub fn appending_to(table: &[u8]) -> StringsWriter {
        StringsWriter { bytes: table.to_vec(), ..StringsWriter::default() }
    }

    /// The offset of `s`, adding it if it is new. Strings must not contain NUL: the caller
    /// checks that, since names read from files can.
    pub fn intern(&mut self, s: &[u8]) -> u32 {
        debug_assert!(!s.contains(&0));
        if let Some(&off) = self.offsets.get(s) {
            return off;
        }
        let Ok(off) = u32::try_from(self.bytes.len()) else {
            self.overflowed = true;
            return 0;
        };
        self.bytes.extend_from_slice(s);
        self.bytes.push(0);
        self.offsets.insert(s.to_vec(), off);
        off
    }

    /// The table, or None when it outgrew the 32-bit offsets.
    pub fn into_bytes(self) -> Option<alloc::vec::Vec<u8>> {
        (!self.overflowed).then_some(self.bytes)
    }
}

#[cfg(all(test, feature = "alloc"))]
mod tests {
    use super::*;

    #[test]
    fn interned_strings_come_back_and_are_stored_once() {
        let mut w = StringsWriter::default();
        let a = w.intern(b"ahci");
        let b = w.intern(b"");
        let c = w.intern(b"ahci");
        let bytes = w.into_bytes().unwrap();
        let s = Strings::new(&bytes).unwrap();
        assert_eq!((a, s.get(a)), (c, Some(&b"ahci"[..])));
        assert_eq!(s.get(b), Some(&b""[..]));
        assert_eq!(bytes.len(), 6);
        assert_eq!(s.get(99), None);
    }

    #[test]
    fn a_table_without_final_nul_is_refused() {
        assert!(Strings::new(b"abc").is_none());
        assert!(Strings::new(b"").is_some());
    }
}
