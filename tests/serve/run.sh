#!/bin/sh
# End-to-end tests of `mistral serve` (tests/serve/serve_test.mjs and spec_test.mjs, speculation, with the
# official openai npm client; structured_test.mjs, structured outputs with the
# openai and @mistralai/mistralai clients, checked by ajv) and of its chat page (tests/serve/page_test.mjs,
# playwright-core driving /usr/bin/chromium); property_test.mjs, guided
# outputs over random schemas and logits (build/tests/unit/test_guided_random)
# validated by ajv; anthropic_test.mjs (/v1/messages, @anthropic-ai/sdk) and
# responses_test.mjs (/v1/responses, the openai client's responses API);
# mistral_test.mjs (FIM, safe_prompt, prefix with @mistralai/mistralai); hardening_test.mjs
# (hostile clients over raw sockets, SIGTERM, the latency histograms); promptcache_test.mjs
# (--prompt-cache: restored across a restart, damaged and foreign files); fork_test.mjs (n > 1 prefills once:
# choices equal n = 1 requests); penalty_test.mjs (presence/frequency/repeat penalties equal the CLI's);
# ramp_test.mjs (--max-itl-ms: tokens under a ramp of new prompts = alone). Run from anywhere:
#   tests/serve/run.sh                      # against build/mistral
#   MISTRAL_BIN=/path/to/mistral tests/serve/run.sh
# Skips (exit 0) when node/npm or ../shared/models/stories260K are absent;
# page_test.mjs skips itself when /usr/bin/chromium is absent.
set -eu
cd "$(dirname "$0")/../.."

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "tests/serve: skipped: node and npm are needed (Node.js >= 20)"
    exit 0
fi
if [ ! -d "${MISTRAL_STORIES:-../shared/models/stories260K}" ]; then
    echo "tests/serve: skipped: ${MISTRAL_STORIES:-../shared/models/stories260K} is absent"
    exit 0
fi
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 20 ]; then
    echo "tests/serve: skipped: Node.js $(node --version) is older than 20"
    exit 0
fi
if [ ! -d tests/serve/node_modules/openai ] || [ ! -d tests/serve/node_modules/playwright-core ] ||
   [ ! -d tests/serve/node_modules/ajv-formats ] || [ ! -d tests/serve/node_modules/@mistralai/mistralai ] ||
   [ ! -d tests/serve/node_modules/@anthropic-ai/sdk ]; then
    (cd tests/serve && npm ci --no-audit --no-fund)
fi
bin=${MISTRAL_BIN:-build/mistral}
if [ ! -x "$bin" ]; then
    echo "tests/serve: $bin is missing: build it first (make)" >&2
    exit 1
fi
set +e
node --test tests/serve/serve_test.mjs tests/serve/spec_test.mjs tests/serve/structured_test.mjs tests/serve/property_test.mjs \
    tests/serve/ramp_test.mjs \
    tests/serve/anthropic_test.mjs tests/serve/responses_test.mjs tests/serve/mistral_test.mjs tests/serve/hardening_test.mjs tests/serve/promptcache_test.mjs tests/serve/page_test.mjs \
    tests/serve/fork_test.mjs tests/serve/penalty_test.mjs
status=$?
exit $status
