//! The partner-shop network: shops, their import, the seed network and the geo index that
//! answers "nearest pickup points".
//!
//! Pure domain code: no HTTP types here, and SQL only in [`store`].

pub mod address;
pub mod availability;
pub mod capabilities;
pub mod closure_store;
pub mod closures;
pub mod export;
pub mod geo;
pub mod hours;
pub mod import;
pub mod index;
pub mod load;
pub mod places;
pub mod profile_store;
mod region_moves;
pub mod seed;
pub mod service;
pub mod services;
pub mod shop;
pub mod sizes;
pub mod store;

pub use index::area::{AreaAnswer, BoundingBox, Cluster};
pub use index::text::{Quality, TextHit};
pub use index::{GeoIndex, Hit, SearchFilter};
pub use shop::{Shop, ShopInput, ShopStatus};
