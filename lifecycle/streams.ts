// Live streams of operations and of the audit trail, for the API's Server-Sent Events routes.
// One reader per operation feeds every watcher of it, the fleet stream included: it reads the
// operation's live view (lifecycle/live.ts: a describe and a query of its run) and the instance's
// new audit events once a second, whoever and however many are watching, and hands each change to
// every watcher. Nothing here knows HTTP; a watcher is two callbacks.
//
// Message ids let a client resume where it stopped (Last-Event-ID) on any API replica: an id is
// the audit cursor (the last audit event id the stream has sent) times ID_SCALE plus a count of
// operation messages sent since that audit event. Audit events after a resumed id are sent exactly
// once, read again from the catalogue; the operation's state is sent again unless this reader
// knows the client already has the current one.
import { setTimeout as sleep } from 'node:timers/promises';
import { eventsAfter, latestEventId, type EventWithOwner } from '../db/events';
import { getOperation, operationsWithOwner, type OperationRow, type OperationWithOwner } from '../db/operations';
import type { Scope } from '../domain/api-keys';
import type { OperationKind } from '../domain/operation-kinds';
import type { Deps } from './deps';
import { operationView } from './live';
import { eventView, viewOf, type OperationView } from './views';

export type StreamEvent = 'operation' | 'audit' | 'end';

export interface StreamMessage {
  event: StreamEvent;
  id: number;
  /** An operation (operation, end) or an audit event (audit), as the GET routes answer them. */
  data: unknown;
}

export interface Watcher {
  send(message: StreamMessage): void;
  /** The stream is over: its operation ended (after the `end` message), or the server is closing. */
  close(): void;
}

/** Stops watching; safe to call more than once. */
export type Unwatch = () => void;

/** See the file's head: ids are `auditCursor * ID_SCALE + operation messages since`. */
export const ID_SCALE = 1_000_000;
/** How often a reader looks for news while someone watches. */
export const READ_INTERVAL_MS = 1_000;
/** How long a reader no one watches keeps what it last sent, so a client reconnecting soon resumes without a repeat. */
const IDLE_KEEP_MS = 5 * 60_000;
/** Audit events one read takes at most; more wait for the next read. */
const AUDIT_BATCH = 500;
/** Operations the fleet stream follows live at most; beyond, their start and end still show, from the catalogue. */
const FLEET_LIVE_LIMIT = 200;

const cursorOf = (id: number): number => Math.floor(id / ID_SCALE);

/** The id after `previous` for an operation message once the stream's audit cursor is `cursor`. */
const nextStateId = (previous: number, cursor: number): number => (cursorOf(previous) === cursor ? previous + 1 : cursor * ID_SCALE + 1);

/** Audit event ids a read looks back over for events committed after a later one (see AuditTail). */
const LOOKBACK_IDS = 200;

/**
 * New audit events, each once. Event ids come from a sequence, and transactions commit out of
 * order: an event may become visible after one with a larger id was read. So each read looks back
 * LOOKBACK_IDS ids below the newest seen and keeps what it has delivered there; a late event is
 * delivered then, under the stream's next id (ids only grow).
 */
class AuditTail {
  /** The newest event id delivered. */
  cursor: number;
  private readonly delivered = new Set<number>();

  constructor(
    private readonly read: (after: number) => Promise<EventWithOwner[]>,
    /** Nothing at or below this is ever delivered (where a stream that starts now begins). */
    private readonly floor = 0,
  ) {
    this.cursor = floor;
  }

  /** The events not delivered yet, oldest id first; `late` marks those below the cursor as it was. */
  async next(): Promise<{ event: EventWithOwner; late: boolean }[]> {
    const low = Math.max(this.floor, this.cursor - LOOKBACK_IDS);
    const before = this.cursor;
    const fresh = (await this.read(low)).filter((e) => !this.delivered.has(e.id));
    for (const e of fresh) {
      this.delivered.add(e.id);
      this.cursor = Math.max(this.cursor, e.id);
    }
    for (const id of this.delivered) if (id <= this.cursor - LOOKBACK_IDS) this.delivered.delete(id);
    return fresh.map((event) => ({ event, late: event.id <= before }));
  }
}

/** A Last-Event-ID header as a message id, or undefined when absent or not one of ours. */
export function parseLastEventId(header: string | undefined): number | undefined {
  if (header === undefined || !/^\d{1,16}$/.test(header.trim())) return undefined;
  const id = Number(header.trim());
  return Number.isSafeInteger(id) ? id : undefined;
}

export interface StreamStats {
  /** Live reads of operations (each a describe and a query of a run) since the process started. */
  operationReads: number;
  /** Operations read live now (one reader each, however many watch it). */
  operationReaders: number;
  /** Clients watching one operation. */
  operationWatchers: number;
  /** Clients watching the fleet stream. */
  fleetWatchers: number;
}

interface Joining {
  watcher: Watcher;
  lastId?: number;
}

/** Reads one operation for everyone watching it. */
class OperationReader {
  private readonly watchers = new Set<Watcher>();
  private joining: Joining[] = [];
  private running = false;
  private wake?: () => void;
  /** The instance's audit events since the operation started. */
  private readonly audit: AuditTail;
  private lastId = 0;
  private lastState?: string;
  private lastStateId?: number;
  private lastView?: OperationView;
  /** Other ids the current state went out under (to newcomers): a client resuming from one has it. */
  private readonly stateIds = new Set<number>();
  private readAt = 0;
  ended = false;
  idleSince = Date.now();

  constructor(
    private readonly deps: Deps,
    readonly row: OperationRow,
    private readonly counters: { operationReads: number },
    private readonly onEnd: () => void,
  ) {
    this.audit = new AuditTail((after) => this.auditAfter(after));
  }

  /** The audit cursor: the newest audit event sent. */
  private get cursor(): number {
    return this.audit.cursor;
  }

  get watching(): number {
    return this.watchers.size + this.joining.length;
  }

  /** The operation as last sent, if it has been read. */
  get view(): OperationView | undefined {
    return this.lastView;
  }

  join(watcher: Watcher, lastId?: number): Unwatch {
    this.joining.push({ watcher, lastId });
    this.start();
    this.wake?.();
    let left = false;
    return () => {
      if (left) return;
      left = true;
      this.watchers.delete(watcher);
      this.joining = this.joining.filter((j) => j.watcher !== watcher);
      if (this.watching === 0) this.idleSince = Date.now();
    };
  }

  /** Ends every watcher's stream (the server is closing). */
  closeAll(): void {
    for (const watcher of [...this.watchers, ...this.joining.map((j) => j.watcher)]) watcher.close();
    this.watchers.clear();
    this.joining = [];
    this.wake?.();
  }

  private start(): void {
    if (this.running || this.ended) return;
    this.running = true;
    void this.loop();
  }

  private async loop(): Promise<void> {
    try {
      while (this.watching > 0 && !this.ended) {
        const sinceRead = Date.now() - this.readAt;
        try {
          // A newcomer between two reads is answered from the last one: watchers joining add no read of Temporal.
          if (sinceRead >= READ_INTERVAL_MS || this.lastView === undefined) await this.read();
          else await this.admit();
        } catch {
          // The catalogue or Temporal is unreachable for a moment: watchers keep what they have,
          // and the next read tries again.
        }
        if (this.ended || this.watching === 0) break;
        await new Promise<void>((resolve) => {
          this.wake = resolve;
          void sleep(Math.max(0, READ_INTERVAL_MS - (Date.now() - this.readAt))).then(resolve);
        });
        this.wake = undefined;
      }
    } finally {
      this.running = false;
      // A watcher that joined as the loop was leaving starts it again.
      if (this.watching > 0 && !this.ended) this.start();
    }
  }

  private async read(): Promise<void> {
    this.readAt = Date.now();
    const row = (await getOperation(this.deps.db, this.row.id)) ?? this.row;
    let view = row.status === 'running' ? await operationView(this.deps, row) : viewOf(this.deps.config, row);
    // A live read whose query timed out falls back to the row's steps, which lag (empty before the
    // run's end): watchers keep the steps they were shown rather than seeing them vanish.
    if (view.status === 'running' && view.steps.length === 0 && this.lastView?.steps.length) view = { ...view, steps: this.lastView.steps };
    if (row.status === 'running') this.counters.operationReads++;
    // Read after the operation: an operation that ended has written its outcome's event by now.
    const before = this.cursor;
    const fresh = await this.audit.next();
    const ended = view.status !== 'running';

    const established = [...this.watchers];
    // Late events (below the cursor as it was) come first, under the next ids after the last message.
    const auditMessages = fresh.map(({ event, late }): StreamMessage => {
      this.lastId = late ? nextStateId(this.lastId, before) : event.id * ID_SCALE;
      return { event: 'audit', id: this.lastId, data: eventView(event) };
    });
    const state = JSON.stringify(view);
    let stateMessage: StreamMessage | undefined;
    if (state !== this.lastState || ended) {
      this.lastId = nextStateId(this.lastId, this.cursor);
      stateMessage = { event: ended ? 'end' : 'operation', id: this.lastId, data: view };
      this.lastState = state;
      this.lastStateId = this.lastId;
      this.stateIds.clear();
    }
    this.lastView = view;
    for (const watcher of established) {
      for (const message of auditMessages) watcher.send(message);
      if (stateMessage) watcher.send(stateMessage);
    }

    await this.admit();
  }

  /**
   * Newcomers: the audit events they lack (from the catalogue, exactly those after their id), then
   * the state last read unless they have it; an operation that has ended ends their stream too.
   */
  private async admit(): Promise<void> {
    const view = this.lastView!;
    const ended = view.status !== 'running';
    while (this.joining.length > 0) {
      const { watcher, lastId } = this.joining[0]!;
      const theirCursor = lastId === undefined ? 0 : cursorOf(lastId);
      // Read before the newcomer leaves the queue: a failed read leaves it there for the next.
      const missed = theirCursor < this.cursor ? await this.auditAfter(theirCursor, this.cursor) : [];
      if (this.joining[0]?.watcher !== watcher) continue; // it left meanwhile
      this.joining.shift();
      const audits = missed.map((e): StreamMessage => ({ event: 'audit', id: e.id * ID_SCALE, data: eventView(e) }));
      if (ended) {
        // The story so far, then its end (whose id is past every audit event it follows).
        for (const message of audits) watcher.send(message);
        watcher.send({ event: 'end', id: this.lastStateId!, data: view });
      } else {
        // The operation first, under an id just after theirs: resuming from it still brings the
        // audit events that follow, which all have larger ids.
        const hasState =
          lastId !== undefined && (this.stateIds.has(lastId) || (this.lastStateId !== undefined && lastId >= this.lastStateId && lastId <= this.lastId));
        if (!hasState) {
          const id = (lastId ?? 0) + 1;
          this.stateIds.add(id);
          watcher.send({ event: 'operation', id, data: view });
        }
        for (const message of audits) watcher.send(message);
      }
      this.watchers.add(watcher);
    }
    if (ended) {
      this.ended = true;
      for (const watcher of this.watchers) watcher.close();
      this.watchers.clear();
      this.onEnd();
    }
  }

  /** The instance's audit events since the operation started, after `after` (and up to `upTo`). */
  private async auditAfter(after: number, upTo = Number.MAX_SAFE_INTEGER): Promise<EventWithOwner[]> {
    const rows = await eventsAfter(this.deps.db, { after, instanceId: this.row.instanceId, since: this.row.startedAt, limit: AUDIT_BATCH });
    return rows.filter((e) => e.id <= upTo);
  }
}

export interface FleetFilter {
  /** Only this instance's operations and audit events. */
  instanceId?: string;
  /** Only operations of this kind, and audit events of that action. */
  kind?: OperationKind;
  /** The caller's scope: a key bound to an owner sees that owner's instances only. */
  scope: Scope;
}

interface FleetWatcher {
  watcher: Watcher;
  filter: FleetFilter;
  lastId?: number;
  joined: boolean;
}

const ownerAllows = (scope: Scope, owner: string | null) => scope.owner === undefined || scope.owner === owner;

function operationMatches(filter: FleetFilter, op: { instanceId: string; kind: string }, owner: string): boolean {
  return (!filter.instanceId || filter.instanceId === op.instanceId) && (!filter.kind || filter.kind === op.kind) && ownerAllows(filter.scope, owner);
}

function auditMatches(filter: FleetFilter, e: EventWithOwner): boolean {
  if (filter.instanceId && filter.instanceId !== e.instanceId) return false;
  if (filter.kind && filter.kind !== e.action) return false;
  return ownerAllows(filter.scope, e.ownerEmail);
}

/**
 * The fleet's stream: every operation that starts, changes or ends, and every audit event,
 * filtered per watcher. It follows each running operation a watcher's filter takes through that
 * operation's reader (shared with anyone watching the operation itself), and reads new audit
 * events once a second for everyone.
 */
class FleetReader {
  private readonly watchers: FleetWatcher[] = [];
  private running = false;
  private wake?: () => void;
  private audit?: AuditTail;
  private lastId = 0;
  /** Operations followed through their reader: what to call to stop, and their owner. */
  private readonly followed = new Map<string, { unwatch: Unwatch; owner: string; reader: OperationReader }>();
  /** The last view sent of operations not followed live (past FLEET_LIVE_LIMIT), to send only changes. */
  private readonly fromCatalogue = new Map<string, string>();

  constructor(
    private readonly deps: Deps,
    private readonly readerOf: (row: OperationRow) => OperationReader,
  ) {}

  get watching(): number {
    return this.watchers.length;
  }

  join(watcher: Watcher, filter: FleetFilter, lastId?: number): Unwatch {
    const entry: FleetWatcher = { watcher, filter, lastId, joined: false };
    this.watchers.push(entry);
    this.start();
    this.wake?.();
    let left = false;
    return () => {
      if (left) return;
      left = true;
      const at = this.watchers.indexOf(entry);
      if (at >= 0) this.watchers.splice(at, 1);
      if (this.watchers.length === 0) this.unfollowAll();
    };
  }

  closeAll(): void {
    for (const { watcher } of this.watchers.splice(0)) watcher.close();
    this.unfollowAll();
    this.wake?.();
  }

  private unfollowAll(): void {
    for (const { unwatch } of this.followed.values()) unwatch();
    this.followed.clear();
    this.fromCatalogue.clear();
    // The next watcher's stream starts from then, not from where the last one left off.
    this.audit = undefined;
  }

  private start(): void {
    if (this.running) return;
    this.running = true;
    void this.loop();
  }

  private async loop(): Promise<void> {
    try {
      while (this.watchers.length > 0) {
        try {
          await this.read();
        } catch {
          // As for an operation's reader: the next read tries again.
        }
        if (this.watchers.length === 0) break;
        await new Promise<void>((resolve) => {
          this.wake = resolve;
          void sleep(READ_INTERVAL_MS).then(resolve);
        });
        this.wake = undefined;
      }
    } finally {
      this.running = false;
      if (this.watchers.length > 0) this.start();
    }
  }

  private nextStateId(): number {
    this.lastId = nextStateId(this.lastId, this.cursor);
    return this.lastId;
  }

  private get cursor(): number {
    return this.audit?.cursor ?? 0;
  }

  private sendOperation(view: OperationView, owner: string, only?: FleetWatcher): void {
    const targets = (only ? [only] : this.watchers.filter((w) => w.joined)).filter((w) => operationMatches(w.filter, view, owner));
    if (targets.length === 0) return;
    const message: StreamMessage = { event: 'operation', id: this.nextStateId(), data: view };
    for (const { watcher } of targets) watcher.send(message);
  }

  private async read(): Promise<void>  {
    // A fleet stream starts now: earlier audit events are in the instances' trails.
    this.audit ??= new AuditTail((after) => eventsAfter(this.deps.db, { after, limit: AUDIT_BATCH }), await latestEventId(this.deps.db));
    const before = this.cursor;
    const fresh = await this.audit.next();
    // Sent before anything else is awaited: an operation's reader may send meanwhile, under the ids that follow.
    for (const { event: e, late } of fresh) {
      this.lastId = late ? nextStateId(this.lastId, before) : e.id * ID_SCALE;
      const message: StreamMessage = { event: 'audit', id: this.lastId, data: eventView(e) };
      for (const w of this.watchers) if (w.joined && auditMatches(w.filter, e)) w.watcher.send(message);
    }
    // Operations that started and ended between two reads show only in the audit trail.
    const endedUnseen = [...new Set(fresh.flatMap(({ event: e }) => (e.operationId && !this.followed.has(e.operationId) ? [e.operationId] : [])))];
    const rows = await operationsWithOwner(this.deps.db, { running: true, ids: endedUnseen });

    for (const row of rows) this.follow(row);

    // Newcomers: audit events after their id, then the operations running now that they may see.
    for (const entry of this.watchers.filter((w) => !w.joined)) {
      if (entry.lastId !== undefined && cursorOf(entry.lastId) < this.cursor) {
        const missed = await eventsAfter(this.deps.db, { after: cursorOf(entry.lastId), limit: AUDIT_BATCH });
        for (const e of missed) {
          if (e.id <= this.cursor && auditMatches(entry.filter, e)) entry.watcher.send({ event: 'audit', id: e.id * ID_SCALE, data: eventView(e) });
        }
      }
      for (const { reader, owner } of this.followed.values()) if (reader.view) this.sendOperation(reader.view, owner, entry);
      entry.joined = true;
    }
  }

  /** Follows an operation some watcher may see: live through its reader while FLEET_LIVE_LIMIT allows, else from its row. */
  private follow(row: OperationWithOwner): void {
    if (this.followed.has(row.id)) return;
    if (!this.watchers.some((w) => operationMatches(w.filter, row, row.ownerEmail))) return;
    if (this.followed.size >= FLEET_LIVE_LIMIT || row.status !== 'running') {
      const view = viewOf(this.deps.config, row);
      const state = JSON.stringify(view);
      if (this.fromCatalogue.get(row.id) !== state) this.sendOperation(view, row.ownerEmail);
      if (row.status === 'running') this.fromCatalogue.set(row.id, state);
      else this.fromCatalogue.delete(row.id);
      return;
    }
    this.fromCatalogue.delete(row.id);
    const reader = this.readerOf(row);
    const owner = row.ownerEmail;
    const unwatch = reader.join({
      send: (message) => {
        if (message.event !== 'audit') this.sendOperation(message.data as OperationView, owner);
      },
      close: () => {
        this.followed.get(row.id)?.unwatch();
        this.followed.delete(row.id);
      },
    });
    this.followed.set(row.id, { unwatch, owner, reader });
  }
}

/**
 * Every stream this process serves: one reader per watched operation, one fleet reader. The API
 * builds one and closes it when it closes, which ends every stream.
 */
export class StreamHub {
  private readonly counters = { operationReads: 0 };
  private operationWatchers = 0;
  private readonly readers = new Map<string, OperationReader>();
  private readonly fleet: FleetReader;
  private closed = false;

  constructor(private readonly deps: Deps) {
    this.fleet = new FleetReader(deps, (row) => this.readerOf(row));
  }

  stats(): StreamStats {
    return {
      operationReads: this.counters.operationReads,
      // Only readers someone watches (a client, or the fleet stream) read anything.
      operationReaders: [...this.readers.values()].filter((r) => r.watching > 0).length,
      operationWatchers: this.operationWatchers,
      fleetWatchers: this.fleet.watching,
    };
  }

  /** Watches one operation (already authorised): its state on joining and on each change, its audit events, then `end`. */
  watchOperation(row: OperationRow, watcher: Watcher, lastId?: number): Unwatch {
    if (this.closed) {
      watcher.close();
      return () => undefined;
    }
    const unwatch = this.readerOf(row).join(watcher, lastId);
    this.operationWatchers++;
    let left = false;
    return () => {
      if (left) return;
      left = true;
      this.operationWatchers--;
      unwatch();
    };
  }

  /** Watches the fleet (or the part `filter` takes): operations as they start, change and end, and audit events. */
  watchFleet(filter: FleetFilter, watcher: Watcher, lastId?: number): Unwatch {
    if (this.closed) {
      watcher.close();
      return () => undefined;
    }
    return this.fleet.join(watcher, filter, lastId);
  }

  /** Ends every stream; later watchers are closed at once. */
  close(): void {
    this.closed = true;
    this.fleet.closeAll();
    for (const reader of this.readers.values()) reader.closeAll();
    this.readers.clear();
  }

  private readerOf(row: OperationRow): OperationReader {
    this.forgetIdle();
    const known = this.readers.get(row.id);
    if (known && !known.ended) return known;
    const reader: OperationReader = new OperationReader(this.deps, row, this.counters, () => {
      if (this.readers.get(row.id) === reader) this.readers.delete(row.id);
    });
    this.readers.set(row.id, reader);
    return reader;
  }

  /** Readers no one has watched for IDLE_KEEP_MS go (they read nothing meanwhile; they only remember what they sent). */
  private forgetIdle(): void {
    const before = Date.now() - IDLE_KEEP_MS;
    for (const [id, reader] of this.readers) if (reader.watching === 0 && reader.idleSince < before) this.readers.delete(id);
  }
}
