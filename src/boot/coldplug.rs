//! Coldplug: the `modalias` of every device the kernel found before /init started, as the
//! library's walk of /sys/devices finds them ([`modinit::sysfs::coldplug`]), and the devices
//! among them that have no driver (for the report at the phase's end, `super::missing_drivers`).

use crate::io::log::error;
use crate::io::sysfs_dir::SysfsDir;
use modinit::absent::unbound_devices::UnboundDevices;
use modinit::kernel::errno::Describe;

/// Reads every `modalias` file under /sys/devices and hands each non-empty one to `found`;
/// `unbound` becomes the record of this walk's devices without a driver. Directories it cannot
/// open are skipped; symlinks are never followed.
pub fn scan(unbound: &mut UnboundDevices, mut found: impl FnMut(&[u8])) {
    unbound.clear();
    let sys = SysfsDir::root().map_err(|e| e.raw_os_error());
    let walked = sys.and_then(|sys| {
        modinit::sysfs::coldplug::scan_devices(&sys, |device| {
            found(device.modalias);
            unbound.add(device);
        })
    });
    if let Err(errno) = walked {
        unbound.outdate();
        error!("cannot read /sys/devices: {}; no devices found", Describe(errno));
    }
}
