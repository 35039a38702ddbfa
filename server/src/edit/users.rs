//! Users: added, given a new password, removed; and the first admin, made at the first
//! start of a server whose database has no user. Passwords are hashed before the write
//! transaction begins (it is slow by design) and never logged.

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use lvs_model::access::{check_password, Role};
use lvs_model::Name;

use super::error::{EditError, EditResult};
use super::{audit, lookup, passwords, unique, Author};
use crate::db::{credentials, now_millis, users, Db, Tx};

/// The first admin's name.
pub const INITIAL_ADMIN: &str = "admin";
/// Where, in the data directory, the first admin's password is written.
pub const INITIAL_PASSWORD_FILE: &str = "initial-admin-password";

/// Adds the user `name` with `role`, granted `clusters` (operators only), and `password`.
pub async fn add(
    db: &Db,
    name: &str,
    role: Role,
    clusters: &[String],
    password: &str,
    author: &Author,
) -> EditResult<()> {
    let name = Name::parse(name).map_err(|why| EditError::invalid("name", why))?;
    check_password(password).map_err(|why| EditError::invalid("password", why))?;
    if role != Role::Operator && !clusters.is_empty() {
        return Err(EditError::invalid(
            "clusters",
            format!("only operators are granted clusters; a {role} may act on all of them"),
        ));
    }
    let hash = passwords::hash(password.to_owned()).await?;
    let mut tx = db.write().await?;
    let inserted = users::insert(&mut tx, name.as_str(), role, &hash, now_millis()).await;
    let id = unique(inserted, || format!("user {name}"))?;
    grant(&mut tx, id, clusters).await?;
    let detail = format!("role {role}");
    audit(
        &mut tx,
        author,
        "user_added",
        format!("user {name}"),
        detail,
    )
    .await?;
    tx.commit().await?;
    tracing::info!(user = %name, %role, "user added");
    Ok(())
}

/// Grants the user `clusters`, named in the request's `clusters` field.
async fn grant(tx: &mut Tx, user_id: i64, clusters: &[String]) -> EditResult<()> {
    for cluster in clusters {
        // A name in the body, not the path: a field that is wrong, not a resource missing.
        let found = lookup::cluster(tx, cluster).await.map_err(|e| match e {
            EditError::NotFound(_) => {
                EditError::invalid("clusters", format!("cluster {cluster} does not exist"))
            }
            other => other,
        })?;
        users::grant(tx, user_id, found.id).await?;
    }
    Ok(())
}

/// What to change of a user: `None` leaves it as it is.
#[derive(Debug, Clone, Default)]
pub struct UserChange {
    pub role: Option<Role>,
    /// The clusters an operator is granted, replacing those it had.
    pub clusters: Option<Vec<String>>,
}

/// Changes the role or the grants of the user `name`. The last admin stays one; the user's
/// API tokens are lowered to its new role, and its sessions and tokens act with the new
/// role from the next request on (the commit invalidates the cached credentials).
pub async fn change(db: &Db, name: &str, change: &UserChange, author: &Author) -> EditResult<()> {
    let mut tx = db.write().await?;
    let user = users::get(&mut tx, name)
        .await?
        .ok_or_else(|| EditError::not_found(format!("user {name}")))?;
    let role = change.role.unwrap_or(user.role);
    if user.role == Role::Admin && role != Role::Admin && users::admins(&mut tx).await? == 1 {
        return Err(EditError::invalid(
            "role",
            format!(
                "user {name} is the last admin and stays one; make another user an admin first"
            ),
        ));
    }
    let clusters = match (&change.clusters, role) {
        (Some(clusters), Role::Operator) => Some(clusters.clone()),
        (Some(clusters), _) if !clusters.is_empty() => {
            return Err(EditError::invalid(
                "clusters",
                format!("only operators are granted clusters; a {role} may act on all of them"),
            ))
        }
        // Grants mean nothing to other roles: an operator no longer keeps them.
        (_, Role::Viewer | Role::Admin) => Some(Vec::new()),
        (None, Role::Operator) => None,
    };
    if role != user.role {
        users::set_role(&mut tx, user.id, role).await?;
    }
    if let Some(clusters) = &clusters {
        users::revoke_grants(&mut tx, user.id).await?;
        grant(&mut tx, user.id, clusters).await?;
    }
    let lowered = credentials::cap_user_tokens(&mut tx, user.id, role).await?;
    let granted = clusters.unwrap_or(user.grants);
    let mut detail = format!("role {role}");
    if role == Role::Operator {
        detail.push_str(&format!(", clusters [{}]", granted.join(", ")));
    }
    if lowered > 0 {
        detail.push_str(&format!(", {lowered} API tokens lowered to {role}"));
    }
    audit(
        &mut tx,
        author,
        "user_changed",
        format!("user {name}"),
        detail,
    )
    .await?;
    tx.commit().await?;
    tracing::info!(user = %name, %role, "user changed");
    Ok(())
}

/// Sets the password of the user `name`, which ends every session it has.
pub async fn set_password(db: &Db, name: &str, password: &str, author: &Author) -> EditResult<()> {
    check_password(password).map_err(|why| EditError::invalid("password", why))?;
    let hash = passwords::hash(password.to_owned()).await?;
    let mut tx = db.write().await?;
    let user = users::get(&mut tx, name)
        .await?
        .ok_or_else(|| EditError::not_found(format!("user {name}")))?;
    users::set_password(&mut tx, name, &hash, now_millis()).await?;
    let ended = credentials::delete_user_sessions(&mut tx, user.id).await?;
    let detail = format!("{ended} sessions ended");
    audit(
        &mut tx,
        author,
        "password_changed",
        format!("user {name}"),
        detail,
    )
    .await?;
    tx.commit().await?;
    tracing::info!(user = %name, "password changed");
    Ok(())
}

/// Removes the user `name`, unless it is the last admin (no one could manage users then).
pub async fn remove(db: &Db, name: &str, author: &Author) -> EditResult<()> {
    let mut tx = db.write().await?;
    let user = users::get(&mut tx, name)
        .await?
        .ok_or_else(|| EditError::not_found(format!("user {name}")))?;
    if user.role == Role::Admin && users::admins(&mut tx).await? == 1 {
        return Err(EditError::Conflict {
            code: "last_admin",
            detail: format!("user {name} is the last admin; add another admin first"),
        });
    }
    users::delete(&mut tx, name).await?;
    audit(
        &mut tx,
        author,
        "user_removed",
        format!("user {name}"),
        String::new(),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(user = %name, "user removed");
    Ok(())
}

/// When the database has no user: adds [`INITIAL_ADMIN`] with a random password, written
/// once to [`INITIAL_PASSWORD_FILE`] in `data_dir` (readable by this user only). The file's
/// path when it did.
pub async fn ensure_initial_admin(db: &Db, data_dir: &Path) -> anyhow::Result<Option<PathBuf>> {
    let mut read = db.read().await?;
    if users::count(&mut read).await? > 0 {
        return Ok(None);
    }
    drop(read);
    let password = passwords::generate()?;
    let hash = passwords::hash(password.clone()).await?;
    let mut tx = db.write().await?;
    // Another server on the same database may have been quicker.
    if users::count(&mut tx).await? > 0 {
        return Ok(None);
    }
    users::insert(&mut tx, INITIAL_ADMIN, Role::Admin, &hash, now_millis()).await?;
    let target = format!("user {INITIAL_ADMIN}");
    let detail = "the first admin, password in the data directory".to_owned();
    audit(&mut tx, &Author::cli(), "user_added", target, detail).await?;
    let path = data_dir.join(INITIAL_PASSWORD_FILE);
    // Written before the commit: if it cannot be, there is no admin whose password no one
    // knows, and the next start tries again.
    write_secret(&path, &password)?;
    tx.commit().await?;
    Ok(Some(path))
}

/// Writes `secret` to `path`, mode 0600 from its creation, replacing the file whole.
fn write_secret(path: &Path, secret: &str) -> anyhow::Result<()> {
    use anyhow::Context as _;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let partial = path.with_extension("partial");
    let _ = std::fs::remove_file(&partial);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&partial)
        .with_context(|| format!("creating {}", partial.display()))?;
    file.write_all(format!("{secret}\n").as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", partial.display()))?;
    std::fs::rename(&partial, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
