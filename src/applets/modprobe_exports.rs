//! `modprobe --show-exports FILE`: the symbols the module file exports, each with its CRC, as
//! kmod's `show_exports` prints them (`0x%08x<TAB>NAME`, from `kmod_module_get_symbols`), or
//! kmod's message when the file cannot be read. `.ko.gz`, `.ko.zst` and `.ko.xz` files are
//! read decompressed, as kmod reads them.

use super::stdout::Stdout;
use crate::insert::module_image::ModuleImage;
use crate::io::path::{PATH_MAX, c_path};
use core::fmt::{Display, Write};
use modinit::kernel::errno::Strerror;
use modinit::line::{Bytes, Line};
use modinit::module_file::elf::Elf;
use modinit::module_file::symbols::exports_with_crcs;
use rustix::fs::FileType;
use rustix::io::Errno;

/// Prints the exports of `file`; the exit code. `log` is kmod modprobe's LOG() for the
/// messages.
pub fn run(file: &[u8], log: impl Fn(core::fmt::Arguments<'_>)) -> i32 {
    let shown = Bytes(file);
    let failed = |why: &dyn Display| {
        log(format_args!("could not get symbols of {shown}: {why}"));
        1
    };
    let mut path = [0u8; PATH_MAX];
    let stat = c_path(&mut path, &[file]).and_then(|p| Some((p, rustix::fs::stat(p).ok()?)));
    let Some((path, stat)) = stat else {
        log(format_args!("Module {shown} not found."));
        return 1;
    };
    // kmod reads the file's first bytes: a directory fails there.
    if FileType::from_raw_mode(stat.st_mode) == FileType::Directory {
        return failed(&Strerror(Errno::ISDIR.raw_os_error()));
    }
    let image = match ModuleImage::read(path) {
        // kmod maps the file: an empty one fails there.
        Ok(image) if image.file().is_empty() => return failed(&Strerror(Errno::INVAL.raw_os_error())),
        Ok(image) => image,
        Err(e) => return failed(&e),
    };
    let exports = match Elf::parse(image.bytes()) {
        Ok(elf) => exports_with_crcs(&elf).map_err(|_| Errno::NOENT.raw_os_error()),
        Err(e) => Err(e.errno()),
    };
    let exports = match exports {
        Ok(exports) => exports,
        Err(errno) => return failed(&Strerror(errno)),
    };
    let mut out = Stdout::new();
    for export in exports {
        let mut line = Line::<{ super::LINE_MAX }>::new();
        let _ = write!(line, "0x{:08x}\t{}", export.crc, Bytes(export.name));
        out.write(line.finish());
    }
    out.flush();
    0
}
