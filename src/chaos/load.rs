//! The load: one-stop systems sending status changes, each dossier's in `seq` order, every
//! message until the bus answers it (a 503, a refused connection or a request cut by a kill is
//! sent again with the same id, as a member must).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use lgsp_bus::simulator::status_changed;
use tokio::sync::watch;
use uuid::Uuid;

/// Every message of the run, dossier by dossier.
pub struct Messages {
    pub ids: Vec<Uuid>,
    /// For each dossier, its code and the range of its messages in `ids` (seq 1 first).
    pub dossiers: Vec<(String, std::ops::Range<usize>)>,
}

impl Messages {
    /// `messages` spread over `dossiers` as evenly as they go.
    pub fn new(messages: usize, dossiers: usize) -> Messages {
        let mut ranges = Vec::with_capacity(dossiers);
        let mut start = 0;
        for d in 0..dossiers {
            let count = messages / dossiers + usize::from(d < messages % dossiers);
            ranges.push((format!("000.00.01.H42-261122-{:06}", d + 1), start..start + count));
            start += count;
        }
        Messages { ids: (0..messages).map(|_| Uuid::now_v7()).collect(), dossiers: ranges }
    }

    /// The `seq`-th change (from 1) of a dossier: the portal shows its summary, which names the
    /// seq, so the final state it holds says which message set it.
    pub fn envelope(&self, dossier: &str, index: usize, seq: usize) -> serde_json::Value {
        let status = [2, 4, 5][seq % 3];
        status_changed(self.ids[index], MEMBER, dossier, seq as u64, status, Some(&summary(seq)))
    }
}

/// The summary the `seq`-th change carries.
pub fn summary(seq: usize) -> String {
    format!("Đăng ký thường trú — thay đổi {seq}")
}

/// What came of sending.
#[derive(Debug, Default)]
pub struct Sent {
    /// By message index: the bus answered 202 or 200.
    pub accepted: Vec<bool>,
    /// Messages the bus refused (4xx), with its answer: none are expected.
    pub refused: Vec<String>,
    /// Answers 503 (broker down, Retry-After) and requests that got no answer (bus down).
    pub unavailable: usize,
    pub unanswered: usize,
}

/// The member the load comes from.
const MEMBER: &str = "onestop.chaos";

/// Sends every message, `concurrency` dossiers at once; `progress` counts the accepted ones.
pub async fn send_all(
    messages: Arc<Messages>,
    base: String,
    concurrency: usize,
    progress: watch::Sender<usize>,
) -> anyhow::Result<Sent> {
    let builder = reqwest::Client::builder().timeout(Duration::from_secs(15));
    let client = crate::process::signed_in_client(builder, &base, MEMBER).await?;
    let next = Arc::new(AtomicUsize::new(0));
    let progress = Arc::new(progress);
    let workers = (0..concurrency).map(|_| {
        let (messages, client, next, progress) = (messages.clone(), client.clone(), next.clone(), progress.clone());
        let url = format!("{base}/v1/messages");
        tokio::spawn(async move {
            let mut sent = Sent::default();
            let mut accepted = Vec::new();
            loop {
                let d = next.fetch_add(1, Ordering::Relaxed);
                let Some((code, range)) = messages.dossiers.get(d) else { break };
                for (seq, index) in range.clone().enumerate().map(|(i, index)| (i + 1, index)) {
                    let body = messages.envelope(code, index, seq);
                    if post_until_answered(&client, &url, &body, &mut sent).await {
                        accepted.push(index);
                        progress.send_modify(|n| *n += 1);
                    }
                }
            }
            (sent, accepted)
        })
    });
    let mut total = Sent { accepted: vec![false; messages.ids.len()], ..Sent::default() };
    for worker in futures::future::join_all(workers).await {
        let (sent, accepted) = worker?;
        for index in accepted {
            total.accepted[index] = true;
        }
        total.refused.extend(sent.refused);
        total.unavailable += sent.unavailable;
        total.unanswered += sent.unanswered;
    }
    Ok(total)
}

/// Posts until the bus answers; true when it accepted the message.
async fn post_until_answered(client: &reqwest::Client, url: &str, body: &serde_json::Value, sent: &mut Sent) -> bool {
    loop {
        match client.post(url).json(body).send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                match status {
                    200 | 202 => return true,
                    503 => {
                        sent.unavailable += 1;
                        let wait = response
                            .headers()
                            .get("retry-after")
                            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
                            .map_or(Duration::from_millis(200), |s| Duration::from_secs(s).min(Duration::from_secs(2)));
                        tokio::time::sleep(wait).await;
                    }
                    _ => {
                        let text = response.text().await.unwrap_or_default();
                        sent.refused.push(format!("{} answered {status}: {text}", body["id"]));
                        return false;
                    }
                }
            }
            // The bus is down (killed, restarting) or cut the request: same id again.
            Err(_) => {
                sent.unanswered += 1;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}
