use std::process::ExitCode;

use clap::Parser;
use igz_operator::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Crd => {
            print!("{}", igz_operator::crd::all_crds_yaml());
            ExitCode::SUCCESS
        }
        Command::Import(args) => {
            let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
            let runtime = match tokio::runtime::Runtime::new() {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("igz-operator: cannot start the async runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            match runtime.block_on(igz_operator::import::run(*args)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("igz-operator import: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Run(args) => {
            // One crypto provider for the whole process (kube and reqwest both use rustls).
            let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
            igz_operator::telemetry::init(args.log_format);
            let runtime = match tokio::runtime::Runtime::new() {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("igz-operator: cannot start the async runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            match runtime.block_on(igz_operator::run::run(*args)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("igz-operator: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
