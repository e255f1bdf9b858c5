//! The host programs and packages the harness and the tests need, installed with apt-get when
//! missing: [`ensure`] for one command's programs, [`ensure_test_packages`] for the whole suite.

use anyhow::{Context, Result, bail};
use std::process::Command;

/// A host program and the Debian package that provides it.
pub struct Tool {
    pub program: &'static str,
    pub package: &'static str,
}

pub const QEMU: Tool = Tool { program: "qemu-system-x86_64", package: "qemu-system-x86" };
pub const DPKG: Tool = Tool { program: "dpkg-deb", package: "dpkg" };
pub const APT_GET: Tool = Tool { program: "apt-get", package: "apt" };
pub const BUSYBOX: Tool = Tool { program: "busybox", package: "busybox-static" };
pub const DEPMOD: Tool = Tool { program: "depmod", package: "kmod" };
/// initramfs-tools' generator; the `initramfs-tools` package itself conflicts with dracut.
pub const MKINITRAMFS: Tool = Tool { program: "mkinitramfs", package: "initramfs-tools-core" };
/// dracut's generator; the `dracut` package itself conflicts with initramfs-tools.
pub const DRACUT: Tool = Tool { program: "dracut", package: "dracut-core" };
pub const UNSHARE: Tool = Tool { program: "unshare", package: "util-linux" };

/// Where busybox-static installs its binary; the guest uses it as its shell.
pub const BUSYBOX_STATIC: &str = "/bin/busybox";

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
        .unwrap_or(false)
}

/// Whether this process runs as root (installs packages, makes mount namespaces).
pub fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| o.stdout.starts_with(b"0\n")).unwrap_or(false)
}

/// Makes sure every tool is installed: with apt-get when running as root, otherwise stops
/// with the command to run.
pub fn ensure(tools: &[&Tool]) -> Result<()> {
    install_missing(tools, "")
}

/// As [`ensure`], without the packages' recommendations: for the initramfs generators, whose
/// images take in whatever else is installed (dracut-core recommends lvm2, mdadm, cryptsetup, ...).
pub fn ensure_without_recommends(tools: &[&Tool]) -> Result<()> {
    install_missing(tools, "--no-install-recommends ")
}

/// A Debian package the test suite uses, and what for.
pub struct TestPackage {
    pub name: &'static str,
    pub used_for: &'static str,
}

const fn package(name: &'static str, used_for: &'static str) -> TestPackage {
    TestPackage { name, used_for }
}

/// Every package the tests use, beyond a minimal Debian 12 with gcc and the Rust toolchain.
/// `cargo xtask test` installs the missing ones first; a test that still finds its tool missing
/// fails naming it (`modinit_test_fixtures::unavailable`).
pub const TEST_PACKAGES: &[TestPackage] = &[
    package("qemu-system-x86", "booting the kernel (tests/qemu/)"),
    package("busybox-static", "the guest's shell and test init"),
    package("cpio", "unpacking the peers' images"),
    package("dpkg", "unpacking Debian's kernel package"),
    package("kmod", "depmod, modprobe and modinfo, the references of the differential tests"),
    package("libkmod-dev", "libkmod, the lookup oracle (tests/kmod_oracle.rs links it)"),
    package("pkg-config", "finding libkmod and zlib"),
    package("zlib1g-dev", "zlib, the gzip decoder's reference"),
    package("gzip", "compressing the decoder corpus"),
    package("zstd", "compressing the decoder corpus"),
    package("xz-utils", "xz-compressed modules for modinfo"),
    package("binutils", "nm and objcopy, the ELF readers' references"),
    package("linux-libc-dev", "linux/module.h, the kernel's module flags"),
    package("systemd", "systemd-modules-load, the modules-load.d reference"),
    package("util-linux", "dmesg, blkid, partx and unshare"),
    package("fdisk", "sfdisk, partition tables for root="),
    package("gdisk", "sgdisk, GPT tables for root="),
    package("e2fsprogs", "ext2/3/4 images"),
    package("xfsprogs", "xfs images"),
    package("btrfs-progs", "btrfs images"),
    package("dosfstools", "vfat images"),
    package("squashfs-tools", "squashfs images"),
    package("erofs-utils", "erofs images"),
    package("openssl", "signing modules for modinfo"),
];

/// The initramfs generators tests/peers.rs builds images with, installed without their
/// recommendations (dracut's image takes in whatever else is installed).
pub const TEST_GENERATORS: &[&Tool] = &[&MKINITRAMFS, &DRACUT];

/// Installs the packages of [`TEST_PACKAGES`] and [`TEST_GENERATORS`] that are missing.
pub fn ensure_test_packages() -> Result<()> {
    let missing: Vec<&TestPackage> = TEST_PACKAGES.iter().filter(|p| !is_installed(p.name)).collect();
    for p in &missing {
        eprintln!("xtask: the tests need {} ({})", p.name, p.used_for);
    }
    install(&missing.iter().map(|p| p.name).collect::<Vec<_>>(), "")?;
    ensure_without_recommends(TEST_GENERATORS)
}

/// Whether dpkg has `package` installed.
fn is_installed(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .output()
        .is_ok_and(|o| o.stdout.ends_with(b"install ok installed"))
}

fn install_missing(tools: &[&Tool], options: &str) -> Result<()> {
    let missing: Vec<&str> = tools
        .iter()
        .filter(|t| !on_path(t.program) && !std::path::Path::new(&format!("/usr/sbin/{}", t.program)).is_file())
        .map(|t| t.package)
        .collect();
    install(&missing, options)
}

/// Installs `packages` with apt-get (after refreshing its lists: on a fresh machine they are
/// empty) when running as root; otherwise stops with the command to run.
fn install(packages: &[&str], options: &str) -> Result<()> {
    if packages.is_empty() {
        return Ok(());
    }
    let install = format!("apt-get update && apt-get install -y {options}{}", packages.join(" "));
    if !is_root() {
        bail!("missing host packages; run as root: {install}");
    }
    eprintln!("xtask: installing {}", packages.join(" "));
    let status = Command::new("sh")
        .arg("-c")
        .arg(&install)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .context("running apt-get")?;
    if !status.success() {
        bail!("`{install}` failed ({status})");
    }
    Ok(())
}

/// Runs `cmd`; its stderr is the error when it fails.
pub fn run(cmd: &mut Command) -> Result<()> {
    let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    if !out.status.success() {
        bail!("{cmd:?} failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(())
}
