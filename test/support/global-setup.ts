import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startCluster, type ClusterInfo } from '../../scripts/support/cluster.ts';

export interface TestClusters {
  /** wal_level=logical: the replication source. */
  source: ClusterInfo;
  /** wal_level=logical: the replication target. */
  target: ClusterInfo;
  /** wal_level=replica: a source that cannot replicate logically, for negative tests. */
  replica: ClusterInfo;
}

declare module 'vitest' {
  export interface ProvidedContext {
    clusters: TestClusters;
  }
}

/**
 * Starts the clusters once for the whole run. A missing PostgreSQL installation throws here, which
 * fails the run with the message: integration tests never skip silently.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // One folder for what tests leave behind (CDK assemblies); the workers inherit the variable.
  const scratch = mkdtempSync(join(tmpdir(), 'dbr-test-'));
  process.env.DATABASE_REPLICATOR_TEST_TMP = scratch;
  const removeScratch = () => rmSync(scratch, { recursive: true, force: true });
  const started = await Promise.allSettled([
    startCluster({ name: 'source' }),
    startCluster({ name: 'target' }),
    startCluster({ name: 'replica', walLevel: 'replica' }),
  ]);
  const clusters = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const stopAll = async () => {
    await Promise.allSettled(clusters.map((c) => c.stop()));
    removeScratch();
  };
  const failure = started.find((r) => r.status === 'rejected');
  if (failure) {
    await stopAll();
    throw (failure as PromiseRejectedResult).reason;
  }
  const [source, target, replica] = clusters.map(({ stop: _stop, ...info }) => info) as [
    ClusterInfo,
    ClusterInfo,
    ClusterInfo,
  ];
  project.provide('clusters', { source, target, replica });
  return stopAll;
}
