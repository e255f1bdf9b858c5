//! Module names and alias patterns, normalized the way kmod normalizes them (shared/util.c).
//!
//! kmod treats `-` and `_` in a module name as the same character and keeps `_`. A module
//! name ends at the first `.` (so `e1000e.ko.zst` names `e1000e`). Alias patterns get the
//! same `-` to `_` rewrite except inside `[...]`, where `-` is a range (`[0-9]`). kmod's
//! functions work on C strings, so a NUL byte ends the input here too.

/// kmod's `modname_normalize`: `-` becomes `_`, and the name ends at the first `.` (any `.`,
/// not only `.ko`) or NUL. Writes the result into `out` and returns its length; None if `out`
/// is too small. (kmod cuts names at PATH_MAX - 1 bytes instead; no module name is that long.)
pub fn normalize_module_name(name: &[u8], out: &mut [u8]) -> Option<usize> {
    let name = module_name_part(name);
    let out = out.get_mut(..name.len())?;
    for (o, &c) in out.iter_mut().zip(name) {
        *o = dash_to_underscore(c);
    }
    Some(name.len())
}

/// kmod's `alias_normalize`, also what its config parser (`underscores`) does to `alias`,
/// `options`, `blacklist`, ... names: `-` becomes `_` except between `[` and the next `]`,
/// which are copied as they are. None (kmod: EINVAL) for a `]` outside brackets or a `[`
/// never closed, and when `out` is too small; an `out` as long as `alias` is always enough.
pub fn normalize_alias(alias: &[u8], out: &mut [u8]) -> Option<usize> {
    let mut in_brackets = false;
    let mut len = 0;
    for &c in alias.iter().take_while(|&&c| c != 0) {
        let normalized = match c {
            b']' if in_brackets => {
                in_brackets = false;
                c
            }
            _ if in_brackets => c,
            b'[' => {
                in_brackets = true;
                c
            }
            b']' => return None,
            _ => dash_to_underscore(c),
        };
        *out.get_mut(len)? = normalized;
        len += 1;
    }
    if in_brackets { None } else { Some(len) }
}

/// Whether `a` and `b` name the same module: equal after [`normalize_module_name`].
pub fn same_module_name(a: &[u8], b: &[u8]) -> bool {
    module_name(a).eq(module_name(b))
}

/// [`normalize_module_name`] without a buffer: the normalized name's bytes.
pub fn module_name(name: &[u8]) -> impl Iterator<Item = u8> + '_ {
    module_name_part(name).iter().map(|&c| dash_to_underscore(c))
}

/// The part of `name` that names the module: up to the first `.` or NUL.
fn module_name_part(name: &[u8]) -> &[u8] {
    let end = name.iter().position(|&c| c == b'.' || c == 0).unwrap_or(name.len());
    name.get(..end).unwrap_or(name)
}

fn dash_to_underscore(c: u8) -> u8 {
    if c == b'-' { b'_' } else { c }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn module(name: &str) -> Option<String> {
        let mut out = [0u8; 64];
        let len = normalize_module_name(name.as_bytes(), &mut out)?;
        Some(String::from_utf8(out[..len].to_vec()).unwrap())
    }

    fn alias(a: &str) -> Option<String> {
        let mut out = vec![0u8; a.len()];
        let len = normalize_alias(a.as_bytes(), &mut out)?;
        Some(String::from_utf8(out[..len].to_vec()).unwrap())
    }

    #[test]
    fn module_names_swap_dashes_and_end_at_the_first_dot() {
        assert_eq!(module("snd-hda-intel").as_deref(), Some("snd_hda_intel"));
        assert_eq!(module("e1000e.ko.zst").as_deref(), Some("e1000e"));
        assert_eq!(module("a.b-c").as_deref(), Some("a"), "any dot ends the name, not only .ko");
        assert_eq!(module(".ko").as_deref(), Some(""));
        assert_eq!(module("ab\0cd").as_deref(), Some("ab"), "a C string ends at NUL");
        assert_eq!(module("under_score").as_deref(), Some("under_score"));
    }

    #[test]
    fn module_name_needs_room_for_the_name_only() {
        let mut out = [0u8; 3];
        assert_eq!(normalize_module_name(b"a-b.ko", &mut out), Some(3));
        assert_eq!(&out, b"a_b");
        assert_eq!(normalize_module_name(b"a-bc", &mut out), None);
    }

    /// kmod's testsuite cases (test-util.c `alias_1`, `test_underscores`), then corner cases.
    #[test]
    fn aliases_keep_dashes_inside_brackets() {
        for a in ["test1234", "test[abcfoobar]2211", "bar[aaa][bbbb]sss", "kmod[p.b]lib", "[az]1234[AZ]"] {
            assert_eq!(alias(a).as_deref(), Some(a));
        }
        for (a, normalized) in [
            ("aa-bb-cc_", "aa_bb_cc_"),
            ("-aa-bb-cc-", "_aa_bb_cc_"),
            ("-aa[-bb-]cc-", "_aa[-bb-]cc_"),
            ("-aa-[bb]-cc-", "_aa_[bb]_cc_"),
            ("-aa-[b-b]-cc-", "_aa_[b-b]_cc_"),
            ("-aa-b[-]b-cc", "_aa_b[-]b_cc"),
        ] {
            assert_eq!(alias(a).as_deref(), Some(normalized));
        }
        assert_eq!(alias("a[b[c-d]e-f").as_deref(), Some("a[b[c-d]e_f"), "a nested [ is plain text");
        assert_eq!(alias("[]-").as_deref(), Some("[]_"), "[] closes at once, unlike fnmatch");
        assert_eq!(alias("").as_deref(), Some(""));
        assert_eq!(alias("x-y\0[").as_deref(), Some("x_y"), "a C string ends at NUL");
    }

    #[test]
    fn unmatched_brackets_make_an_alias_invalid() {
        assert_eq!(alias("a]b"), None);
        assert_eq!(alias("a[0-9"), None);
        assert_eq!(alias("a[0-9]]"), None);
        assert_eq!(alias("-[x"), None);
    }

    #[test]
    fn alias_output_too_small_is_refused() {
        let mut out = [0u8; 2];
        assert_eq!(normalize_alias(b"abc", &mut out), None);
        assert_eq!(normalize_alias(b"a-", &mut out), Some(2));
        assert_eq!(&out, b"a_");
    }

    #[test]
    fn same_module_name_agrees_with_normalizing_both() {
        let names = ["snd-hda", "snd_hda", "snd_hda.ko", "snd-hdb", "snd", "snd-hda-", "", ".x", "a\0b", "a"];
        for a in names {
            for b in names {
                assert_eq!(same_module_name(a.as_bytes(), b.as_bytes()), module(a) == module(b), "{a:?} {b:?}");
            }
        }
    }
}
