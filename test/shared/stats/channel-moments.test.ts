import t from 'tap';
import {
  accumulateMoments,
  emptyMoments,
  summarizeMoments,
} from '../../../shared/stats/channel-moments.js';
import { makeTensor } from '../../../shared/tensor.js';

t.test('per-channel moments agree between NCHW and NHWC layouts of the same image', async (t) => {
  // 2 channels, 2x3 pixels: channel 0 = 1..6, channel 1 = 10,20..60
  const c0 = [1, 2, 3, 4, 5, 6];
  const c1 = [10, 20, 30, 40, 50, 60];
  const nchw = makeTensor('float32', [1, 2, 2, 3], Float32Array.from([...c0, ...c1]));
  const nhwc = makeTensor(
    'float32',
    [1, 2, 3, 2],
    Float32Array.from(c0.flatMap((v, i) => [v, c1[i] as number])),
  );
  const a = emptyMoments('input', 2);
  const b = emptyMoments('input', 2);
  accumulateMoments(a, nchw, 'nchw');
  accumulateMoments(b, nhwc, 'nhwc');
  t.same(a, b);
  const s = summarizeMoments(a);
  t.equal(s[0]?.mean, 3.5);
  t.equal(s[1]?.mean, 35);
  // sample std of 1..6 = sqrt(3.5)
  t.ok(Math.abs((s[0]?.std ?? 0) - Math.sqrt(3.5)) < 1e-12);
  t.equal(a[1]?.min, 10);
  t.equal(a[1]?.max, 60);
});

t.test('int8 saturation is counted as clipping; a wrong channel count is ignored', async (t) => {
  const acc = emptyMoments('x', 1);
  accumulateMoments(
    acc,
    makeTensor('int8', [1, 1, 1, 4], Int8Array.from([-128, 0, 127, 127])),
    'nchw',
  );
  t.equal(acc[0]?.clippedLow, 1);
  t.equal(acc[0]?.clippedHigh, 2);
  const other = emptyMoments('x', 3);
  accumulateMoments(other, makeTensor('float32', [1, 1, 1, 2], Float32Array.from([1, 2])), 'nchw');
  t.equal(other[0]?.count, 0);
});
