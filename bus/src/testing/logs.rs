//! What the code under test logs, read back as text, for tests that check what is logged and
//! what never is.

use std::io::Write;
use std::sync::{Arc, Mutex};

use tracing::subscriber::DefaultGuard;

/// Everything logged on this thread through `filter` (such as `lgsp_business=trace`), as plain
/// text lines, from [`capture`] until this is dropped.
///
/// A thread's own subscriber sees every event only when no other test registers the same call
/// sites at the same time: a test that reads its logs runs in a test binary of its own.
pub struct CapturedLogs {
    buffer: Buffer,
    _guard: DefaultGuard,
}

impl CapturedLogs {
    /// What was logged so far.
    pub fn text(&self) -> String {
        String::from_utf8(crate::simulator::lock(&self.buffer.0).clone()).expect("logs are UTF-8")
    }
}

/// Starts capturing what this thread logs through `filter`, without colours.
pub fn capture(filter: &str) -> CapturedLogs {
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber =
        tracing_subscriber::fmt().with_env_filter(filter).with_ansi(false).with_writer(move || writer.clone()).finish();
    CapturedLogs { buffer, _guard: tracing::subscriber::set_default(subscriber) }
}

/// A writer the test reads back.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        crate::simulator::lock(&self.0).extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
