//! `am-console`: anna-molly's web console.
//!
//! ```text
//! am-console --config analyzer.json [--listen ADDR]
//! ```
//!
//! Reads the runner's `analyzer.json` for the Redis to read (`metric_sink`), where the alarms
//! live (`alarms.prefix`) and its own settings (`console`: `listen`, default
//! `127.0.0.1:9110`, and optional `auth`); `--listen` overrides the address. Reads Redis only,
//! never writes. SIGTERM or SIGINT stops it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use am_console::metrics::ConsoleMetrics;
use am_console::source::Source;
use am_console::web::{self, App, Auth, Bounded};
use anyhow::Context;
use clap::Parser;

/// anna-molly's web console: alarms, plots, correlated metrics, search by shape.
#[derive(Debug, Parser)]
#[command(name = "am-console", version, about)]
struct Cli {
    /// The runner's config (analyzer.json): Redis, the alarms' prefix, the `console` section.
    #[arg(long, short)]
    config: PathBuf,
    /// Address to listen on (overrides `console.listen`; default 127.0.0.1:9110).
    #[arg(long)]
    listen: Option<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    am_daemon::init_tracing("info");
    let (config, _) = match am_runner::config::load(&cli.config, None) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{}", am_daemon::text::escaped_lines(&e.to_string()));
            return ExitCode::from(2);
        }
    };
    match run(&cli, &config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("am-console: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: &Cli, config: &am_runner::config::AnalyzerConfig) -> anyhow::Result<()> {
    let listen = cli.listen.as_deref().unwrap_or(&config.console.listen);
    let addr: SocketAddr = listen.parse().with_context(|| {
        format!("--listen: expected an address like 127.0.0.1:9110, got {listen:?}")
    })?;
    let auth = config.console.auth.as_ref().map(Auth::new);
    if auth.is_none() && !addr.ip().is_loopback() {
        tracing::warn!(%addr, "listening beyond this host without authentication: anyone who reaches the port sees every metric's name and data (set console.auth)");
    }
    let source = Source::new(
        config.metric_sink.redis(),
        &config.alarms.prefix,
        config.alarms.history_max_len,
    );
    let redis = source.redis().clone();
    let app = Arc::new(App::new(source, Arc::new(ConsoleMetrics::default())));
    let router = web::router(app, auth);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("listening on {addr}"))?;
        let local = listener.local_addr().context("the listening address")?;
        tracing::info!(address = %format!("http://{local}/"), %redis, "am-console listening");
        axum::serve(Bounded::new(listener), router)
            .with_graceful_shutdown(async {
                if let Err(e) = am_daemon::shutdown_signal().await {
                    tracing::error!(error = %e, "cannot wait for signals; stopping");
                }
            })
            .await
            .context("serving")
    })
}
