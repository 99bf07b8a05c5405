// The operator types an ONNX model uses, read straight from its protobuf bytes (onnx.proto field
// numbers: ModelProto.graph 7, .functions 25; GraphProto.node 1; FunctionProto.node 4;
// NodeProto.op_type 4, .attribute 5; AttributeProto.g 6, .graphs 11). The agent has no ONNX
// decoder and needs only this, so the walk skips every other field (initializers included)
// without copying them: a 14 MB payload costs a few hundred node visits, not a decode.
import { bmfError } from '../errors.js';

/** Nested subgraphs (If/Loop bodies) followed at most this deep. */
const MAX_DEPTH = 16;

const MODEL = { graph: 7, functions: 25 } as const;
const GRAPH_NODE = 1;
const FUNCTION_NODE = 4;
const NODE = { opType: 4, attribute: 5 } as const;
const ATTRIBUTE = { graph: 6, graphs: 11 } as const;

interface Field {
  readonly field: number;
  /** Start and end of a length-delimited value; empty for the other wire types. */
  readonly start: number;
  readonly end: number;
}

function bad(offset: number, reason: string): never {
  throw bmfError('BMF_ERR_BMODEL_UNSUPPORTED', {
    reason: `simulator payload is not a readable ONNX model at byte ${offset}: ${reason}`,
  });
}

function varint(bytes: Uint8Array, at: number): [value: number, next: number] {
  let value = 0;
  let scale = 1;
  for (let i = at; i < bytes.length && i < at + 10; i++) {
    const b = bytes[i] ?? 0;
    value += (b & 0x7f) * scale;
    if (b < 0x80) {
      if (!Number.isSafeInteger(value)) bad(at, 'varint too large');
      return [value, i + 1];
    }
    scale *= 128;
  }
  return bad(at, 'truncated varint');
}

/** The fields of one message in bytes [start, end), in order. */
function* fields(bytes: Uint8Array, start: number, end: number): Generator<Field> {
  let at = start;
  while (at < end) {
    const [tag, next] = varint(bytes, at);
    const field = Math.floor(tag / 8);
    at = next;
    switch (tag % 8) {
      case 0:
        at = varint(bytes, at)[1];
        yield { field, start: at, end: at };
        break;
      case 1:
        at += 8;
        yield { field, start: at, end: at };
        break;
      case 5:
        at += 4;
        yield { field, start: at, end: at };
        break;
      case 2: {
        const [length, from] = varint(bytes, at);
        at = from + length;
        if (at > end) bad(from, `field ${field} runs past its message`);
        yield { field, start: from, end: at };
        break;
      }
      default:
        bad(at, `wire type ${tag % 8} of field ${field}`);
    }
    if (at > end) bad(end, `field ${field} runs past its message`);
  }
}

function nodeOps(bytes: Uint8Array, f: Field, depth: number, ops: Set<string>): void {
  for (const n of fields(bytes, f.start, f.end)) {
    if (n.field === NODE.opType) ops.add(new TextDecoder().decode(bytes.subarray(n.start, n.end)));
    if (n.field !== NODE.attribute) continue;
    for (const a of fields(bytes, n.start, n.end)) {
      if (a.field === ATTRIBUTE.graph || a.field === ATTRIBUTE.graphs) {
        graphOps(bytes, a, depth + 1, ops);
      }
    }
  }
}

function graphOps(bytes: Uint8Array, g: Field, depth: number, ops: Set<string>): void {
  if (depth > MAX_DEPTH) bad(g.start, `subgraphs nested deeper than ${MAX_DEPTH}`);
  for (const f of fields(bytes, g.start, g.end)) {
    if (f.field === GRAPH_NODE) nodeOps(bytes, f, depth, ops);
  }
}

/** Every op_type in the model's graph, its subgraphs and its local functions. */
export function onnxOpTypes(onnx: Uint8Array): ReadonlySet<string> {
  const ops = new Set<string>();
  let graphs = 0;
  for (const f of fields(onnx, 0, onnx.length)) {
    if (f.field === MODEL.graph) {
      graphs++;
      graphOps(onnx, f, 0, ops);
    } else if (f.field === MODEL.functions) {
      for (const n of fields(onnx, f.start, f.end)) {
        if (n.field === FUNCTION_NODE) nodeOps(onnx, n, 0, ops);
      }
    }
  }
  if (graphs === 0) bad(0, 'no graph');
  return ops;
}
