import { Command } from 'commander';
import { ConnectionUrlError, parseConnectionUrl } from '../../connection/url.ts';
import { assertSyncable, runSync } from '../../replication/sync.ts';
import { assertPreconditions } from '../../checks/preconditions.ts';
import { addJobOptions, commandRecord, jobCommandContext, recorded, type JobOptions } from '../job-options.ts';
import { EXIT_OK, UsageError, type CliIo } from '../io.ts';
import { renderJson } from '../render.ts';
import { remoteMode } from '../remote-options.ts';
import { runRemote } from './remote.ts';
import { renderDrift } from './status.ts';
import type { DriftApplied } from '../../drift/apply.ts';

/** What --apply-ddl did, and what it left for a person with the statements to run. */
export function renderAppliedDrift(ddl: DriftApplied): string {
  const done = ddl.applied.map((line) => `  applied: ${line}\n`).join('');
  return `${done}${ddl.listed.length ? renderDrift(ddl.listed).replace(/^Schema drift/, 'Not applied (destructive or ambiguous)') : ''}`;
}

interface SyncOptions extends JobOptions {
  subscriptionSourceUrl?: string;
  copyData: boolean;
  applyDdl: boolean;
}

export function syncCommand(io: CliIo, setExitCode: (code: number) => void): Command {
  const command = new Command('sync')
    .summary('start continuous replication from the slot init left, with no gap and no overlap')
    .description(
      "Creates, per database, a subscription on the target attached to init's slot (copy_data = false), moves its\n" +
        "replication origin to the slot's consistent point, where the snapshot copy ends, and enables it. Running sync\n" +
        'again on a healthy subscription changes nothing.\n\n' +
        "The target server connects to the source itself, and PostgreSQL stores that connection's password on the target\n" +
        '(pg_subscription): use a dedicated replication user, and --subscription-source-url when the target must use\n' +
        'another address (e.g. a private RDS endpoint).\n\n' +
        "--apply-ddl carries the source's additive schema changes since init to the target, in order: new columns (with\n" +
        'their defaults), widened types, relaxed NOT NULLs, new tables (added to the publication, then REFRESH PUBLICATION\n' +
        'copies only them), new indexes; then enables a subscription that stopped. Drops, renames and narrowing type\n' +
        'changes are never applied: they are listed with the statements to run. In remote mode it starts the replicate\n' +
        'workflow again for the job with "applyDdl": true in its plan, and follows it.',
    )
    .option(
      '--subscription-source-url <url>',
      'the source as the target server reaches it (default: --source); or DATABASE_REPLICATOR_SUBSCRIPTION_SOURCE_URL',
    )
    .option(
      '--copy-data',
      'without init: let PostgreSQL copy every table itself into existing empty tables on the target',
      false,
    )
    .option(
      '--apply-ddl',
      "first carry the source's additive schema changes to the target (new columns with their defaults, widened types, new tables, indexes) and re-enable a stopped subscription; destructive or ambiguous ones are listed with the statements to run",
      false,
    )
    .addHelpText(
      'after',
      '\nExamples:\n  database-replicator sync\n  database-replicator sync --apply-ddl\n  DATABASE_REPLICATOR_SUBSCRIPTION_SOURCE_URL=postgres://repl:pw@10.0.1.5/shop database-replicator sync --json\n',
    );
  return addJobOptions(command).action(async (options: SyncOptions, cmd: Command) => {
    // Remote mode: the replicate workflow resumes the job; with --apply-ddl, a new execution with plan.applyDdl (src/remote/run.ts).
    if (remoteMode(cmd, io)) return runRemote('sync', { ...options }, cmd, io, setExitCode);
    const { globals, logger, job } = await jobCommandContext(cmd, options, io);
    const subscriptionUrl = options.subscriptionSourceUrl ?? io.env.DATABASE_REPLICATOR_SUBSCRIPTION_SOURCE_URL;
    let subscriptionSource;
    try {
      subscriptionSource = subscriptionUrl ? parseConnectionUrl(subscriptionUrl) : undefined;
    } catch (error) {
      if (error instanceof ConnectionUrlError)
        throw new UsageError(`The --subscription-source-url is not valid: ${error.message}`);
      throw error;
    }
    assertSyncable(job, options.copyData);
    await assertPreconditions(
      'sync',
      'sync',
      {
        source: job.source,
        target: job.target,
        allowSelfSignedCerts: job.tls.allowSelfSignedCerts,
        ...(job.state ? { filters: job.state.filters } : {}),
      },
      {
        subscriptionUserDiffers: subscriptionSource !== undefined && subscriptionSource.user !== job.source.user,
      },
    );
    const record = commandRecord('sync', job, options.stateDir, logger);
    const results = await recorded(record, 'Create subscription', () =>
      runSync({ job, subscriptionSource, copyData: options.copyData, applyDdl: options.applyDdl, logger }),
    );
    await record.databasesTo('RUNNING', 'Streaming changes');
    await record.succeeded('Streaming changes');
    if (globals.json) io.stdout(renderJson({ command: 'sync', ok: true, jobId: job.jobId, databases: results }));
    else
      for (const r of results)
        io.stdout(
          `${r.database}: subscription ${r.subscription} ${r.action}${r.note ? ` (${r.note})` : ''}.\n${r.ddl ? renderAppliedDrift(r.ddl) : ''}`,
        );
    setExitCode(EXIT_OK);
  });
}
