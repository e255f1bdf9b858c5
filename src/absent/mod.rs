//! The tree's other drivers: which module of the whole tree would drive a device whose driver
//! the image left out. Images carry an index of the aliases of every module of the tree that is
//! not in them (`modinit.absent` beside the index, [`table`] reads it, [`writer`] writes it); at
//! the end of the driver phase the boot names, for each device no driver took
//! ([`unbound_devices`] keeps them from the phase's last walk of /sys), the module it lacks
//! ([`unbound`]), and when the root device never appears, the storage controllers among them
//! ([`storage`]).
//!
//! Only aliases a device can have are kept: those of a bus (`BUS:...`, the form of every
//! `modalias` under /sys), except the buses whose devices never get a driver through their
//! modalias ([`NEVER_BOUND`]).

pub mod storage;
pub mod table;
pub mod unbound;
pub mod unbound_devices;
#[cfg(feature = "alloc")]
pub mod writer;

/// The table's file name in the modules dir, beside `modinit.idx`.
pub const FILE_NAME: &str = "modinit.absent";

/// Buses whose devices have a modalias that modules match but that never show a bound driver:
/// a CPU's features (`cpu:type:x86,...`: crypto and KVM modules use the CPU, none binds to it),
/// the firmware's DMI strings (`dmi:bvn...`: laptop extras), input devices (evdev, joydev and
/// mousedev attach as handlers, never as the device's driver).
pub const NEVER_BOUND: [&[u8]; 3] = [b"cpu", b"dmi", b"input"];

/// The bus of a modalias or alias pattern: what comes before its first `:`, up to a
/// pattern's first wildcard there (`acpi*:PNP0C0A:*` is ACPI's); None without a `:`, as
/// request_module()'s names (`fs-ext4`, `crypto-aes`, `net-pf-10`) have.
pub fn bus(alias: &[u8]) -> Option<&[u8]> {
    let head = &alias[..alias.iter().position(|&b| b == b':')?];
    Some(&head[..head.iter().position(|b| matches!(b, b'*' | b'?' | b'[')).unwrap_or(head.len())])
}

/// Whether a device with `modalias` (or a pattern for one) is of a bus whose devices get
/// drivers: a bus, not named as one of [`NEVER_BOUND`] or starting so (a pattern `dmi*:` may
/// match a key `dmiX:`; both are left out).
pub fn is_device_alias(alias: &[u8]) -> bool {
    bus(alias).is_some_and(|bus| !bus.is_empty() && !NEVER_BOUND.iter().any(|never| bus.starts_with(never)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_aliases_are_those_of_buses_that_bind_drivers() {
        for alias in ["pci:v00008086d00002668sv*sd*bc*sc*i*", "acpi*:PNP0C0A:*", "usb:v*p*d*dc*", "platform:pcspkr"] {
            assert!(is_device_alias(alias.as_bytes()), "{alias}");
        }
        for alias in
            ["fs-ext4", "crypto-aes", "cpu:type:x86,ven*", "dmi*:bvnLENOVO*", "input:b*v*", ":x", "*", "dmiXy:bvn"]
        {
            assert!(!is_device_alias(alias.as_bytes()), "{alias}");
        }
        assert_eq!(bus(b"acpi*:PNP0C0A:*"), Some(&b"acpi"[..]));
    }
}
