//! The Debian package (`scripts/package-deb`, cargo-deb) and its systemd units: the package
//! holds both daemons, every shipped plugin under `/usr/lib/anna-molly/plugins`, the configs
//! as conffiles under `/etc/anna-molly` (the runner's pointing at the packaged plugins) and the
//! units; the units run as a dedicated user, hardened, and pass `systemd-analyze verify`; the
//! packaged runner loads every packaged plugin.
//!
//! It packs the release build `make test` has just made (`--no-build`).

// Helpers of a test crate are test code too (clippy.toml allows these in #[test] functions
// only): a failing unwrap or panic is a failing test with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;

use am_tests::sys::temp_dir;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Runs `cmd`, failing the test with its output unless it succeeds; returns stdout.
fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The shipped plugins' library file names, from `plugins/*/Cargo.toml`.
fn shipped_plugins() -> Vec<String> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(workspace().join("plugins")).unwrap() {
        let toml = entry.unwrap().path().join("Cargo.toml");
        let Ok(text) = std::fs::read_to_string(&toml) else {
            continue;
        };
        let name = text
            .lines()
            .find_map(|l| l.strip_prefix("name = \""))
            .and_then(|l| l.strip_suffix('"'))
            .unwrap();
        names.push(format!("lib{}.so", name.replace('-', "_")));
    }
    names.sort();
    names
}

const UNITS: [&str; 3] = [
    "am-collector.service",
    "am-runner.service",
    "am-runner@.service",
];

#[test]
fn the_debian_package_holds_the_product_and_its_units_verify() {
    let root = workspace();
    let out = run(Command::new(root.join("scripts/package-deb"))
        .arg("--no-build")
        .current_dir(&root));
    // The script prints the path relative to the workspace unless CARGO_TARGET_DIR is absolute.
    let deb = root.join(out.lines().last().unwrap().trim());
    assert!(deb.is_file(), "{deb:?}");

    let listing = run(Command::new("dpkg-deb").arg("-c").arg(&deb));
    let has = |path: &str| listing.lines().any(|l| l.ends_with(path));
    for path in [
        "./usr/bin/am-collector",
        "./usr/bin/am-runner",
        "./etc/anna-molly/collector.json",
        "./etc/anna-molly/analyzer.json",
    ] {
        assert!(has(path), "{path} missing:\n{listing}");
    }
    for unit in UNITS {
        assert!(has(&format!("./lib/systemd/system/{unit}")), "{unit}");
    }
    let plugins = shipped_plugins();
    assert!(plugins.contains(&"libam_plugin_skyline.so".to_string()));
    for p in &plugins {
        assert!(has(&format!("./usr/lib/anna-molly/plugins/{p}")), "{p}");
    }
    assert!(!listing.contains("libam_test_plugin"), "{listing}");
    let fields = run(Command::new("dpkg-deb")
        .arg("-f")
        .arg(&deb)
        .args(["Package", "Depends"]));
    assert!(fields.contains("Package: anna-molly"), "{fields}");
    assert!(fields.contains("adduser"), "{fields}");

    let dir = temp_dir("am-tests-deb-").unwrap();
    let tree = dir.path().join("root");
    run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&tree));
    let control = dir.path().join("control");
    run(Command::new("dpkg-deb").arg("-e").arg(&deb).arg(&control));
    let conffiles = std::fs::read_to_string(control.join("conffiles")).unwrap();
    assert!(conffiles.contains("/etc/anna-molly/collector.json"));
    assert!(conffiles.contains("/etc/anna-molly/analyzer.json"));
    let postinst = std::fs::read_to_string(control.join("postinst")).unwrap();
    assert!(postinst.contains("adduser --system"), "{postinst}");

    // Hardened: a dedicated user, no privileges to gain, a read-only system.
    for unit in UNITS {
        let text = std::fs::read_to_string(tree.join("lib/systemd/system").join(unit)).unwrap();
        for line in [
            "User=anna-molly",
            "NoNewPrivileges=yes",
            "ProtectSystem=strict",
            "ProtectHome=yes",
            "CapabilityBoundingSet=",
        ] {
            assert!(text.lines().any(|l| l == line), "{unit}: no {line}");
        }
    }
    // systemd-analyze verify in the package's tree, beside this system's own units.
    let system = tree.join("lib/systemd/system");
    for entry in std::fs::read_dir("/lib/systemd/system").unwrap() {
        let entry = entry.unwrap();
        let to = system.join(entry.file_name());
        if !to.exists() {
            let from = entry.path();
            if from.is_dir() {
                continue;
            }
            std::fs::copy(&from, &to).ok();
        }
    }
    let verify = Command::new("systemd-analyze")
        .arg("verify")
        .arg(format!("--root={}", tree.display()))
        .args([
            "/lib/systemd/system/am-collector.service",
            "/lib/systemd/system/am-runner.service",
            "/lib/systemd/system/am-runner@worker.service",
            "/lib/systemd/system/am-runner@scheduler.service",
        ])
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&verify.stdout),
        String::from_utf8_lossy(&verify.stderr)
    );
    assert!(verify.status.success(), "{said}");
    // Only what it says of our units (the temp dir's name has "am-" in it, and this system's
    // own units, copied beside ours, may draw warnings of their own).
    let ours: Vec<&str> = said
        .lines()
        .filter(|l| l.contains("am-collector") || l.contains("am-runner"))
        .collect();
    assert!(ours.is_empty(), "systemd-analyze verify: {ours:?}");

    // The packaged config points the runner at the packaged plugins, and it loads them all.
    let analyzer = std::fs::read_to_string(tree.join("etc/anna-molly/analyzer.json")).unwrap();
    assert!(
        analyzer.contains(r#""plugin_dir": "/usr/lib/anna-molly/plugins""#),
        "{analyzer}"
    );
    let listed = run(Command::new(tree.join("usr/bin/am-runner"))
        .arg("plugins")
        .arg("--config")
        .arg(tree.join("etc/anna-molly/analyzer.json"))
        .arg("--plugin-dir")
        .arg(tree.join("usr/lib/anna-molly/plugins")));
    for name in [
        "Skyline",
        "TukeysFilter",
        "SeasonalDecomposition",
        "Example",
    ] {
        assert!(
            listed.lines().any(|l| l.starts_with(name)),
            "{name}:\n{listed}"
        );
    }
    assert!(!listed.contains("skipped"), "{listed}");
}
