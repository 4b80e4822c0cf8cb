// Which failures of the outside world are permanent (fail the step now) and which are retried.
import { describe, expect, it } from 'vitest';
import { ApiException } from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import { kubeError, postgresError } from '../../activities/errors';

const status = (code: number, message: string) => new ApiException(code, 'Unsuccessful HTTP Request', { kind: 'Status', code, message }, {});

describe('Kubernetes errors', () => {
  it.each([
    [400, 'InvalidSpec'],
    [422, 'InvalidSpec'],
    [403, 'Forbidden'],
    [404, 'MissingDependency'],
  ])('%i is permanent (%s) and carries the API server message', (code, type) => {
    const err = kubeError('apply Deployment tenant-acme/app', status(code, 'spec.replicas: Invalid value: -1'));
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect(err).toMatchObject({ type, nonRetryable: true });
    expect(err.message).toBe(`could not apply Deployment tenant-acme/app: Kubernetes answered ${code}: spec.replicas: Invalid value: -1`);
  });

  it.each([409, 429, 500, 503])('%i is retried', (code) => {
    const err = kubeError('apply Namespace tenant-acme', status(code, 'try again'));
    expect(err).not.toBeInstanceOf(ApplicationFailure);
    expect(err.message).toContain(`answered ${code}: try again`);
  });

  it('a connection failure is retried', () => {
    const err = kubeError('read Namespace tenant-acme', new Error('connect ECONNREFUSED 127.0.0.1:6443'));
    expect(err).not.toBeInstanceOf(ApplicationFailure);
    expect(err.message).toContain('unreachable: connect ECONNREFUSED');
  });
});

describe('Postgres errors', () => {
  const pg = (code: string) => Object.assign(new Error('boom'), { name: 'PostgresError', code });
  it('permission and missing objects are permanent; connection trouble is retried', () => {
    expect(postgresError('x', pg('42501'))).toMatchObject({ type: 'Forbidden', nonRetryable: true });
    expect(postgresError('x', pg('42704'))).toMatchObject({ type: 'MissingDependency', nonRetryable: true });
    expect(postgresError('x', pg('57P01'))).not.toBeInstanceOf(ApplicationFailure);
    expect(postgresError('x', new Error('connect ECONNREFUSED'))).not.toBeInstanceOf(ApplicationFailure);
  });
});
