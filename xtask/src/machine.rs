//! The emulated machines boots run on: which devices they have.

use anyhow::Result;
use std::path::Path;

/// A device set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Machine {
    /// QEMU's default PC and nothing more.
    Bare,
    /// A realistic PC: virtio (net, blk, rng), e1000, AHCI and NVMe disks, and a USB host
    /// controller with a keyboard and a storage stick (those appear only once xhci is loaded).
    Pc,
}

/// Size of each scratch disk: the machines need devices, not data.
const DISK_BYTES: u64 = 16 << 20;

impl Machine {
    /// QEMU arguments for the devices. Disks are sparse files created in `scratch`, one set
    /// per boot so that parallel boots do not fight over image locks.
    pub fn qemu_args(self, scratch: &Path) -> Result<Vec<String>> {
        match self {
            Machine::Bare => Ok(Vec::new()),
            Machine::Pc => {
                std::fs::create_dir_all(scratch)?;
                let mut args = Vec::new();
                let mut disk = |name: &str| -> Result<String> {
                    let path = scratch.join(format!("{name}.img"));
                    std::fs::File::create(&path)?.set_len(DISK_BYTES)?;
                    args.extend(["-drive".to_string(), format!("if=none,id={name},format=raw,file={}", path.display())]);
                    Ok(name.to_string())
                };
                let (vblk, sata, nvme, usb) = (disk("vblk")?, disk("sata")?, disk("nvme")?, disk("usb")?);
                for device in [
                    // Guest networking never leaves the guest: user mode with restrict=on.
                    "-netdev", "user,id=n0,restrict=on", "-device", "virtio-net-pci,netdev=n0",
                    "-netdev", "user,id=n1,restrict=on", "-device", "e1000,netdev=n1",
                    "-device", "virtio-rng-pci",
                ] {
                    args.push(device.to_string());
                }
                for device in [
                    format!("virtio-blk-pci,drive={vblk}"),
                    "ahci,id=ahci0".to_string(),
                    format!("ide-hd,drive={sata},bus=ahci0.0"),
                    format!("nvme,drive={nvme},serial=modinit0"),
                    "qemu-xhci,id=xhci0".to_string(),
                    "usb-kbd,bus=xhci0.0".to_string(),
                    format!("usb-storage,drive={usb},bus=xhci0.0"),
                ] {
                    args.extend(["-device".to_string(), device]);
                }
                Ok(args)
            }
        }
    }
}
