//! The host programs the harness needs, installed with apt-get when missing.

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

fn install_missing(tools: &[&Tool], options: &str) -> Result<()> {
    let missing: Vec<&str> = tools
        .iter()
        .filter(|t| !on_path(t.program) && !std::path::Path::new(&format!("/usr/sbin/{}", t.program)).is_file())
        .map(|t| t.package)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let install = format!("apt-get update && apt-get install -y {options}{}", missing.join(" "));
    if !is_root() {
        bail!("missing host packages; run as root: {install}");
    }
    eprintln!("xtask: installing {}", missing.join(" "));
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
