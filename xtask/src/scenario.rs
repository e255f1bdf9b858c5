//! A boot scenario: an image, a command line and a machine, booted once and judged by what
//! the console shows. The QEMU tests and `cargo xtask run` are built from these.

use crate::cpio::{Archive, Node};
use crate::initramfs::{self, ImageSpec, ModuleCompression, ModuleStorage};
use crate::kernel::{self, Kernel};
use crate::machine::{DiskBus, Machine};
use crate::qemu::{Boot, Outcome};
use crate::select::{ModuleChoice, Selection};
use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

/// What every scenario boots with: a kernel and the modinit binary.
#[derive(Debug, Clone)]
pub struct Setup {
    pub kernel: Kernel,
    pub modinit: PathBuf,
}

/// The setup from the environment, made once per process:
/// `MODINIT_KERNEL` + `MODINIT_MODULES` name a kernel (else Debian 12's is provisioned),
/// `MODINIT_BIN` a prebuilt modinit (else it is built).
pub fn setup() -> Result<&'static Setup> {
    static SETUP: OnceLock<Setup> = OnceLock::new();
    if let Some(s) = SETUP.get() {
        return Ok(s);
    }
    let kernel = match (std::env::var_os("MODINIT_KERNEL"), std::env::var_os("MODINIT_MODULES")) {
        (Some(k), Some(m)) => kernel::from_paths(k.as_ref(), m.as_ref())?,
        _ => kernel::provision(kernel::Release::Debian12, kernel::DEFAULT_FLAVOUR)?,
    };
    let modinit = match std::env::var_os("MODINIT_BIN") {
        Some(bin) => PathBuf::from(bin),
        None => crate::build::modinit_release()?.0,
    };
    Ok(SETUP.get_or_init(|| Setup { kernel, modinit }))
}

/// modinit as /init and the guest test init as /sbin/init, with the module tree `modules` (if
/// any) stored with `compression`: the image scenarios start from, open to changes.
pub fn modinit_image(modules: Option<PathBuf>, compression: impl Into<ModuleStorage>) -> Result<ImageSpec> {
    let setup = setup()?;
    Ok(ImageSpec::new(setup.modinit.clone(), Some(crate::paths::guest_init()), modules, compression))
}

/// The image of [`Scenario::with_device_modules`], open to changes (e.g. a config root).
pub fn device_modules_image(compression: impl Into<ModuleStorage>, extra: &[&str]) -> Result<ImageSpec> {
    let select = ModuleChoice {
        selection: Selection::HostAll,
        modaliases: Some(crate::paths::modalias_corpus(&setup()?.kernel.version)),
        add: extra.iter().map(|s| s.to_string()).collect(),
        ..ModuleChoice::default()
    };
    Ok(ImageSpec { select, ..modinit_image(Some(setup()?.kernel.modules.clone()), compression)? })
}

/// The directory for one scenario's image, disks and console log.
pub fn work_dir(name: &str) -> PathBuf {
    crate::paths::target_dir().join("qemu").join(name)
}

pub struct Scenario {
    pub name: String,
    /// The image, open to changes before booting.
    pub image: Archive,
    pub append: String,
    pub machine: Machine,
    /// The CPU model; None for QEMU's default.
    pub cpu: Option<String>,
    pub boot_timeout: Duration,
    /// Guest memory; an image of plain modules (400 MB) needs more than the default.
    pub memory_mib: u32,
    pub stop_on: Vec<String>,
    pub type_after: Option<(String, String)>,
    /// Disk images attached besides the machine's own devices, in this order.
    pub disks: Vec<(DiskBus, PathBuf)>,
    /// QEMU arguments after the machine's devices (e.g. `-smbios` strings).
    pub qemu_args: Vec<String>,
}

impl Scenario {
    /// modinit as /init and the guest test init as /sbin/init, no modules, bare machine.
    pub fn new(name: &str) -> Result<Scenario> {
        Scenario::with_modules(name, None)
    }

    /// As [`Scenario::new`], plus the kernel's module tree stored with `compression`.
    pub fn with_modules(name: &str, compression: Option<ModuleCompression>) -> Result<Scenario> {
        let setup = setup()?;
        let modules = compression.map(|_| setup.kernel.modules.clone());
        Scenario::with_image(name, &modinit_image(modules, compression.unwrap_or(ModuleCompression::None))?)
    }

    /// As [`Scenario::with_modules`], with only the drivers of every device of the QEMU
    /// machines, whatever their class (`--select host-all` of the committed corpus of their
    /// modaliases, [`crate::paths::modalias_corpus`]), and `extra` modules: a smaller image
    /// that boots faster than the whole tree and loads what kmod loads with the whole tree.
    pub fn with_device_modules(name: &str, compression: impl Into<ModuleStorage>, extra: &[&str]) -> Result<Scenario> {
        Scenario::with_image(name, &device_modules_image(compression, extra)?)
    }

    /// A scenario booting the image `spec` describes (see [`modinit_image`]), bare machine.
    pub fn with_image(name: &str, spec: &ImageSpec) -> Result<Scenario> {
        Ok(Scenario {
            name: name.to_string(),
            image: initramfs::assemble(spec)?,
            append: String::new(),
            machine: Machine::Bare,
            cpu: None,
            boot_timeout: Duration::from_secs(240),
            memory_mib: 1024,
            stop_on: Vec::new(),
            type_after: None,
            disks: Vec::new(),
            qemu_args: Vec::new(),
        })
    }

    /// The reference: kmod's modprobe in a coldplug loop as /init (qemu/guest/kmod-coldplug),
    /// with the module tree stored as kmod reads it ([`crate::kmod::readable_storage`]) and
    /// kmod's own indexes for it, then the guest test init.
    pub fn kmod_reference(name: &str) -> Result<Scenario> {
        Scenario::kmod_reference_of(name, ModuleChoice::default())
    }

    /// As [`Scenario::kmod_reference`], with only the modules `select` chooses in the image,
    /// and depmod's indexes of those.
    pub fn kmod_reference_of(name: &str, select: ModuleChoice) -> Result<Scenario> {
        let setup = setup()?;
        let storage = crate::kmod::readable_storage(&setup.kernel.modules)?;
        let stored = crate::module_tree::stored_as(&setup.kernel.modules, storage)?;
        let modules = Some(crate::kmod::indexed_tree(&stored)?);
        let spec = ImageSpec {
            select,
            ..ImageSpec::new(
                crate::paths::kmod_coldplug(),
                Some(crate::paths::guest_init()),
                modules,
                ModuleStorage::Keep,
            )
        };
        let mut image = initramfs::assemble(&spec)?;
        if spec.select != ModuleChoice::default() {
            crate::kmod::reindex_image(&mut image, &setup.kernel.version)?;
        }
        crate::kmod::add_modprobe(&mut image)?;
        Ok(Scenario { image, ..Scenario::new(name)? })
    }

    /// As [`Scenario::with_modules`], with only the modules `names` (names or aliases) and what
    /// loading them needs: a smaller image boots faster.
    pub fn with_module_subset(name: &str, compression: impl Into<ModuleStorage>, names: &[&str]) -> Result<Scenario> {
        let select = ModuleChoice {
            selection: Selection::Names(names.iter().map(|n| n.to_string()).collect()),
            ..ModuleChoice::default()
        };
        let spec = ImageSpec { select, ..modinit_image(Some(setup()?.kernel.modules.clone()), compression)? };
        Scenario::with_image(name, &spec)
    }

    fn prepare(&self) -> Result<Boot> {
        let setup = setup()?;
        let dir = work_dir(&self.name);
        std::fs::create_dir_all(&dir)?;
        let initrd = dir.join("initramfs.cpio");
        initramfs::write(&self.image, &initrd, ModuleCompression::None)?;
        let mut boot = Boot::new(&setup.kernel.vmlinuz, &initrd, &dir.join("console.log"));
        boot.append = self.append.clone();
        boot.devices = self.machine.qemu_args(&dir.join("disks"))?;
        for (n, (bus, image)) in self.disks.iter().enumerate() {
            boot.devices.extend(crate::machine::disk_args(*bus, n, image));
        }
        boot.devices.extend(self.qemu_args.iter().cloned());
        boot.cpu = self.cpu.clone();
        boot.timeout = self.boot_timeout;
        boot.memory_mib = self.memory_mib;
        boot.stop_on = self.stop_on.clone();
        boot.type_after = self.type_after.clone();
        Ok(boot)
    }

    /// Boots with the console on this terminal.
    pub fn run_interactive(&self) -> Result<()> {
        self.prepare()?.run_interactive()
    }

    /// Boots with the console captured and returns what it showed.
    pub fn boot(&self) -> Result<Report> {
        let outcome = self.prepare()?.run().with_context(|| format!("booting scenario {}", self.name))?;
        Ok(Report::new(outcome))
    }
}

/// What a boot showed: the console, and the guest test init's `guest: KEY=VALUE` lines.
#[derive(Debug)]
pub struct Report {
    pub outcome: Outcome,
    pub guest: BTreeMap<String, String>,
}

/// `text` from a kernel console line `[    1.234567] text`; other lines unchanged.
fn strip_kernel_timestamp(line: &str) -> &str {
    line.strip_prefix('[')
        .and_then(|rest| rest.split_once("] "))
        .filter(|(ts, _)| {
            ts.trim_start().split_once('.').is_some_and(|(s, us)| s.parse::<u64>().is_ok() && us.len() == 6)
        })
        .map_or(line, |(_, text)| text)
}

/// Has the guest test init (qemu/guest/report-init) run `commands` first, shell lines in order,
/// each reported as `command.N` (N from 1) with its exit status.
pub fn guest_commands(image: &mut Archive, commands: &[&str]) {
    image.insert("etc/guest-commands", Node::File(lines(commands)), 0o644);
}

/// Has the guest test init report what the files at `paths` hold, each as `file.PATH`.
pub fn guest_report(image: &mut Archive, paths: &[&str]) {
    image.insert("etc/guest-report", Node::File(lines(paths)), 0o644);
}

fn lines(items: &[&str]) -> Vec<u8> {
    items.iter().flat_map(|item| [*item, "\n"]).collect::<String>().into_bytes()
}

/// Console text that means the kernel lost PID 1 or crashed.
pub const PANIC_MARKERS: [&str; 2] = ["Kernel panic", "Attempted to kill init"];

impl Report {
    /// The report of a boot that ran `outcome` (a scenario's, or a [`Boot`] of an image made
    /// elsewhere).
    pub fn new(outcome: Outcome) -> Report {
        let guest = outcome
            .console
            .lines()
            .filter_map(|l| l.strip_prefix("guest: "))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Report { outcome, guest }
    }

    pub fn guest(&self, key: &str) -> Option<&str> {
        self.guest.get(key).map(String::as_str)
    }

    /// modinit's own lines, without the `modinit: ` prefix. modinit prints some itself and
    /// leaves others to the kernel, which puts its `[seconds] ` timestamp first.
    pub fn modinit_lines(&self) -> Vec<&str> {
        self.outcome.console.lines().map(strip_kernel_timestamp).filter_map(|l| l.strip_prefix("modinit: ")).collect()
    }

    /// Kernel records modinit copied to the console: (level, text) from `[ts] <level> text`.
    pub fn streamed_kernel_lines(&self) -> Vec<(&str, &str)> {
        self.outcome
            .console
            .lines()
            .filter(|l| l.starts_with('['))
            .map(strip_kernel_timestamp)
            .filter_map(|l| l.strip_prefix('<')?.split_once("> "))
            .collect()
    }

    /// Fails (with the console's path) if the kernel panicked or PID 1 died.
    pub fn check_no_panic(&self) -> Result<(), String> {
        match PANIC_MARKERS.iter().find(|m| self.outcome.console.contains(*m)) {
            Some(m) => Err(format!("console shows {m:?}; see {}", self.outcome.log.display())),
            None => Ok(()),
        }
    }
}
