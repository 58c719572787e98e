//! The instance lifecycle dstack has: pending → provisioning → idle (→ busy, with runs) →
//! terminating → terminated, with the reasons and messages dstack records.

use crate::store::{InstanceRow, InstanceUpdate, instance_status};

/// Why an instance ends (dstack's `InstanceTerminationReason` values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    TerminatedByUser,
    ProvisioningTimeout,
    Error,
    NoOffers,
    Unreachable,
    IdleTimeout,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::TerminatedByUser => "terminated_by_user",
            Reason::ProvisioningTimeout => "provisioning_timeout",
            Reason::Error => "error",
            Reason::NoOffers => "no_offers",
            Reason::Unreachable => "unreachable",
            Reason::IdleTimeout => "idle_timeout",
        }
    }
}

/// A change of status, with the reason and message of an ending.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    pub status: &'static str,
    pub reason: Option<Reason>,
    pub message: Option<String>,
    /// Retired: the instance leaves fleet listings (terminated after termination).
    pub deleted: bool,
}

impl Transition {
    pub fn to(status: &'static str) -> Self {
        Transition { status, reason: None, message: None, deleted: false }
    }

    /// Terminating: the backend will be asked to terminate the instance.
    pub fn to_terminating(reason: Reason, message: Option<String>) -> Self {
        Transition { reason: Some(reason), message, ..Self::to(instance_status::TERMINATING) }
    }

    /// Terminated without a cloud instance to terminate (no offers, unreadable row): kept in
    /// the fleet, as dstack shows these.
    pub fn to_terminated(reason: Reason, message: Option<String>) -> Self {
        Transition { reason: Some(reason), message, ..Self::to(instance_status::TERMINATED) }
    }

    /// Terminated after the backend terminated it: retired.
    pub fn retired() -> Self {
        Transition { deleted: true, ..Self::to(instance_status::TERMINATED) }
    }

    /// Applies the change to `update`, and says what happened as dstack's events do:
    /// `Instance status changed PENDING -> TERMINATED. Termination reason: NO_OFFERS (All
    /// offers failed)`.
    pub fn apply(&self, row: &InstanceRow, update: &mut InstanceUpdate) -> String {
        let old = update.status.to_uppercase();
        update.status = self.status.to_owned();
        if let Some(reason) = self.reason {
            update.termination_reason = Some(reason.as_str().to_owned());
        }
        if self.message.is_some() {
            update.termination_reason_message = self.message.clone();
        }
        if self.deleted {
            update.deleted = true;
            update.finished_at = Some(crate::store::now_micros());
        }
        let mut said = format!("Instance status changed {old} -> {}", self.status.to_uppercase());
        let ending = self.status == instance_status::TERMINATING
            || (self.status == instance_status::TERMINATED
                && row.status != instance_status::TERMINATING);
        if ending && let Some(reason) = update.termination_reason.as_deref() {
            said.push_str(&format!(". Termination reason: {}", reason.to_uppercase()));
            if let Some(message) = update.termination_reason_message.as_deref() {
                said.push_str(&format!(" ({message})"));
            }
        }
        said
    }
}

/// The fleet an instance belongs to, from its name (`<fleet>-<num>`).
pub fn fleet_name(instance: &InstanceRow) -> &str {
    let suffix = format!("-{}", instance.instance_num);
    instance.name.strip_suffix(&suffix).unwrap_or(&instance.name)
}
