//! kmod's files in a module directory (`lib/modules/VERSION`): the text and `.bin` index files
//! kmod's depmod writes and modprobe, modinfo and udev read.
//!
//! [`trie`] writes the `.bin` format and [`depmod`] every file kmod 30's depmod writes (with
//! kmod 33's modules.weakdep), from the builder's [`crate::index::builder::Analysis`], in the
//! order of kmod's hash tables where a file follows it ([`crate::index::kmod_hash`]).

#[cfg(feature = "depmod")]
pub mod depmod;
#[cfg(feature = "depmod")]
pub mod trie;
