//! Names and meanings of Linux error numbers, for messages a person can act on.
//!
//! Without libc there is no strerror(); this table holds the errors modinit's system calls
//! can meet. The meanings are glibc's wording, so they read like every other tool's.

use core::fmt;

const TABLE: &[(i32, &str, &str)] = &[
    (1, "EPERM", "Operation not permitted"),
    (2, "ENOENT", "No such file or directory"),
    (3, "ESRCH", "No such process"),
    (4, "EINTR", "Interrupted system call"),
    (5, "EIO", "Input/output error"),
    (6, "ENXIO", "No such device or address"),
    (7, "E2BIG", "Argument list too long"),
    (8, "ENOEXEC", "Exec format error"),
    (9, "EBADF", "Bad file descriptor"),
    (10, "ECHILD", "No child processes"),
    (11, "EAGAIN", "Resource temporarily unavailable"),
    (12, "ENOMEM", "Cannot allocate memory"),
    (13, "EACCES", "Permission denied"),
    (14, "EFAULT", "Bad address"),
    (15, "ENOTBLK", "Block device required"),
    (16, "EBUSY", "Device or resource busy"),
    (17, "EEXIST", "File exists"),
    (18, "EXDEV", "Invalid cross-device link"),
    (19, "ENODEV", "No such device"),
    (20, "ENOTDIR", "Not a directory"),
    (21, "EISDIR", "Is a directory"),
    (22, "EINVAL", "Invalid argument"),
    (23, "ENFILE", "Too many open files in system"),
    (24, "EMFILE", "Too many open files"),
    (25, "ENOTTY", "Inappropriate ioctl for device"),
    (26, "ETXTBSY", "Text file busy"),
    (27, "EFBIG", "File too large"),
    (28, "ENOSPC", "No space left on device"),
    (29, "ESPIPE", "Illegal seek"),
    (30, "EROFS", "Read-only file system"),
    (31, "EMLINK", "Too many links"),
    (32, "EPIPE", "Broken pipe"),
    (34, "ERANGE", "Numerical result out of range"),
    (36, "ENAMETOOLONG", "File name too long"),
    (38, "ENOSYS", "Function not implemented"),
    (39, "ENOTEMPTY", "Directory not empty"),
    (40, "ELOOP", "Too many levels of symbolic links"),
    (61, "ENODATA", "No data available"),
    (62, "ETIME", "Timer expired"),
    (74, "EBADMSG", "Bad message"),
    (75, "EOVERFLOW", "Value too large for defined data type"),
    (95, "EOPNOTSUPP", "Operation not supported"),
    (110, "ETIMEDOUT", "Connection timed out"),
    (126, "ENOKEY", "Required key not available"),
    (127, "EKEYEXPIRED", "Key has expired"),
    (128, "EKEYREVOKED", "Key has been revoked"),
    (129, "EKEYREJECTED", "Key was rejected by service"),
];

/// Displays an error number as `ENOENT (No such file or directory)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Describe(pub i32);

impl Describe {
    /// The symbolic name, e.g. `ENOENT`, when the table knows it.
    pub fn name(self) -> Option<&'static str> {
        TABLE.iter().find(|e| e.0 == self.0).map(|e| e.1)
    }

    /// glibc's strerror() text, e.g. `No such file or directory`, when the table knows it.
    pub fn meaning(self) -> Option<&'static str> {
        TABLE.iter().find(|e| e.0 == self.0).map(|e| e.2)
    }
}

impl fmt::Display for Describe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match TABLE.iter().find(|e| e.0 == self.0) {
            Some((_, name, meaning)) => write!(f, "{name} ({meaning})"),
            None => write!(f, "error {}", self.0),
        }
    }
}

/// Displays an error number as glibc's strerror() does: `No such file or directory`, or
/// `Unknown error N` for one the table lacks (kmod's and util-linux's messages use it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Strerror(pub i32);

impl fmt::Display for Strerror {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match Describe(self.0).meaning() {
            Some(meaning) => f.write_str(meaning),
            None => write!(f, "Unknown error {}", self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The meanings agree with the host's glibc strerror(), an independent source.
    #[test]
    fn meanings_match_glibc() {
        for &(code, _, meaning) in TABLE {
            let glibc = std::io::Error::from_raw_os_error(code).to_string();
            assert_eq!(glibc, format!("{meaning} (os error {code})"), "errno {code}");
        }
    }

    #[test]
    fn strerror_is_glibcs_even_for_unknown_numbers() {
        for code in [2, 11, 200] {
            let glibc = std::io::Error::from_raw_os_error(code).to_string();
            assert_eq!(format!("{} (os error {code})", Strerror(code)), glibc);
        }
    }

    /// The names agree with the kernel's own headers, as linux-raw-sys carries them.
    #[test]
    fn names_match_kernel_headers() {
        use linux_raw_sys::errno::*;
        let kernel = [
            (EPERM, "EPERM"),
            (ENOENT, "ENOENT"),
            (ENOEXEC, "ENOEXEC"),
            (EBUSY, "EBUSY"),
            (EEXIST, "EEXIST"),
            (ENODEV, "ENODEV"),
            (EINVAL, "EINVAL"),
            (ENOSYS, "ENOSYS"),
            (ELOOP, "ELOOP"),
            (ENOKEY, "ENOKEY"),
            (EKEYREJECTED, "EKEYREJECTED"),
            (EBADMSG, "EBADMSG"),
            (ETIMEDOUT, "ETIMEDOUT"),
            (EOPNOTSUPP, "EOPNOTSUPP"),
            (ENODATA, "ENODATA"),
            (EACCES, "EACCES"),
        ];
        for (code, name) in kernel {
            assert_eq!(Describe(code as i32).name(), Some(name));
        }
        assert_eq!(TABLE.len(), TABLE.iter().map(|e| e.0).collect::<std::collections::BTreeSet<_>>().len());
    }

    #[test]
    fn unknown_numbers_are_still_shown() {
        assert_eq!(Describe(4000).to_string(), "error 4000");
        assert_eq!(Describe(2).to_string(), "ENOENT (No such file or directory)");
        assert_eq!(Strerror(2).to_string(), "No such file or directory");
        assert_eq!(
            Strerror(4000).to_string(),
            format!("{}", std::io::Error::from_raw_os_error(4000)).replace(" (os error 4000)", "")
        );
    }
}
