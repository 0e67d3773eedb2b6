//! `am-runner plugins`: what is in the plugin folder.

use am_plugin_host::Plugins;
use am_runner::config::AnalyzerConfig;
use anyhow::Context;

/// Prints one line per plugin (`name version abi file`), then the skipped files with reasons.
pub fn list(config: &AnalyzerConfig) -> anyhow::Result<()> {
    let plugins = Plugins::load_dir(&config.plugin_dir)
        .with_context(|| format!("reading the plugin folder {}", config.plugin_dir.display()))?;
    println!("{:<32} {:<10} {:<4} FILE", "NAME", "VERSION", "ABI");
    for p in plugins.all() {
        println!(
            "{:<32} {:<10} {:<4} {}",
            p.plugin.name,
            p.plugin.version,
            p.plugin.abi_version,
            p.path.display()
        );
    }
    for s in &plugins.skipped {
        println!("skipped {}: {}", s.path.display(), s.reason);
    }
    Ok(())
}
