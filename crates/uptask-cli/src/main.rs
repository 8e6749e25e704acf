/*!
`uptask`: upload a file with a progress bar or NDJSON events, or receive uploads.

```text
uptask upload FILE [URL]      upload FILE (to the built-in server when URL is omitted)
uptask serve                  receive uploads into ./uptask-uploads
uptask completions SHELL      print shell completions
```

Exit codes: 0 completed with status < 400; 22 completed with status >= 400; 1 failed
(network, timeout, protocol); 2 bad usage or bad input; 130 aborted (Ctrl-C).

Arguments are parsed in two steps: `args` is a faithful record of the command line, `plan`
validates it into the options the library takes. `main` only maps the outcome to an exit code.
*/

mod args;
mod bars;
mod exit;
mod output;
mod plan;
mod report;
mod serve;
mod upload;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    init_logging(matches!(cli.command, args::Command::Serve(_)));
    let code = match run(cli) {
        Ok(code) => code,
        Err(err) => {
            let code = exit::code_of(&err);
            exit::report(&err);
            code
        }
    };
    ExitCode::from(code)
}

fn run(cli: args::Cli) -> anyhow::Result<u8> {
    match cli.command {
        args::Command::Upload(a) => upload_runtime()?.block_on(upload::run(*a)),
        args::Command::Serve(a) => serve_runtime()?.block_on(serve::run(*a)),
        args::Command::Completions { shell } => {
            let mut cmd = <args::Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "uptask", &mut std::io::stdout());
            Ok(exit::OK)
        }
    }
}

/// A server handles many connections: one worker per core.
fn serve_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

fn upload_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    // One upload needs one thread: a second worker only adds cross-core wake-ups. Listener
    // calls and file reads still run on tokio's blocking pool.
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

/// Logs go to stderr, filtered by `UPTASK_LOG` (e.g. `UPTASK_LOG=debug`): by default
/// warnings, and for `uptask serve` its access log too. A stderr that went away (a pipe whose
/// reader left) costs log lines, never the process.
fn init_logging(serving: bool) {
    let default = if serving {
        "warn,uptask_server::access=info"
    } else {
        "warn"
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("UPTASK_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colours only for a person: a log file or a pipe gets plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .log_internal_errors(false)
        .try_init();
}
