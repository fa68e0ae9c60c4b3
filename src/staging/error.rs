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
    #[error("the shop has {free} free slots of size {size} or larger for the {received} units of size {size} or larger received; confirm at most {free} of them (every unit in the shop holds a slot of its size or larger) and send the rest back")]
    NoRoom {
        /// Units of `size` or larger the receipt confirms.
        received: i32,
        /// Free slots of `size` or larger at the shop.
        free: i32,
        /// The smallest class of the units that do not fit (`S`: any unit).
        size: crate::network::sizes::SizeClass,
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
