//! The contract, the lowest floor: the submission format as data ([`schema`]), the stable rule
//! catalogue ([`rules`]), what the codes mean ([`codes`]), the manifest ([`manifest`]), the
//! department registers ([`registers`]), GB 11643 ID arithmetic ([`id_number`])
//! and the division codes and names the product ships with ([`reference`]). It imports from no
//! other module of the crate.

pub mod codes;
pub mod id_number;
pub mod manifest;
pub mod reference;
pub mod registers;
pub mod rules;
pub mod schema;
