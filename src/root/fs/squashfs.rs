//! squashfs 4 (what Linux mounts): recognized by its magic and version; it has neither UUID
//! nor label.

use super::{FsIdentity, FsType};
use crate::root::read::{ReadAt, ReadError, le16, read_exact};

const MAGIC: &[u8; 4] = b"hsqs";
const VERSION_MAJOR: usize = 28;

pub(super) fn probe<R: ReadAt + ?Sized>(dev: &mut R) -> Result<Option<FsIdentity>, ReadError> {
    let mut sb = [0u8; 32];
    if !read_exact(dev, 0, &mut sb)? || &sb[..4] != MAGIC || le16(&sb, VERSION_MAJOR) < 4 {
        return Ok(None);
    }
    Ok(Some(FsIdentity::new(FsType::Squashfs)))
}
