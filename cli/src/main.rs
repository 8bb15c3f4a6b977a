//! `vtx32`: the command line of the vtx32 IA-32 emulator.
//!
//! Bad input (missing or unreadable files, bad sizes, malformed options, unknown flags)
//! prints exactly one line `vtx32: error: <what> (<path>)` on stderr and exits with status
//! 2; every run exits with its stop reason's status (`docs/exit-status.md`).

mod error;
mod run;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use error::CliError;

#[derive(Parser, Debug)]
#[command(
    name = "vtx32",
    version,
    about = "vtx32: a cycle-level IA-32 CPU emulator"
)]
#[command(arg_required_else_help = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a ROM image (or flat binaries given with --load); without either, the demo ROM.
    Run(run::RunArgs),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => return clap_error(e),
    };
    let r = match cli.command {
        Command::Run(args) => run::run(args),
    };
    match r {
        Ok(status) => ExitCode::from(status),
        Err(e) => {
            report(&e);
            ExitCode::from(error::EXIT_BAD_INPUT)
        }
    }
}

/// Prints the one-line error message.
fn report(e: &CliError) {
    eprintln!("vtx32: error: {e}");
}

/// Help and version go out as clap prints them; usage errors become one line and status 2.
fn clap_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind as K;
    match e.kind() {
        K::DisplayHelp | K::DisplayVersion | K::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            ExitCode::from(e.exit_code().clamp(0, 255) as u8)
        }
        _ => {
            let text = e.to_string();
            let first = text
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("invalid command line");
            let msg = first.strip_prefix("error: ").unwrap_or(first);
            report(&CliError::Usage(msg.trim().to_string()));
            ExitCode::from(error::EXIT_BAD_INPUT)
        }
    }
}
