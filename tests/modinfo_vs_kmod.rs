//! modinit's `modinfo` applet against kmod's `modinfo`, on the real Debian module tree.
//!
//! The release binary runs as `modinit modinfo ARGS`, kmod 30 as `modinfo ARGS`, on the same root:
//! the tree with depmod's indexes (for kmod) and modinit.idx (for us) side by side. Their stdout,
//! stderr and exit status must be equal, byte for byte: for every module by name (builtins too)
//! and by file, one-field and NUL-separated output over a sample, aliases (real device
//! modaliases and the tree's patterns), `.ko.zst` files, modules signed here with openssl as the
//! kernel's sign-file does, and command-line errors. Debian's kmod is built without zlib: a
//! `.ko.gz` file's output must be kmod's for the same module uncompressed. Debian 13's tree,
//! every module a signed `.ko.xz`, is compared whole: every module file and every module name.

use modinit::module_file::signature::{SIGNATURE_MAGIC, Trailer};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use xtask::module_tree::ModuleCompression;

/// A root for both tools, made once for the test binary.
struct Setup {
    binary: PathBuf,
    /// ROOT, holding lib/modules/VERSION.
    root: PathBuf,
    version: String,
    /// ROOT/lib/modules/VERSION.
    tree: PathBuf,
    /// The module tree as unpacked (no indexes).
    plain: PathBuf,
    _dir: tempfile::TempDir,
}

/// Debian 12's tree (plain `.ko`).
fn setup() -> Option<&'static Setup> {
    static SETUP: OnceLock<Option<Setup>> = OnceLock::new();
    SETUP.get_or_init(|| make_setup(modinit_tests::real_module_tree()?)).as_ref()
}

/// Debian 13's tree (`.ko.xz`, signed).
fn second_setup() -> Option<&'static Setup> {
    static SETUP: OnceLock<Option<Setup>> = OnceLock::new();
    SETUP.get_or_init(|| make_setup(modinit_test_fixtures::real_second_module_tree()?)).as_ref()
}

fn make_setup(plain: PathBuf) -> Option<Setup> {
    if !Path::new("/sbin/modinfo").exists() {
        modinit_test_fixtures::unavailable("kmod's /sbin/modinfo");
        return None;
    }
    let version = plain.file_name()?.to_str()?.to_string();
    let kmod_tree = xtask::kmod::indexed_tree(&plain).unwrap();
    let (binary, size) = xtask::build::modinit_release().unwrap();
    eprintln!("modinit release binary: {size} bytes");
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("lib/modules").join(&version);
    link_tree(&kmod_tree, &tree);
    std::fs::write(tree.join("modinit.idx"), xtask::index::build_index(&plain, None).unwrap().bytes).unwrap();
    Some(Setup { binary, root: dir.path().to_path_buf(), version, tree, plain, _dir: dir })
}

/// `to` with a symlink to each entry of `from`: kmod and modinit print the same paths under it.
fn link_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::os::unix::fs::symlink(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

/// What a run printed and how it ended.
#[derive(Debug, PartialEq, Eq)]
struct Run {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    code: Option<i32>,
}

#[derive(Clone, Copy)]
enum Tool {
    Modinit,
    Kmod,
}

fn run(s: &Setup, tool: Tool, args: &[&str], cwd: Option<&Path>) -> Run {
    let mut cmd = match tool {
        Tool::Modinit => {
            let mut c = Command::new(&s.binary);
            c.arg("modinfo");
            c
        }
        Tool::Kmod => {
            let mut c = Command::new("/sbin/modinfo");
            c.arg0("modinfo");
            c
        }
    };
    cmd.args(args).env_remove("KMOD_LOG");
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    let out = cmd.output().unwrap();
    Run { stdout: out.stdout, stderr: out.stderr, code: out.status.code() }
}

/// `-b ROOT -k VERSION` then `args`.
fn rooted<'a>(s: &'a Setup, args: &[&'a str]) -> Vec<&'a str> {
    let mut all = vec!["-b", s.root.to_str().unwrap(), "-k", &s.version];
    all.extend(args);
    all
}

/// Where two runs differ, in a few lines; None when they do not.
fn difference(ours: &Run, theirs: &Run) -> Option<String> {
    if ours == theirs {
        return None;
    }
    let mut why = Vec::new();
    if ours.code != theirs.code {
        why.push(format!("exit status: modinit {:?}, kmod {:?}", ours.code, theirs.code));
    }
    for (what, a, b) in [("stdout", &ours.stdout, &theirs.stdout), ("stderr", &ours.stderr, &theirs.stderr)] {
        if a == b {
            continue;
        }
        let (a, b) = (String::from_utf8_lossy(a), String::from_utf8_lossy(b));
        let line = a.split_inclusive(['\n', '\0']).zip(b.split_inclusive(['\n', '\0'])).position(|(x, y)| x != y);
        let line = line
            .unwrap_or_else(|| a.split_inclusive(['\n', '\0']).count().min(b.split_inclusive(['\n', '\0']).count()));
        let nth =
            |s: &str| s.split_inclusive(['\n', '\0']).nth(line).map(|l| format!("{l:?}")).unwrap_or("(end)".into());
        why.push(format!("{what} line {}: modinit {}, kmod {}", line + 1, nth(&a), nth(&b)));
    }
    Some(why.join("; "))
}

/// Runs both tools on `args` + each batch of `operands`; a batch that differs is run again one
/// operand at a time so that each difference is listed with its operand.
fn compare_batches(s: &Setup, args: &[&str], operands: &[String], batch: usize, cwd: Option<&Path>) -> Vec<String> {
    let mut differences = Vec::new();
    for chunk in operands.chunks(batch) {
        let mut all = rooted(s, args);
        all.extend(chunk.iter().map(String::as_str));
        if difference(&run(s, Tool::Modinit, &all, cwd), &run(s, Tool::Kmod, &all, cwd)).is_none() {
            continue;
        }
        for operand in chunk {
            let mut one = rooted(s, args);
            one.push(operand);
            if let Some(d) = difference(&run(s, Tool::Modinit, &one, cwd), &run(s, Tool::Kmod, &one, cwd)) {
                differences.push(format!("modinfo {} {operand}: {d}", args.join(" ")));
            }
        }
        if differences.is_empty() {
            differences.push(format!(
                "modinfo {} on {} operands differs, each alone does not",
                args.join(" "),
                chunk.len()
            ));
        }
    }
    differences
}

fn assert_none(what: &str, compared: usize, differences: &[String]) {
    eprintln!("{what}: {compared} compared, {} differences", differences.len());
    let shown: Vec<&str> = differences.iter().take(30).map(String::as_str).collect();
    assert!(differences.is_empty(), "{what}: {} differences with kmod:\n{}", differences.len(), shown.join("\n"));
}

/// Every module file of the tree, relative to it, sorted.
fn module_files(tree: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = xtask::module_tree::files(tree)
        .unwrap()
        .into_iter()
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.contains(".ko")))
        .map(|p| p.strip_prefix(tree).unwrap().to_path_buf())
        .collect();
    files.sort();
    files
}

#[test]
fn every_module_by_name_builtins_too() {
    let Some(s) = setup() else { return };
    let names = xtask::corpus::module_names(&s.tree).unwrap();
    let builtins = std::fs::read_to_string(s.tree.join("modules.builtin")).unwrap().lines().count();
    assert!(names.len() > 4000 && builtins > 100, "{} names, {builtins} builtins", names.len());
    let differences = compare_batches(s, &[], &names, 64, None);
    assert_none("every module by name", names.len(), &differences);
}

#[test]
fn every_module_file_nul_separated() {
    let Some(s) = setup() else { return };
    let files: Vec<String> = module_files(&s.plain).iter().map(|p| s.tree.join(p).display().to_string()).collect();
    let differences = compare_batches(s, &["-0"], &files, 64, None);
    assert_none("every module file with -0", files.len(), &differences);
}

/// All of Debian 13's 4,230 module files, each `.ko.xz` (CRC32 check, 1 MiB dictionary) and
/// signed: the fields, the signature fields included, are kmod's (kmod here is built with xz).
#[test]
fn debian_13_every_xz_module_file_with_its_signature() {
    let Some(s) = second_setup() else { return };
    let files: Vec<String> = module_files(&s.plain).iter().map(|p| s.tree.join(p).display().to_string()).collect();
    assert!(files.len() > 4000 && files.iter().all(|f| f.ends_with(".ko.xz")), "{} files", files.len());
    let differences = compare_batches(s, &[], &files, 64, None);
    assert_none("Debian 13: every .ko.xz file", files.len(), &differences);
}

/// All of Debian 13's module names (builtins too), found through each tool's index.
#[test]
fn debian_13_every_module_by_name() {
    let Some(s) = second_setup() else { return };
    let names = xtask::corpus::module_names(&s.tree).unwrap();
    assert!(names.len() > 4000, "{} names", names.len());
    let differences = compare_batches(s, &["-0"], &names, 64, None);
    assert_none("Debian 13: every module by name, -0", names.len(), &differences);
}

#[test]
fn one_field_over_a_sample() {
    let Some(s) = setup() else { return };
    let names: Vec<String> = xtask::corpus::module_names(&s.tree).unwrap().into_iter().step_by(9).collect();
    let fields: [&[&str]; 20] = [
        &["-F", "alias"],
        &["-F", "parm"],
        &["-p"],
        &["-F", "parmtype"],
        &["-a"],
        &["-d"],
        &["-l"],
        &["-n"],
        &["-F", "filename"],
        &["-F", "name"],
        &["-F", "firmware"],
        &["-F", "softdep"],
        &["-F", "depends"],
        &["-F", "signature"],
        &["-F", "sig_key"],
        &["-F", "signer"],
        &["-F", "sig_hashalgo"],
        &["-0", "-F", "alias"],
        &["-0", "-p"],
        &["-m"],
    ];
    let mut differences = Vec::new();
    for args in fields {
        differences.extend(compare_batches(s, args, &names, 512, None));
    }
    assert_none("one field", names.len() * fields.len(), &differences);
}

#[test]
fn aliases_show_every_module_they_resolve_to() {
    let Some(s) = setup() else { return };
    let corpus = xtask::paths::workspace_root().join("tests/fixtures/modaliases");
    let mut keys: Vec<String> = Vec::new();
    for file in std::fs::read_dir(corpus).unwrap() {
        let text = std::fs::read_to_string(file.unwrap().path()).unwrap();
        keys.extend(text.lines().filter(|l| !l.is_empty() && !l.starts_with('#')).map(str::to_string));
    }
    let real = keys.len();
    keys.extend(xtask::corpus::keys(&s.tree).unwrap().into_iter().step_by(37));
    keys.extend(
        ["fs-ext4", "crypto-crc32c", "net-pf-1", "char-major-10-229", "nosuch-alias", "bad[alias"].map(String::from),
    );
    let differences = compare_batches(s, &[], &keys, 64, None);
    assert_none(&format!("aliases ({real} real modaliases)"), keys.len(), &differences);
}

#[test]
fn zst_files_and_gz_files() {
    let Some(s) = setup() else { return };
    let sample: Vec<PathBuf> = module_files(&s.plain).into_iter().step_by(11).collect();
    let zst = xtask::module_tree::stored_as(&s.plain, ModuleCompression::Zst).unwrap();
    let zst_files: Vec<String> = sample.iter().map(|p| format!("{}.zst", zst.join(p).display())).collect();
    let mut differences = compare_batches(s, &[], &zst_files, 64, None);

    // kmod cannot read gzip here: the same module uncompressed must give the same fields.
    let gz = xtask::module_tree::stored_as(&s.plain, ModuleCompression::Gz).unwrap();
    for rel in &sample {
        let (gz_file, plain_file) = (format!("{}.gz", gz.join(rel).display()), s.plain.join(rel).display().to_string());
        let ours = run(s, Tool::Modinit, &[&gz_file], None);
        let mut theirs = run(s, Tool::Kmod, &[&plain_file], None);
        let text = String::from_utf8(theirs.stdout).unwrap();
        theirs.stdout = text.replacen(&plain_file, &gz_file, 1).into_bytes();
        differences.extend(difference(&ours, &theirs).map(|d| format!("{gz_file}: {d}")));
    }
    assert_none(".ko.zst files, and .ko.gz against kmod on .ko", sample.len() * 2, &differences);
}

/// Modules with `weakdep=` entries (MODULE_WEAKDEP, Linux >= 6.11; no module of Debian 13's
/// 6.12 tree has one, so a sample of them is given some): kmod prints them as any field.
#[test]
fn weakdep_entries_of_6_12_modules() {
    let Some(s) = setup() else { return };
    let weakdeps: &[(&str, &[&str])] = &[("lan78xx", &["micrel", "microchip"]), ("micrel", &["microchip-t1"])];
    let Some(sample) = modinit_test_fixtures::SampleTree::of_second_tree("modinfo", &["lan78xx", "micrel"], weakdeps)
    else {
        return;
    };
    let files: Vec<String> =
        module_files(&sample.modules).iter().map(|p| sample.modules.join(p).display().to_string()).collect();
    let lan78xx = files.iter().find(|f| f.ends_with("/lan78xx.ko")).unwrap();
    let kmod = run(s, Tool::Kmod, &["-F", "weakdep", lan78xx], None);
    assert_eq!(kmod.stdout, b"micrel\nmicrochip\n", "kmod reads the entries the sample added");
    let mut differences = Vec::new();
    for args in [&[][..], &["-F", "weakdep"], &["-0"], &["-0", "-F", "weakdep"]] {
        differences.extend(compare_batches(s, args, &files, 64, None));
    }
    assert_none("modules with weakdep", files.len() * 4, &differences);
}

/// A module signed as scripts/sign-file signs: the image, the PKCS#7 message (or an old-style
/// signer, key id and signature), `struct module_signature`, the magic.
fn append_signature(image: &[u8], id_type: u8, hash: u8, signer: &[u8], key_id: &[u8], signature: &[u8]) -> Vec<u8> {
    let info = [0, hash, id_type, signer.len() as u8, key_id.len() as u8, 0, 0, 0];
    [image, signer, key_id, signature, &info, &(signature.len() as u32).to_be_bytes(), SIGNATURE_MAGIC].concat()
}

/// A key and certificate made with `openssl req`, and how modules are signed with it.
struct SigningKey {
    name: &'static str,
    /// `-newkey`'s argument (`ec` is prime256v1).
    kind: &'static str,
    subject: &'static str,
    serial: &'static str,
    digest: &'static str,
    /// `openssl cms -sign` options besides the input, key and digest.
    how: &'static [&'static str],
}

fn openssl(args: &[&str], dir: &Path) {
    let out = Command::new("openssl").args(args).current_dir(dir).output().expect("running openssl");
    assert!(out.status.success(), "openssl {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
}

#[test]
fn modules_signed_here_show_kmods_signature_fields() {
    let Some(s) = setup() else { return };
    if Command::new("openssl").arg("version").output().is_err() {
        modinit_test_fixtures::unavailable("openssl");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // sign-file signs with -noattr -nocerts (CMS_NOATTR, CMS_NOCERTS), and with -keyid when
    // asked to (-k).
    let sign_file: &[&str] = &["-noattr", "-nocerts"];
    let keys = [
        SigningKey {
            name: "rsa",
            kind: "rsa:2048",
            subject: "/CN=modinit test key/O=modinit",
            serial: "0x5ee113311429",
            digest: "sha256",
            how: sign_file,
        },
        SigningKey {
            name: "rsa512",
            kind: "rsa:4096",
            subject: "/O=Org first/CN=Long signer name for the key/emailAddress=k@example.org",
            serial: "7",
            digest: "sha512",
            how: sign_file,
        },
        SigningKey {
            name: "nocn",
            kind: "rsa:2048",
            subject: "/O=No common name/OU=The unit",
            serial: "0x00ff00",
            digest: "sha384",
            how: sign_file,
        },
        SigningKey {
            name: "zero",
            kind: "rsa:2048",
            subject: "/CN=Serial zero",
            serial: "0",
            digest: "sha224",
            how: sign_file,
        },
        SigningKey {
            name: "big",
            kind: "rsa:2048",
            subject: "/CN=Big serial",
            serial: "0x8a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d",
            digest: "sha1",
            how: sign_file,
        },
        SigningKey {
            name: "ec",
            kind: "ec",
            subject: "/CN=An EC key",
            serial: "0x10",
            digest: "sha256",
            how: sign_file,
        },
        SigningKey {
            name: "neg",
            kind: "rsa:2048",
            subject: "/CN=Negative serial",
            serial: "-0x80",
            digest: "sha256",
            how: sign_file,
        },
        SigningKey {
            name: "neg2",
            kind: "rsa:2048",
            subject: "/CN=Negative serial 2",
            serial: "-0x10000",
            digest: "sha256",
            how: sign_file,
        },
        SigningKey {
            name: "utf8",
            kind: "rsa:2048",
            subject: "/CN=Schlüssel ü",
            serial: "12345",
            digest: "sha256",
            how: sign_file,
        },
        SigningKey {
            name: "keyid",
            kind: "rsa:2048",
            subject: "/CN=By key id",
            serial: "0x42",
            digest: "sha256",
            how: &["-noattr", "-nocerts", "-keyid"],
        },
        SigningKey {
            name: "attrs",
            kind: "rsa:2048",
            subject: "/CN=With certificate and attributes",
            serial: "0x43",
            digest: "sha256",
            how: &[],
        },
    ];
    let modules = [
        "kernel/drivers/net/ethernet/intel/e1000/e1000.ko",
        "kernel/crypto/crc32c_generic.ko",
        "kernel/fs/fat/vfat.ko",
    ];
    let mut files = Vec::new();
    for SigningKey { name, kind, subject, serial, digest, how } in keys {
        let (key, cert) = (format!("{name}.key"), format!("{name}.pem"));
        let mut req = vec!["req", "-new", "-x509", "-nodes", "-days", "30", "-subj", subject, "-set_serial", serial];
        req.extend(["-utf8", "-keyout", &key, "-out", &cert]);
        if kind == "ec" {
            req.extend(["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]);
        } else {
            req.extend(["-newkey", kind]);
        }
        openssl(&req, d);
        for module in modules {
            let file = std::fs::read(s.plain.join(module)).unwrap();
            let image = Trailer::of(&file).map_or(&file[..], |t| t.image);
            let unsigned = d.join("unsigned.ko");
            std::fs::write(&unsigned, image).unwrap();
            let mut cms = vec!["cms", "-sign", "-in", "unsigned.ko", "-signer", &cert, "-inkey", &key, "-md", digest];
            cms.extend(["-binary", "-outform", "DER", "-out", "sig.p7"]);
            cms.extend(how);
            openssl(&cms, d);
            let pkcs7 = std::fs::read(d.join("sig.p7")).unwrap();
            let stem = Path::new(module).file_stem().unwrap().to_str().unwrap();
            let signed = d.join(format!("{stem}-{name}.ko"));
            std::fs::write(&signed, append_signature(image, 2, 0, b"", b"", &pkcs7)).unwrap();
            files.push(signed.display().to_string());
        }
    }
    // Old-style signatures (kmod shows the trailer's fields), one with a signer holding a NUL.
    let e1000 = std::fs::read(s.plain.join(modules[0])).unwrap();
    let image = Trailer::of(&e1000).unwrap().image;
    for (i, (id_type, hash, signer)) in
        [(1u8, 4u8, &b"Old X509 signer"[..]), (0, 2, b"PGP\0signer"), (1, 8, b"")].iter().enumerate()
    {
        let signed = d.join(format!("old-{i}.ko"));
        let key_id: Vec<u8> = (0..23).collect();
        std::fs::write(&signed, append_signature(image, *id_type, *hash, signer, &key_id, &[0xa5; 300])).unwrap();
        files.push(signed.display().to_string());
    }
    // A trailer kmod refuses (hash out of range), and a PKCS#7 message that is not DER.
    std::fs::write(d.join("bad-hash.ko"), append_signature(image, 1, 9, b"s", b"k", b"sig")).unwrap();
    std::fs::write(d.join("bad-der.ko"), append_signature(image, 2, 0, b"", b"", b"\x30\x82\xff\xff junk")).unwrap();
    files.extend(["bad-hash.ko", "bad-der.ko"].map(|f| d.join(f).display().to_string()));

    let mut differences = Vec::new();
    for args in [&[][..], &["-F", "signer"], &["-F", "sig_key"], &["-F", "signature"], &["-0"]] {
        differences.extend(compare_batches(s, args, &files, 64, None));
    }
    let kmod_signers = run(
        s,
        Tool::Kmod,
        &[&["-F", "signer"][..], &files.iter().map(String::as_str).collect::<Vec<_>>()].concat(),
        None,
    );
    eprintln!("kmod's signers: {:?}", String::from_utf8_lossy(&kmod_signers.stdout));
    assert_none("signed copies", files.len() * 5, &differences);
}

#[test]
fn command_lines_and_errors() {
    let Some(s) = setup() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let e1000 = s.plain.join("kernel/drivers/net/ethernet/intel/e1000/e1000.ko");
    std::fs::copy(&e1000, d.join("e1000.ko")).unwrap();
    std::fs::write(d.join("not-elf.ko"), b"this is not an ELF file, it is text\n").unwrap();
    std::fs::write(d.join("empty.ko"), b"").unwrap();
    std::fs::create_dir(d.join("dir.ko")).unwrap();
    let no_modinfo = d.join("no-modinfo.ko");
    let objcopy = Command::new("objcopy").arg("--remove-section=.modinfo").arg(&e1000).arg(&no_modinfo).status();
    let mut bad_parm = std::fs::read(&e1000).unwrap();
    // A parameter without its ':' (kmod reports it and goes on): `parm=debug:` becomes `parm=debugX`.
    let at = bad_parm.windows(11).position(|w| w == b"parm=debug:").unwrap() + 10;
    bad_parm[at] = b'X';
    std::fs::write(d.join("bad-parm.ko"), bad_parm).unwrap();

    let root = s.root.to_str().unwrap();
    let cases: Vec<Vec<&str>> = vec![
        vec![],
        vec!["-h"],
        vec!["--help"],
        vec!["-x"],
        vec!["--fi", "e1000"],
        vec!["--frob=1"],
        vec!["--author=x", "e1000"],
        vec!["e1000", "-F"],
        vec!["-0"],
        vec!["-b", root, "-k", &s.version, "nosuch"],
        vec!["-b", root, "-k", &s.version, "-m", "nosuch"],
        vec!["-b", root, "-k", &s.version, "-m", "e1000", "unix", "crc32c"],
        vec!["-b", root, "-k", &s.version, "e1000", "nosuch", "ahci"],
        vec!["-b", root, "-k", &s.version, "-F", "license", "nosuch", "e1000"],
        vec!["-b", root, "-k", &s.version, "dir.ko"],
        vec!["-b", root, "-k", &s.version, "bad[alias"],
        vec!["e1000.ko"],
        vec!["./e1000.ko", "-n"],
        vec!["not-elf.ko"],
        vec!["empty.ko"],
        vec!["bad-parm.ko"],
        vec!["-p", "bad-parm.ko"],
        vec!["no-modinfo.ko"],
        vec!["-k", &s.version, "-b", root, "--field=vermagic", "e1000", "--null"],
        vec!["--basedir", root, "--set-version", &s.version, "--modname", "ahci"],
    ];
    let mut differences = Vec::new();
    for args in &cases {
        if args.contains(&"no-modinfo.ko") && !objcopy.as_ref().is_ok_and(|s| s.success()) {
            continue;
        }
        let (ours, theirs) = (run(s, Tool::Modinit, args, Some(d)), run(s, Tool::Kmod, args, Some(d)));
        differences.extend(difference(&ours, &theirs).map(|why| format!("modinfo {}: {why}", args.join(" "))));
    }
    // A relative -b is under the current directory.
    let relative = ["-b", ".", "-k", &s.version, "e1000"];
    let (ours, theirs) =
        (run(s, Tool::Modinit, &relative, Some(&s.root)), run(s, Tool::Kmod, &relative, Some(&s.root)));
    differences.extend(difference(&ours, &theirs).map(|why| format!("modinfo -b . e1000: {why}")));
    assert_none("command lines", cases.len() + 1, &differences);
}

/// Where modinit's modinfo knowingly differs from kmod's: a note when the index is missing
/// (files are still read without it), its own `--version`. (`symbol:` keys, through kmod's
/// modules.symbols beside the index, no longer differ.)
#[test]
fn the_documented_differences() {
    let Some(s) = setup() else { return };
    let e1000 = s.tree.join("kernel/drivers/net/ethernet/intel/e1000/e1000.ko");
    let e1000 = e1000.to_str().unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();

    let mii = s.tree.join("kernel/drivers/net/mii.ko");
    let symbol = rooted(s, &["symbol:mii_link_ok"]);
    let (ours, theirs) = (run(s, Tool::Modinit, &symbol, None), run(s, Tool::Kmod, &symbol, None));
    let first_line = text(&theirs.stdout).lines().next().map(str::to_string);
    assert_eq!((theirs.code, first_line), (Some(0), Some(format!("filename:       {}", mii.display()))));
    assert_eq!(difference(&ours, &theirs), None, "modinfo symbol:mii_link_ok");

    let empty = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(empty.path().join("lib/modules").join(&s.version)).unwrap();
    let bare = |args: &[&str]| {
        let mut all = vec!["-b", empty.path().to_str().unwrap(), "-k", &s.version];
        all.extend(args);
        (run(s, Tool::Modinit, &all, None), run(s, Tool::Kmod, &all, None))
    };
    let (ours, theirs) = bare(&[e1000]);
    assert_eq!(difference(&ours, &theirs), None, "a file needs no index");
    let (ours, theirs) = bare(&["e1000", "ahci"]);
    assert_eq!((ours.code, theirs.code), (Some(1), Some(1)));
    let (ours, theirs) = (text(&ours.stderr), text(&theirs.stderr));
    assert_eq!(theirs, "modinfo: ERROR: Module e1000 not found.\nmodinfo: ERROR: Module ahci not found.\n");
    let command = format!("run 'modinit depmod -b {} {}'\n", empty.path().display(), s.version);
    assert!(ours.starts_with("modinfo: ERROR: ") && ours.contains(&command) && ours.ends_with(&theirs), "{ours}");
    assert_eq!(ours.lines().count(), 3, "the missing index is said once: {ours}");

    let version = run(s, Tool::Modinit, &["-V"], None);
    assert_eq!(
        (version.code, text(&version.stdout)),
        (Some(0), format!("modinit modinfo {}\n", env!("CARGO_PKG_VERSION")))
    );
}

/// xz's own defaults (CRC64 check, 8 MiB dictionary) and a corrupt copy, as kmod reads them.
#[test]
fn xz_files_made_here() {
    let Some(s) = setup() else { return };
    if Command::new("xz").arg("--version").output().is_err() {
        return modinit_test_fixtures::unavailable("xz (xz-utils)");
    }
    let e1000 = s.tree.join("kernel/drivers/net/ethernet/intel/e1000/e1000.ko");
    let dir = tempfile::tempdir().unwrap();
    let xz = dir.path().join("e1000.ko.xz");
    let compressed = Command::new("xz").arg("-c").arg(&e1000).output().unwrap().stdout;
    std::fs::write(&xz, &compressed).unwrap();
    let (ours, theirs) =
        (run(s, Tool::Modinit, &[xz.to_str().unwrap()], None), run(s, Tool::Kmod, &[xz.to_str().unwrap()], None));
    assert_eq!(theirs.code, Some(0), "kmod reads xz");
    assert_eq!(difference(&ours, &theirs), None, "e1000.ko.xz");
    // A flipped byte in the data: both fail, modinit saying why.
    let mut corrupt = compressed.clone();
    corrupt[compressed.len() / 2] ^= 0x40;
    std::fs::write(&xz, &corrupt).unwrap();
    let (ours, theirs) =
        (run(s, Tool::Modinit, &[xz.to_str().unwrap()], None), run(s, Tool::Kmod, &[xz.to_str().unwrap()], None));
    assert_eq!((ours.code, theirs.code), (Some(1), Some(1)));
    let stderr = String::from_utf8_lossy(&ours.stderr);
    assert!(stderr.starts_with("modinfo: ERROR: could not get modinfo from 'e1000': xz "), "{stderr}");
}
