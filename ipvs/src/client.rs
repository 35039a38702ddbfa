//! [`Ipvs`]: the public client, one persistent netlink connection per value.

use std::net::SocketAddr;

use crate::codec::{AttrId, Nack, Reply, Request};
use crate::command::Command;
use crate::consts::{Cmd, CmdAttr, InfoAttr, FAMILY_VERSION};
use crate::daemon::{self, Info, SyncDaemon, Timeouts};
use crate::dest::{self, Destination, DestinationEntry};
use crate::error::{Action, Error, KernelError, Target};
use crate::key::{DaemonState, ServiceKey};
use crate::service::{self, Service, ServiceEntry};
use crate::socket::{Config, Connection};

/// A client for the IPVS table of one network namespace: the namespace of the thread that
/// called [`Ipvs::connect`], for the client's whole life, whichever thread uses it later.
///
/// Every method is one netlink exchange (a table dump is one per service); nothing is
/// looked up before a change, so an edit costs the same on a large table as on an empty one.
#[derive(Debug)]
pub struct Ipvs {
    conn: Connection,
}

/// A service with its destinations, as [`Ipvs::table`] returns them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableEntry {
    pub service: ServiceEntry,
    pub destinations: Vec<DestinationEntry>,
}

/// The outcome of [`Ipvs::apply`]: one result per command, in the order given.
#[derive(Debug)]
pub struct BatchReport {
    results: Vec<Result<(), Error>>,
}

impl BatchReport {
    /// One result per command.
    pub fn results(&self) -> &[Result<(), Error>] {
        &self.results
    }

    /// The index and error of every command that failed.
    pub fn failures(&self) -> impl Iterator<Item = (usize, &Error)> {
        self.results
            .iter()
            .enumerate()
            .filter_map(|(i, r)| r.as_ref().err().map(|e| (i, e)))
    }

    /// How many commands the kernel applied.
    pub fn applied(&self) -> usize {
        self.results.iter().filter(|r| r.is_ok()).count()
    }

    /// Whether every command was applied.
    pub fn is_ok(&self) -> bool {
        self.results.iter().all(Result::is_ok)
    }

    pub fn into_results(self) -> Vec<Result<(), Error>> {
        self.results
    }
}

impl Ipvs {
    /// Opens a connection in the calling thread's network namespace with default sizing.
    pub fn connect() -> Result<Self, Error> {
        Self::connect_with(Config::default())
    }

    /// Opens a connection with explicit socket and batch sizing.
    pub fn connect_with(config: Config) -> Result<Self, Error> {
        Ok(Ipvs {
            conn: Connection::open(config)?,
        })
    }

    /// The sizing this client was opened with.
    pub fn config(&self) -> Config {
        self.conn.config()
    }

    /// Applies one command.
    pub fn execute(&mut self, command: &Command) -> Result<(), Error> {
        let request = self.conn.request(command.encode()?, false)?;
        let outcome = self.conn.transact(&[request], |_, _| Ok(()))?;
        match outcome.into_iter().next() {
            Some(Err(nack)) => Err(kernel_error(command.action(), command.target(), nack)),
            _ => Ok(()),
        }
    }

    /// Applies many commands, written back to back into as few `sendmsg` calls as the
    /// [`Config`] allows, each acknowledged on its own. There is no transaction: the report
    /// says which commands the kernel applied and why each other one failed. `Err` means
    /// the connection itself failed; commands of unfinished batches may then have been
    /// applied or not.
    pub fn apply(&mut self, commands: &[Command]) -> Result<BatchReport, Error> {
        let mut results: Vec<Result<(), Error>> = Vec::with_capacity(commands.len());
        let mut requests = Vec::with_capacity(commands.len());
        let mut sent = Vec::with_capacity(commands.len());
        for (i, command) in commands.iter().enumerate() {
            match command
                .encode()
                .and_then(|request| self.conn.request(request, false))
            {
                Ok(request) => {
                    requests.push(request);
                    sent.push(i);
                    results.push(Ok(()));
                }
                Err(e) => results.push(Err(e)),
            }
        }
        let outcomes = self.conn.transact(&requests, |_, _| Ok(()))?;
        for (i, outcome) in sent.into_iter().zip(outcomes) {
            if let Err(nack) = outcome {
                let command = &commands[i];
                results[i] = Err(kernel_error(command.action(), command.target(), nack));
            }
        }
        Ok(BatchReport { results })
    }

    /// Adds a virtual service.
    pub fn add_service(&mut self, service: &Service) -> Result<(), Error> {
        self.execute(&Command::AddService(service.clone()))
    }

    /// Changes a service's scheduler, flags, persistence or engine in place.
    pub fn edit_service(&mut self, service: &Service) -> Result<(), Error> {
        self.execute(&Command::EditService(service.clone()))
    }

    /// Deletes a service and its destinations.
    pub fn delete_service(&mut self, key: &ServiceKey) -> Result<(), Error> {
        self.execute(&Command::DeleteService(*key))
    }

    /// Adds a destination to a service.
    pub fn add_destination(&mut self, key: &ServiceKey, dest: &Destination) -> Result<(), Error> {
        self.execute(&Command::AddDestination(*key, *dest))
    }

    /// Changes a destination's weight, thresholds or forwarding in place.
    pub fn edit_destination(&mut self, key: &ServiceKey, dest: &Destination) -> Result<(), Error> {
        self.execute(&Command::EditDestination(*key, *dest))
    }

    /// Removes a destination from a service.
    pub fn delete_destination(&mut self, key: &ServiceKey, addr: SocketAddr) -> Result<(), Error> {
        self.execute(&Command::DeleteDestination(*key, addr))
    }

    /// Zeroes the counters of one service, or of every service with `None`.
    pub fn zero(&mut self, key: Option<&ServiceKey>) -> Result<(), Error> {
        self.execute(&key.map_or(Command::ZeroAll, |k| Command::ZeroService(*k)))
    }

    /// Deletes every service.
    pub fn flush(&mut self) -> Result<(), Error> {
        self.execute(&Command::Flush)
    }

    /// Sets connection timeouts; zero fields stay as they are.
    pub fn set_timeouts(&mut self, timeouts: &Timeouts) -> Result<(), Error> {
        self.execute(&Command::SetTimeouts(*timeouts))
    }

    /// Starts a connection-sync daemon.
    pub fn start_daemon(&mut self, daemon: &SyncDaemon) -> Result<(), Error> {
        self.execute(&Command::StartDaemon(daemon.clone()))
    }

    /// Stops the sync daemon running in `state`.
    pub fn stop_daemon(&mut self, state: DaemonState) -> Result<(), Error> {
        self.execute(&Command::StopDaemon(state))
    }

    /// IPVS version and connection table size.
    pub fn info(&mut self) -> Result<Info, Error> {
        self.get(
            request::<InfoAttr>(Cmd::GetInfo),
            Action::Get,
            Target::Info,
            |reply| daemon::decode_info(&reply.attrs("info")?),
        )
    }

    /// The connection timeouts in force.
    pub fn timeouts(&mut self) -> Result<Timeouts, Error> {
        self.get(
            request::<CmdAttr>(Cmd::GetConfig),
            Action::Get,
            Target::Timeouts,
            |reply| daemon::decode_timeouts(&reply.attrs("config")?),
        )
    }

    /// One service by key.
    pub fn service(&mut self, key: &ServiceKey) -> Result<ServiceEntry, Error> {
        let mut request = request::<CmdAttr>(Cmd::GetService);
        request
            .attrs()
            .nested(CmdAttr::Service, |a| service::write_key(a, key))?;
        self.get(request, Action::Get, Target::Service(*key), |reply| {
            let top = reply.attrs::<CmdAttr>("reply")?;
            service::decode_service(&top.nested(CmdAttr::Service, "service")?)
        })
    }

    /// Every service, in the kernel's hash order.
    pub fn services(&mut self) -> Result<Vec<ServiceEntry>, Error> {
        let request = self
            .conn
            .request(request::<CmdAttr>(Cmd::GetService), true)?;
        let mut services = Vec::new();
        let outcome = self.conn.dump(&request, |reply| {
            let top = reply.attrs::<CmdAttr>("reply")?;
            services.push(service::decode_service(
                &top.nested(CmdAttr::Service, "service")?,
            )?);
            Ok(())
        })?;
        outcome.map_err(|nack| kernel_error(Action::List, Target::Table, nack))?;
        Ok(services)
    }

    /// The destinations of one service.
    pub fn destinations(&mut self, key: &ServiceKey) -> Result<Vec<DestinationEntry>, Error> {
        let dests = self.dump_destinations(key)?;
        if dests.is_empty() {
            // The kernel answers a dump for a missing service with nothing at all.
            self.service(key)?;
        }
        Ok(dests)
    }

    /// Every service with its destinations: one dump of the services, then one per service.
    pub fn table(&mut self) -> Result<Vec<TableEntry>, Error> {
        let services = self.services()?;
        let mut table = Vec::with_capacity(services.len());
        for service in services {
            let destinations = self.dump_destinations(&service.service.key)?;
            table.push(TableEntry {
                service,
                destinations,
            });
        }
        Ok(table)
    }

    /// The running sync daemons.
    pub fn daemons(&mut self) -> Result<Vec<SyncDaemon>, Error> {
        let request = self
            .conn
            .request(request::<CmdAttr>(Cmd::GetDaemon), true)?;
        let mut daemons = Vec::new();
        let outcome = self.conn.dump(&request, |reply| {
            let top = reply.attrs::<CmdAttr>("reply")?;
            daemons.push(daemon::decode_daemon(
                &top.nested(CmdAttr::Daemon, "daemon")?,
            )?);
            Ok(())
        })?;
        outcome.map_err(|nack| kernel_error(Action::List, Target::Daemon(None), nack))?;
        Ok(daemons)
    }

    fn dump_destinations(&mut self, key: &ServiceKey) -> Result<Vec<DestinationEntry>, Error> {
        let mut request = request::<CmdAttr>(Cmd::GetDest);
        request
            .attrs()
            .nested(CmdAttr::Service, |a| service::write_key(a, key))?;
        let request = self.conn.request(request, true)?;
        let family = key.family();
        let mut dests = Vec::new();
        let outcome = self.conn.dump(&request, |reply| {
            let top = reply.attrs::<CmdAttr>("reply")?;
            dests.push(dest::decode_dest(
                &top.nested(CmdAttr::Dest, "destination")?,
                family,
            )?);
            Ok(())
        })?;
        outcome.map_err(|nack| kernel_error(Action::List, Target::Destinations(*key), nack))?;
        Ok(dests)
    }

    /// A request answered by one reply message (then its acknowledgement), read by
    /// `decode`.
    fn get<A: AttrId, T>(
        &mut self,
        request: Request<A>,
        action: Action,
        target: Target,
        decode: impl FnOnce(Reply<'_>) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let request = self.conn.request(request, false)?;
        let mut decode = Some(decode);
        let mut reply = None;
        let outcome = self.conn.transact(&[request], |_, r| {
            if let Some(decode) = decode.take() {
                reply = Some(decode(r)?);
            }
            Ok(())
        })?;
        if let Some(Err(nack)) = outcome.into_iter().next() {
            return Err(kernel_error(action, target, nack));
        }
        reply.ok_or_else(|| Error::Decode(format!("no reply to {action} {target}")))
    }
}

/// An IPVS request for `cmd`, its attributes still to write.
fn request<T: AttrId>(cmd: Cmd) -> Request<T> {
    Request::new(cmd.id(), FAMILY_VERSION)
}

fn kernel_error(action: Action, target: Target, nack: Nack) -> Error {
    KernelError::new(action, target, nack.errno, nack.message).into()
}
