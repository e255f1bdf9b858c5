//! Kernel uevents as they arrive on a NETLINK_KOBJECT_UEVENT socket.
//!
//! A kernel message is `ACTION@DEVPATH\0` followed by `KEY=VALUE\0` pairs (lib/kobject_uevent.c).
//! Messages re-broadcast by udev start with `libudev\0` and a binary header; they are not ours.

/// One uevent's fields of interest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Uevent<'a> {
    pub action: &'a [u8],
    pub devpath: &'a [u8],
    pub modalias: Option<&'a [u8]>,
    pub seqnum: Option<u64>,
}

impl<'a> Uevent<'a> {
    /// Parses a kernel uevent; None for anything else (udev's messages, garbage).
    pub fn parse(msg: &'a [u8]) -> Option<Uevent<'a>> {
        let mut fields = msg.split(|&b| b == 0);
        let header = fields.next()?;
        let at = header.iter().position(|&b| b == b'@')?;
        let mut event = Uevent { action: &header[..at], devpath: &header[at + 1..], modalias: None, seqnum: None };
        if event.action.is_empty() || !event.devpath.starts_with(b"/") {
            return None;
        }
        for field in fields {
            if let Some(value) = field.strip_prefix(b"MODALIAS=") {
                event.modalias = Some(value).filter(|v| !v.is_empty());
            } else if let Some(value) = field.strip_prefix(b"SEQNUM=") {
                event.seqnum = core::str::from_utf8(value).ok().and_then(|s| s.parse().ok());
            }
        }
        Some(event)
    }

    /// The modalias of a device that just appeared: what coldplug would have read from its
    /// `modalias` file. udev loads drivers on `add` only, and so do we.
    pub fn added_modalias(&self) -> Option<&'a [u8]> {
        self.modalias.filter(|_| self.action == b"add")
    }
}

/// The `MODALIAS=` of a device's sysfs `uevent` file (`KEY=VALUE` lines). Some devices (MMC
/// cards) have it there and no `modalias` file.
pub fn modalias_in_uevent_file(text: &[u8]) -> Option<&[u8]> {
    uevent_file_field(text, b"MODALIAS")
}

/// The non-empty value of `KEY=` in a sysfs `uevent` file (block devices have `MAJOR`,
/// `MINOR`, `DEVNAME`, `DEVTYPE`, and `PARTN` for partitions).
pub fn uevent_file_field<'t>(text: &'t [u8], key: &[u8]) -> Option<&'t [u8]> {
    text.split(|&b| b == b'\n')
        .find_map(|line| line.strip_prefix(key).and_then(|rest| rest.strip_prefix(b"=")))
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A message as the kernel sends it for a PCI device (fields from a real Debian 6.1 guest).
    const PCI_ADD: &[u8] = b"add@/devices/pci0000:00/0000:00:03.0\0ACTION=add\0DEVPATH=/devices/pci0000:00/0000:00:03.0\0SUBSYSTEM=pci\0PCI_CLASS=20000\0PCI_ID=8086:100E\0MODALIAS=pci:v00008086d0000100Esv00001AF4sd00001100bc02sc00i00\0SEQNUM=1234\0";

    #[test]
    fn reads_action_devpath_modalias_and_seqnum() {
        let e = Uevent::parse(PCI_ADD).unwrap();
        assert_eq!(e.action, b"add");
        assert_eq!(e.devpath, b"/devices/pci0000:00/0000:00:03.0");
        assert_eq!(e.added_modalias(), Some(&b"pci:v00008086d0000100Esv00001AF4sd00001100bc02sc00i00"[..]));
        assert_eq!(e.seqnum, Some(1234));
    }

    #[test]
    fn only_add_events_ask_for_drivers() {
        let e = Uevent::parse(b"bind@/devices/x\0ACTION=bind\0MODALIAS=pci:v1\0").unwrap();
        assert_eq!(e.modalias, Some(&b"pci:v1"[..]));
        assert_eq!(e.added_modalias(), None);
        let e = Uevent::parse(b"add@/devices/x\0ACTION=add\0MODALIAS=\0").unwrap();
        assert_eq!(e.added_modalias(), None, "an empty modalias names nothing");
    }

    #[test]
    fn rejects_what_is_not_a_kernel_uevent() {
        assert_eq!(Uevent::parse(b"libudev\0\xfe\xed\xca\xfe"), None);
        assert_eq!(Uevent::parse(b""), None);
        assert_eq!(Uevent::parse(b"@/devices/x\0"), None);
        assert_eq!(Uevent::parse(b"add@relative\0"), None);
        let e = Uevent::parse(b"add@/devices/x\0SEQNUM=notanumber").unwrap();
        assert_eq!(e.seqnum, None);
    }

    #[test]
    fn a_uevent_files_modalias_is_found() {
        assert_eq!(
            modalias_in_uevent_file(b"DRIVER=mmcblk\nMMC_TYPE=SD\nMODALIAS=mmc:block\n"),
            Some(&b"mmc:block"[..])
        );
        assert_eq!(modalias_in_uevent_file(b"MAJOR=8\nMINOR=0\nDEVNAME=sda\n"), None);
        assert_eq!(modalias_in_uevent_file(b"MODALIAS=\n"), None);
    }

    #[test]
    fn a_block_devices_uevent_file_gives_its_fields() {
        // /sys/class/block/sda1/uevent of a Debian 6.1 guest.
        let text = b"MAJOR=8\nMINOR=1\nDEVNAME=sda1\nDEVTYPE=partition\nDISKSEQ=9\nPARTN=1\nPARTNAME=root\n";
        assert_eq!(uevent_file_field(text, b"DEVNAME"), Some(&b"sda1"[..]));
        assert_eq!(uevent_file_field(text, b"PARTN"), Some(&b"1"[..]));
        assert_eq!(uevent_file_field(text, b"PART"), None, "a key is matched whole");
        assert_eq!(uevent_file_field(text, b"MINOR"), Some(&b"1"[..]));
        assert_eq!(uevent_file_field(b"DEVTYPE=\n", b"DEVTYPE"), None);
    }
}
