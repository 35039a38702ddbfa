//! A cluster's host settings as JSON.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};

use crate::host::{
    ConnectionSync, HostSettings, InterfaceName, IpvsSysctls, SyncRole, VipInterface,
    DEFAULT_INTERFACE,
};
use crate::validation::ValidationErrors;

/// How the agents prepare each director host beyond its IPVS table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HostSpec {
    /// Where the agents add each service's VIP (as /32 or /128); absent or null: they do
    /// not manage VIPs (keepalived's VRRP, a routing daemon or a person holds them).
    #[serde(default, deserialize_with = "optional_object")]
    pub vips: Option<VipsSpec>,
    /// IPVS sysctls (`net.ipv4.vs.*`); each absent or null one is left as the host has it.
    #[serde(default)]
    pub sysctls: IpvsSysctlsSpec,
    /// Connection synchronisation between the cluster's directors (the kernel's sync
    /// daemons), so established connections survive when a VIP moves; absent or null:
    /// the agents run none.
    #[serde(default, deserialize_with = "optional_object")]
    pub sync: Option<SyncSpec>,
}

/// An optional object read only from a JSON object: serde's derived structs also take an
/// array, filling their fields in order, so `"vips": []` would mean the defaults.
fn optional_object<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    use serde_json::{Map, Value};
    match Option::<Map<String, Value>>::deserialize(deserializer)? {
        None => Ok(None),
        Some(object) => T::deserialize(Value::Object(object))
            .map(Some)
            .map_err(serde::de::Error::custom),
    }
}

/// The sync daemons every director of the cluster runs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SyncSpec {
    /// The interface the directors reach each other on (multicast 224.0.0.81, port 8848).
    #[cfg_attr(
        feature = "openapi",
        schema(
            example = "eth1",
            min_length = 1,
            max_length = 15,
            pattern = r"^([\x21-\x2d\x30-\x39\x3b-\x7e]|\.[\x21-\x2d\x30-\x39\x3b-\x7e]|\.\.[\x21-\x2e\x30-\x39\x3b-\x7e])[\x21-\x2e\x30-\x39\x3b-\x7e]*$"
        )
    )]
    pub interface: Option<String>,
    /// 0 to 255: tells this cluster's sync messages from another's on the same network;
    /// default 0.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 255))]
    pub sync_id: Option<i64>,
    /// `both` (the default: each director sends its connections and takes the others'),
    /// `master` or `backup`.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(example = "both"))]
    pub role: Option<String>,
}

/// The interface that holds the VIPs on every director of the cluster.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VipsSpec {
    /// The interface's name: 1 to 15 printable ASCII characters, without '/' or ':'; default
    /// `lvs0`.
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(
            example = "lvs0",
            min_length = 1,
            max_length = 15,
            pattern = r"^([\x21-\x2d\x30-\x39\x3b-\x7e]|\.[\x21-\x2d\x30-\x39\x3b-\x7e]|\.\.[\x21-\x2e\x30-\x39\x3b-\x7e])[\x21-\x2e\x30-\x39\x3b-\x7e]*$"
        )
    )]
    pub interface: Option<String>,
    /// true (the default): the agent creates it as a dummy interface and deletes it when
    /// no VIP needs it. false: an existing interface, which the agent only adds addresses to.
    #[serde(default)]
    pub create: Option<bool>,
}

/// IPVS sysctls; absent or null = leave the host's value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IpvsSysctlsSpec {
    /// 0 to 3: bit 0 reschedules a new connection that reuses a port of an old one, bit 1
    /// only when that is safe (the kernel's default is 1).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 3))]
    pub conn_reuse_mode: Option<i64>,
    /// Expire a connection at once when its real server is deleted or quiesced.
    #[serde(default)]
    pub expire_nodest_conn: Option<bool>,
    /// Expire persistence templates of a real server whose weight is 0.
    #[serde(default)]
    pub expire_quiescent_template: Option<bool>,
    /// Let a TCP connection be created from any packet, not only a SYN (after a failover
    /// without connection synchronisation).
    #[serde(default)]
    pub sloppy_tcp: Option<bool>,
    /// Let an SCTP association be created from any chunk, not only an INIT.
    #[serde(default)]
    pub sloppy_sctp: Option<bool>,
    /// Keep netfilter connection tracking for IPVS connections (needed by stateful
    /// firewall rules and SNAT on the director).
    #[serde(default)]
    pub conntrack: Option<bool>,
    /// Schedule ICMP packets that would start a connection.
    #[serde(default)]
    pub schedule_icmp: Option<bool>,
    /// Ignore packets that arrived tunnelled (for a director that is also a tunnel endpoint).
    #[serde(default)]
    pub ignore_tunneled: Option<bool>,
    /// Reroute NAT replies after SNAT by their new source (the kernel's default is on).
    #[serde(default)]
    pub snat_reroute: Option<bool>,
}

impl HostSpec {
    pub fn parse(&self) -> Result<HostSettings, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let vips = match &self.vips {
            None => Some(None),
            Some(vips) => errors.check_nested("vips", vips.parse()).map(Some),
        };
        let sysctls = errors.check_nested("sysctls", self.sysctls.parse());
        let sync = match &self.sync {
            None => Some(None),
            Some(sync) => errors.check_nested("sync", sync.parse()).map(Some),
        };
        match (vips, sysctls, sync) {
            (Some(vips), Some(sysctls), Some(sync)) if errors.is_empty() => Ok(HostSettings {
                vips,
                sysctls,
                sync,
            }),
            _ => Err(errors),
        }
    }
}

impl VipsSpec {
    pub fn parse(&self) -> Result<VipInterface, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let name = errors.check(
            "interface",
            InterfaceName::parse(self.interface.as_deref().unwrap_or(DEFAULT_INTERFACE)),
        );
        errors.into_result().map(|()| VipInterface {
            name: name.expect("checked"),
            create: self.create.unwrap_or(true),
        })
    }
}

impl SyncSpec {
    pub fn parse(&self) -> Result<ConnectionSync, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let interface = match &self.interface {
            None => errors.check("interface", Err("required".into())),
            Some(name) => errors.check("interface", InterfaceName::parse(name)),
        };
        let sync_id = errors.check(
            "sync_id",
            u8::try_from(self.sync_id.unwrap_or(0)).map_err(|_| {
                format!(
                    "must be between 0 and 255, not {}",
                    self.sync_id.unwrap_or(0)
                )
            }),
        );
        let role = match &self.role {
            None => Some(SyncRole::Both),
            Some(word) => errors.check("role", word.parse::<SyncRole>()),
        };
        match (interface, sync_id, role) {
            (Some(interface), Some(sync_id), Some(role)) => Ok(ConnectionSync {
                interface,
                sync_id,
                role,
            }),
            _ => Err(errors),
        }
    }
}

impl From<&ConnectionSync> for SyncSpec {
    fn from(sync: &ConnectionSync) -> Self {
        SyncSpec {
            interface: Some(sync.interface.as_str().to_owned()),
            sync_id: Some(i64::from(sync.sync_id)),
            role: Some(sync.role.to_string()),
        }
    }
}

impl IpvsSysctlsSpec {
    pub fn parse(&self) -> Result<IpvsSysctls, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let max = IpvsSysctls::MAX_CONN_REUSE_MODE;
        let conn_reuse_mode = self.conn_reuse_mode.and_then(|raw| {
            errors.check(
                "conn_reuse_mode",
                u8::try_from(raw)
                    .ok()
                    .filter(|mode| *mode <= max)
                    .ok_or_else(|| format!("must be between 0 and {max}, not {raw}")),
            )
        });
        errors.into_result().map(|()| IpvsSysctls {
            conn_reuse_mode,
            expire_nodest_conn: self.expire_nodest_conn,
            expire_quiescent_template: self.expire_quiescent_template,
            sloppy_tcp: self.sloppy_tcp,
            sloppy_sctp: self.sloppy_sctp,
            conntrack: self.conntrack,
            schedule_icmp: self.schedule_icmp,
            ignore_tunneled: self.ignore_tunneled,
            snat_reroute: self.snat_reroute,
        })
    }
}

impl From<&HostSettings> for HostSpec {
    fn from(host: &HostSettings) -> Self {
        HostSpec {
            vips: host.vips.as_ref().map(|vips| VipsSpec {
                interface: Some(vips.name.as_str().to_owned()),
                create: Some(vips.create),
            }),
            sysctls: host.sysctls.into(),
            sync: host.sync.as_ref().map(SyncSpec::from),
        }
    }
}

impl From<IpvsSysctls> for IpvsSysctlsSpec {
    fn from(s: IpvsSysctls) -> Self {
        IpvsSysctlsSpec {
            conn_reuse_mode: s.conn_reuse_mode.map(i64::from),
            expire_nodest_conn: s.expire_nodest_conn,
            expire_quiescent_template: s.expire_quiescent_template,
            sloppy_tcp: s.sloppy_tcp,
            sloppy_sctp: s.sloppy_sctp,
            conntrack: s.conntrack,
            schedule_icmp: s.schedule_icmp,
            ignore_tunneled: s.ignore_tunneled,
            snat_reroute: s.snat_reroute,
        }
    }
}

#[cfg(test)]
mod object_tests {
    use super::HostSpec;

    /// `"vips": []` is not an object: refused, never read as the defaults.
    #[test]
    fn vips_and_sync_must_be_objects() {
        for json in [r#"{"vips": []}"#, r#"{"sync": [null]}"#] {
            let read: Result<HostSpec, _> = serde_json::from_str(json);
            assert!(read.is_err(), "{json} was read as {read:?}");
        }
        let read: HostSpec =
            serde_json::from_str(r#"{"vips": {"create": false}, "sync": null}"#).expect("read");
        assert_eq!(read.vips.and_then(|v| v.create), Some(false));
        assert_eq!(read.sync, None);
    }
}
