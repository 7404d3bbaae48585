//! Everything besides single keys: namespaces, batches, find, aliases,
//! statistics, health, save and compact.

use super::body::{JsonBody, QueryArgs};
use super::error::ApiError;
use super::keys::{bytes_json, run_op, unexpected};
use super::{State, in_session};
use crate::command::{self, BatchSource, Command, FindTarget, Op, Reply};
use crate::output::to_json;
use crate::stats;
use axum::Json;
use axum::extract::{Path, State as Shared};
use serde::Deserialize;
use serde_json::{Value, json};

/// How `find` compares (the statement language's flags: none, `-l`, `-r`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FindMode {
    /// Byte-for-byte equality.
    #[default]
    Exact,
    /// A Redis-style glob.
    Glob,
    /// A regular expression.
    Regex,
}

/// Which side `find` searches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FindIn {
    /// Key names.
    #[default]
    Keys,
    /// Values.
    Values,
}

/// A `find` statement built through the statement language's builder (so
/// the API compiles patterns, and limits regex size, exactly as the REPL
/// does), with the words it is logged as.
pub fn find_op(
    target: FindTarget,
    mode: FindMode,
    pattern: &str,
) -> Result<(Op, Vec<Vec<u8>>), ApiError> {
    let mut args: Vec<Vec<u8>> = vec![
        b"find".to_vec(),
        match target {
            FindTarget::Keys => b"-k".to_vec(),
            FindTarget::Values => b"-v".to_vec(),
        },
    ];
    match mode {
        FindMode::Exact => {}
        FindMode::Glob => args.push(b"-l".to_vec()),
        FindMode::Regex => args.push(b"-r".to_vec()),
    }
    args.push(pattern.as_bytes().to_vec());
    let words = command::words(&args);
    match command::build(&words) {
        Ok(Command::Op(op @ Op::Find { .. })) => Ok((op, args)),
        Ok(_) => Err(ApiError::internal("the find builder built another command")),
        Err(e) => Err(e.error.into()),
    }
}

/// `?ns=` on routes that take nothing else.
#[derive(Debug, Default, Deserialize)]
pub struct NsQuery {
    ns: Option<String>,
}

/// The body of `POST /v1/batch`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchBody {
    statements: Option<Vec<String>>,
}

/// The body of `POST /v1/find`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FindBody {
    #[serde(rename = "in", default)]
    target: FindIn,
    #[serde(rename = "match", default)]
    mode: FindMode,
    pattern: Option<String>,
}

/// The body of `PUT /v1/aliases`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AliasBody {
    name: Option<String>,
    body: Option<String>,
}

/// The query of `DELETE /v1/aliases`.
#[derive(Debug, Default, Deserialize)]
pub struct AliasQuery {
    name: Option<String>,
}

/// `GET /health`: 200 while writes can be acknowledged, 503 after the log failed.
pub async fn health(Shared(state): Shared<State>) -> Result<Json<Value>, ApiError> {
    match state.db.fatal() {
        Some(failure) => Err(ApiError::unavailable(failure)),
        None => Ok(Json(json!({
            "status": "ok",
            "uptime_seconds": state.db.stats().uptime().as_secs(),
        }))),
    }
}

/// `GET /v1/namespaces`: each namespace with its number of keys.
pub async fn namespaces(
    Shared(state): Shared<State>,
    QueryArgs(q): QueryArgs<NsQuery>,
) -> Result<Json<Value>, ApiError> {
    in_session(&state, q.ns, false, |s| {
        match s.execute_command("namespaces", Command::Namespaces, &[b"namespaces".to_vec()])? {
            Reply::Map(fields) => Ok(Json(json!({
                "namespaces": fields
                    .iter()
                    .map(|(name, keys)| json!({ "name": name, "keys": to_json(keys) }))
                    .collect::<Vec<_>>()
            }))),
            other => Err(unexpected(&other)),
        }
    })
    .await
}

/// `DELETE /v1/namespaces/{ns}`: drops a namespace and its keys; 404 when it holds no keys.
pub async fn drop_namespace(
    Shared(state): Shared<State>,
    Path(ns): Path<String>,
) -> Result<Json<Value>, ApiError> {
    in_session(&state, None, true, move |s| {
        let args = [b"dropns".to_vec(), ns.clone().into_bytes()];
        match s.execute_command("dropns", Command::DropNamespace(ns.clone()), &args)? {
            Reply::Int(0) => Err(ApiError::not_found(format!(
                "namespace '{ns}' holds no keys"
            ))),
            Reply::Int(n) => Ok(Json(json!({ "namespace": ns, "dropped": n }))),
            other => Err(unexpected(&other)),
        }
    })
    .await
}

/// `POST /v1/batch` with `{"statements": [...]}`: runs them atomically as
/// `batch` does; 409 names the statement that failed when nothing was applied.
pub async fn batch(
    Shared(state): Shared<State>,
    QueryArgs(q): QueryArgs<NsQuery>,
    JsonBody(body): JsonBody<BatchBody>,
) -> Result<Json<Value>, ApiError> {
    let statements = body
        .statements
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::bad_request("the body needs a non-empty \"statements\" list"))?;
    let text = statements.join("\n");
    in_session(&state, q.ns, true, move |s| {
        let args = [b"batch".to_vec(), b"-c".to_vec(), text.clone().into_bytes()];
        let reply = s.execute_command("batch", Command::Batch(BatchSource::Inline(text)), &args)?;
        Ok(Json(json!({ "results": to_json(&reply) })))
    })
    .await
}

/// `POST /v1/find` with `{"in": "keys"|"values", "match": "exact"|"glob"|"regex", "pattern": ...}`.
pub async fn find(
    Shared(state): Shared<State>,
    QueryArgs(q): QueryArgs<NsQuery>,
    JsonBody(body): JsonBody<FindBody>,
) -> Result<Json<Value>, ApiError> {
    let pattern = body
        .pattern
        .ok_or_else(|| ApiError::bad_request("the body needs a \"pattern\""))?;
    let target = match body.target {
        FindIn::Keys => FindTarget::Keys,
        FindIn::Values => FindTarget::Values,
    };
    let (op, args) = find_op(target, body.mode, &pattern)?;
    in_session(&state, q.ns, false, move |s| {
        let args: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
        match run_op(s, "find", op, &args)? {
            Reply::List(keys) => Ok(Json(json!({
                "keys": keys.iter().map(|k| bytes_json(k)).collect::<Vec<_>>()
            }))),
            Reply::Pairs(pairs) => Ok(Json(json!({
                "items": pairs
                    .iter()
                    .map(|(k, v)| json!({ "key": bytes_json(k), "value": bytes_json(v) }))
                    .collect::<Vec<_>>()
            }))),
            other => Err(unexpected(&other)),
        }
    })
    .await
}

/// `GET /v1/aliases`: the alias table, name to text.
pub async fn aliases(Shared(state): Shared<State>) -> Result<Json<Value>, ApiError> {
    in_session(&state, None, false, |s| {
        let reply =
            s.execute_command("show-alias", Command::ShowAlias, &[b"show-alias".to_vec()])?;
        Ok(Json(json!({ "aliases": to_json(&reply) })))
    })
    .await
}

/// `PUT /v1/aliases` with `{"name": ..., "body": ...}`: defines or replaces an alias.
pub async fn define_alias(
    Shared(state): Shared<State>,
    JsonBody(body): JsonBody<AliasBody>,
) -> Result<Json<Value>, ApiError> {
    let (Some(name), Some(text)) = (body.name, body.body) else {
        return Err(ApiError::bad_request(
            "the body needs \"name\" and \"body\"",
        ));
    };
    in_session(&state, None, false, move |s| {
        let args = [
            b"alias".to_vec(),
            name.clone().into_bytes(),
            text.clone().into_bytes(),
        ];
        let command = Command::Alias {
            name: name.clone(),
            body: text.clone(),
        };
        s.execute_command("alias", command, &args)?;
        Ok(Json(json!({ "name": name, "body": text })))
    })
    .await
}

/// `DELETE /v1/aliases?name=...`: removes an alias; 404 when there is none.
pub async fn remove_alias(
    Shared(state): Shared<State>,
    QueryArgs(q): QueryArgs<AliasQuery>,
) -> Result<Json<Value>, ApiError> {
    let name = q
        .name
        .ok_or_else(|| ApiError::bad_request("give the alias as ?name="))?;
    in_session(&state, None, false, move |s| {
        if s.db().aliases().get(&name).is_none() {
            return Err(ApiError::not_found(format!("no alias named '{name}'")));
        }
        let args = [b"unalias".to_vec(), name.clone().into_bytes()];
        s.execute_command("unalias", Command::Unalias(name.clone()), &args)?;
        Ok(Json(json!({ "removed": name })))
    })
    .await
}

/// `GET /v1/stats`: the `stats` figures. Read directly rather than as a
/// statement, so a dashboard polling it does not count as traffic.
pub async fn stats(Shared(state): Shared<State>) -> Json<Value> {
    Json(to_json(&stats::report(&state.db)))
}

/// `POST /v1/save`: writes snapshot.db now.
pub async fn save(Shared(state): Shared<State>) -> Result<Json<Value>, ApiError> {
    persist_now(&state, "save", Command::Save).await
}

/// `POST /v1/compact`: compacts the log (a snapshot that drops what it covers).
pub async fn compact(Shared(state): Shared<State>) -> Result<Json<Value>, ApiError> {
    persist_now(&state, "compact", Command::Compact).await
}

async fn persist_now(
    state: &State,
    name: &'static str,
    command: Command,
) -> Result<Json<Value>, ApiError> {
    in_session(state, None, false, move |s| {
        s.execute_command(name, command, &[name.as_bytes().to_vec()])?;
        Ok(Json(json!({ "ok": true })))
    })
    .await
}
