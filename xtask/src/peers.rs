//! Debian's initramfs generators as peers: initramfs-tools' `mkinitramfs` (MODULES=most) and
//! `dracut --no-hostonly`, building images for the harness's kernel on this machine.
//!
//! Both read the kernel's modules from /lib/modules/VERSION and its config from
//! /boot/config-VERSION (mkinitramfs has no option for either). They run in a private mount
//! namespace (`unshare --mount`) where an overlay on /lib (writes go to a scratch directory)
//! gets /lib/modules/VERSION bind-mounted from the depmod'd tree, and /boot is the kernel
//! package's boot/: the host's own directories are never written.
//! Each image is built once, under target/peers/PACKAGE-VERSION/KERNEL.img.

use crate::kernel::Kernel;
use crate::tools::{self, DRACUT, MKINITRAMFS, Tool, UNSHARE};
use anyhow::{Context, Result, bail};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// An initramfs generator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Generator {
    /// Debian's default: `mkinitramfs` with MODULES=most and the other settings as Debian ships them.
    InitramfsTools,
    /// `dracut --no-hostonly` with no configuration but its defaults.
    Dracut,
}

/// initramfs.conf as Debian ships it (the comments left out), and no resume device: the
/// host's /etc/initramfs-tools is not read.
const INITRAMFS_CONF: &str = "MODULES=most\nBUSYBOX=auto\nKEYMAP=n\nCOMPRESS=zstd\nDEVICE=\nNFSROOT=auto\n\
                              RUNSIZE=10%\nFSTYPE=auto\nRESUME=none\n";

/// The script run in the private mount namespace: `$1` the module tree, `$2` its version,
/// `$3` the kernel's boot directory, `$4` an empty scratch directory; then the command. The
/// host's /boot must exist (as a mount point; it is hidden, not written).
const KERNEL_VIEW: &str = r#"set -e
tree=$1 version=$2 boot=$3 scratch=$4
shift 4
lib=$(readlink -f /lib)
mkdir "$scratch/upper" "$scratch/work"
mount -t overlay overlay -o "lowerdir=$lib,upperdir=$scratch/upper,workdir=$scratch/work" "$lib"
mkdir -p "$lib/modules/$version"
mount --bind "$tree" "$lib/modules/$version"
mount --bind "$boot" /boot
exec "$@"
"#;

impl Generator {
    pub const ALL: [Generator; 2] = [Generator::InitramfsTools, Generator::Dracut];

    pub fn name(self) -> &'static str {
        match self {
            Generator::InitramfsTools => "initramfs-tools (MODULES=most)",
            Generator::Dracut => "dracut --no-hostonly",
        }
    }

    fn tool(self) -> &'static Tool {
        match self {
            Generator::InitramfsTools => &MKINITRAMFS,
            Generator::Dracut => &DRACUT,
        }
    }

    /// The installed version of the generator's package, e.g. `0.142+deb12u3`.
    pub fn version(self) -> Result<String> {
        let package = self.tool().package;
        let out = Command::new("dpkg-query").args(["-W", "-f=${Version}", package]).output()?;
        let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if !out.status.success() || version.is_empty() {
            bail!("dpkg-query: {package} is not installed");
        }
        Ok(version)
    }

    /// The generator's command line writing `out` for `version`, with its configuration in
    /// `conf` (an empty directory to fill).
    fn command(self, version: &str, conf: &Path, out: &Path) -> Result<Vec<String>> {
        let path = |p: &Path| p.to_str().map(str::to_string).with_context(|| format!("{}: not UTF-8", p.display()));
        Ok(match self {
            Generator::InitramfsTools => {
                for dir in ["conf.d", "hooks", "scripts"] {
                    fs::create_dir_all(conf.join(dir))?;
                }
                fs::write(conf.join("initramfs.conf"), INITRAMFS_CONF)?;
                fs::write(conf.join("modules"), "")?;
                vec!["mkinitramfs".into(), "-d".into(), path(conf)?, "-o".into(), path(out)?, version.into()]
            }
            Generator::Dracut => {
                fs::write(conf.join("dracut.conf"), "")?;
                fs::create_dir_all(conf.join("dracut.conf.d"))?;
                let mut args: Vec<String> =
                    ["dracut", "--no-hostonly", "--force", "--kver", version].map(String::from).into();
                args.extend(["--conf".into(), path(&conf.join("dracut.conf"))?]);
                args.extend(["--confdir".into(), path(&conf.join("dracut.conf.d"))?, path(out)?]);
                args
            }
        })
    }
}

/// The dracut modules (its units of features, not kernel modules) the dracut image `image`
/// holds, from the `*** Including module: NAME ***` lines of its build log; dracut takes
/// those whose programs are installed, e.g. `systemd` wherever systemd is.
pub fn dracut_modules(image: &Path) -> Vec<String> {
    let log = fs::read_to_string(image.with_extension("log")).unwrap_or_default();
    let names = log.lines().filter_map(|l| l.split("*** Including module: ").nth(1)?.strip_suffix(" ***"));
    names.map(str::to_string).collect()
}

/// The image `generator` makes for `kernel`, built on the first call (a minute or so) and
/// cached under target/peers/ by kernel and generator version. The generator's output is kept
/// next to it (`.log`).
pub fn image(generator: Generator, kernel: &Kernel) -> Result<PathBuf> {
    tools::ensure_without_recommends(&[generator.tool(), &UNSHARE])?;
    let dir =
        crate::paths::target_dir().join("peers").join(format!("{}-{}", generator.tool().package, generator.version()?));
    let image = dir.join(format!("{}.img", kernel.version));
    if image.is_file() {
        return Ok(image);
    }
    fs::create_dir_all(&dir)?;
    let boot = kernel.vmlinuz.parent().context("the kernel image's directory")?;
    let config = boot.join(format!("config-{}", kernel.version));
    if !config.is_file() {
        bail!("{}: missing; {} needs the kernel's config next to its image", config.display(), generator.name());
    }
    let root = crate::kmod::indexed_root(&kernel.modules)?;
    let tree = root.join("lib/modules").join(&kernel.version);
    let scratch = tempfile::tempdir()?;
    let conf = tempfile::tempdir()?;
    // Written aside and renamed into place: an interrupted build is never taken as done.
    let partial = image.with_extension("partial");
    let log = image.with_extension("log");
    eprintln!("xtask: building the {} image for {} (log: {})", generator.name(), kernel.version, log.display());
    let out = Command::new(UNSHARE.program)
        .args(["--mount", "--propagation", "private", "sh", "-c", KERNEL_VIEW, "sh"])
        .arg(&tree)
        .arg(&kernel.version)
        .arg(boot)
        .arg(scratch.path())
        .args(generator.command(&kernel.version, conf.path(), &partial)?)
        .output()
        .with_context(|| format!("running {}", UNSHARE.program))?;
    fs::write(&log, [out.stdout.as_slice(), out.stderr.as_slice()].concat())?;
    if !out.status.success() || !partial.is_file() {
        let text = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = text.lines().rev().take(5).collect();
        bail!("{} failed ({}); see {}: {}", generator.name(), out.status, log.display(), tail.join(" / "));
    }
    fs::rename(&partial, &image)?;
    Ok(image)
}
