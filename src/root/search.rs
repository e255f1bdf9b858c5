//! Looking for the device `root=` names among the block devices of a sysfs: each is read as
//! the spec needs (its filesystem, its disk's partition table), and one found not to be the
//! root is not read again until it changes.

use super::{DevNum, FsIdentity, PartitionTable, ReadAt, RootSpec, identify};
use crate::root::block_devices::{BlockDevice, ClassBlock};
use crate::root::matching::Candidate;
use crate::sysfs::Dir;
use core::ops::ControlFlow;

/// Devices remembered as not the root; past these, the others are read on each look.
const NOT_ROOT_MAX: usize = 64;

/// The block devices' nodes (devtmpfs's `/dev/NAME`), read for their first bytes.
pub trait DeviceNodes {
    type File: ReadAt;

    /// Opens `device`'s node for reading; an errno when it cannot be now (no medium).
    fn open(&mut self, device: &BlockDevice) -> Result<Self::File, i32>;

    /// Whether `device`'s node exists yet: sysfs shows a device before devtmpfs has its node.
    fn exists(&mut self, device: &BlockDevice) -> bool;
}

/// The root device, with its filesystem when it was read to find it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Found {
    pub device: BlockDevice,
    pub fs: Option<FsIdentity>,
}

/// A search for the root device over several looks, remembering the devices that are not it.
pub struct RootSearch {
    not_root: [(DevNum, (u64, u64)); NOT_ROOT_MAX],
    len: usize,
}

impl Default for RootSearch {
    fn default() -> Self {
        RootSearch { not_root: [(DevNum { major: 0, minor: 0 }, (0, 0)); NOT_ROOT_MAX], len: 0 }
    }
}

impl RootSearch {
    /// One look over the block devices of `class`: the first that `spec` names, its node
    /// read through `nodes`. Devices that cannot be read now (a CD drive without a disc, a
    /// node not made yet) are read again on the next look.
    pub fn look<D: Dir, N: DeviceNodes>(
        &mut self,
        spec: &RootSpec<'_>,
        class: &ClassBlock<D>,
        nodes: &mut N,
    ) -> Option<Found> {
        class.find(|device| {
            if self.is_not_root(device) {
                return ControlFlow::Continue(());
            }
            match check(spec, class, nodes, device) {
                Some(Some(found)) => ControlFlow::Break(found),
                Some(None) => {
                    self.remember_not_root(device);
                    ControlFlow::Continue(())
                }
                None => ControlFlow::Continue(()),
            }
        })
    }

    fn is_not_root(&self, device: &BlockDevice) -> bool {
        self.not_root[..self.len].contains(&(device.number, device.version))
    }

    fn remember_not_root(&mut self, device: &BlockDevice) {
        if let Some(slot) = self.not_root.get_mut(self.len) {
            *slot = (device.number, device.version);
            self.len += 1;
        }
    }
}

/// `device` if it is the root `spec` names: Some(None) when it was read and is not, None when
/// it cannot be read now.
fn check<D: Dir, N: DeviceNodes>(
    spec: &RootSpec<'_>,
    class: &ClassBlock<D>,
    nodes: &mut N,
    device: &BlockDevice,
) -> Option<Option<Found>> {
    let fs = match spec.needs_filesystem() {
        true => match identify(&mut open(nodes, device)?).ok()? {
            Some(fs) => Some(fs),
            None => return Some(None),
        },
        false => None,
    };
    let entry = match device.partition.and_then(|number| spec.entry_to_check(number)) {
        Some(number) => {
            let disk = class.disk(device)?;
            let mut file = open(nodes, &disk)?;
            match PartitionTable::read(&mut file, class.geometry(&disk)?).ok()? {
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
    nodes.exists(device).then_some(Some(Found { device: *device, fs }))
}

/// `device`'s node opened; None for those not to be read ([`BlockDevice::may_be_read`]) and
/// those that cannot be opened now.
fn open<N: DeviceNodes>(nodes: &mut N, device: &BlockDevice) -> Option<N::File> {
    device.may_be_read().then(|| nodes.open(device).ok()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sysfs::host::{HostDir, fixture_tree};

    const SECTOR: usize = 512;
    const VDA1_UUID: &str = "11111111-2222-3333-4444-555555555555";
    const VDA2_UUID: &str = "66666666-7777-8888-9999-aaaaaaaaaaaa";

    /// An ext2 superblock (no features) with `uuid` and `label`, in a 2 KiB image.
    fn ext2(uuid: &str, label: &[u8]) -> Vec<u8> {
        let mut image = vec![0u8; 2048];
        let sb = &mut image[1024..];
        sb[0x38..0x3a].copy_from_slice(&0xef53u16.to_le_bytes());
        let hex: Vec<u8> = uuid.bytes().filter(|b| *b != b'-').collect();
        for (i, pair) in hex.chunks(2).enumerate() {
            sb[0x68 + i] = u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap();
        }
        sb[0x78..0x78 + label.len()].copy_from_slice(label);
        image
    }

    /// vda as sys-block describes it (8192 sectors, vda1 at 2048 and vda2 at 4096): an MBR
    /// with disk signature 0x0badcafe, and ext2 labelled `root` and `data` in the partitions.
    fn vda() -> Vec<u8> {
        let mut disk = vec![0u8; 8192 * SECTOR];
        disk[0x1b8..0x1bc].copy_from_slice(&0x0bad_cafeu32.to_le_bytes());
        for (slot, (start, sectors)) in [(2048u32, 2048u32), (4096, 4096)].into_iter().enumerate() {
            let entry = &mut disk[0x1be + 16 * slot..][..16];
            entry[4] = 0x83;
            entry[8..12].copy_from_slice(&start.to_le_bytes());
            entry[12..16].copy_from_slice(&sectors.to_le_bytes());
        }
        disk[510..512].copy_from_slice(&[0x55, 0xaa]);
        let (root, data) = (ext2(VDA1_UUID, b"root"), ext2(VDA2_UUID, b"data"));
        disk[2048 * SECTOR..][..root.len()].copy_from_slice(&root);
        disk[4096 * SECTOR..][..data.len()].copy_from_slice(&data);
        disk
    }

    /// A node opened: its device's bytes.
    struct Image(Vec<u8>);

    impl ReadAt for Image {
        fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<usize, i32> {
            self.0.as_slice().read_at(offset, buf)
        }
    }

    /// A fake /dev over vda's image: its nodes by name (None: it cannot be opened, as an
    /// empty CD drive), and the names opened, in order.
    struct Dev {
        nodes: Vec<(&'static str, Option<Vec<u8>>)>,
        opened: Vec<String>,
    }

    /// vda, vda1 and vda2 with their bytes, sr0 without a disc, fd0.
    fn dev() -> Dev {
        let disk = vda();
        let part = |start: usize, sectors: usize| disk[start * SECTOR..(start + sectors) * SECTOR].to_vec();
        let nodes = vec![
            ("vda1", Some(part(2048, 2048))),
            ("vda2", Some(part(4096, 4096))),
            ("vda", Some(disk)),
            ("sr0", None),
            ("fd0", Some(vec![0; 8 * SECTOR])),
        ];
        Dev { nodes, opened: Vec::new() }
    }

    impl DeviceNodes for Dev {
        type File = Image;

        fn open(&mut self, device: &BlockDevice) -> Result<Image, i32> {
            let name = String::from_utf8_lossy(device.name()).into_owned();
            let node = self.nodes.iter().find(|(n, _)| *n == name).ok_or(2)?; // ENOENT
            self.opened.push(name);
            node.1.clone().map(Image).ok_or(123) // ENOMEDIUM
        }

        fn exists(&mut self, device: &BlockDevice) -> bool {
            self.nodes.iter().any(|(n, _)| n.as_bytes() == device.name())
        }
    }

    fn class_block() -> ClassBlock<HostDir> {
        ClassBlock::open(&fixture_tree("sys-block")).expect("class/block")
    }

    /// The name of the device `root` picks in one look over sys-block, and its filesystem's label.
    fn picked(root: &str, dev: &mut Dev) -> Option<(String, Option<String>)> {
        let spec = RootSpec::parse(root.as_bytes()).expect("a valid root=");
        let found = RootSearch::default().look(&spec, &class_block(), dev)?;
        let name = String::from_utf8_lossy(found.device.name()).into_owned();
        Some((name, found.fs.map(|fs| fs.label.to_string())))
    }

    fn named(name: &str, label: Option<&str>) -> Option<(String, Option<String>)> {
        Some((name.into(), label.map(String::from)))
    }

    #[test]
    fn root_by_name_or_number_reads_no_device() {
        let mut dev = dev();
        assert_eq!(picked("/dev/vda1", &mut dev), named("vda1", None));
        assert_eq!(picked("254:2", &mut dev), named("vda2", None));
        assert_eq!(picked("/dev/sda", &mut dev), None, "sda is gone");
        assert!(dev.opened.is_empty(), "{:?}", dev.opened);
    }

    #[test]
    fn root_by_filesystem_uuid_or_label_never_opens_the_floppy() {
        let mut dev = dev();
        assert_eq!(picked(&format!("UUID={}", VDA2_UUID.to_uppercase()), &mut dev), named("vda2", Some("data")));
        assert_eq!(picked("LABEL=root", &mut dev), named("vda1", Some("root")));
        assert_eq!(picked("LABEL=Root", &mut dev), None);
        assert!(!dev.opened.iter().any(|n| n == "fd0"), "{:?}", dev.opened);
    }

    #[test]
    fn root_by_partuuid_reads_the_disks_table() {
        let mut dev = dev();
        assert_eq!(picked("PARTUUID=0badcafe-02", &mut dev), named("vda2", None));
        assert_eq!(picked("PARTUUID=0BADCAFE-01/PARTNROFF=1", &mut dev), named("vda2", None));
        assert_eq!(picked("PARTUUID=0badcafe-03", &mut dev), None);
        assert!(dev.opened.iter().all(|n| n == "vda"), "only the disk's table is read: {:?}", dev.opened);
    }

    #[test]
    fn root_search_rereads_only_the_devices_it_could_not_read() {
        let mut dev = dev();
        dev.nodes.retain(|(name, _)| *name != "vda2"); // devtmpfs has not made it yet
        let spec = RootSpec::parse(b"LABEL=data").unwrap();
        let (class, mut search) = (class_block(), RootSearch::default());
        assert_eq!(search.look(&spec, &class, &mut dev), None);
        dev.opened.sort();
        assert_eq!(dev.opened, ["sr0", "vda", "vda1"], "the floppy is never opened");
        dev.opened.clear();
        dev.nodes = self::dev().nodes;
        let found = search.look(&spec, &class, &mut dev).expect("vda2 once its node is there");
        assert_eq!(found.device.name(), b"vda2");
        // sr0 is opened again only if it is listed before vda2.
        assert!(
            dev.opened.iter().all(|n| n == "sr0" || n == "vda2"),
            "vda and vda1 have not changed: {:?}",
            dev.opened
        );
    }
}
