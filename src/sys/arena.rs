//! The boot binary's heap: a bump arena over one region, mapped on first use, for ruzstd's
//! buffers (the xz decoder's dictionary is its output, gzip's too).
//!
//! On the boot path only the zstd decoder allocates. It allocates while decoding a
//! module and free everything when done, so a bump allocator that starts over once nothing is live is all
//! it needs (the bookkeeping is `modinit::bump`, tested on the host). The applets that build
//! (`depmod`) keep what they allocate until they exit, so they get a larger region instead of
//! a free path: see [`APPLET_CAPACITY`].
//!
//! A full arena returns null. Rust's `alloc` has no fallible path for the `Vec`s inside ruzstd:
//! it calls `handle_alloc_error`, which in a `no_std` binary panics ("memory allocation of N
//! bytes failed"), and our panic handler treats that as a fatal bug (`boot::on_error`). So the
//! caller checks `modinit::decompress::heap_needed(file, available())` before decoding; that bound
//! holds for corrupt files too.

use core::alloc::{GlobalAlloc, Layout};
use core::ptr;
use core::sync::atomic::{AtomicUsize, Ordering};
use modinit::bump::Bump;
use rustix::mm::{MapFlags, ProtFlags, mmap_anonymous};

/// The arena's address space. Mapped MAP_NORESERVE, so only the pages written use memory: about
/// 8.5 MiB for Debian's largest module (amdgpu.ko, an 8 MiB window at zstd -19). The rest is the
/// room `heap_needed`'s worst case for a corrupt frame asks for (about three windows plus 9 MiB,
/// 34 MiB for an 8 MiB window), of which such a frame writes only a part before it fails.
const BOOT_CAPACITY: usize = 64 << 20;

/// The address space of an applet's arena. `depmod` keeps every module's facts (aliases and
/// symbols, each its own small block) live while the builder works, so what the builder frees
/// under them is never reused; each zstd module is decoded in a scope ([`scoped`]), which gives
/// the decoder's blocks back. On Debian's tree (4,023 modules) the heap peaks at 32 MiB with
/// plain, gzip or zstd modules (measured running the static binary with `-b` on the host;
/// kmod 30's depmod peaks at 39 MB of RSS there; the index is 0.5 MiB). Trees twice that size,
/// with zstd modules (whose decoder asks `heap_needed`, up to 34 MiB, on top) need more than
/// the boot's 64 MiB, hence 256 MiB. Mapped MAP_NORESERVE like the boot's, so only the pages
/// used cost memory, and an applet exits when done; a real free path (free lists) would reuse
/// what the builder frees, for more code in every binary.
#[cfg(feature = "depmod")]
pub const APPLET_CAPACITY: usize = 256 << 20;

/// The size of the region mapped on first use.
static CAPACITY: AtomicUsize = AtomicUsize::new(BOOT_CAPACITY);

#[global_allocator]
static ARENA: Arena = Arena { bump: spin::Mutex::new(None) };

struct Arena {
    /// None until the first allocation maps the region.
    bump: spin::Mutex<Option<Bump>>,
}

/// The room left on the heap, what `heap_needed` must fit in. Maps the region if need be: 0 if
/// it cannot be mapped (so each zstd module fails with an error, not a failed allocation).
pub fn available() -> usize {
    ARENA.with(|bump| bump.available()).unwrap_or(0)
}

/// Makes the region `bytes` long, if it is not mapped yet (call it before anything allocates).
#[cfg(feature = "depmod")]
pub fn set_capacity(bytes: usize) {
    CAPACITY.store(bytes, Ordering::Relaxed);
}

/// Runs `f` in a scope of the arena (see `modinit::bump`): what `f` allocates and frees is
/// given back when it returns, even while older blocks stay live. The zstd decoder runs so,
/// which is what lets `depmod` decode module after module with every module's facts live.
pub fn scoped<R>(f: impl FnOnce() -> R) -> R {
    let opened = ARENA.with(Bump::open_scope).unwrap_or(false);
    let result = f();
    if opened {
        ARENA.with(Bump::close_scope);
    }
    result
}

/// The most bytes of the heap ever in use at once, for the boot summary.
pub fn high_water() -> usize {
    ARENA.bump.lock().as_ref().map_or(0, Bump::high_water)
}

impl Arena {
    /// Runs `f` on the arena's bookkeeping, mapping the region first if need be; None if the
    /// region cannot be mapped (then the next allocation tries again).
    fn with<R>(&self, f: impl FnOnce(&mut Bump) -> R) -> Option<R> {
        let mut bump = self.bump.lock();
        if bump.is_none() {
            *bump = map_region();
        }
        bump.as_mut().map(f)
    }
}

fn map_region() -> Option<Bump> {
    let (prot, flags) = (ProtFlags::READ | ProtFlags::WRITE, MapFlags::PRIVATE | MapFlags::NORESERVE);
    let capacity = CAPACITY.load(Ordering::Relaxed);
    // SAFETY: a new private anonymous mapping at an address the kernel picks overlaps nothing
    // that exists; it is never unmapped, so the addresses handed out stay valid.
    let region = unsafe { mmap_anonymous(ptr::null_mut(), capacity, prot, flags) }.ok()?;
    Some(Bump::new(region.expose_provenance(), capacity))
}

// SAFETY: blocks come from a region only this allocator hands out, `Bump` never hands out
// overlapping live blocks, and the lock serializes every change to its bookkeeping.
unsafe impl GlobalAlloc for Arena {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        match self.with(|bump| bump.alloc(layout.size(), layout.align())) {
            Some(Some(addr)) => ptr::with_exposed_provenance_mut(addr),
            _ => ptr::null_mut(),
        }
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        self.with(|bump| bump.free(block.addr(), layout.size()));
    }

    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if self.with(|bump| bump.resize_in_place(block.addr(), layout.size(), new_size)) == Some(true) {
            return block;
        }
        // SAFETY: the caller guarantees new_size, rounded up to the alignment, does not overflow
        // isize, and the alignment is that of an existing valid layout.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        // SAFETY: new_size is nonzero (GlobalAlloc::realloc's contract).
        let moved = unsafe { self.alloc(new_layout) };
        if !moved.is_null() {
            // SAFETY: both blocks are live, distinct, and at least this long.
            unsafe { ptr::copy_nonoverlapping(block, moved, layout.size().min(new_size)) };
            // SAFETY: `block` was allocated here with `layout` and is no longer used.
            unsafe { self.dealloc(block, layout) };
        }
        moved
    }
}
