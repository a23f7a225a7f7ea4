# The whole user interface of the repository: three targets.
#   make demo   install what is missing, build, run the demo on the embedded cluster
#   make check  install what is missing, build, run every test (see scripts/check)
#   make bench  the benchmarks against a local real Kafka broker (see benchmarks/run)
BUILD ?= build

.PHONY: demo check bench build setup format clean

demo: build
	$(BUILD)/bin/rill-demo

check:
	BUILD=$(BUILD) scripts/check

bench: build
	benchmarks/run

build: setup
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	ninja -C $(BUILD)

setup:
	scripts/setup

format:
	clang-format -i $$(git ls-files '*.c' '*.h' '*.cc')

clean:
	rm -rf $(BUILD)

# make chaos: kill and count at a large size (tests/chaos/run, a 3-node cluster of its own):
# at_least_once reported (duplicates expected), then exactly_once_v2 asserted (lost=0
# duplicated=0 wrong_counts=0), whose result is the target's.
.PHONY: chaos
chaos: build
	BUILD=$(BUILD) tests/chaos/run --guarantee at_least_once --records 500000 --produce-seconds 400 --app-kills 10 --broker-kill
	BUILD=$(BUILD) tests/chaos/run --guarantee exactly_once_v2 --records 500000 --produce-seconds 400 --app-kills 10 --broker-kill --assert
