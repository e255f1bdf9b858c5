//! FAT12, FAT16 and FAT32, as libblkid's `probe_vfat()` reads them: the boot sector's
//! sanity checks, the volume serial as the UUID (`XXXX-XXXX`), and the label from the root
//! directory's volume entry (the boot sector's copy is blkid's LABEL_FATBOOT, not LABEL).

use super::{FsIdentity, FsType};
use crate::root::read::{ReadAt, ReadError, array, le16, le32, read_exact};
use crate::root::text::push_hex;

// Boot sector fields.
const SECTOR_SIZE: usize = 0x0b;
const CLUSTER_SIZE: usize = 0x0d;
const RESERVED: usize = 0x0e;
const FATS: usize = 0x10;
const DIR_ENTRIES: usize = 0x11;
const SECTORS: usize = 0x13;
const MEDIA: usize = 0x15;
const FAT_LENGTH: usize = 0x16;
const TOTAL_SECT: usize = 0x20;
const FAT32_LENGTH: usize = 0x24;
const FAT16_EXT_BOOT_SIGN: usize = 0x26;
const FAT16_SERNO: usize = 0x27;
const FAT16_MAGIC: usize = 0x36;
const FAT32_ROOT_CLUSTER: usize = 0x2c;
const FAT32_FSINFO_SECTOR: usize = 0x30;
const FAT32_SERNO: usize = 0x43;
const FAT32_MAGIC: usize = 0x52;

const FAT12_MAX: u32 = 0xff4;
const FAT16_MAX: u32 = 0xfff4;
const FAT32_MAX: u32 = 0x0fff_fff6;
const ENTRY: usize = 32;
const ATTR_VOLUME_ID: u8 = 0x08;
const ATTR_DIR: u8 = 0x10;
const ATTR_LONG_NAME: u8 = 0x0f;
/// blkid follows the FAT32 root directory's cluster chain this far.
const CHAIN_LIMIT: u32 = 99;

/// blkid's magics: (offset, bytes). The short ones (a jump opcode, the 0x55AA signature)
/// need the further checks of [`fat_valid`].
const MAGICS: &[(usize, &[u8])] = &[
    (FAT32_MAGIC, b"MSWIN"),
    (FAT32_MAGIC, b"FAT32   "),
    (FAT16_MAGIC, b"MSDOS"),
    (FAT16_MAGIC, b"FAT16   "),
    (FAT16_MAGIC, b"FAT12   "),
    (FAT16_MAGIC, b"FAT     "),
    (0, b"\xeb"),
    (0, b"\xe9"),
    (0x1fe, b"\x55\xaa"),
];

pub(super) fn probe<R: ReadAt + ?Sized>(dev: &mut R) -> Result<Option<FsIdentity>, ReadError> {
    let mut bs = [0u8; 512];
    if !read_exact(dev, 0, &mut bs)? {
        return Ok(None);
    }
    let Some(&(_, magic)) = MAGICS.iter().find(|(at, m)| bs.get(*at..*at + m.len()) == Some(m)) else {
        return Ok(None);
    };
    let Some(geometry) = fat_valid(&bs, magic.len() <= 2) else { return Ok(None) };
    let mut id = FsIdentity::new(FsType::Vfat);
    let (label, serial) = if le16(&bs, FAT_LENGTH) != 0 {
        let root = (u64::from(geometry.reserved) + u64::from(geometry.fat_size)) * u64::from(geometry.sector_size);
        let label = volume_label(dev, root, u32::from(le16(&bs, DIR_ENTRIES)))?;
        let sign = bs[FAT16_EXT_BOOT_SIGN];
        (label, matches!(sign, 0x28 | 0x29).then(|| array::<4>(&bs, FAT16_SERNO)))
    } else if le32(&bs, FAT32_LENGTH) != 0 {
        let label = fat32_volume_label(dev, &bs, &geometry)?;
        if !fsinfo_valid(dev, &bs, &geometry)? {
            return Ok(None);
        }
        (label, Some(array::<4>(&bs, FAT32_SERNO)))
    } else {
        (None, None)
    };
    if let Some(label) = label {
        id.set_label(&label);
    }
    if let Some(s) = serial.filter(|s| s.iter().any(|&b| b != 0)) {
        push_hex(&mut id.uuid, &[s[3], s[2]], true);
        id.uuid.push(b'-');
        push_hex(&mut id.uuid, &[s[1], s[0]], true);
    }
    Ok(Some(id))
}

struct Geometry {
    sector_size: u16,
    reserved: u16,
    /// Sectors of all FATs.
    fat_size: u32,
}

/// blkid's `fat_valid_superblock()`, with its 32-bit arithmetic.
fn fat_valid(bs: &[u8; 512], short_magic: bool) -> Option<Geometry> {
    if short_magic
        && (bs[0x1fe..] != [0x55, 0xaa] || matches!(&bs[FAT16_MAGIC..FAT16_MAGIC + 8], b"JFS     " | b"HPFS    "))
    {
        return None;
    }
    // BitLocker volumes carry a FAT-like boot sector (blkid also reads their metadata block
    // to be sure; the signature is enough to leave them alone).
    if &bs[3..11] == b"-FVE-FS-" {
        return None;
    }
    let (fats, media, cluster_size) = (bs[FATS], bs[MEDIA], bs[CLUSTER_SIZE]);
    let (sector_size, reserved) = (le16(bs, SECTOR_SIZE), le16(bs, RESERVED));
    if fats == 0 || reserved == 0 || !(media >= 0xf8 || media == 0xf0) || !cluster_size.is_power_of_two() {
        return None;
    }
    if !sector_size.is_power_of_two() || !(512..=4096).contains(&sector_size) {
        return None;
    }
    let sectors = match le16(bs, SECTORS) {
        0 => le32(bs, TOTAL_SECT),
        n => u32::from(n),
    };
    let fat16_length = le16(bs, FAT_LENGTH);
    let fat_length = if fat16_length == 0 { le32(bs, FAT32_LENGTH) } else { u32::from(fat16_length) };
    let fat_size = fat_length.wrapping_mul(u32::from(fats));
    let dir_size = (u32::from(le16(bs, DIR_ENTRIES)) * ENTRY as u32).div_ceil(u32::from(sector_size));
    let overhead = u32::from(reserved).wrapping_add(fat_size).wrapping_add(dir_size);
    let clusters = sectors.wrapping_sub(overhead) / u32::from(cluster_size);
    let max = if fat16_length == 0 && le32(bs, FAT32_LENGTH) != 0 {
        FAT32_MAX
    } else if clusters > FAT12_MAX {
        FAT16_MAX
    } else {
        FAT12_MAX
    };
    (clusters <= max).then_some(Geometry { sector_size, reserved, fat_size })
}

/// The name of the first volume-label entry among the `entries` directory entries at
/// `offset` (blkid's `search_fat_label()`); the scan stops at an end marker or the end of
/// the device.
fn volume_label<R: ReadAt + ?Sized>(dev: &mut R, offset: u64, entries: u32) -> Result<Option<[u8; 11]>, ReadError> {
    let mut entry = [0u8; ENTRY];
    for i in 0..u64::from(entries) {
        if !read_exact(dev, offset + i * ENTRY as u64, &mut entry)? || entry[0] == 0 {
            break;
        }
        let attr = entry[11];
        let cluster = le16(&entry, 20) | le16(&entry, 26);
        if entry[0] == 0xe5 || cluster != 0 || attr & 0x3f == ATTR_LONG_NAME {
            continue;
        }
        if attr & (ATTR_VOLUME_ID | ATTR_DIR) == ATTR_VOLUME_ID {
            let mut name = array::<11>(&entry, 0);
            // A name starting with 0xE5 is stored as 0x05 (0xE5 marks free entries).
            if name[0] == 0x05 {
                name[0] = 0xe5;
            }
            return Ok(Some(name));
        }
    }
    Ok(None)
}

/// The volume label in the FAT32 root directory, whose clusters are followed through the
/// first FAT for at most [`CHAIN_LIMIT`] clusters.
fn fat32_volume_label<R: ReadAt + ?Sized>(
    dev: &mut R,
    bs: &[u8; 512],
    g: &Geometry,
) -> Result<Option<[u8; 11]>, ReadError> {
    let cluster_size = u32::from(bs[CLUSTER_SIZE]);
    let sector_size = u32::from(g.sector_size);
    let cluster_bytes = cluster_size * sector_size;
    let data_start = u32::from(g.reserved).wrapping_add(g.fat_size);
    // blkid keeps this count in 32 bits.
    let fat_entries = (u64::from(le32(bs, FAT32_LENGTH)) * u64::from(sector_size) / 4) as u32;
    let mut next = le32(bs, FAT32_ROOT_CLUSTER);
    let mut left = CHAIN_LIMIT;
    while next != 0 && next < fat_entries && left > 0 {
        left -= 1;
        let sector = u64::from(data_start) + u64::from(next.wrapping_sub(2).wrapping_mul(cluster_size));
        if let Some(label) = volume_label(dev, sector * u64::from(sector_size), cluster_bytes / ENTRY as u32)? {
            return Ok(Some(label));
        }
        // blkid reads a cluster's worth at the FAT entry and gives up if that fails.
        let fat_entry = u64::from(g.reserved) * u64::from(sector_size) + u64::from(next) * 4;
        let mut value = [0u8; 4];
        if !read_exact(dev, fat_entry, &mut value)?
            || !read_exact(dev, fat_entry + u64::from(cluster_bytes) - 1, &mut [0])?
        {
            break;
        }
        next = u32::from_le_bytes(value) & 0x0fff_ffff;
    }
    Ok(None)
}

/// FAT32's FSInfo sector has its two signatures, or zeros there.
fn fsinfo_valid<R: ReadAt + ?Sized>(dev: &mut R, bs: &[u8; 512], g: &Geometry) -> Result<bool, ReadError> {
    let sector = le16(bs, FAT32_FSINFO_SECTOR);
    if sector == 0 {
        return Ok(true);
    }
    let mut fsinfo = [0u8; 512];
    if !read_exact(dev, u64::from(sector) * u64::from(g.sector_size), &mut fsinfo)? {
        return Ok(false);
    }
    let lead = matches!(&fsinfo[..4], b"RRaA" | b"RRdA" | b"\0\0\0\0");
    let struct_sig = matches!(&fsinfo[484..488], b"rrAa" | b"\0\0\0\0");
    Ok(lead && struct_sig)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A FAT12 boot sector (1 reserved sector, 2 FATs of 1 sector, 16 root entries, so the
    /// root directory is sector 3) and its root directory `entries`.
    fn fat12(ext_boot_sign: u8, entries: &[[u8; 32]]) -> Vec<u8> {
        let mut image = vec![0u8; 8 * 512];
        image[..3].copy_from_slice(b"\xeb\x3c\x90");
        image[SECTOR_SIZE..SECTOR_SIZE + 2].copy_from_slice(&512u16.to_le_bytes());
        image[CLUSTER_SIZE] = 1;
        image[RESERVED] = 1;
        image[FATS] = 2;
        image[DIR_ENTRIES] = 16;
        image[SECTORS..SECTORS + 2].copy_from_slice(&64u16.to_le_bytes());
        image[MEDIA] = 0xf8;
        image[FAT_LENGTH] = 1;
        image[FAT16_EXT_BOOT_SIGN] = ext_boot_sign;
        image[FAT16_SERNO..FAT16_SERNO + 4].copy_from_slice(&[0xef, 0xbe, 0xad, 0xde]);
        image[0x2b..0x36].copy_from_slice(b"BOOTSECTOR ");
        image[FAT16_MAGIC..FAT16_MAGIC + 8].copy_from_slice(b"FAT12   ");
        image[0x1fe..0x200].copy_from_slice(&[0x55, 0xaa]);
        for (i, e) in entries.iter().enumerate() {
            image[3 * 512 + 32 * i..][..32].copy_from_slice(e);
        }
        image
    }

    fn entry(name: &[u8; 11], attr: u8, cluster: u16) -> [u8; 32] {
        let mut e = [0u8; 32];
        e[..11].copy_from_slice(name);
        e[11] = attr;
        e[26..28].copy_from_slice(&cluster.to_le_bytes());
        e
    }

    fn identity(image: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
        let id = probe(&mut &image[..]).unwrap()?;
        Some((id.uuid.as_bytes().to_vec(), id.label.as_bytes().to_vec()))
    }

    #[test]
    fn the_label_is_the_root_directorys_volume_entry() {
        let entries = [
            entry(b"\xe5DELETED   ", ATTR_VOLUME_ID, 0),
            entry(b"LONG NAME  ", ATTR_LONG_NAME, 0),
            entry(b"FILE    TXT", 0x20, 5),
            entry(b"\x05LABEL     ", ATTR_VOLUME_ID | 0x20, 0),
            entry(b"SECOND     ", ATTR_VOLUME_ID, 0),
        ];
        assert_eq!(identity(&fat12(0x29, &entries)), Some((b"DEAD-BEEF".to_vec(), b"\xe5LABEL".to_vec())));
        // No volume entry: no LABEL (the boot sector's is blkid's LABEL_FATBOOT).
        assert_eq!(identity(&fat12(0x29, &entries[2..3])), Some((b"DEAD-BEEF".to_vec(), Vec::new())));
        // An end marker before the label ends the search.
        let ended = [entry(b"FILE    TXT", 0x20, 5), [0; 32], entries[3]];
        assert_eq!(identity(&fat12(0x29, &ended)).unwrap().1, b"");
    }

    #[test]
    fn the_serial_needs_an_extended_boot_signature() {
        assert_eq!(identity(&fat12(0x28, &[])).unwrap().0, b"DEAD-BEEF");
        assert_eq!(identity(&fat12(0, &[])), Some((Vec::new(), Vec::new())));
    }

    #[test]
    fn implausible_boot_sectors_are_not_fat() {
        let good = fat12(0x29, &[]);
        for (at, value, what) in [
            (FATS, 0, "no FAT"),
            (MEDIA, 0x12, "media"),
            (CLUSTER_SIZE, 3, "cluster size"),
            (SECTOR_SIZE + 1, 0x03, "sector size"),
        ] {
            let mut image = good.clone();
            image[at] = value;
            assert_eq!(identity(&image), None, "{what}");
        }
        let mut short_magic = good.clone();
        short_magic[FAT16_MAGIC..FAT16_MAGIC + 8].copy_from_slice(b"JFS     ");
        assert_eq!(identity(&short_magic), None, "JFS's FAT-like header");
        let mut bitlocker = good;
        bitlocker[3..11].copy_from_slice(b"-FVE-FS-");
        assert_eq!(identity(&bitlocker), None);
    }
}
