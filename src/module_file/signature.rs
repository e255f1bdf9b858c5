//! A module's appended signature, read as kmod 30 reads it for `modinfo` (libkmod-signature.c).
//!
//! The kernel's `scripts/sign-file` appends to the module, in order: the signer's name, the key
//! identifier, the signature data, a 12-byte `struct module_signature` (algo, hash, id_type,
//! signer_len, key_id_len, 3 pad bytes, big-endian sig_len) and the magic
//! `~Module signature appended~\n`. Modern signatures are PKCS#7 (`id_type` 2, both name and key
//! id empty): then the signer is the issuer's common name, the key id the certificate's serial
//! number, the hash the SignerInfo's digest algorithm and the signature its encryptedDigest, as
//! kmod's OpenSSL build shows them. Nothing is verified. Any bytes are valid input.

use crate::module_file::der::{self, Der, DerError, Tlv};

/// What ends a signed module file.
pub const SIGNATURE_MAGIC: &[u8] = b"~Module signature appended~\n";
/// `struct module_signature`.
const INFO_SIZE: usize = 12;

/// The names kmod gives `struct module_signature`'s enums (the kernel's, as of Linux 3.7).
const ALGOS: usize = 2; // DSA, RSA: only range-checked, kmod does not show it.
const HASH_ALGOS: [&str; 9] = ["md4", "md5", "sha1", "rmd160", "sha256", "sha384", "sha512", "sha224", "sm3"];
const ID_TYPES: [&str; 3] = ["PGP", "X509", "PKCS#7"];
const PKEY_ID_PKCS7: u8 = 2;

/// The digest algorithms kmod names, by the DER contents of their object identifiers, in the
/// order of [`HASH_ALGOS`].
const HASH_OIDS: [&[u8]; 9] = [
    &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x02, 0x04], // 1.2.840.113549.2.4
    &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x02, 0x05], // 1.2.840.113549.2.5
    &[0x2b, 0x0e, 0x03, 0x02, 0x1a],                   // 1.3.14.3.2.26
    &[0x2b, 0x24, 0x03, 0x02, 0x01],                   // 1.3.36.3.2.1
    &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01], // 2.16.840.1.101.3.4.2.1
    &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02],
    &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03],
    &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x04],
    &[0x2a, 0x81, 0x1c, 0xcf, 0x55, 0x01, 0x83, 0x11], // 1.2.156.10197.1.401
];
/// 1.2.840.113549.1.7.2, PKCS#7 signedData.
const SIGNED_DATA_OID: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02];
/// 2.5.4.3, an X.509 name's commonName.
const COMMON_NAME_OID: &[u8] = &[0x55, 0x04, 0x03];

/// The signature trailer of a file, checked as kmod checks it: the magic, the enums in range, a
/// non-empty signature, and all three lengths inside the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trailer<'a> {
    /// The file without the signature: the ELF image.
    pub image: &'a [u8],
    pub hash: u8,
    pub id_type: u8,
    pub signer: &'a [u8],
    pub key_id: &'a [u8],
    pub signature: &'a [u8],
}

impl<'a> Trailer<'a> {
    /// The trailer of `file`; None when it has none kmod would read.
    pub fn of(file: &'a [u8]) -> Option<Trailer<'a>> {
        let (rest, info) = file.strip_suffix(SIGNATURE_MAGIC)?.split_last_chunk::<INFO_SIZE>()?;
        let [algo, hash, id_type, signer_len, key_id_len, _, _, _, sig_len @ ..] = *info;
        if usize::from(algo) >= ALGOS || usize::from(hash) >= HASH_ALGOS.len() || usize::from(id_type) >= ID_TYPES.len()
        {
            return None;
        }
        let sig_len = usize::try_from(u32::from_be_bytes(sig_len)).ok().filter(|&n| n > 0)?;
        let (rest, signature) = rest.split_at_checked(rest.len().checked_sub(sig_len)?)?;
        let (rest, key_id) = rest.split_at_checked(rest.len().checked_sub(usize::from(key_id_len))?)?;
        let (image, signer) = rest.split_at_checked(rest.len().checked_sub(usize::from(signer_len))?)?;
        Some(Trailer { image, hash, id_type, signer, key_id, signature })
    }
}

/// How the signing key is identified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyId<'a> {
    /// The trailer's key identifier bytes (PGP and X509 signatures).
    Raw(&'a [u8]),
    /// A PKCS#7 signer's certificate serial number: the contents of a DER INTEGER. Shown as
    /// OpenSSL's `BN_bn2bin` gives it: the magnitude, without leading zero bytes.
    Serial(&'a [u8]),
}

impl KeyId<'_> {
    /// The bytes kmod shows in hex.
    pub fn bytes(&self) -> impl Iterator<Item = u8> + '_ {
        let (bytes, serial) = match *self {
            KeyId::Raw(b) => (b, false),
            KeyId::Serial(b) => (b, true),
        };
        let negative = serial && bytes.first().is_some_and(|&b| b & 0x80 != 0);
        // A negative number's magnitude is its two's complement: invert, then add the carry,
        // which reaches byte i when every byte after it is zero.
        let magnitude = bytes.iter().enumerate().map(move |(i, &b)| {
            let carry = bytes.get(i + 1..).unwrap_or_default().iter().all(|&x| x == 0);
            if negative { (!b).wrapping_add(u8::from(carry)) } else { b }
        });
        let mut leading = serial;
        magnitude.filter(move |&b| {
            leading &= b == 0;
            !leading
        })
    }
}

/// What kmod's modinfo shows of a signature: the `sig_id`, `signer`, `sig_key`, `sig_hashalgo`
/// and `signature` fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignatureInfo<'a> {
    /// "PGP", "X509" or "PKCS#7".
    pub id_type: &'static str,
    /// The signer's name, up to its first NUL (kmod prints it with `%s`).
    pub signer: &'a [u8],
    pub key_id: KeyId<'a>,
    /// "sha256" and the like; "unknown" for a PKCS#7 digest algorithm kmod has no name for.
    pub hash_algo: &'static str,
    pub signature: &'a [u8],
}

/// The signature of a module file as kmod's modinfo shows it; None when the file has no trailer
/// or its PKCS#7 message cannot be read (kmod then shows no signature fields either).
///
/// Unlike OpenSSL, the PKCS#7 message is not checked beyond what is read from it, and must be
/// DER (definite lengths). A digest algorithm kmod does not know is "unknown" here (kmod 30
/// reads before its table there).
pub fn signature_info(file: &[u8]) -> Option<SignatureInfo<'_>> {
    let trailer = Trailer::of(file)?;
    let id_type = ID_TYPES.get(usize::from(trailer.id_type)).copied()?;
    if trailer.id_type != PKEY_ID_PKCS7 {
        return Some(SignatureInfo {
            id_type,
            signer: crate::module_file::elf::c_string(trailer.signer),
            key_id: KeyId::Raw(trailer.key_id),
            hash_algo: HASH_ALGOS.get(usize::from(trailer.hash)).copied()?,
            signature: trailer.signature,
        });
    }
    let signer = pkcs7_signer(trailer.signature).ok()?;
    Some(SignatureInfo {
        id_type,
        signer: signer.issuer_name,
        key_id: KeyId::Serial(signer.serial),
        hash_algo: HASH_OIDS.iter().position(|&oid| oid == signer.digest_oid).map_or("unknown", |i| HASH_ALGOS[i]),
        signature: signer.encrypted_digest,
    })
}

/// The first SignerInfo of a PKCS#7 signedData message, as far as kmod reads it.
struct Pkcs7Signer<'a> {
    issuer_name: &'a [u8],
    serial: &'a [u8],
    digest_oid: &'a [u8],
    encrypted_digest: &'a [u8],
}

/// Why a PKCS#7 message could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pkcs7Error {
    Der(DerError),
    NotSignedData,
    NoSigner,
    /// A serial number with no contents or non-minimal padding (OpenSSL refuses both).
    BadSerial,
}

impl From<DerError> for Pkcs7Error {
    fn from(e: DerError) -> Pkcs7Error {
        Pkcs7Error::Der(e)
    }
}

/// Reads the message at the start of `message` (bytes after it are ignored, as by
/// `d2i_PKCS7_bio`).
fn pkcs7_signer(message: &[u8]) -> Result<Pkcs7Signer<'_>, Pkcs7Error> {
    let mut content_info = Der::new(message).expect(der::SEQUENCE)?.inner();
    if content_info.expect(der::OID)?.contents != SIGNED_DATA_OID {
        return Err(Pkcs7Error::NotSignedData);
    }
    let mut signed_data = content_info.expect(der::CONTEXT_0)?.inner().expect(der::SEQUENCE)?.inner();
    signed_data.expect(der::INTEGER)?; // version
    signed_data.expect(der::SET)?; // digestAlgorithms
    signed_data.expect(der::SEQUENCE)?; // contentInfo (detached: no content)
    signed_data.optional(der::CONTEXT_0)?; // certificates
    signed_data.optional(der::CONTEXT_1)?; // crls
    let mut signer_infos = signed_data.expect(der::SET)?.inner();
    if signer_infos.is_empty() {
        return Err(Pkcs7Error::NoSigner);
    }
    let mut signer = signer_infos.expect(der::SEQUENCE)?.inner();
    signer.expect(der::INTEGER)?; // version
    let mut issuer_and_serial = signer.expect(der::SEQUENCE)?.inner();
    let issuer = issuer_and_serial.expect(der::SEQUENCE)?;
    let serial = issuer_and_serial.expect(der::INTEGER)?.contents;
    let padded = |first: u8, second: u8| (first == 0 && second < 0x80) || (first == 0xff && second >= 0x80);
    match serial {
        [] => return Err(Pkcs7Error::BadSerial),
        [first, second, ..] if padded(*first, *second) => return Err(Pkcs7Error::BadSerial),
        _ => {}
    }
    let digest_oid = signer.expect(der::SEQUENCE)?.inner().expect(der::OID)?.contents;
    signer.optional(der::CONTEXT_0)?; // authenticatedAttributes
    signer.expect(der::SEQUENCE)?; // digestEncryptionAlgorithm
    let encrypted_digest = signer.expect(der::OCTET_STRING)?.contents;
    Ok(Pkcs7Signer { issuer_name: common_name(issuer)?, serial, digest_oid, encrypted_digest })
}

/// kmod's `x509_name_to_str`: the value of the name's first commonName attribute, up to its
/// first NUL. Without one kmod ends its search on the last attribute and shows that one; a name
/// without attributes shows as empty.
fn common_name(name: Tlv<'_>) -> Result<&[u8], DerError> {
    let mut shown: &[u8] = b"";
    let mut rdns = name.inner();
    while !rdns.is_empty() {
        let mut attributes = rdns.expect(der::SET)?.inner();
        while !attributes.is_empty() {
            let mut attribute = attributes.expect(der::SEQUENCE)?.inner();
            let oid = attribute.expect(der::OID)?.contents;
            shown = crate::module_file::elf::c_string(attribute.any()?.contents);
            if oid == COMMON_NAME_OID {
                return Ok(shown);
            }
        }
    }
    Ok(shown)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A DER value of `tag` holding `parts`.
    fn tlv(tag: u8, parts: &[&[u8]]) -> Vec<u8> {
        let contents = parts.concat();
        let mut out = vec![tag];
        match contents.len() {
            n @ 0..=0x7f => out.push(n as u8),
            n @ 0x80..=0xff => out.extend([0x81, n as u8]),
            n => out.extend([0x82, (n >> 8) as u8, n as u8]),
        }
        out.extend(contents);
        out
    }

    fn attribute(oid: &[u8], value: &[u8]) -> Vec<u8> {
        tlv(der::SET, &[&tlv(der::SEQUENCE, &[&tlv(der::OID, &[oid]), &tlv(0x0c, &[value])])])
    }

    /// A detached PKCS#7 signedData as sign-file makes it, with one SignerInfo.
    fn pkcs7(issuer: &[&[u8]], serial: &[u8], digest_oid: &[u8], digest: &[u8]) -> Vec<u8> {
        let algorithm = |oid: &[u8]| tlv(der::SEQUENCE, &[&tlv(der::OID, &[oid]), &[0x05, 0x00]]);
        let rsa = algorithm(&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01]);
        let signer_info = tlv(
            der::SEQUENCE,
            &[
                &tlv(der::INTEGER, &[&[1]]),
                &tlv(der::SEQUENCE, &[&tlv(der::SEQUENCE, issuer), &tlv(der::INTEGER, &[serial])]),
                &algorithm(digest_oid),
                &rsa,
                &tlv(der::OCTET_STRING, &[digest]),
            ],
        );
        let signed_data = tlv(
            der::SEQUENCE,
            &[
                &tlv(der::INTEGER, &[&[1]]),
                &tlv(der::SET, &[&algorithm(digest_oid)]),
                &tlv(der::SEQUENCE, &[&tlv(der::OID, &[&SIGNED_DATA_OID[..8], &[1]])]),
                &tlv(der::SET, &[&signer_info]),
            ],
        );
        tlv(der::SEQUENCE, &[&tlv(der::OID, &[SIGNED_DATA_OID]), &tlv(der::CONTEXT_0, &[&signed_data])])
    }

    fn signed(image: &[u8], hash: u8, id_type: u8, signer: &[u8], key_id: &[u8], signature: &[u8]) -> Vec<u8> {
        let info = [1, hash, id_type, signer.len() as u8, key_id.len() as u8, 0, 0, 0];
        let sig_len = (signature.len() as u32).to_be_bytes();
        [image, signer, key_id, signature, &info, &sig_len, SIGNATURE_MAGIC].concat()
    }

    const SHA256: &[u8] = HASH_OIDS[4];

    #[test]
    fn a_sign_file_pkcs7_signature() {
        let o = [&attribute(&[0x55, 0x04, 0x0a], b"Debian")[..], &attribute(COMMON_NAME_OID, b"Build time key")];
        let file = signed(b"\x7fELF...", 0, 2, b"", b"", &pkcs7(&o, &[0x00, 0x9e, 0x11], SHA256, &[0xab; 256]));
        let info = signature_info(&file).unwrap();
        assert_eq!((info.id_type, info.signer, info.hash_algo), ("PKCS#7", &b"Build time key"[..], "sha256"));
        assert_eq!(info.key_id.bytes().collect::<Vec<_>>(), [0x9e, 0x11], "the sign byte is not shown");
        assert_eq!(info.signature, &[0xab; 256][..]);
        assert_eq!(Trailer::of(&file).unwrap().image, b"\x7fELF...");
    }

    #[test]
    fn every_digest_kmod_names() {
        for (oid, name) in HASH_OIDS.iter().zip(HASH_ALGOS) {
            let file = signed(b"", 0, 2, b"", b"", &pkcs7(&[], &[1], oid, b"s"));
            assert_eq!(signature_info(&file).unwrap().hash_algo, name);
        }
        let file = signed(b"", 0, 2, b"", b"", &pkcs7(&[], &[1], &[0x2a, 3], b"s"));
        assert_eq!(signature_info(&file).unwrap().hash_algo, "unknown");
    }

    #[test]
    fn the_signer_is_the_first_common_name_else_the_last_attribute() {
        let cn = |v: &[u8]| attribute(COMMON_NAME_OID, v);
        let org = |v: &[u8]| attribute(&[0x55, 0x04, 0x0a], v);
        let cases: [(Vec<Vec<u8>>, &[u8]); 5] = [
            (vec![org(b"O"), cn(b"first"), cn(b"second")], b"first"),
            (vec![org(b"O"), org(b"last")], b"last"),
            (vec![], b""),
            (vec![cn(b"with\0nul")], b"with"),
            (vec![cn(b"")], b""),
        ];
        for (issuer, expected) in cases {
            let issuer: Vec<&[u8]> = issuer.iter().map(Vec::as_slice).collect();
            let file = signed(b"", 4, 2, b"", b"", &pkcs7(&issuer, &[1], SHA256, b"s"));
            assert_eq!(signature_info(&file).unwrap().signer, expected);
        }
    }

    #[test]
    fn serials_show_as_openssl_magnitudes() {
        let cases: [(&[u8], &[u8]); 6] = [
            (&[0x01], &[0x01]),
            (&[0x00], &[]),
            (&[0x00, 0x80], &[0x80]),
            (&[0xff], &[0x01]),
            (&[0xff, 0x00], &[0x01, 0x00]),
            (&[0x80, 0x00, 0x01], &[0x7f, 0xff, 0xff]),
        ];
        for (serial, magnitude) in cases {
            assert_eq!(KeyId::Serial(serial).bytes().collect::<Vec<_>>(), magnitude, "{serial:x?}");
        }
        assert_eq!(KeyId::Raw(&[0, 0, 1]).bytes().collect::<Vec<_>>(), [0, 0, 1], "raw ids are shown whole");
        for bad in [&[][..], &[0x00, 0x01], &[0xff, 0x80]] {
            let file = signed(b"", 4, 2, b"", b"", &pkcs7(&[], bad, SHA256, b"s"));
            assert_eq!(signature_info(&file), None, "OpenSSL refuses the serial {bad:x?}");
        }
    }

    #[test]
    fn old_style_signatures_show_the_trailer_fields() {
        let file = signed(b"image", 2, 1, b"Signer\0junk", b"\x00\x01", b"SIG");
        let info = signature_info(&file).unwrap();
        assert_eq!(
            (info.id_type, info.signer, info.hash_algo, info.signature),
            ("X509", &b"Signer"[..], "sha1", &b"SIG"[..])
        );
        assert_eq!(info.key_id, KeyId::Raw(b"\x00\x01"));
        assert_eq!(Trailer::of(&file).unwrap().image, b"image");
        assert_eq!(signature_info(&signed(b"", 0, 0, b"", b"", b"x")).unwrap().id_type, "PGP");
    }

    #[test]
    fn trailers_kmod_refuses() {
        let good = signed(b"image", 4, 1, b"n", b"k", b"sig");
        assert!(Trailer::of(&good).is_some());
        let mut cases = vec![
            (b"image".to_vec(), "no magic"),
            (SIGNATURE_MAGIC.to_vec(), "only the magic"),
            ([&[0; 11], SIGNATURE_MAGIC].concat(), "a short struct module_signature"),
            (signed(b"", 4, 1, b"", b"", b""), "sig_len = 0"),
        ];
        for (at, value, what) in [(0, 2, "algo"), (1, 9, "hash"), (2, 3, "id_type"), (3, 200, "signer_len")] {
            let mut bad = good.clone();
            let info = bad.len() - SIGNATURE_MAGIC.len() - INFO_SIZE;
            bad[info + at] = value;
            cases.push((bad, what));
        }
        let mut long_sig = good.clone();
        let len_at = long_sig.len() - SIGNATURE_MAGIC.len() - 4;
        long_sig[len_at..len_at + 4].copy_from_slice(&u32::MAX.to_be_bytes());
        cases.push((long_sig, "sig_len past the start"));
        for (file, what) in cases {
            assert_eq!(Trailer::of(&file), None, "{what}");
            assert_eq!(signature_info(&file), None, "{what}");
        }
        let not_der = signed(b"", 4, 2, b"", b"", b"\x30\x80");
        assert_eq!((Trailer::of(&not_der).is_some(), signature_info(&not_der)), (true, None), "unreadable PKCS#7");
        let data = tlv(der::SEQUENCE, &[&tlv(der::OID, &[&SIGNED_DATA_OID[..8], &[1]])]);
        assert_eq!(pkcs7_signer(&data).err(), Some(Pkcs7Error::NotSignedData));
    }

    /// Prefixes, one-byte changes and random bytes of a real PKCS#7 signature never panic.
    #[test]
    fn corrupt_pkcs7_never_panics() {
        let o = [&attribute(COMMON_NAME_OID, b"key")[..]];
        let message = pkcs7(&o, &[0x11; 20], SHA256, &[0x5a; 64]);
        for len in 0..message.len() {
            let _ = pkcs7_signer(&message[..len]);
        }
        let mut seed = 0x2545f4914f6cdd1du64;
        for _ in 0..20_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let mut bad = message.clone();
            let at = (seed % bad.len() as u64) as usize;
            bad[at] = (seed >> 32) as u8;
            if let Some(info) = signature_info(&signed(b"", 4, 2, b"", b"", &bad)) {
                assert!(info.key_id.bytes().count() <= 20);
            }
        }
    }
}
