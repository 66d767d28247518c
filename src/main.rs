//! The `mailquake` binary: parse the command line, dispatch, map the outcome to an exit code.

use std::process::ExitCode;

use clap::Parser;
use mailquake::cli::{Cli, Command};
use mailquake::scenario;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match cli.command {
        Command::Validate { file } => match scenario::load(&file) {
            Ok(plan) => {
                println!("{}: ok ({})", file.display(), scenario::describe(&plan));
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::from(2)
            }
        },
        Command::Run { file, out } => mailquake::run::main(&file, out.as_deref()),
        Command::Report { dir } => mailquake::run::report_main(&dir),
    }
}
