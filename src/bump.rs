//! The bookkeeping of a bump allocator over one region of memory: addresses only, no memory.
//!
//! The boot binary's heap (`src/sys/arena.rs`) is this over an mmap'd region; keeping the logic
//! here lets host tests run it, and replay real decoders' allocations through it.
//!
//! Blocks are carved from the region in address order. Freeing the most recent block gives its
//! bytes back, and the most recent block can grow in place, so a growing `Vec` on top or a
//! short-lived buffer costs nothing; any other freed block stays used until no block is live,
//! when the whole region is free again. That suits a decoder: allocate, decode, drop it all.
//!
//! A *scope* does the same for the blocks allocated within it while older blocks stay live:
//! once none of its blocks is live, the region from where it began is free again. `depmod`
//! decodes each zstd module in a scope while the facts of the modules before it stay on the heap.

/// Allocation state of the region `start..end`.
#[derive(Debug)]
pub struct Bump {
    start: usize,
    end: usize,
    /// The first free address: everything in `start..next` may be in use.
    next: usize,
    live: usize,
    high_water: usize,
    /// The open scope: where it began, and how many of its blocks are live.
    scope: Option<(usize, usize)>,
}

impl Bump {
    /// Nothing allocated yet in the `len` bytes at address `start`.
    pub const fn new(start: usize, len: usize) -> Bump {
        Bump { start, end: start.saturating_add(len), next: start, live: 0, high_water: 0, scope: None }
    }

    /// Opens a scope at the first free address; false (and nothing changes) if one is open.
    pub fn open_scope(&mut self) -> bool {
        if self.scope.is_some() {
            return false;
        }
        self.scope = Some((self.next, 0));
        true
    }

    /// Closes the open scope. Its blocks still live stay where they are, as ordinary blocks.
    pub fn close_scope(&mut self) {
        self.scope = None;
    }

    /// The address of a new block of `size` bytes aligned to `align` (a power of two), or None
    /// when the region has no room for it.
    pub fn alloc(&mut self, size: usize, align: usize) -> Option<usize> {
        let mask = align.checked_sub(1)?;
        let addr = self.next.checked_add(mask)? & !mask;
        let end = addr.checked_add(size).filter(|&end| end <= self.end)?;
        self.next = end;
        self.live += 1;
        if let Some((_, live)) = &mut self.scope {
            *live += 1;
        }
        self.high_water = self.high_water.max(end - self.start);
        Some(addr)
    }

    /// Frees the live block of `size` bytes at `addr`.
    pub fn free(&mut self, addr: usize, size: usize) {
        self.live = self.live.saturating_sub(1);
        // Blocks of the scope are those at or above its start: older ones end at or below it.
        let scope_emptied = match &mut self.scope {
            Some((base, live)) if addr >= *base => {
                *live = live.saturating_sub(1);
                (*live == 0).then_some(*base)
            }
            _ => None,
        };
        if self.live == 0 {
            self.next = self.start;
        } else if let Some(base) = scope_emptied {
            self.next = base;
        } else if addr.checked_add(size) == Some(self.next) {
            self.next = addr;
        }
        self.keep_scope_below_next();
    }

    /// The scope begins at or below the first free address: when an older top block is freed
    /// or shrunk, the bytes it gave back become the scope's.
    fn keep_scope_below_next(&mut self) {
        if let Some((base, _)) = &mut self.scope {
            *base = (*base).min(self.next);
        }
    }

    /// Resizes the live block of `old_size` bytes at `addr` to `new_size` without moving it, if
    /// it is the most recent block and the region has room; false (and no change) otherwise.
    pub fn resize_in_place(&mut self, addr: usize, old_size: usize, new_size: usize) -> bool {
        if addr.checked_add(old_size) != Some(self.next) {
            return false;
        }
        // A block older than the scope must not grow into it: the scope would hand those
        // bytes out again. It moves instead (and the copy is the scope's).
        if self.scope.is_some_and(|(base, _)| addr < base && addr.saturating_add(new_size) > base) {
            return false;
        }
        match addr.checked_add(new_size).filter(|&end| end <= self.end) {
            Some(end) => {
                self.next = end;
                self.high_water = self.high_water.max(end - self.start);
                self.keep_scope_below_next();
                true
            }
            None => false,
        }
    }

    /// The most bytes of the region ever in use at once (counting alignment padding and freed
    /// blocks not yet given back).
    pub fn high_water(&self) -> usize {
        self.high_water
    }

    /// The region's size.
    pub fn capacity(&self) -> usize {
        self.end - self.start
    }

    /// The bytes after the last block in use: what the largest new block can have (less
    /// alignment). All of the region when nothing is live.
    pub fn available(&self) -> usize {
        self.end - self.next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const START: usize = 0x1000;

    #[test]
    fn aligns_and_refuses_what_does_not_fit() {
        let mut bump = Bump::new(START, 100);
        assert_eq!(bump.alloc(3, 1), Some(START));
        assert_eq!(bump.alloc(8, 8), Some(START + 8));
        assert_eq!(bump.alloc(85, 1), None);
        assert_eq!(bump.alloc(84, 1), Some(START + 16));
        assert_eq!(bump.alloc(1, 1), None);
        assert_eq!(bump.high_water(), 100);
        assert_eq!((bump.capacity(), bump.available()), (100, 0));
        assert_eq!(Bump::new(usize::MAX - 4, 100).alloc(8, 16), None);
    }

    #[test]
    fn gives_back_the_top_block_and_everything_when_none_is_live() {
        let mut bump = Bump::new(START, 1000);
        let a = bump.alloc(96, 8).unwrap();
        let b = bump.alloc(96, 8).unwrap();
        let c = bump.alloc(96, 8).unwrap();
        assert_eq!((a, b, c), (START, START + 96, START + 192));
        bump.free(b, 96);
        // b was not on top: its bytes stay used.
        assert_eq!(bump.alloc(10, 1), Some(START + 288));
        bump.free(START + 288, 10);
        assert_eq!(bump.alloc(10, 1), Some(START + 288), "the top block is given back");
        bump.free(START + 288, 10);
        bump.free(c, 96);
        assert_eq!(bump.alloc(10, 1), Some(START + 192));
        bump.free(START + 192, 10);
        assert_eq!(bump.available(), 1000 - 192, "b, freed under c, is given back only with a");
        bump.free(a, 96);
        assert_eq!(bump.available(), 1000);
        assert_eq!(bump.alloc(10, 1), Some(START), "no block live: the region starts over");
        assert_eq!(bump.high_water(), 298);
    }

    #[test]
    fn a_scope_is_given_back_when_its_blocks_are_freed_under_live_older_ones() {
        let mut bump = Bump::new(START, 1000);
        let kept = bump.alloc(96, 8).unwrap();
        assert!(bump.open_scope());
        assert!(!bump.open_scope(), "one scope at a time");
        let (a, b) = (bump.alloc(200, 8).unwrap(), bump.alloc(296, 8).unwrap());
        assert!(!bump.resize_in_place(kept, 96, 200), "an older block does not grow into the scope");
        bump.free(a, 200);
        assert_eq!(bump.available(), 1000 - 592, "a, under b, is not given back yet");
        bump.free(b, 296);
        assert_eq!(bump.available(), 1000 - 96, "the scope's region is free, kept stays");
        assert_eq!(bump.alloc(10, 1), Some(START + 96));
        bump.close_scope();
        bump.free(START + 96, 10);
        bump.free(kept, 96);
        assert_eq!(bump.available(), 1000);
        assert_eq!(bump.high_water(), 592);
    }

    /// An older top block freed inside a scope gives its bytes to the scope: blocks the scope
    /// puts there count as its own, so the scope is given back when they are freed.
    #[test]
    fn a_scope_takes_the_bytes_an_older_top_block_gives_back() {
        let mut bump = Bump::new(START, 1000);
        let base = bump.alloc(96, 8).unwrap();
        let older = bump.alloc(96, 8).unwrap();
        assert!(bump.open_scope());
        bump.free(older, 96);
        let x = bump.alloc(200, 8).unwrap();
        assert_eq!(x, START + 96, "in the bytes older gave back");
        let z = bump.alloc(8, 8).unwrap();
        bump.free(x, 200);
        assert_eq!(bump.available(), 1000 - 304, "z is live");
        bump.free(z, 8);
        assert_eq!(bump.available(), 1000 - 96, "x and z were the scope's: all of it is free");
        bump.free(base, 96);
    }

    /// Random allocations, frees, resizes and scopes: no two live blocks ever overlap.
    #[test]
    fn live_blocks_never_overlap() {
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        let mut bump = Bump::new(START, 1 << 20);
        let mut live: std::vec::Vec<(usize, usize)> = std::vec::Vec::new();
        for _ in 0..20_000 {
            match next(10) {
                0..=2 => {
                    let size = 1 + next(300);
                    if let Some(addr) = bump.alloc(size, 1 << next(4)) {
                        assert!(
                            live.iter().all(|&(a, s)| addr + size <= a || a + s <= addr),
                            "{addr:#x}+{size} overlaps"
                        );
                        live.push((addr, size));
                    }
                }
                3..=6 if !live.is_empty() => {
                    let (addr, size) = live.swap_remove(next(live.len()));
                    bump.free(addr, size);
                }
                7 if !live.is_empty() => {
                    let i = next(live.len());
                    let (addr, size) = live[i];
                    let new_size = 1 + next(600);
                    if bump.resize_in_place(addr, size, new_size) {
                        let others = live.iter().enumerate().filter(|&(j, _)| j != i);
                        assert!(others.clone().all(|(_, &(a, s))| addr + new_size <= a || a + s <= addr));
                        live[i].1 = new_size;
                    }
                }
                8 => {
                    bump.open_scope();
                }
                _ => bump.close_scope(),
            }
        }
    }

    #[test]
    fn grows_and_shrinks_only_the_top_block_in_place() {
        let mut bump = Bump::new(START, 1000);
        let a = bump.alloc(100, 8).unwrap();
        assert!(bump.resize_in_place(a, 100, 600));
        assert!(!bump.resize_in_place(a, 600, 1001));
        let b = bump.alloc(100, 8).unwrap();
        assert_eq!(b, START + 600);
        assert!(!bump.resize_in_place(a, 600, 700), "a is no longer on top");
        assert!(bump.resize_in_place(b, 100, 50));
        assert_eq!(bump.alloc(1, 1), Some(START + 650));
        assert_eq!(bump.high_water(), 700);
    }
}
