//! Lookup keys for comparing modinit's resolution with kmod's (tests and benchmarks): real
//! modaliases seen in QEMU machines (tests/fixtures/modaliases), keys made from every alias
//! pattern of a tree, and every module name.

use anyhow::{Context, Result};
use std::collections::BTreeSet;
use std::path::Path;

/// The keys for the tree whose depmod output is in `kmod_tree` (modules.alias, modules.dep,
/// modules.builtin, modules.builtin.modinfo), sorted and unique.
pub fn keys(kmod_tree: &Path) -> Result<Vec<String>> {
    let mut keys = BTreeSet::new();
    let fixtures = crate::paths::workspace_root().join("tests/fixtures/modaliases");
    for file in std::fs::read_dir(&fixtures).with_context(|| format!("reading {}", fixtures.display()))? {
        let text = std::fs::read_to_string(file?.path())?;
        keys.extend(text.lines().filter(|l| !l.is_empty() && !l.starts_with('#')).map(str::to_string));
    }
    let aliases = std::fs::read_to_string(kmod_tree.join("modules.alias")).context("depmod's modules.alias")?;
    let builtin = std::fs::read(kmod_tree.join("modules.builtin.modinfo")).unwrap_or_default();
    let builtin_aliases = builtin
        .split(|&b| b == 0)
        .filter_map(|r| std::str::from_utf8(r).ok()?.split_once(".alias=").map(|(_, a)| a.to_string()));
    let patterns = aliases.lines().filter_map(|l| Some(l.strip_prefix("alias ")?.split_once(' ')?.0.to_string()));
    for pattern in patterns.chain(builtin_aliases) {
        keys.extend(keys_from(&pattern));
    }
    for name in module_names(kmod_tree)? {
        keys.insert(name.replace('_', "-"));
        keys.insert(name);
    }
    Ok(keys.into_iter().collect())
}

/// Every module of the tree (loadable, then builtin), by normalized name.
pub fn module_names(kmod_tree: &Path) -> Result<Vec<String>> {
    let dep = std::fs::read_to_string(kmod_tree.join("modules.dep")).context("depmod's modules.dep")?;
    let builtins = std::fs::read_to_string(kmod_tree.join("modules.builtin")).unwrap_or_default();
    Ok(dep
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(p, _)| p)
        .chain(builtins.lines())
        .filter_map(|p| Some(p.rsplit('/').next()?.split('.').next()?.replace('-', "_")))
        .collect())
}

/// Strings a pattern matches, and a near miss of each: `*` as "" and as "Xy", `?` as "Q", a
/// bracket as its first member.
pub fn keys_from(pattern: &str) -> Vec<String> {
    let mut out = Vec::new();
    for star in ["", "Xy"] {
        let mut key = String::new();
        let mut chars = pattern.chars();
        while let Some(c) = chars.next() {
            match c {
                '*' => key.push_str(star),
                '?' => key.push('Q'),
                '[' => {
                    // The first member, or for a negated set a byte outside it.
                    let mut members = String::new();
                    let mut negated = false;
                    for d in chars.by_ref() {
                        if d == ']' && !members.is_empty() {
                            break;
                        }
                        if members.is_empty() && !negated && (d == '!' || d == '^') {
                            negated = true;
                        } else {
                            members.push(d);
                        }
                    }
                    let pick =
                        if negated { "ZQ_9#".chars().find(|c| !members.contains(*c)) } else { members.chars().next() };
                    key.extend(pick);
                }
                '\\' => key.extend(chars.next()),
                c => key.push(c),
            }
        }
        out.push(key.clone());
        key.push('~');
        out.push(key);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn keys_from_patterns_match_them() {
        assert_eq!(super::keys_from("pci:v*d0[0-2]?"), ["pci:vd00Q", "pci:vd00Q~", "pci:vXyd00Q", "pci:vXyd00Q~"]);
        assert_eq!(super::keys_from("a[!x]b")[0], "aZb");
        assert_eq!(super::keys_from("a[^Z]b")[0], "aQb");
    }
}
