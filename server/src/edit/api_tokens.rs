//! API tokens for CI and scripts: issued to a user (acting as that user, never above its
//! role) or to a named service account, with a role, optional cluster grants and an
//! optional expiry; shown once, stored as SHA-256, revoked by deleting.

use lvs_model::access::Role;
use lvs_model::Name;

use super::error::{EditError, EditResult};
use super::{audit, lookup, unique, Author};
use crate::access::secret::{self, API_TOKEN_PREFIX};
use crate::db::credentials::{self, ApiTokenRow, NewApiToken, Principal};
use crate::db::{now_millis, users, Db};

/// Who a token acts as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    User(String),
    ServiceAccount(String),
}

/// A token to issue.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    /// What it is for: a name like a cluster's, unique among its owner's tokens.
    pub name: String,
    pub owner: Owner,
    pub role: Role,
    /// The clusters an operator token may edit; empty: those of its owner.
    pub clusters: Vec<String>,
    /// Unix milliseconds; `None`: until revoked.
    pub expires_at: Option<i64>,
}

/// A token just issued: the only time its secret is known.
#[derive(Debug)]
pub struct IssuedApiToken {
    /// `lvst_` and 64 hex digits.
    pub token: String,
    pub row: ApiTokenRow,
}

/// Issues a token. `by` is the caller, whose role and grants bound what it may issue;
/// `None` is `lvs-server` on the host, which may issue any.
pub async fn create(
    db: &Db,
    request: &TokenRequest,
    by: Option<&Principal>,
    author: &Author,
) -> EditResult<IssuedApiToken> {
    let name = Name::parse(&request.name).map_err(|why| EditError::invalid("name", why))?;
    if let Owner::ServiceAccount(account) = &request.owner {
        Name::parse(account).map_err(|why| EditError::invalid("service_account", why))?;
    }
    check_grants(request)?;
    let now = now_millis();
    if request.expires_at.is_some_and(|at| at <= now) {
        return Err(EditError::invalid("expires_at", "must be in the future"));
    }
    if let Some(by) = by {
        check_caller(request, by)?;
    }
    let (token, hash) = secret::new(API_TOKEN_PREFIX)?;
    let mut tx = db.write().await?;
    let (user_id, user_role, service_account, owner_words) = match &request.owner {
        Owner::User(user) => {
            let found = users::get(&mut tx, user)
                .await?
                .ok_or_else(|| EditError::invalid("user", format!("there is no user {user}")))?;
            (
                Some(found.id),
                Some(found.role),
                None,
                format!("user {user}"),
            )
        }
        Owner::ServiceAccount(account) => (
            None,
            None,
            Some(account.as_str()),
            format!("service account {account}"),
        ),
    };
    if let Some(user_role) = user_role.filter(|r| *r < request.role) {
        return Err(EditError::invalid(
            "role",
            format!("a token cannot do more than its user, who is a {user_role}"),
        ));
    }
    let mut cluster_ids = Vec::with_capacity(request.clusters.len());
    for cluster in &request.clusters {
        // A name in the body, not the path: a field that is wrong, not a resource missing.
        let found = lookup::cluster(&mut tx, cluster)
            .await
            .map_err(|e| match e {
                EditError::NotFound(_) => {
                    EditError::invalid("clusters", format!("there is no cluster {cluster:?}"))
                }
                other => other,
            })?;
        cluster_ids.push(found.id);
    }
    let created_by = author.actor.to_string();
    let new = NewApiToken {
        name: name.as_str(),
        hash: &hash,
        user_id,
        service_account,
        role: request.role,
        created_by: &created_by,
        expires_at: request.expires_at,
        cluster_ids: &cluster_ids,
    };
    let inserted = credentials::insert_token(&mut tx, &new, now).await;
    let id = unique(inserted, || format!("token {name} of {owner_words}"))?;
    let target = format!("API token {name} of {owner_words}");
    let detail = format!("role {}", request.role);
    audit(&mut tx, author, "api_token_created", target, detail).await?;
    let row = credentials::get_token(&mut tx, id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the token just added is missing"))?;
    tx.commit().await?;
    tracing::info!(token = %name, owner = %owner_words, role = %request.role, "API token created");
    Ok(IssuedApiToken { token, row })
}

/// Grants belong to operator tokens only, as to operator users.
fn check_grants(request: &TokenRequest) -> EditResult<()> {
    let role = request.role;
    if role != Role::Operator && !request.clusters.is_empty() {
        return Err(EditError::invalid(
            "clusters",
            format!(
                "only operator tokens are granted clusters; a {role} token acts on all of them"
            ),
        ));
    }
    let account = matches!(request.owner, Owner::ServiceAccount(_));
    if account && role == Role::Operator && request.clusters.is_empty() {
        return Err(EditError::invalid(
            "clusters",
            "an operator token of a service account needs the clusters it may edit",
        ));
    }
    Ok(())
}

/// What a caller who is not the host's administrator may issue: tokens for itself, up to
/// its own role and grants; admins also for others and for service accounts.
fn check_caller(request: &TokenRequest, by: &Principal) -> EditResult<()> {
    let own = matches!(&request.owner, Owner::User(user) if by.user_id.is_some() && *user == by.actor.name);
    if !own && by.role != Role::Admin {
        return Err(EditError::Forbidden(
            "only admins issue tokens for other users or for service accounts".into(),
        ));
    }
    if request.role > by.role {
        return Err(EditError::invalid(
            "role",
            format!("cannot exceed your own role, {}", by.role),
        ));
    }
    if by.role == Role::Operator {
        if let Some(cluster) = request.clusters.iter().find(|c| !by.grants.allows(c)) {
            return Err(EditError::invalid(
                "clusters",
                format!("you are not granted cluster {cluster}"),
            ));
        }
    }
    Ok(())
}

/// The tokens `by` may see: its own (its user's, or its service account's), or all for an
/// admin (and the host).
pub async fn list(db: &Db, by: Option<&Principal>) -> EditResult<Vec<ApiTokenRow>> {
    let mut tx = db.read().await?;
    let Some(by) = by.filter(|p| p.role != Role::Admin) else {
        return Ok(credentials::list_tokens(&mut tx, None).await?);
    };
    if by.user_id.is_some() {
        return Ok(credentials::list_tokens(&mut tx, by.user_id).await?);
    }
    let all = credentials::list_tokens(&mut tx, None).await?;
    let account = Some(by.actor.name.as_str());
    Ok(all
        .into_iter()
        .filter(|t| t.service_account.as_deref() == account)
        .collect())
}

/// Revokes token `id`: refused from the moment this returns.
pub async fn revoke(db: &Db, id: i64, by: Option<&Principal>, author: &Author) -> EditResult<()> {
    let mut tx = db.write().await?;
    let row = credentials::get_token(&mut tx, id)
        .await?
        .ok_or_else(|| EditError::not_found(format!("API token {id}")))?;
    if let Some(by) = by.filter(|p| p.role != Role::Admin) {
        let own = row.user.as_deref() == Some(by.actor.name.as_str()) && by.user_id.is_some();
        if !own {
            // Not even whether it exists.
            return Err(EditError::not_found(format!("API token {id}")));
        }
    }
    credentials::delete_token(&mut tx, id).await?;
    let owner = match (&row.user, &row.service_account) {
        (Some(user), _) => format!("user {user}"),
        (_, Some(account)) => format!("service account {account}"),
        _ => String::new(),
    };
    let target = format!("API token {} of {owner}", row.name);
    audit(&mut tx, author, "api_token_revoked", target, String::new()).await?;
    tx.commit().await?;
    tracing::info!(token = %row.name, %owner, "API token revoked");
    Ok(())
}
