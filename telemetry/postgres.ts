// Spans for `postgres` (porsager/postgres) queries, which no OpenTelemetry instrumentation covers.
//
// `tracedPostgres(sql)` hands back the client itself while tracing is off: nothing is wrapped and
// a query costs what it did. On, it returns a proxy of the client: each query made through it
// (tagged template, `unsafe`, and the same inside `begin`/`savepoint`/`reserve`, which drizzle
// uses) gets a client span from the moment it is sent (first awaited) to its result.
//
// A tagged template's text holds no values (they travel as parameters), so it is recorded; so is
// an `unsafe` query given parameters (drizzle's). An `unsafe` query without parameters may carry
// literals (a password verifier in ALTER ROLE), so only its first word is recorded.
import { context, SpanKind, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import type { Sql } from 'postgres';
import { activeTracing } from './tracing';

const tracer = () => trace.getTracer('shipyard.postgres');

interface Target {
  database: string;
  host: string;
  port: number;
}

/** The client as is while tracing is off; a proxy that makes a span per query while it is on. */
export function tracedPostgres<S extends Sql<any>>(sql: S): S {
  if (!activeTracing()) return sql;
  const options = sql.options as { database?: string; host?: string[]; port?: number[] };
  return wrap(sql, { database: options.database ?? '', host: options.host?.[0] ?? '', port: options.port?.[0] ?? 5432 });
}

// Loosely typed inside: a client, a transaction's and a reserved connection's differ in type only.
type Client = (...args: any[]) => unknown;
type Method = (...args: unknown[]) => unknown;

function wrap<S extends Client>(sql: S, target: Target): S {
  return new Proxy(sql, {
    // sql`…` runs a query; sql(value) builds a fragment (identifier, list) and runs nothing.
    apply(fn, self, args: unknown[]) {
      const result: unknown = Reflect.apply(fn, self, args);
      const strings = args[0] as TemplateStringsArray | undefined;
      if (!isQuery(result) || !Array.isArray(strings) || !('raw' in strings)) return result;
      return observe(result, strings.reduce((text, part, i) => (i === 0 ? part : `${text}$${i}${part}`), ''), true, target);
    },
    get(obj, property, receiver) {
      const value: unknown = Reflect.get(obj, property, receiver);
      if (typeof value !== 'function') return value;
      switch (property) {
        case 'unsafe':
          return (query: string, ...rest: unknown[]) => observe((value as Method)(query, ...rest), query, rest[0] !== undefined, target);
        case 'begin':
        case 'savepoint':
          // The transaction's own client runs the transaction's queries: wrap it the same way.
          return (...args: unknown[]) => {
            const body = args.at(-1);
            if (typeof body !== 'function') return (value as Method)(...args);
            return (value as Method)(...args.slice(0, -1), (tx: Client) => (body as Method)(wrap(tx, target)));
          };
        case 'reserve':
          return async () => wrap((await (value as Method)()) as Client, target);
        default:
          return value;
      }
    },
  });
}

function isQuery(value: unknown): value is Promise<unknown> {
  return value instanceof Promise;
}

/**
 * Starts the query's span when the query is first awaited (postgres sends a query only then) and
 * ends it with the result. The span's parent is the span active where the query is awaited.
 */
function observe(query: unknown, text: string, recordText: boolean, target: Target): unknown {
  if (!isQuery(query)) return query;
  const pending = query as { then: Method };
  const then = pending.then;
  let span: Span | undefined;
  pending.then = function (this: unknown, ...handlers: unknown[]) {
    if (!span) {
      const operation = /^\s*(\w+)/.exec(text)?.[1]?.toUpperCase() ?? 'QUERY';
      span = tracer().startSpan(
        `${operation} ${target.database}`,
        {
          kind: SpanKind.CLIENT,
          attributes: {
            'db.system': 'postgresql',
            'db.name': target.database,
            'db.operation': operation,
            ...(recordText ? { 'db.statement': text } : {}),
            'server.address': target.host,
            'server.port': target.port,
          },
        },
        context.active(),
      );
      const done = span;
      then.call(
        this,
        () => done.end(),
        (err: unknown) => {
          done.recordException(err instanceof Error ? err : String(err));
          done.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
          done.end();
        },
      );
    }
    return then.apply(this, handlers);
  };
  return query;
}
