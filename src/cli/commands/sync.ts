import { Command } from 'commander';
import { ConnectionUrlError, parseConnectionUrl } from '../../connection/url.ts';
import { assertSyncable, runSync } from '../../replication/sync.ts';
import { assertPreconditions } from '../../checks/preconditions.ts';
import { addJobOptions, commandRecord, jobCommandContext, recorded, type JobOptions } from '../job-options.ts';
import { EXIT_OK, UsageError, type CliIo } from '../io.ts';
import { renderJson } from '../render.ts';
import { remoteMode } from '../remote-options.ts';
import { runRemote } from './remote.ts';

interface SyncOptions extends JobOptions {
  subscriptionSourceUrl?: string;
  copyData: boolean;
}

export function syncCommand(io: CliIo, setExitCode: (code: number) => void): Command {
  const command = new Command('sync')
    .summary('start continuous replication from the slot init left, with no gap and no overlap')
    .description(
      'Creates, per database, a subscription on the target attached to init\'s slot (copy_data = false), moves its\n' +
        'replication origin to the slot\'s consistent point, where the snapshot copy ends, and enables it. Running sync\n' +
        'again on a healthy subscription changes nothing.\n\n' +
        'The target server connects to the source itself, and PostgreSQL stores that connection\'s password on the target\n' +
        '(pg_subscription): use a dedicated replication user, and --subscription-source-url when the target must use\n' +
        'another address (e.g. a private RDS endpoint).',
    )
    .option('--subscription-source-url <url>', 'the source as the target server reaches it (default: --source); or DATABASE_REPLICATOR_SUBSCRIPTION_SOURCE_URL')
    .option('--copy-data', 'without init: let PostgreSQL copy every table itself into existing empty tables on the target', false)
    .addHelpText('after', '\nExamples:\n  database-replicator sync\n  DATABASE_REPLICATOR_SUBSCRIPTION_SOURCE_URL=postgres://repl:pw@10.0.1.5/shop database-replicator sync --json\n');
  return addJobOptions(command).action(async (options: SyncOptions, cmd: Command) => {
    // Remote mode: the replicate workflow resumes the job (src/remote/run.ts).
    if (remoteMode(cmd, io)) return runRemote('sync', { ...options }, cmd, io, setExitCode);
    const { globals, logger, job } = jobCommandContext(cmd, options, io);
    const subscriptionUrl = options.subscriptionSourceUrl ?? io.env.DATABASE_REPLICATOR_SUBSCRIPTION_SOURCE_URL;
    let subscriptionSource;
    try {
      subscriptionSource = subscriptionUrl ? parseConnectionUrl(subscriptionUrl) : undefined;
    } catch (error) {
      if (error instanceof ConnectionUrlError) throw new UsageError(`The --subscription-source-url is not valid: ${error.message}`);
      throw error;
    }
    assertSyncable(job, options.copyData);
    await assertPreconditions('sync', 'sync', { source: job.source, target: job.target, allowSelfSignedCerts: job.tls.allowSelfSignedCerts, ...(job.state ? { filters: job.state.filters } : {}) }, {
      subscriptionUserDiffers: subscriptionSource !== undefined && subscriptionSource.user !== job.source.user,
    });
    const record = commandRecord('sync', job, options.stateDir, logger);
    const results = await recorded(record, 'Create subscription', () => runSync({ job, subscriptionSource, copyData: options.copyData, logger }));
    await record.databasesTo('RUNNING', 'Streaming changes');
    await record.succeeded('Streaming changes');
    if (globals.json) io.stdout(renderJson({ command: 'sync', ok: true, jobId: job.jobId, databases: results }));
    else for (const r of results) io.stdout(`${r.database}: subscription ${r.subscription} ${r.action}${r.note ? ` (${r.note})` : ''}.\n`);
    setExitCode(EXIT_OK);
  });
}
