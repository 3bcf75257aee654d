use clap::Parser;
use kpid::cmd::Cli;

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("KPID_LOG")
                .unwrap_or_else(|_| "kpid=info,warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    // A plugin worker runs alone: no runtime, no threads (docs/plugin-worker.md).
    if let Some(kpid::cmd::Cmd::PluginWorker(w)) = &cli.cmd {
        let code = kpid::plugin_host::worker::child::run(&w.name, &w.options, w.memory_limit);
        return std::process::ExitCode::from(code as u8);
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("kpid: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(kpid::cmd::main(cli));
    match result {
        Ok(code) => std::process::ExitCode::from(code),
        Err(e) => {
            eprintln!("kpid: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}
