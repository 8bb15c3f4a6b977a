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
    /// VT-x (VMX) model information.
    #[command(subcommand)]
    Vmx(VmxCommand),
}

#[derive(Subcommand, Debug)]
enum VmxCommand {
    /// Print the VMX capability MSRs of a CPU model, decoded: for each control whether it
    /// may be 0, may be 1, or is fixed.
    Caps {
        /// CPU model: yonah (a real Core Duo T2600) or max (every VMX feature that applies
        /// to an IA-32 CPU).
        #[arg(long, default_value = "yonah", value_parser = ["yonah", "max"])]
        cpu: String,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => return clap_error(e),
    };
    let r = match cli.command {
        Command::Run(args) => run::run(args),
        Command::Vmx(VmxCommand::Caps { cpu }) => vmx_caps(&cpu),
    };
    match r {
        Ok(status) => ExitCode::from(status),
        Err(e) => {
            report(&e);
            ExitCode::from(error::EXIT_BAD_INPUT)
        }
    }
}

/// `vtx32 vmx caps --cpu MODEL`.
fn vmx_caps(cpu: &str) -> Result<u8, CliError> {
    let model: vtx32_vmx::CpuModel = cpu
        .parse()
        .map_err(|_| CliError::Usage(format!("unknown CPU model '{cpu}' (--cpu)")))?;
    print!("{}", vtx32_vmx::caps_report(model));
    Ok(0)
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
