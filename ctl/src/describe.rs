//! Services' and real servers' settings in a few words, for tables and plans.

use lvs_model::spec::{RealServerSpec, ServiceSpec};

/// `wrr`, or `sh (sh-port,sh-fallback)`.
pub fn scheduler(service: &ServiceSpec) -> String {
    let name = service.scheduler.clone().unwrap_or_else(|| "wlc".into());
    if service.scheduler_flags.is_empty() {
        name
    } else {
        format!("{name} ({})", service.scheduler_flags.join(","))
    }
}

/// `masq`, `route`, `tunnel (gue 6080)`.
pub fn forwarding(real_server: &RealServerSpec) -> String {
    let method = real_server.forwarding.clone().unwrap_or_default();
    match (&real_server.tunnel_type, real_server.tunnel_port) {
        (Some(kind), Some(port)) => format!("{method} ({kind} {port})"),
        (Some(kind), None) => format!("{method} ({kind})"),
        _ => method,
    }
}
