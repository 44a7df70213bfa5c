# unum - many Linux machines, one system.
#   make            build build/unumd, build/unum-clusterd, build/unum
#   make check      all tests (unit, unit under ASan+UBSan, interop, fuzz)
#   make demo       a 3-node run on this machine
#   make fuzz       each fuzz target for FUZZ_TIME seconds (default 300)
#   make install PREFIX=/usr/local DESTDIR=
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
SBINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
UNITDIR ?= $(PREFIX)/lib/systemd/system
DESTDIR ?=
FUZZ_TIME ?= 300
FUZZ_SECONDS ?= $(FUZZ_TIME)
CHECK_FUZZ_SECONDS ?= 20

CC ?= cc
CLANG ?= clang
PKGCONFIG ?= pkg-config
O := build

WARN := -Wall -Wextra -Werror -Wempty-body -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Wno-unused-parameter
CFLAGS ?= -O2 -g
UNUM_CFLAGS := -std=gnu17 -D_GNU_SOURCE $(WARN) -Isrc -pthread \
	$(shell $(PKGCONFIG) --cflags libuv openssl 2>/dev/null)
SSL_LIBS := $(shell $(PKGCONFIG) --libs openssl 2>/dev/null)
LIBS := $(shell $(PKGCONFIG) --libs libuv 2>/dev/null) $(SSL_LIBS) -lm -pthread
# the commands carry libuv inside: a process starts faster with one shared
# object fewer to load and bind (unum run is started once per remote
# program), and a node needs no libuv installed
CMD_LIBS := $(shell $(PKGCONFIG) --libs --static libuv-static 2>/dev/null || \
	$(PKGCONFIG) --libs libuv 2>/dev/null) $(SSL_LIBS) -lm -pthread
# unum is started once per remote program: OpenSSL linked in saves loading
# and binding two large shared objects (about half a millisecond a start)
SSL_A := $(shell $(PKGCONFIG) --variable=libdir openssl 2>/dev/null)/libcrypto.a
UNUM_SSL_LIBS := $(if $(wildcard $(SSL_A)),-l:libssl.a -l:libcrypto.a -ldl,$(SSL_LIBS))
FUSE_CFLAGS := $(shell $(PKGCONFIG) --cflags fuse3 2>/dev/null)
FUSE_LIBS := $(shell $(PKGCONFIG) --libs fuse3 2>/dev/null)
TEST_LIBS := $(shell $(PKGCONFIG) --libs cmocka 2>/dev/null)
SAN := -fsanitize=address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer

LIB_SRC := $(sort $(wildcard src/9p/*.c src/ramfs/*.c src/conf/*.c src/fsrv/*.c src/procsrv/*.c src/cluster/*.c))
CMDS := unumd unum unum-clusterd
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_HELP := $(filter-out $(UNIT_SRC),$(wildcard tests/unit/*.c))
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
HDRS := $(wildcard src/*/*.h tests/unit/*.h)

LIB_OBJ := $(LIB_SRC:%.c=$(O)/obj/%.o)
LIB_ASAN := $(LIB_SRC:%.c=$(O)/asan/%.o)
UNITS := $(UNIT_SRC:tests/unit/%.c=$(O)/tests/%)
UNITS_ASAN := $(UNIT_SRC:tests/unit/%.c=$(O)/asan/tests/%)
FUZZERS := $(FUZZ_SRC:tests/fuzz/%.c=$(O)/fuzz/%)

.SECONDARY:
.PHONY: all deps check unit demo fuzz install clean format
all: $(CMDS:%=$(O)/%) $(O)/libunum.so $(O)/unum-ghost

# unum-ghost: unum under the name the shim execs in a program's place (ps
# shows it so)
$(O)/unum-ghost: $(O)/unum
	ln -sf unum $@

# the shim: loaded into other people's programs, so it links nothing of
# ours and only libc and libdl
$(O)/libunum.so: src/shim/shim.c src/cluster/times.h
	@mkdir -p $(@D)
	$(CC) -std=gnu17 -D_GNU_SOURCE $(WARN) -Isrc -fPIC -shared $(CFLAGS) -o $@ $< -ldl

deps:
	@sh scripts/deps.sh

$(O)/obj/%.o: %.c $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(UNUM_CFLAGS) $(CFLAGS) -c -o $@ $<
$(O)/asan/%.o: %.c $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(UNUM_CFLAGS) -O1 -g $(SAN) -c -o $@ $<

$(O)/libunum.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^
$(O)/libunum-asan.a: $(LIB_ASAN)
	@rm -f $@
	ar rcs $@ $^

$(O)/obj/src/fuse/%.o: src/fuse/%.c $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(UNUM_CFLAGS) $(FUSE_CFLAGS) $(CFLAGS) -c -o $@ $<

# unum is started once per remote program.  As a position-independent
# executable its start wrote every pointer of OpenSSL's tables (about
# 19,000 relocations, 100 page faults, 0.8 ms a start here), and the
# dynamic loader costs another 0.1 to 0.3 ms; so it is linked statically,
# at a fixed address, and starts as fast as /bin/true.  glibc 2.34 and
# later resolve names and users in a static program as in any other (files
# and DNS are built in; other NSS modules are loaded from the glibc it was
# built with); --no-warnings quiets the linker's notes about that.
# UNUM_LDFLAGS= links it dynamically, as a PIE, at that cost.  unumd (one
# start per boot) stays a dynamically linked PIE.
UNUM_LDFLAGS ?= -static -Wl,--no-warnings
$(O)/unum: $(O)/obj/src/cmd/unum.o $(O)/obj/src/cmd/run.o \
		$(O)/obj/src/cmd/ps.o $(O)/obj/src/cmd/fanout.o \
		$(O)/obj/src/cmd/nodes.o $(O)/obj/src/cmd/session.o \
		$(O)/obj/src/fuse/mount.o $(O)/libunum.a
	$(CC) $(CFLAGS) $(UNUM_LDFLAGS) -o $@ $^ \
		$(filter-out $(SSL_LIBS),$(CMD_LIBS)) $(UNUM_SSL_LIBS) \
		$(FUSE_LIBS) -pthread
$(O)/%: $(O)/obj/src/cmd/%.o $(O)/libunum.a
	$(CC) $(CFLAGS) -o $@ $^ $(CMD_LIBS)

$(O)/tests/%: tests/unit/%.c $(UNIT_HELP) $(O)/libunum.a $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(UNUM_CFLAGS) $(CFLAGS) -Itests/unit -o $@ $< $(UNIT_HELP) \
		$(O)/libunum.a $(TEST_LIBS) $(LIBS)
$(O)/asan/tests/%: tests/unit/%.c $(UNIT_HELP) $(O)/libunum-asan.a $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(UNUM_CFLAGS) -O1 -g $(SAN) -Itests/unit -o $@ $< $(UNIT_HELP) \
		$(O)/libunum-asan.a $(TEST_LIBS) $(LIBS)

# libFuzzer targets: clang, with ASan and UBSan, on the library's sources.
$(O)/fuzz/%: tests/fuzz/%.c $(LIB_SRC) $(HDRS)
	@mkdir -p $(@D)
	$(CLANG) $(UNUM_CFLAGS) -O1 -g -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=all -o $@ $< $(LIB_SRC) $(LIBS)

unit: $(UNITS) $(UNITS_ASAN)

check: deps all $(UNITS) $(UNITS_ASAN) $(FUZZERS)
	@FUZZ_SECONDS=$(CHECK_FUZZ_SECONDS) sh tests/run.sh

fuzz: deps $(FUZZERS)
	@FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_ONLY=1 sh tests/run.sh

demo: deps all
	@sh scripts/demo.sh

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) \
		$(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 \
		$(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(SYSCONFDIR)/unum \
		$(DESTDIR)$(UNITDIR)
	install -m 0755 $(O)/unumd $(DESTDIR)$(SBINDIR)/unumd
	install -m 0755 $(O)/unum-clusterd $(DESTDIR)$(SBINDIR)/unum-clusterd
	install -m 0755 $(O)/unum $(DESTDIR)$(BINDIR)/unum
	install -d $(DESTDIR)$(PREFIX)/lib/unum
	install -m 0755 $(O)/libunum.so $(DESTDIR)$(PREFIX)/lib/unum/libunum.so
	ln -sf $(BINDIR)/unum $(DESTDIR)$(PREFIX)/lib/unum/unum-ghost
	install -m 0644 docs/man/unum.1 $(DESTDIR)$(MANDIR)/man1/unum.1
	install -m 0644 docs/man/unumd.conf.5 $(DESTDIR)$(MANDIR)/man5/unumd.conf.5
	install -m 0644 docs/man/unumd.8 $(DESTDIR)$(MANDIR)/man8/unumd.8
	install -m 0644 docs/man/unum-clusterd.8 $(DESTDIR)$(MANDIR)/man8/unum-clusterd.8
	install -m 0644 docs/man/clusterd.conf.5 $(DESTDIR)$(MANDIR)/man5/clusterd.conf.5
	install -m 0644 docs/man/session.conf.5 $(DESTDIR)$(MANDIR)/man5/session.conf.5
	[ -e $(DESTDIR)$(SYSCONFDIR)/unum/unumd.conf ] || \
		install -m 0644 etc/unumd.conf $(DESTDIR)$(SYSCONFDIR)/unum/unumd.conf
	[ -e $(DESTDIR)$(SYSCONFDIR)/unum/clusterd.conf ] || \
		install -m 0644 etc/clusterd.conf $(DESTDIR)$(SYSCONFDIR)/unum/clusterd.conf
	[ -e $(DESTDIR)$(SYSCONFDIR)/unum/session.conf ] || \
		install -m 0644 etc/session.conf $(DESTDIR)$(SYSCONFDIR)/unum/session.conf
	sed 's|@SBINDIR@|$(SBINDIR)|g' etc/unumd.service > $(DESTDIR)$(UNITDIR)/unumd.service
	sed 's|@SBINDIR@|$(SBINDIR)|g' etc/unum-clusterd.service > \
		$(DESTDIR)$(UNITDIR)/unum-clusterd.service

format:
	clang-format -i $(wildcard src/*/*.[ch] tests/*/*.[ch])

clean:
	rm -rf $(O)
