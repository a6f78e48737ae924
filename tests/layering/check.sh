#!/usr/bin/env bash
# Layering: hl <- ke <- io. A lower layer never includes an upper layer's
# header, and no core file includes a hosted libc header.
set -euo pipefail
top=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$top"
status=0

forbid() { # forbid <dirs> <regex> <reason>
    local hits
    hits=$(grep -rnE "$2" $1 2>/dev/null || true)
    if [ -n "$hits" ]; then echo "FAIL ($3):"; echo "$hits"; status=1; fi
}

forbid "src/base" '#include *[<"](irqroute/)?(hl|ke|io|vic|router)\.h' "base includes a layer"
forbid "src/hl platform/x86" '#include *[<"](irqroute/)?(ke|io|vic|router)\.h' "Hl includes Ke or Io"
forbid "src/ke" '#include *[<"](irqroute/)?io\.h' "Ke includes Io"
forbid "src/vic" '#include *[<"](irqroute/)?(ke|io)\.h|#include *"(ki|ki_matrix|iop)\.h"' "the Vic includes Ke or Io"
forbid "src/ke src/io src/hl" '#include *"vicp\.h"' "another layer includes the Vic's private header"
forbid "include/irqroute/hl.h" '#include *"(ke|io)\.h' "hl.h includes an upper header"
forbid "include/irqroute/ke.h" '#include *"io\.h' "ke.h includes io.h"
forbid "src platform/x86" '#include *<(stdio|stdlib|string|pthread|unistd|assert|time|errno)\.h>' "hosted header in the core"
forbid "platform/sim --exclude=simboot.c --exclude=simboot.h" '#include *[<"](irqroute/)?(ke|io|vic|router)\.h' "sim models include Ke or Io"

[ $status -eq 0 ] && echo "PASS: layering holds (hl <- ke <- io; core freestanding headers only)"
exit $status
