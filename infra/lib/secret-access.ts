import { ArnFormat, Aws, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import type { SecretAccessSettings } from './app-settings.ts';
import { FULL_SECRET_ARN } from '../../src/inputs/schemas.ts';
import { invalid, KMS_KEY_ARN, SECRET_PREFIX } from './validation.ts';

/**
 * Read access to the source and target secrets, and to nothing else: every secret whose name starts
 * with a configured prefix (in this account and region), or an explicit list of secret ARNs.
 */
export class SecretAccess extends Construct {
  /** The ARNs (or ARN pattern) granted. */
  public readonly secretArns: readonly string[];
  public readonly namePrefix?: string;
  /** Customer managed KMS keys the secrets are encrypted with (none: the AWS managed key, which needs no grant). */
  public readonly kmsKeyArns: readonly string[];

  constructor(scope: Construct, id: string, props: SecretAccessSettings, kmsKeyArns: readonly string[] = []) {
    super(scope, id);
    const badKeys = kmsKeyArns.filter((arn) => invalid(arn, KMS_KEY_ARN));
    if (badKeys.length || new Set(kmsKeyArns).size !== kmsKeyArns.length) {
      throw new Error(
        `SecretAccess: ${badKeys.length ? `${badKeys.map((b) => `"${b}"`).join(', ')} is not a KMS key ARN` : 'a KMS key is listed twice'}; pass key ARNs (arn:aws:kms:<region>:<account>:key/<key id>), each once.`,
      );
    }
    this.kmsKeyArns = [...kmsKeyArns];
    if ('secretArns' in props) {
      const bad = props.secretArns.filter((arn) => invalid(arn, FULL_SECRET_ARN));
      if (props.secretArns.length === 0 || bad.length) {
        throw new Error(
          `SecretAccess: ${bad.length ? `${bad.map((b) => `"${b}"`).join(', ')} is not a full secret ARN` : 'secretArns is empty'}; pass full secret ARNs (with the six characters Secrets Manager appends to the name).`,
        );
      }
      this.secretArns = [...props.secretArns];
    } else {
      if (invalid(props.namePrefix, SECRET_PREFIX)) {
        throw new Error(
          `SecretAccess: namePrefix "${props.namePrefix}" is not the start of a secret name; use letters, digits and /_+=.@!- without a wildcard.`,
        );
      }
      this.namePrefix = props.namePrefix;
      // Secrets Manager appends six random characters to every name, hence the wildcard after the prefix.
      this.secretArns = [
        Stack.of(this).formatArn({
          service: 'secretsmanager',
          resource: 'secret',
          resourceName: `${props.namePrefix}*`,
          arnFormat: ArnFormat.COLON_RESOURCE_NAME,
        }),
      ];
    }
  }

  /**
   * Lets `grantee` read the secrets' values (what resolving a connection does): GetSecretValue, and
   * kms:Decrypt on the customer managed keys, only as Secrets Manager of this region asks for it.
   */
  public grantRead(grantee: iam.IGrantable): iam.Grant {
    const grant = iam.Grant.addToPrincipal({
      grantee,
      actions: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
      resourceArns: [...this.secretArns],
    });
    if (this.kmsKeyArns.length === 0) return grant;
    const decrypt = iam.Grant.addToPrincipal({
      grantee,
      actions: ['kms:Decrypt'],
      resourceArns: [...this.kmsKeyArns],
      conditions: { StringEquals: { 'kms:ViaService': `secretsmanager.${Aws.REGION}.${Aws.URL_SUFFIX}` } },
    });
    return grant.combine(decrypt);
  }
}
