//! kmod's files in a module directory (`lib/modules/VERSION`): the text and `.bin` index files
//! kmod's depmod writes and modprobe, modinfo and udev read.
//!
//! [`hash`] is the order of kmod's hash tables, which some of those files follow; [`trie`]
//! writes the `.bin` format and [`depmod`] every file kmod 30's depmod writes (with kmod 33's
//! modules.weakdep), from the builder's [`crate::index::builder::Analysis`].

#[cfg(feature = "depmod")]
pub mod depmod;
pub mod hash;
#[cfg(feature = "depmod")]
pub mod trie;
