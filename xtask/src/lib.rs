//! modinit's host harness, as a library: the `xtask` binary and the tests in `tests/` share it.

pub mod bench;
pub mod bench_boot;
pub mod bench_record_cost;
pub mod bench_root;
pub mod bench_timeline;
pub mod bench_timing;
pub mod build;
pub mod corpus;
pub mod cpio;
pub mod disk_image;
pub mod fuzz;
pub mod image_edit;
pub mod index;
pub mod initramfs;
pub mod kernel;
pub mod kmod;
pub mod machine;
pub mod modalias_census;
pub mod module_tree;
pub mod paths;
pub mod peers;
pub mod qemu;
pub mod scenario;
pub mod select;
pub mod suite;
pub mod tools;
