//! `lsmod`: the loaded modules in kmod's table, from /proc/modules and /sys/module.

use super::{err, out};
use crate::insert::sysfs_module::{coresize, holder_names, holders, refcnt};
use core::fmt;
use modinit::kernel::errno::Strerror;
use modinit::kernel::proc_modules::{LSMOD_HEADER, loaded_modules, lsmod_row};
use modinit::line::Bytes;

/// /proc/modules of the largest trees loaded at once stays far below this (~100 bytes a module).
const PROC_MODULES_MAX: usize = 512 << 10;

pub fn main(argv: &[&[u8]]) -> i32 {
    let program = Bytes(argv.first().copied().unwrap_or(b"lsmod"));
    match argv.get(1) {
        None => {}
        Some(&(b"-h" | b"--help")) => {
            out!("Usage: {program}");
            return 0;
        }
        // kmod's lsmod takes no arguments at all.
        Some(_) => {
            err!("Usage: {program}");
            return 1;
        }
    }
    let mut buf = [0u8; PROC_MODULES_MAX];
    let text = match crate::io::file::read_into(c"/proc/modules", &mut buf) {
        Ok(text) => text,
        Err(e) => {
            err!("Error: could not get list of modules: {}", Strerror(e.raw_os_error()));
            return 1;
        }
    };
    out!("{LSMOD_HEADER}");
    for m in loaded_modules(text) {
        // As kmod: the size from sysfs, else /proc/modules'; a negative errno when unknown.
        let size = coresize(m.name).unwrap_or(i64::try_from(m.size).unwrap_or(i64::MAX));
        let refcnt = refcnt(m.name).unwrap_or_else(|e| -i64::from(e.raw_os_error()));
        let mut list = [0u8; 2048];
        let holders = holders(m.name, &mut list).unwrap_or_default();
        out!("{}", Row { name: m.name, size, refcnt, holders });
    }
    0
}

struct Row<'a> {
    name: &'a [u8],
    size: i64,
    refcnt: i64,
    holders: &'a [u8],
}

impl fmt::Display for Row<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        lsmod_row(f, self.name, self.size, self.refcnt, holder_names(self.holders))
    }
}
