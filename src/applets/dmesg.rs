//! `dmesg [-l LEVELS] [-k] [-u] [-r] [-x] [-w]`: the kernel log from /dev/kmsg, printed as util-linux's
//! dmesg prints it, through the record parser the boot uses.

use super::{err, out};
use modinit::dmesg::{DmesgArgError, parse};
use modinit::errno::Strerror;
use modinit::kmsg::Record;
use modinit::line::{Bytes, Line};
use rustix::fs::{Mode, OFlags, SeekFrom, open, seek};
use rustix::io::{Errno, read, write};

/// The kernel hands out a record with its dictionary in at most this many bytes.
const RECORD_MAX: usize = 8192;
const USAGE: &str = "Usage:\n dmesg [options]\n\nDisplay the kernel ring buffer.\n\nOptions:\n\
 -k, --kernel                display kernel messages\n\
 -l, --level <list>          restrict output to defined levels\n\
 -r, --raw                   print the raw message buffer\n\
 -u, --userspace             display userspace messages\n\
 -w, --follow                wait for new messages\n\
 -x, --decode                decode facility and level to readable string\n\
 -h, --help                  display this help";
const TRY_HELP: &str = "Try 'dmesg --help' for more information.";

pub fn main(argv: &[&[u8]]) -> i32 {
    let opts = match parse(argv.get(1..).unwrap_or_default()) {
        Ok(opts) => opts,
        Err(DmesgArgError::Help) => {
            out!("{USAGE}");
            return 0;
        }
        Err(e) => {
            match e {
                // getopt names the program as it was called.
                DmesgArgError::Getopt(e) => {
                    err!("{}: {e}\n{TRY_HELP}", Bytes(argv.first().copied().unwrap_or_default()))
                }
                DmesgArgError::Unsupported(c) => err!("dmesg: -{} is not supported by modinit's dmesg", char::from(c)),
                DmesgArgError::UnknownLevel(l) => err!("dmesg: unknown level '{}'", Bytes(l)),
                DmesgArgError::RawAndDecode => err!("dmesg: mutually exclusive arguments: --raw --decode"),
                DmesgArgError::BadUsage => err!("dmesg: bad usage\n{TRY_HELP}"),
                DmesgArgError::EmptyLevel | DmesgArgError::Help => {}
            }
            return 1;
        }
    };
    let flags = OFlags::RDONLY | OFlags::CLOEXEC | if opts.follow { OFlags::empty() } else { OFlags::NONBLOCK };
    let kmsg = match open(c"/dev/kmsg", flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(e) => {
            err!("dmesg: read kernel buffer failed: {}", Strerror(e.raw_os_error()));
            return 1;
        }
    };
    // From the first record after the last `dmesg --clear`, as util-linux reads.
    let _ = seek(&kmsg, SeekFrom::Data(0));
    let mut buf = [0u8; RECORD_MAX];
    loop {
        let n = match read(&kmsg, &mut buf) {
            Ok(0) => return 0,
            Ok(n) => n,
            // Overwritten while we read: the next read gets the oldest record left.
            Err(Errno::PIPE | Errno::INTR) => continue,
            // The end (EAGAIN), or nothing util-linux reports either.
            Err(_) => return 0,
        };
        let Ok(record) = Record::parse(&buf[..n]) else { continue };
        if !opts.accepts(&record) {
            continue;
        }
        let mut line = Line::<{ 4 * RECORD_MAX }>::new();
        let _ = opts.format(&record, &mut line);
        // SAFETY: fd 1 is the applet's stdout (or closed: EBADF).
        match write(unsafe { rustix::stdio::stdout() }, line.finish()) {
            Ok(_) => {}
            // The reader went away (`dmesg | head`): done, as util-linux.
            Err(Errno::PIPE) => return 0,
            Err(e) => {
                err!("dmesg: write failed: {}", Strerror(e.raw_os_error()));
                return 1;
            }
        }
    }
}
