//! `/proc/PID/status`: the kernel's `Name:\tVALUE` lines about a process.

/// The value of the `field` line (e.g. `VmHWM`, the peak resident set) in KiB; None when the
/// line is missing or not a number of kB.
pub fn kib(status: &[u8], field: &[u8]) -> Option<u64> {
    let line =
        status.split(|&b| b == b'\n').find(|l| l.strip_prefix(field).is_some_and(|rest| rest.starts_with(b":")))?;
    let value = line.get(field.len() + 1..)?.trim_ascii().strip_suffix(b" kB")?.trim_ascii();
    core::str::from_utf8(value).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process_peak_as_the_kernel_writes_it() {
        let status = std::fs::read("/proc/self/status").unwrap();
        let peak = kib(&status, b"VmHWM").expect("a VmHWM line");
        let rss = kib(&status, b"VmRSS").expect("a VmRSS line");
        assert!(peak >= rss && rss > 0, "VmHWM {peak} kB, VmRSS {rss} kB");
        assert_eq!(kib(b"VmHWMx:\t1 kB\nVmHWM:\t  42 kB\n", b"VmHWM"), Some(42));
        assert_eq!(kib(b"VmHWM:\t42\n", b"VmHWM"), None, "no unit");
        assert_eq!(kib(b"Name:\tinit\n", b"VmHWM"), None);
    }
}
