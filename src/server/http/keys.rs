//! `/v1/keys`: read, write, delete, list, and the TTL and counter routes.
//! Every route takes `?ns=` to work in another namespace than `0`.

use super::body::{JsonBody, JsonBytes, KeyPath, QueryArgs, decode_cursor, encode_cursor};
use super::error::ApiError;
use super::ops::{FindMode, find_op};
use super::{State, in_session};
use crate::command::{Command, FindTarget, Op, Reply};
use crate::output::to_json;
use crate::session::Session;
use axum::Json;
use axum::extract::State as Shared;
use serde::Deserialize;
use serde_json::{Value, json};

/// Longest TTL in seconds, the same bound the statement language applies.
const MAX_TTL_SECONDS: i64 = i64::MAX / 2 / 1000;

/// Keys per page when `count` is not given, and the most one page may hold.
const DEFAULT_PAGE: usize = 100;
const MAX_PAGE: usize = 1000;

/// The `?ns=` every key route accepts.
#[derive(Debug, Default, Deserialize)]
pub struct NsQuery {
    ns: Option<String>,
}

/// The query of `GET /v1/keys`.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    ns: Option<String>,
    #[serde(rename = "match")]
    glob: Option<String>,
    regex: Option<String>,
    values: Option<String>,
    cursor: Option<String>,
    count: Option<String>,
}

/// The body of `PUT /v1/keys/{key}`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PutBody {
    value: Option<JsonBytes>,
    ttl: Option<i64>,
}

/// The body of `POST /v1/keys/{key}/expire`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpireBody {
    seconds: Option<i64>,
}

/// The body of `POST /v1/keys/{key}/incr`; `by` defaults to 1.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncrBody {
    by: Option<i64>,
}

/// Bytes in the API's JSON form: a string, or `{"base64": ...}` when not UTF-8.
pub fn bytes_json(bytes: &[u8]) -> Value {
    to_json(&Reply::Value(bytes.to_vec()))
}

/// Runs one keyspace operation through the session, logged as `args`.
pub fn run_op(
    session: &mut Session,
    name: &'static str,
    op: Op,
    args: &[&[u8]],
) -> Result<Reply, ApiError> {
    let args: Vec<Vec<u8>> = args.iter().map(|a| a.to_vec()).collect();
    Ok(session.execute_command(name, Command::Op(op), &args)?)
}

fn missing(key: &[u8]) -> ApiError {
    ApiError::not_found(format!("no such key '{}'", String::from_utf8_lossy(key)))
}

fn ttl_ms(seconds: i64) -> Result<i64, ApiError> {
    if seconds.abs() > MAX_TTL_SECONDS {
        return Err(ApiError::bad_request("ttl is out of range"));
    }
    Ok(seconds * 1000)
}

/// A reply of a kind the operation never gives: a bug, reported rather than panicking.
pub fn unexpected(reply: &Reply) -> ApiError {
    ApiError::internal(format!("unexpected reply from the engine: {reply:?}"))
}

/// `GET /v1/keys/{key}`: the value, or 404.
pub async fn get(
    Shared(state): Shared<State>,
    KeyPath(key): KeyPath,
    QueryArgs(q): QueryArgs<NsQuery>,
) -> Result<Json<Value>, ApiError> {
    in_session(&state, q.ns, false, move |s| {
        match run_op(s, "get", Op::Get(key.clone()), &[b"get", &key])? {
            Reply::Value(value) => Ok(Json(
                json!({ "key": bytes_json(&key), "value": bytes_json(&value) }),
            )),
            Reply::Nil => Err(missing(&key)),
            other => Err(unexpected(&other)),
        }
    })
    .await
}

/// `PUT /v1/keys/{key}` with `{"value": ..., "ttl": seconds?}`.
pub async fn put(
    Shared(state): Shared<State>,
    KeyPath(key): KeyPath,
    QueryArgs(q): QueryArgs<NsQuery>,
    JsonBody(body): JsonBody<PutBody>,
) -> Result<Json<Value>, ApiError> {
    let value = body
        .value
        .ok_or_else(|| ApiError::bad_request("the body needs a \"value\""))?
        .into_bytes()?;
    let ttl = match body.ttl {
        None => None,
        Some(seconds) if seconds <= 0 => {
            return Err(ApiError::bad_request(format!(
                "ttl must be a positive number of seconds, found {seconds}"
            )));
        }
        Some(seconds) => Some(seconds),
    };
    let ttl_ms = ttl.map(ttl_ms).transpose()?;
    in_session(&state, q.ns, true, move |s| {
        let seconds = ttl.map(|t| t.to_string().into_bytes()).unwrap_or_default();
        let mut args: Vec<&[u8]> = vec![b"put", &key, &value];
        if ttl.is_some() {
            args.push(&seconds);
        }
        let op = Op::Put {
            key: key.clone(),
            value: value.clone(),
            ttl_ms,
        };
        run_op(s, "put", op, &args)?;
        Ok(Json(
            json!({ "key": bytes_json(&key), "stored": true, "ttl": ttl }),
        ))
    })
    .await
}

/// `DELETE /v1/keys/{key}`: 404 when there was no such key.
pub async fn delete(
    Shared(state): Shared<State>,
    KeyPath(key): KeyPath,
    QueryArgs(q): QueryArgs<NsQuery>,
) -> Result<Json<Value>, ApiError> {
    in_session(&state, q.ns, true, move |s| {
        match run_op(
            s,
            "delete",
            Op::Delete(vec![key.clone()]),
            &[b"delete", &key],
        )? {
            Reply::Int(0) => Err(missing(&key)),
            Reply::Int(n) => Ok(Json(json!({ "deleted": n }))),
            other => Err(unexpected(&other)),
        }
    })
    .await
}

/// `POST /v1/keys/{key}/expire` with `{"seconds": n}`; zero or less deletes the key.
pub async fn expire(
    Shared(state): Shared<State>,
    KeyPath(key): KeyPath,
    QueryArgs(q): QueryArgs<NsQuery>,
    JsonBody(body): JsonBody<ExpireBody>,
) -> Result<Json<Value>, ApiError> {
    let seconds = body
        .seconds
        .ok_or_else(|| ApiError::bad_request("the body needs \"seconds\""))?;
    let ms = ttl_ms(seconds)?;
    in_session(&state, q.ns, true, move |s| {
        let text = seconds.to_string();
        let op = Op::Expire {
            key: key.clone(),
            ttl_ms: ms,
        };
        match run_op(s, "expire", op, &[b"expire", &key, text.as_bytes()])? {
            Reply::Bool(true) => Ok(Json(json!({ "key": bytes_json(&key), "ttl": seconds }))),
            Reply::Bool(false) => Err(missing(&key)),
            other => Err(unexpected(&other)),
        }
    })
    .await
}

/// `GET /v1/keys/{key}/ttl`: seconds left, `null` when the key does not expire.
pub async fn ttl(
    Shared(state): Shared<State>,
    KeyPath(key): KeyPath,
    QueryArgs(q): QueryArgs<NsQuery>,
) -> Result<Json<Value>, ApiError> {
    in_session(&state, q.ns, false, move |s| {
        match run_op(s, "ttl", Op::Ttl(key.clone()), &[b"ttl", &key])? {
            Reply::Int(-2) => Err(missing(&key)),
            Reply::Int(-1) => Ok(Json(json!({ "key": bytes_json(&key), "ttl": null }))),
            Reply::Int(n) => Ok(Json(json!({ "key": bytes_json(&key), "ttl": n }))),
            other => Err(unexpected(&other)),
        }
    })
    .await
}

/// `POST /v1/keys/{key}/persist`: removes the TTL; `persisted` is false when
/// the key had none, and a missing key is 404.
pub async fn persist(
    Shared(state): Shared<State>,
    KeyPath(key): KeyPath,
    QueryArgs(q): QueryArgs<NsQuery>,
) -> Result<Json<Value>, ApiError> {
    in_session(&state, q.ns, true, move |s| {
        match run_op(s, "persist", Op::Persist(key.clone()), &[b"persist", &key])? {
            Reply::Bool(true) => Ok(Json(json!({ "key": bytes_json(&key), "persisted": true }))),
            Reply::Bool(false) => {
                match run_op(s, "exists", Op::Exists(key.clone()), &[b"exists", &key])? {
                    Reply::Bool(true) => {
                        Ok(Json(json!({ "key": bytes_json(&key), "persisted": false })))
                    }
                    _ => Err(missing(&key)),
                }
            }
            other => Err(unexpected(&other)),
        }
    })
    .await
}

/// `POST /v1/keys/{key}/incr` with `{"by": n}` (default 1): the new value.
pub async fn incr(
    Shared(state): Shared<State>,
    KeyPath(key): KeyPath,
    QueryArgs(q): QueryArgs<NsQuery>,
    JsonBody(body): JsonBody<IncrBody>,
) -> Result<Json<Value>, ApiError> {
    let by = body.by.unwrap_or(1);
    in_session(&state, q.ns, true, move |s| {
        let text = by.to_string();
        let op = Op::Incr {
            key: key.clone(),
            by,
        };
        match run_op(s, "incr", op, &[b"incr", &key, text.as_bytes()])? {
            Reply::Int(n) => Ok(Json(json!({ "key": bytes_json(&key), "value": n }))),
            other => Err(unexpected(&other)),
        }
    })
    .await
}

fn flag(name: &str, value: Option<&str>) -> Result<bool, ApiError> {
    match value {
        None | Some("false" | "0") => Ok(false),
        Some("true" | "1" | "") => Ok(true),
        Some(other) => Err(ApiError::bad_request(format!(
            "{name} must be true or false, found '{other}'"
        ))),
    }
}

fn page_size(count: Option<&str>) -> Result<usize, ApiError> {
    let Some(text) = count else {
        return Ok(DEFAULT_PAGE);
    };
    match text.parse::<usize>() {
        Ok(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
        _ => Err(ApiError::bad_request(format!(
            "count must be an integer from 1 to {MAX_PAGE}, found '{text}'"
        ))),
    }
}

/// `GET /v1/keys?match=&regex=&values=&cursor=&count=`: one page of keys in
/// byte order. The cursor is the page's last key (base64url), so a page starts
/// just after it; `next_cursor` is `null` on the last page.
pub async fn list(
    Shared(state): Shared<State>,
    QueryArgs(q): QueryArgs<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let with_values = flag("values", q.values.as_deref())?;
    let count = page_size(q.count.as_deref())?;
    let after = q.cursor.as_deref().map(decode_cursor).transpose()?;
    let filter = match (q.glob, q.regex) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request("give match or regex, not both"));
        }
        (Some(glob), None) => Some((FindMode::Glob, glob)),
        (None, Some(regex)) => Some((FindMode::Regex, regex)),
        (None, None) => None,
    };
    // The find statement that selects the keys, with the words it is logged as.
    let find = filter
        .map(|(mode, pattern)| find_op(FindTarget::Keys, mode, &pattern))
        .transpose()?;
    in_session(&state, q.ns, false, move |s| {
        let mut pairs: Vec<(Vec<u8>, Option<Vec<u8>>)> = if with_values {
            let reply = run_op(s, "items", Op::Items, &[b"items"])?;
            let Reply::Pairs(pairs) = reply else {
                return Err(unexpected(&reply));
            };
            let keep = |key: &[u8]| match &find {
                Some((Op::Find { matcher, .. }, _)) => matcher.is_match(key),
                _ => true,
            };
            pairs
                .into_iter()
                .filter(|(k, _)| keep(k))
                .map(|(k, v)| (k, Some(v)))
                .collect()
        } else {
            let reply = match find {
                Some((op, words)) => {
                    let words: Vec<&[u8]> = words.iter().map(Vec::as_slice).collect();
                    run_op(s, "find", op, &words)?
                }
                None => run_op(s, "keys", Op::Keys(None), &[b"keys"])?,
            };
            let Reply::List(keys) = reply else {
                return Err(unexpected(&reply));
            };
            keys.into_iter().map(|k| (k, None)).collect()
        };
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        let total = pairs.len();
        let start = after.map_or(0, |after| pairs.partition_point(|(k, _)| *k <= after));
        let page: Vec<_> = pairs.iter().skip(start).take(count).collect();
        let next_cursor = match page.last() {
            Some((last, _)) if start + page.len() < total => Some(encode_cursor(last)),
            _ => None,
        };
        let mut body = json!({
            "namespace": s.namespace(),
            "total": total,
            "next_cursor": next_cursor,
        });
        let listed: Vec<Value> = page
            .iter()
            .map(|(k, v)| match v {
                Some(v) => json!({ "key": bytes_json(k), "value": bytes_json(v) }),
                None => bytes_json(k),
            })
            .collect();
        body[if with_values { "items" } else { "keys" }] = Value::Array(listed);
        Ok(Json(body))
    })
    .await
}
