//! Commands that change the kernel's table: one netlink message each, sent alone or in
//! batches.

use std::net::SocketAddr;

use crate::codec::Request;
use crate::consts::{Cmd, CmdAttr, FAMILY_VERSION};
use crate::daemon::{self, SyncDaemon, Timeouts};
use crate::dest::{self, Destination};
use crate::error::{Action, Error, Target};
use crate::key::{DaemonState, ServiceKey};
use crate::service::{self, Service};

/// One change to IPVS. The kernel applies each command on its own: in a batch, a failed
/// command does not stop or undo the others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `IPVS_CMD_NEW_SERVICE` (`ipvsadm -A`).
    AddService(Service),
    /// `IPVS_CMD_SET_SERVICE` (`ipvsadm -E`): in place, connections kept.
    EditService(Service),
    /// `IPVS_CMD_DEL_SERVICE` (`ipvsadm -D`), with its destinations.
    DeleteService(ServiceKey),
    /// `IPVS_CMD_NEW_DEST` (`ipvsadm -a`).
    AddDestination(ServiceKey, Destination),
    /// `IPVS_CMD_SET_DEST` (`ipvsadm -e`): in place, connections kept.
    EditDestination(ServiceKey, Destination),
    /// `IPVS_CMD_DEL_DEST` (`ipvsadm -d`).
    DeleteDestination(ServiceKey, SocketAddr),
    /// `IPVS_CMD_ZERO` with a service (`ipvsadm -Z -t ...`).
    ZeroService(ServiceKey),
    /// `IPVS_CMD_ZERO` without one (`ipvsadm -Z`).
    ZeroAll,
    /// `IPVS_CMD_FLUSH` (`ipvsadm -C`).
    Flush,
    /// `IPVS_CMD_SET_CONFIG` (`ipvsadm --set`); zero fields are left unchanged.
    SetTimeouts(Timeouts),
    /// `IPVS_CMD_NEW_DAEMON` (`ipvsadm --start-daemon`).
    StartDaemon(SyncDaemon),
    /// `IPVS_CMD_DEL_DAEMON` (`ipvsadm --stop-daemon`).
    StopDaemon(DaemonState),
}

impl Command {
    /// What the command does.
    pub fn action(&self) -> Action {
        match self {
            Command::AddService(_) | Command::AddDestination(..) => Action::Add,
            Command::EditService(_) | Command::EditDestination(..) => Action::Edit,
            Command::DeleteService(_) | Command::DeleteDestination(..) => Action::Delete,
            Command::ZeroService(_) | Command::ZeroAll => Action::Zero,
            Command::Flush => Action::Flush,
            Command::SetTimeouts(_) => Action::Set,
            Command::StartDaemon(_) => Action::Start,
            Command::StopDaemon(_) => Action::Stop,
        }
    }

    /// The object the command acts on.
    pub fn target(&self) -> Target {
        match self {
            Command::AddService(svc) | Command::EditService(svc) => Target::ServiceWith {
                key: svc.key,
                scheduler: svc.scheduler.name().to_owned(),
                engine: svc.persistence_engine.clone(),
            },
            Command::DeleteService(key) | Command::ZeroService(key) => Target::Service(*key),
            Command::AddDestination(key, d) | Command::EditDestination(key, d) => {
                Target::Destination {
                    service: *key,
                    addr: d.addr,
                }
            }
            Command::DeleteDestination(key, addr) => Target::Destination {
                service: *key,
                addr: *addr,
            },
            Command::ZeroAll | Command::Flush => Target::Table,
            Command::SetTimeouts(_) => Target::Timeouts,
            Command::StartDaemon(d) => Target::Daemon(Some(d.state)),
            Command::StopDaemon(state) => Target::Daemon(Some(*state)),
        }
    }

    /// The request: the generic netlink command and its top-level attributes.
    pub(crate) fn encode(&self) -> Result<Request<CmdAttr>, Error> {
        let cmd = match self {
            Command::AddService(_) => Cmd::NewService,
            Command::EditService(_) => Cmd::SetService,
            Command::DeleteService(_) => Cmd::DelService,
            Command::AddDestination(..) => Cmd::NewDest,
            Command::EditDestination(..) => Cmd::SetDest,
            Command::DeleteDestination(..) => Cmd::DelDest,
            Command::ZeroService(_) | Command::ZeroAll => Cmd::Zero,
            Command::Flush => Cmd::Flush,
            Command::SetTimeouts(_) => Cmd::SetConfig,
            Command::StartDaemon(_) => Cmd::NewDaemon,
            Command::StopDaemon(_) => Cmd::DelDaemon,
        };
        let mut request = Request::new(cmd.id(), FAMILY_VERSION);
        let mut attrs = request.attrs();
        match self {
            Command::AddService(svc) | Command::EditService(svc) => {
                attrs.nested(CmdAttr::Service, |a| service::write_service(a, svc))?;
            }
            Command::DeleteService(key) | Command::ZeroService(key) => {
                attrs.nested(CmdAttr::Service, |a| service::write_key(a, key))?;
            }
            Command::AddDestination(key, d) | Command::EditDestination(key, d) => {
                attrs
                    .nested(CmdAttr::Service, |a| service::write_key(a, key))?
                    .nested(CmdAttr::Dest, |a| dest::write_dest(a, d))?;
            }
            Command::DeleteDestination(key, addr) => {
                attrs
                    .nested(CmdAttr::Service, |a| service::write_key(a, key))?
                    .nested(CmdAttr::Dest, |a| dest::write_key(a, *addr))?;
            }
            Command::ZeroAll | Command::Flush => {}
            Command::SetTimeouts(timeouts) => daemon::write_timeouts(&mut attrs, timeouts)?,
            Command::StartDaemon(d) => {
                attrs.nested(CmdAttr::Daemon, |a| daemon::write_daemon(a, d))?;
            }
            Command::StopDaemon(state) => {
                attrs.nested(CmdAttr::Daemon, |a| daemon::write_stop(a, *state))?;
            }
        }
        Ok(request)
    }
}
