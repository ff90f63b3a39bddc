# Thin wrapper over CMake: `make demo` and `make test` work on a fresh Debian.
BUILD ?= build
JOBS ?= 2
# What `make demo` needs: a C toolchain, the parser generators, libtcc (the
# JIT is on by default), zlib and the data set. `make test` adds the rest.
DEMO_PACKAGES = build-essential cmake flex bison tcc libtcc-dev zlib1g-dev \
                dataset-fashion-mnist
TEST_PACKAGES = $(DEMO_PACKAGES) clang valgrind python3 python3-numpy python3-torch \
                python3-onnx libonnx-testdata musl-dev graphviz \
                gcc-aarch64-linux-gnu qemu-user
# Developer and CI builds: every test, and warnings are errors.
DEV_FLAGS = -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=ON -DCNNC_WERROR=ON

.PHONY: all deps test-deps build test demo demo-int8 clean firmware-test

all: build

deps:
	@sh scripts/deps.sh $(DEMO_PACKAGES)

test-deps:
	@sh scripts/deps.sh $(TEST_PACKAGES)

build: test-deps
	cmake -S . -B $(BUILD) $(DEV_FLAGS)
	cmake --build $(BUILD) -j$(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

# The demo alone: no tests configured, so none of their packages needed.
demo: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=OFF
	cmake --build $(BUILD) -j$(JOBS) --target demo

# The same network quantized to int8 (docs/quantization.md): calibrated on
# 1000 training images at build time, it classifies the 10,000 test images.
demo-int8: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=OFF
	cmake --build $(BUILD) -j$(JOBS) --target demo-int8

clean:
	rm -rf $(BUILD)

# Sanitizer CI (docs/robustness.md): the whole ctest suite built with clang,
# ASan + UBSan and -fno-sanitize-recover=all (CNNC_SANITIZE), in its own tree,
# with the libFuzzer harnesses (CNNC_FUZZ): each saved corpus is replayed and
# each harness fuzzes for a minute (fuzz.smoke_*, run one at a time).
# Warnings are gcc's job in `make test`: clang's may differ, so not -Werror here.
# intercept_strstr=0: ASan's strstr measures the whole haystack on every call,
# which makes strstr loops over megabytes of emitted C quadratic.
SANITIZE_BUILD ?= build-sanitize
SANITIZE_PACKAGES = $(TEST_PACKAGES) libclang-rt-14-dev
.PHONY: test-sanitize

test-sanitize:
	@sh scripts/deps.sh $(SANITIZE_PACKAGES)
	CC=clang cmake -S . -B $(SANITIZE_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCNNC_SANITIZE=ON \
	    -DCNNC_FUZZ=ON -DBUILD_TESTING=ON -DCNNC_WERROR=OFF
	cmake --build $(SANITIZE_BUILD) -j$(JOBS)
	cd $(SANITIZE_BUILD) && ASAN_OPTIONS=abort_on_error=1:detect_leaks=1:intercept_strstr=0 \
	    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j$(JOBS)

# Benchmark (docs/performance.md): the generated C (gcc -O3 -march=native
# and -O2) of the examples, the MLPerf Tiny models and six torchvision
# networks against the interpreter, PyTorch and ONNX Runtime (npm
# onnxruntime-node, installed into $(BUILD)/bench/ort when missing and
# reachable); prints one table, draws $(BUILD)/bench/results/roofline.svg and
# rewrites the table and picture of docs/performance.md. About 25 minutes;
# `make bench BENCH_ARGS=--no-torchvision` about 3.5. `make bench BENCH_DOC=`
# leaves the document alone.
BENCH_DOC ?= docs/performance.md
BENCH_ARGS ?=
.PHONY: bench

bench: build
	/usr/bin/python3 -B bench/bench.py --build $(BUILD) --install-ort \
	    $(if $(BENCH_DOC),--update-doc $(BENCH_DOC)) $(BENCH_ARGS)

# Firmware (docs/firmware.md): examples/firmware built with arm-none-eabi-gcc
# and newlib-nano for QEMU's mps2-an386 (Cortex-M4F) and mps2-an500
# (Cortex-M7), every model that fits (the examples and the four MLPerf Tiny
# models of tests/firmware), in float and int8 (--quantize int8), run as
# --emit-test programs in qemu-system-arm; prints flash, RAM, stack (static,
# measured, the header's bound), instructions per run and per MAC per model,
# board and precision. About a minute on 2 idle cores.
# `make firmware-test FIRMWARE_ARGS="--models tiny,dscnn --precisions int8"`
# runs some.
FIRMWARE_PACKAGES = gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm
FIRMWARE_ARGS ?=

firmware-test: build
	@sh scripts/deps.sh $(FIRMWARE_PACKAGES)
	/usr/bin/python3 -B tests/firmware/firmware_test.py --cnnc $(BUILD)/compiler/cnnc \
	    --work $(BUILD)/firmware-test --jobs $(JOBS) $(FIRMWARE_ARGS)

# The Cortex-M int8 kernels (docs/quantization.md) equal the interpreter on
# the M4F (DSP and portable C) and on the host (gcc, tcc); about 10 s.
# `make bench-mcu-int8` prints their instructions per MAC against CMSIS-NN's
# (bench/mcu_int8.py; BOARD=mps2-an500 for the M7); about 10 s.
.PHONY: firmware-int8-test bench-mcu-int8
firmware-int8-test: build
	@sh scripts/deps.sh $(FIRMWARE_PACKAGES) tcc
	/usr/bin/python3 -B tests/firmware/int8_kernels.py --cnnc $(BUILD)/compiler/cnnc

bench-mcu-int8: build
	@sh scripts/deps.sh $(FIRMWARE_PACKAGES)
	/usr/bin/python3 -B bench/mcu_int8.py --cnnc $(BUILD)/compiler/cnnc \
	    --work $(BUILD)/bench-mcu-int8 $(if $(BOARD),--board $(BOARD))
