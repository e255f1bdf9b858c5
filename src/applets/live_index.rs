//! The index an applet answers from, as kmod's tools would see the tree and the configuration
//! at this moment: the module directory's `modinit.idx`, or, where kmod's depmod indexed the
//! tree last (no `modinit.idx`, or a modules.dep newer than it), an index built in memory from
//! kmod's files; with modprobe.d read now, kmod's directories or modprobe's `-C` paths (and
//! the directory's modules.softdep and modules.weakdep among them), in place of what the
//! index baked in. The boot reads only the baked configuration; this is the applets' way.
//!
//! In a binary built without the `live-config` feature there is no heap for this: the
//! applets use `modinit.idx` with its baked configuration.

use crate::io::modules_dir::{ModulesDir, OpenError};

use alloc::vec::Vec;
use core::fmt;
use modinit::index::Index;
use modinit::line::Bytes;

/// Where modprobe.d comes from: kmod's directories, or the paths given with `-C`.
#[derive(Debug, Clone, Copy)]
pub enum Config<'a> {
    Default,
    Given(&'a [&'a [u8]]),
}

/// Why an applet has no index to answer from.
pub enum LiveIndexError {
    /// The directory has neither `modinit.idx` nor kmod's modules.dep.
    NotIndexed(IndexCommand),
    /// `modinit.idx` is there but cannot be used.
    Index(OpenError),
    /// kmod's files, or the configuration, could not be read.
    #[cfg(feature = "live-config")]
    Read(alloc::string::String),
    /// `-C` in a binary that reads no modprobe.d (built without `live-config`).
    #[cfg(not(feature = "live-config"))]
    NoLiveConfig(Vec<u8>),
}

/// `modinit depmod [-b ROOT] VERSION`, the command that indexes the directory `dir`.
pub struct IndexCommand {
    dir: Vec<u8>,
    root: Vec<u8>,
    release: Vec<u8>,
}

impl fmt::Display for LiveIndexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LiveIndexError::NotIndexed(IndexCommand { dir, root, release }) => {
                write!(f, "{} is not indexed (no modinit.idx, no modules.dep): run 'modinit depmod", Bytes(dir))?;
                if !root.is_empty() {
                    write!(f, " -b {}", Bytes(root))?;
                }
                write!(f, " {}'", Bytes(release))
            }
            LiveIndexError::Index(e) => write!(f, "modinit.idx: {e}"),
            #[cfg(feature = "live-config")]
            LiveIndexError::Read(e) => f.write_str(e),
            #[cfg(not(feature = "live-config"))]
            LiveIndexError::NoLiveConfig(path) => write!(
                f,
                "cannot read {}: this modinit reads no modprobe.d (built without the live-config feature)",
                Bytes(path)
            ),
        }
    }
}

/// The index of `dir` (under `root`, `-d`'s or `-b`'s, empty for /) with modprobe.d from
/// `config`. `program` names the applet in the warnings it prints about the files it reads;
/// with `ignore_commands` (`modprobe -i`), install and remove commands get none.
/// Without `live-config`: `modinit.idx` as it is, and `-C` refused.
pub fn open(
    dir: &ModulesDir,
    root: &[u8],
    config: Config<'_>,
    program: &str,
    ignore_commands: bool,
) -> Result<Index<'static>, LiveIndexError> {
    #[cfg(feature = "live-config")]
    return live::open(dir, root, config, program, ignore_commands);
    #[cfg(not(feature = "live-config"))]
    {
        let _ = (program, ignore_commands);
        if let Config::Given(paths) = config {
            return Err(LiveIndexError::NoLiveConfig(paths.first().copied().unwrap_or_default().to_vec()));
        }
        crate::io::modules_dir::open_index(dir).map_err(|e| not_indexed(dir, root, e))
    }
}

/// The error for `modinit.idx` failing to open with `e`: an absent file means an unindexed
/// directory.
fn not_indexed(dir: &ModulesDir, root: &[u8], e: OpenError) -> LiveIndexError {
    match e {
        OpenError::Open(rustix::io::Errno::NOENT) => LiveIndexError::NotIndexed(IndexCommand {
            dir: dir.as_bytes().to_vec(),
            root: root.to_vec(),
            release: dir.release().to_vec(),
        }),
        e => LiveIndexError::Index(e),
    }
}

#[cfg(feature = "live-config")]
mod live {
    use super::{Config, LiveIndexError, not_indexed};
    use crate::applets::err;
    use crate::io::modules_dir::{ModulesDir, OpenError, map_whole_file};
    use crate::io::tree_fs::TargetFs;
    use alloc::format;
    use modinit::config::{ConfigWarning, WarningKind};
    use modinit::index::Index;
    use modinit::index::builder::modprobe_config;
    use modinit::index::from_kmod_files::{KmodFiles, contents_from_kmod_files};
    use modinit::index::reconfigured::replace_config;
    use modinit::index::tree::{ModprobeD, TreeFs, modprobe_d_files};
    use modinit::index::writer::{IndexContents, WriteError, write};
    use modinit::line::Bytes;

    pub fn open(
        dir: &ModulesDir,
        root: &[u8],
        config: Config<'_>,
        program: &str,
        ignore_commands: bool,
    ) -> Result<Index<'static>, LiveIndexError> {
        let mut fs = TargetFs;
        let source = match config {
            Config::Default => ModprobeD::Under(b"/"),
            Config::Given(paths) => ModprobeD::Given(paths),
        };
        let files = modprobe_d_files(&mut fs, source, dir.as_bytes()).map_err(|e| read_error(&e))?;
        let config = modprobe_config(&files, &mut |w: ConfigWarning| match w.kmod_message() {
            Some(line) => err!("{line}"),
            None if ignore_commands && w.kind == WarningKind::Command => {}
            None => err!("{program}: WARNING: {w}"),
        });
        let bytes = match index_file(dir, root)? {
            Some(file) => {
                let index = Index::open(file).map_err(|e| LiveIndexError::Index(OpenError::Invalid(e)))?;
                // The common case in an image: modprobe.d is what was baked in.
                if config.is_baked_into(&index) {
                    return Ok(index);
                }
                replace_config(file, &config).map_err(|e| match e {
                    WriteError::Unreadable(e) => LiveIndexError::Index(OpenError::Invalid(e)),
                    e => read_error(&e),
                })?
            }
            None => {
                let mut contents = from_kmod_files(&mut fs, dir, program)?;
                contents.config = config;
                write(&contents).map_err(|e| read_error(&e))?
            }
        };
        Index::open(bytes.leak()).map_err(|e| LiveIndexError::Index(OpenError::Invalid(e)))
    }

    /// `modinit.idx`, mapped; None when kmod's modules.dep is the newer index (or the only one).
    fn index_file(dir: &ModulesDir, root: &[u8]) -> Result<Option<&'static [u8]>, LiveIndexError> {
        let mut buf = [0u8; crate::io::path::PATH_MAX];
        let modified = |name: &[u8], buf: &mut [u8; crate::io::path::PATH_MAX]| {
            let path = dir.join(name, buf)?;
            let st = rustix::fs::stat(path).ok()?;
            Some((st.st_mtime, st.st_mtime_nsec))
        };
        let index = modified(b"modinit.idx", &mut buf);
        let dep = modified(b"modules.dep", &mut buf);
        match (index, dep) {
            (Some(index), Some(dep)) if dep > index => return Ok(None),
            (None, Some(_)) => return Ok(None),
            _ => {}
        }
        let path = dir.join(b"modinit.idx", &mut buf);
        let path = path.ok_or(LiveIndexError::Index(OpenError::Open(rustix::io::Errno::NAMETOOLONG)))?;
        map_whole_file(path).map(Some).map_err(|e| not_indexed(dir, root, e))
    }

    /// The index contents kmod's files in `dir` describe, without configuration.
    fn from_kmod_files(fs: &mut TargetFs, dir: &ModulesDir, program: &str) -> Result<IndexContents, LiveIndexError> {
        let mut read = |name: &str| {
            let path = [dir.as_bytes(), b"/", name.as_bytes()].concat();
            fs.read(&path).map_err(|e| LiveIndexError::Read(format!("{}: {e}", Bytes(&path))))
        };
        let files = KmodFiles {
            kernel_release: dir.release().to_vec(),
            modules_dep: read("modules.dep")?.unwrap_or_default(),
            modules_alias: read("modules.alias")?,
            modules_builtin: read("modules.builtin")?,
            modules_builtin_modinfo: read("modules.builtin.modinfo")?,
        };
        Ok(contents_from_kmod_files(&files, &mut |w| err!("{program}: WARNING: {w}")))
    }

    fn read_error(e: &dyn core::fmt::Display) -> LiveIndexError {
        LiveIndexError::Read(format!("{e}"))
    }
}
