//! The arch-neutral half of the process entry: the argument block the kernel put on the initial
//! stack, and the handoff to `main`. The architecture's `_start` calls [`rust_start`] with the
//! initial stack pointer.

/// What the kernel put on the initial stack: argv and envp, each a NULL-terminated array of
/// C strings that stays valid for the life of the process.
#[derive(Clone, Copy)]
pub struct StartArgs {
    pub argv: &'static [*const u8],
    pub envp: &'static [*const u8],
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
    crate::main(args)
}
