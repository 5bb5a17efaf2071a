// Run while the image is built (containers/replicator/Dockerfile): the image's pg_dump, pg_restore and
// pg_dumpall must be at least the newest source major the project supports, because pg_dump refuses
// a server newer than itself. The task finds its programs the same way (src/pgtools/binaries.ts), so
// a build that passes here ships the programs the task will run.
import { NEWEST_SUPPORTED_MAJOR } from '../../src/checks/servers.ts';
import { findPostgresBinDir, PostgresToolNotFoundError } from '../../src/pgtools/binaries.ts';

const TOOLS = ['pg_dump', 'pg_restore', 'pg_dumpall'];

try {
  const found = findPostgresBinDir(TOOLS, { minMajor: NEWEST_SUPPORTED_MAJOR });
  process.stdout.write(
    `pg_dump ${found.version} (${found.dir}) dumps every supported source, up to PostgreSQL ${NEWEST_SUPPORTED_MAJOR}.\n`,
  );
} catch (error) {
  if (!(error instanceof PostgresToolNotFoundError)) throw error;
  process.stderr.write(
    `error: the image's PostgreSQL client programs cannot dump the newest supported source (PostgreSQL ${NEWEST_SUPPORTED_MAJOR}): ${error.message} ` +
      `Set PG_MAJOR in containers/replicator/Dockerfile to ${NEWEST_SUPPORTED_MAJOR} or newer.\n`,
  );
  process.exitCode = 1;
}
