//! What every request can reach: the store, the token verifier, the paging signer, the config,
//! the metrics.

use std::sync::Arc;

use domain::ids::LicenseTier;
use storage::Store;

use crate::auth::TokenVerifier;
use crate::config::Config;
use crate::fairness::Gates;
use crate::metrics::Metrics;
use crate::paging::PageSigner;
use crate::ratelimit::RateLimits;

#[derive(Debug, Clone)]
pub struct AppState {
    pub store: Arc<Store>,
    pub verifier: Arc<TokenVerifier>,
    pub pager: Arc<PageSigner>,
    pub config: Arc<Config>,
    pub default_tier: LicenseTier,
    /// Rate-limit buckets, built from `config` (rebuild them when replacing `config`).
    pub limits: Arc<RateLimits>,
    /// Development mode only: the demo tenants' tokens, which `GET /idtrail/dev/tokens` lists for
    /// the console's sign-in picker (the route exists only when this is set).
    pub dev_tokens: Option<Arc<crate::demo::DevTokens>>,
    /// `/metrics`: counted where things happen, read on the metrics listener.
    pub metrics: Arc<Metrics>,
    /// Query and ingest slots per tenant, built from `config` (rebuild them with it too).
    pub gates: Arc<Gates>,
}

impl AppState {
    /// Builds the state, loading (or creating) the paging key from the database so that every
    /// instance and every restart accepts the same skiptokens.
    ///
    /// # Errors
    /// Database errors; a bad `default_license`.
    pub fn new(store: Arc<Store>, verifier: TokenVerifier, config: Config) -> Result<Self, String> {
        let pager = PageSigner::from_store(&store).map_err(|e| e.to_string())?;
        let default_tier = LicenseTier::parse(&config.default_license).map_err(|e| e.to_string())?;
        let limits = Arc::new(RateLimits::from_config(&config));
        let gates = Arc::new(Gates::from_config(&config));
        Ok(Self {
            store,
            verifier: Arc::new(verifier),
            pager: Arc::new(pager),
            config: Arc::new(config),
            default_tier,
            limits,
            dev_tokens: None,
            metrics: Arc::new(Metrics::new()),
            gates,
        })
    }
}
