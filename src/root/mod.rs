//! Finding the root filesystem: `root=` and its companions, filesystem and partition-table
//! identities read from a device's first bytes, and whether a block device is the root.
//!
//! Pure logic over bytes: [`RootSearch`] looks over the block devices of a sysfs
//! ([`crate::root::block_devices`]) and reads their nodes through [`DeviceNodes`]; the boot side
//! (`src/boot/`) provides both, waits for uevents, mounts and switches root.
//!
//! The flow for each block device the boot side sees:
//! 1. [`RootSpec::needs_filesystem`]: read its [`FsIdentity`] with [`identify`];
//! 2. [`RootSpec::entry_to_check`]: for a partition, read that entry of its parent disk's
//!    [`PartitionTable`];
//! 3. [`RootSpec::matches`] on the [`Candidate`] made of these.

pub mod block_devices;
mod crc32c;
pub mod fs;
pub mod matching;
pub mod mount_options;
pub mod options;
pub mod partition;
pub mod read;
pub mod search;
pub mod spec;
pub mod text;

pub use fs::{FsIdentity, FsType, ModuleAlias, identify};
pub use matching::Candidate;
pub use mount_options::{MountOptions, MountOptionsError};
pub use options::{RootOptionError, RootOptions, RootWait};
pub use partition::{DiskGeometry, Partition, PartitionTable, TableKind};
pub use read::{ReadAt, ReadError};
pub use search::{DeviceNodes, Found, RootSearch};
pub use spec::{DevNum, RootSpec, RootSpecError};
pub use text::Text;
