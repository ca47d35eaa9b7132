use clap::Parser;
use igz_operator::cli::{Cli, Command};

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Crd => {
            eprintln!("igz-operator crd: the Group CRD is not implemented yet (issue 5)");
            std::process::ExitCode::FAILURE
        }
        Command::Run(_) => {
            eprintln!("igz-operator run: the controller is not implemented yet (issue 5)");
            std::process::ExitCode::FAILURE
        }
    }
}
