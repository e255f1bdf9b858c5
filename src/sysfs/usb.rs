//! USB hubs still enumerating the devices on their ports, as sysfs shows them under
//! `bus/usb/devices/`: what the driver phase's end waits for (`crate::loading::enumeration`).
//!
//! The hub driver (in usbcore) binds to a hub's interface at once, but finds the devices on its
//! ports later, in work of its own (drivers/usb/core/hub.c): it powers the ports, waits for each
//! connection to be stable for 100 ms (debounce, polling every 25 ms), resets the port, reads
//! the device's descriptors and only then adds the device, whose interfaces are what drivers
//! bind to. Until then no uevent says a device is coming. Two attributes say that work is under
//! way:
//!
//! - The hub interface's `power/runtime_usage` (present with `CONFIG_PM_ADVANCED_DEBUG`, which
//!   Debian's 6.1 and 6.12 kernels have): the hub driver holds a runtime-PM reference on its
//!   interface from the moment it activates the hub (`hub_activate`) or a port change kicks it
//!   (`kick_hub_wq`) until that work is done (`hub_event`), the debounce and the whole
//!   enumeration of a new device included. It is 0 on an idle hub: the hub driver supports
//!   autosuspend, so nothing else holds one. (Seen in QEMU guests: 1 from the hub's binding,
//!   2 or 3 while a device is enumerated, 0 from the moment its interfaces are added.)
//! - Each port's `state` (`<hub interface>/<hub>-port<N>/state`, Linux 6.5 and later): the
//!   state of the device the hub driver is enumerating on it, from the moment it allocates one
//!   after the debounce: `powered`, `default`, `addressed` (and `attached`, `reconnecting`,
//!   `unauthenticated`) while under way; `configured` once its interfaces are added, `not
//!   attached` for an empty port, `suspended`.
//!
//! The first is read where it exists: it covers the debounce, when no port state says anything
//! yet, and costs two reads per hub interface (its class and the count; an idle xHCI pair is a
//! listing and four reads); the port states only without it. A kernel with neither (6.1 to 6.4 without
//! PM_ADVANCED_DEBUG) shows no enumeration at all: the phase then ends as before, on its quiet
//! period alone.

use super::Dir;
use core::ops::ControlFlow;

/// Where the USB devices and interfaces are listed (links into `devices/`).
const USB_DEVICES: &[u8] = b"bus/usb/devices";
/// A hub interface's class (`bInterfaceClass`, hexadecimal): USB_CLASS_HUB.
const HUB_CLASS: &[u8] = b"09";
/// Room for a path below `bus/usb/devices/`: a hub interface's name is at most a few dozen
/// bytes (`1-1.2.3.4.5:1.0`), its ports' names as long again.
const PATH_MAX: usize = 256;

/// What a look at the USB hubs found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Hubs {
    /// Hub interfaces found.
    pub hubs: usize,
    /// Hub interfaces busy with their ports, and ports with a device being enumerated.
    pub busy: usize,
    /// The first busy one, for the console: a hub interface (`1-0:1.0 (hub at work)`) or a
    /// port with its state (`usb1-port1 (default)`); cut to its room.
    pub first: heapless::Vec<u8, 64>,
}

impl Hubs {
    /// Whether a hub is still enumerating a device.
    pub fn enumerating(&self) -> bool {
        self.busy > 0
    }

    fn found_busy(&mut self, parts: &[&[u8]]) {
        if self.busy == 0 {
            for &b in parts.iter().flat_map(|p| p.iter()) {
                if self.first.push(b).is_err() {
                    break;
                }
            }
        }
        self.busy += 1;
    }
}

/// Looks at every USB hub interface under `sys`: whether its hub driver is at work, and what
/// state the devices on its ports are in. Nothing found (no USB, an unreadable tree) is no hub.
pub fn hubs<D: Dir>(sys: &D) -> Hubs {
    let mut found = Hubs::default();
    let Ok(devices) = sys.open_dir(USB_DEVICES) else { return found };
    let _ = devices.entries(|entry| {
        // Interfaces are named CONFIG.INTERFACE after a colon (`1-0:1.0`); devices have none.
        if entry.name.contains(&b':') {
            look_at_interface(&devices, entry.name, &mut found);
        }
        ControlFlow::<()>::Continue(())
    });
    found
}

/// Counts the interface `name` of `devices` if it is a hub's, and what is busy there.
fn look_at_interface<D: Dir>(devices: &D, name: &[u8], found: &mut Hubs) {
    let mut path = [0u8; PATH_MAX];
    let mut text = [0u8; 64];
    let Some(class) = read_line(devices, &mut path, &[name, b"/bInterfaceClass"], &mut text) else { return };
    if class != HUB_CLASS {
        return;
    }
    found.hubs += 1;
    // The reference says it all where the kernel shows it: enumeration happens inside the hub
    // driver's work. Port states are read only without it (a state that changes outside that
    // work, a device reset by its driver, is no new device).
    match read_line(devices, &mut path, &[name, b"/power/runtime_usage"], &mut text) {
        Some(b"0") => return,
        Some(_) => return found.found_busy(&[name, b" (hub at work)"]),
        None => {}
    }
    // `/.`: the listed name is a symlink, which open_dir does not follow as the last component.
    let Some(dir) = join(&mut path, &[name, b"/."]).and_then(|p| devices.open_dir(p).ok()) else { return };
    let _ = dir.entries(|port| {
        if contains(port.name, b"-port") {
            let mut state = [0u8; 64];
            let mut path = [0u8; PATH_MAX];
            if let Some(state) = read_line(&dir, &mut path, &[port.name, b"/state"], &mut state)
                && enumerating(state)
            {
                found.found_busy(&[port.name, b" (", state, b")"]);
            }
        }
        ControlFlow::<()>::Continue(())
    });
}

/// Whether a port's `state` names a device being enumerated: any but the states of an empty
/// port, a device done (`configured`) or asleep (`suspended`).
pub fn enumerating(state: &[u8]) -> bool {
    !matches!(state, b"not attached" | b"configured" | b"suspended" | b"")
}

/// The first line of the file `parts` (joined) of `dir`, without its newline; None when it
/// cannot be read.
fn read_line<'t, D: Dir>(dir: &D, path: &mut [u8], parts: &[&[u8]], text: &'t mut [u8]) -> Option<&'t [u8]> {
    let path = join(path, parts)?;
    let text = dir.read_file(path, text).ok()?;
    text.split(|&b| b == b'\n').next()
}

/// `parts` one after the other in `buf`; None when they do not fit.
fn join<'b>(buf: &'b mut [u8], parts: &[&[u8]]) -> Option<&'b [u8]> {
    let mut len = 0;
    for part in parts {
        buf.get_mut(len..len + part.len())?.copy_from_slice(part);
        len += part.len();
    }
    Some(&buf[..len])
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sysfs::host::fixture_tree;

    fn looked_at(tree: &str) -> (usize, usize, String) {
        let hubs = hubs(&fixture_tree(tree));
        (hubs.hubs, hubs.busy, String::from_utf8_lossy(&hubs.first).into_owned())
    }

    #[test]
    fn idle_hubs_of_either_kernel_are_not_enumerating() {
        // tests/fixtures/trees/README.md: a 6.12 xHCI pair with a configured keyboard (whose
        // interface holds a reference: not a hub's, not looked at) and a port in `default`
        // while its hub holds none (a reset, not an enumeration), and a 6.1 UHCI root hub.
        assert_eq!(looked_at("sys-usb/idle"), (3, 0, String::new()));
        assert!(!hubs(&fixture_tree("sys-usb/idle")).enumerating());
    }

    #[test]
    fn a_hub_holding_a_reference_is_at_work_without_port_states() {
        // 6.1, enumerating a connection: only the hub interface's runtime_usage says so.
        assert_eq!(looked_at("sys-usb/hub-at-work"), (2, 1, "1-0:1.0 (hub at work)".to_string()));
    }

    #[test]
    fn a_port_whose_device_is_under_way_is_enumerating_without_runtime_usage() {
        // 6.12 without PM_ADVANCED_DEBUG, reading a device's descriptors.
        assert_eq!(looked_at("sys-usb/port-addressed"), (2, 1, "usb1-port2 (addressed)".to_string()));
    }

    #[test]
    fn no_usb_is_no_hub() {
        assert_eq!(looked_at("sys-block"), (0, 0, String::new()));
    }

    #[test]
    fn the_first_busy_name_is_cut_to_its_room() {
        let mut hubs = Hubs::default();
        hubs.found_busy(&[&[b'x'; 60], b" (hub at work)"]);
        hubs.found_busy(&[b"second"]);
        assert_eq!((hubs.busy, hubs.first.len()), (2, 64));
        assert!(hubs.first.ends_with(b"x (hu"));
    }

    #[test]
    fn only_the_states_of_a_device_under_way_are_enumerating() {
        for state in ["attached", "powered", "reconnecting", "unauthenticated", "default", "addressed"] {
            assert!(enumerating(state.as_bytes()), "{state}");
        }
        for state in ["not attached", "configured", "suspended", ""] {
            assert!(!enumerating(state.as_bytes()), "{state}");
        }
    }
}
