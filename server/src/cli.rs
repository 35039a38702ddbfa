//! `lvs-server`'s commands other than serving: `users add|passwd|remove|list` and
//! `tokens add|list|revoke`. Each opens
//! the database (a running server may hold it too: writes wait their turn), does one thing
//! through the write layer, and says what it did on standard output.

use std::io::BufRead as _;

use anyhow::Context as _;

use crate::config::{Command, Config, TokensCommand, UsersCommand};
use crate::db::{users, Db};
use crate::edit::api_tokens::{self, Owner, TokenRequest};
use crate::edit::{passwords, users as edit_users, Author, EditError};

/// Runs `command` against the database of `config`.
pub async fn run(config: &Config, command: &Command) -> anyhow::Result<()> {
    let url = config
        .database_url()
        .context("creating the data directory")?;
    let db = Db::open(&url)
        .await
        .with_context(|| format!("opening database {url}"))?;
    let done = match command {
        Command::Users(users) => run_users(&db, users).await,
        Command::Tokens(tokens) => run_tokens(&db, tokens).await,
    };
    db.close().await;
    done
}

async fn run_users(db: &Db, command: &UsersCommand) -> anyhow::Result<()> {
    match command {
        UsersCommand::Add {
            name,
            role,
            clusters,
            password_stdin,
        } => {
            let (password, generated) = password(*password_stdin)?;
            edit_users::add(db, name, *role, clusters, &password, &Author::cli())
                .await
                .map_err(explain)?;
            println!("added user {name} ({role})");
            if generated {
                println!("password: {password}");
            }
        }
        UsersCommand::Passwd {
            name,
            password_stdin,
        } => {
            let (password, generated) = password(*password_stdin)?;
            edit_users::set_password(db, name, &password, &Author::cli())
                .await
                .map_err(explain)?;
            println!("changed the password of user {name}");
            if generated {
                println!("password: {password}");
            }
        }
        UsersCommand::Remove { name } => {
            edit_users::remove(db, name, &Author::cli())
                .await
                .map_err(explain)?;
            println!("removed user {name}");
        }
        UsersCommand::List => {
            let mut read = db.read().await?;
            let users = users::list(&mut read).await?;
            println!("{:<24} {:<9} CLUSTERS", "NAME", "ROLE");
            for user in users {
                let clusters = match user.role {
                    lvs_model::access::Role::Operator if user.grants.is_empty() => "(none)".into(),
                    lvs_model::access::Role::Operator => user.grants.join(","),
                    _ => "(all)".into(),
                };
                println!("{:<24} {:<9} {clusters}", user.name, user.role.as_str());
            }
        }
    }
    Ok(())
}

async fn run_tokens(db: &Db, command: &TokensCommand) -> anyhow::Result<()> {
    match command {
        TokensCommand::Add {
            name,
            user,
            service_account,
            role,
            clusters,
            expires_in,
        } => {
            let owner = match (user, service_account) {
                (Some(user), None) => Owner::User(user.clone()),
                (None, Some(account)) => Owner::ServiceAccount(account.clone()),
                _ => anyhow::bail!("name the token's owner: --user NAME or --service-account NAME"),
            };
            let expires_at = expires_in.map(|d| {
                crate::db::now_millis() + i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 2)
            });
            let request = TokenRequest {
                name: name.clone(),
                owner,
                role: *role,
                clusters: clusters.clone(),
                expires_at,
            };
            let issued = api_tokens::create(db, &request, None, &Author::cli())
                .await
                .map_err(explain)?;
            // Only the token on standard output, so that scripts can capture it.
            println!("{}", issued.token);
            eprintln!(
                "added API token {} (id {}, {}); it is shown only this once",
                issued.row.name, issued.row.id, issued.row.role
            );
        }
        TokensCommand::List => {
            let tokens = api_tokens::list(db, None).await.map_err(explain)?;
            println!(
                "{:<6} {:<24} {:<24} {:<9} EXPIRES",
                "ID", "NAME", "OWNER", "ROLE"
            );
            for token in tokens {
                let owner = match (&token.user, &token.service_account) {
                    (Some(user), _) => format!("user {user}"),
                    (_, Some(account)) => format!("account {account}"),
                    _ => String::new(),
                };
                let expires = token
                    .expires_at
                    .map_or_else(|| "never".to_owned(), crate::resources::timestamp);
                println!(
                    "{:<6} {:<24} {:<24} {:<9} {expires}",
                    token.id,
                    token.name,
                    owner,
                    token.role.as_str()
                );
            }
        }
        TokensCommand::Revoke { id } => {
            api_tokens::revoke(db, *id, None, &Author::cli())
                .await
                .map_err(explain)?;
            println!("revoked API token {id}");
        }
    }
    Ok(())
}

/// The password to set, from standard input's first line or generated; whether generated.
fn password(from_stdin: bool) -> anyhow::Result<(String, bool)> {
    if !from_stdin {
        return Ok((passwords::generate()?, true));
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the password from standard input")?;
    let password = line.strip_suffix('\n').unwrap_or(&line);
    let password = password.strip_suffix('\r').unwrap_or(password);
    Ok((password.to_owned(), false))
}

/// An edit's refusal as the command's error: the field and the reason.
fn explain(error: EditError) -> anyhow::Error {
    match error {
        EditError::Invalid(errors) => anyhow::anyhow!("{errors}"),
        EditError::Internal(error) => error,
        other => anyhow::anyhow!("{other}"),
    }
}
