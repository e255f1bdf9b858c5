//! The layout of `modinit.idx`, shared by the reader and the writer. The specification for
//! people is docs/index-format.md; this file is the same thing for the compiler.

/// The file's first bytes.
pub const MAGIC: [u8; 8] = *b"MODINIDX";
/// Bumped on every incompatible change; a reader accepts only its own.
pub const VERSION: u32 = 1;

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
    /// u32 string offsets: directories of module files, relative to the modules dir.
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
}

impl Section {
    pub const ALL: [Section; 14] = [
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
    ];

    /// Size of one record, for sections of fixed-size records (1 for byte streams).
    pub const fn record_size(self) -> usize {
        match self {
            Section::Modules => MODULE_RECORD,
            Section::Deps | Section::Names => 2,
            Section::Dirs | Section::ModuleAliasBlocks | Section::BuiltinAliasBlocks => 4,
            Section::Blacklist | Section::ModulesLoad => 4,
            Section::ConfigAliases | Section::Options => 8,
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
        }
    }
}

/// Bytes before the first section.
pub const HEADER_LEN: usize = OFF_SECTIONS + Section::ALL.len() * 8;

/// A module record: stem u32, dir u16, compression u8, flags u8, first dependency u32.
pub const MODULE_RECORD: usize = 12;
pub const REC_STEM: usize = 0;
pub const REC_DIR: usize = 4;
pub const REC_COMPRESSION: usize = 6;
pub const REC_FLAGS: usize = 7;
pub const REC_DEPS: usize = 8;
/// `dir` of a module without a file (builtin).
pub const NO_DIR: u16 = u16::MAX;
/// Flag: built into the kernel image (from modules.builtin).
pub const FLAG_BUILTIN: u8 = 1;

/// How a module file is stored, as the record's compression byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FileCompression {
    None = 0,
    Gzip = 1,
    Zstd = 2,
    Xz = 3,
}

impl FileCompression {
    pub fn from_byte(b: u8) -> Option<Self> {
        Some(match b {
            0 => FileCompression::None,
            1 => FileCompression::Gzip,
            2 => FileCompression::Zstd,
            3 => FileCompression::Xz,
            _ => return None,
        })
    }

    /// What follows `.ko` in the file name.
    pub fn extension(self) -> &'static [u8] {
        match self {
            FileCompression::None => b"",
            FileCompression::Gzip => b".gz",
            FileCompression::Zstd => b".zst",
            FileCompression::Xz => b".xz",
        }
    }

    /// The compression of a file named `name`, and its name without `.ko[.EXT]`; None when it
    /// is not a module file name.
    pub fn split_file_name(name: &[u8]) -> Option<(&[u8], FileCompression)> {
        [FileCompression::None, FileCompression::Gzip, FileCompression::Zstd, FileCompression::Xz]
            .into_iter()
            .find_map(|c| {
                let stem = name.strip_suffix(c.extension())?.strip_suffix(b".ko")?;
                (!stem.is_empty()).then_some((stem, c))
            })
    }
}
