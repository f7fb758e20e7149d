use std::process::ExitCode;

use clap::Parser;
use switchboard::config::{Cli, Command};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    switchboard::transparent_huge_pages_only_where_advised();
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
        Command::Argon2Bench {
            iterations,
            each,
            pause_ms,
        } => {
            let pause = std::time::Duration::from_millis(pause_ms);
            match switchboard::benchcmd::argon2_samples(iterations, pause).await {
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
        Command::SigninBench { addr, email, pairs } => {
            let password = switchboard::seed::DEMO_PASSWORD;
            match switchboard::benchcmd::signin_pairs(addr, &email, password, pairs).await {
                Ok(samples) => {
                    for (signin, verify) in samples {
                        switchboard::print_line(format_args!("{signin:.3} {verify:.3}"));
                    }
                    Ok(())
                }
                Err(error) => Err(switchboard::StartError::Config(error.to_string())),
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
