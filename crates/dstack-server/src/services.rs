//! Users and projects: the rules of creating them, shared by start-up, config.yml and the API.

use dstack_core::Secret;
use dstack_core::config::is_valid_project_name;

use crate::error::{Result, ServerError};
use crate::ssh::generate_key_pair;
use crate::store::{GlobalRole, Project, Store, User, new_id, now_micros};

pub const ADMIN_USERNAME: &str = "admin";
pub const DEFAULT_PROJECT: &str = "main";

/// Makes sure the admin user exists. As in dstack, `token` (`DSTACK_SERVER_ADMIN_TOKEN` or
/// `--token`) is the admin's token when the admin is first created; after that the stored
/// token is kept, with a warning if `token` differs.
pub async fn ensure_admin(store: &Store, token: Option<&str>) -> Result<User> {
    if let Some(admin) = store.user_by_name(ADMIN_USERNAME).await? {
        if token.is_some_and(|t| t != admin.token.expose()) {
            tracing::warn!(
                "the admin token given by DSTACK_SERVER_ADMIN_TOKEN or --token differs from the \
                 stored one; the stored token is kept"
            );
        }
        return Ok(admin);
    }
    let token = token.map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned);
    let admin =
        NewUser { name: ADMIN_USERNAME, role: GlobalRole::Admin, email: None, active: true };
    create_user(store, admin, Secret::new(token)).await
}

/// What a new user is given.
#[derive(Debug)]
pub struct NewUser<'a> {
    pub name: &'a str,
    pub role: GlobalRole,
    pub email: Option<String>,
    pub active: bool,
}

/// dstack's rule for user names.
pub fn is_valid_username(name: &str) -> bool {
    (1..=60).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Creates a user with a fresh SSH key pair.
pub async fn create_user(store: &Store, new: NewUser<'_>, token: Secret) -> Result<User> {
    let NewUser { name, role, email, active } = new;
    if !is_valid_username(name) {
        return Err(ServerError::Refused(
            "Username should match regex '^[a-zA-Z0-9-_]{1,60}$'".to_owned(),
        ));
    }
    // Names are unique regardless of case, as in dstack; the unique index decides races
    // between identical names.
    if store.username_taken(name).await? {
        return Err(ServerError::Exists);
    }
    let (ssh_public_key, ssh_private_key) = generate_key_pair(name);
    let user = User {
        id: new_id(),
        name: name.to_owned(),
        token,
        global_role: role,
        email,
        active,
        created_at: now_micros(),
        ssh_public_key,
        ssh_private_key,
    };
    // The unique index on the name decides between concurrent creates.
    store.insert_user(&user).await?;
    Ok(user)
}

/// Creates a project owned by `owner`, who becomes its admin.
pub async fn create_project(
    store: &Store,
    owner: &User,
    name: &str,
    is_public: bool,
    templates_repo: Option<String>,
) -> Result<Project> {
    if !is_valid_project_name(name) {
        return Err(ServerError::Refused(
            "Project name should match regex '^[a-zA-Z0-9-_]{1,50}$'".to_owned(),
        ));
    }
    let (ssh_public_key, ssh_private_key) = generate_key_pair(name);
    let project = Project {
        id: new_id(),
        name: name.to_owned(),
        owner_id: owner.id.clone(),
        created_at: now_micros(),
        is_public,
        templates_repo,
        ssh_public_key,
        ssh_private_key,
    };
    // The project and its owner's membership are written together; the unique index on the
    // name decides between concurrent creates.
    store.insert_project(&project).await?;
    Ok(project)
}

/// Returns the project, creating it (owned by `owner`) if it does not exist.
pub async fn ensure_project(store: &Store, owner: &User, name: &str) -> Result<Project> {
    if let Some(project) = store.project_by_name(name).await? {
        return Ok(project);
    }
    match create_project(store, owner, name, false, None).await {
        // Created a moment ago by another server sharing the database.
        Err(ServerError::Exists) => store
            .project_by_name(name)
            .await?
            .ok_or_else(|| ServerError::Internal(format!("project {name} vanished while created"))),
        other => other,
    }
}
