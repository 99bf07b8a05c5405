// Bundles: name, version, precision, chip, size, provenance (source model, toolchain,
// calibration), golden-set figures, signatures (key, algorithm, role) and expiry.
import { html } from './html.js';
import { api } from './api.js';
import { useLive } from './live.js';
import { ErrorNote, short, when } from './ui.js';

const size = (b) =>
  b >= 1 << 20 ? `${(b / (1 << 20)).toFixed(1)} MiB` : `${(b / 1024).toFixed(1)} KiB`;

function Value({ v }) {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'object') return html`<code class="json">${JSON.stringify(v)}</code>`;
  return String(v);
}

/** Who signed the manifest: each key with its algorithm and the roles the root gives it. */
function Signatures({ signatures }) {
  return html`<table data-testid="signatures">
    <caption>
      Signatures of the manifest
    </caption>
    <thead>
      <tr>
        <th scope="col">key id</th>
        <th scope="col">algorithm</th>
        <th scope="col">signed as (root role)</th>
        <th scope="col">verifies</th>
      </tr>
    </thead>
    <tbody>
      ${signatures.map(
        (g) =>
          html`<tr>
            <td><code title=${g.keyid}>${short(g.keyid)}</code></td>
            <td>${g.algorithm}</td>
            <td>${g.roles.length ? g.roles.join(', ') : 'a key the root no longer lists'}</td>
            <td>${g.verified ? 'yes' : html`<strong class="bad">no</strong>`}</td>
          </tr>`,
      )}
    </tbody>
  </table>`;
}

function Detail({ digest }) {
  const [b, error] = useLive(() => api.bundles.get(digest), [], [digest]);
  if (error) return html`<${ErrorNote} error=${error} />`;
  if (!b) return null;
  // The REST view flattens the manifest's fields into the bundle.
  const m = { files: [], provenance: {}, metadata: {}, ...b, ...(b.manifest ?? {}) };
  return html`<section class="card" data-loaded="bundle" aria-label=${`Bundle ${short(digest)}`}>
    <h2>${b.model} ${b.version} (${b.precision})</h2>
    <dl>
      <dt>digest</dt>
      <dd><code>${b.digest}</code></dd>
      <dt>chips</dt>
      <dd>${b.chips.join(', ')}</dd>
      <dt>runtime</dt>
      <dd>${m.runtime}</dd>
      <dt>size</dt>
      <dd>${size(m.files.reduce((s, f) => s + f.size, 0))} in ${m.files.length} files</dd>
      <dt>signed manifest expires</dt>
      <dd data-testid="expires">
        ${m.expires}${b.expired ? html` <strong class="bad">expired: devices refuse it</strong>` : ''}
      </dd>
      ${Object.entries(m.provenance).map(
        ([k, v]) =>
          html`<dt>provenance: ${k}</dt>
            <dd><${Value} v=${v} /></dd>`,
      )}
      ${Object.entries(m.metadata).map(
        ([k, v]) =>
          html`<dt>${k}</dt>
            <dd><${Value} v=${v} /></dd>`,
      )}
    </dl>
    <${Signatures} signatures=${b.signatures ?? []} />
    <table>
      <caption>
        Files
      </caption>
      <thead>
        <tr>
          <th scope="col">role</th>
          <th scope="col">path</th>
          <th scope="col" class="num">size</th>
          <th scope="col">sha256</th>
        </tr>
      </thead>
      <tbody>
        ${m.files.map(
          (f) =>
            html`<tr>
              <td>${f.role}</td>
              <td>${f.path}</td>
              <td class="num">${size(f.size)}</td>
              <td><code>${short(f.sha256)}</code></td>
            </tr>`,
        )}
      </tbody>
    </table>
  </section>`;
}

export function BundlesPage({ selected }) {
  const [data, error] = useLive(() => api.bundles.list(), [], []);
  return html`<h1>Bundles</h1>
    <${ErrorNote} error=${error} />
    ${
      data &&
      html`<table data-loaded="bundles">
        <thead>
          <tr>
            <th scope="col">model</th>
            <th scope="col">version</th>
            <th scope="col">precision</th>
            <th scope="col">chips</th>
            <th scope="col" class="num wide-only">sequence</th>
            <th scope="col" class="wide-only">created (UTC)</th>
            <th scope="col">digest</th>
          </tr>
        </thead>
        <tbody>
          ${data.map(
            (b) =>
              html`<tr>
                <td>${b.model}</td>
                <td>${b.version}</td>
                <td>${b.precision}</td>
                <td>${b.chips.join(', ')}</td>
                <td class="num wide-only">${b.sequence}</td>
                <td class="wide-only">${when(b.createdAt)}</td>
                <td>
                  <a href=${`#/bundles/${b.digest}`}><code>${short(b.digest)}</code></a>
                </td>
              </tr>`,
          )}
        </tbody>
      </table>`
    }
    ${selected && html`<${Detail} digest=${selected} />`}`;
}
