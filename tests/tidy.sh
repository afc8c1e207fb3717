#!/usr/bin/env bash
# Mechanical hygiene that the compiler cannot see, in the spirit of TigerBeetle's tidy:
#   - the deterministic core (impl/ outside impl/runtime/, and model/) never reaches the world
#     directly: no clocks, randomness, sockets, file syscalls, threads or signals;
#   - lines are at most 100 columns;
#   - every top-level folder has a README.md.
set -u
cd "$(dirname "$0")/.."
problems=0

core_files=$(find impl model -name '*.[ch]' -not -path 'impl/runtime/*' | sort)
banned='(^|[^a-zA-Z0-9_.>])(clock_gettime|gettimeofday|time|rand|srand|random|getrandom|pthread_[a-z_]+|usleep|nanosleep|sleep|socket|connect|accept|bind|recv|send|sendfile|open|openat|fopen|pread|pwrite|read|write|fsync|fdatasync|ftruncate|rename|unlink|opendir|readdir|signal|sigaction|epoll_[a-z_]+|getenv)\s*\('
# Comments and string literals are blanked first (a comment may say "read (short at end").
hits=$(python3 - "$banned" $core_files <<'PY'
import re, sys
pattern = re.compile(sys.argv[1])
token = re.compile(r'/\*.*?\*/|//[^\n]*|"(?:\\.|[^"\\\n])*"', re.S)
for path in sys.argv[2:]:
    text = open(path, encoding="utf-8").read()
    code = token.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)
    for number, line in enumerate(code.split("\n"), 1):
        if pattern.search(line):
            print(f"{path}:{number}: {text.split(chr(10))[number - 1].strip()}")
PY
)
if [ -n "$hits" ]; then
    echo "direct world access in the deterministic core (use struct io):"
    echo "$hits"
    problems=$((problems + 1))
fi

long=$(awk 'length($0) > 100 { print FILENAME ":" FNR ": " length($0) " columns" }' \
    $(find impl sim model tests -name '*.[ch]' | sort))
if [ -n "$long" ]; then
    echo "lines over 100 columns:"
    echo "$long"
    problems=$((problems + 1))
fi

for d in impl sim model scenarios tests reports; do
    [ -f "$d/README.md" ] || { echo "$d/ has no README.md"; problems=$((problems + 1)); }
done

if [ "$problems" -eq 0 ]; then echo "tidy: clean"; echo "1 passed, 0 failed"; exit 0; fi
echo "0 passed, 1 failed"
exit 1
