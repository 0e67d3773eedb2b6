//! Loading plugin files: every library in the plugin folder, its ABI version checked before
//! anything else is read from it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use am_plugin_api::abi::{self, PluginDescriptor};
use am_plugin_api::hosting::Plugin;

/// A plugin loaded from disk. The library stays loaded for the life of the process.
#[derive(Debug)]
pub struct LoadedPlugin {
    /// Its name, version and functions.
    pub plugin: Plugin,
    /// The file it came from.
    pub path: PathBuf,
}

impl LoadedPlugin {
    /// The plugin's name (`services` refer to it).
    pub fn name(&self) -> &str {
        &self.plugin.name
    }
}

/// A file in the plugin folder that was not loaded, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The file.
    pub path: PathBuf,
    /// Why it was skipped.
    pub reason: String,
}

/// The plugins found in a folder.
#[derive(Debug, Default)]
pub struct Plugins {
    by_name: BTreeMap<String, Arc<LoadedPlugin>>,
    /// Files that were not loaded.
    pub skipped: Vec<Skipped>,
}

impl Plugins {
    /// Loads every `*.so` (or `*.dylib`) file directly in `dir`, in name order. A file that is
    /// not a plugin, was built for another ABI version or with `panic = "abort"`, or repeats a
    /// name already loaded, is skipped with its reason (and logged); the rest load.
    pub fn load_dir(dir: &Path) -> Result<Plugins, std::io::Error> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.is_file()
                    && p.extension()
                        .is_some_and(|e| e == std::env::consts::DLL_EXTENSION)
            })
            .collect();
        files.sort();
        let mut plugins = Plugins::default();
        for path in files {
            match load_file(&path) {
                Ok(p) => {
                    if let Some(first) = plugins.by_name.get(p.name()) {
                        let reason = format!(
                            "a plugin named {:?} was already loaded from {}",
                            p.name(),
                            first.path.display()
                        );
                        tracing::warn!(file = %path.display(), reason = %reason, "plugin skipped");
                        plugins.skipped.push(Skipped { path, reason });
                        continue;
                    }
                    tracing::info!(plugin = %p.name(), version = %p.plugin.version, abi = p.plugin.abi_version, file = %path.display(), "plugin loaded");
                    plugins.insert(p);
                }
                Err(reason) => {
                    tracing::warn!(file = %path.display(), reason = %reason, "plugin skipped");
                    plugins.skipped.push(Skipped { path, reason });
                }
            }
        }
        Ok(plugins)
    }

    /// The plugin called `name`; anna-molly's poll-task names (`PollTukeysFilter`) find the
    /// plugin without the `Poll` prefix.
    pub fn get(&self, name: &str) -> Option<Arc<LoadedPlugin>> {
        self.by_name
            .get(name)
            .or_else(|| name.strip_prefix("Poll").and_then(|n| self.by_name.get(n)))
            .cloned()
    }

    /// Every loaded plugin, by name.
    pub fn all(&self) -> impl Iterator<Item = &Arc<LoadedPlugin>> {
        self.by_name.values()
    }

    /// Names of the loaded plugins, for messages.
    pub fn names(&self) -> Vec<String> {
        self.by_name.keys().cloned().collect()
    }

    /// Adds a plugin (loaded, or linked in statically for tests).
    pub fn insert(&mut self, plugin: LoadedPlugin) {
        self.by_name
            .insert(plugin.name().to_owned(), Arc::new(plugin));
    }
}

/// Loads one plugin file, checking its ABI version first; the error says why it is not usable.
#[allow(unsafe_code)]
pub fn load_file(path: &Path) -> Result<LoadedPlugin, String> {
    // SAFETY: loading a library runs its initialisers. The plugin folder is trusted
    // configuration (like the runner binary itself); nothing else is loaded from it.
    let lib = unsafe { libloading::Library::new(path) }
        .map_err(|e| format!("not a loadable library: {e}"))?;
    // Never unloaded: instances and descriptors point into it for the life of the process.
    let lib: &'static libloading::Library = Box::leak(Box::new(lib));
    // SAFETY: the symbol, when present, has this signature by the ABI's definition.
    let version = unsafe { lib.get::<unsafe extern "C" fn() -> u32>(abi::ABI_VERSION_SYMBOL) }
        .map_err(|_| "not an anna-molly plugin (no am_plugin_abi_version symbol)".to_string())?;
    // SAFETY: as above.
    let descriptor = unsafe {
        lib.get::<unsafe extern "C" fn() -> *const PluginDescriptor>(abi::DESCRIPTOR_SYMBOL)
    }
    .map_err(|_| "no am_plugin_descriptor symbol".to_string())?;
    // SAFETY: the library's two exports, with their ABI signatures; it is never unloaded.
    let plugin = unsafe { Plugin::from_exports(*version, *descriptor) }?;
    Ok(LoadedPlugin {
        plugin,
        path: path.to_path_buf(),
    })
}
