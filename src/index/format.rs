//! The layout of `modinit.idx`, shared by the reader and the writer. The specification for
//! people is docs/index-format.md; this file is the same thing for the compiler.

use crate::decompress::Compression;

/// The file's first bytes.
pub const MAGIC: [u8; 8] = *b"MODINIDX";
/// Bumped on every change of the layout: version 2 added [`Section::Weakdeps`]. The writer
/// writes this version; the reader also opens the versions [`sections_of`] lists.
pub const VERSION: u32 = 2;

/// Header fields, by byte offset. After them comes the section table.
pub const OFF_MAGIC: usize = 0;
pub const OFF_VERSION: usize = 8;
pub const OFF_FILE_LEN: usize = 12;
/// CRC-32 (IEEE) of every byte after the header.
pub const OFF_CHECKSUM: usize = 16;
/// String-table offset of the kernel release the index was built for.
pub const OFF_KERNEL_RELEASE: usize = 20;
pub const OFF_SECTIONS: usize = 24;

/// The sections, in the order of the section table (offset u32, length u32 each).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// NUL-terminated strings, referenced by byte offset.
    Strings,
    /// [`MODULE_RECORD`]-byte records, in kmod's priority order (modules.order).
    Modules,
    /// u16 module ids: each module's dependencies in load order, deepest first.
    Deps,
    /// u16 module ids sorted by module name (loadable before builtin for equal names).
    Names,
    /// Directories of module files, as a tree under the modules dir: [`DIR_RECORD`]-byte
    /// records (parent u16 or [`NO_DIR`], name u32), parents before children.
    Dirs,
    /// The .ko files' aliases: block table and group stream (see alias_table.rs).
    ModuleAliasBlocks,
    ModuleAliasStream,
    /// modules.builtin.modinfo's aliases, same layout.
    BuiltinAliasBlocks,
    BuiltinAliasStream,
    /// modprobe.d `alias PATTERN MODULE`: two u32 string offsets each, config order.
    ConfigAliases,
    /// modprobe.d `options MODULE TEXT`: two u32 string offsets each, config order.
    Options,
    /// modprobe.d `blacklist MODULE`: one u32 string offset each.
    Blacklist,
    /// `softdep PATTERN pre: ... post: ...` (config and the modules' own): three u32 string
    /// offsets each (pattern, pre names, post names; names separated by one space).
    Softdeps,
    /// modules-load.d entries: one u32 string offset each, in load order.
    ModulesLoad,
    /// `weakdep PATTERN NAMES` (config and the modules' own): two u32 string offsets each
    /// (pattern, names separated by one space). Since version 2.
    Weakdeps,
}

impl Section {
    pub const ALL: [Section; 15] = [
        Section::Strings,
        Section::Modules,
        Section::Deps,
        Section::Names,
        Section::Dirs,
        Section::ModuleAliasBlocks,
        Section::ModuleAliasStream,
        Section::BuiltinAliasBlocks,
        Section::BuiltinAliasStream,
        Section::ConfigAliases,
        Section::Options,
        Section::Blacklist,
        Section::Softdeps,
        Section::ModulesLoad,
        Section::Weakdeps,
    ];

    /// The section's place in [`Section::ALL`] (which lists them in declaration order).
    pub const fn slot(self) -> usize {
        self as usize
    }

    /// Size of one record, for sections of fixed-size records (1 for byte streams).
    pub const fn record_size(self) -> usize {
        match self {
            Section::Modules => MODULE_RECORD,
            Section::Deps | Section::Names => 2,
            Section::Dirs => DIR_RECORD,
            Section::ModuleAliasBlocks | Section::BuiltinAliasBlocks => 4,
            Section::Blacklist | Section::ModulesLoad => 4,
            Section::ConfigAliases | Section::Options | Section::Weakdeps => 8,
            Section::Softdeps => 12,
            Section::Strings | Section::ModuleAliasStream | Section::BuiltinAliasStream => 1,
        }
    }

    pub const fn name(self) -> &'static str {
        match self {
            Section::Strings => "strings",
            Section::Modules => "modules",
            Section::Deps => "dependencies",
            Section::Names => "names",
            Section::Dirs => "directories",
            Section::ModuleAliasBlocks => "module alias blocks",
            Section::ModuleAliasStream => "module aliases",
            Section::BuiltinAliasBlocks => "builtin alias blocks",
            Section::BuiltinAliasStream => "builtin aliases",
            Section::ConfigAliases => "config aliases",
            Section::Options => "options",
            Section::Blacklist => "blacklist",
            Section::Softdeps => "softdeps",
            Section::ModulesLoad => "modules-load",
            Section::Weakdeps => "weakdeps",
        }
    }
}

/// The sections of a file of format `version`, in table order: a version's table lists the
/// sections of the one before it, then those it added. None for a version this code cannot read.
pub fn sections_of(version: u32) -> Option<&'static [Section]> {
    match version {
        1 => Section::ALL.strip_suffix(&[Section::Weakdeps]),
        VERSION => Some(&Section::ALL),
        _ => None,
    }
}

/// Bytes before the first section of a file whose table has `sections` entries.
pub const fn header_len(sections: usize) -> usize {
    OFF_SECTIONS + sections * 8
}

/// Bytes before the first section, in the version the writer writes.
pub const HEADER_LEN: usize = header_len(Section::ALL.len());

/// A module record: stem u32, dir u16, compression u8, flags u8, first dependency u32.
pub const MODULE_RECORD: usize = 12;
pub const REC_STEM: usize = 0;
pub const REC_DIR: usize = 4;
pub const REC_COMPRESSION: usize = 6;
pub const REC_FLAGS: usize = 7;
pub const REC_DEPS: usize = 8;
/// `dir` of a module without a file (builtin), and `parent` of a top directory.
pub const NO_DIR: u16 = u16::MAX;
/// A directory record: parent u16, name u32 (one path component).
pub const DIR_RECORD: usize = 6;
/// Flag: built into the kernel image (from modules.builtin).
pub const FLAG_BUILTIN: u8 = 1;

/// `.` or `..`: a path component that does not name a directory below its parent. No
/// directory of a module's path may be one (the reader and the writer both refuse them).
pub fn is_dot_or_dot_dot(component: &[u8]) -> bool {
    matches!(component, b"." | b"..")
}

/// The record's compression byte for `c`.
pub fn compression_byte(c: Compression) -> u8 {
    match c {
        Compression::None => 0,
        Compression::Gzip => 1,
        Compression::Zstd => 2,
        Compression::Xz => 3,
    }
}

/// The compression a record's byte names; None for an unknown byte.
pub fn compression_from_byte(b: u8) -> Option<Compression> {
    Some(match b {
        0 => Compression::None,
        1 => Compression::Gzip,
        2 => Compression::Zstd,
        3 => Compression::Xz,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sections_slot_is_its_place_in_the_table() {
        for (i, s) in Section::ALL.into_iter().enumerate() {
            assert_eq!(s.slot(), i, "{}", s.name());
        }
    }
}
