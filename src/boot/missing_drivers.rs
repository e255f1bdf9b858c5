//! Naming the drivers the image lacks: once the driver phase is over, each device with a
//! modalias that no driver took and that a module of the tree would drive, where the image
//! does not have that module, gets one line (up to `SHOWN_MAX`, then a count); the other
//! devices without a driver are counted in one line. When the root device never appears, the
//! same for the storage controllers and disks alone. The tree's modules come from the image's
//! `modinit.absent` ([`modinit::absent`]), decoded only when a device has no driver.

use crate::insert::module_image::{ImageError, ModuleImage};
use crate::io::log::{say, warning};
use crate::io::modules_dir::ModulesDir;
use crate::io::path::PATH_MAX;
use crate::io::sysfs_dir::SysfsDir;
use core::cell::OnceCell;
use modinit::absent::storage::is_storage;
use modinit::absent::table::AbsentTable;
use modinit::absent::unbound::{ModuleNames, Tally, Verdict};
use modinit::absent::{FILE_NAME, is_device_alias};
use modinit::line::Bytes;
use modinit::resolve::{Key, LookupError, Resolver, Target};
use modinit::sysfs::coldplug::{Device, scan_devices};
use rustix::io::Errno;

/// Which devices without a driver to speak of.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every one: lines for those whose driver is absent, a count of all.
    All,
    /// Storage controllers and disks ([`is_storage`]) whose driver is absent, for a root
    /// device that never appeared: lines only.
    Storage,
}

/// Says which devices of `scope` have no driver, and why, from the image's index and its
/// table of the tree's other modules in `dir`.
pub fn report(resolver: &Resolver<'_>, dir: &ModulesDir, scope: Scope) {
    let Ok(sys) = SysfsDir::root() else { return };
    let file = OnceCell::new();
    let table = OnceCell::new();
    let mut tally = Tally::default();
    let mut batch = Batch::new();
    let mut judge = |batch: &mut Batch| {
        let table = table.get_or_init(|| open_table(dir, resolver, &file));
        batch.judge(table.as_ref(), resolver, &mut tally);
    };
    // An unreadable /sys was said when coldplug walked it.
    let _ = scan_devices(&sys, |device| {
        if wanted(device, scope) && !batch.add(device) {
            judge(&mut batch);
            batch.add(device);
        }
    });
    if !batch.is_empty() {
        judge(&mut batch);
    }
    if tally.unshown() > 0 {
        warning!("... and {} more devices whose driver is not in this image", tally.unshown());
    }
    if scope == Scope::All && tally.total() > 0 {
        let tree = if table.get().is_some_and(Option::is_some) { "the tree" } else { "this image" };
        say!(
            "devices without a driver: {} whose module is not in this image, {} whose module in it did not take them, {} no module of {tree} matches",
            tally.absent,
            tally.not_taken,
            tally.unknown
        );
    }
}

/// Devices judged together, in one pass over the table: at most this many.
const BATCH: usize = 64;
/// Room for their names, modaliases and keys (a modalias is at most a page, a PCI one ~55 bytes).
const BATCH_BYTES: usize = 64 << 10;

/// Devices without a driver waiting to be judged: each one's name, modalias and lookup key.
struct Batch {
    bytes: [u8; BATCH_BYTES],
    used: usize,
    /// Where each device's name, modalias and key end in `bytes` (each starts where the one
    /// before ends).
    ends: [[usize; 3]; BATCH],
    len: usize,
}

impl Batch {
    fn new() -> Batch {
        Batch { bytes: [0; BATCH_BYTES], used: 0, ends: [[0; 3]; BATCH], len: 0 }
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds `device`; false when the batch is full (a device whose modalias is no valid key is
    /// left out, and counts as added).
    fn add(&mut self, device: &Device<'_>) -> bool {
        let Ok(key) = Key::new(device.modalias) else { return true };
        let parts = [device.name, device.modalias, key.as_bytes()];
        let size: usize = parts.iter().map(|p| p.len()).sum();
        if self.len == BATCH || self.used + size > BATCH_BYTES {
            return false;
        }
        for (i, part) in parts.into_iter().enumerate() {
            self.bytes[self.used..self.used + part.len()].copy_from_slice(part);
            self.used += part.len();
            self.ends[self.len][i] = self.used;
        }
        self.len += 1;
        true
    }

    /// Device `i`'s name, modalias and key.
    fn device(&self, i: usize) -> [&[u8]; 3] {
        let mut start = if i == 0 { 0 } else { self.ends[i - 1][2] };
        self.ends[i].map(|end| {
            let part = &self.bytes[start..end];
            start = end;
            part
        })
    }

    /// Judges every device of the batch (a line for each whose driver is absent, up to the
    /// tally's bound), then empties it.
    fn judge(&mut self, table: Option<&AbsentTable<'_>>, resolver: &Resolver<'_>, tally: &mut Tally) {
        let mut names = [ModuleNames::default(); BATCH];
        if let Some(table) = table {
            let keys: [&[u8]; BATCH] = core::array::from_fn(|i| if i < self.len { self.device(i)[2] } else { b"" });
            table.for_each_match_of(&keys[..self.len], |i, name| names[i].add(name));
        }
        for (i, names) in names[..self.len].iter().enumerate() {
            let [name, modalias, key] = self.device(i);
            let verdict = match (names.is_empty(), in_image(resolver, key)) {
                (false, _) => Verdict::Absent,
                (true, true) => Verdict::NotTaken,
                (true, false) => Verdict::Unknown,
            };
            if tally.count(verdict) {
                warning!("no driver for {} ({}): {names} not in this image", Bytes(name), Bytes(modalias));
            }
        }
        (self.used, self.len) = (0, 0);
    }
}

/// Whether `device` is one to speak of: no driver took it, it is not an ACPI node of a device
/// elsewhere, and its bus binds drivers ([`is_device_alias`]).
fn wanted(device: &Device<'_>, scope: Scope) -> bool {
    !device.bound
        && !device.describes_another
        && is_device_alias(device.modalias)
        && (scope == Scope::All || is_storage(device.modalias))
}

/// Whether a module of the image (loadable or builtin, or one modprobe.d's aliases name)
/// matches `key`, a normalized modalias.
fn in_image(resolver: &Resolver<'_>, key: &[u8]) -> bool {
    let mut found = [None; 16];
    let Ok(key) = Key::new(key) else { return false };
    match resolver.lookup(&key, &mut found) {
        Ok((_, n)) => found[..n].iter().flatten().any(|f| matches!(f.target, Target::Module(_))),
        Err(LookupError::TooMany { .. }) => true,
        Err(LookupError::InvalidKey) => false,
    }
}

/// The table in `dir`, decoded into `file`, checked; None without one (an image made before
/// images had it: nothing to say), or with one line saying why it is not used.
fn open_table<'f>(
    dir: &ModulesDir,
    resolver: &Resolver<'_>,
    file: &'f OnceCell<Option<ModuleImage>>,
) -> Option<AbsentTable<'f>> {
    let mut buf = [0u8; PATH_MAX];
    let path = dir.join(FILE_NAME.as_bytes(), &mut buf)?;
    // Mapped, and decoded when compressed, as a module file is.
    let decoded = file.get_or_init(|| match ModuleImage::read(path) {
        Ok(image) => Some(image),
        Err(ImageError::File(Errno::NOENT)) => None,
        Err(e) => {
            warning!(
                "ignoring {}: {e}; devices without a driver are not matched with the tree's modules",
                Bytes(path.to_bytes())
            );
            None
        }
    });
    let table = match AbsentTable::open(decoded.as_ref()?.bytes()) {
        Ok(table) => table,
        Err(e) => {
            warning!(
                "ignoring {}: {e}; devices without a driver are not matched with the tree's modules",
                Bytes(path.to_bytes())
            );
            return None;
        }
    };
    if table.release() != resolver.index.kernel_release() {
        warning!(
            "ignoring {}: made for kernel {}, the index for {}",
            Bytes(path.to_bytes()),
            Bytes(table.release()),
            Bytes(resolver.index.kernel_release())
        );
        return None;
    }
    Some(table)
}
