//! `carekit-desk --config desk.toml`: the care-desk server.
//!
//! Secrets come from the environment (see `carekit_desk::SECRET_NAMES`).

use carekit_desk::{DeskConfig, DeskServer, Secrets};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let mut args = std::env::args().skip(1);
    let mut path = String::from("desk.toml");
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--config" | "-c" => match args.next() {
                Some(p) => path = p,
                None => return usage(),
            },
            "--help" | "-h" => return usage(),
            _ => return usage(),
        }
    }
    let result = async {
        let config = DeskConfig::from_file(&path)?;
        DeskServer::builder(config, Secrets::from_env())
            .build()
            .await?
            .run()
            .await
    }
    .await;
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("carekit-desk: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn usage() -> std::process::ExitCode {
    eprintln!(
        "usage: carekit-desk [--config desk.toml]\nsecrets are read from the environment: {}",
        carekit_desk::SECRET_NAMES.join(", ")
    );
    std::process::ExitCode::from(2)
}
