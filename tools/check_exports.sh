#!/usr/bin/env bash
# Every function muflow.h declares is exported by the library, and nothing else is.
set -euo pipefail
header=${1:-include/muflow.h}
library=${2:-build/libmuflow.so}
declared=$(grep -oE '\bmf_[a-z0-9_]+\(' "$header" | tr -d '(' | sort -u)
exported=$(nm -D --defined-only --extern-only "$library" | awk '{print $3}' | sort -u)
missing=$(comm -23 <(echo "$declared") <(echo "$exported"))
extra=$(comm -13 <(echo "$declared") <(echo "$exported"))
if [ -n "$missing" ]; then echo "declared in $header but not exported: $missing"; exit 1; fi
if [ -n "$extra" ]; then echo "exported but not declared in $header: $extra"; exit 1; fi
echo "ok: the $(echo "$declared" | wc -l) functions of $header are exactly the exports of $library"
