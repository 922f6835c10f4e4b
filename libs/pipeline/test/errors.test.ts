import { describe, expect, it } from 'vitest';
import { InvalidImageError, UnavailableError } from '@renditions/errors';
import { asDependencyError } from '../src/errors';

describe('asDependencyError', () => {
  it('turns connection failures into 503 unavailable', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    const mapped = asDependencyError(refused, 'The database');
    expect(mapped).toBeInstanceOf(UnavailableError);
    expect((mapped as UnavailableError).httpStatus).toBe(503);
    expect((mapped as UnavailableError).retryAfterSeconds).toBeGreaterThan(0);
    const adminShutdown = Object.assign(new Error('terminating connection'), { code: '57P01' });
    expect(asDependencyError(adminShutdown, 'The database')).toBeInstanceOf(UnavailableError);
  });

  it('leaves our own errors and programming errors alone', () => {
    const invalid = new InvalidImageError('bad');
    expect(asDependencyError(invalid, 'x')).toBe(invalid);
    const bug = new TypeError('undefined is not a function');
    expect(asDependencyError(bug, 'x')).toBe(bug);
  });
});

describe('asDependencyError on wrapped errors', () => {
  it('finds a connection failure in the cause chain (query builders wrap driver errors)', () => {
    const driver = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    const wrapped = new Error('Failed query: select ...', { cause: driver });
    expect(asDependencyError(wrapped, 'The database')).toBeInstanceOf(UnavailableError);
  });
});
