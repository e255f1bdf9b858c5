//! `insmod [-f] FILE [PARAM...]`: one module file into the kernel, decompressed as the boot does
//! it, with kmod's messages and exit codes (`-f`: the kernel is asked to ignore the module's
//! symbol versions and version magic, as kmod asks it).

use super::{Convention, err, refused};
use crate::insert::load::{Failure, load};
use crate::insert::probe::PARAMS_MAX;
use crate::io::file::read_into;
use crate::io::path::{PATH_MAX, c_path};
use core::ffi::CStr;
use modinit::decompress::Compression;
use modinit::kernel::errno::Strerror;
use modinit::kernel::module_error::InsmodReason;
use modinit::line::Bytes;
use modinit::toolbox::insmod_args::parse;
use rustix::io::Errno;

const USAGE: &str = "Usage:\n\tinsmod [options] filename [args]\nOptions:\n\t-f                force: ignore the module's symbol versions and version magic\n\t-h, --help        show this help";

pub fn main(argv: &[&[u8]]) -> i32 {
    let mut params = [0u8; PARAMS_MAX];
    // One byte stays free for the NUL.
    let parsed = parse(argv.get(1..).unwrap_or_default(), &mut params[..PARAMS_MAX - 1]);
    let args = match parsed {
        Ok(args) => args,
        Err(refusal) => return refused(argv, Convention::Kmod, &USAGE, refusal),
    };
    let file = Bytes(args.file);
    let mut path = [0u8; PATH_MAX];
    let Some(path) = c_path(&mut path, &[args.file]) else {
        err!("insmod: ERROR: could not load module {file}: {}", Strerror(Errno::NAMETOOLONG.raw_os_error()));
        return 1;
    };
    // `parse` left the byte after the parameters 0.
    let params = params.get(..=args.params_len).and_then(|p| CStr::from_bytes_with_nul(p).ok()).unwrap_or_default();
    // kmod tells the compression by the file's first bytes, not its name.
    let mut magic = [0u8; 8];
    let compression = match read_into(path, &mut magic) {
        Ok(magic) => Compression::detect(magic),
        Err(e) => {
            err!("insmod: ERROR: could not load module {file}: {}", Strerror(e.raw_os_error()));
            return 1;
        }
    };
    match load(path, compression, params, args.force) {
        Ok(()) => 0,
        Err(failure) => {
            match failure {
                Failure::File(e) => err!("insmod: ERROR: could not load module {file}: {}", Strerror(e.raw_os_error())),
                Failure::Kernel(e) => err!("insmod: ERROR: could not insert module {file}: {}", InsmodReason(e)),
                other => err!("insmod: ERROR: could not insert module {file}: {other}"),
            }
            1
        }
    }
}
