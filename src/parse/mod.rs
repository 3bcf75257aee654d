//! Parse: lines become records (through each source's parser) and records become KPI samples
//! (through [`rules::Rules`]). [`stage`] runs it all on its own thread.

pub mod filter;
pub mod rules;
#[cfg(test)]
mod rules_tests;
pub mod stage;
