# SPDX-License-Identifier: MIT
#
# One non-recursive Makefile. Sources are found by wildcard per directory,
# so adding a file to a module needs no edit here. Objects go to build/.

ifeq ($(wildcard config.mak),)
$(error run ./configure first)
endif
include config.mak

B := build
Q := @
ifeq ($(V),1)
Q :=
endif

ALL_CFLAGS := $(CFLAGS) -I. -Iport/include $(GLIB_CFLAGS) $(URING_CFLAGS) \
	$(PIXMAN_CFLAGS) -MMD -MP
LIBS := $(GLIB_LIBS) $(URING_LIBS) $(PIXMAN_LIBS) -ldl -lm -lpthread

# The machine and everything that runs on it, as one archive that the
# binary, the tests and the fuzzers link.
LIB_DIRS := system $(sort $(dir $(wildcard hw/*/*.c))) \
	port $(sort $(dir $(wildcard miniports/*/*.c))) guest-tests/lib guest-tests
LIB_SRCS := $(filter-out system/main.c system/trace-tool.c, \
	$(sort $(foreach d,$(LIB_DIRS),$(wildcard $(d:%/=%)/*.c))))
LIB_OBJS := $(LIB_SRCS:%.c=$(B)/%.o)
LIB := $(B)/libstoremu.a

UNIT_SRCS := $(wildcard tests/unit/test-*.c tests/device/test-*.c)
UNIT_BINS := $(UNIT_SRCS:%.c=$(B)/%)
TEST_HELPER_SRCS := $(wildcard tests/helpers/*.c)
TEST_HELPER_OBJS := $(TEST_HELPER_SRCS:%.c=$(B)/%.o)

FUZZ_SRCS := $(wildcard tests/fuzz/fuzz-*.c)

PROGS := storemu storemu-trace

.PHONY: all clean distclean check check-unit check-e2e style fuzz bench install
all: $(PROGS)

$(B)/%.o: %.c config.mak
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

# Built-in miniports keep their Windows source unchanged: each one's
# DriverEntry is renamed to NAME_DriverEntry (dashes become underscores)
# so several can live in one binary; port/builtin.c lists them.
$(B)/miniports/%.o: miniports/%.c config.mak
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(ALL_CFLAGS) \
		-DDriverEntry=$(subst -,_,$(firstword $(subst /, ,$*)))_DriverEntry \
		-c -o $@ $<

$(LIB): $(LIB_OBJS)
	@echo "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $^

storemu: $(B)/system/main.o $(LIB)
	@echo "  LINK    $@"
	$(Q)$(CC) $(LDFLAGS) -rdynamic -o $@ $(filter-out $(LIB),$^) -Wl,--whole-archive $(LIB) -Wl,--no-whole-archive $(LIBS)

storemu-trace: $(B)/system/trace-tool.o $(LIB)
	@echo "  LINK    $@"
	$(Q)$(CC) $(LDFLAGS) -rdynamic -o $@ $(filter-out $(LIB),$^) -Wl,--whole-archive $(LIB) -Wl,--no-whole-archive $(LIBS)

$(B)/tests/%: $(B)/tests/%.o $(TEST_HELPER_OBJS) $(LIB)
	@echo "  LINK    $@"
	$(Q)$(CC) $(LDFLAGS) -rdynamic -o $@ $(filter-out $(LIB),$^) -Wl,--whole-archive $(LIB) -Wl,--no-whole-archive $(LIBS)

tests: $(UNIT_BINS)

check: all $(UNIT_BINS)
	$(Q)sh scripts/run-tests.sh $(UNIT_BINS)

style:
	$(Q)sh scripts/check-style.sh

# libFuzzer harnesses: built with clang, always with ASan/UBSan.
FUZZ_FLAGS := -std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE \
	-I. -Iport/include $(GLIB_CFLAGS) $(URING_CFLAGS)
FUZZ_BINS := $(FUZZ_SRCS:tests/fuzz/%.c=$(B)/fuzz/%)
fuzz: $(FUZZ_BINS)
# The harnesses drive devices and readers, not miniports: leave those out
# (each defines DriverEntry, which only the main build renames).
FUZZ_LIB_SRCS := $(filter-out miniports/%,$(LIB_SRCS))
$(B)/fuzz/%: tests/fuzz/%.c $(FUZZ_LIB_SRCS)
	@if [ -z "$(FUZZ_CC)" ]; then echo "make fuzz needs clang (apt-get install clang)"; exit 2; fi
	@mkdir -p $(dir $@)
	@echo "  FUZZ    $@"
	$(Q)$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $< $(FUZZ_LIB_SRCS) $(LIBS)

bench: all
	$(Q)python3 scripts/bench.py

install: all
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 755 $(PROGS) $(DESTDIR)$(PREFIX)/bin

clean:
	rm -rf $(B) $(PROGS)

distclean: clean
	rm -f config.mak config-host.h

-include $(LIB_OBJS:.o=.d) $(B)/system/main.d $(B)/system/trace-tool.d $(UNIT_SRCS:%.c=$(B)/%.d) \
	$(TEST_HELPER_OBJS:.o=.d)
