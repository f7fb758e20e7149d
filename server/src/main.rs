use std::process::ExitCode;

use clap::Parser;
use switchboard::config::{Cli, Command};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc advises the kernel to back its arenas with transparent huge pages, and the
/// kernel's khugepaged then fills whole 2 MiB pages around the few KiB in use, at its own
/// pace: the server's RSS grew with how far that had got, not with what it held (a
/// `make bench` run ended at 93 MiB where the next ended at 40; with khugepaged sped up,
/// 41 → 60 MiB over four rounds of load, 30-45 MiB of it huge pages). Turned off for
/// this process, as mimalloc itself does when its `allow_thp` option is 0.
fn no_transparent_huge_pages() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_THP_DISABLE only sets a flag on this process's address space; its
    // result is ignored (a kernel without THP refuses it, and nothing changes).
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    no_transparent_huge_pages();
    let cli = Cli::parse();
    switchboard::telemetry::init(cli.config.log_format());
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => switchboard::serve(cli.config).await,
        Command::Seed {
            orgs,
            calls_per_org,
            agents_per_org,
        } => {
            let options = switchboard::seed::SeedOptions {
                orgs,
                calls_per_org,
                agents_per_org,
            };
            switchboard::run_seed(cli.config, options).await
        }
        Command::Argon2Bench { iterations, each } => {
            match switchboard::benchcmd::argon2_samples(iterations).await {
                Ok(samples) if each => {
                    for ms in samples {
                        switchboard::print_line(format_args!("{ms:.3}"));
                    }
                    Ok(())
                }
                Ok(samples) => {
                    switchboard::print_line(format_args!(
                        "{:.2}",
                        switchboard::benchcmd::p50(samples)
                    ));
                    Ok(())
                }
                Err(e) => Err(switchboard::StartError::Config(e.to_string())),
            }
        }
        Command::RlsBench { email, iterations } => {
            switchboard::run_rls_bench(cli.config, &email, iterations).await
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error}");
            ExitCode::FAILURE
        }
    }
}
