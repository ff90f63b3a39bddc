# Thin wrapper over CMake: `make demo` and `make test` work on a fresh Debian.
BUILD ?= build
JOBS ?= 2
PACKAGES = build-essential cmake flex bison tcc libtcc-dev clang valgrind \
           python3 python3-numpy python3-torch

.PHONY: all deps build test demo clean

all: build

deps:
	@sh scripts/deps.sh $(PACKAGES)

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build $(BUILD) -j$(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

demo: build
	cmake --build $(BUILD) --target demo

clean:
	rm -rf $(BUILD)
