import type pg from 'pg';
import { quoteIdent } from '../catalog/ident.ts';

/**
 * Copies the source database's own settings (ALTER DATABASE ... SET, for every role) to a target
 * database init has just created: pg_dump without --create leaves them out, and a different
 * search_path changes what unqualified names in functions and queries mean. Each value is set with
 * set_config, which parses it as the catalog stores it (lists like search_path included), and
 * stored with SET ... FROM CURRENT. Returns the settings the target refused, with why.
 */
export async function copyDatabaseSettings(
  source: pg.Client,
  targetAdmin: pg.Client,
  targetDatabase: string,
): Promise<string[]> {
  const { rows } = await source.query<{ setting: string }>(`
    SELECT unnest(s.setconfig) AS setting FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase
     WHERE d.datname = current_database() AND s.setrole = 0`);
  const refused: string[] = [];
  for (const { setting } of rows) {
    const at = setting.indexOf('=');
    const name = setting.slice(0, at);
    const value = setting.slice(at + 1);
    await targetAdmin.query('BEGIN');
    try {
      // Local to this transaction: the admin session itself keeps its own settings.
      await targetAdmin.query('SELECT set_config($1, $2, true)', [name, value]);
      await targetAdmin.query(`ALTER DATABASE ${quoteIdent(targetDatabase)} SET ${quoteIdent(name)} FROM CURRENT`);
      await targetAdmin.query('COMMIT');
    } catch (error) {
      await targetAdmin.query('ROLLBACK').catch(() => undefined);
      refused.push(`${name} (${(error as Error).message})`);
    }
  }
  return refused;
}
