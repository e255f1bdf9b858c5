//! A writer for the kernel's initramfs format: cpio "newc" (Documentation/driver-api/early-userspace/buffer-format.rst).
//!
//! Output is reproducible: entries are written in path order with inode numbers counted from 1,
//! owner root, and one mtime for all (0 unless set).

use std::collections::BTreeMap;
use std::io::{self, Write};

/// What an entry of the archive is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Dir,
    File(Vec<u8>),
    Symlink(String),
    CharDev { major: u32, minor: u32 },
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    node: Node,
    /// Permission bits (the file type comes from `node`).
    perm: u32,
}

/// An archive being assembled: a map from path (without leading `/`) to entry.
#[derive(Debug, Default, Clone)]
pub struct Archive {
    entries: BTreeMap<String, Entry>,
    mtime: u32,
}

const S_IFDIR: u32 = 0o040000;
const S_IFREG: u32 = 0o100000;
const S_IFLNK: u32 = 0o120000;
const S_IFCHR: u32 = 0o020000;

impl Archive {
    pub fn new() -> Archive {
        Archive::default()
    }

    /// Adds (or replaces) `path`, creating its parent directories (mode 0755) as needed.
    pub fn insert(&mut self, path: &str, node: Node, perm: u32) {
        let path = path.trim_start_matches('/').to_string();
        let mut parent = String::new();
        for part in path.split('/').collect::<Vec<_>>().split_last().map(|(_, dirs)| dirs).unwrap_or(&[]) {
            if !parent.is_empty() {
                parent.push('/');
            }
            parent.push_str(part);
            self.entries.entry(parent.clone()).or_insert(Entry { node: Node::Dir, perm: 0o755 });
        }
        self.entries.insert(path, Entry { node, perm });
    }

    pub fn remove(&mut self, path: &str) {
        self.entries.remove(path.trim_start_matches('/'));
    }

    pub fn contains(&self, path: &str) -> bool {
        self.entries.contains_key(path.trim_start_matches('/'))
    }

    /// The entry at `path`, if any.
    pub fn get(&self, path: &str) -> Option<&Node> {
        self.entries.get(path.trim_start_matches('/')).map(|e| &e.node)
    }

    /// The contents of the regular file `path`; None for anything else.
    pub fn file(&self, path: &str) -> Option<&[u8]> {
        match self.get(path)? {
            Node::File(bytes) => Some(bytes),
            _ => None,
        }
    }

    /// Every path (without leading `/`), in order.
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }

    /// The modification time of every entry, in seconds since 1970.
    pub fn set_mtime(&mut self, seconds: u32) {
        self.mtime = seconds;
    }

    /// Writes the archive's tree into the existing directory `dir` (for `mkfs -d`); files get
    /// their permissions, device nodes are refused (a disk's /dev is the kernel's devtmpfs).
    pub fn extract_to(&self, dir: &std::path::Path) -> io::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        for (path, entry) in &self.entries {
            let dest = dir.join(path);
            match &entry.node {
                Node::Dir => std::fs::create_dir_all(&dest)?,
                Node::File(bytes) => std::fs::write(&dest, bytes)?,
                Node::Symlink(target) => std::os::unix::fs::symlink(target, &dest)?,
                Node::CharDev { .. } => {
                    return Err(io::Error::other(format!("{path}: device nodes are not extracted")));
                }
            }
            if !matches!(entry.node, Node::Symlink(_)) {
                std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(entry.perm))?;
            }
        }
        Ok(())
    }

    /// Writes the archive in newc format, ending with the TRAILER!!! entry.
    pub fn write_to(&self, out: &mut impl Write) -> io::Result<u64> {
        let mut written = 0;
        for (ino, (path, entry)) in self.entries.iter().enumerate() {
            let (kind, data, rdev): (u32, &[u8], (u32, u32)) = match &entry.node {
                Node::Dir => (S_IFDIR, &[], (0, 0)),
                Node::File(bytes) => (S_IFREG, bytes, (0, 0)),
                Node::Symlink(target) => (S_IFLNK, target.as_bytes(), (0, 0)),
                Node::CharDev { major, minor } => (S_IFCHR, &[], (*major, *minor)),
            };
            let nlink = if kind == S_IFDIR { 2 } else { 1 };
            let header = Header { ino: ino as u32 + 1, mode: kind | entry.perm, nlink, mtime: self.mtime, rdev };
            written += write_entry(out, &header, path, data)?;
        }
        let trailer = Header { ino: 0, mode: 0, nlink: 1, mtime: 0, rdev: (0, 0) };
        written += write_entry(out, &trailer, "TRAILER!!!", &[])?;
        Ok(written)
    }
}

/// The fields of a newc header that vary (owner, group and device are 0).
struct Header {
    ino: u32,
    mode: u32,
    nlink: u32,
    mtime: u32,
    rdev: (u32, u32),
}

fn write_entry(out: &mut impl Write, h: &Header, name: &str, data: &[u8]) -> io::Result<u64> {
    let size = u32::try_from(data.len()).map_err(|_| io::Error::other(format!("{name}: larger than 4 GiB")))?;
    let (rmajor, rminor) = h.rdev;
    let fields = [h.ino, h.mode, 0, 0, h.nlink, h.mtime, size, 0, 0, rmajor, rminor, name.len() as u32 + 1, 0];
    let mut header = String::with_capacity(110);
    header.push_str("070701");
    for f in fields {
        header.push_str(&format!("{f:08x}"));
    }
    out.write_all(header.as_bytes())?;
    out.write_all(name.as_bytes())?;
    out.write_all(&[0])?;
    let name_end = 110 + name.len() + 1;
    let name_pad = pad4(name_end);
    out.write_all(&[0; 3][..name_pad])?;
    out.write_all(data)?;
    let data_pad = pad4(data.len());
    out.write_all(&[0; 3][..data_pad])?;
    Ok((name_end + name_pad + data.len() + data_pad) as u64)
}

fn pad4(n: usize) -> usize {
    (4 - n % 4) % 4
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// GNU cpio, an independent reader, lists exactly what we wrote, with types and targets.
    #[test]
    fn gnu_cpio_reads_it_back() {
        let Ok(_) = Command::new("cpio").arg("--version").output() else {
            panic!("this test needs GNU cpio (apt-get install cpio)");
        };
        let mut a = Archive::new();
        a.insert("/init", Node::File(b"#!/bin/sh\n".to_vec()), 0o755);
        a.insert("/dev/console", Node::CharDev { major: 5, minor: 1 }, 0o600);
        a.insert("/lib/modules/6.1/kernel/a.ko", Node::File(vec![7; 1001]), 0o644);
        a.insert("/bin/sh", Node::Symlink("busybox".into()), 0o777);
        let mut bytes = Vec::new();
        let n = a.write_to(&mut bytes).unwrap();
        assert_eq!(n as usize, bytes.len());
        assert_eq!(bytes.len() % 4, 0);

        let dir = std::env::temp_dir().join(format!("modinit-cpio-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let archive = dir.join("a.cpio");
        std::fs::write(&archive, &bytes).unwrap();
        let out = Command::new("cpio").args(["-itv", "-F"]).arg(&archive).output().unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let listing = String::from_utf8(out.stdout).unwrap();
        let lines: Vec<(&str, &str)> = listing
            .lines()
            .map(|l| (l.split_whitespace().next().unwrap(), l.rsplit("Jan  1  1970 ").next().unwrap()))
            .collect();
        assert_eq!(
            lines,
            vec![
                ("drwxr-xr-x", "bin"),
                ("lrwxrwxrwx", "bin/sh -> busybox"),
                ("drwxr-xr-x", "dev"),
                ("crw-------", "dev/console"),
                ("-rwxr-xr-x", "init"),
                ("drwxr-xr-x", "lib"),
                ("drwxr-xr-x", "lib/modules"),
                ("drwxr-xr-x", "lib/modules/6.1"),
                ("drwxr-xr-x", "lib/modules/6.1/kernel"),
                ("-rw-r--r--", "lib/modules/6.1/kernel/a.ko"),
            ]
        );
    }
}
