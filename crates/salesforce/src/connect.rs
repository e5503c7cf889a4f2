//! Building a client from the settings: which `sf`, which org, which transport. This is the
//! one connect path: the CLI, the web app (through the engine) and the tests all come here.
//!
//! This is where the `transport` setting is resolved. `auto` (the default) uses REST when
//! `sf` can supply a token, because one HTTP request costs milliseconds where one `sf`
//! process costs over a second, and falls back to the CLI transport otherwise.
//!
//! Finding `sf` costs an `sf --version` probe per install; the caller passes a [`Locator`]
//! holding what earlier probes found and keeps what it knows afterwards, so a process that
//! starts often (each CLI command) does not pay for the probes again.

use std::sync::Arc;

use crate::cli::CliClient;
use crate::client::{SalesforceClient, Status, TransportKind};
use crate::error::{Error, Result};
use crate::rest::RestClient;
use crate::sf::{Locator, OrgSummary, Sf, SfConfig};

/// Everything needed to build a client.
#[derive(Debug, Clone, Default)]
pub struct ClientConfig {
    pub sf: SfConfig,
    pub transport: TransportKind,
    /// The org's API version as an earlier run learned it: given to `sf` up front, since
    /// on the CLI transport learning it costs an `sf org display`. A malformed value is
    /// ignored (sf is asked instead).
    pub api_version: Option<String>,
}

/// Builds the client the settings ask for, locating `sf` with `locator`. Fails with
/// [`Error::NotFound`] when there is no usable `sf`; with `rest`, authentication happens on
/// the first call.
pub fn connect(config: &ClientConfig, locator: &mut Locator) -> Result<Arc<dyn SalesforceClient>> {
    let sf = locator.locate(&config.sf)?;
    let sf = match &config.api_version {
        Some(version) => sf.clone().with_api_version(version).unwrap_or(sf),
        None => sf,
    };
    Ok(match config.transport {
        TransportKind::Cli => Arc::new(CliClient::new(sf)),
        TransportKind::Rest => Arc::new(RestClient::from_sf(sf)),
        TransportKind::Auto => {
            let rest = RestClient::from_sf(sf.clone());
            match rest.authenticate() {
                Ok(()) => Arc::new(rest),
                // Not logged in, or no token to be had: the CLI transport reports the
                // same problem on its first call, in sf's own words.
                Err(e) if !matches!(e, Error::NotFound { .. }) => Arc::new(CliClient::new(sf)),
                Err(e) => return Err(e),
            }
        }
    })
}

/// The status for Settings > Salesforce CLI, including `not_found` with the places searched.
pub fn status(config: &SfConfig) -> Result<Status> {
    match Sf::locate(config) {
        Ok(sf) => sf.status(),
        Err(Error::NotFound { searched, detail }) => Ok(Status::NotFound { searched, detail }),
        Err(e) => Err(e),
    }
}

/// What Settings > Salesforce CLI and `upsight status` show: the status, the version of the
/// `sf` used, and the orgs `sf` knows (for the target-org picker).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SfReport {
    pub status: Status,
    pub version: Option<String>,
    pub orgs: Vec<OrgSummary>,
}

/// The report, locating `sf` with `locator`: the probes of installs it does not know, then
/// one `sf org list`, which answers both the status and the org list (`sf org display` and
/// `sf org list` would be two processes).
pub fn report(config: &SfConfig, locator: &mut Locator) -> Result<SfReport> {
    match locator.locate(config) {
        Ok(sf) => {
            let (status, orgs) = sf.report()?;
            Ok(SfReport {
                status,
                version: sf.version().map(str::to_owned),
                orgs,
            })
        }
        Err(Error::NotFound { searched, detail }) => Ok(SfReport {
            status: Status::NotFound { searched, detail },
            version: None,
            orgs: Vec::new(),
        }),
        Err(e) => Err(e),
    }
}
