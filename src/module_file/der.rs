//! A reader of DER (ASN.1 Distinguished Encoding Rules) values, in place: enough to walk a
//! PKCS#7 signature ([`crate::module_file::signature`]).
//!
//! Only definite lengths are read (DER forbids the indefinite form) and only single-byte tags
//! (every tag PKCS#7 and X.509 use). Any bytes are valid input: a value that runs past its
//! container, or a length that does not fit, is a [`DerError`], never a panic.

/// Universal tags and the context-specific tags PKCS#7 uses.
pub const INTEGER: u8 = 0x02;
pub const OCTET_STRING: u8 = 0x04;
pub const OID: u8 = 0x06;
pub const SEQUENCE: u8 = 0x30;
pub const SET: u8 = 0x31;
/// `[0]`, constructed: an EXPLICIT or IMPLICIT constructed field 0.
pub const CONTEXT_0: u8 = 0xa0;
/// `[1]`, constructed.
pub const CONTEXT_1: u8 = 0xa1;

/// Why a DER value could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DerError {
    /// The input ends inside a tag, a length or a value.
    Truncated,
    /// A multi-byte tag (low bits 0x1f), not used by PKCS#7.
    LongTag,
    /// The indefinite length form (0x80), which DER forbids.
    IndefiniteLength,
    /// A length of more bytes than a `usize` holds.
    LengthTooLong,
    /// A value of another tag than the one expected.
    UnexpectedTag { expected: u8, found: u8 },
}

/// One value: its tag and its contents (without tag and length).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlv<'a> {
    pub tag: u8,
    pub contents: &'a [u8],
}

impl<'a> Tlv<'a> {
    /// The values inside a constructed value (SEQUENCE, SET, `[n]`).
    pub fn inner(&self) -> Der<'a> {
        Der::new(self.contents)
    }
}

/// A cursor over consecutive DER values.
#[derive(Debug, Clone, Copy)]
pub struct Der<'a> {
    rest: &'a [u8],
}

impl<'a> Der<'a> {
    pub fn new(bytes: &'a [u8]) -> Der<'a> {
        Der { rest: bytes }
    }

    /// True when every value has been read.
    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// The next value, whatever its tag.
    pub fn any(&mut self) -> Result<Tlv<'a>, DerError> {
        let (&tag, rest) = self.rest.split_first().ok_or(DerError::Truncated)?;
        if tag & 0x1f == 0x1f {
            return Err(DerError::LongTag);
        }
        let (&first, mut rest) = rest.split_first().ok_or(DerError::Truncated)?;
        let len = match first {
            0..=0x7f => usize::from(first),
            0x80 => return Err(DerError::IndefiniteLength),
            _ => {
                let count = usize::from(first & 0x7f);
                let (bytes, after) = rest.split_at_checked(count).ok_or(DerError::Truncated)?;
                rest = after;
                bytes.iter().try_fold(0usize, |len, &b| {
                    len.checked_mul(256).map(|l| l | usize::from(b)).ok_or(DerError::LengthTooLong)
                })?
            }
        };
        let (contents, after) = rest.split_at_checked(len).ok_or(DerError::Truncated)?;
        self.rest = after;
        Ok(Tlv { tag, contents })
    }

    /// The next value, which must have tag `tag`.
    pub fn expect(&mut self, tag: u8) -> Result<Tlv<'a>, DerError> {
        let tlv = self.any()?;
        if tlv.tag != tag {
            return Err(DerError::UnexpectedTag { expected: tag, found: tlv.tag });
        }
        Ok(tlv)
    }

    /// Skips the next value if it has tag `tag` (an OPTIONAL field); the value, if so.
    pub fn optional(&mut self, tag: u8) -> Result<Option<Tlv<'a>>, DerError> {
        match self.rest.first() {
            Some(&t) if t == tag => self.any().map(Some),
            _ => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_short_and_long_lengths() {
        let mut long = vec![SEQUENCE, 0x82, 0x01, 0x00];
        long.extend([7; 256]);
        long.extend([INTEGER, 1, 5]);
        let mut der = Der::new(&long);
        let seq = der.expect(SEQUENCE).unwrap();
        assert_eq!(seq.contents, &[7; 256][..]);
        assert_eq!(der.any().unwrap(), Tlv { tag: INTEGER, contents: &[5] });
        assert!(der.is_empty());
        assert_eq!(der.any(), Err(DerError::Truncated));
    }

    #[test]
    fn nested_values_and_optional_fields() {
        let bytes = [SEQUENCE, 6, CONTEXT_0, 1, 9, OID, 1, 42];
        let seq = Der::new(&bytes).expect(SEQUENCE).unwrap();
        let mut inner = seq.inner();
        assert_eq!(inner.optional(CONTEXT_1).unwrap(), None);
        assert_eq!(inner.optional(CONTEXT_0).unwrap().map(|t| t.contents), Some(&[9][..]));
        assert_eq!(inner.expect(OID).unwrap().contents, &[42]);
        assert_eq!(inner.optional(CONTEXT_0).unwrap(), None, "nothing left");
    }

    #[test]
    fn bad_encodings_say_why() {
        let cases: [(&[u8], DerError); 7] = [
            (&[], DerError::Truncated),
            (&[SEQUENCE], DerError::Truncated),
            (&[SEQUENCE, 3, 1], DerError::Truncated),
            (&[SEQUENCE, 0x82, 1], DerError::Truncated),
            (&[0x1f, 1, 0], DerError::LongTag),
            (&[SEQUENCE, 0x80, 0, 0], DerError::IndefiniteLength),
            (&[SEQUENCE, 0x89, 1, 0, 0, 0, 0, 0, 0, 0, 0], DerError::LengthTooLong),
        ];
        for (bytes, error) in cases {
            assert_eq!(Der::new(bytes).any(), Err(error), "{bytes:x?}");
        }
        assert_eq!(
            Der::new(&[SET, 0]).expect(SEQUENCE),
            Err(DerError::UnexpectedTag { expected: SEQUENCE, found: SET })
        );
    }
}
