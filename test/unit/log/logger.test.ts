import { describe, expect, it } from 'vitest';
import { registerSecret } from '../../../src/connection/redact.ts';
import { createLogger } from '../../../src/log/logger.ts';

describe('createLogger', () => {
  it('writes only at or above its level', () => {
    const lines: string[] = [];
    const logger = createLogger('warn', (l) => lines.push(l));
    logger.debug('d');
    logger.info('i');
    logger.warn('w');
    logger.error('e');
    expect(lines).toEqual(['warn: w', 'error: e']);
  });

  it('masks passwords in every line', () => {
    const lines: string[] = [];
    registerSecret('Logger-Secret-Pa55');
    const logger = createLogger('debug', (l) => lines.push(l));
    logger.info('connecting to postgres://app:Other-Pa55@db:5432/shop');
    logger.debug('server said: password was Logger-Secret-Pa55');
    expect(lines.join('\n')).not.toMatch(/Other-Pa55|Logger-Secret-Pa55/);
    expect(lines[0]).toContain('postgres://app:***@db:5432/shop');
  });
});
