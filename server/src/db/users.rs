//! The `users` and `user_grants` tables.

use lvs_model::access::Role;
use sqlx::SqliteConnection;

use super::{corrupt, Tx};

/// A user as stored, with the names of the clusters it is granted.
#[derive(Debug, Clone)]
pub struct User {
    pub id: i64,
    pub name: String,
    pub role: Role,
    /// argon2id, PHC string format.
    pub password_hash: String,
    pub created_at: i64,
    pub password_changed_at: i64,
    /// Cluster names, sorted.
    pub grants: Vec<String>,
}

struct UserRow {
    id: i64,
    name: String,
    role: String,
    password_hash: String,
    created_at: i64,
    password_changed_at: i64,
}

impl UserRow {
    fn into_user(self, grants: Vec<String>) -> Result<User, sqlx::Error> {
        let role = self
            .role
            .parse()
            .map_err(|why: String| corrupt("user role", &why))?;
        Ok(User {
            id: self.id,
            name: self.name,
            role,
            password_hash: self.password_hash,
            created_at: self.created_at,
            password_changed_at: self.password_changed_at,
            grants,
        })
    }
}

pub async fn count(conn: &mut SqliteConnection) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(r#"SELECT count(*) AS "n!: i64" FROM users"#)
        .fetch_one(conn)
        .await
}

/// How many users are admins.
pub async fn admins(conn: &mut SqliteConnection) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(r#"SELECT count(*) AS "n!: i64" FROM users WHERE role = 'admin'"#)
        .fetch_one(conn)
        .await
}

/// Adds a user; its id. A name taken is a unique violation.
pub async fn insert(
    tx: &mut Tx,
    name: &str,
    role: Role,
    password_hash: &str,
    now: i64,
) -> Result<i64, sqlx::Error> {
    let role = role.as_str();
    sqlx::query_scalar!(
        r#"INSERT INTO users (name, password_hash, role, created_at, password_changed_at)
         VALUES (?, ?, ?, ?, ?) RETURNING id AS "id!""#,
        name,
        password_hash,
        role,
        now,
        now
    )
    .fetch_one(&mut **tx)
    .await
}

/// Grants the user the cluster.
pub async fn grant(tx: &mut Tx, user_id: i64, cluster_id: i64) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT OR IGNORE INTO user_grants (user_id, cluster_id) VALUES (?, ?)",
        user_id,
        cluster_id
    )
    .execute(&mut **tx)
    .await?;
    tx.record_credentials_changed();
    Ok(())
}

/// Sets the user's role.
pub async fn set_role(tx: &mut Tx, user_id: i64, role: Role) -> Result<(), sqlx::Error> {
    let role = role.as_str();
    sqlx::query!("UPDATE users SET role = ? WHERE id = ?", role, user_id)
        .execute(&mut **tx)
        .await?;
    tx.record_credentials_changed();
    Ok(())
}

/// Takes every cluster grant from the user.
pub async fn revoke_grants(tx: &mut Tx, user_id: i64) -> Result<(), sqlx::Error> {
    sqlx::query!("DELETE FROM user_grants WHERE user_id = ?", user_id)
        .execute(&mut **tx)
        .await?;
    tx.record_credentials_changed();
    Ok(())
}

/// Replaces the user's password hash; whether the user exists.
pub async fn set_password(
    tx: &mut Tx,
    name: &str,
    password_hash: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let result = sqlx::query!(
        "UPDATE users SET password_hash = ?, password_changed_at = ? WHERE name = ?",
        password_hash,
        now,
        name
    )
    .execute(&mut **tx)
    .await?;
    tx.record_credentials_changed();
    Ok(result.rows_affected() > 0)
}

/// Deletes the user (and its grants); whether it existed.
pub async fn delete(tx: &mut Tx, name: &str) -> Result<bool, sqlx::Error> {
    let result = sqlx::query!("DELETE FROM users WHERE name = ?", name)
        .execute(&mut **tx)
        .await?;
    tx.record_credentials_changed();
    Ok(result.rows_affected() > 0)
}

pub async fn get(conn: &mut SqliteConnection, name: &str) -> Result<Option<User>, sqlx::Error> {
    let row = sqlx::query_as!(
        UserRow,
        r#"SELECT id AS "id!", name, role, password_hash, created_at, password_changed_at
         FROM users WHERE name = ?"#,
        name
    )
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let grants = grants(conn, row.id).await?;
    row.into_user(grants).map(Some)
}

/// Every user, by name.
pub async fn list(conn: &mut SqliteConnection) -> Result<Vec<User>, sqlx::Error> {
    let rows = sqlx::query_as!(
        UserRow,
        r#"SELECT id AS "id!", name, role, password_hash, created_at, password_changed_at
         FROM users ORDER BY name"#
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut users = Vec::with_capacity(rows.len());
    for row in rows {
        let grants = grants(conn, row.id).await?;
        users.push(row.into_user(grants)?);
    }
    Ok(users)
}

async fn grants(conn: &mut SqliteConnection, user_id: i64) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT c.name FROM user_grants g JOIN clusters c ON c.id = g.cluster_id
         WHERE g.user_id = ? ORDER BY c.name",
        user_id
    )
    .fetch_all(conn)
    .await
}
