// Whether the target server itself reaches the source, the way its subscription will: the
// subscription's connection starts on the target, through the target's network, DNS, TLS and
// pg_hba entry on the source, none of which our own connections to the source say anything about.
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { quoteIdent } from '../catalog/ident.ts';
import { createSubscription } from './subscription.ts';

/** The target could not connect to the source for a subscription; the message says what to do. */
export class SourceUnreachableFromTarget extends Error {
  override name = 'SourceUnreachableFromTarget';
}

const CONNECTION_FAILURE =
  /could not connect to the publisher|connection to server|timeout expired|Connection refused|could not translate host name/i;

/** Seconds the target waits for the source in the probe (libpq waits for TCP's own timeout otherwise). */
const PROBE_CONNECT_TIMEOUT = 20;

/**
 * The sentence for a subscription that could not connect to the source, or undefined when the
 * error is about something else (a missing privilege, a name taken).
 */
export function targetConnectionFailure(error: unknown, database: string): string | undefined {
  const message = error instanceof Error ? error.message : String(error);
  if (!CONNECTION_FAILURE.test(message)) return undefined;
  return (
    `The target could not connect to the source for database ${database} (${message.replace(/\s+/g, ' ').trim()}); the target server itself must reach the source: ` +
    "on RDS allow the target's address in the source security group, make the instance publicly accessible or peer the networks, or give an address the target can reach (the CLI's --subscription-source-url)."
  );
}

/**
 * Probes the source from the target with the conninfo a subscription will use, before anything is
 * copied: CREATE SUBSCRIPTION with `enabled = false, create_slot = false, slot_name = NONE` connects
 * to the source once (network, TLS, authentication, the database) and creates nothing there; the
 * subscription is dropped at once (without a slot, DROP does not connect). Run it in any database of
 * the target where its user may create a subscription.
 */
export async function probeSourceFromTarget(target: pg.Client, conninfo: string, database: string): Promise<void> {
  const name = `dbr_probe_${randomBytes(6).toString('hex')}`;
  const options = ['enabled = false', 'create_slot = false', 'slot_name = NONE', 'copy_data = false'];
  try {
    // The probe fails by design when the source is out of reach: its statement (with the password) stays out of the log.
    await createSubscription(target, name, `${conninfo} connect_timeout=${PROBE_CONNECT_TIMEOUT}`, name, options);
  } catch (error) {
    const sentence = targetConnectionFailure(error, database);
    throw sentence ? new SourceUnreachableFromTarget(sentence, { cause: error }) : error;
  }
  await target.query(`DROP SUBSCRIPTION ${quoteIdent(name)}`);
}
