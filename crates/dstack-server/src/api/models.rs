//! The JSON the API answers with, field for field and in dstack's order.

use schemars::JsonSchema;
use serde::Serialize;

use crate::state::AppState;
use crate::store::{GlobalRole, ListedProject, Member, Project, ProjectRole, PublicUser, User};

/// Formats microseconds since the epoch as pydantic formats a UTC datetime:
/// `2026-11-22T04:41:11.535529Z` (no fraction when it is zero).
pub fn timestamp(micros: i64) -> String {
    let at = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let base = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    );
    match at.microsecond() {
        0 => format!("{base}Z"),
        us => format!("{base}.{us:06}Z"),
    }
}

/// Reads a datetime as clients send it back (`2026-11-22T04:41:11.535529Z`, an offset, or
/// none: UTC) as microseconds since the epoch.
pub fn parse_timestamp(text: &str) -> Option<i64> {
    use time::format_description::well_known::Rfc3339;
    // The date's own dashes are in its first 10 bytes; an offset comes after them.
    let offset = text.get(10..).is_some_and(|time| time.contains(['+', '-']));
    let with_zone =
        if text.ends_with('Z') || offset { text.to_owned() } else { format!("{text}Z") };
    let at = time::OffsetDateTime::parse(&with_zone, &Rfc3339).ok()?;
    i64::try_from(at.unix_timestamp_nanos() / 1000).ok()
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct UserPermissions {
    pub can_create_projects: bool,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct UserOut {
    pub id: String,
    pub username: String,
    pub created_at: String,
    pub global_role: GlobalRole,
    pub email: Option<String>,
    pub active: bool,
    pub permissions: UserPermissions,
    pub ssh_public_key: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Token {
    pub token: String,
}

/// A user with their token and SSH private key: for the user themself, and for admins.
#[derive(Debug, Serialize, JsonSchema)]
pub struct UserWithCreds {
    #[serde(flatten)]
    pub user: UserOut,
    pub creds: Token,
    pub ssh_private_key: String,
}

impl UserOut {
    pub fn new(user: &User, state: &AppState) -> Self {
        Self::from_public(&user.public(), state)
    }

    pub fn from_public(user: &PublicUser, state: &AppState) -> Self {
        let can_create_projects = user.global_role == GlobalRole::Admin
            || state.permissions().allow_non_admins_create_projects;
        UserOut {
            id: user.id.clone(),
            username: user.name.clone(),
            created_at: timestamp(user.created_at),
            global_role: user.global_role,
            email: user.email.clone(),
            active: user.active,
            permissions: UserPermissions { can_create_projects },
            ssh_public_key: user.ssh_public_key.clone(),
        }
    }
}

impl UserWithCreds {
    pub fn new(user: &User, state: &AppState) -> Self {
        UserWithCreds {
            user: UserOut::new(user, state),
            creds: Token { token: user.token.expose().to_owned() },
            ssh_private_key: user.ssh_private_key.expose().to_owned(),
        }
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct MemberPermissions {
    pub can_manage_ssh_fleets: bool,
    pub can_manage_secrets: bool,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct MemberOut {
    pub user: UserOut,
    pub project_role: ProjectRole,
    pub permissions: MemberPermissions,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct BackendOut {
    pub name: String,
    pub config: serde_json::Value,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ProjectOut {
    pub project_id: String,
    pub project_name: String,
    pub owner: UserOut,
    pub created_at: String,
    pub backends: Vec<BackendOut>,
    pub members: Vec<MemberOut>,
    pub is_public: bool,
    pub templates_repo: Option<String>,
}

impl MemberOut {
    pub fn new(member: &Member, state: &AppState) -> Self {
        let permissions = state.permissions();
        let (fleets, secrets) = match member.role {
            ProjectRole::Admin => (true, true),
            ProjectRole::Manager => (true, permissions.allow_managers_manage_secrets),
            ProjectRole::User => (permissions.allow_non_admins_manage_ssh_fleets, false),
        };
        MemberOut {
            user: UserOut::new(&member.user, state),
            project_role: member.role,
            permissions: MemberPermissions {
                can_manage_ssh_fleets: fleets,
                can_manage_secrets: secrets,
            },
        }
    }
}

impl ProjectOut {
    pub fn new(
        project: &Project,
        owner: &User,
        backends: Vec<BackendOut>,
        members: &[Member],
        state: &AppState,
    ) -> Self {
        ProjectOut {
            project_id: project.id.clone(),
            project_name: project.name.clone(),
            owner: UserOut::new(owner, state),
            created_at: timestamp(project.created_at),
            backends,
            members: members.iter().map(|m| MemberOut::new(m, state)).collect(),
            is_public: project.is_public,
            templates_repo: project.templates_repo.clone(),
        }
    }
}

impl ProjectOut {
    /// A project as the project list shows it: without backends and members, as dstack's.
    pub fn listed(project: &ListedProject, state: &AppState) -> Self {
        ProjectOut {
            project_id: project.id.clone(),
            project_name: project.name.clone(),
            owner: UserOut::from_public(&project.owner, state),
            created_at: timestamp(project.created_at),
            backends: Vec::new(),
            members: Vec::new(),
            is_public: project.is_public,
            templates_repo: project.templates_repo.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn timestamps_look_like_pydantics() {
        assert_eq!(super::timestamp(1_795_322_471_535_529), "2026-11-22T04:41:11.535529Z");
        assert_eq!(super::timestamp(1_795_322_471_000_000), "2026-11-22T04:41:11Z");
    }

    #[test]
    fn timestamps_read_back_with_or_without_a_zone() {
        let at = 1_795_322_471_535_529;
        assert_eq!(super::parse_timestamp("2026-11-22T04:41:11.535529Z"), Some(at));
        assert_eq!(super::parse_timestamp("2026-11-22T04:41:11.535529"), Some(at));
        assert_eq!(super::parse_timestamp("2026-11-22T05:41:11.535529+01:00"), Some(at));
        assert_eq!(super::parse_timestamp("éééééé-x"), None, "not a date, and no panic");
        assert_eq!(super::parse_timestamp(""), None);
    }
}
