#!/bin/sh
# bmfleet agent launcher, installed as bin/bmfleet-agent in the board package. Runs the compiled
# agent on the Node.js binary shipped next to it, so a board needs no Node.js of its own.
#   bmfleet-agent --config FILE     run the agent (bmfleet agent --config FILE)
#   bmfleet-agent --version         print the version
#   bmfleet-agent smoke ARGS...     run dist/cross/smoke.js (load + infer a simulator BMODEL)
#   bmfleet-agent bmrt-test ARGS... bmfleet bmrt-test on this board's libsophon (nets, shapes, times)
#   bmfleet-agent golden record ARGS... record a vendor BMODEL's reference outputs on this board
# BMFLEET_AGENT_EMULATOR, when set, prefixes the node binary (for example
# "qemu-aarch64-static -L /usr/aarch64-linux-gnu" to try the package on an x86-64 host).
set -eu
root=$(CDPATH='' cd -- "$(dirname -- "$0")/.." && pwd)
node="$root/node/bin/node"
case "${1:-}" in
  --version | version)
    set -- "$root/dist/cli/entry.js" version
    ;;
  smoke)
    shift
    set -- "$root/dist/cross/smoke.js" "$@"
    ;;
  bmrt-test | golden)
    set -- "$root/dist/cli/entry.js" "$@"
    ;;
  *)
    set -- "$root/dist/cli/entry.js" agent "$@"
    ;;
esac
# A 1 MB young generation (boards share their memory with the TPU): by default V8 grows it to
# 8-16 MB a semi-space while much of what is allocated survives (start-up, bursts of traffic) and
# gives it back only when its memory reducer runs: ~70 vs ~80 MB RSS 3 s after ready on x86-64,
# both ~66 MB idle (`npm run bench -- agent`).
# Override with BMFLEET_AGENT_NODE_OPTIONS.
node_opts=${BMFLEET_AGENT_NODE_OPTIONS:---max-semi-space-size=1}
# shellcheck disable=SC2086 # the emulator prefix and node options are command lines and must split
exec ${BMFLEET_AGENT_EMULATOR:-} "$node" $node_opts "$@"
