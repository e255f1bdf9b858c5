//! Coldplug: the `modalias` of every device the kernel found before /init started, as the
//! library's walk of /sys/devices finds them ([`modinit::sysfs::coldplug`]).

use crate::io::log::error;
use crate::io::sysfs_dir::SysfsDir;
use modinit::kernel::errno::Describe;

/// Reads every `modalias` file under /sys/devices and hands each non-empty one to `found`.
/// Directories it cannot open are skipped; symlinks are never followed.
pub fn scan(found: impl FnMut(&[u8])) {
    let sys = SysfsDir::root().map_err(|e| e.raw_os_error());
    if let Err(errno) = sys.and_then(|sys| modinit::sysfs::coldplug::scan(&sys, found)) {
        error!("cannot read /sys/devices: {}; no devices found", Describe(errno));
    }
}
