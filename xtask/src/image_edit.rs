//! Changing the module tree of an image before it boots, for fault-injection scenarios: keep
//! only a few modules (and what they need), replace, damage or remove a module file, rebuild
//! the index over what is left, or change the index itself.
//!
//! Module names are matched as kmod matches them (`-` and `_` are the same).

use crate::cpio::{Archive, Node};
use crate::module_tree::{self, ModuleCompression};
use anyhow::{Context, Result, bail};
use modinit::decompress::Compression;
use std::path::Path;

/// The name of the index file in the modules dir.
pub const INDEX_FILE: &str = "modinit.idx";

/// The image's `lib/modules/VERSION` directory (the one holding an index).
pub fn modules_dir(a: &Archive) -> Result<String> {
    let mut dirs = a.paths().filter(|p| p.starts_with("lib/modules/") && p.ends_with(&format!("/{INDEX_FILE}")));
    let index = dirs.next().context("the image has no module index")?;
    if dirs.next().is_some() {
        bail!("the image has more than one module tree");
    }
    Ok(index.trim_end_matches(INDEX_FILE).trim_end_matches('/').to_string())
}

/// The index file's path in the image.
pub fn index_path(a: &Archive) -> Result<String> {
    Ok(format!("{}/{INDEX_FILE}", modules_dir(a)?))
}

fn normalized(name: &str) -> String {
    name.replace('-', "_")
}

/// The path in the image of module `name`'s file (any compression).
pub fn module_file(a: &Archive, name: &str) -> Result<String> {
    let dir = modules_dir(a)?;
    a.paths()
        .filter(|p| p.starts_with(&dir))
        .find(|p| {
            let file = p.rsplit('/').next().unwrap_or(p);
            Compression::of_file_name(file.as_bytes())
                .is_some_and(|(stem, _)| normalized(&String::from_utf8_lossy(stem)) == normalized(name))
        })
        .map(str::to_string)
        .with_context(|| format!("no module {name} in the image"))
}

/// The bytes of a regular file of the image.
pub fn file(a: &Archive, path: &str) -> Result<Vec<u8>> {
    a.file(path).map(<[u8]>::to_vec).with_context(|| format!("{path}: not a file of the image"))
}

/// Module `name`'s ELF image (its file decompressed).
pub fn module_image(a: &Archive, name: &str) -> Result<Vec<u8>> {
    let path = module_file(a, name)?;
    module_tree::decompressed(Path::new(&path), file(a, &path)?)
}

/// Replaces module `name`'s file by one stored as `stored` (which may change its suffix) with
/// contents `bytes`, as is: they need not be valid.
pub fn put_module(a: &mut Archive, name: &str, stored: ModuleCompression, bytes: Vec<u8>) -> Result<String> {
    let old = module_file(a, name)?;
    let stem = module_tree::module_stem(&old).with_context(|| format!("{old}: not a module file"))?.to_string();
    a.remove(&old);
    let new = format!("{stem}{}", stored.suffix());
    a.insert(&new, Node::File(bytes), 0o644);
    Ok(new)
}

/// Removes module `name`'s file from the image (the index still names it until [`reindex`]).
pub fn remove_module(a: &mut Archive, name: &str) -> Result<()> {
    let path = module_file(a, name)?;
    a.remove(&path);
    Ok(())
}

/// Every module file under `dir` in the image.
fn module_paths(a: &Archive, dir: &str) -> Vec<String> {
    a.paths()
        .filter(|p| p.starts_with(&format!("{dir}/")) && module_tree::module_stem(p).is_some())
        .filter(|p| matches!(a.get(p), Some(Node::File(_))))
        .map(str::to_string)
        .collect()
}

/// Rebuilds the image's index from the module files it now holds (without modprobe.d or
/// modules-load.d configuration). Files that are not valid modules are indexed by name only,
/// as depmod keeps them.
pub fn reindex(a: &mut Archive) -> Result<()> {
    reindex_with_config(a, None)
}

/// As [`reindex`], with the modprobe.d and modules-load.d under `config_root` baked in (and
/// copied in, for the toolbox).
pub fn reindex_with_config(a: &mut Archive, config_root: Option<&Path>) -> Result<()> {
    if let Some(root) = config_root {
        crate::initramfs::add_configuration(a, root)?;
    }
    let dir = modules_dir(a)?;
    let release = dir.rsplit('/').next().unwrap_or(&dir).to_string();
    let mut modules = Vec::new();
    for path in module_paths(a, &dir) {
        let rel = path.strip_prefix(&format!("{dir}/")).unwrap_or(&path).to_string();
        modules.push((rel, file(a, &path)?));
    }
    let tree_file = |name: &str| file(a, &format!("{dir}/{name}")).ok();
    let built = crate::index::build_index_of_files(&release, &modules, &tree_file, config_root)?;
    a.insert(&format!("{dir}/{INDEX_FILE}"), Node::File(built.bytes), 0o644);
    Ok(())
}

/// Applies `change` to the bytes of the file at `path`.
pub fn change_file(a: &mut Archive, path: &str, change: impl FnOnce(&mut Vec<u8>)) -> Result<()> {
    let mut bytes = file(a, path)?;
    change(&mut bytes);
    a.insert(path, Node::File(bytes), 0o644);
    Ok(())
}

/// Makes the header's checksum of the index `file` match its contents again, after a change
/// that is to be taken for a valid index.
pub fn reseal_index(file: &mut [u8]) {
    use modinit::index::format::{HEADER_LEN, OFF_CHECKSUM};
    if let Some(body) = file.get(HEADER_LEN..) {
        let checksum = modinit::crc32::checksum(body);
        file[OFF_CHECKSUM..OFF_CHECKSUM + 4].copy_from_slice(&checksum.to_le_bytes());
    }
}

/// The zstd frame `frame` (one frame, no dictionary, its content size recorded) with a
/// header that declares a window of 2^`window_log` bytes instead: what `zstd --long=N` or
/// `--ultra -22` writes. The blocks are unchanged and still decode.
pub fn zstd_declaring_window(frame: &[u8], window_log: u8) -> Result<Vec<u8>> {
    let descriptor = *frame.get(4).context("not a zstd frame")?;
    let single_segment = descriptor & 0x20 != 0;
    if descriptor & 0b11 != 0 || !(10..=41).contains(&window_log) {
        bail!("a frame with a dictionary, or a window zstd cannot declare");
    }
    let mut at = 5 + usize::from(!single_segment);
    let size_len = [usize::from(single_segment), 2, 4, 8][usize::from(descriptor >> 6)];
    let size_bytes = frame.get(at..at + size_len).context("truncated frame header")?;
    let mut size = [0u8; 8];
    size[..size_len].copy_from_slice(size_bytes);
    let content_size = u64::from_le_bytes(size) + if size_len == 2 { 256 } else { 0 };
    if size_len == 0 {
        bail!("the frame does not record its content size");
    }
    at += size_len;
    // Frame_Content_Size_flag 3 (8 bytes), not a single segment, the checksum flag kept.
    let mut out = frame[..4].to_vec();
    out.push(0xc0 | (descriptor & 0x04));
    out.push((window_log - 10) << 3);
    out.extend(content_size.to_le_bytes());
    out.extend(&frame[at..]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image() -> Archive {
        let mut a = Archive::new();
        a.insert("lib/modules/6.1-t/modinit.idx", Node::File(vec![]), 0o644);
        a.insert("lib/modules/6.1-t/kernel/net/dummy.ko.zst", Node::File(b"zst".to_vec()), 0o644);
        a.insert("lib/modules/6.1-t/kernel/fs/fat/vfat.ko", Node::File(b"elf".to_vec()), 0o644);
        a
    }

    #[test]
    fn finds_and_replaces_modules_by_name() {
        let mut a = image();
        assert_eq!(modules_dir(&a).unwrap(), "lib/modules/6.1-t");
        assert_eq!(module_file(&a, "dummy").unwrap(), "lib/modules/6.1-t/kernel/net/dummy.ko.zst");
        assert!(module_file(&a, "dumm").is_err());
        let new = put_module(&mut a, "dummy", ModuleCompression::Gz, b"gz".to_vec()).unwrap();
        assert_eq!(new, "lib/modules/6.1-t/kernel/net/dummy.ko.gz");
        assert!(!a.contains("lib/modules/6.1-t/kernel/net/dummy.ko.zst"));
        remove_module(&mut a, "vfat").unwrap();
        assert!(module_file(&a, "vfat").is_err());
    }

    /// libzstd decodes the rewritten frame to the same bytes, and only when allowed its window.
    #[test]
    fn a_frame_declaring_a_larger_window_still_decodes() {
        let plain: Vec<u8> = (0..100_000u32).flat_map(|i| (i % 251).to_le_bytes()).collect();
        let frame = zstd::bulk::compress(&plain, 3).unwrap();
        let big = zstd_declaring_window(&frame, 28).unwrap();
        let mut decoder = zstd::stream::Decoder::new(&big[..]).unwrap();
        decoder.window_log_max(28).unwrap();
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut decoder, &mut out).unwrap();
        assert_eq!(out, plain);
        assert_eq!(zstd::zstd_safe::get_frame_content_size(&big).ok(), Some(Some(plain.len() as u64)));
        assert!(
            zstd::stream::Decoder::new(&big[..])
                .map(|d| std::io::Read::read_to_end(&mut { d }, &mut Vec::new()))
                .unwrap()
                .is_err(),
            "over libzstd's default window limit (2^27): the window is declared"
        );
    }
}
