//! `dmesg [-l LEVELS] [-k] [-u] [-r] [-x] [-w]`: the kernel log from /dev/kmsg, printed as util-linux's
//! dmesg prints it, through the record parser the boot uses.

use super::{Convention, err, refused};
use modinit::kernel::errno::Strerror;
use modinit::kernel::kmsg::Record;
use modinit::line::Line;
use modinit::toolbox::dmesg::{TRY_HELP, parse};
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

pub fn main(argv: &[&[u8]]) -> i32 {
    let opts = match parse(argv.get(1..).unwrap_or_default()) {
        Ok(opts) => opts,
        Err(refusal) => return refused(argv, Convention::UtilLinux { try_help: TRY_HELP }, &USAGE, refusal),
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
