// `bmfleet bmodel inspect` prints what the vendor's `model_tool --info` prints, in the new and the
// old layout (shared/bmodel/model-tool.ts). On the two vendor files (../shared/bmodels; facts in test/fixtures/bmodel/vendor-files.json)
// the device memory follows the vendor formula (INT8 at 1 byte in the new one); a BMODEL built
// with the project's writer covers the branches those files lack: device num, kernel and cpuop
// modules (md5 of RFC 1321 test strings), addr mode, core num, several stages, several subnets, a
// dynamic net. The expected texts are written out by hand from the vendor's print statements.
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { readBmodel, writeBmodel } from '../../../shared/bmodel/index.js';
import type { BmodelSpec } from '../../../shared/bmodel/write.js';
import { modelToolMem } from '../../../shared/bmodel/model-tool.js';
import { VENDOR_SKIP_REASON, fixtureText, vendorDir } from './fixtures.js';
import { runCli, type CliRun } from '../../../harness/cli.js';

const inspect = (argv: string[]): Promise<CliRun> => runCli(['bmodel', 'inspect', ...argv]);

const tmp = mkdtempSync(join(tmpdir(), 'bmf-model-tool-'));
t.teardown(() => rmSync(tmp, { recursive: true, force: true }));

const dir = vendorDir();
t.test('vendor files, both layouts', { skip: dir ? false : VENDOR_SKIP_REASON }, async (t) => {
  const cases = [
    { file: 'face_detection_int8_b4', layout: 'new', device: 6_524_240 },
    { file: 'face_detection_int8_b4', layout: 'old', device: 10_210_640 },
    { file: 'face_detection_fp32_b1', layout: 'new', device: 6_457_168 },
    { file: 'face_detection_fp32_b1', layout: 'old', device: 6_457_168 },
  ];
  for (const c of cases) {
    const args = [
      join(dir!, `${c.file}.bmodel`),
      ...(c.layout === 'old' ? ['--layout', 'old'] : []),
    ];
    const r = await inspect(args);
    t.equal(r.code, 0, r.err);
    const golden = c.layout === 'new' ? `${c.file}.info.txt` : `${c.file}.old.info.txt`;
    t.equal(r.out, fixtureText(golden), `${c.file} ${c.layout}: the golden printout`);
    t.match(r.out, new RegExp(`^device mem size: ${c.device} \\(`, 'm'), `${c.file} ${c.layout}`);
  }
  const int8 = (await inspect([join(dir!, 'face_detection_int8_b4.bmodel')])).out;
  // The file's facts: input data INT8 [4,3,320,320] scale 0.501961; neuron 4,026,368; 1,228,800 B input.
  t.match(int8, /^input: data, \[4, 3, 320, 320\], int8, scale: 0\.501961, zero point: 0$/m);
  t.match(
    int8,
    /^output: face_rpn_bbox_pred_stride32, \[4, 8, 10, 10\], int8, scale: 0\.00393578, zero point: 0$/m,
  );
  t.match(int8, /runtime: 5255168\)/, 'neuron 4,026,368 + INT8 input 1,228,800 at 1 byte');
  t.match(
    int8,
    /^create time: Wed Dec 23 21:07:38 2020\n\nkernel_module: not found!\ncpuop_module: not found!\n/m,
  );
  const old = (await inspect([join(dir!, 'face_detection_int8_b4.bmodel'), '--layout', 'old'])).out;
  t.match(old, /^stage 0:\n/m);
  t.notMatch(old, /cpuop_module|core num/);
  t.match(old, /\(coeff: 1167440, instruct: 101632, runtime: 8941568\)/);
});

// Binary region: "abc" and "message digest" (RFC 1321 md5 test strings), then coefficients and
// commands.
const binary = new Uint8Array(4096);
binary.set(Buffer.from('abc'), 0);
binary.set(Buffer.from('message digest'), 3);
const CHECK = '00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff';
const spec: BmodelSpec = {
  chip: 'BM1684X',
  time: 'Mon Jan  6 12:00:00 2025\n',
  deviceNum: 2,
  kernelModule: { fileName: 'libbm1684x_kernel_module.so', binary: { start: 0, size: 3 } },
  cpuopModule: { fileName: 'libcpuop.so', binary: { start: 3, size: 14 } },
  binary,
  nets: [
    {
      name: 'multi',
      addrMode: 1,
      stages: [
        {
          inputs: [
            {
              name: 'images',
              dtype: 'INT8',
              shape: [4, 3, 224, 224],
              scale: 0.0078125,
              zeroPoint: -3,
              storeMode: '4N',
            },
          ],
          outputs: [{ name: 'logits', dtype: 'FP32', shape: [4, 1000] }],
          ctxSize: 65536,
          coreNum: 2,
          cpuMemSize: 16,
          coeffMem: {
            address: 0,
            checkCode: CHECK,
            binaryCoeff: { start: 32, size: 2048 },
            encryptMode: 0,
            decryptSize: 0,
          },
          subNets: [
            {
              subnetMode: 0,
              isDynamic: false,
              irLen: 0,
              cmdGroups: [
                {
                  bdcNum: 4,
                  gdmaNum: 2,
                  binaryBdc: { start: 2080, size: 512 },
                  binaryGdma: { start: 2592, size: 256 },
                  bdcCmdByte: 512,
                  gdmaCmdByte: 256,
                },
              ],
            },
            { subnetMode: 1, isDynamic: false, irLen: 0, cmdGroups: [] },
          ],
        },
        {
          inputs: [
            {
              name: 'images',
              dtype: 'INT8',
              shape: [1, 3, 224, 224],
              scale: 0.0078125,
              zeroPoint: -3,
              storeMode: '4N',
            },
          ],
          outputs: [{ name: 'logits', dtype: 'FP32', shape: [1, 1000] }],
          ctxSize: 131072,
          coeffMem: {
            address: 0,
            checkCode: CHECK,
            binaryCoeff: { start: 32, size: 2048 },
            encryptMode: 0,
            decryptSize: 0,
          },
        },
      ],
    },
    {
      name: 'dyn',
      stages: [
        {
          inputs: [{ name: 'x', dtype: 'BF16', shape: [1, 8] }],
          outputs: [{ name: 'y', dtype: 'UINT4', shape: [1, 3], zeroPoint: 7 }],
          ctxSize: 1024,
          isDynamic: true,
          nDynamic: true,
          subNets: [{ subnetMode: 0, isDynamic: true, irLen: 10, cmdGroups: [] }],
        },
      ],
    },
  ],
};

// Memory by the vendor's loop (every stage read through stage 0; the neuron total keeps only the
// last net's multi-subnet term, here none):
//   new: weight 2048; instruct 2 x (512 + 256) + 10 x 4 = 1576; runtime neuron 1024 + INT8 input
//        4x3x224x224 at 1 byte 602112 = 603136; host 2 x 16 x 4 = 128.
//   old: check codes per net (2048); BM1684X command sizes not counted, IR 40; INT8 at 4 bytes
//        2408448 + 1024 = 2409472.
const NEW = `bmodel version: B.2.2
chip: BM1684X,  device num: 2
create time: Mon Jan  6 12:00:00 2025

kernel_module name: libbm1684x_kernel_module.so
kernel_module size: 3
kernel_module md5: 900150983cd24fb0d6963f7d28e17f72
cpuop_module name: libcpuop.so
cpuop_module size: 14
cpuop_module md5: f96b697d7cb7938d525a2f31aaf161d0
==========================================
net 0: [multi]  static
addr mode: 1
------------
stage 0, core num: 2
subnet number: 2
input: images, [4, 3, 224, 224], int8, scale: 0.0078125, zero point: -3
output: logits, [4, 1000], float32, scale: 1, zero point: 0
------------
stage 1, core num: 1
input: images, [1, 3, 224, 224], int8, scale: 0.0078125, zero point: -3
output: logits, [1, 1000], float32, scale: 1, zero point: 0
==========================================
net 1: [dyn]  dynamic
------------
stage 0, core num: 1
input: x, [max:1, max:8], bfloat16, scale: 1, zero point: 0
output: y, [1, 3], uint4, scale: 1, zero point: 7


device mem size: 606760 (weight: 2048, instruct: 1576, runtime: 603136)
host mem size: 128 (weight: 0, runtime: 128)
`;

const OLD_MEM = `
device mem size: 2411560 (coeff: 2048, instruct: 40, runtime: 2409472)
host mem size: 128 (coeff: 0, runtime: 128)
`;
const OLD = `bmodel version: B.2.2
chip: BM1684X
create time: Mon Jan  6 12:00:00 2025

kernel_module name: libbm1684x_kernel_module.so
kernel_module size: 3
kernel_module md5: 900150983cd24fb0d6963f7d28e17f72
==========================================
net 0: [multi]  static
------------
stage 0:
subnet number: 2
input: images, [4, 3, 224, 224], int8, scale: 0.0078125, zero point: -3
output: logits, [4, 1000], float32, scale: 1, zero point: 0
------------
stage 1:
input: images, [1, 3, 224, 224], int8, scale: 0.0078125, zero point: -3
output: logits, [1, 1000], float32, scale: 1, zero point: 0
${OLD_MEM}==========================================
net 1: [dyn]  dynamic
------------
stage 0:
input: x, [max:1, max:8], bfloat16, scale: 1, zero point: 0
output: y, [1, 3], uint4, scale: 1, zero point: 7
${OLD_MEM}`;

t.test('a multi-stage, multi-subnet, dynamic BMODEL with modules', async (t) => {
  const file = join(tmp, 'multi.bmodel');
  writeFileSync(file, writeBmodel(spec));
  const n = await inspect([file]);
  t.equal(n.code, 0, n.err);
  t.equal(n.out, NEW);
  const o = await inspect([file, '--layout', 'old']);
  t.equal(o.out, OLD);
  const j = await inspect([file, '--json', '--layout', 'old']);
  t.match(JSON.parse(j.out).modelTool, {
    layout: 'old',
    memory: { device: 2411560, instruct: 40 },
  });
  const b = readBmodel(readFileSync(file));
  t.same(modelToolMem(b, 'new'), {
    weight: 2048,
    instruct: 1576,
    runtime: 603136,
    device: 606760,
    hostWeight: 0,
    hostRuntime: 128,
    host: 128,
  });
  const bad = await inspect([file, '--layout', 'middle']);
  t.equal(bad.code, 2);
  t.match(bad.err, /BMF_ERR_USAGE/);
});
