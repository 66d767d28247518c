//! Rendering only: the terminal summary and `summary.json`. Reports take the judged
//! findings and the ledger; they decide nothing.

pub mod load;
pub mod summary;
pub mod terminal;

pub use summary::Summary;
