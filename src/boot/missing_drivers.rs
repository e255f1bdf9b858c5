//! Naming the drivers the image lacks: once the driver phase is over, each device with a
//! modalias that no driver took and that a module of the tree would drive, where the image
//! does not have that module, gets one line (up to `SHOWN_MAX`, then a count); the other
//! devices without a driver are counted in one line. When the root device never appears, the
//! same for the storage controllers and disks alone. The tree's modules come from the image's
//! `modinit.absent` ([`modinit::absent`]), an index mapped and checked only when a device has
//! no driver, and looked up in place.

use crate::io::log::{say, warning};
use crate::io::modules_dir::{ModulesDir, OpenError, map_whole_file};
use crate::io::path::PATH_MAX;
use crate::io::sysfs_dir::SysfsDir;
use modinit::absent::FILE_NAME;
use modinit::absent::storage::is_storage;
use modinit::absent::table::AbsentTable;
use modinit::absent::unbound::{ModuleNames, Tally, Verdict};
use modinit::absent::unbound_devices::{UnboundDevices, is_unbound};
use modinit::line::Bytes;
use modinit::resolve::{Key, LookupError, Resolver, Target};
use modinit::sysfs::coldplug::scan_devices;
use rustix::io::Errno;

/// Which devices without a driver to speak of.
#[derive(Clone, Copy)]
pub enum Scope<'u> {
    /// Every one: lines for those whose driver is absent, a count of all. The driver phase's
    /// last walk found them, unless its record is not current (then /sys is walked again).
    All(&'u UnboundDevices),
    /// Storage controllers and disks ([`is_storage`]) whose driver is absent, for a root
    /// device that never appeared: lines only, from a walk of /sys now.
    Storage,
}

/// Says which devices of `scope` have no driver, and why, from the image's index and its
/// table of the tree's other modules in `dir`.
pub fn report(resolver: &Resolver<'_>, dir: &ModulesDir, scope: Scope<'_>) {
    let mut judge = Judge { resolver, dir, table: None, tally: Tally::default() };
    let recorded = match scope {
        Scope::All(last_walk) => last_walk.devices(),
        Scope::Storage => None,
    };
    match recorded {
        Some(devices) => devices.for_each(|(name, modalias)| judge.device(name, modalias)),
        None => {
            let Ok(sys) = SysfsDir::root() else { return };
            let storage_only = matches!(scope, Scope::Storage);
            // An unreadable /sys was said when coldplug walked it.
            let _ = scan_devices(&sys, |device| {
                if is_unbound(device) && (!storage_only || is_storage(device.modalias)) {
                    judge.device(device.name, device.modalias);
                }
            });
        }
    }
    let Judge { tally, table, .. } = judge;
    if tally.unshown() > 0 {
        warning!("... and {} more devices whose driver is not in this image", tally.unshown());
    }
    if matches!(scope, Scope::All(_)) && tally.total() > 0 {
        let tree = if table.is_some_and(|t| t.is_some()) { "the tree" } else { "this image" };
        say!(
            "devices without a driver: {} whose module is not in this image, {} whose module in it did not take them, {} no module of {tree} matches",
            tally.absent,
            tally.not_taken,
            tally.unknown
        );
    }
}

/// The verdicts on devices without a driver, with the table opened at the first.
struct Judge<'j, 'r> {
    resolver: &'j Resolver<'r>,
    dir: &'j ModulesDir,
    /// None before the first device; then the table, or None without a usable one.
    table: Option<Option<AbsentTable<'static>>>,
    tally: Tally,
}

impl Judge<'_, '_> {
    /// Counts the device `name` with `modalias`, and names it with the modules it lacks when
    /// it is among the first of those ([`Tally::count`]).
    fn device(&mut self, name: &[u8], modalias: &[u8]) {
        let Ok(key) = Key::new(modalias) else { return };
        let (resolver, dir) = (self.resolver, self.dir);
        let mut names = ModuleNames::default();
        if let Some(table) = self.table.get_or_insert_with(|| open_table(dir, resolver)) {
            table.for_each_match(&key, |name| names.add(name));
        }
        let verdict = match (names.is_empty(), in_image(resolver, &key)) {
            (false, _) => Verdict::Absent,
            (true, true) => Verdict::NotTaken,
            (true, false) => Verdict::Unknown,
        };
        if self.tally.count(verdict) {
            warning!("no driver for {} ({}): {names} not in this image", Bytes(name), Bytes(modalias));
        }
    }
}

/// Whether a module of the image (loadable or builtin, or one modprobe.d's aliases name)
/// matches `key`.
fn in_image(resolver: &Resolver<'_>, key: &Key) -> bool {
    let mut found = [None; 16];
    match resolver.lookup(key, &mut found) {
        Ok((_, n)) => found[..n].iter().flatten().any(|f| matches!(f.target, Target::Module(_))),
        Err(LookupError::TooMany { .. }) => true,
        Err(LookupError::InvalidKey) => false,
    }
}

/// The table in `dir`, mapped for good and checked; None without one (an image made before
/// images had it: nothing to say), or with one line saying why it is not used.
fn open_table(dir: &ModulesDir, resolver: &Resolver<'_>) -> Option<AbsentTable<'static>> {
    let mut buf = [0u8; PATH_MAX];
    let path = dir.join(FILE_NAME.as_bytes(), &mut buf)?;
    let ignored = |e: &dyn core::fmt::Display| {
        warning!(
            "ignoring {}: {e}; devices without a driver are not matched with the tree's modules",
            Bytes(path.to_bytes())
        );
    };
    let table = match map_whole_file(path) {
        Ok(file) => AbsentTable::open(file).map_err(|e| ignored(&e)).ok()?,
        Err(OpenError::Open(Errno::NOENT)) => return None,
        Err(e) => {
            ignored(&e);
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
