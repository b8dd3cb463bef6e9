//! The release's rules one by one, and whole releases on temporary copies of the repository.

use super::*;

fn version(text: &str) -> Version {
    Version::parse(text).unwrap()
}

#[test]
fn bumps_follow_cargo_order() {
    let current = version("0.1.0");
    assert_eq!(Bump::Patch.apply(&current), version("0.1.1"));
    assert_eq!(Bump::Minor.apply(&current), version("0.2.0"));
    assert_eq!(Bump::Major.apply(&current), version("1.0.0"));
    assert_eq!(Bump::Minor.apply(&version("1.4.7")), version("1.5.0"));
    assert_eq!(Bump::Patch.apply(&version("1.2.0-rc.1")), version("1.2.0"));
    assert_eq!(
        Bump::Exact(version("0.3.0")).apply(&current),
        version("0.3.0")
    );
}

#[test]
fn the_version_argument_is_a_part_or_a_version() {
    assert_eq!("patch".parse::<Bump>(), Ok(Bump::Patch));
    assert_eq!("major".parse::<Bump>(), Ok(Bump::Major));
    assert_eq!("0.3.0".parse::<Bump>(), Ok(Bump::Exact(version("0.3.0"))));
    let error = "v0.3".parse::<Bump>().unwrap_err();
    assert!(error.contains("`v0.3` is neither"), "{error}");
}

#[test]
fn the_release_type_follows_cargo_semver_rules() {
    let cases = [
        ("0.1.0", "0.1.1", "minor"),
        ("0.1.0", "0.2.0", "major"),
        ("0.0.3", "0.0.4", "major"),
        ("0.9.2", "1.0.0", "major"),
        ("1.2.3", "1.2.4", "patch"),
        ("1.2.3", "1.3.0", "minor"),
        ("1.2.3", "2.0.0", "major"),
        ("1.0.0-rc.1", "1.0.0", "major"),
    ];
    for (baseline, new, expected) in cases {
        assert_eq!(
            semver_release_type(&version(baseline), &version(new)),
            expected,
            "{baseline} -> {new}"
        );
    }
}

#[test]
fn requirements_on_the_crate_are_bumped_and_the_rest_kept() {
    let manifest = r#"[workspace.dependencies]
# The workspace's own crates.
callhook-http = { path = "crates/callhook-http", version = "0.1.0" } # kept comment
callhook-model = { path = "crates/callhook-model", version = "0.1.0" }

[dependencies]
callhook-http = { workspace = true }

[dev-dependencies]
renamed = { package = "callhook-http", path = "../callhook-http", version = "=0.1.0" }
# A registry's crate of the same name is not an in-workspace requirement.
published = { package = "callhook-http", version = "0.1.0" }

[target.'cfg(unix)'.build-dependencies]
callhook-http = { path = "../callhook-http", version = "~0.1.0" }

[dependencies.callhook-http-table]
package = "callhook-http"
path = "../callhook-http"
version = "0.1.0"   # table form
"#;
    let (edited, changes) =
        bump_requirements(manifest, "callhook-http", &version("0.2.0")).unwrap();
    let expected = manifest
        .replace(
            "crates/callhook-http\", version = \"0.1.0\"",
            "crates/callhook-http\", version = \"0.2.0\"",
        )
        .replace("\"=0.1.0\"", "\"=0.2.0\"")
        .replace("\"~0.1.0\"", "\"~0.2.0\"")
        .replace(
            "version = \"0.1.0\"   # table",
            "version = \"0.2.0\"   # table",
        );
    assert_eq!(edited, expected);
    assert_eq!(
        changes,
        [
            "workspace.dependencies.callhook-http version \"0.1.0\" -> \"0.2.0\"",
            "dependencies.callhook-http-table version \"0.1.0\" -> \"0.2.0\"",
            "dev-dependencies.renamed version \"=0.1.0\" -> \"=0.2.0\"",
            "target.cfg(unix).build-dependencies.callhook-http version \"~0.1.0\" -> \"~0.2.0\"",
        ]
    );
}

#[test]
fn a_requirement_that_cannot_follow_is_refused() {
    assert!(
        bumped_requirement(">=0.1, <0.2", &version("0.2.0"))
            .unwrap_err()
            .to_string()
            .contains("several parts")
    );
    assert!(
        bumped_requirement("<0.2.0", &version("0.2.0"))
            .unwrap_err()
            .to_string()
            .contains("would not match")
    );
    assert_eq!(
        bumped_requirement("^0.1", &version("0.2.0")).unwrap(),
        "^0.2.0"
    );
}

const CHANGELOG: &str = "# Changelog

Intro.

## [Unreleased]

### Added

- A thing.

## [0.1.0] - 2026-01-02

### Added

- The crate.
";

fn dating<'a>(version: &'a Version, previous_tag: Option<&'a str>) -> ChangelogRelease<'a> {
    ChangelogRelease {
        version,
        date: "2026-12-02",
        tag: "callhook-auth-v0.2.0",
        previous_tag,
        repository: Some("https://github.com/callhook/callhook"),
        allow_empty: false,
    }
}

#[test]
fn the_unreleased_section_moves_under_the_version() {
    let new = version("0.2.0");
    let dated = date_unreleased(CHANGELOG, &dating(&new, None)).unwrap();
    assert_eq!(
        dated,
        "# Changelog

Intro.

## [Unreleased]

## [0.2.0] - 2026-12-02

### Added

- A thing.

## [0.1.0] - 2026-01-02

### Added

- The crate.
"
    );
}

#[test]
fn the_link_references_get_the_new_version() {
    let new = version("0.2.0");
    let first = "# Changelog\n\n## [Unreleased]\n\n- A thing.\n\n\
                 [Unreleased]: https://github.com/callhook/callhook/commits/HEAD/crates/callhook-auth\n";
    assert_eq!(
        date_unreleased(first, &dating(&new, None)).unwrap(),
        "# Changelog\n\n## [Unreleased]\n\n## [0.2.0] - 2026-12-02\n\n- A thing.\n\n\
         [Unreleased]: https://github.com/callhook/callhook/compare/callhook-auth-v0.2.0...HEAD\n\
         [0.2.0]: https://github.com/callhook/callhook/releases/tag/callhook-auth-v0.2.0\n"
    );
    let later = "## [Unreleased]\n\n- B.\n\n## [0.1.0] - 2026-01-02\n\n- A.\n\n\
                 [Unreleased]: https://github.com/callhook/callhook/compare/callhook-auth-v0.1.0...HEAD\n\
                 [0.1.0]: https://github.com/callhook/callhook/releases/tag/callhook-auth-v0.1.0\n";
    assert_eq!(
        date_unreleased(later, &dating(&new, Some("callhook-auth-v0.1.0"))).unwrap(),
        "## [Unreleased]\n\n## [0.2.0] - 2026-12-02\n\n- B.\n\n## [0.1.0] - 2026-01-02\n\n- A.\n\n\
         [Unreleased]: https://github.com/callhook/callhook/compare/callhook-auth-v0.2.0...HEAD\n\
         [0.2.0]: https://github.com/callhook/callhook/compare/callhook-auth-v0.1.0...callhook-auth-v0.2.0\n\
         [0.1.0]: https://github.com/callhook/callhook/releases/tag/callhook-auth-v0.1.0\n"
    );
}

#[test]
fn an_empty_unreleased_section_is_refused_unless_allowed() {
    let new = version("0.2.0");
    let empty = "# Changelog\n\n## [Unreleased]\n\n## [0.1.0] - 2026-01-02\n\n- A.\n";
    let error = date_unreleased(empty, &dating(&new, None)).unwrap_err();
    assert!(error.to_string().contains("has no entry"), "{error}");
    let allowed = ChangelogRelease {
        allow_empty: true,
        ..dating(&new, None)
    };
    assert_eq!(
        date_unreleased(empty, &allowed).unwrap(),
        "# Changelog\n\n## [Unreleased]\n\n## [0.2.0] - 2026-12-02\n\n## [0.1.0] - 2026-01-02\n\n- A.\n"
    );
    let error = date_unreleased("# Changelog\n", &dating(&new, None)).unwrap_err();
    assert!(
        error.to_string().contains("no `## [Unreleased]`"),
        "{error}"
    );
}

#[test]
fn dates_are_civil_dates_in_utc() {
    let day = |days: i64| {
        time::OffsetDateTime::from_unix_timestamp(days * 86_400)
            .unwrap()
            .date()
    };
    assert_eq!(civil_date(day(0)), "1970-01-01");
    assert_eq!(civil_date(day(11_016)), "2000-02-29");
    assert_eq!(civil_date(day(11_017)), "2000-03-01");
    assert_eq!(civil_date(day(19_782)), "2024-02-29");
    assert_eq!(civil_date(day(20_789)), "2026-12-02");
    assert_eq!(civil_date(day(47_541)), "2100-03-01");
}

#[test]
fn the_packages_of_a_release_come_in_dependency_order() {
    let root = workspace_root();
    let options = Options::new("callhook-auth".to_owned(), Bump::Minor);
    let workspace = Workspace::read(&root, &options).unwrap();
    let order = workspace.package_order("callhook-auth").unwrap();
    let names: Vec<&str> = order.iter().map(|(name, _)| name.as_str()).collect();
    // The server depends on the auth crate; it depends on every library, which are packaged with
    // it. The examples and the bench's baselines are not published.
    for name in [
        "callhook-model",
        "callhook-protocol",
        "callhook-auth",
        "callhook-routing",
        "callhook-http",
        "callhook-graph",
        "callhook-server",
    ] {
        assert!(names.contains(&name), "{name} not in {names:?}");
    }
    assert_eq!(names.len(), 7, "{names:?}");
    for (index, name) in names.iter().enumerate() {
        let member = workspace.member(name).unwrap();
        for dependency in &member.dependencies {
            let at = names.iter().position(|other| other == dependency).unwrap();
            assert!(at < index, "{dependency} after {name} in {names:?}");
        }
    }
    let why: BTreeMap<&str, &str> = order
        .iter()
        .map(|(name, why)| (name.as_str(), why.as_str()))
        .collect();
    assert_eq!(why["callhook-auth"], "the release");
    assert_eq!(why["callhook-server"], "depends on callhook-auth");
    let publish = publish_instructions(
        &workspace,
        "callhook-auth",
        &version("0.2.0"),
        "callhook-auth-v0.2.0",
        &order,
    );
    assert!(
        publish.contains(
            "  cargo publish -p callhook-http\n  git push origin HEAD callhook-auth-v0.2.0\n  \
             cargo publish -p callhook-auth\n"
        ),
        "{publish}"
    );
    assert!(
        publish.contains("Its dependents in the workspace (callhook-server) now require"),
        "{publish}"
    );
    let error = workspace.publishable("callhook-examples").unwrap_err();
    assert!(
        error
            .to_string()
            .contains("callhook-examples is not published"),
        "{error}"
    );
    let error = workspace.publishable("callhook-nope").unwrap_err();
    assert!(
        error
            .to_string()
            .contains("the crates that can be released: callhook-auth, callhook-graph"),
        "{error}"
    );
}

/// A git repository holding a copy of this repository's tracked files (as they are in the
/// working tree), committed once.
struct Copy {
    directory: tempfile::TempDir,
}

impl Copy {
    fn new() -> Self {
        let source = workspace_root();
        let directory = tempfile::tempdir().unwrap();
        let listed = git(&source, &["ls-files", "-z"]).unwrap();
        for path in listed.split('\0').filter(|path| !path.is_empty()) {
            let from = source.join(path);
            // A file deleted in the working tree but not yet in the index.
            if !from.exists() {
                continue;
            }
            let to = directory.path().join(path);
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::copy(&from, &to).unwrap();
        }
        let copy = Copy { directory };
        copy.git(&["init", "--quiet", "--initial-branch=main"]);
        for (key, value) in [
            ("user.name", "release test"),
            ("user.email", "release-test@example.invalid"),
            ("commit.gpgsign", "false"),
            ("tag.gpgsign", "false"),
        ] {
            copy.git(&["config", key, value]);
        }
        copy.git(&["add", "--all"]);
        copy.git(&["commit", "--quiet", "--message", "the repository"]);
        copy
    }

    fn root(&self) -> &Path {
        self.directory.path()
    }

    fn git(&self, args: &[&str]) -> String {
        git(self.root(), args).unwrap()
    }

    fn read(&self, path: &str) -> String {
        std::fs::read_to_string(self.root().join(path)).unwrap()
    }

    fn write(&self, path: &str, text: &str) {
        std::fs::write(self.root().join(path), text).unwrap();
    }

    /// The options of a test: no CI, packages not verified (that would compile the workspace from
    /// its packages), the target directory of the tests' own build, so that what cargo builds is
    /// built once for all the copies.
    fn options(&self, crate_name: &str, bump: Bump) -> Options {
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map_or_else(|| workspace_root().join("target"), PathBuf::from);
        Options {
            skip_ci: true,
            verify_packages: false,
            target_dir: Some(target),
            ..Options::new(crate_name.to_owned(), bump)
        }
    }

    /// The contents of every tracked file and the tags, to compare before and after.
    fn state(&self) -> (String, String, String) {
        let listed = self.git(&["ls-files", "-z"]);
        let mut contents = String::new();
        for path in listed.split('\0').filter(|path| !path.is_empty()) {
            contents.push_str(path);
            contents.push('\n');
            contents.push_str(&String::from_utf8_lossy(
                &std::fs::read(self.root().join(path)).unwrap(),
            ));
        }
        (
            contents,
            self.git(&["tag", "--list"]),
            self.git(&["rev-parse", "HEAD"]),
        )
    }

    fn assert_clean(&self) {
        assert_eq!(
            self.git(&["status", "--porcelain", "--untracked-files=all"]),
            ""
        );
    }
}

fn manifest_version(text: &str) -> String {
    let document: DocumentMut = text.parse().unwrap();
    document["package"]["version"].as_str().unwrap().to_owned()
}

fn workspace_requirement(text: &str, name: &str) -> String {
    let document: DocumentMut = text.parse().unwrap();
    document["workspace"]["dependencies"][name]["version"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn a_release_bumps_dates_packages_commits_and_tags() {
    let copy = Copy::new();
    let auth_manifest = copy.read("crates/callhook-auth/Cargo.toml");
    let server_manifest = copy.read("crates/callhook-server/Cargo.toml");
    let options = copy.options("callhook-http", Bump::Patch);
    let released = release(copy.root(), &options).unwrap();

    assert_eq!(released.version, version("0.1.1"));
    assert_eq!(released.tag, "callhook-http-v0.1.1");
    assert_eq!(released.packaged.len(), 7, "{:?}", released.packaged);
    assert_eq!(
        manifest_version(&copy.read("crates/callhook-http/Cargo.toml")),
        "0.1.1"
    );
    let root_manifest = copy.read("Cargo.toml");
    assert_eq!(
        workspace_requirement(&root_manifest, "callhook-http"),
        "0.1.1"
    );
    assert_eq!(
        workspace_requirement(&root_manifest, "callhook-auth"),
        "0.1.0"
    );
    // The dependents take their requirement from the workspace: their manifests stay as they were,
    // their versions too.
    assert_eq!(copy.read("crates/callhook-auth/Cargo.toml"), auth_manifest);
    assert_eq!(
        copy.read("crates/callhook-server/Cargo.toml"),
        server_manifest
    );
    assert!(
        copy.read("Cargo.lock")
            .contains("name = \"callhook-http\"\nversion = \"0.1.1\"")
    );
    let changelog = copy.read("crates/callhook-http/CHANGELOG.md");
    let dated = format!(
        "## [Unreleased]\n\n## [0.1.1] - {}\n\n### Added\n",
        options.date
    );
    assert!(changelog.contains(&dated), "{changelog}");
    assert!(changelog.contains(
        "[Unreleased]: https://github.com/callhook/callhook/compare/callhook-http-v0.1.1...HEAD\n\
         [0.1.1]: https://github.com/callhook/callhook/releases/tag/callhook-http-v0.1.1\n"
    ));

    copy.assert_clean();
    assert_eq!(
        copy.git(&["log", "-1", "--format=%s"]).trim(),
        "callhook-http: release 0.1.1"
    );
    assert_eq!(copy.git(&["tag", "--list"]).trim(), "callhook-http-v0.1.1");
    assert_eq!(
        copy.git(&["cat-file", "-t", "callhook-http-v0.1.1"]).trim(),
        "tag",
        "an annotated tag"
    );
    assert_eq!(
        copy.git(&["rev-parse", "callhook-http-v0.1.1^{commit}"]),
        copy.git(&["rev-parse", "HEAD"])
    );
    let committed = copy.git(&["show", "--name-only", "--format=", "HEAD"]);
    for path in [
        "Cargo.toml",
        "Cargo.lock",
        "crates/callhook-http/Cargo.toml",
        "crates/callhook-http/CHANGELOG.md",
    ] {
        assert!(committed.lines().any(|line| line == path), "{committed}");
    }

    // The same version again: its tag exists.
    let again = Options {
        bump: Bump::Exact(version("0.1.1")),
        ..options
    };
    let error = release(copy.root(), &again).unwrap_err();
    assert!(error.to_string().contains("not newer"), "{error:#}");
}

#[test]
fn a_dry_run_leaves_the_tree_and_the_tags_as_they_were() {
    let copy = Copy::new();
    let before = copy.state();
    let options = Options {
        dry_run: true,
        ..copy.options("callhook-auth", Bump::Minor)
    };
    let released = release(copy.root(), &options).unwrap();
    assert_eq!(released.version, version("0.2.0"));
    assert_eq!(released.tag, "callhook-auth-v0.2.0");
    assert_eq!(
        released.packaged.last().map(String::as_str),
        Some("callhook-server")
    );
    assert!(copy.state() == before, "the dry run changed the copy");
    copy.assert_clean();
}

#[test]
fn a_dirty_tree_is_refused_naming_what_is_dirty() {
    let copy = Copy::new();
    copy.write("untracked.txt", "left over\n");
    let manifest = copy.read("crates/callhook-routing/Cargo.toml");
    copy.write(
        "crates/callhook-routing/Cargo.toml",
        &format!("{manifest}\n# an edit\n"),
    );
    let before = copy.state();
    let status_before = copy.git(&["status", "--porcelain"]);
    let error = release(copy.root(), &copy.options("callhook-routing", Bump::Patch)).unwrap_err();
    let message = format!("{error:#}");
    assert!(message.contains("is not clean"), "{message}");
    assert!(message.contains("?? untracked.txt"), "{message}");
    assert!(
        message.contains(" M crates/callhook-routing/Cargo.toml"),
        "{message}"
    );
    assert!(copy.state() == before, "the refusal changed the copy");
    assert_eq!(copy.git(&["status", "--porcelain"]), status_before);
}

#[test]
fn refusals_come_before_any_change() {
    let copy = Copy::new();
    let before = copy.state();
    let refused = |crate_name: &str, bump: Bump| {
        format!(
            "{:#}",
            release(copy.root(), &copy.options(crate_name, bump)).unwrap_err()
        )
    };

    let message = refused("callhook-model", Bump::Exact(version("0.1.0")));
    assert!(
        message.contains("0.1.0 is not newer than callhook-model's current version 0.1.0"),
        "{message}"
    );
    let message = refused("callhook-model", Bump::Exact(version("0.0.9")));
    assert!(message.contains("is not newer"), "{message}");
    let message = refused("callhook-nope", Bump::Patch);
    assert!(
        message.contains("not a crate of this workspace"),
        "{message}"
    );
    let message = refused("xtask", Bump::Patch);
    assert!(message.contains("xtask is not published"), "{message}");

    copy.git(&["tag", "callhook-model-v0.1.1"]);
    let message = refused("callhook-model", Bump::Patch);
    assert!(
        message.contains("not newer than callhook-model's last release 0.1.1"),
        "{message}"
    );
    copy.git(&["tag", "--delete", "callhook-model-v0.1.1"]);

    let empty = "# Changelog\n\n## [Unreleased]\n";
    copy.write("crates/callhook-model/CHANGELOG.md", empty);
    copy.git(&["commit", "--quiet", "--all", "--message", "empty changelog"]);
    let after_commit = copy.state();
    let message = refused("callhook-model", Bump::Patch);
    assert!(message.contains("has no entry"), "{message}");
    assert!(
        message.contains("crates/callhook-model/CHANGELOG.md"),
        "{message}"
    );
    assert!(copy.state() == after_commit, "a refusal changed the copy");
    assert!(before.2 != after_commit.2);
    copy.assert_clean();
}

#[test]
fn a_breaking_change_fails_a_patch_release() {
    if !has_program("cargo-semver-checks", &["semver-checks", "--version"]) {
        eprintln!(
            "skipped: cargo-semver-checks is not installed (`cargo install --locked \
             cargo-semver-checks` takes minutes; the release installs it when it needs it)"
        );
        return;
    }
    let copy = Copy::new();
    let lib = "crates/callhook-model/src/lib.rs";
    let original = copy.read(lib);
    copy.write(
        lib,
        &format!("{original}\n/// A function that the next commit removes.\npub fn removed_by_the_test() {{}}\n"),
    );
    copy.git(&[
        "commit",
        "--quiet",
        "--all",
        "--message",
        "a public function",
    ]);
    copy.git(&[
        "tag",
        "--annotate",
        "callhook-model-v0.1.0",
        "--message",
        "callhook-model 0.1.0",
    ]);
    copy.write(lib, &original);
    copy.git(&[
        "commit",
        "--quiet",
        "--all",
        "--message",
        "the function removed",
    ]);
    let before = copy.state();

    let error = release(copy.root(), &copy.options("callhook-model", Bump::Patch)).unwrap_err();
    let message = format!("{error:#}");
    eprintln!("the release's error: {message}");
    assert!(
        message.contains("breaks the API of callhook-model-v0.1.0"),
        "{message}"
    );
    assert!(message.contains("function_missing"), "{message}");
    assert!(
        copy.state() == before,
        "the failed release changed the copy"
    );
    copy.assert_clean();

    // Under 0.x, a minor bump may break: the same change passes from 0.1.0 to 0.2.0.
    let options = copy.options("callhook-model", Bump::Minor);
    let previous = (version("0.1.0"), "callhook-model-v0.1.0".to_owned());
    check_public_api(
        copy.root(),
        "callhook-model",
        Some(&previous),
        &version("0.2.0"),
        &options,
    )
    .unwrap();
}

#[test]
fn a_failure_after_the_edits_puts_every_file_back() {
    let copy = Copy::new();
    // A readme that the manifest names and the tree lacks: `cargo metadata` reads the workspace,
    // and `cargo package` fails after the versions, the changelog and the lock files changed.
    std::fs::remove_file(copy.root().join("crates/callhook-http/README.md")).unwrap();
    copy.git(&["commit", "--quiet", "--all", "--message", "no readme"]);
    let before = copy.state();
    let error = release(copy.root(), &copy.options("callhook-http", Bump::Minor)).unwrap_err();
    let message = format!("{error:#}");
    assert!(message.contains("cargo package failed"), "{message}");
    assert!(copy.state() == before, "the failed release left changes");
    copy.assert_clean();
}
