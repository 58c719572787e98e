//! Projects and their members.

use std::sync::Arc;
use std::time::Instant;

use dstack_core::Secret;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::users::{GlobalRole, PublicUser, User};
use super::{LISTING_CACHE_TTL, Result, Store};

/// A member's role in a project.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum ProjectRole {
    User,
    Manager,
    Admin,
}

impl ProjectRole {
    pub fn as_str(self) -> &'static str {
        match self {
            ProjectRole::Admin => "admin",
            ProjectRole::Manager => "manager",
            ProjectRole::User => "user",
        }
    }

    pub(super) fn parse(s: &str) -> Self {
        match s {
            "admin" => ProjectRole::Admin,
            "manager" => ProjectRole::Manager,
            _ => ProjectRole::User,
        }
    }
}

/// A project as the project list shows it, with the caller's role in it.
#[derive(Debug, Clone)]
pub struct ListedProject {
    pub id: String,
    pub name: String,
    pub created_at: i64,
    pub is_public: bool,
    pub templates_repo: Option<String>,
    pub owner: PublicUser,
    pub role: Option<ProjectRole>,
}

#[derive(Debug, Clone)]
pub struct Project {
    pub id: String,
    pub name: String,
    pub owner_id: String,
    pub created_at: i64,
    pub is_public: bool,
    pub templates_repo: Option<String>,
    pub ssh_public_key: String,
    pub ssh_private_key: Secret,
}

#[derive(Debug, Clone)]
pub struct Member {
    pub user: User,
    pub role: ProjectRole,
}

/// Columns of a project, in `project_from_row`'s terms.
macro_rules! project_columns {
    () => {
        "id, name, owner_id, created_at, is_public, templates_repo, ssh_public_key, ssh_private_key"
    };
}

impl Store {
    fn project_from_row(&self, row: &AnyRow) -> Result<Project> {
        let name: String = row.try_get("name")?;
        Ok(Project {
            id: row.try_get("id")?,
            owner_id: row.try_get("owner_id")?,
            created_at: row.try_get("created_at")?,
            is_public: row.try_get::<i64, _>("is_public")? != 0,
            templates_repo: row.try_get("templates_repo")?,
            ssh_public_key: row.try_get("ssh_public_key")?,
            ssh_private_key: self
                .decrypt_for(&row.try_get::<String, _>("ssh_private_key")?, || {
                    format!("project `{name}` (SSH key)")
                })?,
            name,
        })
    }

    /// Inserts a new project and its owner's admin membership in one transaction, so that a
    /// crash leaves either both or neither; [`StoreError::Exists`] when the name is taken.
    pub async fn insert_project(&self, project: &Project) -> Result<()> {
        let mut tx = self.db.pool.begin().await?;
        sqlx::query(
            "INSERT INTO projects (id, name, owner_id, created_at, is_public, templates_repo, \
             ssh_public_key, ssh_private_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&project.id)
        .bind(&project.name)
        .bind(&project.owner_id)
        .bind(project.created_at)
        .bind(i64::from(project.is_public))
        .bind(project.templates_repo.clone())
        .bind(&project.ssh_public_key)
        .bind(self.encrypt(&project.ssh_private_key))
        .execute(&mut *tx)
        .await?;
        upsert_member(&mut tx, &project.id, &project.owner_id, ProjectRole::Admin).await?;
        tx.commit().await?;
        self.forget_listings();
        Ok(())
    }

    pub async fn project_by_name(&self, name: &str) -> Result<Option<Project>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            project_columns!(),
            " FROM projects WHERE name = $1 AND deleted = 0"
        ))
        .bind(name)
        .fetch_optional(&self.db.pool)
        .await?;
        row.map(|r| self.project_from_row(&r)).transpose()
    }

    /// The project with this id, unless deleted.
    pub async fn project_by_id(&self, id: &str) -> Result<Option<Project>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            project_columns!(),
            " FROM projects WHERE id = $1 AND deleted = 0"
        ))
        .bind(id)
        .fetch_optional(&self.db.pool)
        .await?;
        row.map(|r| self.project_from_row(&r)).transpose()
    }

    /// All projects, newest first.
    pub async fn projects(&self) -> Result<Vec<Project>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            project_columns!(),
            " FROM projects WHERE deleted = 0 ORDER BY created_at DESC, id DESC"
        ))
        .fetch_all(&self.db.pool)
        .await?;
        rows.iter().map(|r| self.project_from_row(r)).collect()
    }

    /// Every project with its owner and `user_id`'s role in it, newest first.
    pub async fn project_listing(&self, user_id: &str) -> Result<Arc<Vec<ListedProject>>> {
        {
            let cache = self.listing_cache.read().unwrap_or_else(|e| e.into_inner());
            if let Some((at, listing)) = cache.get(user_id)
                && at.elapsed() < LISTING_CACHE_TTL
            {
                return Ok(listing.clone());
            }
        }
        let listing = Arc::new(self.project_listing_uncached(user_id).await?);
        let mut cache = self.listing_cache.write().unwrap_or_else(|e| e.into_inner());
        cache.retain(|_, (at, _)| at.elapsed() < LISTING_CACHE_TTL);
        cache.insert(user_id.to_owned(), (Instant::now(), listing.clone()));
        Ok(listing)
    }

    /// One query, nothing decrypted.
    async fn project_listing_uncached(&self, user_id: &str) -> Result<Vec<ListedProject>> {
        let rows = sqlx::query(
            "SELECT p.id AS id, p.name AS name, p.created_at AS created_at, \
             p.is_public AS is_public, p.templates_repo AS templates_repo, \
             u.id AS owner_id, u.name AS owner_name, u.global_role AS owner_role, \
             u.email AS owner_email, u.active AS owner_active, \
             u.created_at AS owner_created_at, u.ssh_public_key AS owner_ssh_public_key, \
             m.project_role AS my_role \
             FROM projects p JOIN users u ON u.id = p.owner_id \
             LEFT JOIN members m ON m.project_id = p.id AND m.user_id = $1 \
             WHERE p.deleted = 0 ORDER BY p.created_at DESC, p.id DESC",
        )
        .bind(user_id)
        .fetch_all(&self.db.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(ListedProject {
                    id: row.try_get("id")?,
                    name: row.try_get("name")?,
                    created_at: row.try_get("created_at")?,
                    is_public: row.try_get::<i64, _>("is_public")? != 0,
                    templates_repo: row.try_get("templates_repo")?,
                    owner: PublicUser {
                        id: row.try_get("owner_id")?,
                        name: row.try_get("owner_name")?,
                        global_role: GlobalRole::parse(&row.try_get::<String, _>("owner_role")?),
                        email: row.try_get("owner_email")?,
                        active: row.try_get::<i64, _>("owner_active")? != 0,
                        created_at: row.try_get("owner_created_at")?,
                        ssh_public_key: row.try_get("owner_ssh_public_key")?,
                    },
                    role: row
                        .try_get::<Option<String>, _>("my_role")?
                        .map(|r| ProjectRole::parse(&r)),
                })
            })
            .collect()
    }

    /// Sets each user's role in `project`, adding memberships where needed, all or none.
    pub async fn set_members(
        &self,
        project_id: &str,
        roles: &[(String, ProjectRole)],
    ) -> Result<()> {
        let mut tx = self.db.pool.begin().await?;
        for (user_id, role) in roles {
            upsert_member(&mut tx, project_id, user_id, *role).await?;
        }
        tx.commit().await?;
        self.forget_listings();
        Ok(())
    }

    /// Replaces the project's members with `roles`, numbered in the given order (dstack's
    /// `set_members`), in one transaction.
    pub async fn replace_members(
        &self,
        project_id: &str,
        roles: &[(String, ProjectRole)],
    ) -> Result<()> {
        let mut tx = self.db.pool.begin().await?;
        sqlx::query("DELETE FROM members WHERE project_id = $1")
            .bind(project_id)
            .execute(&mut *tx)
            .await?;
        for (user_id, role) in roles {
            upsert_member(&mut tx, project_id, user_id, *role).await?;
        }
        tx.commit().await?;
        self.forget_listings();
        Ok(())
    }

    /// Removes these users from the project, in one transaction.
    pub async fn remove_members(&self, project_id: &str, user_ids: &[String]) -> Result<()> {
        let mut tx = self.db.pool.begin().await?;
        for user_id in user_ids {
            sqlx::query("DELETE FROM members WHERE project_id = $1 AND user_id = $2")
                .bind(project_id)
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        self.forget_listings();
        Ok(())
    }

    /// Sets whether a project is public and its templates repo.
    pub async fn update_project(
        &self,
        project_id: &str,
        is_public: bool,
        templates_repo: Option<&str>,
    ) -> Result<()> {
        sqlx::query("UPDATE projects SET is_public = $1, templates_repo = $2 WHERE id = $3")
            .bind(i64::from(is_public))
            .bind(templates_repo.map(str::to_owned))
            .bind(project_id)
            .execute(&self.db.pool)
            .await?;
        self.forget_listings();
        Ok(())
    }

    /// Deletes projects as dstack does, in one transaction: each is marked deleted and renamed
    /// `_deleted_<time>_<random>` so that its name is free again; its records stay.
    /// [`super::StoreError::Gone`] if any of them no longer exists; then nothing is changed.
    pub async fn delete_projects(&self, project_ids: &[String]) -> Result<()> {
        let mut tx = self.db.pool.begin().await?;
        let stamp = super::now_micros() / 1_000_000;
        for id in project_ids {
            let renamed = format!("_deleted_{stamp}_{}", &super::new_id().replace('-', "")[..16]);
            let done = sqlx::query(
                "UPDATE projects SET deleted = 1, original_name = name, name = $1 \
                 WHERE id = $2 AND deleted = 0",
            )
            .bind(&renamed)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                return Err(super::StoreError::Gone);
            }
        }
        tx.commit().await?;
        self.forget_listings();
        Ok(())
    }

    pub async fn members(&self, project_id: &str) -> Result<Vec<Member>> {
        let rows = sqlx::query(
            "SELECT m.project_role AS project_role, u.id AS id, u.name AS name, u.token AS token, \
             u.global_role AS global_role, u.email AS email, u.active AS active, \
             u.created_at AS created_at, u.ssh_public_key AS ssh_public_key, \
             u.ssh_private_key AS ssh_private_key \
             FROM members m JOIN users u ON u.id = m.user_id \
             WHERE m.project_id = $1 ORDER BY m.member_num",
        )
        .bind(project_id)
        .fetch_all(&self.db.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(Member {
                    role: ProjectRole::parse(&row.try_get::<String, _>("project_role")?),
                    user: self.user_from_row(row)?,
                })
            })
            .collect()
    }

    pub async fn member_role(
        &self,
        project_id: &str,
        user_id: &str,
    ) -> Result<Option<ProjectRole>> {
        let row =
            sqlx::query("SELECT project_role FROM members WHERE project_id = $1 AND user_id = $2")
                .bind(project_id)
                .bind(user_id)
                .fetch_optional(&self.db.pool)
                .await?;
        Ok(row
            .map(|r| r.try_get::<String, _>("project_role"))
            .transpose()?
            .map(|r| ProjectRole::parse(&r)))
    }
}

/// Sets one membership inside a transaction: an upsert, so that concurrent adds of the same
/// member cannot fail on the primary key or add it twice. A new member is numbered after the
/// project's last one (the order dstack lists members in).
async fn upsert_member(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    project_id: &str,
    user_id: &str,
    role: ProjectRole,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO members (project_id, user_id, project_role, member_num) \
         SELECT $1, $2, $3, COALESCE(MAX(member_num), -1) + 1 FROM members WHERE project_id = $4 \
         ON CONFLICT (project_id, user_id) DO UPDATE SET project_role = excluded.project_role",
    )
    .bind(project_id)
    .bind(user_id)
    .bind(role.as_str())
    .bind(project_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
