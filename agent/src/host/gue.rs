//! GUE receive ports: a real server behind `gue` tunnel services listens on each port its
//! real servers name, per family. Only the ports the agent opened are closed again; a port
//! someone else opened serves as it is.

use std::collections::BTreeSet;

use lvs_host::Fou;
use lvs_model::agent::DriftRepair;

use super::prep::{HostOutcome, HostPrep};

/// A GUE receive port: (port, IPv6).
pub type GuePort = (u16, bool);

fn object((port, ipv6): GuePort) -> String {
    let family = if ipv6 { "ipv6" } else { "ipv4" };
    format!("gue port {port} ({family})")
}

impl HostPrep {
    /// Brings the GUE receive ports to `wanted`.
    pub(super) fn gue_ports(&mut self, wanted: &BTreeSet<GuePort>, outcome: &mut HostOutcome) {
        if wanted.is_empty() && self.owned().gue_ports.is_empty() {
            return;
        }
        let opened = Fou::open().and_then(|mut fou| Ok((fou.ports()?, fou)));
        let (open, mut fou) = match opened {
            Ok(found) => found,
            Err(error) => {
                outcome.done("gue ports".into(), "read", Err(error.to_string()));
                return;
            }
        };
        let is_open = |(port, ipv6): GuePort| open.iter().any(|p| p.port == port && p.ipv6 == ipv6);
        let unwanted: Vec<GuePort> = self
            .owned()
            .gue_ports
            .iter()
            .filter(|p| !wanted.contains(p))
            .copied()
            .collect();
        for port in unwanted {
            let name = object(port);
            if is_open(port) {
                let result = fou.delete(port.0, port.1).map_err(|e| e.to_string());
                if !outcome.made(&name, "delete", result) {
                    continue;
                }
            }
            self.record(&name, "delete", outcome, |owned| {
                owned.gue_ports.remove(&port);
            });
        }
        for &port in wanted {
            if is_open(port) {
                continue;
            }
            let name = object(port);
            if self.owned().gue_ports.contains(&port) {
                outcome.drift.push(DriftRepair {
                    object: name.clone(),
                    found: "missing".into(),
                });
            }
            if !self.record(&name, "add", outcome, |owned| {
                owned.gue_ports.insert(port);
            }) {
                continue;
            }
            let result = fou.add_gue(port.0, port.1).map_err(|e| e.to_string());
            if !outcome.made(&name, "add", result) {
                self.record(&name, "add", outcome, |owned| {
                    owned.gue_ports.remove(&port);
                });
            }
        }
    }
}
