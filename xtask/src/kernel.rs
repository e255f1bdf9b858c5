//! Provisioning a real Debian kernel: vmlinuz and its module tree, cached under target/.
//!
//! Two Debian releases, whose kernels differ in what matters here: Debian 12's 6.1 ships plain
//! `.ko` files under lib/modules and cannot decompress a module itself; Debian 13's 6.12 ships
//! `.ko.xz` under usr/lib/modules (merged /usr) and decompresses them in the kernel. Each is
//! fetched with a private apt configuration under `target/kernel/debian-N/apt/` naming the host's
//! own Debian mirror, so the host's sources never change. The version is resolved from the
//! `linux-image-<flavour>` meta package each time the cache is empty (never pinned: the mirror
//! moves with security updates), then the matching `-unsigned` image package is downloaded and
//! unpacked with `dpkg -x`.

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

/// A Debian release whose kernel the harness fetches (`--kernel-release`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Release {
    /// Debian 12 (bookworm): Linux 6.1, plain `.ko` modules under lib/modules.
    #[value(name = "12")]
    Debian12,
    /// Debian 13 (trixie), the current stable: Linux 6.12, `.ko.xz` modules under
    /// usr/lib/modules, decompressed by the kernel itself.
    #[value(name = "13")]
    Debian13,
}

impl Release {
    /// The current stable release: what `cargo xtask run` boots by default.
    pub const CURRENT: Release = Release::Debian13;
    pub const ALL: [Release; 2] = [Release::Debian12, Release::Debian13];

    /// The release's number, as `--kernel-release` takes it.
    pub fn number(self) -> u8 {
        match self {
            Release::Debian12 => 12,
            Release::Debian13 => 13,
        }
    }

    /// The release's suite name in apt sources.
    fn suite(self) -> &'static str {
        match self {
            Release::Debian12 => "bookworm",
            Release::Debian13 => "trixie",
        }
    }

    /// Where its kernels are unpacked: `target/kernel/debian-N/`.
    pub fn cache_dir(self) -> PathBuf {
        cache_dir().join(format!("debian-{}", self.number()))
    }
}

/// The Debian kernel flavour to use by default.
pub const DEFAULT_FLAVOUR: &str = "amd64";

/// Marks an unpacked tree as complete (an interrupted unpack is redone).
const COMPLETE: &str = ".complete";

/// The kernel cache: `target/kernel/`.
pub fn cache_dir() -> PathBuf {
    crate::paths::target_dir().join("kernel")
}

/// Returns the cached kernel of `release` and `flavour`, downloading and unpacking it when there
/// is none.
pub fn provision(release: Release, flavour: &str) -> Result<Kernel> {
    let _cache = crate::paths::cache_lock();
    if let Some(kernel) = cached(release, flavour)? {
        return Ok(kernel);
    }
    tools::ensure(&[&APT_GET, &DPKG])?;
    let apt = PrivateApt::new(release)?;
    let download = release.cache_dir().join("download");
    fs::create_dir_all(&download)?;
    let meta_deb = apt.download(&format!("linux-image-{flavour}"), &download)?;
    let image = image_package(&meta_deb, flavour)?;
    let deb = apt.download(&format!("{image}-unsigned"), &download)?;
    let root = release.cache_dir().join(&image);
    if root.exists() {
        fs::remove_dir_all(&root)?;
    }
    eprintln!("xtask: unpacking {}", deb.display());
    run(Command::new("dpkg").arg("-x").arg(&deb).arg(&root))?;
    fs::write(root.join(COMPLETE), b"")?;
    fs::remove_dir_all(&download)?;
    from_root(&root)?.with_context(|| format!("{} holds no kernel", deb.display()))
}

/// The newest complete unpacked tree of `release` and `flavour` in the cache.
fn cached(release: Release, flavour: &str) -> Result<Option<Kernel>> {
    let Ok(entries) = fs::read_dir(release.cache_dir()) else { return Ok(None) };
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

/// Finds boot/vmlinuz-VER and its module tree, lib/modules/VER or usr/lib/modules/VER, in an
/// unpacked package.
pub fn from_root(root: &Path) -> Result<Option<Kernel>> {
    let Ok(boot) = fs::read_dir(root.join("boot")) else { return Ok(None) };
    for entry in boot {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if let Some(version) = name.strip_prefix("vmlinuz-") {
            let trees = ["lib/modules", "usr/lib/modules"].map(|dir| root.join(dir).join(version));
            if let Some(modules) = trees.into_iter().find(|tree| tree.is_dir()) {
                return Ok(Some(Kernel { version: version.to_string(), vmlinuz: path.clone(), modules }));
            }
        }
    }
    Ok(None)
}

/// apt with its own sources, package lists and cache under `target/kernel/debian-N/apt/`.
struct PrivateApt {
    options: Vec<String>,
}

impl PrivateApt {
    /// Writes a sources list of `release`'s suites on the host's Debian mirrors and fetches its
    /// package lists.
    fn new(release: Release) -> Result<PrivateApt> {
        let dir = release.cache_dir().join("apt");
        for sub in ["lists/partial", "cache/archives/partial"] {
            fs::create_dir_all(dir.join(sub))?;
        }
        let sources = dir.join("sources.list");
        fs::write(&sources, sources_list(release, &host_mirrors()?))?;
        let option = |key: &str, value: &Path| format!("{key}={}", value.display());
        let options = vec![
            option("Dir::Etc::sourcelist", &sources),
            option("Dir::Etc::sourceparts", Path::new("/nonexistent")),
            option("Dir::State::Lists", &dir.join("lists")),
            option("Dir::Cache", &dir.join("cache")),
            // The files land in a directory apt's sandbox user may not write to.
            "APT::Sandbox::User=root".to_string(),
        ];
        let apt = PrivateApt { options };
        eprintln!("xtask: fetching Debian {}'s package lists", release.number());
        run(&mut apt.command(&["update", "-qq"]))?;
        Ok(apt)
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("apt-get");
        for option in &self.options {
            cmd.arg("-o").arg(option);
        }
        cmd.args(args);
        cmd
    }

    /// `apt-get download PACKAGE` into `dir`; returns the .deb's path.
    fn download(&self, package: &str, dir: &Path) -> Result<PathBuf> {
        eprintln!("xtask: apt-get download {package}");
        run(self.command(&["download", package]).current_dir(dir))?;
        downloaded(package, dir)
    }
}

/// The host's Debian mirror and, when it has one, its security mirror: the URIs its apt sources
/// (one-line `.list` or deb822 `.sources` files) give for the main suites and `*-security`.
struct Mirrors {
    main: String,
    security: Option<String>,
}

fn host_mirrors() -> Result<Mirrors> {
    let mut texts = vec![fs::read_to_string("/etc/apt/sources.list").unwrap_or_default()];
    if let Ok(parts) = fs::read_dir("/etc/apt/sources.list.d") {
        let mut parts: Vec<PathBuf> = parts.flatten().map(|e| e.path()).collect();
        parts.sort();
        texts.extend(parts.iter().filter_map(|p| fs::read_to_string(p).ok()));
    }
    let entries: Vec<(String, Vec<String>)> = texts.iter().flat_map(|t| source_entries(t)).collect();
    let find = |security: bool| {
        entries
            .iter()
            .find(|(_, suites)| suites.iter().any(|s| s.ends_with("-security") == security))
            .map(|e| e.0.clone())
    };
    let main = find(false).context("no Debian mirror in /etc/apt/sources.list{,.d} to fetch a kernel from")?;
    Ok(Mirrors { main, security: find(true) })
}

/// The (URI, suites) of each `deb` entry in an apt sources file of either format.
fn source_entries(text: &str) -> Vec<(String, Vec<String>)> {
    let mut entries = Vec::new();
    // One-line format: `deb [options] URI SUITE COMPONENT...`.
    for line in text.lines().map(str::trim) {
        let mut words = line.split_whitespace().filter(|w| !w.starts_with('[') && !w.ends_with(']'));
        if words.next() == Some("deb")
            && let (Some(uri), Some(suite)) = (words.next(), words.next())
        {
            entries.push((uri.to_string(), vec![suite.to_string()]));
        }
    }
    // deb822 format: stanzas of `Field: value` lines, separated by blank lines.
    for stanza in text.split("\n\n") {
        let field = |name: &str| {
            stanza.lines().find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(':'))).map(str::trim)
        };
        if field("Types").is_some_and(|t| t.split_whitespace().any(|t| t == "deb"))
            && let (Some(uris), Some(suites)) = (field("URIs"), field("Suites"))
            && let Some(uri) = uris.split_whitespace().next()
        {
            entries.push((uri.to_string(), suites.split_whitespace().map(str::to_string).collect()));
        }
    }
    entries
}

/// The sources list for `release`'s kernels: its main, updates and security suites.
fn sources_list(release: Release, mirrors: &Mirrors) -> String {
    const KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";
    let suite = release.suite();
    let mut list = format!("deb [signed-by={KEYRING}] {} {suite} main\n", mirrors.main);
    list.push_str(&format!("deb [signed-by={KEYRING}] {} {suite}-updates main\n", mirrors.main));
    if let Some(security) = &mirrors.security {
        list.push_str(&format!("deb [signed-by={KEYRING}] {security} {suite}-security main\n"));
    }
    list
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

/// `apt-get download PACKAGE` with the host's sources into `dir`; returns the .deb's path.
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
    downloaded(package, dir)
}

/// The .deb of `package` that `apt-get download` left in `dir`.
fn downloaded(package: &str, dir: &Path) -> Result<PathBuf> {
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
        ModuleCompression::Xz => Some("CONFIG_RD_XZ=y"),
    }
}

/// Whether the kernel of the module tree `modules` unpacks an initramfs compressed as
/// `compression`, from its config ([`config_of`]). None when no config is found.
pub fn unpacks(modules: &Path, compression: ModuleCompression) -> Option<bool> {
    let Some(symbol) = unpacker_config(compression) else { return Some(true) };
    Some(config_of(modules)?.lines().any(|l| l == symbol))
}

/// The compression in which the kernel of `modules` decompresses a module file itself
/// (CONFIG_MODULE_DECOMPRESS with the CONFIG_MODULE_COMPRESS_* its modules were built with);
/// None when it does not, or no config is found.
pub fn decompresses_modules(modules: &Path) -> Option<ModuleCompression> {
    let config = config_of(modules)?;
    let set = |symbol: &str| config.lines().any(|l| l.strip_prefix(symbol) == Some("=y"));
    if !set("CONFIG_MODULE_DECOMPRESS") {
        return None;
    }
    [
        ("CONFIG_MODULE_COMPRESS_GZIP", ModuleCompression::Gz),
        ("CONFIG_MODULE_COMPRESS_XZ", ModuleCompression::Xz),
        ("CONFIG_MODULE_COMPRESS_ZSTD", ModuleCompression::Zst),
    ]
    .into_iter()
    .find_map(|(symbol, compression)| set(symbol).then_some(compression))
}

/// The config of the kernel whose module tree is `modules` (a `[usr/]lib/modules/VERSION`
/// directory): `boot/config-VERSION` beside the tree in an unpacked package (ROOT/boot next to
/// ROOT/lib/modules or ROOT/usr/lib/modules), else /boot/config-VERSION.
pub fn config_of(modules: &Path) -> Option<String> {
    let version = modules.file_name()?.to_str()?;
    let config = format!("boot/config-{version}");
    let beside = [3, 4].into_iter().filter_map(|up| modules.ancestors().nth(up)).map(|root| root.join(&config));
    beside.chain([Path::new("/").join(&config)]).find_map(|p| fs::read_to_string(p).ok())
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

    #[test]
    fn a_merged_usr_tree_finds_its_config_and_says_what_the_kernel_decompresses() {
        let root = tempfile::tempdir().unwrap();
        let modules = root.path().join("usr/lib/modules/9.9.9-test");
        fs::create_dir_all(&modules).unwrap();
        fs::create_dir_all(root.path().join("boot")).unwrap();
        assert_eq!(decompresses_modules(&modules), None, "no config");
        let config = root.path().join("boot/config-9.9.9-test");
        fs::write(&config, "CONFIG_MODULE_COMPRESS_XZ=y\nCONFIG_RD_XZ=y\n").unwrap();
        assert_eq!(decompresses_modules(&modules), None, "compressed, but not decompressed by the kernel");
        assert_eq!(unpacks(&modules, ModuleCompression::Xz), Some(true));
        fs::write(&config, "CONFIG_MODULE_COMPRESS_XZ=y\nCONFIG_MODULE_DECOMPRESS=y\n").unwrap();
        assert_eq!(decompresses_modules(&modules), Some(ModuleCompression::Xz));
    }

    #[test]
    fn mirrors_come_from_either_sources_format() {
        let deb822 = "Types: deb\n# a comment\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\n\n\
                      Types: deb\nURIs: http://security.example/debian-security\nSuites: bookworm-security\n";
        let one_line = "# deb http://old.example/debian sid main\ndeb [arch=amd64 signed-by=/k.gpg] http://m.example/d bookworm main\n";
        assert_eq!(
            source_entries(deb822),
            [
                (
                    "http://mirror.example/debian".to_string(),
                    vec!["bookworm".to_string(), "bookworm-updates".to_string()]
                ),
                ("http://security.example/debian-security".to_string(), vec!["bookworm-security".to_string()]),
            ]
        );
        assert_eq!(source_entries(one_line), [("http://m.example/d".to_string(), vec!["bookworm".to_string()])]);
        let mirrors = Mirrors { main: "http://m/d".into(), security: Some("http://s/ds".into()) };
        let list = sources_list(Release::Debian13, &mirrors);
        assert!(
            list.contains(" http://m/d trixie main\n") && list.contains(" http://s/ds trixie-security main\n"),
            "{list}"
        );
    }
}
