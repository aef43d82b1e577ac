//! Who is calling, and what they may do.
//!
//! A member (an agency's system) or an operator (a person) proves who they are with a token the
//! bus issued (`POST /oauth2/token`, client credentials) or with a client certificate over mutual
//! TLS; both at once must name the same one. What they may do is read from the [`Directory`] at
//! each call: deny by default, every refusal naming the right that is missing.

pub mod certificates;
pub mod directory;
pub mod grants;
pub mod keys;
pub mod passwords;
mod rights;
pub mod tokens;

use std::sync::Arc;

pub use certificates::ClientCertificate;
pub use directory::{Directory, SANDBOX_SECRET};
pub use rights::Denied;
pub use tokens::{Claims, Issued, PrincipalKind, TokenError, Tokens};

use crate::config::{MemberConfig, Role};

/// Everything the bus knows to tell callers apart.
pub struct Auth {
    /// Whether callers must prove who they are (only a loopback bus may say no).
    pub required: bool,
    pub tokens: Tokens,
    pub directory: Directory,
    /// Secrets checked at once, at most: each check is slow on purpose (argon2), and a flood of
    /// token requests must queue, not take every core from the traffic.
    pub secret_checks: tokio::sync::Semaphore,
}

/// How many secrets are checked at once.
pub const SECRET_CHECKS: usize = 2;

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// A member, with its rights as they stand now.
    Member { id: String, member: Arc<MemberConfig> },
    /// An operator, with their roles as they stand now.
    Operator { name: String, roles: Vec<Role> },
    /// Anyone, on a loopback bus that does not ask callers to prove who they are.
    Unchecked,
}

/// Why a caller is not known, as a 401 says it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("no credentials: send `Authorization: Bearer <token>` (from POST /oauth2/token) or a client certificate")]
    Missing,
    #[error("{0}")]
    Token(#[from] TokenError),
    #[error("the client certificate is not one of this bus's members or operators")]
    UnknownCertificate,
    #[error("the token names `{token}` but the client certificate is `{certificate}`")]
    Mismatch { token: String, certificate: String },
    #[error("`{0}` is no longer a member or operator of this bus")]
    Gone(String),
}

impl Auth {
    /// Who presents `bearer` (the `Authorization` header's token) and `certificate` (the TLS
    /// client certificate, already checked against the client CA).
    pub fn authenticate(
        &self,
        bearer: Option<&str>,
        certificate: Option<&ClientCertificate>,
    ) -> Result<Caller, AuthError> {
        let by_token = bearer.map(|token| self.tokens.verify(token)).transpose()?.map(|c| (c.kind, c.sub));
        let by_certificate = match certificate {
            Some(certificate) => Some(self.directory.by_certificate(certificate).ok_or(AuthError::UnknownCertificate)?),
            None => None,
        };
        let (kind, name) = match (by_token, by_certificate) {
            (Some(token), Some(certificate)) if token != certificate => {
                return Err(AuthError::Mismatch { token: token.1, certificate: certificate.1 });
            }
            (Some(who), _) | (None, Some(who)) => who,
            (None, None) if !self.required => return Ok(Caller::Unchecked),
            (None, None) => return Err(AuthError::Missing),
        };
        self.caller(kind, &name).ok_or(AuthError::Gone(name))
    }

    /// The caller `name` is now, with its current rights or roles.
    pub fn caller(&self, kind: PrincipalKind, name: &str) -> Option<Caller> {
        match kind {
            PrincipalKind::Member => {
                let member = self.directory.member(name)?;
                Some(Caller::Member { id: name.to_string(), member })
            }
            PrincipalKind::Operator => {
                let operator = self.directory.operator(name)?;
                Some(Caller::Operator { name: name.to_string(), roles: operator.roles })
            }
        }
    }
}

impl Caller {
    /// Who it is, for the logs and the message log.
    pub fn name(&self) -> &str {
        match self {
            Caller::Member { id, .. } => id,
            Caller::Operator { name, .. } => name,
            Caller::Unchecked => "anyone",
        }
    }

    /// An operator with `role`; every role reads state (what a viewer does).
    pub fn need(&self, role: Role) -> Result<(), Denied> {
        match self {
            Caller::Unchecked => Ok(()),
            Caller::Operator { roles, .. } if role == Role::Viewer || roles.contains(&role) => Ok(()),
            _ => Err(Denied::new(
                format!("role {}", role.as_str()),
                format!("{} is not an operator with the role {}", self.name(), role.as_str()),
            )),
        }
    }

    /// The member it is, or why a member is needed.
    pub fn member(&self) -> Result<Option<(&str, &MemberConfig)>, Denied> {
        match self {
            Caller::Member { id, member } => Ok(Some((id, member))),
            Caller::Unchecked => Ok(None),
            Caller::Operator { name, .. } => {
                Err(Denied::new("member", format!("{name} is an operator: only a member's system does this")))
            }
        }
    }

    pub fn is_operator(&self) -> bool {
        matches!(self, Caller::Operator { .. } | Caller::Unchecked)
    }
}
