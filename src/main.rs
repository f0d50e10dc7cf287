//! The `adforge` binary: parse the command line and hand over to the library.

mod cli;

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    adforge::telemetry::init_tracing(adforge::config::log_json());
    cli::run(cli::Cli::parse()).await
}
