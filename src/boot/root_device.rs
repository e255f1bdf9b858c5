//! Waiting for the root device: every block device is checked against `root=`, each time the
//! kernel tells of a new device, while driver loading goes on for the devices that appear (a
//! USB disk shows up only after its host controller's and usb-storage's drivers). A device
//! is read once, and again only when it changed.
//!
//! `rootdelay=N` sleeps N seconds first (drivers still load meanwhile), as the kernel does.
//! The wait lasts `modinit.root_timeout_s` (30 s by default), or forever with `rootwait`.

use super::autoload::Autoload;
use super::block_devices::{self, BlockDevice};
use crate::io::clock::Instant;
use crate::io::log::say;
use core::ops::ControlFlow;
use modinit::line::Bytes;
use modinit::root::{Candidate, DevNum, FsIdentity, PartitionTable, RootOptions, RootSpec, RootWait, Text, identify};

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
    let mut not_root = NotRoot { devices: [(DevNum { major: 0, minor: 0 }, (0, 0)); NOT_ROOT_MAX], len: 0 };
    loop {
        let found = block_devices::find(|device| {
            if not_root.contains(device) {
                return ControlFlow::Continue(());
            }
            match check(spec, device) {
                Some(Some(found)) => ControlFlow::Break(found),
                Some(None) => {
                    not_root.insert(device);
                    ControlFlow::Continue(())
                }
                None => ControlFlow::Continue(()),
            }
        });
        if let Some(found) = found {
            return Ok(found);
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

/// Devices that were read and are not the root, with the version they had then.
const NOT_ROOT_MAX: usize = 64;

struct NotRoot {
    devices: [(DevNum, (u64, u64)); NOT_ROOT_MAX],
    len: usize,
}

impl NotRoot {
    fn contains(&self, device: &BlockDevice) -> bool {
        self.devices.get(..self.len).unwrap_or_default().contains(&(device.number, device.version))
    }

    /// Remembers `device`; past NOT_ROOT_MAX devices, the others are read on each look.
    fn insert(&mut self, device: &BlockDevice) {
        if let Some(slot) = self.devices.get_mut(self.len) {
            *slot = (device.number, device.version);
            self.len += 1;
        }
    }
}

/// `device` as the root, if it is the one `spec` names: Some(None) when it was read and is
/// not, None when it cannot be read now (a CD drive without a disc, a node not made yet).
fn check(spec: &RootSpec<'_>, device: &BlockDevice) -> Option<Option<RootDevice>> {
    let fs = if spec.needs_filesystem() {
        let mut file = device.open()?.ok()?;
        identify(&mut file).ok()?
    } else {
        None
    };
    if spec.needs_filesystem() && fs.is_none() {
        return Some(None);
    }
    let entry = match device.partition.and_then(|number| spec.entry_to_check(number)) {
        Some(number) => {
            let disk = device.disk()?;
            let mut file = disk.open()?.ok()?;
            match PartitionTable::read(&mut file, disk.geometry()?).ok()? {
                Some(table) => table.partition(&mut file, number).ok()?,
                None => return Some(None),
            }
        }
        None => None,
    };
    let name = device.kernel_name();
    let candidate = Candidate {
        name: name.as_bytes(),
        dev: device.number,
        fs: fs.as_ref(),
        partition: device.partition,
        entry: entry.as_ref(),
    };
    if !spec.matches(&candidate) {
        return Some(None);
    }
    // Its sysfs entry comes before its node in /dev: the node's uevent brings it back.
    rustix::fs::stat(device.node().as_cstr()).ok()?;
    Some(Some(RootDevice { device: *device, fs }))
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
