#!/usr/bin/env bash
# Every function the headers (both tiers) declare is exported by the library, and
# nothing else is; the library's soname is libmuflow.so.MF_VERSION_MAJOR.
# Usage: tools/check_exports.sh LIBRARY HEADER...
set -euo pipefail
library=${1:-build/libmuflow.so}
shift || true
headers=("$@")
[ ${#headers[@]} -gt 0 ] || headers=(include/muflow.h include/muflow_binding.h)
declared=$(cat "${headers[@]}" | grep -oE '\bmf_[a-z0-9_]+\(' | tr -d '(' | sort -u)
exported=$(nm -D --defined-only --extern-only "$library" | awk '{print $3}' | sort -u)
missing=$(comm -23 <(echo "$declared") <(echo "$exported"))
extra=$(comm -13 <(echo "$declared") <(echo "$exported"))
if [ -n "$missing" ]; then echo "declared in ${headers[*]} but not exported: $missing"; exit 1; fi
if [ -n "$extra" ]; then echo "exported but not declared in ${headers[*]}: $extra"; exit 1; fi
major=$(sed -n 's/^#define MF_VERSION_MAJOR \([0-9][0-9]*\)$/\1/p' "${headers[0]}")
soname=$(readelf -d "$library" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
if [ "$soname" != "libmuflow.so.$major" ]; then echo "soname of $library is '$soname', not libmuflow.so.$major"; exit 1; fi
echo "ok: the $(echo "$declared" | wc -l) functions of ${headers[*]} are exactly the exports of $library (soname $soname)"
