// Every table the CLI prints has its header in one style: upper case, columns two spaces apart.
import t from 'tap';
import { formatTable } from '../../cli/http-client.js';
import {
  formatAccuracy,
  formatLayerSimilarity,
  formatSensitivity,
} from '../../controller/quantize/report-text.js';

const headerOf = (table: string): string => table.split('\n')[0] ?? '';
const layer = { tensor: 'x', precision: 'INT8', cosine: 1, euclidean: 1, sqnrDb: 40, pass: true };

const tables: [string, string][] = [
  ['formatTable', headerOf(formatTable(['device', 'P95 ms'], [['a', '1']]))],
  [
    'quantize accuracy',
    formatAccuracy({
      images: 1,
      labelled: true,
      top1Fp32: 1,
      top1Int8: 1,
      agreement: 1,
      meanOutputCosine: 1,
      minOutputCosine: 1,
      perClass: [{ label: 0, name: 'a', images: 1, top1Fp32: 1, top1Int8: 1, agreement: 1 }],
    } as Parameters<typeof formatAccuracy>[0])
      .split('\n\n')[1]
      ?.split('\n')[0] ?? '',
  ],
  ['layer similarity', headerOf(formatLayerSimilarity([layer as never]))],
  [
    'sensitivity',
    headerOf(formatSensitivity([{ layer: 'x', opType: 'Conv', loss: 0.1 } as never])),
  ],
];

for (const [name, header] of tables) {
  t.test(name, async (t) => {
    t.ok(header.length > 0, header);
    t.equal(header, header.toUpperCase(), `upper-case header: ${header}`);
    t.notMatch(header, /^-+/);
  });
}
