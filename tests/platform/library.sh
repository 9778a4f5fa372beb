#!/bin/sh
# The library as others use it: only mistral_* exported from libmistral.a
# and libmistral.so; `make install` into a temporary prefix; the examples
# built against it with pkg-config (shared and static) and run against the
# CLI; a host program whose own symbols share names with our internals;
# the Python ctypes module (tests/platform/python_test.py).
BUILD=${BUILD:-build}
fails=0
fail() { echo "FAIL library: $*"; fails=$((fails + 1)); }
STORIES=../shared/models/stories260K

# -- exports
for lib in "$BUILD/libmistral.a" "$BUILD/libmistral.so"; do
    case $lib in *.so) syms=$(nm -D --defined-only "$lib") ;; *) syms=$(nm -g --defined-only "$lib") ;; esac
    others=$(echo "$syms" | awk 'NF == 3 && $3 !~ /^mistral_/ {print $3}')
    [ -z "$others" ] || fail "$lib exports more than mistral_*: $(echo $others | cut -c1-200)"
    n=$(echo "$syms" | awk 'NF == 3 && $3 ~ /^mistral_/' | wc -l)
    [ "$n" -ge 20 ] || fail "$lib exports only $n mistral_* symbols"
done
soname=$(objdump -p "$BUILD/libmistral.so" 2>/dev/null | awk '$1 == "SONAME" {print $2}')
case $soname in libmistral.so.[0-9]*) ;; *) fail "soname is '$soname'" ;; esac

# -- install into a temporary prefix
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix="$tmp/prefix"
make --no-print-directory -s BUILD="$BUILD" PREFIX="$prefix" install >"$tmp/install.log" 2>&1 \
    || { cat "$tmp/install.log"; fail "make install"; }
for f in include/mistral.h lib/libmistral.a lib/libmistral.so lib/pkgconfig/mistral.pc bin/mistral \
         share/mistral/python/mistral.py; do
    [ -e "$prefix/$f" ] || fail "make install left no $f"
done
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
cflags=$(pkg-config --cflags mistral) && libs=$(pkg-config --libs mistral) \
    || fail "pkg-config does not know mistral"
static=$(pkg-config --static --libs mistral | sed 's|-lmistral|-Wl,-Bstatic -lmistral -Wl,-Bdynamic|')
for ex in simple batch; do
    cc -std=c11 -Wall -Werror examples/$ex.c $cflags $libs -Wl,-rpath,"$prefix/lib" -o "$tmp/$ex" \
        || fail "examples/$ex.c does not build against the installed shared library"
    cc -std=c11 -Wall -Werror examples/$ex.c $cflags $static -o "$tmp/$ex-static" \
        || fail "examples/$ex.c does not build against the installed static library"
done
if ldd "$tmp/simple-static" 2>/dev/null | grep -q libmistral; then fail "simple-static links libmistral.so"; fi

# -- a host with functions named like our internals links with the static library
cat >"$tmp/host.c" <<'C'
#include <stdio.h>
#include <mistral.h>
/* names that exist inside the library; they must not clash */
int add(int a, int b) { return a + b; }
int forward(void) { return 7; }
int read_file(void) { return 3; }
void softmax(void) {}
int main(void) {
    MistralModel *m;
    int rc = mistral_model_open(&m, "no/such/model", NULL);
    printf("%d %d %d %s\n", add(2, 3), forward(), read_file(), mistral_status_name(rc));
    return rc == MISTRAL_ERR_IO ? 0 : 1;
}
C
if cc -std=c11 "$tmp/host.c" $cflags $static -o "$tmp/host" 2>"$tmp/host.err"; then
    out=$("$tmp/host") || fail "host program: $out"
    [ "$out" = "5 7 3 MISTRAL_ERR_IO" ] || fail "host program printed '$out'"
else
    fail "a host defining add/forward/read_file does not link with libmistral.a: $(head -c 300 "$tmp/host.err")"
fi

# -- the examples give the CLI's text
if [ -d "$STORIES" ]; then
    for p in "Once upon a time" "The little dog"; do
        want=$("$BUILD/mistral" generate -m "$STORIES" -p "$p" -n 48 2>/dev/null)
        got=$("$tmp/simple" "$STORIES" "$p" 48) || fail "simple exited $?"
        [ "$got" = "$want" ] || fail "simple \"$p\": '$got' != CLI '$want'"
        got=$("$tmp/simple-static" "$STORIES" "$p" 48)
        [ "$got" = "$want" ] || fail "simple (static) \"$p\": '$got'"
    done
    i=0
    want=$(for p in "Once upon a time" "The little dog" "Lily"; do
        printf -- '--- %d\n%s\n' $i "$("$BUILD/mistral" generate -m "$STORIES" -p "$p" -n 30 2>/dev/null)"
        i=$((i + 1)); done)
    got=$("$tmp/batch" "$STORIES" 30 "Once upon a time" "The little dog" "Lily") || fail "batch exited $?"
    [ "$got" = "$want" ] || fail "batch: '$got' != '$want'"
else
    echo "library: $STORIES absent: the examples' text checks skipped"
fi
"$tmp/simple" tests/data/tiny/nope "x" >/dev/null 2>"$tmp/err" && fail "simple on a missing model exited 0"
grep -q "MISTRAL_ERR\|nope" "$tmp/err" || fail "simple's error: $(cat "$tmp/err")"

# -- Python, through the installed module and library
MISTRAL_LIB="$prefix/lib/libmistral.so" PYTHONPATH="$prefix/share/mistral/python" \
    python3 tests/platform/python_test.py "$BUILD/mistral" || fail "python_test"

if [ $fails -eq 0 ]; then echo "library: ok"; exit 0; fi
echo "library: $fails check(s) FAILED"
exit 1
