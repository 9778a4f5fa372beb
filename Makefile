# mistral.c — one readable Makefile.
#   make            build build/mistral and build/libmistral.a
#   make test       build and run every test
#   make bench      build the benchmarks (build/bench/)
#   make asan       the tests under AddressSanitizer + UBSan
#   make fuzz       build the libFuzzer targets (clang)
#   make MPI=1      build build/mpi/mistral against MPI (mpicc; OpenMPI)
# Options: CC, OPT, SAN (extra flags), BUILD (output folder), MPI=1.

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
CFLAGS  = -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror -Wshadow \
          -Wno-unused-parameter $(OPT) $(SAN) -Iinclude -Isrc -MMD -MP
LDLIBS  = -lcjson -lpcre2-8 -lm -lpthread

LIB_SRC = $(wildcard src/base/*.c src/kern/*.c src/kern/simd/*.c src/model/*.c src/tok/*.c src/gen/*.c src/api/*.c) \
          $(filter-out $(DIST_NOT),$(wildcard src/dist/*.c))
APP_SRC = $(wildcard src/app/*.c)
TEST_SRC = $(wildcard tests/test_*.c)

LIB_OBJ  = $(LIB_SRC:%.c=$(BUILD)/%.o)
APP_OBJ  = $(APP_SRC:%.c=$(BUILD)/%.o)
TEST_BIN = $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)

ifeq ($(MPI),1)
all: $(BUILD)/mistral $(BUILD)/libmistral.a
else
all: $(BUILD)/mistral $(BUILD)/libmistral.a mistral
endif

$(BUILD)/libmistral.a: $(LIB_OBJ)
	rm -f $@ && $(AR) rcs $@ $^

$(BUILD)/mistral: $(APP_OBJ) $(BUILD)/libmistral.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

# ./mistral at the top of the tree, for the command-line contract's examples.
mistral: $(BUILD)/mistral
	ln -sf $(BUILD)/mistral mistral

# Per-file instruction sets: only kern/simd/<isa>.c is built for its ISA, and
# dispatch.c calls it only on CPUs that have it.
# On other targets avx2.c compiles to nothing.
ifneq ($(filter x86_64% i686% i386%,$(shell $(CC) -dumpmachine)),)
$(BUILD)/src/kern/simd/avx2.o: CFLAGS += -mavx2 -mfma -mf16c
$(BUILD)/src/kern/simd/avx512.o: CFLAGS += -mavx2 -mfma -mf16c -mavx512f -mavx512vl -mavx512bw -mavx512vnni
endif

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/tests/%: tests/%.c $(BUILD)/tests/harness.o $(BUILD)/libmistral.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/tests/harness.o $(BUILD)/libmistral.a $(LDLIBS)

test: all $(TEST_BIN)
	@BUILD=$(BUILD) MPI_TESTS=$(MPI_TESTS) sh tests/run.sh $(TEST_BIN)

# The distributed tests (tests/mpi.sh, run by tests/run.sh when mpicc is
# there): the MPI build in $(BUILD)/mpi and its test program.
MPI_TESTS ?= 1
mpi-build:
	$(MAKE) --no-print-directory MPI=1 BUILD=$(BUILD)/mpi $(BUILD)/mpi/mistral $(BUILD)/mpi/tests/mpi_dist

# The NEON kernels' tests alone (tests/neon.sh: test_simd cross-built for
# AArch64, run under qemu-user; part of make test).
neon-test:
	BUILD=$(BUILD) sh tests/neon.sh
# The avx512 table's VNNI tiles on SIMDe's emulation (tests/avx512.sh; part
# of make test).
avx512-test:
	BUILD=$(BUILD) sh tests/avx512.sh

# Benchmarks (never part of make test): see bench/RESULTS.md.
bench: $(BUILD)/bench/matmul_bench

$(BUILD)/bench/%: bench/%.c $(BUILD)/libmistral.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -O3 -o $@ $< $(BUILD)/libmistral.a $(LDLIBS)

# (MPI's own allocations are not sanitizer-clean: the MPI tests run in make test.)
asan:
	$(MAKE) BUILD=build-asan OPT="-O1 -g" SAN="-fsanitize=address,undefined -fno-omit-frame-pointer" MPI_TESTS=0 test

# Fuzz targets: the library built with clang and the sanitizers (per-file ISA
# flags kept) into $(BUILD)/fuzz/obj, then one libFuzzer binary per target.
FUZZ_SAN = -fsanitize=address,undefined
fuzz: $(wildcard tests/fuzz/*.c)
	$(MAKE) --no-print-directory CC=clang BUILD=$(BUILD)/fuzz/obj OPT="-O1 -g" \
	    SAN="$(FUZZ_SAN) -fsanitize=fuzzer-no-link" $(BUILD)/fuzz/obj/libmistral.a
	for f in $^; do clang -std=c11 -D_POSIX_C_SOURCE=200809L -O1 -g -Iinclude -Isrc \
	    $(FUZZ_SAN) -fsanitize=fuzzer -o $(BUILD)/fuzz/$$(basename $$f .c) $$f \
	    $(BUILD)/fuzz/obj/libmistral.a $(LDLIBS) || exit 1; done

clean:
	rm -rf build build-asan mistral

.PHONY: all test mpi-build neon-test avx512-test bench asan fuzz clean
.PRECIOUS: $(BUILD)/tests/%.o
-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
