//! The emulated machines boots run on: which devices they have.

use anyhow::{Context, Result};
use std::collections::BTreeSet;
use std::path::Path;

/// A device set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Machine {
    /// QEMU's default PC and nothing more.
    Bare,
    /// A realistic PC: virtio (net, blk, rng), e1000, AHCI and NVMe disks, and a USB host
    /// controller with a keyboard and a storage stick (those appear only once xhci is loaded).
    Pc,
    /// An i440fx PC with most conventional-PCI, legacy and USB devices QEMU emulates: many NICs
    /// and SCSI HBAs, four USB host controllers with a dozen USB devices, sound, IPMI, watchdog.
    FullPc,
    /// A q35 PC with PCIe ports and a switch, every virtio device that needs no host service,
    /// NVMe, NVDIMM, memory hotplug, xhci/ehci/uhci, HD audio and more.
    FullQ35,
    /// A storage server: disks behind four SCSI/SAS host adapters and three NICs, all of kinds
    /// the PC lacks. The adapters' drivers scan their buses asynchronously, and Linux's
    /// `do_init_module` makes every insert wait for all async work (`async_synchronize_full`).
    StorageServer,
}

/// Size of each scratch disk: the machines need devices, not data.
const DISK_BYTES: u64 = 16 << 20;

/// Size of each RAM-backed memory device (virtio-mem, virtio-pmem, NVDIMM, ERST, ivshmem).
const MEMDEV: &str = "128M";

const PC: &[&str] = &[
    "virtio-net-pci,netdev=n0",
    "e1000,netdev=n1",
    "virtio-rng-pci",
    "virtio-blk-pci,drive=vblk",
    "ahci,id=ahci0",
    "ide-hd,drive=sata,bus=ahci0.0",
    "nvme,drive=nvme,serial=modinit0",
    "qemu-xhci,id=xhci0",
    "usb-kbd,bus=xhci0.0",
    "usb-storage,drive=usb,bus=xhci0.0",
];

const STORAGE_SERVER: &[&str] = &[
    "megasas-gen2,id=megasas0",
    "scsi-hd,drive=megasas0-hd,bus=megasas0.0",
    "mptsas1068,id=mptsas0",
    "scsi-hd,drive=mptsas0-hd,bus=mptsas0.0",
    "lsi53c895a,id=lsi0",
    "scsi-hd,drive=lsi0-hd,bus=lsi0.0",
    "pvscsi,id=pvscsi0",
    "scsi-hd,drive=pvscsi0-hd,bus=pvscsi0.0",
    "rtl8139,netdev=n0",
    "vmxnet3,netdev=n1",
    "pcnet,netdev=n2",
];

const FULL_PC_MACHINE: &[&str] = &["-machine", "pc", "-vga", "cirrus"];

const FULL_PC: &[&str] = &[
    // The root bus has 32 slots: the rest go behind bridges.
    "pci-bridge,id=br1,chassis_nr=1",
    "pci-bridge,id=br2,chassis_nr=2",
    // Network cards; virtio on conventional PCI is transitional (legacy device IDs).
    "e1000,netdev=n0",
    "e1000-82544gc,netdev=n1",
    "e1000-82545em,netdev=n2",
    "rtl8139,netdev=n3",
    "pcnet,netdev=n4",
    "ne2k_pci,netdev=n5",
    "i82550,netdev=n6,bus=br2",
    "i82557b,netdev=n7,bus=br2",
    "i82559er,netdev=n8,bus=br2",
    "i82801,netdev=n9,bus=br2",
    "tulip,netdev=n10,bus=br2",
    "vmxnet3,netdev=n11,bus=br2",
    "virtio-net-pci,netdev=n12",
    "virtio-blk-pci,drive=vblk",
    "virtio-rng-pci",
    "virtio-balloon-pci",
    "virtio-scsi-pci,id=vscsi0",
    "scsi-hd,drive=vscsi0-hd,bus=vscsi0.0",
    // SCSI host adapters with disks and a CD behind them; an IDE CD on the built-in PIIX3.
    "lsi53c895a,id=lsi0",
    "scsi-hd,drive=lsi0-hd,bus=lsi0.0",
    "scsi-cd,bus=lsi0.0",
    "megasas,id=megasas0",
    "scsi-hd,drive=megasas0-hd,bus=megasas0.0",
    "megasas-gen2,bus=br1",
    "mptsas1068,id=mptsas0,bus=br1",
    "scsi-hd,drive=mptsas0-hd,bus=mptsas0.0",
    "am53c974,bus=br1",
    "dc390,bus=br1",
    "pvscsi,bus=br1",
    "lsi53c810,bus=br1",
    "ide-cd,bus=ide.1",
    "sdhci-pci",
    "sd-card,drive=sd",
    // USB: one controller of each kind, devices spread over them.
    "piix3-usb-uhci,id=uhci0",
    "usb-ehci,id=ehci0",
    "pci-ohci,id=ohci0",
    "nec-usb-xhci,id=xhci0",
    "usb-kbd,bus=uhci0.0",
    "usb-hub,bus=uhci0.0",
    "usb-braille,chardev=braille,bus=uhci0.0",
    "usb-mouse,bus=ohci0.0",
    "usb-tablet,bus=ehci0.0",
    "usb-storage,drive=usbstick,bus=ehci0.0",
    "usb-wacom-tablet,bus=xhci0.0",
    "usb-uas,id=uas0,bus=xhci0.0",
    "scsi-hd,drive=uas0-hd,bus=uas0.0",
    "usb-audio,audiodev=snd0,bus=xhci0.0",
    "usb-net,netdev=usbnet,bus=xhci0.0",
    "usb-serial,chardev=usbserial,bus=xhci0.0",
    "usb-ccid,bus=xhci0.0",
    // Sound.
    "AC97,audiodev=snd0",
    "ES1370,audiodev=snd0",
    "intel-hda,id=hda0",
    "hda-duplex,bus=hda0.0,audiodev=snd0",
    // Platform and odd devices.
    "i6300esb",
    "pvpanic",
    "vmcoreinfo",
    "vmgenid",
    "isa-applesmc",
    "isa-ipmi-kcs,bmc=bmc0",
    "pci-ipmi-bt,bmc=bmc1",
    "pci-ipmi-kcs,bmc=bmc2,bus=br2",
    "pci-serial-2x,chardev1=pciserial1,chardev2=pciserial2,bus=br2",
    "pci-serial-4x,chardev1=pciserial3,chardev2=pciserial4,chardev3=pciserial5,chardev4=pciserial6,bus=br2",
    "tpci200,id=tpci0,bus=br2",
    "ipoctal232,bus=tpci0.0",
    "kvaser_pci,canbus=can0,bus=br1",
    "edu,bus=br1",
    "pci-testdev,bus=br1",
    // Second display adapters beside the Cirrus VGA.
    "vmware-svga,bus=br1",
    "qxl,bus=br1",
    // Last: QEMU puts later devices without a bus on the expander's bus.
    "pxb,id=pxb0,bus_nr=100",
];

const FULL_Q35_MACHINE: &[&str] = &["-machine", "q35,nvdimm=on", "-m", "1G,slots=4,maxmem=4G"];

const FULL_Q35: &[&str] = &[
    // The built-in ICH9 AHCI's ports.
    "ide-hd,drive=sata0,bus=ide.0",
    "ide-cd,bus=ide.1",
    // PCIe topology: root ports, a switch, bridges to conventional PCI. Virtio devices behind
    // ports are modern only (their own device IDs); on the root bus they stay transitional.
    "pcie-root-port,id=rp1,chassis=1,slot=1",
    "pcie-root-port,id=rp2,chassis=2,slot=2",
    "pcie-root-port,id=rp3,chassis=3,slot=3",
    "pcie-root-port,id=rp4,chassis=4,slot=4",
    "pcie-root-port,id=rp5,chassis=5,slot=5",
    "pcie-root-port,id=rp6,chassis=6,slot=6",
    "ioh3420,id=rp7,chassis=7,slot=7",
    "x3130-upstream,id=up0,bus=rp7",
    "xio3130-downstream,id=dn0,bus=up0,chassis=8,slot=8",
    "xio3130-downstream,id=dn1,bus=up0,chassis=9,slot=9",
    "pcie-pci-bridge,id=pbr0",
    "i82801b11-bridge,id=dmi0",
    "e1000e,netdev=n0,bus=rp1",
    "virtio-net-pci,netdev=n1,bus=rp2",
    "nvme,drive=nvme0,serial=modinit0,bus=rp3",
    "virtio-blk-pci,drive=vblk,bus=rp4",
    "virtio-scsi-pci,id=vscsi0,bus=dn0",
    "scsi-hd,drive=vscsi0-hd,bus=vscsi0.0",
    "scsi-cd,bus=vscsi0.0",
    "virtio-rng-pci,bus=rp5",
    "virtio-balloon-pci,bus=rp6",
    "virtio-serial-pci,id=vser0,bus=dn1",
    "virtconsole,chardev=vcon0,bus=vser0.0",
    "virtserialport,chardev=vport0,bus=vser0.0,name=org.modinit.port",
    "virtio-9p-pci,fsdev=fs0,mount_tag=modinit",
    // Devices that are virtio 1.0 only.
    "virtio-gpu-pci",
    "virtio-vga",
    "virtio-keyboard-pci",
    "virtio-mouse-pci",
    "virtio-tablet-pci",
    "virtio-crypto-pci,cryptodev=crypto0",
    "virtio-iommu-pci",
    // Memory: hotplugged DIMM, virtio-mem, virtio-pmem, an NVDIMM.
    "pc-dimm,memdev=dimm0",
    "virtio-mem-pci,memdev=vmem0,requested-size=0",
    "virtio-pmem-pci,memdev=vpmem0",
    "nvdimm,memdev=nvdimm0",
    // USB.
    "qemu-xhci,id=xhci0",
    "ich9-usb-ehci1,id=ehci0",
    "ich9-usb-uhci1,id=uhci0",
    "usb-kbd,bus=xhci0.0",
    "usb-tablet,bus=xhci0.0",
    "usb-storage,drive=usbstick,bus=xhci0.0",
    "usb-mouse,bus=ehci0.0",
    "usb-audio,audiodev=snd0,bus=uhci0.0",
    // Sound.
    "ich9-intel-hda,id=hda0",
    "hda-output,bus=hda0.0,audiodev=snd0",
    "hda-micro,bus=hda0.0,audiodev=snd0",
    // Platform and odd devices.
    "pvpanic-pci",
    "i6300esb",
    "vmcoreinfo",
    "isa-ipmi-bt,bmc=bmc0",
    "smbus-ipmi,bmc=bmc1",
    "acpi-erst,memdev=erst0",
    "ivshmem-plain,memdev=shm0,bus=pbr0",
    "bochs-display,bus=pbr0",
    "pci-serial,chardev=pciserial0,bus=pbr0",
    "rocker,name=rocker0,bus=dmi0",
    // Last: QEMU puts later devices without a bus on the expander's bus, which takes only bridges.
    "pxb-pcie,id=pxb0,bus_nr=100",
];

impl Machine {
    /// The machine in a phrase, for reports.
    pub fn describe(self) -> &'static str {
        match self {
            Machine::Bare => "QEMU's default PC",
            Machine::Pc => {
                "The PC machine (`xtask/src/machine.rs`: virtio disk, NIC and RNG; AHCI, NVMe, e1000, USB xHCI \
                 with a keyboard and a storage stick)"
            }
            Machine::FullPc => "The full i440fx PC (`xtask/src/machine.rs`)",
            Machine::FullQ35 => "The full q35 PC (`xtask/src/machine.rs`)",
            Machine::StorageServer => {
                "The storage server (`xtask/src/machine.rs`: a disk on each of a MegaRAID SAS, a Fusion-MPT SAS, an \
                 LSI 53C895A and a VMware PVSCSI adapter; RTL8139, VMXNET3 and PCnet NICs)"
            }
        }
    }

    /// QEMU arguments for the devices. Disks are sparse files created in `scratch`, one set
    /// per boot so that parallel boots do not fight over image locks.
    pub fn qemu_args(self, scratch: &Path) -> Result<Vec<String>> {
        let (machine, devices): (&[&str], &[&str]) = match self {
            // No network at all: without this QEMU adds a NIC with unrestricted user networking.
            Machine::Bare => return Ok(vec!["-nic".to_string(), "none".to_string()]),
            Machine::Pc => (&[], PC),
            Machine::FullPc => (FULL_PC_MACHINE, FULL_PC),
            Machine::FullQ35 => (FULL_Q35_MACHINE, FULL_Q35),
            Machine::StorageServer => (&[], STORAGE_SERVER),
        };
        std::fs::create_dir_all(scratch)?;
        let mut args: Vec<String> = machine.iter().map(|a| a.to_string()).collect();
        let mut made = BTreeSet::new();
        for spec in devices {
            for (key, name) in spec.split(',').filter_map(|p| p.split_once('=')) {
                if made.insert((key, name)) {
                    args.extend(backend(key, name, scratch)?);
                }
            }
            args.extend(["-device".to_string(), spec.to_string()]);
        }
        Ok(args)
    }
}

/// The QEMU arguments that make the backend a device spec's `KEY=NAME` refers to (nothing
/// for keys that are not backends). Each is made once, before the first device using it.
/// Guest networking never leaves the guest: user mode with restrict=on.
fn backend(key: &str, name: &str, scratch: &Path) -> Result<Vec<String>> {
    let (option, value) = match key {
        "drive" => {
            let path = scratch.join(format!("{name}.img"));
            let file = std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
            file.set_len(DISK_BYTES)?;
            ("-drive", format!("if=none,id={name},format=raw,file={}", path.display()))
        }
        "fsdev" => {
            let dir = scratch.join(name);
            std::fs::create_dir_all(&dir)?;
            ("-fsdev", format!("local,id={name},path={},security_model=none,readonly=on", dir.display()))
        }
        "netdev" => ("-netdev", format!("user,id={name},restrict=on")),
        "audiodev" => ("-audiodev", format!("none,id={name}")),
        // Not `null`: QEMU keeps a USB serial device detached until its backend is open.
        chardev if chardev.starts_with("chardev") => ("-chardev", format!("ringbuf,id={name}")),
        "memdev" => ("-object", format!("memory-backend-ram,id={name},size={MEMDEV}")),
        "cryptodev" => ("-object", format!("cryptodev-backend-builtin,id={name}")),
        "canbus" => ("-object", format!("can-bus,id={name}")),
        "bmc" => ("-device", format!("ipmi-bmc-sim,id={name}")),
        _ => return Ok(Vec::new()),
    };
    Ok(vec![option.to_string(), value])
}

/// How a disk with a given image is attached, each on a controller of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiskBus {
    VirtioBlk,
    /// An AHCI controller's first port.
    Sata,
    Nvme,
    /// A usb-storage stick on an xhci controller: the disk appears once both drivers load.
    Usb,
}

/// QEMU arguments attaching `image` (a raw disk image, written to) as disk number `n`.
pub fn disk_args(bus: DiskBus, n: usize, image: &Path) -> Vec<String> {
    let drive = format!("disk{n}");
    let devices = match bus {
        DiskBus::VirtioBlk => vec![format!("virtio-blk-pci,drive={drive}")],
        DiskBus::Sata => vec![format!("ahci,id=ahci-{drive}"), format!("ide-hd,drive={drive},bus=ahci-{drive}.0")],
        DiskBus::Nvme => vec![format!("nvme,drive={drive},serial=modinit-{drive}")],
        DiskBus::Usb => {
            vec![format!("qemu-xhci,id=xhci-{drive}"), format!("usb-storage,drive={drive},bus=xhci-{drive}.0")]
        }
    };
    let mut args = vec!["-drive".to_string(), format!("if=none,id={drive},format=raw,file={}", image.display())];
    for device in devices {
        args.extend(["-device".to_string(), device]);
    }
    args
}
