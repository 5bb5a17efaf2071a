// The formats both front ends accept from outside (the workflow's execution input and Lambda events,
// the task's environment, the CLI's remote options, the CDK app's context): defined once, so a value
// one of them accepts is never refused by the next. Messages name what a value must be, never the
// value: it may be a secret put there by mistake.
import { z } from 'zod';

// RDS-managed secrets are named rds!db-..., hence the "!". Group 1 is the region.
const SECRET_ARN_START = String.raw`^arn:aws[a-z-]*:secretsmanager:([a-z0-9-]+):\d{12}:secret:[A-Za-z0-9/_+=.@!-]+`;

/** A secret ARN, full or partial (without the six random characters Secrets Manager appends to the name). */
export const SECRET_ARN = new RegExp(`${SECRET_ARN_START}$`);
/** A full secret ARN: with the six characters Secrets Manager appends (what an IAM grant needs). */
export const FULL_SECRET_ARN = new RegExp(`${SECRET_ARN_START}-[A-Za-z0-9]{6}$`);

/** The region a secret ARN names, or undefined when `arn` is not one. */
export function secretArnRegion(arn: string): string | undefined {
  return SECRET_ARN.exec(arn)?.[1];
}

export const SECRET_ARN_HINT =
  'must be a Secrets Manager secret ARN (arn:aws:secretsmanager:<region>:<account>:secret:<name>), never a URL or a password';

/** An RDS DB instance or cluster identifier. */
export const DB_INSTANCE_ID = /^[A-Za-z][A-Za-z0-9-]{0,62}$/;

/** A secret ARN: a value (a URL, a password) in its place is refused without being echoed. */
export const secretArnSchema = z.string().regex(SECRET_ARN, SECRET_ARN_HINT);

/** host or host:port, for a secret that holds only a user name and password (an RDS-managed master user secret). */
export const HOST_PORT = /^[A-Za-z0-9.-]+(:\d{1,5})?$/;
export const hostPortSchema = z.string().regex(HOST_PORT, 'must be a host name, optionally with :port');
/** host:port read into its parts. */
export const endpointSchema = hostPortSchema.transform((text) => {
  const [host, port] = text.split(':');
  return port === undefined ? { host: host! } : { host: host!, port: Number(port) };
});
