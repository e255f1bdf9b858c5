//! Finding and opening the module index: `/lib/modules/RELEASE/modinit.idx`, mapped once.

use super::log::{error, warning};
use core::ffi::CStr;
use modinit::errno::Describe;
use modinit::index::Index;
use modinit::line::Bytes;
use rustix::fs::{Mode, OFlags, fstat, open};
use rustix::mm::{MapFlags, ProtFlags, mmap};

/// Room for `/lib/modules/` + a release (at most 64 bytes, `__NEW_UTS_LEN`) + a file name.
pub const PATH_MAX: usize = 128;

/// The module directory of the running kernel, `/lib/modules/RELEASE`, with room after it.
pub struct ModulesDir {
    buf: [u8; PATH_MAX],
    len: usize,
}

impl ModulesDir {
    pub fn of_running_kernel() -> ModulesDir {
        let uname = rustix::system::uname();
        let mut dir = ModulesDir { buf: [0; PATH_MAX], len: 0 };
        for part in [&b"/lib/modules/"[..], uname.release().to_bytes()] {
            dir.buf[dir.len..dir.len + part.len()].copy_from_slice(part);
            dir.len += part.len();
        }
        dir
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// `DIR/rel` as a C string in `out`; None when it does not fit.
    pub fn join<'b>(&self, rel: &[u8], out: &'b mut [u8]) -> Option<&'b CStr> {
        let total = self.len + 1 + rel.len();
        if rel.contains(&0) || total >= out.len() {
            return None;
        }
        out[..self.len].copy_from_slice(self.as_bytes());
        out[self.len] = b'/';
        out[self.len + 1..total].copy_from_slice(rel);
        out[total] = 0;
        CStr::from_bytes_with_nul(&out[..=total]).ok()
    }
}

/// Maps and checks the index; None, with the reason on the console, when it cannot be used.
pub fn open_index(dir: &ModulesDir) -> Option<Index<'static>> {
    let mut buf = [0u8; PATH_MAX + 16];
    let path = dir.join(b"modinit.idx", &mut buf)?;
    let fd = match open(path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()) {
        Ok(fd) => fd,
        Err(e) => {
            error!("no module index: {}: {}; no drivers are loaded", Bytes(path.to_bytes()), Describe(e.raw_os_error()));
            return None;
        }
    };
    let len = match fstat(&fd) {
        Ok(st) if st.st_size > 0 => st.st_size as usize,
        Ok(_) => {
            error!("{}: empty file; no drivers are loaded", Bytes(path.to_bytes()));
            return None;
        }
        Err(e) => {
            error!("cannot stat {}: {}", Bytes(path.to_bytes()), Describe(e.raw_os_error()));
            return None;
        }
    };
    // SAFETY: a new read-only private mapping at an address the kernel picks: it aliases no
    // Rust object.
    let mapped = unsafe { mmap(core::ptr::null_mut(), len, ProtFlags::READ, MapFlags::PRIVATE, &fd, 0) };
    let bytes: &'static [u8] = match mapped {
        // SAFETY: `len` readable bytes at `p`, never unmapped and never written (the file is
        // the initramfs's own), so the slice is valid for the life of the process.
        Ok(p) => unsafe { core::slice::from_raw_parts(p.cast::<u8>(), len) },
        Err(e) => {
            error!("cannot map {}: {}", Bytes(path.to_bytes()), Describe(e.raw_os_error()));
            return None;
        }
    };
    match Index::open(bytes) {
        Ok(index) => {
            let release = rustix::system::uname();
            if index.kernel_release() != release.release().to_bytes() {
                warning!(
                    "{} was built for kernel {}, this is {}",
                    Bytes(path.to_bytes()),
                    Bytes(index.kernel_release()),
                    Bytes(release.release().to_bytes())
                );
            }
            Some(index)
        }
        Err(e) => {
            error!("{}: {e}; no drivers are loaded", Bytes(path.to_bytes()));
            None
        }
    }
}
