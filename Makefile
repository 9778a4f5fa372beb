# mistral.c — one readable Makefile.
#   make            build build/mistral, build/libmistral.a and build/libmistral.so
#   make install    the header, both libraries, mistral.pc and the CLI under PREFIX
#   make test       build and run every test
#   make bench      build the benchmarks (build/bench/)
#   make asan       the tests under AddressSanitizer + UBSan
#   make fuzz       build the libFuzzer targets (clang)
#   make MPI=1      build build/mpi/mistral against MPI (mpicc; OpenMPI)
# Options: CC, OPT, SAN (extra flags), BUILD (output folder), MPI=1, PREFIX,
# DESTDIR.

# The distribution layer's implementation is picked here, not by #ifdefs:
# src/dist/mpi.c with MPI=1 (built with mpicc into build/mpi), else
# src/dist/local.c (one process).
ifeq ($(MPI),1)
CC      = mpicc
BUILD  ?= build/mpi
DIST_NOT = src/dist/local.c
else
CC     ?= cc
BUILD  ?= build
DIST_NOT = src/dist/mpi.c
endif
OPT    ?= -O2 -g
SAN    ?=
# Every object is position-independent (one build serves the static and the
# shared library) and hidden unless include/mistral.h marks it MISTRAL_API.
CFLAGS  = -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror -Wshadow \
          -Wno-unused-parameter $(OPT) $(SAN) -fPIC -fvisibility=hidden -Iinclude -Isrc -MMD -MP
LDLIBS  = -lcjson -lpcre2-8 -lm -lpthread
APP_LIBS = -lmicrohttpd

LIB_SRC = $(wildcard src/base/*.c src/format/*.c src/kern/*.c src/kern/simd/*.c src/model/*.c src/tok/*.c src/grammar/*.c src/gen/*.c src/api/*.c) \
          $(filter-out $(DIST_NOT),$(wildcard src/dist/*.c))
# The server (src/server) is part of the CLI, not of libmistral: its engine
# and OpenAI layer go into the internal archive (the tests and fuzzers use
# them), its HTTP side and page into the CLI (with libmicrohttpd).
SERVER_SRC = src/server/engine.c src/server/specrule.c src/server/openai.c src/server/outputs.c src/server/dialect.c \
             src/server/anthropic.c src/server/responses.c src/server/fim.c \
             src/server/promptcache.c
APP_SRC = $(wildcard src/app/*.c) src/server/http.c src/server/page.c
TEST_SRC = $(wildcard tests/unit/test_*.c)

LIB_OBJ  = $(LIB_SRC:%.c=$(BUILD)/%.o)
SERVER_OBJ = $(SERVER_SRC:%.c=$(BUILD)/%.o)
APP_OBJ  = $(APP_SRC:%.c=$(BUILD)/%.o)
TEST_BIN = $(TEST_SRC:%.c=$(BUILD)/%)

VERSION   := $(shell sed -n 's/^\#define MISTRAL_VERSION "\(.*\)"/\1/p' include/mistral.h)
SOVERSION := $(firstword $(subst ., ,$(VERSION)))
PREFIX    ?= /usr/local

ifeq ($(MPI),1)
all: $(BUILD)/mistral $(BUILD)/libmistral-internal.a
else
all: $(BUILD)/mistral $(BUILD)/libmistral.a $(BUILD)/libmistral.so mistral
endif

# The libraries. libmistral-internal.a holds every object as built: the CLI,
# the tests and the benchmarks link it (they call the layers below the API).
# What others link exports only the API (mistral_*): the shared library by
# visibility; the static one is every object linked into one (ld -r) whose
# hidden symbols are then made local, so that a host program's `add` or
# `forward` never meets ours. (An archive is made afresh: a renamed source
# would leave its old object inside.)
$(BUILD)/libmistral-internal.a: $(LIB_OBJ) $(SERVER_OBJ)
	rm -f $@ && $(AR) rcs $@ $^

$(BUILD)/libmistral.a: $(LIB_OBJ)
	$(LD) -r -o $(BUILD)/libmistral.o $^
	objcopy --localize-hidden $(BUILD)/libmistral.o
	rm -f $@ && $(AR) rcs $@ $(BUILD)/libmistral.o

$(BUILD)/libmistral.so: $(LIB_OBJ)
	$(CC) -shared -Wl,-soname,libmistral.so.$(SOVERSION) -Wl,--no-undefined $(SAN) \
	    -o $@.$(VERSION) $^ $(LDLIBS)
	ln -sf libmistral.so.$(VERSION) $@.$(SOVERSION)
	ln -sf libmistral.so.$(VERSION) $@

$(BUILD)/mistral: $(APP_OBJ) $(BUILD)/libmistral-internal.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS) $(APP_LIBS)

# The chat page goes into the binary as it is (.incbin in page.c).
$(BUILD)/src/server/page.o: src/server/page.html

install: $(BUILD)/mistral $(BUILD)/libmistral.a $(BUILD)/libmistral.so
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig \
	    $(DESTDIR)$(PREFIX)/share/mistral/python
	install -m 755 $(BUILD)/mistral $(DESTDIR)$(PREFIX)/bin/mistral
	install -m 644 include/mistral.h $(DESTDIR)$(PREFIX)/include/mistral.h
	install -m 644 $(BUILD)/libmistral.a $(DESTDIR)$(PREFIX)/lib/libmistral.a
	install -m 755 $(BUILD)/libmistral.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/
	ln -sf libmistral.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/libmistral.so.$(SOVERSION)
	ln -sf libmistral.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/libmistral.so
	# written here, not in $(BUILD): the prefix is this install's
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' mistral.pc.in \
	    > $(DESTDIR)$(PREFIX)/lib/pkgconfig/mistral.pc
	install -m 644 python/mistral.py $(DESTDIR)$(PREFIX)/share/mistral/python/mistral.py

# ./mistral at the top of the tree, for the command-line contract's examples.
mistral: $(BUILD)/mistral
	ln -sf $(BUILD)/mistral mistral

# Per-file instruction sets: only kern/simd/<isa>.c is built for its ISA, and
# dispatch.c calls it only on CPUs that have it.
# On other targets avx2.c (and avx2_k2.c) compiles to nothing.
ifneq ($(filter x86_64% i686% i386%,$(shell $(CC) -dumpmachine)),)
$(BUILD)/src/kern/simd/avx2.o: CFLAGS += -mavx2 -mfma -mf16c
$(BUILD)/src/kern/simd/avx2_k2.o: CFLAGS += -mavx2 -mfma -mf16c
$(BUILD)/src/kern/simd/avx512.o: CFLAGS += -mavx2 -mfma -mf16c -mavx512f -mavx512vl -mavx512bw -mavx512vnni
$(BUILD)/src/kern/simd/avx512_k2.o: CFLAGS += -mavx2 -mfma -mf16c -mavx512f -mavx512vl -mavx512bw -mavx512vnni
endif

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

# A test program: tests/unit/test_x.c -> $(BUILD)/tests/unit/test_x (and
# tests/platform/mpi_dist.c), with the harness of tests/unit.
$(BUILD)/tests/%: tests/%.c $(BUILD)/tests/unit/harness.o $(BUILD)/libmistral-internal.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/unit -o $@ $< $(BUILD)/tests/unit/harness.o $(BUILD)/libmistral-internal.a $(LDLIBS)

test: all $(TEST_BIN)
	@BUILD=$(BUILD) MPI_TESTS=$(MPI_TESTS) sh tests/run.sh $(TEST_BIN)

# The distributed tests (tests/platform/mpi.sh, run by tests/run.sh when
# mpicc is there): the MPI build in $(BUILD)/mpi and its test program.
MPI_TESTS ?= 1
mpi-build:
	$(MAKE) --no-print-directory MPI=1 BUILD=$(BUILD)/mpi $(BUILD)/mpi/mistral $(BUILD)/mpi/tests/platform/mpi_dist

# The NEON kernels' tests alone (tests/platform/neon.sh: test_simd cross-built
# for AArch64, run under qemu-user; part of make test).
neon-test:
	BUILD=$(BUILD) sh tests/platform/neon.sh
# The avx512 table's VNNI tiles on SIMDe's emulation (tests/platform/avx512.sh;
# part of make test).
avx512-test:
	BUILD=$(BUILD) sh tests/platform/avx512.sh

# Benchmarks (never part of make test): see bench/RESULTS.md.
bench: $(BUILD)/bench/matmul_bench $(BUILD)/bench/mask_bench $(BUILD)/bench/grammar_check
bench: $(BUILD)/bench/int8_peak # the int8 dot peak and the avx2 integer tiles against it (issue 24)

$(BUILD)/bench/%: bench/%.c $(BUILD)/libmistral-internal.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -O3 -o $@ $< $(BUILD)/libmistral-internal.a $(LDLIBS)

# (MPI's own allocations are not sanitizer-clean: the MPI tests run in make test.)
asan:
	$(MAKE) BUILD=build-asan OPT="-O1 -g" SAN="-fsanitize=address,undefined -fno-omit-frame-pointer" MPI_TESTS=0 test

# Fuzz targets: the library built with clang and the sanitizers (per-file ISA
# flags kept) into $(BUILD)/fuzz/obj, then one libFuzzer binary per target.
FUZZ_SAN = -fsanitize=address,undefined
fuzz: $(wildcard tests/fuzz/*.c)
	$(MAKE) --no-print-directory CC=clang BUILD=$(BUILD)/fuzz/obj OPT="-O1 -g" \
	    SAN="$(FUZZ_SAN) -fsanitize=fuzzer-no-link" $(BUILD)/fuzz/obj/libmistral-internal.a
	for f in $^; do clang -std=c11 -D_POSIX_C_SOURCE=200809L -O1 -g -Iinclude -Isrc \
	    $(FUZZ_SAN) -fsanitize=fuzzer -o $(BUILD)/fuzz/$$(basename $$f .c) $$f \
	    $(BUILD)/fuzz/obj/libmistral-internal.a $(LDLIBS) || exit 1; done

clean:
	rm -rf build build-asan mistral

.PHONY: all install test mpi-build neon-test avx512-test bench asan fuzz clean
.PRECIOUS: $(BUILD)/tests/unit/harness.o
-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
