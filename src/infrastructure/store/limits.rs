//! The hourly cap on new instances (`new_instance_windows`), shared by all
//! replicas.

use super::{Result, Store};

impl Store {
    /// Take one of the `cap` slots of the hour starting at `window` (Unix
    /// seconds); `false` when all are taken. One statement, so concurrent
    /// takers (on any replica) never exceed the cap.
    pub async fn take_new_instance_slot(&self, window: i64, cap: i64) -> Result<bool> {
        let taken = sqlx::query(
            "INSERT INTO new_instance_windows (window_start, used) VALUES ($1, 1) \
             ON CONFLICT (window_start) DO UPDATE SET used = new_instance_windows.used + 1 \
             WHERE new_instance_windows.used < $2",
        )
        .bind(window)
        .bind(cap)
        .execute(&mut **self.conn().await?)
        .await?;
        Ok(taken.rows_affected() == 1)
    }
}
