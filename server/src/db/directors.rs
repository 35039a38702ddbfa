//! The `directors` table.

use lvs_model::spec::DirectorSettings;
use sqlx::SqliteConnection;

use super::Tx;

#[derive(Debug, Clone)]
pub struct DirectorRow {
    pub id: i64,
    pub cluster_id: i64,
    pub name: String,
    pub description: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Adds a director. It takes the transaction, as [`delete`] does, so that committing it
/// invalidates the cached token owners (see [`super::agent_tokens::OwnerCache`]).
pub async fn insert(
    tx: &mut Tx,
    cluster_id: i64,
    settings: &DirectorSettings,
    now: i64,
) -> Result<DirectorRow, sqlx::Error> {
    let (name, description) = (settings.name.as_str(), settings.description.as_str());
    let row = sqlx::query_as!(
        DirectorRow,
        r#"INSERT INTO directors (cluster_id, name, description, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?)
         RETURNING id AS "id!", cluster_id, name, description, created_at, updated_at"#,
        cluster_id,
        name,
        description,
        now,
        now
    )
    .fetch_one(&mut **tx)
    .await?;
    tx.record_owners_changed();
    Ok(row)
}

pub async fn get(
    conn: &mut SqliteConnection,
    cluster_id: i64,
    name: &str,
) -> Result<Option<DirectorRow>, sqlx::Error> {
    sqlx::query_as!(
        DirectorRow,
        r#"SELECT id AS "id!", cluster_id, name, description, created_at, updated_at
         FROM directors WHERE cluster_id = ? AND name = ?"#,
        cluster_id,
        name
    )
    .fetch_optional(conn)
    .await
}

/// Directors of a cluster ordered by name, after `after`.
pub async fn list(
    conn: &mut SqliteConnection,
    cluster_id: i64,
    after: Option<&str>,
    name_contains: Option<&str>,
    limit: i64,
) -> Result<Vec<DirectorRow>, sqlx::Error> {
    let after = after.unwrap_or("");
    sqlx::query_as!(
        DirectorRow,
        r#"SELECT id AS "id!", cluster_id, name, description, created_at, updated_at
         FROM directors
         WHERE cluster_id = ?1 AND name > ?2 AND (?3 IS NULL OR instr(name, ?3) > 0)
         ORDER BY name LIMIT ?4"#,
        cluster_id,
        after,
        name_contains,
        limit
    )
    .fetch_all(conn)
    .await
}

/// Never the name: cached token owners carry it, so a write that renamed would have to take
/// the [`Tx`] and mark it as [`delete`] does.
pub async fn update_description(
    conn: &mut SqliteConnection,
    id: i64,
    description: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE directors SET description = ?, updated_at = ? WHERE id = ?",
        description,
        now,
        id
    )
    .execute(conn)
    .await
    .map(drop)
}

/// Deletes a director, its token and status with it.
pub async fn delete(tx: &mut Tx, id: i64) -> Result<(), sqlx::Error> {
    sqlx::query!("DELETE FROM directors WHERE id = ?", id)
        .execute(&mut **tx)
        .await?;
    tx.record_owners_changed();
    Ok(())
}
