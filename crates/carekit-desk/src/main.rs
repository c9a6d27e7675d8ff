//! `carekit-desk --config desk.toml`: the care-desk server.
//!
//! Secrets come from the environment (see `carekit_desk::SECRET_NAMES`) and,
//! when `CAREKIT_SECRETS_FILE` names one, from a `NAME=value` file. On
//! `SIGHUP` both are read again and the adapters' credentials replaced
//! (a revoked token fixed without a restart).

use carekit_desk::{DeskConfig, DeskServer, Secrets};

// The server allocates for every request (JSON, rows); glibc's allocator
// took a seventh of its CPU under load. The library itself never picks an
// allocator: this is the binary's choice.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
        let server = DeskServer::builder(config, secrets()?).build().await?;
        reload_on_hangup(server.credentials());
        server.run().await
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

fn secrets() -> Result<Secrets, carekit_desk::DeskServerError> {
    let secrets = Secrets::from_env();
    match std::env::var_os("CAREKIT_SECRETS_FILE") {
        Some(path) => secrets.merge_file(path),
        None => Ok(secrets),
    }
}

/// On SIGHUP: read the secrets again and swap the adapters' credentials.
fn reload_on_hangup(swap: carekit_desk::CredentialSwap) {
    #[cfg(unix)]
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut hangups) = signal(SignalKind::hangup()) else {
            tracing::warn!("SIGHUP cannot be watched; credentials reload needs a restart");
            return;
        };
        while hangups.recv().await.is_some() {
            match secrets() {
                Ok(secrets) => match swap.replace(&secrets).await {
                    Ok(swapped) => tracing::info!(?swapped, "credentials reloaded"),
                    Err(e) => tracing::error!(error = %e, "credentials not reloaded"),
                },
                Err(e) => tracing::error!(error = %e, "credentials not reloaded"),
            }
        }
    });
    #[cfg(not(unix))]
    let _ = swap;
}

fn usage() -> std::process::ExitCode {
    eprintln!(
        "usage: carekit-desk [--config desk.toml]\nsecrets are read from the environment: {}",
        carekit_desk::SECRET_NAMES.join(", ")
    );
    std::process::ExitCode::from(2)
}
