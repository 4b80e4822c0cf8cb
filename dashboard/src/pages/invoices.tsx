// Invoices: the list, and each one's HTML as the API renders it (fetched with the key, shown in
// a sandboxed frame: a plain link could not carry the bearer token).
import { useState } from 'preact/hooks';
import { ApiProblem, query, request } from '../client';
import { Badge, Loaded, Pager, ProblemBox, asProblem, money, usePager, useResource, when } from '../components';
import type { InvoiceSummary, Page } from '../types';

export function InvoicesPage() {
  const pager = usePager('invoices');
  const page = useResource<Page<InvoiceSummary>>(`/v1/invoices${query({ limit: 20, cursor: pager.cursor })}`);
  const [shown, setShown] = useState<{ number: string; html: string } | undefined>(undefined);
  const [problem, setProblem] = useState<ApiProblem | undefined>(undefined);
  const open = async (invoice: InvoiceSummary) => {
    try {
      const res = await request('GET', `/v1/invoices/${encodeURIComponent(invoice.id)}.html`, { accept: 'text/html' });
      setShown({ number: invoice.number, html: await res.text() });
      setProblem(undefined);
    } catch (err) {
      setProblem(asProblem(err));
    }
  };
  return (
    <>
      <h1>Invoices</h1>
      <ProblemBox problem={problem} />
      <Loaded resource={page}>
        {(p) => (
          <>
            <table>
              <thead>
                <tr><th scope="col">Number</th><th scope="col">Owner</th><th scope="col">Period</th><th scope="col">Status</th><th scope="col">Subtotal</th><th scope="col">Issued</th><th scope="col"><span class="visually-hidden">View</span></th></tr>
              </thead>
              <tbody>
                {p.items.length === 0 ? <tr><td colSpan={7} class="muted">No invoices yet.</td></tr> : null}
                {p.items.map((i) => (
                  <tr key={i.id}>
                    <td>{i.number}</td><td>{i.ownerEmail}</td><td>{i.period}</td><td><Badge value={i.status} /></td>
                    <td class="num">{money(i.subtotalCents, i.currency)}</td><td>{when(i.issuedAt)}</td>
                    <td><button type="button" onClick={() => void open(i)}>View {i.number}</button></td>
                  </tr>
                ))}
              </tbody>
            </table>
            <Pager pager={pager} nextCursor={p.nextCursor} label="Invoice" />
          </>
        )}
      </Loaded>
      {shown ? (
        <section class="card" aria-labelledby="invoice-shown">
          <div class="title-row">
            <h2 id="invoice-shown">Invoice {shown.number}</h2>
            <button type="button" onClick={() => setShown(undefined)}>Close</button>
          </div>
          <iframe class="invoice" title={`Invoice ${shown.number}`} sandbox="" srcdoc={shown.html} />
        </section>
      ) : null}
    </>
  );
}
