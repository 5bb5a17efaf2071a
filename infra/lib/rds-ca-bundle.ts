import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { AssetHashType, DockerImage } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { RDS_CA_BUNDLE } from '../../src/task/rds-ca-bundle.ts';

/** Lambda layers are unpacked under /opt: the bundle's path inside the layer. */
const IN_LAYER = RDS_CA_BUNDLE.replace(/^\/opt\//, '');

/** The PEM text of a CA bundle file, or one sentence about what is wrong with it. */
export function readCaBundle(file: string): string {
  if (!existsSync(file))
    throw new Error(
      `The RDS CA bundle ${file} does not exist; download the RDS global bundle (global-bundle.pem) and pass its path.`,
    );
  const pem = readFileSync(file, 'utf8');
  if (!/^-----BEGIN CERTIFICATE-----$/m.test(pem) || /PRIVATE KEY/.test(pem)) {
    throw new Error(
      `The RDS CA bundle ${file} is not a PEM file of certificates; pass the RDS global bundle (global-bundle.pem).`,
    );
  }
  return pem;
}

export interface RdsCaBundleProps {
  /** The RDS global CA bundle (global-bundle.pem), provided by whoever deploys. */
  readonly file: string;
}

/**
 * A Lambda layer holding the RDS CA bundle the deployer provides, at RDS_CA_BUNDLE (/opt/rds-ca/
 * global-bundle.pem), the path the task image has it at too: a secret with sslmode=verify-full and
 * sslrootcert=/opt/rds-ca/global-bundle.pem works in the functions and the task alike. The layer is
 * made locally at synth (no Docker), hashed by the bundle's content.
 */
export class RdsCaBundle extends Construct {
  public readonly layer: lambda.LayerVersion;

  constructor(scope: Construct, id: string, props: RdsCaBundleProps) {
    super(scope, id);
    const pem = readCaBundle(props.file);
    this.layer = new lambda.LayerVersion(this, 'Layer', {
      description: `database-replicator: the RDS CA bundle at ${RDS_CA_BUNDLE} (${basename(props.file)})`,
      compatibleArchitectures: [lambda.Architecture.ARM_64],
      compatibleRuntimes: [lambda.Runtime.NODEJS_24_X],
      code: lambda.Code.fromAsset(dirname(props.file), {
        assetHash: createHash('sha256').update(pem).digest('hex'),
        assetHashType: AssetHashType.CUSTOM,
        bundling: {
          // Never run: the local copy below always succeeds.
          image: DockerImage.fromRegistry('public.ecr.aws/docker/library/busybox:stable'),
          local: {
            tryBundle(outputDir: string): boolean {
              mkdirSync(join(outputDir, dirname(IN_LAYER)), { recursive: true });
              writeFileSync(join(outputDir, IN_LAYER), pem);
              return true;
            },
          },
        },
      }),
    });
  }
}
