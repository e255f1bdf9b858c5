//! The module index, `modinit.idx`: what depmod's files tell kmod, in one file that modinit
//! reads without allocating. docs/index-format.md specifies it.
//!
//! [`reader`] opens and queries it (boot path, `no_std`); [`writer`] serializes it and
//! [`builder`] computes it from a module tree like depmod does, [`tree`] reads that tree through
//! a filesystem the caller supplies, [`from_kmod_files`] takes kmod's depmod output instead of
//! the module files (these need `alloc`). [`module_list`] finds modules in the
//! tree's own lists when there is no index.

mod alias_table;
#[cfg(feature = "alloc")]
pub mod builder;
mod bytes;
#[cfg(feature = "alloc")]
pub mod facts_wire;
pub mod format;
#[cfg(feature = "alloc")]
pub mod from_kmod_files;
#[cfg(feature = "alloc")]
pub mod kmod_hash;
pub mod module_list;
pub mod reader;
#[cfg(feature = "alloc")]
pub mod reconfigured;
mod strings;
#[cfg(feature = "alloc")]
pub mod tree;
#[cfg(feature = "alloc")]
pub mod writer;

pub use alias_table::{AliasHit, AliasTable, TableError, kmod_alias_match};
pub use reader::{Index, IndexError, Module, ModuleId, Softdep, Weakdep};
