// Hypothesis tests for experiments: rank tests on sketches, quantile differences, proportions, sequential
// (always-valid) inference and sample sizes. Pure functions; see each file for the method.
export * from './binned.js';
export * from './cluster-sample-size.js';
export * from './clustered.js';
export * from './mann-whitney.js';
export * from './normal.js';
export * from './proportions.js';
export * from './quantiles.js';
export * from './sample-size.js';
export * from './sequential.js';
export * from './ratio.js';
