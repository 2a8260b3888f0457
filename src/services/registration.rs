//! Dynamic Client Registration: `POST /register` (RFC 7591, OpenID Connect
//! Dynamic Client Registration 1.0) and client configuration management at
//! `/register/{client_id}` (RFC 7592: GET, PUT, DELETE with the
//! registration access token). Off unless `registration_enabled`; with
//! `registration_initial_access_token` set, registering needs that token.
//!
//! Metadata is validated strictly; what we do not understand is ignored
//! (RFC 7591 §2). Registered clients are never trusted (they always see the
//! consent page) and cannot choose operator settings such as token formats
//! or lifetimes.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};
use url::Url;

use crate::domain::authorization_request::ResponseType;
use crate::domain::client::{new_secret, AuthMethod, Client, ClientMetadata, RefreshTokens, SubjectType, MAX_URIS};
use crate::domain::error::{ErrorCode, OAuthError};
use crate::infrastructure::outbound::check_url;
use crate::infrastructure::store::ClientRow;
use crate::keys::SigningAlg;
use crate::util::{constant_time_eq, hash_secret, random_id, random_token};
use crate::AppState;

/// Longest client_name we accept.
const MAX_NAME: usize = 100;

fn metadata_error(d: impl Into<String>) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidClientMetadata, d)
}

fn redirect_error(d: impl Into<String>) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidRedirectUri, d)
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "Not Found").into_response()
}

/// The validated registration: what we store, and the metadata we echo.
struct Registration {
    name: String,
    redirect_uris: Vec<String>,
    method: AuthMethod,
    metadata: ClientMetadata,
}

/// Validate client metadata (RFC 7591 §2, OIDC Registration §2).
async fn validate(app: &AppState, body: &[u8], headers: &HeaderMap) -> Result<Registration, OAuthError> {
    let json_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(';').next().is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json")));
    if !json_type {
        return Err(metadata_error("the body must be application/json"));
    }
    let value: Value = serde_json::from_slice(body).map_err(|_| metadata_error("the body is not JSON"))?;
    let Value::Object(m) = value else { return Err(metadata_error("the body must be a JSON object")) };

    let strings = |name: &str| -> Result<Option<Vec<String>>, OAuthError> {
        match m.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(a)) => a
                .iter()
                .map(|v| {
                    v.as_str().map(str::to_string).ok_or_else(|| metadata_error(format!("{name} must hold strings")))
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(metadata_error(format!("{name} must be an array of strings"))),
        }
    };
    let string = |name: &str| -> Result<Option<String>, OAuthError> {
        match m.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(metadata_error(format!("{name} must be a string"))),
        }
    };

    let redirect_uris = strings("redirect_uris")?.unwrap_or_default();
    if redirect_uris.is_empty() || redirect_uris.len() > MAX_URIS {
        return Err(redirect_error(format!("1 to {MAX_URIS} redirect_uris are required")));
    }
    for uri in &redirect_uris {
        validate_redirect_uri(uri).map_err(redirect_error)?;
    }

    let method = match string("token_endpoint_auth_method")? {
        None => AuthMethod::ClientSecretBasic,
        Some(m) => {
            AuthMethod::parse(&m).ok_or_else(|| metadata_error(format!("unknown token_endpoint_auth_method {m}")))?
        }
    };
    let grant_types = strings("grant_types")?.unwrap_or_else(|| vec!["authorization_code".into()]);
    for g in &grant_types {
        if !GRANT_TYPES.contains(&g.as_str()) {
            return Err(metadata_error(format!("unsupported grant_type {g}")));
        }
    }
    let response_types = strings("response_types")?.unwrap_or_else(|| vec!["code".into()]);
    if response_types.is_empty() {
        return Err(metadata_error("response_types must not be empty"));
    }
    let mut parsed = Vec::new();
    for r in &response_types {
        let rt = ResponseType::parse(r).map_err(metadata_error)?;
        if parsed.contains(&rt) {
            return Err(metadata_error(format!("response_type {r} is listed twice")));
        }
        parsed.push(rt);
    }
    check_grant_types(&parsed, &grant_types)?;
    let flag = |name: &str| -> Result<bool, OAuthError> {
        match m.get(name) {
            None | Some(Value::Null) => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(metadata_error(format!("{name} must be true or false"))),
        }
    };
    let post_logout_redirect_uris = strings("post_logout_redirect_uris")?.unwrap_or_default();
    for uri in &post_logout_redirect_uris {
        validate_redirect_uri(uri).map_err(|e| metadata_error(format!("post_logout_redirect_uris: {e}")))?;
    }
    let backchannel_logout_uri = string("backchannel_logout_uri")?;
    if let Some(uri) = &backchannel_logout_uri {
        crate::services::logout::validate_backchannel_uri(uri)
            .map_err(|e| metadata_error(format!("backchannel_logout_uri: {e}")))?;
        // Logout tokens to self-registered clients go out through the
        // outbound address checks: refuse now what would never be delivered.
        let url = Url::parse(uri).map_err(|e| metadata_error(format!("backchannel_logout_uri: {e}")))?;
        check_url(url, app.clients.http().rules())
            .map_err(|e| metadata_error(format!("backchannel_logout_uri: {e}")))?;
    }
    let name = string("client_name")?.unwrap_or_else(|| "Unnamed application".into());
    if name.trim().is_empty() || name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
        return Err(metadata_error(format!("client_name must be 1 to {MAX_NAME} printable characters")));
    }
    let alg = match string("id_token_signed_response_alg")? {
        None => None,
        Some(a) => Some(SigningAlg::parse(&a).ok_or_else(|| {
            metadata_error(format!("id_token_signed_response_alg {a} is not supported (RS256, ES256, EdDSA)"))
        })?),
    };
    let subject_type = match string("subject_type")?.as_deref() {
        None | Some("public") => SubjectType::Public,
        Some("pairwise") => SubjectType::Pairwise,
        Some(other) => return Err(metadata_error(format!("unsupported subject_type {other}"))),
    };
    let jwks = match m.get("jwks") {
        None | Some(Value::Null) => None,
        Some(v @ Value::Object(_)) => Some(v.clone()),
        Some(_) => return Err(metadata_error("jwks must be a JSON Web Key Set")),
    };
    let jwks_uri = string("jwks_uri")?;
    if jwks_uri.as_ref().is_some_and(|u| !u.starts_with("https://") && !app.config.dev_allow_insecure_instances) {
        return Err(metadata_error("jwks_uri must be an https URL"));
    }
    let metadata = ClientMetadata {
        token_endpoint_auth_method: Some(method),
        token_endpoint_auth_signing_alg: string("token_endpoint_auth_signing_alg")?,
        jwks,
        jwks_uri,
        refresh_tokens: if grant_types.iter().any(|g| g == "refresh_token") {
            RefreshTokens::OfflineAccess
        } else {
            RefreshTokens::Never
        },
        id_token_signed_response_alg: alg,
        subject_type,
        sector_identifier_uri: string("sector_identifier_uri")?,
        response_types,
        require_pushed_authorization_requests: flag("require_pushed_authorization_requests")?,
        post_logout_redirect_uris,
        backchannel_logout_uri,
        backchannel_logout_session_required: flag("backchannel_logout_session_required")?,
        ..Default::default()
    };
    metadata.validate(method == AuthMethod::None).map_err(|(field, m)| metadata_error(format!("{field}: {m}")))?;
    if subject_type == SubjectType::Pairwise || metadata.sector_identifier_uri.is_some() {
        metadata.sector(&redirect_uris).map_err(|(field, m)| metadata_error(format!("{field}: {m}")))?;
        if let Some(uri) = &metadata.sector_identifier_uri {
            check_sector_identifier(app, uri, &redirect_uris).await?;
        }
    }
    if let Some(alg) = alg {
        app.keys.ensure(alg).map_err(|e| {
            tracing::error!(error = %e, "could not create a signing key");
            OAuthError::new(ErrorCode::ServerError, "could not prepare a signing key")
        })?;
    }
    Ok(Registration { name, redirect_uris, method, metadata })
}

/// The grant types we implement for registered clients.
const GRANT_TYPES: &[&str] = &["authorization_code", "implicit", "refresh_token"];

/// RFC 7591 §2.1 (and OIDC Registration §2): response type `code` goes with
/// the `authorization_code` grant, `id_token` and `token` with `implicit`;
/// every grant type listed must be used, and refresh tokens come only from
/// the code flow.
fn check_grant_types(response_types: &[ResponseType], grant_types: &[String]) -> Result<(), OAuthError> {
    let has = |g: &str| grant_types.iter().any(|t| t == g);
    let code = response_types.iter().any(|rt| rt.code);
    let implicit = response_types.iter().any(|rt| rt.id_token || rt.token);
    if code && !has("authorization_code") {
        return Err(metadata_error("response types with code need the authorization_code grant type"));
    }
    if implicit && !has("implicit") {
        return Err(metadata_error("response types with id_token or token need the implicit grant type"));
    }
    if has("authorization_code") && !code {
        return Err(metadata_error("the authorization_code grant type needs a response type with code"));
    }
    if has("implicit") && !implicit {
        return Err(metadata_error("the implicit grant type needs a response type with id_token or token"));
    }
    if has("refresh_token") && !has("authorization_code") {
        return Err(metadata_error("the refresh_token grant type needs the authorization_code grant type"));
    }
    Ok(())
}

/// https, or http on loopback only; absolute, no fragment, no credentials.
fn validate_redirect_uri(uri: &str) -> Result<(), String> {
    crate::domain::client::validate_redirect_uri(uri)?;
    let url = Url::parse(uri).map_err(|e| e.to_string())?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(format!("{uri:?}: only https (and http on loopback) redirect URIs can be registered"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!("{uri:?} must not contain credentials"));
    }
    // RFC 8252 §8.3: loopback by IP literal, not by name.
    if url.scheme() == "http" && url.host_str() == Some("localhost") {
        return Err(format!("{uri:?}: use http://127.0.0.1 or http://[::1] instead of localhost"));
    }
    Ok(())
}

/// OIDC Core §8.1: the sector_identifier_uri holds a JSON array that lists
/// every redirect URI of the client.
async fn check_sector_identifier(app: &AppState, uri: &str, redirect_uris: &[String]) -> Result<(), OAuthError> {
    let url = Url::parse(uri).map_err(|_| metadata_error("sector_identifier_uri is not a URL"))?;
    let reply = app.clients.http().get(url, "application/json").await.map_err(|e| {
        // The detail (which may name internal addresses) only in our log.
        tracing::info!(uri, error = %e, "could not fetch a sector_identifier_uri");
        metadata_error("sector_identifier_uri could not be fetched")
    })?;
    let listed: Vec<String> = reply
        .json("sector_identifier_uri")
        .map_err(|_| metadata_error("sector_identifier_uri must answer a JSON array of URIs"))?;
    if let Some(missing) = redirect_uris.iter().find(|r| !listed.contains(r)) {
        return Err(metadata_error(format!("sector_identifier_uri does not list {missing}")));
    }
    Ok(())
}

/// The registered metadata as RFC 7591 §3.2.1 returns it.
fn describe(app: &AppState, client: &Client) -> Map<String, Value> {
    let mut out = Map::new();
    let m = &client.metadata;
    out.insert("client_id".into(), json!(client.client_id));
    out.insert("client_name".into(), json!(client.name));
    out.insert("redirect_uris".into(), json!(client.redirect_uris));
    out.insert("token_endpoint_auth_method".into(), json!(client.auth_method.as_str()));
    out.insert("grant_types".into(), json!(grant_types_of(client)));
    let response_types = if m.response_types.is_empty() { vec!["code".to_string()] } else { m.response_types.clone() };
    out.insert("response_types".into(), json!(response_types));
    out.insert("require_pushed_authorization_requests".into(), json!(m.require_pushed_authorization_requests));
    if !m.post_logout_redirect_uris.is_empty() {
        out.insert("post_logout_redirect_uris".into(), json!(m.post_logout_redirect_uris));
    }
    if let Some(uri) = &m.backchannel_logout_uri {
        out.insert("backchannel_logout_uri".into(), json!(uri));
        out.insert("backchannel_logout_session_required".into(), json!(m.backchannel_logout_session_required));
    }
    out.insert("id_token_signed_response_alg".into(), json!(client.id_token_alg().as_str()));
    out.insert(
        "subject_type".into(),
        json!(if m.subject_type == SubjectType::Pairwise { "pairwise" } else { "public" }),
    );
    for (k, v) in [
        ("token_endpoint_auth_signing_alg", m.token_endpoint_auth_signing_alg.clone().map(Value::String)),
        ("jwks", m.jwks.clone()),
        ("jwks_uri", m.jwks_uri.clone().map(Value::String)),
        ("sector_identifier_uri", m.sector_identifier_uri.clone().map(Value::String)),
    ] {
        if let Some(v) = v {
            out.insert(k.into(), v);
        }
    }
    out.insert("registration_client_uri".into(), json!(format!("{}/register/{}", app.issuer(), client.client_id)));
    out
}

/// The grant types a registered client has: what its response types use
/// (registration keeps them consistent), and refresh tokens if it asked.
fn grant_types_of(client: &Client) -> Vec<&'static str> {
    let mut g = Vec::new();
    if client.response_types.iter().any(|rt| rt.code) {
        g.push("authorization_code");
    }
    if client.response_types.iter().any(|rt| rt.id_token || rt.token) {
        g.push("implicit");
    }
    if client.metadata.refresh_tokens != RefreshTokens::Never && g.contains(&"authorization_code") {
        g.push("refresh_token");
    }
    g
}

fn json_response(status: StatusCode, body: Map<String, Value>) -> Response {
    let mut response = (status, axum::Json(Value::Object(body))).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response.headers_mut().insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
}

/// A stored row for `reg`, with a new secret when its method needs one.
fn row_for(
    reg: &Registration,
    client_id: &str,
    now: i64,
    keep_secret: Option<(String, Option<String>)>,
) -> (ClientRow, Option<String>) {
    let (secret_hash, clear, shown) = match (reg.method.uses_secret(), keep_secret) {
        (false, _) => (None, None, None),
        (true, Some((hash, clear))) => (Some(hash), clear, None),
        (true, None) => {
            let (secret, hash) = new_secret();
            (Some(hash), Some(secret.clone()), Some(secret))
        }
    };
    let row = ClientRow {
        client_id: client_id.to_string(),
        name: reg.name.clone(),
        redirect_uris: reg.redirect_uris.clone(),
        secret_hash,
        public: reg.method == AuthMethod::None,
        trusted: false,
        id_token_claims: true,
        created_at: now,
        metadata: serde_json::to_string(&reg.metadata).unwrap_or_else(|_| "{}".into()),
        // HMAC verification of client_secret_jwt needs the secret itself.
        client_secret: clear.filter(|_| reg.method == AuthMethod::ClientSecretJwt),
        registration_token_hash: None,
    };
    (row, shown)
}

pub async fn register(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    if !app.config.registration_enabled {
        return not_found();
    }
    match register_inner(&app, &headers, body).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

async fn register_inner(
    app: &AppState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, OAuthError> {
    if let Some(expected) = &app.config.registration_initial_access_token {
        let given = bearer(headers).ok_or_else(|| OAuthError::invalid_token(""))?;
        if !constant_time_eq(&hash_secret(given), &hash_secret(expected)) {
            return Err(OAuthError::invalid_token("the initial access token is invalid"));
        }
    }
    let body = body.map_err(|_| metadata_error("the request body is too large or unreadable"))?;
    let reg = validate(app, &body, headers).await?;
    let now = app.clock.now();
    let client_id = random_id();
    let (mut row, secret) = row_for(&reg, &client_id, now, None);
    let registration_token = random_token(32);
    row.registration_token_hash = Some(hash_secret(&registration_token));
    app.store.insert_client(&row).await.map_err(|_| OAuthError::unavailable())?;
    let client = Client::try_from(row).map_err(|_| OAuthError::unavailable())?;
    let mut out = describe(app, &client);
    out.insert("client_id_issued_at".into(), json!(now));
    if let Some(secret) = secret {
        out.insert("client_secret".into(), json!(secret));
        out.insert("client_secret_expires_at".into(), json!(0));
    }
    out.insert("registration_access_token".into(), json!(registration_token));
    tracing::info!(client_id = %client.client_id, name = %client.name, "client registered dynamically");
    Ok(json_response(StatusCode::CREATED, out))
}

/// The dynamically registered client `client_id`, if `headers` carry its
/// registration access token (RFC 7592 §2: otherwise 401 invalid_token).
async fn managed(app: &AppState, headers: &HeaderMap, client_id: &str) -> Result<ClientRow, OAuthError> {
    let token = bearer(headers).ok_or_else(|| OAuthError::invalid_token(""))?;
    let invalid = || OAuthError::invalid_token("the registration access token is invalid");
    if crate::domain::client::validate_client_id(client_id).is_err() {
        return Err(invalid());
    }
    let row = app.store.client(client_id).await.map_err(|_| OAuthError::unavailable())?.ok_or_else(invalid)?;
    match &row.registration_token_hash {
        Some(hash) if constant_time_eq(hash, &hash_secret(token)) => Ok(row),
        _ => Err(invalid()),
    }
}

pub async fn read(State(app): State<AppState>, headers: HeaderMap, Path(client_id): Path<String>) -> Response {
    if !app.config.registration_enabled {
        return not_found();
    }
    let result = async {
        let row = managed(&app, &headers, &client_id).await?;
        let client = Client::try_from(row).map_err(|_| OAuthError::unavailable())?;
        Ok::<_, OAuthError>(json_response(StatusCode::OK, describe(&app, &client)))
    };
    result.await.unwrap_or_else(|e| e.into_response())
}

pub async fn update(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(client_id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    if !app.config.registration_enabled {
        return not_found();
    }
    let result = async {
        let old = managed(&app, &headers, &client_id).await?;
        let body = body.map_err(|_| metadata_error("the request body is too large or unreadable"))?;
        let reg = validate(&app, &body, &headers).await?;
        // RFC 7592 §2.2: the body names the client; a secret it carries must be the current one.
        let value: Value = serde_json::from_slice(&body).unwrap_or_default();
        if value.get("client_id").and_then(Value::as_str) != Some(client_id.as_str()) {
            return Err(OAuthError::invalid_request("client_id must be the client's own"));
        }
        if let Some(given) = value.get("client_secret").and_then(Value::as_str) {
            if !old.secret_hash.as_deref().is_some_and(|h| constant_time_eq(h, &hash_secret(given))) {
                return Err(metadata_error("client_secret does not match"));
            }
        }
        let keep = old.secret_hash.clone().map(|h| (h, old.client_secret.clone()));
        // client_secret_jwt needs the secret in the clear: a client moving to it gets a new one.
        let keep = keep.filter(|(_, clear)| reg.method != AuthMethod::ClientSecretJwt || clear.is_some());
        let (row, secret) = row_for(&reg, &client_id, old.created_at, keep);
        match app.store.update_client(&row).await {
            Ok(true) => {}
            Ok(false) => return Err(OAuthError::invalid_token("the registration access token is invalid")),
            Err(_) => return Err(OAuthError::unavailable()),
        }
        let client = Client::try_from(row).map_err(|_| OAuthError::unavailable())?;
        let mut out = describe(&app, &client);
        if let Some(secret) = secret {
            out.insert("client_secret".into(), json!(secret));
            out.insert("client_secret_expires_at".into(), json!(0));
        }
        Ok(json_response(StatusCode::OK, out))
    };
    result.await.unwrap_or_else(|e| e.into_response())
}

pub async fn delete(State(app): State<AppState>, headers: HeaderMap, Path(client_id): Path<String>) -> Response {
    if !app.config.registration_enabled {
        return not_found();
    }
    let result = async {
        managed(&app, &headers, &client_id).await?;
        app.store.remove_client(&client_id).await.map_err(|_| OAuthError::unavailable())?;
        tracing::info!(client_id = %client_id, "dynamically registered client deleted itself");
        Ok::<_, OAuthError>(StatusCode::NO_CONTENT.into_response())
    };
    result.await.unwrap_or_else(|e| e.into_response())
}

pub async fn method_not_allowed() -> Response {
    OAuthError::invalid_request("method not allowed here").into_response()
}
