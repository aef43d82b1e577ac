//! `[members.<id>]` and `[operators.<name>]`: who may call the bus, how each proves it, and what
//! each may do. The config seeds the directory; the API changes it at run time (see
//! `crate::auth`).

use serde::{Deserialize, Serialize};

use super::ConfigProblem;
use crate::identifiers::Identifier;

/// `[members.<id>]`: an agency's system (a one-stop system, the national portal).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MemberConfig {
    /// Who it is, for people reading logs and reports.
    pub name: String,
    /// Its client secret's argon2 hash (PHC string, `lgsp hash-secret` makes one), for
    /// `POST /oauth2/token`. Without one, it proves itself by its certificate only, until an
    /// admin rotates a secret for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_hash: Option<String>,
    /// The client certificate that is it, when it calls over mutual TLS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<CertificateBinding>,
    /// What it may do: nothing unless granted.
    #[serde(default)]
    pub rights: Rights,
}

/// `[operators.<name>]`: a person of provincial IT or an agency's leadership.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorConfig {
    pub roles: Vec<Role>,
    /// Their password's argon2 hash (PHC string), for `POST /oauth2/token` and the console.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_hash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<CertificateBinding>,
}

/// What an operator may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads state and metrics.
    Viewer,
    /// Replays and purges dead letters.
    Operator,
    /// Members and their rights.
    Admin,
    /// Lookups of personal data, the message log.
    Auditor,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Operator, Role::Admin, Role::Auditor];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
            Role::Auditor => "auditor",
        }
    }
}

/// Which client certificate is a member's (or an operator's): its public key's SHA-256 (the pin
/// survives a renewal with the same key), or its subject and issuer (survives a new key from the
/// same CA). The certificate must also chain to `[http.tls] client_ca`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, untagged)]
pub enum CertificateBinding {
    /// SHA-256 of the certificate's SubjectPublicKeyInfo, 64 hex digits.
    Pin { spki_sha256: String },
    /// The subject and issuer distinguished names, as RFC 4514 writes them (`CN=…,O=…`).
    Names { subject: String, issuer: String },
}

/// What a member may do. Deny by default: what is not granted here is refused with 403.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rights {
    /// Message types it may send, and for which agencies.
    #[serde(default)]
    pub send: Vec<MessageRight>,
    /// Message types an adapter it registers may receive, and of which agencies (a system takes
    /// the dossiers of its own agencies only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub receive: Vec<MessageRight>,
    /// Services an adapter it registers may answer, such as `land.parcel_lookup`; `*` for any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub offer: Vec<String>,
    /// Services it may ask, and which parts of the answer.
    #[serde(default)]
    pub services: Vec<ServiceRight>,
    /// What it may read.
    #[serde(default)]
    pub read: ReadRights,
}

/// `send = [{ types = [...], agencies = [...] }]`, and the same for `receive`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageRight {
    /// Message types, such as `dossier.status_changed`; `*` for every type.
    pub types: Vec<String>,
    /// Agency codes it speaks for, such as `000.00.01.H42`; `*` for every agency.
    pub agencies: Vec<String>,
}

/// `services = [{ service = "citizen.verify", fields = [...], procedures = [...] }]`
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceRight {
    /// The service, such as `citizen.verify`; `*` for every service.
    pub service: String,
    /// Parts of the record it may ask for (`fields` of the request), `*` for all; none: only the
    /// check itself.
    #[serde(default)]
    pub fields: Vec<String>,
    /// Those parts only for dossiers of these procedures; empty: for any dossier.
    #[serde(default)]
    pub procedures: Vec<String>,
}

/// `read = { messages = "own", dossiers = [...], lookups = "own", reports = true }`
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadRights {
    /// Which messages' state: none, those it sent, or all.
    #[serde(default)]
    pub messages: Scope,
    /// Dossiers of these agencies (handling or competent); `*` for every agency.
    #[serde(default)]
    pub dossiers: Vec<String>,
    /// The audit of lookups: none, those it asked, or all.
    #[serde(default)]
    pub lookups: Scope,
    /// The province's reports (document reuse).
    #[serde(default)]
    pub reports: bool,
}

/// How much of something a member may read; each includes the one before.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    #[default]
    None,
    Own,
    All,
}

/// Every agency, type, service or field, where a right names one.
pub const ANY: &str = "*";

impl Rights {
    /// Every problem, keyed relative to the member's table.
    pub fn problems(&self) -> Vec<ConfigProblem> {
        let mut problems = Vec::new();
        let agencies = self.send.iter().chain(&self.receive).flat_map(|r| &r.agencies).chain(&self.read.dossiers);
        for agency in agencies.filter(|a| *a != ANY) {
            if let Err(invalid) = Identifier::AgencyCode.check(agency) {
                problems.push(ConfigProblem::new("rights", format!("{invalid}, or *")));
            }
        }
        for (list, rights) in [("send", &self.send), ("receive", &self.receive)] {
            for (index, right) in rights.iter().enumerate() {
                if right.types.is_empty() || right.agencies.is_empty() {
                    problems.push(ConfigProblem::new(
                        format!("rights.{list}[{index}]"),
                        "names at least one type and one agency (or *)",
                    ));
                }
            }
        }
        for right in &self.services {
            for procedure in &right.procedures {
                if let Err(invalid) = Identifier::ProcedureCode.check(procedure) {
                    problems.push(ConfigProblem::new("rights.services", invalid.to_string()));
                }
            }
        }
        problems
    }
}

impl CertificateBinding {
    pub fn problems(&self) -> Vec<ConfigProblem> {
        match self {
            CertificateBinding::Pin { spki_sha256 } => {
                let hex = spki_sha256.len() == 64 && spki_sha256.bytes().all(|b| b.is_ascii_hexdigit());
                (!hex).then(|| ConfigProblem::new("certificate.spki_sha256", "is 64 hex digits")).into_iter().collect()
            }
            CertificateBinding::Names { subject, issuer } => [("subject", subject), ("issuer", issuer)]
                .into_iter()
                .filter(|(_, name)| name.trim().is_empty())
                .map(|(key, _)| ConfigProblem::new(format!("certificate.{key}"), "cannot be empty"))
                .collect(),
        }
    }
}

/// A password hash that is not a PHC string: a secret written where its hash belongs, say.
pub fn hash_problem(key: &str, hash: Option<&String>) -> Option<ConfigProblem> {
    let hash = hash?;
    (!hash.starts_with("$argon2")).then(|| {
        ConfigProblem::new(
            key,
            "is an argon2 hash ($argon2id$…), never the secret itself: `lgsp hash-secret` makes one",
        )
    })
}
