//! `--select`: which of a tree's modules an image holds. Every choice is closed over what loading
//! its modules needs (dependencies and softdeps, as modinit's resolver plans a load) and over
//! the weak dependencies of every module taken (kmod 33's `weakdep`: never loaded, but the
//! kernel may request them at run time, so dracut-ng ships them), computed on the index of the
//! whole tree, so the image's own index covers exactly the image.

use anyhow::{Context, Result, bail};
use modinit::index::{Index, Module, ModuleId};
use modinit::loading::boot_classes::{Class, class_of};
use modinit::resolve::{Found, Key, ModuleSet, Resolver, Target, Via};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// The base set of modules.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Selection {
    /// The whole tree.
    #[default]
    All,
    /// What a generic bootable image needs: [`MOST`](modinit::loading::boot_classes::MOST).
    Most,
    /// The drivers of one machine's devices ([`ModuleChoice::modaliases`]) that a boot needs
    /// (of the [`Class::Boot`] entries of [`MOST`](modinit::loading::boot_classes::MOST); of
    /// its NICs too for a network root, [`ModuleChoice::network_root`]) and its root
    /// filesystem ([`ModuleChoice::rootfs`]).
    Host,
    /// The drivers of every device of one machine, whatever their class, and its root
    /// filesystem: for images whose system runs from the initramfs or has no udev to load the
    /// rest.
    HostAll,
    /// The module names or aliases listed in a file, one per line (`#` starts a comment).
    List(PathBuf),
    /// These module names or aliases.
    Names(Vec<String>),
}

impl FromStr for Selection {
    type Err = String;

    fn from_str(s: &str) -> Result<Selection, String> {
        match s {
            "all" => Ok(Selection::All),
            "most" => Ok(Selection::Most),
            "host" => Ok(Selection::Host),
            "host-all" => Ok(Selection::HostAll),
            _ => match s.strip_prefix("list:") {
                Some(file) if !file.is_empty() => Ok(Selection::List(file.into())),
                _ => Err(format!("{s:?}: expected all, most, host, host-all or list:FILE")),
            },
        }
    }
}

/// Root filesystem types (`--rootfs`) on the network: with one, `--select host` takes the
/// machine's NICs.
pub const NETWORK_FILESYSTEMS: &[&str] = &["nfs", "nfs4", "cifs", "smb3", "ceph"];

/// Modules whose initialization asks the kernel for another module (request_module()) that
/// neither a dependency nor a softdep names, and the key the kernel asks for. Found by booting
/// selected images against kmod's coldplug on the whole tree (tests/qemu/autoload.rs): Linux
/// 6.1's crc64-rocksoft allocates the "crc64-rocksoft" hash but declares only `pre: crc64`.
pub const RUNTIME_REQUESTS: &[(&str, &str)] = &[("crc64_rocksoft", "crypto-crc64-rocksoft")];

/// Which modules go into an image.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModuleChoice {
    pub selection: Selection,
    /// For [`Selection::Host`] and [`Selection::HostAll`]: a file of modalias lines (as `find
    /// /sys/devices -name modalias -exec cat {} +` prints them on the target); None for this
    /// machine's /sys/devices.
    pub modaliases: Option<PathBuf>,
    /// For [`Selection::Host`] and [`Selection::HostAll`]: the root filesystem's type. None:
    /// the one mounted on this machine's `/` when the modaliases are this machine's, else none.
    pub rootfs: Option<String>,
    /// For [`Selection::Host`]: the root is on the network (NBD, iSCSI, or a network
    /// filesystem the image's own init mounts), so the machine's NICs go in too. A `rootfs` of
    /// [`NETWORK_FILESYSTEMS`] says so as well.
    pub network_root: bool,
    /// Module names or aliases added to the selection.
    pub add: Vec<String>,
    /// Module names left out, with every module that depends on them.
    pub omit: Vec<String>,
}

/// The selected modules: paths relative to the tree, as its index names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selected {
    pub paths: BTreeSet<String>,
    /// Modules chosen but left out because they need an omitted one.
    pub dropped: Vec<String>,
}

/// The modules of the tree indexed by `index` (its whole index) that `choice` selects; None
/// when that is every module.
pub fn select(index: &[u8], choice: &ModuleChoice) -> Result<Option<Selected>> {
    if choice.selection == Selection::All && choice.add.is_empty() && choice.omit.is_empty() {
        return Ok(None);
    }
    let index = Index::open(index).map_err(|e| anyhow::anyhow!("the tree's index: {e}"))?;
    let resolver = Resolver { index, cmdline: b"", symbols: modinit::resolve::symbols::ModulesSymbols::NONE };
    let mut closure = Closure { resolver, plans: Vec::new(), weak_taken: Box::new(ModuleSet::new()) };
    match &choice.selection {
        Selection::All => index.modules().filter(|m| !m.builtin).for_each(|m| closure.add_module(m)),
        Selection::Most => {
            index.modules().filter(|m| !m.builtin && is_most(&path_of(m))).for_each(|m| closure.add_module(m))
        }
        Selection::Host | Selection::HostAll => {
            let (modaliases, rootfs) = match &choice.modaliases {
                Some(file) => (modalias_lines(&read_text(file)?), choice.rootfs.clone()),
                None => {
                    (this_machines_modaliases()?, Some(choice.rootfs.clone().map_or_else(this_machines_rootfs, Ok)?))
                }
            };
            let nics = choice.network_root || rootfs.as_deref().is_some_and(|fs| NETWORK_FILESYSTEMS.contains(&fs));
            let all = choice.selection == Selection::HostAll;
            let wanted = |found: &Found<'_>| {
                all || matches!(found.target, Target::Module(m) if is_boot_critical(&path_of(&m), nics))
            };
            for alias in &modaliases {
                closure.add_key_if(alias, wanted)?;
            }
            if let Some(rootfs) = rootfs
                && !closure.add_key(&format!("fs-{rootfs}"))?
            {
                eprintln!("xtask: warning: fs-{rootfs}: no module or builtin of the tree (check --rootfs)");
            }
        }
        Selection::List(file) => {
            for name in modalias_lines(&read_text(file)?) {
                closure.add_required(&name).with_context(|| format!("{}", file.display()))?;
            }
        }
        Selection::Names(names) => {
            for name in names {
                closure.add_required(name)?;
            }
        }
    }
    for name in &choice.add {
        closure.add_required(name).context("--add")?;
    }
    closure.add_runtime_requests()?;
    // What the configuration's modules-load.d lists make modinit load at boot.
    for name in index.modules_load() {
        let name = String::from_utf8_lossy(name);
        if !closure.add_key(&name)? {
            eprintln!("xtask: warning: {name} (modules-load.d): no module of the tree");
        }
    }
    closure.omit(&choice.omit).map(Some)
}

/// Whether `--select most` takes the module at `path` (relative to the tree).
fn is_most(path: &str) -> bool {
    class_of(path.as_bytes()).is_some()
}

/// Whether `--select host` takes the module at `path` for a device: it is under a
/// [`Class::Boot`] entry of [`MOST`](modinit::loading::boot_classes::MOST), or a
/// [`Class::Nic`] one when `nics` (a network root).
fn is_boot_critical(path: &str, nics: bool) -> bool {
    class_of(path.as_bytes()).is_some_and(|class| class == Class::Boot || nics)
}

/// The load plans of the modules chosen so far.
struct Closure<'a> {
    resolver: Resolver<'a>,
    plans: Vec<Plan>,
    /// Modules whose weak dependencies were planned already (each module's once).
    weak_taken: Box<ModuleSet>,
}

/// What loading one chosen module inserts.
struct Plan {
    /// The chosen module's stem.
    top: String,
    /// Module ids, and whether the load needs them (the module and its dependencies) or merely
    /// tries them (softdeps).
    steps: Vec<(u16, bool)>,
    /// For a weak dependency: the module whose `weakdep` brought it (None: chosen).
    wanted_by: Option<u16>,
}

impl<'a> Closure<'a> {
    fn add_module(&mut self, module: Module<'a>) {
        self.add_found(&Found { target: Target::Module(module), via: Via::Name });
    }

    /// Plans `found`, then the weak dependencies of every module of its plan, and theirs, as
    /// dracut-ng's dracut-install takes `kmod_module_get_weakdeps` of each module it installs.
    fn add_found(&mut self, found: &Found<'a>) {
        let mut pending = vec![(*found, None)];
        while let Some((found, wanted_by)) = pending.pop() {
            let plan = self.plan(&found, wanted_by);
            for &(id, _) in &plan.steps {
                if self.weak_taken.insert(ModuleId(id)) {
                    pending.extend(self.weakdeps(id).into_iter().map(|weak| (weak, Some(id))));
                }
            }
            self.plans.push(plan);
        }
    }

    fn plan(&self, found: &Found<'a>, wanted_by: Option<u16>) -> Plan {
        let mut steps = Vec::new();
        // A softdep loop through names the index lacks is the only error: what was planned
        // until then is still what the module needs.
        let _ = self.resolver.probe_list(found, &mut |step| {
            if let Target::Module(m) = step.target
                && !m.builtin
            {
                steps.push((m.id.0, step.required));
            }
        });
        let mut name = [0u8; 256];
        let top = String::from_utf8_lossy(found.target.name(&mut name)).into_owned();
        Plan { top, steps, wanted_by }
    }

    /// The modules module `id`'s weak dependencies name, each name looked up as kmod's
    /// `lookup_dep` does (a name that finds nothing adds nothing).
    fn weakdeps(&self, id: u16) -> Vec<Found<'a>> {
        let module = self.resolver.index.module(ModuleId(id)).map(Target::Module);
        let Some(weakdep) = module.and_then(|m| self.resolver.weakdep(&m)) else { return Vec::new() };
        let mut all = Vec::new();
        for name in weakdep.names() {
            let Ok(key) = Key::new(name) else { continue };
            let mut found = vec![None; 1024];
            if let Ok((_, n)) = self.resolver.lookup(&key, &mut found) {
                all.extend(found.into_iter().take(n).flatten());
            }
        }
        all
    }

    /// Adds the modules `key` resolves to; true if it resolves to anything (builtins too).
    fn add_key(&mut self, key: &str) -> Result<bool> {
        self.add_key_if(key, |_| true)
    }

    /// As [`Closure::add_key`], adding only what `wanted` accepts of what `key` resolves to.
    fn add_key_if(&mut self, key: &str, wanted: impl Fn(&Found<'a>) -> bool) -> Result<bool> {
        let key_bytes = Key::new(key.as_bytes()).map_err(|e| anyhow::anyhow!("{key:?}: not a valid key ({e:?})"))?;
        let mut found = vec![None; 1024];
        let (_, n) = self.resolver.lookup(&key_bytes, &mut found).map_err(|e| anyhow::anyhow!("{key:?}: {e:?}"))?;
        for f in found.iter().take(n).flatten().filter(|f| wanted(f)) {
            self.add_found(f);
        }
        Ok(n > 0)
    }

    /// As [`Closure::add_key`], for a name the user asked for: it must exist.
    fn add_required(&mut self, name: &str) -> Result<()> {
        if !self.add_key(name)? {
            bail!("{name}: no module of the tree has this name or alias");
        }
        Ok(())
    }

    /// Adds what the chosen modules ask for at run time ([`RUNTIME_REQUESTS`]).
    fn add_runtime_requests(&mut self) -> Result<()> {
        for (module, key) in RUNTIME_REQUESTS {
            let Some(id) = self.resolver.index.find(module.as_bytes(), false).map(|m| m.id.0) else { continue };
            if self.plans.iter().any(|p| p.steps.iter().any(|&(step, _)| step == id)) {
                self.add_key(key)?;
            }
        }
        Ok(())
    }

    /// The paths of every plan's modules but the modules named in `omit`; a plan that needs
    /// one of those is left out whole, and so is a weak dependency's plan when the module that
    /// wants it is not in the image.
    fn omit(self, omit: &[String]) -> Result<Selected> {
        let index = self.resolver.index;
        let mut omitted = BTreeSet::new();
        for name in omit {
            let module =
                index.find(name.as_bytes(), false).with_context(|| format!("--omit {name}: no such module"))?;
            omitted.insert(module.id.0);
        }
        let mut selected = Selected { paths: BTreeSet::new(), dropped: Vec::new() };
        let omitted_names: BTreeSet<String> = omit.iter().map(|n| n.replace('-', "_")).collect();
        let (mut plans, mut kept) = (Vec::new(), BTreeSet::new());
        for plan in self.plans {
            if plan.steps.iter().any(|(id, required)| *required && omitted.contains(id)) {
                if !omitted_names.contains(&plan.top) {
                    selected.dropped.push(plan.top.clone());
                }
            } else {
                plans.push(plan);
            }
        }
        // A plan taken makes the weak dependencies of its modules wanted. They come after it,
        // so one pass mostly does; repeat while a pass takes anything.
        let mut left = usize::MAX;
        while plans.len() < left {
            left = plans.len();
            plans.retain(|plan| {
                let wanted = plan.wanted_by.is_none_or(|id| kept.contains(&id));
                if wanted {
                    kept.extend(plan.steps.iter().map(|&(id, _)| id).filter(|id| !omitted.contains(id)));
                }
                !wanted
            });
        }
        for id in kept {
            let module = index.module(ModuleId(id)).context("a module id from the index")?;
            selected.paths.insert(path_of(&module));
        }
        selected.dropped.sort();
        selected.dropped.dedup();
        Ok(selected)
    }
}

fn path_of(module: &Module<'_>) -> String {
    let mut buf = [0u8; 4096];
    String::from_utf8_lossy(module.path(&mut buf).unwrap_or_default()).into_owned()
}

fn read_text(file: &Path) -> Result<String> {
    std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))
}

/// The non-empty lines of `text` without `#` comments, trimmed.
fn modalias_lines(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.split('#').next().unwrap_or_default().trim())
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// Every device modalias of this machine: `modalias` files under /sys/devices, and the
/// `MODALIAS=` of `uevent` files for devices without one (what modinit's coldplug reads).
fn this_machines_modaliases() -> Result<Vec<String>> {
    let mut found = BTreeSet::new();
    for entry in walkdir::WalkDir::new("/sys/devices").follow_links(false) {
        let Ok(entry) = entry else { continue };
        if !entry.file_type().is_dir() {
            continue;
        }
        let dir = entry.path();
        let alias = std::fs::read(dir.join("modalias")).ok().or_else(|| {
            let uevent = std::fs::read(dir.join("uevent")).ok()?;
            modinit::kernel::uevent::modalias_in_uevent_file(&uevent).map(<[u8]>::to_vec)
        });
        if let Some(alias) = alias {
            found.insert(String::from_utf8_lossy(alias.trim_ascii()).into_owned());
        }
    }
    if found.is_empty() {
        bail!("no modalias under /sys/devices: pass --modaliases FILE");
    }
    found.remove("");
    Ok(found.into_iter().collect())
}

/// The type of the filesystem mounted on this machine's `/` (the last mount there wins).
fn this_machines_rootfs() -> Result<String> {
    let mounts = read_text(Path::new("/proc/self/mounts"))?;
    mounts
        .lines()
        .rev()
        .find_map(|l| {
            let mut fields = l.split_whitespace();
            let (_, target, fstype) = (fields.next()?, fields.next()?, fields.next()?);
            (target == "/").then(|| fstype.to_string())
        })
        .context("nothing is mounted on / here: pass --rootfs TYPE")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selections_parse_and_bad_ones_say_what_is_expected() {
        assert_eq!("most".parse(), Ok(Selection::Most));
        assert_eq!("host".parse(), Ok(Selection::Host));
        assert_eq!("host-all".parse(), Ok(Selection::HostAll));
        assert_eq!("list:mods.txt".parse(), Ok(Selection::List("mods.txt".into())));
        let e = "list:".parse::<Selection>().unwrap_err();
        assert!(e.contains("list:FILE"), "{e}");
        assert!("some".parse::<Selection>().is_err());
    }

    #[test]
    fn the_most_table_matches_directories_and_files_whatever_their_compression() {
        assert!(is_most("kernel/drivers/ata/ahci.ko.zst"));
        assert!(is_most("kernel/drivers/net/virtio_net.ko"));
        assert!(is_most("kernel/drivers/net/virtio_net.ko.gz"));
        assert!(!is_most("kernel/drivers/net/virtio_net_extra.ko"));
        assert!(!is_most("kernel/drivers/gpu/drm/drm.ko"));
        assert!(!is_most("updates/fs/ext4.ko"));
    }

    #[test]
    fn host_takes_nics_only_for_a_network_root() {
        assert!(is_boot_critical("kernel/drivers/block/virtio_blk.ko", false));
        assert!(!is_boot_critical("kernel/drivers/net/ethernet/intel/e1000/e1000.ko", false));
        assert!(is_boot_critical("kernel/drivers/net/ethernet/intel/e1000/e1000.ko", true));
        assert!(!is_boot_critical("kernel/drivers/gpu/drm/tiny/bochs.ko", true));
    }

    /// a wants b (by name) and c (by an alias), b wants a back (by a pattern); c needs d. Only the first
    /// `weakdep` line matching a module counts (kmod_module_get_weakdeps), so e stays out.
    fn weak_tree() -> Vec<u8> {
        use modinit::decompress::Compression;
        use modinit::index::writer::{IndexContents, ModprobeConfig, ModuleEntry, write};
        let module = |stem: &str, deps: Vec<u16>| ModuleEntry {
            stem: stem.into(),
            dir: Some(b"kernel".to_vec()),
            compression: Compression::None,
            builtin: false,
            deps,
        };
        let contents = IndexContents {
            modules: vec![
                module("a", vec![]),
                module("b", vec![]),
                module("c", vec![3]),
                module("d", vec![]),
                module("e", vec![]),
            ],
            module_aliases: vec![(b"alias_c".to_vec(), 2)],
            config: ModprobeConfig {
                weakdeps: vec![
                    (b"a".to_vec(), b"b alias-c".to_vec()),
                    (b"b*".to_vec(), b"a".to_vec()),
                    (b"a".to_vec(), b"e".to_vec()),
                ],
                ..ModprobeConfig::default()
            },
            ..IndexContents::default()
        };
        write(&contents).unwrap()
    }

    fn weak_selection(names: &[&str], omit: &[&str]) -> Selected {
        let choice = ModuleChoice {
            selection: Selection::Names(names.iter().map(|n| n.to_string()).collect()),
            omit: omit.iter().map(|n| n.to_string()).collect(),
            ..ModuleChoice::default()
        };
        select(&weak_tree(), &choice).unwrap().unwrap()
    }

    fn set(paths: &[&str]) -> BTreeSet<String> {
        paths.iter().map(|p| p.to_string()).collect()
    }

    #[test]
    fn weak_dependencies_come_along_through_names_aliases_and_loops() {
        let all = weak_selection(&["a"], &[]);
        assert_eq!(all.paths, set(&["kernel/a.ko", "kernel/b.ko", "kernel/c.ko", "kernel/d.ko"]));
        assert!(all.dropped.is_empty());
        assert_eq!(weak_selection(&["d"], &[]).paths, set(&["kernel/d.ko"]), "no weakdep line matches d");
    }

    /// A weak dependency that needs an omitted module is dropped as a chosen one is; what only
    /// an omitted module wanted is left out without a word.
    #[test]
    fn omitting_a_module_leaves_out_what_only_it_wanted() {
        let without_d = weak_selection(&["a"], &["d"]);
        assert_eq!(without_d.paths, set(&["kernel/a.ko", "kernel/b.ko"]));
        assert_eq!(without_d.dropped, ["c"]);
        let without_a = weak_selection(&["a", "c"], &["a"]);
        assert_eq!(without_a.paths, set(&["kernel/c.ko", "kernel/d.ko"]));
        assert!(without_a.dropped.is_empty(), "{:?}", without_a.dropped);
    }

    #[test]
    fn modalias_lines_drop_comments_and_blanks() {
        assert_eq!(modalias_lines("# c\n\npci:v1*  \n usb:v2 # x\n"), ["pci:v1*", "usb:v2"]);
    }
}
