//! `cargo xtask release [--dry-run] CRATE (VERSION | patch | minor | major)`: one crate of the
//! workspace released up to a commit and a tag. Publishing is left to a person
//! (docs/releasing.md): this task never uploads anything.
//!
//! The steps, in order, each printed as it happens: the tree must be clean; `cargo xtask ci`;
//! the public API against the crate's previous tag (cargo-semver-checks); the crate's version and
//! every in-workspace requirement on it bumped, its changelog's Unreleased section dated, the lock
//! files brought up to date; `cargo package` of the crate, of the crates that depend on it and of
//! what they depend on in the workspace; a commit `CRATE: release VERSION` and an annotated tag
//! `CRATE-vVERSION`.
//!
//! Every check that needs no edit runs before the first edit, and a failure after it puts every
//! file back, so that a release is made entirely or not at all. A dry run does everything but the
//! commit and the tag, and puts every file back too.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::str::FromStr;

use anyhow::{Context, Result, bail};
use semver::{Version, VersionReq};
use toml_edit::{DocumentMut, Item, Value};

use crate::util::{has_program, run_bounded_showing, run_step, workspace_root};

/// How long cargo-semver-checks may take. It builds the crate's rustdoc twice (the tree and the
/// previous tag): seconds for callhook-model once its dependencies are built; the limit leaves
/// room for building the dependencies of the largest crate from nothing.
const SEMVER_CHECKS_LIMIT: std::time::Duration = std::time::Duration::from_secs(30 * 60);

/// What `cargo xtask release` was asked to do.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    /// The crate to release (`callhook-auth`).
    pub(crate) crate_name: String,
    /// The new version, or the part of the current one to bump.
    pub(crate) bump: Bump,
    /// Everything but the commit and the tag; the tree is left as it was.
    pub(crate) dry_run: bool,
    /// Leaves `cargo xtask ci` out (for the tests of the xtask itself).
    pub(crate) skip_ci: bool,
    /// Releases even when the changelog's Unreleased section has no entry.
    pub(crate) allow_empty_changelog: bool,
    /// Whether `cargo package` builds the packages it made; `false` (`--no-verify`) only in the
    /// xtask's tests, which would otherwise compile the whole workspace from its packages.
    pub(crate) verify_packages: bool,
    /// The date of the release in the changelog, `YYYY-MM-DD`.
    pub(crate) date: String,
    /// The target directory of every cargo command, when it is not the repository's own.
    pub(crate) target_dir: Option<PathBuf>,
}

impl Options {
    /// The options of `cargo xtask release` from its command line: today's date (UTC), packages
    /// verified, the default target directory.
    pub(crate) fn new(crate_name: String, bump: Bump) -> Self {
        Options {
            crate_name,
            bump,
            dry_run: false,
            skip_ci: false,
            allow_empty_changelog: false,
            verify_packages: true,
            date: today_utc(),
            target_dir: None,
        }
    }
}

/// The version to release: an explicit one, or the next patch, minor or major version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Bump {
    Patch,
    Minor,
    Major,
    Exact(Version),
}

impl FromStr for Bump {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "patch" => Ok(Bump::Patch),
            "minor" => Ok(Bump::Minor),
            "major" => Ok(Bump::Major),
            _ => Version::parse(text).map(Bump::Exact).map_err(|error| {
                format!("`{text}` is neither patch, minor, major nor a version X.Y.Z: {error}")
            }),
        }
    }
}

impl fmt::Display for Bump {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Bump::Patch => formatter.write_str("patch"),
            Bump::Minor => formatter.write_str("minor"),
            Bump::Major => formatter.write_str("major"),
            Bump::Exact(version) => write!(formatter, "{version}"),
        }
    }
}

impl Bump {
    /// The version after `current`. A pre-release's patch bump is its release (1.2.0-rc.1 becomes
    /// 1.2.0), as Cargo orders pre-releases before their release.
    fn apply(&self, current: &Version) -> Version {
        match self {
            Bump::Exact(version) => version.clone(),
            Bump::Patch if !current.pre.is_empty() => {
                Version::new(current.major, current.minor, current.patch)
            }
            Bump::Patch => Version::new(current.major, current.minor, current.patch + 1),
            Bump::Minor => Version::new(current.major, current.minor + 1, 0),
            Bump::Major => Version::new(current.major + 1, 0, 0),
        }
    }
}

/// What a release made (or, in a dry run, would have made).
#[derive(Debug)]
pub(crate) struct Released {
    /// The crate's new version.
    pub(crate) version: Version,
    /// The tag, `CRATE-vVERSION`.
    pub(crate) tag: String,
    /// The crates packaged, in dependency order.
    pub(crate) packaged: Vec<String>,
}

/// `cargo xtask release`, on this workspace.
pub(crate) fn run(options: &Options) -> Result<()> {
    let released = release(&workspace_root(), options)?;
    let what = if options.dry_run {
        "dry run of"
    } else {
        "released"
    };
    eprintln!(
        "\nxtask release: {what} {} {}, tag {}; packaged: {}",
        options.crate_name,
        released.version,
        released.tag,
        released.packaged.join(", ")
    );
    Ok(())
}

/// Releases `options.crate_name` in the git repository whose root is `root` (the root of the
/// cargo workspace too).
pub(crate) fn release(root: &Path, options: &Options) -> Result<Released> {
    // The paths of `cargo metadata` are canonical; the root is too, so that they compare.
    let root = &root
        .canonicalize()
        .with_context(|| format!("no repository at {}", root.display()))?;
    let name = options.crate_name.as_str();
    let mode = if options.dry_run {
        " (dry run: no commit, no tag, and the tree is left as it was)"
    } else {
        ""
    };
    eprintln!("\n==> release {name} {}{mode}", options.bump);

    eprintln!("\n==> release: the tree must be clean (git status --porcelain)");
    refuse_dirty_tree(root)?;
    eprintln!("==> release: clean");

    let workspace = Workspace::read(root, options)?;
    let member = workspace.publishable(name)?;
    let previous = previous_release(root, name)?;
    let version = new_version(member, &options.bump, previous.as_ref())?;
    let tag = tag_name(name, &version);
    if git_succeeds(
        root,
        &[
            "rev-parse",
            "--quiet",
            "--verify",
            &format!("refs/tags/{tag}"),
        ],
    ) {
        bail!("the tag {tag} exists already: {name} {version} was released before");
    }
    eprintln!(
        "==> release: {name} {} -> {version}, tag {tag}",
        member.version
    );

    let changelog_path = member.directory().join("CHANGELOG.md");
    let changelog = std::fs::read_to_string(&changelog_path)
        .with_context(|| format!("cannot read {}", changelog_path.display()))?;
    let changelog_release = ChangelogRelease {
        version: &version,
        date: &options.date,
        tag: &tag,
        previous_tag: previous.as_ref().map(|(_, tag)| tag.as_str()),
        repository: member.repository.as_deref(),
        allow_empty: options.allow_empty_changelog,
    };
    let dated_changelog = date_unreleased(&changelog, &changelog_release)
        .with_context(|| format!("{}", changelog_path.display()))?;

    if options.skip_ci {
        eprintln!("\n==> release: cargo xtask ci skipped (--skip-ci)");
    } else {
        run_ci(root)?;
    }

    check_public_api(root, name, previous.as_ref(), &version, options)?;

    let order = workspace.package_order(name)?;
    let packaged: Vec<String> = order.iter().map(|(package, _)| package.clone()).collect();

    let snapshot = Snapshot::take(root, &changelog_path)?;
    let made = edit_package_commit(
        root,
        options,
        &Edits {
            workspace: &workspace,
            member,
            version: &version,
            tag: &tag,
            changelog_path: &changelog_path,
            dated_changelog: &dated_changelog,
            order: &order,
        },
    );
    if options.dry_run || made.is_err() {
        let restored = snapshot.restore(root);
        match (&made, restored) {
            (Err(error), Ok(())) => {
                eprintln!(
                    "\n==> release: failed; every file is back as it was, nothing was committed"
                );
                return Err(anyhow::anyhow!("{error:#}"));
            }
            (Err(error), Err(restore_error)) => {
                bail!("{error:#}\nand the files could not all be put back: {restore_error:#}");
            }
            (Ok(()), Err(restore_error)) => {
                bail!("dry run: the files could not all be put back: {restore_error:#}");
            }
            (Ok(()), Ok(())) => {}
        }
    }

    let publish = publish_instructions(&workspace, name, &version, &tag, &order);
    if options.dry_run {
        eprintln!(
            "\n==> release: dry run done; the tree is as it was. A release would now commit \
             `{name}: release {version}` (the files above) and tag it {tag} (annotated), and then \
             say:\n{publish}"
        );
    } else {
        eprintln!("\n==> release: {name} {version} is committed and tagged {tag}.\n{publish}");
    }
    Ok(Released {
        version,
        tag,
        packaged,
    })
}

/// What the release changes, for [`edit_package_commit`].
struct Edits<'a> {
    workspace: &'a Workspace,
    member: &'a Member,
    version: &'a Version,
    tag: &'a str,
    changelog_path: &'a Path,
    dated_changelog: &'a str,
    order: &'a [(String, String)],
}

/// The steps that change the tree: the edits, the packages, and (unless a dry run) the commit and
/// the tag. The caller puts the files back when this fails or is a dry run.
fn edit_package_commit(root: &Path, options: &Options, edits: &Edits<'_>) -> Result<()> {
    let name = edits.member.name.as_str();
    eprintln!("\n==> release: versions, requirements, changelog and lock files");
    set_package_version(&edits.member.manifest, edits.version)?;
    eprintln!(
        "{}: version = \"{}\"",
        relative(root, &edits.member.manifest),
        edits.version
    );
    for manifest in tracked_files(root, "Cargo.toml")? {
        for change in bump_requirements_in_file(&manifest, name, edits.version)? {
            eprintln!("{}: {change}", relative(root, &manifest));
        }
    }
    std::fs::write(edits.changelog_path, edits.dated_changelog)
        .with_context(|| format!("cannot write {}", edits.changelog_path.display()))?;
    eprintln!(
        "{}: ## [Unreleased] dated ## [{}] - {}",
        relative(root, edits.changelog_path),
        edits.version,
        options.date
    );
    for lock in tracked_files(root, "Cargo.lock")? {
        let manifest = lock.with_file_name("Cargo.toml");
        if !manifest.is_file() {
            continue;
        }
        // `--workspace` updates the entries of path packages only: the new version of the crate,
        // and nothing else that the lock file pins.
        let mut update = cargo_at(root, options, &["update", "--workspace", "--quiet"]);
        update.arg("--manifest-path").arg(&manifest);
        run_step(&format!("lock file {}", relative(root, &lock)), update)?;
    }

    let diff = git(root, &["diff", "--no-color", "--stat"])?;
    eprintln!("\n==> release: the changes\n{}", diff.trim_end());
    if options.dry_run {
        let full = git(root, &["diff", "--no-color"])?;
        eprintln!("{}", full.trim_end());
    }

    eprintln!("\n==> release: packages, in dependency order");
    for (package, why) in edits.order {
        eprintln!("  {package}: {why}");
    }
    // `--allow-dirty`: the edits above are not committed yet, and the tree was clean before them,
    // so they are the only changes that the packages can contain.
    let mut package = cargo_at(root, options, &["package", "--allow-dirty"]);
    if !options.verify_packages {
        package.arg("--no-verify");
    }
    for (name, _) in edits.order {
        package.args(["-p", name]);
    }
    run_step("cargo package", package)?;
    for (package, _) in edits.order {
        let version = match edits.workspace.member(package) {
            Some(member) if member.name != name => member.version.to_string(),
            _ => edits.version.to_string(),
        };
        let file = edits
            .workspace
            .target_directory
            .join("package")
            .join(format!("{package}-{version}.crate"));
        if file.is_file() {
            eprintln!("  made {}", file.display());
        }
    }

    if options.dry_run {
        return Ok(());
    }
    commit_and_tag(root, name, edits.version, edits.tag)
}

/// Commits every change of the tree and tags the commit; on a failure, nothing stays staged or
/// committed (the caller puts the files back).
fn commit_and_tag(root: &Path, name: &str, version: &Version, tag: &str) -> Result<()> {
    let message = format!("{name}: release {version}");
    eprintln!("\n==> release: git commit -m \"{message}\"");
    let committed = git(root, &["add", "--all"])
        .and_then(|_| git(root, &["commit", "--quiet", "--message", &message]));
    if let Err(error) = committed {
        let _ = git(root, &["reset", "--quiet"]);
        return Err(error.context("the release commit failed"));
    }
    eprintln!("==> release: git tag --annotate {tag}");
    let tag_message = format!("{name} {version}");
    if let Err(error) = git(root, &["tag", "--annotate", tag, "--message", &tag_message]) {
        // Undoes the commit and leaves its changes unstaged, for the caller to put back.
        let _ = git(root, &["reset", "--quiet", "HEAD~1"]);
        return Err(error.context(format!(
            "the tag {tag} could not be made; the commit is undone"
        )));
    }
    Ok(())
}

/// The commands that publish the release, for a person to run.
fn publish_instructions(
    workspace: &Workspace,
    name: &str,
    version: &Version,
    tag: &str,
    order: &[(String, String)],
) -> String {
    let dependencies = workspace.dependencies_closure(name);
    let mut text = String::from("To publish it (this task never uploads anything):\n");
    let first: Vec<&str> = order
        .iter()
        .map(|(package, _)| package.as_str())
        .filter(|package| dependencies.contains(*package))
        .collect();
    if !first.is_empty() {
        text.push_str(
            "  # Only for those of its workspace dependencies that are not on crates.io at their \
             current version yet, in this order:\n",
        );
        for package in first {
            text.push_str(&format!("  cargo publish -p {package}\n"));
        }
    }
    text.push_str(&format!(
        "  git push origin HEAD {tag}\n  cargo publish -p {name}\n"
    ));
    let dependents: Vec<String> = workspace.dependents_closure(name).into_iter().collect();
    if !dependents.is_empty() {
        text.push_str(&format!(
            "Its dependents in the workspace ({}) now require {name} {version}; each ships it \
             with its own release (`cargo xtask release CRATE patch`).",
            dependents.join(", ")
        ));
    }
    text
}

/// Fails naming every path that `git status` shows, untracked files included.
fn refuse_dirty_tree(root: &Path) -> Result<()> {
    let status = git(root, &["status", "--porcelain", "--untracked-files=all"])
        .with_context(|| format!("{} is not a git repository", root.display()))?;
    let dirty: Vec<&str> = status.lines().filter(|line| !line.is_empty()).collect();
    if !dirty.is_empty() {
        bail!(
            "the tree at {} is not clean; commit, stash or remove these first:\n  {}",
            root.display(),
            dirty.join("\n  ")
        );
    }
    Ok(())
}

/// Runs `cargo xtask ci`, which checks the xtask's own workspace: a release of another repository
/// (the tests' copies) has to skip it.
fn run_ci(root: &Path) -> Result<()> {
    let own = workspace_root();
    let same = match (root.canonicalize(), own.canonicalize()) {
        (Ok(root), Ok(own)) => root == own,
        _ => false,
    };
    if !same {
        bail!(
            "cargo xtask ci checks {}, not {}: pass --skip-ci to release another copy",
            own.display(),
            root.display()
        );
    }
    eprintln!("\n==> release: cargo xtask ci");
    crate::ci::run().context("cargo xtask ci failed: nothing was changed")
}

/// The crate's highest earlier release: its version and its tag `CRATE-vVERSION`.
fn previous_release(root: &Path, name: &str) -> Result<Option<(Version, String)>> {
    let prefix = format!("{name}-v");
    let tags = git(root, &["tag", "--list", &format!("{prefix}*")])?;
    let mut highest: Option<(Version, String)> = None;
    for tag in tags.lines().map(str::trim) {
        let Some(version) = tag
            .strip_prefix(&prefix)
            .and_then(|v| Version::parse(v).ok())
        else {
            eprintln!("release: tag {tag} does not end in a version: ignored");
            continue;
        };
        if highest.as_ref().is_none_or(|(best, _)| version > *best) {
            highest = Some((version, tag.to_owned()));
        }
    }
    Ok(highest)
}

/// The version to release, which must be newer than the manifest's and the last release's.
fn new_version(
    member: &Member,
    bump: &Bump,
    previous: Option<&(Version, String)>,
) -> Result<Version> {
    let name = &member.name;
    let current = &member.version;
    let version = bump.apply(current);
    if version <= *current {
        bail!(
            "{version} is not newer than {name}'s current version {current} ({}): name a higher \
             version, or patch, minor or major",
            member.manifest.display()
        );
    }
    if let Some((released, tag)) = previous
        && version <= *released
    {
        bail!("{version} is not newer than {name}'s last release {released} (tag {tag})");
    }
    Ok(version)
}

/// The tag of a release.
fn tag_name(name: &str, version: &Version) -> String {
    format!("{name}-v{version}")
}

/// The change from `baseline` to `new` as cargo-semver-checks' `--release-type`, which it takes
/// literally: `minor` forbids breaking changes even under 0.x. Cargo's rules say which is meant
/// (<https://doc.rust-lang.org/cargo/reference/semver.html>): the left-most non-zero component is
/// the one that may break, so 0.1 -> 0.2 is major, 0.1.0 -> 0.1.1 is minor, and 0.0.z always
/// major. These are also the rules cargo-semver-checks infers from two versions.
fn semver_release_type(baseline: &Version, new: &Version) -> &'static str {
    if !baseline.pre.is_empty() || baseline.major != new.major {
        // A pre-release promises nothing to the release after it.
        "major"
    } else if baseline.major == 0 {
        if baseline.minor != new.minor || new.minor == 0 {
            "major"
        } else {
            "minor"
        }
    } else if baseline.minor != new.minor {
        "minor"
    } else {
        "patch"
    }
}

/// Compares the crate's public API with its previous release, with cargo-semver-checks
/// (installed when missing); passes with a line saying so when there is no previous release.
fn check_public_api(
    root: &Path,
    name: &str,
    previous: Option<&(Version, String)>,
    version: &Version,
    options: &Options,
) -> Result<()> {
    let Some((released, tag)) = previous else {
        eprintln!(
            "\n==> release: public API: {name} has no earlier release (no tag {name}-v*), so \
             there is nothing to compare it with: passed"
        );
        return Ok(());
    };
    if !has_program("cargo-semver-checks", &["semver-checks", "--version"]) {
        let mut install = Command::new(cargo_program());
        install.args(["install", "--locked", "cargo-semver-checks"]);
        run_step("install cargo-semver-checks", install)?;
    }
    let release_type = semver_release_type(released, version);
    eprintln!(
        "\n==> release: public API of {name} {version} against {tag}: {released} -> {version} \
         is a {release_type} change for Cargo"
    );
    let mut check = cargo_at(
        root,
        options,
        &[
            "semver-checks",
            "check-release",
            "--package",
            name,
            "--baseline-rev",
            tag,
            "--release-type",
            release_type,
        ],
    );
    let (success, report) = run_bounded_showing(&mut check, SEMVER_CHECKS_LIMIT)
        .with_context(|| format!("could not run cargo semver-checks on {name}"))?;
    if !success {
        let failures: Vec<&str> = report
            .lines()
            .filter(|line| line.starts_with("--- failure") || line.contains("Summary"))
            .collect();
        bail!(
            "cargo-semver-checks: {name} {version} breaks the API of {tag}, which {released} -> \
             {version} (a {release_type} change for Cargo) may not do (its report above); release \
             a bigger change, or undo the break:\n{}",
            failures.join("\n")
        );
    }
    eprintln!("==> release: public API: ok");
    Ok(())
}

/// A member of the workspace, as `cargo metadata` describes it.
#[derive(Debug)]
struct Member {
    name: String,
    version: Version,
    manifest: PathBuf,
    publishable: bool,
    repository: Option<String>,
    /// The members it depends on (normal and build dependencies, optional ones too).
    dependencies: BTreeSet<String>,
}

impl Member {
    fn directory(&self) -> &Path {
        self.manifest.parent().unwrap_or(Path::new("."))
    }
}

/// The members of the workspace, in the order of `cargo metadata`.
#[derive(Debug)]
struct Workspace {
    members: Vec<Member>,
    /// Where cargo builds, and so where `cargo package` leaves the `.crate` files.
    target_directory: PathBuf,
}

impl Workspace {
    fn read(root: &Path, options: &Options) -> Result<Self> {
        let mut metadata = cargo_at(root, options, &["metadata", "--format-version", "1"]);
        metadata
            .arg("--no-deps")
            .arg("--manifest-path")
            .arg(root.join("Cargo.toml"));
        let output = metadata
            .stderr(Stdio::inherit())
            .output()
            .context("could not run cargo metadata")?;
        if !output.status.success() {
            bail!(
                "cargo metadata failed in {} ({})",
                root.display(),
                output.status
            );
        }
        let json: serde_json::Value =
            serde_json::from_slice(&output.stdout).context("cargo metadata printed no JSON")?;
        Self::from_metadata(&json)
    }

    fn from_metadata(json: &serde_json::Value) -> Result<Self> {
        let packages = json
            .get("packages")
            .and_then(serde_json::Value::as_array)
            .context("cargo metadata: no packages")?;
        let names: BTreeSet<&str> = packages
            .iter()
            .filter_map(|package| package.get("name").and_then(serde_json::Value::as_str))
            .collect();
        let mut members = Vec::new();
        for package in packages {
            let text = |key: &str| package.get(key).and_then(serde_json::Value::as_str);
            let name = text("name").context("cargo metadata: a package without a name")?;
            let version = text("version")
                .and_then(|version| Version::parse(version).ok())
                .with_context(|| format!("cargo metadata: {name} has no version"))?;
            let manifest = text("manifest_path")
                .with_context(|| format!("cargo metadata: {name} has no manifest_path"))?;
            // `publish` is null when the crate may go to any registry and a list of registries
            // otherwise; an empty list is `publish = false`.
            let publishable = match package.get("publish") {
                Some(serde_json::Value::Array(registries)) => !registries.is_empty(),
                _ => true,
            };
            let dependencies = package
                .get("dependencies")
                .and_then(serde_json::Value::as_array)
                .map(|dependencies| {
                    dependencies
                        .iter()
                        .filter(|dependency| {
                            let kind = dependency.get("kind").and_then(serde_json::Value::as_str);
                            kind != Some("dev") && dependency.get("path").is_some()
                        })
                        .filter_map(|dependency| {
                            dependency.get("name").and_then(serde_json::Value::as_str)
                        })
                        .filter(|dependency| names.contains(dependency) && *dependency != name)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default();
            members.push(Member {
                name: name.to_owned(),
                version,
                manifest: PathBuf::from(manifest),
                publishable,
                repository: text("repository").map(|url| url.trim_end_matches('/').to_owned()),
                dependencies,
            });
        }
        let target_directory = json
            .get("target_directory")
            .and_then(serde_json::Value::as_str)
            .map(PathBuf::from)
            .context("cargo metadata: no target_directory")?;
        Ok(Workspace {
            members,
            target_directory,
        })
    }

    fn member(&self, name: &str) -> Option<&Member> {
        self.members.iter().find(|member| member.name == name)
    }

    /// The publishable member named `name`; an error listing the publishable ones otherwise.
    fn publishable(&self, name: &str) -> Result<&Member> {
        match self.member(name) {
            Some(member) if member.publishable => Ok(member),
            found => {
                let mut publishable: Vec<&str> = self
                    .members
                    .iter()
                    .filter(|member| member.publishable)
                    .map(|member| member.name.as_str())
                    .collect();
                publishable.sort_unstable();
                let what = if found.is_some() {
                    "is not published (publish = false)"
                } else {
                    "is not a crate of this workspace"
                };
                bail!(
                    "{name} {what}; the crates that can be released: {}",
                    publishable.join(", ")
                );
            }
        }
    }

    /// The publishable members that depend on `name`, directly or not.
    fn dependents_closure(&self, name: &str) -> BTreeSet<String> {
        let mut found = BTreeSet::new();
        let mut pending = vec![name.to_owned()];
        while let Some(next) = pending.pop() {
            for member in &self.members {
                if member.dependencies.contains(&next) && found.insert(member.name.clone()) {
                    pending.push(member.name.clone());
                }
            }
        }
        found.retain(|member| self.member(member).is_some_and(|member| member.publishable));
        found
    }

    /// The members that `name` depends on, directly or not.
    fn dependencies_closure(&self, name: &str) -> BTreeSet<String> {
        let mut found = BTreeSet::new();
        let mut pending = vec![name.to_owned()];
        while let Some(next) = pending.pop() {
            if let Some(member) = self.member(&next) {
                for dependency in &member.dependencies {
                    if found.insert(dependency.clone()) {
                        pending.push(dependency.clone());
                    }
                }
            }
        }
        found
    }

    /// The crates to package with their reason, dependencies first: `name`, the publishable
    /// crates that depend on it, and every member those depend on. Cargo resolves an unpublished
    /// workspace crate only from the packages of the same `cargo package` command (through a
    /// temporary local registry), so a crate's workspace dependencies are packaged with it.
    fn package_order(&self, name: &str) -> Result<Vec<(String, String)>> {
        let dependents = self.dependents_closure(name);
        let mut wanted: BTreeMap<String, String> = BTreeMap::new();
        wanted.insert(name.to_owned(), "the release".to_owned());
        for dependent in &dependents {
            wanted.insert(dependent.clone(), format!("depends on {name}"));
        }
        let roots: Vec<String> = wanted.keys().cloned().collect();
        for package in roots {
            for dependency in self.dependencies_closure(&package) {
                wanted.entry(dependency).or_insert_with(|| {
                    "a workspace dependency of these packages, packaged with them".to_owned()
                });
            }
        }
        for package in wanted.keys() {
            if !self
                .member(package)
                .is_some_and(|member| member.publishable)
            {
                bail!("{package} is needed by the packages of the release but is not publishable");
            }
        }
        // Kahn's order, by name among the crates that are ready at once.
        let mut order = Vec::new();
        let mut done: BTreeSet<String> = BTreeSet::new();
        while done.len() < wanted.len() {
            let ready: Vec<String> = wanted
                .keys()
                .filter(|package| !done.contains(*package))
                .filter(|package| {
                    self.member(package).is_some_and(|member| {
                        member.dependencies.iter().all(|dependency| {
                            done.contains(dependency) || !wanted.contains_key(dependency)
                        })
                    })
                })
                .cloned()
                .collect();
            if ready.is_empty() {
                bail!("the workspace's dependencies form a cycle among {wanted:?}");
            }
            for package in ready {
                let why = wanted.get(&package).cloned().unwrap_or_default();
                done.insert(package.clone());
                order.push((package, why));
            }
        }
        Ok(order)
    }
}

/// The files a release may change, as they were before it, to put back.
struct Snapshot {
    files: Vec<(PathBuf, Vec<u8>)>,
}

impl Snapshot {
    fn take(root: &Path, changelog: &Path) -> Result<Self> {
        let mut paths = tracked_files(root, "Cargo.toml")?;
        paths.extend(tracked_files(root, "Cargo.lock")?);
        paths.push(changelog.to_path_buf());
        let mut files = Vec::new();
        for path in paths {
            let bytes =
                std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
            files.push((path, bytes));
        }
        Ok(Snapshot { files })
    }

    /// Writes back every file that changed, then checks with git that the tree is clean again.
    fn restore(&self, root: &Path) -> Result<()> {
        let mut problems = Vec::new();
        for (path, bytes) in &self.files {
            if std::fs::read(path).ok().as_ref() != Some(bytes)
                && let Err(error) = std::fs::write(path, bytes)
            {
                problems.push(format!("{}: {error}", path.display()));
            }
        }
        let status = git(root, &["status", "--porcelain", "--untracked-files=all"])?;
        if !problems.is_empty() || !status.trim().is_empty() {
            bail!(
                "still changed: {}{}; `git checkout -- .` in {} puts the tracked files back",
                problems.join(", "),
                status.trim_end(),
                root.display()
            );
        }
        Ok(())
    }
}

/// The tracked files of the repository named `file_name` (in any directory).
fn tracked_files(root: &Path, file_name: &str) -> Result<Vec<PathBuf>> {
    let listed = git(root, &["ls-files", "-z"])?;
    Ok(listed
        .split('\0')
        .filter(|path| {
            Path::new(path)
                .file_name()
                .is_some_and(|name| name == file_name)
        })
        .map(|path| root.join(path))
        .collect())
}

/// Sets `[package] version` in the manifest at `path`.
fn set_package_version(path: &Path, version: &Version) -> Result<()> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut document: DocumentMut = text
        .parse()
        .with_context(|| format!("{} is not valid TOML", path.display()))?;
    let item = document
        .get_mut("package")
        .and_then(|package| package.get_mut("version"))
        .with_context(|| format!("{}: no [package] version", path.display()))?;
    if !item.is_str() {
        bail!(
            "{}: the version is not a string of its own (inherited from the workspace?); give \
             the crate its own `version = \"X.Y.Z\"`",
            path.display()
        );
    }
    set_string(item, &version.to_string());
    std::fs::write(path, document.to_string())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Bumps the requirements on `name` in the manifest at `path`; what it changed, for the log.
fn bump_requirements_in_file(path: &Path, name: &str, version: &Version) -> Result<Vec<String>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let (edited, changes) =
        bump_requirements(&text, name, version).with_context(|| format!("{}", path.display()))?;
    if !changes.is_empty() {
        std::fs::write(path, edited).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(changes)
}

/// The dependency tables of a manifest, outside `[target]`.
const DEPENDENCY_TABLES: [&str; 3] = ["dependencies", "dev-dependencies", "build-dependencies"];

/// The manifest `text` with every in-workspace requirement on `name` (an entry for the package
/// `name` with a `path` and a `version`) set to `version`, its comments and layout kept; and what
/// changed. Entries without a `path` name a registry's crate and are left alone.
fn bump_requirements(text: &str, name: &str, version: &Version) -> Result<(String, Vec<String>)> {
    let mut document: DocumentMut = text.parse().context("not valid TOML")?;
    let mut changes = Vec::new();
    if let Some(table) = document
        .get_mut("workspace")
        .and_then(|workspace| workspace.get_mut("dependencies"))
    {
        bump_in_table(table, "workspace.dependencies", name, version, &mut changes)?;
    }
    for kind in DEPENDENCY_TABLES {
        if let Some(table) = document.get_mut(kind) {
            bump_in_table(table, kind, name, version, &mut changes)?;
        }
    }
    if let Some(targets) = document.get_mut("target").and_then(Item::as_table_like_mut) {
        for (platform, target) in targets.iter_mut() {
            for kind in DEPENDENCY_TABLES {
                if let Some(table) = target.get_mut(kind) {
                    let place = format!("target.{}.{kind}", platform.get());
                    bump_in_table(table, &place, name, version, &mut changes)?;
                }
            }
        }
    }
    Ok((document.to_string(), changes))
}

fn bump_in_table(
    table: &mut Item,
    place: &str,
    name: &str,
    version: &Version,
    changes: &mut Vec<String>,
) -> Result<()> {
    let Some(table) = table.as_table_like_mut() else {
        return Ok(());
    };
    for (key, entry) in table.iter_mut() {
        let Some(entry) = entry.as_table_like_mut() else {
            continue;
        };
        let package = entry
            .get("package")
            .and_then(Item::as_str)
            .unwrap_or(key.get());
        if package != name || !entry.contains_key("path") {
            continue;
        }
        let Some(requirement) = entry.get_mut("version") else {
            continue;
        };
        let old = requirement
            .as_str()
            .with_context(|| format!("{place}.{}: version is not a string", key.get()))?
            .to_owned();
        let new = bumped_requirement(&old, version)
            .with_context(|| format!("{place}.{}: version = \"{old}\"", key.get()))?;
        set_string(requirement, &new);
        changes.push(format!(
            "{place}.{} version \"{old}\" -> \"{new}\"",
            key.get()
        ));
    }
    Ok(())
}

/// The requirement `old` moved to `version`, keeping its operator (`0.1.0` -> `0.2.0`, `=0.1.0`
/// -> `=0.2.0`); it must then match `version`.
fn bumped_requirement(old: &str, version: &Version) -> Result<String> {
    let trimmed = old.trim();
    if trimmed.contains(',') {
        bail!("a requirement of several parts cannot be bumped: write a single one");
    }
    let operator_length = trimmed
        .find(|character: char| character.is_ascii_digit())
        .context("no version in the requirement")?;
    let operator = trimmed.get(..operator_length).unwrap_or_default().trim();
    let new = format!("{operator}{version}");
    let requirement =
        VersionReq::parse(&new).with_context(|| format!("`{new}` is not a requirement"))?;
    if !requirement.matches(version) {
        bail!("`{new}` would not match {version}");
    }
    Ok(new)
}

/// Sets a string value, keeping the spaces and comments around it.
fn set_string(item: &mut Item, text: &str) {
    if let Some(value) = item.as_value_mut() {
        let decor = value.decor().clone();
        *value = Value::from(text);
        *value.decor_mut() = decor;
    }
}

/// What dating a changelog's Unreleased section needs.
#[derive(Debug)]
struct ChangelogRelease<'a> {
    version: &'a Version,
    date: &'a str,
    tag: &'a str,
    previous_tag: Option<&'a str>,
    /// The repository's URL, for the link references at the bottom.
    repository: Option<&'a str>,
    allow_empty: bool,
}

/// The changelog `text` with its `## [Unreleased]` section moved under
/// `## [VERSION] - DATE` and an empty `## [Unreleased]` above it. The link references at the
/// bottom, when there are any, get the new version's (a comparison with the previous tag, or the
/// tag itself for a first release) and `[Unreleased]` compares from the new tag. An empty
/// Unreleased section is refused unless `allow_empty`: a release with nothing in its changelog is
/// usually a mistake.
fn date_unreleased(text: &str, release: &ChangelogRelease<'_>) -> Result<String> {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let heading = lines
        .iter()
        .position(|line| is_unreleased_heading(line))
        .context("no `## [Unreleased]` heading")?;
    let end = lines
        .iter()
        .enumerate()
        .skip(heading + 1)
        .find(|(_, line)| line.starts_with("## ") || is_link_definition(line))
        .map_or(lines.len(), |(index, _)| index);
    let entries = lines.get(heading + 1..end).unwrap_or_default().concat();
    let entries = entries.trim();
    if entries.is_empty() && !release.allow_empty {
        bail!(
            "the `## [Unreleased]` section has no entry: write what changed first (or pass \
             --allow-empty-changelog)"
        );
    }
    let ChangelogRelease {
        version, date, tag, ..
    } = release;
    let mut dated = lines.get(..heading).unwrap_or_default().concat();
    dated.push_str(&format!("## [Unreleased]\n\n## [{version}] - {date}\n"));
    if !entries.is_empty() {
        dated.push('\n');
        dated.push_str(entries);
        dated.push('\n');
    }
    let rest = lines.get(end..).unwrap_or_default();
    if !rest.is_empty() {
        dated.push('\n');
    }
    for line in rest {
        if !is_unreleased_link(line) {
            dated.push_str(line);
            continue;
        }
        let repository = release
            .repository
            .context("the changelog has link references but the crate names no repository")?;
        let this = match release.previous_tag {
            Some(previous) => format!("{repository}/compare/{previous}...{tag}"),
            None => format!("{repository}/releases/tag/{tag}"),
        };
        dated.push_str(&format!(
            "[Unreleased]: {repository}/compare/{tag}...HEAD\n[{version}]: {this}\n"
        ));
    }
    Ok(dated)
}

fn is_unreleased_heading(line: &str) -> bool {
    let line = line.trim_end().to_ascii_lowercase();
    line.starts_with("## [unreleased]") || line == "## unreleased"
}

fn is_link_definition(line: &str) -> bool {
    line.starts_with('[') && line.contains("]: ")
}

fn is_unreleased_link(line: &str) -> bool {
    line.to_ascii_lowercase().starts_with("[unreleased]: ")
}

/// Today's date in UTC, `YYYY-MM-DD`.
pub(crate) fn today_utc() -> String {
    civil_date(time::OffsetDateTime::now_utc().date())
}

/// A date as `YYYY-MM-DD`.
fn civil_date(date: time::Date) -> String {
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

/// The cargo that runs this xtask.
fn cargo_program() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned())
}

/// A cargo command run in `root`, with the options' target directory.
fn cargo_at(root: &Path, options: &Options, args: &[&str]) -> Command {
    let mut command = Command::new(cargo_program());
    command.args(args).current_dir(root);
    if let Some(target) = &options.target_dir {
        command.env("CARGO_TARGET_DIR", target);
    }
    command
}

/// Runs git in `root`; its standard output, or an error with its standard error.
fn git(root: &Path, args: &[&str]) -> Result<String> {
    let output = Command::new("git")
        .args(args)
        .current_dir(root)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("could not run git {}", args.join(" ")))?;
    if !output.status.success() {
        bail!(
            "git {} failed in {} ({}): {}",
            args.join(" "),
            root.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    String::from_utf8(output.stdout)
        .with_context(|| format!("git {} printed something that is not UTF-8", args.join(" ")))
}

fn git_succeeds(root: &Path, args: &[&str]) -> bool {
    git(root, args).is_ok()
}

fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

#[cfg(test)]
mod tests;
