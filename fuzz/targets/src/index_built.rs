//! `modinit::index::builder::build`, what `cargo xtask index` and the `depmod` applet run, on
//! any modules.order, modules.builtin, modules.builtin.modinfo, modprobe.d and modules-load.d
//! text and any `.modinfo` strings and symbols: the index it computes must be written, and
//! must open and read without panicking, whatever those files hold.
//!
//! Input: parts separated by 0xff bytes (which those text files do not hold): first choice
//! bytes for the module files (paths as a directory walk gives them, their aliases, softdeps,
//! exported and needed symbols), then the five files in the order above.

use crate::input::Input;
use modinit::config::ConfigFile;
use modinit::index::Index;
use modinit::index::builder::{Export, Import, KernelSymbols, ModuleFacts, TreeFiles, analyze, build};
use modinit::index::writer::{WriteError, write};
use modinit::kmod_files::depmod::{Options, files};

/// Separates the parts of an input.
pub const SEPARATOR: u8 = 0xff;

const PATH: &[u8] = b"kd-_";
const EXTENSIONS: [&[u8]; 5] = [b".ko", b".ko.gz", b".ko.zst", b".ko.xz", b".o"];
const PATTERN: &[u8] = b"pci:v0*?[]-_a";
const SOFTDEP: &[u8] = b"pre:post: ab-_";
const SYMBOL: &[u8] = b"abc";

pub fn fuzz(data: &[u8]) {
    let mut parts = data.split(|&b| b == SEPARATOR);
    let mut part = || parts.next().map(<[u8]>::to_vec);
    let facts = module_facts(&mut Input::new(&part().unwrap_or_default()));
    let config = |dir: &str, text: Option<Vec<u8>>| {
        text.map(|text| ConfigFile { dir: dir.to_string(), name: "fuzz.conf".to_string(), text }).into_iter().collect()
    };
    let tree = TreeFiles {
        kernel_release: b"6.1.0-fuzz".to_vec(),
        modules_order: part(),
        modules_builtin: part(),
        modules_builtin_modinfo: part(),
        modprobe_d: config("etc/modprobe.d", part()),
        modules_load_d: config("etc/modules-load.d", part()),
        ..TreeFiles::default()
    };
    // kmod's files from the same facts: whatever the input, written or refused, never a panic.
    let kernel = KernelSymbols::default();
    let analysis = analyze(&facts, &tree, &kernel, &mut |_| {});
    let _ = files(&analysis, &tree, Options { text_only: false, warn_duplicates: true }, &mut |_| {});
    let contents = build(&facts, &tree, &mut |_| {});
    match write(&contents) {
        Ok(file) => {
            let opened = Index::open(&file);
            let index = opened.unwrap_or_else(|e| panic!("the built index does not open: {e}\n{contents:#?}"));
            crate::index::exercise(&index, &file);
        }
        // What C reads as the end of a string, the files may hold; the writer refuses it.
        Err(WriteError::NulInString(_)) => {}
        Err(e) => panic!("the built index cannot be written: {e}\n{contents:#?}"),
    }
}

/// Module files as a walk of the tree finds them: paths of non-empty parts without NUL.
fn module_facts(input: &mut Input<'_>) -> Vec<ModuleFacts> {
    let count = input.below(12);
    let words = |input: &mut Input<'_>, alphabet: &[u8], max: usize| -> Vec<Vec<u8>> {
        (0..input.below(max + 1)).map(|_| input.string(alphabet, 6)).collect()
    };
    (0..count)
        .map(|_| {
            let mut path = Vec::new();
            for _ in 0..input.below(3) {
                path.extend(non_empty(input, PATH));
                path.push(b'/');
            }
            path.extend(non_empty(input, PATH));
            path.extend(EXTENSIONS[input.below(EXTENSIONS.len())]);
            ModuleFacts {
                path,
                aliases: words(input, PATTERN, 3),
                softdeps: words(input, SOFTDEP, 2),
                weakdeps: words(input, SOFTDEP, 2),
                exports: words(input, SYMBOL, 3).into_iter().map(|name| Export { name, crc: 0 }).collect(),
                imports: words(input, SYMBOL, 3).into_iter().map(|name| Import { name, crc: 0, weak: false }).collect(),
            }
        })
        .collect()
}

fn non_empty(input: &mut Input<'_>, alphabet: &[u8]) -> Vec<u8> {
    let mut s = input.string(alphabet, 4);
    if s.is_empty() {
        s.push(alphabet[0]);
    }
    s
}
