//! The AMQP headers the bus sets on the messages it publishes, and how they are read back. A
//! retry copy (and a dead letter in the archive) carries its history: attempts, first and last failure times, the
//! last error and the peer's answer.

use lapin::BasicProperties;
use lapin::types::AMQPValue;

/// When the bus accepted the message (Unix ms), for the delivery-latency metric.
pub const ACCEPTED_AT: &str = "x-lgsp-accepted-at";
/// Failed attempts so far.
pub const ATTEMPTS: &str = "x-lgsp-attempts";
pub const FIRST_FAILED_AT: &str = "x-lgsp-first-failed-at";
pub const LAST_FAILED_AT: &str = "x-lgsp-last-failed-at";
pub const LAST_ERROR: &str = "x-lgsp-last-error";
/// The peer's answer to the last attempt, when there was one.
pub const PEER_ANSWER: &str = "x-lgsp-peer-answer";
pub const ADAPTER: &str = "x-lgsp-adapter";
/// The bus's annotations of the message (JSON): see `Delivery::annotations`.
pub const ANNOTATIONS: &str = "x-lgsp-annotations";
/// An earlier attempt may have reached the peer: see `Delivery::uncertain`.
pub const UNCERTAIN: &str = "x-lgsp-uncertain";
/// A test message (`POST /v1/adapters/{id}/test`): tried once, its outcome answered to the caller.
pub const TEST: &str = "x-lgsp-test";
/// The retry tier a copy waits in (`30s`): the retry exchange routes by it. Not `x-`: a headers
/// exchange ignores headers so named when it matches.
pub const RETRY_TIER: &str = "lgsp-retry-tier";

fn get<'a>(properties: &'a BasicProperties, name: &str) -> Option<&'a AMQPValue> {
    properties.headers().as_ref().and_then(|table| table.inner().get(name))
}

/// A number header, whichever integer type the publisher chose.
pub fn int(properties: &BasicProperties, name: &str) -> Option<i64> {
    match get(properties, name)? {
        AMQPValue::LongLongInt(v) => Some(*v),
        AMQPValue::LongInt(v) => Some(*v as i64),
        AMQPValue::LongUInt(v) => Some(*v as i64),
        AMQPValue::Timestamp(v) => Some(*v as i64),
        _ => None,
    }
}

/// A text header.
pub fn text(properties: &BasicProperties, name: &str) -> Option<String> {
    match get(properties, name)? {
        AMQPValue::LongString(text) => Some(text.to_string()),
        AMQPValue::ShortString(text) => Some(text.to_string()),
        _ => None,
    }
}

/// A boolean header that is set and true.
pub fn flag(properties: &BasicProperties, name: &str) -> bool {
    matches!(get(properties, name), Some(AMQPValue::Boolean(true)))
}
