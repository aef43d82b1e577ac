//! The directory: who the members and operators are, how each proves it, and their rights. Kept
//! in the store, seeded from the config, changed at run time by admins; every caller's rights
//! are read from here at each call, so a change takes effect at once.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use super::certificates::ClientCertificate;
use super::passwords;
use super::tokens::PrincipalKind;
use crate::config::{MemberConfig, OperatorConfig};
use crate::store::{DirectoryChange, Store, StoreError};

/// What `serve --sandbox` gives every member and operator that has no secret of its own.
pub const SANDBOX_SECRET: &str = "sandbox";

/// The directory in memory, as last read from the store.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub members: BTreeMap<String, Arc<MemberConfig>>,
    pub operators: BTreeMap<String, OperatorConfig>,
}

pub struct Directory {
    store: Store,
    snapshot: RwLock<Arc<Snapshot>>,
    /// In sandbox mode, the hash of [`SANDBOX_SECRET`]: the secret of whoever has none of its
    /// own. Held in memory only, so that no sandbox secret outlives the sandbox run.
    sandbox: Option<String>,
}

impl Directory {
    /// Opens the directory of `store`, first setting the config's members and operators (except
    /// those an admin changed through the API since) and removing those the config once set
    /// and names no more. In sandbox mode, whoever has no secret has [`SANDBOX_SECRET`].
    pub async fn open(
        store: Store,
        members: &BTreeMap<String, MemberConfig>,
        operators: &BTreeMap<String, OperatorConfig>,
        sandbox: bool,
    ) -> Result<Directory, StoreError> {
        for (id, member) in members {
            store.change_directory(DirectoryChange::SeedMember(id.clone(), member.clone())).await?;
        }
        for (name, operator) in operators {
            store.change_directory(DirectoryChange::SeedOperator(name.clone(), operator.clone())).await?;
        }
        let forget = DirectoryChange::ForgetUnconfigured {
            members: members.keys().cloned().collect(),
            operators: operators.keys().cloned().collect(),
        };
        store.change_directory(forget).await?;
        let sandbox = sandbox.then(|| passwords::hash(SANDBOX_SECRET));
        let directory = Directory { store, snapshot: RwLock::default(), sandbox };
        directory.reload().await?;
        Ok(directory)
    }

    /// Reads the directory again from the store.
    pub async fn reload(&self) -> Result<(), StoreError> {
        let stored = self.store.directory().await?;
        let snapshot = Snapshot {
            members: stored.members.into_iter().map(|(id, member)| (id, Arc::new(member))).collect(),
            operators: stored.operators.into_iter().collect(),
        };
        *self.snapshot.write().expect("directory") = Arc::new(snapshot);
        Ok(())
    }

    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.read().expect("directory").clone()
    }

    pub fn member(&self, id: &str) -> Option<Arc<MemberConfig>> {
        self.snapshot().members.get(id).cloned()
    }

    pub fn operator(&self, name: &str) -> Option<OperatorConfig> {
        self.snapshot().operators.get(name).cloned()
    }

    /// Whose certificate this is.
    pub fn by_certificate(&self, certificate: &ClientCertificate) -> Option<(PrincipalKind, String)> {
        let snapshot = self.snapshot();
        let member = snapshot.members.iter().find(|(_, m)| m.certificate.as_ref().is_some_and(|b| certificate.is(b)));
        if let Some((id, _)) = member {
            return Some((PrincipalKind::Member, id.clone()));
        }
        let operator =
            snapshot.operators.iter().find(|(_, o)| o.certificate.as_ref().is_some_and(|b| certificate.is(b)));
        operator.map(|(name, _)| (PrincipalKind::Operator, name.clone()))
    }

    /// Whether `secret` is `client_id`'s (a member's secret, or an operator's password). Slow
    /// on purpose (argon2): run it off the async threads.
    pub fn check_secret(&self, client_id: &str, secret: &str) -> Option<PrincipalKind> {
        let snapshot = self.snapshot();
        let (kind, hash) = match (snapshot.members.get(client_id), snapshot.operators.get(client_id)) {
            (Some(member), _) => (PrincipalKind::Member, member.secret_hash.as_deref()),
            (None, Some(operator)) => (PrincipalKind::Operator, operator.password_hash.as_deref()),
            (None, None) => (PrincipalKind::Member, None),
        };
        let known = snapshot.members.contains_key(client_id) || snapshot.operators.contains_key(client_id);
        let hash = hash.or(self.sandbox.as_deref().filter(|_| known));
        match hash {
            Some(hash) if passwords::verify(secret, hash) => Some(kind),
            // The same work whether the client exists or not: no timing tells which ids do.
            Some(_) => None,
            None => {
                passwords::verify(secret, &UNKNOWN_CLIENT);
                None
            }
        }
    }

    /// Applies a change and reads the directory again.
    pub async fn change(&self, change: DirectoryChange) -> Result<(), StoreError> {
        self.store.change_directory(change).await?;
        self.reload().await
    }
}

/// A hash no secret matches, checked for unknown clients.
static UNKNOWN_CLIENT: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| passwords::hash(&passwords::generate()));

#[cfg(test)]
mod tests {
    use super::*;

    fn member(name: &str) -> MemberConfig {
        MemberConfig { name: name.into(), secret_hash: None, certificate: None, rights: Default::default() }
    }

    #[tokio::test]
    async fn what_the_config_names_no_more_is_forgotten_and_what_an_admin_added_stays() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("lgsp.db")).unwrap();
        let configured: BTreeMap<String, MemberConfig> =
            ["onestop.a", "onestop.b"].map(|id| (id.to_string(), member(id))).into();
        let directory = Directory::open(store.clone(), &configured, &BTreeMap::new(), true).await.unwrap();
        directory.change(DirectoryChange::PutMember("onestop.api".into(), member("added by an admin"))).await.unwrap();
        assert!(directory.check_secret("onestop.b", SANDBOX_SECRET).is_some(), "the sandbox's secret");
        assert_eq!(directory.member("onestop.b").unwrap().secret_hash, None, "never stored");

        let fewer: BTreeMap<String, MemberConfig> = [("onestop.a".to_string(), member("onestop.a"))].into();
        let directory = Directory::open(store, &fewer, &BTreeMap::new(), false).await.unwrap();
        let members: Vec<String> = directory.snapshot().members.keys().cloned().collect();
        assert_eq!(members, ["onestop.a", "onestop.api"]);
        assert!(directory.check_secret("onestop.a", SANDBOX_SECRET).is_none(), "the sandbox's secret is gone");
    }
}
