//! `fake-remotes`: one fake remote from the command line. It counts mail like
//! `smtp-sink` (or misbehaves, with `--fault`) and prints every event as a JSON line on
//! stdout. Each line read on stdin is a JSON array of faults that replaces the faults in
//! force (`[]` heals), for switching faults live by hand or from a script.
//!
//! Exit codes: 0 after Ctrl-C, 2 for a bad command line, 3 if the address cannot be bound.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use fake_remotes::{serve, units, CountingSink, Fault, ServerConfig};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufWriter};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

#[derive(Parser, Debug)]
#[command(
    version,
    about = "A misbehaving SMTP server; events as JSON lines on stdout"
)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:2525")]
    listen: SocketAddr,
    /// The remote's name in events.
    #[arg(long, default_value = "remote")]
    name: String,
    /// Host name in the banner and EHLO reply [default: NAME.fake-remotes.test].
    #[arg(long)]
    hostname: Option<String>,
    /// A fault in force from the start, as JSON; repeatable.
    /// E.g. '"refuse"' or '{"reply":{"stage":"rcpt","code":451,"probability":0.3}}'.
    #[arg(long = "fault", value_name = "JSON", value_parser = parse_fault)]
    faults: Vec<Fault>,
    /// Seed for every random decision.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Largest accepted message, in bytes.
    #[arg(long, default_value_t = 10 << 20)]
    max_message_size: usize,
    /// Close a session idle this long (e.g. 30s, 5m).
    #[arg(long, default_value = "5m", value_parser = units::parse_duration)]
    idle_timeout: Duration,
}

fn parse_fault(json: &str) -> Result<Fault, String> {
    let fault: Fault = serde_json::from_str(json).map_err(|e| format!("not a fault: {e}"))?;
    fault.validate()?;
    Ok(fault)
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("fake-remotes: cannot start the runtime: {e}");
            return ExitCode::from(3);
        }
    };
    let code = runtime.block_on(run(args));
    // The stdin reader blocks a thread forever; do not wait for it.
    runtime.shutdown_background();
    code
}

async fn run(args: Args) -> ExitCode {
    let listener = match fake_remotes::bind(args.listen) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("fake-remotes: cannot listen on {}: {e}", args.listen);
            return ExitCode::from(3);
        }
    };
    let local = listener.local_addr().map_or(args.listen, |a| a);
    eprintln!("fake-remotes: {} listening on {local}", args.name);

    let (faults_tx, faults_rx) = watch::channel(args.faults);
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let shutdown = CancellationToken::new();
    let config = ServerConfig {
        hostname: args
            .hostname
            .unwrap_or_else(|| format!("{}.fake-remotes.test", args.name)),
        name: args.name.clone(),
        faults: faults_rx,
        seed: args.seed,
        max_message_size: args.max_message_size,
        idle_timeout: args.idle_timeout,
        starttls: true,
        auth: None,
    };
    let sink = CountingSink {
        name: args.name,
        events: events_tx.clone(),
    };
    let server = tokio::spawn(serve(listener, config, sink, events_tx, shutdown.clone()));
    tokio::spawn(read_fault_switches(faults_tx));
    {
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let _ = tokio::signal::ctrl_c().await;
            shutdown.cancel();
        });
    }

    // Print events, flushing only when the channel is drained so a busy remote does
    // not pay one write per event. Ends when the server and its sessions are gone.
    let mut out = BufWriter::new(tokio::io::stdout());
    while let Some(event) = events.recv().await {
        let mut batch = Some(event);
        while let Some(event) = batch {
            if let Ok(mut line) = serde_json::to_vec(&event) {
                line.push(b'\n');
                if out.write_all(&line).await.is_err() {
                    shutdown.cancel();
                }
            }
            batch = events.try_recv().ok();
        }
        let _ = out.flush().await;
    }
    let _ = out.flush().await;
    match server.await {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) => {
            eprintln!("fake-remotes: {e}");
            ExitCode::from(3)
        }
        Err(e) => {
            eprintln!("fake-remotes: server task failed: {e}");
            ExitCode::from(3)
        }
    }
}

/// Each stdin line: a JSON array of faults replacing those in force.
async fn read_fault_switches(faults: watch::Sender<Vec<Fault>>) {
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if line.trim().is_empty() {
            continue;
        }
        let parsed = serde_json::from_str::<Vec<Fault>>(&line)
            .map_err(|e| e.to_string())
            .and_then(|all| {
                all.iter().try_for_each(Fault::validate)?;
                Ok(all)
            });
        match parsed {
            Ok(all) => {
                eprintln!("fake-remotes: faults now {}", line.trim());
                faults.send_replace(all);
            }
            Err(e) => {
                eprintln!("fake-remotes: ignored stdin line (a JSON array of faults expected): {e}")
            }
        }
    }
    // stdin closed: keep the sender alive so the faults stay as they are.
    std::future::pending::<()>().await;
}
