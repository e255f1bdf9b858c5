//! Provisioning a real Debian kernel: vmlinuz and its module tree, cached under target/.
//!
//! The version is resolved from the `linux-image-<flavour>` meta package each time the cache
//! is empty (never pinned: the mirror moves with security updates), then the matching
//! `-unsigned` image package is downloaded and unpacked with `dpkg -x`.

use crate::module_tree::ModuleCompression;
use crate::tools::{self, APT_GET, DPKG, run};
use anyhow::{Context, Result, bail};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// An unpacked kernel: its image and its `lib/modules/VERSION` directory.
#[derive(Debug, Clone)]
pub struct Kernel {
    pub version: String,
    pub vmlinuz: PathBuf,
    pub modules: PathBuf,
}

/// The flavour of Debian kernel to use by default.
pub const DEFAULT_FLAVOUR: &str = "amd64";

/// Marks an unpacked tree as complete (an interrupted unpack is redone).
const COMPLETE: &str = ".complete";

/// The kernel cache: `target/kernel/`.
pub fn cache_dir() -> PathBuf {
    crate::paths::target_dir().join("kernel")
}

/// Returns the cached kernel of `flavour`, downloading and unpacking it when there is none.
pub fn provision(flavour: &str) -> Result<Kernel> {
    if let Some(kernel) = cached(flavour)? {
        return Ok(kernel);
    }
    tools::ensure(&[&APT_GET, &DPKG])?;
    let download = cache_dir().join("download");
    fs::create_dir_all(&download)?;
    let meta = format!("linux-image-{flavour}");
    let meta_deb = apt_download(&meta, &download)?;
    let image = image_package(&meta_deb, flavour)?;
    let deb = apt_download(&format!("{image}-unsigned"), &download)?;
    let root = cache_dir().join(&image);
    if root.exists() {
        fs::remove_dir_all(&root)?;
    }
    eprintln!("xtask: unpacking {}", deb.display());
    run(Command::new("dpkg").arg("-x").arg(&deb).arg(&root))?;
    fs::write(root.join(COMPLETE), b"")?;
    fs::remove_dir_all(&download)?;
    from_root(&root)?.with_context(|| format!("{} holds no kernel", deb.display()))
}

/// The newest complete unpacked tree of `flavour` in the cache.
fn cached(flavour: &str) -> Result<Option<Kernel>> {
    let Ok(entries) = fs::read_dir(cache_dir()) else { return Ok(None) };
    let suffix = format!("-{flavour}");
    let mut roots: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.starts_with("linux-image-") && name.ends_with(&suffix) && p.join(COMPLETE).exists()
        })
        .collect();
    roots.sort();
    match roots.last() {
        Some(root) => from_root(root),
        None => Ok(None),
    }
}

/// Finds boot/vmlinuz-VER and lib/modules/VER in an unpacked package.
pub fn from_root(root: &Path) -> Result<Option<Kernel>> {
    let Ok(boot) = fs::read_dir(root.join("boot")) else { return Ok(None) };
    for entry in boot {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if let Some(version) = name.strip_prefix("vmlinuz-") {
            let modules = root.join("lib/modules").join(version);
            if modules.is_dir() {
                return Ok(Some(Kernel { version: version.to_string(), vmlinuz: path.clone(), modules }));
            }
        }
    }
    Ok(None)
}

/// A kernel given by the user: `--kernel VMLINUZ` and `--modules DIR` (lib/modules/VER).
pub fn from_paths(vmlinuz: &Path, modules: &Path) -> Result<Kernel> {
    if !vmlinuz.is_file() {
        bail!("--kernel {}: no such file", vmlinuz.display());
    }
    if !modules.is_dir() {
        bail!("--modules {}: no such directory", modules.display());
    }
    let version = modules
        .file_name()
        .and_then(|n| n.to_str())
        .with_context(|| format!("--modules {}: expected a lib/modules/VERSION directory", modules.display()))?
        .to_string();
    Ok(Kernel { version, vmlinuz: vmlinuz.to_path_buf(), modules: modules.to_path_buf() })
}

/// The Debian package `package` (e.g. a peer to compare with) unpacked with `dpkg -x` under
/// target/packages/PACKAGE/, downloaded once.
pub fn debian_package(package: &str) -> Result<PathBuf> {
    let root = crate::paths::target_dir().join("packages").join(package);
    if root.join(COMPLETE).exists() {
        return Ok(root);
    }
    tools::ensure(&[&APT_GET, &DPKG])?;
    let download = root.with_extension("download");
    fs::create_dir_all(&download)?;
    let deb = apt_download(package, &download)?;
    if root.exists() {
        fs::remove_dir_all(&root)?;
    }
    run(Command::new("dpkg").arg("-x").arg(&deb).arg(&root))?;
    fs::write(root.join(COMPLETE), b"")?;
    fs::remove_dir_all(&download)?;
    Ok(root)
}

/// `apt-get download PACKAGE` into `dir`; returns the .deb's path.
fn apt_download(package: &str, dir: &Path) -> Result<PathBuf> {
    eprintln!("xtask: apt-get download {package}");
    let mut cmd = Command::new("apt-get");
    cmd.arg("download").arg(package).current_dir(dir);
    if let Err(first) = run(&mut cmd) {
        // A fresh machine may have no package lists yet.
        eprintln!("xtask: {first:#}; running apt-get update and retrying");
        run(Command::new("apt-get").arg("update").arg("-qq"))?;
        run(&mut cmd)?;
    }
    let prefix = format!("{package}_");
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with(&prefix) && name.ends_with(".deb") {
            return Ok(path);
        }
    }
    bail!("apt-get download {package} left no .deb in {}", dir.display())
}

/// The versioned image package the meta package depends on, e.g. linux-image-6.1.0-56-amd64.
fn image_package(meta_deb: &Path, flavour: &str) -> Result<String> {
    let out = Command::new("dpkg-deb").arg("-f").arg(meta_deb).arg("Depends").output()?;
    let depends = String::from_utf8_lossy(&out.stdout);
    depends
        .split(',')
        .map(|d| d.split_whitespace().next().unwrap_or(""))
        .find(|name| name.starts_with("linux-image-") && name.ends_with(&format!("-{flavour}")))
        .map(str::to_string)
        .with_context(|| format!("{}: no linux-image-*-{flavour} in Depends: {depends}", meta_deb.display()))
}

/// The kernel config line that makes the kernel unpack an initramfs compressed as
/// `compression`; None for an uncompressed one.
pub fn unpacker_config(compression: ModuleCompression) -> Option<&'static str> {
    match compression {
        ModuleCompression::None => None,
        ModuleCompression::Gz => Some("CONFIG_RD_GZIP=y"),
        ModuleCompression::Zst => Some("CONFIG_RD_ZSTD=y"),
    }
}

/// Whether the kernel of the module tree `modules` (a lib/modules/VERSION directory) unpacks
/// an initramfs compressed as `compression`, from its config's CONFIG_RD_GZIP / CONFIG_RD_ZSTD:
/// the config next to its image in an unpacked package (ROOT/boot/config-VERSION beside
/// ROOT/lib/modules/VERSION), else /boot/config-VERSION. None when no config is found.
pub fn unpacks(modules: &Path, compression: ModuleCompression) -> Option<bool> {
    let Some(symbol) = unpacker_config(compression) else { return Some(true) };
    let version = modules.file_name()?.to_str()?;
    let config = format!("boot/config-{version}");
    let beside = modules.ancestors().nth(3).map(|root| root.join(&config));
    let text = beside.into_iter().chain([Path::new("/").join(&config)]).find_map(|p| fs::read_to_string(p).ok())?;
    Some(text.lines().any(|l| l == symbol))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_beside_the_tree_says_which_initramfs_compressions_unpack() {
        let root = tempfile::tempdir().unwrap();
        let modules = root.path().join("lib/modules/9.9.9-test");
        fs::create_dir_all(&modules).unwrap();
        fs::create_dir_all(root.path().join("boot")).unwrap();
        assert_eq!(unpacks(&modules, ModuleCompression::Gz), None, "no config");
        assert_eq!(unpacks(&modules, ModuleCompression::None), Some(true));
        fs::write(root.path().join("boot/config-9.9.9-test"), "CONFIG_RD_GZIP=y\n# CONFIG_RD_ZSTD is not set\n")
            .unwrap();
        assert_eq!(unpacks(&modules, ModuleCompression::Gz), Some(true));
        assert_eq!(unpacks(&modules, ModuleCompression::Zst), Some(false));
    }
}
