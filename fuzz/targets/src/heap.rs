//! A global allocator that adds up what one thread allocates while it is [`measure`]d, so a
//! target can hold the zstd decoder to the bound `heap_needed` promises.
//!
//! The bound is on the sum of all allocations (what a bump arena such as the boot binary's
//! spends), so a `realloc` counts its new size in full and frees count nothing. A binary opts
//! in with `#[global_allocator] static HEAP: Counting = Counting;`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};

/// The system allocator, counting.
pub struct Counting;

/// Whether [`Counting`] is the global allocator (it has allocated something).
static INSTALLED: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// Bytes allocated by this thread since [`measure`] began; None outside it.
    static ALLOCATED: Cell<Option<u64>> = const { Cell::new(None) };
}

fn count(size: usize) {
    INSTALLED.store(true, Ordering::Relaxed);
    // `try_with`: the allocator may run while the thread's locals are torn down.
    let _ = ALLOCATED.try_with(|a| a.set(a.get().map(|n| n.saturating_add(size as u64))));
}

// SAFETY: every method forwards to `System` with the same arguments; counting touches only a
// const-initialized thread-local Cell and an atomic, neither of which allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: the caller's contract for `alloc` is `System.alloc`'s.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` with this layout (every allocation here does).
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size);
        // SAFETY: as for `dealloc`, and the caller's contract for `realloc` is `System.realloc`'s.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Runs `f` and returns what it allocated on this thread, or None when [`Counting`] is not
/// the global allocator.
pub fn measure<R>(f: impl FnOnce() -> R) -> (R, Option<u64>) {
    // Make sure an allocation has gone through the global allocator before asking.
    drop(std::hint::black_box(Box::new(0u8)));
    ALLOCATED.set(Some(0));
    let result = f();
    let allocated = ALLOCATED.take();
    (result, allocated.filter(|_| INSTALLED.load(Ordering::Relaxed)))
}
