//! Waiting for the root device: every block device is checked against `root=`, each time the
//! kernel tells of a new device, while driver loading goes on for the devices that appear (a
//! USB disk shows up only after its host controller's and usb-storage's drivers). A device
//! is read once, and again only when it changed ([`RootSearch`]).
//!
//! `rootdelay=N` sleeps N seconds first (drivers still load meanwhile), as the kernel does.
//! The wait lasts `modinit.root_timeout_s` (30 s by default), or forever with `rootwait`.

use super::autoload::Autoload;
use super::block_devices::{self, BlockDevice, DevNodes};
use crate::io::clock::Instant;
use crate::io::log::say;
use core::ops::ControlFlow;
use modinit::line::Bytes;
use modinit::root::{FsIdentity, RootOptions, RootSearch, RootSpec, RootWait, Text};

/// Block devices are looked at again at least this often, uevent or not.
const RESCAN_MS: u64 = 1000;

/// The device `root=` names, with its filesystem when it was read to find it.
pub struct RootDevice {
    pub device: BlockDevice,
    pub fs: Option<FsIdentity>,
}

/// The root device did not appear in time.
pub struct NotFound {
    pub waited_s: u32,
}

/// Says so, with the block devices there are when it is shown.
impl core::fmt::Display for NotFound {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "not found after {} s (modinit.root_timeout_s=N or rootwait waits longer); ", self.waited_s)?;
        let seen = device_names();
        match seen.is_empty() {
            true => write!(f, "there are no block devices"),
            false => write!(f, "the block devices are {seen}"),
        }
    }
}

/// Waits for the device `spec` names (`root` holds the wait's options), loading drivers
/// for the devices that appear meanwhile.
pub fn wait_for(spec: &RootSpec<'_>, root: &RootOptions<'_>, drivers: &mut Autoload) -> Result<RootDevice, NotFound> {
    if root.delay_s > 0 {
        say!("waiting {} s before looking for the root device (rootdelay)", root.delay_s);
        let delay = Instant::now();
        let delay_ms = u64::from(root.delay_s) * 1000;
        while let Some(left) = delay_ms.checked_sub(delay.elapsed_ms()).filter(|&ms| ms > 0) {
            drivers.wait(left);
        }
    }
    let started = Instant::now();
    let mut announced = false;
    let mut search = RootSearch::default();
    loop {
        if let Some(found) = block_devices::class_block().and_then(|class| search.look(spec, &class, &mut DevNodes)) {
            return Ok(RootDevice { device: found.device.into(), fs: found.fs });
        }
        let left = match root.wait {
            RootWait::Forever => RESCAN_MS,
            RootWait::Seconds(s) => match (u64::from(s) * 1000).saturating_sub(started.elapsed_ms()) {
                0 => return Err(NotFound { waited_s: s }),
                ms => ms.min(RESCAN_MS),
            },
        };
        if !announced {
            say!("waiting for the root device {}", Bytes(root.root.unwrap_or_default()));
            announced = true;
        }
        drivers.wait(left);
    }
}

/// Whether the device `spec` names is there now (`search` remembers the devices read).
pub fn is_present(spec: &RootSpec<'_>, search: &mut RootSearch) -> bool {
    block_devices::class_block().and_then(|class| search.look(spec, &class, &mut DevNodes)).is_some()
}

/// The block devices there are, for the message saying the root is not among them.
fn device_names() -> Text<256> {
    let mut names = Text::new();
    block_devices::find(|device| {
        if !names.is_empty() {
            names.push(b' ');
        }
        names.push_bytes(device.name());
        ControlFlow::<()>::Continue(())
    });
    names
}
