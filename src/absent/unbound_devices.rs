//! The devices a walk of /sys found with no driver, kept from the driver phase's own walks: the
//! report at the phase's end reads the last walk's record instead of walking /sys once more
//! (a walk is tens of milliseconds under emulation).

use crate::string_set::StringSet;
use crate::sysfs::coldplug::Device;

/// Room for the devices of a large machine without a driver (a PC has about twenty).
type Devices = StringSet<{ 16 << 10 }, 256>;

/// What the last walk found without a driver, and whether that still holds.
pub struct UnboundDevices {
    /// `NAME/MODALIAS` of each device (a device's name has no `/`).
    devices: Devices,
    /// A walk filled the record and no module was loaded since: those devices still have no
    /// driver, and no other one lost it.
    current: bool,
}

impl UnboundDevices {
    /// A record of no walk: not [`current`](UnboundDevices::devices).
    pub const fn new() -> UnboundDevices {
        UnboundDevices { devices: Devices::new(), current: false }
    }

    /// Starts the record of a new walk.
    pub fn clear(&mut self) {
        *self = UnboundDevices { current: true, ..UnboundDevices::new() };
    }

    /// Keeps `device` when [`is_unbound`]; a device whose name and modalias are kept already
    /// is one.
    pub fn add(&mut self, device: &Device<'_>) {
        if !is_unbound(device) {
            return;
        }
        let mut both = [0u8; 4096 + 256];
        let len = device.name.len() + 1 + device.modalias.len();
        if let Some(room) = both.get_mut(..len) {
            room[..device.name.len()].copy_from_slice(device.name);
            room[device.name.len()] = b'/';
            room[device.name.len() + 1..].copy_from_slice(device.modalias);
            self.devices.insert(room);
        } else {
            self.current = false;
        }
    }

    /// Drivers were loaded since the walk: some of its devices may have one now.
    pub fn outdate(&mut self) {
        self.current = false;
    }

    /// Each device's name and modalias, when the record is whole and current; None when it
    /// is not (no walk, modules loaded since, or more devices than it holds).
    pub fn devices(&self) -> Option<impl Iterator<Item = (&[u8], &[u8])>> {
        let whole = self.current && self.devices.refused() == 0;
        whole.then(|| {
            (0..self.devices.len()).filter_map(|i| {
                let both = self.devices.get(i)?;
                let slash = both.iter().position(|&b| b == b'/')?;
                Some((&both[..slash], &both[slash + 1..]))
            })
        })
    }
}

impl Default for UnboundDevices {
    fn default() -> Self {
        Self::new()
    }
}

/// Whether `device` is one to speak of: no driver took it, it is not an ACPI node of a device
/// elsewhere, and its bus binds drivers ([`super::is_device_alias`]).
pub fn is_unbound(device: &Device<'_>) -> bool {
    !device.bound && !device.describes_another && super::is_device_alias(device.modalias)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device<'d>(name: &'d str, modalias: &'d str, bound: bool) -> Device<'d> {
        Device { name: name.as_bytes(), modalias: modalias.as_bytes(), bound, describes_another: false }
    }

    fn kept(record: &UnboundDevices) -> Option<Vec<(String, String)>> {
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        Some(record.devices()?.map(|(n, m)| (text(n), text(m))).collect())
    }

    #[test]
    fn a_walk_keeps_the_devices_without_a_driver_until_modules_load() {
        let mut record = UnboundDevices::new();
        assert_eq!(kept(&record), None, "no walk yet");
        record.clear();
        record.add(&device("0000:00:0a.0", "pci:v00008086d00002668sv00001AF4sd00001100bc04sc03i00", false));
        record.add(&device("0000:00:03.0", "pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00", true));
        record.add(&device("input0", "input:b0011v0001p0001eAB41-e0,1,4,11,14,k71,72", false));
        record.add(&device("pcspkr", "platform:pcspkr", false));
        record.add(&Device { describes_another: true, ..device("QEMU0002:00", "acpi:QEMU0002:", false) });
        let expected =
            [("0000:00:0a.0", "pci:v00008086d00002668sv00001AF4sd00001100bc04sc03i00"), ("pcspkr", "platform:pcspkr")];
        assert_eq!(kept(&record), Some(expected.map(|(n, m)| (n.into(), m.into())).to_vec()));
        record.outdate();
        assert_eq!(kept(&record), None, "modules loaded since");
        record.clear();
        assert_eq!(kept(&record), Some(Vec::new()), "a new walk");
    }

    #[test]
    fn a_record_that_overflowed_is_not_whole() {
        let mut record = UnboundDevices::new();
        record.clear();
        let modalias = format!("platform:{}", "x".repeat(200));
        for i in 0..100 {
            record.add(&device(&format!("dev{i}"), &modalias, false));
        }
        assert_eq!(kept(&record), None);
    }
}
