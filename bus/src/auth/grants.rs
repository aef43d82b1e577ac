//! Changing a member's rights: what an admin grants or revokes, checked against the catalogue
//! (a right that names no message type, service or field of this bus is refused).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use std::collections::BTreeMap;

use crate::config::{ANY, ConfigProblem, MemberConfig, MessageRight, ReadRights, Rights, Scope, ServiceRight};
use crate::schema::Catalogue;

/// One change of rights: any of a send right, a receive right, a service right, a service to
/// offer and read rights.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RightsChange {
    /// Granted: added as it is. Revoked: these types no longer for these agencies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send: Option<MessageRight>,
    /// Granted: added as it is. Revoked: these types no longer for these agencies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receive: Option<MessageRight>,
    /// Granted: added as it is. Revoked: the service (or only these fields of it) no longer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<ServiceRight>,
    /// A service its adapters may answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offer: Option<String>,
    /// Granted: these scopes, agencies and reports. Revoked: back to none for those named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read: Option<ReadRights>,
}

impl RightsChange {
    pub fn is_empty(&self) -> bool {
        self.send.is_none()
            && self.receive.is_none()
            && self.service.is_none()
            && self.offer.is_none()
            && self.read.is_none()
    }

    /// The rights `rights` would hold after granting this.
    pub fn granted(&self, rights: &Rights) -> Rights {
        let mut rights = rights.clone();
        for (granted, list) in [(&self.send, &mut rights.send), (&self.receive, &mut rights.receive)] {
            if let Some(right) = granted
                && !list.contains(right)
            {
                list.push(right.clone());
            }
        }
        if let Some(offer) = &self.offer
            && !rights.offer.contains(offer)
        {
            rights.offer.push(offer.clone());
        }
        if let Some(service) = &self.service
            && !rights.services.contains(service)
        {
            rights.services.push(service.clone());
        }
        if let Some(read) = &self.read {
            rights.read.messages = rights.read.messages.max(read.messages);
            rights.read.lookups = rights.read.lookups.max(read.lookups);
            for agency in &read.dossiers {
                if !rights.read.dossiers.contains(agency) {
                    rights.read.dossiers.push(agency.clone());
                }
            }
            rights.read.reports |= read.reports;
        }
        rights
    }

    /// The rights `rights` would hold after revoking this; `None` when it holds none of it.
    pub fn revoked(&self, rights: &Rights) -> Option<Rights> {
        let mut after = rights.clone();
        for (revoked, list) in [(&self.send, &mut after.send), (&self.receive, &mut after.receive)] {
            let Some(revoked) = revoked else { continue };
            for right in list.iter_mut().filter(|r| r.agencies == revoked.agencies) {
                right.types.retain(|t| !revoked.types.contains(t));
            }
            list.retain(|r| !r.types.is_empty());
        }
        if let Some(offer) = &self.offer {
            after.offer.retain(|o| o != offer);
        }
        if let Some(service) = &self.service {
            if service.fields.is_empty() {
                after.services.retain(|r| r.service != service.service);
            } else {
                for right in after.services.iter_mut().filter(|r| r.service == service.service) {
                    right.fields.retain(|f| !service.fields.contains(f));
                }
            }
        }
        if let Some(read) = &self.read {
            if read.messages != Scope::None {
                after.read.messages = Scope::None;
            }
            if read.lookups != Scope::None {
                after.read.lookups = Scope::None;
            }
            after.read.dossiers.retain(|a| !read.dossiers.contains(a));
            after.read.reports &= !read.reports;
        }
        (after != *rights).then_some(after)
    }
}

/// What the config's members' rights name that the bus does not know, keyed from the top
/// (`members."onestop.a".rights.send[0].types`, as the config's other problems are).
pub fn unknown_in_members(
    members: &BTreeMap<String, MemberConfig>,
    catalogue: &Catalogue,
    agency_services: &[String],
) -> Vec<ConfigProblem> {
    let problems = members.iter().map(|(id, member)| {
        unknown_in(&member.rights, catalogue, agency_services)
            .into_iter()
            .map(move |p| p.under(&format!("members.\"{id}\"")))
    });
    problems.flatten().collect()
}

/// What in `rights` names no message type, service or field this bus knows (the catalogue's, or
/// `agency_services`, those the agencies' adapters answer), keyed as in the config
/// (`rights.send[0].types`).
pub fn unknown_in(rights: &Rights, catalogue: &Catalogue, agency_services: &[String]) -> Vec<ConfigProblem> {
    let mut problems = unknown_types("rights.send", &rights.send, catalogue);
    problems.extend(unknown_types("rights.receive", &rights.receive, catalogue));
    let services: Vec<&str> = catalogue.services().chain(agency_services.iter().map(String::as_str)).collect();
    for (index, right) in rights.services.iter().enumerate() {
        let key = format!("rights.services[{index}]");
        if right.service == ANY {
            continue;
        }
        if !services.contains(&right.service.as_str()) {
            let known = services.join(", ");
            problems.push(ConfigProblem::new(
                format!("{key}.service"),
                format!("`{}` is not a service; known: {known}, or *", right.service),
            ));
            continue;
        }
        let Some(fields) = catalogue.service_fields(&right.service) else { continue };
        for unknown in right.fields.iter().filter(|f| *f != ANY && !fields.contains(f)) {
            problems.push(ConfigProblem::new(
                format!("{key}.fields"),
                format!("`{unknown}` is not a field of {}; known: {}, or *", right.service, fields.join(", ")),
            ));
        }
    }
    problems
}

/// The message types `rights` (listed under `key`) name that the bus does not know, keyed
/// `<key>[<index>].types`.
pub fn unknown_types(key: &str, rights: &[MessageRight], catalogue: &Catalogue) -> Vec<ConfigProblem> {
    let known: Vec<&str> = catalogue.message_types().collect();
    let mut problems = Vec::new();
    for (index, right) in rights.iter().enumerate() {
        for unknown in right.types.iter().filter(|t| *t != ANY && !known.contains(&t.as_str())) {
            problems.push(ConfigProblem::new(
                format!("{key}[{index}].types"),
                format!("`{unknown}` is not a message type; known: {}, or *", known.join(", ")),
            ));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send(types: &[&str], agencies: &[&str]) -> MessageRight {
        MessageRight {
            types: types.iter().map(|t| t.to_string()).collect(),
            agencies: agencies.iter().map(|a| a.to_string()).collect(),
        }
    }

    #[test]
    fn a_grant_adds_and_a_revoke_takes_away_exactly_what_it_names() {
        let granted = RightsChange {
            send: Some(send(&["dossier.submitted", "dossier.status_changed"], &["000.00.31.H42"])),
            ..Default::default()
        }
        .granted(&Rights::default());
        assert_eq!(granted.send.len(), 1);
        let revoke =
            RightsChange { send: Some(send(&["dossier.submitted"], &["000.00.31.H42"])), ..Default::default() };
        let after = revoke.revoked(&granted).unwrap();
        assert_eq!(after.send, [send(&["dossier.status_changed"], &["000.00.31.H42"])]);
        assert_eq!(revoke.revoked(&after), None, "nothing left to revoke");
        let other_agency =
            RightsChange { send: Some(send(&["dossier.status_changed"], &["000.00.01.H42"])), ..Default::default() };
        assert_eq!(other_agency.revoked(&after), None);

        let read = RightsChange {
            read: Some(ReadRights { messages: Scope::Own, reports: true, ..Default::default() }),
            ..Default::default()
        };
        let reading = read.granted(&after);
        assert_eq!((reading.read.messages, reading.read.reports), (Scope::Own, true));
        let back = read.revoked(&reading).unwrap();
        assert_eq!(back, after);
    }

    #[test]
    fn rights_naming_what_the_bus_does_not_know_are_refused_with_the_key() {
        let catalogue = Catalogue::embedded().unwrap();
        let rights = Rights {
            send: vec![send(&["dossier.submited"], &["*"])],
            services: vec![
                ServiceRight { service: "citizen.verify".into(), fields: vec!["adress".into()], procedures: vec![] },
                ServiceRight { service: "citizen.lookup".into(), fields: vec![], procedures: vec![] },
                ServiceRight {
                    service: "citizen.verify".into(),
                    fields: vec!["permanent_address".into()],
                    procedures: vec![],
                },
            ],
            ..Rights::default()
        };
        let keys: Vec<String> = unknown_in(&rights, &catalogue, &[]).into_iter().map(|p| p.key).collect();
        assert_eq!(keys, ["rights.send[0].types", "rights.services[0].fields", "rights.services[1].service"]);
    }
}
