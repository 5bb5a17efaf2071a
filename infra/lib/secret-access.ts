import { ArnFormat, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import type { SecretAccessSettings } from './app-settings.ts';
import { FULL_SECRET_ARN } from '../../src/inputs/schemas.ts';
import { invalid, SECRET_PREFIX } from './validation.ts';

/**
 * Read access to the source and target secrets, and to nothing else: every secret whose name starts
 * with a configured prefix (in this account and region), or an explicit list of secret ARNs.
 */
export class SecretAccess extends Construct {
  /** The ARNs (or ARN pattern) granted. */
  public readonly secretArns: readonly string[];
  public readonly namePrefix?: string;

  constructor(scope: Construct, id: string, props: SecretAccessSettings) {
    super(scope, id);
    if ('secretArns' in props) {
      const bad = props.secretArns.filter((arn) => invalid(arn, FULL_SECRET_ARN));
      if (props.secretArns.length === 0 || bad.length) {
        throw new Error(`SecretAccess: ${bad.length ? `${bad.map((b) => `"${b}"`).join(', ')} is not a full secret ARN` : 'secretArns is empty'}; pass full secret ARNs (with the six characters Secrets Manager appends to the name).`);
      }
      this.secretArns = [...props.secretArns];
    } else {
      if (invalid(props.namePrefix, SECRET_PREFIX)) {
        throw new Error(`SecretAccess: namePrefix "${props.namePrefix}" is not the start of a secret name; use letters, digits and /_+=.@!- without a wildcard.`);
      }
      this.namePrefix = props.namePrefix;
      // Secrets Manager appends six random characters to every name, hence the wildcard after the prefix.
      this.secretArns = [
        Stack.of(this).formatArn({ service: 'secretsmanager', resource: 'secret', resourceName: `${props.namePrefix}*`, arnFormat: ArnFormat.COLON_RESOURCE_NAME }),
      ];
    }
  }

  /** Lets `grantee` read the secrets' values (what resolving a connection does). */
  public grantRead(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({ grantee, actions: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'], resourceArns: [...this.secretArns] });
  }
}
