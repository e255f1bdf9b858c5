//! Where things are: the workspace, its target directory, the fixtures.

use std::path::PathBuf;

/// The workspace root (the directory holding the top Cargo.toml).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace").to_path_buf()
}

/// The cargo target directory (`CARGO_TARGET_DIR` or `target/`).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| workspace_root().join("target"))
}

/// A file of qemu/guest/, installed in guest images.
pub fn guest(name: &str) -> PathBuf {
    workspace_root().join("qemu/guest").join(name)
}

/// The guest test init (a busybox script) installed as /sbin/init in test images.
pub fn guest_init() -> PathBuf {
    guest("report-init")
}

/// The reference coldplug loop with kmod's modprobe, installed as /init in reference images.
pub fn kmod_coldplug() -> PathBuf {
    guest("kmod-coldplug")
}

/// The guest script that prints every modalias, installed as /sbin/init by the modalias census.
pub fn modalias_census() -> PathBuf {
    guest("modalias-census")
}

/// The committed corpus of real device modaliases that `cargo xtask modaliases` writes for the
/// kernel `version` (one per major.minor release: the devices a kernel makes differ, e.g. 6.12's
/// `vga-framebuffer` platform device).
pub fn modalias_corpus(version: &str) -> PathBuf {
    let major_minor: Vec<&str> = version.split(|c: char| !c.is_ascii_digit()).take(2).collect();
    workspace_root().join(format!("tests/fixtures/modaliases/qemu-debian-{}.txt", major_minor.join(".")))
}

/// Held while a cache under target/ is made, so that tests running in parallel threads do not
/// build the same converted tree or kmod root at once.
pub fn cache_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    #[test]
    fn each_kernel_release_has_its_own_modalias_corpus() {
        let name = |version: &str| super::modalias_corpus(version).file_name().unwrap().to_str().unwrap().to_string();
        assert_eq!(name("6.1.0-57-amd64"), "qemu-debian-6.1.txt");
        assert_eq!(name("6.12.117+deb13-amd64"), "qemu-debian-6.12.txt");
    }
}
