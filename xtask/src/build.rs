//! Building the modinit boot binary.

use anyhow::{Context, Result, bail};
use std::path::PathBuf;
use std::process::Command;

/// Builds `modinit` in release mode and returns its path and size.
pub fn modinit_release() -> Result<(PathBuf, u64)> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let status = Command::new(cargo)
        .args(["build", "--quiet", "--release", "--package", "modinit", "--bin", "modinit"])
        .current_dir(crate::paths::workspace_root())
        .status()
        .context("running cargo build")?;
    if !status.success() {
        bail!("building modinit failed ({status})");
    }
    let path = crate::paths::target_dir().join("release/modinit");
    let size = std::fs::metadata(&path).with_context(|| format!("{}", path.display()))?.len();
    Ok((path, size))
}
