//! `modinit blame [RECORD]`: the slowest inserts and the critical chain of a boot's driver
//! phase, from its record (`modinit::record`; by default the one the boot left in /run), as
//! `modinit::toolbox::blame_output` words them.

use super::stdout::Stdout;
use super::{err, out};
use crate::io::mapping::Mapping;
use crate::io::path::{PATH_MAX, c_path};
use core::fmt::Write;
use modinit::kernel::errno::Describe;
use modinit::line::{Bytes, Line};
use modinit::record::blame::Phase;

/// The most inserts a record may tell of (a whole tree's worth).
const INSERTS_MAX: usize = 8192;

const USAGE: &str = "Usage: modinit blame [RECORD]\n\
The slowest module inserts of the boot's driver phase and its critical chain, from RECORD\n\
(default /run/modinit/boot-record, which the boot writes).";

pub fn main(argv: &[&[u8]]) -> i32 {
    let path = match argv.get(1..).unwrap_or_default() {
        [] => modinit::record::PATH.to_bytes(),
        [b"-h" | b"--help"] => {
            out!("{USAGE}");
            return 0;
        }
        [path] if !path.starts_with(b"-") => path,
        _ => {
            err!("{USAGE}");
            return 1;
        }
    };
    let mut buf = [0u8; PATH_MAX];
    let mapped = c_path(&mut buf, &[path]).ok_or(rustix::io::Errno::NAMETOOLONG).and_then(Mapping::of_path);
    let text = match &mapped {
        Ok(mapping) => mapping.bytes(),
        Err(e) => {
            err!("modinit blame: cannot read {}: {}", Bytes(path), Describe(e.raw_os_error()));
            return 1;
        }
    };
    let phase = match Phase::<INSERTS_MAX>::read(text) {
        Ok(phase) => phase,
        Err(e) => {
            err!("modinit blame: {}: {e}", Bytes(path));
            return 1;
        }
    };
    let mut stdout = Stdout::new();
    modinit::toolbox::blame_output::report(&phase, &mut |args| {
        let mut line = Line::<1024>::new();
        let _ = line.write_fmt(args);
        stdout.write(line.finish());
    });
    stdout.flush();
    0
}
