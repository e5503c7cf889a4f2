//! Building a client from the settings: which `sf`, which org, which transport.
//!
//! This is where the `transport` setting is resolved. `auto` (the default) uses REST when
//! `sf` can supply a token, because one HTTP request costs milliseconds where one `sf`
//! process costs over a second, and falls back to the CLI transport otherwise.

use crate::cli::CliClient;
use crate::client::{SalesforceClient, Status, TransportKind};
use crate::error::{Error, Result};
use crate::rest::RestClient;
use crate::sf::{Sf, SfConfig};

/// Everything needed to build a client.
#[derive(Debug, Clone, Default)]
pub struct ClientConfig {
    pub sf: SfConfig,
    pub transport: TransportKind,
}

/// Builds the client the settings ask for. Fails with [`Error::NotFound`] when there is no
/// usable `sf`; with `rest`, authentication happens on the first call.
pub fn connect(config: &ClientConfig) -> Result<Box<dyn SalesforceClient>> {
    let sf = Sf::locate(&config.sf)?;
    Ok(match config.transport {
        TransportKind::Cli => Box::new(CliClient::new(sf)),
        TransportKind::Rest => Box::new(RestClient::from_sf(sf)),
        TransportKind::Auto => {
            let rest = RestClient::from_sf(sf.clone());
            match rest.authenticate() {
                Ok(()) => Box::new(rest),
                // Not logged in, or no token to be had: the CLI transport reports the
                // same problem on its first call, in sf's own words.
                Err(e) if !matches!(e, Error::NotFound { .. }) => Box::new(CliClient::new(sf)),
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
