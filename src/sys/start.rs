//! The arch-neutral half of the process entry: the argument block the kernel put on the initial
//! stack, and the handoff to the binary's `main`.
//!
//! The architecture's `_start` calls [`rust_start`] with the initial stack pointer. It calls
//! `main` through a link-time symbol, `modinit_main`, that only [`entry!`] defines: main.rs
//! writes `sys::entry!(main)`, so main.rs depends on `sys` and `sys` names nothing in main.rs.
//! This is the shape of Hubris's userlib (its `_start` calls the `main` each task exports) and
//! of rustix's origin (`origin_main`); as with cortex-m-rt's `#[entry]`, the macro makes the
//! symbol's one unchecked property, its signature, a compile-time check. A binary that forgets
//! `entry!` fails to link, and one that defines `modinit_main` twice fails to compile. The other
//! way to break the circle, a macro that expands all of `_start` in main.rs, would move the
//! architecture's assembly out of `sys::arch` and into every binary that uses it.

/// What the kernel put on the initial stack: argv and envp, each a NULL-terminated array of
/// C strings that stays valid for the life of the process.
#[derive(Clone, Copy)]
pub struct StartArgs {
    pub argv: &'static [*const u8],
    pub envp: &'static [*const u8],
}

/// Makes `$main`, a `fn(StartArgs) -> !`, the function [`rust_start`] hands the process to.
/// Invoked once, in main.rs.
macro_rules! entry {
    ($main:path) => {
        /// The handoff from `sys::start::rust_start` to the binary: defined by `sys::entry!`,
        /// with the signature `rust_start` declares.
        #[unsafe(no_mangle)]
        fn modinit_main(args: $crate::sys::start::StartArgs) -> ! {
            $main(args)
        }
    };
}
pub(crate) use entry;

unsafe extern "Rust" {
    /// The binary's `main`, as [`entry!`] defines it.
    fn modinit_main(args: StartArgs) -> !;
}

/// Reads argc/argv/envp from the initial stack, initializes rustix, and calls `main`.
///
/// # Safety
/// `sp` must be the initial stack pointer the kernel gave `_start`.
pub(super) unsafe extern "C" fn rust_start(sp: *const usize) -> ! {
    // SAFETY: the initial stack holds argc, then argc argv pointers and a NULL, then the
    // envp pointers up to a NULL, then the aux vector (the ELF process start-up layout of the
    // System V ABI, 3.4.1 in its x86_64 supplement; Linux uses the same layout on every
    // architecture).
    let args = unsafe {
        let argc = *sp;
        let argv = sp.add(1).cast::<*const u8>();
        let envp = argv.add(argc + 1);
        let mut envc = 0;
        while !(*envp.add(envc)).is_null() {
            envc += 1;
        }
        // rustix finds the aux vector (page size, vDSO) after envp. It must know it before
        // any other rustix call: on Linux < 6.4, without /proc, it has no other way.
        rustix::param::init(envp.cast_mut().cast());
        StartArgs { argv: core::slice::from_raw_parts(argv, argc), envp: core::slice::from_raw_parts(envp, envc) }
    };
    // SAFETY: `modinit_main` is defined only by `entry!`, with exactly the declared signature.
    unsafe { modinit_main(args) }
}
