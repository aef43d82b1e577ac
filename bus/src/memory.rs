//! An adapter's own memory: a few keys and values it keeps across restarts (a tracking cursor,
//! which order belongs to which dossier), in the bus's store.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use crate::store::{Store, StoreError};

/// Why memory could not be read or written (the store's reason).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("adapter memory: {0}")]
pub struct MemoryError(String);

impl From<StoreError> for MemoryError {
    fn from(error: StoreError) -> Self {
        MemoryError(error.to_string())
    }
}

/// Where an adapter's memory lives.
#[async_trait]
pub trait Remember: Send + Sync + 'static {
    async fn get(&self, adapter: &str, key: &str) -> Result<Option<String>, MemoryError>;
    async fn set(&self, adapter: &str, key: &str, value: &str) -> Result<(), MemoryError>;
}

/// One adapter's memory. Writes are durable once `set` returns.
#[derive(Clone)]
pub struct Memory {
    adapter: String,
    backend: Arc<dyn Remember>,
}

impl Memory {
    pub fn new(adapter: &str, backend: Arc<dyn Remember>) -> Memory {
        Memory { adapter: adapter.to_string(), backend }
    }

    /// For an adapter's own tests: memory that lasts as long as the value.
    pub fn in_memory(adapter: &str) -> Memory {
        Memory::new(adapter, Arc::new(InMemory::default()))
    }

    pub async fn get(&self, key: &str) -> Result<Option<String>, MemoryError> {
        self.backend.get(&self.adapter, key).await
    }

    pub async fn set(&self, key: &str, value: &str) -> Result<(), MemoryError> {
        self.backend.set(&self.adapter, key, value).await
    }
}

/// The bus's store keeps every adapter's memory.
#[async_trait]
impl Remember for Store {
    async fn get(&self, adapter: &str, key: &str) -> Result<Option<String>, MemoryError> {
        Ok(self.recall(adapter, key).await?)
    }

    async fn set(&self, adapter: &str, key: &str, value: &str) -> Result<(), MemoryError> {
        Ok(self.remember(adapter, key, value).await?)
    }
}

#[derive(Default)]
struct InMemory(Mutex<BTreeMap<(String, String), String>>);

#[async_trait]
impl Remember for InMemory {
    async fn get(&self, adapter: &str, key: &str) -> Result<Option<String>, MemoryError> {
        Ok(crate::simulator::lock(&self.0).get(&(adapter.to_string(), key.to_string())).cloned())
    }

    async fn set(&self, adapter: &str, key: &str, value: &str) -> Result<(), MemoryError> {
        crate::simulator::lock(&self.0).insert((adapter.to_string(), key.to_string()), value.to_string());
        Ok(())
    }
}
