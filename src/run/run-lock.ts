import type pg from 'pg';

/**
 * Key of the session-level advisory lock held for a whole run: one run at a time per database,
 * across processes too. Any number works; it only has to differ from the migration lock's.
 */
export const RUN_LOCK = 7_310_002;

/**
 * Runs `work` while holding the run lock on a connection of its own, or returns at once when
 * another session holds it.
 */
export async function withRunLock<T>(pool: pg.Pool, work: () => Promise<T>): Promise<{ locked: true; value: T } | { locked: false }> {
  const lock = await pool.connect();
  let broken = false;
  try {
    const { rows } = await lock.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [RUN_LOCK]);
    if (!rows[0]?.locked) return { locked: false };
    try {
      return { locked: true, value: await work() };
    } finally {
      // If the connection died, so did the lock; the connection must not go back to the pool.
      await lock.query('SELECT pg_advisory_unlock($1)', [RUN_LOCK]).catch(() => (broken = true));
    }
  } finally {
    lock.release(broken);
  }
}
