// TorchScript (.pt) input for compile: conversion through the user's PyTorch (convert.ts, with the
// Python half in script.ts).
export {
  convertTorchScript,
  isTorchFile,
  pythonFor,
  requireTorchShapes,
  torchScriptToOnnx,
  traceHint,
} from './convert.js';
export type {
  ConvertOptions,
  TorchToOnnxOptions,
  TorchConversion,
  TorchProvenance,
} from './convert.js';
