//! The conditions an outcome sets: Ready and Synced always, Reconciling and Stalled as kstatus
//! (what Flux and kpt read) wants them, present only while true.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

use super::Outcome;
use crate::crd::{ConditionType, Reason};

/// Sets the conditions `outcome` implies for `generation`.
pub fn apply_outcome(
    conditions: &mut Vec<Condition>,
    generation: Option<i64>,
    outcome: &Outcome,
    now: &Time,
) {
    if let Outcome::Degraded { reason, message } = outcome {
        let synced = (false, *reason, message.clone());
        if !conditions
            .iter()
            .any(|c| c.type_ == ConditionType::Ready.as_str())
        {
            set_condition(
                conditions,
                ConditionType::Ready,
                synced.clone(),
                generation,
                now,
            );
        }
        set_condition(conditions, ConditionType::Synced, synced, generation, now);
        // The group is as it was; a failed re-check neither needs a person nor blocks.
        set_abnormal(
            conditions,
            ConditionType::Reconciling,
            None,
            generation,
            now,
        );
        set_abnormal(conditions, ConditionType::Stalled, None, generation, now);
        return;
    }
    let (ready, synced): ((bool, Reason, String), (bool, Reason, String)) = match outcome {
        Outcome::Available => (
            (
                true,
                Reason::Available,
                "The platform group matches the spec.".to_owned(),
            ),
            (
                true,
                Reason::ReconcileSuccess,
                "The last reconcile applied the spec to the platform.".to_owned(),
            ),
        ),
        Outcome::Partial { reason, message } => (
            (false, *reason, message.clone()),
            (
                true,
                Reason::ReconcileSuccess,
                "Applied everything that exists on the platform.".to_owned(),
            ),
        ),
        Outcome::Refused { reason, message } | Outcome::Failed { reason, message } => (
            (false, *reason, message.clone()),
            (false, *reason, message.clone()),
        ),
        Outcome::InProgress { reason, message } => (
            (false, *reason, message.clone()),
            (true, *reason, message.clone()),
        ),
        Outcome::Observed { message } => (
            (true, Reason::Observed, message.clone()),
            (
                true,
                Reason::ReconcileSuccess,
                "Read the platform; ObserveOnly writes nothing.".to_owned(),
            ),
        ),
        Outcome::Degraded { .. } => unreachable!("handled above"),
    };
    // kstatus: Reconciling while the operator works or retries, Stalled when a person must act.
    let (reconciling, stalled) = match outcome {
        Outcome::Available | Outcome::Observed { .. } => (None, None),
        Outcome::Partial { reason, message } | Outcome::InProgress { reason, message } => {
            (Some((true, *reason, message.clone())), None)
        }
        Outcome::Refused { reason, message } | Outcome::Failed { reason, message } => {
            let condition = Some((true, *reason, message.clone()));
            if reason.needs_a_person() {
                (None, condition)
            } else {
                (condition, None)
            }
        }
        Outcome::Degraded { .. } => unreachable!("handled above"),
    };
    set_condition(conditions, ConditionType::Ready, ready, generation, now);
    set_condition(conditions, ConditionType::Synced, synced, generation, now);
    set_abnormal(
        conditions,
        ConditionType::Reconciling,
        reconciling,
        generation,
        now,
    );
    set_abnormal(conditions, ConditionType::Stalled, stalled, generation, now);
}

/// Sets a condition that kstatus reads with "abnormal-true" polarity (Reconciling, Stalled):
/// present while true, removed otherwise.
fn set_abnormal(
    conditions: &mut Vec<Condition>,
    kind: ConditionType,
    value: Option<(bool, Reason, String)>,
    generation: Option<i64>,
    now: &Time,
) {
    match value {
        Some(value) => set_condition(conditions, kind, value, generation, now),
        None => conditions.retain(|c| c.type_ != kind.as_str()),
    }
}

/// Sets one condition; `lastTransitionTime` only moves when the status flips.
fn set_condition(
    conditions: &mut Vec<Condition>,
    kind: ConditionType,
    (ok, reason, message): (bool, Reason, String),
    generation: Option<i64>,
    now: &Time,
) {
    let status = if ok { "True" } else { "False" }.to_owned();
    let last_transition_time = conditions
        .iter()
        .find(|c| c.type_ == kind.as_str() && c.status == status)
        .map(|c| c.last_transition_time.clone())
        .unwrap_or_else(|| now.clone());
    conditions.retain(|c| c.type_ != kind.as_str());
    conditions.push(Condition {
        type_: kind.as_str().to_owned(),
        status,
        reason: reason.as_str().to_owned(),
        message,
        observed_generation: generation,
        last_transition_time,
    });
    conditions.sort_by(|a, b| a.type_.cmp(&b.type_));
}
