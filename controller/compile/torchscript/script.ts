// The Python half of TorchScript input, run as `python3 -c TORCHSCRIPT_EXPORT_SCRIPT request.json`
// with the user's own PyTorch. It loads the model with torch.jit.load, runs it on the inputs
// bmfleet wrote as .npy files (the reference outputs the compiled model is judged against),
// exports ONNX with torch.onnx.export at the chosen opset, and prints one JSON line: either the
// facts (torch version, opset, input and output names, files written) or a classified failure
// that the TypeScript side (convert.ts) turns into a typed error. Kept to the standard library,
// torch and numpy (a dependency of PyTorch).
export const TORCHSCRIPT_EXPORT_SCRIPT = String.raw`
import json, sys

def emit(obj, code=0):
    sys.stdout.write("\nBMFLEET_RESULT " + json.dumps(obj) + "\n")
    sys.stdout.flush()
    sys.exit(code)

req = json.load(open(sys.argv[1]))
try:
    import numpy as np
    import torch
except ImportError as e:
    emit({"error": "torch_missing", "reason": str(e), "python": sys.version.split()[0]}, 3)

def first_line(e):
    text = str(e).strip()
    return (text.splitlines() or [type(e).__name__])[0][:300]

def classify(path, jit_error):
    try:
        obj = torch.load(path, map_location="cpu")
    except Exception as e:
        return "not a PyTorch file (torch.jit.load: %s; torch.load: %s)" % (first_line(jit_error), first_line(e))
    if isinstance(obj, torch.nn.Module):
        return "an eager %s module pickled with torch.save, not a TorchScript program" % type(obj).__name__
    if isinstance(obj, dict):
        keys = list(obj.keys())
        if keys and all(isinstance(v, torch.Tensor) for v in obj.values()):
            return "a state_dict (%d weight tensors, no program)" % len(keys)
        return "a checkpoint dictionary (keys: %s), no program" % ", ".join(str(k) for k in keys[:6])
    return "a pickled %s, not a TorchScript program" % type(obj).__name__

torch.set_num_threads(int(req.get("threads", 1)))
try:
    model = torch.jit.load(req["model"], map_location="cpu")
except Exception as e:
    emit({"error": "not_torchscript", "kind": classify(req["model"], e), "torch": torch.__version__}, 4)
model.eval()

try:
    args = model.forward.schema.arguments[1:]
    input_names = [a.name for a in args]
except Exception:
    input_names = ["input_%d" % k for k in range(len(req["shapes"]))]
if len(input_names) != len(req["shapes"]):
    emit({"error": "input_count", "inputs": input_names, "torch": torch.__version__}, 5)

def flatten(out):
    if isinstance(out, torch.Tensor):
        return [out]
    if isinstance(out, (list, tuple)):
        return [t for o in out for t in flatten(o)]
    if isinstance(out, dict):
        return [t for o in out.values() for t in flatten(o)]
    raise TypeError("output of type %s is not a tensor" % type(out).__name__)

samples = []
with torch.no_grad():
    for sample in req["samples"]:
        xs = [torch.from_numpy(np.load(p)) for p in sample["inputs"]]
        try:
            outs = flatten(model(*xs))
        except Exception as e:
            emit({"error": "run_failed", "reason": first_line(e), "torch": torch.__version__}, 6)
        if len(outs) > len(sample["outputs"]):
            emit({"error": "run_failed", "reason": "more than %d outputs" % len(sample["outputs"]),
                  "torch": torch.__version__}, 6)
        for t, p in zip(outs, sample["outputs"]):
            np.save(p, t.detach().float().contiguous().numpy())
        samples.append(len(outs))
        example = tuple(xs)

count = samples[0] if samples else 0
output_names = ["output"] if count == 1 else ["output_%d" % j for j in range(count)]
opset = req.get("opset")
if not opset:
    try:
        from torch.onnx import _constants
        opset = _constants.ONNX_DEFAULT_OPSET
    except Exception:
        opset = 13
try:
    torch.onnx.export(model, example, req["onnx"], opset_version=int(opset),
                      input_names=input_names, output_names=output_names,
                      do_constant_folding=True)
except Exception as e:
    emit({"error": "export_failed", "reason": first_line(e), "torch": torch.__version__,
          "opset": int(opset)}, 7)
emit({"torch": torch.__version__, "opset": int(opset), "inputs": input_names,
      "outputs": output_names, "written": count})
`;
