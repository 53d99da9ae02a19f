//! Random public identifiers.

use crate::StoreError;

/// `pay_` and 24 random hex digits (96 bits): our payment id as providers and URLs see it.
pub fn payment_public_id() -> Result<String, StoreError> {
    let mut bytes = [0u8; 12];
    getrandom::fill(&mut bytes).map_err(|e| StoreError::Unavailable(format!("no randomness: {e}")))?;
    Ok(format!("pay_{}", hex::encode(bytes)))
}
