//! The admins' pages: all receipts (and their CSV), the audit log, refunds.

use crate::auth::CurrentUser;
use crate::error::AppError;

pub mod audit;
pub mod receipts;
pub mod refunds;

/// Admins only; anybody else gets the same 404 as for a page that does not exist.
pub fn require_admin(user: &CurrentUser) -> Result<(), AppError> {
    if user.is_admin() {
        Ok(())
    } else {
        Err(AppError::NotFound)
    }
}
