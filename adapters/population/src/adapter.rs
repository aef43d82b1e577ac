//! The `population` adapter: answers `citizen.verify` from the national population database.
//!
//! One request is one SOAP lookup by CCCD, for one dossier, on behalf of the member asking (sent
//! as `MaCanBo`). The reply says whether the name and date of birth match and, on a match only,
//! carries the fields the request asked for and nothing else. Logs name the dossier and the
//! outcome, never the citizen or the bodies.

use async_trait::async_trait;
use lgsp_bus::privacy::redact;
use lgsp_bus::{Adapter, Failure, ServiceError, ServiceRequest};
use serde_json::Value;

use crate::client::{ClientError, RegistryClient};
use crate::config::PopulationConfig;
use crate::events;
use crate::mapping::{self, Decision, Lookup, VerifyRequest};

/// The service this adapter answers.
pub const CITIZEN_VERIFY: &str = "citizen.verify";

pub struct PopulationAdapter {
    client: RegistryClient,
    ma_dvc: String,
    ma_tich_hop: String,
}

impl PopulationAdapter {
    pub fn new(config: &PopulationConfig) -> Result<PopulationAdapter, ClientError> {
        Ok(PopulationAdapter {
            client: RegistryClient::new(config)?,
            ma_dvc: config.ma_dvc.clone(),
            ma_tich_hop: config.ma_tich_hop.clone(),
        })
    }

    /// One lookup for `member`, under the bus's lookup id (sent as `MaYeuCau`, so that the
    /// registry's log and the bus's audit can be matched): the decision, or why there is none.
    pub async fn verify(
        &self,
        member: &str,
        request_id: &str,
        request: &VerifyRequest,
    ) -> Result<Decision, ServiceError> {
        let dossier = request.dossier_code.as_str();
        let lookup = Lookup::new(request, &self.ma_dvc, &self.ma_tich_hop, member, request_id);
        let envelope = mapping::request_envelope(&lookup).map_err(|why| {
            ServiceError::Refused(Failure::new(redact(&format!("lookup for {dossier} not sent: {why}"))))
        })?;
        let citizens = self.client.lookup(envelope).await.map_err(|e| e.service_error(dossier))?;
        mapping::decide(request, &citizens).map_err(|e| e.service_error(dossier, None))
    }
}

#[async_trait]
impl Adapter for PopulationAdapter {
    fn services(&self) -> Vec<String> {
        vec![CITIZEN_VERIFY.to_string()]
    }

    async fn call(&self, request: &ServiceRequest) -> Result<Value, ServiceError> {
        if request.service != CITIZEN_VERIFY {
            let failure = Failure::new(format!("{} is not served by the population adapter", request.service));
            return Err(ServiceError::Unavailable(failure));
        }
        let verify = VerifyRequest::from_body(&request.body).map_err(|reason| {
            events::request_unreadable(&reason);
            ServiceError::Refused(Failure::new(reason))
        })?;
        let dossier = verify.dossier_code.as_str();
        match self.verify(&request.member, &request.request_id, &verify).await {
            Ok(decision) => {
                events::looked_up(dossier, decision.outcome.name());
                if !decision.unusable.is_empty() {
                    let fields: Vec<&str> = decision.unusable.iter().map(|f| f.name()).collect();
                    events::fields_unusable(dossier, &fields);
                }
                Ok(decision.reply)
            }
            Err(error) => {
                let (outcome, failure) = match &error {
                    ServiceError::Refused(failure) => ("refused", failure),
                    ServiceError::Unavailable(failure) => ("unavailable", failure),
                };
                events::lookup_failed(dossier, outcome, &failure.reason);
                Err(error)
            }
        }
    }
}
