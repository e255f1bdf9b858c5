//! The process entry point, `_start`, and the kernel-provided argument block.

/// What the kernel put on the initial stack: argv and envp, each a NULL-terminated array of
/// C strings that stays valid for the life of the process.
#[derive(Clone, Copy)]
pub struct StartArgs {
    pub argv: &'static [*const u8],
    pub envp: &'static [*const u8],
}

/// The ELF entry point. The kernel jumps here with `rsp` pointing at argc; we hand that
/// pointer to Rust with the stack aligned as the System V ABI requires for a call.
#[unsafe(naked)]
#[unsafe(no_mangle)]
unsafe extern "C" fn _start() -> ! {
    core::arch::naked_asm!(
        "xor ebp, ebp",
        "mov rdi, rsp",
        "and rsp, -16",
        "call {entry}",
        "ud2",
        entry = sym entry,
    )
}

/// Reads argc/argv/envp from the initial stack, initializes rustix, and calls `main`.
///
/// # Safety
/// `sp` must be the initial stack pointer the kernel gave `_start`.
unsafe extern "C" fn entry(sp: *const usize) -> ! {
    // SAFETY: the initial stack holds argc, then argc argv pointers and a NULL, then the
    // envp pointers up to a NULL, then the aux vector (System V x86_64 ABI, 3.4.1).
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
