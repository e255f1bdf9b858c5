//! Unsigned decimal numbers as the kernel's command line, sysfs and /dev/kmsg write them.

/// The value of `digits`: ASCII decimal digits only (no sign, no space, at least one), and
/// no more than a u64 holds; None otherwise.
pub fn decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &d| {
        let d = d.checked_sub(b'0').filter(|&d| d <= 9)?;
        n.checked_mul(10)?.checked_add(u64::from(d))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::String;

    /// Against the standard library's parser, which also takes a leading `+`.
    #[test]
    fn reads_what_str_parse_reads_without_a_sign() {
        let mut cases: Vec<String> = ["", "0", "007", "42", " 1", "1 ", "1a", "-1", "+1", "١", "18446744073709551615"]
            .map(String::from)
            .to_vec();
        cases.extend(["18446744073709551616", "99999999999999999999", "000000000000000000000000001"].map(String::from));
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..20_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let len = (state % 22) as usize;
            let alphabet = b"0123456789+- x";
            let s = (0..len).map(|i| alphabet[((state >> (2 * i)) % 14) as usize] as char).collect();
            cases.push(s);
        }
        for s in &cases {
            let expected = if s.starts_with('+') { None } else { s.parse::<u64>().ok() };
            assert_eq!(decimal(s.as_bytes()), expected, "{s:?}");
        }
    }
}
