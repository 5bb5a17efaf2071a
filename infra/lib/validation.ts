import { Token } from 'aws-cdk-lib';

// Formats shared by the app's context checks and the constructs' own prop checks, so a bad value
// fails at synth with one sentence instead of halfway through a deployment.

export const VPC_ID = /^vpc-[0-9a-f]{8}(?:[0-9a-f]{9})?$/;
export const SUBNET_ID = /^subnet-[0-9a-f]{8}(?:[0-9a-f]{9})?$/;
export const SECURITY_GROUP_ID = /^sg-[0-9a-f]{8}(?:[0-9a-f]{9})?$/;
/** The start of secret names, in the characters Secrets Manager allows in a name (no wildcard); `rds!` covers the RDS-managed secrets. */
export const SECRET_PREFIX = /^[A-Za-z0-9/_+=.@!-]{1,400}$/;
/** A KMS key ARN (a key id or a multi-Region mrk- key; an alias names no key an IAM policy can grant). */
export const KMS_KEY_ARN =
  /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$/;
export const EMAIL = /^[^\s@"<>]+@[^\s@"<>]+\.[A-Za-z]{2,}$/;
export const ECR_REPOSITORY = /^(?=.{2,256}$)[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$/;
export const IMAGE_TAG = /^(?:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|sha256:[a-f0-9]{64})$/;

/** True when `value` is known at synth and does not match: tokens are left for CloudFormation to check. */
export function invalid(value: string, format: RegExp): boolean {
  return !Token.isUnresolved(value) && !format.test(value);
}
