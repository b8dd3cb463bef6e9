//! `cargo xtask dist`: the release tarball of `callhook`, `callhook-VERSION-TARGET.tar.gz`,
//! reproducible and checked.
//!
//! 1. **From a commit.** A dirty work tree is refused unless `--allow-dirty`, and then the
//!    tarball's name ends in `-dirty`, so that it cannot pass for a release. The summary names the
//!    commit. VERSION is `callhook-server`'s package version (from `cargo metadata`), TARGET the
//!    host's triple (`rustc -vV`): the tarball is built for the machine that builds it.
//! 2. **The build.** `cargo auditable build --locked --profile dist --no-default-features -p
//!    callhook-server --bin callhook`. The `dist` profile is `release` (thin LTO, one codegen unit)
//!    without line tables and stripped of its symbols. Without the default `dev-tools` feature, as
//!    the container image: `demo`, `simulate`, `issuer` and `bot` sign with the committed test
//!    keys of a development issuer, and the tarball is what operators deploy (a developer gets
//!    them from `cargo install --path crates/callhook-server`). `cargo auditable` embeds the
//!    dependency tree (names, versions, sources) in the binary's `.dep-v0` section, which
//!    stripping keeps, for `cargo audit bin callhook`; it is installed when missing.
//! 3. **Reproducible.** `SOURCE_DATE_EPOCH` is the commit's time. `--remap-path-prefix` rewrites
//!    the work tree, the target directory, `CARGO_HOME` (the crates' sources) and the toolchain's
//!    sysroot to fixed names, so that the panic locations in the binary name no path of the
//!    machine. The build has a target directory of its own (`target/dist/build`): its flags differ
//!    from those of the usual builds, which would otherwise be rebuilt after it.
//! 4. **The tarball** is written here with the `tar` and `flate2` crates, from the files' bytes
//!    alone: one top directory `callhook-VERSION-TARGET/` holding `LICENSE-APACHE`,
//!    `LICENSE-MIT`, `README.md`, `SHA256SUMS` (of the others, for `sha256sum -c`) and
//!    `callhook`, in that (byte) order; every entry with the commit's time, owner 0:0 without
//!    names, mode 0755 (the directory and the binary) or 0644, in plain ustar headers (no PAX
//!    times or extended attributes); gzip at level 9 with mtime 0 and no file name. Beside it in
//!    `target/dist/`, a `SHA256SUMS` of the tarball.
//! 5. **Checked** after packing, one line per check: the tarball unpacked into a scratch directory,
//!    its layout, every line of its `SHA256SUMS`, `callhook --version` and `--help` run from there
//!    (no development commands), the binary stripped, no path of this machine in it, and its
//!    embedded dependency list read back (zlib-compressed JSON), its versions those of Cargo.lock.
//! 6. **`--check-reproducible`** builds a second time in a copy of the work tree's tracked files
//!    at another path (`target/dist/reproduce/`), with a target directory of its own, so that the
//!    path remapping is tested too, and fails unless both tarballs are byte-identical.
//! 7. **In CI** (`cargo xtask ci`), all of the above on the `dist-check` profile, `dist`
//!    unoptimised, since two builds of `dist` take twenty minutes here: see [`ci`].

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::util::{cargo, run_step, stdout_of, workspace_root};

/// The cargo-auditable release installed when the machine has none.
const CARGO_AUDITABLE_VERSION: &str = "0.7.7";

/// The package and the binary that the tarball ships.
const PACKAGE: &str = "callhook-server";
const BINARY: &str = "callhook";

/// The files shipped beside the binary, from the workspace root, under the same names.
const DOCUMENTS: [&str; 3] = ["LICENSE-APACHE", "LICENSE-MIT", "README.md"];

/// The checksum file, in the tarball and beside it.
const SUMS: &str = "SHA256SUMS";

/// The section where `cargo auditable` puts the dependency list.
const DEPENDENCY_SECTION: &str = ".dep-v0";

/// Dependencies that the embedded list must name: the crypto and the web server.
const EXPECTED_DEPENDENCIES: [&str; 2] = ["ring", "actix-web"];

/// How long quick commands (git, rustc, cargo metadata, the unpacked binary) may take.
const QUICK: Duration = Duration::from_secs(60);

/// The most that unpacking or decompressing may produce: the binary is 9 MB (23 MB unoptimised).
const UNPACKED_LIMIT: u64 = 512 * 1024 * 1024;

/// The profile of a release tarball.
pub(crate) const DIST_PROFILE: &str = "dist";

/// What `cargo xtask dist` is asked for.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    /// Build from a work tree with uncommitted changes (the tarball's name says `-dirty`).
    pub(crate) allow_dirty: bool,
    /// Build a second time from a copy at another path and require identical tarballs.
    pub(crate) check_reproducible: bool,
    /// The cargo profile: [`DIST_PROFILE`], or for CI's check of reproducibility `dist-check`,
    /// unoptimised. Another profile's tarball goes to `target/PROFILE/` and is named after it.
    pub(crate) profile: String,
}

/// `cargo xtask ci`'s step: the whole of `dist --check-reproducible`, two builds in two
/// directories, on the `dist-check` profile (5 to 6 minutes measured here, cold, with the two
/// cores shared with other builds). A cold build of the `dist` profile took 10 to 11 minutes on
/// the same machine, and 2 to 6 after a new commit (the commit's time is `SOURCE_DATE_EPOCH`,
/// which cc passes to the compiler of ring's C code, so ring and what depends on it are rebuilt,
/// and the thin LTO of the binary alone takes minutes): two of them cannot fit in CI's time.
/// `dist-check` is `dist` unoptimised: the same features, flags, path remapping, stripping,
/// dependency list, packing and checks. What it leaves to `cargo xtask dist --check-reproducible`
/// run by hand is the optimiser's own determinism (thin LTO, one codegen unit, opt-level 3).
/// Uncommitted changes are allowed (its tarball is not a release): `cargo xtask ci` runs before
/// a commit too.
pub(crate) fn ci() -> Result<()> {
    let started = Instant::now();
    eprintln!(
        "\n==> dist: cargo xtask dist --profile dist-check --check-reproducible --allow-dirty"
    );
    run(&Options {
        allow_dirty: true,
        check_reproducible: true,
        profile: "dist-check".to_owned(),
    })?;
    eprintln!("==> dist: ok ({:.1}s)", started.elapsed().as_secs_f64());
    Ok(())
}

pub(crate) fn run(options: &Options) -> Result<()> {
    let started = Instant::now();
    let source = Source::read(options.allow_dirty, &options.profile)?;
    let dist = crate::util::target_directory(&source.metadata).join(&source.profile);
    ensure_cargo_auditable()?;

    let target = dist.join("build");
    let binary = build(&source, &source.root, &target)?;
    let tarball = package(&source, &binary, &source.root, &dist)?;
    check(
        &source,
        &tarball,
        (&source.root, &target),
        &dist.join("check"),
    )?;

    if options.check_reproducible {
        let copy = dist.join("reproduce");
        let tree = copy.join("callhook");
        copy_tracked_files(&source.root, &tree)?;
        let target = copy.join("target");
        let binary = build(&source, &tree, &target)?;
        let again = package(&source, &binary, &tree, &copy)?;
        check(&source, &again, (&tree, &target), &copy.join("check"))?;
        let first = read(&tarball.path)?;
        let second = read(&again.path)?;
        if first != second {
            bail!(
                "not reproducible: {} ({}) and {} ({}) differ; in their members: {}",
                tarball.path.display(),
                tarball.digest,
                again.path.display(),
                again.digest,
                differing_members(&first, &second)?.join(", ")
            );
        }
        eprintln!(
            "reproducible: the build in {} gave the same tarball, sha256 {}",
            tree.display(),
            again.digest
        );
    }

    eprintln!(
        "\n==> dist: {} ({} bytes, sha256 {}), from commit {}{}, SOURCE_DATE_EPOCH={} ({:.1}s)",
        tarball.path.display(),
        tarball.size,
        tarball.digest,
        source.commit,
        if source.dirty {
            " with uncommitted changes"
        } else {
            ""
        },
        source.epoch,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// What the build is made from, read once.
#[derive(Debug)]
struct Source {
    root: PathBuf,
    metadata: serde_json::Value,
    /// `callhook-server`'s version.
    version: String,
    /// The host's target triple.
    host: String,
    /// The toolchain's sysroot.
    sysroot: PathBuf,
    /// Where cargo keeps the registry's sources.
    cargo_home: Option<PathBuf>,
    /// The home directory, which no path in the binary may name.
    home: Option<PathBuf>,
    commit: String,
    /// The commit's time, in seconds since 1970: `SOURCE_DATE_EPOCH` and every entry's mtime.
    epoch: u64,
    dirty: bool,
    /// The cargo profile it is built with.
    profile: String,
}

impl Source {
    fn read(allow_dirty: bool, profile: &str) -> Result<Source> {
        let root = workspace_root();
        let git = |args: &[&str]| {
            let mut command = Command::new("git");
            command.args(args).current_dir(&root);
            stdout_of(&mut command, QUICK, &format!("git {}", args.join(" ")))
        };
        let status = git(&["status", "--porcelain"])?;
        let dirty = !status.trim().is_empty();
        if dirty && !allow_dirty {
            bail!(
                "the work tree has uncommitted changes, and a tarball comes from a commit: commit \
                 them, or pass --allow-dirty for a tarball named -dirty:\n{}",
                status.trim_end()
            );
        }
        let commit = git(&["rev-parse", "HEAD"])?.trim().to_owned();
        let epoch = git(&["log", "-1", "--format=%ct"])?;
        let epoch = epoch
            .trim()
            .parse()
            .with_context(|| format!("git log -1 --format=%ct printed {epoch:?}, not a time"))?;

        let metadata = crate::util::workspace_metadata()?;
        let version = metadata
            .get("packages")
            .and_then(serde_json::Value::as_array)
            .into_iter()
            .flatten()
            .find(|package| {
                package.get("name").and_then(serde_json::Value::as_str) == Some(PACKAGE)
            })
            .and_then(|package| package.get("version"))
            .and_then(serde_json::Value::as_str)
            .with_context(|| format!("cargo metadata: no package {PACKAGE} with a version"))?
            .to_owned();

        let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
        let verbose = stdout_of(Command::new(&rustc).arg("-vV"), QUICK, "rustc -vV")?;
        let host = verbose
            .lines()
            .find_map(|line| line.strip_prefix("host: "))
            .context("rustc -vV printed no `host:` line")?
            .trim()
            .to_owned();
        let sysroot = stdout_of(
            Command::new(&rustc).args(["--print", "sysroot"]),
            QUICK,
            "rustc --print sysroot",
        )?;
        let home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .filter(|home| home.parent().is_some());
        let cargo_home = std::env::var_os("CARGO_HOME")
            .map(PathBuf::from)
            .or_else(|| home.as_ref().map(|home| home.join(".cargo")));
        Ok(Source {
            root,
            metadata,
            version,
            host,
            sysroot: PathBuf::from(sysroot.trim()),
            cargo_home,
            home,
            commit,
            epoch,
            dirty,
            profile: profile.to_owned(),
        })
    }

    /// `callhook-VERSION-TARGET`, then the profile when it is not [`DIST_PROFILE`] and `-dirty`
    /// for a work tree with uncommitted changes: the name of the top directory and of the
    /// tarball.
    fn name(&self) -> String {
        let mut name = format!("{BINARY}-{}-{}", self.version, self.host);
        if self.profile != DIST_PROFILE {
            name.push('-');
            name.push_str(&self.profile);
        }
        if self.dirty {
            name.push_str("-dirty");
        }
        name
    }

    /// The paths of this machine that the build in `tree`, into `target`, rewrites, each with
    /// the fixed name it gets, and that no file of the tarball may contain.
    fn machine_paths(&self, tree: &Path, target: &Path) -> Vec<(PathBuf, &'static str)> {
        let mut paths = vec![
            (tree.to_owned(), "/callhook"),
            (target.to_owned(), "/callhook/target"),
            (self.sysroot.clone(), "/rustc/sysroot"),
        ];
        if let Some(cargo_home) = &self.cargo_home {
            paths.push((cargo_home.clone(), "/cargo"));
        }
        // The same directories by their real paths, when a symbolic link leads to them.
        for (path, to) in paths.clone() {
            if let Ok(real) = path.canonicalize()
                && real != path
            {
                paths.push((real, to));
            }
        }
        paths
    }
}

/// `--remap-path-prefix` flags for `paths`, as `CARGO_ENCODED_RUSTFLAGS` (separated by 0x1f).
/// Of several prefixes that match a path, rustc applies the last: the flags go from the shortest
/// prefix to the longest, so that the target directory inside the work tree gets its own name.
fn remap_flags(paths: &[(PathBuf, &str)]) -> String {
    let mut paths: Vec<&(PathBuf, &str)> = paths.iter().collect();
    paths.sort_by_key(|(path, _)| (path.as_os_str().len(), path.clone()));
    paths.dedup_by(|a, b| a.0 == b.0);
    paths
        .iter()
        .map(|(from, to)| format!("--remap-path-prefix={}={to}", from.display()))
        .collect::<Vec<_>>()
        .join("\u{1f}")
}

/// Installs cargo-auditable when `cargo auditable` is not a command here.
fn ensure_cargo_auditable() -> Result<()> {
    // `cargo auditable --version` prints cargo's version when the subcommand exists and fails
    // with "no such command" when it does not.
    let mut probe = cargo(&["auditable", "--version"]);
    if crate::util::runs(&mut probe) {
        return Ok(());
    }
    run_step(
        "install cargo-auditable",
        cargo(&[
            "install",
            "cargo-auditable",
            "--locked",
            "--version",
            CARGO_AUDITABLE_VERSION,
        ]),
    )
}

/// Builds `callhook` from `tree` into `target`; the binary's path.
fn build(source: &Source, tree: &Path, target: &Path) -> Result<PathBuf> {
    let profile = source.profile.as_str();
    let flags = remap_flags(&source.machine_paths(tree, target));
    let mut command = cargo(&[
        "auditable",
        "build",
        "--locked",
        "--profile",
        profile,
        "--no-default-features",
        "--package",
        PACKAGE,
        "--bin",
        BINARY,
    ]);
    command
        .current_dir(tree)
        .env("CARGO_TARGET_DIR", target)
        .env("SOURCE_DATE_EPOCH", source.epoch.to_string())
        // CARGO_ENCODED_RUSTFLAGS wins over RUSTFLAGS and every rustflags of cargo's
        // configuration, so that the machine's own flags cannot change the binary.
        .env("CARGO_ENCODED_RUSTFLAGS", &flags)
        .env_remove("RUSTFLAGS");
    // The command's line shows the flags run together (their separator does not print).
    eprintln!("dist: rustc flags: {}", flags.replace('\u{1f}', " "));
    run_step(
        &format!("dist build ({profile}, in {})", tree.display()),
        command,
    )?;
    let binary = target.join(profile).join(BINARY);
    if !binary.is_file() {
        bail!("the build made no {}", binary.display());
    }
    Ok(binary)
}

/// A written tarball.
#[derive(Debug)]
struct Tarball {
    path: PathBuf,
    size: usize,
    digest: String,
}

/// Packs `binary` and the documents of `tree` into `directory`, with a `SHA256SUMS` beside the
/// tarball.
fn package(source: &Source, binary: &Path, tree: &Path, directory: &Path) -> Result<Tarball> {
    let name = source.name();
    let bytes = pack(&name, members(binary, tree)?, source.epoch)?;
    std::fs::create_dir_all(directory)
        .with_context(|| format!("cannot create {}", directory.display()))?;
    let file = format!("{name}.tar.gz");
    let path = directory.join(&file);
    write(&path, &bytes)?;
    let digest = sha256_hex(&bytes);
    write(
        &directory.join(SUMS),
        sums([(file.as_str(), bytes.as_slice())]).as_bytes(),
    )?;
    eprintln!("packed {} ({} bytes)", path.display(), bytes.len());
    Ok(Tarball {
        path,
        size: bytes.len(),
        digest,
    })
}

/// The files of the tarball: `binary`, and the documents from `documents`, by their contents.
fn members(binary: &Path, documents: &Path) -> Result<Vec<Member>> {
    let mut members = vec![Member {
        name: BINARY.to_owned(),
        bytes: read(binary)?,
        executable: true,
    }];
    for document in DOCUMENTS {
        members.push(Member {
            name: document.to_owned(),
            bytes: read(&documents.join(document))?,
            executable: false,
        });
    }
    Ok(members)
}

/// One file of the tarball.
#[derive(Debug, Clone)]
struct Member {
    /// Its name inside the top directory.
    name: String,
    bytes: Vec<u8>,
    /// Mode 0755 rather than 0644.
    executable: bool,
}

/// The gzip-compressed tarball of `members` and their `SHA256SUMS` under the directory `top`,
/// made from the names and bytes alone, so that the same inputs give the same bytes whatever
/// the files' times, owners, modes and the order they are given in.
fn pack(top: &str, mut members: Vec<Member>, epoch: u64) -> Result<Vec<u8>> {
    members.sort_by(|a, b| a.name.cmp(&b.name));
    let mut names = BTreeSet::new();
    if let Some(twice) = members.iter().find(|member| !names.insert(&member.name)) {
        bail!("the tarball would hold {} twice", twice.name);
    }
    let sums_text = sums(
        members
            .iter()
            .map(|member| (member.name.as_str(), member.bytes.as_slice())),
    );
    members.push(Member {
        name: SUMS.to_owned(),
        bytes: sums_text.into_bytes(),
        executable: false,
    });
    members.sort_by(|a, b| a.name.cmp(&b.name));

    // Level 9, named so that a change of flate2's default cannot change the bytes. GzBuilder
    // writes no file name, and the operating system byte 255 ("unknown") on every machine.
    let encoder = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), flate2::Compression::new(9));
    let mut builder = tar::Builder::new(encoder);
    let mut directory = header(tar::EntryType::Directory, 0, 0o755, epoch)?;
    builder
        .append_data(&mut directory, format!("{top}/"), std::io::empty())
        .with_context(|| format!("cannot add {top}/ to the tarball"))?;
    for member in &members {
        let mode = if member.executable { 0o755 } else { 0o644 };
        let size = u64::try_from(member.bytes.len()).context("a file larger than u64")?;
        let mut entry = header(tar::EntryType::Regular, size, mode, epoch)?;
        let path = format!("{top}/{}", member.name);
        builder
            .append_data(&mut entry, &path, member.bytes.as_slice())
            .with_context(|| format!("cannot add {path} to the tarball"))?;
    }
    let encoder = builder.into_inner().context("cannot finish the tarball")?;
    encoder.finish().context("cannot finish the gzip stream")
}

/// A ustar header with the fixed owner (0:0, no names) and time of every entry.
fn header(kind: tar::EntryType, size: u64, mode: u32, epoch: u64) -> Result<tar::Header> {
    let mut header = tar::Header::new_ustar();
    header.set_entry_type(kind);
    header.set_size(size);
    header.set_mode(mode);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(epoch);
    header.set_username("").context("tar header: user name")?;
    header.set_groupname("").context("tar header: group name")?;
    Ok(header)
}

/// `sha256sum`'s lines for `files`, in the order given: the digest, two spaces, the name.
fn sums<'a>(files: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> String {
    files
        .into_iter()
        .map(|(name, bytes)| format!("{}  {name}\n", sha256_hex(bytes)))
        .collect()
}

/// The SHA-256 of `bytes` in lower-case hex, computed by ring, the project's crypto.
fn sha256_hex(bytes: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// One entry of a tarball, as its header says.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Listed {
    path: String,
    kind: tar::EntryType,
    mode: u32,
    uid: u64,
    gid: u64,
    mtime: u64,
    user: Vec<u8>,
    group: Vec<u8>,
    bytes: Vec<u8>,
}

/// Every entry of the gzip-compressed tarball `bytes`, in order, with its contents.
fn list(bytes: &[u8]) -> Result<Vec<Listed>> {
    let decoder = flate2::read::GzDecoder::new(bytes).take(UNPACKED_LIMIT);
    let mut archive = tar::Archive::new(decoder);
    let mut listed = Vec::new();
    // Raw: extension headers (PAX, GNU long names) are listed as entries of their own, so that
    // the layout check sees them.
    for entry in archive.entries().context("not a tarball")?.raw(true) {
        let mut entry = entry.context("a damaged tar entry")?;
        let header = entry.header().clone();
        let path = String::from_utf8(entry.path_bytes().into_owned())
            .context("a tar entry whose path is not UTF-8")?;
        let mut contents = Vec::new();
        entry
            .read_to_end(&mut contents)
            .with_context(|| format!("cannot read {path} in the tarball"))?;
        listed.push(Listed {
            kind: header.entry_type(),
            mode: header.mode().with_context(|| format!("{path}: mode"))?,
            uid: header.uid().with_context(|| format!("{path}: uid"))?,
            gid: header.gid().with_context(|| format!("{path}: gid"))?,
            mtime: header.mtime().with_context(|| format!("{path}: mtime"))?,
            user: header.username_bytes().unwrap_or_default().to_vec(),
            group: header.groupname_bytes().unwrap_or_default().to_vec(),
            bytes: contents,
            path,
        });
    }
    Ok(listed)
}

/// The members whose contents differ between two tarballs, for the error of a failed check.
fn differing_members(first: &[u8], second: &[u8]) -> Result<Vec<String>> {
    let digests = |bytes: &[u8]| -> Result<BTreeMap<String, String>> {
        Ok(list(bytes)?
            .into_iter()
            .map(|entry| (entry.path, sha256_hex(&entry.bytes)))
            .collect())
    };
    let (first, second) = (digests(first)?, digests(second)?);
    let names: BTreeSet<&String> = first.keys().chain(second.keys()).collect();
    let differing: Vec<String> = names
        .into_iter()
        .filter(|name| first.get(*name) != second.get(*name))
        .cloned()
        .collect();
    Ok(if differing.is_empty() {
        vec!["none (only the headers or the compression)".to_owned()]
    } else {
        differing
    })
}

/// Checks the tarball as an operator would receive it, printing one line per check. `built` is
/// the work tree and the target directory of its build, whose paths the binary must not contain.
fn check(source: &Source, tarball: &Tarball, built: (&Path, &Path), scratch: &Path) -> Result<()> {
    let (tree, target) = built;
    let bytes = read(&tarball.path)?;
    let name = source.name();
    let report = |line: String| eprintln!("dist check: {line}");

    // The checksum file beside the tarball.
    let beside = tarball.path.with_file_name(SUMS);
    let expected = format!("{}  {name}.tar.gz\n", sha256_hex(&bytes));
    if std::fs::read_to_string(&beside).ok().as_deref() != Some(expected.as_str()) {
        bail!("{} does not hold {expected:?}", beside.display());
    }
    report(format!("{SUMS} beside the tarball: matches"));

    // The layout, from the headers.
    let entries = list(&bytes)?;
    report(layout(&entries, &name, source.epoch)?);

    // Unpacked as an operator would, and SHA256SUMS checked from inside the directory.
    if scratch.exists() {
        std::fs::remove_dir_all(scratch)
            .with_context(|| format!("cannot empty {}", scratch.display()))?;
    }
    std::fs::create_dir_all(scratch)
        .with_context(|| format!("cannot create {}", scratch.display()))?;
    let decoder = flate2::read::GzDecoder::new(bytes.as_slice()).take(UNPACKED_LIMIT);
    tar::Archive::new(decoder)
        .unpack(scratch)
        .with_context(|| format!("cannot unpack into {}", scratch.display()))?;
    let unpacked = scratch.join(&name);
    report(verify_sums(&unpacked)?);

    // The binary runs, says its version and has no development commands.
    let binary = unpacked.join(BINARY);
    let version = stdout_of(
        Command::new(&binary).arg("--version"),
        QUICK,
        "callhook --version",
    )?;
    let wanted = format!("{BINARY} {}", source.version);
    if version.trim() != wanted {
        bail!(
            "callhook --version printed {:?}, not {wanted:?}",
            version.trim()
        );
    }
    report(format!("callhook --version: {wanted}"));
    let help = stdout_of(
        Command::new(&binary).arg("--help"),
        QUICK,
        "callhook --help",
    )?;
    report(commands(&help)?);

    // Stripped, no path of this machine, and the dependency list.
    let executable = read(&binary)?;
    let file = object::File::parse(executable.as_slice())
        .with_context(|| format!("{}: not an ELF file", binary.display()))?;
    report(stripped(&file)?);
    report(no_machine_paths(
        &executable,
        &source.machine_paths(tree, target),
        source.home.as_deref(),
    )?);
    let lock = std::fs::read_to_string(tree.join("Cargo.lock"))
        .with_context(|| format!("cannot read {}", tree.join("Cargo.lock").display()))?;
    report(dependency_list(&file, &lock)?);
    Ok(())
}

/// The entries are the top directory then the files in byte order, with the fixed modes, owner
/// and time.
fn layout(entries: &[Listed], top: &str, epoch: u64) -> Result<String> {
    let mut wanted: Vec<String> = DOCUMENTS.iter().map(|name| (*name).to_owned()).collect();
    wanted.extend([SUMS.to_owned(), BINARY.to_owned()]);
    wanted.sort();
    let mut paths = vec![format!("{top}/")];
    paths.extend(wanted.iter().map(|name| format!("{top}/{name}")));
    let found: Vec<&str> = entries.iter().map(|entry| entry.path.as_str()).collect();
    if found != paths {
        bail!("the tarball holds {found:?}, not {paths:?}");
    }
    for entry in entries {
        let executable = entry.path.ends_with('/') || entry.path.ends_with(&format!("/{BINARY}"));
        let (kind, mode) = if entry.path.ends_with('/') {
            (tar::EntryType::Directory, 0o755)
        } else {
            (
                tar::EntryType::Regular,
                if executable { 0o755 } else { 0o644 },
            )
        };
        if entry.kind != kind
            || entry.mode != mode
            || (entry.uid, entry.gid) != (0, 0)
            || entry.mtime != epoch
            || !entry.user.is_empty()
            || !entry.group.is_empty()
        {
            bail!(
                "{}: {:?}, mode {:o}, owner {}:{} ({:?}:{:?}), mtime {}; wanted {kind:?}, mode \
                 {mode:o}, owner 0:0 without names, mtime {epoch}",
                entry.path,
                entry.kind,
                entry.mode,
                entry.uid,
                entry.gid,
                String::from_utf8_lossy(&entry.user),
                String::from_utf8_lossy(&entry.group),
                entry.mtime
            );
        }
    }
    Ok(format!(
        "layout: {top}/ holding {}, in byte order, modes 0755 (directory, binary) and 0644, owner \
         0:0, mtime {epoch}",
        wanted.join(", ")
    ))
}

/// Every line of `directory/SHA256SUMS` names a file there with that digest, and every other file
/// there has a line.
fn verify_sums(directory: &Path) -> Result<String> {
    let path = directory.join(SUMS);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let mut listed = BTreeSet::new();
    for (number, line) in text.lines().enumerate() {
        let (digest, name) = line
            .split_once("  ")
            .with_context(|| format!("{SUMS} line {}: not `DIGEST  NAME`: {line:?}", number + 1))?;
        let actual = sha256_hex(&read(&directory.join(name))?);
        if actual != digest {
            bail!(
                "{SUMS} line {}: {name} has sha256 {actual}, not {digest}",
                number + 1
            );
        }
        listed.insert(name.to_owned());
    }
    let mut present = BTreeSet::new();
    for entry in std::fs::read_dir(directory)
        .with_context(|| format!("cannot list {}", directory.display()))?
    {
        let entry = entry.with_context(|| format!("cannot list {}", directory.display()))?;
        present.insert(entry.file_name().to_string_lossy().into_owned());
    }
    present.remove(SUMS);
    if present != listed {
        bail!("{SUMS} lists {listed:?}, but the directory holds {present:?}");
    }
    Ok(format!("{SUMS}: {} files match", listed.len()))
}

/// `callhook --help` lists `serve` and none of the development commands.
fn commands(help: &str) -> Result<String> {
    // clap lists each subcommand on its own line, indented, under "Commands:".
    let listed: Vec<&str> = help
        .split_once("Commands:")
        .map(|(_, rest)| rest)
        .unwrap_or_default()
        .lines()
        // The rest of the "Commands:" line, empty.
        .skip(1)
        .take_while(|line| line.starts_with(' '))
        .filter_map(|line| line.split_whitespace().next())
        .collect();
    if !listed.contains(&"serve") {
        bail!("callhook --help lists no `serve` command:\n{help}");
    }
    let development: Vec<&str> = ["demo", "simulate", "issuer", "bot"]
        .into_iter()
        .filter(|command| listed.contains(command))
        .collect();
    if !development.is_empty() {
        bail!(
            "callhook --help lists the development commands {development:?}: the build kept the \
             dev-tools feature"
        );
    }
    Ok(format!(
        "callhook --help: {}; no development commands",
        listed.join(", ")
    ))
}

/// The binary has no symbol table and no debug information.
fn stripped(file: &object::File<'_>) -> Result<String> {
    use object::{Object, ObjectSection};
    let kept: Vec<String> = file
        .sections()
        .filter_map(|section| section.name().ok().map(str::to_owned))
        .filter(|name| name == ".symtab" || name.starts_with(".debug"))
        .collect();
    if !kept.is_empty() {
        bail!(
            "the binary is not stripped: it has the sections {}",
            kept.join(", ")
        );
    }
    Ok("stripped: no .symtab, no .debug_* sections".to_owned())
}

/// None of the machine's `paths`, nor `home`, occurs in `bytes`.
fn no_machine_paths(
    bytes: &[u8],
    paths: &[(PathBuf, &str)],
    home: Option<&Path>,
) -> Result<String> {
    let mut searched: Vec<String> = paths
        .iter()
        .map(|(path, _)| path.display().to_string())
        .filter(|path| path.len() > 1)
        .collect();
    // The home directory followed by a slash: a path under it, not a word that starts alike.
    if let Some(home) = home {
        searched.push(format!("{}/", home.display()));
    }
    searched.sort();
    searched.dedup();
    let found: Vec<&String> = searched
        .iter()
        .filter(|path| memchr::memmem::find(bytes, path.as_bytes()).is_some())
        .collect();
    if !found.is_empty() {
        bail!(
            "the binary names paths of this machine: {}",
            found
                .iter()
                .map(|path| path.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(format!(
        "no path of this machine in the binary ({} searched: {})",
        searched.len(),
        searched.join(", ")
    ))
}

/// The dependency list that `cargo auditable` embedded: zlib-compressed JSON of
/// `{"packages": [{"name", "version", "source", ...}]}`. It must name the expected dependencies,
/// and every package must be at the version Cargo.lock has.
fn dependency_list(file: &object::File<'_>, lock: &str) -> Result<String> {
    use object::{Object, ObjectSection};
    let section = file.section_by_name(DEPENDENCY_SECTION).with_context(|| {
        format!("the binary has no {DEPENDENCY_SECTION} section: not built by cargo auditable")
    })?;
    let compressed = section
        .data()
        .with_context(|| format!("cannot read the {DEPENDENCY_SECTION} section"))?;
    let mut json = Vec::new();
    flate2::read::ZlibDecoder::new(compressed)
        .take(UNPACKED_LIMIT)
        .read_to_end(&mut json)
        .with_context(|| format!("the {DEPENDENCY_SECTION} section is not zlib data"))?;
    let list: serde_json::Value = serde_json::from_slice(&json)
        .with_context(|| format!("the {DEPENDENCY_SECTION} section is not JSON"))?;
    let embedded = list.get("packages").and_then(serde_json::Value::as_array);
    let packages = names_and_versions(embedded.into_iter().flatten(), |package, key| {
        package.get(key)?.as_str()
    });

    let lock: toml::Table = lock.parse().context("Cargo.lock: not TOML")?;
    let locked: BTreeSet<(&str, &str)> = names_and_versions(
        lock.get("package")
            .and_then(toml::Value::as_array)
            .into_iter()
            .flatten(),
        |package, key| package.get(key)?.as_str(),
    )
    .into_iter()
    .collect();
    let unlocked: Vec<String> = packages
        .iter()
        .filter(|package| !locked.contains(*package))
        .map(|(name, version)| format!("{name} {version}"))
        .collect();
    if !unlocked.is_empty() {
        bail!(
            "the embedded dependency list names packages that Cargo.lock does not: {}",
            unlocked.join(", ")
        );
    }
    let mut named = Vec::new();
    for expected in EXPECTED_DEPENDENCIES {
        let (_, version) = packages
            .iter()
            .find(|(name, _)| *name == expected)
            .with_context(|| format!("the embedded dependency list does not name {expected}"))?;
        named.push(format!("{expected} {version}"));
    }
    Ok(format!(
        "dependency list ({DEPENDENCY_SECTION}): {} packages, {} among them, every version the one \
         of Cargo.lock",
        packages.len(),
        named.join(" and ")
    ))
}

/// The name and version of each of `packages` (JSON or TOML tables), read with `field`; a
/// package without either is left out.
fn names_and_versions<'a, V: 'a>(
    packages: impl IntoIterator<Item = &'a V>,
    field: impl Fn(&'a V, &str) -> Option<&'a str>,
) -> Vec<(&'a str, &'a str)> {
    packages
        .into_iter()
        .filter_map(|package| Some((field(package, "name")?, field(package, "version")?)))
        .collect()
}

/// Copies the files that git tracks in `root` (as they are in the work tree) to `to`, emptied
/// first: the same sources at another path.
fn copy_tracked_files(root: &Path, to: &Path) -> Result<()> {
    if to.exists() {
        std::fs::remove_dir_all(to).with_context(|| format!("cannot empty {}", to.display()))?;
    }
    let mut command = Command::new("git");
    command.args(["ls-files", "-z"]).current_dir(root);
    let listed = stdout_of(&mut command, QUICK, "git ls-files")?;
    let mut copied = 0_usize;
    for name in listed.split('\0').filter(|name| !name.is_empty()) {
        let from = root.join(name);
        let destination = to.join(name);
        if let Some(parent) = destination.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        let metadata = match std::fs::symlink_metadata(&from) {
            Ok(metadata) => metadata,
            // Deleted in the work tree and not yet committed: not part of the sources.
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
            Err(error) => {
                return Err(error).with_context(|| format!("cannot read {}", from.display()));
            }
        };
        if metadata.is_symlink() {
            let target = std::fs::read_link(&from)
                .with_context(|| format!("cannot read the link {}", from.display()))?;
            std::os::unix::fs::symlink(&target, &destination)
                .with_context(|| format!("cannot link {}", destination.display()))?;
        } else {
            std::fs::copy(&from, &destination).with_context(|| {
                format!(
                    "cannot copy {} to {}",
                    from.display(),
                    destination.display()
                )
            })?;
        }
        copied += 1;
    }
    eprintln!("dist: copied {copied} tracked files to {}", to.display());
    Ok(())
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;
    use std::time::{Duration, SystemTime};

    use super::*;

    const EPOCH: u64 = 1_700_000_000;
    const TOP: &str = "callhook-1.2.3-x86_64-unknown-linux-gnu";
    /// The tarball's files but its SHA256SUMS, in byte order.
    const FILES: [&str; 4] = ["LICENSE-APACHE", "LICENSE-MIT", "README.md", "callhook"];

    fn contents(name: &str) -> String {
        format!("the contents of {name}\n")
    }

    /// A directory with the binary and the documents, created in `order`, with `mode` and
    /// `mtime`: what `members` reads, as two machines could leave it.
    fn inputs(order: &[&str], mode: u32, mtime: SystemTime) -> tempfile::TempDir {
        let directory = tempfile::tempdir().unwrap();
        for name in order {
            let path = directory.path().join(name);
            std::fs::write(&path, contents(name)).unwrap();
            std::fs::File::options()
                .write(true)
                .open(&path)
                .unwrap()
                .set_modified(mtime)
                .unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        }
        directory
    }

    fn tarball_of(directory: &Path) -> Vec<u8> {
        pack(
            TOP,
            members(&directory.join(BINARY), directory).unwrap(),
            EPOCH,
        )
        .unwrap()
    }

    fn some_tarball() -> Vec<u8> {
        tarball_of(inputs(&FILES, 0o644, SystemTime::now()).path())
    }

    #[test]
    fn the_same_files_give_the_same_bytes_whatever_their_times_modes_and_order() {
        let mut order = FILES.to_vec();
        let old = SystemTime::UNIX_EPOCH + Duration::from_secs(1);
        let first = inputs(&order, 0o600, old);
        order.reverse();
        let second = inputs(&order, 0o777, SystemTime::now());
        let tarball = tarball_of(first.path());
        assert_eq!(tarball, tarball_of(second.path()));

        // The order the members are given in does not matter either.
        let mut reversed = members(&first.path().join(BINARY), first.path()).unwrap();
        reversed.reverse();
        assert_eq!(tarball, pack(TOP, reversed, EPOCH).unwrap());

        // And the contents do: a changed byte changes the tarball.
        std::fs::write(first.path().join("README.md"), "changed\n").unwrap();
        assert_ne!(tarball, tarball_of(first.path()));
    }

    #[test]
    fn one_top_directory_holds_the_files_in_byte_order_with_fixed_modes_owner_and_time() {
        let entries = list(&some_tarball()).unwrap();
        let shown: Vec<(&str, tar::EntryType, u32)> = entries
            .iter()
            .map(|entry| (entry.path.as_str(), entry.kind, entry.mode))
            .collect();
        let path = |name: &str| format!("{TOP}/{name}");
        let directory = format!("{TOP}/");
        assert_eq!(
            shown,
            [
                (directory.as_str(), tar::EntryType::Directory, 0o755),
                (
                    path("LICENSE-APACHE").as_str(),
                    tar::EntryType::Regular,
                    0o644
                ),
                (path("LICENSE-MIT").as_str(), tar::EntryType::Regular, 0o644),
                (path("README.md").as_str(), tar::EntryType::Regular, 0o644),
                (path("SHA256SUMS").as_str(), tar::EntryType::Regular, 0o644),
                (path("callhook").as_str(), tar::EntryType::Regular, 0o755),
            ]
        );
        for entry in &entries {
            assert_eq!(
                (entry.uid, entry.gid, entry.mtime),
                (0, 0, EPOCH),
                "{}",
                entry.path
            );
            assert!(
                entry.user.is_empty() && entry.group.is_empty(),
                "{}",
                entry.path
            );
        }
        layout(&entries, TOP, EPOCH).unwrap();
        assert!(layout(&entries, TOP, EPOCH + 1).is_err());
        assert!(layout(&entries, "callhook-other", EPOCH).is_err());
    }

    #[test]
    fn sha256sums_lists_the_other_files_as_sha256sum_writes_them() {
        let entries = list(&some_tarball()).unwrap();
        let sums = entries
            .iter()
            .find(|entry| entry.path == format!("{TOP}/{SUMS}"))
            .map(|entry| String::from_utf8(entry.bytes.clone()).unwrap())
            .unwrap();
        let expected: String = FILES
            .iter()
            .map(|name| format!("{}  {name}\n", sha256_hex(contents(name).as_bytes())))
            .collect();
        assert_eq!(sums, expected);
        // The test vector of FIPS 180-2: ring's SHA-256, written in lower-case hex.
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn the_gzip_header_has_no_time_or_name_and_a_fixed_level_and_system() {
        let tarball = some_tarball();
        // Magic, deflate, no flags (so no file name), mtime 0, "maximum compression", unknown OS.
        assert_eq!(tarball[..10], [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 255]);
    }

    #[test]
    fn the_unpacked_tarball_passes_sha256sum_and_a_changed_file_fails() {
        let scratch = tempfile::tempdir().unwrap();
        let archive = scratch.path().join(format!("{TOP}.tar.gz"));
        std::fs::write(&archive, some_tarball()).unwrap();
        let unpacked = scratch.path().join(TOP);
        // The operator's commands, where this machine has them.
        if crate::util::has_program("tar", &["--version"])
            && crate::util::has_program("sha256sum", &["--version"])
        {
            let mut untar = Command::new("tar");
            untar.arg("-xzf").arg(&archive).current_dir(scratch.path());
            assert!(crate::util::runs(&mut untar));
            let mut check = Command::new("sha256sum");
            check.args(["-c", SUMS]).current_dir(&unpacked);
            let (passed, output) = crate::util::run_bounded(&mut check, QUICK).unwrap();
            assert!(passed, "{output}");
            let mode = std::fs::metadata(unpacked.join(BINARY))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o755);
        } else {
            tar::Archive::new(flate2::read::GzDecoder::new(
                read(&archive).unwrap().as_slice(),
            ))
            .unpack(scratch.path())
            .unwrap();
        }
        assert_eq!(verify_sums(&unpacked).unwrap(), "SHA256SUMS: 4 files match");

        std::fs::write(unpacked.join("LICENSE-MIT"), "changed\n").unwrap();
        let error = verify_sums(&unpacked).unwrap_err().to_string();
        assert!(error.contains("line 2: LICENSE-MIT has sha256"), "{error}");
        std::fs::write(unpacked.join("LICENSE-MIT"), contents("LICENSE-MIT")).unwrap();
        std::fs::write(unpacked.join("extra"), "").unwrap();
        let error = verify_sums(&unpacked).unwrap_err().to_string();
        assert!(error.contains("the directory holds"), "{error}");
    }

    #[test]
    fn a_file_given_twice_is_refused() {
        let member = Member {
            name: "README.md".to_owned(),
            bytes: Vec::new(),
            executable: false,
        };
        let error = pack(TOP, vec![member.clone(), member], EPOCH).unwrap_err();
        assert!(error.to_string().contains("README.md twice"), "{error}");
    }

    #[test]
    fn differing_members_names_the_file_that_changed() {
        let directory = inputs(&FILES, 0o644, SystemTime::now());
        let first = tarball_of(directory.path());
        std::fs::write(directory.path().join(BINARY), "another build\n").unwrap();
        let second = tarball_of(directory.path());
        // The binary, and the SHA256SUMS that lists it.
        assert_eq!(
            differing_members(&first, &second).unwrap(),
            [format!("{TOP}/{SUMS}"), format!("{TOP}/{BINARY}")]
        );
    }

    #[test]
    fn remapping_goes_from_the_shortest_prefix_to_the_longest() {
        let paths = [
            (PathBuf::from("/work/tree/target"), "/callhook/target"),
            (PathBuf::from("/home/me/.cargo"), "/cargo"),
            (PathBuf::from("/work/tree"), "/callhook"),
            (PathBuf::from("/work/tree"), "/callhook"),
        ];
        assert_eq!(
            remap_flags(&paths).split('\u{1f}').collect::<Vec<_>>(),
            [
                "--remap-path-prefix=/work/tree=/callhook",
                "--remap-path-prefix=/home/me/.cargo=/cargo",
                "--remap-path-prefix=/work/tree/target=/callhook/target",
            ]
        );
    }

    #[test]
    fn a_path_of_the_machine_in_the_binary_is_found() {
        let paths = [(PathBuf::from("/work/tree"), "/callhook")];
        let home = Some(Path::new("/home/me"));
        no_machine_paths(
            b"panicked at /callhook/src/main.rs:1:1 /home/mean",
            &paths,
            home,
        )
        .unwrap();
        let error = no_machine_paths(b"at /work/tree/src/main.rs", &paths, home).unwrap_err();
        assert!(error.to_string().contains("/work/tree"), "{error}");
        let error = no_machine_paths(b"/home/me/.rustup/x.rs", &paths, home).unwrap_err();
        assert!(error.to_string().contains("/home/me/"), "{error}");
    }

    #[test]
    fn help_passes_with_serve_and_without_the_development_commands() {
        let help = "About.\n\nUsage: callhook <COMMAND>\n\nCommands:\n  serve     Run it\n  \
                    classify  Read one\n  help      Print this\n\nOptions:\n  -h, --help  Help\n";
        assert_eq!(
            commands(help).unwrap(),
            "callhook --help: serve, classify, help; no development commands"
        );
        let with_demo = help.replace("  help ", "  demo      Play\n  help ");
        let error = commands(&with_demo).unwrap_err().to_string();
        assert!(error.contains("[\"demo\"]"), "{error}");
        assert!(commands("Usage: callhook\n").is_err());
    }
}
