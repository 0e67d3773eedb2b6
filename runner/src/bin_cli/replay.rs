//! `am-runner replay`: a plugin offline over CSV files, for plugin authors and for tuning.

use std::io::Write;
use std::path::{Path, PathBuf};

use am_plugin_host::replay::{Inputs, TickResult, read_csv, replay as run_replay};
use am_plugin_host::{LoadedPlugin, Plugins, load_file};
use anyhow::{Context, bail};

/// Arguments of `am-runner replay`.
#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// The plugin: its name (looked up in the plugin folder) or the path of its `.so` file.
    #[arg(long)]
    plugin: String,
    /// The plugin's options as JSON (a service's `worker_options` entry), or `@FILE`.
    #[arg(long)]
    options: String,
    /// One `timestamp,value` CSV standing for whatever series the options name.
    #[arg(long, conflicts_with = "series")]
    csv: Option<PathBuf>,
    /// `NAME=FILE`: the CSV holding metric NAME (repeatable).
    #[arg(long)]
    series: Vec<String>,
    /// The service name the plugin runs as.
    #[arg(long, default_value = "replay")]
    service: String,
    /// NAB mode: replay every `DATA_DIR/<category>/<file>.csv` (each file on its own, from a
    /// fresh state) and write NAB's results layout under `--out`.
    #[arg(long, value_name = "DATA_DIR", requires_all = ["out", "detector"], conflicts_with_all = ["csv", "series"])]
    nab: Option<PathBuf>,
    /// NAB mode: where to write `<detector>/<category>/<detector>_<file>.csv`.
    #[arg(long, value_name = "RESULTS_DIR")]
    out: Option<PathBuf>,
    /// NAB mode: the detector name in the results layout.
    #[arg(long)]
    detector: Option<String>,
    /// NAB mode: the output field used as the anomaly score, clamped to [0, 1] (`flag` counts
    /// ±1 as 1). Default `anomaly_score`, or `flag` when the plugin emits no such field.
    #[arg(long, default_value = "anomaly_score")]
    score_field: String,
    /// NAB mode: give the plugin what NAB's protocol gives every detector — each file's
    /// minimum and maximum value (`input_min`, `input_max`) and probationary period
    /// (`probation`: 15 % of the rows, at most 750) — merged into the options object.
    #[arg(long)]
    nab_protocol: bool,
}

fn plugin(spec: &str, dir: &Path) -> anyhow::Result<LoadedPlugin> {
    let as_path = Path::new(spec);
    if spec.contains('/')
        || as_path
            .extension()
            .is_some_and(|e| e == std::env::consts::DLL_EXTENSION)
    {
        return load_file(as_path).map_err(|e| anyhow::anyhow!("{spec}: {e}"));
    }
    let plugins = Plugins::load_dir(dir)
        .with_context(|| format!("reading the plugin folder {}", dir.display()))?;
    let Some(p) = plugins.get(spec) else {
        bail!(
            "no plugin named {spec:?} in {} (loaded: {})",
            dir.display(),
            plugins.names().join(", ")
        );
    };
    // The folder's other plugins stay loaded too; the process is short-lived.
    load_file(&p.path).map_err(|e| anyhow::anyhow!("{}: {e}", p.path.display()))
}

/// Runs the replay and prints the CSV.
pub fn replay(
    args: &ReplayArgs,
    plugin_dir: Option<&Path>,
    config: Option<&Path>,
) -> anyhow::Result<()> {
    let dir = match (plugin_dir, config) {
        (Some(d), _) => d.to_path_buf(),
        (None, Some(c)) => {
            am_runner::config::load(c, None)
                .map_err(|e| anyhow::anyhow!("{e}"))?
                .0
                .plugin_dir
        }
        (None, None) => PathBuf::from("target/release"),
    };
    let plugin = plugin(&args.plugin, &dir)?;
    let options = match args.options.strip_prefix('@') {
        Some(file) => std::fs::read_to_string(file).with_context(|| format!("reading {file}"))?,
        None => args.options.clone(),
    };
    serde_json::from_str::<serde_json::Value>(&options).context("--options is not valid JSON")?;
    if let (Some(data), Some(out), Some(detector)) = (&args.nab, &args.out, &args.detector) {
        return nab(
            &plugin,
            &options,
            data,
            out,
            detector,
            &args.score_field,
            args.nab_protocol,
        );
    }
    let inputs = match (&args.csv, args.series.is_empty()) {
        (Some(f), true) => Inputs::Any(read_csv(f)?),
        (None, false) => {
            let mut named = Vec::new();
            for s in &args.series {
                let Some((name, file)) = s.split_once('=') else {
                    bail!("--series takes NAME=FILE, got {s:?}");
                };
                named.push((name.to_string(), read_csv(Path::new(file))?));
            }
            Inputs::Named(named)
        }
        _ => bail!("give --csv FILE, or one --series NAME=FILE per metric"),
    };
    let mut rows: Vec<TickResult> = Vec::new();
    let mut failures = 0usize;
    run_replay(&plugin, &options, &args.service, &inputs, |t| {
        if let Some(f) = &t.failure {
            failures += 1;
            if failures <= 5 {
                tracing::warn!(tick = t.tick, failure = %f, "task failed");
            }
        }
        rows.push(t);
    })?;
    let mut fields: Vec<&String> = rows.iter().flat_map(|r| r.fields.keys()).collect();
    fields.sort();
    fields.dedup();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    write!(out, "timestamp")?;
    for f in &fields {
        write!(out, ",{f}")?;
    }
    writeln!(out)?;
    for r in &rows {
        write!(out, "{}", r.tick)?;
        for f in &fields {
            match r.fields.get(*f) {
                Some(v) => write!(out, ",{v}")?,
                None => write!(out, ",")?,
            }
        }
        writeln!(out)?;
    }
    out.flush()?;
    if failures > 0 {
        tracing::warn!(
            failures,
            ticks = rows.len(),
            "some ticks failed (their rows are empty)"
        );
    }
    Ok(())
}

/// NAB mode: every file of the corpus, in parallel over the cores.
fn nab(
    plugin: &LoadedPlugin,
    options: &str,
    data: &Path,
    out: &Path,
    detector: &str,
    score_field: &str,
    nab_protocol: bool,
) -> anyhow::Result<()> {
    use am_plugin_host::nab::{ScoreField, corpus, run_file};
    let files = corpus(data).with_context(|| format!("reading {}", data.display()))?;
    if files.is_empty() {
        bail!("no <category>/<file>.csv under {}", data.display());
    }
    let score = ScoreField {
        name: score_field.to_string(),
    };
    let started = std::time::Instant::now();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let results: Vec<anyhow::Result<usize>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        let Some((cat, file)) = files.get(i) else {
                            break;
                        };
                        let name = file
                            .file_name()
                            .map(|n| n.to_string_lossy().into_owned())
                            .unwrap_or_default();
                        let target = out
                            .join(detector)
                            .join(cat)
                            .join(format!("{detector}_{name}"));
                        done.push(
                            run_file(plugin, options, &score, file, &target, nab_protocol)
                                .with_context(|| format!("{cat}/{name}")),
                        );
                    }
                    done
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| {
                h.join()
                    .unwrap_or_else(|_| vec![Err(anyhow::anyhow!("a replay thread panicked"))])
            })
            .collect()
    });
    let mut rows = 0;
    for r in results {
        rows += r?;
    }
    tracing::info!(
        files = files.len(),
        rows,
        secs = started.elapsed().as_secs_f64(),
        "NAB replay done"
    );
    eprintln!(
        "replayed {} files ({rows} rows) in {:.2} s into {}",
        files.len(),
        started.elapsed().as_secs_f64(),
        out.join(detector).display()
    );
    Ok(())
}
