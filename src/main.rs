//! modinit's boot binary: the initramfs's /init, PID 1.
//!
//! Read `main` top to bottom: it is the whole boot.
#![no_std]
#![no_main]

extern crate alloc;

mod applets;
mod boot;
mod sys;

use boot::clock::Instant;
use boot::log::warning;
use modinit::options::{BootOptions, OptionWarning};
use modinit::line::Bytes;
use modinit::resolve::Resolver;

/// The kernel's command line is at most 2048 bytes on x86 (COMMAND_LINE_SIZE).
const CMDLINE_MAX: usize = 4096;

fn main(args: sys::start::StartArgs) -> ! {
    if let Some((applet, first)) = applets::chosen(args) {
        sys::syscall::exit_group(applets::run(applet, first, args));
    }
    let started = Instant::now();

    boot::mount::mount_early_filesystems();
    boot::console::attach_console();

    let mut cmdline_buf = [0u8; CMDLINE_MAX];
    let cmdline = boot::cmdline::read(&mut cmdline_buf);
    let opts = BootOptions::parse(cmdline, report_option_warning);
    boot::on_error::set_action(opts.on_error);
    let mut kernel_log = boot::kernel_log::KernelLog::open(&opts);

    let modules_dir = boot::index_file::ModulesDir::of_running_kernel();
    if let Some(index) = boot::index_file::open_boot_index(&modules_dir) {
        boot::autoload::run(&Resolver { index, cmdline }, &modules_dir, &opts, &mut kernel_log);
    }

    kernel_log.finish();
    boot::exec::exec_real_init(opts.init, args, started);
    boot::on_error::fatal(format_args!(
        "no init to run: tried {}/sbin/init, /etc/init, /bin/init and /bin/sh",
        if opts.init.is_some() { "init=, " } else { "" }
    ))
}

fn report_option_warning(warning: OptionWarning<'_>) {
    match warning {
        OptionWarning::UnknownOption { key } => warning!("ignoring unknown option {}", Bytes(key)),
        OptionWarning::BadValue { key, value, expected } => {
            warning!("ignoring {}={}: expected {expected}", Bytes(key), Bytes(value))
        }
    }
}
