import type pg from 'pg';
import { libpqConninfo, libpqEnvironment } from '../connection/libpq-env.ts';
import type { TlsPolicy } from '../connection/tls.ts';
import type { ConnectionSpec } from '../connection/url.ts';
import { runPgTool } from '../pgtools/run.ts';

export interface RoleCopyResult {
  applied: string[];
  skipped: { statement: string; reason: string }[];
}

const INTERNAL_ROLE = /^(rdsadmin|rds_.*|rdsrepladmin|rdstopmgr|pg_.*)$/;
// Attributes only a superuser may grant.
const SUPERUSER_ONLY = /\b(SUPERUSER|REPLICATION|BYPASSRLS)\b/;

function roleOf(statement: string): string | null {
  const m = /^(?:CREATE|ALTER) ROLE ("(?:[^"]|"")+"|\S+?)(?:[ ;]|$)/.exec(statement);
  return m ? m[1]!.replace(/^"|"$/g, '').replace(/""/g, '"') : null;
}

function grantRoles(statement: string): string[] {
  const m = /^GRANT ("(?:[^"]|"")+"|\S+) TO ("(?:[^"]|"")+"|\S+)/.exec(statement);
  return m ? [m[1]!, m[2]!].map((r) => r.replace(/^"|"$/g, '').replace(/""/g, '"')) : [];
}

/**
 * Copies roles from `pg_dumpall --globals-only --no-role-passwords` statement by statement: RDS's own
 * roles, predefined pg_* roles, the connected target user itself and attributes the target user may
 * not grant are skipped, and every skipped statement is reported. Passwords cannot be copied: RDS
 * does not let anyone read them, so copied login roles need a new password on the target.
 */
export async function copyRoles(
  source: ConnectionSpec,
  target: pg.Client,
  tls: TlsPolicy,
  sourceMajor: number,
): Promise<RoleCopyResult> {
  const { stdout } = await runPgTool(
    {
      tool: 'pg_dumpall',
      args: ['--globals-only', '--no-role-passwords', `--dbname=${libpqConninfo(source)}`],
      env: libpqEnvironment(source, tls),
    },
    sourceMajor,
  );
  const { rows } = await target.query<{ me: string; superuser: boolean }>(
    'SELECT current_user AS me, rolsuper AS superuser FROM pg_roles WHERE rolname = current_user',
  );
  const me = rows[0]!.me;
  const targetIsSuperuser = rows[0]!.superuser;
  const existing = new Set(
    (await target.query<{ rolname: string }>('SELECT rolname FROM pg_roles')).rows.map((r) => r.rolname),
  );

  const result: RoleCopyResult = { applied: [], skipped: [] };
  const statements = stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('--') && !l.startsWith('\\') && !/^SET /.test(l));
  for (let statement of statements) {
    const role = roleOf(statement);
    const involved = role ? [role] : grantRoles(statement);
    const internal = involved.find((r) => INTERNAL_ROLE.test(r));
    if (/^(CREATE|ALTER|DROP) TABLESPACE/.test(statement)) {
      result.skipped.push({ statement, reason: 'tablespaces are not copied' });
      continue;
    }
    if (internal) {
      result.skipped.push({ statement, reason: `${internal} is a built-in or RDS role` });
      continue;
    }
    if (involved.includes(me) && role) {
      result.skipped.push({ statement, reason: `${me} is the user this tool connects to the target as` });
      continue;
    }
    // A role that was there before is the target's own: never created again nor altered (a copied
    // NOSUPERUSER or NOLOGIN would demote it). Roles this copy created take their ALTERs.
    if (role && existing.has(role)) {
      result.skipped.push({ statement, reason: `${role} existed on the target before; left as it is` });
      continue;
    }
    if (!targetIsSuperuser && role && statement.startsWith('ALTER ROLE') && SUPERUSER_ONLY.test(statement)) {
      const reduced = statement.replace(/\s+(SUPERUSER|REPLICATION|BYPASSRLS)\b/g, '');
      result.skipped.push({
        statement,
        reason: 'the target user may not grant SUPERUSER, REPLICATION or BYPASSRLS; applied without them',
      });
      statement = reduced;
    }
    try {
      await target.query(statement);
      result.applied.push(statement);
    } catch (error) {
      result.skipped.push({ statement, reason: (error as Error).message });
    }
  }
  return result;
}
