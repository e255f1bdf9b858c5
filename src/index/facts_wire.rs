//! Module facts as bytes, for a worker process to hand the facts of the modules it read to the
//! process that builds the files (`depmod` reads a tree's modules on every CPU).
//!
//! Each module is a tag byte, then for facts their fields in declaration order, for an error
//! its text: byte strings as a little-endian u32 length and the bytes, lists as a u32 count
//! and the items, CRCs as u64, the weak flag as a byte.

use super::builder::{Export, Import, ModuleFacts};
use alloc::string::String;
use alloc::vec::Vec;

const FACTS: u8 = 0;
const ERROR: u8 = 1;

/// Appends `module` (its facts, or why they could not be read) to `out`.
pub fn encode(module: &Result<ModuleFacts, String>, out: &mut Vec<u8>) {
    let bytes = |out: &mut Vec<u8>, b: &[u8]| {
        out.extend_from_slice(&(b.len() as u32).to_le_bytes());
        out.extend_from_slice(b);
    };
    let count = |out: &mut Vec<u8>, n: usize| out.extend_from_slice(&(n as u32).to_le_bytes());
    match module {
        Err(why) => {
            out.push(ERROR);
            bytes(out, why.as_bytes());
        }
        Ok(f) => {
            out.push(FACTS);
            bytes(out, &f.path);
            for list in [&f.aliases, &f.softdeps, &f.weakdeps] {
                count(out, list.len());
                for item in list {
                    bytes(out, item);
                }
            }
            count(out, f.exports.len());
            for e in &f.exports {
                bytes(out, &e.name);
                out.extend_from_slice(&e.crc.to_le_bytes());
            }
            count(out, f.imports.len());
            for i in &f.imports {
                bytes(out, &i.name);
                out.extend_from_slice(&i.crc.to_le_bytes());
                out.push(u8::from(i.weak));
            }
        }
    }
}

/// The modules [`encode`] wrote into `bytes`, or None when `bytes` is not exactly such a list.
pub fn decode(bytes: &[u8]) -> Option<Vec<Result<ModuleFacts, String>>> {
    let mut r = Reader(bytes);
    let mut modules = Vec::new();
    while !r.0.is_empty() {
        modules.push(match r.take(1)?[0] {
            ERROR => Err(String::from_utf8(r.bytes()?.to_vec()).ok()?),
            FACTS => {
                let path = r.bytes()?.to_vec();
                let mut lists = [Vec::new(), Vec::new(), Vec::new()];
                for list in &mut lists {
                    for _ in 0..r.u32()? {
                        list.push(r.bytes()?.to_vec());
                    }
                }
                let [aliases, softdeps, weakdeps] = lists;
                let mut exports = Vec::new();
                for _ in 0..r.u32()? {
                    exports.push(Export { name: r.bytes()?.to_vec(), crc: r.u64()? });
                }
                let mut imports = Vec::new();
                for _ in 0..r.u32()? {
                    imports.push(Import { name: r.bytes()?.to_vec(), crc: r.u64()?, weak: r.take(1)?[0] != 0 });
                }
                Ok(ModuleFacts { path, aliases, softdeps, weakdeps, exports, imports })
            }
            _ => return None,
        });
    }
    Some(modules)
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(head)
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    fn bytes(&mut self) -> Option<&'a [u8]> {
        let len = usize::try_from(self.u32()?).ok()?;
        self.take(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::ToString;
    use std::vec;

    #[test]
    fn facts_come_back_as_they_went() {
        let facts = ModuleFacts {
            path: b"kernel/a.ko.xz".to_vec(),
            aliases: vec![b"pci:v*".to_vec(), Vec::new()],
            softdeps: vec![b"pre: b".to_vec()],
            weakdeps: Vec::new(),
            exports: vec![Export { name: b"f".to_vec(), crc: u64::MAX }],
            imports: vec![Import { name: b"g".to_vec(), crc: 7, weak: true }],
        };
        let modules = vec![Ok(facts), Err("Exec format error".to_string()), Ok(ModuleFacts::default())];
        let mut bytes = Vec::new();
        for m in &modules {
            encode(m, &mut bytes);
        }
        assert_eq!(decode(&bytes), Some(modules));
        for len in 0..bytes.len() - 1 {
            let decoded = decode(&bytes[..len]);
            assert!(decoded.is_none() || decoded.unwrap().len() < 3, "a cut list is refused or shorter");
        }
        assert_eq!(decode(&[9]), None);
    }
}
