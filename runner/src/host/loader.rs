//! Loading plugin files: check the ABI version first, then the descriptor.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use am_plugin_api::abi::{self, PluginDescriptor, Str};

/// A plugin loaded from disk. The library stays loaded for the life of the process.
#[derive(Debug)]
pub struct LoadedPlugin {
    /// The plugin's name (`services` refer to it).
    pub name: String,
    /// The plugin crate's version.
    pub version: String,
    /// Its ABI version (equal to ours, or it would not have loaded).
    pub abi_version: u32,
    /// The file it came from.
    pub path: PathBuf,
    pub(crate) descriptor: &'static PluginDescriptor,
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
                    if let Some(first) = plugins.by_name.get(&p.name) {
                        let reason = format!(
                            "a plugin named {:?} was already loaded from {}",
                            p.name,
                            first.path.display()
                        );
                        tracing::warn!(file = %path.display(), reason = %reason, "plugin skipped");
                        plugins.skipped.push(Skipped { path, reason });
                        continue;
                    }
                    tracing::info!(plugin = %p.name, version = %p.version, abi = p.abi_version, file = %path.display(), "plugin loaded");
                    plugins.by_name.insert(p.name.clone(), Arc::new(p));
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

    /// Adds an already-built plugin (tests, statically linked plugins).
    pub fn insert(&mut self, plugin: LoadedPlugin) {
        self.by_name.insert(plugin.name.clone(), Arc::new(plugin));
    }
}

#[allow(unsafe_code)]
fn view(s: Str<'static>, what: &str) -> Result<String, String> {
    if s.ptr.is_null() {
        return Err(format!("its descriptor has no {what}"));
    }
    // SAFETY: the descriptor's strings point into the plugin's static data, valid while the
    // library is loaded, which is forever; `len` is the length the plugin wrote.
    let bytes = unsafe { std::slice::from_raw_parts(s.ptr, s.len) };
    String::from_utf8(bytes.to_vec()).map_err(|_| format!("its {what} is not UTF-8"))
}

/// Checks a descriptor and wraps it.
pub fn from_descriptor(
    descriptor: &'static PluginDescriptor,
    path: PathBuf,
) -> Result<LoadedPlugin, String> {
    if descriptor.abi_version != abi::ABI_VERSION {
        return Err(format!(
            "built for plugin ABI version {}, this runner speaks version {}",
            descriptor.abi_version,
            abi::ABI_VERSION
        ));
    }
    if !descriptor.panic_unwind {
        return Err(
            "built with panic = \"abort\": a panic would take the runner down; build it with panic = \"unwind\" (the default)"
                .into(),
        );
    }
    Ok(LoadedPlugin {
        name: view(descriptor.name, "name")?,
        version: view(descriptor.version, "version")?,
        abi_version: descriptor.abi_version,
        path,
        descriptor,
    })
}

#[allow(unsafe_code)]
/// Loads one plugin file, checking its ABI version first; the error says why it is not usable.
pub fn load_file(path: &Path) -> Result<LoadedPlugin, String> {
    // SAFETY: loading a library runs its initialisers. The plugin folder is trusted
    // configuration (like the runner binary itself); nothing else is loaded from it.
    let lib = unsafe { libloading::Library::new(path) }
        .map_err(|e| format!("not a loadable library: {e}"))?;
    // Never unloaded: instances and descriptors point into it for the life of the process.
    let lib: &'static libloading::Library = Box::leak(Box::new(lib));
    // SAFETY: the symbol, when present, is `extern "C" fn() -> u32` by the ABI's definition.
    let version_fn = unsafe { lib.get::<unsafe extern "C" fn() -> u32>(abi::ABI_VERSION_SYMBOL) }
        .map_err(|_| {
        "not an anna-molly plugin (no am_plugin_abi_version symbol)".to_string()
    })?;
    // SAFETY: see above; the function takes no arguments and only returns a constant.
    let version = unsafe { version_fn() };
    if version != abi::ABI_VERSION {
        return Err(format!(
            "built for plugin ABI version {version}, this runner speaks version {}",
            abi::ABI_VERSION
        ));
    }
    // SAFETY: with the ABI version checked, the descriptor symbol has this signature.
    let descriptor_fn = unsafe {
        lib.get::<unsafe extern "C" fn() -> *const PluginDescriptor>(abi::DESCRIPTOR_SYMBOL)
    }
    .map_err(|_| "no am_plugin_descriptor symbol".to_string())?;
    // SAFETY: returns a pointer to the plugin's static descriptor.
    let ptr = unsafe { descriptor_fn() };
    // SAFETY: non-null pointers from the descriptor function point at a static descriptor that
    // lives as long as the library, which is never unloaded.
    let descriptor: &'static PluginDescriptor =
        unsafe { ptr.as_ref() }.ok_or_else(|| "its descriptor is null".to_string())?;
    from_descriptor(descriptor, path.to_path_buf())
}
