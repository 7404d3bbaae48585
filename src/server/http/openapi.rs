//! The OpenAPI 3.0 document served at `/openapi.json`. Written by hand; a test
//! checks that it lists exactly the router's routes (see [`super::routes`]).

use axum::Json;
use serde_json::{Value, json};

/// `GET /openapi.json`.
pub async fn document() -> Json<Value> {
    Json(spec())
}

fn schema(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn json_body(schema: Value) -> Value {
    json!({ "required": true, "content": { "application/json": { "schema": schema } } })
}

fn ok(description: &str, body: Value) -> Value {
    json!({ "description": description, "content": { "application/json": { "schema": body } } })
}

fn error(description: &str) -> Value {
    json!({
        "description": description,
        "content": { "application/json": { "schema": schema("Error") } }
    })
}

fn page(description: &str, content_type: &str) -> Value {
    json!({ "description": description, "content": { content_type: { "schema": { "type": "string" } } } })
}

fn param(name: &str, place: &str, description: &str) -> Value {
    json!({
        "name": name,
        "in": place,
        "required": place == "path",
        "description": description,
        "schema": { "type": "string" }
    })
}

fn key_param() -> Value {
    param(
        "key",
        "path",
        "The key, percent-encoded (bytes that are not UTF-8 as %XX escapes; '/' as %2F).",
    )
}

fn ns_param() -> Value {
    param("ns", "query", "Namespace to work in (default \"0\").")
}

/// One operation with the 400/401/403 answers every API route can give.
fn api(summary: &str, params: Vec<Value>, body: Option<Value>, mut responses: Value) -> Value {
    if let Some(map) = responses.as_object_mut() {
        map.entry("400")
            .or_insert_with(|| error("Bad input (the message says what)."));
        map.insert(
            "401".into(),
            error("A password is set and the request has none."),
        );
        map.insert("403".into(), error("The password is wrong."));
    }
    let mut op = json!({ "summary": summary, "parameters": params, "responses": responses });
    if let Some(body) = body {
        op["requestBody"] = body;
    }
    op
}

fn key_op(summary: &str, body: Option<Value>, answer: Value, missing: &str) -> Value {
    api(
        summary,
        vec![key_param(), ns_param()],
        body,
        json!({ "200": ok("Done.", answer), "404": error(missing) }),
    )
}

fn write_answers(mut answers: Value) -> Value {
    answers["503"] = error("The change could not be made durable, or memory is full.");
    answers
}

/// The document.
pub fn spec() -> Value {
    let key = schema("Bytes");
    let object = |props: Value| json!({ "type": "object", "properties": props });
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "inmem HTTP API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "JSON in, JSON out. Keys and values are JSON strings when they are UTF-8 text; \
                other bytes travel as {\"base64\": \"...\"} (standard alphabet, padded), in both directions. \
                When the server runs with --requirepass, every /v1 route needs 'Authorization: Bearer <password>'. \
                Errors are always {\"error\": {\"code\": ..., \"message\": ...}}."
        },
        "paths": {
            "/": { "get": { "summary": "The dashboard page.", "responses": { "200": page("HTML page.", "text/html") } } },
            "/docs": { "get": { "summary": "This document, rendered.", "responses": { "200": page("HTML page.", "text/html") } } },
            "/assets/{name}": { "get": {
                "summary": "The pages' style and scripts (style.css, dashboard.js, docs.js).",
                "parameters": [param("name", "path", "Asset file name.")],
                "responses": { "200": page("The file.", "text/plain"), "404": error("No such asset.") }
            } },
            "/openapi.json": { "get": { "summary": "This document.", "responses": { "200": ok("OpenAPI 3.0 document.", json!({ "type": "object" })) } } },
            "/health": { "get": {
                "summary": "Liveness: 200 while writes can be acknowledged. Needs no password.",
                "responses": {
                    "200": ok("Healthy.", object(json!({ "status": { "type": "string" }, "uptime_seconds": { "type": "integer" } }))),
                    "503": error("The append-only log failed; writes are refused.")
                }
            } },
            "/v1/keys": { "get": api(
                "One page of keys in byte order, optionally filtered by a glob or a regex, optionally with values.",
                vec![
                    ns_param(),
                    param("match", "query", "Redis-style glob on key names (e.g. user:*)."),
                    param("regex", "query", "Regular expression on key names (not with match)."),
                    param("values", "query", "true to list {key, value} items instead of keys."),
                    param("cursor", "query", "next_cursor from the previous page (opaque)."),
                    param("count", "query", "Page size, 1 to 1000 (default 100)."),
                ],
                None,
                json!({ "200": ok("A page.", schema("KeyPage")) }),
            ) },
            "/v1/keys/{key}": {
                "get": key_op("Read a value.", None, schema("KeyValue"), "No such key."),
                "put": api(
                    "Store a value, with an optional TTL in seconds.",
                    vec![key_param(), ns_param()],
                    Some(json_body(json!({
                        "type": "object",
                        "required": ["value"],
                        "properties": { "value": key.clone(), "ttl": { "type": "integer", "minimum": 1 } }
                    }))),
                    write_answers(json!({
                        "200": ok("Stored.", object(json!({ "key": key.clone(), "stored": { "type": "boolean" }, "ttl": { "type": "integer", "nullable": true } }))),
                        "413": error("The body is larger than the limit.")
                    })),
                ),
                "delete": key_op("Delete a key.", None, object(json!({ "deleted": { "type": "integer" } })), "No such key."),
            },
            "/v1/keys/{key}/expire": { "post": key_op(
                "Set a TTL in seconds; zero or less deletes the key.",
                Some(json_body(object(json!({ "seconds": { "type": "integer" } })))),
                object(json!({ "key": key.clone(), "ttl": { "type": "integer" } })),
                "No such key.",
            ) },
            "/v1/keys/{key}/ttl": { "get": key_op(
                "Seconds left to live; null when the key does not expire.",
                None,
                object(json!({ "key": key.clone(), "ttl": { "type": "integer", "nullable": true } })),
                "No such key.",
            ) },
            "/v1/keys/{key}/persist": { "post": key_op(
                "Remove a TTL; persisted is false when there was none.",
                None,
                object(json!({ "key": key.clone(), "persisted": { "type": "boolean" } })),
                "No such key.",
            ) },
            "/v1/keys/{key}/incr": { "post": api(
                "Add to an integer value (a missing key counts as 0).",
                vec![key_param(), ns_param()],
                Some(json_body(object(json!({ "by": { "type": "integer", "default": 1 } })))),
                json!({
                    "200": ok("The new value.", object(json!({ "key": key.clone(), "value": { "type": "integer" } }))),
                    "400": error("The value is not an integer, or the result would overflow.")
                }),
            ) },
            "/v1/namespaces": { "get": api(
                "Namespaces with their number of keys.",
                vec![ns_param()],
                None,
                json!({ "200": ok("The list.", object(json!({ "namespaces": {
                    "type": "array",
                    "items": object(json!({ "name": { "type": "string" }, "keys": { "type": "integer" } }))
                } }))) }),
            ) },
            "/v1/namespaces/{ns}": { "delete": api(
                "Drop a namespace and all its keys.",
                vec![param("ns", "path", "The namespace.")],
                None,
                json!({
                    "200": ok("Dropped.", object(json!({ "namespace": { "type": "string" }, "dropped": { "type": "integer" } }))),
                    "404": error("The namespace holds no keys.")
                }),
            ) },
            "/v1/batch": { "post": api(
                "Run statements of the REPL language atomically, as `batch` does: all apply or none.",
                vec![ns_param()],
                Some(json_body(json!({
                    "type": "object",
                    "required": ["statements"],
                    "properties": { "statements": { "type": "array", "items": { "type": "string" }, "example": ["put a 1", "incr a"] } }
                }))),
                write_answers(json!({
                    "200": ok("One result per statement, in order.", object(json!({ "results": { "type": "array", "items": {} } }))),
                    "409": error("A statement failed and nothing was applied; error.statement has its index (from 1) and text.")
                })),
            ) },
            "/v1/find": { "post": api(
                "Search key names or values by exact text, glob or regex.",
                vec![ns_param()],
                Some(json_body(json!({
                    "type": "object",
                    "required": ["pattern"],
                    "properties": {
                        "in": { "type": "string", "enum": ["keys", "values"], "default": "keys" },
                        "match": { "type": "string", "enum": ["exact", "glob", "regex"], "default": "exact" },
                        "pattern": { "type": "string" }
                    }
                }))),
                json!({ "200": ok("Matching keys (in: keys) or {key, value} items (in: values).", schema("KeyPage")) }),
            ) },
            "/v1/aliases": {
                "get": api("The alias table, name to text.", vec![], None,
                    json!({ "200": ok("The table.", object(json!({ "aliases": { "type": "object", "additionalProperties": { "type": "string" } } }))) })),
                "put": api("Define or replace an alias.", vec![],
                    Some(json_body(json!({
                        "type": "object",
                        "required": ["name", "body"],
                        "properties": { "name": { "type": "string" }, "body": { "type": "string", "example": "put" } }
                    }))),
                    json!({ "200": ok("Defined.", object(json!({ "name": { "type": "string" }, "body": { "type": "string" } }))) })),
                "delete": api("Remove an alias.", vec![json!({
                        "name": "name", "in": "query", "required": true,
                        "description": "The alias.", "schema": { "type": "string" }
                    })], None,
                    json!({
                        "200": ok("Removed.", object(json!({ "removed": { "type": "string" } }))),
                        "404": error("No such alias.")
                    })),
            },
            "/v1/stats": { "get": api("The `stats` figures: keys, hit ratio, ops/s, latency per command (µs) and more.", vec![], None,
                json!({ "200": ok("Statistics.", json!({ "type": "object" })) })) },
            "/v1/save": { "post": api("Write snapshot.db now.", vec![], None,
                write_answers(json!({ "200": ok("Saved.", object(json!({ "ok": { "type": "boolean" } }))) }))) },
            "/v1/compact": { "post": api("Compact the append-only log.", vec![], None,
                write_answers(json!({ "200": ok("Compacted.", object(json!({ "ok": { "type": "boolean" } }))) }))) },
        },
        "components": { "schemas": {
            "Bytes": {
                "description": "A key or value: a string when it is UTF-8 text, otherwise {\"base64\": \"...\"}.",
                "oneOf": [
                    { "type": "string" },
                    object(json!({ "base64": { "type": "string", "format": "byte" } })),
                ]
            },
            "KeyValue": object(json!({ "key": schema("Bytes"), "value": schema("Bytes") })),
            "KeyPage": object(json!({
                "namespace": { "type": "string" },
                "total": { "type": "integer", "description": "Matching keys in all pages." },
                "next_cursor": { "type": "string", "nullable": true, "description": "Pass as cursor for the next page; null on the last." },
                "keys": { "type": "array", "items": schema("Bytes") },
                "items": { "type": "array", "items": schema("KeyValue") }
            })),
            "Error": object(json!({ "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": { "type": "string", "example": "not_found" },
                    "message": { "type": "string" },
                    "statement": object(json!({ "index": { "type": "integer" }, "text": { "type": "string" } }))
                }
            } })),
        }, "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } } },
        "security": [ {}, { "bearer": [] } ],
    })
}
