// The Fargate task image (containers/replicator/Dockerfile): what it installs and where it comes from.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from './cdk-context.ts';

const CDK_ONLY = ['aws-cdk-lib', 'constructs', 'cdk-nag'];
const packageJson = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};
const dockerfile = readFileSync(join(repoRoot, 'containers/replicator/Dockerfile'), 'utf8');

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? tsFiles(path) : path.endsWith('.ts') ? [path] : [];
  });
}

describe('the task image', () => {
  it('installs no CDK library: aws-cdk-lib, constructs and cdk-nag are devDependencies (npm ci --omit=dev leaves them out)', () => {
    expect(dockerfile).toMatch(/npm ci --omit=dev/);
    for (const name of CDK_ONLY) {
      expect(packageJson.dependencies, name).not.toHaveProperty(name);
      expect(packageJson.devDependencies, name).toHaveProperty(name);
    }
  });

  it('holds nothing that imports them at run time (the engine, the task entry point, the functions)', () => {
    const importsCdk = new RegExp(`(from|import\\(|require\\()\\s*['"](${CDK_ONLY.join('|')})(/[^'"]*)?['"]`);
    const offenders = ['src', 'containers', 'lambdas']
      .flatMap((dir) => tsFiles(join(repoRoot, dir)))
      .filter((file) => importsCdk.test(readFileSync(file, 'utf8')));
    expect(offenders).toEqual([]);
  });

  it("starts from Docker's official Node image as the Amazon ECR Public Gallery serves it (no Docker Hub pull limit)", () => {
    const from = dockerfile.split('\n').filter((line) => line.startsWith('FROM '));
    expect(from).toEqual([
      expect.stringMatching(
        /^FROM public\.ecr\.aws\/docker\/library\/node:\d+\.\d+\.\d+-bookworm-slim(@sha256:[0-9a-f]{64})?$/,
      ),
    ]);
  });
});
