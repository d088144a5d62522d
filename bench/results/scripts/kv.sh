#!/bin/bash
# Usage: kv.sh [FILE...] > RENAMED
#
# Renames oauth2 benchmarks to key=value sub-names so benchstat can project them.
sed -E \
  -e 's#^BenchmarkVerify/([A-Za-z0-9]+)/(bare-go-jose)-#BenchmarkVerify/alg=\1/variant=\2-#' \
  -e 's#^BenchmarkVerify/([A-Za-z0-9]+)/(cold|cached)/([a-z-]+)-#BenchmarkVerify/alg=\1/variant=\2-\3-#' \
  -e 's#^BenchmarkSign/([A-Za-z0-9]+)-#BenchmarkSign/alg=\1-#' \
  -e 's#^BenchmarkProtectedRoute/([a-z-]+)-#BenchmarkProtectedRoute/handler=\1-#' "$@"
