//! Members and their rights, changed at run time by admins: each change takes effect at the
//! next call and is recorded in the message log with who made it.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::problem::{Problem, ProblemDocument, ProblemKind};
use super::request::ApiJson;
use crate::auth::grants::{RightsChange, unknown_in};
use crate::auth::{Caller, passwords};
use crate::config::{CertificateBinding, MemberConfig, Rights, Role, valid_member_id};
use crate::schema::Violation;
use crate::store::DirectoryChange;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, add))
        .routes(routes!(show, remove))
        .routes(routes!(grant))
        .routes(routes!(revoke))
        .routes(routes!(rotate_secret))
}

/// A member as admins see it: never its secret, only whether it has one.
#[derive(Serialize, ToSchema)]
pub struct MemberView {
    pub id: String,
    pub name: String,
    pub rights: Rights,
    pub certificate: Option<CertificateBinding>,
    /// Whether it can get tokens with a client secret.
    pub has_secret: bool,
}

fn view(id: &str, member: &MemberConfig) -> MemberView {
    MemberView {
        id: id.to_string(),
        name: member.name.clone(),
        rights: member.rights.clone(),
        certificate: member.certificate.clone(),
        has_secret: member.secret_hash.is_some(),
    }
}

#[derive(Serialize, ToSchema)]
pub struct Members {
    pub members: Vec<MemberView>,
}

/// Every member and its rights (admins).
#[utoipa::path(get, path = "/v1/members", tag = "members", responses((status = 200, body = Members)))]
async fn list(State(app): State<AppState>, caller: Caller) -> Result<Json<Members>, Problem> {
    list_members(&app, &caller).map(Json)
}

/// Every member, if `caller` is an admin (the console's members page asks here too).
pub(crate) fn list_members(app: &AppState, caller: &Caller) -> Result<Members, Problem> {
    caller.need(Role::Admin)?;
    let snapshot = app.auth.directory.snapshot();
    Ok(Members { members: snapshot.members.iter().map(|(id, m)| view(id, m)).collect() })
}

/// One member and its rights (admins, and the member itself).
#[utoipa::path(
    get,
    path = "/v1/members/{id}",
    tag = "members",
    params(("id" = String, Path, description = "the member's id")),
    responses(
        (status = 200, body = MemberView),
        (status = 404, description = "No such member", body = ProblemDocument, content_type = "application/problem+json"),
    )
)]
async fn show(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<MemberView>, Problem> {
    show_member(&app, &caller, &id).map(Json)
}

/// Member `id`, if `caller` is an admin or that member (the console's member page asks here too).
pub(crate) fn show_member(app: &AppState, caller: &Caller, id: &str) -> Result<MemberView, Problem> {
    let itself = caller.member().ok().flatten().is_some_and(|(own, _)| own == id);
    if !itself {
        caller.need(Role::Admin)?;
    }
    let member = app.auth.directory.member(id).ok_or_else(|| no_member(id))?;
    Ok(view(id, &member))
}

/// A new member.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMember {
    /// Lower-case words joined by dots, such as `onestop.hatinh`: what its envelopes' `source` says.
    pub id: String,
    pub name: String,
    /// Nothing unless granted.
    #[serde(default)]
    pub rights: Rights,
    pub certificate: Option<CertificateBinding>,
}

/// A member and the client secret it was given: shown once, kept only as a hash.
#[derive(Serialize, ToSchema)]
pub struct WithSecret {
    pub member: MemberView,
    pub client_secret: String,
}

/// Add a member (admins); its client secret is made now and shown once.
#[utoipa::path(
    post,
    path = "/v1/members",
    tag = "members",
    request_body = NewMember,
    responses(
        (status = 201, body = WithSecret),
        (status = 409, description = "A member of that id exists", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 422, description = "An id, rights or certificate that are not valid", body = ProblemDocument, content_type = "application/problem+json"),
    )
)]
async fn add(
    State(app): State<AppState>,
    caller: Caller,
    body: Result<ApiJson<NewMember>, Problem>,
) -> Result<(StatusCode, Json<WithSecret>), Problem> {
    // The right first: a body is read only for whoever may send it.
    caller.need(Role::Admin)?;
    let ApiJson(new) = body?;
    let mut violations = Vec::new();
    if !valid_member_id(&new.id) {
        violations.push(Violation::new("/id", "lower-case words joined by dots, such as onestop.hatinh"));
    }
    if new.name.trim().is_empty() {
        violations.push(Violation::new("/name", "cannot be empty"));
    }
    let member = MemberConfig { name: new.name, secret_hash: None, certificate: new.certificate, rights: new.rights };
    violations.extend(member_problems(&app, &member));
    if !violations.is_empty() {
        return Err(invalid(violations));
    }
    if app.auth.directory.member(&new.id).is_some() || app.auth.directory.operator(&new.id).is_some() {
        return Err(Problem::new(ProblemKind::MemberExists).detail(format!("`{}` is taken", new.id)));
    }
    let (secret, member) = with_new_secret(member).await;
    let added = view(&new.id, &member);
    let change = DirectoryChange::PutMember(new.id.clone(), member);
    change_with(&app, &caller, "members.add", &new.id, as_detail(&added), change).await?;
    Ok((StatusCode::CREATED, Json(WithSecret { member: added, client_secret: secret })))
}

/// Remove a member (admins): its tokens stop working at once.
#[utoipa::path(
    delete,
    path = "/v1/members/{id}",
    tag = "members",
    params(("id" = String, Path, description = "the member's id")),
    responses(
        (status = 200, body = MemberView),
        (status = 404, description = "No such member", body = ProblemDocument, content_type = "application/problem+json"),
    )
)]
async fn remove(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<MemberView>, Problem> {
    caller.need(Role::Admin)?;
    let member = app.auth.directory.member(&id).ok_or_else(|| no_member(&id))?;
    let removed = view(&id, &member);
    change_with(&app, &caller, "members.remove", &id, as_detail(&removed), DirectoryChange::RemoveMember(id.clone()))
        .await?;
    Ok(Json(removed))
}

/// Grant a right (admins): a send right, a service right, read rights, or several at once.
#[utoipa::path(
    post,
    path = "/v1/members/{id}/grant",
    tag = "members",
    params(("id" = String, Path, description = "the member's id")),
    request_body = RightsChange,
    responses(
        (status = 200, description = "Its rights now", body = MemberView),
        (status = 404, description = "No such member", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 422, description = "A right that names what the bus does not know", body = ProblemDocument, content_type = "application/problem+json"),
    )
)]
async fn grant(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    asked: Result<ApiJson<RightsChange>, Problem>,
) -> Result<Json<MemberView>, Problem> {
    change_rights(&app, &caller, &id, asked, true).await
}

/// Revoke a right (admins): these types for these agencies, a service (or some of its fields),
/// or read rights.
#[utoipa::path(
    post,
    path = "/v1/members/{id}/revoke",
    tag = "members",
    params(("id" = String, Path, description = "the member's id")),
    request_body = RightsChange,
    responses(
        (status = 200, description = "Its rights now", body = MemberView),
        (status = 404, description = "No such member", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 409, description = "It holds none of that", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 422, description = "An empty change", body = ProblemDocument, content_type = "application/problem+json"),
    )
)]
async fn revoke(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    asked: Result<ApiJson<RightsChange>, Problem>,
) -> Result<Json<MemberView>, Problem> {
    change_rights(&app, &caller, &id, asked, false).await
}

async fn change_rights(
    app: &AppState,
    caller: &Caller,
    id: &str,
    asked: Result<ApiJson<RightsChange>, Problem>,
    grant: bool,
) -> Result<Json<MemberView>, Problem> {
    // The right first: a body is read only for whoever may send it.
    caller.need(Role::Admin)?;
    let ApiJson(change_asked) = asked?;
    change_member_rights(app, caller, id, &change_asked, grant).await.map(Json)
}

/// Grants (`grant`) or revokes what `change_asked` names to member `id`, if `caller` is an
/// admin, and records the change with who made it (the console's member page asks here too).
pub(crate) async fn change_member_rights(
    app: &AppState,
    caller: &Caller,
    id: &str,
    change_asked: &RightsChange,
    grant: bool,
) -> Result<MemberView, Problem> {
    caller.need(Role::Admin)?;
    let stored = app.auth.directory.member(id).ok_or_else(|| no_member(id))?;
    let mut member = MemberConfig::clone(&stored);
    if change_asked.is_empty() {
        return Err(invalid(vec![Violation::new("", "names a right: send, service or read")]));
    }
    member.rights = if grant {
        change_asked.granted(&member.rights)
    } else {
        change_asked.revoked(&member.rights).ok_or_else(|| {
            Problem::new(ProblemKind::RightNotHeld)
                .detail(format!("{id} holds none of that; GET /v1/members/{id} shows its rights"))
        })?
    };
    let problems = member_problems(app, &member);
    if !problems.is_empty() {
        return Err(invalid(problems));
    }
    let action = if grant { "members.grant" } else { "members.revoke" };
    let detail = serde_json::to_value(change_asked).expect("a change serializes");
    change_with(app, caller, action, id, detail, DirectoryChange::PutMember(id.to_string(), member.clone())).await?;
    Ok(view(id, &member))
}

/// Give a member a new client secret (admins): the old one stops working at once; tokens made
/// with it last until they expire (`auth.token_ttl`).
#[utoipa::path(
    post,
    path = "/v1/members/{id}/rotate-secret",
    tag = "members",
    params(("id" = String, Path, description = "the member's id")),
    responses(
        (status = 200, description = "The new secret, shown once", body = WithSecret),
        (status = 404, description = "No such member", body = ProblemDocument, content_type = "application/problem+json"),
    )
)]
async fn rotate_secret(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<WithSecret>, Problem> {
    caller.need(Role::Admin)?;
    let stored = app.auth.directory.member(&id).ok_or_else(|| no_member(&id))?;
    let member = MemberConfig::clone(&stored);
    let (secret, member) = with_new_secret(member).await;
    let change = DirectoryChange::PutMember(id.clone(), member.clone());
    change_with(&app, &caller, "members.rotate-secret", &id, json!({}), change).await?;
    Ok(Json(WithSecret { member: view(&id, &member), client_secret: secret }))
}

/// A fresh secret and the member holding its hash (argon2: off the async threads).
async fn with_new_secret(mut member: MemberConfig) -> (String, MemberConfig) {
    let secret = passwords::generate();
    let hashed = secret.clone();
    member.secret_hash =
        Some(tokio::task::spawn_blocking(move || passwords::hash(&hashed)).await.expect("hashing ends"));
    (secret, member)
}

/// Rights naming what the bus does not know, or agencies and certificates that are not valid.
fn member_problems(app: &AppState, member: &MemberConfig) -> Vec<Violation> {
    let problems = member
        .rights
        .problems()
        .into_iter()
        .chain(unknown_in(&member.rights, &app.catalogue, &app.fleet.adapters().current().services()))
        .chain(member.certificate.iter().flat_map(CertificateBinding::problems));
    problems.map(|p| Violation::new(p.pointer(), p.reason)).collect()
}

/// A member as the message log keeps it: what it was, never a secret or its hash.
fn as_detail(member: &MemberView) -> serde_json::Value {
    serde_json::to_value(member).expect("a member serializes")
}

/// Applies a directory change, then records it with who made it.
async fn change_with(
    app: &AppState,
    caller: &Caller,
    action: &str,
    id: &str,
    detail: serde_json::Value,
    change: DirectoryChange,
) -> Result<(), Problem> {
    app.auth.directory.change(change).await?;
    app.log.operator_action("directory.change", caller.name(), action, json!({ "member": id, "change": detail }));
    Ok(())
}

fn no_member(id: &str) -> Problem {
    Problem::not_found(format!("no member `{id}`; GET /v1/members lists them"))
}

fn invalid(violations: Vec<Violation>) -> Problem {
    Problem::new(ProblemKind::InvalidMember).detail("nothing was changed").violations(violations)
}
