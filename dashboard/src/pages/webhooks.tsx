// Webhook endpoints and, on demand, each one's recent deliveries (one request per endpoint opened).
import { useState } from 'preact/hooks';
import { query } from '../client';
import { Badge, Loaded, Pager, usePager, useResource, when } from '../components';
import type { Delivery, Page, Webhook } from '../types';

function Deliveries({ webhook }: { webhook: Webhook }) {
  const pager = usePager(webhook.id);
  const page = useResource<Page<Delivery>>(`/v1/webhooks/${encodeURIComponent(webhook.id)}/deliveries${query({ limit: 10, cursor: pager.cursor })}`);
  return (
    <Loaded resource={page}>
      {(p) => (
        <>
          <table>
            <caption>Recent deliveries to {webhook.url}</caption>
            <thead><tr><th scope="col">Event</th><th scope="col">Status</th><th scope="col">Attempts</th><th scope="col">Last answer</th><th scope="col">Created</th><th scope="col">Delivered</th></tr></thead>
            <tbody>
              {p.items.length === 0 ? <tr><td colSpan={6} class="muted">No deliveries yet.</td></tr> : null}
              {p.items.map((d) => (
                <tr key={d.id}>
                  <td>{d.type}</td><td><Badge value={d.status} /></td><td class="num">{d.attempts}</td>
                  <td>{d.lastStatusCode ?? ''} {d.lastError ?? ''}</td><td>{when(d.createdAt)}</td><td>{when(d.deliveredAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <Pager pager={pager} nextCursor={p.nextCursor} label="Delivery" />
        </>
      )}
    </Loaded>
  );
}

export function WebhooksPage() {
  const hooks = useResource<{ items: Webhook[] }>('/v1/webhooks');
  const [open, setOpen] = useState<string | undefined>(undefined);
  return (
    <>
      <h1>Webhooks</h1>
      <Loaded resource={hooks}>
        {(h) => (
          <ul class="plain">
            {h.items.length === 0 ? <li class="muted">No endpoints.</li> : null}
            {h.items.map((w) => (
              <li key={w.id} class="card">
                <h2 class="h3">{w.url}</h2>
                <p class="muted">{w.description ?? ''} · events: {w.events.join(', ')} · since {when(w.createdAt)}</p>
                <button type="button" aria-expanded={open === w.id} onClick={() => setOpen(open === w.id ? undefined : w.id)}>
                  {open === w.id ? 'Hide deliveries' : 'Show deliveries'}
                </button>
                {open === w.id ? <Deliveries webhook={w} /> : null}
              </li>
            ))}
          </ul>
        )}
      </Loaded>
    </>
  );
}
