//! The four adapters' fakes (X, the Graph API, Twilio, SMTP) started
//! together on one [`Ledger`], so a single seed fixes the fault sequence
//! across them and one list holds everything the desk delivered.

use carekit_email::fake::FakeSmtp;
use carekit_facebook::fake::FakeGraph;
use carekit_sms::fake::FakeTwilio;
use carekit_testing::fake_platform::{Delivered, FaultKind, Faults, Ledger, Platform};
use carekit_twitter::fake::FakeX;
use std::collections::BTreeMap;
use std::net::SocketAddr;

/// The sandbox page's id (the fake Graph API answers as this page).
pub(crate) const PAGE: &str = "1234567890";

/// The running fakes. Dropping them stops nothing (they live as long as the
/// runtime); they bind ephemeral ports on 127.0.0.1.
#[derive(Clone, Debug)]
pub struct FakePlatforms {
    ledger: Ledger,
    x: FakeX,
    graph: FakeGraph,
    twilio: FakeTwilio,
    smtp: FakeSmtp,
}

impl FakePlatforms {
    /// Starts the four fakes.
    ///
    /// # Errors
    /// A port could not be bound.
    pub async fn start(faults: Faults) -> std::io::Result<Self> {
        let ledger = Ledger::new(faults);
        Ok(Self {
            x: FakeX::start(ledger.clone()).await?,
            graph: FakeGraph::start(ledger.clone(), PAGE).await?,
            twilio: FakeTwilio::start(ledger.clone()).await?,
            smtp: FakeSmtp::start(ledger.clone()).await?,
            ledger,
        })
    }

    /// X API base URL.
    pub fn x_base_url(&self) -> String {
        self.x.base_url()
    }
    /// Graph API base URL.
    pub fn graph_base_url(&self) -> String {
        self.graph.base_url()
    }
    /// Twilio API base URL.
    pub fn twilio_base_url(&self) -> String {
        self.twilio.base_url()
    }
    /// SMTP sink address.
    pub fn smtp_addr(&self) -> SocketAddr {
        self.smtp.addr()
    }
    /// The ledger the four fakes share.
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }
    /// The configured faults.
    pub fn faults(&self) -> Faults {
        self.ledger.faults()
    }
    /// Everything accepted so far, in order.
    pub fn delivered(&self) -> Vec<Delivered> {
        self.ledger.delivered()
    }
    /// Faults injected so far, by kind.
    pub fn injected(&self) -> BTreeMap<FaultKind, u64> {
        self.ledger.injected()
    }
    /// API calls received, by platform.
    pub fn calls(&self) -> BTreeMap<Platform, u64> {
        self.ledger.calls()
    }
    /// Writes that arrived while the platform's limit was spent, by
    /// platform: a desk that respects limits makes none.
    pub fn over_limit(&self) -> BTreeMap<Platform, u64> {
        self.ledger.over_limit()
    }
}
