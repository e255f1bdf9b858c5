//! What kmod 30's `modinfo` prints for one module (tools/modinfo.c, `modinfo_do`), byte for byte.
//!
//! Every field: for a builtin `name:` first, then `filename:`, then the module's `.modinfo` entries
//! in file order as `key:` padded to 16 columns, then the signature fields, then the parameters,
//! each `parm` and `parmtype` of a name merged into one `parm:` line, in the reverse order of the
//! names' first appearance (kmod pushes them on a list). With `-0` lines end in a NUL and plain
//! entries print as `key=value`. With `-F FIELD` only the values of that key print; `-F parm`
//! prints the merged parameters without the `parm:` label, and `-F filename` only the file name.
//!
//! Output goes to a sink, piece by piece; nothing is allocated (parameters are merged in a
//! caller-provided table).

use crate::module_file::modinfo::Entries;
use crate::module_file::signature::{KeyId, SignatureInfo};

/// How modinfo prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Format<'a> {
    /// `-F FIELD` (and `-a`, `-d`, `-l`, `-p`, `-n`): print only this key's values.
    pub field: Option<&'a [u8]>,
    /// What ends each line: `\n`, or NUL with `-0`.
    pub separator: u8,
}

/// One parameter: its `parm` description and `parmtype` type, the last of each kmod saw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Param<'a> {
    name: &'a [u8],
    description: Option<&'a [u8]>,
    kind: Option<&'a [u8]>,
}

/// The module has more distinct parameters than the caller's table holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooManyParams {
    pub capacity: usize,
}

impl core::fmt::Display for TooManyParams {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "more than {} parameters", self.capacity)
    }
}

/// A `parm` or `parmtype` entry without the `:` after the parameter's name (kmod reports it
/// with `Found invalid "KEY=VALUE": missing ':'` and goes on).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidParam<'a> {
    pub key: &'a [u8],
    pub value: &'a [u8],
}

/// The first lines: a builtin's `name:` (`filename` None), then `filename:`. Returns false when
/// nothing more is to be printed (`-F filename`).
pub fn write_header(format: &Format<'_>, name: &[u8], filename: Option<&[u8]>, out: &mut dyn FnMut(&[u8])) -> bool {
    let sep = [format.separator];
    if filename.is_none() {
        match format.field {
            None => write_all(out, &[NAME_LABEL, name, &sep]),
            Some(b"name") => write_all(out, &[name, &sep]),
            Some(_) => {}
        }
    }
    let filename = filename.unwrap_or(b"(builtin)");
    match format.field {
        Some(b"filename") => {
            write_all(out, &[filename, &sep]);
            false
        }
        Some(_) => true,
        None => {
            write_all(out, &[FILENAME_LABEL, filename, &sep]);
            true
        }
    }
}

/// The module's fields after the header: `entries` (its `.modinfo`, in file order) and its
/// signature. `params` is the table the parameters are merged in; `invalid` hears of each
/// malformed one. Err, with nothing printed, when the table is too small.
pub fn write_fields<'a>(
    format: &Format<'_>,
    entries: Entries<'a>,
    signature: Option<&SignatureInfo<'_>>,
    params: &mut [Param<'a>],
    invalid: &mut dyn FnMut(InvalidParam<'a>),
    out: &mut dyn FnMut(&[u8]),
) -> Result<(), TooManyParams> {
    let sep = [format.separator];
    let (all, parm) = (format.field.is_none(), format.field == Some(b"parm"));
    let count = if all || parm { merge_params(entries.clone(), params, invalid)? } else { 0 };
    if !parm {
        let signature_fields = signature.map(signature_fields);
        let fields = entries
            .map(|(key, value)| (key, Value::Text(value)))
            .chain(signature_fields.iter().flatten().copied())
            .filter(|&(key, _)| format.field.map_or(!is_param_key(key), |field| key == field));
        for (key, value) in fields {
            if all {
                write_key(key, &sep, out);
            }
            value.write(out);
            out(&sep);
        }
    }
    for p in params.get(..count).unwrap_or_default().iter().rev() {
        if all {
            out(PARM_LABEL);
        }
        write_param(p, parm, &sep, out);
    }
    Ok(())
}

fn is_param_key(key: &[u8]) -> bool {
    key == b"parm" || key == b"parmtype"
}

/// kmod's `process_parm` over every entry: the distinct parameters in order of first appearance
/// in `table`, how many returned.
fn merge_params<'a>(
    entries: Entries<'a>,
    table: &mut [Param<'a>],
    invalid: &mut dyn FnMut(InvalidParam<'a>),
) -> Result<usize, TooManyParams> {
    let (mut count, capacity) = (0, table.len());
    for (key, value) in entries.filter(|&(key, _)| is_param_key(key)) {
        let Some(colon) = value.iter().position(|&b| b == b':') else {
            invalid(InvalidParam { key, value });
            continue;
        };
        let (name, text) = value.split_at(colon);
        let text = text.get(1..).unwrap_or_default();
        let index = match table.get(..count).unwrap_or_default().iter().position(|p| p.name == name) {
            Some(i) => i,
            None => {
                *table.get_mut(count).ok_or(TooManyParams { capacity })? =
                    Param { name, description: None, kind: None };
                count += 1;
                count - 1
            }
        };
        if let Some(param) = table.get_mut(index) {
            if key == b"parm" {
                param.description = Some(text);
            } else {
                param.kind = Some(text);
            }
        }
    }
    Ok(count)
}

/// One parameter: `name:description (type)`, `name:description`, or without a description
/// `name:type` after a `parm:` label and `name: (type)` alone (`-F parm`).
fn write_param(p: &Param<'_>, alone: bool, sep: &[u8], out: &mut dyn FnMut(&[u8])) {
    match (p.description, p.kind) {
        (None, kind) if alone => write_all(out, &[p.name, b": (", kind.unwrap_or_default(), b")", sep]),
        (None, kind) => write_all(out, &[p.name, b":", kind.unwrap_or_default(), sep]),
        (Some(description), Some(kind)) => write_all(out, &[p.name, b":", description, b" (", kind, b")", sep]),
        (Some(description), None) => write_all(out, &[p.name, b":", description, sep]),
    }
}

/// `key:` padded to 16 columns, or `key=` with NUL separators. kmod pads with
/// `printf("%s:%-*s", key, 15 - keylen, "")`, and a negative width counts as a positive one: a
/// key longer than 15 bytes is followed by as many spaces as it is too long.
fn write_key(key: &[u8], sep: &[u8], out: &mut dyn FnMut(&[u8])) {
    if sep == b"\0" {
        write_all(out, &[key, b"="]);
    } else {
        write_all(out, &[key, b":"]);
        write_spaces(key.len().abs_diff(15), out);
    }
}

fn write_spaces(mut count: usize, out: &mut dyn FnMut(&[u8])) {
    const SPACES: &[u8; 16] = b"                ";
    while count > 0 {
        let n = count.min(SPACES.len());
        out(&SPACES[..n]);
        count -= n;
    }
}

/// The labels kmod prints with `printf("%-16s", label)`.
const NAME_LABEL: &[u8; 16] = b"name:           ";
const FILENAME_LABEL: &[u8; 16] = b"filename:       ";
const PARM_LABEL: &[u8; 16] = b"parm:           ";

fn write_all(out: &mut dyn FnMut(&[u8]), parts: &[&[u8]]) {
    for part in parts {
        out(part);
    }
}

/// A field's value: text, or bytes shown in hex.
#[derive(Debug, Clone, Copy)]
enum Value<'s> {
    Text(&'s [u8]),
    Key(KeyId<'s>),
    Bytes(&'s [u8]),
}

impl Value<'_> {
    fn write(self, out: &mut dyn FnMut(&[u8])) {
        match self {
            Value::Text(text) => out(text),
            Value::Key(key) => write_hex(&mut key.bytes(), out),
            Value::Bytes(bytes) => write_hex(&mut bytes.iter().copied(), out),
        }
    }
}

/// The fields kmod appends to the `.modinfo` entries of a signed module, in its order.
fn signature_fields<'s>(s: &SignatureInfo<'s>) -> [(&'static [u8], Value<'s>); 5] {
    [
        (b"sig_id", Value::Text(s.id_type.as_bytes())),
        (b"signer", Value::Text(s.signer)),
        (b"sig_key", Value::Key(s.key_id)),
        (b"sig_hashalgo", Value::Text(s.hash_algo.as_bytes())),
        (b"signature", Value::Bytes(s.signature)),
    ]
}

/// kmod's `kmod_module_hex_to_str`: `01:AB:...`, a newline and two tabs after every 20 bytes
/// but the last.
fn write_hex(bytes: &mut dyn Iterator<Item = u8>, out: &mut dyn FnMut(&[u8])) {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    let mut bytes = bytes.peekable();
    let mut count = 0;
    while let Some(b) = bytes.next() {
        out(&[DIGITS[usize::from(b >> 4)], DIGITS[usize::from(b & 0xf)]]);
        count += 1;
        if bytes.peek().is_some() {
            out(if count % 20 == 0 { b":\n\t\t" } else { b":" });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::module_file::signature::KeyId;
    use std::string::String;
    use std::vec::Vec;

    /// A `.modinfo` section: parameters in pieces, a long key, a malformed `parm` last.
    const SECTION: &[u8] = b"license=GPL\0parm=debug:Debug level\0parmtype=debug:int\0parmtype=only_type:bool\0\
        alias=pci:v1*\0parm=no_type:Described\0parm=debug:Debug level (again)\0a_very_long_key_name=x\0parm=broken\0";

    fn signature() -> SignatureInfo<'static> {
        SignatureInfo {
            id_type: "PKCS#7",
            signer: b"Build time key",
            key_id: KeyId::Serial(&[0x00, 0x5e, 0xe1]),
            hash_algo: "sha256",
            signature: &[0xab; 23],
        }
    }

    fn show(field: Option<&str>, separator: u8, builtin: bool, signed: bool) -> (String, Vec<String>) {
        let format = Format { field: field.map(str::as_bytes), separator };
        let mut out = Vec::new();
        let mut params = [Param::default(); 8];
        let mut invalid = Vec::new();
        let filename: Option<&[u8]> = if builtin { None } else { Some(b"/lib/modules/x/e1000.ko") };
        if write_header(&format, b"e1000", filename, &mut |b| out.extend_from_slice(b)) {
            let sig = signature();
            write_fields(
                &format,
                Entries::new(SECTION, 0),
                signed.then_some(&sig),
                &mut params,
                &mut |p: InvalidParam<'_>| {
                    invalid.push(String::from_utf8_lossy(&[p.key, b"=", p.value].concat()).into_owned())
                },
                &mut |b| out.extend_from_slice(b),
            )
            .unwrap();
        }
        (String::from_utf8(out).unwrap(), invalid)
    }

    #[test]
    fn every_field_in_kmods_layout() {
        let (out, invalid) = show(None, b'\n', false, true);
        let expected = "\
filename:       /lib/modules/x/e1000.ko
license:        GPL
alias:          pci:v1*
a_very_long_key_name:     x
sig_id:         PKCS#7
signer:         Build time key
sig_key:        5E:E1
sig_hashalgo:   sha256
signature:      AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:
\t\tAB:AB:AB
parm:           no_type:Described
parm:           only_type:bool
parm:           debug:Debug level (again) (int)
";
        assert_eq!(out, expected);
        assert_eq!(invalid, ["parm=broken"]);
    }

    #[test]
    fn builtins_start_with_their_name() {
        let (out, _) = show(None, b'\n', true, false);
        assert!(out.starts_with("name:           e1000\nfilename:       (builtin)\nlicense:        GPL\n"), "{out}");
        assert_eq!(show(Some("name"), b'\n', true, false).0, "e1000\n");
        assert_eq!(show(Some("filename"), b'\n', true, false).0, "(builtin)\n");
        assert_eq!(show(Some("name"), b'\n', false, false).0, "", "a file's name comes from .modinfo only");
    }

    #[test]
    fn nul_separators_print_key_equals_value() {
        let (out, _) = show(None, 0, false, true);
        let lines: Vec<&str> = out.split('\0').collect();
        assert_eq!(
            lines[..4],
            ["filename:       /lib/modules/x/e1000.ko", "license=GPL", "alias=pci:v1*", "a_very_long_key_name=x"]
        );
        assert_eq!(lines[5], "signer=Build time key");
        assert_eq!(lines[9], "parm:           no_type:Described", "parameters keep their label");
        assert_eq!(lines.last(), Some(&""), "the last line ends in a NUL too");
    }

    #[test]
    fn one_field() {
        assert_eq!(show(Some("license"), b'\n', false, true).0, "GPL\n");
        assert_eq!(show(Some("alias"), 0, false, true).0, "pci:v1*\0");
        assert_eq!(show(Some("filename"), b'\n', false, true).0, "/lib/modules/x/e1000.ko\n");
        assert_eq!(show(Some("sig_key"), b'\n', false, true).0, "5E:E1\n");
        assert_eq!(show(Some("signer"), b'\n', false, false).0, "", "unsigned");
        assert_eq!(show(Some("nothing"), b'\n', false, true).0, "");
        let (parms, invalid) = show(Some("parm"), b'\n', false, false);
        assert_eq!(parms, "no_type:Described\nonly_type: (bool)\ndebug:Debug level (again) (int)\n");
        assert_eq!(invalid.len(), 1);
        assert_eq!(show(Some("parmtype"), b'\n', false, false).0, "debug:int\nonly_type:bool\n", "raw values");
    }

    #[test]
    fn hex_wraps_every_twenty_bytes() {
        let hex = |n: usize| {
            let mut out = Vec::new();
            write_hex(&mut (0..n).map(|i| i as u8), &mut |b| out.extend_from_slice(b));
            String::from_utf8(out).unwrap()
        };
        assert_eq!(hex(0), "");
        assert_eq!(hex(1), "00");
        assert!(hex(20).ends_with(":13") && !hex(20).contains('\n'));
        assert!(hex(21).ends_with(":13:\n\t\t14"));
        assert_eq!(hex(41).matches("\n\t\t").count(), 2);
        assert_eq!(hex(40).matches("\n\t\t").count(), 1);
    }

    #[test]
    fn a_full_parameter_table_is_an_error() {
        let format = Format { field: None, separator: b'\n' };
        let mut params = [Param::default(); 2];
        let mut out = Vec::new();
        let result = write_fields(&format, Entries::new(SECTION, 0), None, &mut params, &mut |_| {}, &mut |b| {
            out.extend_from_slice(b)
        });
        assert_eq!(result, Err(TooManyParams { capacity: 2 }));
        assert!(out.is_empty());
    }

    #[test]
    fn short_keys_pad_to_sixteen_columns() {
        let mut out = Vec::new();
        for key in [&b""[..], b"k", b"fifteen_chars__", b"sixteen_chars___"] {
            write_key(key, b"\n", &mut |b| out.extend_from_slice(b));
            out.extend_from_slice(b"v\n");
        }
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines, [":               v", "k:              v", "fifteen_chars__:v", "sixteen_chars___: v"]);
    }
}
