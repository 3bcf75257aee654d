//! `kpid check CONFIG`: checks a config file as the daemon would at start and on reload
//! (the same checks, the same messages: file, line, field), as `promtool check config` does.
//! Exit code 0 and a summary when valid, 1 and the reason when not.

use super::{CheckArgs, RunArgs};
use crate::daemon::prepare;
use crate::plugin_host::factory::host_for;
use std::io::Write;

/// Checks; writes the summary to `out` or the reason to `err`; returns the exit code.
pub fn check_to(args: &CheckArgs, mut out: impl Write, mut err: impl Write) -> u8 {
    let run = RunArgs {
        config: Some(args.config.clone()),
        ..RunArgs::default()
    };
    let result = super::config_from(&run).and_then(|cfg| {
        let host = host_for(cfg.plugin_dir.clone(), Some(&cfg));
        prepare(&cfg, &host).map(|_| cfg)
    });
    match result {
        Ok(cfg) => {
            let _ = writeln!(
                out,
                "{}: valid: {} source(s), {} rule(s), {} alert rule(s), {} notification channel(s)",
                args.config.display(),
                cfg.sources.len(),
                cfg.rules.len(),
                cfg.alert_rules.len(),
                cfg.notify.len()
            );
            0
        }
        Err(e) => {
            let _ = writeln!(err, "{}: invalid: {e:#}", args.config.display());
            1
        }
    }
}
