import { canTrackDdl } from '../ddl-capture/install.ts';
import { type Check, fail, pass } from './types.ts';

/** init --track-ddl creates an event trigger on the source: only a superuser (rds_superuser on RDS) may. */
export const checkDdlCapturePrivilege: Check = ({ source }) => {
  const title = 'DDL capture (--track-ddl)';
  const role = source.role;
  if (canTrackDdl(source))
    return pass('source-ddl-capture', title, `${role.name} may create the event trigger that records schema changes.`);
  return fail(
    'source-ddl-capture',
    title,
    `--track-ddl creates an event trigger on the source, which needs a superuser${source.isRds ? ' or a member of rds_superuser' : ''}, and ${role.name} is neither`,
    `Run init as ${source.isRds ? 'the RDS master user' : 'a superuser'}, or leave out --track-ddl and carry schema changes with sync --apply-ddl.`,
  );
};
