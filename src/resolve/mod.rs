//! kmod's resolution over the index: what a name or modalias means
//! (`kmod_module_new_from_lookup`; `symbol:` keys in modules.symbols, `symbols.rs`), what
//! loading a module involves (`kmod_module_probe_insert_module`: dependencies, softdeps), its
//! options, the blacklist, and its weak dependencies (which nothing loads). No allocation:
//! results go to caller-provided buffers and callbacks.

use crate::cmdline::modules::{self, KcmdlineEntry};
use crate::fnmatch::fnmatch;
use crate::index::{AliasHit, Index, Module, ModuleId, Weakdep};
use crate::name::{module_name, normalize_alias, normalize_module_name};
use core::cmp::Ordering;

pub mod symbols;

use symbols::{ModulesSymbols, SYMBOL_PREFIX};

/// Longest lookup key (kmod normalizes into a PATH_MAX buffer).
pub const KEY_MAX: usize = 4096;

/// The lookup step that found the modules (kmod tries them in this order, first hit wins).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    ConfigAlias,
    ModuleName,
    /// A `symbol:NAME` key's line in modules.symbols.
    Symbol,
    ModuleAlias,
    Builtin,
    BuiltinAlias,
}

/// What a lookup or a load plan names: a module of the index, or a name the index lacks
/// (a config `alias`, `softdep` or `modules-load.d` line naming no module of the tree).
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    Module(Module<'a>),
    Missing(&'a [u8]),
}

impl<'a> Target<'a> {
    /// The name kmod would print (normalized), written into `buf`.
    pub fn name<'b>(&self, buf: &'b mut [u8]) -> &'b [u8] {
        let mut len = 0;
        let name = match self {
            Target::Module(m) => m.stem,
            Target::Missing(n) => n,
        };
        for (slot, b) in buf.iter_mut().zip(module_name(name)) {
            *slot = b;
            len += 1;
        }
        &buf[..len]
    }

    fn id(&self) -> Option<ModuleId> {
        match self {
            Target::Module(m) => Some(m.id),
            Target::Missing(_) => None,
        }
    }
}

/// How a lookup reached a module: kmod's `mod->alias`, which decides the blacklist's
/// alias-only rule and matches `options ALIAS` lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via<'a> {
    /// By its name (the key itself, or a dependency).
    Name,
    /// Through a config `alias` line with this pattern.
    ConfigAlias(&'a [u8]),
    /// Through an alias pattern matching the key, which the caller holds.
    Alias,
    /// Through an alias pattern matching this softdep name (as the index spells it).
    SoftdepAlias(&'a [u8]),
}

#[derive(Debug, Clone, Copy)]
pub struct Found<'a> {
    pub target: Target<'a>,
    pub via: Via<'a>,
}

/// Why a lookup gave no usable answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LookupError {
    /// An unmatched `[` or `]`, or longer than [`KEY_MAX`]: kmod refuses such keys (EINVAL).
    InvalidKey,
    /// More modules matched than the caller's buffer holds; `found` is how many.
    TooMany { found: usize },
}

/// A lookup key, normalized as kmod does (`alias_normalize`).
pub struct Key {
    buf: [u8; KEY_MAX],
    len: usize,
}

impl Key {
    pub fn new(raw: &[u8]) -> Result<Key, LookupError> {
        let mut key = Key { buf: [0; KEY_MAX], len: 0 };
        key.len = normalize_alias(raw, &mut key.buf).ok_or(LookupError::InvalidKey)?;
        Ok(key)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// The index plus the kernel command line (and modules.symbols for `symbol:` keys, where the
/// caller has it): everything resolution depends on.
#[derive(Clone, Copy)]
pub struct Resolver<'a> {
    pub index: Index<'a>,
    pub cmdline: &'a [u8],
    pub symbols: ModulesSymbols<'a>,
}

/// Fills `out` from the front, counting what does not fit.
struct Collector<'o, 'a> {
    out: &'o mut [Option<Found<'a>>],
    len: usize,
}

impl<'a> Collector<'_, 'a> {
    fn push(&mut self, f: Found<'a>) {
        if let Some(slot) = self.out.get_mut(self.len) {
            *slot = Some(f);
        }
        self.len += 1;
    }

    fn finish(self) -> Result<usize, LookupError> {
        if self.len > self.out.len() { Err(LookupError::TooMany { found: self.len }) } else { Ok(self.len) }
    }
}

impl<'a> Resolver<'a> {
    /// The module of `name` (loadable first, then builtin), or the name as missing.
    pub fn by_name(&self, name: &'a [u8]) -> Target<'a> {
        match self.index.find(name, false).or_else(|| self.index.find(name, true)) {
            Some(m) => Target::Module(m),
            None => Target::Missing(name),
        }
    }

    /// `kmod_module_new_from_lookup`: the modules `key` names, in kmod's order, into `out`.
    /// Returns the step that answered and how many were found (0: nothing matched).
    /// Install commands are not in the index (see docs/index-format.md).
    pub fn lookup(&self, key: &Key, out: &mut [Option<Found<'a>>]) -> Result<(Source, usize), LookupError> {
        self.lookup_with(key, out, true)
    }

    /// [`Resolver::lookup`] without the configuration's `alias` lines, as kmod looks up with no
    /// configuration (what its modinfo does).
    pub fn lookup_in_tree(&self, key: &Key, out: &mut [Option<Found<'a>>]) -> Result<(Source, usize), LookupError> {
        self.lookup_with(key, out, false)
    }

    /// `kmod_module_new_from_name_lookup`: the loadable module named `name`, else the builtin,
    /// else the first builtin whose alias matches the name.
    pub fn lookup_name(&self, name: &[u8]) -> Result<Option<Module<'a>>, LookupError> {
        if let Some(m) = self.index.find(name, false).or_else(|| self.index.find(name, true)) {
            return Ok(Some(m));
        }
        let mut normalized = [0u8; KEY_MAX];
        let Some(len) = normalize_module_name(name, &mut normalized) else { return Ok(None) };
        let mut out = [None; 256];
        let mut found = Collector { out: &mut out, len: 0 };
        self.alias_hits(self.index.builtin_aliases(), &normalized[..len], &mut found, kmod_trie_order)?;
        Ok(out.iter().flatten().find_map(|f| match f.target {
            Target::Module(m) => Some(m),
            Target::Missing(_) => None,
        }))
    }

    fn lookup_with(
        &self,
        key: &Key,
        out: &mut [Option<Found<'a>>],
        config: bool,
    ) -> Result<(Source, usize), LookupError> {
        let key = key.as_bytes();
        let mut found = Collector { out, len: 0 };
        for (pattern, module) in self.index.config_aliases().filter(|_| config) {
            if fnmatch(pattern, key) {
                found.push(Found { target: self.by_name(module), via: Via::ConfigAlias(pattern) });
            }
        }
        if found.len > 0 {
            return found.finish().map(|n| (Source::ConfigAlias, n));
        }
        if !key.contains(&b':')
            && let Some(m) = self.index.find(key, false)
        {
            found.push(Found { target: Target::Module(m), via: Via::Name });
            return found.finish().map(|n| (Source::ModuleName, n));
        }
        if key.starts_with(SYMBOL_PREFIX) {
            for module in self.symbols.owners(key) {
                found.push(Found { target: self.by_name(module), via: Via::Alias });
            }
            if found.len > 0 {
                return found.finish().map(|n| (Source::Symbol, n));
            }
        }
        let n = self.alias_hits(self.index.module_aliases(), key, &mut found, |_, a, b| a.module.cmp(&b.module))?;
        if n > 0 {
            return Ok((Source::ModuleAlias, n));
        }
        if let Some(m) = self.index.find(key, true) {
            found.push(Found { target: Target::Module(m), via: Via::Name });
            return found.finish().map(|n| (Source::Builtin, n));
        }
        let n = self.alias_hits(self.index.builtin_aliases(), key, &mut found, kmod_trie_order)?;
        Ok((Source::BuiltinAlias, n))
    }

    /// The hits of `table` for `key`, sorted by `order` (stable), as `Found`s.
    fn alias_hits(
        &self,
        table: &crate::index::AliasTable<'a>,
        key: &[u8],
        found: &mut Collector<'_, 'a>,
        order: impl Fn(&[u8], &AliasHit<'a>, &AliasHit<'a>) -> Ordering,
    ) -> Result<usize, LookupError> {
        // Hits are few (a handful per device); keep them on the stack to sort them.
        let mut hits: [Option<AliasHit<'a>>; 256] = [None; 256];
        let mut n = 0;
        table.for_each_match(key, |h| {
            if let Some(slot) = hits.get_mut(n) {
                *slot = Some(h);
            }
            n += 1;
        });
        if n > hits.len() {
            return Err(LookupError::TooMany { found: n });
        }
        // Insertion sort: stable, and n is small.
        for i in 1..n {
            let mut j = i;
            while j > 0 {
                let (Some(a), Some(b)) = (hits[j - 1], hits[j]) else { break };
                if order(key, &a, &b) != Ordering::Greater {
                    break;
                }
                hits.swap(j - 1, j);
                j -= 1;
            }
        }
        for h in hits[..n].iter().flatten() {
            if let Some(m) = self.index.module(ModuleId(h.module)) {
                found.push(Found { target: Target::Module(m), via: Via::Alias });
            }
        }
        let total = found.len;
        if total > found.out.len() { Err(LookupError::TooMany { found: total }) } else { Ok(n) }
    }

    /// Whether kmod's blacklist holds `target`'s name: `blacklist` lines and the command
    /// line's `modprobe.blacklist=`.
    pub fn is_blacklisted(&self, target: &Target<'a>) -> bool {
        let mut listed = self.index.blacklist().any(|name| target.is_named_exactly(name));
        modules::for_each_entry(self.cmdline, |e| {
            if let KcmdlineEntry::Blacklist(name) = e {
                listed |= target.is_named_exactly(name);
            }
        });
        listed
    }

    /// The options kmod passes when it loads `found`: every `options` line for its name or
    /// the alias it was reached through, in config order, then the command line's
    /// `NAME.PARAM=VALUE`, joined by spaces. `alias_key` is the key of a `Via::Alias` lookup.
    pub fn options(&self, found: &Found<'a>, alias_key: &[u8], mut piece: impl FnMut(&[u8])) {
        let mut normalized = [0u8; KEY_MAX];
        let alias = match found.via {
            Via::Name => None,
            Via::ConfigAlias(pattern) => Some(pattern),
            Via::Alias => Some(alias_key),
            Via::SoftdepAlias(name) => normalize_alias(name, &mut normalized).map(|n| &normalized[..n]),
        };
        let mut first = true;
        let mut emit = |parts: &[&[u8]]| {
            if parts.iter().all(|p| p.is_empty()) {
                return;
            }
            if !first {
                piece(b" ");
            }
            first = false;
            for p in parts {
                piece(p);
            }
        };
        for (name, text) in self.index.options() {
            if found.target.is_named_exactly(name) || alias == Some(name) {
                emit(&[text]);
            }
        }
        modules::for_each_entry(self.cmdline, |e| {
            if let KcmdlineEntry::Option(o) = e {
                let mut buf = [0u8; 256];
                let module = normalize_alias(o.module, &mut buf).map(|n| &buf[..n]);
                if module.is_some_and(|m| found.target.is_named_exactly(m) || alias == Some(m)) {
                    emit(&o.text);
                }
            }
        });
    }

    /// `kmod_module_get_weakdeps` (kmod 33, libkmod-module.c): the first `weakdep` line whose
    /// pattern matches `target`'s name; kmod looks each of its names up fully. Weak
    /// dependencies are never loaded ([`Resolver::probe_list`] leaves them out): they are
    /// modules the kernel may request while `target` runs, which an image should hold.
    pub fn weakdep(&self, target: &Target<'a>) -> Option<Weakdep<'a>> {
        let mut name = [0u8; 256];
        let name = target.name(&mut name);
        self.index.weakdeps().find(|w| fnmatch(w.pattern, name))
    }

    /// `kmod_module_get_probe_list`: what loading `top` inserts, in order — each dependency
    /// with its softdeps around it, then `top`'s `softdep pre:` modules, `top`, its `post:`
    /// modules. As in kmod, a module appears again if a softdep leads back to it; `visited`
    /// only stops a module's dependencies from being expanded twice, and a module reached
    /// through an alias is another object to kmod than the same module by name (see
    /// [`Visited`]). Only `top` and its dependencies are `required`: failures of the others
    /// are to be ignored.
    pub fn probe_list(&self, top: &Found<'a>, emit: &mut dyn FnMut(Step<'a>)) -> Result<(), PlanError> {
        self.plan(top, true, emit)
    }

    /// [`Resolver::probe_list`] as kmod makes it with `KMOD_PROBE_IGNORE_COMMAND` (`modprobe
    /// -i`): without `top`'s own softdeps (its dependencies keep theirs).
    pub fn probe_list_ignoring_commands(
        &self,
        top: &Found<'a>,
        emit: &mut dyn FnMut(Step<'a>),
    ) -> Result<(), PlanError> {
        self.plan(top, false, emit)
    }

    fn plan(&self, top: &Found<'a>, top_softdeps: bool, emit: &mut dyn FnMut(Step<'a>)) -> Result<(), PlanError> {
        let mut visited = Visited { names: ModuleSet::new(), aliased: [(ModuleId(0), None); MAX_ALIASED], len: 0 };
        let mut plan = Plan { resolver: self, top: top.target, visited: &mut visited, emit };
        let object = if top.via == Via::Name { Object::Named } else { Object::Aliased(None) };
        plan.probe(top.target, top.via, object, 0, top_softdeps)
    }
}

/// A module to insert.
#[derive(Debug, Clone, Copy)]
pub struct Step<'a> {
    pub target: Target<'a>,
    pub via: Via<'a>,
    pub required: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanError {
    /// Softdeps nest deeper than [`MAX_SOFTDEP_DEPTH`] (a loop through names the index lacks).
    SoftdepsTooDeep,
    /// Softdeps reach more than [`MAX_ALIASED`] modules through aliases.
    TooManyAliased,
}

/// How many modules reached through aliases one probe list can visit.
pub const MAX_ALIASED: usize = 32;

/// Which of kmod's module objects a module is reached as. libkmod keeps one object per name,
/// and one per (name, lookup key) for a module found through an alias (`name\alias`), each
/// with its own visited mark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Object<'a> {
    Named,
    /// Through an alias of this softdep name; None for the key the caller looked up.
    Aliased(Option<&'a [u8]>),
}

/// A module reached through an alias, with the key of [`Object::Aliased`].
type AliasedObject<'a> = (ModuleId, Option<&'a [u8]>);

/// The objects a probe list has visited.
struct Visited<'a> {
    names: ModuleSet,
    aliased: [AliasedObject<'a>; MAX_ALIASED],
    len: usize,
}

impl<'a> Visited<'a> {
    /// Marks `id` as `object` visited: Ok(false) if it was already.
    fn insert(&mut self, id: ModuleId, object: Object<'a>) -> Result<bool, PlanError> {
        let Object::Aliased(key) = object else { return Ok(self.names.insert(id)) };
        if self.aliased[..self.len].contains(&(id, key)) {
            return Ok(false);
        }
        let slot = self.aliased.get_mut(self.len).ok_or(PlanError::TooManyAliased)?;
        *slot = (id, key);
        self.len += 1;
        Ok(true)
    }
}

/// Nesting limit for softdeps of softdeps: kmod has none, but its loops end on modules it
/// visited, and names missing from the index cannot be marked visited here.
pub const MAX_SOFTDEP_DEPTH: usize = 16;

/// A set of module ids (every u16).
pub struct ModuleSet([u64; 1024]);

impl ModuleSet {
    pub const fn new() -> Self {
        ModuleSet([0; 1024])
    }

    /// Adds `id`; false if it was there already.
    pub fn insert(&mut self, id: ModuleId) -> bool {
        let (word, bit) = (usize::from(id.0) / 64, 1u64 << (id.0 % 64));
        let fresh = self.0[word] & bit == 0;
        self.0[word] |= bit;
        fresh
    }

    pub fn contains(&self, id: ModuleId) -> bool {
        self.0[usize::from(id.0) / 64] & (1u64 << (id.0 % 64)) != 0
    }

    pub fn remove(&mut self, id: ModuleId) {
        self.0[usize::from(id.0) / 64] &= !(1u64 << (id.0 % 64));
    }
}

impl Default for ModuleSet {
    fn default() -> Self {
        Self::new()
    }
}

struct Plan<'r, 'a> {
    resolver: &'r Resolver<'a>,
    top: Target<'a>,
    visited: &'r mut Visited<'a>,
    emit: &'r mut dyn FnMut(Step<'a>),
}

impl<'a> Plan<'_, 'a> {
    fn required(&self, t: &Target<'a>) -> bool {
        match (self.top, t.id()) {
            (Target::Module(top), Some(id)) => top.id == id || top.deps().any(|d| d == id),
            (Target::Missing(_), _) => t.id().is_none(),
            _ => false,
        }
    }

    /// `__kmod_module_get_probe_list`.
    /// `__kmod_module_get_probe_list`: `t`'s dependencies with their softdeps, then `t`, with
    /// its own softdeps unless not `softdeps`.
    fn probe(
        &mut self,
        t: Target<'a>,
        via: Via<'a>,
        object: Object<'a>,
        depth: usize,
        softdeps: bool,
    ) -> Result<(), PlanError> {
        if let Some(id) = t.id()
            && !self.visited.insert(id, object)?
        {
            return Ok(());
        }
        if let Target::Module(m) = t {
            for dep in m.deps() {
                if let Some(d) = self.resolver.index.module(dep) {
                    self.with_softdeps(Target::Module(d), Via::Name, depth)?;
                }
            }
        }
        if softdeps {
            return self.with_softdeps(t, via, depth);
        }
        let required = self.required(&t);
        (self.emit)(Step { target: t, via, required });
        Ok(())
    }

    /// `__kmod_module_fill_softdep`: the first `softdep` line matching `t`'s name.
    fn with_softdeps(&mut self, t: Target<'a>, via: Via<'a>, depth: usize) -> Result<(), PlanError> {
        let mut name = [0u8; 256];
        let name = t.name(&mut name);
        let softdep = self.resolver.index.softdeps().find(|s| fnmatch(s.pattern, name));
        if let Some(s) = softdep {
            self.softdep_list(s.pre_names(), depth)?;
        }
        let required = self.required(&t);
        (self.emit)(Step { target: t, via, required });
        if let Some(s) = softdep {
            self.softdep_list(s.post_names(), depth)?;
        }
        Ok(())
    }

    /// `lookup_softdep`: each name looked up fully; lookup failures are skipped, as kmod does.
    fn softdep_list(&mut self, names: impl Iterator<Item = &'a [u8]>, depth: usize) -> Result<(), PlanError> {
        for name in names {
            if depth >= MAX_SOFTDEP_DEPTH {
                return Err(PlanError::SoftdepsTooDeep);
            }
            let Ok(key) = Key::new(name) else { continue };
            let mut found = [None; 16];
            let Ok((_, n)) = self.resolver.lookup(&key, &mut found) else { continue };
            for f in found[..n].iter().flatten() {
                let via = if f.via == Via::Alias { Via::SoftdepAlias(name) } else { f.via };
                let object = if f.via == Via::Name { Object::Named } else { Object::Aliased(Some(name)) };
                self.probe(f.target, via, object, depth + 1, true)?;
            }
        }
        Ok(())
    }
}

impl Target<'_> {
    /// kmod's `streq(name, mod->name)`: `name` is already normalized where kmod stored it.
    fn is_named_exactly(&self, name: &[u8]) -> bool {
        let ours = match self {
            Target::Module(m) => m.stem,
            Target::Missing(n) => n,
        };
        module_name(ours).eq(name.iter().copied())
    }
}

/// Byte `i` of the pattern `key[..prefix_len] + rest`; None past its end.
fn pattern_byte(key: &[u8], h: &AliasHit<'_>, i: usize) -> Option<u8> {
    if i < h.prefix_len { key.get(i).copied() } else { h.rest.get(i - h.prefix_len).copied() }
}

/// The order kmod returns builtin aliases of equal priority (all of them have priority 0):
/// the reverse of its trie walk. That walk, along the key's literal path, visits at each
/// position the `*` subtree, then `?`, then `[`, then a pattern ending there, then the
/// literal child; below a wildcard it visits children by byte and a node's own patterns
/// after them. Identical patterns keep file order.
fn kmod_trie_order(key: &[u8], a: &AliasHit<'_>, b: &AliasHit<'_>) -> Ordering {
    let mut wild = false;
    for i in 0.. {
        let (x, y) = (pattern_byte(key, a, i), pattern_byte(key, b, i));
        if x == y {
            match x {
                None => return Ordering::Equal,
                Some(c) => wild |= matches!(c, b'*' | b'?' | b'['),
            }
            continue;
        }
        let rank = |c: Option<u8>| -> (u8, u8) {
            match c {
                None if wild => (1, 0),
                Some(c) if wild => (0, c),
                Some(b'*') => (0, 0),
                Some(b'?') => (1, 0),
                Some(b'[') => (2, 0),
                None => (3, 0),
                Some(_) => (4, 0),
            }
        };
        // Visited first comes last.
        return rank(y).cmp(&rank(x));
    }
    Ordering::Equal
}

#[cfg(all(test, feature = "alloc"))]
mod tests {
    use super::*;
    use crate::decompress::Compression;
    use crate::index::writer::{IndexContents, ModprobeConfig, ModuleEntry, write};
    use std::string::String;
    use std::vec;
    use std::vec::Vec;

    fn module(stem: &str, deps: Vec<u16>) -> ModuleEntry {
        ModuleEntry {
            stem: stem.into(),
            dir: Some(b"kernel".to_vec()),
            compression: Compression::None,
            builtin: false,
            deps,
        }
    }

    /// ids: 0 ahci (deps libahci, libata), 1 libahci (libata), 2 libata, 3 e1000, 4 e1000e,
    /// 5 crc32c (builtin), 6 virtio_blk (builtin)
    fn sample() -> Vec<u8> {
        let mut c = IndexContents {
            kernel_release: b"test".to_vec(),
            modules: vec![
                module("ahci", vec![2, 1]),
                module("libahci", vec![2]),
                module("libata", vec![]),
                module("e1000", vec![]),
                module("e1000e", vec![]),
            ],
            module_aliases: vec![
                (b"pci:v*d*sv*sd*bc01sc06i01*".to_vec(), 0),
                (b"pci:v00008086d0000100Esv*".to_vec(), 4),
                (b"pci:v00008086d0000100Esv*sd*".to_vec(), 3),
            ],
            builtin_aliases: vec![
                (b"virtio:d00000002v*".to_vec(), 6),
                (b"virtio:d*v*".to_vec(), 5),
                (b"virtio:d00000002v*".to_vec(), 5),
            ],
            config: ModprobeConfig {
                aliases: vec![(b"eth*".to_vec(), b"e1000".to_vec()), (b"eth0".to_vec(), b"no_such".to_vec())],
                options: vec![
                    (b"ahci".to_vec(), b"a=1".to_vec()),
                    (b"eth0".to_vec(), b"b=2".to_vec()),
                    (b"ahci".to_vec(), b"c=3".to_vec()),
                ],
                blacklist: vec![b"e1000e".to_vec()],
                softdeps: vec![
                    (b"lib*".to_vec(), b"e1000".to_vec(), b"".to_vec()),
                    (b"ahci".to_vec(), b"".to_vec(), b"eth0".to_vec()),
                ],
                weakdeps: vec![
                    (b"ahci".to_vec(), b"e1000e virtio_blk".to_vec()),
                    (b"ahc*".to_vec(), b"libata".to_vec()),
                    (b"lib*".to_vec(), b"".to_vec()),
                ],
            },
            modules_load: vec![],
        };
        for stem in ["crc32c", "virtio_blk"] {
            c.modules.push(ModuleEntry {
                stem: stem.into(),
                dir: None,
                compression: Compression::None,
                builtin: true,
                deps: vec![],
            });
        }
        write(&c).unwrap()
    }

    fn names(r: &Resolver<'_>, key: &str) -> (Source, Vec<String>) {
        let mut out = [None; 8];
        let (source, n) = r.lookup(&Key::new(key.as_bytes()).unwrap(), &mut out).unwrap();
        let mut buf = [0u8; 64];
        (
            source,
            out[..n].iter().flatten().map(|f| String::from_utf8_lossy(f.target.name(&mut buf)).into_owned()).collect(),
        )
    }

    #[test]
    fn lookups_take_kmods_steps_in_order() {
        let bytes = sample();
        let r = Resolver { index: Index::open(&bytes).unwrap(), cmdline: b"", symbols: ModulesSymbols::NONE };
        assert_eq!(names(&r, "eth0"), (Source::ConfigAlias, vec!["e1000".into(), "no_such".into()]));
        assert_eq!(names(&r, "libata"), (Source::ModuleName, vec!["libata".into()]));
        // Priority order (module id), not pattern specificity.
        assert_eq!(
            names(&r, "pci:v00008086d0000100Esv00001AF4sd00001100bc02sc00i00"),
            (Source::ModuleAlias, vec!["e1000".into(), "e1000e".into()])
        );
        assert_eq!(names(&r, "crc32c"), (Source::Builtin, vec!["crc32c".into()]));
        // Equal priority: kmod's trie walk visits `virtio:d*` before `virtio:d00000002v*` (a
        // `*` child before the literal one), and returns the reverse; equal patterns in file order.
        assert_eq!(
            names(&r, "virtio:d00000002v00001AF4"),
            (Source::BuiltinAlias, vec!["virtio_blk".into(), "crc32c".into(), "crc32c".into()])
        );
        assert_eq!(names(&r, "usb:v1"), (Source::BuiltinAlias, vec![]));
        assert_eq!(r.lookup(&Key::new(b"x").unwrap(), &mut [None; 0]).map(|(_, n)| n), Ok(0));
        assert_eq!(r.lookup(&Key::new(b"eth1").unwrap(), &mut [None; 0]), Err(LookupError::TooMany { found: 1 }));
        assert_eq!(Key::new(b"bad[").err(), Some(LookupError::InvalidKey));
    }

    /// `symbol:` keys: after the configuration's aliases and module names, before modules.alias;
    /// a module modules.symbols names that the index lacks is missing; no file, no match.
    #[test]
    fn symbol_keys_are_looked_up_in_modules_symbols() {
        let bytes = sample();
        let text = b"alias symbol:ata_link_printk libata\nalias symbol:gone no_module\n";
        let r = Resolver { index: Index::open(&bytes).unwrap(), cmdline: b"", symbols: ModulesSymbols::new(text) };
        assert_eq!(names(&r, "symbol:ata_link_printk"), (Source::Symbol, vec!["libata".into()]));
        assert_eq!(names(&r, "symbol:gone"), (Source::Symbol, vec!["no_module".into()]));
        let mut out = [None; 2];
        r.lookup(&Key::new(b"symbol:ata_link_printk").unwrap(), &mut out).unwrap();
        assert_eq!(out[0].unwrap().via, Via::Alias, "options and the blacklist see an alias");
        assert_eq!(names(&r, "symbol:other").1, Vec::<String>::new());
        let none = Resolver { symbols: ModulesSymbols::NONE, ..r };
        assert_eq!(names(&none, "symbol:ata_link_printk").1, Vec::<String>::new());
    }

    #[test]
    fn options_come_from_name_alias_and_command_line_in_order() {
        let bytes = sample();
        let r = Resolver {
            index: Index::open(&bytes).unwrap(),
            cmdline: b"ahci.d=4 e1000.x=\"1 2\" quiet",
            symbols: ModulesSymbols::NONE,
        };
        let opts = |key: &str| {
            let mut out = [None; 4];
            r.lookup(&Key::new(key.as_bytes()).unwrap(), &mut out).unwrap();
            let mut text = Vec::new();
            r.options(&out[0].unwrap(), key.as_bytes(), |p| text.extend_from_slice(p));
            String::from_utf8(text).unwrap()
        };
        assert_eq!(opts("ahci"), "a=1 c=3 d=4");
        assert_eq!(opts("eth0"), "x=\"1 2\"", "the config alias's pattern is eth*, not eth0");
        let bytes = sample();
        let r2 = Resolver {
            index: Index::open(&bytes).unwrap(),
            cmdline: b"modprobe.blacklist=libata,e1000",
            symbols: ModulesSymbols::NONE,
        };
        let t = |name: &'static [u8]| r2.by_name(name);
        assert!(
            r2.is_blacklisted(&t(b"e1000e")) && r2.is_blacklisted(&t(b"libata")) && r2.is_blacklisted(&t(b"e1000"))
        );
        assert!(!r2.is_blacklisted(&t(b"ahci")));
    }

    #[test]
    fn probe_lists_put_softdeps_around_each_module() {
        let bytes = sample();
        let r = Resolver { index: Index::open(&bytes).unwrap(), cmdline: b"", symbols: ModulesSymbols::NONE };
        let mut out = [None; 4];
        r.lookup(&Key::new(b"ahci").unwrap(), &mut out).unwrap();
        let mut steps = Vec::new();
        r.probe_list(&out[0].unwrap(), &mut |s| {
            let mut buf = [0u8; 64];
            steps.push(format!(
                "{}{}",
                String::from_utf8_lossy(s.target.name(&mut buf)),
                if s.required { "" } else { "?" }
            ));
        })
        .unwrap();
        // libata (dep) with softdep pre e1000; libahci likewise (e1000 visited: its probe list
        // is not expanded again, as in kmod); ahci; post: eth0 -> e1000 and the missing module.
        // e1000 through the alias eth0 is another object to kmod, not visited yet: it comes
        // again (kmod 30's modprobe -D does the same on the real tree with these lines).
        assert_eq!(steps, ["e1000?", "libata", "libahci", "ahci", "e1000?", "no_such?"]);
    }

    /// With kmod's KMOD_PROBE_IGNORE_COMMAND (`modprobe -i`) the top module's own softdeps are
    /// left out, not its dependencies'.
    #[test]
    fn ignoring_commands_leaves_out_the_top_modules_softdeps() {
        let bytes = sample();
        let r = Resolver { index: Index::open(&bytes).unwrap(), cmdline: b"", symbols: ModulesSymbols::NONE };
        let mut out = [None; 4];
        r.lookup(&Key::new(b"ahci").unwrap(), &mut out).unwrap();
        let mut steps = Vec::new();
        r.probe_list_ignoring_commands(&out[0].unwrap(), &mut |s| {
            let mut buf = [0u8; 64];
            steps.push(String::from_utf8_lossy(s.target.name(&mut buf)).into_owned());
        })
        .unwrap();
        assert_eq!(steps, ["e1000", "libata", "libahci", "ahci"]);
    }

    /// ahci's weakdeps (e1000e, virtio_blk) are answered, and its load plan has none of them.
    #[test]
    fn weakdeps_are_answered_but_never_planned() {
        let bytes = sample();
        let r = Resolver { index: Index::open(&bytes).unwrap(), cmdline: b"", symbols: ModulesSymbols::NONE };
        let names = |name: &'static [u8]| r.weakdep(&r.by_name(name)).map(|w| w.names().collect::<Vec<_>>());
        assert_eq!(names(b"ahci"), Some(vec![&b"e1000e"[..], b"virtio_blk"]), "the first matching line only");
        assert_eq!(names(b"libahci"), Some(vec![]), "a line without names still hides later ones");
        assert_eq!(names(b"e1000"), None);
        let mut out = [None; 4];
        r.lookup(&Key::new(b"ahci").unwrap(), &mut out).unwrap();
        let mut planned = Vec::new();
        r.probe_list(&out[0].unwrap(), &mut |s| {
            let mut buf = [0u8; 64];
            planned.push(String::from_utf8_lossy(s.target.name(&mut buf)).into_owned());
        })
        .unwrap();
        assert!(planned.contains(&"ahci".to_string()), "{planned:?}");
        assert!(!planned.iter().any(|m| m == "e1000e" || m == "virtio_blk"), "{planned:?}");
    }
}
