//! The `mailquake` binary: parse the command line, dispatch, map the outcome to an exit code.

use std::process::ExitCode;

use clap::Parser;
use mailquake::cli::{Cli, Command};
use mailquake::scenario;

fn main() -> ExitCode {
    // Thousands of sessions and held connections need as many file descriptors.
    fake_remotes::limits::raise_open_files();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    if matches!(
        cli.command,
        Command::Validate { .. }
            | Command::Routes { .. }
            | Command::Report { .. }
            | Command::Explain { .. }
    ) {
        fake_remotes::limits::end_quietly_on_closed_stdout();
    }
    match cli.command {
        Command::Validate { file, params } => match scenario::load_with(&file, &params.sets) {
            Ok(plan) => {
                for warning in &plan.safety.warnings {
                    eprintln!("{warning}");
                }
                println!("{}: ok ({})", file.display(), scenario::describe(&plan));
                for line in mailquake::run::waits::WallClock::of(&plan).lines() {
                    println!("{line}");
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::from(2)
            }
        },
        Command::Routes { file, format } => match scenario::load(&file) {
            Ok(plan) => match mailquake::cluster::routes::render(&plan, format) {
                Ok(map) => {
                    print!("{map}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("{e}");
                    ExitCode::from(2)
                }
            },
            Err(e) => {
                eprintln!("{e}");
                ExitCode::from(2)
            }
        },
        Command::Run {
            file,
            params,
            out,
            force,
            skip_preflight,
            shard,
            t0,
            run_id,
            late_tolerance,
            live,
            live_control,
            live_token,
        } => {
            let live = live.map(|addr| mailquake::live::LiveArgs {
                addr,
                token: live_token,
                control: live_control,
            });
            if let Some(Err(e)) = live
                .as_ref()
                .map(|a| mailquake::live::check_args(a, shard.is_some()))
            {
                eprintln!("mailquake: {e}");
                return ExitCode::from(2);
            }
            let args = mailquake::shard::ShardArgs {
                shard,
                t0,
                run_id,
                tolerance: Some(late_tolerance),
            };
            if let Some(Err(e)) = out
                .as_deref()
                .map(|dir| mailquake::out_dir::check_not_earlier_run(dir, force))
            {
                eprintln!("mailquake: {e}");
                return ExitCode::from(2);
            }
            match mailquake::shard::resolve(&args, &|k| std::env::var(k).ok()) {
                Ok(shard) => mailquake::run::main(
                    &file,
                    out.as_deref(),
                    skip_preflight,
                    shard,
                    &params.sets,
                    live,
                ),
                Err(e) => {
                    eprintln!("mailquake: {e}");
                    ExitCode::from(2)
                }
            }
        }
        Command::Capacity { args } => mailquake::capacity::main(&args),
        Command::Merge { dirs, out } => mailquake::merge::main(&dirs, &out),
        Command::Remotes {
            file,
            params,
            api,
            token,
        } => mailquake::remotes::serve::main(&file, &params.sets, &api, token),
        Command::Cluster { args } => mailquake::cluster::serve::main(&args),
        Command::Flood { args } => mailquake::flood::main(&args),
        Command::Report { dir } => mailquake::run::report_main(&dir),
        Command::Explain { dir, id } => mailquake::explain::main(&dir, &id),
        Command::Heal { dir, token } => mailquake::heal::main(&dir, token.as_deref()),
        Command::Guard { dir } => mailquake::guardian::main(&dir),
    }
}
