//! The desired-state document as JSON.

use serde::ser::SerializeStruct;
use serde::{Deserialize, Serialize, Serializer};

use super::{HostSpec, ServiceSpec, TimeoutsSpec};
use crate::desired::{DesiredService, DesiredState};
use crate::validation::ValidationErrors;

/// A cluster's whole desired configuration: what `GET .../desired-state` returns and
/// `PUT .../desired-state` takes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DesiredStateSpec {
    /// The cluster; on input, when given, it must be the cluster in the URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// On output, the generation of this document. On input, when given, the generation
    /// the document was based on: the write fails with 412 if the cluster has moved on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<u64>,
    /// The cluster's connection timeouts. Required: a document replaces them all, and
    /// `{}` sets none.
    // `Option` so that absence is told from `{}` and reported by `parse`.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required = true, value_type = TimeoutsSpec))]
    pub timeouts: Option<TimeoutsSpec>,
    /// How the agents prepare each director host. Absent on input: a `PUT` keeps the
    /// cluster's (and a document parsed on its own has none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<HostSpec>,
    /// Every virtual service with its `real_servers` (each required here). Required: a
    /// document replaces every service, and `[]` deletes them all.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required = true, value_type = Vec<ServiceSpec>))]
    pub services: Option<Vec<ServiceSpec>>,
}

/// Why `services` must be written out: reading its absence as `[]` would drain the cluster.
const SERVICES_REQUIRED: &str =
    "required: a document replaces every service, so write \"services\": [] to delete them all";
/// Why `timeouts` must be written out: reading its absence as `{}` would clear them.
const TIMEOUTS_REQUIRED: &str =
    "required: a document replaces the cluster's timeouts, so write \"timeouts\": {} to set none";
/// Why a service's `real_servers` must be written out in a document.
const REAL_SERVERS_REQUIRED: &str = "required in a desired-state document: \
     it replaces the service's real servers, so write \"real_servers\": [] for none";

impl DesiredStateSpec {
    /// Validates the whole document, reporting every bad field with its path.
    pub fn parse(&self) -> Result<DesiredState, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let host = match &self.host {
            None => Some(Default::default()),
            Some(host) => errors.check_nested("host", host.parse()),
        };
        let timeouts = match &self.timeouts {
            None => errors.check("timeouts", Err(TIMEOUTS_REQUIRED.into())),
            Some(timeouts) => errors.check_nested("timeouts", timeouts.parse()),
        };
        if self.services.is_none() {
            errors.add("services", SERVICES_REQUIRED);
        }
        let specs = self.services.as_deref().unwrap_or_default();
        let mut services = Vec::with_capacity(specs.len());
        for (i, spec) in specs.iter().enumerate() {
            let path = format!("services[{i}]");
            if spec.real_servers.is_none() {
                errors.add(format!("{path}.real_servers"), REAL_SERVERS_REQUIRED);
            }
            if let Some(service) = errors.check_nested(&path, DesiredService::parse(spec)) {
                services.push(service);
            }
        }
        let generation = self.generation.unwrap_or(0);
        match (timeouts, host) {
            (Some(timeouts), Some(host)) if errors.is_empty() => {
                let mut state = DesiredState::new(generation, timeouts, services)?;
                state.host = host;
                Ok(state)
            }
            _ => Err(errors),
        }
    }
}

impl From<&DesiredState> for DesiredStateSpec {
    fn from(state: &DesiredState) -> Self {
        DesiredStateSpec {
            cluster: None,
            generation: Some(state.generation),
            timeouts: Some(state.timeouts.into()),
            host: Some(HostSpec::from(&state.host)),
            services: Some(state.services().map(DesiredService::to_spec).collect()),
        }
    }
}

/// A desired state written in its JSON form (the same bytes as its `DesiredStateSpec`) one
/// service at a time: building the whole spec first would take tens of megabytes for a
/// cluster of 10,000 services.
#[derive(Debug, Clone, Copy)]
pub struct DocumentView<'a> {
    pub cluster: Option<&'a str>,
    pub state: &'a DesiredState,
}

impl Serialize for DocumentView<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        struct Services<'a>(&'a DesiredState);
        impl Serialize for Services<'_> {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_seq(self.0.services().map(DesiredService::to_spec))
            }
        }
        // Field order and skipping as in the derived `DesiredStateSpec`.
        let mut document = serializer.serialize_struct("DesiredStateSpec", 5)?;
        match self.cluster {
            Some(cluster) => document.serialize_field("cluster", cluster)?,
            None => document.skip_field("cluster")?,
        }
        document.serialize_field("generation", &self.state.generation)?;
        document.serialize_field("timeouts", &TimeoutsSpec::from(self.state.timeouts))?;
        document.serialize_field("host", &HostSpec::from(&self.state.host))?;
        document.serialize_field("services", &Services(self.state))?;
        document.end()
    }
}
