#!/bin/sh
# Decode speed with a JSON Schema vs without (issue 20: the constraint's
# masks are computed on a helper thread while forward() runs, so guided
# decode should keep >= 97% of the free speed). Never part of make test.
#   sh bench/structured.sh MODEL [N] [REPS]
# e.g. ./mistral synth /tmp/1b.gguf --shape 1b --type q4_0 \
#        --tokenizer ../shared/tokenizers/mistral/tokenizer.model.v1
# The schema allows long text (an array of up to 64 free strings), so that
# random weights write N tokens under it as they do without it. Prints the
# generate lines' tok/s, alternating the two modes; results: bench/RESULTS.md.
MODEL=${1:?usage: structured.sh MODEL [N] [REPS]}
N=${2:-64}
REPS=${3:-3}
BIN=${MISTRAL:-build/mistral}
SCHEMA='{"type":"object","properties":{"notes":{"type":"array","items":{"type":"string"},"maxItems":64}},"required":["notes"],"additionalProperties":false}'
speed() { "$BIN" generate -m "$MODEL" -p "Once upon a time" -n "$N" "$@" 2>&1 >/dev/null |
          sed -n 's/.*generation: \([0-9]*\) tokens, \([0-9.]*\) tok\/s.*/\1 \2/p'; }
for r in $(seq "$REPS"); do
    echo "free      $(speed --ignore-eos)"
    echo "schema    $(speed --json-schema "$SCHEMA")"
    echo "sync mask $(MISTRAL_SYNC_MASKS=1 speed --json-schema "$SCHEMA")"
done
