//! A plugin built with `panic = "abort"` is refused at load: it could not catch its panics, and
//! one would take the runner down. This builds the example plugin for real with
//! `-C panic=abort` (into its own target directory) and loads the folder.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::Command;

use am_plugin_host::Plugins;

#[test]
fn a_plugin_built_with_panic_abort_is_refused() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let target = root.join("target/panic-abort");
    let status = Command::new(env!("CARGO"))
        .current_dir(&root)
        .args([
            "build",
            "--release",
            "-q",
            "-p",
            "am-plugin-example",
            "--target-dir",
        ])
        .arg(&target)
        .env("RUSTFLAGS", "-C panic=abort")
        .status()
        .expect("running cargo");
    assert!(
        status.success(),
        "building the plugin with panic=abort failed"
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        target.join("release/libam_plugin_example.so"),
        dir.path().join("libam_plugin_example.so"),
    )
    .unwrap();
    let plugins = Plugins::load_dir(dir.path()).unwrap();
    assert!(
        plugins.get("Example").is_none(),
        "the abort-built plugin was loaded"
    );
    assert_eq!(plugins.skipped.len(), 1);
    let reason = &plugins.skipped[0].reason;
    assert!(reason.contains("panic = \"abort\""), "{reason}");
}
