//! The loaded modules as /proc/modules lists them (`name size refcnt deps state addr
//! [taints]`, kernel/module/procfs.c), and lsmod's table of them in kmod's format
//! (tools/lsmod.c): the header, then `%-19s %8ld  %d` and the holders, comma-separated.

use crate::decimal::decimal;
use core::fmt;

/// One line of /proc/modules: the fields lsmod uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadedModule<'a> {
    pub name: &'a [u8],
    /// The module's memory in bytes (init and core parts).
    pub size: u64,
}

/// The modules of /proc/modules `text`, in its order (the most recently loaded first).
/// Lines that do not have a name and a size are skipped.
pub fn loaded_modules(text: &[u8]) -> impl Iterator<Item = LoadedModule<'_>> {
    text.split(|&b| b == b'\n').filter_map(|line| {
        let mut fields = line.split(|&b| b == b' ').filter(|f| !f.is_empty());
        let name = fields.next()?;
        let size = decimal(fields.next()?)?;
        Some(LoadedModule { name, size })
    })
}

/// lsmod's first line.
pub const LSMOD_HEADER: &str = "Module                  Size  Used by";

/// One row of lsmod: `size` and `refcnt` as kmod gets them (negative errno when unknown),
/// then the holders' names.
pub fn lsmod_row<'h>(
    out: &mut impl fmt::Write,
    name: &[u8],
    size: i64,
    refcnt: i64,
    holders: impl IntoIterator<Item = &'h [u8]>,
) -> fmt::Result {
    write_bytes(out, name)?;
    // printf's %-19s pads by bytes.
    write!(out, "{:pad$} {size:8}  {refcnt}", "", pad = 19usize.saturating_sub(name.len()))?;
    for (i, holder) in holders.into_iter().enumerate() {
        out.write_char(if i == 0 { ' ' } else { ',' })?;
        write_bytes(out, holder)?;
    }
    Ok(())
}

/// Module names are ASCII; anything else is shown escaped rather than dropped.
fn write_bytes(out: &mut impl fmt::Write, bytes: &[u8]) -> fmt::Result {
    write!(out, "{}", crate::line::Bytes(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::String;
    use std::vec::Vec;

    /// From a Debian 6.1 guest (addresses as root sees them).
    const PROC_MODULES: &str = "\
vfat 24576 0 - Live 0xffffffffc0a1d000
fat 90112 1 vfat, Live 0xffffffffc09f9000
e1000 163840 0 - Live 0xffffffffc0190000 (E)
virtio_net 65536 0 - Loading 0xffffffffc0176000
broken
nosize x 0 - Live 0x0
";

    #[test]
    fn reads_names_and_sizes_in_order() {
        let m: Vec<(String, u64)> =
            loaded_modules(PROC_MODULES.as_bytes()).map(|m| (String::from_utf8_lossy(m.name).into(), m.size)).collect();
        let expected = [("vfat", 24576), ("fat", 90112), ("e1000", 163840), ("virtio_net", 65536)];
        assert_eq!(m, expected.map(|(n, s)| (n.to_string(), s)));
    }

    fn row(name: &str, size: i64, refcnt: i64, holders: &[&str]) -> String {
        let mut s = String::new();
        lsmod_row(&mut s, name.as_bytes(), size, refcnt, holders.iter().map(|h| h.as_bytes())).unwrap();
        s
    }

    /// kmod's printf format; the QEMU toolbox test compares whole tables with kmod's lsmod.
    #[test]
    fn rows_are_kmods() {
        assert_eq!(LSMOD_HEADER, format!("{:<19} {:>8}  {}", "Module", "Size", "Used by"));
        assert_eq!(row("fat", 90112, 1, &["vfat"]), "fat                    90112  1 vfat");
        assert_eq!(row("vfat", 24576, 0, &[]), "vfat                   24576  0");
        assert_eq!(
            row("snd_pcm", 155648, 3, &["snd_hda_intel", "snd_hda_codec"]),
            "snd_pcm               155648  3 snd_hda_intel,snd_hda_codec"
        );
        assert_eq!(row("a_name_longer_than_nineteen", 1, -2, &[]), "a_name_longer_than_nineteen        1  -2");
    }
}
