//! Deny by default: each check says yes, or which right is missing.

use super::Caller;
use crate::config::{ANY, MemberConfig, Role, Scope};

/// A right the caller does not have: answered 403, naming it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{detail}")]
pub struct Denied {
    /// The right, in a few words: `send dossier.status_changed for 000.00.01.H42`.
    pub right: String,
    /// Why, for the caller.
    pub detail: String,
}

impl Denied {
    pub fn new(right: impl Into<String>, detail: impl Into<String>) -> Denied {
        Denied { right: right.into(), detail: detail.into() }
    }
}

impl Caller {
    /// Sending a message of `message_type` with `source`, for `agency` (the agency it speaks for:
    /// its payload's `agency_code`, or the dossier's competent agency; `None` when neither is known).
    pub fn may_send(&self, source: &str, message_type: &str, agency: Option<&str>) -> Result<(), Denied> {
        let Some((id, member)) = self.member()? else { return Ok(()) };
        if source != id {
            return Err(Denied::new(
                format!("send as {source}"),
                format!(
                    "the envelope's source is `{source}` but the caller is `{id}`: a member sends in its own name only"
                ),
            ));
        }
        let covered = member.rights.send.iter().any(|right| {
            right.types.iter().any(|t| t == ANY || t == message_type)
                && right.agencies.iter().any(|a| a == ANY || Some(a.as_str()) == agency)
        });
        if covered {
            return Ok(());
        }
        let agency = agency.unwrap_or("an unknown agency");
        Err(Denied::new(
            format!("send {message_type} for {agency}"),
            format!("{id} may not send {message_type} for {agency} (see its rights: GET /v1/members/{id})"),
        ))
    }

    /// Registering an adapter that receives `message_type` of `agency` (`*`: of every agency).
    pub fn may_receive(&self, message_type: &str, agency: &str) -> Result<(), Denied> {
        let Some((id, member)) = self.registrant()? else { return Ok(()) };
        let covered = member.rights.receive.iter().any(|right| {
            right.types.iter().any(|t| t == ANY || t == message_type)
                && right.agencies.iter().any(|a| a == ANY || a == agency)
        });
        if covered {
            return Ok(());
        }
        let whose = if agency == ANY { "every agency".to_string() } else { agency.to_string() };
        Err(Denied::new(
            format!("receive {message_type} of {whose}"),
            format!("{id} may not receive {message_type} of {whose} (see its rights: GET /v1/members/{id})"),
        ))
    }

    /// Registering an adapter that answers `service`.
    pub fn may_offer(&self, service: &str) -> Result<(), Denied> {
        let Some((id, member)) = self.registrant()? else { return Ok(()) };
        if member.rights.offer.iter().any(|s| s == ANY || s == service) {
            return Ok(());
        }
        Err(Denied::new(format!("offer {service}"), format!("{id} may not answer {service} with an adapter")))
    }

    /// Registering an adapter with raw routing-key patterns, which no right can be checked
    /// against: admins only.
    pub fn may_route(&self) -> Result<(), Denied> {
        match self.registrant()? {
            None => Ok(()),
            Some((id, _)) => Err(Denied::new(
                "routes (admins only)",
                format!(
                    "{id} subscribes with `subscriptions` (types and agencies, checked against its rights); `routes` are for admins"
                ),
            )),
        }
    }

    /// The member registering (`None`: an admin, who may register anything), or why the caller
    /// may not register adapters.
    pub fn registrant(&self) -> Result<Option<(&str, &MemberConfig)>, Denied> {
        match self {
            Caller::Member { id, member } => Ok(Some((id, member))),
            _ => self.need(Role::Admin).map(|()| None),
        }
    }

    /// Asking `service` for `fields`, about a dossier of `procedure` (`None`: not known to the bus).
    pub fn may_ask(&self, service: &str, fields: &[String], procedure: Option<&str>) -> Result<(), Denied> {
        let Some((id, member)) = self.member()? else { return Ok(()) };
        let rights: Vec<_> =
            member.rights.services.iter().filter(|r| r.service == ANY || r.service == service).collect();
        if rights.is_empty() {
            return Err(Denied::new(format!("ask {service}"), format!("{id} may not ask {service}")));
        }
        for field in fields {
            let granted = rights.iter().any(|right| {
                right.fields.iter().any(|f| f == ANY || f == field)
                    && (right.procedures.is_empty()
                        || procedure.is_some_and(|p| right.procedures.iter().any(|r| r == p)))
            });
            if !granted {
                let whose = match procedure {
                    Some(procedure) => format!("a dossier of procedure {procedure}"),
                    None => "a dossier the bus does not know (its procedure cannot be checked)".to_string(),
                };
                return Err(Denied::new(
                    format!("ask {service} {field}"),
                    format!("{id} may not ask {service} for {field} about {whose}"),
                ));
            }
        }
        Ok(())
    }

    /// Reading the state of a message `source` sent.
    pub fn may_read_message(&self, source: &str) -> Result<(), Denied> {
        let Some((id, member)) = self.member_or_viewer()? else { return Ok(()) };
        match member.rights.read.messages {
            Scope::All => Ok(()),
            Scope::Own if source == id => Ok(()),
            _ => Err(Denied::new(
                "read messages of other members",
                format!("{id} may read only the messages it sent, if any"),
            )),
        }
    }

    /// Reading a dossier handled by, or routed to, `agencies`.
    pub fn may_read_dossier(&self, agencies: &[&str]) -> Result<(), Denied> {
        let Some((id, member)) = self.member_or_viewer()? else { return Ok(()) };
        let granted = &member.rights.read.dossiers;
        if granted.iter().any(|a| a == ANY || agencies.contains(&a.as_str())) {
            return Ok(());
        }
        let agencies = if agencies.is_empty() { "no known agency".to_string() } else { agencies.join(", ") };
        Err(Denied::new(format!("read dossiers of {agencies}"), format!("{id} may not read dossiers of {agencies}")))
    }

    /// Reading the audit of lookups: every lookup (an auditor, or a member granted all) or only
    /// the member's own (`Some(id)`).
    pub fn may_read_lookups(&self) -> Result<Option<String>, Denied> {
        if let Caller::Operator { .. } = self {
            return self.need(Role::Auditor).map(|()| None);
        }
        let Some((id, member)) = self.member()? else { return Ok(None) };
        match member.rights.read.lookups {
            Scope::All => Ok(None),
            Scope::Own => Ok(Some(id.to_string())),
            Scope::None => Err(Denied::new("read lookups", format!("{id} may not read the audit of lookups"))),
        }
    }

    /// Reading the province's reports.
    pub fn may_read_reports(&self) -> Result<(), Denied> {
        let Some((id, member)) = self.member_or_viewer()? else { return Ok(()) };
        if member.rights.read.reports {
            Ok(())
        } else {
            Err(Denied::new("read reports", format!("{id} may not read the province's reports")))
        }
    }

    /// The member, or `None` for an operator (every role reads state) or an unchecked caller.
    fn member_or_viewer(&self) -> Result<Option<(&str, &crate::config::MemberConfig)>, Denied> {
        if self.is_operator() { Ok(None) } else { self.member() }
    }
}
