//! Whether a block device is the one `root=` names.

use super::fs::FsIdentity;
use super::partition::Partition;
use super::spec::{DevNum, RootSpec};

/// What is known about one block device when deciding whether it is the root.
#[derive(Debug, Clone, Copy)]
pub struct Candidate<'a> {
    /// The kernel's name, as the directory under /sys/class/block (`sda1`, `cciss!c0d0p1`).
    pub name: &'a [u8],
    pub dev: DevNum,
    /// The filesystem on it, read when [`RootSpec::needs_filesystem`].
    pub fs: Option<&'a FsIdentity>,
    /// Its partition number (sysfs's `partition` file); None for a whole disk.
    pub partition: Option<u32>,
    /// The entry of its disk's partition table numbered
    /// [`RootSpec::entry_to_check`]`(partition)`, when the table has one.
    pub entry: Option<&'a Partition>,
}

impl RootSpec<'_> {
    /// Whether `device` is the root device.
    ///
    /// `/dev/NAME` compares NAME, with `/` turned into `!` as the kernel names devices, to the
    /// kernel's name. PARTUUID is a case-insensitive prefix of the entry's UUID, as the
    /// kernel's `strncasecmp(uuid, meta->uuid, len)`; PARTLABEL equals the kernel's 7-bit
    /// form of the GPT name. UUID compares ASCII case-insensitively (blkid prints hex digits
    /// in one case, users type either); LABEL compares exactly, as blkid does.
    pub fn matches(&self, device: &Candidate<'_>) -> bool {
        match *self {
            RootSpec::Name(name) => {
                name.len() == device.name.len()
                    && name.iter().zip(device.name).all(|(&a, &b)| a == b || (a == b'/' && b == b'!'))
            }
            RootSpec::Number(dev) => dev == device.dev,
            RootSpec::Uuid(uuid) => device.fs.is_some_and(|fs| fs.uuid.as_bytes().eq_ignore_ascii_case(uuid)),
            RootSpec::Label(label) => device.fs.is_some_and(|fs| fs.label.as_bytes() == label),
            RootSpec::PartUuid { uuid, .. } => self.entry_of(device).is_some_and(|entry| {
                entry.uuid.as_bytes().get(..uuid.len()).is_some_and(|start| start.eq_ignore_ascii_case(uuid))
            }),
            RootSpec::PartLabel(label) => {
                self.entry_of(device).is_some_and(|entry| !entry.extended && entry.kernel_name().as_bytes() == label)
            }
        }
    }

    /// The candidate's entry, if it is the one [`RootSpec::entry_to_check`] asks for.
    fn entry_of<'e>(&self, device: &Candidate<'e>) -> Option<&'e Partition> {
        let wanted = self.entry_to_check(device.partition?)?;
        device.entry.filter(|entry| entry.number == wanted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::root::fs::FsType;
    use crate::root::text::Text;

    fn disk(name: &'static [u8]) -> Candidate<'static> {
        Candidate { name, dev: DevNum { major: 8, minor: 0 }, fs: None, partition: None, entry: None }
    }

    #[test]
    fn names_and_numbers() {
        assert!(RootSpec::Name(b"sda").matches(&disk(b"sda")));
        assert!(!RootSpec::Name(b"sda").matches(&disk(b"sda1")));
        assert!(RootSpec::Name(b"cciss/c0d0").matches(&disk(b"cciss!c0d0")));
        assert!(RootSpec::Number(DevNum { major: 8, minor: 0 }).matches(&disk(b"sda")));
        assert!(!RootSpec::Number(DevNum { major: 8, minor: 1 }).matches(&disk(b"sda")));
    }

    #[test]
    fn filesystem_uuid_ignores_case_and_label_does_not() {
        let mut fs = FsIdentity { fstype: FsType::Vfat, uuid: Text::from_bytes(b"AB12-CD34"), label: Text::new() };
        fs.label = Text::from_bytes(b"Boot");
        let device = Candidate { fs: Some(&fs), ..disk(b"sda1") };
        assert!(RootSpec::Uuid(b"ab12-cd34").matches(&device));
        assert!(!RootSpec::Uuid(b"ab12-cd3").matches(&device));
        assert!(RootSpec::Label(b"Boot").matches(&device));
        assert!(!RootSpec::Label(b"boot").matches(&device));
        assert!(!RootSpec::Label(b"Boot").matches(&disk(b"sda1")), "no filesystem read");
    }

    fn entry(number: u32, uuid: &[u8]) -> Partition {
        let mut p = Partition::new(number, 0, 0);
        p.uuid = Text::from_bytes(uuid);
        p
    }

    #[test]
    fn partuuid_is_a_case_insensitive_prefix_and_partnroff_looks_back() {
        let e2 = entry(2, b"1234abcd-02");
        let sda2 = Candidate { partition: Some(2), entry: Some(&e2), ..disk(b"sda2") };
        assert!(RootSpec::PartUuid { uuid: b"1234ABCD-02", offset: 0 }.matches(&sda2));
        assert!(RootSpec::PartUuid { uuid: b"1234abcd", offset: 0 }.matches(&sda2));
        assert!(!RootSpec::PartUuid { uuid: b"1234abcd-02-", offset: 0 }.matches(&sda2));
        // PARTNROFF=1 from entry 2 is partition 3: sda3 is checked against entry 2.
        let sda3 = Candidate { partition: Some(3), entry: Some(&e2), ..disk(b"sda3") };
        let spec = RootSpec::PartUuid { uuid: b"1234abcd-02", offset: 1 };
        assert_eq!(spec.entry_to_check(3), Some(2));
        assert!(spec.matches(&sda3));
        assert!(!spec.matches(&sda2), "sda2 is checked against entry 1, not given");
        assert!(!spec.matches(&disk(b"sda")), "a whole disk has no entry");
    }

    #[test]
    fn partlabel_is_the_kernels_form_of_the_name() {
        let mut e1 = entry(1, b"u");
        for (i, unit) in "root\u{e9}\u{3b1}".encode_utf16().enumerate() {
            e1.name[i] = unit;
            e1.name_len = i + 1;
        }
        assert_eq!(e1.kernel_name().as_bytes(), b"rooti1", "the low 7 bits: é is i, α is 1");
        let sda1 = Candidate { partition: Some(1), entry: Some(&e1), ..disk(b"sda1") };
        assert!(RootSpec::PartLabel(b"rooti1").matches(&sda1));
        assert!(!RootSpec::PartLabel(b"root").matches(&sda1));
    }
}
