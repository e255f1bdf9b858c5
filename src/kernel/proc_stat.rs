//! `/proc/PID/stat`, as far as modinit reads it: whether the process is a kernel thread.

use crate::decimal::decimal;

/// PF_KTHREAD in the task's flags (include/linux/sched.h).
const PF_KTHREAD: u64 = 0x0020_0000;

/// Whether the process whose `/proc/PID/stat` text is `stat` is a kernel thread (the kernel's
/// usermode helpers, which run `request_module()`'s modprobe, are children of one); None when
/// `stat` is not such a text.
pub fn is_kernel_thread(stat: &[u8]) -> Option<bool> {
    // The name in parentheses may hold spaces and parentheses: the fields start after the last `)`.
    let fields = &stat[stat.iter().rposition(|&b| b == b')')? + 1..];
    // state, ppid, pgrp, session, tty_nr, tpgid, flags.
    let flags = fields.split(|&b| b == b' ').filter(|w| !w.is_empty()).nth(6)?;
    Some(decimal(flags)? & PF_KTHREAD != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_a_kernel_thread_from_a_process() {
        assert_eq!(is_kernel_thread(&std::fs::read("/proc/self/stat").unwrap()), Some(false));
        // In a PID namespace PID 2 is no kernel thread.
        if let Ok(kthreadd) = std::fs::read("/proc/2/stat").map(|s| s.starts_with(b"2 (kthreadd) ").then_some(s))
            && let Some(kthreadd) = kthreadd
        {
            assert_eq!(is_kernel_thread(&kthreadd), Some(true), "{}", String::from_utf8_lossy(&kthreadd));
        }
        let odd = b"42 (a) b (c)) S 1 42 42 0 -1 2097216 0 0";
        assert_eq!(is_kernel_thread(odd), Some(true));
        assert_eq!(is_kernel_thread(b"42 (a) S 1"), None);
        assert_eq!(is_kernel_thread(b"no parenthesis"), None);
    }
}
