//! `kpid plugins`: lists every parser plugin with its ABI version, path and status.

use super::PluginsArgs;
use crate::config::Config;
use crate::plugin_host::factory::plugin_dir;
use crate::plugin_host::PluginHost;
use std::io::Write;

/// `kpid plugins`: lists every plugin file with its ABI version, path and status.
pub fn run(args: &PluginsArgs) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    list_to(args, stdout.lock())
}

/// `kpid plugins`, writing to `out`.
pub fn list_to(args: &PluginsArgs, mut out: impl Write) -> anyhow::Result<()> {
    let cfg = args.config.as_deref().map(Config::load).transpose()?;
    let Some(dir) = plugin_dir(args.plugin_dir.as_deref(), cfg.as_ref()) else {
        anyhow::bail!(
            "no plugin directory: pass --plugin-dir DIR, or --config FILE with plugin_dir set"
        );
    };
    let host = PluginHost::load_dir(&dir);
    if let Some(problem) = host.problem() {
        anyhow::bail!(problem);
    }
    let list = host.list();
    writeln!(
        out,
        "plugin directory {} (kpid plugin ABI {})",
        dir.display(),
        kpid_plugin::abi::ABI_VERSION
    )?;
    if list.is_empty() {
        writeln!(out, "no plugins (*.so files)")?;
    }
    for p in &list {
        let abi = p.abi.map_or("-".into(), |a| a.to_string());
        let version = if p.version.is_empty() {
            "-"
        } else {
            &p.version
        };
        writeln!(
            out,
            "{:<16} {:<10} abi {:<3} {}  {}",
            p.name,
            version,
            abi,
            p.path.display(),
            p.status
        )?;
    }
    Ok(())
}
