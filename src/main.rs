//! The `civitas` binary: parse settings, start logging, run the command.

use clap::Parser;
use std::process::ExitCode;

use civitas::config::Cli;

#[actix_web::main]
async fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) if !error.use_stderr() => {
            // --help and --version
            let _ = error.print();
            return ExitCode::SUCCESS;
        }
        Err(error) => {
            let message = error
                .kind()
                .as_str()
                .unwrap_or("invalid arguments")
                .to_owned();
            let rendered = error.render().to_string();
            let line = rendered.lines().next().unwrap_or(&message);
            eprintln!("civitas: {}", line.trim_start_matches("error: "));
            return ExitCode::from(2);
        }
    };
    match civitas::cli::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("civitas: {error:#}");
            ExitCode::FAILURE
        }
    }
}
