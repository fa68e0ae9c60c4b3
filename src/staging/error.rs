//! What can go wrong in staging.

use super::plans::PlanState;

/// Errors of events, forecasts, plans and receipts.
#[derive(Debug, thiserror::Error)]
pub enum StagingError {
    /// No such event.
    #[error("no event with id {0}")]
    EventNotFound(i64),
    /// No such plan.
    #[error("no plan with id {0}")]
    PlanNotFound(i64),
    /// No dispatched manifest of this plan for this shop.
    #[error("no dispatched manifest of plan {0} for this shop")]
    ManifestNotFound(i64),
    /// The receipt was already confirmed.
    #[error("the receipt of plan {0} was already confirmed")]
    AlreadyReceived(i64),
    /// The plan is not in the state the step needs.
    #[error("the plan is {state:?}; this step needs it {wanted:?}")]
    WrongState {
        /// Its state.
        state: PlanState,
        /// The state needed.
        wanted: PlanState,
    },
    /// The units received do not fit the shop's free slots.
    #[error("the shop has {free} free slots for the {received} units received; confirm at most {free} (every unit in the shop holds a slot) and send the rest back")]
    NoRoom {
        /// Units the receipt confirms.
        received: i32,
        /// Free slots at the shop.
        free: i32,
    },
    /// Bad input, with the field at fault.
    #[error("{field}: {message}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The allocator refused the parameters.
    #[error(transparent)]
    Allocator(#[from] super::allocator::AllocError),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}
