//! What the server reads from a request before any handler: the query string of
//! `/api/metrics/history` (decoded as warp does, then read into a history query) when the
//! first byte is even, else the `Host`/`Origin` guard on `HOST\nORIGIN\nEXTRA`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::net::SocketAddr;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode & 1 == 0 {
        let Ok(pairs) = serde_urlencoded::from_bytes::<Vec<(String, String)>>(rest) else {
            return;
        };
        if let Err(e) = kpid::fuzzing::history_query(pairs) {
            assert!(
                e.starts_with("invalid `") || e.starts_with("unknown parameter `"),
                "error `{e}` does not name the parameter"
            );
        }
        return;
    }
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let mut parts = text.splitn(3, '\n');
    let host = parts.next();
    let origin = parts.next();
    let extra: Vec<String> = parts.next().into_iter().map(str::to_owned).collect();
    let addrs: [SocketAddr; 3] = [
        "127.0.0.1:8050".parse().unwrap(),
        "0.0.0.0:80".parse().unwrap(),
        "[::1]:8050".parse().unwrap(),
    ];
    for addr in addrs {
        let checks_origin = mode & 2 == 2;
        if let Err((status, msg)) = kpid::fuzzing::guard(addr, &extra, host, origin, checks_origin)
        {
            assert!(
                status == 421 || status == 403,
                "unexpected refusal status {status}"
            );
            assert!(
                msg.starts_with("host `") || msg.starts_with("origin `"),
                "{msg}"
            );
        }
        // The bound address's own names are always served.
        assert!(kpid::fuzzing::guard(addr, &extra, Some("localhost"), None, false).is_ok());
    }
});
