//! modinit's index and resolution against kmod itself, on the real Debian module tree.
//!
//! The same tree is indexed twice: by `xtask::index` (our builder) and by `depmod`. Then, for
//! a corpus of keys — real modaliases from QEMU machines (tests/fixtures/modaliases) and keys
//! made from every alias pattern and module name of the tree — our lookup must give the
//! modules libkmod gives, in its order; and for every module, our probe list (dependencies,
//! softdeps, options) must be what `modprobe --show-depends` prints. Once with no
//! configuration, once with a modprobe.d that uses every directive.

use modinit::index::Index;
use modinit::resolve::{Found, Key, Resolver, Target, Via};
use modinit_tests::kmod_oracle::{Insertion, Kmod};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The tree `cargo xtask test` provisions, or the one in target/kernel; None to skip.
fn debian_tree() -> Option<PathBuf> {
    if let Some(m) = std::env::var_os("MODINIT_MODULES") {
        return Some(m.into());
    }
    let kernels = xtask::paths::target_dir().join("kernel");
    let found = std::fs::read_dir(kernels).ok()?.flatten().find_map(|k| {
        std::fs::read_dir(k.path().join("lib/modules")).ok()?.flatten().map(|v| v.path()).next()
    });
    found
}

/// The keys to compare: fixture modaliases, then keys derived from every pattern, then every
/// module name (as written and with `-`), sorted and unique.
fn corpus(kmod_tree: &Path) -> Vec<String> {
    let mut keys = BTreeSet::new();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/modaliases");
    for file in std::fs::read_dir(&fixtures).expect("tests/fixtures/modaliases").flatten() {
        let text = std::fs::read_to_string(file.path()).unwrap();
        keys.extend(text.lines().filter(|l| !l.is_empty() && !l.starts_with('#')).map(str::to_string));
    }
    let aliases = std::fs::read_to_string(kmod_tree.join("modules.alias")).expect("depmod's modules.alias");
    let builtin = std::fs::read(kmod_tree.join("modules.builtin.modinfo")).unwrap_or_default();
    let builtin_aliases = builtin
        .split(|&b| b == 0)
        .filter_map(|r| std::str::from_utf8(r).ok()?.split_once(".alias=").map(|(_, a)| a.to_string()));
    let patterns = aliases.lines().filter_map(|l| Some(l.strip_prefix("alias ")?.split_once(' ')?.0.to_string()));
    for pattern in patterns.chain(builtin_aliases) {
        keys.extend(keys_from(&pattern));
    }
    let dep = std::fs::read_to_string(kmod_tree.join("modules.dep")).unwrap();
    let builtins = std::fs::read_to_string(kmod_tree.join("modules.builtin")).unwrap_or_default();
    for path in dep.lines().filter_map(|l| l.split_once(':')).map(|(p, _)| p).chain(builtins.lines()) {
        let name = path.rsplit('/').next().unwrap().split('.').next().unwrap();
        keys.insert(name.to_string());
        keys.insert(name.replace('_', "-"));
    }
    keys.into_iter().collect()
}

/// Strings a pattern matches (and one near miss): `*` as "" and as "Xy", `?` as "Q", a
/// bracket as its first member.
fn keys_from(pattern: &str) -> Vec<String> {
    let mut out = Vec::new();
    for star in ["", "Xy"] {
        let mut key = String::new();
        let mut chars = pattern.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '*' => key.push_str(star),
                '?' => key.push('Q'),
                '[' => {
                    let mut member = None;
                    for d in chars.by_ref() {
                        if d == ']' && member.is_some() {
                            break;
                        }
                        if member.is_none() && d != '!' && d != '^' {
                            member = Some(d);
                        }
                    }
                    key.extend(member);
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

fn name_of(t: &Target<'_>) -> String {
    let mut buf = [0u8; 256];
    String::from_utf8_lossy(t.name(&mut buf)).into_owned()
}

fn our_lookup(r: &Resolver<'_>, key: &str) -> Vec<String> {
    let Ok(k) = Key::new(key.as_bytes()) else { return Vec::new() };
    let mut out = [None; 256];
    let (_, n) = r.lookup(&k, &mut out).unwrap_or_else(|e| panic!("lookup {key}: {e:?}"));
    out[..n].iter().flatten().map(|f| name_of(&f.target)).collect()
}

/// What modprobe --show-depends prints for `key`, from our resolution: for every module the
/// lookup finds (those reached through an alias and blacklisted are left out), its probe
/// list as (name, path, options); builtins have no path, missing modules print nothing.
fn our_show_depends(r: &Resolver<'_>, key: &str) -> Vec<Insertion> {
    let Ok(k) = Key::new(key.as_bytes()) else { return Vec::new() };
    let mut found = [None; 256];
    let (_, n) = r.lookup(&k, &mut found).unwrap();
    let mut lines = Vec::new();
    for f in found[..n].iter().flatten() {
        if f.via != Via::Name && r.is_blacklisted(&f.target) {
            continue;
        }
        r.probe_list(f, &mut |step| {
            let Target::Module(m) = step.target else { return };
            let path = m.path(&mut [0u8; 512]).map(|p| String::from_utf8_lossy(p).into_owned());
            let mut options = Vec::new();
            let via = if matches!(f.target, Target::Module(t) if t.id == m.id) { *f } else { Found { target: step.target, via: step.via } };
            r.options(&via, k.as_bytes(), |p| options.extend_from_slice(p));
            lines.push((name_of(&step.target), path, String::from_utf8(options).unwrap()));
        })
        .unwrap();
    }
    lines
}

/// kmod prints absolute paths under its root: keep what follows the modules dir.
fn relative(lines: Vec<Insertion>, tree: &Path) -> Vec<Insertion> {
    let prefix = format!("{}/", tree.display());
    lines.into_iter().map(|(n, p, o)| (n, p.map(|p| p.strip_prefix(&prefix).unwrap_or(&p).to_string()), o)).collect()
}

struct Compared {
    keys: usize,
    matches: usize,
    mismatches: Vec<String>,
}

fn compare(index_bytes: &[u8], kmod: &Kmod, kmod_tree: &Path, keys: &[String], names: &[String]) -> Compared {
    let cmdline = std::fs::read("/proc/cmdline").unwrap_or_default();
    let r = Resolver { index: Index::open(index_bytes).unwrap(), cmdline: &cmdline };
    let mut c = Compared { keys: 0, matches: 0, mismatches: Vec::new() };
    for key in keys {
        let (ours, theirs) = (our_lookup(&r, key), kmod.lookup(key));
        c.keys += 1;
        c.matches += usize::from(!theirs.is_empty());
        if ours != theirs {
            c.mismatches.push(format!("lookup {key}: modinit {ours:?}, kmod {theirs:?}"));
        }
    }
    for name in names {
        let (ours, theirs) = (our_show_depends(&r, name), relative(kmod.show_depends(name), kmod_tree));
        if ours != theirs {
            c.mismatches.push(format!("show-depends {name}:\n  modinit {ours:?}\n  kmod    {theirs:?}"));
        }
    }
    c
}

fn report(what: &str, c: &Compared, names: usize) {
    eprintln!("{what}: {} keys ({} resolve to modules) and {names} probe lists compared", c.keys, c.matches);
    let shown: Vec<&String> = c.mismatches.iter().take(20).collect();
    assert!(c.mismatches.is_empty(), "{} mismatches with kmod, first ones:\n{}", c.mismatches.len(), shown.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("\n"));
}

fn module_names(kmod_tree: &Path) -> Vec<String> {
    let dep = std::fs::read_to_string(kmod_tree.join("modules.dep")).unwrap();
    let builtins = std::fs::read_to_string(kmod_tree.join("modules.builtin")).unwrap_or_default();
    dep.lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(p, _)| p)
        .chain(builtins.lines())
        .map(|p| p.rsplit('/').next().unwrap().split('.').next().unwrap().replace('-', "_"))
        .collect()
}

#[test]
fn resolution_equals_kmods_on_the_debian_tree() {
    let Some(tree) = debian_tree() else {
        eprintln!("skipped: no Debian module tree (run `cargo xtask kernel` or set MODINIT_MODULES)");
        return;
    };
    let root = xtask::kmod::indexed_root(&tree).unwrap();
    let kmod_tree = root.join("lib/modules").join(tree.file_name().unwrap());
    let empty = tempfile::tempdir().unwrap();
    let kmod = Kmod::new(&kmod_tree, &[empty.path()]);
    let built = xtask::index::build_index(&tree, None).unwrap();
    let keys = corpus(&kmod_tree);
    let names = module_names(&kmod_tree);
    let c = compare(&built.bytes, &kmod, &kmod_tree, &keys, &names);
    report("no configuration", &c, names.len());
    assert!(keys.len() > 50_000 && c.matches > 25_000, "the corpus covers the tree: {} keys, {} matching", keys.len(), c.matches);
}

/// A modprobe.d with every directive kmod acts on at boot, aimed at modules of the tree.
const CONFIG: &str = "\
alias my-nic e1000
alias pci:v00008086d0000100Esv*sd*bc*sc*i* e1000e
alias ethernet-* e1000
alias no-such-target not_a_module
options e1000 debug=16 copybreak=64
options my-nic TxDescriptors=128
options ahci mobile_lpm_policy=1
blacklist e1000e
blacklist pcspkr
softdep ahci pre: crc32c_generic post: sd_mod
softdep snd_hda* pre: snd-hda-codec-generic
softdep virtio_* pre: virtio_rng
";

#[test]
fn configuration_is_applied_as_kmod_applies_it() {
    let Some(tree) = debian_tree() else {
        eprintln!("skipped: no Debian module tree");
        return;
    };
    let root = xtask::kmod::indexed_root(&tree).unwrap();
    let kmod_tree = root.join("lib/modules").join(tree.file_name().unwrap());
    let config_root = tempfile::tempdir().unwrap();
    let modprobe_d = config_root.path().join("etc/modprobe.d");
    std::fs::create_dir_all(&modprobe_d).unwrap();
    std::fs::write(modprobe_d.join("test.conf"), CONFIG).unwrap();
    let kmod = Kmod::new(&kmod_tree, &[&modprobe_d]);
    let built = xtask::index::build_index(&tree, Some(config_root.path())).unwrap();
    let mut keys: Vec<String> =
        ["my-nic", "my_nic", "ethernet-0", "no-such-target", "pcspkr", "e1000e", "pci:v00008086d0000100Esv00001AF4sd00001100bc02sc00i00"]
            .map(String::from)
            .into();
    keys.extend(corpus(&kmod_tree).into_iter().step_by(7));
    let mut names = module_names(&kmod_tree);
    names.extend(keys.iter().take(7).cloned());
    let c = compare(&built.bytes, &kmod, &kmod_tree, &keys, &names);
    report("test configuration", &c, names.len());
}
