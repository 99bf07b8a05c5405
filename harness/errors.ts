// What a call throws, as the catalogue's code, for tests that check refusals by code.
import { isBmfError } from '../shared/errors.js';

/** The BMF_ERR code `fn` throws, 'none' when it returns, 'untyped' for anything but a BmfError. */
export function codeOf(fn: () => unknown): string {
  try {
    fn();
    return 'none';
  } catch (e) {
    return isBmfError(e) ? e.code : 'untyped';
  }
}
