//! Disk images for root filesystems: an ext4 filesystem made by `mkfs.ext4 -d` from an
//! [`Archive`]'s tree, bare or inside a GPT partition table (made by `sfdisk`).

use crate::cpio::Archive;
use crate::tools::run;
use anyhow::{Context, Result, bail};
use std::fs;
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;
use std::process::Command;

/// Where the partition starts in a partitioned image, and the room left after it for the
/// backup GPT: 1 MiB each, as partitioning tools align.
const PARTITION_START: u64 = 1 << 20;

/// What identifies the filesystem and, in a partitioned image, its partition.
#[derive(Debug, Clone)]
pub struct Identity {
    pub uuid: String,
    pub label: String,
    /// In a GPT-partitioned image: the partition's GUID and name; None for a bare filesystem.
    pub partition: Option<(String, String)>,
}

/// Writes an image of `size_mib` MiB holding an ext4 filesystem with `tree`'s contents to `out`.
pub fn ext4(tree: &Archive, id: &Identity, size_mib: u64, out: &Path) -> Result<()> {
    let staging = tempfile::tempdir()?;
    tree.extract_to(staging.path())?;
    let fs_image = match id.partition {
        Some(_) => out.with_extension("fs"),
        None => out.to_path_buf(),
    };
    if fs_image.exists() {
        fs::remove_file(&fs_image)?;
    }
    let fs_bytes = (size_mib << 20) - if id.partition.is_some() { 2 * PARTITION_START } else { 0 };
    run(Command::new("mkfs.ext4")
        .args(["-q", "-F", "-U", &id.uuid, "-L", &id.label, "-d"])
        .arg(staging.path())
        .arg(&fs_image)
        .arg(format!("{}k", fs_bytes / 1024)))?;
    if let Some((guid, name)) = &id.partition {
        partitioned(&fs_image, guid, name, size_mib, out)?;
        fs::remove_file(&fs_image)?;
    }
    Ok(())
}

/// A GPT disk of `size_mib` MiB whose one Linux partition holds the bytes of `fs_image`.
fn partitioned(fs_image: &Path, guid: &str, name: &str, size_mib: u64, out: &Path) -> Result<()> {
    let filesystem = fs::read(fs_image).with_context(|| format!("reading {}", fs_image.display()))?;
    let mut disk = fs::File::create(out).with_context(|| format!("creating {}", out.display()))?;
    disk.set_len(size_mib << 20)?;
    let sectors = filesystem.len() as u64 / 512;
    let script = format!(
        "label: gpt\nstart={}, size={sectors}, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, uuid={guid}, name=\"{name}\"\n",
        PARTITION_START / 512
    );
    let mut sfdisk = Command::new("sfdisk")
        .args(["--quiet", "--no-reread", "--no-tell-kernel"])
        .arg(out)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .context("running sfdisk (package fdisk)")?;
    sfdisk.stdin.take().context("sfdisk's stdin")?.write_all(script.as_bytes())?;
    let status = sfdisk.wait()?;
    if !status.success() {
        bail!("sfdisk failed ({status}) on {}", out.display());
    }
    disk.seek(SeekFrom::Start(PARTITION_START))?;
    disk.write_all(&filesystem)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpio::Node;

    fn blkid(image: &Path, offset: Option<u64>) -> String {
        let mut cmd = Command::new("blkid");
        cmd.args(["-p", "-o", "export"]);
        if let Some(offset) = offset {
            cmd.arg(format!("--offset={offset}"));
        }
        String::from_utf8(cmd.arg(image).output().expect("blkid (package util-linux)").stdout).unwrap()
    }

    /// blkid, an independent reader, finds the identity we asked for, in a bare filesystem
    /// and inside the GPT partition; the tree's file is in the filesystem (debugfs reads it).
    #[test]
    fn blkid_sees_the_identity_and_debugfs_the_files() {
        let dir = tempfile::tempdir().unwrap();
        let mut tree = Archive::new();
        tree.insert("sbin/init", Node::File(b"#!/bin/sh\n".to_vec()), 0o755);
        let uuid = "6d0c7a4e-5f3b-4c2a-9e1d-2b7f8a9c0d31";
        let bare = Identity { uuid: uuid.into(), label: "root-test".into(), partition: None };
        let image = dir.path().join("bare.img");
        ext4(&tree, &bare, 8, &image).unwrap();
        let id = blkid(&image, None);
        assert!(
            id.contains(&format!("UUID={uuid}\n")) && id.contains("LABEL=root-test\n") && id.contains("TYPE=ext4\n"),
            "{id}"
        );
        let cat = Command::new("debugfs").args(["-R", "cat /sbin/init"]).arg(&image).output().unwrap();
        assert_eq!(cat.stdout, b"#!/bin/sh\n");

        let guid = "3f1e2d4c-7b6a-4958-8a7b-6c5d4e3f2a1b";
        let gpt = Identity { partition: Some((guid.into(), "part-test".into())), ..bare };
        let image = dir.path().join("gpt.img");
        ext4(&tree, &gpt, 8, &image).unwrap();
        assert!(blkid(&image, None).contains("PTTYPE=gpt\n"));
        let id = blkid(&image, Some(PARTITION_START));
        assert!(id.contains(&format!("UUID={uuid}\n")), "{id}");
        let parts = Command::new("sfdisk").arg("--json").arg(&image).output().unwrap();
        let parts = String::from_utf8(parts.stdout).unwrap().to_lowercase();
        assert!(parts.contains(guid) && parts.contains("part-test") && parts.contains("\"start\": 2048"), "{parts}");
    }
}
