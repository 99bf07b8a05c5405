// Reference outputs recorded on a board for a vendor BMODEL's golden set: the host cannot run a
// BMODEL compiled by tpu-mlir or tpu-nntc, so what the device produced for each golden image is
// supplied as files and the agent compares its own outputs with them (cosine) on the device.
// Layout: DIR/<image file name without extension>/<output name>.npy, one .npy per net output,
// each of the output's exact dtype and shape (numpy.save of what libsophon returned).
import { readFile } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import type { BmodelTensor } from '../../shared/bmodel/types.js';
import { bmfError } from '../../shared/errors.js';
import { decodeNpy, npyToTensor } from '../../shared/npy.js';
import type { Tensor } from '../../shared/tensor.js';

const DTYPE_OF: Partial<Record<BmodelTensor['dtype'], Tensor['dtype']>> = {
  FP32: 'float32',
  INT8: 'int8',
  UINT8: 'uint8',
};

/** The folder that holds one golden image's reference outputs. */
export function referenceFolder(dir: string, imagePath: string): string {
  return join(dir, basename(imagePath, extname(imagePath)));
}

/** Reads and checks every output's reference for each image, in the images' order. */
export async function readGoldenReferences(
  dir: string,
  imagePaths: readonly string[],
  outputs: readonly BmodelTensor[],
): Promise<Record<string, Tensor>[]> {
  const refs: Record<string, Tensor>[] = [];
  for (const image of imagePaths) {
    const folder = referenceFolder(dir, image);
    const one: Record<string, Tensor> = {};
    for (const o of outputs) {
      const path = join(folder, `${o.name}.npy`);
      const bytes = await readFile(path).catch((e: NodeJS.ErrnoException) => {
        throw bmfError('BMF_ERR_USAGE', {
          reason: `reference output ${path} for golden image ${image}: ${e.code ?? e.message}`,
        });
      });
      const t = npyToTensor(decodeNpy(new Uint8Array(bytes)));
      const want = DTYPE_OF[o.dtype];
      if (t.dtype !== want || t.shape.join(',') !== o.shape.join(',')) {
        throw bmfError('BMF_ERR_TENSOR_MISMATCH', {
          reason: `${path} is ${t.dtype}[${t.shape.join(',')}], output ${o.name} is ${want ?? o.dtype}[${o.shape.join(',')}]`,
        });
      }
      one[o.name] = t;
    }
    refs.push(one);
  }
  return refs;
}
