// BMODEL container: read, write, describe. See docs/architecture.md (shared/bmodel).
export { readBmodel, readBmodelFile } from './read.js';
export { writeBmodel, vendorTime } from './write.js';
export type { BmodelSpec, BmodelNetSpec, BmodelStageSpec, BmodelTensorSpec } from './write.js';
export { isSimulatorBmodel, simulatorPayload, SIMULATOR_MODULE_NAME } from './simulator.js';
export { bmodelMemInfo } from './memory.js';
export type { BmodelMemInfo } from './memory.js';
export { formatBmodelInfo, bmodelInfoJson, formatFloat } from './format.js';
export type { BmodelInfoJson, TensorInfoJson } from './format.js';
export * from './types.js';
