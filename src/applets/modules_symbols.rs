//! The modules dir's modules.symbols (kmod's depmod writes it), mapped for the applets that
//! look `symbol:NAME` keys up: missing or unreadable, no `symbol:` key matches, as in kmod.

use crate::io::mapping::{Mapping, ReadOnly};
use crate::io::modules_dir::ModulesDir;
use crate::io::path::PATH_MAX;
use modinit::resolve::symbols::ModulesSymbols;

/// modules.symbols of `dir`, mapped; None when it cannot be.
pub fn map(dir: &ModulesDir) -> Option<Mapping<ReadOnly>> {
    let mut path = [0u8; PATH_MAX];
    Mapping::of_path(dir.join(b"modules.symbols", &mut path)?).ok()
}

/// What `file` (from [`map`]) says.
pub fn symbols(file: &Option<Mapping<ReadOnly>>) -> ModulesSymbols<'_> {
    file.as_ref().map_or(ModulesSymbols::NONE, |file| ModulesSymbols::new(file.bytes()))
}
